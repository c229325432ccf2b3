/**
 * Where each database task runs, derived from the promise it keeps: Lambda stops every run at 15
 * minutes (LAMBDA_MAX_TIMEOUT_SECONDS), so a backup expected to run past its duration alarm's
 * threshold (LAMBDA_BACKUP_MAX_SECONDS, 720 s: over 8.4375 GB at 12 MB/s), or a
 * restore drill whose promise (rtoMinutes plus the time its own checks may take) is longer, runs on
 * Fargate. An explicit `runner` may choose Fargate for anything, and Lambda only where Lambda can keep
 * the promise; otherwise the config is refused with the key path and the figure.
 */
import { LAMBDA_MAX_TIMEOUT_SECONDS, NEAR_TIMEOUT_FRACTION } from "./limits";
import type { DatabaseConfig } from "./schema";
import { backupRunSeconds, DUMP_MB_PER_SECOND } from "../tasks/catalogue";

export type Runner = "lambda" | "fargate";

/** Lambda's limit on one run, in minutes (AWS Lambda quotas: function timeout 900 seconds). */
export const LAMBDA_MAX_MINUTES = LAMBDA_MAX_TIMEOUT_SECONDS / 60;

/**
 * The longest backup (or restore) Lambda is given, in seconds: 720, the threshold of the task's own
 * duration alarm (NEAR_TIMEOUT_FRACTION 0.8 of Lambda's 900 s). A backup expected to take longer
 * (tasks/catalogue.ts backupRunSeconds: the size at 12 MB/s) would page that alarm every run and have
 * only the last 20 % of Lambda's limit as margin before it is cut off, so it runs on Fargate.
 */
export const LAMBDA_BACKUP_MAX_SECONDS = LAMBDA_MAX_TIMEOUT_SECONDS * NEAR_TIMEOUT_FRACTION;

/** The largest database backed up on Lambda: 720 s at 12 MB/s = 8,640 MB = 8.4375 GB. */
export const LAMBDA_BACKUP_LIMIT_GB = (LAMBDA_BACKUP_MAX_SECONDS * DUMP_MB_PER_SECOND) / 1024;

/** "expected 845 s (9.9 GB at 12 MB/s) > 720 s, the duration alarm's threshold (80 % of Lambda's 900 s)". */
function lambdaBackupFigure(sizeGb: number): string {
  return `expected ${Math.round(backupRunSeconds(sizeGb))} s (${sizeGb} GB at ${DUMP_MB_PER_SECOND} MB/s) > ${LAMBDA_BACKUP_MAX_SECONDS} s, the duration alarm's threshold (${NEAR_TIMEOUT_FRACTION * 100} % of Lambda's ${LAMBDA_MAX_TIMEOUT_SECONDS} s)`;
}

/** Minutes a drill spends besides restoring and checking: finding the manifest, creating and dropping the scratch database. */
export const DRILL_SETUP_MINUTES = 2;

/** Minutes one drill check may take: the statement_timeout each check query runs under (tasks/restore-drill.ts, 300,000 ms). */
export const DRILL_CHECK_MINUTES = 5;

/**
 * Minutes a restore drill may need while keeping its promise: rtoMinutes (the restore may take that
 * long and still pass) + DRILL_CHECK_MINUTES per check + DRILL_SETUP_MINUTES. 60-minute RTO and 3
 * checks: 77 minutes.
 */
export function drillMinutes(drill: Pick<NonNullable<DatabaseConfig["restoreDrill"]>, "rtoMinutes" | "checks">): number {
  return drill.rtoMinutes + DRILL_CHECK_MINUTES * drill.checks.length + DRILL_SETUP_MINUTES;
}

export interface DatabaseRunners {
  /** backup and verify-backup (verification reads the whole dump, as the backup wrote it). */
  backup: Runner;
  /** restore-drill; undefined without a drill. */
  drill?: Runner;
  /** drillMinutes() of the drill, when there is one. */
  drillMinutes?: number;
}

/**
 * The run time a backup's duration alarm is measured against (ScheduledTask `timeoutSeconds`; the
 * alarm pages past NEAR_TIMEOUT_FRACTION of it), in seconds. Lambda: its 900 s limit (alarm at 720 s).
 * Fargate has no limit: twice the expected run time (backupRunSeconds), at least 900 s, so a run
 * pages only past 1.6 times what it should take (9.9 GB: 845 s expected, reference 1,690 s, alarm at
 * 1,352 s; 500 GB: 11.9 h expected, alarm at 19 h) instead of on every run past 720 s.
 */
export function backupDurationReferenceSeconds(sizeGb: number, runner: Runner): number {
  return runner === "lambda" ? LAMBDA_MAX_TIMEOUT_SECONDS : Math.max(LAMBDA_MAX_TIMEOUT_SECONDS, Math.ceil(2 * backupRunSeconds(sizeGb)));
}

/**
 * Where a backup of `sizeGb` runs and how long it is expected to take, for the promise engine:
 * `expectedSeconds` (backupRunSeconds), `slowestSeconds` the slowest run that pages nobody (its
 * duration alarm's threshold), `limitSeconds` the runner's limit on it (Lambda: 720 s, its duration
 * alarm's threshold; Fargate: none, undefined).
 */
