import { CopyObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask, type BackupResult } from "../tasks/backup";
import { main } from "../tasks/cli";
import { makeHandler } from "../tasks/handler";
import { listBackupsTask, type ListBackupsResult } from "../tasks/list-backups";
import { createContext, MetricUnit, recordMetric, runTask } from "../tasks/lib/runtime";
import { readManifest } from "../tasks/lib/s3";
import { verifyBackupTask, type VerifyResult } from "../tasks/verify-backup";
import { seedShop } from "./helpers/backup-fixtures";
import { captureJsonLines } from "./helpers/emf";
import { createTestDatabase } from "./helpers/pg";
import { startS3, type TestS3 } from "./helpers/s3";
import { failure } from "./helpers/task-failure";

let s3: TestS3;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  s3 = await startS3();
  db = await createTestDatabase("sched");
  await seedShop(db.name);
  // The regime's zone: weekly on Sunday, monthly on the 1st (the defaults), days read in New York.
  env = { PATH: process.env.PATH, ...s3.env, DATABASE_URL: db.url, TIMEZONE: "America/New_York", WEEKLY_DAY: "0", MONTHLY_DAY: "1" };
});

afterAll(async () => {
  await db?.drop();
  await s3?.stop();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

/** Runs `run` with the clock at `startedAt` (the moment the run really starts); its result and the JSON lines it wrote. */
async function startingAt<T>(startedAt: string, run: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(startedAt));
  try {
    let result!: T;
    const lines = await captureJsonLines(async () => (result = await run()));
    return { result, lines };
  } finally {
    vi.useRealTimers();
  }
}

describe("a backup is filed in the retention tier of its scheduled time, as the plan's retention promises count it", () => {
  it("scheduled 23:58 on Monday 1 February 2027 (New York), started 00:03 on the 2nd after a retry: February's monthly copy, its key dated by its start", async () => {
    const prefix = "month/";
    const { result, lines } = await startingAt("2027-02-02T05:03:00Z", () =>
      runTask(backupTask, { ...env, BACKUP_PREFIX: prefix, SCHEDULED_TIME: "2027-02-02T04:58:00Z", SCHEDULER_ATTEMPT: "2" }),
    );
    const b = (result as BackupResult).databases[0];
    expect(b).toMatchObject({ ok: true, tier: "monthly", key: `${prefix}monthly/${db.name}/20270202T050300000Z.dump`, startedAt: "2027-02-02T05:03:00.000Z", scheduledAt: "2027-02-02T04:58:00.000Z" });
    const manifest = await readManifest(s3.client, s3.bucket, b.manifestKey!);
    expect(manifest).toMatchObject({ tier: "monthly", startedAt: "2027-02-02T05:03:00.000Z", scheduledAt: "2027-02-02T04:58:00.000Z" });
    // The log says which time dated the run, and how late it started.
    expect(lines.find((l) => l.message === "scheduled run: dated by its scheduled time")).toMatchObject({
      scheduledAt: "2027-02-02T04:58:00.000Z",
      startedAt: "2027-02-02T05:03:00.000Z",
      lateSeconds: 300,
      attempt: "2",
    });
  });

  it("scheduled 23:58 on Sunday 31 January 2027, started 00:03 on Monday 1 February: that week's weekly copy, not a monthly one for February", async () => {
    const prefix = "week/";
    const { result } = await startingAt("2027-02-01T05:03:00Z", () => runTask(backupTask, { ...env, BACKUP_PREFIX: prefix, SCHEDULED_TIME: "2027-02-01T04:58:00Z" }));
    const b = (result as BackupResult).databases[0];
    expect(b).toMatchObject({ ok: true, tier: "weekly", key: `${prefix}weekly/${db.name}/20270201T050300000Z.dump` });
  });

  it("scheduled 23:58 on Saturday 9 January 2027, started 00:03 on Sunday the 10th: a daily copy (Sunday's run is the weekly one)", async () => {
    const prefix = "saturday/";
    const { result } = await startingAt("2027-01-10T05:03:00Z", () => runTask(backupTask, { ...env, BACKUP_PREFIX: prefix, SCHEDULED_TIME: "2027-01-10T04:58:00-00:00" }));
    expect((result as BackupResult).databases[0]).toMatchObject({ ok: true, tier: "daily", key: `${prefix}daily/${db.name}/20270110T050300000Z.dump` });
  });

  it("a run by hand (no scheduled time) is filed by its start, and says so", async () => {
    const prefix = "manual/";
    const { result, lines } = await startingAt("2027-02-01T05:03:00Z", () => runTask(backupTask, { ...env, BACKUP_PREFIX: prefix }));
    const b = (result as BackupResult).databases[0];
    // 00:03 on Monday 1 February in New York: the monthly day.
    expect(b).toMatchObject({ ok: true, tier: "monthly", key: `${prefix}monthly/${db.name}/20270201T050300000Z.dump` });
    expect(b.scheduledAt).toBeUndefined();
    expect((await readManifest(s3.client, s3.bucket, b.manifestKey!)).scheduledAt).toBeUndefined();
    expect(lines.find((l) => l.message === "run without a scheduled time (SCHEDULED_TIME unset: by hand): dated by its start")).toMatchObject({ startedAt: "2027-02-01T05:03:00.000Z" });
  });

  it("the Lambda entry passes the Scheduler's scheduled time from its event to the task", async () => {
    const prefix = "lambda/";
    for (const [k, v] of Object.entries({ ...env, BACKUP_PREFIX: prefix })) if (v !== undefined) vi.stubEnv(k, v);
    const event = { task: "backup", source: "schedule", scheduledTime: "2027-02-02T04:58:00Z", executionId: "d32c5kddcf5bb8c3", attemptNumber: "1" };
    const { result, lines } = await startingAt("2027-02-02T05:03:00Z", () => makeHandler(backupTask)(event));
    expect((result as BackupResult).databases[0]).toMatchObject({ ok: true, tier: "monthly", key: `${prefix}monthly/${db.name}/20270202T050300000Z.dump` });
    expect(lines.find((l) => l.message === "scheduled run: dated by its scheduled time")).toMatchObject({ executionId: "d32c5kddcf5bb8c3", attempt: "1" });
    // Invoked by hand with the run-now event: no scheduled time, filed by its start (Tuesday the 2nd: daily).
    const { result: byHand } = await startingAt("2027-02-02T05:04:00Z", () => makeHandler(backupTask)({ task: "backup", source: "schedule" }));
    expect((byHand as BackupResult).databases[0]).toMatchObject({ ok: true, tier: "daily", key: `${prefix}daily/${db.name}/20270202T050400000Z.dump` });
  });

  it("refuses a scheduled time that is not one, with one line naming SCHEDULED_TIME (a placeholder the Scheduler did not replace, a date without a zone)", async () => {
    const err = await failure(runTask(backupTask, { ...env, BACKUP_PREFIX: "bad/", SCHEDULED_TIME: "<aws.scheduler.scheduled-time>" }));
    expect(err.message).toBe('invalid setting SCHEDULED_TIME: must be an ISO 8601 time with a zone like 2027-01-31T23:58:00Z, got "<aws.scheduler.scheduled-time>"');
    await expect(runTask(backupTask, { ...env, BACKUP_PREFIX: "bad/", SCHEDULED_TIME: "2027-01-31" })).rejects.toThrow(
      'invalid setting SCHEDULED_TIME: "2027-01-31" is a date without a time of day and offset; give both, like 2027-01-31T00:00:00-05:00 or 2027-01-31T00:00:00Z, so the time read is the one you mean',
    );
    for (const v of ["2027-01-31T23:58:00", "yesterday"]) {
      await expect(runTask(backupTask, { ...env, BACKUP_PREFIX: "bad/", SCHEDULED_TIME: v })).rejects.toThrow(`invalid setting SCHEDULED_TIME: must be an ISO 8601 time with a zone like 2027-01-31T23:58:00Z, got "${v}"`);
    }
    for (const [k, v] of Object.entries({ ...env, BACKUP_PREFIX: "bad/" })) if (v !== undefined) vi.stubEnv(k, v);
    const viaLambda = await failure(makeHandler(backupTask)({ task: "backup", scheduledTime: 1801526280 }));
    expect(viaLambda.message).toMatch(/^invalid setting SCHEDULED_TIME: must be an ISO 8601 time with a zone like 2027-01-31T23:58:00Z, got "1801526280"$/);
  });

  it("list-backups and verify-backup read the new backups next to one written before scheduled times were recorded", async () => {
    const prefix = "month/";
    // A backup of December 2026 as the program wrote it before: its manifest has no scheduledAt.
    const newest = await readManifest(s3.client, s3.bucket, `${prefix}monthly/${db.name}/20270202T050300000Z.manifest.json`);
    const oldKey = `${prefix}daily/${db.name}/20261215T070000000Z.dump`;
    await s3.client.send(new CopyObjectCommand({ Bucket: s3.bucket, Key: oldKey, CopySource: `${s3.bucket}/${newest.key}` }));
    const { scheduledAt: _dropped, ...old } = { ...newest, key: oldKey, tier: "daily" as const, startedAt: "2026-12-15T07:00:00.000Z", finishedAt: "2026-12-15T07:00:05.000Z" };
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: oldKey.replace(/\.dump$/, ".manifest.json"), Body: JSON.stringify(old) }));

    const { result: listed } = await startingAt("2027-02-02T06:00:00Z", () => runTask(listBackupsTask, { ...env, BACKUP_PREFIX: prefix, LIST_DATABASE: db.name }));
    expect((listed as ListBackupsResult).backups.map((b) => [b.tier, b.startedAt])).toEqual([
      ["monthly", "2027-02-02T05:03:00.000Z"],
      ["daily", "2026-12-15T07:00:00.000Z"],
    ]);
    const { result: verified } = await startingAt("2027-02-02T06:00:00Z", () => runTask(verifyBackupTask, { ...env, BACKUP_PREFIX: prefix, RPO_HOURS: "26", MIN_SIZE_MB: "0.05" }));
    const d = (verified as VerifyResult).databases[0];
    expect(d.ok).toBe(true);
    expect(d.key).toBe(newest.key);
  });
});

