/**
 * Retention tiers of backups. Every backup key starts with its tier (`daily/`, `weekly/`,
 * `monthly/`); the bucket's lifecycle rule per prefix expires each tier after its own number of days,
 * which gives keep-rules like "30 daily, 12 weekly, 12 monthly" without a pruning job.
 */
export const TIERS = ["daily", "weekly", "monthly"] as const;
export type Tier = (typeof TIERS)[number];

export interface TierRules {
  /** Day of the week (0 = Sunday .. 6 = Saturday) whose backup is kept as weekly. */
  weeklyDay: number;
  /** Day of the month (1..28) whose backup is kept as monthly; it wins over weekly. */
  monthlyDay: number;
  /** IANA time zone in which the calendar day is read (a 02:00 EST run is still "Sunday" in New York). */
  timeZone: string;
}

/** One formatter per time zone: making one costs far more than formatting with it (the promise check reads thousands of days). */
const dayFormatters = new Map<string, Intl.DateTimeFormat>();

/** Calendar day of `at` in the time zone: { day of month, weekday 0..6 }. Throws RangeError on an unknown zone. */
export function calendarDay(at: Date, timeZone: string): { dayOfMonth: number; weekday: number } {
  let f = dayFormatters.get(timeZone);
  if (!f) dayFormatters.set(timeZone, (f = new Intl.DateTimeFormat("en-US", { timeZone, day: "numeric", weekday: "short" })));
  const parts = f.formatToParts(at);
  const day = Number(parts.find((p) => p.type === "day")!.value);
  const wd = parts.find((p) => p.type === "weekday")!.value;
  return { dayOfMonth: day, weekday: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(wd) };
}

export function tierFor(at: Date, rules: TierRules): Tier {
  const { dayOfMonth, weekday } = calendarDay(at, rules.timeZone);
  if (dayOfMonth === rules.monthlyDay) return "monthly";
  if (weekday === rules.weeklyDay) return "weekly";
  return "daily";
}

/** UTC timestamp that sorts as text: 20251010T020000123Z. */
export function keyTimestamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, "").replace(".", "");
}

/** Normalises a key prefix: "" or "something/". */
export function normalisePrefix(prefix: string | undefined): string {
  const p = (prefix ?? "").replace(/^\/+/, "");
  return p === "" || p.endsWith("/") ? p : `${p}/`;
}

export function backupKeys(prefix: string, tier: Tier, databaseId: string, at: Date): { dump: string; manifest: string } {
  const base = `${normalisePrefix(prefix)}${tier}/${databaseId}/${keyTimestamp(at)}`;
  return { dump: `${base}.dump`, manifest: `${base}.manifest.json` };
}
