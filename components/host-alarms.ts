/**
 * Host and application alarms: a host that fails its EC2 status checks, stops or is terminated, or
 * sends no status checks at all (a wrong or replaced instance id), and
 * the guides' "alert at CPU > 80 %, memory > 85 %, disk > 85 %, API response time > 500 ms, error
 * rate > 1 % / 5 %, database connections > 80".
 *
 * CPU comes from EC2's own metrics; memory and disk from the CloudWatch agent, whose configuration
 * (`agentConfig` output) this component renders so that the agent publishes exactly the dimensions
 * the alarms watch. Applications are watched through their Application Load Balancer metrics.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as aws from "@pulumi/aws";
import { eventQueue } from "./event-queue";
import { physicalName } from "./naming";
import { createAlarms, type AlarmSpec, type AlertTopics, type Severity } from "./alarms";
import { BASIC_MONITORING_MINUTES, type Regime } from "../regime/schema";

/** A host as the config gives it (regime/schema.ts `hosts`): instance id, CPU/memory/disk levels (warn P2, crit P1, minutes held) and the disk's mount point. */
export type HostSpec = Regime["hosts"][number];
/** Warn and crit levels in percent and the minutes the level must hold before paging (seed 000: "> 90 % for > 10 minutes"). */
export type ThresholdPair = HostSpec["cpu"];
/** An application as the config gives it (regime/schema.ts `applications`): its ALB ARN suffix, optional target group, 5xx rate and p90 latency levels. */
export type ApplicationSpec = Regime["applications"][number];

export interface DatabaseInstanceSpec {
  name: string;
  rdsInstanceId: string;
  maxConnections?: number;
}

export interface HostAlarmsArgs {
  regime: string;
  hosts: HostSpec[];
  applications: ApplicationSpec[];
  databases: DatabaseInstanceSpec[];
  alarmTopics: AlertTopics;
  tags?: Record<string, string>;
}

/** Severity of the warning and the critical level of a pair (hosts, applications, RDS instances; log groups' error rates). */
export const WARN: Severity = "P2";
export const CRIT: Severity = "P1";

/** CloudWatch agent namespace and the dimensions its config below makes it publish. */
export const AGENT_NAMESPACE = "CWAgent";

/**
 * The alarm window of a level that must hold `minutes`: periods of one minute when the window allows,
 * so short windows still alarm quickly, for metrics sent every minute (the CloudWatch agent's, every
 * 60 s below; EC2's CPUUtilization under detailed monitoring). `everyMinutes` 5: a metric sent every 5
 * minutes (EC2's CPUUtilization under basic monitoring, EC2's default): 5-minute periods, as many as
 * `minutes` holds (the config refuses minutes that are no multiple of 5 there). One-minute periods over
 * 5-minute data would hold one point in five, and CloudWatch fills the rest as missing and evaluates the
 * points it has: one 5-minute average over the level would page (CloudWatch user guide, "How alarm
 * state is evaluated when data is missing").
 */
export function levelWindow(minutes: number, everyMinutes: 1 | 5 = 1): { period: number; evaluationPeriods: number } {
  if (everyMinutes === 1 && minutes <= 60) return { period: 60, evaluationPeriods: minutes };
  return { period: 300, evaluationPeriods: Math.ceil(minutes / 5) };
}

/** Seconds between two StatusCheckFailed data points: EC2 sends status check metrics every minute at no charge, whatever the monitoring (EC2 user guide, "Status checks for Amazon EC2 instances"). */
export const STATUS_CHECK_PERIOD_SECONDS = 60;

/**
 * A host's status-check alarm: `StatusCheckFailed` (1 when the system, instance or attached EBS
 * status check fails) at 1 or more in every minute of `statusCheck.minutes`, at
 * `statusCheck.severity`. Missing data is missing, as AWS advises for EC2 metrics (CloudWatch user
 * guide, "Configuring how CloudWatch alarms treat missing data": EC2's metric reports can pause while
 * the instance is healthy): a host that is stopped or terminated sends no status checks, and
 * hostStoppedAlarm and hostSilentAlarm page that instead.
 */
