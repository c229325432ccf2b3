/**
 * Everything one database gets: scheduled backup (container image on Lambda, or Fargate for
 * databases too big for Lambda's 15 minutes), verification, restore drill, maintenance (vacuum,
 * analyze, reindex, purge), health metrics, and the RPO alarm that fires when no successful backup
 * was recorded in time. Each task is a ScheduledTask with its own least-privilege role.
 */
import { LAMBDA_MAX_TIMEOUT_SECONDS } from "../regime/limits";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { alarmName, createAlarm, watchGate, type AlertTopics, type Severity } from "./alarms";
import { tierPrefix, type BackupVault } from "./backup-vault";
import type { IamStatement } from "./iam";
import { OVERDUE_TOLERANCE_MARGIN_SECONDS, type WatchedJobSpec } from "./overdue-watch";
import { rpoAlarmWindow, rpoWatchedByOverdueWatcher } from "../regime/promises";
import { jobMissedRunWindow, missedRunJobOf, ScheduledTask, type TaskCode } from "./scheduled-task";
import { TIERS } from "../tasks/lib/tiers";
import type { Schedule } from "../regime/schedule";
import { backupDurationReferenceSeconds, databaseRunners, type DatabaseRunners, type Runner } from "../regime/runners";
import { restoreCheckBounds, type ConfigSchedule, type DatabaseConfig } from "../regime/schema";
import { DB_TASKS, TASK_CATALOGUE, type DbTaskName, type ZipTaskName } from "../tasks/catalogue";
import type { SharedSettingKey, TaskEnvironment } from "./task-settings";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";
import { VERIFIED_FOLDER } from "../tasks/lib/verification";
import { drillPrefix } from "../tasks/lib/drill-record";

export { LAMBDA_BACKUP_LIMIT_GB } from "../regime/runners";

/** The tasks of one database (tasks/catalogue.ts, the entries with a `database` section). */
export type { DbTaskName } from "../tasks/catalogue";

/** The schedule of each task a database has configured (its catalogue section), as the config loader resolved it. */
export function databaseSchedules(db: DatabaseConfig): Partial<Record<DbTaskName, ConfigSchedule>> {
  const out: Partial<Record<DbTaskName, ConfigSchedule>> = {};
  for (const t of DB_TASKS) {
    const s = db[TASK_CATALOGUE[t].database.section];
    if (s) out[t] = s.schedule;
  }
  return out;
}

export interface DatabaseArgs {
  regime: string;
  /** The database as the config loader validated it, its tasks' schedules resolved (databaseSchedules). */
  db: DatabaseConfig;
  vault: BackupVault;
  /** Image with the PostgreSQL client of this database's major version. */
  imageUri: pulumi.Input<string>;
  /** Zip archive per task that needs no client binaries. */
  archives: Record<Extract<DbTaskName, ZipTaskName>, pulumi.asset.Archive>;
  /** Fargate cluster ARN, needed when the database is too big for Lambda. */
  fargateCluster?: pulumi.Input<string>;
  network?: { subnetIds: pulumi.Input<string[]>; securityGroupIds: pulumi.Input<string[]> };
  alarmTopics: AlertTopics;
  logRetentionDays: number;
  tags?: Record<string, string>;
}

/** The tier prefixes of one database's backups, in tier order: keys live under `<tier>/<database>/` (tasks/lib/tiers.ts); the tiers' lifecycle rules give the keep-rules. */
export function backupPrefixes(dbId: string): string[] {
  return TIERS.map((t) => tierPrefix(t, dbId));
}

type DbHealthConfig = NonNullable<DatabaseConfig["health"]>;

/** Severity of the db-health warning levels' alarms (DB_HEALTH_WARNINGS); a critical level fails the run at the health severity. */
export const DB_HEALTH_WARNING_SEVERITY: Severity = "P2";

/**
 * The db-health warning levels that page P2: for each, the metric the task publishes, the task's
 * setting that carries the level and the alarm's threshold, both from one figure of the config
 * (`threshold`). The task compares its value with the setting (a warning, and for a sampled metric
 * a breaching value published on every run: tasks/lib/metrics.ts); the alarm pages at
 * GreaterThanOrEqualToThreshold the same figure.
 */
