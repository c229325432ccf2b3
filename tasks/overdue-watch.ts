/**
 * overdue-watch: watches the jobs that run less often than a CloudWatch metric alarm can see (its
 * look-back is at most 7 days: monthly and quarterly restore drills, monthly vacuum or reindex). Each
 * watched job records its successful runs as marker objects in the backup vault
 * (tasks/lib/run-marker.ts); this task reads the newest marker of every job, works out the run that
 * should have followed it from the job's schedule (expression and IANA timezone, as EventBridge
 * Scheduler runs it), and publishes `Overdue` = 1 (dimension Job) for a job whose expected run plus
 * tolerance has passed without a success; a job on time is a log line only (`Overdue` is listed
 * `onlyBreaching` in tasks/lib/metrics.ts: a metric sent every hour for every job would be billed a
 * full month each). One alarm per job pages at the job's severity; it treats missing data as not
 * breaching, and a watcher that stops is paged by its own missed-run, errors and dead-letter alarms.
 * A job that has never succeeded is measured from the first time the watcher saw it
 * (`watching-since.json`, written once), so a fresh deployment does not page for runs due before it.
 * A job's `since` (its watch start) is later than its last success when the job was resumed after a
 * pause: it is then measured from its watch start, the `pulumi up` that resumed it, so that it is
 * overdue only if it misses its first due run after the resume (plus its tolerance).
 *
 * A job that writes no marker carries `history`: the metric its successes are counted in, and its last
 * run is the newest hour with a data point of that metric in CloudWatch (tasks/lib/metric-history.ts).
 * A monthly or quarterly reminder (EventBridge Scheduler publishes its checklist straight to SNS)
 * names its own schedule group (`scheduleGroup`: the Scheduler's InvocationAttemptCount); a weekly
 * file backup names the success metric its hosts send after each backup (`metric`). Such a job
 * carries its watch start (`since`: when its schedule group or its backup's document was made), so it
 * needs no vault.
 *
 * A job with `maxAgeSeconds` is judged by age, not by schedule: overdue once its newest success is
 * older than that (plus its tolerance). A database whose rpoHours is longer than a metric alarm can
 * look back (7 days) is watched this way from its backup's run markers.
 *
 * A State Manager association (logrotate configs, the CloudWatch agent config, a file backup on a
 * host group's tagged instances) carries `association`: its last run is the association's own
 * LastExecutionDate in State Manager and its watch start the association's creation date
 * (tasks/lib/association-history.ts), so an association that stops running (schedule gone, no
 * instance in its targets, SSM agents dead) is reported like any job that misses its run. A regime
 * without databases has no vault: its watcher gets no BACKUP_BUCKET and watches only such jobs.
 */
import { z } from "zod";
import { nextRuns } from "../regime/schedule";
import { readMarkers, startWatching } from "./lib/run-marker";
import { cloudWatchClient, lastSuccesses, schedulerAttempts, type HistoryRead } from "./lib/metric-history";
import { mapLimit } from "./lib/map-limit";
import { associationRuns, ssmClient } from "./lib/association-history";
import { METRIC_HOURLY } from "../regime/limits";
import { defineTask, envJson, MetricUnit, recordMetric, type TaskContext } from "./lib/runtime";
import { s3Client } from "./lib/s3";
import { alertTopicsSetting, reportDelivery, type SeverityDelivery } from "./lib/subscription-check";

const metricRef = z.object({ namespace: z.string().min(1), name: z.string().min(1), dimensions: z.record(z.string().min(1), z.string().min(1)) }).strict();

/** One watched job, as the component writes it into WATCHED_JOBS. */
export const watchedJobSchema = z
  .object({
    /** `<database>/<task>`: the Job metric dimension and the name in the log line. */
    job: z.string().min(1),
    /** Key prefix of its markers in the vault, ending in "/"; unset for a job whose last run is read elsewhere (history, association). */
    prefix: z.string().regex(/^[^/].*\/$/, 'must end with "/" and not start with "/"').optional(),
    /** EventBridge Scheduler expression and timezone of the job's schedule. */
    expression: z.string().min(1),
    timezone: z.string().min(1),
    /** Seconds after an expected run before it counts as missed: the run's own length plus the Scheduler's retries. */
    toleranceSeconds: z.number().int().min(0),
    /**
     * Last run from a metric's history instead of markers: either a schedule group (`scheduleGroup`:
     * its AWS/Scheduler InvocationAttemptCount, a reminder's starts) or any metric counting the job's
     * successes (`metric`: namespace, name and its full dimension set), and how far back to read,
     * seconds (at least the job's longest interval plus its tolerance; at most 455 days, CloudWatch's
     * retention of 1-hour data points).
     */
    history: z
      .object({
        scheduleGroup: z.string().min(1).optional(),
        metric: metricRef.optional(),
        /** Failed runs counted in `metric` (AWS/Lambda Errors beside Invocations): subtracted hour by hour, so only a successful run is a last run. */
        failures: metricRef.optional(),
        lookbackSeconds: z.number().int().min(3600).max(METRIC_HOURLY.retentionSeconds),
      })
      .strict()
      .refine((h) => (h.scheduleGroup === undefined) !== (h.metric === undefined), { message: "needs either scheduleGroup or metric" })
      .optional(),
    /**
     * Judged by age instead of by schedule: overdue once the newest success is older than this many
     * seconds (plus toleranceSeconds). An RPO beyond what a metric alarm can see (rpoHours > 168).
     */
    maxAgeSeconds: z.number().int().min(3600).optional(),
    /**
     * The job's watch start (ISO 8601, components/watch-start.ts): a success before it does not count,
     * and the job is judged from it when it has not succeeded since (a job resumed after a pause is
     * watched from the resume, not from its last run before the pause). Needed by a job without
     * markers; a reminder's is its schedule group's creation, a file backup's its SSM document's
     * creation (tagged instances) or for an SSH host's own job the time its cron was first installed
     * there, a task's its role's creation; in each case the `pulumi up` that last resumed the job
     * when that is later. A job with markers that never succeeded is judged from the later of this
     * and watching-since.json.
     */
    since: z.iso.datetime({ offset: true, message: "must be an ISO 8601 time" }).optional(),
    /** A State Manager association: its last run and creation date from SSM DescribeAssociation (tasks/lib/association-history.ts). */
    association: z.object({ id: z.string().min(1) }).strict().optional(),
  })
  .strict()
  .refine((j) => j.prefix !== undefined || j.association !== undefined || (j.history !== undefined && j.since !== undefined), {
    message: "needs prefix (run markers), association, or history with since",
  });
