/**
 * What the bucket holds: the databases with backups, and each database's backups (their manifests)
 * newest first, with the outcome of the verify-backup runs recorded beside them. Read by the
 * on-demand tasks list-backups and restore; the key layout is tiers.ts's, the manifest s3.ts's.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { mapLimit } from "./map-limit";
import { listManifests, readManifest, type Manifest } from "./s3";
import { normalisePrefix, TIERS } from "./tiers";
import { newestVerification, type Verification } from "./verification";

/** One backup as list-backups shows it; `verified` is explained at Verification. */
export interface BackupEntry {
  database: string;
  tier: Manifest["tier"];
  key: string;
  startedAt: string;
  sizeBytes: number;
  sha256: string;
  verified: Verification;
}

/** Every page of a ListObjectsV2 over `prefix` (with `delimiter`: the common prefixes only). */
export async function listAll(s3: S3Client, bucket: string, prefix: string, delimiter?: string): Promise<{ keys: string[]; prefixes: string[] }> {
  const keys: string[] = [];
  const prefixes: string[] = [];
  let token: string | undefined;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token }));
    for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
    for (const p of out.CommonPrefixes ?? []) if (p.Prefix) prefixes.push(p.Prefix);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return { keys, prefixes };
}

/** Ids of the databases that have a folder in any tier (`<prefix><tier>/<id>/`), sorted. */
export async function databasesWithBackups(s3: S3Client, bucket: string, prefix: string | undefined): Promise<string[]> {
  const ids = new Set<string>();
  for (const tier of TIERS) {
    const base = `${normalisePrefix(prefix)}${tier}/`;
    for (const p of (await listAll(s3, bucket, base, "/")).prefixes) ids.add(p.slice(base.length, -1));
  }
  return [...ids].sort();
}

/**
 * The backups of one database, newest first (by the key's timestamp, across the tiers): one entry
 * per manifest. A dump without a manifest is not a whole backup (backup.ts writes the manifest last)
 * and is not listed.
 */
export async function backupsOf(s3: S3Client, bucket: string, prefix: string | undefined, databaseId: string): Promise<BackupEntry[]> {
  return (await backupsWithRecords(s3, bucket, prefix, databaseId)).map(({ record: _record, ...entry }) => entry);
}

/** backupsOf's entries, each with the key of its newest verification record, when one exists. */
async function backupsWithRecords(s3: S3Client, bucket: string, prefix: string | undefined, databaseId: string): Promise<(BackupEntry & { record?: string })[]> {
  const manifestKeys = await listManifests(s3, bucket, prefix, databaseId);
  // The verification records sit beside the dumps: one more listing per tier, no extra reads.
  const siblings: string[] = [];
  for (const tier of TIERS) siblings.push(...(await listAll(s3, bucket, `${normalisePrefix(prefix)}${tier}/${databaseId}/`)).keys);
  return mapLimit(manifestKeys, 8, async (k) => {
    const m = await readManifest(s3, bucket, k);
    const v = newestVerification(m.key, siblings);
    return { database: m.database, tier: m.tier, key: m.key, startedAt: m.startedAt, sizeBytes: m.sizeBytes, sha256: m.sha256, verified: v ? v.ok : null, ...(v ? { record: v.key } : {}) };
  });
}

/** A backup passed over by restorableBackup, and why (the failed checks its verification recorded). */
export interface SkippedBackup {
  key: string;
  why: string;
}

/**
 * The backup a restore or a drill takes when none is named: the newest (with `before`, the newest
 * started before that time) whose newest verification did not fail. A backup verify-backup marked
 * failed (too small, shrunk past MAX_SHRINK_PERCENT: often the one that captured the incident) is
 * passed over and listed in `skipped` with the checks that failed; an unverified one (null) is taken.
 * `chosen` is undefined when no backup qualifies; `entries` are all the backups, newest first.
 */
export async function restorableBackup(
  s3: S3Client,
  bucket: string,
  prefix: string | undefined,
  databaseId: string,
  before?: Date,
): Promise<{ chosen?: BackupEntry; skipped: SkippedBackup[]; entries: BackupEntry[] }> {
  const all = await backupsWithRecords(s3, bucket, prefix, databaseId);
  const skipped: SkippedBackup[] = [];
  for (const e of all) {
    if (before && Date.parse(e.startedAt) >= before.getTime()) continue;
    if (e.verified !== false) return { chosen: e, skipped, entries: all };
    skipped.push({ key: e.key, why: await failedChecks(s3, bucket, e.record!) });
  }
  return { skipped, entries: all };
}

/** `verify-backup failed (shrink: ...)`, read from the record; its key alone when it cannot be read. */
async function failedChecks(s3: S3Client, bucket: string, recordKey: string): Promise<string> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: recordKey }));
    const record = JSON.parse(await out.Body!.transformToString()) as { checks?: { name: string; ok: boolean; detail: string }[] };
    const failed = (record.checks ?? []).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    return `verify-backup failed${failed.length ? ` (${failed.join("; ")})` : ""}, record ${recordKey}`;
  } catch {
    return `verify-backup failed, record ${recordKey}`;
  }
}

/**
 * The one line for a database id with no backup: names the argument and the ids that do have
 * backups, e.g. `--database app2: no such database in the bucket; databases with backups: app`.
 */
export async function noSuchDatabase(s3: S3Client, bucket: string, prefix: string | undefined, databaseId: string): Promise<string> {
  const known = await databasesWithBackups(s3, bucket, prefix).catch(() => undefined);
  const where = `s3://${bucket}/${normalisePrefix(prefix)}{${TIERS.join(",")}}/${databaseId}/`;
  if (known === undefined) return `--database ${databaseId}: no backup under ${where}`;
  return `--database ${databaseId}: no such database in the bucket (${where}); databases with backups: ${known.length ? known.join(", ") : "none"}`;
}
