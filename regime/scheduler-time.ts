/**
 * EventBridge Scheduler's clock: when a schedule really runs over a window of time, and why a run
 * does not happen. A cron schedule in an IANA timezone names local wall-clock times; the Scheduler
 * skips a local time that does not exist (the spring-forward hour: 02:00-02:59 in America/New_York,
 * 02:00-02:29 in Australia/Lord_Howe, whose shift is 30 minutes) and runs a local time that happens
 * twice (the fall-back hour) once, at its first occurrence [REFERENCE.md "Time"; AWS re:Post
 * "eventbridge-scheduler-adjust-dst"]. A rate schedule is a fixed duration and knows no wall clock.
 *
 * The nominal wall-clock times come from regime/schedule.ts (`cronWallTimes`), so cron semantics
 * live in one place; this module maps them onto the
 * timezone's real offsets, found once per zone and window (sampled daily, each change bisected to the
 * second). The result agrees with `nextRuns` in the zone (tests pin that), and also names each
 * skipped and repeated local time, which `nextRuns` alone cannot.
 */
import { checkTimezone, cronWallTimes, nextRuns } from "./schedule";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A local wall-clock time that the Scheduler does not run as written. */
export interface WallTimeEvent {
  /** Local date, YYYY-MM-DD. */
  date: string;
  /** Local time, HH:MM. */
  time: string;
  /** UTC instant of the event: the skipped time's would-be instant (old offset), the repeated time's single run. */
  at: number;
}

export interface SchedulerRuns {
  /** Run instants (ms since epoch, ascending) inside the window. */
  runs: number[];
  /** Local times that did not exist in the zone (spring forward): no run. */
  skipped: WallTimeEvent[];
  /** Local times that happened twice (fall back): one run, at the first occurrence. */
  repeated: WallTimeEvent[];
}

interface Segment {
  start: number;
  end: number;
  /** Local minus UTC, ms. */
  offset: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of `tz` from UTC at instant t, in ms (local wall clock minus UTC), to the second. */
export function zoneOffset(t: number, tz: string): number {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    formatters.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(t))) if (part.type !== "literal") p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(t / 1000) * 1000;
}

const segmentCache = new Map<string, Segment[]>();

/** The zone's constant-offset stretches covering [from, to). */
function segments(tz: string, fromMs: number, toMs: number): Segment[] {
  // Whole calendar years around the window, so every window of a regime shares one computation.
  const from = Date.UTC(new Date(fromMs).getUTCFullYear() - 1, 0, 1);
  const to = Date.UTC(new Date(toMs).getUTCFullYear() + 2, 0, 1);
  const cacheKey = `${tz}\u0000${from}\u0000${to}`;
  const cached = segmentCache.get(cacheKey);
  if (cached) return cached;
  const step = DAY_MS;
  const out: Segment[] = [];
  let start = from;
  let offset = zoneOffset(from, tz);
  for (let t = from + step; ; t += step) {
    const at = Math.min(t, to);
    const o = zoneOffset(at, tz);
    if (o !== offset) {
      // The change lies in (at - step, at]: bisect to the second.
      let lo = at - step;
      let hi = at;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (zoneOffset(mid, tz) === offset) lo = mid;
        else hi = mid;
      }
      out.push({ start, end: hi, offset });
      start = hi;
      offset = o;
    }
    if (at >= to) break;
  }
  out.push({ start, end: Infinity, offset });
  out[0] = { ...out[0], start: -Infinity };
  segmentCache.set(cacheKey, out);
  return out;
}

const pad = (n: number) => String(n).padStart(2, "0");

function wallText(wall: number): { date: string; time: string } {
  const d = new Date(wall);
  return { date: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`, time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` };
}

/**
 * The clock change of `tz` within a day of instant `at` (ms): its instant (ms, to the second) and the
 * offsets before and after it (ms, local minus UTC), or undefined when the clock does not change then.
 */
