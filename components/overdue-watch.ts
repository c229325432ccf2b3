/**
 * The overdue watcher: every job is watched whatever its interval. CloudWatch metric alarms look back
 * at most 7 days (PutMetricAlarm: period x evaluationPeriods <= 604,800 s), so a monthly or quarterly
 * job (every restore drill of the guides) has no missed-run alarm of its own. Such jobs record each
 * successful run as a marker object under `runs/<database>/<task>/` in the backup vault
 * (tasks/lib/run-marker.ts); one hourly `overdue-watch` task per regime reads the newest marker of
 * each, and publishes `Overdue` = 1 (dimension Job = `<database>/<task>`) for each run in which the
 * run the job's schedule expected after its last success is later than the job's tolerance (its run
 * time plus the Scheduler's hour of retries). A job on time publishes nothing (a log line): a
 * custom metric is billed for each hour it is sent in, so a 0 every hour for every job would cost a
 * full $0.30 a month each.
 *
 * Alarms: one `<regime>-<job resource>-overdue-<severity>` per job, paging at the job's own severity
 * when Overdue >= 1 in the last hour; missing data is not breaching (the job is on time, or the
 * watcher did not run). A watcher that stops is paged by its own task alarms (missed run within 2 h
 * 7 min with missing data breaching, errors, dead letters), which page at the highest severity among
 * the jobs: one page for the watcher, where a breaching overdue alarm paged once per job.
 *
 * Jobs that write no marker carry `history`: the watcher reads their last run from a metric with
 * GetMetricData, which IAM authorises only on `*` (STAR_ONLY_TASK_ACTIONS); the grant is added only
 * when such a job is watched. Monthly and quarterly reminders (components/reminders.ts) name their own
 * schedule group's AWS/Scheduler InvocationAttemptCount; weekly file backups
 * (components/file-backups.ts) the success metric their hosts send after each backup.
 *
 * A database whose rpoHours is longer than a metric alarm looks back (components/database.ts) gets a
 * job with `maxAgeSeconds`: overdue once its newest backup's run marker is older than rpoHours; its
 * alarm, `<regime>-db-<id>-rpo-overdue-P0`, is the database's RPO alarm. A paused job keeps its alarm
 * with the actions off (`paused`), as a paused backup's metric RPO alarm does.
 *
 * State Manager associations (components/association-watch.ts: logrotate configs, the CloudWatch
 * agent config, file backups on tagged instances) carry `association`: the watcher reads each one's
 * last run with SSM DescribeAssociation, granted on exactly those associations' ARNs
 * (`arn:aws:ssm:<region>:<account>:association/<id>`). A regime without databases has no backup
 * vault: its watcher then watches reminders and associations only, which need none (a reminder's
 * watch start is its schedule group's creation date, an association's its own creation date).
 *
 * Worst-case time to page for a missed job: its expected run + tolerance + up to one watcher interval
 * (1 h) + the alarm's period (1 h): WATCHER_DELAY_SECONDS after the due time.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, createAlarms, type AlertTopics, type Severity } from "./alarms";
import type { BackupVault } from "./backup-vault";
import type { IamStatement } from "./iam";
import { METRIC_HOURLY } from "../regime/limits";
import { mostUrgent } from "../regime/severity";
import type { TaskEnvironment } from "./task-settings";
import { jobMissedRunWindow, ScheduledTask, STAR_ONLY_TASK_ACTIONS } from "./scheduled-task";
import type { WatchedJob } from "../tasks/overdue-watch";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";
import { lambdaRuns } from "../tasks/lib/metric-history";
import { WATCHING_SINCE } from "../tasks/lib/run-marker";
import { alertTopicsSetting, alertTopicsSettingBytes, subscriptionCheckStatements, unreachableAlarmSpecs, type SubscriptionCheck } from "./subscription-watch";

/** A job the watcher watches, with what its alarm needs; a reminder's `since` and an association's id are outputs of their resources. */
export interface WatchedJobSpec extends Omit<WatchedJob, "since" | "association"> {
  since?: pulumi.Input<string>;
  association?: { id: pulumi.Input<string> };
  /** The job's alarm resource (`db-app-restore-drill`): its overdue alarm is `<regime>-<resource>-overdue-<severity>`. */
  resource: string;
  severity: Severity;
  /** For the runbook: "restore-drill of database app". */
  description: string;
  /** For the runbook, after "Read the overdue-watch log, ": where else to look and what to do by hand, ending in a full stop. */
  byHand: string;
  /** The job is paused on purpose: its overdue alarm is created with its actions off. */
  paused?: boolean;
}

