/**
 * Drill records: what each restore drill proved, kept in the backup vault beside the backups, so the
 * bad-day `restore` and `list-backups` can say which backup a drill actually restored, when, and how
 * long it took against the RTO.
 *
 * One object per drill of one database, `<BACKUP_PREFIX>drills/<database>/<drill start>.<outcome>.json`
 * (the start as keyTimestamp writes it, `passed` or `failed`: keys sort by time, and the passing
 * ones are known from the listing without reading them). Written once with `If-None-Match: *`, as
 * backups and run markers are: the vault's write-once bucket policy covers `drills/` as it covers the
 * tier roots (components/backup-vault.ts writeOnceRoots), and its lifecycle rule `drills-<database>`
 * expires them after the database's longest tier retention (drillRecordRule).
 */
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { listAll } from "./backup-listing";
import { mapLimit } from "./map-limit";
import { putJsonOnce, writeOnceRefusal } from "./s3";
import { keyTimestamp, normalisePrefix } from "./tiers";

/** The folder of the drill records, under the vault's base prefix: `drills/<database>/`. */
export const DRILLS_FOLDER = "drills/";

/** `<base>drills/<databaseId>/`: where the drills of one database record their outcome. */
export function drillPrefix(databaseId: string, base?: string): string {
  return `${normalisePrefix(base)}${DRILLS_FOLDER}${databaseId}/`;
}

/** Where the drill ran: `lambda` (AWS_LAMBDA_FUNCTION_NAME set), `fargate` (ECS_CONTAINER_METADATA_URI_V4 set), else `local`. */
export type DrillRunner = "lambda" | "fargate" | "local";

export function drillRunner(env: Record<string, string | undefined>): DrillRunner {
  return env.AWS_LAMBDA_FUNCTION_NAME ? "lambda" : env.ECS_CONTAINER_METADATA_URI_V4 ? "fargate" : "local";
}

/** One drill of one database, as stored (JSON). Times are ISO 8601 UTC. */
export interface DrillRecord {
  database: string;
  outcome: "passed" | "failed";
  /** The backup's dump key, as list-backups shows it. */
  backupKey: string;
  /** When the backup was taken (its manifest's startedAt). */
  backupStartedAt: string;
  drillStartedAt: string;
  /** Seconds the restore took (absent when the drill failed before it finished). */
  restoreSeconds?: number;
  rtoMinutes: number;
  checks: { name: string; ok: boolean; detail: string }[];
  runner: DrillRunner;
  /** A failed drill's first error, one line. */
  error?: string;
}

/** The record's key: `<base>drills/<database>/<yyyymmddThhmmssmmmZ>.<passed|failed>.json`. */
export function drillRecordKey(record: Pick<DrillRecord, "database" | "outcome" | "drillStartedAt">, base?: string): string {
  return `${drillPrefix(record.database, base)}${keyTimestamp(new Date(record.drillStartedAt))}.${record.outcome}.json`;
}

/**
 * Writes the record once (`If-None-Match: *`); returns its key. Throws one line naming the key when S3
 * refuses or fails (412: a record of that drill start already exists and is not replaced).
 */
export async function writeDrillRecord(s3: S3Client, bucket: string, base: string | undefined, record: DrillRecord): Promise<string> {
  const key = drillRecordKey(record, base);
  try {
    await putJsonOnce(s3, bucket, key, record);
  } catch (err) {
    const exists = writeOnceRefusal(err) === "exists";
    throw new Error(`drill record s3://${bucket}/${key} not written: ${exists ? "a record of that key already exists (drill records are written once)" : err instanceof Error ? err.message : String(err)}`);
  }
  return key;
}

const RECORD = /\/\d{8}T\d{9}Z\.(passed|failed)\.json$/;

/** How many failing records `drillRecords` reads, newest first: enough to find the newest failure on any recent backup. */
export const FAILED_RECORDS_READ = 20;

/**
 * The drill records of a database, newest drill first: every passing one (drills run quarterly, and
 * the records expire) and the newest `FAILED_RECORDS_READ` failing ones (a drill retried by hand may
 * fail many times). The outcome is read from the key, so only these are fetched.
 */
export async function drillRecords(s3: S3Client, bucket: string, base: string | undefined, databaseId: string): Promise<(DrillRecord & { key: string })[]> {
  const all = (await listAll(s3, bucket, drillPrefix(databaseId, base))).keys.filter((k) => RECORD.test(k)).sort().reverse();
  const failed = new Set(all.filter((k) => k.endsWith(".failed.json")).slice(0, FAILED_RECORDS_READ));
  const keys = all.filter((k) => k.endsWith(".passed.json") || failed.has(k));
  return mapLimit(keys, 8, async (key) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { ...(JSON.parse(await out.Body!.transformToString()) as DrillRecord), key };
  });
}

