/**
 * One scheduled task, the workhorse of the regime: the code (Lambda zip, Lambda container image, or a
 * Fargate task for work longer than Lambda's 15 minutes), a role holding exactly the caller's
 * statements plus its own log writes, a log group with retention, an EventBridge Scheduler schedule
 * (cron or rate, always with an IANA timezone, flexible window off, retries and a dead-letter queue),
 * and alarms: the run failed, the run came close to its timeout, no successful run was recorded in the
 * expected interval, and a scheduled run could not even be started (messages in the dead-letter queue).
 *
 * Which metric each alarm reads, and so which custom metrics the run costs (tasks/lib/metrics.ts):
 * - Lambda: errors and duration read AWS/Lambda Errors and Duration of the function, and the
 *   missed-run alarm counts successful runs as AWS/Lambda Invocations minus Errors (metric math),
 *   all published by Lambda for free; the task publishes no run metric (its log line "run" carries
 *   them). Lambda stamps both with the time the function was invoked and sends them when it ends
 *   (Lambda developer guide, "Types of metrics for Lambda functions"): the missed-run window allows
 *   for the longest run (missedRunWindowSeconds). The errors and duration alarms' period holds the
 *   longest run too (runAlarmPeriodSeconds), so the errors alarm sees every failed run, and where it
 *   pages at the missed-run alarm's severity (missedRunCountsInvocations) the missed-run alarm counts
 *   runs, Invocations alone: one alarm metric instead of two.
 * - Fargate: ECS publishes no per-run metric, so the task publishes `TaskFailed` and `TaskDuration`
 *   (the errors and duration alarms) and `TaskSucceeded` when a missed-run alarm reads it; RUN_METRICS
 *   in the container's environment names them.
 * The missed-run alarm is gated on the job's watch start (`watchStart`, its task role's creation:
 * components/alarms.ts watchGate): it does not page before the job was first due, a paused job's
 * alarm sits OK, and a resumed job is watched afresh from the `pulumi up` that resumed it
 * (components/watch-start.ts): it pages if it misses its first due run after the resume.
 * Task metrics are Embedded Metric Format lines in namespace METRICS_NAMESPACE with dimensions
 * { service: REGIME_NAME, Task: <task name>, Instance }; the component sets those variables, so an
 * alarm watches exactly the metric the code writes.
 *
 * Lambda runs in a VPC get the ENI permissions EC2 requires on `*` (ec2:CreateNetworkInterface and
 * friends: the network interface does not exist when the call is authorised), inline rather than the
 * managed AWSLambdaVPCAccessExecutionRole, which would also grant log writes to every log group.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, SEVERITIES, watchGate, type AlertTopics, type Severity } from "./alarms";
import { jobWatchStart } from "./watch-start";
import { assumeRolePolicy, policyJson, type IamStatement } from "./iam";
import { physicalName, withoutPrefix } from "./naming";
import { isIanaTimezone, LAMBDA_MAX_TIMEOUT_SECONDS, LAMBDA_MEMORY_MB, LOG_RETENTION_DAYS, NEAR_TIMEOUT_FRACTION } from "../regime/limits";
import { lowerSeverity } from "../regime/severity";
import { TASK_CATALOGUE, type ScheduledTaskName } from "../tasks/catalogue";
import type { Schedule } from "../regime/schedule";
import { recordSchedule } from "./plan-record";
import { METRICS_NAMESPACE_DEFAULT, SCHEDULER_CONTEXT, SCHEDULER_MAX_EVENT_AGE_SECONDS } from "../tasks/lib/runtime";
import { publishesSampled, type RunMetric } from "../tasks/lib/metrics";
import { ALARM_EVALUATION_SECONDS, METRIC_VISIBLE_DELAY_SECONDS } from "../regime/promises";
import { scheduleShiftSeconds } from "../regime/scheduler-time";
import { ownLogGroupName } from "../regime/own-log-groups";
import { SMS_READ_ACTIONS } from "./subscription-watch";

export type TaskCode =
  | { kind: "zip"; archive: pulumi.asset.Archive; handler: string }
  /** Container image on Lambda; its CMD picks the handler (image/Dockerfile: handler.handler, task by TASK). */
  | { kind: "image"; imageUri: pulumi.Input<string>; command?: string[] }
  | {
      kind: "fargate";
      imageUri: pulumi.Input<string>;
      /** ECS cluster ARN. */
      cluster: pulumi.Input<string>;
      /** CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384. */
      cpu: number;
      /** MiB, within the range Fargate allows for the CPU. */
      memory: number;
      /** Container entry point; the Lambda base image's own one starts the Lambda runtime, so set ["node"]. */
      entryPoint?: string[];
      command?: string[];
      /** Subnets and security groups of the task; default: the `vpc` argument's. */
      subnets?: pulumi.Input<string[]>;
      securityGroups?: pulumi.Input<string[]>;
      /** Ephemeral storage in GiB (21..200); default 21. */
      ephemeralStorageGb?: number;
    };

export interface ScheduledTaskArgs {
  /** Regime name: prefix of alarm names and the `service` metric dimension. */
  regime: string;
  /** Task name as the runtime knows it (tasks/catalogue.ts): the `Task` metric dimension and TASK variable. */
  taskName: ScheduledTaskName;
  description: string;
  code: TaskCode;
  /** Plain settings only: secrets travel as Secrets Manager ARNs, never as values. */
  environment?: Record<string, pulumi.Input<string>>;
  /**
   * Bytes of settings known only at deploy (outputs), computed from stand-ins, so that one too large
   * for Lambda's 4 KB environment travels in the zip's settings file (splitSettings).
   */
  environmentSizes?: Record<string, number>;
  /**
   * When it runs (regime/schedule.ts, as the config resolved it); its `intervalSeconds`, the longest
   * expected gap between two runs, sets the missed-run window (jobMissedRunWindow).
   */
  schedule: Schedule;
  /** The config key that sets `schedule` (`databases[app].backup.schedule`), for the plan's record; unset for a schedule the program sets itself. */
  scheduleKey?: string;
  /** Lambda: at most 900. Fargate: the duration alarm's reference (Fargate itself has no timeout). */
  timeoutSeconds: number;
  /** Lambda memory, 128..10240 MB (ignored for Fargate, which takes code.memory). */
  memoryMb?: number;
  vpc?: { subnetIds: pulumi.Input<string[]>; securityGroupIds: pulumi.Input<string[]> };
  /** What the task may do: concrete actions on concrete resources. */
  policyStatements: pulumi.Input<IamStatement>[];
  logRetentionDays: number;
  alarmTopics: AlertTopics;
  /** Severity of a failed, missed or unstartable run. A run close to its timeout pages one step lower. */
  severity: Severity;
  /** Severity of the missed-run alarm when it differs from `severity` (the endpoint checks: nothing else pages when a gapped checker stops). */
  missedRunSeverity?: Severity;
  tags?: Record<string, string>;
  /**
   * Tells this scheduled instance apart from others of the same task (a database id): the task writes
   * it as the `Instance` metric dimension (METRICS_INSTANCE) and this component's alarms watch it.
   */
  instance?: string;
  /** Metric namespace the task code writes to; default MaintenanceRegime. */
  metricsNamespace?: string;
  /** Scheduler retries when the target cannot be invoked (throttling, no Fargate capacity); default 3 within 1 hour. */
  retry?: { maximumRetryAttempts?: number; maximumEventAgeSeconds?: number };
  /** Lambda retries of a failed run (asynchronous invocation); default 0: a failed run alarms instead of repeating. */
  functionRetries?: number;
  /** Runs that may be missed in a row before the missed-run alarm fires; default 1. */
  missedRunsTolerated?: number;
  /**
   * `paused: true` in config: the schedule is DISABLED (kept, so resuming is one change) and the
   * missed-run alarm's actions are off; a run started by hand still pages when it fails.
   */
  paused?: boolean;
}

