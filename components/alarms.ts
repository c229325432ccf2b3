/**
 * One naming strategy and one set of defaults for every CloudWatch alarm the regime creates:
 * name `<regime>-<resource>-<metric>-<severity>`, the runbook line in the description, actions routed
 * to the severity's topic (alarm and OK) and enabled unless the job the alarm watches is paused, and
 * missing-data treatment always explicit. An alarm on something that should happen (a run, a
 * success, a healthy check: missing data breaching) is gated on its job's watch start (watchGate),
 * so that it neither pages at its creation nor sits in ALARM through a pause.
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
  /**
   * The severities whose topics its actions publish to, when not its own: an alarm on a topic
   * nobody hears pages the others (components/subscription-watch.ts). Empty: no actions (the alarm
   * still shows its state in the console and on the dashboard).
   */
  notify?: Severity[];
  args: Omit<
    aws.cloudwatch.MetricAlarmArgs,
    "name" | "alarmDescription" | "alarmActions" | "okActions" | "actionsEnabled" | "treatMissingData" | "tags"
  >;
}

/** Leads the description of an alarm whose actions are off because its job is paused. */
export const PAUSED_NOTE = "(paused: notifies nobody until the job is resumed)";
/**
 * Follows PAUSED_NOTE on a paused job's alarm on something that should happen (missing data
 * breaching, gated on its watch start: watchGate). While paused it counts every period as good and
 * sits OK. Resuming sets its watch start to the time of the `pulumi up` that resumes the job
 * (components/watch-start.ts), so the alarm judges the resumed job as a new one: it stays OK until
 * its window after the resume has passed, and goes OK -> ALARM (and pages) only if no run lies in it.
 */
export const RESUME_NOTE = "(sits OK while paused; once resumed it is watched from the `pulumi up` that resumes it and pages only if the job misses its first run due after that)";

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
  const targets = (spec.notify ?? [spec.severity]).map((s) => topics[s]);
  return new aws.cloudwatch.MetricAlarm(
    name,
    {
      ...spec.args,
      name,
      alarmDescription: `[${spec.severity}]${spec.paused ? ` ${PAUSED_NOTE}${spec.treatMissingData === "breaching" ? ` ${RESUME_NOTE}` : ""}` : ""} ${spec.runbook}`.slice(0, 1024),
      actionsEnabled: !spec.paused,
      alarmActions: targets,
      okActions: targets,
      treatMissingData: spec.treatMissingData,
      tags: { ...tags, Severity: spec.severity },
    },
    opts,
  );
}

/**
 * Resolves once the registrations pending now have run (setImmediate: after the pending promise
 * jobs). Code that creates many resources awaits it between groups of them: a resource holds a few
 * hundred KB of pending state (a promise per output property) until its registration completes, and
 * its registration cannot complete before the code creating it yields. Awaiting it bounds what is
 * alive at once to one group, and so the garbage collector's work, which grows with what is alive
 * (bench/results/plan.md).
 */
export function registrationsSettled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Alarms created at once; a larger set is created this many at a time, awaiting registrationsSettled
 * between batches: thousands of alarms created in one loop held gigabytes (3,000 hosts, 18,000
 * alarms, ran out of a 4 GB heap). 100 rather than 1,000: the 3,000-host plan took 26-29 s of CPU
 * against 37-42 s, peak 1.7 GB against 2.1 GB (bench/results/plan.md).
 */
export const ALARM_BATCH = 100;

/**
 * The alarms of `specs` (createAlarm with the same topics, options and tags), and their names in the
 * order of `specs`. Up to `batch` (ALARM_BATCH) are created at once; more are created a batch at a time, each
 * once the registrations of the ones before have run (registrationsSettled).
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
      if (i > 0) await registrationsSettled();
      alarms.push(...specs.slice(i, i + batch).map(create));
    }
    return alarms;
  })();
  return pulumi.output(batches.then((alarms) => pulumi.all(alarms.map((a) => a.name))));
}

/**
 * The watch start of a paused job's alarm: the end of time, so that every period of its window lies
 * before it and counts as good (watchGate). A paused job's alarm therefore sits OK while its job
 * does not run; once the job is resumed its watch start is the `pulumi up` that resumed it
 * (components/watch-start.ts jobWatchStart), and if the job then misses its window the alarm goes
 * from OK to ALARM and notifies (an alarm's actions run when it changes state, such as from OK to
 * ALARM: CloudWatch user guide, "Acting on alarm changes"; one that stays in ALARM notifies no more).
 */
