/**
 * Maintenance windows and one-off mutes as CloudWatch alarm mute rules (PutAlarmMuteRule), without
 * Pulumi: the schema of `maintenanceWindows[]` and `mutes[]`, the mute-rule schedule of a window, and
 * the split of its alarms into rules. components/mute-rules.ts provisions what this module computes.
 *
 * What the mute-rule API takes (CloudWatch API reference, "Schedule" and "PutAlarmMuteRule"):
 * - `cron(Minutes Hours Day-of-month Month Day-of-week)`, five fields, in the rule's `timezone`
 *   (IANA, default UTC); only `*`, `-` and `,` are documented, and names JAN-DEC and SUN-SAT;
 * - `at(yyyy-MM-ddThh:mm)` for one activation, with no startDate/expireDate;
 * - a duration in ISO 8601, at least PT1M and at most P15D; at most 100 alarms per rule.
 *
 * A readable schedule becomes the five-field cron where it can be written with those characters
 * ("daily at 02:00", "weekly on Sunday at 03:00", "monthly on day 1", "quarterly on day 15"). The
 * API documents no `#`, `L`, `W` or `/`, and does not say whether a cron that restricts both
 * day-of-month and day-of-week ANDs them (Quartz) or ORs them (Vixie cron, where `1-7 * SUN` is every
 * one of days 1-7 and every Sunday). So "first Sunday of the month", "last Friday", "the last day" and
 * raw crons with a step or a year are not guessed at: each of their occurrences in the 12 months after
 * the run's reference date (at most MAX_OCCURRENCES) becomes its own `at()` rule, computed with
 * EventBridge Scheduler's calendar (regime/schedule.ts `nextRuns`), and every `pulumi up` regenerates
 * them, so the list rolls forward. A stack not deployed for a year loses its windows (alarms page
 * again): the safe side. Those occurrences follow EventBridge Scheduler's daylight-saving rules (a
 * local start that does not exist that day is skipped); how the mute-rule API itself treats such a
 * day in a cron is not documented.
 *
 * One-off mutes are one `at()` rule each: at their `from`, else at the run's reference date, for the
 * minutes to `until`; a mute whose `until` is past the reference date is not provisioned (never
 * refused: a config valid yesterday stays valid, and the plan with `--from` stays deterministic).
 */
import { z } from "zod";
import { dateAlone, parseIsoTime } from "../tasks/lib/iso-time";
import { ALWAYS, schedule, severity, uniqueBy, whenValid } from "./primitives";
import { cronWallTimes, type Schedule } from "./schedule";
import { localDate, schedulerRuns } from "./scheduler-time";

/** PutAlarmMuteRule: a rule targets at most 100 alarms by name. */
export const MUTE_RULE_MAX_ALARMS = 100;
/** Schedule.Duration: at least PT1M, at most P15D (CloudWatch API reference, "Schedule"). */
export const MUTE_MAX_MINUTES = 15 * 24 * 60;
/** At most this many `at()` occurrences of a window that no mute-rule cron can express, within 12 months. */
export const MAX_OCCURRENCES = 26;

const DAY_MS = 86_400_000;

/** What a window or a mute silences: the union of the alarms named, of a severity, or under a component. */
const targets = {
  alarms: z.array(z.string().min(1, "must not be empty")).default([]).describe("alarm names as the plan lists them (fitnesscrm-endpoint-api-down-P0)"),
  severities: z.array(severity).default([]).describe("every alarm paging at these severities"),
  components: z
    .array(z.string().min(1, "must not be empty"))
    .default([])
    .describe("every alarm of these components and their children, by the plan's component name (fitnesscrm-health, fitnesscrm-db-fitnesscrm)"),
};

/**
 * Whether a window or mute names something to mute. Run beside other problems of the item (ALWAYS): a
 * list that is itself invalid is reported on its own key, so the item is not judged then.
 */
const namesSomething = (t: { alarms: unknown; severities: unknown; components: unknown } | null) => {
  if (t === null || typeof t !== "object") return true;
  const lists = [t.alarms, t.severities, t.components];
  return !lists.every(Array.isArray) || lists.reduce((n: number, l) => n + (l as unknown[]).length, 0) > 0;
};
const NAMES_NOTHING = "must name what it mutes: alarms, severities or components";

