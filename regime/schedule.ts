/**
 * Schedules of the regime: a readable form mirroring the operations guides ("daily at 02:00",
 * "weekly on Wednesday at 03:00", "first Sunday of the month at 02:00", "every 5 minutes") or raw
 * EventBridge Scheduler syntax (`cron(min hour dom month dow year)`, `rate(5 minutes)`), always with
 * an IANA timezone. No Pulumi here: the plan, the components and the tests share this module.
 *
 * Run times follow EventBridge Scheduler's documented daylight-saving rules for cron schedules in a
 * timezone: a local time that does not exist (spring forward) is skipped that day; a local time that
 * happens twice (fall back) runs once, at its first occurrence. Rate schedules are fixed durations
 * (`rate(1 day)` is 24 hours after the previous run, whatever the wall clock does).
 *
 * cron-parser is not used for next runs: it moves a skipped 02:00 to 03:00 and repeats the fall-back
 * hour, which is not what EventBridge does.
 */
import { z } from "zod";
import { isKnownTimezone, timezoneCaseProblem } from "./limits";

export interface Schedule {
  /** EventBridge Scheduler expression: `cron(0 2 * * ? *)` or `rate(5 minutes)`. */
  expression: string;
  /** IANA timezone the expression is evaluated in. */
  timezone: string;
  /** Normalized readable text ("daily at 02:00"). */
  description: string;
  /** Longest wall-clock gap between two consecutive runs, in seconds (for missed-run alarms). */
  intervalSeconds: number;
}

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScheduleError";
  }
}

const EXAMPLES = `examples: "daily at 02:00", "weekly on Wednesday at 03:00", "cron(0 2 * * ? *)"`;

// ------------------------------------------------------------------ timezone

const ABBREVIATIONS: Record<string, string> = {
  EST: "America/New_York",
  EDT: "America/New_York",
  ET: "America/New_York",
  CST: "America/Chicago",
  CDT: "America/Chicago",
  CT: "America/Chicago",
  MST: "America/Denver",
  MDT: "America/Denver",
  MT: "America/Denver",
  PST: "America/Los_Angeles",
  PDT: "America/Los_Angeles",
  PT: "America/Los_Angeles",
  GMT: "UTC",
  BST: "Europe/London",
  CET: "Europe/Paris",
  CEST: "Europe/Paris",
};

/** Throws a one-line error unless `tz` is an IANA timezone EventBridge Scheduler accepts. */
export function checkTimezone(tz: string): void {
  const hint = ABBREVIATIONS[tz.toUpperCase()];
  if (hint) {
    throw new ScheduleError(
      `timezone "${tz}" is an abbreviation, not an IANA timezone; use ${hint} (it follows daylight saving as the local clock does)`,
    );
  }
  if (!isKnownTimezone(tz)) {
    throw new ScheduleError(`unknown timezone "${tz}"; use an IANA timezone such as America/New_York, Europe/Berlin or UTC`);
  }
  const miscased = timezoneCaseProblem(tz);
  if (miscased) throw new ScheduleError(`timezone ${miscased}`);
}

// ------------------------------------------------------------------ cron fields

const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
/** EventBridge day-of-week: 1 = SUN .. 7 = SAT. */
const DOW_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const DAY_WORDS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

interface DomField {
  any: boolean; // ? or *
  days: boolean[]; // index 1..31
  last: boolean; // L
  lastWeekday: boolean; // LW
  nearestWeekday: number[]; // nW
}

interface DowField {
  any: boolean;
  days: boolean[]; // index 1..7
  lastOf: number[]; // nL: last <day> of the month
  nth: [number, number][]; // d#k: k-th <day> of the month
}

interface Cron {
  minutes: number[]; // sorted
  hours: number[]; // sorted
  dom: DomField;
  months: boolean[]; // 1..12
  dow: DowField;
  years: boolean[]; // index year-1970, 1970..2199
  raw: string[]; // the six fields as written (upper case)
  domQuestion: boolean;
  dowQuestion: boolean;
}

const FIELD_LABEL = ["minute", "hour", "day-of-month", "month", "day-of-week", "year"] as const;
const YEAR_MIN = 1970;
const YEAR_MAX = 2199;

function parseNumber(tok: string, label: string, min: number, max: number, names?: string[], nameBase = 1): number {
  let n: number;
  const upper = tok.toUpperCase();
  if (names && names.includes(upper)) n = names.indexOf(upper) + nameBase;
  else if (/^\d+$/.test(tok)) n = Number(tok);
  else throw new ScheduleError(`${label} "${tok}" is not a number${names ? ` or one of ${names.join(",")}` : ""}`);
  if (n < min || n > max) {
    const extra = label === "day-of-week" ? " (1 = SUN .. 7 = SAT)" : "";
    throw new ScheduleError(`${label} ${n} out of range ${min}-${max}${extra}`);
  }
  return n;
}