/** Lambda: the environment variables of a function total at most 4 KB (keys and values; Lambda quotas). */
export const LAMBDA_ENV_LIMIT_BYTES = 4096;
/** Environment total above which the longest plain settings move into the bundle's settings file (room for the task's own and ARN-sized values). */
export const LAMBDA_ENV_BUDGET_BYTES = 3072;
/** The file beside index.js that carries settings too large for the environment (tasks/lib/bundled-settings.ts reads it). */
export const SETTINGS_FILE = "settings.json";

/**
 * Splits a zip task's settings between the Lambda environment and the settings file of its bundle:
 * while the settings total (keys + values, UTF-8 bytes) exceeds LAMBDA_ENV_BUDGET_BYTES, the longest
 * one moves to the file. A value not known at plan time (an output) counts at its `sizes` entry, the
 * bytes its caller computed from stand-ins, and may then move too (the overdue watcher's job list,
 * whose watch starts and association ids come at deploy); without one it counts 256 bytes and stays
 * (bucket names, ARNs). Returns both halves; `bundled` is empty for a small environment, which
 * deploys exactly as before.
 */
export function splitSettings(
  env: Record<string, pulumi.Input<string>>,
  sizes: Record<string, number> = {},
): { environment: Record<string, pulumi.Input<string>>; bundled: Record<string, pulumi.Input<string>> } {
  const bytes = (k: string, v: pulumi.Input<string>) => (typeof v === "string" ? Buffer.byteLength(v) : (sizes[k] ?? 256));
  const size = (k: string, v: pulumi.Input<string>) => Buffer.byteLength(k) + bytes(k, v);
  const environment = { ...env };
  const bundled: Record<string, pulumi.Input<string>> = {};
  let total = Object.entries(environment).reduce((a, [k, v]) => a + size(k, v), 0);
  while (total > LAMBDA_ENV_BUDGET_BYTES) {
    const longest = Object.entries(environment)
      .filter(([k, v]) => (typeof v === "string" || sizes[k] !== undefined) && !["TASK", "REGIME_NAME", "METRICS_NAMESPACE", "METRICS_INSTANCE"].includes(k))
      .sort(([ka, a], [kb, b]) => bytes(kb, b) - bytes(ka, a) || ka.localeCompare(kb))[0];
    if (!longest) break;
    bundled[longest[0]] = longest[1];
    delete environment[longest[0]];
    total -= size(longest[0], longest[1]);
  }
  return { environment, bundled };
}

/** Names of settings that carry secret values; refused in `environment`. *_ARN, *_ID, *_NAME are references, allowed. */
const SECRET_KEY = /(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY|CREDENTIAL)/i;
const REFERENCE_SUFFIX = /_(ARN|ARNS|ID|NAME)$/i;
/** Lambda reserves these variable names. */
const RESERVED_ENV = /^(AWS_|_HANDLER$|_X_AMZN_TRACE_ID$|LAMBDA_TASK_ROOT$|LAMBDA_RUNTIME_DIR$|TZ$)/;
/** Actions no task role may hold on backups: deleting them, or loosening the bucket that keeps them. */
export const FORBIDDEN_TASK_ACTIONS = [/^s3:DeleteObject/i, /^s3:PutBucketPolicy$/i, /^s3:PutLifecycleConfiguration$/i, /^s3:DeleteBucket/i, /^s3:PutBucketVersioning$/i];
/**
 * Actions a task's own statements may grant on `*`, because AWS authorises them on nothing narrower:
 * cloudwatch:GetMetricData has no resource type and no condition key that names a metric (Service
 * Authorization Reference, "Actions, resources, and condition keys for Amazon CloudWatch"). It reads
 * metric values only: the overdue watcher reads Scheduler history with it. The SNS SMS reads
 * (SMS_READ_ACTIONS: sandbox status, sandbox destinations, opt-out of a number) have no resource type
 * either (same reference, Amazon SNS); the watcher's subscription check reads them.
 */
export const STAR_ONLY_TASK_ACTIONS: readonly string[] = ["cloudwatch:GetMetricData"];
/** Every action a task's statement may grant on `*`: STAR_ONLY_TASK_ACTIONS and the SNS SMS reads. */
const STAR_GRANTABLE: readonly string[] = [...STAR_ONLY_TASK_ACTIONS, ...SMS_READ_ACTIONS];
/** Actions EC2 authorises only on `*` (Lambda's network interfaces in a VPC). */
export const LAMBDA_VPC_ACTIONS = [
  "ec2:CreateNetworkInterface",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeSubnets",
  "ec2:DeleteNetworkInterface",
  "ec2:AssignPrivateIpAddresses",
  "ec2:UnassignPrivateIpAddresses",
];

/** Valid Fargate CPU units and the memory (MiB) each allows: [min, max, step]. */
const FARGATE_SIZES: Record<number, [number, number, number]> = {
  256: [512, 2048, 512],
  512: [1024, 4096, 1024],
  1024: [2048, 8192, 1024],
  2048: [4096, 16384, 1024],
  4096: [8192, 30720, 1024],
  8192: [16384, 61440, 4096],
  16384: [32768, 122880, 8192],
};

/**
 * Period and evaluation periods of the missed-run alarm: the window (interval x runs tolerated, whole
 * minutes) split into equal periods of at most one day. CloudWatch caps period x evaluationPeriods at
 * 7 days (1 day when the period is under an hour); a longer window cannot be watched by a metric
 * alarm, and `undefined` says so.
 */
export function missedRunWindow(intervalSeconds: number, tolerated = 1): { period: number; evaluationPeriods: number } | undefined {
  const minutes = Math.ceil((intervalSeconds * tolerated) / 60);
  const window = minutes * 60;
  if (window > 7 * 86400) return undefined;
  if (window <= 86400) return { period: window, evaluationPeriods: 1 };
  for (let k = 1440; k >= 60; k--) {
    if (minutes % k === 0) return { period: k * 60, evaluationPeriods: minutes / k };
  }
  // No divisor of an hour or more: round the window up to whole hours.
  const hours = Math.ceil(minutes / 60);
  for (let h = 24; h >= 1; h--) if (hours % h === 0) return { period: h * 3600, evaluationPeriods: hours / h };
  return undefined;
}

/** CloudWatch PutMetricAlarm: period x evaluationPeriods at most 7 days (1 day when the period is under an hour). */
export const METRIC_ALARM_MAX_LOOKBACK_SECONDS = 7 * 86400;

/**
 * Margin of a sub-hourly job's missed-run window over its interval: 5 minutes (at most one interval).
 * With the flexible time window OFF, EventBridge Scheduler invokes the target at the scheduled time
 * (Scheduler user guide, "Configuring flexible time windows"); AWS documents no delivery-delay
 * figure beyond that, and the observed jitter is seconds.
 */
export const SCHEDULER_DELIVERY_MARGIN_SECONDS = 300;
/** Margin of an hourly or sparser job: the Scheduler retries a failed invocation for up to an hour (maximumEventAgeInSeconds 3600). */
export const SPARSE_JOB_MARGIN_SECONDS = 3600;

