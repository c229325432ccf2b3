/**
 * The retention promises of one database, judged against the backups the schedule really writes: over
 * the engine's 12 months, each run of the backup schedule (EventBridge Scheduler's runs,
 * regime/scheduler-time.ts `schedulerRuns`) goes into exactly one tier (tasks/lib/tiers.ts `tierFor`:
 * monthly on monthlyOnDay, weekly on weeklyOn, else daily, in the schedule's own zone) and is kept as
 * long as that tier's lifecycle rule says (regime/retention.ts `readableUntil`: the days counted from
 * the object's creation, rounded up to the next midnight UTC). The dump is a multipart upload opened
 * when the backup starts, and S3 dates such an object by the upload's initiation, not its completion:
 * a 35-hour dump has 35 hours fewer of its tier's days left once it is there. The days are counted
 * from the backup's scheduled start, the earliest date S3 can give it (a dump small enough for one
 * PutObject is dated later, at its end, and kept longer).
 *
 * What each tier's days promise, and so what breaks it:
 * - `retention.<tier>` N days: the lifecycle keeps the tier N days (expireDays >= N).
 * - `retention.daily` N days: every backup of the last N days can be restored, so no tier that is
 *   written to may be kept shorter (weekly 5 < daily 30: each Sunday's backup is gone after 5 days,
 *   a hole in the daily restore points); likewise weekly N: monthly kept at least as long.
 * - `retention.weekly` N days: every week (from weeklyOn to the day before the next) holds a backup
 *   kept at least N days; `retention.monthly` N days: every calendar month does. A week or month
 *   without one is a hole, named by the key whose change fills it: weeklyOn / monthlyOnDay when a
 *   day the schedule runs every week / month exists, the tier's retention otherwise.
 * - the newest backup is readable until the next one is uploaded (each is there from its start plus
 *   its slowest run that pages nobody, and expires counted from its start): retention 1 day against
 *   backups every 48 hours leaves hours with none.
 *
 * The last promise holds for every copy a later run replaces, and is judged by one function
 * (`newestKeptUntilNext`): a database's backups, and a file backup's archives in the log archive
 * bucket (`fileBackupRetention`: retentionDays 1 against a weekly run leaves 4 days in 7 with none).
 */
import { RECURRING_BREAKS, type DeclaredDatabase, type DeclaredFileBackup, type PromiseResult } from "./promises";
import { readableUntil } from "./retention";
import { formatDuration, localDate, schedulerRuns, zoneOffset } from "./scheduler-time";
import { tierFor, TIERS, type Tier, type TierRules } from "../tasks/lib/tiers";

const DAY_MS = 86_400_000;
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"] as const;

/** Days since 1970-01-01 of a local YYYY-MM-DD date. */
const dayNumber = (date: string) => Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY_MS;
/** YYYY-MM-DD of a day number. */
const dayText = (n: number) => new Date(n * DAY_MS).toISOString().slice(0, 10);
const hours = (ms: number) => formatDuration(Math.round(ms / 1000));
const daysText = (n: number) => `${n} ${n === 1 ? "day" : "days"}`;

/** A backup run: its scheduled start (ms), when its dump is surely uploaded (start + its slowest run that pages nobody, ms), and its local day. */
interface Backup extends StoredRun {
  /** Local day number of its start, in the schedule's zone (the day tierFor reads). */
  day: number;
}

/**
 * The first period (a week from `weeklyDay`, or a calendar month) wholly inside the window whose
 * backups include none kept at least `days`, with `rules` deciding each backup's tier; undefined when
 * every period has one. `firstDay`/`lastDay`: local day numbers of the window's whole days.
 */
