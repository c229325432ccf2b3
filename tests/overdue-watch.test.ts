/**
 * Jobs too sparse for a metric alarm are watched through the markers they write: a task run through
 * its deployed entry (the zip bundle's handler, the container's handler) records its success in the
 * S3-compatible server, a failed run records nothing, and the overdue-watch task reads those objects
 * and reports a job overdue exactly when the run its schedule expected after the last success is
 * later than its tolerance: it publishes Overdue = 1 then, and nothing for a job on time (its alarm
 * treats missing data as not breaching). Real PostgreSQL and the S3-compatible server the tests start.
 */
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleTask } from "../build/bundle";
import { markerKey } from "../tasks/lib/run-marker";
import { runTask } from "../tasks/lib/runtime";
import { markerTime, recordRunMarker } from "../tasks/lib/run-marker";
import { analyzeTask } from "../tasks/maintenance";
import { overdueWatchTask, type OverdueResult } from "../tasks/overdue-watch";
import { startCloudWatch, watchJobs, type TestCloudWatch } from "./helpers/cloudwatch";
import { captureEmf } from "./helpers/emf";
import { createTestDatabase } from "./helpers/pg";
import { startS3, type TestS3 } from "./helpers/s3";
import { startSsm, type TestSsm } from "./helpers/ssm";
import { fileBackupWatchedJob } from "../components/file-backups";
import type { WatchedJobSpec } from "../components/overdue-watch";
import { FILE_BACKUP_METRIC, FILE_BACKUP_TASK, fileBackupDimensions, fileBackupSchedule, renderFileBackupScript } from "../regime/file-backups";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";
import { PAUSED_WATCH_START } from "../components/alarms";

let s3: TestS3;
let cw: TestCloudWatch;
let ssm: TestSsm;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
const QUARTERLY = { expression: "cron(0 3 1 1,4,7,10 ? *)", timezone: "America/New_York" };
const MONTHLY = { expression: "cron(0 2 ? * 1#1 *)", timezone: "UTC" };

const keys = async (prefix: string) => ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();
const putMarker = (prefix: string, at: Date) => s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: markerKey(prefix, at), Body: "{}" }));
const watch = (jobs: unknown[], at: string) =>
  runTask(overdueWatchTask, { ...s3.env, ...cw.env, ...ssm.env, REGIME_NAME: "prod", LOG_LEVEL: "ERROR", WATCHED_JOBS: JSON.stringify(jobs), WATCH_AT: at }) as Promise<OverdueResult>;

beforeAll(async () => {
  s3 = await startS3("vault");
  cw = await startCloudWatch();
  ssm = await startSsm();
  db = await createTestDatabase("mr_overdue");
}, 60_000);
afterAll(async () => {
  await db?.drop();
  await s3?.stop();
  await cw?.stop();
  await ssm?.stop();
});