export function statusCheckAlarm(h: HostSpec): AlarmSpec {
  return {
    resource: `host-${h.name}`,
    metric: "status-check",
    severity: h.statusCheck.severity,
    runbook: `${h.name} (${h.instanceId}) failed an EC2 status check for ${h.statusCheck.minutes} min: unreachable, or on failing hardware. Check its status checks in the EC2 console (aws ec2 describe-instance-status --instance-ids ${h.instanceId} --include-all-instances); a failed system check: stop and start it to move it to other hardware; a failed instance check: look at its console output (aws ec2 get-console-output) for a full disk, kernel panic or bad network configuration; reboot if it stays unreachable.`,
    treatMissingData: "missing",
    args: {
      namespace: "AWS/EC2",
      metricName: "StatusCheckFailed",
      dimensions: { InstanceId: h.instanceId },
      statistic: "Maximum",
      period: STATUS_CHECK_PERIOD_SECONDS,
      evaluationPeriods: h.statusCheck.minutes,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: 1,
    },
  };
}

/**
 * Window of a host's not-reporting alarm: three 5-minute periods without a single StatusCheckFailed
 * data point. EC2 sends that metric every minute while the instance runs and none while it is
 * stopped, terminated, or when the id names no instance (EC2 user guide, "Status checks for Amazon EC2
 * instances": https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-system-instance-status-check.html).
 * A pause in EC2's reports shorter than 15 minutes leaves a data point in one of the periods and
 * does not page; a host gone silent pages at most 20 minutes after its last data point (the period
 * that holds it, then three empty ones) and a minute of evaluation.
 */
export const HOST_SILENT_WINDOW = { period: 300, evaluationPeriods: 3 } as const;

/**
 * Pages when a host sends no EC2 status checks for HOST_SILENT_WINDOW: the instance id is wrong in
 * the config (a typo of a real-looking id), the instance was replaced (a rebuild, an autoscaling
 * group: a new id, the old one terminated), or it is stopped, also one stopped before the stop watch
 * existed. Without it every alarm of such a host (CPU, memory, disk, status check: missing data is
 * missing) sits in INSUFFICIENT_DATA and nothing pages. `StatusCheckFailed` SampleCount under 1 with
 * missing data breaching (CloudWatch user guide, "Configuring how CloudWatch alarms treat missing
 * data": https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data):
 * the only thing that breaches is the silence. `<regime>-host-<name>-not-reporting-<severity>` at
 * statusCheck.severity, named like the host's other alarms so a window or mute that selects them
 * covers a planned stop; a host stopped for longer than any window belongs out of `hosts` until it
 * runs again (a muted alarm still in ALARM when its window ends pages then). No watch start gates it
 * (components/alarms.ts watchGate, for the metrics of jobs the deploy creates): EC2 sends the metric
 * from the instance's launch, so a running host is OK from the first evaluation, and an id that never
 * reported is the fault itself, paged right after the deploy.
 */
export function hostSilentAlarm(h: HostSpec): AlarmSpec {
  return {
    resource: `host-${h.name}`,
    metric: "not-reporting",
    severity: h.statusCheck.severity,
    runbook: `${h.name} (${h.instanceId}) has sent no EC2 status checks for ${(HOST_SILENT_WINDOW.period * HOST_SILENT_WINDOW.evaluationPeriods) / 60} min: none of its alarms can see it. Look it up (aws ec2 describe-instances --instance-ids ${h.instanceId}): InvalidInstanceID.NotFound or terminated: the id is wrong or the instance was replaced, put the running instance's id in hosts[].instanceId; stopped: start it (aws ec2 start-instances --instance-ids ${h.instanceId}), or take it out of hosts while it stays down.`,
    treatMissingData: "breaching",
    args: {
      namespace: "AWS/EC2",
      metricName: "StatusCheckFailed",
      dimensions: { InstanceId: h.instanceId },
      statistic: "SampleCount",
      ...HOST_SILENT_WINDOW,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
    },
  };
}