function firstHole(
  backups: Backup[],
  kept: (tier: Tier) => number,
  rules: TierRules,
  period: "week" | "month",
  days: number,
  firstDay: number,
  lastDay: number,
): { first: string; last: string } | undefined {
  const periodOf = (day: number) => {
    if (period === "week") return Math.floor((day - ((rules.weeklyDay - 4 + 7) % 7)) / 7); // 1970-01-01 was a Thursday
    const d = new Date(day * DAY_MS);
    return d.getUTCFullYear() * 12 + d.getUTCMonth();
  };
  const firstOf = (p: number) => (period === "week" ? p * 7 + ((rules.weeklyDay - 4 + 7) % 7) : Date.UTC(Math.floor(p / 12), p % 12, 1) / DAY_MS);
  const covered = new Set<number>();
  for (const b of backups) if (kept(tierFor(new Date(b.at), rules)) >= days) covered.add(periodOf(b.day));
  for (let p = periodOf(firstDay); firstOf(p) <= lastDay; p++) {
    if (firstOf(p) < firstDay || firstOf(p + 1) - 1 > lastDay) continue;
    if (!covered.has(p)) return { first: dayText(firstOf(p)), last: dayText(firstOf(p + 1) - 1) };
  }
  return undefined;
}

/** A rate schedule's interval under which every local day holds a run at any phase (the shortest local day: Antarctica/Troll's 22 h). */
const EVERY_DAY_RATE_MS = 22 * 3_600_000;

/**
 * The phases (ms after `from`, ascending, from 0) a rate schedule of `intervalMs` may take that put
 * its runs on different local days of `tz` over [from, to): one per stretch of phases in which no run
 * crosses a local midnight, as it starts where a run falls on one. An interval of 22 h or less runs on
 * every local day at any phase: [0] stands for all of them. A day: 1 phase in UTC, 2 in New York
 * (midnight is 04:00 or 05:00 UTC); 7 days: 7 in UTC.
 */
export function ratePhases(intervalMs: number, tz: string, from: number, to: number): number[] {
  if (intervalMs <= EVERY_DAY_RATE_MS) return [0];
  const phases = new Set<number>([0]);
  for (let day = dayNumber(localDate(from, tz)); day * DAY_MS <= to + DAY_MS; day++) {
    // The instant of the day's local midnight (the offset read at the midnight itself).
    const guess = day * DAY_MS - zoneOffset(day * DAY_MS, tz);
    const midnight = day * DAY_MS - zoneOffset(guess, tz);
    phases.add((((midnight - from) % intervalMs) + intervalMs) % intervalMs);
  }
  return [...phases].sort((x, y) => x - y);
}

/**
 * A retention promise as the schedule runs, the tiers whose lifecycle rules decide it, and what it
 * is while the backup is paused and those rules are Disabled: its figure, and what resuming does.
 */
interface TierResult {
  tiers: Tier[];
  result: PromiseResult;
  paused: { figure: string; onResume?: string };
}

/**
 * The retention promises of `db` over [start, end) (ms): per tier, that the lifecycle keeps it, that
 * no lower tier loses restore points to it, that it is fed every week or month, and that the newest
 * backup lasts until the next is uploaded. Key and remedy name the setting whose change keeps it.
 * A paused backup's promises are reported as what its Disabled rules do (`whilePaused`).
 */
export function retentionPromises(db: DeclaredDatabase, start: number, end: number): PromiseResult[] {
  const results = scheduledRetention(db, start, end);
  return db.backup.paused ? whilePaused(db, results) : results.map((r) => r.result);
}

/**
 * A paused backup writes nothing, and its tiers' lifecycle rules are kept Disabled
 * (components/backup-vault.ts `tierRules`): every backup and old version it stored is kept until it
 * resumes. Each promise is reported `paused` with that figure, and in its detail what the schedule
 * gives once resumed (and, where resuming breaks it, the effect and the remedy: a paused promise is
 * never refused). The newest backup's detail says what resuming does to backups older than their
 * tier's days. A tier whose rule would still run while the backup is paused (not what the program
 * provisions) is `unkept`: its stored backups expire with nothing new to replace them.
 */
