/**
 * What the bucket holds: the databases with backups, and each database's backups (their manifests)
 * newest first, with the outcome of the verify-backup runs recorded beside them. Read by the
 * on-demand tasks list-backups and restore; the key layout is tiers.ts's, the manifest s3.ts's.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { mapLimit } from "./map-limit";
import { listManifests, readManifest, type Manifest } from "./s3";
import { normalisePrefix, TIERS } from "./tiers";
import { verificationOf, type Verification } from "./verification";

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
async function listAll(s3: S3Client, bucket: string, prefix: string, delimiter?: string): Promise<{ keys: string[]; prefixes: string[] }> {
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
  const manifestKeys = await listManifests(s3, bucket, prefix, databaseId);
  // The verification records sit beside the dumps: one more listing per tier, no extra reads.
  const siblings: string[] = [];
  for (const tier of TIERS) siblings.push(...(await listAll(s3, bucket, `${normalisePrefix(prefix)}${tier}/${databaseId}/`)).keys);
  return mapLimit(manifestKeys, 8, async (k) => {
    const m = await readManifest(s3, bucket, k);
    return { database: m.database, tier: m.tier, key: m.key, startedAt: m.startedAt, sizeBytes: m.sizeBytes, sha256: m.sha256, verified: verificationOf(m.key, siblings) };
  });
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
