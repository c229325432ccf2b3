/**
 * The whole maintenance regime of one stack: alert routing, the backup vault, one DatabaseMaintenance
 * per database (backup, verification, restore drill, vacuum/analyze/reindex, purge, health), endpoint
 * health checks, host and application alarms, log rotation, reminders and a dashboard, composed from
 * one validated Regime (regime/schema.ts). Every child is parented here, so `pulumi preview` shows the
 * regime as one tree.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Severity } from "./alarms";
import { AlertRouting } from "./alerting";
import { BackupVault, tierRules } from "./backup-vault";
import { Dashboard, type DashboardArgs } from "./dashboard";
import { DatabaseMaintenance, type DbTaskName } from "./database";
import { HealthChecks, uptimeTargets } from "./health-checks";
import { HostAlarms } from "./host-alarms";
import { RedisHealth, REDIS_TASK } from "./redis";
import { LogRotation } from "./logs";
import { OverdueWatch, type WatchedJobSpec } from "./overdue-watch";
import { Reminders } from "./reminders";
import { TaskImage } from "./task-image";
import { resolveSchedule } from "../regime/load";
import { databaseRunners } from "../regime/runners";
import type { Schedule } from "../regime/schedule";
import type { DatabaseConfig, Regime, RedisConfig } from "../regime/schema";

/** Zip tasks the program deploys, with their archives (build/bundle.ts). */
export type TaskArchives = Record<"vacuum" | "analyze" | "reindex" | "purge" | "db-health" | "health-check" | "redis-health" | "overdue-watch", pulumi.asset.Archive>;

export interface MaintenanceRegimeArgs {
  regime: Regime;
  archives: TaskArchives;
  /** SSH private keys of log host groups, by the config key the group names (Pulumi secrets). */
  sshPrivateKeys?: Record<string, pulumi.Input<string>>;
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
  /** `<database>/<task>` -> overdue alarm name, for jobs too sparse for a missed-run alarm (the overdue watcher's). */
  overdueAlarmNames?: pulumi.Output<Record<string, string>>;
  taskImageUris: pulumi.Output<Record<string, string>>;
  dashboardName?: pulumi.Output<string>;
  logrotateConfigs?: pulumi.Output<Record<string, Record<string, string>>>;
  dockerDaemonJson?: Record<string, string>;
  logArchiveBucketName?: pulumi.Output<string>;
  cloudwatchAgentConfig?: string;
  /** `<host group>` (tagged instances) and `<host group>/<ssh host>` -> CloudWatch agent logs config (append-config). */
  cloudwatchAgentLogConfigs?: Record<string, string>;
  /** `<host group>` -> IAM policy to attach to its hosts' roles so they can upload their file backups. */
  fileBackupWriterPolicyArns?: pulumi.Output<Record<string, string>>;
}

const DB_TASKS: DbTaskName[] = ["backup", "verify-backup", "restore-drill", "vacuum", "analyze", "reindex", "purge", "db-health"];

/** The schedule of each task a database has configured, resolved in the regime's timezone. */
export function databaseSchedules(db: DatabaseConfig, timezone: string): Partial<Record<DbTaskName, Schedule>> {
  const section: Record<DbTaskName, { schedule: Parameters<typeof resolveSchedule>[0] } | undefined> = {
    backup: db.backup,
    "verify-backup": db.verify,
    "restore-drill": db.restoreDrill,
    vacuum: db.vacuum,
    analyze: db.analyze,
    reindex: db.reindex,
    purge: db.purge,
    "db-health": db.health,
  };
  const out: Partial<Record<DbTaskName, Schedule>> = {};
  for (const t of DB_TASKS) {
    const s = section[t];
    if (s) out[t] = resolveSchedule(s.schedule, timezone);
  }
  return out;
}

/**
 * Whether any task of a database runs on Fargate: its backup (too big for Lambda's 15 minutes) or its
 * restore drill (rtoMinutes plus its checks longer than Lambda can run); see regime/runners.ts.
 */
export function runsOnFargate(db: DatabaseConfig): boolean {
  const r = databaseRunners(db, `databases[${db.id}]`);
  return r.backup === "fargate" || r.drill === "fargate";
}

export class MaintenanceRegime extends pulumi.ComponentResource {
  public readonly outputs: RegimeOutputs;

