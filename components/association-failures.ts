/**
 * The association-failure watch: a State Manager association of a host group (logrotate configs,
 * CloudWatch agent config, file backups) that fails on an instance pages. Part of the logs component
 * (components/logs.ts); the promise model (components/promises.ts) reads the same facts.
 *
 * For a file backup it is what watches a single tagged instance: their success metric carries no host
 * (components/file-backups.ts), so the backup's missed-run alarm pages only when no instance backed up.
 * It does not see an instance on which the backup never starts (SSM agent dead or unregistered):
 * State Manager records no failed run there. SSH hosts have no association: each has its own
 * missed-run alarm (or overdue-watch job) on its Host dimension instead.
 */
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, type Severity } from "./alarms";
import { eventQueue } from "./event-queue";
import { physicalName } from "./naming";
import { INSTANCE_STREAM, renderAgentLogsConfig, type HostGroup } from "../regime/logs";
import type { LogsScope } from "./host-delivery";

/** Severity of a host group's association-failure alarm: a failed config or backup run on an instance (the file backup's own missed-run alarm pages at its severity). */
export const ASSOCIATION_FAILURE_SEVERITY: Severity = "P2";
/** Window of the association-failure alarm: one failure event in 5 minutes. */
export const ASSOCIATION_FAILURE_WINDOW = { period: 300, evaluationPeriods: 1 } as const;

/** Resource part of a host group's association-failure alarm: `<regime>-logs-<group>-associations-failed-P2`. */
export function associationAlarmResource(group: string): string {
  return `logs-${group}-associations`;
}

/** The State Manager associations a host group gets (tagged instances only): logrotate configs, the CloudWatch agent config, one per file backup. */
export function hostGroupAssociations(g: HostGroup): string[] {
  if (!g.target) return [];
  return [
    ...(g.logSets.length > 0 || g.docker ? ["logrotate"] : []),
    ...(renderAgentLogsConfig(g, INSTANCE_STREAM) ? ["cloudwatch-agent"] : []),
    ...g.fileBackups.filter((b) => !b.paused).map((b) => `file-backup ${b.name}`),
  ];
}

/**
 * Pages when a State Manager association of the group fails on an instance: an EventBridge rule on
 * the group's associations' "EC2 State Manager Instance Association State Change" events with status
 * Failed, delivering each event to an SQS queue of the group's own (kept 14 days: the runbook reads
 * the failed instance and association there), and an alarm on the rule's `Invocations` (AWS/Events,
 * dimension RuleName; a free metric) at ASSOCIATION_FAILURE_SEVERITY. A failed run pages within one
 * period plus CloudWatch's minute.
 *
 * The rule, queue and target: components/event-queue.ts (why a queue and `Invocations`). Missing
 * data is not breaching: no failure, no data point.
 *
 * An association that stops running altogether emits no event: the overdue watcher sees that
 * (components/association-watch.ts). Nothing is created for a group without associations (call it
 * after every association exists).
 */
export function associationFailureWatch(scope: LogsScope, g: HostGroup): void {
  const { name, args, tags, parent } = scope;
  const ids = scope.associations.of(g.name);
  if (ids.length === 0) return;
  const queueName = physicalName(`${args.regime}-${g.name}-association-failed`, 80);
  const rule = eventQueue(
    `${name}-${g.name}-association-failed`,
    {
      ruleName: physicalName(`${args.regime}-${g.name}-association-failed`, 64),
      queueName,
      description: `Runs of the State Manager associations of ${args.regime}/${g.name} (logrotate, CloudWatch agent, file backups) that failed on an instance`,
      eventPattern: pulumi.all(ids).apply((associationIds) =>
        JSON.stringify({ source: ["aws.ssm"], "detail-type": ["EC2 State Manager Instance Association State Change"], detail: { "association-id": associationIds, status: ["Failed"] } }),
      ),
      sid: "FailureEventsFromTheRule",
      tags,
    },
    parent,
  );
  createAlarm(
    args.regime,
    {
      resource: associationAlarmResource(g.name),
      metric: "failed",
      severity: ASSOCIATION_FAILURE_SEVERITY,
      runbook: `A State Manager association of ${args.regime}/${g.name} (logrotate configs, CloudWatch agent config or a file backup) failed on an instance. The failure events wait in the SQS queue ${queueName} (14 days): read the instance and association there, then the association's execution history in State Manager and the failed instance's output (a missing path, a logrotate config error, the instance role).`,
      treatMissingData: "notBreaching",
      args: { namespace: "AWS/Events", metricName: "Invocations", dimensions: { RuleName: rule.name }, statistic: "Sum", ...ASSOCIATION_FAILURE_WINDOW, comparisonOperator: "GreaterThanOrEqualToThreshold", threshold: 1 },
    },
    args.alarmTopics,
    { parent },
    tags,
  );
}
