/**
 * The whole maintenance regime of one stack: alert routing, the backup vault, one DatabaseMaintenance
 * per database (backup, verification, restore drill, vacuum/analyze/reindex, purge, health), endpoint
 * health checks, host and application alarms, log rotation, reminders and a dashboard, composed from
 * one validated Regime (regime/schema.ts). Every child is parented here, so `pulumi preview` shows the
 * regime as one tree.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { registrationsSettled, type Severity } from "./alarms";
import { AlertRouting, REGIME_TAG } from "./alerting";
import { BackupVault, databaseVaultRules } from "./backup-vault";
import { Dashboard, type DashboardArgs } from "./dashboard";
import { DatabaseMaintenance, type DbTaskName } from "./database";
import { HealthChecks, uptimeTargets } from "./health-checks";
import { HostAlarms } from "./host-alarms";
import { RedisHealth, REDIS_TASK } from "./redis";
import { LogRotation } from "./logs";
import { AlarmCatalog, MuteRules } from "./mute-rules";
import { OverdueWatch, watcherSeverity, type WatchedJobSpec } from "./overdue-watch";
import { declaredPages, declaredSubscribers } from "./promises";
import { checkedSeverities } from "../regime/paging-promises";
import { resetPlanRecord } from "./plan-record";
import { Reminders, reminderSpec } from "./reminders";
import type { ScheduledTask } from "./scheduled-task";
import { TaskImage } from "./task-image";
import { alarmArn } from "../regime/arn";
import { databaseRunners, vaultAbortIncompleteUploadDays } from "../regime/runners";
import type { DatabaseConfig, Regime, RedisConfig } from "../regime/schema";
import { type ZipTaskName } from "../tasks/catalogue";

/** Zip tasks the program deploys (tasks/catalogue.ts), with their archives (build/bundle.ts). */
export type TaskArchives = Record<ZipTaskName, pulumi.asset.Archive>;

export interface MaintenanceRegimeArgs {
  regime: Regime;
  archives: TaskArchives;
  /** SSH private keys of log host groups, by the config key the group names (Pulumi secrets). */
  sshPrivateKeys?: Record<string, pulumi.Input<string>>;
  /**
   * The run's reference date (index.ts: the promise check's, today 00:00 UTC; the plan's --from):
   * maintenance windows written as one mute rule per occurrence start from it, and mutes over by then
   * are left out. Default: today 00:00 UTC.
   */
  reference?: Date;
}

/** What other stacks read (index.ts exports these under stable names; README "Outputs"). */
export interface RegimeOutputs {
  regimeName: string;
  alertTopicArns: pulumi.Output<Record<Severity, string>>;
  alertKmsKeyArn: pulumi.Output<string>;
  backupBucketName?: pulumi.Output<string>;
  backupBucketArn?: pulumi.Output<string>;
  backupKmsKeyArn?: pulumi.Output<string>;
  /** `<database>/<task>`, `health-check` or `redis/<id>/redis-health` -> Lambda function ARN (Fargate: task definition ARN). */
  taskArns: pulumi.Output<Record<string, string>>;
  /** `<database>/<task>`, `health-check`, `redis/<id>/redis-health` or `reminder/<name>` -> EventBridge Scheduler schedule name. */
  scheduleNames: pulumi.Output<Record<string, string>>;
  /** `<database>` -> RPO alarm name. */
  rpoAlarmNames: pulumi.Output<Record<string, string>>;
  /** `<database>/<task>`, `reminder/<name>` or `association/<host group>/<kind>` -> overdue alarm name: jobs too sparse for a missed-run alarm and State Manager associations (the overdue watcher's). */
  overdueAlarmNames?: pulumi.Output<Record<string, string>>;
  taskImageUris: pulumi.Output<Record<string, string>>;
  /**
   * The AWS CLI command that runs a task once now: the keys of taskArns (each as its schedule starts
   * it), plus `<database>/restore` and `<database>/list-backups` (on demand, in the database's
   * verify-backup function or container; README "On the bad day").
   */
  runNow: pulumi.Output<Record<string, string>>;
  dashboardName?: pulumi.Output<string>;
  logrotateConfigs?: pulumi.Output<Record<string, Record<string, string>>>;
  dockerDaemonJson?: Record<string, string>;
  logArchiveBucketName?: pulumi.Output<string>;
  cloudwatchAgentConfig?: string;
  /** `<host group>` (tagged instances) and `<host group>/<ssh host>` -> CloudWatch agent logs config (append-config). */
  cloudwatchAgentLogConfigs?: Record<string, string>;
  /** `<host group>` -> IAM policy to attach to its hosts' roles so they can upload their file backups. */
  fileBackupWriterPolicyArns?: pulumi.Output<Record<string, string>>;
  /** Alarm mute rule name -> its schedule (`cron(...)` or `at(...)`, timezone, ISO duration) and how many alarms it mutes. */
  muteRules?: Record<string, { expression: string; timezone: string; duration: string; alarms: number }>;
  /** `<host group>` -> the compose `logging:` blocks and `docker run` flags that ship its containers' output. */
  containerLogging?: pulumi.Output<Record<string, string>>;
  /** `<host group>` -> IAM policy dockerd's credentials need to write its containers' output. */
  containerLogWriterPolicyArns?: pulumi.Output<Record<string, string>>;
}

