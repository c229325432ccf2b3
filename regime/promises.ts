/**
 * The regime's promises and what the provisioned resources really give. A stack file promises an RPO
 * (`rpoHours`), a verify age (`maxAgeHours`), an RTO (`rtoMinutes`), retention days, that every job
 * runs as scheduled and is watched, that an outage pages, and that each paged severity has someone
 * to hear it (regime/paging-promises.ts); this engine takes what the program
 * declares for them (a `Declared` model: schedules with their timezones, alarm windows, lifecycle
 * days, Lambda limits, environment variables, names) and computes each promise's real figure over
 * the 12 months after a start date, with EventBridge Scheduler's daylight-saving behaviour
 * (regime/scheduler-time.ts) and CloudWatch's alarm evaluation.
 *
 * Where the figures come from: the `Declared` model is built before anything is provisioned, from the
 * validated regime and the very functions the components use to build their resources
 * (components/promises.ts: `databaseSchedules`, `missedRunWindow`, `rpoAlarmWindow`,
 * `endpointsSetting`, `tierRules`, `physicalName`). So `pulumi up` refuses a broken promise before
 * the first resource is registered (a check over resource inputs would see them only as they are
 * created). The offline plan uses the same model and engine, and also audits every resource it
 * recorded under mocks against the AWS limits (plan/promises.ts); a test checks that the model's
 * schedules and alarm windows are the recorded resources' own.
 *
 * Each promise is one of three kinds:
 * - `config`: the stack file breaks it (a 02:00 backup in a zone that skips 02:00 once a year against
 *   rpoHours 26): refused, one line naming the key, unless `acceptedRisks` names that key.
 * - `limit`: an AWS limit that fails only at deploy (an alarm window CloudWatch refuses, a Lambda
 *   environment over 4 KB, a name too long, over 1,000 lifecycle rules in a bucket): refused, and no
 *   acceptance helps (AWS refuses it anyway). A default quota the account can raise (500 schedule
 *   groups) is a `config` promise instead: refused, and acceptable once the quota is raised.
 * - `program`: a gap the program itself leaves today (a host group's association on a 5-field cron
 *   the overdue watcher cannot follow; a restore drill on Lambda is cut off at 15 minutes; an alarm
 *   that pages later than it promises): reported as "unkept by the program" with its
 *   figure, never refused, so a regime is not blocked by what it cannot change.
 *
 * CloudWatch model: an alarm evaluates a sliding window by default (CloudWatch user guide, "Alarm
 * evaluation window"; the program sets no EvaluationWindow): over N periods with missing data
 * "breaching" and every period required, it pages once the last N x period holds no success, at the
 * next evaluation (about a minute). A success is seen up to its run's length plus
 * METRIC_VISIBLE_DELAY_SECONDS after the run starts. PutMetricAlarm API reference: period x evaluation
 * periods must stay within 604,800 s (7 days), and within 86,400 s when the period is under 3,600 s;
 * a period is 10, 20, 30 or a multiple of 60 seconds.
 *
 * Watch start: every alarm on something that should happen (a run, a success, a healthy check) is
 * gated on its job's watch start, a creation date AWS stamps on a resource made with the job, or
 * the `pulumi up` that last resumed the job when that is later (components/alarms.ts watchGate,
 * components/watch-start.ts): a period that starts before it counts as one success, every later
 * one holds its count with no data filled as 0. After the watch start the alarm pages exactly as
 * modelled here (the figures below); before it, it is OK, so a new job or database does not page
 * before it was due. A paused job's alarm counts every period as good and sits OK; resumed, it is
 * watched from the resume as a new job is.
 */
import { DEPLOY_LIMITS, limitExcess, LAMBDA_MAX_TIMEOUT_SECONDS, type DeployLimit, type DeployLimitId } from "./limits";
import { SEVERITIES, type Severity } from "./severity";
import { fileBackupRetention, retentionPromises } from "./retention-promises";
import { keptFor, type LifecycleRuleInput } from "./retention";
import { logSetPromise, type DeclaredLogSet } from "./log-retention";
import { pagingPromises, type DeclaredPage, type DeclaredSubscribers } from "./paging-promises";
import type { Tier, TierRules } from "../tasks/lib/tiers";
import { clockChangeNear, FIRST_RUN_HORIZON_YEARS, firstRunAfter, formatDuration, localDate, longestGap, scheduleShiftSeconds, schedulerRuns, zoneOffset } from "./scheduler-time";

const DAY_MS = 86_400_000;
/** CloudWatch evaluates an alarm once a minute (every 10 s only for 10 or 30 s periods): CloudWatch user guide, "Using Amazon CloudWatch alarms". */
export const ALARM_EVALUATION_SECONDS = 60;
/**
 * How long after a run ends its success may take to be visible to an alarm: Lambda sends its metrics
 * when the function finishes, "in 1-minute intervals" (Lambda developer guide, "Using CloudWatch
 * metrics with Lambda"), and embedded-metric log lines are extracted from the log stream after they
 * are written; AWS states no bound. Five minutes.
 */
export const METRIC_VISIBLE_DELAY_SECONDS = 300;
/** PutMetricAlarm: period x evaluationPeriods at most 7 days; at most 1 day when the period is under an hour. */
export const ALARM_WINDOW_MAX_SECONDS = 604_800;
export const ALARM_WINDOW_MAX_SHORT_PERIOD_SECONDS = 86_400;
/** Lambda: the environment variables of a function total at most 4 KB (keys and values). */
export const LAMBDA_ENVIRONMENT_MAX_BYTES = 4096;

export type PromiseKind = "config" | "limit" | "program";
/** held; broken (refused); accepted (broken, named in acceptedRisks); unkept (a gap of the program, reported); paused (`paused: true`: not run, not watched, on purpose). */
export type PromiseStatus = "held" | "broken" | "accepted" | "unkept" | "paused";

export interface PromiseResult {
  /** Config key the promise belongs to: `databases[app].backup.schedule`. */
  key: string;
  /** What is promised, in the config's terms: "a backup at least every 26 h (rpoHours)". */
  promise: string;
  /** The real figure: "47 h", "15 min (Lambda)", "not watched". */
  figure: string;
  /** The figure in seconds (days for retention) where it is a number, for diffs and tests. */
  value?: number;
  status: PromiseStatus;
  kind: PromiseKind;
  /** First date (local to the schedule, YYYY-MM-DD) the promise breaks, when it breaks on a date. */
  firstBreak?: string;
  /** Why it breaks and what would keep it (broken, accepted and unkept promises). */
  detail?: string;
  /** The refusal line's parts: the shared cause (a skipped run), this promise's effect, what keeps it. */
  cause?: string;
  effect?: string;
  remedy?: string;
  /**
   * How many times in the 12 months it breaks, when that is more than a date's event (a skipped or
   * repeated hour) can explain: a break on good days, every day or week. acceptedRisks cannot accept
   * it: an acceptance names a risk taken on purpose, not a page that comes every day.
   */
  recurring?: number;
}

/** More breaks a year than the clock's two changes explain: the break is the schedule's own, not a date's. */
export const RECURRING_BREAKS = 3;

/** Period, evaluation periods and datapoints to alarm of a CloudWatch metric alarm. */
export interface AlarmWindow {
  period: number;
  evaluationPeriods: number;
  datapointsToAlarm?: number;
}

export interface DeclaredJob {
  /** Config key of the schedule: `databases[app].backup.schedule`. */
  key: string;
  /** "backup of database app". */
  label: string;
  /** The schedule as written ("daily at 02:00"). */
  text: string;
  expression: string;
  timezone: string;
  /** Longest wall-clock interval (regime/schedule.ts). */
  intervalSeconds: number;
  /** The missed-run alarm's window; undefined: no alarm watches the job. */
  watch?: AlarmWindow;
  /** The longest a successful run takes before its success is counted (its timeout); unset: its success is its start (a reminder's invocation attempt). */
  longestRunSeconds?: number;
  /** Why nothing watches it, when `watch` is undefined. */
  unwatchedBecause?: string;
  /**
   * Whose last run the figure counts from, for a job that runs on several hosts: "on each of its 2 SSH
   * hosts" (each host watched on its own), "on any instance tagged App=web" (watched together). Unset:
   * the job runs once.
   */
  lastRunOn?: string;
  /**
   * Watched by the overdue watcher instead of a missed-run alarm (jobs further apart than an alarm can
   * look back): paged `toleranceSeconds` (+ the run's own time limit, unless `startOnly`) and
   * `delaySeconds` after the run its schedule expected. `startOnly`: the watcher sees the job's start
   * (a Scheduler invocation attempt), so its run time adds nothing. `watcher`: the watcher's own
   * missed-run alarm and its severity. The job's overdue alarm hears only from a running watcher
   * (Overdue is sent only for an overdue job; missing data is not breaching), so the promise holds
   * only while a stopped watcher pages on its own, at the job's severity or a more urgent one.
   */
  overdueWatch?: { toleranceSeconds: number; delaySeconds: number; startOnly?: boolean; watcher?: { window?: AlarmWindow; severity?: string }; history?: DeclaredHistory };
  severity?: string;
  /** `paused: true`: its schedule is disabled and its watch silent; its promises are reported paused, never refused. */
  paused?: boolean;
}

/**
 * Where the overdue watcher reads a job's last run when that is a metric's history (a reminder's
 * schedule group, a weekly file backup's success metric): `of` names it for the refusal line,
 * `keptSeconds` is how long CloudWatch keeps the data points read (METRIC_HOURLY: 455 days), and
 * `neededSeconds` how far back the watcher must reach to find the last run of a job on time (its
 * longest interval, its tolerance, one more hour for the hour-aligned data points); the zone's clock
 * change is added by the engine.
 */
export interface DeclaredHistory {
  of: string;
  keptSeconds: number;
  neededSeconds: number;
}

