/**
 * The database component hands each task what the stack file says: restore checks with their name
 * and bounds, the shrink limit of verify-backup, a purge rule's condition; and each task reads back
 * exactly that from its environment. Run as the offline plan (the program under Pulumi mocks).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { RecordedResource } from "../plan/mocks";
import { runPlan } from "../plan/run";
import { validateRegime } from "../regime/load";
import { dbHealthTask } from "../tasks/db-health";
import { parseSettings } from "../tasks/lib/runtime";
import { purgeTask } from "../tasks/purge";
import { restoreDrillTask } from "../tasks/restore-drill";
import { verifyBackupTask } from "../tasks/verify-backup";

const ROOT = join(__dirname, "..");
const NS = "maintenance-regime";
const FROM = new Date("2026-11-23T00:00:00Z");

async function planned(mutate?: (db: Record<string, any>) => void): Promise<RecordedResource[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const doc = YAML.parse(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
  if (mutate) mutate(doc.config[`${NS}:databases`][0]);
  const file = join(mkdtempSync(join(tmpdir(), "db-component-")), "Pulumi.dbtest.yaml");
  writeFileSync(file, YAML.stringify(doc));
  return (await runPlan({ configFile: file, from: FROM, root: ROOT })).resources;
}

function envsOf(resources: RecordedResource[]): Record<string, Record<string, string>> {
  const fns = resources.filter((r: RecordedResource) => r.type === "aws:lambda/function:Function");
  const variables = (inputs: unknown) => ((inputs as { environment?: { variables?: Record<string, string> } }).environment?.variables ?? {});
  // Tasks on Fargate (the restore drill, whose 60-minute RTO Lambda cannot keep) carry theirs in the container definition.
  const containers = resources
    .filter((r: RecordedResource) => r.type === "aws:ecs/taskDefinition:TaskDefinition")
    .map((t) => {
      const i = t.inputs as { family: string; containerDefinitions: string };
      const [c] = JSON.parse(i.containerDefinitions) as { environment: { name: string; value: string }[] }[];
      return [i.family, Object.fromEntries(c.environment.map((e) => [e.name, e.value]))];
    });
  return Object.fromEntries([...fns.map((f) => [String((f.inputs as { name?: unknown }).name), variables(f.inputs)]), ...containers]);
}

/** The prod stack as it is, and with every new key set: each planned once for the whole file. */
const once = <T>(make: () => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
};
const checks = [
  { sql: "SELECT count(*) FROM customers" },
  { name: "no lead without temperature", sql: "SELECT id FROM leads WHERE temperature IS NULL", maxRows: 0 },
  { name: "users in range", sql: "SELECT count(*) FROM users", minRows: 1, maxRows: 1000 },
];
const where = "status = 'completed'";
const plainPlan = once(() => planned());
const extendedPlan = once(() =>
  planned((db) => {
    db.verify.maxShrinkPercent = 50;
    db.restoreDrill.checks = checks;
    db.purge.rules[0].where = where;
    db.health = { ...db.health, lastVacuumWarnHours: 12, lastVacuumCritHours: 36, lastAnalyzeWarnHours: 0.5, lastAnalyzeCritHours: 72 };
  }),
);