export function clockChangeNear(tz: string, at: number): { at: number; before: number; after: number } | undefined {
  const s = segments(tz, at - DAY_MS, at + DAY_MS);
  const i = s.findIndex((x, k) => k > 0 && x.start > at - DAY_MS && x.start <= at + DAY_MS);
  return i > 0 ? { at: s[i].start, before: s[i - 1].offset, after: s[i].offset } : undefined;
}

const shiftCache = new Map<string, number>();
/** The span zoneShiftSeconds reads a zone's rules over: ten whole years, fixed so every plan agrees. */
const SHIFT_SPAN: [number, number] = [Date.UTC(2026, 0, 1), Date.UTC(2036, 0, 1)];

/**
 * The largest single change of `tz`'s UTC offset, in seconds, over 2026-2035 (0 for UTC, the Etc/GMT
 * zones and zones without daylight saving; 3,600 for America/New_York; 1,800 for Australia/Lord_Howe;
 * 7,200 for Antarctica/Troll, which moves from +00 to +02). A cron schedule's runs can lie this much
 * further apart than its wall-clock interval (the fall-back hour, or a repeated hour run once).
 * Throws ScheduleError for an unknown timezone.
 */
export function zoneShiftSeconds(tz: string): number {
  const cached = shiftCache.get(tz);
  if (cached !== undefined) return cached;
  checkTimezone(tz);
  const s = segments(tz, SHIFT_SPAN[0], SHIFT_SPAN[1]);
  let most = 0;
  for (let i = 1; i < s.length; i++) most = Math.max(most, Math.abs(s[i].offset - s[i - 1].offset) / 1000);
  shiftCache.set(tz, most);
  return most;
}

/**
 * How much further apart than its wall-clock interval a schedule's runs can lie, in seconds: the
 * zone's largest clock change for a cron schedule (zoneShiftSeconds), 0 for a rate schedule, which
 * knows no wall clock.
 */
