/**
 * How long a log set's rotated logs are really kept, from the directives regime/logrotate.ts renders
 * for it. logrotate removes a rotated file for either of two reasons (logrotate(8); checked with the
 * real logrotate 3.21 in tests/log-retention.test.ts):
 * - `rotate N` ("Log files are rotated count times before being removed"): at each rotation the file
 *   rotated N times already is removed, however young; a line therefore stays on the host at least
 *   N rotations, N x the period (daily 1 day, weekly 7, monthly 28, the shortest month, yearly 365:
 *   FREQUENCY_DAYS), and at most one period more;
 * - `maxage D` ("Remove rotated logs older than <count> days"): a rotated file whose last write is
 *   older than D days is removed at a rotation, so a line stays at least D days.
 * Whichever comes first wins: maxage never keeps a file past `rotate`. With `dateext` the same holds
 * (logrotate counts the dated names and removes the oldest). `maxsize` rotates a file that grew past
 * it at any run of logrotate, once a day on the usual hosts (Debian's logrotate.timer, cron.daily):
 * a busy file then uses up its N rotated files sooner, down to N days.
 *
 * An archived log set also uploads each rotated, compressed file once to the log archive bucket,
 * where it stays `archive.expireDays` from its upload (S3 rounds up to the next midnight UTC), so
 * every line is kept at least that long there, whatever the host removes. The upload runs after a
 * rotation and takes the `*.gz` files then on the host: with delaycompress a file is compressed at
 * the rotation after its own, and with `rotate 1` that same rotation removes it first, so nothing
 * ever reaches the archive (checked with the real logrotate in tests/log-retention.test.ts).
 */
import { delaysCompression, effectiveKeep, FREQUENCY_DAYS, type LogSet } from "./logs";
import type { PromiseResult } from "./promises";

/** How often the hosts' own logrotate runs: once a day (Debian's logrotate.timer, Amazon Linux's cron.daily). */
export const LOGROTATE_RUN_DAYS = 1;