/** What a job's missed-run window is sized from. */
export interface MissedRunJob {
  /**
   * Its schedule, with its longest wall-clock interval between two runs (regime/schedule.ts): a cron
   * schedule's runs can lie the zone's largest clock change further apart (regime/scheduler-time.ts
   * zoneShiftSeconds); a rate schedule's cannot.
   */
  schedule: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">;
  /**
   * The longest a successful run takes, seconds: its timeout on Lambda, its duration alarm's reference
   * on Fargate, 0 for a job whose success is its start (a reminder's invocation attempt, an
   * association's execution). A success is counted when the run ends.
   */
  longestRunSeconds: number;
  /** Runs that may be missed in a row before the alarm pages; default 1. */
  tolerated?: number;
}

/**
 * The missed-run window of a job, in seconds: the longest time between two successes of a job that
 * runs as scheduled, as CloudWatch sees them. A metric alarm evaluates a sliding window by default
 * ("If you don't specify EvaluationWindow ... the alarm uses a sliding window", CloudWatch user
 * guide, "Alarm evaluation window"): it pages as soon as no success lies in the last
 * period x evaluationPeriods, whatever the clock. So the window is the sum of:
 * - the wall-clock interval times the runs tolerated;
 * - a delivery margin: min(interval, 5 min) (at least 60 s) under an hour apart, an hour (the
 *   Scheduler's retries) otherwise (missedRunMarginSeconds);
 * - for a cron schedule, the zone's largest clock change (a daily 02:00 in America/New_York runs 25 h
 *   apart on the fall-back day; Antarctica/Troll's 2-hour shift makes it 26 h);
 * - the job's longest run (its success is counted when it ends, a slow run after a fast one ends
 *   later by up to that much);
 * - METRIC_VISIBLE_DELAY_SECONDS for the success to reach the alarm.
 * Rounded up to whole minutes. Every minute (rate, 60 s timeout): 480 s; daily at 02:00 in New York
 * with a 900 s timeout: 94,800 s (26 h 20 min). Returns `undefined` when the window is longer than a
 * metric alarm can look back (7 days: every weekly job): the overdue watcher
 * (components/overdue-watch.ts) watches the job instead.
 */
export function missedRunWindowSeconds(j: MissedRunJob): number | undefined {
  const shift = scheduleShiftSeconds(j.schedule);
  const interval = j.schedule.intervalSeconds;
  const raw = interval * (j.tolerated ?? 1) + missedRunMarginSeconds(interval) + shift + j.longestRunSeconds + METRIC_VISIBLE_DELAY_SECONDS;
  const seconds = Math.ceil(raw / 60) * 60;
  return seconds > METRIC_ALARM_MAX_LOOKBACK_SECONDS ? undefined : seconds;
}

/** The delivery margin missedRunWindowSeconds adds: min(interval, 5 min) (at least 60 s) under an hour apart, an hour otherwise. */
export function missedRunMarginSeconds(intervalSeconds: number): number {
  return intervalSeconds < 3600 ? Math.min(SCHEDULER_DELIVERY_MARGIN_SECONDS, Math.max(60, intervalSeconds)) : SPARSE_JOB_MARGIN_SECONDS;
}

/**
 * Period and evaluation periods of the missed-run alarm of a scheduled job over
 * missedRunWindowSeconds, every period required empty, or `undefined` when a metric alarm cannot look
 * back far enough. Under a sliding window only the total decides when the alarm pages, so a window of
 * at most a day is rounded up to whole periods of the delivery margin, at most 5 minutes (every
 * minute: 1-minute periods; hourly: 7,620 s becomes 26 periods of 5 minutes); a longer one is split
 * into periods of at most a day (missedRunWindow).
 */
export function jobMissedRunWindow(j: MissedRunJob): { period: number; evaluationPeriods: number } | undefined {
  const seconds = missedRunWindowSeconds(j);
  if (seconds === undefined) return undefined;
  if (seconds > 86400) return missedRunWindow(seconds);
  const period = Math.min(SCHEDULER_DELIVERY_MARGIN_SECONDS, Math.floor(missedRunMarginSeconds(j.schedule.intervalSeconds) / 60) * 60);
  return { period, evaluationPeriods: Math.ceil(seconds / period) };
}

/**
 * Worst-case seconds from a job's last success (as its metric is stamped) to the missed-run page: the
 * window (a sliding window pages once the last success has left it) plus CloudWatch's evaluation,
 * once a minute (ALARM_EVALUATION_SECONDS).
 */
export function missedRunTimeToPageSeconds(window: { period: number; evaluationPeriods: number }): number {
  return window.period * window.evaluationPeriods + ALARM_EVALUATION_SECONDS;
}