export interface DeclaredAlarm {
  /** Config key the alarm carries: `databases[app].backup.rpoHours`. */
  key: string;
  name: string;
  window: AlarmWindow;
  /** Seconds between two checks that feed the metric (an endpoint's check interval); 0 when the fault itself is the datapoint. */
  checkIntervalSeconds: number;
  /**
   * Seconds from the fault to the datapoint that completes the alarm's condition, where that is not
   * one check interval + period x datapoints: checks further apart than a period (every 3 days), where
   * `failures` longest intervals pass and then the period holding the last failing check.
   */
  spanSeconds?: number;
  /**
   * Seconds the fault's data point may stand before what the alarm counts from: the RPO alarm counts
   * a backup from its success's stamp, which is its start or, for a run longer than the stamp may
   * reach back (METRIC_STAMP_MAX_AGE_SECONDS), that much before its end.
   */
  lagSeconds?: number;
  /**
   * The alarm reads a check's data points, stamped with their run's scheduled time (tasks/lib/metrics.ts
   * ofRunPeriod) but written when the run ends, up to `seconds` later (the checker's timeout): the
   * failing check that completes the alarm's condition is seen that much after its period, and the
   * page comes up to that much later. `missingBreaches`: the alarm counts a period without data as a
   * failed check; a healthy run that can end after the last period the alarm counts (`seconds` at
   * least the counted periods) is then evaluated as failed before it is seen, and pages an endpoint
   * that answered: a broken promise (`cause`: what makes the run that long; `remedy`: how to shorten
   * it or count more checks).
   */
  seenAfterRun?: { seconds: number; missingBreaches: boolean; cause: string; remedy: string };
  /**
   * The checks feeding the alarm are unevenly spaced while they run (regime/endpoints.ts
   * unevenChecksProblem): the alarm's periods are the shortest gap, the periods inside a longer one
   * hold no check. A broken promise of `key` (the schedule), once for all the alarms that carry it.
   */
  unevenChecks?: { key: string; schedule: string; shortestSeconds: number; longestSeconds: number };
  /** The promised time to the page, in seconds, and its wording; unset: the figure is reported only. */
  promisedSeconds?: number;
  promiseText?: string;
  /** When the figure applies, where the alarm sees faults only part of the time: "while checks run (checks run cron(...), ...)". */
  whileActive?: string;
  /** Key of the job whose `paused: true` turns this alarm's actions off (the backup for its RPO alarm, the endpoint checks for their down alarms): its promise is then paused too. */
  pausedWith?: string;
  /** The severity it pages (its name's suffix): a maintenance window or mute over a P0 or P1 alarm is judged against its promise. */
  severity?: string;
  /** The plan's component names it is registered under (`rt-health`), for windows and mutes that select components. */
  components?: string[];
  /** What the key's value is, for the limit line ("failuresBeforeAlarm 5"). */
  setting?: string;
  /** What keeps the window within CloudWatch's limits ("check more often"). */
  remedy?: string;
  /**
   * The alarm is the overdue watcher's (an RPO longer than a metric alarm looks back): `window` is its
   * overdue alarm's, and it pages up to `delaySeconds` (one watcher interval + the alarm's period)
   * after the fault is due. As for an overdue job, the promise holds only while a stopped watcher
   * pages on its own (`watcher`: its missed-run alarm and severity) at the alarm's severity or a more
   * urgent one; otherwise it is unkept by the program.
   */
  overdueWatch?: { delaySeconds: number; watcher?: { window?: AlarmWindow; severity?: string } };
}

export interface DeclaredDatabase {
  id: string;
  /** `databases[app]`. */
  key: string;
  backup: DeclaredJob;
  rpoHours: number;
  verify?: DeclaredJob & { maxAgeHours: number };
  drill?: { job: DeclaredJob; rtoMinutes: number; runner: "lambda" | "fargate" };
  /**
   * Per retention tier: the days promised, the lifecycle expiration, the days an expired version
   * lingers; `rule`, `prefix` and `status`: the id of the tier's lifecycle rule, the key prefix it
   * covers and its S3 status (unset: Enabled; `Disabled` while the backup is paused: none of its
   * expirations run).
   */
  retention: { tier: Tier; promisedDays: number; expireDays: number; noncurrentDays: number; rule?: string; prefix?: string; status?: "Enabled" | "Disabled" }[];
  /** Which tier each backup is written to (weeklyOn, monthlyOnDay, the backup schedule's zone); unset: tiers not judged against the schedule. */
  tiers?: TierRules;
  /**
   * Where a backup runs and how long it is expected to take (tasks/catalogue.ts backupRunSeconds, the
   * cost estimate's figure): a backup exists from its start plus `expectedSeconds`. `limitSeconds`:
   * the runner's limit on it (Lambda: its duration alarm's 720 s); unset on Fargate.
   */
  backupRun?: { runner: "lambda" | "fargate"; sizeGb: number; expectedSeconds: number; slowestSeconds?: number; limitSeconds?: number };
  /**
   * The backup vault's `AbortIncompleteMultipartUpload` days (one rule for every database in it): S3 may
   * abort an unfinished upload as soon as that many days after it started, and a backup's dump is one
   * upload open for its whole run. Unset: not judged.
   */
  abortIncompleteUploadDays?: number;
}

/**
 * A file backup (`logs.hostGroups[<g>].fileBackups[<name>]`) and what keeps its archives: its job
 * (the UTC schedule, `longestRunSeconds` its run limit: an archive is uploaded by then or not at all),
 * its prefix's lifecycle rule in the log archive bucket (`rule` id, `prefix`), expiring after
 * `retentionDays` and removing the old version `noncurrentDays` later, `Disabled` while `paused`.
 */
export interface DeclaredFileBackup {
  /** `logs.hostGroups[app].fileBackups[uploads]`. */
  key: string;
  job: DeclaredJob;
  retentionDays: number;
  noncurrentDays: number;
  rule: string;
  prefix: string;
  paused?: boolean;
}

export interface DeclaredFunction {
  key: string;
  name: string;
  environment: Record<string, string>;
  /** What keeps the environment within 4 KB; default "list fewer items". */
  remedy?: string;
}

/**
 * A collection or document the program provisions whose size follows from the config alone and grows
 * with it, against its AWS limit (regime/limits.ts DEPLOY_LIMITS): the backup vault's lifecycle rules
 * (4 a database: 3 tiers and the drill records; 1 for the whole bucket), the reminders' schedule groups (one each), the log
 * archive's writer policy (one ARN an archived log set).
 */
export interface DeclaredCount {
  key: string;
  /** What is counted, for the promise: "the backup vault's lifecycle rules". */
  what: string;
  limit: DeployLimitId;
  /** The figure as the limit measures it: items, or a document's bytes or characters. */
  figure: number;
  /** What keeps it within the limit. */
  remedy: string;
}

/**
 * What a bucket keeps of a name no longer configured (a database, a log set or a file backup removed
 * or renamed, whose own lifecycle rules went with it): the bucket's lifecycle rules as declared, and
 * per root one key that no configured name's rule covers. Judged with regime/retention.ts `keptFor`
 * (S3's reading: the shortest enabled expiration among the rules whose prefix matches).
 */
export interface DeclaredLeftover {
  /** Config key of the collection: "databases", "logs.hostGroups". */
  key: string;
  /** Whose data is kept, for the promise: "backups of a database" (followed by LEFTOVER_PROMISE). */
  what: string;
  rules: LifecycleRuleInput[];
  /** Per root: its label ("daily/", "any other key") and a key under it that no configured name's rule covers. */
  probes: { root: string; key: string }[];
  /** Config keys paused (their rules Disabled, the catch-alls with them); unset or empty: none. */
  pausedBy?: string[];
}

/** How a leftover promise starts: plan/diff.ts finds it by these words to say where a removed name's data goes. */
export const LEFTOVER_PROMISE = "no longer configured expire";

export interface DeclaredName {
  key: string;
  /** What AWS names: a Lambda function, an IAM role, an S3 bucket or bucket prefix. */
  kind: "Lambda function" | "IAM role" | "S3 bucket" | "S3 bucket prefix" | "Scheduler schedule";
  name: string;
}

/**
 * A maintenance window or one-off mute (CloudWatch alarm mute rule): what it selects and how long it
 * holds the pages back. A window: `durationSeconds` at each start; a mute: from `from` (unset: the run's
 * reference date) to `until`, in ms since the epoch.
 */
export interface DeclaredMute {
  /** Config key: `maintenanceWindows[0]`, `mutes[1]`. */
  key: string;
  /** "maintenance window always", "mute until 2026-12-15T00:00Z". */
  label: string;
  alarms: string[];
  severities: string[];
  components: string[];
  durationSeconds?: number;
  /** A window's start schedule (its cron and zone): its stretches over the year, for windows that overlap. Unset: one stretch of `durationSeconds`. */
  schedule?: { expression: string; timezone: string };
  from?: number;
  until?: number;
}

/**
 * How much later than its promise a P0 or P1 page may come because a window or mute holds it back:
 * 12 h, a night of planned maintenance (the guides' windows run 2 to 6 hours: "First Sunday of each
 * month, 2:00 AM - 4:00 AM", quarterly updates of 6 h). A longer muted stretch breaks the promise.
 */
export const MUTED_PAGE_ALLOWANCE_SECONDS = 12 * 3600;

/**
 * An endpoint's uptime target (`uptimeTargetPercent`) and what its error-budget burn alarms really page
 * on (components/health-checks.ts burnAlarmFailures): per pair (fast, slow), its severity and, per
 * window, its length, the checks it holds and the failed checks that trip it (Infinity: none do).
 */
export interface DeclaredUptime {
  /** `endpoints.checks[api].uptimeTargetPercent`. */
  key: string;
  endpoint: string;
  targetPercent: number;
  /** Minutes of downtime the target allows in its 30 days (99.99 %: 4.32). */
  budgetMinutes: number;
  /** Seconds one check stands for while they run: their step (regime/endpoints.ts checkStepSeconds); checks unevenly spaced, a day over the most checks a day holds. */
  checkStepSeconds: number;
  pairs: { name: string; burnRate: number; severity: string; windows: { windowSeconds: number; checks: number; failures: number }[] }[];
  /** The checks are paused: the burn alarms' actions are off. */
  paused?: boolean;
}

export interface Declared {
  databases: DeclaredDatabase[];
  /** Endpoints with an uptime target; unset: none. */
  uptimes?: DeclaredUptime[];
  /** Every scheduled job (the databases' too). */
  jobs: DeclaredJob[];
  alarms: DeclaredAlarm[];
  functions: DeclaredFunction[];
  names: DeclaredName[];
  /** Maintenance windows and one-off mutes; unset: none. */
  mutes?: DeclaredMute[];
  /** The file backups, with what their archives are kept (regime/retention-promises.ts fileBackupRetention); unset: none. */
  fileBackups?: DeclaredFileBackup[];
  /** The log sets logrotate rotates on the hosts, with what they keep (regime/log-retention.ts); unset: none. */
  logSets?: DeclaredLogSet[];
  /** Collections that grow with the config, against their AWS limits; unset: none. */
  counts?: DeclaredCount[];
  /** What the buckets keep of names no longer configured; unset: none. */
  leftovers?: DeclaredLeftover[];
  /** What publishes to each severity's topic and who hears it (regime/paging-promises.ts); unset: not judged. */
  /** `checked`: the severities whose topic's subscriptions the overdue watcher checks after deploy (regime/paging-promises.ts checkedSeverities). */
  paging?: { pages: DeclaredPage[]; subscribers: Partial<Record<Severity, DeclaredSubscribers>>; checked?: Severity[] };
}