/** Parses a list of values, ranges and steps (`1,5`, `1-5`, `0/15`, `*\/5`, `10-50/10`) into a bitmap. */
function parseList(field: string, label: string, min: number, max: number, names?: string[]): boolean[] {
  const out = new Array<boolean>(max + 1).fill(false);
  for (const part of field.split(",")) {
    if (part === "") throw new ScheduleError(`${label} "${field}" has an empty list item`);
    const [rangePart, stepPart, ...more] = part.split("/");
    if (more.length) throw new ScheduleError(`${label} "${part}" has more than one /`);
    let lo: number;
    let hi: number;
    if (rangePart === "*") {
      lo = min;
      hi = max;
    } else if (rangePart.includes("-")) {
      const [a, b] = rangePart.split("-");
      lo = parseNumber(a, label, min, max, names);
      hi = parseNumber(b, label, min, max, names);
      if (lo > hi) throw new ScheduleError(`${label} range "${rangePart}" runs backwards; write ${a}-${max},${min}-${b}`);
    } else {
      lo = parseNumber(rangePart, label, min, max, names);
      hi = stepPart === undefined ? lo : max;
    }
    let step = 1;
    if (stepPart !== undefined) {
      if (!/^\d+$/.test(stepPart) || Number(stepPart) < 1) throw new ScheduleError(`${label} step "/${stepPart}" must be a whole number >= 1`);
      step = Number(stepPart);
    }
    for (let v = lo; v <= hi; v += step) out[v] = true;
  }
  return out;
}

function indices(bits: boolean[]): number[] {
  const out: number[] = [];
  bits.forEach((b, i) => b && out.push(i));
  return out;
}