/** The missed-run window's inputs of a scheduled task: its interval, schedule, timeout as its longest run, runs tolerated. */
export function missedRunJobOf(a: { schedule: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">; timeoutSeconds: number; missedRunsTolerated?: number }): MissedRunJob {
  return { schedule: a.schedule, longestRunSeconds: a.timeoutSeconds, tolerated: a.missedRunsTolerated };
}

/**
 * Period of a task's errors and duration alarms, in seconds. Lambda stamps a run's Errors and Duration
 * with the time the function was invoked and sends them when it ends ("the timestamp on an error
 * metric reflects when the function was invoked", Lambda developer guide, "Types of metrics for Lambda
 * functions"); a Fargate task's own TaskFailed and TaskDuration are stamped when it sends them, at its
 * end. Either is seen up to METRIC_VISIBLE_DELAY_SECONDS later, and the alarm's sliding window must
 * still hold the stamp then, or a failed 15-minute backup would never page through it. So: the
 * timeout (Lambda) plus that delay, whole minutes: 1,200 s for a 900 s Lambda, 360 s for the 40 s
 * endpoint checks, 300 s on Fargate. A failed run pages within that of its end at the latest.
 */
export function runAlarmPeriodSeconds(runner: "lambda" | "fargate", timeoutSeconds: number): number {
  return Math.ceil(((runner === "lambda" ? timeoutSeconds : 0) + METRIC_VISIBLE_DELAY_SECONDS) / 60) * 60;
}

/**
 * Whether a Lambda job's missed-run alarm may count runs (AWS/Lambda Invocations, one alarm metric,
 * $0.10 a month) instead of successful runs (Invocations minus Errors, metric math over two, $0.20).
 * The difference is a run that was started and failed, which the task's errors alarm pages
 * (runAlarmPeriodSeconds holds every failure): so wherever that alarm pages at the missed-run alarm's
 * severity. Not for the endpoint checks on a gapped schedule, whose missed-run alarm pages at the
 * endpoints' severity while their errors alarm is P3: a checker failing every run must still page.
 */
export function missedRunCountsInvocations(args: { severity: Severity; missedRunSeverity?: Severity }): boolean {
  return (args.missedRunSeverity ?? args.severity) === args.severity;
}

/**
 * The settings a scheduled task's environment always carries, whatever its own settings: TASK,
 * REGIME_NAME, METRICS_NAMESPACE, METRICS_INSTANCE (per-database and per-Redis tasks) and RUN_METRICS
 * (the run metrics an alarm reads, which the task publishes and no other: tasks/lib/metrics.ts). On
 * Lambda a missed-run alarm counts successes as AWS/Lambda invocations minus errors and the task
 * publishes no run metric; on Fargate it publishes
 * TaskFailed and TaskDuration, and TaskSucceeded when a missed-run alarm reads it.
 * SCHEDULE_INTERVAL_SECONDS (the expected interval) for a task with sampled metrics: a healthy value
 * goes out only in the first run of each sampling interval (tasks/lib/metrics.ts isSampleRun). Used
 * by the task component and by the promise model that checks the 4 KB Lambda environment before
 * `pulumi up`.
 */
export function taskOwnSettings(a: {
  taskName: string;
  regime: string;
  metricsNamespace?: string;
  instance?: string;
  runner: "lambda" | "fargate";
  schedule: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">;
  timeoutSeconds: number;
  missedRunsTolerated?: number;
}): Record<string, string> {
  const own: Record<string, string> = { TASK: a.taskName, REGIME_NAME: a.regime, METRICS_NAMESPACE: a.metricsNamespace ?? METRICS_NAMESPACE_DEFAULT };
  if (a.instance) own.METRICS_INSTANCE = a.instance;
  const window = jobMissedRunWindow(missedRunJobOf(a));
  const runMetrics: RunMetric[] =
    a.runner === "fargate" ? (["TaskSucceeded", "TaskFailed", "TaskDuration"] as RunMetric[]).filter((m) => m !== "TaskSucceeded" || window) : [];
  if (a.runner === "fargate" || runMetrics.length) own.RUN_METRICS = runMetrics.join(",");
  if (publishesSampled(a.taskName)) own.SCHEDULE_INTERVAL_SECONDS = String(a.schedule.intervalSeconds);
  return own;
}

/**
 * Alarm condition of a missed run over a metric math alarm's periods (watchGate): fewer than one
 * success in every period of the window (the metric queries carry the period).
 */
export function noSuccessWithin(window: { period: number; evaluationPeriods: number }) {
  return {
    evaluationPeriods: window.evaluationPeriods,
    datapointsToAlarm: window.evaluationPeriods,
    comparisonOperator: "LessThanThreshold",
    threshold: 1,
  } as const;
}

/** Throws a one-line error naming the argument when the task cannot be created as asked. */
export function validateTaskArgs(name: string, args: ScheduledTaskArgs): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`ScheduledTask name: "${name}" must use only lowercase letters, digits and -`);
  if (!args.regime) throw new Error("regime: must not be empty");
  if (!/^[a-z0-9][a-z0-9-]*$/.test(args.taskName)) throw new Error(`taskName: "${args.taskName}" must use only lowercase letters, digits and -`);
  const lambda = args.code.kind !== "fargate";
  if (!Number.isInteger(args.timeoutSeconds) || args.timeoutSeconds < 1) throw new Error(`timeoutSeconds: must be a whole number >= 1, got ${args.timeoutSeconds}`);
  if (lambda && args.timeoutSeconds > LAMBDA_MAX_TIMEOUT_SECONDS) {
    throw new Error(`timeoutSeconds: ${args.timeoutSeconds} exceeds Lambda's maximum of ${LAMBDA_MAX_TIMEOUT_SECONDS}; run the task on Fargate instead`);
  }
  if (lambda) {
    const m = args.memoryMb ?? 256;
    if (!Number.isInteger(m) || m < LAMBDA_MEMORY_MB.min || m > LAMBDA_MEMORY_MB.max) {
      throw new Error(`memoryMb: must be a whole number from ${LAMBDA_MEMORY_MB.min} to ${LAMBDA_MEMORY_MB.max}, got ${m}`);
    }
  } else if (args.code.kind === "fargate") {
    const sizes = FARGATE_SIZES[args.code.cpu];
    if (!sizes) throw new Error(`code.cpu: ${args.code.cpu} is not a Fargate size (${Object.keys(FARGATE_SIZES).join(", ")})`);
    const [min, max, step] = sizes;
    if (args.code.memory < min || args.code.memory > max || args.code.memory % step !== 0) {
      throw new Error(`code.memory: ${args.code.memory} MiB does not fit ${args.code.cpu} CPU units (${min}..${max} in steps of ${step})`);
    }
    const eph = args.code.ephemeralStorageGb;
    if (eph !== undefined && (!Number.isInteger(eph) || eph < 21 || eph > 200)) throw new Error(`code.ephemeralStorageGb: must be a whole number from 21 to 200, got ${eph}`);
    if (!args.code.subnets && !args.vpc) throw new Error("vpc: a Fargate task needs subnets and security groups (vpc or code.subnets)");
  }
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(args.logRetentionDays)) {
    throw new Error(`logRetentionDays: ${args.logRetentionDays} is not allowed by CloudWatch Logs; use one of ${LOG_RETENTION_DAYS.join(", ")}`);
  }
  if (!isIanaTimezone(args.schedule.timezone)) {
    throw new Error(`schedule.timezone: "${args.schedule.timezone}" is not an IANA timezone such as America/New_York (EST/PST ignore daylight saving)`);
  }
  if (!/^(cron\(\S+( \S+){5}\)|rate\([1-9]\d* (minute|minutes|hour|hours|day|days)\)|at\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\))$/.test(args.schedule.expression)) {
    throw new Error(`schedule.expression: "${args.schedule.expression}" must be cron(<6 fields>) or rate(<n> <unit>)`);
  }
  if (!(Number.isFinite(args.schedule.intervalSeconds) && args.schedule.intervalSeconds >= 60)) {
    throw new Error(`schedule.intervalSeconds: must be at least 60, got ${args.schedule.intervalSeconds}`);
  }
  if (!(SEVERITIES as readonly string[]).includes(args.severity)) throw new Error(`severity: must be one of ${SEVERITIES.join(", ")}, got "${args.severity}"`);
  for (const key of Object.keys(args.environment ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`environment.${key}: not a valid variable name`);
    if (lambda && RESERVED_ENV.test(key)) throw new Error(`environment.${key}: reserved by Lambda`);
    if (SECRET_KEY.test(key) && !REFERENCE_SUFFIX.test(key)) {
      throw new Error(`environment.${key}: looks like a secret; pass a Secrets Manager ARN (e.g. ${key}_ARN) and read it at run time`);
    }
  }
  const r = args.retry ?? {};
  if (r.maximumRetryAttempts !== undefined && (!Number.isInteger(r.maximumRetryAttempts) || r.maximumRetryAttempts < 0 || r.maximumRetryAttempts > 185)) {
    throw new Error(`retry.maximumRetryAttempts: must be a whole number from 0 to 185, got ${r.maximumRetryAttempts}`);
  }
  if (r.maximumEventAgeSeconds !== undefined && (!Number.isInteger(r.maximumEventAgeSeconds) || r.maximumEventAgeSeconds < 60 || r.maximumEventAgeSeconds > SCHEDULER_MAX_EVENT_AGE_SECONDS)) {
    throw new Error(`retry.maximumEventAgeSeconds: must be a whole number from 60 to ${SCHEDULER_MAX_EVENT_AGE_SECONDS}, got ${r.maximumEventAgeSeconds}`);
  }
  const fr = args.functionRetries;
  if (fr !== undefined && (!Number.isInteger(fr) || fr < 0 || fr > 2)) throw new Error(`functionRetries: must be 0, 1 or 2, got ${fr}`);
  const tol = args.missedRunsTolerated;
  if (tol !== undefined && (!Number.isInteger(tol) || tol < 1)) throw new Error(`missedRunsTolerated: must be a whole number >= 1, got ${tol}`);
}

