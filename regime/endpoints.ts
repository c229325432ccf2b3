/** Endpoint health checks of the regime: `maintenance-regime:endpoints`. */
import { z } from "zod";
import { ALWAYS, id, paused, schedule, secretsManagerArn, severity, uniqueBy, whenValid } from "./primitives";
import { urlCredentialProblem } from "../tasks/lib/url-credentials";
import { JSON_PATH_FORM, jsonPathProblem } from "../tasks/health-check/json-path";
import { slowAlarmProblem } from "../tasks/health-check/settings";
import { cronWallTimes, type Schedule } from "./schedule";
import { scheduleShiftSeconds } from "./scheduler-time";

const statusCondition = z.union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)]);

export const endpointSchema = z
  .object({
    name: id.describe("names the check, its metrics and alarms"),
    url: z
      .url({ protocol: /^https?$/, message: "must be an http(s) URL" })
      // The URL reaches the function's environment, alarm descriptions (SNS mails them), the plan and
      // the task's output: a credential in it would leak there. The line never quotes the URL.
      .superRefine((u, ctx) => {
        const problem = urlCredentialProblem(u, 'put the credential in a Secrets Manager secret as a request header ({"Authorization": "Basic ..."}) and set headersSecretArn');
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .describe("the http(s) URL requested (a health endpoint such as /health); no user:password@ and no credential query parameter (token, api_key, ...): use headersSecretArn"),
    method: z.enum(["GET", "HEAD", "POST"]).default("GET").describe("HTTP method of the request"),
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000).describe("milliseconds before the request counts as failed"),
    status: statusCondition.default(200).describe("HTTP status code (or list of codes) that counts as healthy, judged on the final answer after redirects"),
    followRedirects: z
      .boolean()
      .default(true)
      .describe(
        "follow redirects (301, 302, 303, 307, 308; at most 10, to any http(s) URL, headersSecretArn's headers only to the URL's own origin) and judge the final answer, as a browser or curl -L does; a loop or more than 10 is down. false: judge the redirect itself (a status listing the 3xx also stops there)",
      ),
    maxResponseMs: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("slow alarm (slowSeverity) when the average response time exceeds this many ms (seed 001: API response time > 500 ms); a slow answer never counts as down"),
    bodyContains: z.string().optional().describe("healthy only when the response body contains this text"),
    jsonField: z
      .object({
        path: z
          .string()
          .superRefine((p, ctx) => {
            const problem = jsonPathProblem(p);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
          })
          .describe(`path into the JSON response body: ${JSON_PATH_FORM}; items.0.status or items[0].status for an array element`),
        equals: z.union([z.string(), z.number(), z.boolean()]).describe("the value the field must have"),
      })
      .strict()
      .optional()
      .describe("healthy only when a field of the JSON response body has this value ({\"status\": \"ok\"})"),
    minCertificateDays: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        "for https: certificate alarm (certificateSeverity) when a certificate of the chains clients validate (leaf, intermediate, or the trusted root; not extra ones the server sends beyond that root), at the URL and at every https URL its redirects lead to, expires sooner; never counts as down",
      ),
    headersSecretArn: secretsManagerArn
      .optional()
      .describe("request headers from a Secrets Manager secret whose SecretString is a JSON object of header name to value, read by the check at run time"),
    severity: severity.default("P0").describe("severity of the down alarm (unreachable, untrusted, timed out, or a wrong status, body or JSON field)"),
    slowSeverity: severity.default("P3").describe("severity of the slow alarm (average response time above maxResponseMs)"),
    certificateSeverity: severity.default("P2").describe("severity of the certificate alarm (fewer than minCertificateDays left)"),
    failuresBeforeAlarm: z
      .number()
      .int()
      .min(1)
      .max(60)
      .optional()
      .describe(
        "failed checks in a row before the down alarm pages; default: enough checks to cover 5 minutes of outage (seed 000: service down > 5 minutes), at least 2: 5 at one check a minute, 2 at hourly checks; a schedule with gaps (working hours) counts the checks while they run, and its gaps neither page nor clear the alarm; checks further apart than a day (every 3 days, weekly) are gapped too: the alarm spans the days that hold that many checks (default 2, or 1 when checks are more than 6 days apart: CloudWatch looks back at most 7 days)",
      ),
    uptimeTargetPercent: z
      .number({ message: "must be a number" })
      .gt(0, "must be a percentage above 0 and below 100 (e.g. 99.9)")
      .lt(100, "must be a percentage above 0 and below 100 (e.g. 99.9): 100 leaves no error budget")
      .optional()
      .describe(
        "availability target over 30 days (seed 000: Uptime - Target: 99.9%; seed 004: Target: 99.5% uptime): error-budget burn alarms on healthy checks / all checks, fast (1 h and 5 min at 14.4x the budget rate) and slow (6 h and 30 min at 6x)",
      ),
    uptimeSeverity: severity
      .default("P2")
      .describe("severity of the fast error-budget burn alarm (uptimeTargetPercent); the slow burn alarm pages one step lower (P3 at most)"),
  })
  .strict()
  // Checks across keys, each judged only on valid keys (whenValid): a refused url or timeoutMs gives its own line only.
  .refine((e) => e.minCertificateDays === undefined || e.url.startsWith("https:"), { message: "needs an https URL", path: ["minCertificateDays"], ...whenValid("minCertificateDays", "url") })
  // Conditions that could never hold: the endpoint would be down on every run, or its alarm could never fire.
  .superRefine((e, ctx) => {
    if (e.method !== "HEAD") return;
    for (const k of ["bodyContains", "jsonField"] as const) {
      if (e[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: "a HEAD response has no body: use method GET, or drop the body condition" });
    }
  }, whenValid("method", "bodyContains", "jsonField"))
  .superRefine((e, ctx) => {
    const slow = slowAlarmProblem(e.maxResponseMs, e.timeoutMs, "timeoutMs");
    if (slow) ctx.addIssue({ code: "custom", path: ["maxResponseMs"], message: slow });
  }, whenValid("maxResponseMs", "timeoutMs"));

