/**
 * Verification records: each verify-backup run leaves a small object in the folder of the backup it
 * checked, `<tier>/<database>/verified/<backup timestamp>.<run timestamp>-<ok|failed>.json`, holding
 * its checks. The outcome is in the key, so list-backups reads it from the listing alone; the record
 * lives under the backup's own tier prefix, so the tier's lifecycle rule expires it with the backup,
 * and the bucket's write-once rule for that prefix applies to it. The verify task may write under
 * `verified/` only (components/database.ts): it can record an outcome, never plant a backup.
 */
import { keyTimestamp } from "./tiers";

/**
 * What list-backups reports as `verified`: true when the newest verify-backup run that checked this
 * backup passed every check of the archive (size and shrink, SHA-256 against the manifest, pg_restore
 * reading the whole archive; its age within the RPO is recorded but judges no copy), false when it
 * failed one, null when no run checked it (verify-backup checks the newest
 * backup at each run, so a backup superseded before the next verification stays null).
 */
export type Verification = boolean | null;

export const VERIFIED_FOLDER = "verified/";

/**
 * A verification record's body. `baselineKey`: the backup the size was compared with (the newest good
 * copy before it, lib/backup-listing.ts shrinkBaseline), null when none was (no MAX_SHRINK_PERCENT, or
 * no earlier backup); records written before it was recorded lack it. `shrinkAccepted`: the shrink was
 * accepted by ACCEPT_SHRINK naming this backup.
 */
export interface VerificationRecord {
  key: string;
  ok: boolean;
  verifiedAt: string;
  checks: { name: string; ok: boolean; detail: string }[];
  baselineKey?: string | null;
  shrinkAccepted?: boolean;
}

/** `daily/app/20251010T020000123Z.dump` -> { folder: `daily/app/`, stamp: `20251010T020000123Z` }. */
function split(dumpKey: string): { folder: string; stamp: string } {
  const slash = dumpKey.lastIndexOf("/") + 1;
  return { folder: dumpKey.slice(0, slash), stamp: dumpKey.slice(slash).replace(/\.dump$/, "") };
}

/** The record key of a verification of `dumpKey` finished at `at`. */
export function verificationKey(dumpKey: string, at: Date, ok: boolean): string {
  const { folder, stamp } = split(dumpKey);
  return `${folder}${VERIFIED_FOLDER}${stamp}.${keyTimestamp(at)}-${ok ? "ok" : "failed"}.json`;
}

/** The newest verification record of `dumpKey` among `keys` (a listing of its folder): its key and outcome. */
export function newestVerification(dumpKey: string, keys: string[]): { key: string; ok: boolean } | undefined {
  const { folder, stamp } = split(dumpKey);
  const base = `${folder}${VERIFIED_FOLDER}${stamp}.`;
  let newest: { at: string; ok: boolean; key: string } | undefined;
  for (const k of keys) {
    if (!k.startsWith(base)) continue;
    const m = /^(\d{8}T\d{9}Z)-(ok|failed)\.json$/.exec(k.slice(base.length));
    if (m && (!newest || m[1] > newest.at)) newest = { at: m[1], ok: m[2] === "ok", key: k };
  }
  return newest && { key: newest.key, ok: newest.ok };
}

/**
 * Whether a verification's checks pass the archive itself: every check but `age`. The age of the newest
 * backup says that no newer one was stored (the RPO alarm's and this run's failure), nothing about this
 * copy: after backups stop, the last good copy is the one a restore needs, so its record must not mark it failed.
 */
export function archiveVerified(checks: { name: string; ok: boolean }[]): boolean {
  return checks.every((c) => c.ok || c.name === "age");
}