/** Refuses wildcards and destructive actions in the caller's statements; the message names the statement. */
export function checkStatement(s: IamStatement, at: string): void {
  if (!Array.isArray(s.Action) || s.Action.length === 0) throw new Error(`${at}.Action: must list at least one action`);
  for (const a of s.Action) {
    if (a === "*" || /:\*$/.test(a)) throw new Error(`${at}.Action: "${a}" is a wildcard; name the actions the task needs`);
    if (s.Effect === "Allow" && FORBIDDEN_TASK_ACTIONS.some((re) => re.test(a))) throw new Error(`${at}.Action: "${a}" is never granted to a task`);
  }
  if (Array.isArray(s.Resource)) {
    if (s.Resource.length === 0) throw new Error(`${at}.Resource: must list at least one resource`);
    const starOnly = s.Action.every((a) => STAR_GRANTABLE.includes(a));
    for (const r of s.Resource) if (r === "*" && !starOnly) throw new Error(`${at}.Resource: "*" is refused; name the resources (only ${STAR_GRANTABLE.join(", ")} may take "*")`);
  }
}

/** A word for a POSIX shell: as it is when it is plainly safe, else in single quotes. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The event of a run of a task's Lambda function as its schedule runs it. */
const runEvent = (taskName: string) => ({ task: taskName, source: "schedule" });

/** The event that runs a task's Lambda function as its schedule does, by hand (`aws lambda invoke`): no scheduled time, so the run is dated by its start. */
export function runNowPayload(taskName: string): string {
  return JSON.stringify(runEvent(taskName));
}

/**
 * The event EventBridge Scheduler sends a task's Lambda function on each scheduled run: runNowPayload
 * with the Scheduler's context attributes, which it replaces on each run (Scheduler User Guide,
 * "Adding context attributes in EventBridge Scheduler": `<aws.scheduler.scheduled-time>` becomes
 * `2022-03-22T18:59:43Z`), under the fields tasks/handler.ts reads (tasks/lib/runtime.ts
 * SCHEDULER_CONTEXT): `{"task":"backup","source":"schedule","scheduledTime":"<aws.scheduler.scheduled-time>",...}`.
 */
export function scheduledPayload(taskName: string): string {
  return JSON.stringify({ ...runEvent(taskName), ...Object.fromEntries(SCHEDULER_CONTEXT.map((c) => [c.field, c.attribute])) });
}

/**
 * The input of a Fargate task's schedule: for an ECS RunTask target it is the RunTask `overrides`
 * (TaskOverride, ECS API reference; CreateSchedule refuses an input it cannot read as one: "Unable
 * to convert target input to TaskOverride"), here the task's container (named after the task) given the
 * Scheduler's context attributes as environment variables, which the Scheduler replaces in the input
 * it passes to the target on each run (Scheduler User Guide, "Adding context attributes in
 * EventBridge Scheduler"): `{"containerOverrides":[{"name":"backup","environment":[{"name":
 * "SCHEDULED_TIME","value":"<aws.scheduler.scheduled-time>"},...]}]}`. A RunTask by hand
 * (runNowCommand) has none, and is dated by its start.
 */
export function fargateScheduledInput(containerName: string): string {
  return JSON.stringify({ containerOverrides: [{ name: containerName, environment: SCHEDULER_CONTEXT.map((c) => ({ name: c.variable, value: c.attribute })) }] });
}

/**
 * `aws lambda invoke` of a function with an event, waiting for the answer (`--cli-read-timeout 0`:
 * a run may take up to Lambda's 15 minutes, longer than the CLI's default 60 s read timeout) and
 * writing it to response.json. The CLI prints FunctionError when the run failed.
 */
export function lambdaInvokeCommand(region: string, functionName: string, payload: string): string {
  return [
    "aws lambda invoke",
    `--region ${shellQuote(region)}`,
    `--function-name ${shellQuote(functionName)}`,
    "--cli-binary-format raw-in-base64-out",
    "--cli-read-timeout 0",
    `--payload ${shellQuote(payload)}`,
    "response.json",
  ].join(" ");
}

/**
 * `aws ecs run-task` of a Fargate task definition as its schedule starts it (same cluster, subnets,
 * security groups, no public IP); `override` replaces the container's command for an on-demand run.
 */
export function ecsRunTaskCommand(
  region: string,
  cluster: string,
  taskDefinitionArn: string,
  network: { subnets: string[]; securityGroups: string[] },
  override?: { container: string; command: string[] },
): string {
  const vpc = `awsvpcConfiguration={subnets=[${network.subnets.join(",")}],securityGroups=[${network.securityGroups.join(",")}],assignPublicIp=DISABLED}`;
  return [
    "aws ecs run-task",
    `--region ${shellQuote(region)}`,
    `--cluster ${shellQuote(cluster)}`,
    `--task-definition ${shellQuote(taskDefinitionArn)}`,
    "--launch-type FARGATE",
    "--platform-version LATEST",
    "--count 1",
    `--network-configuration ${shellQuote(vpc)}`,
    ...(override ? [`--overrides ${shellQuote(JSON.stringify({ containerOverrides: [{ name: override.container, command: override.command }] }))}`] : []),
  ].join(" ");
}

/** Command-line options as the CLI reads them: `{ database: "app", clean: true }` -> `--database app --clean`. */
export function cliArguments(options: Record<string, string | true>): string[] {
  return Object.entries(options).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, v]));
}

export class ScheduledTask extends pulumi.ComponentResource {
  /** Lambda function (zip or image); undefined on Fargate. */
  public readonly functionArn?: pulumi.Output<string>;
  public readonly functionName?: pulumi.Output<string>;
  /** ECS task definition (Fargate); undefined on Lambda. */
  public readonly taskDefinitionArn?: pulumi.Output<string>;
  public readonly scheduleName: pulumi.Output<string>;
  public readonly scheduleArn: pulumi.Output<string>;
  /** The role the task code runs as (Lambda execution role, or Fargate task role). */
  public readonly roleArn: pulumi.Output<string>;
  public readonly logGroupName: pulumi.Output<string>;
  public readonly dlqArn: pulumi.Output<string>;
  public readonly alarmNames: pulumi.Output<string[]>;
  /** Settings moved out of the Lambda environment into the zip's settings.json (splitSettings); empty when all fit. */
  public readonly bundledSettings: Record<string, pulumi.Input<string>> = {};
  /** False when the expected interval is longer than a metric alarm can watch (7 days). */
  public readonly missedRunWatched: boolean;
  /**
   * The job's watch start (ISO 8601, components/watch-start.ts jobWatchStart): when its task role
   * was created, stamped by IAM (`createDate`, made with the job and kept across its updates and
   * pauses), or the `pulumi up` that last resumed it, whichever is later; PAUSED_WATCH_START while
   * paused. Its missed-run alarm counts every period before it as a run (watchGate), and the overdue
   * watcher measures the task from it when it has not run since; a database's RPO alarm and the
   * endpoints' down alarms read it from their task.
   */
  public readonly watchStart: pulumi.Output<string>;
  /** Resource part of the task's alarm names (`health-task`). */
  public readonly alarmResource: string;
  /** The AWS CLI command that runs the task once now, as its schedule would (stack output `runNow`). */
  public readonly runNowCommand: pulumi.Output<string>;
  /**
   * The AWS CLI command that runs an on-demand task (restore, list-backups) once in this task's
   * function or container, with its settings and role; `options` as on the command line.
   */
  public readonly onDemandCommand: (task: string, options: Record<string, string | true>) => pulumi.Output<string>;