export function scheduleShiftSeconds(s: { expression: string; timezone: string }): number {
  return /^cron\(/i.test(s.expression) ? zoneShiftSeconds(s.timezone) : 0;
}

/** "2027-03-14": the local date of instant t in `tz`. */
export function localDate(t: number, tz: string): string {
  return wallText(t + zoneOffset(t, tz)).date;
}

const runsCache = new Map<string, SchedulerRuns>();

/**
 * The runs of a schedule with start time `from` (ms) up to `to` (ms, exclusive), as EventBridge
 * Scheduler makes them. Rate: every interval after `from` (a schedule created then). Cron: every
 * matching local time of the zone that exists, once. Results are cached per expression, zone and window.
 * Throws ScheduleError for an unknown timezone or a malformed expression.
 */
export function schedulerRuns(schedule: { expression: string; timezone: string }, from: number, to: number): SchedulerRuns {
  const cacheKey = `${schedule.expression}\u0000${schedule.timezone}\u0000${from}\u0000${to}`;
  const cached = runsCache.get(cacheKey);
  if (cached) return cached;
  checkTimezone(schedule.timezone);
  const result: SchedulerRuns = { runs: [], skipped: [], repeated: [] };
  if (/^rate\(/i.test(schedule.expression)) {
    const [first] = nextRuns(schedule, new Date(from), 1);
    const step = first.getTime() - from;
    for (let t = from + step; t < to; t += step) result.runs.push(t);
  } else {
    const segs = segments(schedule.timezone, from - 2 * DAY_MS, to + 2 * DAY_MS);
    const first = segs[0].offset;
    for (const w of cronWallTimes(schedule.expression, from - DAY_MS, to + DAY_MS)) {
      let run: number | undefined;
      let twice = false;
      let before: Segment | undefined;
      for (const s of segs) {
        const t = w - s.offset;
        if (t >= s.start && t < s.end) {
          if (run === undefined) run = t;
          else {
            run = Math.min(run, t);
            twice = true;
          }
        } else if (t >= s.end && t < s.end + 4 * HOUR_MS) before = s;
      }
      if (run === undefined) {
        // The local time does not exist: its would-be instant at the offset before the change.
        const at = w - (before?.offset ?? first);
        if (at >= from && at < to) result.skipped.push({ ...wallText(w), at });
        continue;
      }
      if (run < from || run >= to) continue;
      result.runs.push(run);
      if (twice) result.repeated.push({ ...wallText(w), at: run });
    }
    result.runs.sort((a, b) => a - b);
  }
  runsCache.set(cacheKey, result);
  return result;
}

/** The longest stretch without a run, ending inside the window. */
export interface Gap {
  /** Seconds between the two runs (or from the window's start to the first run); Infinity when no run follows the window's start. */
  seconds: number;
  /** The run that ends the gap (ms), or the window's end when none does; Infinity when no run follows the window's start. */
  endsAt: number;
  /** The run that starts it (ms), or the window's start when the gap is the one before the first run (`fromStart`). */
  startsAt: number;
  /** The gap runs from the window's start (the deploy, where every watch starts) to the schedule's first run after it. */
  fromStart?: boolean;
}

/** How far ahead firstRunAfter looks: nextRuns' 28 years (every weekday and leap-year combination). */
export const FIRST_RUN_HORIZON_YEARS = 28;

/**
 * The first run (ms) of `schedule` at or after `from` (ms), as EventBridge Scheduler makes it: a rate
 * schedule created at `from` runs one interval later; a cron schedule at its first matching local time
 * that exists. Undefined when a cron expression names no run in the FIRST_RUN_HORIZON_YEARS after
 * `from` (a year field that starts later than that, or whose years have all passed).
 * Throws ScheduleError for an unknown timezone or a malformed expression.
 */
export function firstRunAfter(schedule: { expression: string; timezone: string }, from: number): number | undefined {
  const [first] = nextRuns(schedule, new Date(/^rate\(/i.test(schedule.expression) ? from : from - 1), 1);
  return first?.getTime();
}

/**
 * The longest gap between consecutive runs of `schedule` whose end falls in [from, to), looking back
 * `lookbackMs` for the run before the window, or the gap from `from` (the deploy, where every watch
 * starts) to the first run after it when that is longer (a cron whose year field starts in a later
 * year: `fromStart`, however far beyond `to` the first run lies; Infinity when none follows within
 * FIRST_RUN_HORIZON_YEARS). A schedule with no two runs in that span (a yearly job) gives
 * `nominalSeconds` (its longest wall-clock interval), ending at the window's end.
 */
export function longestGap(schedule: { expression: string; timezone: string }, from: number, to: number, nominalSeconds: number, lookbackMs = 100 * DAY_MS): Gap {
  if (/^rate\(/i.test(schedule.expression)) return { seconds: nominalSeconds, endsAt: from + nominalSeconds * 1000, startsAt: from };
  const { runs } = schedulerRuns(schedule, from - lookbackMs, to);
  let best: Gap | undefined;
  for (let i = 1; i < runs.length; i++) {
    if (runs[i] < from) continue;
    const seconds = (runs[i] - runs[i - 1]) / 1000;
    if (!best || seconds > best.seconds) best = { seconds, endsAt: runs[i], startsAt: runs[i - 1] };
  }
  // No gap inside the window (a yearly job): its nominal interval stands.
  best ??= { seconds: nominalSeconds, endsAt: to, startsAt: to - nominalSeconds * 1000 };
  const first = runs.find((r) => r >= from) ?? firstRunAfter(schedule, from);
  const fromStart = first === undefined ? Infinity : (first - from) / 1000;
  return fromStart > best.seconds ? { seconds: fromStart, endsAt: first ?? Infinity, startsAt: from, fromStart: true } : best;
}

/** "48 h", "25 h", "90 min", "7 d": a duration in seconds, as a person reads it. */
export function formatDuration(seconds: number): string {
  if (seconds >= 7 * 86400 && seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds >= 2 * 3600) return `${Math.round(seconds / 360) / 10} h`;
  if (seconds >= 60) return `${Math.round(seconds / 6) / 10} min`;
  return `${seconds} s`;
}
