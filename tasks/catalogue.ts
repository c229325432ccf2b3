/**
 * Every task the program can schedule, one entry each: what the registry (tasks/registry.ts), the
 * bundler (build/bundle.ts), the components (components/regime.ts, database.ts, promises.ts, and
 * scheduled-task.ts, which records each schedule's kind for the calendar) and the cost estimate
 * (plan/cost.ts) know about it. Plain data, no Pulumi and no task code, so the bundler and the plan
 * read it without loading a task.
 *
 * The other lists are typed from this one (`TaskName`, `ZipTaskName`, `DbTaskName`, mapped types and
 * exhaustive records): an entry without its task in the registry, its config section, its archive or
 * its calendar colour does not compile; `module`, which the bundler imports by name, is checked against
 * the registry by tests/task-catalogue.test.ts. The order of the entries is the order of `npm run task`
 * usage, of the zip bundles (and of the `bundleSha256` output) and of a database's tasks.
 */
import type { DatabaseConfig } from "../regime/schema";

/**
 * Assumed run time of one run, for the cost estimate (plan/cost.ts, "task duration" assumption):
 * - `seconds`: a fixed time;
 * - `dumpMbPerSecond`: the whole database streamed at this rate, its size the config's `sizeGb` of the
 *   databases in the task's DATABASES setting (1 GB when none), at least `minSeconds`;
 * - `timeBudget`: the task's TIME_BUDGET_SECONDS setting (`defaultSeconds` when unset).
 * Tasks that share one model object share one phrase of the assumption line.
 */
export type RunTime = { seconds: number } | { dumpMbPerSecond: number; minSeconds: number } | { timeBudget: true; defaultSeconds: number };

/** Backup and restore read or write the whole database. */
const DUMP_RUN_TIME = { dumpMbPerSecond: 12, minSeconds: 30 } as const satisfies RunTime;
/** Vacuum, analyze and reindex stop at their time budget. */
const TIME_BUDGET_RUN_TIME: RunTime = { timeBudget: true, defaultSeconds: 600 };

/**
 * Seconds one run is assumed to take under `r`: a fixed time; the database size (`sizeGb`, the
 * task's ESTIMATED_SIZE_GB, 1 GB when unset) streamed at `dumpMbPerSecond` MB/s, at least
 * `minSeconds`; or the time budget (`timeBudgetSeconds`, TIME_BUDGET_SECONDS, `defaultSeconds` when
 * unset). Read by the cost estimate (plan/cost.ts) and, through `backupRunSeconds`, by the runner
 * choice (regime/runners.ts) and the promise engine, so all three assume the same run time.
 */
export function runTimeSeconds(r: RunTime, opts: { sizeGb?: number; timeBudgetSeconds?: number } = {}): number {
  if ("seconds" in r) return r.seconds;
  if ("dumpMbPerSecond" in r) return Math.max(r.minSeconds, ((opts.sizeGb ?? 1) * 1024) / r.dumpMbPerSecond);
  return opts.timeBudgetSeconds ?? r.defaultSeconds;
}

/** MB/s a backup (and a restore) streams the database at, by the catalogue's assumption: 12. */
export const DUMP_MB_PER_SECOND = DUMP_RUN_TIME.dumpMbPerSecond;

/**
 * Seconds one backup of a `sizeGb` database is assumed to take (the backup task's catalogue run
 * time): 500 GB at 12 MB/s is 42,667 s (11.9 h), 9.9 GB 845 s, at least 30 s.
 */
export function backupRunSeconds(sizeGb: number): number {
  return runTimeSeconds(DUMP_RUN_TIME, { sizeGb });
}

/** The config section of a per-database task: `databases[<id>].<section>`, which holds its `schedule` and `severity`. */
export type DatabaseSection = { [K in keyof DatabaseConfig]-?: NonNullable<DatabaseConfig[K]> extends { schedule: unknown; severity: unknown } ? K : never }[keyof DatabaseConfig];

/** Kinds of job the calendar picture tells apart by colour (plan/calendar-svg.ts). */
export type TaskKind = "backup" | "verify" | "drill" | "vacuum" | "analyze" | "reindex" | "purge" | "health" | "watch";

/**
 * How a task reaches AWS:
 * - "zip": a deterministic Lambda zip bundle of its handler (build/bundle.ts); `runMarker`: the
 *   handler records successful runs for the overdue watcher (tasks/lib/run-marker.ts, which brings the
 *   S3 client), for tasks whose schedule may be sparser than a metric alarm can watch;
 * - "image": the container image with the PostgreSQL client binaries (image/Dockerfile), on Lambda or
 *   Fargate; its entry records successful runs for every task in it.
 */