function parseDom(field: string): DomField {
  const f: DomField = { any: false, days: new Array<boolean>(32).fill(false), last: false, lastWeekday: false, nearestWeekday: [] };
  if (field === "?" || field === "*") return { ...f, any: true };
  const plain: string[] = [];
  for (const part of field.split(",")) {
    if (part === "L") f.last = true;
    else if (part === "LW") f.lastWeekday = true;
    else if (/^\d+W$/.test(part)) f.nearestWeekday.push(parseNumber(part.slice(0, -1), "day-of-month", 1, 31));
    else if (/[LW#]/.test(part)) throw new ScheduleError(`day-of-month "${part}" is not valid; use L (last day), LW (last weekday) or 15W (weekday nearest the 15th)`);
    else plain.push(part);
  }
  if (plain.length) f.days = parseList(plain.join(","), "day-of-month", 1, 31);
  return f;
}

function parseDow(field: string): DowField {
  const f: DowField = { any: false, days: new Array<boolean>(8).fill(false), lastOf: [], nth: [] };
  if (field === "?" || field === "*") return { ...f, any: true };
  const plain: string[] = [];
  for (const part of field.split(",")) {
    if (part === "L") f.days[7] = true; // L alone in day-of-week: the last day of the week, Saturday
    else if (/^\w+L$/.test(part)) f.lastOf.push(parseNumber(part.slice(0, -1), "day-of-week", 1, 7, DOW_NAMES));
    else if (part.includes("#")) {
      const [d, k] = part.split("#");
      const day = parseNumber(d, "day-of-week", 1, 7, DOW_NAMES);
      if (!/^[1-5]$/.test(k ?? "")) throw new ScheduleError(`day-of-week "${part}": the number after # must be 1-5 (1#1 = first Sunday)`);
      f.nth.push([day, Number(k)]);
    } else plain.push(part);
  }
  if (plain.length) f.days = parseList(plain.join(","), "day-of-week", 1, 7, DOW_NAMES);
  return f;
}

function parseCronBody(body: string, expr: string): Cron {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new ScheduleError(
      `${expr}: expected 6 fields (minute hour day-of-month month day-of-week year), got ${fields.length}` +
        (fields.length === 5 ? `; EventBridge cron has a year field: add * at the end and ? in day-of-month or day-of-week` : ""),
    );
  }
  const up = fields.map((f) => f.toUpperCase());
  const [mi, ho, dm, mo, dw, yr] = up;
  const domQuestion = dm === "?";
  const dowQuestion = dw === "?";
  if (domQuestion && dowQuestion) throw new ScheduleError(`${expr}: day-of-month and day-of-week cannot both be ?; set one of them`);
  if (!domQuestion && !dowQuestion) throw new ScheduleError(`${expr}: day-of-month and day-of-week cannot both be set; use ? in one`);
  for (const [i, f] of up.entries()) {
    if (f === "?" && i !== 2 && i !== 4) throw new ScheduleError(`${expr}: ? is only allowed in day-of-month or day-of-week, not in ${FIELD_LABEL[i]}`);
  }
  try {
    return {
      minutes: indices(parseList(mi, "minute", 0, 59)),
      hours: indices(parseList(ho, "hour", 0, 23)),
      dom: parseDom(dm),
      months: parseList(mo, "month", 1, 12, MONTH_NAMES),
      dow: parseDow(dw),
      years: parseList(yr, "year", YEAR_MIN, YEAR_MAX).slice(YEAR_MIN),
      raw: up,
      domQuestion,
      dowQuestion,
    };
  } catch (err) {
    throw new ScheduleError(`${expr}: ${(err as Error).message}`);
  }
}

// ------------------------------------------------------------------ calendar arithmetic (proleptic, UTC-based)

const DAY_MS = 86_400_000;

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** 1 = SUN .. 7 = SAT for a civil date. */
function eventBridgeDow(y: number, m: number, d: number): number {
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 1;
}

/** Weekday nearest to day n of the month, never leaving the month (Quartz/EventBridge `nW`). */
function nearestWeekday(y: number, m: number, n: number): number {
  const dim = daysInMonth(y, m);
  const day = Math.min(n, dim);
  const w = eventBridgeDow(y, m, day);
  if (w === 7) return day === 1 ? 3 : day - 1; // Saturday
  if (w === 1) return day === dim ? day - 2 : day + 1; // Sunday
  return day;
}

/**
 * Calls `visit(dayMs)` (local midnight as if local were UTC) for every matching day from the civil date
 * `start` (inclusive) up to `endMs` (exclusive), month by month; stops when visit returns false.
 */
function forEachMatchingDay(c: Cron, startMs: number, endMs: number, visit: (dayMs: number) => boolean): void {
  const s = new Date(startMs);
  let y = s.getUTCFullYear();
  let m = s.getUTCMonth() + 1;
  let firstDay = s.getUTCDate();
  for (;;) {
    const monthStart = Date.UTC(y, m - 1, 1);
    if (monthStart >= endMs) return;
    if (y > YEAR_MAX) return;
    if (y >= YEAR_MIN && c.years[y - YEAR_MIN] && c.months[m]) {
      const matches = matchingDaysOfMonth(c, y, m);
      for (const d of matches) {
        if (d < firstDay) continue;
        const dayMs = monthStart + (d - 1) * DAY_MS;
        if (dayMs >= endMs) return;
        if (!visit(dayMs)) return;
      }
    }
    firstDay = 1;
    if (++m > 12) {
      m = 1;
      y++;
    }
  }
}

/** The days of one month (1..31) a cron's day-of-month and day-of-week fields select. */
function matchingDaysOfMonth(c: Cron, y: number, m: number): number[] {
  const dim = daysInMonth(y, m);
  const dow1 = eventBridgeDow(y, m, 1);
  const dowOf = (d: number) => ((dow1 - 1 + d - 1) % 7) + 1;
  const weekday = (d: number) => dowOf(d) >= 2 && dowOf(d) <= 6;
  let lastWeekday = -1;
  if (c.dom.lastWeekday) {
    lastWeekday = dim;
    while (!weekday(lastWeekday)) lastWeekday--;
  }
  const nearest = c.dom.nearestWeekday.map((n) => nearestWeekday(y, m, n));
  const out: number[] = [];
  for (let d = 1; d <= dim; d++) {
    if (!c.dom.any) {
      const f = c.dom;
      if (!(f.days[d] || (f.last && d === dim) || d === lastWeekday || nearest.includes(d))) continue;
    }
    if (!c.dow.any) {
      const f = c.dow;
      const w = dowOf(d);
      const ok = f.days[w] || (f.lastOf.includes(w) && d + 7 > dim) || f.nth.some(([day, k]) => day === w && Math.ceil(d / 7) === k);
      if (!ok) continue;
    }
    out.push(d);
  }
  return out;
}

// ------------------------------------------------------------------ timezone offsets

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "short",
    });
    formatters.set(tz, f);
  }
  return f;
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: string;
}

function localParts(t: number, tz: string): LocalParts {
  const p: Record<string, string> = {};
  for (const part of formatter(tz).formatToParts(new Date(t))) p[part.type] = part.value;
  return {
    year: Number(p.year),
    month: Number(p.month),
    day: Number(p.day),
    hour: Number(p.hour),
    minute: Number(p.minute),
    second: Number(p.second),
    weekday: p.weekday,
  };
}

/** Offset of `tz` from UTC at instant t, in ms (local wall clock minus UTC). */
function offsetAt(t: number, tz: string): number {
  const p = localParts(t, tz);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - (t - (((t % 1000) + 1000) % 1000));
}

/**
 * Instants of the local wall-clock times `wallMs` (ms since epoch as if local were UTC) on one local day.
 * Nonexistent times are dropped; ambiguous ones give their first occurrence.
 */