/** A failed drill's first error line, or its first failing check when the record has no error. */
export function drillError(r: Pick<DrillRecord, "error" | "checks">): string {
  const check = r.checks.find((c) => !c.ok);
  return (r.error ?? (check ? `check "${check.name}": ${check.detail}` : "no error recorded")).split("\n")[0];
}

/**
 * What a passing drill proved short of a full drill, for the line that names it: ` (no integrity
 * checks ran; run by hand)`, either part alone, or `` for a drill with checks run by lambda or fargate.
 */
export function drillProof(r: Pick<DrillRecord, "checks" | "runner">): string {
  const parts = proofGaps(r);
  return parts.length ? ` (${parts.join("; ")})` : "";
}

function proofGaps(r: Pick<DrillRecord, "checks" | "runner">): string[] {
  return [...(r.checks.length === 0 ? ["no integrity checks ran"] : []), ...(r.runner === "local" ? ["run by hand"] : [])];
}

/** `14.0 min of the 60 min RTO`. */
export function restoreTime(r: Pick<DrillRecord, "restoreSeconds" | "rtoMinutes">): string {
  return `${((r.restoreSeconds ?? 0) / 60).toFixed(1)} min of the ${r.rtoMinutes} min RTO`;
}

/** How a backup about to be restored stands against the last passing drill and any later failed one. */
export interface DrillStanding {
  /** The newest passing drill, or undefined when none passed (or its records expired). */
  lastPassed?: DrillRecord & { key: string };
  /** `drill-restored`: that drill (or an earlier passing one) restored this very backup; `newer`/`older`: than the backup that drill restored; `none`: no drill has passed. */
  chosen: "drill-restored" | "newer" | "older" | "none";
  /** The failed drill named after the last passing one (or after none): the newest failed drill of the chosen backup newer than the last pass, else the newest drill when it failed. */
  laterFailure?: DrillRecord & { key: string };
  /** One line for the operator. */
  line: string;
}

/**
 * Compares the backup about to be restored (`key`, `startedAt`) with the drill records, newest first
 * (passing and failed): `the last restore drill of app passed 2026-11-03T04:00:00.000Z on
 * daily/app/...dump (taken ...), restored in 14.0 min of the 60 min RTO; the backup chosen,
 * daily/app/...dump, is newer and was not drill-restored`, or `no restore drill has passed for app; ...`.
 * A passing drill that checked nothing or ran by hand says so (drillProof). A failed drill newer than
 * the last pass is named after it: `; a later drill on <start> of this backup failed: <error>` when it
 * drilled the chosen backup, else `; the last drill, on <start>, failed, of <backup key>: <error>`.
 */
export function drillStanding(database: string, drills: (DrillRecord & { key: string })[], backup: { key: string; startedAt: string }): DrillStanding {
  const passed = drills.filter((d) => d.outcome === "passed");
  const last = passed[0];
  const after = drills.filter((d) => d.outcome === "failed" && (!last || d.key > last.key));
  const laterFailure = after.find((d) => d.backupKey === backup.key) ?? (drills[0]?.outcome === "failed" ? drills[0] : undefined);
  const failure = !laterFailure
    ? ""
    : laterFailure.backupKey === backup.key
      ? `; a later drill on ${laterFailure.drillStartedAt} of this backup failed: ${drillError(laterFailure)}`
      : `; the last drill, on ${laterFailure.drillStartedAt}, failed, of ${laterFailure.backupKey}: ${drillError(laterFailure)}`;
  const withFailure = (s: DrillStanding): DrillStanding => ({ ...s, ...(laterFailure ? { laterFailure } : {}), line: `${s.line}${failure}` });
  if (!last) return withFailure({ chosen: "none", line: `no restore drill has passed for ${database}; the backup chosen, ${backup.key}, was never drill-restored` });
  const head = `the last ${laterFailure ? "passing " : ""}restore drill of ${database} passed ${last.drillStartedAt} on ${last.backupKey} (taken ${last.backupStartedAt}), restored in ${restoreTime(last)}${drillProof(last)}`;
  const same = passed.find((d) => d.backupKey === backup.key);
  if (same === last) return withFailure({ lastPassed: last, chosen: "drill-restored", line: `${head}; the backup chosen is that one` });
  if (same) return withFailure({ lastPassed: last, chosen: "drill-restored", line: `${head}; the backup chosen, ${backup.key}, was drill-restored earlier (${same.drillStartedAt}, ${restoreTime(same)}${proofGaps(same).map((g) => `; ${g}`).join("")})` });
  const newer = Date.parse(backup.startedAt) > Date.parse(last.backupStartedAt);
  return withFailure({
    lastPassed: last,
    chosen: newer ? "newer" : "older",
    line: `${head}; the backup chosen, ${backup.key} (taken ${backup.startedAt}), is ${newer ? "newer" : "older"} and was not drill-restored`,
  });
}