export type Packaging = { packaging: "zip"; runMarker: boolean } | { packaging: "image" };

export type TaskEntry = Packaging & {
  /** The module under tasks/ (without .ts) that exports the task's definition, and the export's name. */
  module: { file: string; exportName: string };
  /** Per-database tasks: the config section that schedules it (one instance per database that has the section). */
  database?: { section: DatabaseSection };
  /** How the program schedules it; absent for a task only run by hand (`npm run task`, the container command). */
  scheduled?: {
    /** Its kind in the calendar picture: ScheduledTask records it with the task's schedule (components/plan-record.ts). */
    kind: TaskKind;
    /**
     * The last part of its function's and schedule's name when it is not the task name: the endpoint
     * checks are `<regime>-health-task` (components/health-checks.ts names its ScheduledTask with it,
     * components/promises.ts the function the promise check reads).
     */
    scheduleSuffix?: string;
    /** How long one run is assumed to take in the cost estimate, and the word the assumption line uses for it. */
    cost: { label: string; runTime: RunTime };
  };
};

export const TASK_CATALOGUE = {
  backup: {
    module: { file: "backup", exportName: "backupTask" },
    packaging: "image",
    database: { section: "backup" },
    scheduled: { kind: "backup", cost: { label: "backup", runTime: DUMP_RUN_TIME } },
  },
  "verify-backup": {
    module: { file: "verify-backup", exportName: "verifyBackupTask" },
    packaging: "image",
    database: { section: "verify" },
    // It reads the whole dump back (SHA-256, and pg_restore reading every data block to /dev/null): counted at the dump's rate.
    scheduled: { kind: "verify", cost: { label: "verify", runTime: DUMP_RUN_TIME } },
  },
  "restore-drill": {
    module: { file: "restore-drill", exportName: "restoreDrillTask" },
    packaging: "image",
    database: { section: "restoreDrill" },
    scheduled: { kind: "drill", cost: { label: "restore", runTime: DUMP_RUN_TIME } },
  },
  vacuum: {
    module: { file: "maintenance", exportName: "vacuumTask" },
    packaging: "zip",
    runMarker: true,
    database: { section: "vacuum" },
    scheduled: { kind: "vacuum", cost: { label: "vacuum", runTime: TIME_BUDGET_RUN_TIME } },
  },
  analyze: {
    module: { file: "maintenance", exportName: "analyzeTask" },
    packaging: "zip",
    runMarker: true,
    database: { section: "analyze" },
    scheduled: { kind: "analyze", cost: { label: "analyze", runTime: TIME_BUDGET_RUN_TIME } },
  },
  reindex: {
    module: { file: "maintenance", exportName: "reindexTask" },
    packaging: "zip",
    runMarker: true,
    database: { section: "reindex" },
    scheduled: { kind: "reindex", cost: { label: "reindex", runTime: TIME_BUDGET_RUN_TIME } },
  },
  purge: {
    module: { file: "purge", exportName: "purgeTask" },
    packaging: "zip",
    runMarker: true,
    database: { section: "purge" },
    scheduled: { kind: "purge", cost: { label: "purge", runTime: { seconds: 60 } } },
  },
  "db-health": {
    module: { file: "db-health", exportName: "dbHealthTask" },
    packaging: "zip",
    runMarker: true,
    database: { section: "health" },
    scheduled: { kind: "health", cost: { label: "db-health", runTime: { seconds: 5 } } },
  },
  // Every few minutes: a missed-run alarm watches them, no run marker needed.
  "health-check": {
    module: { file: "health-check", exportName: "healthCheckTask" },
    packaging: "zip",
    runMarker: false,
    scheduled: { kind: "health", scheduleSuffix: "health-task", cost: { label: "health-check", runTime: { seconds: 3 } } },
  },
  "redis-health": {
    module: { file: "redis-health", exportName: "redisHealthTask" },
    packaging: "zip",
    runMarker: false,
    scheduled: { kind: "health", cost: { label: "redis-health", runTime: { seconds: 2 } } },
  },
  "overdue-watch": {
    module: { file: "overdue-watch", exportName: "overdueWatchTask" },
    packaging: "zip",
    runMarker: false,
    scheduled: { kind: "watch", cost: { label: "overdue-watch", runTime: { seconds: 2 } } },
  },
  // Run on demand (`npm run task`, the runNow output), never scheduled: in the task image, which has
  // the PostgreSQL client binaries, through a database's verify-backup function or Fargate task.
  restore: {
    module: { file: "restore", exportName: "restoreTask" },
    packaging: "image",
  },
  "list-backups": {
    module: { file: "list-backups", exportName: "listBackupsTask" },
    packaging: "image",
  },
} as const satisfies Record<string, TaskEntry>;

