/**
 * Where each database task runs, derived from the promise it keeps: Lambda stops every run at 15
 * minutes (LAMBDA_MAX_TIMEOUT_SECONDS), so a backup of a database too big to dump in that time, or a
 * restore drill whose promise (rtoMinutes plus the time its own checks may take) is longer, runs on
 * Fargate. An explicit `runner` may choose Fargate for anything, and Lambda only where Lambda can keep
 * the promise; otherwise the config is refused with the key path and the figure.
 */
import { LAMBDA_MAX_TIMEOUT_SECONDS } from "./limits";
import type { DatabaseConfig } from "./schema";

export type Runner = "lambda" | "fargate";

/** Lambda's limit on one run, in minutes (AWS Lambda quotas: function timeout 900 seconds). */
export const LAMBDA_MAX_MINUTES = LAMBDA_MAX_TIMEOUT_SECONDS / 60;

/** Above this size a backup or restore cannot finish inside Lambda's 15 minutes (about 12 MB/s). */
export const LAMBDA_BACKUP_LIMIT_GB = 10;

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
 * The runner of each heavy task of a database, from its promise. `at` is the database's key path
 * (`databases[0]`). Throws a one-line Error naming the key and the figure when an explicit runner
 * picks Lambda for a promise Lambda cannot keep, or when a task must run on Fargate and the
 * database has no `network` (Fargate tasks need subnets and security groups).
 */
export function databaseRunners(db: DatabaseConfig, at: string): DatabaseRunners {
  const bigBackup = db.sizeGb > LAMBDA_BACKUP_LIMIT_GB;
  if (db.backup.runner === "lambda" && bigBackup) {
    throw new Error(
      `${at}.backup.runner: lambda cannot dump ${db.sizeGb} GB (sizeGb) within its ${LAMBDA_MAX_MINUTES} minutes (about ${LAMBDA_BACKUP_LIMIT_GB} GB at 12 MB/s); use fargate or leave it unset`,
    );
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
          : `${at}.restoreDrill.runner: lambda cannot restore ${db.sizeGb} GB (sizeGb) within its ${LAMBDA_MAX_MINUTES} minutes (about ${LAMBDA_BACKUP_LIMIT_GB} GB at 12 MB/s); use fargate or leave it unset`,
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
      `${at}.network: backups run on Fargate (${db.backup.runner ? "backup.runner: fargate" : `sizeGb ${db.sizeGb} > ${LAMBDA_BACKUP_LIMIT_GB}`}) and Fargate tasks need subnets and security groups; set network`,
    );
  }
  return out;
}
