/**
 * Every task the program can schedule or run on demand, by the name used in schedules, the CLI and the
 * container command: one definition per entry of the task catalogue (tasks/catalogue.ts), no more, no fewer.
 */
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
import { TASK_NAMES, type TaskName } from "./catalogue";
import type { AnyTask } from "./lib/runtime";
import { verifyBackupTask } from "./verify-backup";

const definitions = {
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
  restore: restoreTask,
  "list-backups": listBackupsTask,
} satisfies Record<TaskName, AnyTask>;

/** Each task's definition by catalogue name, with its own settings schema (components/task-settings.ts types a task's environment from it). */
export type TaskDefinitions = typeof definitions;

/** Task definitions by name, in catalogue order. */
export const tasks: Readonly<Record<string, AnyTask>> = Object.fromEntries(TASK_NAMES.map((n) => [n, definitions[n]]));

export type { TaskName } from "./catalogue";

export function findTask(name: string | undefined): AnyTask {
  if (!name) throw new Error(`task: missing; one of ${Object.keys(tasks).join(", ")}`);
  const t = tasks[name];
  if (!t) throw new Error(`task: unknown task "${name}"; one of ${Object.keys(tasks).join(", ")}`);
  return t;
}
