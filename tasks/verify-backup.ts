/**
 * verify-backup: the newest backup of each database is recent (RPO), big enough, whole (SHA-256 of
 * the object equals the manifest's) and readable by pg_restore to its end (the same stream fed to
 * `pg_restore -f /dev/null`: every entry and every data block read and decompressed, which
 * `pg_restore --list`, reading only the table of contents, does not prove). It does not prove the
 * backup loads into a database (roles, extensions, functions that name tables without their schema):
 * the restore drill does. With MAX_SHRINK_PERCENT, its size is also compared with the backup before it
 * (across the tiers, by key timestamp): a dump smaller by more than that percent fails ("backup size
 * should be consistent"); the first backup of a database passes and says so. Any failed check fails
 * the run with one line per database.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { databaseMetric, failIfAny, MetricUnit, storageSettings, withTargets, type DatabaseOutcome } from "./lib/backup-common";
import type { DatabaseTarget } from "./lib/db";
import { startTool, toolPath } from "./lib/pgtools";
import { streamInto } from "./lib/restore-stream";
import { shrinkBaseline, type BackupEntry } from "./lib/backup-listing";
import { defineTask, envNumber, oneLine, TaskError, type TaskContext } from "./lib/runtime";
import { listManifests, openObject, putJsonOnce, readManifest, s3Client, type Manifest } from "./lib/s3";
import { archiveVerified, verificationKey, type VerificationRecord } from "./lib/verification";

const settings = z
  .looseObject({
    ...storageSettings,
    RPO_HOURS: envNumber(0.01).default(26),
    MIN_SIZE_MB: envNumber(0).default(0.01),
    MAX_SHRINK_PERCENT: envNumber(0, 100).optional(),
    /** The key of the newest backup whose shrink past MAX_SHRINK_PERCENT is legitimate (a cleanup): it passes, and becomes the baseline. */
    ACCEPT_SHRINK: z
      .string()
      // --accept-shrink without a key arrives as "true" (the command line's flag form).
      .refine((v) => v.trim() !== "" && v.trim() !== "true", "missing the key of the backup whose shrink is accepted (--accept-shrink <key>, as list-backups shows it)")
      .optional(),
    PG_BIN_DIR: z.string().optional(),
    PG_RESTORE_PATH: z.string().optional(),
  })
  .refine((s) => s.ACCEPT_SHRINK === undefined || s.MAX_SHRINK_PERCENT !== undefined, {
    path: ["ACCEPT_SHRINK"],
    message: "no shrink is checked without MAX_SHRINK_PERCENT (verify.maxShrinkPercent), so there is nothing to accept; set both",
  })
  .transform(withTargets);
type Settings = z.infer<typeof settings>;

export interface Check {
  name: "age" | "size" | "shrink" | "sha256" | "pg_restore";
  ok: boolean;
  detail: string;
}

export interface VerifyOutcome extends DatabaseOutcome {
  key?: string;
  ageHours?: number;
  sizeBytes?: number;
  /**
   * The baseline of the shrink check, when MAX_SHRINK_PERCENT is set and one exists: the newest earlier
   * backup that passed verification (against a good copy), else the newest never verified.
   */
  previousKey?: string;
  previousSizeBytes?: number;
  /** How much smaller the newest dump is than the baseline, in percent to one decimal (negative: larger). */
  shrinkPercent?: number;
  /** The shrink past MAX_SHRINK_PERCENT passed because ACCEPT_SHRINK named this backup. */
  shrinkAccepted?: true;
  /** Entries pg_restore created or loaded reading the whole archive (its --verbose lines). */
  tocEntries?: number;
  checks: Check[];
  /** The verification record written beside the backup (tasks/lib/verification.ts), when it was written. */
  recordKey?: string;
}

export interface VerifyResult {
  bucket: string;
  databases: VerifyOutcome[];
}

/**
 * The newest manifest's size against the baseline's, or undefined without MAX_SHRINK_PERCENT. The
 * baseline is the newest earlier backup that is a good copy (lib/backup-listing.ts shrinkBaseline:
 * passed its verification, against a good copy), not merely the one before: a backup that failed for
 * shrinking does not become the measure of the next, so the damaged state keeps failing until the data
 * comes back or `accepted` (ACCEPT_SHRINK names this backup) lets the shrink pass. With no good copy
 * yet, the newest earlier backup never verified; with none either, the check passes and says so.
 * `baselineKey` is what the verification record keeps (null: nothing compared).
 */