/**
 * The restore target in the runNow command of a database reached with IAM authentication (its
 * secret's ARN otherwise): replace it with a postgres:// URL or a Secrets Manager ARN the task may read.
 */
export const RESTORE_TARGET_PLACEHOLDER = "TARGET_URL_OR_SECRET_ARN";

/**
 * Whether any task of a database runs on Fargate: its backup (too big for Lambda's 15 minutes) or its
 * restore drill (rtoMinutes plus its checks longer than Lambda can run); see regime/runners.ts.
 */
export function runsOnFargate(db: DatabaseConfig): boolean {
  const r = databaseRunners(db, `databases[${db.id}]`);
  return r.backup === "fargate" || r.drill === "fargate";
}

export class MaintenanceRegime extends pulumi.ComponentResource {
  /** Set by `create` once the regime is declared. */
  public outputs!: RegimeOutputs;
  /** Every alarm and component registered under the regime (what a window or mute may name). */
  public readonly alarmCatalog: AlarmCatalog;

  private constructor(name: string, catalog: AlarmCatalog, opts?: pulumi.ComponentResourceOptions) {
    super("regime:index:MaintenanceRegime", name, {}, { ...opts, transformations: [...(opts?.transformations ?? []), catalog.transformation] });
    this.alarmCatalog = catalog;
  }

  /**
   * The regime declared: every component of `args.regime` created under it. Asynchronous so that
   * each database's (and Redis instance's) resources register before the next is declared
   * (registrationsSettled): declared in one loop, a 50-database regime held every resource's pending
   * state at once (1.5 GB) and spent a third of its plan collecting garbage.
   */
  static async create(name: string, args: MaintenanceRegimeArgs, opts?: pulumi.ComponentResourceOptions): Promise<MaintenanceRegime> {
    // Every alarm registered under the regime, with its severity and components, for the mute rules.
    const regime = new MaintenanceRegime(name, new AlarmCatalog(), opts);
    await regime.declare(args);
    return regime;
  }

