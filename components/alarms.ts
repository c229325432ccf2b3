/**
 * One naming strategy and one set of defaults for every CloudWatch alarm the regime creates:
 * name `<regime>-<resource>-<metric>-<severity>`, the runbook line in the description, actions routed
 * to the severity's topic (alarm and OK) and enabled unless the job the alarm watches is paused, and
 * missing-data treatment always explicit.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Severity } from "../regime/severity";

export { SEVERITIES, type Severity } from "../regime/severity";

/** SNS topic ARN per severity (alerting component output). */
export type AlertTopics = Record<Severity, pulumi.Input<string>>;

export interface AlarmSpec {
  /** Resource part of the name, e.g. `backup-crm` or `endpoint-api`. */
  resource: string;
  /** Metric part of the name, e.g. `errors`, `missed-run`. */
  metric: string;
  severity: Severity;
  /** What it means and what to do: shown in the notification. */
  runbook: string;
  treatMissingData: "breaching" | "notBreaching" | "ignore" | "missing";
  /**
   * The job the alarm watches is paused (`paused: true`): the alarm keeps evaluating but its actions
   * are disabled, so the silence of a job stopped on purpose pages nobody.
   */
  paused?: boolean;
  args: Omit<
    aws.cloudwatch.MetricAlarmArgs,
    "name" | "alarmDescription" | "alarmActions" | "okActions" | "actionsEnabled" | "treatMissingData" | "tags"
  >;
}

/** Leads the description of an alarm whose actions are off because its job is paused. */
export const PAUSED_NOTE = "(paused: notifies nobody until the job is resumed)";

export function alarmName(regime: string, spec: Pick<AlarmSpec, "resource" | "metric" | "severity">): string {
  return `${regime}-${spec.resource}-${spec.metric}-${spec.severity}`;
}

export function createAlarm(
  regime: string,
  spec: AlarmSpec,
  topics: AlertTopics,
  opts: pulumi.CustomResourceOptions,
  tags: Record<string, string> = {},
): aws.cloudwatch.MetricAlarm {
  const name = alarmName(regime, spec);
  const topic = topics[spec.severity];
  return new aws.cloudwatch.MetricAlarm(
    name,
    {
      ...spec.args,
      name,
      alarmDescription: `[${spec.severity}]${spec.paused ? ` ${PAUSED_NOTE}` : ""} ${spec.runbook}`.slice(0, 1024),
      actionsEnabled: !spec.paused,
      alarmActions: [topic],
      okActions: [topic],
      treatMissingData: spec.treatMissingData,
      tags: { ...tags, Severity: spec.severity },
    },
    opts,
  );
}

/**
 * Alarms created at once; a larger set is created this many at a time. Every resource holds a few
 * hundred KB of pending state (a promise per output property) until its registration completes, and
 * a registration cannot complete before the code that creates the resources yields: thousands of
 * alarms created in one loop held gigabytes (3,000 hosts, 18,000 alarms, ran out of a 4 GB heap).
 */
export const ALARM_BATCH = 1000;

/**
 * The alarms of `specs` (createAlarm with the same topics, options and tags), and their names in the
 * order of `specs`. Up to `batch` (ALARM_BATCH) are created at once; more are created a batch at a time, each
 * once the registrations of the ones before have run (setImmediate: after the pending promise jobs).
 * The names output depends on every alarm, so whatever reads it (a dashboard, a component's registered
 * outputs) waits for all of them.
 */
export function createAlarms(
  regime: string,
  specs: AlarmSpec[],
  topics: AlertTopics,
  opts: pulumi.CustomResourceOptions,
  tags: Record<string, string> = {},
  batch = ALARM_BATCH,
): pulumi.Output<string[]> {
  const create = (s: AlarmSpec) => createAlarm(regime, s, topics, opts, tags);
  if (specs.length <= batch) return pulumi.all(specs.map(create).map((a) => a.name));
  const batches = (async () => {
    const alarms: aws.cloudwatch.MetricAlarm[] = [];
    for (let i = 0; i < specs.length; i += batch) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      alarms.push(...specs.slice(i, i + batch).map(create));
    }
    return alarms;
  })();
  return pulumi.output(batches.then((alarms) => pulumi.all(alarms.map((a) => a.name))));
}
