/**
 * The contract every scheduled task follows. A task is defined once and runs the same way in
 * AWS Lambda (tasks/handler.ts), in a Fargate/container command and from the local command line
 * (tasks/cli.ts). Task code never imports Pulumi: its settings arrive as environment variables
 * and are validated here with zod.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { z } from "zod";
import { runsOnDemand } from "../catalogue";
import { dateAlone, parseIsoTime } from "./iso-time";
import { isSampleRun, publishedMetric, publishedRunMetrics, RUN_METRICS, scheduleIntervalSeconds } from "./metrics";

export { MetricUnit };

/** A failure the task reports as one line; the process exits non-zero (Lambda: the handler throws). */
export class TaskError extends Error {
  constructor(message: string, readonly result?: unknown) {
    super(message);
    this.name = "TaskError";
  }
}

export interface TaskContext {
  /** The task's name (tasks/registry.ts): which of its metrics are published (tasks/lib/metrics.ts). */
  task: string;
  log: Logger;
  metrics: Metrics;
  /** Aborted when the caller wants the task to stop early (time budget, SIGTERM). */
  signal: AbortSignal;
  /** When the run started (ms since the epoch): which sampling interval it is the first run of (recordMetric). */
  startedMs?: number;
  /** Seconds between two scheduled runs (SCHEDULE_INTERVAL_SECONDS); unset for a run by hand: sampled metrics are sent on every run. */
  scheduleIntervalSeconds?: number;
  /**
   * The time the schedule ran the task for (SCHEDULED_TIME: EventBridge Scheduler's
   * `<aws.scheduler.scheduled-time>`), not when it started: a retry, a cold start or a Fargate start
   * begins minutes to an hour later, past midnight. What the plan derives from the schedule is derived
   * from it: the retention tier of a backup (tasks/backup.ts), the sampling interval a run is the
   * first of (recordMetric). Undefined for a run by hand, which is dated by its start (runDate).
   */
  scheduledAt?: Date;
}

export interface TaskDefinition<S extends z.ZodType, R> {
  name: string;
  description: string;
  /** Validates process.env (after CLI options were merged into it). */
  settings: S;
  run(settings: z.infer<S>, ctx: TaskContext): Promise<R>;
  /**
   * Whether the task's result means failure even though run() returned (health-check: an unhealthy
   * endpoint); a string is the one-line reason.
   */
  failed?(result: R): boolean | string;
  /**
   * Maps command-line options (`--url A --url B` gives { url: ["A", "B"] }) to settings variables.
   * Without it, `--foo-bar X` sets FOO_BAR=X.
   */
  cli?(options: Record<string, string[]>): Record<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTask = TaskDefinition<z.ZodType, any>;

/** Command-line options as settings: `--foo-bar X` sets FOO_BAR=X (the last one given wins). */
export function optionsToEnv(options: Record<string, string[]>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options)) env[k.toUpperCase().replace(/-/g, "_")] = v[v.length - 1];
  return env;
}

export function defineTask<S extends z.ZodType, R>(def: TaskDefinition<S, R>): TaskDefinition<S, R> {
  return def;
}

/** One line naming the offending setting (environment variable) and the reason. */
export function formatSettingsError(err: z.ZodError): string {
  const first = err.issues[0];
  const key = first.path.length ? first.path.map(String).join(".") : "settings";
  return `${key}: ${first.message}`;
}

export function parseSettings<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new TaskError(`invalid setting ${formatSettingsError(parsed.error)}`);
  return parsed.data;
}

export const METRICS_NAMESPACE_DEFAULT = "MaintenanceRegime";

/**
 * How far back a task stamps a data point at most: 2 h 50 min, under the 3 hours past which
 * CloudWatch may take up to 2 hours (and from 24 hours, at least 48) to make a point available
 * (PutMetricData API reference); 10 minutes are left for the embedded-metric line to be extracted.
 */
export const METRIC_STAMP_MAX_AGE_SECONDS = 10_200;