  private async declare(args: MaintenanceRegimeArgs): Promise<void> {
    const catalog = this.alarmCatalog;
    const r = args.regime;
    const tags = { [REGIME_TAG]: r.name, ManagedBy: "maintenance-regime" };
    const parent = { parent: this };
    // For the offline plan: what the resources do not carry (components/plan-record.ts).
    const record = resetPlanRecord();
    for (const db of r.databases) record.databaseSizesGb[db.id] = db.sizeGb;

    const alerts = new AlertRouting(`${r.name}-alerts`, { channels: r.alerting, alarmNamePrefix: `${r.name}-`, logRetentionDays: r.logRetentionDays, tags }, parent);

    // ------------------------------------------------------------------ databases
    let vault: BackupVault | undefined;
    const taskArns: Record<string, pulumi.Output<string>> = {};
    const scheduleNames: Record<string, pulumi.Output<string>> = {};
    const rpoAlarms: Record<string, pulumi.Output<string>> = {};
    const imageUris: Record<string, pulumi.Output<string>> = {};
    const runNow: Record<string, pulumi.Output<string>> = {};
    const dashboardTasks: DashboardArgs["tasks"] = [];
    const alarmNames: pulumi.Output<string[]>[] = [];
    const watchedJobs: WatchedJobSpec[] = [];
    /**
     * Records a scheduled task in the regime's outputs under `key` (its function or task definition
     * ARN, schedule name and runNow command), its alarms, and its row on the dashboard (`row`: the
     * task's name and, for a database task, the database's id).
     */
    const recordTask = (key: string, t: ScheduledTask, row: { task: string; database?: string }): void => {
      taskArns[key] = (t.functionArn ?? t.taskDefinitionArn)!;
      scheduleNames[key] = t.scheduleName;
      runNow[key] = t.runNowCommand;
      alarmNames.push(t.alarmNames);
      dashboardTasks.push({ ...row, functionName: t.functionName });
    };

    // Subnets and security groups as the config gives them, or read from another stack (one reference per stack).
    const networks = new Map<string, pulumi.StackReference>();
    const resolveNetwork = (net: DatabaseConfig["network"] | RedisConfig["network"]) => {
      if (!net) return undefined;
      if (!("stack" in net)) return { subnetIds: net.subnetIds, securityGroupIds: net.securityGroupIds } as { subnetIds: pulumi.Input<string[]>; securityGroupIds: pulumi.Input<string[]> };
      const ref = networks.get(net.stack) ?? new pulumi.StackReference(`${r.name}-network-${networks.size}`, { name: net.stack }, parent);
      networks.set(net.stack, ref);
      return {
        subnetIds: ref.requireOutput(net.subnetIdsOutput) as pulumi.Output<string[]>,
        securityGroupIds: ref.requireOutput(net.securityGroupIdsOutput) as pulumi.Output<string[]>,
      };
    };

    if (r.databases.length > 0) {
      vault = new BackupVault(
        `${r.name}-backups`,
        {
          // A paused backup's rules are kept Disabled: nothing it stored expires while it is paused.
          retention: r.databases.flatMap((db) => databaseVaultRules(db, r.backupVault)),
          noncurrentDays: r.backupVault.noncurrentDays,
          // An unfinished upload is aborted only after the slowest backup of the vault could have finished.
          abortIncompleteUploadDays: vaultAbortIncompleteUploadDays(r.databases),
          objectLock: r.backupVault.objectLock,
          tags,
        },
        parent,
      );

      // One task image per PostgreSQL major version: pg_dump must be at least the server's version.
      const images = new Map<number, TaskImage>();
      for (const major of [...new Set(r.databases.map((d) => d.majorVersion))].sort((a, b) => a - b)) {
        const image = new TaskImage(`${r.name}-tasks-pg${major}`, { pgMajor: major, tags }, parent);
        images.set(major, image);
        imageUris[`pg${major}`] = image.imageUri;
      }

      const cluster = r.databases.some(runsOnFargate)
        ? new aws.ecs.Cluster(`${r.name}-tasks`, { name: `${r.name}-tasks`, settings: [{ name: "containerInsights", value: "enabled" }], tags }, parent)
        : undefined;

      for (const db of r.databases) {
        // Each database's resources register before the next is declared (registrationsSettled).
        await registrationsSettled();
        const network = resolveNetwork(db.network);
        const dbm = new DatabaseMaintenance(
          `${r.name}-db-${db.id}`,
          {
            regime: r.name,
            db,
            vault,
            imageUri: images.get(db.majorVersion)!.imageUri,
            archives: args.archives,
            fargateCluster: cluster?.arn,
            network,
            alarmTopics: alerts.topics,
            logRetentionDays: r.logRetentionDays,
            tags,
          },
          parent,
        );
        for (const [task, t] of Object.entries(dbm.tasks)) recordTask(`${db.id}/${task}`, t, { task, database: db.id });
        // On-demand tasks run where the backups may be read and the database reached: the verify-backup task.
        const verify = dbm.tasks["verify-backup"];
        if (verify) {
          runNow[`${db.id}/restore`] = verify.onDemandCommand("restore", { database: db.id, target: db.secretArn ?? RESTORE_TARGET_PLACEHOLDER });
          runNow[`${db.id}/list-backups`] = verify.onDemandCommand("list-backups", { database: db.id });
        }
        rpoAlarms[db.id] = dbm.rpoAlarmName;
        // An RPO over 7 days is the overdue watcher's alarm, listed with the watcher's.
        if (!dbm.rpoWatched) alarmNames.push(dbm.rpoAlarmName.apply((n) => [n]));
        watchedJobs.push(...dbm.watchedJobs);
      }
    }

    // ------------------------------------------------------------------ redis
    for (const x of r.redis) {
      await registrationsSettled();
      const rh = new RedisHealth(
        `${r.name}-redis-${x.id}`,
        {
          regime: r.name,
          redis: x,
          archive: args.archives[REDIS_TASK],
          network: resolveNetwork(x.network),
          alarmTopics: alerts.topics,
          logRetentionDays: r.logRetentionDays,
          tags,
        },
        parent,
      );
      recordTask(`redis/${x.id}/${REDIS_TASK}`, rh.task, { task: REDIS_TASK });
      alarmNames.push(rh.alarmNames);
      watchedJobs.push(...rh.watchedJobs);
    }

    // ------------------------------------------------------------------ endpoints
    if (r.endpoints) {
      const hc = new HealthChecks(
        `${r.name}-health`,
        {
          regime: r.name,
          endpoints: r.endpoints.checks,
          schedule: r.endpoints.schedule,
          archive: args.archives["health-check"],
          paused: r.endpoints.paused,
          alarmTopics: alerts.topics,
          logRetentionDays: r.logRetentionDays,
          tags,
        },
        parent,
      );
      alarmNames.push(hc.alarmNames);
      recordTask("health-check", hc.task, { task: "health-check" });
      watchedJobs.push(...hc.watchedJobs);
    }

    // ------------------------------------------------------------------ hosts, applications, RDS
    const rdsInstances = r.databases.filter((d) => d.rdsInstanceId).map((d) => ({ name: d.id, rdsInstanceId: d.rdsInstanceId!, maxConnections: d.maxConnectionsAlarm }));
    let hostAlarms: HostAlarms | undefined;
    if (r.hosts.length + r.applications.length + rdsInstances.length > 0) {
      hostAlarms = new HostAlarms(
        `${r.name}-monitoring`,
        { regime: r.name, hosts: r.hosts, applications: r.applications, databases: rdsInstances, alarmTopics: alerts.topics, tags },
        parent,
      );
      alarmNames.push(hostAlarms.alarmNames);
    }

    // ------------------------------------------------------------------ logs
    let logs: LogRotation | undefined;
    if (r.logs.hostGroups.length > 0) {
      logs = new LogRotation(
        `${r.name}-logs`,
        {
          regime: r.name,
          logs: r.logs,
          defaultRetentionDays: r.logRetentionDays,
          alarmTopics: alerts.topics,
          sshPrivateKeys: args.sshPrivateKeys,
          tags,
        },
        parent,
      );
      watchedJobs.push(...logs.watchedJobs);
    }

    // ------------------------------------------------------------------ reminders
    if (r.reminders.length > 0) {
      const reminders = new Reminders(
        `${r.name}-reminders`,
        {
          regime: r.name,
          reminders: r.reminders.map(reminderSpec),
          alarmTopics: alerts.topics,
          topicKeyArn: alerts.kmsKeyArn,
          tags,
        },
        parent,
      );
      r.reminders.forEach((m, i) => {
        scheduleNames[`reminder/${m.name}`] = reminders.scheduleNames.apply((n) => n[i]);
      });
      watchedJobs.push(...reminders.watchedJobs);
    }

    // ------------------------------------------------------------------ jobs no metric alarm sees
    // Database tasks and reminders further apart than a metric alarm looks back (7 days), and State
    // Manager associations (they publish nothing when they stop). The watcher exists whenever one of
    // them does, with or without a backup vault: reminders and associations need none.
    let overdue: OverdueWatch | undefined;
    if (watchedJobs.length > 0) {
      overdue = new OverdueWatch(
        `${r.name}-overdue`,
        {
          regime: r.name,
          jobs: watchedJobs,
          vault,
          archive: args.archives["overdue-watch"],
          timezone: r.timezone,
          alarmTopics: alerts.topics,
          logRetentionDays: r.logRetentionDays,
          // Each run also checks that every paged severity's topic has a subscription that delivers.
          subscriptionCheck: { severities: checkedSeverities(declaredPages(r, watcherSeverity(watchedJobs)), declaredSubscribers(r)), subscribers: declaredSubscribers(r) },
          tags,
        },
        parent,
      );
      alarmNames.push(overdue.alarmNames);
      recordTask("overdue-watch", overdue.task, { task: "overdue-watch" });
    }

    // ------------------------------------------------------------------ dashboard
    let dashboard: Dashboard | undefined;
    if (r.dashboard) {
      const region = aws.getRegionOutput({}, parent).name;
      const arnOf = pulumi
        .all([region, aws.getCallerIdentityOutput({}, parent).accountId, pulumi.all(alarmNames)])
        .apply(([reg, account, lists]) => lists.flat().map((n) => alarmArn(reg, account, n)));
      dashboard = new Dashboard(
        `${r.name}-regime`,
        {
          regime: r.name,
          region,
          databases: r.databases.map((d) => d.id),
          endpoints: (r.endpoints?.checks ?? []).map((e) => e.name),
          responseTimeEndpoints: (r.endpoints?.checks ?? []).filter((e) => e.maxResponseMs !== undefined).map((e) => e.name),
          certificateEndpoints: (r.endpoints?.checks ?? []).filter((e) => e.minCertificateDays !== undefined).map((e) => e.name),
          uptimeTargets: uptimeTargets(r.endpoints?.checks ?? []),
          tasks: dashboardTasks,
          alarmArns: arnOf,
        },
        parent,
      );
    }

    // ------------------------------------------------------------------ maintenance windows and mutes
    let mutes: MuteRules | undefined;
    if (r.maintenanceWindows.length + r.mutes.length > 0) {
      const now = new Date();
      mutes = new MuteRules(
        `${r.name}-mutes`,
        {
          regime: r.name,
          windows: r.maintenanceWindows,
          mutes: r.mutes,
          reference: args.reference ?? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())),
          alarms: catalog.alarms,
          components: catalog.components,
          tags,
        },
        parent,
      );
    }

    const sorted = (rec: Record<string, pulumi.Output<string>>) =>
      pulumi.all(Object.fromEntries(Object.keys(rec).sort().map((k) => [k, rec[k]]))) as pulumi.Output<Record<string, string>>;
    this.outputs = {
      regimeName: r.name,
      alertTopicArns: alerts.topicArns,
      alertKmsKeyArn: alerts.kmsKeyArn,
      backupBucketName: vault?.bucketName,
      backupBucketArn: vault?.bucketArn,
      backupKmsKeyArn: vault?.kmsKeyArn,
      taskArns: sorted(taskArns),
      scheduleNames: sorted(scheduleNames),
      rpoAlarmNames: sorted(rpoAlarms),
      overdueAlarmNames: overdue ? sorted(overdue.overdueAlarmNames) : undefined,
      taskImageUris: sorted(imageUris),
      runNow: sorted(runNow),
      dashboardName: dashboard?.dashboardName,
      logrotateConfigs: logs?.logrotateConfigs,
      dockerDaemonJson: logs?.daemonJson,
      logArchiveBucketName: logs?.archiveBucketName,
      cloudwatchAgentConfig: hostAlarms?.agentConfig,
      cloudwatchAgentLogConfigs: logs && Object.keys(logs.agentLogConfigs).length > 0 ? logs.agentLogConfigs : undefined,
      fileBackupWriterPolicyArns: logs && Object.keys(logs.fileBackupWriterPolicyArns).length > 0 ? sorted(logs.fileBackupWriterPolicyArns) : undefined,
      muteRules:
        mutes && mutes.rules.length > 0
          ? Object.fromEntries(mutes.rules.map((m) => [m.name, { expression: m.schedule.expression, timezone: m.schedule.timezone, duration: m.schedule.duration, alarms: m.alarmNames.length }]))
          : undefined,
      containerLogging: logs && Object.keys(logs.containerLogging).length > 0 ? sorted(logs.containerLogging) : undefined,
      containerLogWriterPolicyArns: logs && Object.keys(logs.containerLogWriterPolicyArns).length > 0 ? sorted(logs.containerLogWriterPolicyArns) : undefined,
    };
    this.registerOutputs({ ...this.outputs });
  }
}