/** The watcher's schedule: hourly, so a missed job pages within two hours of its due time. */
export const OVERDUE_WATCH_SCHEDULE = { expression: "rate(1 hour)", description: "every hour", intervalSeconds: 3600 } as const;
/** Seconds from a job's due time (expected run + tolerance) to the overdue page, at worst: one watcher interval plus the alarm's one-hour period. */
export const WATCHER_DELAY_SECONDS = 2 * 3600;
/**
 * The watcher's own severity: the most urgent among its jobs. Its missed-run, errors and dead-letter
 * alarms page at it, and they are what pages when the watcher stops (its jobs' overdue alarms treat
 * missing data as not breaching). Used by the component and by the promise model.
 */
export function watcherSeverity(jobs: { severity: Severity }[]): Severity {
  const s = mostUrgent(jobs.map((j) => j.severity));
  if (!s) throw new Error("jobs: the overdue watcher needs at least one job");
  return s;
}

/** The watcher's Lambda timeout: it reads every job's metric history in batches of 500 queries, then markers and associations 8 at a time (tasks/overdue-watch.ts). */
export const WATCHER_TIMEOUT_SECONDS = 120;

/** The watcher's missed-run alarm window (its hourly schedule, as ScheduledTask builds it): for the promise model. */
export const WATCHER_MISSED_RUN_WINDOW = jobMissedRunWindow({ schedule: { ...OVERDUE_WATCH_SCHEDULE, timezone: "UTC" }, longestRunSeconds: WATCHER_TIMEOUT_SECONDS });

/**
 * How far back the watcher reads a job's metric history (seconds): its longest interval, its tolerance
 * and one more hour for the hour-aligned data points, at most the 455 days CloudWatch keeps them.
 */
export function historyLookbackSeconds(intervalSeconds: number, toleranceSeconds: number): number {
  return Math.min(METRIC_HOURLY.retentionSeconds, intervalSeconds + toleranceSeconds + METRIC_HOURLY.periodSeconds);
}

/** Added to a watched job's run time before it is overdue: the Scheduler's retries (maximumEventAgeSeconds 3600). */
export const OVERDUE_TOLERANCE_MARGIN_SECONDS = 3600;

/**
 * The watcher's job for a scheduled Lambda task too sparse for a missed-run alarm (a weekly
 * redis-health or endpoint check), or undefined when an alarm watches it (`window`) or it is paused.
 * Its last run is its function's AWS/Lambda Invocations history (free, 1-hour data points kept 455
 * days), less its Errors where its missed-run alarm would count successes (`countsRuns` false: the
 * endpoint checks on a gapped schedule); tolerance: its timeout + the Scheduler's hour of retries;
 * watch start `since`, its role's creation date (made with the function, kept across its updates).
 * Job `task/<resource>`, overdue alarm `<regime>-<resource>-overdue-<severity>` beside its task alarms.
 */
export function lambdaTaskWatchedJob(t: {
  resource: string;
  functionName: string;
  since?: pulumi.Input<string>;
  schedule: { expression: string; timezone: string; intervalSeconds: number };
  timeoutSeconds: number;
  severity: Severity;
  countsRuns: boolean;
  description: string;
  window: unknown;
  paused?: boolean;
}): WatchedJobSpec | undefined {
  if (t.window || t.paused) return undefined;
  const toleranceSeconds = t.timeoutSeconds + OVERDUE_TOLERANCE_MARGIN_SECONDS;
  const runs = lambdaRuns(t.functionName);
  return {
    job: `task/${t.resource}`,
    resource: t.resource,
    since: t.since,
    expression: t.schedule.expression,
    timezone: t.schedule.timezone,
    toleranceSeconds,
    history: { metric: runs.metric, ...(t.countsRuns ? {} : { failures: runs.failures }), lookbackSeconds: historyLookbackSeconds(t.schedule.intervalSeconds, toleranceSeconds) },
    severity: t.severity,
    description: `${t.description} (function ${t.functionName}, ${t.schedule.expression} ${t.schedule.timezone})`,
    byHand: `then check that its schedule is enabled, its dead-letter queue and its log group /aws/lambda/${t.functionName}; run it once by hand (the runNow output).`,
  };
}

export interface OverdueWatchArgs {
  regime: string;
  jobs: WatchedJobSpec[];
  /** The backup vault holding the jobs' run markers; a regime without databases has none (then no job may have a prefix). */
  vault?: BackupVault;
  archive: pulumi.asset.Archive;
  timezone: string;
  alarmTopics: AlertTopics;
  logRetentionDays: number;
  /** The alert topics whose subscriptions each run checks (components/subscription-watch.ts); unset: none. */
  subscriptionCheck?: SubscriptionCheck;
  tags?: Record<string, string>;
}