export const DB_HEALTH_WARNINGS: readonly {
  metric: string;
  metricName: string;
  setting: "CONNECTIONS_WARN_PERCENT" | "WRAPAROUND_WARN_AGE" | "LAST_VACUUM_WARN_HOURS" | "LAST_ANALYZE_WARN_HOURS";
  threshold(h: DbHealthConfig): number;
  runbook(id: string, h: DbHealthConfig): string;
}[] = [
  {
    metric: "connections",
    metricName: "ConnectionsPercent",
    setting: "CONNECTIONS_WARN_PERCENT",
    threshold: (h) => h.connectionsWarnPercent,
    runbook: (id, h) =>
      `Connections of database ${id} reached ${h.connectionsWarnPercent} % of max_connections. Look for connection leaks and idle sessions (pg_stat_activity), check the pool size of the application; a pooler (PgBouncer, RDS Proxy) if it keeps rising.`,
  },
  {
    metric: "wraparound",
    metricName: "WraparoundAge",
    setting: "WRAPAROUND_WARN_AGE",
    threshold: (h) => h.wraparoundWarnAge,
    runbook: (id, h) =>
      `Transaction-ID age of database ${id} reached ${h.wraparoundWarnAge}. Run the vacuum task (it freezes the oldest tables first) and look for long transactions or abandoned replication slots holding it back.`,
  },
  // LastVacuumAgeHours / LastAnalyzeAgeHours: the most hours a table past autovacuum's trigger has gone
  // unanswered (tasks/db-health.ts dueTable: since a vacuum or analyze that left it due, or since its last
  // run when autovacuum does not take it; 0 when none); a table just made due is autovacuum's next job.
  {
    metric: "last-vacuum",
    metricName: "LastVacuumAgeHours",
    setting: "LAST_VACUUM_WARN_HOURS",
    threshold: (h) => h.lastVacuumWarnHours,
    runbook: (id, h) =>
      `A table of database ${id} with dead tuples past autovacuum's trigger (found so by a vacuum or analyze that left it due, or with autovacuum off for it) has stayed unvacuumed (by hand, the vacuum task or autovacuum) for ${h.lastVacuumWarnHours} h; at ${h.lastVacuumCritHours} h the db-health run fails. The db-health result names the tables. Look for what holds a lock on them (pg_locks, long transactions) or keeps autovacuum off them, then run the vacuum task.`,
  },
  {
    metric: "last-analyze",
    metricName: "LastAnalyzeAgeHours",
    setting: "LAST_ANALYZE_WARN_HOURS",
    threshold: (h) => h.lastAnalyzeWarnHours,
    runbook: (id, h) =>
      `A table of database ${id} changed past autovacuum's analyze trigger has not been analyzed (by hand, the analyze or vacuum task, or autovacuum) for ${h.lastAnalyzeWarnHours} h; at ${h.lastAnalyzeCritHours} h the db-health run fails. The db-health result names the tables; run the analyze task and look for locks held on them.`,
  },
];

/** The db-health task's warning settings: each P2 alarm's threshold, as the task reads it (DB_HEALTH_WARNINGS). */
export function dbHealthWarningSettings(h: DbHealthConfig): Record<(typeof DB_HEALTH_WARNINGS)[number]["setting"], string> {
  return Object.fromEntries(DB_HEALTH_WARNINGS.map((w) => [w.setting, String(w.threshold(h))])) as Record<(typeof DB_HEALTH_WARNINGS)[number]["setting"], string>;
}

/**
 * A scheduled database task's timeout on Lambda, or on Fargate (which has none) the run time its
 * duration alarm measures against, in seconds; also the longest successful run its missed-run window
 * allows for. Backup and its verify, which reads the whole dump back: backupDurationReferenceSeconds
 * (900 on Lambda, twice the expected run on Fargate); restore drill on Fargate: drillMinutes; db-health: 300 (its checks are catalogue queries);
 * every other task: Lambda's 900 (vacuum, analyze, reindex and purge end by their time budget plus
 * BUDGET_OVERRUN_SECONDS, each statement stopped at the budget's end: at most MAX_TIME_BUDGET_SECONDS + 30 = 720 s,
 * the duration alarm's line).
 */
