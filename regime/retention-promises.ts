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
 */
import type { DeclaredDatabase, PromiseResult } from "./promises";
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

interface Backup {
  /** Scheduled start (ms). */
  at: number;
  /** Local day number of its start, in the schedule's zone (the day tierFor reads). */
  day: number;
  /** When its dump is surely uploaded: start + its slowest run that pages nobody (ms). */
  uploaded: number;
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
    const resumed = `resumed: ${r.figure}${r.status === "broken" ? ` (breaks it${r.firstBreak ? ` from ${r.firstBreak}` : ""}: ${[r.effect, r.remedy].filter(Boolean).join("; ")})` : ""}`;
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

/** The promises of the backup as its schedule runs, each with the tiers that decide it. */
function scheduledRetention(db: DeclaredDatabase, start: number, end: number): TierResult[] {
  const out: TierResult[] = [];
  const add = (tiers: Tier[], paused: TierResult["paused"], result: PromiseResult) => out.push({ tiers, result, paused });
  const everyCopy = { figure: "expiry suspended while paused: every copy kept, old versions too" };
  const byTier = new Map(db.retention.map((t) => [t.tier, t]));
  for (const t of db.retention) {
    const ok = t.expireDays >= t.promisedDays;
    add([t.tier], everyCopy, {
      key: `${db.key}.backup.retention.${t.tier}`,
      promise: `${t.tier} backups kept ${t.promisedDays} days`,
      figure: `${t.expireDays} days from the backup's start (S3 dates an upload in parts by its start), rounded up to the next midnight UTC (${t.expireDays} to ${t.expireDays + 1} days), then ${t.noncurrentDays} more as an old version`,
      value: t.expireDays,
      status: ok ? "held" : "broken",
      kind: "config",
      ...(ok ? {} : { effect: `the lifecycle expires ${t.tier} backups after ${t.expireDays} days < ${t.promisedDays}` }),
    });
  }
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
  let worst: { margin: number; b: Backup; next: Backup; until: number; tier: Tier } | undefined;
  let longest = 0;
  for (const backups of variants) for (let i = 0; i + 1 < backups.length; i++) {
    const b = backups[i];
    const next = backups[i + 1];
    if (next.at < start) continue;
    const tier = tierFor(new Date(b.at), rules);
    // A rate schedule's runs keep the phase of the schedule's creation, unknown before deploy: the
    // rounding to midnight may add nothing, so it counts the days alone.
    // Its days run from its start, when the upload that holds it was opened.
    const until = rate ? b.at + expire(tier) * DAY_MS : readableUntil(b.at, expire(tier));
    longest = Math.max(longest, next.uploaded - b.at);
    const margin = until - next.uploaded;
    if (!worst || margin < worst.margin) worst = { margin, b, next, until, tier };
  }
  if (worst) {
    const broken = worst.margin < 0;
    const needDays = Math.ceil(longest / DAY_MS);
    const date = localDate(worst.b.at, tz);
    const noncurrentDays = Math.min(...db.retention.map((t) => t.noncurrentDays));
    const resuming = {
      figure: "expiry suspended while paused: the newest backup is kept",
      onResume: `when the backup resumes, S3 applies the enabled rules to what is stored: backups older than their tier's days expire within about a day, before the first new backup is uploaded if the pause outlasted them, and stay ${daysText(noncurrentDays)} as old versions: run the backup by hand as it resumes`,
    };
    add(db.retention.map((t) => t.tier), resuming, {
      key: `${db.key}.backup.retention.${broken ? worst.tier : "daily"}`,
      promise: "the newest backup is kept until the next one is uploaded",
      figure: broken
        ? rate
          ? `a ${worst.tier} backup may be gone ${hours(-worst.margin)} before the next one`
          : `the ${worst.tier} backup of ${date} is gone ${hours(-worst.margin)} before the next one`
        : `at least ${hours(worst.margin)} of overlap (the next is uploaded at most ${hours(longest)} after a backup starts)`,
      value: Math.round(worst.margin / 1000),
      status: broken ? "broken" : "held",
      kind: "config",
      ...(broken
        ? {
            ...(rate ? {} : { firstBreak: date }),
            effect: rate
              ? `a ${worst.tier} backup is kept ${daysText(expire(worst.tier))} from its start (${hours(expire(worst.tier) * DAY_MS)} when started just before midnight UTC, the lifecycle rounding up to midnight) and the next is uploaded ${hours(worst.next.uploaded - worst.b.at)} after it started: ${hours(-worst.margin)} with no backup at all`
              : `the ${worst.tier} backup of ${date} is kept ${daysText(expire(worst.tier))} from its start (readable until ${new Date(worst.until).toISOString().slice(0, 16)}Z, the lifecycle rounding up to midnight UTC) and the next is uploaded ${new Date(worst.next.uploaded).toISOString().slice(0, 16)}Z: ${hours(-worst.margin)} with no backup at all`,
            remedy: `set retention.${worst.tier} to at least ${needDays} (the next is uploaded up to ${hours(longest)} after a backup starts)`,
          }
        : {}),
    });
  }
  return out;
}
