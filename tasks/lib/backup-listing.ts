/**
 * What the bucket holds: the databases with backups, and each database's backups (their manifests)
 * newest first, with the outcome of the verify-backup runs recorded beside them. Read by the
 * on-demand tasks list-backups and restore; the key layout is tiers.ts's, the manifest s3.ts's.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { mapLimit } from "./map-limit";
import { listManifests, readManifest, type Manifest } from "./s3";
import { normalisePrefix, TIERS } from "./tiers";
import { archiveVerified, newestVerification, type Verification, type VerificationRecord } from "./verification";

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

type Listed = BackupEntry & { record?: string };

/** A verification record's body, or undefined when it cannot be read (a transient error, an expired object). */
async function readRecord(s3: S3Client, bucket: string, recordKey: string): Promise<VerificationRecord | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: recordKey }));
    return JSON.parse(await out.Body!.transformToString()) as VerificationRecord;
  } catch {
    return undefined;
  }
}

/** The records read for one listing, by index: each read once. */
type Reads = Map<number, { record?: VerificationRecord; why?: string }>;

/**
 * Why `all[i]` (a listing newest first) is not a good copy, or undefined when nothing speaks against
 * it: its newest verification failed (the checks that failed, from its record), or it passed only
 * against a baseline that is itself not a good copy. A record that names its baseline (`baselineKey`)
 * was written by a verification that compared with the newest good copy before it: it stands. A record
 * without it (written before the baseline was recorded) compared with the backup just before it when
 * it has a shrink check, and stands or falls with that backup. A backup never verified is not judged
 * here (undefined); an ok record that cannot be read is taken at the listing's word.
 */
async function distrust(s3: S3Client, bucket: string, all: Listed[], i: number, reads: Reads): Promise<string | undefined> {
  const known = reads.get(i);
  if (known) return known.why;
  const e = all[i];
  const record = e.record ? await readRecord(s3, bucket, e.record) : undefined;
  let why: string | undefined;
  // A record that failed on age alone (written before records judged the archive only, archiveVerified)
  // speaks against no copy: the backup only grew old while no newer one was stored.
  const failedOnAgeAlone = e.verified === false && !!record?.checks?.length && archiveVerified(record.checks);
  if (e.verified === false && !failedOnAgeAlone) {
    const failed = (record?.checks ?? []).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    why = `verify-backup failed${failed.length ? ` (${failed.join("; ")})` : ""}, record ${e.record}`;
  } else if (e.verified === true) {
    const shrink = record?.checks?.find((c) => c.name === "shrink");
    const older = record && !("baselineKey" in record) && shrink && !/^first backup /.test(shrink.detail) && i + 1 < all.length ? i + 1 : undefined;
    if (older !== undefined && (await distrust(s3, bucket, all, older, reads))) {
      const base = all[older];
      why = `verify-backup passed it only against ${base.key}, which ${base.verified === false ? "failed verification" : "is not a good copy either"}; record ${e.record}`;
    }
  }
  reads.set(i, { record, why });
  return why;
}

/**
 * The newest good copy of a database older than `newerThan` (the key of the backup being verified):
 * the baseline verify-backup compares sizes with. A good copy passed its newest verification and,
 * when that verification compared sizes, against a good copy (distrust). `baseline` is undefined when
 * none passed; `unverified` is then the newest older backup never verified (undefined when none), and
 * `failed` the older backups passed over with why. Reads the manifests and the records of the chain.
 */
export async function shrinkBaseline(
  s3: S3Client,
  bucket: string,
  prefix: string | undefined,
  databaseId: string,
  newerThan: string,
): Promise<{ baseline?: BackupEntry; unverified?: BackupEntry; failed: SkippedBackup[] }> {
  const all = await backupsWithRecords(s3, bucket, prefix, databaseId);
  const reads: Reads = new Map();
  const failed: SkippedBackup[] = [];
  let unverified: BackupEntry | undefined;
  const stamp = (k: string) => k.slice(k.lastIndexOf("/") + 1);
  for (let i = 0; i < all.length; i++) {
    if (stamp(all[i].key) >= stamp(newerThan)) continue;
    const { record: _record, ...entry } = all[i];
    if (all[i].verified === null) {
      unverified ??= entry;
      continue;
    }
    const why = await distrust(s3, bucket, all, i, reads);
    if (!why) return { baseline: entry, failed };
    failed.push({ key: entry.key, why });
  }
  return { unverified, failed };
}

/**
 * The backup a restore or a drill takes when none is named: the newest (with `before`, the newest
 * started before that time) that is a good copy or not verified yet. Passed over, and listed in
 * `skipped` with why: a backup verify-backup marked failed (too small, shrunk past MAX_SHRINK_PERCENT
 * against the last good copy: often the one that captured the incident, and every later one holding the
 * same damage), one that passed only against such a backup (distrust), and one never verified taken
 * between a failed backup and the baseline its shrink was measured against (the damage happened in
 * that span, so it may hold it), and the newest never verified when the first verified backup below
 * them failed its shrink check (taken from the damaged state before their own verification ran). Other
 * backups never verified (the newest, not verified yet, above a good copy) are taken.
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
  const entries = all.map(({ record: _record, ...entry }) => entry);
  const reads: Reads = new Map();
  const skipped: SkippedBackup[] = [];
  const stamp = (k: string) => k.slice(k.lastIndexOf("/") + 1);
  /** The failed shrink whose span reaches furthest back: its backup and its baseline. */
  let span: { failed: string; baseline: string } | undefined;
  /**
   * The newest backups, never verified yet, held back until the first verified one below them is
   * judged: after a failed shrink with nothing verified since, they were taken from the same damaged
   * state (a restore run between the backup and its verification).
   */
  let pending: BackupEntry[] = [];
  let judged = false;
  for (let i = 0; i < all.length; i++) {
    const e = entries[i];
    if (before && Date.parse(e.startedAt) >= before.getTime()) continue;
    if (e.verified === null) {
      if (!judged) {
        pending.push(e);
        continue;
      }
      if (!span || stamp(e.key) <= stamp(span.baseline)) return { chosen: e, skipped, entries };
      skipped.push({ key: e.key, why: `never verified, and taken between ${span.baseline} and ${span.failed}, which shrank past MAX_SHRINK_PERCENT against it: it may hold the same damage` });
      continue;
    }
    const why = await distrust(s3, bucket, all, i, reads);
    const record = reads.get(i)?.record;
    const shrankPast = !!why && !!record?.checks?.some((c) => c.name === "shrink" && !c.ok);
    if (!judged) {
      judged = true;
      if (pending.length && !shrankPast) return { chosen: pending[0], skipped, entries };
      for (const p of pending) skipped.push({ key: p.key, why: `never verified, and taken after ${e.key}, which shrank past MAX_SHRINK_PERCENT, with no backup verified since: it may hold the same damage` });
      pending = [];
    }
    if (!why) return { chosen: e, skipped, entries };
    skipped.push({ key: e.key, why });
    const base = record?.baselineKey;
    if (base && shrankPast && (!span || stamp(base) < stamp(span.baseline))) span = { failed: e.key, baseline: base };
  }
  // Nothing verified below the newest: they are taken as they are (the first backups of a database).
  if (pending.length) return { chosen: pending[0], skipped, entries };
  return { skipped, entries };
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
