/** Every task the program can schedule or run on demand, by the name used in schedules, the CLI and the container command. */
import { backupTask } from "./backup";
import { dbHealthTask } from "./db-health";
import { healthCheckTask } from "./health-check";
import { listBackupsTask } from "./list-backups";
import { analyzeTask, reindexTask, vacuumTask } from "./maintenance";
import { overdueWatchTask } from "./overdue-watch";
import { purgeTask } from "./purge";
import { redisHealthTask } from "./redis-health";
import { restoreTask } from "./restore";
import { restoreDrillTask } from "./restore-drill";
import type { AnyTask } from "./lib/runtime";
import { verifyBackupTask } from "./verify-backup";

export const tasks: Record<string, AnyTask> = {
  backup: backupTask,
  "verify-backup": verifyBackupTask,
  "restore-drill": restoreDrillTask,
  vacuum: vacuumTask,
  analyze: analyzeTask,
  reindex: reindexTask,
  purge: purgeTask,
  "db-health": dbHealthTask,
  "health-check": healthCheckTask,
  "redis-health": redisHealthTask,
  "overdue-watch": overdueWatchTask,
  // On demand (onDemand: true): run by hand, never scheduled.
  restore: restoreTask,
  "list-backups": listBackupsTask,
};

export type TaskName = keyof typeof tasks;

export function findTask(name: string | undefined): AnyTask {
  if (!name) throw new Error(`task: missing; one of ${Object.keys(tasks).join(", ")}`);
  const t = tasks[name];
  if (!t) throw new Error(`task: unknown task "${name}"; one of ${Object.keys(tasks).join(", ")}`);
  return t;
}