function resolveDay(dayStartWall: number, wallTimes: number[], tz: string): number[] {
  const before = offsetAt(dayStartWall - 14 * 3_600_000, tz); // an instant at or before local midnight
  const after = offsetAt(dayStartWall + 36 * 3_600_000, tz); // an instant at or after the next local midnight
  if (before === after) return wallTimes.map((w) => w - before);
  const out: number[] = [];
  for (const w of wallTimes) {
    const candidates = [w - before, w - after].filter((t) => offsetAt(t, tz) === w - t);
    if (candidates.length) out.push(Math.min(...candidates));
  }
  return out;
}

// ------------------------------------------------------------------ next runs

interface Parsed {
  kind: "cron" | "rate";
  cron?: Cron;
  rateSeconds?: number;
}

const parsedCache = new Map<string, Parsed>();

function parseExpression(expression: string): Parsed {
  const cached = parsedCache.get(expression);
  if (cached) return cached;
  const e = expression.trim();
  let parsed: Parsed;
  const cron = /^cron\((.*)\)$/i.exec(e);
  const rate = /^rate\((.*)\)$/i.exec(e);
  if (cron) parsed = { kind: "cron", cron: parseCronBody(cron[1], e) };
  else if (rate) parsed = { kind: "rate", rateSeconds: parseRateBody(rate[1], e).seconds };
  else throw new ScheduleError(`"${expression}" is neither cron(...) nor rate(...)`);
  parsedCache.set(expression, parsed);
  return parsed;
}

const UNIT_SECONDS: Record<string, number> = { minute: 60, hour: 3600, day: 86400 };

function parseRateBody(body: string, expr: string): { value: number; unit: string; seconds: number } {
  const m = /^\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*$/i.exec(body);
  if (!m) throw new ScheduleError(`${expr}: expected rate(<number> minutes|hours|days), e.g. rate(5 minutes)`);
  const value = Number(m[1]);
  if (value < 1) throw new ScheduleError(`${expr}: the rate must be at least 1`);
  const unit = m[2].toLowerCase().replace(/s$/, "");
  return { value, unit, seconds: value * UNIT_SECONDS[unit] };
}

function rateExpression(value: number, unit: string): string {
  return `rate(${value} ${unit}${value === 1 ? "" : "s"})`;
}

/**
 * The next `count` run instants strictly after `from`, computed in the schedule's timezone.
 * Cron: EventBridge's daylight-saving rules (skip nonexistent local times, run repeated ones once).
 * Rate: a schedule created at `from` without a start date; runs every interval after it.
 * Stops early when a cron expression has no run left within 28 years (a year-bounded expression).
 */
export function nextRuns(schedule: Pick<Schedule, "expression" | "timezone">, from: Date, count: number): Date[] {
  checkTimezone(schedule.timezone);
  const parsed = parseExpression(schedule.expression);
  const start = from.getTime();
  const out: Date[] = [];
  if (count <= 0) return out;
  if (parsed.kind === "rate") {
    const step = parsed.rateSeconds! * 1000;
    for (let i = 1; i <= count; i++) out.push(new Date(start + i * step));
    return out;
  }
  const c = parsed.cron!;
  const tz = schedule.timezone;
  const p = localParts(start, tz);
  const firstDay = Date.UTC(p.year, p.month - 1, p.day) - DAY_MS; // one local day back covers offset edge cases
  const timesOfDay: number[] = [];
  for (const h of c.hours) for (const m of c.minutes) timesOfDay.push((h * 60 + m) * 60_000);
  forEachMatchingDay(c, firstDay, firstDay + 28 * 366 * DAY_MS, (day) => {
    const instants = resolveDay(
      day,
      timesOfDay.map((x) => day + x),
      tz,
    );
    for (const t of instants) {
      if (t > start) {
        out.push(new Date(t));
        if (out.length === count) return false;
      }
    }
    return true;
  });
  return out;
}

/**
 * The local wall-clock times a cron expression names in [fromWall, toWall), as ms since epoch read as
 * if local time were UTC, before any timezone applies (no daylight saving: every time exists once).
 * EventBridge Scheduler's treatment of times that do not exist or happen twice is regime/scheduler-time.ts's.
 * Throws ScheduleError for an expression that is not cron(...).
 */
export function cronWallTimes(expression: string, fromWall: number, toWall: number): number[] {
  const parsed = parseExpression(expression);
  if (parsed.kind !== "cron") throw new ScheduleError(`"${expression}" is not a cron expression`);
  const c = parsed.cron!;
  const timesOfDay: number[] = [];
  for (const h of c.hours) for (const m of c.minutes) timesOfDay.push((h * 60 + m) * 60_000);
  const out: number[] = [];
  const firstDay = Math.floor(fromWall / DAY_MS) * DAY_MS;
  forEachMatchingDay(c, firstDay, toWall, (day) => {
    for (const x of timesOfDay) {
      const w = day + x;
      if (w >= fromWall && w < toWall) out.push(w);
    }
    return true;
  });
  return out;
}