export interface Acceptance {
  key: string;
  reason: string;
}

export interface PromiseReport {
  from: string;
  to: string;
  promises: PromiseResult[];
  /** One line per broken promise, and per stale acceptance: the run stops when any. */
  refusals: string[];
}

// ------------------------------------------------------------------ AWS limits

/** Why CloudWatch refuses an alarm window, or undefined when it accepts it (PutMetricAlarm). */
export function alarmWindowProblem(w: AlarmWindow): string | undefined {
  const total = w.period * w.evaluationPeriods;
  if (!([10, 20, 30].includes(w.period) || (w.period >= 60 && w.period % 60 === 0))) return `period ${w.period} s is not 10, 20, 30 or a multiple of 60`;
  if (w.datapointsToAlarm !== undefined && w.datapointsToAlarm > w.evaluationPeriods) return `datapointsToAlarm ${w.datapointsToAlarm} > evaluationPeriods ${w.evaluationPeriods}`;
  if (total > ALARM_WINDOW_MAX_SECONDS) return `${w.period} s x ${w.evaluationPeriods} periods = ${total} s > CloudWatch's ${ALARM_WINDOW_MAX_SECONDS.toLocaleString("en-US")} s (7 days)`;
  if (w.period < 3600 && total > ALARM_WINDOW_MAX_SHORT_PERIOD_SECONDS) {
    return `${w.period} s x ${w.evaluationPeriods} periods = ${total} s > CloudWatch's ${ALARM_WINDOW_MAX_SHORT_PERIOD_SECONDS.toLocaleString("en-US")} s (1 day) for a period under an hour`;
  }
  return undefined;
}

/**
 * The RPO alarm's window (`<regime>-db-<id>-rpo-P0`, BackupSucceeded Sum < 1, missing data breaching,
 * every period required). The backup stamps its success with its own start, the moment its data is
 * from (tasks/backup.ts), so the window is the age of the newest backup's data at which the alarm
 * pages: rpoHours less the minute CloudWatch takes to evaluate, split into the fewest equal periods
 * of at most a day each (a whole number of minutes; PutMetricAlarm: a period of an hour or more may
 * make a window of up to 7 days). The split rounds down by under a minute per period. Over 7 days
 * (rpoHours over 168) it is longer than a metric alarm can look back (rpoWatchedByOverdueWatcher).
 */
export function rpoAlarmWindow(rpoHours: number): { period: number; evaluationPeriods: number; datapointsToAlarm: number } {
  const seconds = Math.max(60, Math.round(rpoHours * 3600) - ALARM_EVALUATION_SECONDS);
  const n = Math.max(1, Math.ceil(seconds / ALARM_WINDOW_MAX_SHORT_PERIOD_SECONDS));
  const period = Math.floor(seconds / n / 60) * 60;
  return { period, evaluationPeriods: n, datapointsToAlarm: n };
}

/** Seconds the RPO alarm's window spans (rpoAlarmWindow): a backup whose success is stamped earlier no longer counts. */
export function rpoAlarmWindowSeconds(rpoHours: number): number {
  const w = rpoAlarmWindow(rpoHours);
  return w.period * w.evaluationPeriods;
}

/**
 * Whether the RPO alarm's window (rpoAlarmWindow) is longer than CloudWatch lets a metric alarm look
 * back (604,800 s, 7 days: rpoHours over 168). Then no RPO metric alarm is made: the backup writes run
 * markers and the overdue watcher pages P0 once the newest is older than rpoHours (components/database.ts rpoWatchedJob).
 */
export function rpoWatchedByOverdueWatcher(rpoHours: number): boolean {
  return rpoAlarmWindowSeconds(rpoHours) > ALARM_WINDOW_MAX_SECONDS;
}

/** Bytes of a Lambda environment as AWS counts them: every key and value, UTF-8. */
export function environmentBytes(env: Record<string, string>): number {
  return Object.entries(env).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}

/** Why AWS refuses a name, or undefined (Lambda and IAM role names <= 64; bucket names 3..63 lowercase; prefixes <= 37). */
export function nameProblem(kind: DeclaredName["kind"], name: string): string | undefined {
  switch (kind) {
    case "Lambda function":
    case "IAM role":
    case "Scheduler schedule":
      return name.length > 64 ? `${kind} name "${name}" has ${name.length} characters > 64` : undefined;
    case "S3 bucket":
      if (name.length < 3 || name.length > 63) return `S3 bucket name "${name}" has ${name.length} characters (3 to 63)`;
      return /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) ? undefined : `S3 bucket name "${name}" must be lowercase letters, digits, dots and hyphens`;
    case "S3 bucket prefix":
      if (name.length > 37) return `S3 bucket prefix "${name}" has ${name.length} characters > 37`;
      return /^[a-z0-9][a-z0-9.-]*$/.test(name) ? undefined : `S3 bucket prefix "${name}" must be lowercase letters, digits, dots and hyphens`;
  }
}

// ------------------------------------------------------------------ CloudWatch evaluation

/**
 * The first instant (ms) in [from, to) a missed-run alarm over `w` (missing data breaching, every
 * period required) pages although every run in `runs` succeeds, or undefined when it never does.
 * CloudWatch's default evaluation window slides ("If you don't specify EvaluationWindow ... the alarm
 * uses a sliding window", CloudWatch user guide, "Alarm evaluation window"): it pages once no success
 * lies in the last period x evaluationPeriods. A run's success is stamped no earlier than its start
 * and is visible by its start + `longestRunSeconds` + METRIC_VISIBLE_DELAY_SECONDS; so the alarm
 * pages between runs a and b when a + window < b + longestRun + delay, at a + window.
 */
export function falsePage(runs: number[], w: AlarmWindow, from: number, to: number, longestRunSeconds = 0): number | undefined {
  return falsePages(runs, w, from, to, longestRunSeconds)[0];
}

/** Every instant (ms, ascending) in [from, to) the alarm over `w` pages although every run succeeds (falsePage's condition, over every pair of runs). */
function falsePages(runs: number[], w: AlarmWindow, from: number, to: number, longestRunSeconds: number): number[] {
  const window = w.period * (w.datapointsToAlarm ?? w.evaluationPeriods) * 1000;
  const late = (longestRunSeconds + METRIC_VISIBLE_DELAY_SECONDS) * 1000;
  const pages: number[] = [];
  for (let i = 1; i < runs.length; i++) {
    const page = runs[i - 1] + window;
    if (runs[i] + late > page && page >= from && page < to) pages.push(page);
  }
  return pages;
}

/** Rank of a severity, most urgent first (P0 = 0); unknown or unset ranks after every severity. */
function severityRank(s?: string): number {
  return s && (SEVERITIES as readonly string[]).includes(s) ? SEVERITIES.indexOf(s as Severity) : SEVERITIES.length;
}

/** Ms between the run whose success leaves the window at `page` (falsePage) and the next run. */
function gapBefore(runs: number[], page: number, w: AlarmWindow): number {
  const at = page - w.period * (w.datapointsToAlarm ?? w.evaluationPeriods) * 1000;
  const i = runs.indexOf(at);
  return i >= 0 && i + 1 < runs.length ? runs[i + 1] - runs[i] : 0;
}

/**
 * Longest time from a job's last success (as its metric is stamped) to the page when the job then
 * stops: a sliding window pages once that success has left it, at the next evaluation (a minute).
 */
export function timeToPageAfterRun(w: AlarmWindow): number {
  return w.period * (w.datapointsToAlarm ?? w.evaluationPeriods) + ALARM_EVALUATION_SECONDS;
}

// ------------------------------------------------------------------ the engine

/** Whole minutes below an hour, whole hours above: the step a remedy's interval is rounded up to. */
const unitOf = (seconds: number) => (seconds < 3600 ? 60 : 3600);
const hours = (s: number) => formatDuration(Math.round(s));
/** "23 h 59 min": a muted stretch to the minute (a 1439-minute window is not "24 h"). */
const hoursMinutes = (s: number) => (s >= 7200 && s % 3600 !== 0 && s < 7 * 86400 ? `${Math.floor(s / 3600)} h${Math.round((s % 3600) / 60) ? ` ${Math.round((s % 3600) / 60)} min` : ""}` : hours(s));

/** "13 years", "31 days", "25.1 h": a stretch as a person reads it, in years from 365 days, in whole days from 7 days. */
function longSpan(s: number): string {
  const days = s / 86400;
  if (days >= 365) {
    const years = Math.floor(days / 365.2425);
    return `${Math.max(1, years)} ${years > 1 ? "years" : "year"}`;
  }
  return days >= 7 ? `${Math.floor(days)} days` : hours(s);
}

/** What makes a schedule run from the deploy: its year field open (`*`), when it names later years. */
function firstRunRemedy(job: Pick<DeclaredJob, "expression">): string {
  const year = /^cron\((.*)\)$/i.exec(job.expression)?.[1].trim().split(/\s+/)[5];
  return year !== undefined && year !== "*" ? `write * in its year field (${year}), so it runs from the deploy` : "deploy it nearer its first run";
}

/**
 * The longest a job may go without a run from the deploy before its watch breaks what it promises
 * (seconds), and what then happens: a missed-run alarm pages once its window holds no success
 * (its watch starts at the deploy, so the deploy counts as the last success); the overdue watcher
 * follows the schedule and pages nobody, although nothing runs longer than the promise's figure; an
 * unwatched job is allowed its longest interval.
 */
function deployAllowance(job: DeclaredJob): number {
  if (job.watch) return job.watch.period * (job.watch.datapointsToAlarm ?? job.watch.evaluationPeriods) - (job.longestRunSeconds ?? 0) - METRIC_VISIBLE_DELAY_SECONDS;
  const shift = scheduleShiftSeconds(job);
  if (job.overdueWatch) return job.intervalSeconds + shift + job.overdueWatch.toleranceSeconds + job.overdueWatch.delaySeconds;
  return job.intervalSeconds + shift;
}