/** EC2 instance states that take a host out of service ("EC2 Instance State-change Notification" events, EC2 user guide, "Amazon EC2 instance state changes"). */
export const HOST_DOWN_STATES = ["stopping", "stopped", "shutting-down", "terminated"] as const;
/** Window of a host-stopped alarm: one state-change event in a minute. */
export const HOST_STOPPED_WINDOW = { period: 60, evaluationPeriods: 1 } as const;

/**
 * Pages when a host stops or is terminated (a stop by hand, a scheduled retirement, a spot
 * interruption, a shutdown from inside): an EventBridge rule per host on its "EC2 Instance
 * State-change Notification" events in HOST_DOWN_STATES, delivered to an SQS queue of its own (kept
 * 14 days, the runbook reads when), and an alarm `<regime>-host-<name>-stopped-<severity>` on the
 * rule's `Invocations` (AWS/Events, RuleName; free) at `statusCheck.severity`, as the
 * association-failure watch does (components/event-queue.ts: the rule, queue and target, and why
 * a queue and `Invocations`). One a host, named like its other alarms, so a mute or maintenance window that
 * selects the host's alarms covers its planned stop. A stopped host sends no data at all: its metric
 * alarms cannot see it without treating missing data as breaching, which pages healthy hosts when
 * EC2's reports pause; hostSilentAlarm does, over a 15-minute window, and this rule pages the stop
 * within minutes. It sees only the instance of the configured id, from the day the rule exists.
 * Events of the stack's own region.
 */
export function hostStoppedAlarm(name: string, args: Pick<HostAlarmsArgs, "regime" | "tags">, h: HostSpec, parent: pulumi.Resource): AlarmSpec {
  const queueName = physicalName(`${args.regime}-host-${h.name}-stopped`, 80);
  const rule = eventQueue(
    `${name}-${h.name}-stopped`,
    {
      ruleName: physicalName(`${args.regime}-host-${h.name}-stopped`, 64),
      queueName,
      description: `${args.regime}: host ${h.name} (${h.instanceId}) stopping, stopped or terminated`,
      eventPattern: JSON.stringify({ source: ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], detail: { "instance-id": [h.instanceId], state: [...HOST_DOWN_STATES] } }),
      sid: "StateChangesFromTheRule",
      tags: args.tags ?? {},
    },
    parent,
  );
  return {
    resource: `host-${h.name}`,
    metric: "stopped",
    severity: h.statusCheck.severity,
    runbook: `${h.name} (${h.instanceId}) is stopping, stopped or terminated. Its state-change events wait in the SQS queue ${queueName} (14 days). Start it again (aws ec2 start-instances --instance-ids ${h.instanceId}), or, if it was replaced, put the new instance id in hosts[].instanceId; a stop on purpose belongs in a maintenance window or mute.`,
    treatMissingData: "notBreaching",
    args: { namespace: "AWS/Events", metricName: "Invocations", dimensions: { RuleName: rule.name }, statistic: "Sum", ...HOST_STOPPED_WINDOW, comparisonOperator: "GreaterThanOrEqualToThreshold", threshold: 1 },
  };
}

export class HostAlarms extends pulumi.ComponentResource {
  public readonly alarmNames: pulumi.Output<string[]>;
  /** CloudWatch agent configuration (JSON) that publishes the memory and disk metrics watched here. */
  public readonly agentConfig: string;