describe("database tasks' environment", () => {
  let plain: Record<string, Record<string, string>>;
  let extended: Record<string, Record<string, string>>;

  beforeAll(async () => {
    plain = envsOf(await plainPlan());
    extended = envsOf(await extendedPlan());
  }, 180_000);

  const fn = (envs: Record<string, Record<string, string>>, task: string) => {
    const name = Object.keys(envs).find((n) => n.endsWith(`-db-app-${task}`));
    expect(name, `function of ${task}`).toBeDefined();
    return envs[name!];
  };

  it("a stack file without the new keys deploys the same settings as before", () => {
    expect(fn(plain, "verify-backup")).not.toHaveProperty("MAX_SHRINK_PERCENT");
    expect(JSON.parse(fn(plain, "restore-drill").CHECKS)).toStrictEqual([{ sql: "SELECT count(*) FROM customers", minRows: 1 }]);
    for (const rule of JSON.parse(fn(plain, "purge").PURGE_RULES)) expect(rule).not.toHaveProperty("where");
  });

  it("verify-backup gets MAX_SHRINK_PERCENT and reads it back", () => {
    const env = fn(extended, "verify-backup");
    expect(env.MAX_SHRINK_PERCENT).toBe("50");
    const s = parseSettings(verifyBackupTask.settings, { ...env, DATABASE_URL: "postgres://u@h/app" }) as { MAX_SHRINK_PERCENT?: number };
    expect(s.MAX_SHRINK_PERCENT).toBe(50);
  });

  it("restore-drill gets every check with its name and bounds, and reads them back", () => {
    const env = fn(extended, "restore-drill");
    // A check without bounds is handed over as minRows 1, the same as before maxRows existed.
    expect(JSON.parse(env.CHECKS)).toStrictEqual([{ sql: "SELECT count(*) FROM customers", minRows: 1 }, checks[1], checks[2]]);
    const s = parseSettings(restoreDrillTask.settings, { ...env, DATABASE_URL: "postgres://u@h/app" }) as { CHECKS: Record<string, unknown>[] };
    expect(s.CHECKS.map((c) => [c.name, c.minRows, c.maxRows])).toEqual([
      ["SELECT count(*) FROM customers", 1, undefined],
      ["no lead without temperature", undefined, 0],
      ["users in range", 1, 1000],
    ]);
  });

  it("purge gets the rule's where and reads it back", () => {
    const env = fn(extended, "purge");
    const rules = JSON.parse(env.PURGE_RULES);
    expect(rules[0]).toMatchObject({ table: "audit_logs", olderThanDays: 90, where });
    expect(rules[1]).not.toHaveProperty("where");
    const s = parseSettings(purgeTask.settings, { ...env, DATABASE_URL: "postgres://u@h/app" }) as { rules: { where?: string }[] };
    expect(s.rules.map((r) => r.where)).toEqual([where, undefined]);
  });
});