/** One job of WATCHED_JOBS, with its deploy-time values (`since`, the association's id) resolved. */
function watchedJobEntry(j: WatchedJobSpec, since: string | undefined, id: string | undefined) {
  return {
    job: j.job,
    ...(j.prefix ? { prefix: j.prefix } : {}),
    expression: j.expression,
    timezone: j.timezone,
    toleranceSeconds: j.toleranceSeconds,
    ...(j.history ? { history: j.history } : {}),
    ...(j.maxAgeSeconds !== undefined ? { maxAgeSeconds: j.maxAgeSeconds } : {}),
    ...(since ? { since } : {}),
    ...(id ? { association: { id } } : {}),
  };
}

/** WATCHED_JOBS of the overdue-watch task: what the task reads, in the job order given (an output: a reminder's `since` and an association's id are known at deploy). */
export function watchedJobsSetting(jobs: WatchedJobSpec[]): pulumi.Output<string> {
  return pulumi
    .all(jobs.map((j) => pulumi.all([j.since, j.association?.id]).apply(([since, id]) => watchedJobEntry(j, since, id))))
    .apply((list) => JSON.stringify(list));
}

/** Stand-ins as long as the deploy-time values: an ISO 8601 time with milliseconds, an association id (a UUID). */
const SINCE_STAND_IN = "2000-01-01T00:00:00.000Z";
const ASSOCIATION_ID_STAND_IN = "00000000-0000-0000-0000-000000000000";

/**
 * Bytes of WATCHED_JOBS (watchedJobsSetting) computed at plan time with stand-ins for its deploy-time
 * values: many jobs (20 monthly reminders, 50 databases' drills) pass Lambda's 4 KB environment, and
 * the setting then travels in the function's bundle (splitSettings).
 */
export function watchedJobsSettingBytes(jobs: WatchedJobSpec[]): number {
  return Buffer.byteLength(JSON.stringify(jobs.map((j) => watchedJobEntry(j, j.since === undefined ? undefined : SINCE_STAND_IN, j.association ? ASSOCIATION_ID_STAND_IN : undefined))));
}

/** The IAM resource of an association that ssm:DescribeAssociation authorises on (Service Authorization Reference, AWS Systems Manager: resource type `association`). */
export function associationArn(region: string, account: string, associationId: string): string {
  return `arn:aws:ssm:${region}:${account}:association/${associationId}`;
}

/**
 * The watcher's grants: its jobs' markers (read, and only watching-since.json written) when a job keeps
 * them in the vault, metric reads when a job's last run is its Scheduler history, and
 * ssm:DescribeAssociation on exactly the watched associations (`associationArns`, one per job with
 * `association`). Throws when a job has a prefix and there is no vault.
 */
export function overdueWatchStatements(
  jobs: WatchedJobSpec[],
  vault: Pick<BackupVault, "readStatements" | "writeStatements"> | undefined,
  associationArns: pulumi.Input<pulumi.Input<string>[]> = [],
): IamStatement[] {
  const marked = jobs.find((j) => j.prefix);
  if (marked && !vault) throw new Error(`jobs: ${marked.job} keeps its run markers in the backup vault, and the regime has none`);
  return [
    // Reads every marker; writes only the watch-start records (a job's `<prefix>watching-since.json`),
    // never a run marker: the watcher cannot record a run that did not happen.
    ...(marked ? [...vault!.readStatements(["runs/"]), ...vault!.writeStatements(["runs/"], { named: WATCHING_SINCE })] : []),
    ...(jobs.some((j) => j.history) ? [{ Effect: "Allow" as const, Action: [...STAR_ONLY_TASK_ACTIONS], Resource: ["*"] }] : []),
    ...(jobs.some((j) => j.association) ? [{ Effect: "Allow" as const, Action: ["ssm:DescribeAssociation"], Resource: associationArns }] : []),
  ];
}

/** Longest description a Lambda function takes (CreateFunction Description: 0 to 256 characters). */
const FUNCTION_DESCRIPTION_MAX = 256;

/**
 * The watcher's description: how many jobs it watches and their names, as many as fit in
 * FUNCTION_DESCRIPTION_MAX with how many more. It is the function's description and sits inside the
 * runbook of its alarms, ahead of what to do: a list of every job (600 reminders: 20,000 characters)
 * would push the runbook past CloudWatch's 1,024-character alarm description and cut off its
 * instructions.
 */
export function watcherDescription(jobs: string[]): string {
  const head = `watches ${jobs.length} jobs no missed-run alarm sees: `;
  const whole = `${head}${jobs.join(", ")}`;
  if (whole.length <= FUNCTION_DESCRIPTION_MAX) return whole;
  for (let n = jobs.length - 1; n >= 0; n--) {
    const d = `${head}${jobs.slice(0, n).join(", ")}${n ? " and" : ""} ${jobs.length - n} more (WATCHED_JOBS lists them all)`;
    if (d.length <= FUNCTION_DESCRIPTION_MAX) return d;
  }
  return head.trim();
}