/**
 * Metrics are CloudWatch Embedded Metric Format lines on stdout (Powertools). Dimensions: service
 * (REGIME_NAME), Task and, when METRICS_INSTANCE is set, Instance; a task may add one more (Database, Endpoint) per metric with singleMetric(), which
 * keeps the number of billed custom metrics proportional to what is monitored. `scheduledAt`: the
 * run's scheduled time as runTask already read and checked it; by default read from SCHEDULED_TIME.
 */
export function createContext(taskName: string, env: Record<string, string | undefined>, signal: AbortSignal, scheduledAt = scheduledTime(env)): TaskContext {
  const serviceName = env.REGIME_NAME ?? "local";
  const log = new Logger({ serviceName, persistentKeys: { task: taskName }, logLevel: (env.LOG_LEVEL as "INFO") ?? "INFO" });
  const metrics = new Metrics({
    namespace: env.METRICS_NAMESPACE ?? METRICS_NAMESPACE_DEFAULT,
    serviceName,
    // METRICS_INSTANCE tells apart several scheduled instances of one task (one per database).
    defaultDimensions: { Task: taskName, ...(env.METRICS_INSTANCE ? { Instance: env.METRICS_INSTANCE } : {}) },
  });
  return { task: taskName, log, metrics, signal, startedMs: Date.now(), scheduleIntervalSeconds: scheduleIntervalSeconds(env), ...(scheduledAt ? { scheduledAt } : {}) };
}

/**
 * The context attributes EventBridge Scheduler replaces in a schedule's target input on each run
 * (Scheduler User Guide, "Adding context attributes in EventBridge Scheduler"): the time the run was
 * scheduled for (ISO 8601, `2022-03-22T18:59:43Z`), the invocation's id and its attempt number. Each
 * reaches a task as the environment variable `variable`: a Fargate task through the RunTask
 * container overrides of its schedule's input, a Lambda function through the event's `field`
 * (components/scheduled-task.ts builds both, tasks/handler.ts reads the event).
 */
export const SCHEDULER_CONTEXT = [
  { variable: "SCHEDULED_TIME", field: "scheduledTime", attribute: "<aws.scheduler.scheduled-time>" },
  { variable: "SCHEDULER_EXECUTION_ID", field: "executionId", attribute: "<aws.scheduler.execution-id>" },
  { variable: "SCHEDULER_ATTEMPT", field: "attemptNumber", attribute: "<aws.scheduler.attempt-number>" },
] as const;

/** An ISO 8601 time with a zone, as the Scheduler writes it: 2027-01-31T23:58:00Z, 2027-01-31T23:58:00.000-05:00. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Where a run's scheduled time came from: the environment (SCHEDULED_TIME, as every scheduled run
 * gets it) or the command line (--scheduled-time, a rerun by hand); errors name it.
 */
export type ScheduledTimeSource = "SCHEDULED_TIME" | "--scheduled-time";

/**
 * SCHEDULED_TIME as a Date: when the schedule ran the task for; undefined when unset (a run by hand).
 * Throws a one-line Error naming `given` on anything but an ISO 8601 time with a zone, and on a
 * time that does not exist (2027-02-29, T24:00: tasks/lib/iso-time.ts parseIsoTime, not rolled over).
 */
export function scheduledTime(env: Record<string, string | undefined>, given: ScheduledTimeSource = "SCHEDULED_TIME"): Date | undefined {
  const v = env.SCHEDULED_TIME;
  if (v === undefined || v === "") return undefined;
  const alone = dateAlone(v.trim());
  if (alone) throw new Error(`${given}: ${alone}`);
  if (!ISO_TIME.test(v.trim())) throw new Error(`${given}: must be an ISO 8601 time with a zone like 2027-01-31T23:58:00Z, got "${v}"`);
  const t = parseIsoTime(v.trim());
  if ("problem" in t) throw new Error(`${given}: ${t.problem}`);
  return t.at;
}