export function dbTaskTimeoutSeconds(task: DbTaskName, db: Pick<DatabaseConfig, "sizeGb">, runners: DatabaseRunners): number {
  switch (task) {
    case "backup":
    // The verify reads the whole dump back (SHA-256, and pg_restore reading every data block to /dev/null), on the backup's runner: as long.
    case "verify-backup":
      return backupDurationReferenceSeconds(db.sizeGb, runners.backup);
    case "restore-drill":
      return runners.drill === "fargate" ? runners.drillMinutes! * 60 : LAMBDA_MAX_TIMEOUT_SECONDS;
    case "db-health":
      return 300;
    default:
      return LAMBDA_MAX_TIMEOUT_SECONDS;
  }
}

/** The missed-run alarm window of a scheduled database task (jobMissedRunWindow), or undefined when it is too sparse for one and the overdue watcher watches it. */
export function dbTaskMissedRunWindow(task: DbTaskName, db: Pick<DatabaseConfig, "sizeGb">, runners: DatabaseRunners, schedule: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">) {
  return jobMissedRunWindow(missedRunJobOf({ schedule, timeoutSeconds: dbTaskTimeoutSeconds(task, db, runners) }));
}

/** Resource part of a database's RPO alarm: `db-<id>`, then `-rpo-P0` (a metric alarm) or `-rpo-overdue-P0` (the overdue watcher's). */
export function rpoAlarmResource(dbId: string, watched: boolean): string {
  return watched ? `db-${dbId}-rpo` : `db-${dbId}`;
}

/**
 * The overdue watcher's job holding an RPO longer than a metric alarm sees: job `<id>/rpo`, overdue
 * (P0) once the newest run marker of the backup is older than rpoHours (maxAgeSeconds; no tolerance:
 * rpoHours is the promise); `paused` with the backup, keeping its alarm with the actions off.
 * `since`: the backup task's watch start (ScheduledTask.watchStart): a backup resumed after a pause
 * has rpoHours from the resume before it is overdue, and a paused one (PAUSED_WATCH_START) is never.
 */
export function rpoWatchedJob(db: Pick<DatabaseConfig, "id" | "backup">, schedule: Pick<Schedule, "expression" | "timezone">, since?: pulumi.Input<string>): WatchedJobSpec {
  return {
    job: `${db.id}/rpo`,
    resource: rpoAlarmResource(db.id, true),
    prefix: runMarkerPrefix(db.id, "backup"),
    ...(since !== undefined ? { since } : {}),
    expression: schedule.expression,
    timezone: schedule.timezone,
    toleranceSeconds: 0,
    maxAgeSeconds: Math.round(db.backup.rpoHours * 3600),
    severity: "P0",
    description: `backup of database ${db.id} (RPO ${db.backup.rpoHours} h)`,
    byHand: "the backup task's log group and dead-letter queue, run `npm run task -- backup` by hand, and verify the newest backup once it exists.",
    ...(db.backup.paused ? { paused: true } : {}),
  };
}

const WEEKDAY_NUMBER: Record<string, number> = { Sunday: 0, Monday: 1, Tuesday: 2, Wednesday: 3, Thursday: 4, Friday: 5, Saturday: 6 };

/**
 * Settings every task of a database gets: where it finds the database (DATABASES, a JSON list of one
 * target: never a password, only the secret's ARN, with the configured database name when set, or IAM
 * auth). Only settings every database task
 * reads belong here (SharedSettingKey); the database's size goes to the backup alone (ESTIMATED_SIZE_GB).
 */
export function databaseTaskCommonSettings(db: DatabaseConfig): { DATABASES: string } {
  const target = db.secretArn
    ? { id: db.id, secretArn: db.secretArn, ...(db.database !== undefined ? { database: db.database } : {}) }
    : { id: db.id, iamAuth: true, host: db.iamAuth!.host, port: db.iamAuth!.port, user: db.iamAuth!.user, database: db.iamAuth!.database };
  return { DATABASES: JSON.stringify([target]) } satisfies { [K in SharedSettingKey<DbTaskName>]?: string };
}