  constructor(name: string, args: ScheduledTaskArgs, opts?: pulumi.ComponentResourceOptions) {
    // Refused before anything is registered.
    validateTaskArgs(name, args);
    args.policyStatements.forEach((s, i) => {
      if (!pulumi.Output.isInstance(s)) checkStatement(s as IamStatement, `policyStatements[${i}]`);
    });
    const namespace = args.metricsNamespace ?? METRICS_NAMESPACE_DEFAULT;
    const own = taskOwnSettings({ ...args, runner: args.code.kind === "fargate" ? "fargate" : "lambda" });
    const window = jobMissedRunWindow(missedRunJobOf(args));
    const successFromLambda = args.code.kind !== "fargate";
    for (const [k, v] of Object.entries(own)) {
      const given = args.environment?.[k];
      if (given !== undefined && typeof given === "string" && given !== v) {
        throw new Error(`environment.${k}: "${given}" differs from "${v}" (the alarms watch metrics under ${k}=${v})`);
      }
    }
    super("regime:task:ScheduledTask", name, {}, opts);
    const tags = { ...(args.tags ?? {}), Task: args.taskName };
    const environment: Record<string, pulumi.Input<string>> = { ...(args.environment ?? {}), ...own };
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    const region = aws.getRegionOutput({}, { parent: this }).region;
    const fargate = args.code.kind === "fargate" ? args.code : undefined;
    const physical = physicalName(name, 64);
    const alarmResource = withoutPrefix(name, args.regime);
    this.alarmResource = alarmResource;

    const callerStatements = args.policyStatements.map((s, i) =>
      pulumi.output(s).apply((resolved) => {
        checkStatement(resolved as IamStatement, `policyStatements[${i}]`);
        return resolved as IamStatement;
      }),
    );

    // Dead-letter queue: runs the scheduler could not start, and (Lambda) runs that failed.
    // What a message names: the Scheduler's dead-letter event carries SCHEDULE_ARN, TARGET_ARN,
    // ERROR_CODE and ERROR_MESSAGE as message attributes, and EXHAUSTED_RETRY_CONDITION only when a
    // retryable error ran out of retries (a permanent one, such as a missing permission, is not retried)
    // (EventBridge Scheduler user guide, "Configuring a dead-letter queue", "Retrieve the dead-letter
    // event"); Lambda's on-failure record carries requestContext.functionArn and .condition (Lambda
    // developer guide, "Capturing records of Lambda asynchronous invocations", example invocation record).
    // One queue and one alarm per job, not one per severity for the whole regime ($0.10 an alarm): the
    // alarm is a level (messages visible > 0), so it pages for the first message only until the queue is
    // purged. A job's own unread message already hides its later ones; a shared queue would let any
    // job's hide every other job's, and it is seldom empty: every failed Lambda run of every job of the
    // severity leaves its on-failure record there (the endpoint checks fail on every run while an
    // endpoint is down, db-health on every run while a value is critical). A run that could not be
    // started would then page only through the job's missed-run alarm or the overdue watcher, their
    // margin after the missed start (1.4 h for prod's daily backup, up to 2 h for a job the watcher
    // watches) instead of minutes after the Scheduler gives up, and an undelivered reminder
    // (components/reminders.ts) not at all: its missed-run alarm counts invocation attempts, a failed
    // publish among them. Paging on arrivals (NumberOfMessagesSent) instead would page again for every
    // failed run of a job that keeps failing, which its errors alarm already pages once.
    const dlq = new aws.sqs.Queue(
      `${name}-dlq`,
      { name: physicalName(`${name}-dlq`, 80), sqsManagedSseEnabled: true, messageRetentionSeconds: 1209600, tags },
      { parent: this },
    );

    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: ownLogGroupName(fargate ? "fargate" : "lambda", physical), retentionInDays: args.logRetentionDays, tags },
      { parent: this },
    );
    const logWrite: IamStatement = {
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: [pulumi.interpolate`${logGroup.arn}:*`],
    };

    let targetArn: pulumi.Output<string>;
    let schedulerStatements: IamStatement[];
    let ecsParameters: aws.types.input.scheduler.ScheduleTargetEcsParameters | undefined;
    let taskRole: aws.iam.Role;

    if (!fargate) {
      const code = args.code as Exclude<TaskCode, { kind: "fargate" }>;
      taskRole = new aws.iam.Role(
        `${name}-role`,
        { name: physicalName(`${name}-role`, 64), description: `${name}: runs the ${args.taskName} task`, assumeRolePolicy: assumeRolePolicy("lambda.amazonaws.com"), tags },
        { parent: this },
      );
      const statements: pulumi.Input<IamStatement>[] = [
        ...callerStatements,
        logWrite,
        // Failed asynchronous runs go to the dead-letter queue with the function's own role.
        { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [dlq.arn] },
        ...(args.vpc ? [{ Effect: "Allow" as const, Action: LAMBDA_VPC_ACTIONS, Resource: ["*"] }] : []),
      ];
      const policy = new aws.iam.RolePolicy(`${name}-role`, { role: taskRole.id, policy: policyJson(statements) }, { parent: this });

      // Settings too large for Lambda's 4 KB environment travel in the zip, beside index.js.
      const split = code.kind === "zip" ? splitSettings(environment, args.environmentSizes) : { environment, bundled: {} };
      const bundled = Object.keys(split.bundled).length > 0;
      let zipCode: pulumi.Input<pulumi.asset.Archive> | undefined = code.kind === "zip" ? code.archive : undefined;
      if (code.kind === "zip" && bundled) {
        const archive = code.archive as pulumi.asset.AssetArchive;
        if (!(archive.assets instanceof Promise)) throw new Error(`environment: ${Object.keys(split.bundled).join(", ")} exceed Lambda's 4 KB environment and code.archive is not an AssetArchive to carry them`);
        zipCode = pulumi.all([archive.assets, pulumi.output(split.bundled)]).apply(([assets, values]) => {
          if (SETTINGS_FILE in assets) throw new Error(`code.archive: already holds ${SETTINGS_FILE}`);
          return new pulumi.asset.AssetArchive({ ...assets, [SETTINGS_FILE]: new pulumi.asset.StringAsset(JSON.stringify(values, Object.keys(values).sort())) });
        });
      }
      this.bundledSettings = split.bundled;
      const fn = new aws.lambda.Function(
        `${name}`,
        {
          name: physical,
          description: args.description.slice(0, 256),
          role: taskRole.arn,
          ...(code.kind === "zip"
            ? { packageType: "Zip", runtime: "nodejs22.x", handler: code.handler, code: zipCode }
            : { packageType: "Image", imageUri: code.imageUri, ...(code.command ? { imageConfig: { commands: code.command } } : {}) }),
          architectures: ["arm64"],
          timeout: args.timeoutSeconds,
          memorySize: args.memoryMb ?? 256,
          environment: { variables: split.environment },
          // Text: the JSON format would wrap each EMF line in a log record and CloudWatch would not extract the metrics.
          loggingConfig: { logFormat: "Text", logGroup: logGroup.name },
          ...(args.vpc ? { vpcConfig: { subnetIds: args.vpc.subnetIds, securityGroupIds: args.vpc.securityGroupIds } } : {}),
          tags,
        },
        // The log group first, or Lambda creates its own without retention.
        { parent: this, dependsOn: [logGroup, policy] },
      );
      new aws.lambda.FunctionEventInvokeConfig(
        `${name}-async`,
        {
          functionName: fn.name,
          maximumRetryAttempts: args.functionRetries ?? 0,
          maximumEventAgeInSeconds: 3600,
          destinationConfig: { onFailure: { destination: dlq.arn } },
        },
        { parent: this },
      );
      targetArn = fn.arn;
      schedulerStatements = [
        { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [fn.arn] },
        { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [dlq.arn] },
      ];
      this.functionArn = fn.arn;
      this.functionName = fn.name;
      this.runNowCommand = pulumi.all([region, fn.name]).apply(([reg, fnName]) => lambdaInvokeCommand(reg, fnName, runNowPayload(args.taskName)));
      // The image's handler runs on-demand tasks named in the event (tasks/handler.ts); a zip function runs only its own task.
      this.onDemandCommand = (task, options) =>
        code.kind === "image"
          ? pulumi.all([region, fn.name]).apply(([reg, fnName]) => lambdaInvokeCommand(reg, fnName, JSON.stringify({ task, options })))
          : pulumi.output(`${task}: not in the ${args.taskName} function (a zip of that task alone); run it with npm run task -- ${task}`);
    } else {
      taskRole = new aws.iam.Role(
        `${name}-role`,
        { name: physicalName(`${name}-role`, 64), description: `${name}: runs the ${args.taskName} task`, assumeRolePolicy: assumeRolePolicy("ecs-tasks.amazonaws.com", account), tags },
        { parent: this },
      );
      // IAM refuses an empty policy: a task that needs nothing gets none.
      if (callerStatements.length > 0) {
        new aws.iam.RolePolicy(`${name}-role`, { role: taskRole.id, policy: policyJson(callerStatements) }, { parent: this });
      }

      // The execution role pulls the image and writes the container's output to the log group.
      const execRole = new aws.iam.Role(
        `${name}-exec`,
        { name: physicalName(`${name}-exec`, 64), description: `${name}: starts the ${args.taskName} container`, assumeRolePolicy: assumeRolePolicy("ecs-tasks.amazonaws.com", account), tags },
        { parent: this },
      );
      const ecrStatements = pulumi.output(fargate.imageUri).apply((uri): IamStatement[] => {
        const m = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/([^:@]+)/.exec(uri);
        if (!m) return [];
        return [
          // AWS authorises GetAuthorizationToken only on "*".
          { Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: ["*"] },
          { Effect: "Allow", Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], Resource: [`arn:aws:ecr:${m[2]}:${m[1]}:repository/${m[3]}`] },
        ];
      });
      new aws.iam.RolePolicy(
        `${name}-exec`,
        { role: execRole.id, policy: pulumi.all([ecrStatements, logWrite]).apply(([ecr, logs]) => policyJson([...ecr, logs])) },
        { parent: this },
      );

      const taskDef = new aws.ecs.TaskDefinition(
        `${name}`,
        {
          family: physical,
          requiresCompatibilities: ["FARGATE"],
          networkMode: "awsvpc",
          cpu: String(fargate.cpu),
          memory: String(fargate.memory),
          runtimePlatform: { cpuArchitecture: "ARM64", operatingSystemFamily: "LINUX" },
          executionRoleArn: execRole.arn,
          taskRoleArn: taskRole.arn,
          ...(fargate.ephemeralStorageGb ? { ephemeralStorage: { sizeInGib: fargate.ephemeralStorageGb } } : {}),
          containerDefinitions: pulumi
            .all([fargate.imageUri, pulumi.all(environment), logGroup.name, region])
            .apply(([image, env, group, reg]) =>
              JSON.stringify([
                {
                  name: args.taskName,
                  image,
                  essential: true,
                  ...(fargate.entryPoint ? { entryPoint: fargate.entryPoint } : {}),
                  ...(fargate.command ? { command: fargate.command } : {}),
                  environment: Object.entries(env)
                    .sort(([a], [b]) => a.localeCompare(b))
                    .map(([k, v]) => ({ name: k, value: v })),
                  logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": group, "awslogs-region": reg, "awslogs-stream-prefix": args.taskName } },
                },
              ]),
            ),
          tags,
        },
        { parent: this },
      );
      targetArn = pulumi.output(fargate.cluster);
      const network = { subnets: fargate.subnets ?? args.vpc!.subnetIds, securityGroups: fargate.securityGroups ?? args.vpc!.securityGroupIds };
      ecsParameters = {
        taskDefinitionArn: taskDef.arn,
        launchType: "FARGATE",
        taskCount: 1,
        platformVersion: "LATEST",
        networkConfiguration: { ...network, assignPublicIp: false },
      };
      schedulerStatements = [
        {
          Effect: "Allow",
          Action: ["ecs:RunTask"],
          Resource: [taskDef.arn],
          Condition: pulumi.output(fargate.cluster).apply((c) => ({ ArnEquals: { "ecs:cluster": c } })),
        },
        {
          Effect: "Allow",
          Action: ["iam:PassRole"],
          Resource: [taskRole.arn, execRole.arn],
          Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
        },
        { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [dlq.arn] },
      ];
      this.taskDefinitionArn = taskDef.arn;
      const started = pulumi.all([region, fargate.cluster, taskDef.arn, network.subnets, network.securityGroups]);
      this.runNowCommand = started.apply(([reg, cluster, def, subnets, securityGroups]) => ecsRunTaskCommand(reg, cluster, def, { subnets, securityGroups }));
      // The container's entry point is node (image/Dockerfile): the command names the script and the task.
      this.onDemandCommand = (task, options) =>
        started.apply(([reg, cluster, def, subnets, securityGroups]) =>
          ecsRunTaskCommand(reg, cluster, def, { subnets, securityGroups }, { container: args.taskName, command: ["cli.js", task, ...cliArguments(options)] }),
        );
    }

    this.watchStart = jobWatchStart(name, { created: taskRole.createDate, paused: args.paused, what: `task ${args.taskName} (${name})` }, { parent: this });
    const schedulerRole = new aws.iam.Role(
      `${name}-scheduler`,
      {
        name: physicalName(`${name}-scheduler`, 64),
        description: `${name}: lets EventBridge Scheduler start the ${args.taskName} task`,
        assumeRolePolicy: assumeRolePolicy("scheduler.amazonaws.com", account),
        tags,
      },
      { parent: this },
    );
    const schedulerPolicy = new aws.iam.RolePolicy(`${name}-scheduler`, { role: schedulerRole.id, policy: policyJson(schedulerStatements) }, { parent: this });

    const schedule = new aws.scheduler.Schedule(
      `${name}`,
      {
        name: physical,
        description: args.description.slice(0, 512),
        scheduleExpression: args.schedule.expression,
        scheduleExpressionTimezone: args.schedule.timezone,
        flexibleTimeWindow: { mode: "OFF" },
        state: args.paused ? "DISABLED" : "ENABLED",
        target: {
          arn: targetArn,
          roleArn: schedulerRole.arn,
          // The container is named after the task (its task definition above).
          ...(fargate ? { ecsParameters, input: fargateScheduledInput(args.taskName) } : { input: scheduledPayload(args.taskName) }),
          retryPolicy: {
            maximumRetryAttempts: args.retry?.maximumRetryAttempts ?? 3,
            maximumEventAgeInSeconds: args.retry?.maximumEventAgeSeconds ?? 3600,
          },
          deadLetterConfig: { arn: dlq.arn },
        },
      },
      { parent: this, dependsOn: [schedulerPolicy] },
    );
    // The function and the task definition family are both named `physical`.
    recordSchedule({
      name: physical,
      kind: TASK_CATALOGUE[args.taskName].scheduled.kind,
      schedule: args.schedule,
      configKey: args.scheduleKey,
      paused: args.paused === true,
      starts: { runner: fargate ? "fargate" : "lambda", name: physical },
    });

    // ---------------------------------------------------------------- alarms
    const emfDims: Record<string, string> = { service: args.regime, Task: args.taskName, ...(args.instance ? { Instance: args.instance } : {}) };
    const alarms: aws.cloudwatch.MetricAlarm[] = [];
    const alarm = (metric: string, severity: Severity, runbook: string, treat: "breaching" | "notBreaching" | "ignore", a: AlarmArgs, paused = false) =>
      alarms.push(createAlarm(args.regime, { resource: alarmResource, metric, severity, runbook, treatMissingData: treat, paused, args: a }, args.alarmTopics, { parent: this }, tags));
    const logs = `log group ${fargate ? `/ecs/${physical}` : `/aws/lambda/${physical}`}`;

    // A failed run keeps the alarm on until the next run succeeds ("ignore": no run, no change); the
    // period holds the run's stamp until its datapoint arrives (runAlarmPeriodSeconds).
    const runPeriod = runAlarmPeriodSeconds(fargate ? "fargate" : "lambda", args.timeoutSeconds);
    alarm(
      "errors",
      args.severity,
      `The ${args.taskName} task (${args.description}) failed. Read the last run's one-line reason in the ${logs}, fix the cause, then run it by hand with \`npm run task -- ${args.taskName}\`.`,
      "ignore",
      fargate
        ? { namespace, metricName: "TaskFailed", dimensions: emfDims, statistic: "Sum", period: runPeriod, evaluationPeriods: 1, comparisonOperator: "GreaterThanOrEqualToThreshold", threshold: 1 }
        : {
            namespace: "AWS/Lambda",
            metricName: "Errors",
            dimensions: { FunctionName: this.functionName! },
            statistic: "Sum",
            period: runPeriod,
            evaluationPeriods: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
            threshold: 1,
          },
    );
    const nearTimeoutMs = Math.floor(args.timeoutSeconds * 1000 * NEAR_TIMEOUT_FRACTION);
    alarm(
      "duration",
      lowerSeverity(args.severity),
      `The ${args.taskName} task ran longer than 80 % of its ${args.timeoutSeconds} s timeout. It will soon be cut off: shrink its work (time budget, batch size), raise the timeout${fargate ? "" : ", or move it to Fargate"}.`,
      "ignore",
      fargate
        ? { namespace, metricName: "TaskDuration", dimensions: emfDims, statistic: "Maximum", period: runPeriod, evaluationPeriods: 1, comparisonOperator: "GreaterThanThreshold", threshold: nearTimeoutMs }
        : {
            namespace: "AWS/Lambda",
            metricName: "Duration",
            dimensions: { FunctionName: this.functionName! },
            statistic: "Maximum",
            period: runPeriod,
            evaluationPeriods: 1,
            comparisonOperator: "GreaterThanThreshold",
            threshold: nearTimeoutMs,
          },
    );
    this.missedRunWatched = window !== undefined;
    // Runs, not successes: a started run that fails pages through the errors alarm (same severity).
    const countsRuns = successFromLambda && missedRunCountsInvocations(args);
    if (window) {
      const minutes = Math.round((window.period * window.evaluationPeriods) / 60);
      const toPage = Math.round(missedRunTimeToPageSeconds(window) / 60);
      alarm(
        "missed-run",
        args.missedRunSeverity ?? args.severity,
        countsRuns
          ? `No run of the ${args.taskName} task was started in ${minutes} minutes (schedule ${args.schedule.expression} ${args.schedule.timezone}; a late delivery and the zone's clock change are allowed for; pages at most ${toPage} minutes after the last run; a run that fails pages at once through the errors alarm). Check that the schedule is enabled, the dead-letter queue, and the ${logs}.`
          : `No successful run of the ${args.taskName} task was recorded in ${minutes} minutes (schedule ${args.schedule.expression} ${args.schedule.timezone}; a late delivery, the zone's clock change and a slow run are allowed for; pages at most ${toPage} minutes after the last success). Check that the schedule is enabled, the dead-letter queue, and the ${logs}.`,
        "breaching",
        {
          // Gated on the job's watch start (watchGate): a period before it counts as a run, so a new
          // job does not page before it was due; a paused job's every period counts, so its alarm
          // sits OK while paused and goes to ALARM (a state change, which notifies) once the resumed
          // job misses its window.
          metricQueries: watchGate({
            metrics: countsRuns
              ? // Lambda's own count of the function's runs.
                [{ id: "invocations", metric: { namespace: "AWS/Lambda", metricName: "Invocations", dimensions: { FunctionName: this.functionName! }, stat: "Sum", period: window.period } }]
              : successFromLambda
              ? // Successful runs = invocations - function errors (timeouts and crashes included).
                [
                  { id: "invocations", metric: { namespace: "AWS/Lambda", metricName: "Invocations", dimensions: { FunctionName: this.functionName! }, stat: "Sum", period: window.period } },
                  { id: "errors", metric: { namespace: "AWS/Lambda", metricName: "Errors", dimensions: { FunctionName: this.functionName! }, stat: "Sum", period: window.period } },
                ]
              : [{ id: "successes", metric: { namespace, metricName: "TaskSucceeded", dimensions: emfDims, stat: "Sum", period: window.period } }],
            ...(successFromLambda && !countsRuns ? { value: "FILL(invocations, 0) - FILL(errors, 0)" } : {}),
            since: this.watchStart,
            paused: args.paused,
            label: countsRuns ? "runs (1 before the watch start)" : "successful runs (1 before the watch start)",
            what: `${alarmResource} missed-run`,
          }),
          ...noSuccessWithin(window),
        },
        args.paused,
      );
    }
    alarm(
      "dead-letters",
      args.severity,
      `A run of the ${args.taskName} task could not be ${fargate ? "started" : "started or failed"}: its event is in the dead-letter queue ${physicalName(`${name}-dlq`, 80)}. Read the message attributes (error code and message), fix the cause, then purge the queue.`,
      "notBreaching",
      {
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: dlq.name },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 1,
        comparisonOperator: "GreaterThanThreshold",
        threshold: 0,
      },
    );

    this.scheduleName = schedule.name;
    this.scheduleArn = schedule.arn;
    this.roleArn = taskRole.arn;
    this.logGroupName = logGroup.name;
    this.dlqArn = dlq.arn;
    this.alarmNames = pulumi.all(alarms.map((a) => a.name));
    this.registerOutputs({
      functionArn: this.functionArn,
      functionName: this.functionName,
      taskDefinitionArn: this.taskDefinitionArn,
      scheduleName: this.scheduleName,
      roleArn: this.roleArn,
      logGroupName: this.logGroupName,
      dlqArn: this.dlqArn,
      alarmNames: this.alarmNames,
      runNowCommand: this.runNowCommand,
    });
  }
}

type AlarmArgs = Parameters<typeof createAlarm>[1]["args"];