export type WatchedJob = z.infer<typeof watchedJobSchema>;

const settings = z.looseObject({
  /** The backup vault holding the run markers; needed only when a job has a prefix (a regime without databases has no vault). */
  BACKUP_BUCKET: z.string({ message: "must name the S3 bucket holding the run markers" }).min(3).optional(),
  WATCHED_JOBS: envJson(z.array(watchedJobSchema).min(1, "must list at least one job")),
  /** The topics of the severities whose subscriptions each run checks (tasks/lib/subscription-check.ts); unset: no check. */
  ALERT_TOPICS: envJson(alertTopicsSetting).optional(),
  /** Judge as of this instant (ISO 8601) instead of now: "would anything be overdue tomorrow?". */
  WATCH_AT: z.iso.datetime({ message: "must be an ISO 8601 UTC time (2027-01-02T03:00:00Z)" }).optional(),
});

export interface JobVerdict {
  job: string;
  /** The last success; for an association, its last run whatever its outcome (a failed run pages elsewhere: tasks/lib/association-history.ts). */
  lastSuccess?: string;
  /** Start of the watch when the job has not succeeded since it (never succeeded, or last succeeded before it was resumed): it is judged from this. */
  watchingSince?: string;
  /** The association no longer exists in State Manager (deleted outside the program): overdue from now on. */
  gone?: true;
  /** The first scheduled run after the last success (or the watch start); for a job with maxAgeSeconds, when the newest success becomes too old. */
  expectedBy: string;
  /** expectedBy + toleranceSeconds. */
  dueBy: string;
  overdue: boolean;
  /** Seconds past dueBy (0 when not overdue). */
  overdueSeconds: number;
}

export interface OverdueResult {
  at: string;
  jobs: JobVerdict[];
  overdue: string[];
  /** What each checked severity's topic really has (ALERT_TOPICS). */
  delivery?: SeverityDelivery[];
}

/**
 * Verdict of one job from its last success (or watch start) `from`: overdue when the run expected
 * after it is more than toleranceSeconds late; for a job with maxAgeSeconds, when `from` is older than
 * maxAgeSeconds + toleranceSeconds (expectedBy is then from + maxAgeSeconds).
 */
export function judge(job: WatchedJob, from: Date, now: Date): Pick<JobVerdict, "expectedBy" | "dueBy" | "overdue" | "overdueSeconds"> {
  const [next] = job.maxAgeSeconds !== undefined ? [new Date(from.getTime() + job.maxAgeSeconds * 1000)] : nextRuns({ expression: job.expression, timezone: job.timezone }, from, 1);
  if (!next) throw new Error(`${job.job}: schedule ${job.expression} (${job.timezone}) has no run after ${from.toISOString()}`);
  const due = new Date(next.getTime() + job.toleranceSeconds * 1000);
  const late = Math.max(0, Math.floor((now.getTime() - due.getTime()) / 1000));
  return { expectedBy: next.toISOString(), dueBy: due.toISOString(), overdue: late > 0, overdueSeconds: late };
}

/** The metric histories the watcher reads in each run: one per job with `history` (GetMetricData is billed per metric requested). */
export function historyReads(jobs: readonly WatchedJob[]): HistoryRead[] {
  return jobs.filter((j) => j.history).map((j) => ({ metric: j.history!.metric ?? schedulerAttempts(j.history!.scheduleGroup!), failures: j.history!.failures, lookbackSeconds: j.history!.lookbackSeconds }));
}

/** Jobs whose markers or association the watcher reads at once (S3 and SSM calls in flight). */
const WATCH_CONCURRENCY = 8;