/** The environment of each task of a database, typed from the task's settings schema (components/task-settings.ts). */
export type DatabaseTaskEnvironments = { [N in DbTaskName]: TaskEnvironment<N> };

/** Key prefix of a task's run markers in the backup vault (tasks/lib/run-marker.ts). */
export function runMarkerPrefix(dbId: string, task: DbTaskName): string {
  return `runs/${dbId}/${task}/`;
}

/**
 * Whether a database task records its successes as run markers for the overdue watcher: a task too
 * sparse for a missed-run alarm, and the backup of a database whose RPO the watcher holds; never a
 * paused one (it does not run).
 */
export function writesRunMarkers(task: DbTaskName, db: Pick<DatabaseConfig, "sizeGb" | "backup">, runners: DatabaseRunners, schedule: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">, paused: boolean): boolean {
  if (paused) return false;
  return !dbTaskMissedRunWindow(task, db, runners, schedule) || (task === "backup" && rpoWatchedByOverdueWatcher(db.backup.rpoHours));
}

/** Settings of a task too sparse for a missed-run alarm: where it records each success for the overdue watcher. */
export function runMarkerSettings(dbId: string, task: DbTaskName, bucket: pulumi.Input<string>): Record<string, pulumi.Input<string>> {
  return { RUN_MARKER_BUCKET: bucket, RUN_MARKER_PREFIX: runMarkerPrefix(dbId, task) };
}

/**
 * The settings of a database's backup, verify-backup and restore-drill tasks, which run from the
 * container image (common settings included; run markers are added for sparse ones by the task
 * itself). On Lambda nothing but the function's 4 KB environment carries them (zip tasks move large
 * settings into their bundle: splitSettings), so the promise model checks their size before
 * `pulumi up` (components/promises.ts). `bucket`: the backup vault's bucket name, an output when
 * provisioning and a stand-in of its longest length (63) in the model.
 */
export function imageTaskSettings(
  db: DatabaseConfig,
  schedules: Partial<Record<DbTaskName, Pick<Schedule, "timezone">>>,
  bucket: pulumi.Input<string>,
): Pick<DatabaseTaskEnvironments, "backup" | "verify-backup" | "restore-drill"> {
  const common = databaseTaskCommonSettings(db);
  return {
    backup: {
      ...common,
      // Sizes the upload's parts (S3 allows 10,000 per upload).
      ESTIMATED_SIZE_GB: String(db.sizeGb),
      BACKUP_BUCKET: bucket,
      COMPRESSION: db.backup.compression,
      // Tier dates (weekly on Sunday, monthly on the 1st) in the backup schedule's own timezone.
      TIMEZONE: schedules.backup?.timezone ?? "UTC",
      WEEKLY_DAY: String(WEEKDAY_NUMBER[db.backup.weeklyOn]),
      MONTHLY_DAY: String(db.backup.monthlyOnDay),
    },
    "verify-backup": {
      ...common,
      BACKUP_BUCKET: bucket,
      RPO_HOURS: String(db.verify.maxAgeHours),
      MIN_SIZE_MB: String(db.verify.minSizeMb),
      // Compared with the previous backup only when set, so a stack without it deploys as before.
      ...(db.verify.maxShrinkPercent !== undefined ? { MAX_SHRINK_PERCENT: String(db.verify.maxShrinkPercent) } : {}),
    },
    "restore-drill": {
      ...common,
      BACKUP_BUCKET: bucket,
      ...(db.restoreDrill
        ? {
            RTO_MINUTES: String(db.restoreDrill.rtoMinutes),
            // [{ name?, sql, minRows?, maxRows? }], minRows 1 where neither bound is set (as before maxRows existed).
            CHECKS: JSON.stringify(db.restoreDrill.checks.map(restoreCheckBounds)),
          }
        : {}),
    },
  };
}