/**
 * The longest maximumEventAgeInSeconds a schedule's retry policy may have: 86,400 s (24 h; EventBridge
 * Scheduler API reference, RetryPolicy). components/scheduled-task.ts refuses a longer one.
 */
export const SCHEDULER_MAX_EVENT_AGE_SECONDS = 86_400;

/**
 * How long after its scheduled time a scheduled run may start, at most: 25 h. The Scheduler delivers
 * within its retry policy's maximumEventAgeInSeconds (SCHEDULER_MAX_EVENT_AGE_SECONDS at most; the
 * schedules' flexible time window is OFF), then a Lambda function's asynchronous queue keeps the event
 * up to 3,600 s (its FunctionEventInvokeConfig) or a Fargate task takes minutes to start: one hour
 * more covers either. A SCHEDULED_TIME older than that is no scheduled run's (a variable left set
 * after a rerun by hand, a replayed event) and would file a backup in another day's tier.
 */
export const SCHEDULED_RUN_MAX_LATE_SECONDS = SCHEDULER_MAX_EVENT_AGE_SECONDS + 3_600;

/** How far a scheduled time may lie after the run's start: the clocks of the Scheduler and the runner may differ by this (5 min). */
export const SCHEDULED_TIME_MAX_EARLY_SECONDS = 300;

/**
 * Whether `at`, a run's scheduled time, can be this run's: at most SCHEDULED_RUN_MAX_LATE_SECONDS
 * before `startedMs` (ms since the epoch, the run's real start) and at most
 * SCHEDULED_TIME_MAX_EARLY_SECONDS after it. `given`: where the time came from. From the environment
 * (SCHEDULED_TIME, as every scheduled run gets it) outside those bounds, or from the command line
 * (--scheduled-time) after the start, it throws a one-line Error naming it and the start. An older
 * --scheduled-time is a rerun by hand of a missed run (README "Running tasks by hand"): accepted, the
 * returned line says so to be logged as a warning; undefined when nothing is to be said.
 */
export function checkScheduledTime(at: Date, startedMs: number, given: ScheduledTimeSource): string | undefined {
  const lateSeconds = (startedMs - at.getTime()) / 1000;
  const start = new Date(startedMs).toISOString();
  if (lateSeconds < -SCHEDULED_TIME_MAX_EARLY_SECONDS) {
    throw new Error(`${given}: ${at.toISOString()} is after the run's start ${start} (more than ${SCHEDULED_TIME_MAX_EARLY_SECONDS / 60} minutes of clock difference); a run is dated by a time that has come`);
  }
  if (lateSeconds <= SCHEDULED_RUN_MAX_LATE_SECONDS) return undefined;
  const minutes = Math.floor(lateSeconds / 60);
  const ago = `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  if (given === "SCHEDULED_TIME") {
    throw new Error(
      `SCHEDULED_TIME: ${at.toISOString()} is ${ago} before the run's start ${start}, more than the ${SCHEDULED_RUN_MAX_LATE_SECONDS / 3600} h a scheduled run can start late (left set from an earlier run?); unset it, or rerun a missed run with --scheduled-time`,
    );
  }
  return `--scheduled-time: ${at.toISOString()} is ${ago} before the run's start ${start}: run by hand as that time's scheduled run`;
}