  constructor(name: string, args: HostAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:monitoring:HostAlarms", name, {}, opts);
    const specs: AlarmSpec[] = [];
    const add = (spec: AlarmSpec) => specs.push(spec);

    for (const h of args.hosts) {
      const levels: [Severity, "warn" | "crit"][] = [
        [WARN, "warn"],
        [CRIT, "crit"],
      ];
      for (const [severity, level] of levels) {
        add({
          resource: `host-${h.name}`,
          metric: "cpu",
          severity,
          runbook: `CPU of ${h.name} (${h.instanceId}) above ${h.cpu[level]} % for ${h.cpu.minutes} min. Find the process (top, docker stats), check recent deploys and slow queries; scale or restart the service if it does not recover.`,
          treatMissingData: "missing",
          args: {
            namespace: "AWS/EC2",
            metricName: "CPUUtilization",
            dimensions: { InstanceId: h.instanceId },
            statistic: "Average",
            ...levelWindow(h.cpu.minutes, h.detailedMonitoring ? 1 : BASIC_MONITORING_MINUTES),
            comparisonOperator: "GreaterThanThreshold",
            threshold: h.cpu[level],
          },
        });
        add({
          resource: `host-${h.name}`,
          metric: "memory",
          severity,
          runbook: `Memory of ${h.name} above ${h.memory[level]} % for ${h.memory.minutes} min. Look for leaks (dmesg | grep -i "out of memory", docker stats); restart the leaking container, raise its limit or the instance size.`,
          treatMissingData: "missing",
          args: {
            namespace: AGENT_NAMESPACE,
            metricName: "mem_used_percent",
            dimensions: { InstanceId: h.instanceId },
            statistic: "Average",
            ...levelWindow(h.memory.minutes),
            comparisonOperator: "GreaterThanThreshold",
            threshold: h.memory[level],
          },
        });
        add({
          resource: `host-${h.name}`,
          metric: "disk",
          severity,
          runbook: `Disk ${h.diskPath} of ${h.name} above ${h.disk[level]} % full for ${h.disk.minutes} min. Clean up logs and old local backups (docker system prune, check log rotation); grow the volume if it keeps rising.`,
          treatMissingData: "missing",
          args: {
            namespace: AGENT_NAMESPACE,
            metricName: "disk_used_percent",
            dimensions: { InstanceId: h.instanceId, path: h.diskPath },
            statistic: "Maximum",
            ...levelWindow(h.disk.minutes),
            comparisonOperator: "GreaterThanThreshold",
            threshold: h.disk[level],
          },
        });
      }
    }

    for (const h of args.hosts) add(statusCheckAlarm(h));
    for (const h of args.hosts) add(hostStoppedAlarm(name, args, h, this));
    for (const h of args.hosts) add(hostSilentAlarm(h));

    for (const a of args.applications) {
      const lb = { LoadBalancer: a.loadBalancer, ...(a.targetGroup ? { TargetGroup: a.targetGroup } : {}) };
      for (const [severity, level] of [
        [WARN, "warn"],
        [CRIT, "crit"],
      ] as const) {
        add({
          resource: `app-${a.name}`,
          metric: "error-rate",
          severity,
          runbook: `More than ${a.errorRatePercent[level]} % of requests to ${a.name} failed with 5xx over 5 min. Review error logs, recent deploys and the database; roll back if a deploy caused it.`,
          treatMissingData: "notBreaching",
          args: {
            evaluationPeriods: 1,
            comparisonOperator: "GreaterThanThreshold",
            threshold: a.errorRatePercent[level],
            metricQueries: [
              { id: "errors", returnData: false, metric: { namespace: "AWS/ApplicationELB", metricName: "HTTPCode_Target_5XX_Count", dimensions: lb, stat: "Sum", period: 300 } },
              { id: "requests", returnData: false, metric: { namespace: "AWS/ApplicationELB", metricName: "RequestCount", dimensions: lb, stat: "Sum", period: 300 } },
              { id: "rate", expression: "IF(requests > 0, 100 * errors / requests, 0)", label: "5xx %", returnData: true },
            ],
          },
        });
        add({
          resource: `app-${a.name}`,
          metric: "latency",
          severity,
          runbook: `p90 response time of ${a.name} above ${a.latencyMs[level]} ms over 5 min. Check slow queries (pg_stat_statements), CPU and memory of the hosts, and external APIs.`,
          treatMissingData: "notBreaching",
          args: {
            namespace: "AWS/ApplicationELB",
            metricName: "TargetResponseTime",
            dimensions: lb,
            extendedStatistic: "p90",
            period: 300,
            evaluationPeriods: 1,
            comparisonOperator: "GreaterThanThreshold",
            threshold: a.latencyMs[level] / 1000,
          },
        });
      }
    }

    for (const d of args.databases) {
      const dims = { DBInstanceIdentifier: d.rdsInstanceId };
      add({
        resource: `rds-${d.name}`,
        metric: "cpu",
        severity: WARN,
        runbook: `CPU of database ${d.name} above 80 % for 10 min. Look for slow or long-running queries (pg_stat_activity, pg_stat_statements) and missing indexes.`,
        treatMissingData: "missing",
        args: { namespace: "AWS/RDS", metricName: "CPUUtilization", dimensions: dims, statistic: "Average", period: 60, evaluationPeriods: 10, comparisonOperator: "GreaterThanThreshold", threshold: 80 },
      });
      add({
        resource: `rds-${d.name}`,
        metric: "free-storage",
        severity: CRIT,
        runbook: `Database ${d.name} has less than 10 GiB of free storage. Purge old data, check for bloat (db-health) and grow the allocated storage before it fills.`,
        treatMissingData: "missing",
        args: { namespace: "AWS/RDS", metricName: "FreeStorageSpace", dimensions: dims, statistic: "Minimum", period: 300, evaluationPeriods: 1, comparisonOperator: "LessThanThreshold", threshold: 10 * 1024 ** 3 },
      });
      if (d.maxConnections !== undefined) {
        add({
          resource: `rds-${d.name}`,
          metric: "connections",
          severity: WARN,
          runbook: `More than ${d.maxConnections} connections to database ${d.name}. Investigate connection leaks (pg_stat_activity grouped by application_name) and pool sizes.`,
          treatMissingData: "missing",
          args: { namespace: "AWS/RDS", metricName: "DatabaseConnections", dimensions: dims, statistic: "Maximum", period: 300, evaluationPeriods: 1, comparisonOperator: "GreaterThanThreshold", threshold: d.maxConnections },
        });
      }
    }

    // Each metric sent with exactly the dimensions its alarm reads, and no other set (each set is a
    // custom metric, $0.30 a month): mem_used_percent carries InstanceId alone (the global
    // append_dimensions, which also leaves out the host dimension). disk_used_percent comes with path
    // and fstype (drop_device removes device): the agent rolls it up to [InstanceId, path] and, with
    // drop_original_metrics, does not send the original (amazon-cloudwatch-agent
    // plugins/outputs/cloudwatch: ProcessRollup, IsDropping; agent 1.247350.0 or later, its first release with the option). An [InstanceId]
    // roll-up would add a disk metric averaged over the paths, which nothing reads.
    this.agentConfig = JSON.stringify(
      {
        metrics: {
          namespace: AGENT_NAMESPACE,
          append_dimensions: { InstanceId: "${aws:InstanceId}" },
          metrics_collected: {
            mem: { measurement: ["mem_used_percent"], metrics_collection_interval: 60 },
            disk: {
              measurement: ["used_percent"],
              resources: [...new Set(args.hosts.map((h) => h.diskPath))].sort(),
              drop_device: true,
              drop_original_metrics: ["disk_used_percent"],
              ignore_file_system_types: ["sysfs", "devtmpfs", "tmpfs", "overlay"],
              metrics_collection_interval: 60,
            },
          },
          aggregation_dimensions: [["InstanceId", "path"]],
        },
      },
      null,
      2,
    );
    this.alarmNames = createAlarms(args.regime, specs, args.alarmTopics, { parent: this }, args.tags);
    this.registerOutputs({ alarmNames: this.alarmNames, agentConfig: this.agentConfig });
  }
}
