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
import { defineTask, envNumber, oneLine, type TaskContext } from "./lib/runtime";
import { listManifests, openObject, putJsonOnce, readManifest, s3Client, type Manifest } from "./lib/s3";
import { verificationKey } from "./lib/verification";

const settings = z
  .looseObject({
    ...storageSettings,
    RPO_HOURS: envNumber(0.01).default(26),
    MIN_SIZE_MB: envNumber(0).default(0.01),
    MAX_SHRINK_PERCENT: envNumber(0, 100).optional(),
    PG_BIN_DIR: z.string().optional(),
    PG_RESTORE_PATH: z.string().optional(),
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
  /** The backup before the newest one, when MAX_SHRINK_PERCENT is set and one exists. */
  previousKey?: string;
  previousSizeBytes?: number;
  /** How much smaller the newest dump is than the previous one (negative: larger). */
  shrinkPercent?: number;
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

/** The newest manifest's size against the previous manifest's, or undefined without MAX_SHRINK_PERCENT. */
async function shrinkCheck(
  s: Settings,
  s3: S3Client,
  m: Manifest,
  previousKey: string | undefined,
): Promise<{ check: Check; previous?: Manifest; percent?: number } | undefined> {
  const limit = s.MAX_SHRINK_PERCENT;
  if (limit === undefined) return undefined;
  if (!previousKey) return { check: { name: "shrink", ok: true, detail: `first backup of ${m.database}: no previous backup to compare its ${m.sizeBytes} bytes with` } };
  let previous: Manifest;
  try {
    previous = await readManifest(s3, s.BACKUP_BUCKET, previousKey);
  } catch (err) {
    return { check: { name: "shrink", ok: false, detail: `previous backup unreadable: ${oneLine(err)}` } };
  }
  if (previous.sizeBytes === 0) {
    return { check: { name: "shrink", ok: true, detail: `${m.sizeBytes} bytes, previous backup ${previous.key} was empty` }, previous };
  }
  const exact = ((previous.sizeBytes - m.sizeBytes) / previous.sizeBytes) * 100;
  const percent = Number(exact.toFixed(1));
  const change = exact >= 0 ? `${percent} % smaller than` : `${-percent} % larger than`;
  const detail = `${m.sizeBytes} bytes, ${change} the previous backup's ${previous.sizeBytes} bytes (${previous.key}; MAX_SHRINK_PERCENT ${limit})`;
  return { check: { name: "shrink", ok: exact <= limit, detail }, previous, percent };
}

async function verifyOne(s: Settings, target: DatabaseTarget, s3: S3Client, ctx: TaskContext): Promise<VerifyOutcome> {
  const keys = await listManifests(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, target.id);
  const m = keys.length ? await readManifest(s3, s.BACKUP_BUCKET, keys[0]) : undefined;
  if (!m) {
    return { database: target.id, ok: false, error: `no backup under s3://${s.BACKUP_BUCKET}/${s.BACKUP_PREFIX}{daily,weekly,monthly}/${target.id}/`, checks: [] };
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
  const shrink = await shrinkCheck(s, s3, m, keys[1]);
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
  const recordKey = await recordVerification(s, s3, m.key, failed.length === 0, checks, ctx);
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
    tocEntries,
    checks,
    ...(recordKey ? { recordKey } : {}),
  };
}

/**
 * Writes the outcome beside the backup for list-backups (written once, like every object under the
 * tier prefixes). A record that cannot be written is a warning, not a failed verification: the
 * backup's state is what the run reports and the alarms watch.
 */
async function recordVerification(s: Settings, s3: S3Client, dumpKey: string, ok: boolean, checks: Check[], ctx: TaskContext): Promise<string | undefined> {
  const at = new Date();
  const key = verificationKey(dumpKey, at, ok);
  try {
    await putJsonOnce(s3, s.BACKUP_BUCKET, key, { key: dumpKey, ok, verifiedAt: at.toISOString(), checks });
    return key;
  } catch (err) {
    ctx.log.warn("verification record not written", { key, error: oneLine(err) });
    return undefined;
  }
}

export const verifyBackupTask = defineTask({
  name: "verify-backup",
  description: "check the newest backup of each database: age (RPO), size (and shrink against the previous one), SHA-256, pg_restore reading the whole archive",
  settings,
  async run(s, ctx): Promise<VerifyResult> {
    const s3 = s3Client(s.env);
    const result: VerifyResult = { bucket: s.BACKUP_BUCKET, databases: [] };
    for (const target of s.targets) {
      let outcome: VerifyOutcome;
      try {
        outcome = await verifyOne(s, target, s3, ctx);
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