/** The moment a run stands for in the schedule: its scheduled time, or its start when run by hand (no SCHEDULED_TIME). */
export function runDate(ctx: TaskContext): Date {
  return ctx.scheduledAt ?? new Date(ctx.startedMs ?? Date.now());
}

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/**
 * One figure a task measured. Published as a CloudWatch metric (EMF, with the extra dimension when
 * given) when tasks/lib/metrics.ts lists it for the task, because an alarm or the dashboard reads
 * it; otherwise written as one structured log line `{"message":"metric","metric":name,"unit",
 * "value",<dimension>}`: the figure stays searchable (Logs Insights) without a custom metric's
 * $0.30 a month (prorated by the hours in which it is sent).
 *
 * `breaching`: whether the value breaches the threshold of the alarm that reads it. A metric listed
 * `onlyBreaching` is published only when it does; a `sampleSeconds` one when it does, or in the
 * first run of its sampling interval (isSampleRun, from the run's scheduled time, else its start, and
 * ctx.scheduleIntervalSeconds: a run that starts late still samples the interval it was scheduled in).
 * The other times the figure is the log line. Left out: the metric is published as if breaching.
 *
 * `at`: the data point's time when it is not now (EMF `_aws.Timestamp`): a backup's success is
 * stamped with the dump's start. A metric listed `ofRunPeriod` (a check's Healthy) is stamped, unless
 * `at` is given, with runDate: the run's scheduled time, or its start when run by hand, so its point
 * falls in the period of the run that took it however long the run took. Either stamp goes at most
 * METRIC_STAMP_MAX_AGE_SECONDS back (an older one is clamped to that): PutMetricData, "data points
 * with time stamps between 3 and 24 hours ago can take as much as 2 hours to become available", and
 * 24 hours or older "at least 48 hours", so an alarm would not see them in time. That is well inside
 * what CloudWatch accepts at all, "up to two weeks in the past and up to two hours into the future"
 * (CloudWatch user guide, "Metrics concepts", Time stamps:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html), and
 * Powertools' own bounds (14 days back, 2 h ahead); a scheduled time lies at most
 * SCHEDULED_TIME_MAX_EARLY_SECONDS (5 min) ahead of the run (checkScheduledTime).
 *
 * `metadata`: fields that say what the value is of (the certificate CertificateDaysLeft counts, and
 * its host), written beside it in the EMF record (Powertools addMetadata: searchable in the log, not
 * a dimension, so no extra metric) or in the log line.
 */
export function recordMetric(
  ctx: TaskContext,
  name: string,
  unit: Unit,
  value: number,
  dimension?: [string, string],
  breaching?: boolean,
  given?: Date,
  metadata: Record<string, string> = {},
): void {
  const m = publishedMetric(ctx.task, name);
  const at = given ?? (m?.ofRunPeriod ? runDate(ctx) : undefined);
  const send =
    m !== undefined &&
    (breaching !== false || (!m.onlyBreaching && (m.sampleSeconds === undefined || isSampleRun(runDate(ctx).getTime(), m.sampleSeconds, ctx.scheduleIntervalSeconds))));
  if (send) {
    const m = ctx.metrics.singleMetric();
    if (at) m.setTimestamp(new Date(Math.max(at.getTime(), Date.now() - METRIC_STAMP_MAX_AGE_SECONDS * 1000)));
    if (dimension) m.addDimension(dimension[0], dimension[1]);
    for (const [k, v] of Object.entries(metadata)) m.addMetadata(k, v);
    m.addMetric(name, unit, value);
    return;
  }
  ctx.log.info("metric", { metric: name, unit, value, ...(dimension ? { [dimension[0]]: dimension[1] } : {}), ...(at ? { at: at.toISOString() } : {}), ...metadata });
}

/** Common zod helpers for environment settings. */
export const envBool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

export const envInt = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ message: "must be a number" })
    .int("must be a whole number")
    .min(min, `must be >= ${min}`)
    .max(max, `must be <= ${max}`);

export const envNumber = (min: number, max = Number.MAX_VALUE) =>
  z.coerce.number({ message: "must be a number" }).min(min, `must be >= ${min}`).max(max, `must be <= ${max}`);

/** JSON-valued environment variable validated by an inner schema (lists of rules, endpoints, checks). */
export function envJson<T extends z.ZodType>(inner: T) {
  return z.string().transform((s, ctx) => {
    let value: unknown;
    try {
      value = JSON.parse(s);
    } catch {
      ctx.addIssue({ code: "custom", message: "must be valid JSON" });
      return z.NEVER;
    }
    const r = inner.safeParse(value);
    if (!r.success) {
      const i = r.error.issues[0];
      ctx.addIssue({ code: "custom", message: `${i.path.map(String).join(".") || "value"}: ${i.message}` });
      return z.NEVER;
    }
    return r.data as z.infer<T>;
  });
}