export const maintenanceWindowSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "must start with a letter and use only lowercase letters, digits and -, at most 32 characters").describe("names the window's mute rules"),
    schedule: schedule.describe("when the window starts, in the readable forms (first Sunday of the month at 02:00) in the regime's timezone or its own; rate schedules are refused"),
    durationMinutes: z
      .number()
      .int("must be a whole number of minutes")
      .min(1, "must be >= 1 (CloudWatch's shortest mute, PT1M)")
      .max(MUTE_MAX_MINUTES, `must be <= ${MUTE_MAX_MINUTES} (CloudWatch's longest mute, P15D)`)
      .describe("how long each window lasts, in minutes (02:00-04:00: 120); less than the time to the next start"),
    ...targets,
    reason: z.string().min(1).optional().describe("why, for the next reader (the rules' description)"),
  })
  .strict()
  .refine(namesSomething, { message: NAMES_NOTHING, path: ["alarms"], ...ALWAYS });

/** A time with its offset, to the minute: 2026-12-24T18:00Z, 2026-12-24T13:00-05:00 (seconds, if given, 00). */
const ISO_MINUTE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:00)?(Z|[+-]\d{2}:\d{2})$/;

/** The instant of an ISO time as a mute takes it, or a one-line problem. */
export function muteTime(text: string): { at: Date } | { problem: string } {
  const alone = dateAlone(text);
  if (alone) return { problem: alone };
  if (!ISO_MINUTE.test(text)) return { problem: "must be an ISO time to the minute with its offset, like 2026-12-24T18:00Z or 2026-12-24T13:00-05:00 (a mute starts and ends on a whole minute)" };
  // A day or hour that does not exist, and the offset: the one reading of tasks/lib/iso-time.ts.
  return parseIsoTime(text);
}

const isoTime = z.string().superRefine((v, ctx) => {
  const t = muteTime(v);
  if ("problem" in t) ctx.addIssue({ code: "custom", message: t.problem });
});

export const muteSchema = z
  .object({
    ...targets,
    from: isoTime.optional().describe("when the mute starts; unset: the run's reference date (the day of `pulumi up`, 00:00 UTC; the plan's --from)"),
    until: isoTime.describe("when the mute ends by itself (ISO time with offset, to the minute); a mute whose end has passed is no longer provisioned"),
    reason: z.string().min(1, "must say why the alarms are muted").describe("why, for the next reader (the rule's description)"),
  })
  .strict()
  .refine(namesSomething, { message: NAMES_NOTHING, path: ["alarms"], ...ALWAYS })
  .superRefine((m, ctx) => {
    if (m.from === undefined) return;
    const from = muteTime(m.from);
    const until = muteTime(m.until);
    if ("problem" in from || "problem" in until) return;
    const minutes = (until.at.getTime() - from.at.getTime()) / 60_000;
    if (minutes <= 0) ctx.addIssue({ code: "custom", path: ["until"], message: `must be after from (${m.from})` });
    else if (minutes > MUTE_MAX_MINUTES) ctx.addIssue({ code: "custom", path: ["until"], message: `is ${Math.round(minutes / 1440)} days after from: CloudWatch mutes at most 15 days (P15D); split it or shorten it` });
   }, whenValid("from", "until"));

export const maintenanceWindowsSchema = z
  .array(maintenanceWindowSchema)
  .superRefine(uniqueBy("name", "maintenance window"), ALWAYS)
  .default([])
  .describe("recurring windows whose alarms do not notify (CloudWatch alarm mute rules; alarms still change state)");
export const mutesSchema = z.array(muteSchema).default([]).describe("one-off mutes with an end time; they expire by themselves");

export type MaintenanceWindowConfig = z.output<typeof maintenanceWindowSchema>;
export type MuteConfig = z.output<typeof muteSchema>;

// ---------------------------------------------------------------- schedules

const DOW = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** One day-of-week token of EventBridge cron (1 = SUN .. 7 = SAT, or a name) as a name. */
function dowName(token: string): string | undefined {
  if (/^[1-7]$/.test(token)) return DOW[Number(token) - 1];
  return DOW.includes(token.toUpperCase()) ? token.toUpperCase() : undefined;
}

/**
 * The mute-rule cron of an EventBridge Scheduler cron schedule, or undefined where the mute-rule
 * syntax cannot say the same (see the module comment): `cron(0 2 ? * SUN *)` -> `cron(0 2 * * SUN)`.
 * Day-of-week numbers become names: the API documents names only, and EventBridge counts 1 = SUN
 * where five-field cron counts 0 = SUN.
 */