function whilePaused(db: DeclaredDatabase, results: TierResult[]): PromiseResult[] {
  const byTier = new Map(db.retention.map((t) => [t.tier, t]));
  const ruleId = (t: Tier) => byTier.get(t)?.rule ?? `${t}-${db.id}`;
  const ruleNames = (ts: Tier[]) => `lifecycle rule${ts.length > 1 ? "s" : ""} ${ts.map(ruleId).join(", ")}`;
  return results.map(({ tiers, result: r, paused }) => {
    const expiring = tiers.filter((t) => byTier.get(t)?.status !== "Disabled");
    // A retention promise that resuming breaks on the schedule's key (a skipped run) stays listed on its tier's key.
    const key = r.key === db.backup.key ? `${db.key}.backup.retention.${tiers[0]}` : r.key;
    const resumed = resumedText(r);
    if (expiring.length > 0) {
      const t = byTier.get(expiring[0])!;
      return {
        key,
        promise: r.promise,
        figure: `expired while paused: no new backup, and ${ruleNames([t.tier])} expires the stored ${t.tier} backups ${t.expireDays} to ${t.expireDays + 1} days after their start and removes them ${daysText(t.noncurrentDays)} later`,
        status: "unkept",
        kind: "program",
        detail: `${db.backup.key} is paused but ${ruleNames(expiring)} still ${expiring.length > 1 ? "expire" : "expires"} its backups: ${resumed}`,
      };
    }
    return {
      key,
      promise: r.promise,
      figure: paused.figure,
      status: "paused",
      kind: r.kind,
      detail: `${db.backup.key} is paused: ${ruleNames(tiers)} ${tiers.length > 1 ? "are" : "is"} kept Disabled, so ${tiers.every((t) => byTier.get(t)?.prefix) ? `nothing under ${tiers.map((t) => byTier.get(t)!.prefix).join(", ")}` : "none of its backups"} expires until it resumes; ${resumed}${paused.onResume ? `; ${paused.onResume}` : ""}`,
    };
  });
}

/** "resumed: <figure>", and where resuming breaks it, from when, its effect and remedy: the detail of a paused retention promise. */
function resumedText(r: PromiseResult): string {
  return `resumed: ${r.figure}${r.status === "broken" ? ` (breaks it${r.firstBreak ? ` from ${r.firstBreak}` : ""}: ${[r.effect, r.remedy].filter(Boolean).join("; ")})` : ""}`;
}

/**
 * What resuming a paused backup does to the copies it kept (`noun`s: "backup", "archive"): S3 applies
 * the enabled rules again to what is stored, so every copy older than `days` ("their tier's days",
 * "retentionDays") expires within about a day, before the first new copy is uploaded if the pause
 * outlasted them, and stays `noncurrentDays` as an old version.
 */
function onResumeText(noun: string, days: string, noncurrentDays: number): string {
  return `when the ${noun === "archive" ? "file backup" : noun} resumes, S3 applies the enabled rules to what is stored: ${noun}s older than ${days} expire within about a day, before the first new ${noun} is uploaded if the pause outlasted them, and stay ${daysText(noncurrentDays)} as old versions: run the ${noun === "archive" ? "file backup" : noun} by hand as it resumes`;
}

/**
 * The promise that a lifecycle rule keeps the copies under it `promisedDays` (`what`: "daily backups",
 * "archives"; `noun`: "backup", "archive"): held when its expiration `expireDays` is at least that.
 * The figure is what S3 really keeps: the days counted from the copy's start (a multipart upload is
 * dated by its initiation), rounded up to the next midnight UTC (regime/retention.ts `readableUntil`),
 * then `noncurrentDays` as an old version (its noncurrentVersionExpiration).
 */
export function keptDays(key: string, what: string, noun: string, promisedDays: number, expireDays: number, noncurrentDays: number): PromiseResult {
  const ok = expireDays >= promisedDays;
  return {
    key,
    promise: `${what} kept ${daysText(promisedDays)}`,
    figure: `${daysText(expireDays)} from the ${noun}'s start (S3 dates an upload in parts by its start), rounded up to the next midnight UTC (${expireDays} to ${expireDays + 1} days), then ${noncurrentDays} more as an old version`,
    value: expireDays,
    status: ok ? "held" : "broken",
    kind: "config",
    ...(ok ? {} : { effect: `the lifecycle expires ${what} after ${expireDays} days < ${promisedDays}` }),
  };
}