export const endpointsSchema = z
  .object({
    paused,
    schedule: schedule
      .default("every 1 minute")
      .describe("how often every endpoint is checked; failuresBeforeAlarm counts these runs; checks unevenly spaced while they run (cron(0,5 * * * ? *)) are refused: use a rate or a step that divides the hour or day"),
    checks: z.array(endpointSchema).min(1, "must list at least one endpoint").superRefine(uniqueBy("name", "endpoint"), ALWAYS).describe("the endpoints checked, each with its own down, slow and certificate alarms"),
  })
  .strict();

export type EndpointConfig = z.output<typeof endpointSchema>;

/** Minutes of outage after which the down alarm pages by default (seed 000: "Service down > 5 minutes"). */
export const DOWN_AFTER_MINUTES = 5;

/**
 * Failed checks in a row before an endpoint's down alarm pages: the explicit `failuresBeforeAlarm`,
 * else the checks that cover DOWN_AFTER_MINUTES of outage at one check every `checkPeriodSeconds`,
 * at least 2 (one failed check is a blip) and within CloudWatch's look-back (period x evaluation
 * periods at most 86,400 s below an hour's period, 604,800 s from an hour; PutMetricAlarm API
 * reference). Every minute: 5; every 2 minutes: 3; every 5 minutes, hourly, daily: 2.
 */
export function failuresBeforeDown(explicit: number | undefined, checkPeriodSeconds: number): number {
  if (explicit !== undefined) return explicit;
  const cap = Math.floor((checkPeriodSeconds < 3600 ? 86400 : 604800) / checkPeriodSeconds);
  return Math.max(1, Math.min(cap, Math.max(2, Math.ceil((DOWN_AFTER_MINUTES * 60) / checkPeriodSeconds))));
}

/**
 * Minutes from the start of an outage to the down page: [earliest, latest]. The outage may begin
 * just before a check (count failed checks: count x period) or just after a healthy one (one more
 * period). Hourly checks with 2 failures: 120 to 180 minutes.
 */
export function downTimeToPageMinutes(failures: number, checkPeriodSeconds: number): [number, number] {
  return [(failures * checkPeriodSeconds) / 60, ((failures + 1) * checkPeriodSeconds) / 60];
}