describe("run markers", () => {
  it("the analyze zip bundle's handler records a successful run under its prefix; a failed run records none", async () => {
    const bundle = await bundleTask("analyze");
    const file = join(mkdtempSync(join(tmpdir(), "bundle-")), "index.js");
    writeFileSync(file, bundle.code);
    const { handler } = require(file) as { handler: () => Promise<unknown> }; // eslint-disable-line @typescript-eslint/no-require-imports
    const saved = { ...process.env };
    Object.assign(process.env, s3.env, { TASK: "analyze", REGIME_NAME: "prod", METRICS_INSTANCE: "app", DATABASE_URL: db.url, LOG_LEVEL: "ERROR", RUN_MARKER_BUCKET: s3.bucket, RUN_MARKER_PREFIX: "runs/app/analyze/" });
    try {
      const before = Date.now();
      await handler();
      const written = await keys("runs/app/analyze/");
      expect(written).toHaveLength(1);
      expect(written[0]).toMatch(/^runs\/app\/analyze\/\d{8}T\d{9}Z\.success\.json$/);
      const body = JSON.parse(await (await s3.client.send(new (await import("@aws-sdk/client-s3")).GetObjectCommand({ Bucket: s3.bucket, Key: written[0] }))).Body!.transformToString());
      expect(body.task).toBe("analyze");
      expect(body.instance).toBe("app");
      expect(new Date(body.finishedAt).getTime()).toBeGreaterThanOrEqual(before);
      // Keyed by the run's start (for a backup, the moment its data is from), which precedes its end.
      expect(new Date(body.startedAt).getTime()).toBeGreaterThanOrEqual(before);
      expect(new Date(body.startedAt).getTime()).toBeLessThanOrEqual(new Date(body.finishedAt).getTime());
      expect(markerTime(written[0])!.toISOString()).toBe(body.startedAt);
      // A run that fails (the database is gone) leaves no marker.
      process.env.DATABASE_URL = db.url.replace(/\/[^/]+$/, "/mr_no_such_database");
      await expect(handler()).rejects.toThrow();
      expect(await keys("runs/app/analyze/")).toEqual(written);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  }, 60_000);

  it("a marker that cannot be written fails the run, naming the object", async () => {
    const env = { ...s3.env, DATABASE_URL: db.url, LOG_LEVEL: "ERROR", RUN_MARKER_BUCKET: "no-such-bucket", RUN_MARKER_PREFIX: "runs/app/analyze/" };
    await expect(runTask(analyzeTask, env, undefined, recordRunMarker)).rejects.toThrow(/^run marker s3:\/\/no-such-bucket\/runs\/app\/analyze\/\d{8}T\d{9}Z\.success\.json: /);
  });

  it("without RUN_MARKER_* a run writes nothing (local runs, frequent jobs)", async () => {
    const before = await keys("");
    await runTask(analyzeTask, { ...s3.env, DATABASE_URL: db.url, LOG_LEVEL: "ERROR" }, undefined, recordRunMarker);
    expect(await keys("")).toEqual(before);
  });
});

describe("overdue-watch", () => {
  const drill = { job: "app/restore-drill", prefix: "runs/app/restore-drill/", ...QUARTERLY, toleranceSeconds: 67 * 60 + 3600 };
  const reindex = { job: "app/reindex", prefix: "runs/app/reindex/", ...MONTHLY, toleranceSeconds: 900 + 3600 };

  beforeAll(async () => {
    // The quarterly drill last succeeded on 2027-01-01 at 03:20 New York time.
    await putMarker(drill.prefix, new Date("2026-10-01T07:25:00Z"));
    await putMarker(drill.prefix, new Date("2027-01-01T08:20:00Z"));
  });

  it("on time: the next quarterly drill (April 1, 03:00 New York) is not yet due plus its tolerance", async () => {
    const r = await watch([drill], "2027-04-01T09:00:00Z");
    expect(r.jobs[0]).toMatchObject({ job: "app/restore-drill", lastSuccess: "2027-01-01T08:20:00.000Z", expectedBy: "2027-04-01T07:00:00.000Z", dueBy: "2027-04-01T09:07:00.000Z", overdue: false, overdueSeconds: 0 });
    expect(r.overdue).toEqual([]);
  });

  it("overdue: April's drill did not succeed by 09:07 UTC, and the metric says so for that job", async () => {
    let result: OverdueResult | undefined;
    const emf = await captureEmf(async () => {
      result = await watch([drill], "2027-04-01T10:07:00Z");
    });
    expect(result!.overdue).toEqual(["app/restore-drill"]);
    expect(result!.jobs[0].overdueSeconds).toBe(3600);
    const line = emf.find((l) => l.Job === "app/restore-drill")!;
    expect(line).toMatchObject({ Overdue: 1, Task: "overdue-watch", service: "prod" });
  });

  it("a success recorded after the missed run clears it", async () => {
    await putMarker(drill.prefix, new Date("2027-04-01T11:00:00Z"));
    const r = await watch([drill], "2027-04-01T12:00:00Z");
    expect(r.jobs[0]).toMatchObject({ lastSuccess: "2027-04-01T11:00:00.000Z", expectedBy: "2027-07-01T07:00:00.000Z", overdue: false });
  });

  it("a job that never succeeded is measured from the first time it was watched, not from before the deployment", async () => {
    // First watch on 2027-02-10: the February run (Feb 7) was before the watch began.
    const first = await watch([reindex], "2027-02-10T00:00:00Z");
    expect(first.jobs[0]).toMatchObject({ watchingSince: "2027-02-10T00:00:00.000Z", expectedBy: "2027-03-07T02:00:00.000Z", overdue: false });
    expect(await keys(reindex.prefix)).toEqual(["runs/app/reindex/watching-since.json"]);
    // Later runs keep the first start.
    const before = await watch([reindex], "2027-03-07T03:14:00Z");
    expect(before.jobs[0]).toMatchObject({ watchingSince: "2027-02-10T00:00:00.000Z", overdue: false });
    const after = await watch([reindex], "2027-03-07T03:16:00Z");
    expect(after.jobs[0]).toMatchObject({ overdue: true, overdueSeconds: 60 });
  });

  it("reports every job in one run, and publishes Overdue only for the overdue one (the job on time sends nothing)", async () => {
    let result: OverdueResult | undefined;
    const emf = await captureEmf(async () => {
      result = await watch([drill, reindex], "2027-04-02T00:00:00Z");
    });
    expect(result!.jobs.map((j) => [j.job, j.overdue])).toEqual([
      ["app/restore-drill", false],
      ["app/reindex", true],
    ]);
    expect(emf.filter((l) => "Overdue" in l).map((l) => [l.Job, l.Overdue])).toEqual([["app/reindex", 1]]);
  });

  it("hour by hour around a due time: no data point while the job is on time, Overdue = 1 in every hour after, none once it succeeds", async () => {
    const job = { job: "app/vacuum", prefix: "runs/app/vacuum/", ...MONTHLY, toleranceSeconds: 3600 };
    // Last success 2027-02-07 02:20; March's run (Sunday 7th, 02:00 UTC) is due by 03:00.
    await putMarker(job.prefix, new Date("2027-02-07T02:20:00Z"));
    const sent: string[] = [];
    for (const at of ["2027-03-07T01:00:00Z", "2027-03-07T02:00:00Z", "2027-03-07T03:00:00Z", "2027-03-07T04:00:00Z", "2027-03-07T05:00:00Z"]) {
      if (at === "2027-03-07T05:00:00Z") await putMarker(job.prefix, new Date("2027-03-07T04:30:00Z"));
      const emf = await captureEmf(() => watch([job], at));
      for (const l of emf.filter((l) => l.Job === job.job)) sent.push(`${at.slice(11, 16)} Overdue=${String(l.Overdue)}`);
    }
    // 03:00 is the due time itself (not yet late); the hours at 04:00 page; 05:00 follows the success.
    expect(sent).toEqual(["04:00 Overdue=1"]);
  });

  it("refuses a malformed job list, naming the setting", async () => {
    await expect(watch([{ job: "x", prefix: "/abs/", ...MONTHLY, toleranceSeconds: 0 }], "2027-01-01T00:00:00Z")).rejects.toThrow(/^invalid setting WATCHED_JOBS: 0\.prefix: /);
    await expect(watch([], "2027-01-01T00:00:00Z")).rejects.toThrow(/^invalid setting WATCHED_JOBS: value: must list at least one job$/);
  });
});

describe("overdue-watch: a reminder's last run from its Scheduler metric history", () => {
  // prod's quarterly penetration-test reminder: 09:00 New York on the first day of each quarter,
  // published by EventBridge Scheduler straight to SNS, alone in its schedule group.
  const group = "prod-reminders-penetration-test";
  const reminder = {
    job: "reminder/penetration-test",
    prefix: "runs/reminders/penetration-test/",
    expression: "cron(0 9 1 1,4,7,10 ? *)",
    timezone: "America/New_York",
    toleranceSeconds: 3600,
    history: { scheduleGroup: group, lookbackSeconds: 92 * 86400 + 7200 },
  };
  const attempt = (at: string, scheduleGroup = group) =>
    cw.put({ namespace: "AWS/Scheduler", metricName: "InvocationAttemptCount", dimensions: { ScheduleGroup: scheduleGroup }, at: new Date(at), value: 1 });

  beforeAll(() => {
    cw.clear();
    attempt("2026-10-01T13:00:02Z");
    attempt("2027-01-01T14:00:03Z");
    // Another reminder's group: not this one's history.
    attempt("2027-04-01T13:00:04Z", "prod-reminders-access-review");
  });

  it("on time before April's run is due (13:00 UTC + 1 h); the read is one metric at a 1-hour period over the look-back", async () => {
    cw.requests.length = 0;
    const r = await watch([reminder], "2027-04-01T13:59:00Z");
    expect(r.jobs[0]).toMatchObject({ job: "reminder/penetration-test", lastSuccess: "2027-01-01T15:00:00.000Z", expectedBy: "2027-04-01T13:00:00.000Z", dueBy: "2027-04-01T14:00:00.000Z", overdue: false });
    expect(cw.requests).toHaveLength(1);
    const q = cw.requests[0];
    expect(q.MetricDataQueries).toEqual([
      { Id: "a0", MetricStat: { Metric: { Namespace: "AWS/Scheduler", MetricName: "InvocationAttemptCount", Dimensions: [{ Name: "ScheduleGroup", Value: group }] }, Period: 3600, Stat: "Sum" }, ReturnData: true },
    ]);
    expect(q.ScanBy).toBe("TimestampDescending");
    expect(q.EndTime - q.StartTime).toBeGreaterThanOrEqual(reminder.history.lookbackSeconds);
    expect(q.EndTime - q.StartTime).toBeLessThanOrEqual(reminder.history.lookbackSeconds + 7200);
    // No marker is read or written for it: its watch start is not needed while it has history.
    expect(await keys(reminder.prefix)).toEqual([]);
  });

  it("overdue once April's run is an hour late with no attempt in its group; the metric pages for that reminder", async () => {
    let result: OverdueResult | undefined;
    const emf = await captureEmf(async () => {
      result = await watch([reminder], "2027-04-01T14:30:00Z");
    });
    expect(result!.overdue).toEqual(["reminder/penetration-test"]);
    expect(result!.jobs[0]).toMatchObject({ lastSuccess: "2027-01-01T15:00:00.000Z", overdueSeconds: 1800 });
    expect(emf.find((l) => l.Job === "reminder/penetration-test")).toMatchObject({ Overdue: 1, Task: "overdue-watch", service: "prod" });
  });

  it("an attempt in April clears it; the next expected run is July's", async () => {
    attempt("2027-04-01T13:00:01Z");
    const r = await watch([reminder], "2027-04-01T14:30:00Z");
    expect(r.jobs[0]).toMatchObject({ lastSuccess: "2027-04-01T14:00:00.000Z", expectedBy: "2027-07-01T13:00:00.000Z", overdue: false });
  });

  it("a reminder with no history in its look-back is measured from its schedule group's creation (since), and nothing is written to the vault", async () => {
    const before = await keys("");
    const fresh = { ...reminder, job: "reminder/access-review-new", since: "2027-05-10T00:00:00Z", history: { ...reminder.history, scheduleGroup: "prod-reminders-access-review-new" } };
    delete (fresh as { prefix?: string }).prefix;
    const first = await watch([fresh], "2027-06-20T00:00:00Z");
    expect(first.jobs[0]).toMatchObject({ watchingSince: "2027-05-10T00:00:00.000Z", expectedBy: "2027-07-01T13:00:00.000Z", overdue: false });
    const late = await watch([fresh], "2027-07-01T15:00:00Z");
    expect(late.jobs[0]).toMatchObject({ overdue: true, overdueSeconds: 3600 });
    expect(await keys("")).toEqual(before);
  });

  it("refuses a look-back shorter than one data point or longer than CloudWatch keeps them, naming the setting", async () => {
    await expect(watch([{ ...reminder, history: { ...reminder.history, lookbackSeconds: 60 } }], "2027-04-01T14:30:00Z")).rejects.toThrow(/^invalid setting WATCHED_JOBS: 0\.history\.lookbackSeconds: /);
    await expect(watch([{ ...reminder, history: { ...reminder.history, lookbackSeconds: 456 * 86400 } }], "2027-04-01T14:30:00Z")).rejects.toThrow(/^invalid setting WATCHED_JOBS: 0\.history\.lookbackSeconds: /);
  });
});

describe("overdue-watch: a State Manager association's last run from State Manager", () => {
  // A host group's logrotate association, daily at 03:00 UTC (State Manager runs its cron in UTC),
  // paged an hour after the run it expected.
  const DAILY = { expression: "cron(0 3 ? * * *)", timezone: "UTC", toleranceSeconds: 3600 };
  const onTime = { job: "association/app/logrotate", ...DAILY, association: { id: "11111111-1111-4111-8111-111111111111" } };
  const stopped = { job: "association/app/cloudwatch-agent", ...DAILY, association: { id: "22222222-2222-4222-8222-222222222222" } };
  const fresh = { job: "association/app/file-backup-uploads", ...DAILY, association: { id: "33333333-3333-4333-8333-333333333333" } };

  beforeAll(() => {
    ssm.put(
      // Ran this morning (its last run failed on an instance: that paged through the failure alarm; it still ran).
      { id: onTime.association.id, created: new Date("2027-01-05T10:00:00Z"), lastExecution: new Date("2027-03-11T03:00:07Z"), lastSuccessfulExecution: new Date("2027-03-02T03:00:06Z") },
      // Its schedule stopped after March 9.
      { id: stopped.association.id, created: new Date("2027-01-05T10:00:00Z"), lastExecution: new Date("2027-03-09T03:00:04Z"), lastSuccessfulExecution: new Date("2027-03-09T03:00:04Z") },
      // Made yesterday at noon, never ran since.
      { id: fresh.association.id, created: new Date("2027-03-10T12:00:00Z") },
    );
  });

  it("one run reads each association once by its id, and reports one on time, one stopped, one never run but not yet due", async () => {
    ssm.requests.length = 0;
    let result: OverdueResult | undefined;
    const emf = await captureEmf(async () => {
      result = await watch([onTime, stopped, fresh], "2027-03-11T03:30:00Z");
    });
    expect(ssm.requests.map((r) => [r.target, r.body])).toEqual([
      ["AmazonSSM.DescribeAssociation", { AssociationId: onTime.association.id }],
      ["AmazonSSM.DescribeAssociation", { AssociationId: stopped.association.id }],
      ["AmazonSSM.DescribeAssociation", { AssociationId: fresh.association.id }],
    ]);
    expect(result!.jobs).toEqual([
      { job: onTime.job, lastSuccess: "2027-03-11T03:00:07.000Z", expectedBy: "2027-03-12T03:00:00.000Z", dueBy: "2027-03-12T04:00:00.000Z", overdue: false, overdueSeconds: 0 },
      { job: stopped.job, lastSuccess: "2027-03-09T03:00:04.000Z", expectedBy: "2027-03-10T03:00:00.000Z", dueBy: "2027-03-10T04:00:00.000Z", overdue: true, overdueSeconds: 23.5 * 3600 },
      { job: fresh.job, watchingSince: "2027-03-10T12:00:00.000Z", expectedBy: "2027-03-11T03:00:00.000Z", dueBy: "2027-03-11T04:00:00.000Z", overdue: false, overdueSeconds: 0 },
    ]);
    expect(result!.overdue).toEqual([stopped.job]);
    // Overdue is sent for the overdue job only: no data is a job on time.
    expect(emf.filter((l) => "Overdue" in l).map((l) => [l.Job, l.Overdue, l.Task, l.service])).toEqual([[stopped.job, 1, "overdue-watch", "prod"]]);
  });

  it("an association that never ran is overdue an hour after the first run due after its creation", async () => {
    const r = await watch([fresh], "2027-03-11T04:30:00Z");
    expect(r.jobs[0]).toMatchObject({ watchingSince: "2027-03-10T12:00:00.000Z", overdue: true, overdueSeconds: 1800 });
  });

  it("the next run clears a stopped association", async () => {
    ssm.put({ id: stopped.association.id, created: new Date("2027-01-05T10:00:00Z"), lastExecution: new Date("2027-03-12T03:00:02Z") });
    const r = await watch([stopped], "2027-03-12T03:30:00Z");
    expect(r.jobs[0]).toMatchObject({ lastSuccess: "2027-03-12T03:00:02.000Z", expectedBy: "2027-03-13T03:00:00.000Z", overdue: false });
  });

  it("an association deleted outside the program is reported overdue, and the other jobs are still judged", async () => {
    const gone = { ...onTime, job: "association/app/deleted", association: { id: "44444444-4444-4444-8444-444444444444" } };
    const emf = await captureEmf(() => watch([gone, onTime], "2027-03-11T05:00:00Z"));
    expect(emf.filter((l) => "Overdue" in l).map((l) => [l.Job, l.Overdue])).toEqual([[gone.job, 1]]);
  });

  it("a regime without databases: no BACKUP_BUCKET, reminders and associations are watched without the vault", async () => {
    const reminder = {
      job: "reminder/penetration-test",
      expression: "cron(0 9 1 1,4,7,10 ? *)",
      timezone: "America/New_York",
      toleranceSeconds: 3600,
      history: { scheduleGroup: "solo-reminders-penetration-test", lookbackSeconds: 92 * 86400 + 7200 },
      since: "2027-02-01T00:00:00Z",
    };
    // No S3 endpoint, no bucket: a read of the vault would fail the run.
    const env = { ...ssm.env, REGIME_NAME: "solo" };
    const r = await watchJobs(cw, [reminder, onTime], "2027-04-01T14:30:00Z", env);
    expect(r.jobs.map((j) => [j.job, j.watchingSince ?? j.lastSuccess, j.overdue])).toEqual([
      ["reminder/penetration-test", "2027-02-01T00:00:00.000Z", true],
      [onTime.job, "2027-03-11T03:00:07.000Z", true],
    ]);
    // A job keeping markers in the vault needs the bucket: refused naming the setting and the job.
    await expect(watchJobs(cw, [{ job: "app/reindex", prefix: "runs/app/reindex/", ...MONTHLY, toleranceSeconds: 0 }], "2027-04-01T14:30:00Z", env)).rejects.toThrow(
      /^invalid setting BACKUP_BUCKET: required: job app\/reindex keeps its run markers in the vault$/,
    );
  });

  it("refuses a job that says nowhere where its runs are recorded, naming the setting", async () => {
    await expect(watch([{ job: "x", ...DAILY }], "2027-03-11T00:00:00Z")).rejects.toThrow(/^invalid setting WATCHED_JOBS: 0: needs prefix \(run markers\), association, or history with since$/);
  });
});

describe("overdue-watch: a weekly file backup's last run from the success metric its hosts send", () => {
  // A host group's weekly backup of uploads, Sunday 04:00 UTC (State Manager and cron run it in UTC):
  // too sparse for a missed-run alarm, so the component hands it to the watcher with its metric.
  const schedule = fileBackupSchedule("weekly on Sunday at 04:00", "UTC");
  const asSetting = (j: WatchedJobSpec, since: string) => {
    const { resource, severity, description, byHand, since: _, ...job } = j; // eslint-disable-line @typescript-eslint/no-unused-vars
    return { ...job, since };
  };
  const uploads = asSetting(fileBackupWatchedJob("prod", { name: "app" }, { name: "uploads", severity: "P1" }, schedule)!, "2027-01-04T10:00:00Z");
  const config = asSetting(fileBackupWatchedJob("prod", { name: "app" }, { name: "config", severity: "P2" }, schedule)!, "2027-03-10T12:00:00Z");
  // What the backup script sends after a backup (regime/file-backups.ts renderFileBackupScript).
  const backedUp = (name: string, at: string) =>
    cw.put({ namespace: METRICS_NAMESPACE_DEFAULT, metricName: FILE_BACKUP_METRIC, dimensions: { service: "prod", Task: FILE_BACKUP_TASK, Instance: `app/${name}` }, at: new Date(at), value: 1 });

  beforeAll(() => {
    cw.clear();
    backedUp("uploads", "2027-02-28T04:18:00Z");
    backedUp("uploads", "2027-03-07T04:20:00Z");
    // Another regime's backup of the same name: not this one's history.
    cw.put({ namespace: METRICS_NAMESPACE_DEFAULT, metricName: FILE_BACKUP_METRIC, dimensions: { service: "staging", Task: FILE_BACKUP_TASK, Instance: "app/config" }, at: new Date("2027-03-14T04:10:00Z"), value: 1 });
  });

  it("the job reads the success metric with the hosts' dimensions over a week and its tolerance (2 h: the backup's hour and the margin)", () => {
    expect(uploads).toMatchObject({
      job: "file-backup/app/uploads",
      expression: "cron(0 4 ? * SUN *)",
      timezone: "UTC",
      toleranceSeconds: 7200,
      history: { metric: { namespace: METRICS_NAMESPACE_DEFAULT, name: "TaskSucceeded", dimensions: { service: "prod", Task: "file-backup", Instance: "app/uploads" } }, lookbackSeconds: 7 * 86400 + 7200 + 3600 },
    });
    // A daily backup has its missed-run alarm and is not the watcher's; neither is a paused weekly one.
    expect(fileBackupWatchedJob("prod", { name: "app" }, { name: "uploads", severity: "P1" }, fileBackupSchedule("daily at 04:00", "UTC"))).toBeUndefined();
    expect(fileBackupWatchedJob("prod", { name: "app" }, { name: "uploads", severity: "P1", paused: true }, schedule)).toBeUndefined();
  });

  it("on time until Sunday's backup is 2 h late; one GetMetricData of that metric at a 1-hour period", async () => {
    cw.requests.length = 0;
    const r = await watch([uploads], "2027-03-14T05:59:00Z");
    expect(r.jobs[0]).toEqual({ job: "file-backup/app/uploads", lastSuccess: "2027-03-07T05:00:00.000Z", expectedBy: "2027-03-14T04:00:00.000Z", dueBy: "2027-03-14T06:00:00.000Z", overdue: false, overdueSeconds: 0 });
    expect(cw.requests.map((q) => q.MetricDataQueries)).toEqual([
      [
        {
          Id: "a0",
          MetricStat: {
            Metric: {
              Namespace: METRICS_NAMESPACE_DEFAULT,
              MetricName: "TaskSucceeded",
              Dimensions: [
                { Name: "service", Value: "prod" },
                { Name: "Task", Value: "file-backup" },
                { Name: "Instance", Value: "app/uploads" },
              ],
            },
            Period: 3600,
            Stat: "Sum",
          },
          ReturnData: true,
        },
      ],
    ]);
  });

  it("overdue when no backup was recorded by 06:00: Overdue = 1 for that backup", async () => {
    let result: OverdueResult | undefined;
    const emf = await captureEmf(async () => {
      result = await watch([uploads], "2027-03-14T07:00:00Z");
    });
    expect(result!.overdue).toEqual(["file-backup/app/uploads"]);
    expect(result!.jobs[0]).toMatchObject({ lastSuccess: "2027-03-07T05:00:00.000Z", overdue: true, overdueSeconds: 3600 });
    expect(emf.filter((l) => "Overdue" in l).map((l) => [l.Job, l.Overdue, l.Task, l.service])).toEqual([["file-backup/app/uploads", 1, "overdue-watch", "prod"]]);
  });

  it("a backup recorded at 04:40 clears it; the next expected is the following Sunday's", async () => {
    backedUp("uploads", "2027-03-14T04:40:00Z");
    const emf = await captureEmf(async () => {
      const r = await watch([uploads], "2027-03-14T07:00:00Z");
      expect(r.jobs[0]).toMatchObject({ lastSuccess: "2027-03-14T05:00:00.000Z", expectedBy: "2027-03-21T04:00:00.000Z", overdue: false });
    });
    expect(emf.filter((l) => "Overdue" in l)).toEqual([]);
  });

  it("a backup that never ran is measured from its watch start: the first Sunday after it, 2 h late, is overdue", async () => {
    const before = await keys("");
    const first = await watch([config], "2027-03-14T05:30:00Z");
    expect(first.jobs[0]).toEqual({ job: "file-backup/app/config", watchingSince: "2027-03-10T12:00:00.000Z", expectedBy: "2027-03-14T04:00:00.000Z", dueBy: "2027-03-14T06:00:00.000Z", overdue: false, overdueSeconds: 0 });
    const late = await watch([config], "2027-03-14T06:30:00Z");
    expect(late.jobs[0]).toMatchObject({ watchingSince: "2027-03-10T12:00:00.000Z", overdue: true, overdueSeconds: 1800 });
    // Nothing is written to the vault for it: its watch start travels with the job.
    expect(await keys("")).toEqual(before);
  });

  it("refuses a history naming both a schedule group and a metric, or neither, naming the setting", async () => {
    await expect(watch([{ ...uploads, history: { ...uploads.history, scheduleGroup: "g" } }], "2027-03-14T07:00:00Z")).rejects.toThrow(/^invalid setting WATCHED_JOBS: 0\.history: needs either scheduleGroup or metric$/);
    await expect(watch([{ ...uploads, history: { lookbackSeconds: 3600 } }], "2027-03-14T07:00:00Z")).rejects.toThrow(/^invalid setting WATCHED_JOBS: 0\.history: needs either scheduleGroup or metric$/);
  });
});

describe("overdue-watch: a weekly file backup on two SSH hosts, one of which stopped", () => {
  // Group crm backs up its uploads every Sunday 04:00 UTC on web-1 and web-2; web-2's disk filled up
  // after 7 March, and web-1 goes on backing up. Each host is its own job, reading its Host dimension.
  const schedule = fileBackupSchedule("weekly on Sunday at 04:00", "UTC");
  const hosts = [
    { host: "web-1.example.com", user: "deploy", port: 22, agentMode: "onPremise" as const },
    { host: "10.0.0.8", user: "deploy", port: 2222, agentMode: "onPremise" as const },
  ];
  const asSetting = (j: WatchedJobSpec, since: string) => {
    const { resource, severity, description, byHand, since: _, ...job } = j; // eslint-disable-line @typescript-eslint/no-unused-vars
    return { ...job, since };
  };
  const jobs = hosts.map((h) => asSetting(fileBackupWatchedJob("prod", { name: "crm" }, { name: "uploads", severity: "P1" }, schedule, undefined, h)!, "2027-01-04T10:00:00Z"));
  // What each host's copy of the backup script sends after a backup (regime/file-backups.ts renderFileBackupScript with its host).
  const backedUp = (host: string, at: string) => cw.put({ namespace: METRICS_NAMESPACE_DEFAULT, metricName: FILE_BACKUP_METRIC, dimensions: fileBackupDimensions("prod", "crm", "uploads", host), at: new Date(at), value: 1 });

  beforeAll(() => {
    cw.clear();
    backedUp("web-1.example.com", "2027-03-07T04:20:00Z");
    backedUp("10.0.0.8", "2027-03-07T04:25:00Z");
    backedUp("web-1.example.com", "2027-03-14T04:15:00Z");
  });

  it("each host's job reads only its own success metric (the script's Host dimension)", () => {
    expect(jobs.map((j) => [j.job, j.history?.metric?.dimensions])).toEqual([
      ["file-backup/crm/uploads/web-1.example.com", { service: "prod", Task: "file-backup", Instance: "crm/uploads", Host: "web-1.example.com" }],
      ["file-backup/crm/uploads/10.0.0.8", { service: "prod", Task: "file-backup", Instance: "crm/uploads", Host: "10.0.0.8" }],
    ]);
    const script = renderFileBackupScript({ regime: "prod", group: { name: "crm", appRoot: "/opt/crm" }, backup: { name: "uploads", paths: ["uploads/"], exclude: [] }, bucket: "b", region: "us-east-1", namespace: METRICS_NAMESPACE_DEFAULT, host: "10.0.0.8" });
    expect(script).toContain(`--dimensions '${Object.entries(jobs[1].history!.metric!.dimensions).map(([k, v]) => `${k}=${v}`).join(",")}'`);
  });

  it("reports the host that stopped, 10.0.0.8, and not web-1, which backed up on Sunday; Overdue = 1 for that host only", async () => {
    let result: OverdueResult | undefined;
    const emf = await captureEmf(async () => {
      result = await watch(jobs, "2027-03-14T07:00:00Z");
    });
    expect(result!.overdue).toEqual(["file-backup/crm/uploads/10.0.0.8"]);
    expect(result!.jobs).toEqual([
      { job: "file-backup/crm/uploads/web-1.example.com", lastSuccess: "2027-03-14T05:00:00.000Z", expectedBy: "2027-03-21T04:00:00.000Z", dueBy: "2027-03-21T06:00:00.000Z", overdue: false, overdueSeconds: 0 },
      { job: "file-backup/crm/uploads/10.0.0.8", lastSuccess: "2027-03-07T05:00:00.000Z", expectedBy: "2027-03-14T04:00:00.000Z", dueBy: "2027-03-14T06:00:00.000Z", overdue: true, overdueSeconds: 3600 },
    ]);
    expect(emf.filter((l) => "Overdue" in l).map((l) => [l.Job, l.Overdue])).toEqual([["file-backup/crm/uploads/10.0.0.8", 1]]);
  });

  it("the aggregated metric (the tagged instances') would have hidden it: web-1's run counts for no other host", async () => {
    // Both hosts' runs under one metric without Host, as before each host sent its own: the group looks backed up.
    const { history, ...rest } = jobs[0];
    const together = { ...rest, job: "file-backup/crm/uploads", history: { ...history!, metric: { ...history!.metric!, dimensions: fileBackupDimensions("prod", "crm", "uploads") } } };
    cw.put({ namespace: METRICS_NAMESPACE_DEFAULT, metricName: FILE_BACKUP_METRIC, dimensions: fileBackupDimensions("prod", "crm", "uploads"), at: new Date("2027-03-14T04:15:00Z"), value: 1 });
    const r = await watch([together, ...jobs], "2027-03-14T07:00:00Z");
    expect(r.overdue).toEqual(["file-backup/crm/uploads/10.0.0.8"]);
  });
});

describe("overdue-watch: an RPO longer than a metric alarm sees, from the backup's run markers", () => {
  // rpoHours 170 on a weekly backup: overdue once the newest marker is older than 170 h.
  const rpo = { job: "app/rpo", prefix: "runs/rpo-app/backup/", expression: "cron(0 3 ? * WED *)", timezone: "UTC", toleranceSeconds: 0, maxAgeSeconds: 170 * 3600 };

  it("on time while the newest backup is at most 170 h old, overdue after; a newer backup clears it", async () => {
    await putMarker(rpo.prefix, new Date("2027-03-03T03:40:00Z"));
    const onTime = await watch([rpo], "2027-03-10T05:40:00Z");
    expect(onTime.jobs[0]).toEqual({ job: "app/rpo", lastSuccess: "2027-03-03T03:40:00.000Z", expectedBy: "2027-03-10T05:40:00.000Z", dueBy: "2027-03-10T05:40:00.000Z", overdue: false, overdueSeconds: 0 });
    const emf = await captureEmf(async () => {
      const late = await watch([rpo], "2027-03-10T06:40:00Z");
      expect(late.jobs[0]).toMatchObject({ overdue: true, overdueSeconds: 3600 });
    });
    expect(emf.filter((l) => "Overdue" in l).map((l) => [l.Job, l.Overdue])).toEqual([["app/rpo", 1]]);
    await putMarker(rpo.prefix, new Date("2027-03-10T06:50:00Z"));
    expect((await watch([rpo], "2027-03-10T07:00:00Z")).jobs[0]).toMatchObject({ lastSuccess: "2027-03-10T06:50:00.000Z", overdue: false });
  });

  it("a database never backed up is measured from the first time the watcher saw it (watching-since.json, written once)", async () => {
    const fresh = { ...rpo, prefix: "runs/rpo-new/backup/" };
    expect((await watch([fresh], "2027-03-01T00:00:00Z")).jobs[0]).toMatchObject({ watchingSince: "2027-03-01T00:00:00.000Z", overdue: false });
    expect((await watch([fresh], "2027-03-08T03:00:00Z")).jobs[0]).toMatchObject({ watchingSince: "2027-03-01T00:00:00.000Z", overdue: true, overdueSeconds: 3600 });
  });
});

describe("overdue-watch: a job resumed after a pause is watched from the `pulumi up` that resumed it (its since)", () => {
  // A monthly drill (first Sunday, 02:00 UTC) that last succeeded on January 3, was paused, and was
  // resumed on March 20 at 12:00: February's and March's runs were skipped on purpose.
  const drill = { job: "app/resumed-drill", prefix: "runs/app/resumed-drill/", ...MONTHLY, toleranceSeconds: 900 + 3600, since: "2027-03-20T12:00:00Z" };
  // A weekly file backup (Sunday 04:00 UTC) that last ran on May 2, was paused over May 9's run and
  // resumed at 06:15 that day, after its due time (04:00 + 2 h); its history still holds May 2.
  const schedule = fileBackupSchedule("weekly on Sunday at 04:00", "UTC");
  const { resource: _r, severity: _s, description: _d, byHand: _b, ...media } = fileBackupWatchedJob("prod", { name: "app" }, { name: "media", severity: "P1" }, schedule)!; // eslint-disable-line @typescript-eslint/no-unused-vars
  const backup = { ...media, since: "2027-05-09T06:15:00Z" };
  // An RPO of 170 h held from markers: the backup last ran March 3, paused, resumed April 1 00:00.
  const rpo = { job: "app/resumed-rpo", prefix: "runs/rpo-resumed/backup/", expression: "cron(0 3 ? * WED *)", timezone: "UTC", toleranceSeconds: 0, maxAgeSeconds: 170 * 3600, since: "2027-04-01T00:00:00Z" };

  beforeAll(async () => {
    cw.clear();
    await putMarker(drill.prefix, new Date("2027-01-03T02:10:00Z"));
    await putMarker(rpo.prefix, new Date("2027-03-03T03:40:00Z"));
    cw.put({ namespace: METRICS_NAMESPACE_DEFAULT, metricName: FILE_BACKUP_METRIC, dimensions: { service: "prod", Task: FILE_BACKUP_TASK, Instance: "app/media" }, at: new Date("2027-05-02T04:20:00Z"), value: 1 });
  });

  it("a resumed monthly drill is not overdue for the runs skipped while paused; it is once its first run after the resume (April 4) is late", async () => {
    const emf = await captureEmf(async () => {
      const r = await watch([drill], "2027-03-20T13:00:00Z");
      expect(r.jobs[0]).toEqual({ job: "app/resumed-drill", lastSuccess: "2027-01-03T02:10:00.000Z", watchingSince: "2027-03-20T12:00:00.000Z", expectedBy: "2027-04-04T02:00:00.000Z", dueBy: "2027-04-04T03:15:00.000Z", overdue: false, overdueSeconds: 0 });
    });
    expect(emf.filter((l) => "Overdue" in l)).toEqual([]);
    // Without the resume as its watch start, February's run (after January's success) made it overdue at once.
    const { since: _, ...unresumed } = drill; // eslint-disable-line @typescript-eslint/no-unused-vars
    expect((await watch([unresumed], "2027-03-20T13:00:00Z")).jobs[0]).toMatchObject({ expectedBy: "2027-02-07T02:00:00.000Z", overdue: true });
    expect((await watch([drill], "2027-04-04T03:14:00Z")).overdue).toEqual([]);
    const late = await watch([drill], "2027-04-04T03:16:00Z");
    expect(late.overdue).toEqual(["app/resumed-drill"]);
    expect(late.jobs[0]).toMatchObject({ watchingSince: "2027-03-20T12:00:00.000Z", overdueSeconds: 60 });
    // Its first success after the resume: judged from it again, the next expected is May's.
    await putMarker(drill.prefix, new Date("2027-04-04T02:20:00Z"));
    expect((await watch([drill], "2027-04-04T04:00:00Z")).jobs[0]).toEqual({
      job: "app/resumed-drill",
      lastSuccess: "2027-04-04T02:20:00.000Z",
      expectedBy: "2027-05-02T02:00:00.000Z",
      dueBy: "2027-05-02T03:15:00.000Z",
      overdue: false,
      overdueSeconds: 0,
    });
  });

  it("a weekly file backup resumed after its missed run is not overdue for it; it is once the next Sunday's is 2 h late", async () => {
    const r = await watch([backup], "2027-05-09T06:30:00Z");
    expect(r.jobs[0]).toMatchObject({ lastSuccess: "2027-05-02T05:00:00.000Z", watchingSince: "2027-05-09T06:15:00.000Z", expectedBy: "2027-05-16T04:00:00.000Z", overdue: false });
    const { since: _, ...unresumed } = backup; // eslint-disable-line @typescript-eslint/no-unused-vars
    expect((await watch([{ ...unresumed, since: "2027-01-04T10:00:00Z" }], "2027-05-09T06:30:00Z")).jobs[0]).toMatchObject({ expectedBy: "2027-05-09T04:00:00.000Z", overdue: true });
    expect((await watch([backup], "2027-05-16T06:30:00Z")).jobs[0]).toMatchObject({ overdue: true, overdueSeconds: 1800 });
  });

  it("an RPO held from markers gives a resumed backup rpoHours from the resume; a paused one (its watch start the end of time) is never overdue", async () => {
    expect((await watch([rpo], "2027-04-01T01:00:00Z")).jobs[0]).toMatchObject({ watchingSince: "2027-04-01T00:00:00.000Z", expectedBy: "2027-04-08T02:00:00.000Z", overdue: false });
    expect((await watch([rpo], "2027-04-08T03:00:00Z")).jobs[0]).toMatchObject({ overdue: true, overdueSeconds: 3600 });
    expect((await watch([{ ...rpo, since: PAUSED_WATCH_START }], "2027-04-08T03:00:00Z")).jobs[0]).toMatchObject({ overdue: false });
  });
});

describe("overdue-watch: a regime of 1,500 reminders and 300 weekly Lambda tasks in one run", () => {
  // A small page size makes every request page, as CloudWatch's 100,800 data points per answer would.
  let paged: TestCloudWatch;
  beforeAll(async () => {
    paged = await startCloudWatch(2);
  });
  afterAll(async () => paged?.stop());

  it("reads every job's history in 5 GetMetricData requests of at most 500 queries (not 1,800 in a row), each job judged from its own metric", async () => {
    const reminders = Array.from({ length: 1500 }, (_, i) => ({
      job: `reminder/r${i}`,
      expression: "cron(0 9 1 1,4,7,10 ? *)",
      timezone: "America/New_York",
      toleranceSeconds: 3600,
      since: "2026-01-01T00:00:00Z",
      history: { scheduleGroup: `prod-reminders-r${i}`, lookbackSeconds: 92 * 86400 + 7200 },
    }));
    const lambda = (fn: string) => ({ namespace: "AWS/Lambda", dimensions: { FunctionName: fn } });
    const tasks = Array.from({ length: 300 }, (_, i) => ({
      job: `db${i}/vacuum`,
      expression: "cron(0 3 ? * SUN *)",
      timezone: "UTC",
      toleranceSeconds: 7200,
      since: "2026-01-01T00:00:00Z",
      history: { metric: { ...lambda(`prod-db${i}-vacuum`), name: "Invocations" }, failures: { ...lambda(`prod-db${i}-vacuum`), name: "Errors" }, lookbackSeconds: 7 * 86400 + 3 * 3600 },
    }));
    // Every reminder ran in January except r7 and r1499; every task ran on Sunday 2027-03-28 except
    // db3, whose run failed (an error in the same hour), and db299, which did not run.
    reminders.forEach((r, i) => {
      if (i !== 7 && i !== 1499) paged.put({ namespace: "AWS/Scheduler", metricName: "InvocationAttemptCount", dimensions: { ScheduleGroup: r.history.scheduleGroup }, at: new Date("2027-01-01T14:00:03Z"), value: 1 });
    });
    // r0 was also started by hand twice: three hours of data, more than one page.
    for (const at of ["2027-01-15T14:00:03Z", "2027-02-01T14:00:03Z"]) paged.put({ namespace: "AWS/Scheduler", metricName: "InvocationAttemptCount", dimensions: { ScheduleGroup: "prod-reminders-r0" }, at: new Date(at), value: 1 });
    tasks.forEach((t, i) => {
      if (i === 299) return;
      paged.put({ namespace: "AWS/Lambda", metricName: "Invocations", dimensions: t.history.metric.dimensions, at: new Date("2027-03-28T03:00:05Z"), value: 1 });
      if (i === 3) paged.put({ namespace: "AWS/Lambda", metricName: "Errors", dimensions: t.history.metric.dimensions, at: new Date("2027-03-28T03:00:05Z"), value: 1 });
    });
    const r = await watchJobs(paged, [...reminders, ...tasks], "2027-03-29T12:00:00Z", { REGIME_NAME: "prod" });
    expect(r.jobs).toHaveLength(1800);
    expect(r.overdue).toEqual(["reminder/r7", "reminder/r1499", "db3/vacuum", "db299/vacuum"]);
    expect(r.jobs[0]).toMatchObject({ job: "reminder/r0", lastSuccess: "2027-02-01T15:00:00.000Z", overdue: false });
    expect(r.jobs[1]).toMatchObject({ job: "reminder/r1", lastSuccess: "2027-01-01T15:00:00.000Z", overdue: false });
    expect(r.jobs[1500]).toMatchObject({ job: "db0/vacuum", lastSuccess: "2027-03-28T04:00:00.000Z", overdue: false });
    // Batches: 1,500 reminders (one query each) in 3 requests of 500; 300 tasks (two each) in 2 of 500 and 100.
    const batches = new Map<string, number>();
    for (const q of paged.requests) batches.set(JSON.stringify(q.MetricDataQueries.map((x: { Id: string }) => x.Id)), q.MetricDataQueries.length);
    expect([...batches.values()]).toEqual([500, 500, 500, 500, 100]);
    // The first batch (r0's three hours) took a second page.
    expect(paged.requests).toHaveLength(6);
  });
});
