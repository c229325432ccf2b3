/** AWS limits the regime must respect (see REFERENCE.md). One place, used by the schema and the components. */

/** The only values CloudWatch Logs accepts for a log group's retention. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/**
 * Share of a run's time limit past which its duration alarm pages, one severity lower than a failure
 * (components/scheduled-task.ts): 0.8, so a backup on Lambda pages at 720 s of its 900.
 */
export const NEAR_TIMEOUT_FRACTION = 0.8;

/**
 * Seconds a budgeted maintenance run (vacuum, analyze, reindex, purge) may take past its time budget:
 * each statement is stopped by statement_timeout at the budget's end, then the run's clean-up (an
 * index a stopped REINDEX CONCURRENTLY left invalid, the report) has this long, its statements
 * bounded the same way (tasks/lib/pgmaint.ts Budget). The one figure for "budget + margin".
 */
export const BUDGET_OVERRUN_SECONDS = 30;

/**
 * Longest time budget of a maintenance run on Lambda, seconds: a run that uses all of it ends by
 * budget + BUDGET_OVERRUN_SECONDS, at or under its duration alarm's line (NEAR_TIMEOUT_FRACTION of
 * Lambda's 900 s: 720 s), so a full budget, a healthy run, never pages: 690 (11.5 minutes).
 */
export const MAX_TIME_BUDGET_SECONDS = LAMBDA_MAX_TIMEOUT_SECONDS * NEAR_TIMEOUT_FRACTION - BUDGET_OVERRUN_SECONDS;
export const LAMBDA_MEMORY_MB = { min: 128, max: 10240 } as const;
export const NAME_MAX = 64;

/** Longest CloudWatch alarm name (PutMetricAlarm AlarmName: 1 to 255 characters); also the alarm's Pulumi resource name here. */
export const ALARM_NAME_MAX = 255;

/**
 * CloudWatch's retention of 1-hour metric data points: 455 days (15 months), the longest history a
 * metric read at a period of 3600 s reaches (GetMetricData, CloudWatch API Reference,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html:
 * "Data points with a period of 3600 seconds (1 hour) are available for 455 days (15 months)").
 */
export const METRIC_HOURLY = { periodSeconds: 3600, retentionSeconds: 455 * 86400 } as const;

/**
 * Why State Manager refuses an association cron (`expression`, 5 or 6 fields, as the config wrote it
 * in `text`) that names months, or undefined when its month field (the fourth) is `*`. AWS Systems
 * Manager user guide, "Reference: Cron and rate expressions for Systems Manager": State Manager does
 * not support specifying months in cron expressions for associations.
 */
export function stateManagerMonthsProblem(text: string, expression: string): string | undefined {
  const month = /^cron\((.*)\)$/i.exec(expression)?.[1].trim().split(/\s+/)[3];
  return month === undefined || month === "*" ? undefined : `"${text}" names months (${month}); State Manager association schedules cannot: use * in the month field`;
}

/** Answers of isKnownTimezone by name: a plan asks about the same few zones again and again. */
const knownTimezones = new Map<string, boolean>();

/** Whether this runtime (and so EventBridge Scheduler) knows the IANA timezone, in whatever case it is written. */
export function isKnownTimezone(tz: string): boolean {
  let known = knownTimezones.get(tz);
  if (known === undefined) knownTimezones.set(tz, (known = timezoneKnown(tz)));
  return known;
}

/** Whether an IANA timezone name is known and spelt as the tz database spells it (timezoneCaseProblem). */
export function isIanaTimezone(tz: string): boolean {
  return isKnownTimezone(tz) && timezoneCaseProblem(tz) === undefined;
}

/**
 * Why a known timezone name `tz` is not spelt as the tz database spells it, or undefined. Its names
 * are case-sensitive ("America/New_York") while this runtime's ICU reads any case, so a name in
 * another case would pass here and be provisioned as written: refused, naming the spelling. Every
 * part of a tz database name starts with a capital ("Etc/GMT+5", "US/Eastern").
 */
export function timezoneCaseProblem(tz: string): string | undefined {
  if (!caseProblems.has(tz)) caseProblems.set(tz, findCaseProblem(tz));
  return caseProblems.get(tz);
}

/** Answers of timezoneCaseProblem by name, as knownTimezones keeps isKnownTimezone's. */
const caseProblems = new Map<string, string | undefined>();

function findCaseProblem(tz: string): string | undefined {
  const resolved = new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone;
  if (resolved !== tz && resolved.toLowerCase() === tz.toLowerCase()) return `"${tz}": IANA timezone names are case-sensitive; write ${resolved}`;
  if (tz.split("/").some((part) => !/^[A-Z]/.test(part))) return `"${tz}": IANA timezone names are case-sensitive, each part starting with a capital (America/New_York, US/Eastern)`;
  return undefined;
}

function timezoneKnown(tz: string): boolean {
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)+$/.test(tz) && tz !== "UTC") return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