export function muteCron(expression: string): string | undefined {
  const body = /^cron\((.*)\)$/.exec(expression)?.[1];
  if (!body) return undefined;
  const f = body.trim().split(/\s+/);
  if (f.length !== 6 || f[5] !== "*") return undefined;
  const [mi, ho, dm, mo, dw] = f;
  const plain = /^[0-9A-Za-z*,-]+$/;
  if (![mi, ho, dm, mo].every((x) => x === "?" || plain.test(x)) || /[LW]/i.test(dm)) return undefined;
  let dowField = "*";
  if (dw !== "?" && dw !== "*") {
    if (!plain.test(dw) || /L/i.test(dw.replace(/SAT|SUN|MON|TUE|WED|THU|FRI/gi, ""))) return undefined;
    const parts: string[] = [];
    for (const item of dw.split(",")) {
      const range = item.split("-").map(dowName);
      if (range.some((x) => x === undefined) || range.length > 2) return undefined;
      parts.push(range.join("-"));
    }
    dowField = parts.join(",");
  }
  return `cron(${mi} ${ho} ${dm === "?" ? "*" : dm} ${mo} ${dowField})`;
}

/**
 * The shortest time between two starts of a cron schedule, in seconds, on the wall clock (no daylight
 * saving): over the first two years of wall-clock starts from 2024. A window longer than this would run
 * into the next one.
 */
