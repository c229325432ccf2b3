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
import { parseSettings } from "../tasks/lib/runtime";
import { purgeTask } from "../tasks/purge";
import { restoreDrillTask } from "../tasks/restore-drill";
import { verifyBackupTask } from "../tasks/verify-backup";

const ROOT = join(__dirname, "..");
const NS = "maintenance-regime";
const FROM = new Date("2026-11-23T00:00:00Z");

async function lambdaEnvs(mutate?: (db: Record<string, any>) => void): Promise<Record<string, Record<string, string>>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const doc = YAML.parse(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
  if (mutate) mutate(doc.config[`${NS}:databases`][0]);
  const file = join(mkdtempSync(join(tmpdir(), "db-component-")), "Pulumi.dbtest.yaml");
  writeFileSync(file, YAML.stringify(doc));
  const { resources } = await runPlan({ configFile: file, from: FROM, root: ROOT });
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

describe("database tasks' environment", () => {
  let plain: Record<string, Record<string, string>>;
  let extended: Record<string, Record<string, string>>;
  const checks = [
    { sql: "SELECT count(*) FROM customers" },
    { name: "no lead without temperature", sql: "SELECT id FROM leads WHERE temperature IS NULL", maxRows: 0 },
    { name: "users in range", sql: "SELECT count(*) FROM users", minRows: 1, maxRows: 1000 },
  ];
  const where = "status = 'completed'";

  beforeAll(async () => {
    plain = await lambdaEnvs();
    extended = await lambdaEnvs((db) => {
      db.verify.maxShrinkPercent = 50;
      db.restoreDrill.checks = checks;
      db.purge.rules[0].where = where;
    });
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
