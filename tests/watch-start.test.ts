/**
 * Every alarm on something that should happen (a run, a success, a healthy check) is gated on its
 * job's watch start, a creation date AWS stamps on a resource made with the job: the plan of a
 * regime with a Lambda database, a Fargate one, an endpoint and an SSH host's daily file backup
 * shows each alarm's gate with the (mocked) creation date, and the very expressions the components
 * produced are evaluated over synthetic data points (tests/helpers/metric-math.ts):
 * - a new job before its first due run does not page (the old alarm paged at its first evaluation);
 * - the same job that never runs pages once its window has passed after the watch start;
 * - a paused job's alarm sits OK; at the next `pulumi up` that resumes it (the plan given the state
 *   the paused up left) its gate is that up's stamp: it stays OK until its window after the resume
 *   has passed, and goes to ALARM (a state change, which notifies) only if the job did not run; a
 *   job never paused keeps its creation date, and the overdue watcher's settings carry the resume
 *   as the resumed drill's and reminder's watch start.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { ALERTING } from "./helpers/alerting";
import { beforeAll, describe, expect, it } from "vitest";
import { runPlan } from "../plan/run";
import type { RecordedResource } from "../plan/mocks";
import { evaluateAlarm, type DataPoint } from "./helpers/metric-math";
import { MOCK_CREATION_DATE } from "./helpers/pulumi-mocks";
import { PAUSED_WATCH_START } from "../components/alarms";
import { watchStartProvider } from "../components/watch-start";
import * as pulumi from "@pulumi/pulumi";

const FROM = new Date("2026-12-01T00:00:00Z");
const NS = "maintenance-regime";
type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
/** The watch start every mocked creation date gives, in seconds. */
const START = Date.parse(MOCK_CREATION_DATE) / 1000;
const NEVER = Date.parse(PAUSED_WATCH_START) / 1000;