export function backupRunFigure(sizeGb: number, runner: Runner): { runner: Runner; expectedSeconds: number; slowestSeconds: number; limitSeconds?: number } {
  return {
    runner,
    expectedSeconds: backupRunSeconds(sizeGb),
    // The slowest run that pages nobody: its duration alarm's threshold (720 s on Lambda; 1.6 times the expected run on Fargate).
    slowestSeconds: Math.max(backupRunSeconds(sizeGb), NEAR_TIMEOUT_FRACTION * backupDurationReferenceSeconds(sizeGb, runner)),
    ...(runner === "lambda" ? { limitSeconds: LAMBDA_BACKUP_MAX_SECONDS } : {}),
  };
}

const DAY_SECONDS = 86_400;

/**
 * Days after its start S3 may abort an unfinished multipart upload in the backup vault
 * (`AbortIncompleteMultipartUpload.DaysAfterInitiation`), from the slowest backup it holds: the
 * backup dumps into one multipart upload that is open for the whole run, and S3 counts the days from
 * the upload's initiation, rounded up to the next midnight UTC, so it may abort an upload as soon as
 * exactly that many days after it started (S3 API reference, "AbortIncompleteMultipartUpload";
 * S3 user guide, "Lifecycle configuration elements": days are added to the creation time and rounded
 * up to the next midnight UTC). The rounding only delays the abort, so the margin is whole days: the
 * fewest days longer than the slowest run that pages nobody (`backupRunFigure` slowestSeconds), at
 * least 1. 720 s on Lambda: 1; 900 GB on Fargate (34.1 h): 2; 1500 GB (56.9 h): 3. The vault is
 * shared: its one rule follows the slowest of `databases`, whose runners databaseRunners picks (its
 * errors, for a database without `network` on Fargate, are thrown as there); none gives 1.
 */
export function vaultAbortIncompleteUploadDays(databases: (Parameters<typeof databaseRunners>[0] & { id: string })[]): number {
  return Math.max(1, ...databases.map((db) => abortDaysAfter(backupRunFigure(db.sizeGb, databaseRunners(db, `databases[${db.id}]`).backup).slowestSeconds)));
}

/** The fewest whole days longer than `seconds`: an upload open that long is not yet abortable. */
export function abortDaysAfter(seconds: number): number {
  return Math.floor(seconds / DAY_SECONDS) + 1;
}

/**
 * The runner of each heavy task of a database, from its promise. `at` is the database's key path
 * (`databases[0]`). Throws a one-line Error naming the key and the figure when an explicit runner
 * picks Lambda for a promise Lambda cannot keep, or when a task must run on Fargate and the
 * database has no `network` (Fargate tasks need subnets and security groups).
 */
export function databaseRunners(
  db: Pick<DatabaseConfig, "sizeGb" | "network"> & { backup: Pick<DatabaseConfig["backup"], "runner">; restoreDrill?: Pick<NonNullable<DatabaseConfig["restoreDrill"]>, "rtoMinutes" | "checks" | "runner"> },
  at: string,
): DatabaseRunners {
  const bigBackup = backupRunSeconds(db.sizeGb) > LAMBDA_BACKUP_MAX_SECONDS;
  if (db.backup.runner === "lambda" && bigBackup) {
    throw new Error(`${at}.backup.runner: lambda cannot dump ${db.sizeGb} GB (sizeGb) in time: ${lambdaBackupFigure(db.sizeGb)}; use fargate or leave it unset`);
  }
  const backup: Runner = db.backup.runner ?? (bigBackup ? "fargate" : "lambda");
  const out: DatabaseRunners = { backup };
  if (db.restoreDrill) {
    const minutes = drillMinutes(db.restoreDrill);
    const figure = `rtoMinutes ${db.restoreDrill.rtoMinutes} + ${db.restoreDrill.checks.length} checks x ${DRILL_CHECK_MINUTES} min + ${DRILL_SETUP_MINUTES} min = ${minutes} min`;
    const tooLong = minutes > LAMBDA_MAX_MINUTES;
    if (db.restoreDrill.runner === "lambda" && (tooLong || bigBackup)) {
      throw new Error(
        tooLong
          ? `${at}.restoreDrill.runner: lambda stops a run at ${LAMBDA_MAX_MINUTES} minutes and the drill may need ${figure}; use fargate or leave it unset`
          : `${at}.restoreDrill.runner: lambda cannot restore ${db.sizeGb} GB (sizeGb) in time: ${lambdaBackupFigure(db.sizeGb)}; use fargate or leave it unset`,
      );
    }
    out.drill = db.restoreDrill.runner ?? (tooLong || bigBackup || backup === "fargate" ? "fargate" : "lambda");
    out.drillMinutes = minutes;
    if (out.drill === "fargate" && !db.network) {
      throw new Error(
        `${at}.network: the restore drill runs on Fargate (${db.restoreDrill.runner ? "restoreDrill.runner: fargate" : tooLong ? `${figure}, over Lambda's ${LAMBDA_MAX_MINUTES}` : `sizeGb ${db.sizeGb}`}) and Fargate tasks need subnets and security groups; set network`,
      );
    }
  }
  if (backup === "fargate" && !db.network) {
    throw new Error(
      `${at}.network: backups run on Fargate (${db.backup.runner ? "backup.runner: fargate" : `sizeGb ${db.sizeGb}: ${lambdaBackupFigure(db.sizeGb)}`}) and Fargate tasks need subnets and security groups; set network`,
    );
  }
  return out;
}