/** A Monday with no daylight-saving change near it: the wall-clock week the checks' step is read from. */
const STEP_SAMPLE_START = Date.UTC(2027, 0, 4);
/** Five weeks of wall-clock times: every weekday several times, a monthly day at least once. */
const STEP_SAMPLE_DAYS = 35;

const wallsCache = new Map<string, number[]>();

/** The wall-clock times of a cron's checks over five weeks from STEP_SAMPLE_START, in ms (cronWallTimes); read many times per plan, computed once. */
function sampleWalls(expression: string): number[] {
  let walls = wallsCache.get(expression);
  if (!walls) {
    walls = cronWallTimes(expression, STEP_SAMPLE_START, STEP_SAMPLE_START + STEP_SAMPLE_DAYS * 86_400_000);
    wallsCache.set(expression, walls);
  }
  return walls;
}

const longest = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), -Infinity);

/**
 * Seconds between two checks while the checks run: a rate's interval; for a cron, the shortest time
 * between two consecutive wall-clock times it names over five weeks (`cron(*\/5 8-18 ? * MON-FRI *)`:
 * 300, although its longest gap, the weekend, is 3725 minutes). A cron naming fewer than two times
 * in five weeks gives its longest interval (`intervalSeconds`). It sizes the down alarm's period;
 * a time to the page counts the real gaps (checkGaps).
 */