  constructor(name: string, args: MaintenanceRegimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:index:MaintenanceRegime", name, {}, opts);
    const r = args.regime;
    const tags = { Regime: r.name, ManagedBy: "maintenance-regime" };
    const parent = { parent: this };

    const alerts = new AlertRouting(`${r.name}-alerts`, { channels: r.alerting, tags }, parent);

    // ------------------------------------------------------------------ databases
    let vault: BackupVault | undefined;
    const taskArns: Record<string, pulumi.Output<string>> = {};
    const scheduleNames: Record<string, pulumi.Output<string>> = {};
    const rpoAlarms: Record<string, pulumi.Output<string>> = {};
    const imageUris: Record<string, pulumi.Output<string>> = {};
    const dashboardTasks: DashboardArgs["tasks"] = [];
    const alarmNames: pulumi.Output<string[]>[] = [];
    const watchedJobs: WatchedJobSpec[] = [];

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
          retention: r.databases.flatMap((db) =>
            tierRules(db.id, db.backup.retention, r.backupVault.archiveAfterDays ? { archive: { afterDays: r.backupVault.archiveAfterDays } } : {}),
          ),
          noncurrentDays: r.backupVault.noncurrentDays,
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
        const network = resolveNetwork(db.network);
        const dbm = new DatabaseMaintenance(
          `${r.name}-db-${db.id}`,
          {
            regime: r.name,
            db,
            schedules: databaseSchedules(db, r.timezone),
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
        for (const [task, t] of Object.entries(dbm.tasks)) {
          const key = `${db.id}/${task}`;
          taskArns[key] = (t.functionArn ?? t.taskDefinitionArn)!;
          scheduleNames[key] = t.scheduleName;
          alarmNames.push(t.alarmNames);
          dashboardTasks.push({ task, database: db.id, functionName: t.functionName });
        }
        rpoAlarms[db.id] = dbm.rpoAlarmName;
        alarmNames.push(dbm.rpoAlarmName.apply((n) => [n]));
        watchedJobs.push(...dbm.watchedJobs);
      }
    }

    // ------------------------------------------------------------------ jobs too sparse for a metric alarm
    let overdue: OverdueWatch | undefined;
    if (vault && watchedJobs.length > 0) {
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
          tags,
        },
        parent,
      );
      taskArns["overdue-watch"] = overdue.task.functionArn!;
      scheduleNames["overdue-watch"] = overdue.task.scheduleName;
      alarmNames.push(overdue.alarmNames, overdue.task.alarmNames);
      dashboardTasks.push({ task: "overdue-watch", functionName: overdue.task.functionName });
    }

    // ------------------------------------------------------------------ redis
    for (const x of r.redis) {
      const rh = new RedisHealth(
        `${r.name}-redis-${x.id}`,
        {
          regime: r.name,
          redis: x,
          schedule: resolveSchedule(x.schedule, r.timezone),
          archive: args.archives[REDIS_TASK],
          network: resolveNetwork(x.network),
          alarmTopics: alerts.topics,
          logRetentionDays: r.logRetentionDays,
          tags,
        },
        parent,
      );
      const key = `redis/${x.id}/${REDIS_TASK}`;
      taskArns[key] = rh.task.functionArn!;
      scheduleNames[key] = rh.task.scheduleName;
      alarmNames.push(rh.task.alarmNames, rh.alarmNames);
      dashboardTasks.push({ task: REDIS_TASK, functionName: rh.task.functionName });
    }

    // ------------------------------------------------------------------ endpoints
    if (r.endpoints) {
      const hc = new HealthChecks(
        `${r.name}-health`,
        {
          regime: r.name,
          endpoints: r.endpoints.checks,
          schedule: resolveSchedule(r.endpoints.schedule, r.timezone),
          archive: args.archives["health-check"],
          alarmTopics: alerts.topics,
          logRetentionDays: r.logRetentionDays,
          tags,
        },
        parent,
      );
      taskArns["health-check"] = hc.task.functionArn!;
      scheduleNames["health-check"] = hc.task.scheduleName;
      alarmNames.push(hc.alarmNames, hc.task.alarmNames);
      dashboardTasks.push({ task: "health-check", functionName: hc.task.functionName });
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
          timezone: r.timezone,
          defaultRetentionDays: r.logRetentionDays,
          alarmTopics: alerts.topics,
          sshPrivateKeys: args.sshPrivateKeys,
          tags,
        },
        parent,
      );
    }

    // ------------------------------------------------------------------ reminders
    if (r.reminders.length > 0) {
      const reminders = new Reminders(
        `${r.name}-reminders`,
        {
          regime: r.name,
          reminders: r.reminders.map((m) => {
            const s = resolveSchedule(m.schedule, r.timezone);
            return { name: m.name, expression: s.expression, timezone: s.timezone, description: s.description, severity: m.severity, checklist: m.checklist };
          }),
          alarmTopics: alerts.topics,
          topicKeyArn: alerts.kmsKeyArn,
          tags,
        },
        parent,
      );
      r.reminders.forEach((m, i) => {
        scheduleNames[`reminder/${m.name}`] = reminders.scheduleNames.apply((n) => n[i]);
      });
    }

    // ------------------------------------------------------------------ dashboard
    let dashboard: Dashboard | undefined;
    if (r.dashboard) {
      const region = aws.getRegionOutput({}, parent).name;
      const arnOf = pulumi
        .all([region, aws.getCallerIdentityOutput({}, parent).accountId, pulumi.all(alarmNames)])
        .apply(([reg, account, lists]) => lists.flat().map((n) => `arn:aws:cloudwatch:${reg}:${account}:alarm:${n}`));
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
      dashboardName: dashboard?.dashboardName,
      logrotateConfigs: logs?.logrotateConfigs,
      dockerDaemonJson: logs?.daemonJson,
      logArchiveBucketName: logs?.archiveBucketName,
      cloudwatchAgentConfig: hostAlarms?.agentConfig,
      cloudwatchAgentLogConfigs: logs && Object.keys(logs.agentLogConfigs).length > 0 ? logs.agentLogConfigs : undefined,
      fileBackupWriterPolicyArns: logs && Object.keys(logs.fileBackupWriterPolicyArns).length > 0 ? sorted(logs.fileBackupWriterPolicyArns) : undefined,
    };
    this.registerOutputs({ ...this.outputs });
  }
}