export class DatabaseMaintenance extends pulumi.ComponentResource {
  public readonly tasks: Record<string, ScheduledTask> = {};
  /** The RPO alarm: the metric alarm `<regime>-db-<id>-rpo-P0`, or beyond 7 days the overdue watcher's `<regime>-db-<id>-rpo-overdue-P0`. */
  public readonly rpoAlarmName: pulumi.Output<string>;
  /** The RPO is longer than a metric alarm sees: its alarm is the overdue watcher's (in watchedJobs), not this component's. */
  public readonly rpoWatched: boolean;
  /** Tasks scheduled too sparsely for a missed-run metric alarm (over 7 days): the overdue watcher watches them. */
  public readonly watchedJobs: WatchedJobSpec[] = [];

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:database:DatabaseMaintenance", name, {}, opts);
    const { db } = args;
    const tags = { ...(args.tags ?? {}), Database: db.id };
    // Each heavy task's runner follows from its promise (regime/runners.ts); refused there with the key path.
    const runners = databaseRunners(db, `databases[${db.id}]`);
    if ((runners.backup === "fargate" || runners.drill === "fargate") && !args.fargateCluster) throw new Error(`databases[${db.id}]: tasks on Fargate need a cluster`);

    const credentialStatements = (): pulumi.Input<IamStatement>[] =>
      db.secretArn
        ? [{ Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [db.secretArn] }]
        : [
            {
              Effect: "Allow",
              Action: ["rds-db:connect"],
              Resource: [pulumi.interpolate`arn:aws:rds-db:${aws.getRegionOutput().name}:${aws.getCallerIdentityOutput().accountId}:dbuser:${db.iamAuth!.resourceId}/${db.iamAuth!.user}`],
            },
          ];
    const prefixes = backupPrefixes(db.id);
    const common = databaseTaskCommonSettings(db);
    const schedules = databaseSchedules(db);
    const image = imageTaskSettings(db, schedules, args.vault.bucketName);

    // `paused: true` per section: the schedule is disabled and its watch silent (a sparse job leaves the overdue watcher).
    const pausedTasks: Record<DbTaskName, boolean | undefined> = {
      backup: db.backup.paused,
      "verify-backup": db.verify.paused,
      "restore-drill": db.restoreDrill?.paused,
      vacuum: db.vacuum?.paused,
      analyze: db.analyze?.paused,
      reindex: db.reindex?.paused,
      purge: db.purge?.paused,
      "db-health": db.health?.paused,
    };
    const task = <N extends DbTaskName>(
      task: N,
      code: TaskCode,
      severity: Severity,
      // Typed from the task's settings schema: a setting the task does not read does not compile.
      settings: TaskEnvironment<N>,
      statements: pulumi.Input<IamStatement>[],
      memoryMb: number,
    ) => {
      const schedule = schedules[task];
      if (!schedule) return;
      const timeoutSeconds = dbTaskTimeoutSeconds(task, db, runners);
      const paused = pausedTasks[task] === true;
      let environment = settings as Record<string, pulumi.Input<string>>;
      // Too sparse for a metric alarm (or a backup holding an RPO over 7 days): the task records each
      // success under runs/<db>/<task>/ for the overdue watcher.
      if (writesRunMarkers(task, db, runners, schedule, paused)) {
        const prefix = runMarkerPrefix(db.id, task);
        environment = { ...environment, ...runMarkerSettings(db.id, task, args.vault.bucketName) };
        statements = [...statements, ...args.vault.writeStatements([prefix])];
      }
      this.tasks[task] = new ScheduledTask(
        `${name}-${task}`,
        {
          regime: args.regime,
          taskName: task,
          description: `${task} of database ${db.id}`,
          code,
          instance: db.id,
          environment: { ...common, ...environment },
          schedule,
          scheduleKey: `databases[${db.id}].${TASK_CATALOGUE[task].database.section}.schedule`,
          timeoutSeconds,
          memoryMb,
          vpc: args.network ? { subnetIds: args.network.subnetIds, securityGroupIds: args.network.securityGroupIds } : undefined,
          policyStatements: [...credentialStatements(), ...statements],
          logRetentionDays: args.logRetentionDays,
          alarmTopics: args.alarmTopics,
          severity,
          tags,
          paused,
        },
        { parent: this },
      );
      if (!dbTaskMissedRunWindow(task, db, runners, schedule) && !paused) {
        const prefix = runMarkerPrefix(db.id, task);
        this.watchedJobs.push({
          job: `${db.id}/${task}`,
          resource: `db-${db.id}-${task}`,
          prefix,
          // Measured from the task's watch start when it has not succeeded since (a resumed task: the resume).
          since: this.tasks[task]!.watchStart,
          expression: schedule.expression,
          timezone: schedule.timezone,
          // The run's own length plus the Scheduler's retries (maximumEventAgeSeconds 3600).
          toleranceSeconds: timeoutSeconds + OVERDUE_TOLERANCE_MARGIN_SECONDS,
          severity,
          description: `${task} of database ${db.id}`,
          byHand: `the job's log group and dead-letter queue, then run it by hand with \`npm run task -- ${task}\`.`,
        });
      }
    };