export interface LogSetRetention {
  /** `rotate N` as rendered (the configured keep, or the one derived from maxAgeDays). */
  keep: number;
  /** Days `rotate N` keeps a line on the host: keep x the frequency's shortest period. */
  byKeepDays: number;
  /** The log set's maxAgeDays (maxage), when set. */
  maxAgeDays?: number;
  /** Days every line stays on the host: the smaller of byKeepDays and maxAgeDays. */
  hostDays: number;
  /** Days a file growing past maxSize at every daily logrotate run stays: keep x 1 day; only when maxSize can rotate sooner than the frequency. */
  busyHostDays?: number;
  /** Days every line stays in the log archive (archive.expireDays), when archived and anything reaches it. */
  archiveDays?: number;
  /** Archived, but rotate 1 with delaycompress removes each rotated file before it is compressed: nothing is uploaded. */
  archiveStarved?: true;
  /** Days every line is kept somewhere: the longer of the host's and the archive's. */
  keptDays: number;
  /** The keep that would hold maxAgeDays on the host: the keep derived from it (effectiveKeep without keep); undefined without maxAgeDays. */
  keepForStated?: number;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The retention of a log set (see the module comment for where each figure comes from). */
export function logSetRetention(set: Pick<LogSet, "keep" | "maxAgeDays" | "frequency" | "maxSize" | "archive" | "compress" | "delaycompress" | "copytruncate">): LogSetRetention {
  const keep = effectiveKeep(set);
  const period = FREQUENCY_DAYS[set.frequency];
  const byKeepDays = keep * period;
  const hostDays = set.maxAgeDays === undefined ? byKeepDays : Math.min(byKeepDays, set.maxAgeDays);
  const busy = set.maxSize && period > LOGROTATE_RUN_DAYS ? Math.min(hostDays, keep * LOGROTATE_RUN_DAYS) : undefined;
  const starved = set.archive !== undefined && keep < 2 && delaysCompression(set);
  const archiveDays = starved ? undefined : set.archive?.expireDays;
  return {
    keep,
    byKeepDays,
    ...(set.maxAgeDays !== undefined ? { maxAgeDays: set.maxAgeDays, keepForStated: effectiveKeep({ frequency: set.frequency, maxAgeDays: set.maxAgeDays }) } : {}),
    hostDays,
    ...(busy !== undefined ? { busyHostDays: busy } : {}),
    ...(archiveDays !== undefined ? { archiveDays } : {}),
    ...(starved ? { archiveStarved: true as const } : {}),
    keptDays: Math.max(hostDays, archiveDays ?? 0),
  };
}

/**
 * What the host keeps, in words: "14 days on the host (rotate 14 x daily; maxage 30 removes none
 * sooner)", "30 days on the host (maxage 30; rotate 5 x weekly would keep 35)".
 */
export function hostRetentionText(set: Pick<LogSet, "frequency">, r: LogSetRetention): string {
  const rotate = `rotate ${r.keep} x ${set.frequency}`;
  let text: string;
  if (r.maxAgeDays === undefined) text = `${plural(r.hostDays, "day")} on the host (${rotate})`;
  else if (r.byKeepDays <= r.maxAgeDays) text = `${plural(r.hostDays, "day")} on the host (${rotate}; maxage ${r.maxAgeDays} removes none sooner)`;
  else text = `${plural(r.hostDays, "day")} on the host (maxage ${r.maxAgeDays}; ${rotate} would keep ${r.byKeepDays})`;
  if (r.busyHostDays !== undefined) text += `, down to ${plural(r.busyHostDays, "day")} for a file that passes maxsize at every daily run of logrotate`;
  return text;
}

/** The words of an archived log set's retention figure: plan/diff.ts finds a removed log set that archived by them. */
export const IN_THE_LOG_ARCHIVE = "in the log archive";

/** What is kept in the log archive, in words; undefined when the log set is not archived. */
export function archiveRetentionText(r: LogSetRetention): string | undefined {
  if (r.archiveStarved) return "nothing reaches the log archive (rotate 1 with delaycompress removes each rotated file before it is compressed, and only *.gz files are uploaded)";
  if (r.archiveDays === undefined) return undefined;
  return `each rotated file ${plural(r.archiveDays, "day")} ${IN_THE_LOG_ARCHIVE} from its upload (archive.expireDays; S3 rounds up to the next midnight UTC)`;
}

/**
 * Everything a log set keeps, in words: the host's days (hostRetentionText) and the archive's
 * (archiveRetentionText). The retention promise's figure and the rendered config's header line.
 */
export function retentionText(set: Pick<LogSet, "frequency">, r: LogSetRetention): string {
  const archive = archiveRetentionText(r);
  return archive ? `${hostRetentionText(set, r)}; ${archive}` : hostRetentionText(set, r);
}

/** A log set as the promise engine reads it: its config key, its name and frequency, and its retention (logSetRetention). */
export interface DeclaredLogSet {
  /** `logs.hostGroups[app].logSets[nginx]`. */
  key: string;
  name: string;
  frequency: LogSet["frequency"];
  retention: LogSetRetention;
}

/**
 * The retention promise of a log set, on its `keep` key (the setting whose change keeps it): the days
 * the config states (maxAgeDays) against the days every line is really kept, on the host or in the
 * log archive (logSetRetention). Broken, as a config promise (refused unless acceptedRisks names the
 * key), when maxAgeDays is longer than both: `rotate N` removes the files first; and when an archived
 * set archives nothing (rotate 1 with delaycompress).
 * Without maxAgeDays, the promise is the keep itself and always holds; its figure says how many days that is.
 */
export function logSetPromise(l: DeclaredLogSet): PromiseResult {
  const r = l.retention;
  const figure = retentionText(l, r);
  const stated = r.maxAgeDays;
  const short = stated !== undefined && r.keptDays < stated;
  const broken = short || r.archiveStarved === true;
  return {
    key: `${l.key}.keep`,
    promise: stated !== undefined ? `log set ${l.name}: rotated logs kept ${plural(stated, "day")} (maxAgeDays)` : `log set ${l.name}: rotated logs kept ${r.keep} ${l.frequency} rotations (keep)`,
    figure,
    value: r.keptDays,
    status: broken ? "broken" : "held",
    kind: "config",
    ...(r.archiveStarved
      ? {
          effect: "rotate 1 with delaycompress removes each rotated file at the next rotation, before it is compressed, and the archive uploads only *.gz files: nothing is archived",
          remedy: `set keep to at least ${Math.max(2, r.keepForStated ?? 2)} or delaycompress: false`,
        }
      : short
        ? {
            effect: `rotate ${r.keep} x ${l.frequency} keeps rotated logs ${plural(r.hostDays, "day")} on the host${
              r.archiveDays !== undefined ? ` and the log archive ${plural(r.archiveDays, "day")}` : ""
            } < maxAgeDays ${stated}: logrotate removes a file rotated ${r.keep} times already, whatever maxage says`,
            remedy: `set keep to at least ${r.keepForStated}${r.archiveDays !== undefined ? ` or archive.expireDays to at least ${stated}` : ""}`,
          }
        : {}),
  };
}