/** Clients the watcher opens, each only when a job needs it. */
interface Sources {
  s3?: ReturnType<typeof s3Client>;
  bucket?: string;
  cw?: ReturnType<typeof cloudWatchClient>;
  ssm?: ReturnType<typeof ssmClient>;
}

/**
 * A job's verdict from where its runs are recorded: the vault's markers (prefix), a metric's history
 * (history: a schedule group's or a success metric's, read beforehand for every job at once into
 * `fromHistory`) or State Manager (association); a job that
 * never ran is measured from its watch start (watching-since.json under its prefix, written once; else `since`; an
 * association's creation date).
 */
async function verdict(job: WatchedJob, src: Sources, now: Date, fromHistory: Date | undefined): Promise<JobVerdict> {
  if (job.association) {
    const a = await associationRuns(src.ssm!, job.association.id);
    if (a.gone) return { job: job.job, gone: true, expectedBy: now.toISOString(), dueBy: now.toISOString(), overdue: true, overdueSeconds: 0 };
    const from = a.lastExecution ?? a.created;
    return { job: job.job, ...(a.lastExecution ? { lastSuccess: from.toISOString() } : { watchingSince: from.toISOString() }), ...judge(job, from, now) };
  }
  const m = job.prefix ? await readMarkers(src.s3!, src.bucket!, job.prefix) : {};
  if (job.history) m.lastSuccess = fromHistory;
  const start = job.since ? new Date(job.since) : undefined;
  // A success before the watch start (a job resumed after a pause: its last run before the pause) does not count.
  const from = m.lastSuccess && !(start && start > m.lastSuccess) ? m.lastSuccess : undefined;
  let since: Date | undefined;
  if (!from) {
    const seen = job.prefix && !m.lastSuccess ? (m.watchingSince ?? (await startWatching(src.s3!, src.bucket!, job.prefix, now))) : undefined;
    since = seen && !(start && start > seen) ? seen : start!;
  }
  return {
    job: job.job,
    ...(m.lastSuccess ? { lastSuccess: m.lastSuccess.toISOString() } : {}),
    ...(from ? {} : { watchingSince: since!.toISOString() }),
    ...judge(job, from ?? since!, now),
  };
}

async function run(s: z.infer<typeof settings>, ctx: TaskContext): Promise<OverdueResult> {
  const now = s.WATCH_AT ? new Date(s.WATCH_AT) : new Date();
  const env = s as Record<string, string | undefined>;
  const marked = s.WATCHED_JOBS.find((j) => j.prefix);
  if (marked && !s.BACKUP_BUCKET) throw new Error(`invalid setting BACKUP_BUCKET: required: job ${marked.job} keeps its run markers in the vault`);
  const src: Sources = {
    ...(marked ? { s3: s3Client(env), bucket: s.BACKUP_BUCKET } : {}),
    ...(s.WATCHED_JOBS.some((j) => j.history) ? { cw: cloudWatchClient(env) } : {}),
    ...(s.WATCHED_JOBS.some((j) => j.association) ? { ssm: ssmClient(env) } : {}),
  };
  let jobs: JobVerdict[];
  try {
    // Every job's metric history in a few batched requests, then markers and associations a few at a
    // time: a thousand jobs read one after another would not fit the watcher's Lambda timeout.
    const history = s.WATCHED_JOBS.filter((j) => j.history);
    const read = await lastSuccesses(src.cw!, historyReads(history), now);
    const fromHistory = new Map(history.map((j, i) => [j, read[i]]));
    jobs = await mapLimit(s.WATCHED_JOBS, WATCH_CONCURRENCY, (job) => verdict(job, src, now, fromHistory.get(job)));
  } finally {
    src.s3?.destroy();
    src.cw?.destroy();
    src.ssm?.destroy();
  }
  jobs.forEach((v, i) => {
    const job = s.WATCHED_JOBS[i];
    recordMetric(ctx, "Overdue", MetricUnit.Count, v.overdue ? 1 : 0, ["Job", job.job], v.overdue);
    if (v.gone) ctx.log.warn(`job overdue: ${job.job}: association ${job.association!.id} no longer exists in State Manager`, { ...v });
    else if (v.overdue) {
      ctx.log.warn(`job overdue: ${job.job} expected by ${v.expectedBy}, due by ${v.dueBy}, ${Math.round(v.overdueSeconds / 3600)} h late; last success ${v.lastSuccess ?? "never"}${v.watchingSince ? ` (watched since ${v.watchingSince})` : ""}`, { ...v });
    } else ctx.log.info(`job on time: ${job.job}`, { ...v });
  });
  const delivery = s.ALERT_TOPICS ? await reportDelivery(env, s.ALERT_TOPICS, ctx) : undefined;
  return { at: now.toISOString(), jobs, overdue: jobs.filter((j) => j.overdue).map((j) => j.job), ...(delivery ? { delivery } : {}) };
}

export const overdueWatchTask = defineTask({
  name: "overdue-watch",
  description: "report jobs whose expected run (plus tolerance) passed without a recorded success",
  settings,
  run,
});