    const heavy = (task: DbTaskName, runner: Runner): TaskCode =>
      runner === "fargate"
        ? { kind: "fargate", imageUri: args.imageUri, cluster: args.fargateCluster!, cpu: 1024, memory: 4096, entryPoint: ["node"], command: ["cli.js", task] }
        : { kind: "image", imageUri: args.imageUri };
    const zip = (task: keyof DatabaseArgs["archives"]): TaskCode => ({ kind: "zip", archive: args.archives[task], handler: "index.handler" });

    // backup: write-only to its own prefixes; never delete.
    task(
      "backup",
      heavy("backup", runners.backup),
      db.backup.severity,
      image.backup,
      // Read back: the task checks the object it wrote and the manifest's predecessor.
      args.vault.writeStatements(prefixes, { readBack: true }),
      1024,
    );
    task(
      "verify-backup",
      heavy("verify-backup", runners.backup),
      db.verify.severity,
      image["verify-backup"],
      // Reads the backups and, for the on-demand restore and list-backups it runs (README "On the bad
      // day"), its database's drill records; writes only its verification records beside the backups
      // (tasks/lib/verification.ts).
      [...args.vault.readStatements([...prefixes, drillPrefix(db.id)]), ...args.vault.writeStatements(prefixes.map((p) => `${p}${VERIFIED_FOLDER}`))],
      1024,
    );
    if (db.restoreDrill) {
      task(
        "restore-drill",
        heavy("restore-drill", runners.drill!),
        db.restoreDrill.severity,
        image["restore-drill"],
        // Reads the backups; writes only its drill records (tasks/lib/drill-record.ts, If-None-Match: *).
        [...args.vault.readStatements(prefixes), ...args.vault.writeStatements([drillPrefix(db.id)])],
        2048,
      );
    }
    if (db.vacuum) {
      task(
        "vacuum",
        zip("vacuum"),
        db.vacuum.severity,
        {
          TIME_BUDGET_SECONDS: String(Math.round(db.vacuum.timeBudgetMinutes * 60)),
          DEAD_PERCENT_MIN: String(db.vacuum.minDeadPercent),
          DEAD_TUPLES_MIN: String(db.vacuum.minDeadTuples),
          VACUUM_FULL_TABLES: JSON.stringify(db.vacuum.fullTables),
        },
        [],
        256,
      );
    }
    if (db.analyze) task("analyze", zip("analyze"), db.analyze.severity, {}, [], 256);
    if (db.reindex) {
      task(
        "reindex",
        zip("reindex"),
        db.reindex.severity,
        { TIME_BUDGET_SECONDS: String(Math.round(db.reindex.timeBudgetMinutes * 60)), REINDEX_INDEXES: JSON.stringify(db.reindex.indexes) },
        [],
        256,
      );
    }
    if (db.purge) task("purge", zip("purge"), db.purge.severity, { PURGE_RULES: JSON.stringify(db.purge.rules) }, [], 256);
    if (db.health) {
      task(
        "db-health",
        zip("db-health"),
        db.health.severity,
        {
          // The warning levels: the same figures the P2 alarms below compare with (DB_HEALTH_WARNINGS).
          ...dbHealthWarningSettings(db.health),
          CONNECTIONS_CRIT_PERCENT: String(db.health.connectionsCritPercent),
          WRAPAROUND_CRIT_AGE: String(db.health.wraparoundCritAge),
          SLOW_STATEMENT_MS: String(db.health.slowQueryMs),
          LAST_VACUUM_CRIT_HOURS: String(db.health.lastVacuumCritHours),
          LAST_ANALYZE_CRIT_HOURS: String(db.health.lastAnalyzeCritHours),
        },
        [],
        256,
      );
    }

