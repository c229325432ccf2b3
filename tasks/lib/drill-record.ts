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
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { listAll } from "./backup-listing";
import { mapLimit } from "./map-limit";
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
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(record), ContentType: "application/json", IfNoneMatch: "*" }));
  } catch (err) {
    const exists = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412;
    throw new Error(`drill record s3://${bucket}/${key} not written: ${exists ? "a record of that key already exists (drill records are written once)" : err instanceof Error ? err.message : String(err)}`);
  }
  return key;
}

const PASSED = /\/\d{8}T\d{9}Z\.passed\.json$/;

/** Every passing drill record of a database, newest drill first (all of them: drills run quarterly, and the records expire). */
export async function passedDrills(s3: S3Client, bucket: string, base: string | undefined, databaseId: string): Promise<(DrillRecord & { key: string })[]> {
  const keys = (await listAll(s3, bucket, drillPrefix(databaseId, base))).keys.filter((k) => PASSED.test(k)).sort().reverse();
  return mapLimit(keys, 8, async (key) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { ...(JSON.parse(await out.Body!.transformToString()) as DrillRecord), key };
  });
}

/** `14.0 min of the 60 min RTO`. */
export function restoreTime(r: Pick<DrillRecord, "restoreSeconds" | "rtoMinutes">): string {
  return `${((r.restoreSeconds ?? 0) / 60).toFixed(1)} min of the ${r.rtoMinutes} min RTO`;
}

/** How a backup about to be restored stands against the last passing drill. */
export interface DrillStanding {
  /** The newest passing drill, or undefined when none passed (or its records expired). */
  lastPassed?: DrillRecord & { key: string };
  /** `drill-restored`: that drill (or an earlier passing one) restored this very backup; `newer`/`older`: than the backup that drill restored; `none`: no drill has passed. */
  chosen: "drill-restored" | "newer" | "older" | "none";
  /** One line for the operator. */
  line: string;
}

/**
 * Compares the backup about to be restored (`key`, `startedAt`) with the passing drills, newest
 * first: `the last restore drill passed 2026-11-03T04:00:00.000Z on daily/app/...dump (taken ...),
 * restored in 14.0 min of the 60 min RTO; the backup chosen, daily/app/...dump, is newer: verified
 * at most, not drill-restored`, or `no restore drill has passed for app`.
 */
export function drillStanding(database: string, drills: (DrillRecord & { key: string })[], backup: { key: string; startedAt: string }): DrillStanding {
  const last = drills[0];
  if (!last) return { chosen: "none", line: `no restore drill has passed for ${database}; the backup chosen, ${backup.key}, was never drill-restored` };
  const head = `the last restore drill of ${database} passed ${last.drillStartedAt} on ${last.backupKey} (taken ${last.backupStartedAt}), restored in ${restoreTime(last)}`;
  const same = drills.find((d) => d.backupKey === backup.key);
  if (same === last) return { lastPassed: last, chosen: "drill-restored", line: `${head}; the backup chosen is that one` };
  if (same) return { lastPassed: last, chosen: "drill-restored", line: `${head}; the backup chosen, ${backup.key}, was drill-restored earlier (${same.drillStartedAt}, ${restoreTime(same)})` };
  const newer = Date.parse(backup.startedAt) > Date.parse(last.backupStartedAt);
  return {
    lastPassed: last,
    chosen: newer ? "newer" : "older",
    line: `${head}; the backup chosen, ${backup.key} (taken ${backup.startedAt}), is ${newer ? "newer" : "older"} and was not drill-restored`,
  };
}
