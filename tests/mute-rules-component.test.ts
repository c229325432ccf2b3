/**
 * Maintenance windows, one-off mutes and paused jobs as `pulumi up` would provision them: the
 * FitnessCRM stack file with 55 more endpoints (over 100 alarms under the endpoint component), a
 * nightly window, two mutes and paused jobs, run as the offline plan (the program under Pulumi mocks).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { RecordedResource } from "../plan/mocks";
import { runPlan, type Plan } from "../plan/run";
import { bundledSettingsByFunction } from "../plan/cost";

const ROOT = join(__dirname, "..");
const NS = "maintenance-regime";
const FROM = new Date("2026-12-01T00:00:00Z");
const EXAMPLE = join(ROOT, "examples", "fitnesscrm", "Pulumi.fitnesscrm.yaml");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function planWith(mutate: (config: Record<string, any>) => void): Promise<{ plan: Plan; resources: RecordedResource[] }> {
  const doc = YAML.parse(readFileSync(EXAMPLE, "utf8"));
  const config = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(`${NS}:`, ""), v]));
  mutate(config);
  doc.config = Object.fromEntries(Object.entries(config).map(([k, v]) => [k.includes(":") ? k : `${NS}:${k}`, v]));
  const file = join(mkdtempSync(join(tmpdir(), "mute-rules-")), "Pulumi.fitnesscrm.yaml");
  writeFileSync(file, YAML.stringify(doc));
  return runPlan({ configFile: file, from: FROM, root: ROOT });
}

const inputsOf = (r: RecordedResource) => r.inputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("mute rules, mutes and paused jobs under mocks", () => {
  let plan: Plan;
  let resources: RecordedResource[];
  const rules = () =>
    resources
      .filter((r) => r.type === "aws:cloudwatch/alarmMuteRule:AlarmMuteRule")
      .map(inputsOf)
      .sort((a, b) => a.name.localeCompare(b.name));
  const alarmNamed = (name: string) => resources.map(inputsOf).find((i) => i.name === name || i.alarmName === name)!;

  beforeAll(async () => {
    ({ plan, resources } = await planWith((c) => {
      for (let i = 0; i < 55; i++) c.endpoints.checks.push({ name: `site-${i}`, url: `https://site-${i}.example.com/health`, maxResponseMs: 800, severity: "P1" });
      c.maintenanceWindows.push({ name: "nightly", schedule: { at: "daily at 01:00", timezone: "Europe/Berlin" }, durationMinutes: 30, components: ["fitnesscrm-health"] });
      c.mutes = [
        { severities: ["P3"], until: "2026-12-02T12:00Z", reason: "noisy reviews while the team moves offices" },
        { alarms: ["fitnesscrm-host-app-1-cpu-P1"], from: "2026-11-01T00:00Z", until: "2026-11-02T00:00Z", reason: "over before the reference date" },
      ];
      const db = c.databases[0];
      db.backup.paused = true;
      db.restoreDrill.paused = true;
      c.reminders[0].paused = true;
      c.redis[0].paused = true;
      c.endpoints.paused = true;
    }));
  }, 120_000);

  it("a window over 100 alarms is split into rules of at most 100, each with the window's cron, timezone and duration", () => {
    const nightly = rules().filter((r) => r.name.startsWith("fitnesscrm-mw-nightly"));
    expect(nightly.map((r) => r.name)).toEqual(["fitnesscrm-mw-nightly-1", "fitnesscrm-mw-nightly-2"]);
    for (const r of nightly) expect(r.rule.schedule).toEqual({ expression: "cron(0 1 * * *)", timezone: "Europe/Berlin", duration: "PT30M" });
    const muted = nightly.flatMap((r) => r.muteTargets.alarmNames as string[]);
    expect(nightly[0].muteTargets.alarmNames).toHaveLength(100);
    // Every alarm of the endpoint checks that notifies (56 endpoints: down and slow; api's certificate;
    // the checker's own task alarms), once each; the database's alarms are not in it.
    expect(new Set(muted).size).toBe(muted.length);
    expect(muted).toContain("fitnesscrm-endpoint-site-54-slow-P3");
    expect(muted).toContain("fitnesscrm-endpoint-api-down-P0");
    expect(muted).toContain("fitnesscrm-health-task-missed-run-P3");
    expect(muted.filter((n) => n.startsWith("fitnesscrm-endpoint-")).length).toBe(56 * 2 + 1);
    expect(muted.some((n) => n.startsWith("fitnesscrm-db-"))).toBe(false);
  });

  it("the first-Sunday window is one at() rule per occurrence (two each: over 100 alarms), muting its components and not the database jobs", () => {
    const planned = rules().filter((r) => r.name.startsWith("fitnesscrm-mw-planned-"));
    expect(planned).toHaveLength(24);
    expect(planned.slice(0, 3).map((r) => r.name)).toEqual(["fitnesscrm-mw-planned-20261206-0200-1", "fitnesscrm-mw-planned-20261206-0200-2", "fitnesscrm-mw-planned-20270103-0200-1"]);
    expect(planned[0]).toMatchObject({ rule: { schedule: { expression: "at(2026-12-06T02:00)", timezone: "Etc/GMT+5", duration: "PT2H" } } });
    expect(planned[23]).toMatchObject({ name: "fitnesscrm-mw-planned-20271107-0200-2", rule: { schedule: { expression: "at(2027-11-07T02:00)" } } });
    expect(planned[0].startDate).toBeUndefined();
    expect(planned[0].expireDate).toBeUndefined();
    const muted: string[] = [...planned[0].muteTargets.alarmNames, ...planned[1].muteTargets.alarmNames];
    expect(muted).toEqual(expect.arrayContaining(["fitnesscrm-endpoint-api-down-P0", "fitnesscrm-host-app-1-cpu-P1", "fitnesscrm-redis-cache-memory-P2", "fitnesscrm-logs-app-nginx-http-5xx-P1"]));
    expect(muted.filter((n) => n.startsWith("fitnesscrm-db-"))).toEqual([]);
    expect(muted).not.toContain("fitnesscrm-db-fitnesscrm-rpo-P0");
  });

  it("a one-off mute starts at the reference date and expires by itself; one over by then is not provisioned", () => {
    const mutes = rules().filter((r) => r.name.startsWith("fitnesscrm-mute-"));
    expect(mutes.map((r) => r.name)).toEqual(["fitnesscrm-mute-0"]);
    expect(mutes[0].rule.schedule).toEqual({ expression: "at(2026-12-01T00:00)", timezone: "UTC", duration: "P1DT12H" });
    expect(mutes[0].muteTargets.alarmNames).toContain("fitnesscrm-endpoint-site-0-slow-P3");
    expect((mutes[0].muteTargets.alarmNames as string[]).every((n) => n.endsWith("-P3"))).toBe(true);
    expect(mutes[0].description).toBe("Muted until 2026-12-02T12:00Z: noisy reviews while the team moves offices");
  });

  it("a paused job's schedule is disabled and its watchers silent; others are untouched", async () => {
    const schedule = (name: string) => resources.filter((r) => r.type === "aws:scheduler/schedule:Schedule").map(inputsOf).find((i) => i.name === name)!;
    expect(schedule("fitnesscrm-db-fitnesscrm-backup").state).toBe("DISABLED");
    expect(schedule("fitnesscrm-db-fitnesscrm-restore-drill").state).toBe("DISABLED");
    expect(schedule("fitnesscrm-reminders-maintenance-notice").state).toBe("DISABLED");
    expect(schedule("fitnesscrm-db-fitnesscrm-verify-backup").state).toBe("ENABLED");
    expect(schedule("fitnesscrm-reminders-maintenance-window").state).toBeUndefined();
    expect(schedule("fitnesscrm-redis-cache-redis-health").state).toBe("DISABLED");
    expect(alarmNamed("fitnesscrm-redis-cache-redis-health-missed-run-P1").actionsEnabled).toBe(false);
    // Paused endpoint checks: the down alarm (missing checks are breaching) is silent; the slow one sees no data and needs nothing.
    expect(schedule("fitnesscrm-health-task").state).toBe("DISABLED");
    expect(alarmNamed("fitnesscrm-endpoint-api-down-P0").actionsEnabled).toBe(false);
    expect(alarmNamed("fitnesscrm-endpoint-api-down-P0").alarmDescription).toMatch(/^\[P0\] \(paused: notifies nobody until the job is resumed\) /);
    expect(alarmNamed("fitnesscrm-endpoint-api-slow-P3").actionsEnabled).toBe(true);
    // The backup's missed-run and RPO alarms notify nobody; its errors alarm (a run by hand) still does.
    expect(alarmNamed("fitnesscrm-db-fitnesscrm-backup-missed-run-P1").actionsEnabled).toBe(false);
    expect(alarmNamed("fitnesscrm-db-fitnesscrm-rpo-P0").actionsEnabled).toBe(false);
    expect(alarmNamed("fitnesscrm-db-fitnesscrm-backup-errors-P1").actionsEnabled).toBe(true);
    expect(alarmNamed("fitnesscrm-db-fitnesscrm-verify-backup-missed-run-P1").actionsEnabled).toBe(true);
    // The restore drill is too sparse for a missed-run alarm: it leaves the overdue watcher, which still watches the reindex.
    expect(resources.some((r) => inputsOf(r).name === "fitnesscrm-db-fitnesscrm-restore-drill-overdue-P2")).toBe(false);
    expect(alarmNamed("fitnesscrm-db-fitnesscrm-reindex-overdue-P3")).toBeDefined();
    const watcher = resources.find((r) => r.type === "aws:lambda/function:Function" && inputsOf(r).name === "fitnesscrm-overdue-watch")!;
    // WATCHED_JOBS is in the environment or, past Lambda's 4 KB, in the bundle's settings file.
    const settings = { ...(await bundledSettingsByFunction(resources)).get("fitnesscrm-overdue-watch"), ...inputsOf(watcher).environment.variables };
    expect(JSON.parse(settings.WATCHED_JOBS).map((j: { job: string }) => j.job)).toEqual([
      // Weekly: no metric alarm looks back a week plus its margins.
      "fitnesscrm/vacuum",
      "fitnesscrm/analyze",
      "fitnesscrm/reindex",
      // The host group's State Manager associations, followed from State Manager's record of their runs.
      "association/app/logrotate",
      "association/app/cloudwatch-agent",
      // The sparse reminders are watched from their schedule groups' history; the paused maintenance-notice is not.
      "reminder/maintenance-window",
      "reminder/error-log-review",
      "reminder/performance-review",
      "reminder/on-call-handoff",
      "reminder/monthly-review",
    ]);
  });

  it("the plan says so: calendar, alarms and promises", () => {
    expect(plan.calendar.find((c) => c.schedule === "fitnesscrm-db-fitnesscrm-backup")?.paused).toBe(true);
    expect(plan.calendar.find((c) => c.schedule === "fitnesscrm-db-fitnesscrm-verify-backup")?.paused).toBeUndefined();
    expect(plan.alarms.find((a) => a.name === "fitnesscrm-db-fitnesscrm-rpo-P0")?.pages).toBe("(nobody; paused)");
    const promise = (key: string) => plan.promises!.items.filter((p) => p.key === key);
    expect(promise("databases[fitnesscrm].backup.schedule")).toEqual([expect.objectContaining({ status: "paused", figure: "paused" })]);
    expect(promise("reminders[maintenance-notice].schedule")).toEqual([expect.objectContaining({ status: "paused" })]);
    expect(promise("databases[fitnesscrm].verify.schedule").every((p) => p.status !== "paused")).toBe(true);
    expect(plan.muteRules?.find((m) => m.name === "fitnesscrm-mute-0")).toMatchObject({ expression: "at(2026-12-01T00:00)", timezone: "UTC", duration: "P1DT12H" });
  });
});

it("a window or mute naming an alarm or component the regime does not have is refused, one line each", async () => {
  const err = await planWith((c) => {
    c.maintenanceWindows[0].components.push("fitnesscrm-helth");
    // Six hours: within what a P0 page may be held back (a longer mute of it is a broken promise, tested in tests/promises.test.ts).
    c.mutes = [{ alarms: ["fitnesscrm-endpoint-api-down-P0", "fitnesscrm-api-down-P0"], until: "2026-12-01T06:00Z", reason: "migration" }];
  }).catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  const lines = (err as Error).message.split("\n");
  expect(lines).toEqual([
    expect.stringMatching(/^config error: maintenanceWindows\[0\]\.components\[4\]: no component named "fitnesscrm-helth" in this regime; components: .*fitnesscrm-health, /),
    'config error: mutes[0].alarms[1]: no alarm named "fitnesscrm-api-down-P0" in this regime (the plan lists them)',
  ]);
}, 120_000);
