/**
 * Verification records: each verify-backup run leaves a small object beside the dump it checked,
 * `<tier>/<database>/<timestamp>.verify-<run timestamp>-<ok|failed>.json`, holding its checks. The
 * outcome is in the key, so list-backups reads it from the listing alone; the record lives under the
 * backup's own tier prefix, so the tier's lifecycle rule expires it with the backup. Written once
 * (`If-None-Match: *`), like every object of the vault.
 */
import { keyTimestamp } from "./tiers";

/**
 * What list-backups reports as `verified`: true when the newest verify-backup run that checked this
 * backup passed every check (age, size, SHA-256 against the manifest, pg_restore --list), false when
 * it failed one, null when no run checked it (verify-backup checks the newest backup of each run, so
 * a backup superseded before the next verification stays null).
 */
export type Verification = boolean | null;

const RECORD = /\.verify-(\d{8}T\d{9}Z)-(ok|failed)\.json$/;

/** The record key of a verification of `dumpKey` at `at`. */
export function verificationKey(dumpKey: string, at: Date, ok: boolean): string {
  return `${dumpKey.replace(/\.dump$/, "")}.verify-${keyTimestamp(at)}-${ok ? "ok" : "failed"}.json`;
}

/** The outcome of the newest verification of `dumpKey` among `keys` (a listing of its folder). */
export function verificationOf(dumpKey: string, keys: string[]): Verification {
  const base = `${dumpKey.replace(/\.dump$/, "")}.verify-`;
  let newest: { at: string; ok: boolean } | undefined;
  for (const k of keys) {
    if (!k.startsWith(base)) continue;
    const m = RECORD.exec(k);
    if (m && (!newest || m[1] > newest.at)) newest = { at: m[1], ok: m[2] === "ok" };
  }
  return newest ? newest.ok : null;
}