export const PAUSED_WATCH_START = "9999-12-31T23:59:59Z";

/**
 * A watch start (ISO 8601, as AWS stamps a resource's creation: an IAM role's `createDate`, a
 * schedule group's `creationDate`, an SSM document's `createdDate`) in whole seconds since the epoch,
 * the unit of metric math's EPOCH. Throws naming `what` when it is no time.
 */
export function watchStartSeconds(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new Error(`${what}: watch start "${iso}" is not an ISO 8601 time`);
  return Math.floor(ms / 1000);
}

/** One metric an alarm's metric math reads (its id names it in the expression). */
export interface GateMetric {
  id: string;
  metric: { namespace: string; metricName: string; dimensions: pulumi.Input<Record<string, pulumi.Input<string>>>; stat: string; period: number };
}

/**
 * The metric queries of an alarm on something that should happen (a run, a success, a healthy
 * check), gated on the job's watch start, so that a new job does not page before it was ever due:
 *
 *   watched = IF(EPOCH(<first metric>) < <watch start, s>, 1, <value>)
 *
 * `value` is the period's count of what should happen, its missing data filled with 0 (default
 * `FILL(<first metric>, 0)`): every period after the watch start holds an explicit value, so "no
 * run" is an explicit breaching 0, not missing data (and CloudWatch's evaluation range for missing
 * data, which can need more periods than evaluationPeriods before it pages, plays no part: CloudWatch
 * user guide, "Configuring how CloudWatch alarms treat missing data"). A period that starts before
 * the watch start is 1: one success, one healthy check, as good as a run. The alarm's condition
 * (fewer than 1) and its window stay what they were: after the watch start the alarm pages exactly
 * when it did (regime/promises.ts, "CloudWatch model"); before it, it stays OK.
 *
 * EPOCH and its kin "take the period and range of the time series and return a new non-sparse time
 * series where each value is based on its timestamp" (CloudWatch user guide, "Using metric math",
 * functions MINUTE .. EPOCH): there is a value for every period even when the metric has none. FILL
 * "fills the missing values of a time series" (same page); IF(TS < S, S, TS) takes the third
 * argument where the condition is false and drops the point where that has none (same page, "Using
 * IF expressions"). The guide does not say what FILL gives for a window with no data at all: should
 * it give no points, the periods after the watch start are missing, and the alarm's treatMissingData
 * "breaching" counts them as breaching all the same (the periods before it hold EPOCH's 1s): the
 * callers keep "breaching".
 *
 * `since`: the watch start (ISO 8601, components/watch-start.ts jobWatchStart): the creation date of
 * a resource made with the job (stamped by AWS; for an SSH host's file backup, by the local command
 * that follows its first install), or the `pulumi up` that last resumed the job, whichever is later,
 * kept across later deploys; `paused`: the job is paused on purpose, its watch
 * start is PAUSED_WATCH_START and every period counts as good. `returnData` false when the caller
 * builds its result from `watched` (the availability windows: 100 * watched). CloudWatch bills a
 * metric math alarm per metric it reads: the gate reads no metric more than `metrics` do.
 */
export function watchGate(a: {
  metrics: GateMetric[];
  value?: string;
  since: pulumi.Input<string>;
  paused?: boolean;
  label: string;
  /** For the error of a `since` that is no time: the alarm's resource. */
  what: string;
  returnData?: boolean;
}): pulumi.Output<aws.types.input.cloudwatch.MetricAlarmMetricQuery[]> {
  if (a.metrics.length === 0) throw new Error(`${a.what}: a watch gate needs a metric`);
  const first = a.metrics[0].id;
  const value = a.value ?? `FILL(${first}, 0)`;
  return pulumi.output(a.paused ? PAUSED_WATCH_START : a.since).apply((since) => [
    ...a.metrics.map((m) => ({ id: m.id, metric: m.metric, returnData: false })),
    { id: "watched", expression: `IF(EPOCH(${first}) < ${watchStartSeconds(since, a.what)}, 1, ${value})`, label: a.label, returnData: a.returnData ?? true },
  ]);
}