async function shrinkCheck(
  s: Settings,
  s3: S3Client,
  id: string,
  m: Manifest,
  accepted: boolean,
): Promise<{ check: Check; previous?: BackupEntry; percent?: number; baselineKey: string | null; accepted?: true } | undefined> {
  const limit = s.MAX_SHRINK_PERCENT;
  if (limit === undefined) return undefined;
  let found: Awaited<ReturnType<typeof shrinkBaseline>>;
  try {
    found = await shrinkBaseline(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, id, m.key);
  } catch (err) {
    return { check: { name: "shrink", ok: false, detail: `earlier backups unreadable: ${oneLine(err)}` }, baselineKey: null };
  }
  const previous = found.baseline ?? found.unverified;
  if (!previous) {
    const detail = found.failed.length
      ? `no earlier backup of ${m.database} passed verification (${found.failed.length} failed, the newest ${found.failed[0].key}): nothing to compare its ${m.sizeBytes} bytes with`
      : `first backup of ${m.database}: no previous backup to compare its ${m.sizeBytes} bytes with`;
    return { check: { name: "shrink", ok: true, detail }, baselineKey: null };
  }
  const which = found.baseline ? "the last backup that passed verification" : "the previous backup (never verified; none passed)";
  if (previous.sizeBytes === 0) {
    return { check: { name: "shrink", ok: true, detail: `${m.sizeBytes} bytes, ${which} ${previous.key} was empty` }, previous, baselineKey: previous.key };
  }
  const exact = ((previous.sizeBytes - m.sizeBytes) / previous.sizeBytes) * 100;
  const percent = Number(exact.toFixed(1));
  const change = exact >= 0 ? `${percent} % smaller than` : `${-percent} % larger than`;
  const detail = `${m.sizeBytes} bytes, ${change} ${which}, ${previous.key} of ${previous.sizeBytes} bytes (MAX_SHRINK_PERCENT ${limit})`;
  if (exact > limit && accepted) {
    return { check: { name: "shrink", ok: true, detail: `${detail}; accepted by ACCEPT_SHRINK` }, previous, percent, baselineKey: previous.key, accepted: true };
  }
  return { check: { name: "shrink", ok: exact <= limit, detail }, previous, percent, baselineKey: previous.key };
}

/**
 * ACCEPT_SHRINK as a dump key (`<prefix><tier>/<database>/<timestamp>.dump`; its .manifest.json taken
 * for it) and its database, or a one-line refusal naming the setting.
 */
function acceptedShrink(s: Settings): { key: string; database: string } | undefined {
  const v = s.ACCEPT_SHRINK?.trim();
  if (!v) return undefined;
  const key = v.replace(/\.manifest\.json$/, ".dump");
  const m = key.startsWith(s.BACKUP_PREFIX) ? /^(?:daily|weekly|monthly)\/([^/]+)\/[^/]+\.dump$/.exec(key.slice(s.BACKUP_PREFIX.length)) : null;
  if (!m || !s.targets.some((t) => t.id === m[1])) {
    throw new TaskError(
      `ACCEPT_SHRINK: "${v}" is not the key of a backup of ${s.targets.map((t) => t.id).join(", ")} (${s.BACKUP_PREFIX}{daily,weekly,monthly}/<database>/<timestamp>.dump, as list-backups shows it)`,
    );
  }
  return { key, database: m[1] };
}