/** A job's overdue alarm runbook: what was not recorded, then where to read and what to do by hand. */
export function overdueRunbook(j: WatchedJobSpec): string {
  const read = `Read the overdue-watch log ("job overdue: ${j.job}"), ${j.byHand}`;
  if (j.maxAgeSeconds !== undefined) return `No successful ${j.description} in the last ${Math.round(j.maxAgeSeconds / 3600)} h: the newest is older than the promise allows. ${read}`;
  const what = j.association ? "run of " : j.history?.scheduleGroup ? "start of " : "successful ";
  return `No ${what}${j.description} was recorded after the run its schedule (${j.expression} ${j.timezone}) expected, ${Math.round(j.toleranceSeconds / 60)} minutes of tolerance included. ${read}`;
}

export class OverdueWatch extends pulumi.ComponentResource {
  public readonly task: ScheduledTask;
  /** Job (`<database>/<task>`) -> its overdue alarm's name. */
  public readonly overdueAlarmNames: Record<string, pulumi.Output<string>> = {};
  public readonly alarmNames: pulumi.Output<string[]>;
  /** The unreachable alarm of each checked severity (components/subscription-watch.ts), in severity order. */
  public readonly unreachableAlarmNames: pulumi.Output<string[]>;

  constructor(name: string, args: OverdueWatchArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:watch:OverdueWatch", name, {}, opts);
    if (args.jobs.length === 0) throw new Error("jobs: the overdue watcher needs at least one job");
    const highest = watcherSeverity(args.jobs);
    const check = args.subscriptionCheck?.severities.length ? args.subscriptionCheck : undefined;
    const associated = args.jobs.filter((j) => j.association);
    const associationArns =
      associated.length === 0
        ? []
        : pulumi
            .all([aws.getRegionOutput({}, { parent: this }).region, aws.getCallerIdentityOutput({}, { parent: this }).accountId, pulumi.all(associated.map((j) => j.association!.id))])
            .apply(([region, account, ids]) => ids.map((id) => associationArn(region, account, id)));
    this.task = new ScheduledTask(
      `${name}-watch`,
      {
        regime: args.regime,
        taskName: "overdue-watch",
        description: watcherDescription(args.jobs.map((j) => j.job)),
        code: { kind: "zip", archive: args.archive, handler: "index.handler" },
        environment: {
          ...(args.vault ? { BACKUP_BUCKET: args.vault.bucketName } : {}),
          WATCHED_JOBS: watchedJobsSetting(args.jobs),
          ...(check ? { ALERT_TOPICS: alertTopicsSetting(check, args.alarmTopics) } : {}),
        } satisfies TaskEnvironment<"overdue-watch">,
        environmentSizes: { WATCHED_JOBS: watchedJobsSettingBytes(args.jobs), ...(check ? { ALERT_TOPICS: alertTopicsSettingBytes(check, args.regime) } : {}) },
        schedule: { ...OVERDUE_WATCH_SCHEDULE, timezone: args.timezone },
        timeoutSeconds: WATCHER_TIMEOUT_SECONDS,
        memoryMb: 256,
        // Reads every job's markers; writes only watching-since.json where a job has none yet.
        policyStatements: [...overdueWatchStatements(args.jobs, args.vault, associationArns), ...(check ? subscriptionCheckStatements(check, args.alarmTopics) : [])],
        logRetentionDays: args.logRetentionDays,
        alarmTopics: args.alarmTopics,
        severity: highest,
        tags: args.tags,
      },
      { parent: this },
    );
    const alarms = args.jobs.map((j) => {
      const a = createAlarm(
        args.regime,
        {
          resource: j.resource,
          metric: "overdue",
          severity: j.severity,
          runbook: overdueRunbook(j),
          // Overdue is sent only for an overdue job: no data is a job on time (a stopped watcher pages through its own alarms).
          treatMissingData: "notBreaching",
          paused: j.paused,
          args: {
            namespace: METRICS_NAMESPACE_DEFAULT,
            metricName: "Overdue",
            dimensions: { service: args.regime, Task: "overdue-watch", Job: j.job },
            statistic: "Maximum",
            period: 3600,
            evaluationPeriods: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
            threshold: 1,
          },
        },
        args.alarmTopics,
        { parent: this },
        args.tags,
      );
      this.overdueAlarmNames[j.job] = a.name;
      return a;
    });
    this.unreachableAlarmNames = check ? createAlarms(args.regime, unreachableAlarmSpecs(args.regime, check), args.alarmTopics, { parent: this }, args.tags) : pulumi.output([]);
    this.alarmNames = pulumi.all([pulumi.all(alarms.map((a) => a.name)), this.unreachableAlarmNames]).apply(([own, unreachable]) => [...own, ...unreachable]);
    this.registerOutputs({ alarmNames: this.alarmNames });
  }
}
