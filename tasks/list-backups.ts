/**
 * list-backups (on demand): the backups in the bucket, newest first, as one JSON line on stdout
 * `{"backups":[{database, tier, key, startedAt, sizeBytes, sha256, verified}...]}` and a table on
 * stderr. Without --database it lists every database with a folder in any tier; in AWS, where a
 * task's role may list its own database's prefixes only, pass --database.
 *
 *   npm run task -- list-backups [--database <id>]
 *
 * `verified` is true / false / null as tasks/lib/verification.ts defines it. `drilled`: the newest
 * passing restore drill that restored that backup ({ drillStartedAt, restoreSeconds, rtoMinutes },
 * from the drill records, lib/drill-record.ts), null when no passing drill restored it; absent when
 * the database's drill records could not be read (warned on stderr). `failedDrill`: present when the
 * newest drill of that backup failed ({ drillStartedAt, error }, its first error line); the table's
 * DRILL column then reads `failed <time>: <error>`, before the passing drill if one restored it
 * earlier. A database no drill has passed for is named on stderr: `no restore drill has passed for <db>`.
 */
import { z } from "zod";
import { storageSettings } from "./lib/backup-common";
import { backupsOf, databasesWithBackups, noSuchDatabase, type BackupEntry } from "./lib/backup-listing";
import { drillError, drillRecords, restoreTime, type DrillRecord } from "./lib/drill-record";
import { defineTask, oneLine, optionsToEnv, TaskError } from "./lib/runtime";
import { s3Client } from "./lib/s3";

const settings = z
  .looseObject({
    BACKUP_BUCKET: storageSettings.BACKUP_BUCKET,
    BACKUP_PREFIX: storageSettings.BACKUP_PREFIX,
    LIST_DATABASE: z.string().min(1, "must name a database id").optional(),
  })
  .transform((s) => ({ ...s, env: Object.fromEntries(Object.entries(s).filter(([, v]) => typeof v === "string")) as Record<string, string | undefined> }));

/** A backup as listed: its entry, the newest passing drill that restored it, and its newest drill when that one failed. */
export type ListedBackup = BackupEntry & {
  drilled?: Pick<DrillRecord, "drillStartedAt" | "restoreSeconds" | "rtoMinutes"> | null;
  failedDrill?: { drillStartedAt: string; error: string };
};

export interface ListBackupsResult {
  backups: ListedBackup[];
}

/** Bytes in the units a person reads (1024-based). */
function size(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** The table list-backups prints on stderr: one row per backup, newest first. */
export function backupTable(backups: ListedBackup[]): string {
  if (backups.length === 0) return "no backups";
  const time = (t: string) => t.replace("T", " ").replace(/\.\d+Z$/, "Z");
  const passed = (b: ListedBackup) => (b.drilled === undefined ? "?" : b.drilled === null ? "-" : `${time(b.drilled.drillStartedAt)} (${restoreTime(b.drilled)})`);
  const drilled = (b: ListedBackup) => (b.failedDrill ? `failed ${time(b.failedDrill.drillStartedAt)}: ${b.failedDrill.error}${b.drilled ? `; passed ${passed(b)}` : ""}` : passed(b));
  const rows = [
    ["DATABASE", "TIER", "TAKEN (UTC)", "SIZE", "VERIFIED", "DRILL (UTC)", "KEY"],
    ...backups.map((b) => [b.database, b.tier, time(b.startedAt), size(b.sizeBytes), b.verified === null ? "-" : b.verified ? "yes" : "FAILED", drilled(b), b.key]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ")).join("\n");
}

export const listBackupsTask = defineTask({
  name: "list-backups",
  description: "list the backups in the bucket (newest first, with size, SHA-256, verification, the passing restore drill that restored each, and its newest drill when that failed); --database <id> for one",
  settings,
  async run(s): Promise<ListBackupsResult> {
    const s3 = s3Client(s.env);
    const ids = s.LIST_DATABASE ? [s.LIST_DATABASE] : await databasesWithBackups(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX);
    const backups: ListedBackup[] = [];
    const notes: string[] = [];
    for (const id of ids) {
      const entries = await backupsOf(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, id);
      let drills: DrillRecord[] | undefined;
      try {
        drills = await drillRecords(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, id);
        if (entries.length && !drills.some((r) => r.outcome === "passed")) notes.push(`no restore drill has passed for ${id}`);
      } catch (err) {
        notes.push(`drill records of ${id} not read: ${oneLine(err)}`);
      }
      for (const e of entries) {
        // Newest drill first: the first passing one that restored this backup, and the newest of it when that failed.
        const d = drills?.find((r) => r.backupKey === e.key && r.outcome === "passed");
        const newest = drills?.find((r) => r.backupKey === e.key);
        backups.push({
          ...e,
          ...(drills ? { drilled: d ? { drillStartedAt: d.drillStartedAt, restoreSeconds: d.restoreSeconds, rtoMinutes: d.rtoMinutes } : null } : {}),
          ...(newest?.outcome === "failed" ? { failedDrill: { drillStartedAt: newest.drillStartedAt, error: drillError(newest) } } : {}),
        });
      }
    }
    if (s.LIST_DATABASE && backups.length === 0) throw new TaskError(await noSuchDatabase(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, s.LIST_DATABASE));
    // Newest first across databases; ties (same instant) by database.
    backups.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || a.database.localeCompare(b.database));
    process.stderr.write(backupTable(backups) + "\n" + notes.map((n) => `${n}\n`).join(""));
    return { backups };
  },
  /** `--database <id>`; the other options set settings as for every task (`--backup-bucket`, `--aws-endpoint-url-s3`). */
  cli(options) {
    const { database, ...rest } = options;
    const db = database?.[database.length - 1];
    if (db === "true") throw new TaskError("--database: missing its value, the id of a database");
    return { ...optionsToEnv(rest), ...(db ? { LIST_DATABASE: db } : {}) };
  },
});