async function verifyOne(s: Settings, target: DatabaseTarget, s3: S3Client, ctx: TaskContext, accept?: { key: string; database: string }): Promise<VerifyOutcome> {
  const keys = await listManifests(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, target.id);
  const m = keys.length ? await readManifest(s3, s.BACKUP_BUCKET, keys[0]) : undefined;
  if (!m) {
    return { database: target.id, ok: false, error: `no backup under s3://${s.BACKUP_BUCKET}/${s.BACKUP_PREFIX}{daily,weekly,monthly}/${target.id}/`, checks: [] };
  }
  // A shrink is accepted for the backup this run verifies only: a key left set never passes a later one.
  if (accept?.database === target.id && accept.key !== m.key) {
    return { database: target.id, ok: false, error: `ACCEPT_SHRINK: ${accept.key} is not the newest backup of ${target.id} (${m.key}); a shrink is accepted only for the backup the run verifies`, key: m.key, checks: [] };
  }
  const checks: Check[] = [];
  // The backup's age is its data's, from its start (as the RPO alarm, list-backups and restore date it).
  const ageHours = (Date.now() - Date.parse(m.startedAt)) / 3_600_000;
  checks.push({
    name: "age",
    ok: ageHours <= s.RPO_HOURS,
    detail: `newest backup is ${ageHours.toFixed(1)} h old, from its start (RPO_HOURS ${s.RPO_HOURS})`,
  });

  // Read before the dump is opened, so its stream does not sit idle meanwhile.
  const shrink = await shrinkCheck(s, s3, target.id, m, accept?.key === m.key);
  const { body, length } = await openObject(s3, s.BACKUP_BUCKET, m.key);
  const minBytes = Math.round(s.MIN_SIZE_MB * 1024 * 1024);
  checks.push({
    name: "size",
    ok: length === m.sizeBytes && length >= minBytes,
    detail:
      length !== m.sizeBytes
        ? `object holds ${length} bytes, manifest says ${m.sizeBytes}`
        : `${length} bytes (MIN_SIZE_MB ${s.MIN_SIZE_MB} = ${minBytes} bytes)`,
  });
  if (shrink) checks.push(shrink.check);

  // The whole archive, not only its table of contents (--list): every entry is read and every data
  // block decompressed into a script sent to /dev/null. It proves the archive is whole and readable; not
  // that it loads (a missing role, a function that names a table without its schema): that is the drill's.
  let tocEntries = 0;
  const read = startTool(toolPath("pg_restore", s.env), ["--verbose", "-f", "/dev/null"], { PATH: s.env.PATH ?? process.env.PATH }, "pipe", (line) => {
    if (/^pg_restore: (creating|processing|executing) /.test(line)) tocEntries++;
  });
  const streamed = await streamInto(body, read, ctx.signal);
  checks.push({
    name: "sha256",
    ok: streamed.sha256 === m.sha256 && streamed.bytes === m.sizeBytes,
    detail: streamed.sha256 === m.sha256 ? `sha256 ${m.sha256} matches the manifest` : `sha256 of the object is ${streamed.sha256}, manifest says ${m.sha256}`,
  });
  checks.push({
    name: "pg_restore",
    ok: streamed.exitCode === 0 && tocEntries > 0,
    detail:
      streamed.exitCode === 0
        ? `pg_restore read the whole archive (${tocEntries} entries created or loaded into a script to /dev/null); whether it loads into a database is the restore drill's check`
        : `pg_restore reading the whole archive exited with ${streamed.exitCode}: ${read.stderrTail() || "no message"}`,
  });

  const failed = checks.filter((c) => !c.ok);
  // The record judges the archive (archiveVerified): the run fails and pages on age, while a good copy that
  // only grew old stays the copy restore, the drill and the next shrink baseline take.
  const recordKey = await recordVerification(s, s3, { key: m.key, ok: archiveVerified(checks), checks, baselineKey: shrink?.baselineKey ?? null, ...(shrink?.accepted ? { shrinkAccepted: true } : {}) }, ctx);
  databaseMetric(ctx, target.id, "BackupAgeHours", MetricUnit.NoUnit, Number(ageHours.toFixed(3)));
  return {
    database: target.id,
    // The database the backup was dumped from, as its manifest records it.
    databaseName: m.databaseName,
    ok: failed.length === 0,
    error: failed.length ? failed.map((c) => `${c.name}: ${c.detail}`).join(", ") : undefined,
    key: m.key,
    ageHours: Number(ageHours.toFixed(3)),
    sizeBytes: length,
    ...(shrink?.previous ? { previousKey: shrink.previous.key, previousSizeBytes: shrink.previous.sizeBytes } : {}),
    ...(shrink?.percent !== undefined ? { shrinkPercent: shrink.percent } : {}),
    ...(shrink?.accepted ? { shrinkAccepted: true as const } : {}),
    tocEntries,
    checks,
    ...(recordKey ? { recordKey } : {}),
  };
}

/**
 * Writes the outcome beside the backup for list-backups, restore, the drill and the next verification's
 * baseline (written once, like every object under the tier prefixes). A record that cannot be written
 * is a warning, not a failed verification: the backup's state is what the run reports and the alarms watch.
 */
async function recordVerification(s: Settings, s3: S3Client, outcome: Omit<VerificationRecord, "verifiedAt">, ctx: TaskContext): Promise<string | undefined> {
  const at = new Date();
  const key = verificationKey(outcome.key, at, outcome.ok);
  try {
    await putJsonOnce(s3, s.BACKUP_BUCKET, key, { ...outcome, verifiedAt: at.toISOString() } satisfies VerificationRecord);
    return key;
  } catch (err) {
    ctx.log.warn("verification record not written", { key, error: oneLine(err) });
    return undefined;
  }
}

export const verifyBackupTask = defineTask({
  name: "verify-backup",
  description: "check the newest backup of each database: age (RPO), size (and shrink against the last backup that passed verification), SHA-256, pg_restore reading the whole archive",
  settings,
  async run(s, ctx): Promise<VerifyResult> {
    const s3 = s3Client(s.env);
    const result: VerifyResult = { bucket: s.BACKUP_BUCKET, databases: [] };
    const accept = acceptedShrink(s);
    for (const target of s.targets) {
      let outcome: VerifyOutcome;
      try {
        outcome = await verifyOne(s, target, s3, ctx, accept);
      } catch (err) {
        outcome = { database: target.id, ok: false, error: oneLine(err), checks: [] };
      }
      if (outcome.ok) ctx.log.info("backup verified", { ...outcome });
      else ctx.log.error("backup verification failed", { database: target.id, error: outcome.error });
      databaseMetric(ctx, target.id, "BackupVerified", MetricUnit.Count, outcome.ok ? 1 : 0);
      result.databases.push(outcome);
    }
    return failIfAny("verify-backup", result);
  },
});