/**
 * Called after a run succeeded, before its success is counted (the entry points pass
 * tasks/lib/run-marker.ts's recordRunMarker, which records it for the overdue watcher), with the
 * moment the run started. A throw fails the run.
 */
export type OnSuccess = (env: Record<string, string | undefined>, task: string, startedAt: Date) => Promise<void>;

/**
 * Run a task with settings from env; returns its result or throws TaskError with a one-line reason.
 * `options.scheduledTimeGiven`: where SCHEDULED_TIME came from, "--scheduled-time" when the command
 * line gave it (checkScheduledTime); the environment (a scheduled run's) unless said.
 */
export async function runTask<R>(
  task: TaskDefinition<z.ZodType, R>,
  env: Record<string, string | undefined>,
  signal: AbortSignal = new AbortController().signal,
  onSuccess?: OnSuccess,
  options: { scheduledTimeGiven?: ScheduledTimeSource } = {},
): Promise<R> {
  const settings = parseSettings(task.settings, env);
  let runMetrics: string[];
  let scheduledWarning: string | undefined;
  let at: Date | undefined;
  try {
    runMetrics = publishedRunMetrics(env);
    scheduleIntervalSeconds(env);
    const given = options.scheduledTimeGiven ?? "SCHEDULED_TIME";
    at = scheduledTime(env, given);
    if (at) scheduledWarning = checkScheduledTime(at, Date.now(), given);
  } catch (err) {
    throw new TaskError(`invalid setting ${oneLine(err)}`);
  }
  const ctx = createContext(task.name, env, signal, at);
  if (scheduledWarning) ctx.log.warn(scheduledWarning);
  const started = Date.now();
  // Which time the run is dated by, and how late a scheduled one started.
  if (ctx.scheduledAt) {
    ctx.log.info("scheduled run: dated by its scheduled time", {
      scheduledAt: ctx.scheduledAt.toISOString(),
      startedAt: new Date(started).toISOString(),
      lateSeconds: (started - ctx.scheduledAt.getTime()) / 1000,
      ...(env.SCHEDULER_EXECUTION_ID ? { executionId: env.SCHEDULER_EXECUTION_ID } : {}),
      ...(env.SCHEDULER_ATTEMPT ? { attempt: env.SCHEDULER_ATTEMPT } : {}),
    });
  } else {
    ctx.log.info("run without a scheduled time (SCHEDULED_TIME unset: by hand): dated by its start", { startedAt: new Date(started).toISOString() });
  }
  let ok = false;
  try {
    const result = await task.run(settings, ctx);
    const verdict = task.failed?.(result) ?? false;
    ok = verdict === false;
    if (!ok) throw new TaskError(typeof verdict === "string" ? `${task.name} failed: ${verdict}` : `${task.name} failed`, result);
    // A task run only by hand (the catalogue's entries without a schedule) records no run marker.
    if (onSuccess && !runsOnDemand(task.name)) {
      ok = false;
      await onSuccess(env, task.name, new Date(started));
      ok = true;
    }
    return result;
  } catch (err) {
    if (err instanceof TaskError) throw err;
    throw new TaskError(oneLine(err), undefined);
  } finally {
    // Run metrics: published where an alarm reads them (publishedRunMetrics); the run's log line
    // carries all three either way.
    const run = { TaskSucceeded: ok ? 1 : 0, TaskFailed: ok ? 0 : 1, TaskDuration: Date.now() - started };
    for (const name of RUN_METRICS) {
      if (runMetrics.includes(name)) ctx.metrics.addMetric(name, name === "TaskDuration" ? MetricUnit.Milliseconds : MetricUnit.Count, run[name]);
    }
    ctx.log.info("run", { succeeded: ok, durationMs: run.TaskDuration });
    if (runMetrics.length) ctx.metrics.publishStoredMetrics();
  }
}

export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s+/g, " ").trim() || "unknown error";
}