    // db-health: a critical value fails the run (its errors alarm pages the health severity); the
    // warning levels the guides alert on ("connections > 80 %") page P2 from the metrics it writes.
    // Missing data is not breaching: the sampled metrics send a healthy value once per sampling
    // interval only, and a db-health that stops is paged by its own missed-run alarm.
    if (db.health) {
      const h = db.health;
      const period = Math.max(300, Math.min(86400, Math.round((schedules["db-health"]?.intervalSeconds ?? 900) / 60) * 60));
      for (const w of DB_HEALTH_WARNINGS) {
        createAlarm(
          args.regime,
          {
            resource: `db-${db.id}`,
            metric: w.metric,
            severity: DB_HEALTH_WARNING_SEVERITY,
            runbook: w.runbook(db.id, h),
            treatMissingData: "notBreaching",
            args: {
              namespace: METRICS_NAMESPACE_DEFAULT,
              metricName: w.metricName,
              dimensions: { service: args.regime, Task: "db-health", Instance: db.id, Database: db.id },
              statistic: "Maximum",
              period,
              evaluationPeriods: 1,
              comparisonOperator: "GreaterThanOrEqualToThreshold",
              threshold: w.threshold(h),
            },
          },
          args.alarmTopics,
          { parent: this },
          tags,
        );
      }
    }

    // RPO: the backup task records BackupSucceeded per database, stamped with the dump's start; no
    // success within the RPO (less the alarm's minute of evaluation) pages.
    // Beyond 7 days no metric alarm can look back that far: the overdue watcher holds it from the
    // backup's run markers, and its P0 overdue alarm is the RPO alarm.
    this.rpoWatched = rpoWatchedByOverdueWatcher(db.backup.rpoHours);
    if (this.rpoWatched) {
      const schedule = schedules.backup!;
      this.watchedJobs.push(rpoWatchedJob(db, schedule, this.tasks.backup.watchStart));
      this.rpoAlarmName = pulumi.output(alarmName(args.regime, { resource: rpoAlarmResource(db.id, true), metric: "overdue", severity: "P0" }));
      this.registerOutputs({ rpoAlarmName: this.rpoAlarmName });
      return;
    }
    const rpoWindow = rpoAlarmWindow(db.backup.rpoHours);
    const rpo = createAlarm(
      args.regime,
      {
        resource: rpoAlarmResource(db.id, false),
        metric: "rpo",
        severity: "P0",
        runbook: `The newest backup of database ${db.id} is from more than ${db.backup.rpoHours} h ago (RPO; a backup counts from its start, when its data was read). Check the backup task's log group and dead-letter queue, run \`npm run task -- backup\` by hand, and verify the newest backup once it exists.`,
        treatMissingData: "breaching",
        // A paused backup records no success: the RPO alarm would page for a pause made on purpose.
        paused: db.backup.paused,
        args: {
          // Gated on the backup task's watch start (watchGate): a new database does not page before
          // its first backup was due, a paused backup's alarm sits OK, and a resumed backup is
          // watched from its resume: it pages (a state change) if it misses its first backup after it.
          metricQueries: watchGate({
            metrics: [
              {
                id: "backups",
                metric: {
                  namespace: METRICS_NAMESPACE_DEFAULT,
                  metricName: "BackupSucceeded",
                  dimensions: { service: args.regime, Task: "backup", Instance: db.id, Database: db.id },
                  stat: "Sum",
                  period: rpoWindow.period,
                },
              },
            ],
            since: this.tasks.backup.watchStart,
            paused: db.backup.paused,
            label: "successful backups (1 before the watch start)",
            what: `databases[${db.id}].backup rpo alarm`,
          }),
          evaluationPeriods: rpoWindow.evaluationPeriods,
          datapointsToAlarm: rpoWindow.datapointsToAlarm,
          comparisonOperator: "LessThanThreshold",
          threshold: 1,
        },
      },
      args.alarmTopics,
      { parent: this },
      tags,
    );
    this.rpoAlarmName = rpo.name;
    this.registerOutputs({ rpoAlarmName: this.rpoAlarmName });
  }
}