/** "Mon 2025-03-10 02:00 -04:00": the local wall clock in `timezone` with its UTC offset. */
export function formatLocal(date: Date, timezone: string): string {
  const t = date.getTime();
  const p = localParts(t, timezone);
  const off = Math.round(offsetAt(t, timezone) / 60_000);
  const sign = off < 0 ? "-" : "+";
  const abs = Math.abs(off);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${p.weekday} ${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)} ${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

// ------------------------------------------------------------------ interval (longest gap)

/** Longest wall-clock gap between consecutive runs of a cron expression, in seconds. */
function cronIntervalSeconds(c: Cron, expr: string): number {
  // From the first year it names from 2024 on: `2020/100` runs in 2120, not in 2024-2051.
  const named = c.years.indexOf(true, 2024 - YEAR_MIN);
  const firstYear = named < 0 ? Math.max(2024, c.years.indexOf(true) + YEAR_MIN) : named + YEAR_MIN;
  const start = Date.UTC(firstYear, 0, 1);
  const end = Date.UTC(firstYear + 28, 0, 1); // 28 years: every weekday/leap-year combination
  const dayMinutes = c.hours.flatMap((h) => c.minutes.map((m) => h * 60 + m));
  let maxGap = 0;
  for (let i = 1; i < dayMinutes.length; i++) maxGap = Math.max(maxGap, dayMinutes[i] - dayMinutes[i - 1]);
  let prevDay = -1;
  let matchingDays = 0;
  forEachMatchingDay(c, start, end, (day) => {
    matchingDays++;
    const n = (day - start) / DAY_MS;
    if (prevDay >= 0) maxGap = Math.max(maxGap, (n - prevDay) * 1440 - dayMinutes[dayMinutes.length - 1] + dayMinutes[0]);
    prevDay = n;
    return true;
  });
  if (matchingDays === 0) throw new ScheduleError(`${expr}: never runs (no matching day in ${firstYear}-${firstYear + 27})`);
  if (matchingDays === 1 && dayMinutes.length === 1) throw new ScheduleError(`${expr}: runs only once; a maintenance schedule must repeat`);
  // A single matching day with several runs: only the gaps within that day are known.
  return maxGap * 60;
}

// ------------------------------------------------------------------ descriptions of cron expressions

const pad2 = (n: number) => String(n).padStart(2, "0");
const ORDINALS = ["", "first", "second", "third", "fourth", "fifth"];

/** "a", "a and b", "a, b and c". */
function listWords(words: string[]): string {
  return words.length > 1 ? `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}` : (words[0] ?? "");
}

/**
 * The readable text of a cron expression, or the expression itself when no shape below fits. A
 * minute or hour step that does not divide 60 or 24 names its real times ("at :00 and :45 every
 * hour"), never "every N minutes": its runs are not N apart across the hour or day.
 */
function describeCron(c: Cron, expr: string): string {
  const [mi, ho, dm, mo, dw, yr] = c.raw;
  if (yr !== "*") return expr;
  const single = (f: string) => /^\d+$/.test(f);
  const at = single(mi) && single(ho) ? `at ${pad2(Number(ho))}:${pad2(Number(mi))}` : undefined;
  // Sub-daily shapes.
  if (dm === "*" && mo === "*" && dw === "?" || dm === "?" && mo === "*" && dw === "*") {
    if (single(mi) && ho === "*") return mi === "0" ? "hourly" : `every hour at :${pad2(Number(mi))}`;
    // A step says "every N" only when it divides its field's range: 0/45 runs at :00 and :45 (45 and
    // 15 minutes apart), 0/7 at :00 .. :56 (a 4-minute gap each hour), hours 0/5 at 00:00 .. 20:00.
    const step = /^(?:0|\*)\/(\d+)$/.exec(mi);
    if (step && ho === "*") return 60 % Number(step[1]) === 0 ? `every ${step[1]} minutes` : `at ${listWords(c.minutes.map((m) => `:${pad2(m)}`))} every hour`;
    if (mi === "*" && ho === "*") return "every minute";
    if (at) return `daily ${at}`;
    const hourStep = /^(?:0|\*)\/(\d+)$/.exec(ho);
    if (hourStep && single(mi)) {
      const n = Number(hourStep[1]);
      if (24 % n === 0) return `every ${n} hours${mi === "0" ? "" : ` at :${pad2(Number(mi))}`}`;
      return `daily at ${listWords(c.hours.map((h) => `${pad2(h)}:${pad2(Number(mi))}`))}`;
    }
    return expr;
  }
  if (!at) return expr;
  const dowWords = (f: string) =>
    f.split(",").map((part) => {
      const range = part.split("-");
      const name = (t: string) => DAY_WORDS[(/^\d$/.test(t) ? Number(t) : DOW_NAMES.indexOf(t) + 1) - 1];
      return range.length === 2 ? `${name(range[0])} to ${name(range[1])}` : name(part);
    });
  if (dm === "?" && mo === "*") {
    if (dw === "MON-FRI" || dw === "2-6") return `weekdays ${at}`;
    const nth = /^([1-7]|[A-Z]{3})#([1-5])$/.exec(dw);
    if (nth) return `${ORDINALS[Number(nth[2])]} ${dowWords(nth[1])[0]} of the month ${at}`;
    const last = /^([1-7]|[A-Z]{3})L$/.exec(dw);
    if (last) return `last ${dowWords(last[1])[0]} of the month ${at}`;
    if (/^([1-7]|[A-Z]{3})([,-]([1-7]|[A-Z]{3}))*$/.test(dw)) {
      const words = dowWords(dw);
      return `weekly on ${words.length > 1 ? words.slice(0, -1).join(", ") + " and " + words[words.length - 1] : words[0]} ${at}`;
    }
    return expr;
  }
  if (dw === "?") {
    const dayText = single(dm) ? `day ${Number(dm)}` : dm === "L" ? "the last day" : undefined;
    if (!dayText) return expr;
    if (mo === "*") return `monthly on ${dayText} ${at}`;
    if (mo === "1,4,7,10" || mo === "JAN,APR,JUL,OCT") return `quarterly on ${dayText} ${at}`;
  }
  return expr;
}

// ------------------------------------------------------------------ readable forms

interface ReadableResult {
  expression: string;
  description: string;
}

const DAY_ALIASES: Record<string, number> = {};
DAY_WORDS.forEach((w, i) => {
  const lower = w.toLowerCase();
  for (const alias of [lower, lower + "s", lower.slice(0, 3)]) DAY_ALIASES[alias] = i + 1;
});
Object.assign(DAY_ALIASES, { tues: 3, thur: 5, thurs: 5 });

function parseTime(text: string): { hour: number; minute: number } {
  const t = text.trim().toLowerCase();
  if (t === "noon") return { hour: 12, minute: 0 };
  if (t === "midnight") return { hour: 0, minute: 0 };
  const m = /^(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$/.exec(t);
  if (!m || (m[2] === undefined && m[3] === undefined)) {
    throw new ScheduleError(`time "${text.trim()}": write it as HH:MM (02:00, 14:30) or with AM/PM (2 AM)`);
  }
  let hour = Number(m[1]);
  const minute = m[2] === undefined ? 0 : Number(m[2]);
  if (minute > 59) throw new ScheduleError(`minute ${minute} out of range 0-59`);
  if (m[3]) {
    if (hour < 1 || hour > 12) throw new ScheduleError(`hour ${hour} out of range 1-12 with AM/PM`);
    const pm = m[3].startsWith("p");
    hour = (hour % 12) + (pm ? 12 : 0);
  } else if (hour > 23) throw new ScheduleError(`hour ${hour} out of range 0-23`);
  return { hour, minute };
}

function dayNumber(word: string): number | undefined {
  return DAY_ALIASES[word.toLowerCase()];
}

function parseDayList(text: string): number[] | undefined {
  const words = text.split(/\s*(?:,|\band\b)\s*/).filter(Boolean);
  const days: number[] = [];
  for (const w of words) {
    const d = dayNumber(w);
    if (d === undefined) return undefined;
    if (!days.includes(d)) days.push(d);
  }
  return days.length ? days.sort((a, b) => a - b) : undefined;
}

function parseReadable(input: string): ReadableResult {
  let text = input.trim().replace(/\s+/g, " ").replace(/\.$/, "").toLowerCase();
  // A timezone abbreviation written into the text, as the guides do ("Daily at 2:00 AM EST").
  const abbr = /\s([a-z]{2,4})$/.exec(text);
  if (abbr && ABBREVIATIONS[abbr[1].toUpperCase()]) {
    throw new ScheduleError(
      `"${input}": "${abbr[1].toUpperCase()}" is not an IANA timezone; drop it from the schedule and set timezone ${ABBREVIATIONS[abbr[1].toUpperCase()]}`,
    );
  }
  let timeText: string | undefined;
  const atIdx = text.lastIndexOf(" at ");
  if (atIdx >= 0) {
    timeText = text.slice(atIdx + 4);
    text = text.slice(0, atIdx);
  }
  const noTime = (what: string) => {
    if (timeText !== undefined) throw new ScheduleError(`"${input}": ${what} takes no "at" time`);
  };
  const hm = () => (timeText === undefined ? { hour: 0, minute: 0 } : parseTime(timeText));
  const atText = (t: { hour: number; minute: number }) => `at ${pad2(t.hour)}:${pad2(t.minute)}`;

  // every N minutes / hours / days
  const every = /^every (\d+|one|a|an)? ?(minute|minutes|min|mins|hour|hours|day|days)$/.exec(text);
  if (every) {
    const unit = every[2].startsWith("min") ? "minute" : every[2].startsWith("hour") ? "hour" : "day";
    const value = every[1] === undefined || /^(one|a|an)$/.test(every[1]) ? 1 : Number(every[1]);
    if (value < 1) throw new ScheduleError(`"${input}": the interval must be at least 1`);
    if (unit === "hour" && value === 1) return hourly(input, timeText);
    if (unit === "day" && value === 1) {
      const t = hm();
      return { expression: `cron(${t.minute} ${t.hour} * * ? *)`, description: `daily ${atText(t)}` };
    }
    noTime(`"every ${value} ${unit}s"`);
    return { expression: rateExpression(value, unit), description: `every ${value === 1 ? "" : value + " "}${unit}${value === 1 ? "" : "s"}` };
  }
  if (text === "hourly") return hourly(input, timeText);
  if (text === "daily" || text === "every day" || text === "nightly") {
    const t = hm();
    return { expression: `cron(${t.minute} ${t.hour} * * ? *)`, description: `daily ${atText(t)}` };
  }
  if (text === "weekdays" || text === "every weekday" || text === "on weekdays") {
    const t = hm();
    return { expression: `cron(${t.minute} ${t.hour} ? * MON-FRI *)`, description: `weekdays ${atText(t)}` };
  }
  if (text === "weekends" || text === "every weekend" || text === "on weekends") {
    const t = hm();
    return { expression: `cron(${t.minute} ${t.hour} ? * SUN,SAT *)`, description: `weekly on Sunday and Saturday ${atText(t)}` };
  }
  // weekly on Wednesday / every Sunday / every Monday and Thursday
  const weekly = /^(?:weekly on|weekly|every|on) (.+)$/.exec(text);
  if (weekly || text === "weekly") {
    const days = weekly ? parseDayList(weekly[1]) : [1];
    if (days) {
      const t = hm();
      const words = days.map((d) => DAY_WORDS[d - 1]);
      const list = words.length > 1 ? words.slice(0, -1).join(", ") + " and " + words[words.length - 1] : words[0];
      return {
        expression: `cron(${t.minute} ${t.hour} ? * ${days.map((d) => DOW_NAMES[d - 1]).join(",")} *)`,
        description: `weekly on ${list} ${atText(t)}`,
      };
    }
  }
  // first Sunday of the month / last Friday / monthly on the first Sunday
  const nth = /^(?:monthly on )?(?:the )?(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|last) (\w+?)(?: of (?:the|each|every) month)?$/.exec(text);
  if (nth && dayNumber(nth[2]) !== undefined) {
    const day = dayNumber(nth[2])!;
    const t = hm();
    const which = { "1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth" }[nth[1]] ?? nth[1];
    const dow = which === "last" ? `${day}L` : `${day}#${ORDINALS.indexOf(which)}`;
    return {
      expression: `cron(${t.minute} ${t.hour} ? * ${dow} *)`,
      description: `${which} ${DAY_WORDS[day - 1]} of the month ${atText(t)}`,
    };
  }
  // monthly / quarterly on day N / on the last day
  const monthly = /^(monthly|quarterly|every month|every quarter)(?: on (?:the )?(?:day (\d+)|(\d+)(?:st|nd|rd|th)?(?: day)?|(last day)))?$/.exec(text);
  if (monthly) {
    const quarterly = monthly[1].includes("quarter");
    const dayText = monthly[2] ?? monthly[3];
    let dom = "1";
    let dayDesc = "day 1";
    if (monthly[4]) {
      dom = "L";
      dayDesc = "the last day";
    } else if (dayText !== undefined) {
      const n = Number(dayText);
      if (n < 1 || n > 31) throw new ScheduleError(`day-of-month ${n} out of range 1-31`);
      if (n > 28) {
        throw new ScheduleError(`"${input}": day ${n} does not exist in every month (it would skip those months); use "monthly on the last day" or a day up to 28`);
      }
      dom = String(n);
      dayDesc = `day ${n}`;
    }
    const t = hm();
    return {
      expression: `cron(${t.minute} ${t.hour} ${dom} ${quarterly ? "1,4,7,10" : "*"} ? *)`,
      description: `${quarterly ? "quarterly" : "monthly"} on ${dayDesc} ${atText(t)}`,
    };
  }
  throw new ScheduleError(`unknown schedule "${input.trim()}"; ${EXAMPLES}`);
}

function hourly(input: string, timeText: string | undefined): ReadableResult {
  let minute = 0;
  if (timeText !== undefined) {
    const m = /^:?(\d{1,2})$/.exec(timeText.trim());
    if (!m) throw new ScheduleError(`"${input}": an hourly schedule takes a minute past the hour, e.g. "every hour at :05"`);
    minute = Number(m[1]);
    if (minute > 59) throw new ScheduleError(`minute ${minute} out of range 0-59`);
  }
  return { expression: `cron(${minute} * * * ? *)`, description: minute === 0 ? "hourly" : `every hour at :${pad2(minute)}` };
}

// ------------------------------------------------------------------ public entry points

/**
 * Parses a schedule as written in the regime. Throws ScheduleError with one line naming the reason.
 */
/**
 * Why a maintenance schedule would stop: a cron expression whose year field ends (`2026-2027`,
 * `2027,2028`, `2030`), so the job stops running after that year while every promise judged over
 * the next 12 months holds (EventBridge cron accepts years 1970-2199). A start year with a step
 * (`2027/2`) keeps repeating. Undefined for rate expressions and open year fields.
 */
export function yearBoundProblem(expression: string): string | undefined {
  const m = /^cron\((.*)\)$/i.exec(expression.trim());
  if (!m) return undefined;
  const year = m[1].trim().split(/\s+/)[5];
  if (year === undefined || year === "*") return undefined;
  const [from, step] = year.split("/");
  if (step !== undefined && /^\d+$/.test(from)) return undefined;
  return `${expression}: the year field ${year} ends, so the job stops running after it; a maintenance schedule must keep repeating: use * (or a start year with a step, 2027/2)`;
}

export function parseSchedule(text: string, timezone: string): Schedule {
  // The longest interval walks 28 years of days: a regime's many equal schedules parse once.
  const cacheKey = `${text}\u0000${timezone}`;
  const cached = scheduleCache.get(cacheKey);
  if (cached) return { ...cached };
  const parsed = parseScheduleUncached(text, timezone);
  scheduleCache.set(cacheKey, parsed);
  return { ...parsed };
}

const scheduleCache = new Map<string, Schedule>();

function parseScheduleUncached(text: string, timezone: string): Schedule {
  if (typeof text !== "string" || text.trim() === "") throw new ScheduleError(`schedule must not be empty; ${EXAMPLES}`);
  checkTimezone(timezone);
  const t = text.trim();
  if (/^cron\s*\(/i.test(t)) {
    const body = /^cron\s*\((.*)\)$/i.exec(t);
    if (!body) throw new ScheduleError(`"${t}": missing closing parenthesis`);
    const expression = `cron(${body[1].trim().split(/\s+/).join(" ")})`;
    const cron = parseCronBody(body[1], expression);
    return { expression, timezone, description: describeCron(cron, expression), intervalSeconds: cronIntervalSeconds(cron, expression) };
  }
  if (/^at\s*\(/i.test(t)) {
    throw new ScheduleError(`"${t}" runs once (an at() one-off); a maintenance schedule must repeat: use a readable form, cron(...) or rate(...)`);
  }
  if (/^rate\s*\(/i.test(t)) {
    const body = /^rate\s*\((.*)\)$/i.exec(t);
    if (!body) throw new ScheduleError(`"${t}": missing closing parenthesis`);
    const r = parseRateBody(body[1], t);
    const expression = rateExpression(r.value, r.unit);
    return { expression, timezone, description: `every ${r.value === 1 ? "" : r.value + " "}${r.unit}${r.value === 1 ? "" : "s"}`, intervalSeconds: r.seconds };
  }
  const r = parseReadable(t);
  const parsed = parseExpression(r.expression);
  const intervalSeconds = parsed.kind === "rate" ? parsed.rateSeconds! : cronIntervalSeconds(parsed.cron!, r.expression);
  return { expression: r.expression, timezone, description: r.description, intervalSeconds };
}

/** Whether the text is a valid schedule (for zod refinements). */
export function isSchedule(text: string, timezone = "UTC"): boolean {
  try {
    parseSchedule(text, timezone);
    return true;
  } catch {
    return false;
  }
}

/** A schedule as written in config: the text, or `{ at, timezone }` with a timezone of its own or none. */
export type WrittenSchedule = string | { at: string; timezone?: string };

/**
 * The text and timezone of a schedule as written: the `at` and `timezone` of the object form, the
 * string itself otherwise; a schedule that names no timezone (a string, or `{ at }` alone) is in
 * `defaultTimezone`, the regime's. The one rule every schedule field resolves by.
 */
export function writtenSchedule(input: WrittenSchedule, defaultTimezone: string): { text: string; timezone: string } {
  return typeof input === "string" ? { text: input, timezone: defaultTimezone } : { text: input.at, timezone: input.timezone ?? defaultTimezone };
}

/**
 * A zod schema for a schedule field: a string in the regime's timezone, or `{ at, timezone? }`.
 * Parses to a Schedule; a bad value is one issue whose message is the parser's one-line reason.
 */
export function scheduleSchema(defaultTimezone: string) {
  return z
    .union([z.string(), z.object({ at: z.string(), timezone: z.string().optional() }).strict()])
    .transform((value, ctx): Schedule => {
      try {
        const w = writtenSchedule(value, defaultTimezone);
        return parseSchedule(w.text, w.timezone);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    });
}