describe("db-health last vacuum / last analyze: settings, metrics and P2 alarms", () => {
  let defaults: RecordedResource[];
  let tuned: RecordedResource[];
  beforeAll(async () => {
    defaults = await plainPlan();
    tuned = await extendedPlan();
  }, 180_000);

  type Alarm = Record<string, unknown> & { name: string; alarmActions: string[]; okActions: string[]; dimensions: Record<string, string> };
  const alarms = (rs: RecordedResource[]) => Object.fromEntries(rs.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => [String(r.inputs.name), r.inputs as Alarm]));
  const topic = (rs: RecordedResource[], severity: string) => {
    const t = rs.find((r) => r.type === "aws:sns/topic:Topic" && String(r.inputs.name).endsWith(`-${severity}`));
    expect(t, `the ${severity} topic`).toBeDefined();
    return `arn:aws:sns:us-east-1:123456789012:${t!.inputs.name}`;
  };

  it("the db-health function gets the four thresholds in hours (check_postgres' 1 and 2 days by default) and reads them back", () => {
    const env = envsOf(defaults)["prod-db-app-db-health"];
    expect(env).toMatchObject({ LAST_VACUUM_WARN_HOURS: "24", LAST_VACUUM_CRIT_HOURS: "48", LAST_ANALYZE_WARN_HOURS: "24", LAST_ANALYZE_CRIT_HOURS: "48" });
    const s = parseSettings(dbHealthTask.settings, { ...env, DATABASE_URL: "postgres://u@h/app" });
    expect([s.LAST_VACUUM_WARN_HOURS, s.LAST_VACUUM_CRIT_HOURS, s.LAST_ANALYZE_WARN_HOURS, s.LAST_ANALYZE_CRIT_HOURS]).toEqual([24, 48, 24, 48]);

    const t = parseSettings(dbHealthTask.settings, { ...envsOf(tuned)["prod-db-app-db-health"], DATABASE_URL: "postgres://u@h/app" });
    expect([t.LAST_VACUUM_WARN_HOURS, t.LAST_VACUUM_CRIT_HOURS, t.LAST_ANALYZE_WARN_HOURS, t.LAST_ANALYZE_CRIT_HOURS]).toEqual([12, 36, 0.5, 72]);
  });

  it("a P2 alarm per kind watches the task's hours metric at the warning hours, on the P2 topic, missing data not breaching (a healthy age is sampled, a stopped task pages through its missed-run alarm)", () => {
    const a = alarms(defaults);
    const p2 = topic(defaults, "P2");
    for (const [name, metricName] of [
      ["prod-db-app-last-vacuum-P2", "LastVacuumAgeHours"],
      ["prod-db-app-last-analyze-P2", "LastAnalyzeAgeHours"],
    ]) {
      expect(a[name], name).toMatchObject({
        namespace: "MaintenanceRegime",
        metricName,
        // The dimensions of the other db-health alarms: one metric per database, none per table.
        dimensions: { service: "prod", Task: "db-health", Instance: "app", Database: "app" },
        statistic: "Maximum",
        period: 900,
        evaluationPeriods: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        threshold: 24,
        treatMissingData: "notBreaching",
        alarmActions: [p2],
        okActions: [p2],
        actionsEnabled: true,
      });
      expect(a[name].dimensions).toStrictEqual(a["prod-db-app-connections-P2"].dimensions);
    }
    expect(String(a["prod-db-app-last-vacuum-P2"].alarmDescription)).toMatch(/^\[P2\] A table of database app .* for 24 h; at 48 h the db-health run fails\./);

    const t = alarms(tuned);
    expect([t["prod-db-app-last-vacuum-P2"].threshold, t["prod-db-app-last-analyze-P2"].threshold]).toEqual([12, 0.5]);
  });

  it("one figure per warning: each P2 alarm's threshold is the setting the task compares its value with (and samples by), and the task learns its interval", () => {
    for (const rs of [defaults, tuned]) {
      const env = envsOf(rs)["prod-db-app-db-health"];
      const a = alarms(rs);
      const pairs = [
        ["prod-db-app-connections-P2", "CONNECTIONS_WARN_PERCENT"],
        ["prod-db-app-wraparound-P2", "WRAPAROUND_WARN_AGE"],
        ["prod-db-app-last-vacuum-P2", "LAST_VACUUM_WARN_HOURS"],
        ["prod-db-app-last-analyze-P2", "LAST_ANALYZE_WARN_HOURS"],
      ];
      for (const [alarm, setting] of pairs) {
        expect([a[alarm].threshold, a[alarm].comparisonOperator, a[alarm].treatMissingData], alarm).toEqual([Number(env[setting]), "GreaterThanOrEqualToThreshold", "notBreaching"]);
      }
      expect(env.SCHEDULE_INTERVAL_SECONDS).toBe("900");
    }
  });

  const db = (health: Record<string, unknown>) => ({ name: "prod", databases: [{ id: "app", secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf", health }] });
  it.each([
    [{ lastVacuumWarnHours: 48 }, "databases[0].health.lastVacuumWarnHours: must be < lastVacuumCritHours (48)"],
    [{ lastVacuumWarnHours: 30, lastVacuumCritHours: 20 }, "databases[0].health.lastVacuumWarnHours: must be < lastVacuumCritHours (20)"],
    [{ lastAnalyzeCritHours: 12 }, "databases[0].health.lastAnalyzeWarnHours: must be < lastAnalyzeCritHours (12)"],
    [{ lastAnalyzeWarnHours: 0 }, "databases[0].health.lastAnalyzeWarnHours: must be > 0"],
    [{ lastVacuumCritHours: -1 }, "databases[0].health.lastVacuumCritHours: must be > 0"],
    [{ lastVacuumWarnHours: "1 day" }, 'databases[0].health.lastVacuumWarnHours: must be a number, not the string "1 day"'],
    [{ lastVacumWarnHours: 12 }, "databases[0].health: unknown key lastVacumWarnHours (did you mean lastVacuumWarnHours?)"],
  ])("refuses %j with one line naming the key", (health, line) => {
    expect(() => validateRegime(db(health))).toThrow(line);
    try {
      validateRegime(db(health));
    } catch (err) {
      expect((err as Error).message).toBe(line);
    }
  });

  it("accepts fractions of an hour with the warning below the critical level", () => {
    const h = validateRegime(db({ lastVacuumWarnHours: 0.25, lastVacuumCritHours: 0.5 })).databases[0].health!;
    expect([h.lastVacuumWarnHours, h.lastVacuumCritHours, h.lastAnalyzeWarnHours, h.lastAnalyzeCritHours]).toEqual([0.25, 0.5, 24, 48]);
  });
});