export function shortestIntervalSeconds(s: Pick<Schedule, "expression" | "intervalSeconds">): number {
  if (!/^cron\(/.test(s.expression)) return s.intervalSeconds;
  const from = Date.UTC(2024, 0, 1);
  const times = cronWallTimes(s.expression, from, from + 2 * 366 * DAY_MS);
  let min = Infinity;
  for (let i = 1; i < times.length; i++) min = Math.min(min, times[i] - times[i - 1]);
  return Number.isFinite(min) ? min / 1000 : s.intervalSeconds;
}

/**
 * The shortest time between two consecutive starts of a window over the 12 months after `from`, on
 * EventBridge Scheduler's calendar in the window's zone (regime/scheduler-time.ts): a daily 03:00 in
 * America/New_York starts 23 h apart across the spring-forward night. A start the zone skips counts at
 * its would-be instant, as `windowSchedules` provisions it. `date` is the local date of the earlier
 * start; undefined when fewer than two starts fall in the 12 months.
 */
export function shortestStartGap(s: Pick<Schedule, "expression" | "timezone">, from: Date): { seconds: number; date: string; nextDate: string } | undefined {
  const end = Date.UTC(from.getUTCFullYear() + 1, from.getUTCMonth(), from.getUTCDate());
  const runs = schedulerRuns(s, from.getTime(), end);
  const starts = [...runs.runs, ...runs.skipped.map((x) => x.at)].sort((a, b) => a - b);
  let best: { seconds: number; date: string; nextDate: string } | undefined;
  for (let i = 1; i < starts.length; i++) {
    const seconds = (starts[i] - starts[i - 1]) / 1000;
    if (!best || seconds < best.seconds) best = { seconds, date: localDate(starts[i - 1], s.timezone), nextDate: localDate(starts[i], s.timezone) };
  }
  return best;
}

/**
 * What is wrong with a window's schedule and duration, or undefined: a rate schedule (it knows no wall
 * clock; a window starts at a time of day), and a window as long as or longer than the shortest time
 * between two of its starts (a daily window of 24 h or 25 h: the alarms would never page between them).
 * Without `from`, the starts are read on the wall clock; with it, on the Scheduler's calendar over the
 * 12 months after it (`shortestStartGap`), where a daylight-saving change makes a day of 23 h: the
 * message names that date.
 */
export function windowProblem(s: Schedule, durationMinutes: number, from?: Date): { key: "schedule" | "durationMinutes"; message: string } | undefined {
  if (!/^cron\(/.test(s.expression)) return { key: "schedule", message: `"${s.description}" has no time of day: a maintenance window starts at one (daily at 02:00, first Sunday of the month at 02:00)` };
  const calendar = from ? shortestStartGap(s, from) : undefined;
  const interval = Math.min(shortestIntervalSeconds(s), calendar?.seconds ?? Infinity);
  const between = calendar && calendar.seconds < shortestIntervalSeconds(s) ? `the starts on ${calendar.date} and ${calendar.nextDate} of "${s.description}" in ${s.timezone} (the clock changes between them)` : `two starts of "${s.description}"`;
  if (durationMinutes * 60 > interval) {
    return { key: "durationMinutes", message: `${durationMinutes} min is longer than the ${Math.round(interval / 60)} min between ${between}: a window must end before the next one starts` };
  }
  if (durationMinutes * 60 === interval) {
    // Back to back: each window ends as the next starts, so the alarms it names never page.
    return { key: "durationMinutes", message: `${durationMinutes} min is as long as the ${Math.round(interval / 60)} min between ${between}: the alarms would be muted without a break; a window must end before the next one starts` };
  }
  return undefined;
}

/** ISO 8601 duration of whole minutes, as the API takes it: 120 -> PT2H, 2190 -> P1DT12H30M. */
export function isoDuration(minutes: number): string {
  if (!Number.isInteger(minutes) || minutes < 1) throw new Error(`duration: ${minutes} is not a whole number of minutes >= 1`);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  const time = `${h ? `${h}H` : ""}${m ? `${m}M` : ""}`;
  return `P${d ? `${d}D` : ""}${time ? `T${time}` : ""}`;
}

/** `at(yyyy-MM-ddThh:mm)` of an instant, on the wall clock of `timezone`. */
export function atExpression(t: Date, timezone: string): string {
  const f = new Intl.DateTimeFormat("en-US", { timeZone: timezone, hourCycle: "h23", hour: "2-digit", minute: "2-digit" });
  const p = Object.fromEntries(f.formatToParts(t).map((x) => [x.type, x.value]));
  return `at(${localDate(t.getTime(), timezone)}T${p.hour}:${p.minute})`;
}

/** One mute-rule schedule: a recurring cron, or one activation (`at`). */
export interface MuteSchedule {
  expression: string;
  timezone: string;
  duration: string;
  /** The activation's start, for `at()` schedules (naming, the plan). */
  start?: Date;
}

/**
 * The mute-rule schedules of one window: its cron when the mute-rule syntax can express it, else one
 * `at()` per occurrence that has not ended by `from`, within the 12 months after it (at most
 * MAX_OCCURRENCES).
 */
export function windowSchedules(s: Schedule, durationMinutes: number, from: Date): MuteSchedule[] {
  const duration = isoDuration(durationMinutes);
  const cron = muteCron(s.expression);
  if (cron) return [{ expression: cron, timezone: s.timezone, duration }];
  // One still running at `from` is kept: it started up to its duration earlier.
  const start = new Date(from.getTime() - durationMinutes * 60_000);
  const end = Date.UTC(from.getUTCFullYear() + 1, from.getUTCMonth(), from.getUTCDate());
  // A start the zone skips (02:30 on a spring-forward Sunday) is a run EventBridge Scheduler drops,
  // but the maintenance still happens: that window starts at the skipped time's would-be instant
  // (02:30 at the old offset, 03:30 on the new clock), so it is not lost for the year.
  // Starts after `start` (a window that ends exactly at `from` is over).
  const runs = schedulerRuns(s, start.getTime() + 1, end);
  return [...runs.runs, ...runs.skipped.map((x) => x.at)]
    .sort((a, b) => a - b)
    .slice(0, MAX_OCCURRENCES)
    .map((ms) => new Date(ms))
    .map((t) => ({ expression: atExpression(t, s.timezone), timezone: s.timezone, duration, start: t }));
}

/**
 * The schedule of a one-off mute: `at(<start>)` in UTC for the minutes to `until`, where the start is
 * the mute's `from`, else the run's reference date. Undefined when `until` is not after the reference
 * date (the mute is over: nothing is provisioned). A problem when, without `from`, `until` is more than
 * CloudWatch's 15 days after the reference date.
 */
export function muteSchedule(m: Pick<MuteConfig, "from" | "until">, reference: Date): MuteSchedule | { problem: string } | undefined {
  const start = m.from ? (muteTime(m.from) as { at: Date }).at : reference;
  const until = (muteTime(m.until) as { at: Date }).at;
  if (until.getTime() <= reference.getTime()) return undefined;
  const minutes = Math.round((until.getTime() - start.getTime()) / 60_000);
  if (minutes > MUTE_MAX_MINUTES) return { problem: `is ${Math.round(minutes / 1440)} days after ${m.from ? "from" : `the run's reference date ${reference.toISOString()}`}: CloudWatch mutes at most 15 days (P15D); set a later from, or shorten it` };
  return { expression: atExpression(start, "UTC"), timezone: "UTC", duration: isoDuration(minutes), start };
}

/** `list` in runs of at most `size` (a mute rule's 100 alarms), in order. */
export function chunks<T>(list: T[], size = MUTE_RULE_MAX_ALARMS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