/** `"<schedule>" first runs <date>, <span> after the plan's start (<date>, the deploy)`: the cause of a late first run (`first`, `start`: ms). */
function firstRunCause(job: Pick<DeclaredJob, "text" | "timezone">, first: number, start: number): string {
  return `"${job.text}" first runs ${localDate(first, job.timezone)}, ${longSpan((first - start) / 1000)} after the plan's start (${localDate(start, job.timezone)}, the deploy)`;
}

/**
 * The promise of a job whose first run after the plan's start (the deploy) comes later than its watch
 * allows (deployAllowance), or that never runs again: a cron whose year field starts in a later year
 * (`cron(0 9 1 1 ? 2040/1)`), or whose years have passed. Undefined for a rate schedule (its first
 * run is one interval after the deploy, as between any two) and for a job that runs in time.
 */
function firstRunPromise(job: DeclaredJob, start: number): PromiseResult | undefined {
  if (/^rate\(/i.test(job.expression)) return undefined;
  const first = firstRunAfter(job, start);
  const from = localDate(start, job.timezone);
  if (first === undefined) {
    return {
      key: job.key,
      promise: `${job.label} runs ${job.text} (${job.timezone})`,
      figure: `no run after ${from}`,
      status: "broken",
      kind: "config",
      firstBreak: from,
      effect: `"${job.text}" names no run in the ${FIRST_RUN_HORIZON_YEARS} years after the plan's start (${from}): the ${job.label} never runs again`,
      remedy: firstRunRemedy(job),
    };
  }
  const allowed = deployAllowance(job);
  const seconds = (first - start) / 1000;
  if (seconds <= allowed) return undefined;
  const firstDate = localDate(first, job.timezone);
  const breaks = localDate(start + Math.max(0, allowed) * 1000, job.timezone);
  return {
    key: job.key,
    promise: `${job.label}: paged when it stops`,
    figure: `first runs ${firstDate}: nothing runs for ${longSpan(seconds)} after the plan's start (${from})`,
    value: seconds,
    status: "broken",
    kind: "config",
    firstBreak: breaks,
    cause: firstRunCause(job, first, start),
    effect: job.watch
      ? `its missed-run alarm, watching from the deploy, pages${job.severity ? ` ${job.severity}` : ""} on ${breaks} although no run was due (its window, ${hours(job.watch.period * (job.watch.datapointsToAlarm ?? job.watch.evaluationPeriods))}, holds no success)`
      : `nothing runs${job.overdueWatch ? " and nothing pages" : ""} until then, longer than the ${hours(allowed)} ${job.overdueWatch ? "its overdue watch allows between runs" : "of its longest interval"}`,
    remedy: firstRunRemedy(job),
  };
}

/** The first local time the Scheduler skips in [from, to), from the job's runs over the regime's window. */
function skipReason(job: DeclaredJob, from: number, to: number, window: [number, number]): { date: string; time: string; at: number } | undefined {
  const s = schedulerRuns(job, window[0], window[1]).skipped.find((x) => x.at >= from && x.at < to);
  return s ? { date: s.date, time: s.time, at: s.at } : undefined;
}

/** The local times that do not exist around a skipped run at `at` (ms): "02:00-02:59" in New York, "02:00-02:29" on Lord Howe, "01:00-02:59" in Antarctica/Troll. */
function skippedStretch(tz: string, at: number): string {
  const change = clockChangeNear(tz, at);
  if (!change) return "";
  const hhmm = (wall: number) => new Date(wall).toISOString().slice(11, 16);
  return `${hhmm(change.at + change.before)}-${hhmm(change.at + change.after - 60_000)}`;
}

/** What keeps a schedule running every day in a zone with daylight saving (`skip`: the skipped run). */
function dstRemedy(job: DeclaredJob, skip: { at: number }): string {
  const stretch = skippedStretch(job.timezone, skip.at);
  return `run it at a local time that exists every day${stretch ? ` (not ${stretch})` : ""} or in a fixed-offset zone (${fixedZoneHint(job.timezone)})`;
}

/** Etc/GMT+5 for America/New_York: the zone's standard offset all year (IANA signs are inverted). */
export function fixedZoneHint(tz: string): string {
  const jan = zoneOffset(Date.UTC(2027, 0, 15), tz);
  const jul = zoneOffset(Date.UTC(2027, 6, 15), tz);
  const standard = Math.min(jan, jul) / 3_600_000;
  if (!Number.isInteger(standard)) return "UTC: no Etc zone has a fractional offset";
  return standard === 0 ? "UTC" : `Etc/GMT${standard > 0 ? "-" : "+"}${Math.abs(standard)}`;
}

/**
 * Computes every promise of the declared regime over the 12 months from `from`, and the refusal
 * lines: one per broken config or limit promise (unless its key is accepted), one per acceptance
 * that names a key breaking nothing acceptable.
 */
export function evaluatePromises(d: Declared, from: Date, accepted: Acceptance[] = []): PromiseReport {
  const start = from.getTime();
  const end = Date.UTC(from.getUTCFullYear() + 1, from.getUTCMonth(), from.getUTCDate());
  const out: PromiseResult[] = [];
  const push = (r: PromiseResult) => out.push(r);

  // --- databases: RPO, verify age, RTO, retention
  for (const db of d.databases) {
    const b = db.backup;
    const gap = longestGap(b, start, end, b.intervalSeconds);
    // A backup that never runs after the start: its job's line below refuses it (neverRuns).
    if (!Number.isFinite(gap.seconds)) continue;
    const rpo = db.rpoHours * 3600;
    const skip = skipReason(b, gap.startsAt, gap.endsAt + 1, [start - 100 * DAY_MS, end]);
    // Data written just after a backup starts is safe only once the next backup is stored: the span
    // at risk is the gap between starts plus the next one's run (its expected time, the catalogue's
    // rate). The RPO alarm (a sliding window of rpoHours over backup successes) sees that backup
    // METRIC_VISIBLE_DELAY_SECONDS later still, so it pages on a good day unless that fits too.
    // A backup may take up to its duration alarm's threshold without paging anyone: the RPO counts that.
    const runS = db.backupRun?.slowestSeconds ?? db.backupRun?.expectedSeconds ?? 0;
    const atRisk = gap.seconds + runS;
    const seen = atRisk + METRIC_VISIBLE_DELAY_SECONDS;
    // The RPO alarm's window (a minute short of rpoHours, rounded to its periods), or past 7 days
    // the overdue watcher's age limit, rpoHours itself.
    const watched = rpoWatchedByOverdueWatcher(db.rpoHours);
    const window = watched ? rpo : rpoAlarmWindowSeconds(db.rpoHours);
    // The whole hours of rpoHours whose window holds `s` seconds.
    const rpoHoursFor = (s: number) => {
      let h = Math.ceil(s / 3600);
      while (!rpoWatchedByOverdueWatcher(h) && rpoAlarmWindowSeconds(h) < s) h++;
      return h;
    };
    const broken = seen > window;
    // The alarm's window is named only where it, not rpoHours, is what the span passes.
    const limitText = (span: number) => (span > rpo ? `rpoHours ${db.rpoHours}` : `rpoHours ${db.rpoHours} (its alarm's window: ${hoursMinutes(window)})`);
    // How often: a gap the clock's changes make (the skipped or repeated hour) breaks on a date or two;
    // one the schedule makes breaks on good days, which no acceptance should hide.
    const backupRuns = schedulerRuns(b, start - 100 * DAY_MS, end).runs;
    const gaps: number[] = [];
    for (let i = 1; i < backupRuns.length; i++) if (backupRuns[i] >= start) gaps.push((backupRuns[i] - backupRuns[i - 1]) / 1000);
    const breaks = gaps.filter((g) => g + runS + METRIC_VISIBLE_DELAY_SECONDS > window).length;
    // The longest gap that comes RECURRING_BREAKS times or more: 24 h for a daily backup, 72 h for weekdays.
    const usualGap = [...gaps].sort((x, y) => y - x)[RECURRING_BREAKS - 1] ?? 0;
    const recurring = breaks >= RECURRING_BREAKS && usualGap + runS + METRIC_VISIBLE_DELAY_SECONDS > window;
    const between = (g: number) => (gap.fromStart && g === gap.seconds ? `${longSpan(g)} from the plan's start to the first backup` : `${hours(g)} between backups`);
    const spanOf = (g: number) => `${between(g)} + up to ${hours(Math.round(runS))} to store the next + ${hours(METRIC_VISIBLE_DELAY_SECONDS)} for the RPO alarm to see it`;
    const span = spanOf(gap.seconds);
    // What keeps a gap of `g` s: backups often enough that gap, run and delay fit rpoHours, or a longer rpoHours.
    const everyRemedy = (g: number) => {
      const every = window - runS - METRIC_VISIBLE_DELAY_SECONDS;
      const need = rpoHoursFor(g + runS + METRIC_VISIBLE_DELAY_SECONDS);
      // Never more often than a backup is expected to take: two dumps would run at once (refused below).
      const often = every >= 3600 && every >= (db.backupRun?.expectedSeconds ?? 0);
      return often ? `back up at least every ${hours(Math.floor(every / 360) * 360)} or set rpoHours to at least ${need}` : `set rpoHours to at least ${need}`;
    };
    let cause: string | undefined;
    let effect: string | undefined;
    let remedy: string | undefined;
    let firstBreak: string | undefined;
    if (broken) {
      const need = rpoHoursFor(seen);
      if (gap.fromStart) {
        // The RPO alarm watches from the deploy (its watch start): with no backup before the first run, it pages once its window has passed.
        firstBreak = localDate(start + window * 1000, b.timezone);
        cause = firstRunCause(b, gap.endsAt, start);
        effect = `${span} > ${limitText(seen)}: the RPO alarm, watching from the deploy, pages P0 on ${firstBreak} although no backup is due`;
        remedy = `${firstRunRemedy(b)}, or set rpoHours to at least ${need}`;
      } else if (skip) {
        firstBreak = skip.date;
        cause = `"${b.text}" in ${b.timezone} does not run on ${skip.date} (${skip.time} does not exist that day)`;
        effect = `${span} > ${limitText(seen)}`;
        remedy = `${dstRemedy(b, skip)}, or set rpoHours to at least ${need}`;
      } else if (gap.seconds > b.intervalSeconds) {
        firstBreak = localDate(gap.startsAt, b.timezone);
        cause = `"${b.text}" in ${b.timezone} runs ${hours(gap.seconds)} apart from ${firstBreak} (the clock falls back before the next run)`;
        effect = `${span} > ${limitText(seen)}`;
        remedy = `run it in a fixed-offset zone (${fixedZoneHint(b.timezone)}) or set rpoHours to at least ${need}`;
      } else {
        firstBreak = localDate(gap.endsAt, b.timezone);
        effect = `"${b.text}" leaves ${span} (first ${firstBreak}) > ${limitText(seen)}: the RPO alarm pages P0 although every backup succeeds`;
        remedy = everyRemedy(gap.seconds);
      }
    }
    push({
      key: `${db.key}.backup.schedule`,
      promise: `at most ${db.rpoHours} h of data lost (rpoHours)`,
      figure: `up to ${gap.fromStart ? longSpan(Math.round(atRisk)) : hours(Math.round(atRisk))} of data (${between(gap.seconds)} + up to ${hours(Math.round(runS))} to store one)`,
      value: Math.round(atRisk),
      status: broken ? "broken" : "held",
      kind: "config",
      firstBreak,
      cause,
      effect,
      remedy,
      ...(recurring && usualGap === gap.seconds ? { recurring: breaks } : {}),
    });
    if (recurring && usualGap !== gap.seconds) {
      // The clock's change makes the longest gap (above, acceptable); the schedule itself breaks it too.
      push({
        key: `${db.key}.backup.schedule`,
        promise: `at most ${db.rpoHours} h of data lost (rpoHours)`,
        figure: `up to ${hours(Math.round(usualGap + runS))} of data on ${breaks} days of 12 months (${hours(usualGap)} between backups + up to ${hours(Math.round(runS))} to store one)`,
        value: Math.round(usualGap + runS),
        status: "broken",
        kind: "config",
        effect: `"${b.text}" leaves ${spanOf(usualGap)} ${breaks} times in 12 months > ${limitText(usualGap + runS + METRIC_VISIBLE_DELAY_SECONDS)}: the RPO alarm pages P0 although every backup succeeds`,
        remedy: everyRemedy(usualGap),
        recurring: breaks,
      });
    }

    // A backup's age is its data's: the verify (tasks/verify-backup.ts) counts it from the manifest's
    // startedAt, as the RPO alarm stamps a success and list-backups and restore date a backup. A backup
    // counts once it is surely stored (its slowest run that pages nobody is over).
    const runMs = Math.round((db.backupRun?.expectedSeconds ?? 0) * 1000);
    if (db.backupRun) {
      const r = db.backupRun;
      const over = r.limitSeconds !== undefined && r.expectedSeconds > r.limitSeconds;
      push({
        key: `${db.key}.backup.runner`,
        promise: `a backup of ${r.sizeGb} GB (sizeGb) finishes within its runner's limit`,
        figure: `expected ${hours(r.expectedSeconds)} (tasks/catalogue.ts, the cost estimate's rate) on ${r.runner === "lambda" ? `Lambda, ${hours(r.limitSeconds!)} allowed (its duration alarm's threshold)` : "Fargate, which has no time limit"}`,
        value: Math.round(r.expectedSeconds),
        status: over ? "broken" : "held",
        kind: "config",
        ...(over ? { effect: `a backup of ${r.sizeGb} GB is expected to take ${hours(r.expectedSeconds)} > ${hours(r.limitSeconds!)} on Lambda`, remedy: "use fargate or leave it unset" } : {}),
      });
      // The dump is one multipart upload, open from the backup's start to its end: S3 aborts it, finished
      // or not, once the vault's abort days have passed since it started (rounded up to midnight UTC,
      // which only delays it). The slowest run that pages nobody must end before.
      if (db.abortIncompleteUploadDays !== undefined) {
        const slowest = r.slowestSeconds ?? r.expectedSeconds;
        const abortAfter = db.abortIncompleteUploadDays * 86_400;
        const cut = slowest >= abortAfter;
        push({
          key: `${db.key}.backup.runner`,
          promise: `a backup's upload is not aborted before its slowest run ends`,
          figure: `slowest run ${hours(slowest)} (${r.limitSeconds !== undefined ? "its limit" : "its duration alarm's threshold"}) < ${db.abortIncompleteUploadDays} ${db.abortIncompleteUploadDays === 1 ? "day" : "days"}, the earliest the backup vault aborts an unfinished upload`,
          value: Math.round(abortAfter - slowest),
          status: cut ? "unkept" : "held",
          kind: "program",
          ...(cut
            ? { detail: `a backup of ${r.sizeGb} GB may run ${hours(slowest)} without paging, and the backup vault's lifecycle aborts an upload still unfinished ${db.abortIncompleteUploadDays} ${db.abortIncompleteUploadDays === 1 ? "day" : "days"} after it started: that backup is lost and the run fails` }
            : {}),
        });
      }
      // A backup that starts before the one before it is expected to end: two dumps of the database
      // at once, and the RPO above counts backups one after the other.
      // A loop, not Math.min(...gaps): a backup every few minutes has over 100,000 gaps, beyond V8's argument limit.
      const shortest = gaps.reduce((m, g) => Math.min(m, g), gaps.length ? Infinity : b.intervalSeconds);
      if (r.expectedSeconds > shortest) {
        push({
          key: `${db.key}.backup.schedule`,
          promise: `a backup of ${r.sizeGb} GB ends before the next starts`,
          figure: `expected ${hours(r.expectedSeconds)}, started ${hours(shortest)} apart`,
          value: Math.round(r.expectedSeconds),
          status: "broken",
          kind: "config",
          effect: `"${b.text}" starts a backup ${hours(shortest)} after the last, which is expected to take ${hours(r.expectedSeconds)} (${r.sizeGb} GB at the catalogue's rate): two dumps of the database run at once`,
          remedy: `back up no more often than every ${hours(Math.ceil(r.expectedSeconds / unitOf(r.expectedSeconds)) * unitOf(r.expectedSeconds))}`,
          recurring: gaps.filter((g) => g < r.expectedSeconds).length,
        });
      }
    }

    // A rate schedule runs at the phase of its creation, unknown before deploy (the program sets no
    // startDate: the Scheduler refuses a recurring schedule's StartDate more than 5 minutes in the past, so
    // a fixed one would fail the next deploy, and one set at deploy would change at every preview). With
    // the backup or the verify on a rate, the verify may come at any moment relative to the backups:
    // judged for every phase, its worst is just before the next backup is surely there.
    const rateJob = db.verify ? [b, db.verify].find((j) => /^rate\(/i.test(j.expression)) : undefined;
    if (db.verify && rateJob) {
      const v = db.verify;
      const slowS = db.backupRun?.slowestSeconds ?? db.backupRun?.expectedSeconds ?? 0;
      const longest = gaps.reduce((m, g) => Math.max(m, g), gaps.length ? -Infinity : b.intervalSeconds);
      const worst = longest + slowS;
      const tooOld = worst > v.maxAgeHours * 3600;
      const which = rateJob === b ? "backup" : "verify";
      const other = rateJob === b ? "verify" : "backup";
      const phase = `the ${which}'s "${rateJob.text}" runs at the time of day it is deployed, unknown before`;
      push({
        key: `${db.key}.verify.maxAgeHours`,
        promise: `the verify finds a backup at most ${v.maxAgeHours} h old (maxAgeHours)`,
        figure: `newest backup up to ${hours(worst)} old when it runs, at any phase of "${rateJob.text}" (${hours(longest)} between backups + up to ${hours(slowS)} for one to be surely there), its data's age from the backup's start`,
        value: worst,
        status: tooOld ? "broken" : "held",
        kind: "config",
        ...(tooOld
          ? {
              effect: `${phase}: a verify just before a backup is surely there finds the newest ${hours(worst)} old > maxAgeHours ${v.maxAgeHours} and fails without a fault, on every run for such a phase`,
              remedy: `run the ${which} on a cron schedule (e.g. "daily at 02:00"), whose time the ${other} can follow, or set maxAgeHours to at least ${Math.ceil(worst / 3600)}`,
              recurring: schedulerRuns(v, start, end).runs.length,
            }
          : {}),
      });
    }

    if (db.verify && !rateJob) {
      const v = db.verify;
      // A backup is surely there once its slowest run that pages nobody (its duration alarm's
      // threshold) is over; the verify reads the newest one surely there, dated from its start.
      const slowMs = Math.round((db.backupRun?.slowestSeconds ?? db.backupRun?.expectedSeconds ?? 0) * 1000);
      const starts = schedulerRuns(b, start - 100 * DAY_MS, end).runs;
      const verifies = schedulerRuns(v, start - 100 * DAY_MS, end).runs.filter((t) => t >= start);
      let worst = 0;
      let worstAt = 0;
      let worstRunning = false;
      // Verifies that fail without a fault: their count (a daily one is no date's accident) and the first.
      let failing = 0;
      let firstFailing = 0;
      let i = 0;
      for (const t of verifies) {
        while (i + 1 < starts.length && starts[i + 1] + slowMs <= t) i++;
        if (starts[i] === undefined || starts[i] + slowMs > t) continue;
        const age = (t - starts[i]) / 1000;
        if (age > v.maxAgeHours * 3600 && failing++ === 0) firstFailing = t;
        if (age > worst) {
          worst = age;
          worstAt = t;
          // The next backup has started but may not be done: the verify reads the one before it.
          worstRunning = starts[i + 1] !== undefined && starts[i + 1] <= t;
        }
      }
      const tooOld = worst > v.maxAgeHours * 3600;
      const date = tooOld ? localDate(worstAt, v.timezone) : undefined;
      const first = failing > 0 ? localDate(firstFailing, v.timezone) : undefined;
      const run = worstRunning ? ` (the backup started before it may still be running: ${db.backupRun?.sizeGb ?? "?"} GB takes ${hours(runMs / 1000)} at the catalogue's rate and up to ${hours(slowMs / 1000)} before its duration alarm pages)` : "";
      push({
        key: `${db.key}.verify.maxAgeHours`,
        promise: `the verify finds a backup at most ${v.maxAgeHours} h old (maxAgeHours)`,
        figure: `newest backup at most ${hours(worst)} old when it runs, counted from its start${run}`,
        value: worst,
        status: tooOld ? "broken" : "held",
        kind: "config",
        firstBreak: first,
        ...(tooOld
          ? {
              effect: `the verify on ${date} finds the newest backup ${hours(worst)} old${run} > maxAgeHours ${v.maxAgeHours} and fails without a fault${failing > 1 ? ` (${failing} verifies in 12 months, first ${first})` : ""}`,
              remedy: `${worstRunning ? `run the verify at least ${hours(slowMs / 1000)} after the backup starts, ` : ""}keep the backup running every day or set maxAgeHours to at least ${Math.ceil(worst / 3600)}`,
            }
          : {}),
        ...(tooOld && failing >= RECURRING_BREAKS ? { recurring: failing } : {}),
      });
    }

    if (db.drill) {
      const lambda = db.drill.runner === "lambda";
      const rto = db.drill.rtoMinutes * 60;
      const unkept = lambda && rto > LAMBDA_MAX_TIMEOUT_SECONDS;
      // A restore streams the database at the rate a backup does (tasks/catalogue.ts): one expected to
      // take longer than rtoMinutes fails every drill (tasks/restore-drill.ts checks its restore time).
      const restoreS = db.backupRun?.expectedSeconds;
      if (restoreS !== undefined && restoreS > rto) {
        const first = schedulerRuns(db.drill.job, start, end).runs[0];
        push({
          key: `${db.key}.restoreDrill.rtoMinutes`,
          promise: `a restore within ${db.drill.rtoMinutes} min, proven by the drill (rtoMinutes)`,
          figure: `a restore of ${db.backupRun!.sizeGb} GB expected to take ${hours(restoreS)} (the catalogue's rate)`,
          value: Math.round(restoreS),
          status: "broken",
          kind: "config",
          ...(first !== undefined ? { firstBreak: localDate(first, db.drill.job.timezone) } : {}),
          effect: `every restore drill${first !== undefined ? ` from ${localDate(first, db.drill.job.timezone)}` : ""} fails: a restore of ${db.backupRun!.sizeGb} GB is expected to take ${hours(restoreS)} at the catalogue's rate > rtoMinutes ${db.drill.rtoMinutes}`,
          remedy: `set rtoMinutes to at least ${Math.ceil(restoreS / 60)} (or sizeGb to the database's real size, if smaller)`,
        });
      } else {
        push({
          key: `${db.key}.restoreDrill.rtoMinutes`,
          promise: `a restore within ${db.drill.rtoMinutes} min, proven by the drill (rtoMinutes)`,
          figure: lambda ? `the drill runs at most ${hours(LAMBDA_MAX_TIMEOUT_SECONDS)} (Lambda)` : "the drill runs until done (Fargate)",
          value: lambda ? LAMBDA_MAX_TIMEOUT_SECONDS : undefined,
          status: unkept ? "unkept" : "held",
          kind: "program",
          detail: unkept ? `a restore longer than 15 min is cut off on Lambda, so the drill cannot show an RTO of ${db.drill.rtoMinutes} min` : undefined,
        });
      }
    }

    out.push(...retentionPromises(db, start, end));
  }

  // --- file backups: their archives kept retentionDays, the newest until the next is uploaded
  for (const f of d.fileBackups ?? []) out.push(...fileBackupRetention(f, start, end));

  // --- log sets: the days a rotated log is kept, on the host or in the log archive, against maxAgeDays
  for (const l of d.logSets ?? []) push(logSetPromise(l));

  // --- every job runs as scheduled, and stopping pages someone
  for (const job of d.jobs) {
    // A job whose first run comes later than its watch allows, or never: its other figures count from that run.
    const late = job.paused ? undefined : firstRunPromise(job, start);
    if (late) {
      push(late);
      continue;
    }
    // A rate schedule knows no wall clock: its runs are evenly spaced, so 400 of them tell its figures.
    const rate = /^rate\(/i.test(job.expression);
    const { runs } = rate ? schedulerRuns(job, start, Math.min(end, start + 400 * job.intervalSeconds * 1000)) : schedulerRuns(job, start - 100 * DAY_MS, end);
    const inWindow = runs.filter((r) => r >= start);
    // A skipped local time breaks "runs as scheduled" only when it was the job's one run of that day;
    // a job that runs several times a day runs on, and its gap is judged by its watch below.
    const skipped = rate ? undefined : skipReason(job, start, end, [start - 100 * DAY_MS, end]);
    const skip = skipped && !inWindow.some((r) => localDate(r, job.timezone) === skipped.date) ? skipped : undefined;
    if (skip) {
      push({
        key: job.key,
        promise: `${job.label} runs ${job.text} (${job.timezone})`,
        figure: `skips ${skip.date} ${skip.time}`,
        status: "broken",
        kind: "config",
        firstBreak: skip.date,
        cause: `"${job.text}" in ${job.timezone} does not run on ${skip.date} (${skip.time} does not exist that day)`,
        effect: `no ${job.label} that day`,
        remedy: dstRemedy(job, skip),
      });
    }
    const on = job.lastRunOn ? ` ${job.lastRunOn}` : "";
    const history = !job.watch && !job.paused ? job.overdueWatch?.history : undefined;
    if (history && history.neededSeconds + scheduleShiftSeconds(job) > history.keptSeconds) {
      // Past the history's retention the watcher finds no last run, falls back to the job's watch start
      // and pages on every good day after it: no acceptance can keep that, and no other record of the
      // run exists for the watcher to read.
      const most = Math.floor((history.keptSeconds - (history.neededSeconds - job.intervalSeconds) - scheduleShiftSeconds(job)) / 86400);
      push({
        key: job.key,
        promise: `${job.label}: paged when it stops`,
        figure: `runs up to ${hours(job.intervalSeconds)} apart; ${history.of} is kept ${hours(history.keptSeconds)}`,
        value: job.intervalSeconds,
        status: "broken",
        kind: "limit",
        effect: `"${job.text}" runs up to ${hours(job.intervalSeconds)} apart, and the overdue watcher reads its last run from ${history.of}, which CloudWatch keeps ${hours(history.keptSeconds)}: once the last run is older than that it finds none and pages on good days`,
        remedy: `schedule it at most ${most} days apart: yearly at most, on a date every year has (not February 29)`,
      });
      continue;
    }
    if (!job.watch && job.overdueWatch) {
      // The wall-clock interval, plus the zone's clock change for a cron schedule (a weekly job in New
      // York runs 169 h apart once a year), the tolerance and the watcher's delay.
      const page = job.intervalSeconds + scheduleShiftSeconds(job) + job.overdueWatch.toleranceSeconds + job.overdueWatch.delaySeconds;
      const watcher = job.overdueWatch.watcher;
      if (!watcher?.window || severityRank(watcher.severity) > severityRank(job.severity)) {
        push({
          key: job.key,
          promise: `${job.label}: paged when it stops`,
          figure: `paged within ${hours(page)} of its last run${on} while the overdue watcher runs; a stopped watcher ${watcher?.window ? `pages ${watcher.severity ?? "no severity"} only` : "pages nobody"}`,
          value: page,
          status: "unkept",
          kind: "program",
          detail: `its overdue alarm hears only from a running watcher (missing data is not breaching), and the watcher's own missed-run alarm ${watcher?.window ? `pages ${watcher.severity}, less urgent than the job's ${job.severity}` : "is missing"}`,
        });
        continue;
      }
      push({
        key: job.key,
        promise: `${job.label}: paged when it stops`,
        figure: `paged within ${hours(page)}${job.overdueWatch.startOnly ? "" : " (+ its run time)"} of its last run${on}, by the overdue watch`,
        value: page,
        status: "held",
        kind: "config",
      });
      continue;
    }
    if (!job.watch) {
      push({
        key: job.key,
        promise: `${job.label}: someone is paged when it stops`,
        figure: "not watched",
        status: "unkept",
        kind: "program",
        detail: job.unwatchedBecause ?? "no alarm watches it",
      });
      continue;
    }
    const page = timeToPageAfterRun(job.watch);
    const pages = rate ? [] : falsePages(runs, job.watch, start, end, job.longestRunSeconds ?? 0);
    const fp = pages[0];
    push({
      key: job.key,
      promise: `${job.label}: paged when it stops`,
      figure: `paged within ${hours(page)} of its last run${on}`,
      value: page,
      status: fp !== undefined ? "broken" : "held",
      kind: "config",
      ...(fp !== undefined
        ? {
            firstBreak: localDate(fp - 1, job.timezone),
            effect: `its missed-run alarm (${hours(job.watch.period * job.watch.evaluationPeriods)}, sliding) pages${job.severity ? ` ${job.severity}` : ""} on ${localDate(fp - 1, job.timezone)} although every scheduled run succeeds (runs ${hours(gapBefore(runs, fp, job.watch) / 1000)} apart, a run may take ${hours(job.longestRunSeconds ?? 0)} and its success ${hours(METRIC_VISIBLE_DELAY_SECONDS)} to be seen)`,
            // Without a skipped run the gap comes from the clock's change, which a rate schedule or a fixed-offset zone does not have.
            ...(skip ? {} : { remedy: `use a rate(...) schedule or a fixed-offset zone (${fixedZoneHint(job.timezone)}), whose runs lie evenly apart` }),
            ...(pages.length >= RECURRING_BREAKS ? { recurring: pages.length } : {}),
          }
        : {}),
    });
  }

  // --- alarms: within CloudWatch's limits, and their time to the page
  const unevenKeys = new Set<string>();
  for (const a of d.alarms) {
    const u = a.unevenChecks;
    if (u && !unevenKeys.has(u.key)) {
      unevenKeys.add(u.key);
      push({
        key: u.key,
        promise: `the endpoint down alarms count the checks ${u.schedule} runs`,
        figure: `checks ${hours(u.shortestSeconds)} to ${hours(u.longestSeconds)} apart while they run, alarm periods of ${hours(a.window.period)}`,
        status: "broken",
        kind: "config",
        cause: `${u.schedule} runs the checks unevenly, ${hours(u.shortestSeconds)} and up to ${hours(u.longestSeconds)} apart`,
        effect: `the down alarms' periods are the shortest gap (${hours(a.window.period)}), so the periods inside a longer gap hold no check, and CloudWatch counts an alarm's last data points only within an evaluation range a few periods longer than its window: failing checks ${hours(u.longestSeconds)} apart may not count together (a page later than promised) and one failed check followed by empty periods may page alone`,
        remedy: `space the checks evenly while they run (rate(5 minutes), or a step that divides the hour or day: cron(0/5 * * * ? *)), or accept the risk in acceptedRisks (key ${u.key})`,
      });
    }
    const problem = alarmWindowProblem(a.window);
    if (problem) {
      push({
        key: a.key,
        promise: `alarm ${a.name} can be created`,
        figure: `${a.window.period} s x ${a.window.evaluationPeriods}`,
        status: "broken",
        kind: "limit",
        effect: `${a.setting ? `${a.setting} gives` : "gives"} alarm ${a.name} a window of ${problem}: CloudWatch refuses it at deploy`,
        remedy: a.remedy,
      });
      continue;
    }
    // The overdue watcher's alarm pages up to one watcher interval + its period after the fault is due.
    const worst = a.overdueWatch
      ? a.overdueWatch.delaySeconds
      : (a.spanSeconds ?? a.checkIntervalSeconds + a.window.period * (a.window.datapointsToAlarm ?? a.window.evaluationPeriods)) +
        ALARM_EVALUATION_SECONDS +
        (a.lagSeconds ?? 0) +
        (a.seenAfterRun?.seconds ?? 0);
    const counted = a.window.period * (a.window.datapointsToAlarm ?? a.window.evaluationPeriods);
    if (a.seenAfterRun?.missingBreaches && a.seenAfterRun.seconds >= counted) {
      push({
        key: a.key,
        promise: `${a.name} pages only checks that failed`,
        figure: `a check's run ends up to ${hours(a.seenAfterRun.seconds)} after its scheduled time, the alarm counts ${hours(counted)} of periods`,
        value: a.seenAfterRun.seconds,
        status: "broken",
        kind: "config",
        effect: `a healthy answer near its timeout (${a.seenAfterRun.cause}) is written after CloudWatch evaluated the periods the alarm counts, and a period without a check counts as a failed one: ${a.severity ?? "a"} page for an endpoint that answered`,
        remedy: a.seenAfterRun.remedy,
      });
    }
    const late = a.promisedSeconds !== undefined && worst > a.promisedSeconds;
    const muted = longestMute(a, d.mutes ?? [], start, end);
    if (muted && (a.severity === "P0" || a.severity === "P1")) {
      const promised = a.promisedSeconds ?? worst;
      if (worst + muted.seconds > promised + MUTED_PAGE_ALLOWANCE_SECONDS) {
        push({
          key: muted.mute.key,
          promise: `${a.promiseText ?? `alarm ${a.name} pages`}, also inside ${muted.mute.label}`,
          figure: `paged up to ${hours(worst + muted.seconds)} after the fault`,
          value: worst + muted.seconds,
          status: "broken",
          kind: "config",
          effect: `${muted.mute.label} mutes ${a.name} for up to ${hoursMinutes(muted.seconds)}: a fault inside it pages ${a.severity} up to ${hours(worst + muted.seconds)} after it, more than ${hours(MUTED_PAGE_ALLOWANCE_SECONDS)} later than the promised ${hours(promised)}`,
          remedy: `shorten it to at most ${hours(promised + MUTED_PAGE_ALLOWANCE_SECONDS - worst)} or ${muted.via}`,
        });
      }
    }
    const mutedText = muted ? `, or up to ${hoursMinutes(muted.seconds)} later inside ${muted.mute.label}` : "";
    if (a.overdueWatch) {
      const watcher = a.overdueWatch.watcher;
      const stopped = !watcher?.window || severityRank(watcher.severity) > severityRank(a.severity);
      push({
        key: a.key,
        promise: a.promiseText ?? `alarm ${a.name} pages`,
        figure: stopped
          ? `paged at most ${hours(worst)} after it is due while the overdue watcher runs; a stopped watcher ${watcher?.window ? `pages ${watcher.severity ?? "no severity"} only` : "pages nobody"}`
          : `paged at most ${hours(worst)} after it is due (one overdue-watch interval + the alarm's period), by the overdue watch ${a.name}${mutedText}`,
        value: worst,
        status: stopped ? "unkept" : "held",
        kind: stopped ? "program" : "config",
        ...(stopped
          ? { detail: `its overdue alarm hears only from a running watcher (missing data is not breaching), and the watcher's own missed-run alarm ${watcher?.window ? `pages ${watcher.severity}, less urgent than ${a.severity}` : "is missing"}` }
          : {}),
      });
      continue;
    }
    push({
      key: a.key,
      promise: a.promiseText ?? `alarm ${a.name} pages`,
      figure: `paged at most ${hours(worst)} after the fault${a.whileActive ? ` ${a.whileActive}` : ""}${mutedText}`,
      value: worst,
      status: late ? "unkept" : "held",
      kind: "program",
      detail: late
        ? `checks every ${hours(a.checkIntervalSeconds)}, ${a.window.datapointsToAlarm ?? a.window.evaluationPeriods} periods of ${hours(a.window.period)} and a minute of evaluation${
            a.lagSeconds ? `, and ${hours(a.lagSeconds)} of a slowest run its success cannot be stamped back over (CloudWatch may take hours to see a data point stamped over 3 h back)` : ""
          }${a.seenAfterRun ? `, and up to ${hours(a.seenAfterRun.seconds)} for the failing check's run to end and write it` : ""}: up to ${hours(worst)}`
        : undefined,
    });
  }

  // --- uptime targets: what the burn alarms page on, and a budget that one failed check does not exceed
  for (const u of d.uptimes ?? []) out.push(...uptimePromises(u));
  // --- who hears each severity the regime pages
  if (d.paging) out.push(...pagingPromises(d.paging.pages, d.paging.subscribers, d.paging.checked));

  // --- Lambda environments and names
  for (const f of d.functions) {
    const bytes = environmentBytes(f.environment);
    const over = bytes > LAMBDA_ENVIRONMENT_MAX_BYTES;
    const biggest = Object.entries(f.environment).sort((x, y) => y[1].length - x[1].length)[0]?.[0];
    push({
      key: f.key,
      promise: `function ${f.name}'s settings fit Lambda's environment`,
      figure: `${bytes} bytes of 4096`,
      value: bytes,
      status: over ? "broken" : "held",
      kind: "limit",
      ...(over ? { effect: `function ${f.name}'s environment is ${bytes} bytes (${biggest} the largest) > Lambda's 4096: AWS refuses it at deploy`, remedy: f.remedy ?? "list fewer items" } : {}),
    });
  }
  // --- collections that grow with the config: within their AWS limits (a quota is acceptable: the account may have it raised)
  for (const c of d.counts ?? []) {
    const l: DeployLimit = DEPLOY_LIMITS[c.limit];
    const excess = limitExcess(c.limit, c.figure, c.key, c.what);
    push({
      key: c.key,
      promise: `${c.what} within ${l.quota ? "the account's default quota" : "AWS's limit"}`,
      figure: `${c.figure} ${l.unit} of ${l.value}`,
      value: c.figure,
      status: excess ? "broken" : "held",
      kind: l.quota ? "config" : "limit",
      ...(excess ? { effect: excess, remedy: c.remedy } : {}),
    });
  }
  for (const l of d.leftovers ?? []) push(leftoverPromise(l));
  for (const n of d.names) {
    const problem = nameProblem(n.kind, n.name);
    if (problem) push({ key: n.key, promise: `${n.kind} name is valid`, figure: `${n.name.length} characters`, status: "broken", kind: "limit", effect: `${problem}: AWS refuses it at deploy`, remedy: "shorten it" });
  }

  return settle(pausedJobs(out, d), accepted, from, new Date(end));
}

/**
 * The promise that a bucket's data of a name no longer configured expires: held when every probe key
 * has an enabled expiration and old-version expiration (the figure: each root's days); paused while a
 * paused name keeps the catch-alls Disabled; unkept by the program when a root has none (kept forever).
 */
export function leftoverPromise(l: DeclaredLeftover): PromiseResult {
  const days = (n: number) => `${n} ${n === 1 ? "day" : "days"}`;
  const expiry = (rules: LifecycleRuleInput[]) => {
    const kept = l.probes.map((p) => ({ root: p.root, ...keptFor(rules, p.key) }));
    const noncurrent = [...new Set(kept.map((k) => k.noncurrentDays))];
    const expiring = kept.every((k) => k.readableDays !== undefined && k.noncurrentDays !== undefined);
    const text = `${kept.map((k) => `${k.root} ${days(k.readableDays!)}`).join(", ")} (the longest configured), then ${noncurrent.length === 1 ? `${noncurrent[0]} more` : "more"} as an old version`;
    return { kept, expiring, text };
  };
  const { kept, expiring, text } = expiry(l.rules);
  const promise = `${l.what} ${LEFTOVER_PROMISE}`;
  if (expiring) return { key: l.key, promise, figure: text, value: Math.max(...kept.map((k) => k.readableDays!)), status: "held", kind: "program" };
  // The probe keys match no configured name's rule: enabling every rule enables only the catch-alls for them.
  const resumed = expiry(l.rules.map((r) => ({ ...r, status: "Enabled" })));
  if (l.pausedBy?.length && resumed.expiring) {
    return {
      key: l.key,
      promise,
      figure: `kept while ${l.pausedBy.join(", ")} ${l.pausedBy.length === 1 ? "is" : "are"} paused (the catch-all rules are Disabled with its rules: an S3 filter cannot leave a paused prefix out), then ${resumed.text}`,
      status: "paused",
      kind: "program",
      detail: `${l.pausedBy.join(", ")} paused: nothing under the catch-all rules' prefixes expires until it is resumed`,
    };
  }
  const bare = kept.filter((k) => k.readableDays === undefined || k.noncurrentDays === undefined).map((k) => k.root);
  return { key: l.key, promise, figure: "kept forever", status: "unkept", kind: "program", effect: `no enabled lifecycle rule expires ${bare.join(", ")}: ${l.what} no longer configured are kept and billed forever` };
}

/**
 * The longest stretch a window or mute holds back alarm `a`'s pages over [start, end) (ms), with the
 * mute and how it selects the alarm (for the remedy), or undefined when none selects it. A window:
 * its duration; a mute: from its start (or `start`, if earlier or unset) to its end, within the window.
 */
export function longestMute(a: DeclaredAlarm, mutes: DeclaredMute[], start: number, end: number): { mute: DeclaredMute; seconds: number; via: string } | undefined {
  // The stretches each window or mute that selects the alarm holds its pages back. CloudWatch keeps an
  // alarm muted while any rule that targets it is active, so overlapping or touching stretches count
  // as one ("How alarm mute rules work", CloudWatch user guide: overlapping mute rules).
  const stretches: { from: number; to: number; mute: DeclaredMute; via: string }[] = [];
  for (const m of mutes) {
    let via: string | undefined;
    if (m.alarms.includes(a.name)) via = `drop ${a.name} from its alarms`;
    else if (a.severity && m.severities.includes(a.severity)) via = `drop ${a.severity} from its severities`;
    else {
      const c = (a.components ?? []).find((x) => m.components.includes(x));
      if (c) via = `drop ${c} from its components`;
    }
    if (!via) continue;
    if (m.durationSeconds !== undefined && m.schedule) {
      const d = m.durationSeconds * 1000;
      for (const t of schedulerRuns(m.schedule, start - d, end).runs) stretches.push({ from: Math.max(t, start), to: Math.min(t + d, end), mute: m, via });
    } else if (m.durationSeconds !== undefined) {
      stretches.push({ from: start, to: start + m.durationSeconds * 1000, mute: m, via });
    } else {
      stretches.push({ from: Math.max(m.from ?? start, start), to: Math.min(m.until ?? start, end), mute: m, via });
    }
  }
  stretches.sort((x, y) => x.from - y.from);
  let best: { mute: DeclaredMute; seconds: number; via: string } | undefined;
  let i = 0;
  while (i < stretches.length) {
    // One muted stretch: every stretch that starts before the union so far ends.
    let to = stretches[i].to;
    const inIt = [stretches[i]];
    let k = i + 1;
    while (k < stretches.length && stretches[k].from <= to) {
      to = Math.max(to, stretches[k].to);
      inIt.push(stretches[k]);
      k++;
    }
    const seconds = Math.max(0, (to - stretches[i].from) / 1000);
    const own = [...new Set(inIt.map((x) => x.mute))];
    if (seconds > 0 && (!best || seconds > best.seconds)) {
      // Several windows together: named as one, refused on the first one's key.
      const mute = own.length === 1 ? own[0] : { ...own[0], label: `${own.map((m) => m.label).join(" and ")} together` };
      best = { mute, seconds, via: inIt[0].via };
    }
    i = k;
  }
  return best;
}

/**
 * The promises of a paused job (its schedule key: runs as scheduled, is watched, and for a backup the
 * RPO) become one `paused` result: a job stopped on purpose neither holds nor breaks them. So do the
 * promises that depend on it, with the figure that applies while it is paused: a paused backup's RPO
 * alarm (actions off: no page) and its verify's age (no new backup: the verify fails once the newest is
 * older than maxAgeHours), a paused verify's age, and the down alarms of paused endpoint checks.
 * AWS limits (`limit` results) stay: AWS refuses them paused or not.
 */
function pausedJobs(results: PromiseResult[], d: Pick<Declared, "jobs" | "databases" | "alarms">): PromiseResult[] {
  const paused = new Map(d.jobs.filter((j) => j.paused).map((j) => [j.key, j]));
  if (paused.size === 0) return results;
  // Dependent promise key -> its figure and why, while the job it depends on is paused.
  const dependents = new Map<string, { figure: string; detail: string }>();
  for (const a of d.alarms) {
    if (a.pausedWith && paused.has(a.pausedWith)) {
      dependents.set(a.key, { figure: "no page while paused (the alarm's actions are off)", detail: `${a.pausedWith} is paused: alarm ${a.name} evaluates with its actions off until the job is resumed` });
    }
  }
  for (const db of d.databases) {
    if (!db.verify) continue;
    const key = `${db.key}.verify.maxAgeHours`;
    if (paused.has(db.verify.key)) dependents.set(key, { figure: "no verify while paused", detail: `${db.verify.key} is paused: no verify runs until it is resumed` });
    else if (paused.has(db.backup.key)) {
      dependents.set(key, {
        figure: `no backup while paused: the verify fails once the newest backup is older than ${db.verify.maxAgeHours} h`,
        detail: `${db.backup.key} is paused: no new backup, so the verify fails once the newest backup is older than ${db.verify.maxAgeHours} h (maxAgeHours); pause the verify too, or resume the backup`,
      });
    }
  }
  const out = results.filter((r) => !paused.has(r.key) && !(dependents.has(r.key) && r.kind !== "limit"));
  for (const j of paused.values()) {
    out.push({ key: j.key, promise: `${j.label} runs ${j.text} (${j.timezone})`, figure: "paused", status: "paused", kind: "config", detail: "paused: true: the schedule is disabled and its missed-run watch silent until it is resumed" });
  }
  for (const [key, dep] of dependents) {
    const original = results.find((r) => r.key === key && r.kind !== "limit");
    if (original) out.push({ key, promise: original.promise, figure: dep.figure, status: "paused", kind: original.kind, detail: dep.detail });
  }
  return out;
}

/**
 * The promises of an endpoint's uptime target: each burn alarm pair's page, stated as the failed checks
 * that trip every window of it (a single one, with one-minute checks and 99.9 % or more: the budget's
 * share of an hour at 14.4x is under one check), and a budget of at least one check interval: a target
 * whose 30 days of budget are shorter than one check (99.99 %: 4.32 min, against checks every 5 min)
 * is spent whole by one failed check, so every failure pages and the target is missed after one.
 */
function uptimePromises(u: DeclaredUptime): PromiseResult[] {
  const out: PromiseResult[] = [];
  const minutes = (s: number) => `${Math.round((s / 60) * 100) / 100} min`;
  const budget = `${u.budgetMinutes} min`;
  const stepMinutes = u.checkStepSeconds / 60;
  if (u.budgetMinutes < stepMinutes) {
    // The highest target (2 decimals) whose budget holds one check interval: 100 - step / 30 days.
    const most = Math.floor((100 - (stepMinutes / (30 * 24 * 60)) * 100) * 100) / 100;
    out.push({
      key: u.key,
      promise: `${u.endpoint}'s ${u.targetPercent} % uptime budget holds at least one check`,
      figure: `${budget} of downtime in 30 days < one check interval (${minutes(u.checkStepSeconds)})`,
      value: Math.round(u.budgetMinutes * 60),
      status: u.paused ? "paused" : "broken",
      kind: "config",
      effect: `${u.targetPercent} % of 30 days leaves ${budget} of downtime (${Number((100 - u.targetPercent).toFixed(6))} % of 43,200 min), less than one check interval (${minutes(u.checkStepSeconds)}): one failed check spends more than the whole budget, so the ${u.pairs[0]?.severity ?? ""} fast burn alarm pages on every failed check and the target is missed after one`,
      remedy: `check at least every ${Math.max(1, Math.floor(u.budgetMinutes))} min or set uptimeTargetPercent to at most ${most}`,
    });
  }
  for (const p of u.pairs) {
    const windows = p.windows.map((w) => `${Number.isFinite(w.failures) ? w.failures : "no number"} failed of ${w.checks} check${w.checks === 1 ? "" : "s"} in ${hours(w.windowSeconds)}`).join(" and ");
    const single = p.windows.every((w) => w.failures === 1);
    const never = p.windows.some((w) => !Number.isFinite(w.failures));
    out.push({
      key: u.key,
      promise: `${p.severity} page when ${u.endpoint} spends its ${u.targetPercent} % budget (${budget} in 30 days) at ${p.burnRate}x (${p.name} burn)`,
      figure: never ? `never paged: ${windows} go below its threshold` : `paged on ${single ? `a single failed check (${windows})` : windows}`,
      value: Math.max(...p.windows.map((w) => w.failures)),
      status: u.paused ? "paused" : "held",
      kind: "config",
      ...(single && !u.paused
        ? { detail: `at ${p.burnRate}x, ${budget} in 30 days allows ${minutes(p.burnRate * u.budgetMinutes * 60 * (p.windows[0].windowSeconds / (30 * 86400)))} of downtime in ${hours(p.windows[0].windowSeconds)}, less than one check (${minutes(u.checkStepSeconds)}): any failed check is a ${p.name} burn` }
        : {}),
    });
  }
  return out;
}

/** Applies acceptances and writes the refusal lines. */
export function settle(promises: PromiseResult[], accepted: Acceptance[], from: Date, to: Date): PromiseReport {
  const refusals: string[] = [];
  const acceptedKeys = new Set(accepted.map((a) => a.key));
  for (const p of promises) {
    if (p.status !== "broken") continue;
    if (p.kind === "config" && acceptedKeys.has(p.key) && !p.recurring) p.status = "accepted";
    else if (p.recurring && acceptedKeys.has(p.key)) p.effect = `${p.effect} (acceptedRisks cannot accept a break that comes on good days${p.effect?.includes("in 12 months") ? "" : `, ${p.recurring} times in 12 months`})`;
  }
  // One line per key with a broken promise: the cause once, every effect, what would keep it.
  const byKey = new Map<string, PromiseResult[]>();
  for (const p of promises.filter((x) => x.status === "broken")) byKey.set(p.key, [...(byKey.get(p.key) ?? []), p]);
  for (const [key, list] of byKey) refusals.push(refusalLine(key, list));
  accepted.forEach((a, i) => {
    // A paused promise keeps its acceptance: it applies again when the job is resumed.
    const acceptable = promises.some((p) => p.key === a.key && ((p.kind === "config" && p.status === "accepted") || p.status === "paused" || (p.status === "broken" && p.recurring)));
    if (!acceptable) {
      const limit = promises.some((p) => p.key === a.key && p.kind === "limit" && p.status === "broken");
      refusals.push(
        limit
          ? `acceptedRisks[${i}].key: "${a.key}" breaks an AWS limit, which no acceptance can keep (AWS refuses it at deploy)`
          : `acceptedRisks[${i}].key: "${a.key}" breaks no promise; remove the acceptance${/\[\d+\]/.test(a.key) ? " (promise keys name list items by id or name, as the plan's Promises section prints them: databases[app], not databases[0])" : ""}`,
      );
    }
  });
  return { from: from.toISOString(), to: to.toISOString(), promises, refusals };
}

/** `key: cause: effect; effect; remedy`: a skipped run's own "no run that day" gives way to the named consequences. */
export function refusalLine(key: string, list: PromiseResult[]): string {
  const cause = list.find((p) => p.cause)?.cause;
  let effects = list.map((p) => p.effect).filter((e): e is string => !!e);
  if (effects.length > 1) effects = effects.filter((e) => !/^no .* that day$/.test(e));
  const remedies = [...new Set(list.map((p) => p.remedy).filter((r): r is string => !!r))];
  // The remedy that names the zone or time says it for all.
  const remedy = remedies.length > 1 ? remedies.sort((a, b) => b.length - a.length)[0] : remedies[0];
  return `${key}: ${cause ? `${cause}: ` : ""}${[...new Set(effects)].join("; ")}${remedy ? `; ${remedy}` : ""}`;
}

/** The figure's detail for a report row: effect and remedy of a broken promise, the reason of an unkept one. */
export function promiseDetail(p: PromiseResult): string | undefined {
  if (p.detail) return p.detail;
  const parts = [p.cause, p.effect, p.remedy].filter(Boolean);
  return parts.length ? parts.join("; ") : undefined;
}
