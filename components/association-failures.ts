/**
 * The association-failure watch: a State Manager association of a host group (logrotate configs,
 * CloudWatch agent config, file backups) that fails on an instance pages. Part of the logs component
 * (components/logs.ts); the promise model (components/promises.ts) reads the same facts.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, type Severity } from "./alarms";
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
 * Failed, and an alarm on the rule's MatchedEvents (AWS/Events, dimension RuleName; a free metric)
 * at ASSOCIATION_FAILURE_SEVERITY. A failed run pages within one period plus CloudWatch's minute.
 * An association that stops running altogether emits no event: nothing sees that.
 * Nothing is created for a group without associations (call it after every association exists).
 */
export function associationFailureWatch(scope: LogsScope, g: HostGroup): void {
  const { name, args, tags, parent } = scope;
  const ids = scope.associations.of(g.name);
  if (ids.length === 0) return;
  const rule = new aws.cloudwatch.EventRule(
    `${name}-${g.name}-association-failed`,
    {
      name: physicalName(`${args.regime}-${g.name}-association-failed`, 64),
      description: `Runs of the State Manager associations of ${args.regime}/${g.name} (logrotate, CloudWatch agent, file backups) that failed on an instance`,
      eventPattern: pulumi.all(ids).apply((associationIds) =>
        JSON.stringify({ source: ["aws.ssm"], "detail-type": ["EC2 State Manager Instance Association State Change"], detail: { "association-id": associationIds, status: ["Failed"] } }),
      ),
      tags,
    },
    { parent },
  );
  createAlarm(
    args.regime,
    {
      resource: associationAlarmResource(g.name),
      metric: "failed",
      severity: ASSOCIATION_FAILURE_SEVERITY,
      runbook: `A State Manager association of ${args.regime}/${g.name} (logrotate configs, CloudWatch agent config or a file backup) failed on an instance. Open State Manager, the association's execution history, and read the failed instance's output (a missing path, a logrotate config error, the instance role).`,
      treatMissingData: "notBreaching",
      args: { namespace: "AWS/Events", metricName: "MatchedEvents", dimensions: { RuleName: rule.name }, statistic: "Sum", ...ASSOCIATION_FAILURE_WINDOW, comparisonOperator: "GreaterThanOrEqualToThreshold", threshold: 1 },
    },
    args.alarmTopics,
    { parent },
    tags,
  );
}