/** `npm run task -- <argv>` in this process with `extra` in its environment, started at `startedAt`: exit code, stderr, and the JSON result (stdout's last line). */
async function cliAt(startedAt: string, argv: string[], extra: Record<string, string> = {}): Promise<{ code: number; stderr: string; result: Record<string, unknown> }> {
  for (const [k, v] of Object.entries({ ...env, ...extra })) if (v !== undefined) vi.stubEnv(k, v);
  vi.stubEnv("POWERTOOLS_DEV", "");
  const saved = { log: console.log, info: console.info, warn: console.warn, debug: console.debug, out: process.stdout.write, err: process.stderr.write };
  let stdout = "";
  let stderr = "";
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(startedAt));
  try {
    const code = await main(argv);
    return { code, stderr, result: JSON.parse(stdout.trim().split("\n").pop()!) };
  } finally {
    vi.useRealTimers();
    Object.assign(console, { log: saved.log, info: saved.info, warn: saved.warn, debug: saved.debug });
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    vi.unstubAllEnvs();
  }
}

/** Keys written under `prefix`. */
async function keysUnder(prefix: string): Promise<string[]> {
  const r = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

describe("a scheduled time that cannot be this run's is refused before anything is written; one from a by-hand rerun is filed in its tier", () => {
  it("refuses a day or hour that does not exist instead of rolling it over (29 February 2027 is not 1 March's monthly copy)", async () => {
    for (const v of ["2027-02-29T12:00:00Z", "2027-02-30T04:58:00Z", "2026-12-01T24:00:00Z", "2026-12-31T23:59:60Z", "2027-02-01T23:58:00-25:00"]) {
      const err = await failure(runTask(backupTask, { ...env, BACKUP_PREFIX: "nonday/", SCHEDULED_TIME: v }));
      expect(err.message).toBe(`invalid setting SCHEDULED_TIME: "${v}" is not a time that exists`);
    }
    const { code, stderr } = await cliAt("2027-03-01T17:05:00Z", ["backup", "--scheduled-time=2027-02-29T12:00:00Z", "--backup-prefix", "nonday/"]);
    expect(code).toBe(2);
    expect(stderr.trim().split("\n").at(-1)).toBe('error: invalid setting --scheduled-time: "2027-02-29T12:00:00Z" is not a time that exists');
    expect(await keysUnder("nonday/")).toEqual([]);
  });

  it("refuses a SCHEDULED_TIME from the environment more than 25 hours before the start (left set after a rerun) or after it, naming the start; takes one within", async () => {
    const start = "2027-02-02T05:03:00Z";
    const cases: [string, string][] = [
      ["2016-05-01T12:00:00Z", "SCHEDULED_TIME: 2016-05-01T12:00:00.000Z is 94289 h 3 min before the run's start 2027-02-02T05:03:00.000Z, more than the 25 h a scheduled run can start late (left set from an earlier run?); unset it, or rerun a missed run with --scheduled-time"],
      ["2027-02-01T04:02:00Z", "SCHEDULED_TIME: 2027-02-01T04:02:00.000Z is 25 h 1 min before the run's start 2027-02-02T05:03:00.000Z, more than the 25 h a scheduled run can start late (left set from an earlier run?); unset it, or rerun a missed run with --scheduled-time"],
      ["2099-03-01T12:00:00Z", "SCHEDULED_TIME: 2099-03-01T12:00:00.000Z is after the run's start 2027-02-02T05:03:00.000Z (more than 5 minutes of clock difference); a run is dated by a time that has come"],
      ["2027-02-02T05:09:00Z", "SCHEDULED_TIME: 2027-02-02T05:09:00.000Z is after the run's start 2027-02-02T05:03:00.000Z (more than 5 minutes of clock difference); a run is dated by a time that has come"],
    ];
    for (const [v, message] of cases) {
      const { code, stderr, result } = await cliAt(start, ["backup", "--backup-prefix", "stale/"], { SCHEDULED_TIME: v });
      expect(code).toBe(2);
      expect(result).toEqual({ error: `invalid setting ${message}` });
      expect(stderr.trim().split("\n").at(-1)).toBe(`error: invalid setting ${message}`);
    }
    // The same through the Lambda entry: the event's scheduled time is an environment's.
    for (const [k, v] of Object.entries({ ...env, BACKUP_PREFIX: "stale/" })) if (v !== undefined) vi.stubEnv(k, v);
    const { result } = await startingAt(start, () => failure(makeHandler(backupTask)({ task: "backup", scheduledTime: "2016-05-01T12:00:00Z" })));
    expect(result.message).toBe(`invalid setting ${cases[0][1]}`);
    expect(await keysUnder("stale/")).toEqual([]);

    // Within the bounds, 24 hours late (the Scheduler's longest retry) and 4 minutes ahead (clock difference), each in its day's tier.
    // Sunday 31 January 2027, 23:58 in New York, started 24 h 5 min later: that week's weekly copy.
    const { result: late } = await startingAt("2027-02-02T05:03:00Z", () => runTask(backupTask, { ...env, BACKUP_PREFIX: "bounds/", SCHEDULED_TIME: "2027-02-01T04:58:00Z" }));
    expect((late as BackupResult).databases[0]).toMatchObject({ ok: true, tier: "weekly", scheduledAt: "2027-02-01T04:58:00.000Z" });
    // Monday 1 February 2027, 23:58 in New York, on a runner whose clock is 4 minutes behind: February's monthly copy.
    const { result: early } = await startingAt("2027-02-02T04:54:00Z", () => runTask(backupTask, { ...env, BACKUP_PREFIX: "bounds/", SCHEDULED_TIME: "2027-02-01T23:58:00-05:00" }));
    expect((early as BackupResult).databases[0]).toMatchObject({ ok: true, tier: "monthly", scheduledAt: "2027-02-02T04:58:00.000Z" });
  });

  it("reruns a missed backup weeks later with --scheduled-time (README): filed in that time's tier, with a warning line; a future one is refused", async () => {
    const { code, stderr, result } = await cliAt("2027-02-20T15:00:00Z", ["backup", "--scheduled-time", "2027-02-01T23:58:00-05:00", "--backup-prefix", "rerun/"]);
    expect(code).toBe(0);
    const b = (result as unknown as BackupResult).databases[0];
    expect(b).toMatchObject({ ok: true, tier: "monthly", key: `rerun/monthly/${db.name}/20270220T150000000Z.dump`, scheduledAt: "2027-02-02T04:58:00.000Z" });
    expect(stderr).toContain("--scheduled-time: 2027-02-02T04:58:00.000Z is 442 h 2 min before the run's start 2027-02-20T15:00:00.000Z: run by hand as that time's scheduled run");
    const future = await cliAt("2027-02-20T15:00:00Z", ["backup", "--scheduled-time", "2027-03-01T23:58:00-05:00", "--backup-prefix", "rerun/"]);
    expect(future.code).toBe(2);
    expect(future.stderr.trim().split("\n").at(-1)).toBe(
      "error: invalid setting --scheduled-time: 2027-03-02T04:58:00.000Z is after the run's start 2027-02-20T15:00:00.000Z (more than 5 minutes of clock difference); a run is dated by a time that has come",
    );
    expect(await keysUnder("rerun/")).toEqual([`rerun/monthly/${db.name}/20270220T150000000Z.dump`, `rerun/monthly/${db.name}/20270220T150000000Z.manifest.json`]);
  });
});

describe("a sampled metric is sent by the run scheduled first in its interval, however late it starts", () => {
  /** Whether db-health's WraparoundAge (sampled once per UTC day) goes out of a run every 15 minutes scheduled at `scheduled` that starts at `started`. */
  async function sent(scheduled: string | undefined, started: string): Promise<boolean> {
    const { lines } = await startingAt(started, async () => {
      const ctx = createContext("db-health", { SCHEDULE_INTERVAL_SECONDS: "900", ...(scheduled ? { SCHEDULED_TIME: scheduled } : {}) }, new AbortController().signal);
      recordMetric(ctx, "WraparoundAge", MetricUnit.Count, 1000, ["Database", "app"], false);
      ctx.metrics.publishStoredMetrics();
    });
    return lines.some((l) => "_aws" in l && "WraparoundAge" in l);
  }

  it("the 00:00 run started at 00:16 (a retry) sends the day's sample; the 23:45 run started at 00:05 does not send a second one", async () => {
    expect(await sent("2027-02-02T00:00:00Z", "2027-02-02T00:16:00Z")).toBe(true);
    expect(await sent("2027-02-01T23:45:00Z", "2027-02-02T00:05:00Z")).toBe(false);
    // A run by hand is placed by its start.
    expect(await sent(undefined, "2027-02-02T00:05:00Z")).toBe(true);
  });
});