export function checkStepSeconds(s: Pick<Schedule, "expression" | "intervalSeconds">): number {
  if (!/^cron\(/i.test(s.expression)) return s.intervalSeconds;
  const walls = sampleWalls(s.expression);
  let step = Infinity;
  for (let i = 1; i < walls.length; i++) step = Math.min(step, (walls[i] - walls[i - 1]) / 1000);
  return Number.isFinite(step) ? Math.min(step, s.intervalSeconds) : s.intervalSeconds;
}

/**
 * The cron a schedule runs while its checks run, with its stops taken out: an hours range opened to
 * the whole day (`8-18` to `*`, `8-18/2` to `*\/2`) and its day-of-month, month and day-of-week fields
 * to every day. `cron(*\/5 8-18 ? * MON-FRI *)` runs as `cron(*\/5 * * * ? *)` while it runs; a list of
 * hours (`9,17`) or a step over the day (`0/5`) has no stop: its gaps are its spacing.
 */
function runningCron(expression: string): string {
  const fields = /^cron\((.*)\)$/i.exec(expression.trim())![1].trim().split(/\s+/);
  const [mi, ho, dm, , dw, yr] = fields;
  const hours = ho
    .split(",")
    .map((part) => {
      const [range, step] = part.split("/");
      return range.includes("-") ? `*${step === undefined ? "" : `/${step}`}` : part;
    })
    .join(",");
  return `cron(${mi} ${hours} ${dm === "?" ? "?" : "*"} * ${dw === "?" ? "?" : "*"} ${yr})`;
}

/**
 * The gaps between a schedule's checks as they run, in seconds (wall clock, five weeks from a Monday
 * without a clock change): `gaps` in order, and `runningSeconds`, the longest gap while the checks run:
 * a gap longer than it is a stop of the schedule (the night and weekend of working hours; the
 * hours and days runningCron opens). A rate's gaps are its interval. `cron(0,5 * * * ? *)`: gaps
 * 300 and 3300, running 3300 (no stop: an hourly pattern 5 and 55 minutes apart);
 * `cron(*\/5 8-18 ? * MON-FRI *)`: running 300, stops of 13 h 5 min and the weekend.
 */
export function checkGaps(s: Pick<Schedule, "expression" | "intervalSeconds">): { gaps: number[]; runningSeconds: number } {
  if (!/^cron\(/i.test(s.expression)) return { gaps: [s.intervalSeconds], runningSeconds: s.intervalSeconds };
  const gapsOf = (walls: number[]) => walls.slice(1).map((w, i) => (w - walls[i]) / 1000);
  const gaps = gapsOf(sampleWalls(s.expression));
  if (gaps.length === 0) return { gaps: [s.intervalSeconds], runningSeconds: s.intervalSeconds };
  const running = gapsOf(sampleWalls(runningCron(s.expression)));
  const runningSeconds = Math.min(longest(gaps), running.length ? longest(running) : Infinity);
  return { gaps, runningSeconds };
}

/**
 * The longest time from a fault to the `failures`-th failing check while the checks run, in seconds:
 * the fault comes just after a healthy check, so it is the longest sum of `failures` consecutive
 * gaps (checkGaps), each stop counted as the longest running gap (a stop neither pages nor clears
 * the alarm: the promise holds while checks run). Evenly spaced checks: failures x their interval;
 * `cron(0,5 * * * ? *)` with 2 failures: 3600 (a fault at :05 is seen at :00 and :05 of the next hour).
 */
export function longestFailingSpanSeconds(s: Pick<Schedule, "expression" | "intervalSeconds">, failures: number): number {
  const { gaps, runningSeconds } = checkGaps(s);
  const counted = gaps.map((g) => Math.min(g, runningSeconds));
  if (counted.length < failures) return failures * runningSeconds;
  let sum = counted.slice(0, failures).reduce((a, b) => a + b, 0);
  let most = sum;
  for (let i = failures; i < counted.length; i++) {
    sum += counted[i] - counted[i - failures];
    most = Math.max(most, sum);
  }
  return most;
}

/**
 * Whether the checks stop for part of the time, beyond their spacing: a gap longer than the longest
 * gap while they run (checkGaps: working hours' nights and weekends), or a clock change in their zone
 * (scheduleShiftSeconds). A down promise then holds while the checks run.
 */
export function checksStop(s: Pick<Schedule, "expression" | "intervalSeconds" | "timezone">): boolean {
  const { gaps, runningSeconds } = checkGaps(s);
  return longest(gaps) > runningSeconds || scheduleShiftSeconds(s) > 0;
}

/**
 * Why the down alarm cannot keep its promise on these checks, or undefined: checks at most a day apart
 * whose gaps while they run differ (`cron(0,5 * * * ? *)`: 5 and 55 minutes; `cron(0/7 * * * ? *)`: 7
 * and 4). The alarm's period is the shortest gap, so the periods inside a longer gap hold no check:
 * CloudWatch counts the last `failures` data points only within its evaluation range, a few periods
 * longer than the alarm's window (CloudWatch user guide, "Configuring how CloudWatch alarms treat
 * missing data"), so failing checks a long gap apart may not count together and the page may come
 * later than the figure, while a failed check followed by empty periods may page alone. Stops of a
 * schedule (working hours' nights and weekends, checkGaps) are not judged here: the alarm keeps its
 * state over them. Checks further apart than a day have their own window (downAlarmWindow).
 */
export function unevenChecksProblem(s: Pick<Schedule, "expression" | "intervalSeconds">): { shortestSeconds: number; longestSeconds: number } | undefined {
  if (checksSparserThanPeriod(s)) return undefined;
  const shortestSeconds = checkStepSeconds(s);
  const { runningSeconds } = checkGaps(s);
  return runningSeconds > shortestSeconds ? { shortestSeconds, longestSeconds: runningSeconds } : undefined;
}

/**
 * The most checks one window of `windowSeconds` holds while the checks run: a rate's
 * floor(window / interval); a cron's most wall-clock times in any such stretch over five weeks
 * (`cron(0,5 * * * ? *)`: 2 an hour, not the 12 its 5-minute step would give). At least 1.
 */
export function checksInWindow(s: Pick<Schedule, "expression" | "intervalSeconds">, windowSeconds: number): number {
  if (!/^cron\(/i.test(s.expression)) return Math.max(1, Math.floor(windowSeconds / s.intervalSeconds));
  const walls = sampleWalls(s.expression);
  let most = 1;
  for (let i = 0, j = 0; i < walls.length; i++) {
    while (j < walls.length && walls[j] - walls[i] < windowSeconds * 1000) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

/**
 * Whether the checks stop for part of the time: working hours and weekdays (their longest interval is
 * more than their step), and every cron schedule in a zone whose clock changes, because EventBridge
 * Scheduler runs the repeated fall-back hour once (every 5 minutes in America/New_York: no check from
 * 01:55 EDT to 02:00 EST, 65 minutes). Their down alarm then ignores missing data, so the gap neither
 * pages nor clears it; a checker that stops is paged by its own missed-run alarm.
 */
export function checksHaveGaps(s: Pick<Schedule, "expression" | "intervalSeconds" | "timezone">): boolean {
  return s.intervalSeconds > checkStepSeconds(s) || scheduleShiftSeconds(s) > 0 || checksSparserThanPeriod(s);
}

/** The longest period the down alarm takes (its period is one check step, at most a day). */
export const DOWN_ALARM_PERIOD_MAX_SECONDS = 86_400;

/**
 * Whether checks lie further apart than one down-alarm period can hold, even while they run (their
 * step, checkStepSeconds, over a day: every 2 or 3 days, weekly; not working hours, whose weekend is a gap):
 * most periods then hold no check, so the checks count as gapped (checksHaveGaps): a period without a
 * check neither pages nor clears, and the alarm's window spans the checks it counts (downAlarmWindow).
 */
export function checksSparserThanPeriod(s: Pick<Schedule, "expression" | "intervalSeconds">): boolean {
  return checkStepSeconds(s) > DOWN_ALARM_PERIOD_MAX_SECONDS;
}

/**
 * The down alarm's period, in seconds: one check step while the checks run (`checkStepSeconds`), in
 * whole minutes, 1 minute to 1 day (CloudWatch: a period of 60 s or more is a multiple of 60).
 */
export function downAlarmPeriodSeconds(s: Pick<Schedule, "expression" | "intervalSeconds">): number {
  return Math.max(60, Math.min(DOWN_ALARM_PERIOD_MAX_SECONDS, Math.round(checkStepSeconds(s) / 60) * 60));
}

/**
 * The down alarm of an endpoint: failed checks in a row before it pages (`failures`), its period,
 * evaluation periods and datapoints to alarm, and `spanSeconds`, the worst time from the fault to the
 * datapoint that completes its condition (CloudWatch's minute of evaluation not included).
 * - Checks at most a day apart: one period per check (the shortest gap), `failures` of them, all
 *   required (failuresBeforeDown); span: the longest `failures` consecutive gaps while the checks run
 *   (longestFailingSpanSeconds: the fault just after a healthy check, then the failing checks) + the
 *   period holding the last failing check. Evenly spaced: one interval + `failures` periods.
 * - Checks further apart (checksSparserThanPeriod: every 3 days, weekly): one-day periods, as many as
 *   hold `failures` checks at their longest interval apart ((failures - 1) x interval, one more period
 *   for where the first falls in its day), `failures` of them required (missing data is ignored, so
 *   the days between checks neither page nor clear). Default failures: 2 when that window fits
 *   CloudWatch's 7 days (checks up to 6 days apart), else 1 (weekly). Span: `failures` longest
 *   intervals (the fault is seen at the next check) + the period holding the last failing check.
 * A window longer than 7 days is returned as is: the promise check refuses it (alarmWindowProblem).
 */
export function downAlarmWindow(
  explicit: number | undefined,
  s: Pick<Schedule, "expression" | "intervalSeconds">,
): { failures: number; period: number; evaluationPeriods: number; datapointsToAlarm: number; spanSeconds: number } {
  const period = downAlarmPeriodSeconds(s);
  if (!checksSparserThanPeriod(s)) {
    const failures = failuresBeforeDown(explicit, period);
    return { failures, period, evaluationPeriods: failures, datapointsToAlarm: failures, spanSeconds: longestFailingSpanSeconds(s, failures) + period };
  }
  const periodsFor = (f: number) => Math.ceil(((f - 1) * s.intervalSeconds) / period) + 1;
  const failures = explicit ?? (periodsFor(2) * period <= 604_800 ? 2 : 1);
  return { failures, period, evaluationPeriods: periodsFor(failures), datapointsToAlarm: failures, spanSeconds: failures * s.intervalSeconds + period };
}