function database(id: string, sizeGb: number, rpoHours: number, paused = false) {
  return {
    id,
    sizeGb,
    secretArn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:ws/${id}/postgres-AbCdEf`,
    network: { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] },
    backup: { schedule: "daily at 02:00", rpoHours, ...(paused ? { paused } : {}), retention: { daily: 7, weekly: 30, monthly: 90 } },
    verify: { schedule: "daily at 06:00", maxAgeHours: 26 },
    // Quarterly: too sparse for a metric alarm, watched by the overdue watcher from its run markers.
    restoreDrill: { schedule: "quarterly on day 1 at 03:00", ...(paused ? { paused } : {}), rtoMinutes: 240, checks: [{ sql: "SELECT count(*) FROM customers", minRows: 1 }] },
  };
}

function stackFile(paused: boolean): string {
  const file = join(mkdtempSync(join(tmpdir(), "watch-start-")), "Pulumi.ws.yaml");
  const config = {
    [`${NS}:name`]: "ws",
    [`${NS}:alerting`]: ALERTING,
    [`${NS}:timezone`]: "UTC",
    // `app` backs up on Lambda (5 GB), `big` on Fargate (85 GB: longer than Lambda's 15 minutes).
    [`${NS}:databases`]: [database("app", 5, 26, paused), database("big", 85, 30)],
    [`${NS}:endpoints`]: { schedule: "every 1 minute", ...(paused ? { paused } : {}), checks: [{ name: "api", url: "https://app.example.com/health", severity: "P0", uptimeTargetPercent: 99.9 }] },
    [`${NS}:logs`]: {
      hostGroups: [
        {
          name: "crm",
          sshHosts: [{ host: "203.0.113.10", user: "deploy" }],
          sshPrivateKeyConfig: "wsSshKey",
          appRoot: "/opt/crm",
          fileBackups: [{ name: "config", paths: [".env"], schedule: "daily at 03:00", ...(paused ? { paused } : {}) }],
        },
      ],
    },
    [`${NS}:wsSshKey`]: { secure: "v1:AAAABBBBCCCC" },
    // Quarterly reminders: the overdue watcher reads their schedule groups' history.
    [`${NS}:reminders`]: [
      { name: "access-review", schedule: "quarterly on day 1 at 09:00", severity: "P3", ...(paused ? { paused } : {}), checklist: ["Review who has production access"] },
      { name: "key-rotation", schedule: "quarterly on day 1 at 10:00", severity: "P3", checklist: ["Rotate shared credentials"] },
    ],
  };
  writeFileSync(file, YAML.stringify({ config }));
  return file;
}

let alarms: Record<string, Inputs> = {};
let pausedAlarms: Record<string, Inputs> = {};
/** The stack's next `pulumi up` after the paused one, with `paused` removed again; and the up after that. */
let resumed: Awaited<ReturnType<typeof runPlan>>;
let later: Awaited<ReturnType<typeof runPlan>>;
/** The test's clock around the resuming up: the resume's stamp lies between. */
let resumeClock: { before: number; after: number };
const alarmsOf = (resources: RecordedResource[]) =>
  Object.fromEntries(resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => [String(r.inputs.name), r.inputs as Inputs]));

beforeAll(async () => {
  alarms = alarmsOf((await runPlan({ configFile: stackFile(false), from: FROM })).resources);
  const paused = await runPlan({ configFile: stackFile(true), from: FROM });
  pausedAlarms = alarmsOf(paused.resources);
  const before = Date.now();
  resumed = await runPlan({ configFile: stackFile(false), from: FROM, watchStarts: paused.watchStarts });
  resumeClock = { before: Math.floor(before / 1000), after: Math.ceil(Date.now() / 1000) };
  later = await runPlan({ configFile: stackFile(false), from: FROM, watchStarts: resumed.watchStarts });
}, 180_000);

/** Alarm name -> the metric its gate reads first (EPOCH's argument). */
const GATED = {
  "ws-db-app-rpo-P0": "backups",
  "ws-db-app-backup-missed-run-P1": "invocations",
  "ws-db-big-rpo-P0": "backups",
  "ws-db-big-backup-missed-run-P1": "successes",
  "ws-endpoint-api-down-P0": "healthy",
  "ws-logs-crm-backup-config-host-203-0-113-10-missed-run-P1": "backups",
} as const;

const expressionOf = (a: Inputs) => (a.metricQueries as { id: string; expression?: string }[]).find((q) => q.id === "watched")?.expression;
const windowOf = (a: Inputs) => (a.metricQueries as { metric?: { period: number } }[]).find((q) => q.metric)!.metric!.period * a.evaluationPeriods;
/** The watch start (s) an alarm's gate compares EPOCH with. */
const watchStartOf = (a: Inputs) => Number(/^IF\(EPOCH\(\w+\) < (\d+), 1, /.exec(expressionOf(a) ?? "")?.[1]);
/** The overdue watcher's WATCHED_JOBS in a plan: job -> its `since`. */
const watchedSince = (resources: RecordedResource[]) => {
  const fn = resources.find((r) => r.type === "aws:lambda/function:Function" && (r.inputs as Inputs).environment?.variables?.WATCHED_JOBS);
  return Object.fromEntries((JSON.parse(((fn!.inputs as Inputs).environment.variables.WATCHED_JOBS)) as { job: string; since?: string }[]).map((j) => [j.job, j.since]));
};

/** The metric an alarm's gate counts (the names the tasks, Lambda and the hosts send). */
const metricOf = (a: Inputs) => (a.metricQueries as { metric?: { metricName: string } }[]).find((q) => q.metric)!.metric!.metricName;

describe("alarms on what should happen carry a watch start", () => {
  it("the RPO, missed-run (Lambda and Fargate), endpoint down and per-host file backup alarms gate on the mocked creation date", () => {
    for (const [name, first] of Object.entries(GATED)) {
      expect(alarms[name], name).toBeDefined();
      expect(expressionOf(alarms[name]), name).toMatch(new RegExp(`^IF\\(EPOCH\\(${first}\\) < ${START}, 1, `));
      // Every period after the watch start holds an explicit value: no run is a 0, not missing data.
      expect(expressionOf(alarms[name]), name).toMatch(/FILL\(/);
      expect(alarms[name].treatMissingData, name).toBe("breaching");
    }
    expect(expressionOf(alarms["ws-db-app-rpo-P0"])).toBe(`IF(EPOCH(backups) < ${START}, 1, FILL(backups, 0))`);
    expect(expressionOf(alarms["ws-db-big-backup-missed-run-P1"])).toBe(`IF(EPOCH(successes) < ${START}, 1, FILL(successes, 0))`);
    // The budget windows of the endpoint (children of a composite) gate the share of healthy checks.
    const budget = Object.entries(alarms).filter(([n]) => n.startsWith("ws-endpoint-api-budget-"));
    expect(budget.length).toBeGreaterThan(0);
    for (const [n, a] of budget) {
      expect(expressionOf(a), n).toBe(`IF(EPOCH(healthy) < ${START}, 1, FILL(healthy, 0))`);
      expect((a.metricQueries as { expression?: string; returnData: boolean }[]).filter((q) => q.returnData).map((q) => q.expression), n).toEqual(["100 * watched"]);
    }
  });

  it("no alarm treats missing data as breaching without a gate", () => {
    const ungated = Object.entries(alarms).filter(([, a]) => a.treatMissingData === "breaching" && !expressionOf(a));
    expect(ungated.map(([n]) => n)).toEqual([]);
  });

  it("a paused job's alarms gate on the end of time (every period counts as good), with their actions off", () => {
    for (const name of ["ws-db-app-rpo-P0", "ws-db-app-backup-missed-run-P1", "ws-endpoint-api-down-P0", "ws-logs-crm-backup-config-host-203-0-113-10-missed-run-P1"]) {
      expect(expressionOf(pausedAlarms[name]), name).toMatch(new RegExp(`^IF\\(EPOCH\\(\\w+\\) < ${NEVER}, 1, `));
      expect(pausedAlarms[name].actionsEnabled, name).toBe(false);
    }
    // The database that is not paused keeps its watch start.
    expect(expressionOf(pausedAlarms["ws-db-big-rpo-P0"])).toBe(`IF(EPOCH(backups) < ${START}, 1, FILL(backups, 0))`);
  });
});

describe("a resumed job is watched from the `pulumi up` that resumed it", () => {
  it("its alarms gate on the resume's stamp, after the creation date; a job never paused keeps its creation date", () => {
    const after = alarmsOf(resumed.resources);
    const stamp = watchStartOf(after["ws-db-app-backup-missed-run-P1"]);
    expect(stamp).toBeGreaterThan(START);
    expect(stamp).toBeGreaterThanOrEqual(resumeClock.before);
    expect(stamp).toBeLessThanOrEqual(resumeClock.after);
    for (const name of ["ws-db-app-rpo-P0", "ws-db-app-backup-missed-run-P1", "ws-endpoint-api-down-P0", "ws-logs-crm-backup-config-host-203-0-113-10-missed-run-P1"]) {
      expect(watchStartOf(after[name]), name).toBeGreaterThanOrEqual(resumeClock.before);
      expect(watchStartOf(after[name]), name).toBeLessThanOrEqual(resumeClock.after);
    }
    // Never paused: the same gate as at its first up (and as before this version).
    expect(expressionOf(after["ws-db-big-rpo-P0"])).toBe(`IF(EPOCH(backups) < ${START}, 1, FILL(backups, 0))`);
    expect(expressionOf(after["ws-db-big-backup-missed-run-P1"])).toBe(expressionOf(alarms["ws-db-big-backup-missed-run-P1"]));
    // The stamp is kept by later ups (the state carries it), not taken again.
    const next = alarmsOf(later.resources);
    for (const name of Object.keys(GATED)) expect(expressionOf(next[name]), name).toBe(expressionOf(after[name]));
  });

  it("the overdue watcher's settings carry the resume as the watch start of the resumed drill and reminder; the others keep their creation date", () => {
    const since = watchedSince(resumed.resources);
    const stamp = resumed.watchStarts["ws-db-app-restore-drill-watch-start"]?.resumedAt;
    expect(stamp, Object.keys(resumed.watchStarts).join(", ")).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(since["app/restore-drill"]).toBe(stamp);
    expect(Date.parse(since["reminder/access-review"]!) / 1000).toBeGreaterThanOrEqual(resumeClock.before);
    expect(since["big/restore-drill"]).toBe(MOCK_CREATION_DATE);
    expect(since["reminder/key-rotation"]).toBe(MOCK_CREATION_DATE);
    // At the first up (or any up of a job never paused) every watch start is a creation date.
    expect(new Set(Object.values(watchedSince((later.resources))).map((v) => v === MOCK_CREATION_DATE))).toEqual(new Set([true, false]));
    expect(watchedSince(later.resources)).toEqual(since);
  });
});

describe("the WatchStart provider as `pulumi up` runs it", () => {
  it("serializes on its own (as the dynamic resource stores it) and, evaluated, stamps a resume once and keeps it", async () => {
    const provider = watchStartProvider;
    const code = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false, isFactoryFunction: true });
    // Nothing of the program (modules, config) is captured: a few functions.
    expect(code.text.length).toBeLessThan(4000);
    expect(code.text).not.toMatch(/require\(/);
    const mod = { exports: {} as Record<string, typeof watchStartProvider> };
    new Function("module", "exports", code.text)(mod, mod.exports); // eslint-disable-line @typescript-eslint/no-implied-eval
    const p = mod.exports[code.exportName];
    const paused = (await p.create({ paused: true })).outs;
    expect(paused).toEqual({ paused: true, resumedAt: "" });
    // A job never paused: no change at a later up, its watch start stays its creation date.
    const running = (await p.create({ paused: false })).outs;
    expect(await p.diff("id", running, { paused: false })).toEqual({ changes: false });
    // Resumed: an update stamps the up's clock; the next ups change nothing; a refresh keeps the state.
    expect(await p.diff("id", paused, { paused: false })).toEqual({ changes: true });
    const before = Date.now();
    const resumedState = (await p.update("id", paused, { paused: false })).outs;
    expect(Date.parse(resumedState.resumedAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(resumedState.resumedAt)).toBeLessThanOrEqual(Date.now());
    expect(await p.diff("id", resumedState, { paused: false })).toEqual({ changes: false });
    expect((await p.read("id", resumedState)).props).toEqual(resumedState);
    // Paused again, the stamp is kept (unused: a paused job's watch start is the end of time) until the next resume.
    expect((await p.update("id", resumedState, { paused: true })).outs).toEqual({ paused: true, resumedAt: resumedState.resumedAt });
  });
});

describe("the alarms' own expressions over synthetic data points", () => {
  it("a new job does not page before its first due run; never run, it pages once its window has passed", () => {
    for (const name of Object.keys(GATED)) {
      const a = alarms[name];
      const w = windowOf(a);
      // Created at the watch start: evaluated every 5 minutes until its window is over, no run at all.
      for (let at = START + 60; at < START + w; at += 300) expect(evaluateAlarm(a, [], at), `${name} at +${at - START} s`).toBe("OK");
      expect(evaluateAlarm(a, [], START + w + 60), name).toBe("ALARM");
      // Should FILL give nothing for a window without any data, the periods after the watch start are
      // missing and "breaching" judges them the same: OK before the window is over, ALARM after.
      expect(evaluateAlarm(a, [], START + w - 300, "INSUFFICIENT_DATA", { fillEmpty: false }), name).toBe("OK");
      expect(evaluateAlarm(a, [], START + w + 60, "INSUFFICIENT_DATA", { fillEmpty: false }), name).toBe("ALARM");
      // Without the gate (the plain metric, missing data breaching) it paged at its first evaluation.
      expect(evaluateAlarm({ ...a, metricQueries: [a.metricQueries[0], { id: "plain", expression: a.metricQueries[0].id }] }, [], START + 60), name).toBe("ALARM");
    }
  });

  it("a job that runs as scheduled stays OK after its watch start", () => {
    const day = 86400;
    // The RPO alarm: a daily backup at 02:00 UTC, one success each.
    const rpo = alarms["ws-db-app-rpo-P0"];
    const backups: DataPoint[] = Array.from({ length: 10 }, (_, d) => ({ metricName: "BackupSucceeded", at: START + 2 * 3600 + d * day, value: 1 }));
    for (let at = START + 60; at < START + 10 * day; at += 3600) expect(evaluateAlarm(rpo, backups, at), `+${at - START} s`).toBe("OK");
    // The backups stop after the fifth: paged once the RPO window has passed since the last one.
    const last = backups[4].at;
    const firstPage = Array.from({ length: 48 * 60 }, (_, m) => last + m * 60).find((at) => evaluateAlarm(rpo, backups.slice(0, 5), at) === "ALARM")!;
    expect(firstPage - last).toBeGreaterThan(windowOf(rpo) - 60);
    expect(firstPage - last).toBeLessThanOrEqual(windowOf(rpo) + 60);
  });

  it("a paused job sits OK; resumed, it is watched from the `pulumi up` that resumed it: OK until its window after the resume has passed, then ALARM (and a notification) only if it did not run", () => {
    const pausedNames = Object.keys(GATED).filter((n) => pausedAlarms[n]?.actionsEnabled === false);
    expect(pausedNames).toEqual(["ws-db-app-rpo-P0", "ws-db-app-backup-missed-run-P1", "ws-endpoint-api-down-P0", "ws-logs-crm-backup-config-host-203-0-113-10-missed-run-P1"]);
    const resumedAlarms = alarmsOf(resumed.resources);
    for (const name of pausedNames) {
      const paused = pausedAlarms[name];
      const after = resumedAlarms[name];
      const resumedAt = watchStartOf(after);
      const w = windowOf(after);
      // Paused for 20 days before the resume: no run, the alarm stays OK throughout.
      const pausedAt = resumedAt - 20 * 86400;
      let state = evaluateAlarm(paused, [], pausedAt + 60);
      for (let at = pausedAt + 60; at < resumedAt; at += 3600) {
        state = evaluateAlarm(paused, [], at, state);
        expect(state, `${name} paused, +${at - pausedAt} s`).toBe("OK");
      }
      // Resumed (actions on): no page at its first evaluations, with no run since long before the pause
      // (the old watch start, the creation date, paged here: OK -> ALARM at once).
      expect(after.actionsEnabled, name).toBe(true);
      for (let at = resumedAt + 60; at < resumedAt + w - 300; at += 900) expect(evaluateAlarm(after, [], at, state), `${name} resumed, +${at - resumedAt} s`).toBe("OK");
      expect(evaluateAlarm(alarms[name], [], resumedAt + 60, state), `${name}: gated on the creation date`).toBe("ALARM");
      // The resumed job misses its first due run: once its window after the resume has passed, OK -> ALARM, which notifies.
      expect(evaluateAlarm(after, [], resumedAt + w + 60, state), name).toBe("ALARM");
      // A run after the resume keeps it OK at that moment (the down alarm pages on most checks failing, not on one).
      if (after.datapointsToAlarm !== after.evaluationPeriods) continue;
      const run: DataPoint = { metricName: metricOf(after), at: resumedAt + w - 60, value: 1 };
      expect(evaluateAlarm(after, [run], resumedAt + w + 60, state), name).toBe("OK");
    }
  });
});