type Catalogue = typeof TASK_CATALOGUE;

/** Name of a task: in schedules, the TASK setting, the CLI and the container command. */
export type TaskName = keyof Catalogue;
/** Tasks deployed as Lambda zip bundles. */
export type ZipTaskName = { [K in TaskName]: Catalogue[K]["packaging"] extends "zip" ? K : never }[TaskName];
/** Tasks the program schedules (the others are run by hand). */
export type ScheduledTaskName = { [K in TaskName]: Catalogue[K] extends { scheduled: object } ? K : never }[TaskName];
/** Tasks scheduled once per database, from a section of its config. */
export type DbTaskName = { [K in TaskName]: Catalogue[K] extends { database: object } ? K : never }[TaskName];

/** Every task name, in catalogue order. */
export const TASK_NAMES = Object.keys(TASK_CATALOGUE) as TaskName[];

/** Zip-packaged tasks, in catalogue order. */
export const ZIP_TASKS: readonly ZipTaskName[] = TASK_NAMES.filter((t): t is ZipTaskName => TASK_CATALOGUE[t].packaging === "zip");

/** Zip tasks whose handler records successful runs (`runMarker`), in catalogue order. */
export const RUN_MARKER_TASKS: readonly ZipTaskName[] = ZIP_TASKS.filter((t) => {
  const e: TaskEntry = TASK_CATALOGUE[t];
  return e.packaging === "zip" && e.runMarker;
});

/** Per-database tasks, in catalogue order (the order a database's tasks are created in). */
export const DB_TASKS: readonly DbTaskName[] = TASK_NAMES.filter((t): t is DbTaskName => "database" in TASK_CATALOGUE[t]);

/** The catalogue entry of a task name, or undefined for a name that is no task. */
export function catalogueEntry(name: string | undefined): TaskEntry | undefined {
  return name !== undefined && Object.hasOwn(TASK_CATALOGUE, name) ? TASK_CATALOGUE[name as TaskName] : undefined;
}

/** Tasks only run by hand (entries without `scheduled`: restore, list-backups), in catalogue order. */
export const ON_DEMAND_TASKS: readonly Exclude<TaskName, ScheduledTaskName>[] = TASK_NAMES.filter((t): t is Exclude<TaskName, ScheduledTaskName> => !("scheduled" in TASK_CATALOGUE[t]));

/**
 * Whether a task is only run by hand (`npm run task`, the container command, an on-demand event): its
 * runs record no run marker, and in AWS it runs inside another task's function or container
 * (tasks/handler.ts) without counting as that task's run. False for a name that is no task.
 */
export function runsOnDemand(name: string | undefined): boolean {
  return (ON_DEMAND_TASKS as readonly string[]).includes(name ?? "");
}

/**
 * The cost estimate's run-time assumption, one phrase per run-time model of the scheduled tasks in catalogue order: tasks
 * that share a model share its phrase ("backup, verify and restore at 12 MB/s ...", "vacuum/analyze/reindex
 * their time budget"), the others each have their own ("purge 60 s").
 */
export function runTimeAssumption(): string {
  const groups = new Map<RunTime, string[]>();
  for (const t of TASK_NAMES) {
    const e: TaskEntry = TASK_CATALOGUE[t];
    if (!e.scheduled) continue;
    const { label, runTime } = e.scheduled.cost;
    groups.set(runTime, [...(groups.get(runTime) ?? []), label]);
  }
  const phrases = [...groups].map(([r, labels]) => {
    const who = labels.length === 2 ? labels.join(" and ") : labels.join("/");
    if ("seconds" in r) return `${who} ${r.seconds} s`;
    if ("dumpMbPerSecond" in r) return `${who} at ${r.dumpMbPerSecond} MB/s of database size (min ${r.minSeconds} s)`;
    return `${who} ${labels.length > 1 ? "their" : "its"} time budget`;
  });
  return `task duration: ${phrases.join("; ")}`;
}