/** A run that stores a copy a later run replaces: its scheduled start, and when its copy is surely uploaded (its start + its longest run that pages nobody), ms. */
export interface StoredRun {
  at: number;
  uploaded: number;
}

/** `a` or `an` before a word. */
const article = (word: string) => (/^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`);

/**
 * The promise "the newest <noun> is kept until the next one is uploaded": every copy a run stores is
 * still readable when the next run's copy is surely uploaded, so some copy always exists. A copy is
 * readable for `days(run)` from its start (the upload is dated by its opening), rounded up to the next
 * midnight UTC (regime/retention.ts `readableUntil`); a rate schedule's runs keep the phase of their
 * creation, unknown before deploy, so there the rounding counts for nothing. Its old version (the
 * noncurrent days) is not counted: a restore reads the current objects.
 *
 * `variants`: the runs over the engine's window, ascending, one list per phase a rate schedule may
 * take (a cron schedule: one list, its runs from the regime's calendar, regime/scheduler-time.ts
 * `schedulerRuns`); pairs whose second run is before `start` are not judged. `name(run)`: what the
 * copy is ("daily backup", "archive"); `setting(run)`: the config key refused for it and the setting
 * the remedy names. Held on `heldKey` with the smallest overlap; broken on the key of the copy with
 * the largest shortfall, naming its date (in `tz`), the hours with no copy at all and the smallest
 * days that keep every pair (the rounding counted). Recurring when it breaks RECURRING_BREAKS times or
 * more in the window (every week), which no acceptance can hide. Undefined with fewer than two runs.
 */
export function newestKeptUntilNext<R extends StoredRun>(c: {
  variants: R[][];
  start: number;
  rate: boolean;
  tz: string;
  noun: string;
  days: (run: R) => number;
  name: (run: R) => string;
  setting: (run: R) => { key: string; name: string };
  heldKey: string;
}): PromiseResult | undefined {
  const until = (at: number, days: number) => (c.rate ? at + days * DAY_MS : readableUntil(at, days));
  let worst: { margin: number; b: R; next: R; until: number } | undefined;
  let longest = 0;
  let needDays = 1;
  let breaks = 0;
  for (const runs of c.variants)
    for (let i = 0; i + 1 < runs.length; i++) {
      const b = runs[i];
      const next = runs[i + 1];
      if (next.at < c.start) continue;
      const readable = until(b.at, c.days(b));
      longest = Math.max(longest, next.uploaded - b.at);
      // The fewest days that keep this copy until the next is uploaded: whole days of the gap, or one
      // fewer where the rounding to midnight covers the rest.
      let need = Math.max(1, Math.ceil((next.uploaded - b.at) / DAY_MS) - 1);
      while (until(b.at, need) < next.uploaded) need++;
      needDays = Math.max(needDays, need);
      const margin = readable - next.uploaded;
      if (margin < 0) breaks++;
      if (!worst || margin < worst.margin) worst = { margin, b, next, until: readable };
    }
  if (!worst) return undefined;
  const broken = worst.margin < 0;
  const name = c.name(worst.b);
  const days = c.days(worst.b);
  const date = localDate(worst.b.at, c.tz);
  const setting = c.setting(worst.b);
  const starts = `after ${article(c.noun)} starts`;
  return {
    key: broken ? setting.key : c.heldKey,
    promise: `the newest ${c.noun} is kept until the next one is uploaded`,
    figure: broken
      ? c.rate
        ? `${article(name)} may be gone ${hours(-worst.margin)} before the next one`
        : `the ${name} of ${date} is gone ${hours(-worst.margin)} before the next one`
      : `at least ${hours(worst.margin)} of overlap (the next is uploaded at most ${hours(longest)} ${starts})`,
    value: Math.round(worst.margin / 1000),
    status: broken ? "broken" : "held",
    kind: "config",
    ...(broken
      ? {
          ...(c.rate ? {} : { firstBreak: date }),
          effect: c.rate
            ? `${article(name)} is kept ${daysText(days)} from its start (${hours(days * DAY_MS)} when started just before midnight UTC, the lifecycle rounding up to midnight) and the next is uploaded ${hours(worst.next.uploaded - worst.b.at)} after it started: ${hours(-worst.margin)} with no ${c.noun} at all`
            : `the ${name} of ${date} is kept ${daysText(days)} from its start (readable until ${new Date(worst.until).toISOString().slice(0, 16)}Z, the lifecycle rounding up to midnight UTC) and the next is uploaded ${new Date(worst.next.uploaded).toISOString().slice(0, 16)}Z: ${hours(-worst.margin)} with no ${c.noun} at all`,
          remedy: `set ${setting.name} to at least ${needDays} (the next is uploaded up to ${hours(longest)} ${starts})`,
          ...(breaks >= RECURRING_BREAKS ? { recurring: breaks } : {}),
        }
      : {}),
  };
}

/**
 * The retention promises of a file backup (`logs.hostGroups[<g>].fileBackups[<name>]`) over
 * [start, end) (ms): its archives kept `retentionDays` (what its lifecycle rule keeps, with the
 * rounding and the old version: keptDays), and the newest archive kept until the next run's is
 * uploaded (newestKeptUntilNext: each run is surely uploaded by its start + its run limit, the job's
 * `longestRunSeconds`). Both on `<key>.retentionDays`. A paused file backup's rule is Disabled: both
 * are reported `paused`, with what resuming gives and does.
 */
export function fileBackupRetention(f: DeclaredFileBackup, start: number, end: number): PromiseResult[] {
  const key = `${f.key}.retentionDays`;
  const runMs = (f.job.longestRunSeconds ?? 0) * 1000;
  const runs = schedulerRuns(f.job, start - 62 * DAY_MS, end).runs.map((at) => ({ at, uploaded: at + runMs }));
  const kept = keptDays(key, "archives", "archive", f.retentionDays, f.retentionDays, f.noncurrentDays);
  const newest = newestKeptUntilNext({
    variants: [runs],
    start,
    rate: /^rate\(/i.test(f.job.expression),
    tz: f.job.timezone,
    noun: "archive",
    days: () => f.retentionDays,
    name: () => "archive",
    setting: () => ({ key, name: "retentionDays" }),
    heldKey: key,
  });
  const results = newest ? [kept, newest] : [kept];
  if (!f.paused) return results;
  const figures = ["expiry suspended while paused: every archive kept, old versions too", "expiry suspended while paused: the newest archive is kept"];
  return results.map((r, i) => ({
    key,
    promise: r.promise,
    figure: figures[i],
    status: "paused",
    kind: r.kind,
    detail: `${f.key}.paused is true: lifecycle rule ${f.rule} is kept Disabled, so nothing under ${f.prefix} expires until it resumes; ${resumedText(r)}${i === 1 ? `; ${onResumeText("archive", "retentionDays", f.noncurrentDays)}` : ""}`,
  }));
}

/** The promises of the backup as its schedule runs, each with the tiers that decide it. */
function scheduledRetention(db: DeclaredDatabase, start: number, end: number): TierResult[] {
  const out: TierResult[] = [];
  const add = (tiers: Tier[], paused: TierResult["paused"], result: PromiseResult) => out.push({ tiers, result, paused });
  const everyCopy = { figure: "expiry suspended while paused: every copy kept, old versions too" };
  const byTier = new Map(db.retention.map((t) => [t.tier, t]));
  for (const t of db.retention) add([t.tier], everyCopy, keptDays(`${db.key}.backup.retention.${t.tier}`, `${t.tier} backups`, "backup", t.promisedDays, t.expireDays, t.noncurrentDays));
  const rules = db.tiers;
  if (!rules || db.retention.length === 0) return out;

  const runMs = (db.backupRun?.slowestSeconds ?? db.backupRun?.expectedSeconds ?? 0) * 1000;
  const tz = rules.timeZone;
  const scheduled = schedulerRuns(db.backup, start - 62 * DAY_MS, end);
  // A rate schedule's runs keep the phase of the schedule's creation, unknown before deploy: the tiers
  // are judged for every phase it may take (ratePhases), each its own list of backups.
  const rate = /^rate\(/i.test(db.backup.expression);
  const toBackup = (at: number): Backup => ({ at, day: dayNumber(localDate(at, tz)), uploaded: at + runMs });
  const variants: Backup[][] = rate
    ? ratePhases(db.backup.intervalSeconds * 1000, tz, start - 62 * DAY_MS, end).map((phase) => {
        const list: Backup[] = [];
        for (let t = start - 62 * DAY_MS + phase; t < end; t += db.backup.intervalSeconds * 1000) list.push(toBackup(t));
        return list;
      })
    : [scheduled.runs.map(toBackup)];
  const backups = variants[0];
  const written = new Set(variants.flatMap((v) => v.filter((b) => b.at >= start).map((b) => tierFor(new Date(b.at), rules))));
  const firstDay = dayNumber(localDate(start - 1, tz)) + 1;
  const lastDay = dayNumber(localDate(end, tz)) - 1;
  const expire = (tier: Tier) => byTier.get(tier)?.expireDays ?? Infinity;
  const promised = (tier: Tier) => byTier.get(tier)?.promisedDays;
  const text = `"${db.backup.text}"`;

  // A tier that is written to and kept shorter than a lower tier leaves holes in the lower one's restore points.
  for (const [i, tier] of TIERS.entries()) {
    if (i === 0 || !written.has(tier)) continue;
    const lower = TIERS.slice(0, i).filter((l) => (promised(l) ?? 0) > expire(tier));
    if (lower.length === 0) continue;
    const l = lower.sort((a, b) => (promised(b) ?? 0) - (promised(a) ?? 0))[0];
    const which = tier === "weekly" ? `each ${DAYS[rules.weeklyDay]}'s backup` : `the backup of day ${rules.monthlyDay} of each month`;
    const first = variants.flat().find((b) => b.at >= start && tierFor(new Date(b.at), rules) === tier);
    add([tier], everyCopy, {
      key: `${db.key}.backup.retention.${tier}`,
      promise: `${tier} backups kept at least as long as ${l} ones (${promised(l)} days)`,
      figure: `${expire(tier)} days < ${promised(l)}`,
      value: expire(tier),
      status: "broken",
      kind: "config",
      firstBreak: first ? localDate(first.at, tz) : undefined,
      effect: `${which} is written to the ${tier} tier only and gone after ${expire(tier)} days, a hole in the ${promised(l)} days of ${l} restore points`,
      remedy: `set retention.${tier} to at least ${promised(l)}`,
    });
  }

  // Every week, every month holds a backup kept as long as its tier promises.
  const keptOf = (tier: Tier) => expire(tier);
  const feeds: { tier: Tier; period: "week" | "month"; settingKey: string; candidates: number[]; with: (v: number) => TierRules; name: (v: number) => string }[] = [
    { tier: "weekly", period: "week", settingKey: "weeklyOn", candidates: [0, 1, 2, 3, 4, 5, 6], with: (v) => ({ ...rules, weeklyDay: v }), name: (v) => DAYS[v] },
    { tier: "monthly", period: "month", settingKey: "monthlyOnDay", candidates: Array.from({ length: 28 }, (_, k) => k + 1), with: (v) => ({ ...rules, monthlyDay: v }), name: (v) => String(v) },
  ];
  // The first hole at any phase the schedule may take.
  const holeIn = (r: TierRules, period: "week" | "month", days: number) => {
    for (const v of variants) {
      const h = firstHole(v, keptOf, r, period, days, firstDay, lastDay);
      if (h) return h;
    }
    return undefined;
  };
  const restorePoints = (tier: Tier) => ({ figure: `no backup written while paused; expiry suspended: every ${tier} backup stored is kept` });
  const atSomePhase = rate ? ` at some of the times of day it may run (it runs at the time it is deployed, unknown before)` : "";
  for (const f of feeds) {
    const days = promised(f.tier);
    if (days === undefined) continue;
    const holePeriod = holeIn(rules, f.period, days);
    const hole = holePeriod?.first;
    const current = f.period === "week" ? DAYS[rules.weeklyDay] : `day ${rules.monthlyDay}`;
    const every = f.period === "week" ? `every week (from ${DAYS[rules.weeklyDay]})` : "every month";
    if (!hole) {
      add([f.tier], restorePoints(f.tier), {
        key: `${db.key}.backup.retention.${f.tier}`,
        promise: `a ${f.tier} restore point kept ${daysText(days)} in ${every}`,
        figure: `${text} writes a backup kept ${daysText(days)} or more in ${every}`,
        value: days,
        status: "held",
        kind: "config",
      });
      continue;
    }
    // A run the Scheduler skips that period (a local time daylight saving removes) is the cause: the
    // schedule's own refusal names it and its remedy, and this hole is one more of its effects.
    const skipped = scheduled.skipped.find((x) => x.date >= holePeriod!.first && x.date <= holePeriod!.last);
    if (skipped) {
      add([f.tier], restorePoints(f.tier), {
        key: `${db.key}.backup.schedule`,
        promise: `a ${f.tier} restore point kept ${daysText(days)} in ${every} (retention.${f.tier})`,
        figure: `none in the ${f.period} from ${hole}`,
        status: "broken",
        kind: "config",
        firstBreak: skipped.date,
        effect: `no backup kept ${daysText(days)} in the ${f.period} from ${hole}: the ${f.tier} tier has a hole`,
      });
      continue;
    }
    const fix = f.candidates.find((v) => !holeIn(f.with(v), f.period, days));
    // Without such a day: every backup of the period kept as long as the tier below would do.
    const below = f.tier === "weekly" ? "daily" : "weekly";
    const belowDays = promised(below);
    const fedByBelow = belowDays !== undefined && !holeIn(rules, f.period, belowDays);
    // Weekly days over the monthly tier's: the week whose weekly day is the monthly day keeps its
    // backup only as long as the monthly tier, whatever the weekday (tasks/lib/tiers.ts tierFor). The
    // tier check above already refuses retention.monthly for it, with its remedy.
    if (f.tier === "weekly" && fix === undefined && written.has("monthly") && expire("monthly") < days) continue;
    const onDay = f.period === "week" ? `no backup on ${current} that week` : `no backup on ${current} that month`;
    add([f.tier], restorePoints(f.tier), {
      key: fix !== undefined ? `${db.key}.backup.${f.settingKey}` : `${db.key}.backup.retention.${f.tier}`,
      promise: `a ${f.tier} restore point kept ${daysText(days)} in ${every} (retention.${f.tier})`,
      figure: `none in the ${f.period} from ${hole}`,
      status: "broken",
      kind: "config",
      firstBreak: hole,
      effect: `${text}${atSomePhase} writes no backup kept ${daysText(days)} in the ${f.period} from ${hole} (${onDay}): the ${f.tier} tier has a hole`,
      remedy:
        fix !== undefined
          ? `set ${f.settingKey} to ${f.name(fix)}, a day ${text} backs up ${f.period === "week" ? "every week" : "every month"}`
          : `${text} backs up on no ${f.period === "week" ? "weekday every week" : "day of every month"}: back up ${f.period === "week" ? "at least on one weekday every week" : "every day"}${fedByBelow ? `, or set retention.${f.tier} to ${belowDays} (the ${below} backups then stand for every ${f.period})` : ""}`,
    });
  }

  // The newest backup is still readable when the next one is uploaded (at every phase of a rate schedule).
  const newest = newestKeptUntilNext({
    variants,
    start,
    rate,
    tz,
    noun: "backup",
    days: (b) => expire(tierFor(new Date(b.at), rules)),
    name: (b) => `${tierFor(new Date(b.at), rules)} backup`,
    setting: (b) => {
      const tier = tierFor(new Date(b.at), rules);
      return { key: `${db.key}.backup.retention.${tier}`, name: `retention.${tier}` };
    },
    heldKey: `${db.key}.backup.retention.daily`,
  });
  if (newest) {
    const noncurrentDays = Math.min(...db.retention.map((t) => t.noncurrentDays));
    const resuming = {
      figure: "expiry suspended while paused: the newest backup is kept",
      onResume: onResumeText("backup", "their tier's days", noncurrentDays),
    };
    add(db.retention.map((t) => t.tier), resuming, newest);
  }
  return out;
}
