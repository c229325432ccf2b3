/**
 * One CloudWatch dashboard per regime: the morning checklist on one screen — alarm states (one
 * widget per 100 alarms, the most one may list), backups
 * per database (succeeded, size), task runs (failed, duration), endpoint health, response times and
 * certificate days, and the 30-day availability of each endpoint that has an uptime target, against
 * the target.
 *
 * Every widget reads a metric that exists anyway: an AWS metric (a Lambda task's Errors and
 * Duration) or a custom metric an alarm reads (tasks/lib/metrics.ts); BackupSizeBytes is the one
 * custom metric published for this dashboard alone. The dashboard costs $3.00 a month at list price;
 * the first 3 dashboards of an account (up to 50 metrics each) are free
 * (https://aws.amazon.com/cloudwatch/pricing/). `dashboard: false` in the config leaves it out.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";

export interface DashboardArgs {
  regime: string;
  region: pulumi.Input<string>;
  databases: string[];
  endpoints: string[];
  /** Endpoints that publish ResponseTime (those with maxResponseMs); default: all. */
  responseTimeEndpoints?: string[];
  /** Endpoints that publish CertificateDaysLeft (those with minCertificateDays); default: all. */
  certificateEndpoints?: string[];
  /** Scheduled tasks; `functionName` for a Lambda task (its AWS/Lambda metrics), none for Fargate (its TaskFailed/TaskDuration). */
  tasks: { task: string; database?: string; functionName?: pulumi.Input<string> }[];
  alarmArns: pulumi.Input<pulumi.Input<string>[]>;
  /** Endpoint name to its uptime target (percent): a 30-day availability widget per endpoint, with the target as a line. */
  uptimeTargets?: Record<string, number>;
}

type Widget = Record<string, unknown>;

/** Metrics and expressions one graph may hold: "Each graph is limited to using a maximum of 500 metrics and expressions" (CloudWatch user guide, "Using math expressions with CloudWatch metrics"). */
export const GRAPH_MAX_METRICS = 500;

/** Alarms one alarm status widget may list: "The array can have 1-100 ARNs" (CloudWatch API reference, Dashboard Body Structure, alarm status widget); PutDashboard refuses more. */
export const ALARM_WIDGET_MAX_ALARMS = 100;

/** Dashboard body; pure so it can be checked without the cloud. */
export function dashboardBody(
  regime: string,
  region: string,
  args: Omit<DashboardArgs, "regime" | "region" | "alarmArns" | "tasks"> & { tasks: { task: string; database?: string; functionName?: string }[] },
  alarmArns: string[],
): string {
  const ns = METRICS_NAMESPACE_DEFAULT;
  const widgets: Widget[] = [];
  let y = 0;
  const row = (w: Widget[], height = 6) => {
    w.forEach((x, i) => widgets.push({ ...x, x: i * (24 / w.length), y, width: 24 / w.length, height }));
    y += height;
  };
  const metric = (title: string, metrics: unknown[][], stat: string, period: number, extra: Widget = {}): Widget => ({
    type: "metric",
    properties: { title, region, view: "timeSeries", stacked: false, stat, period, metrics, ...extra },
  });
  /** A graph per GRAPH_MAX_METRICS metrics: one widget when they fit, else "(1 of n)" and so on. */
  const metrics = (title: string, list: unknown[][], stat: string, period: number, extra: Widget = {}): Widget[] => {
    const n = Math.max(1, Math.ceil(list.length / GRAPH_MAX_METRICS));
    return Array.from({ length: n }, (_, i) => metric(n > 1 ? `${title} (${i + 1} of ${n})` : title, list.slice(i * GRAPH_MAX_METRICS, (i + 1) * GRAPH_MAX_METRICS), stat, period, extra));
  };

  // An alarm status widget holds at most 100 alarms: a regime with more gets one widget per 100.
  const sorted = [...alarmArns].sort();
  const parts = Math.ceil(sorted.length / ALARM_WIDGET_MAX_ALARMS);
  for (let i = 0; i < parts; i++) {
    const alarms = sorted.slice(i * ALARM_WIDGET_MAX_ALARMS, (i + 1) * ALARM_WIDGET_MAX_ALARMS);
    const title = parts > 1 ? `${regime}: alarms (${i + 1} of ${parts})` : `${regime}: alarms`;
    row([{ type: "alarm", properties: { title, alarms, sortBy: "stateUpdatedTimestamp", states: [] } }], 4 + Math.min(6, Math.ceil(alarms.length / 4)));
  }
  if (args.databases.length) {
    row([
      ...metrics("Backups succeeded (per day)", args.databases.map((d) => [ns, "BackupSucceeded", "service", regime, "Task", "backup", "Database", d]), "Sum", 86400),
      ...metrics("Backup size (bytes)", args.databases.map((d) => [ns, "BackupSizeBytes", "service", regime, "Task", "backup", "Database", d]), "Maximum", 86400),
    ]);
  }
  // Per scheduled task (a backup's duration among them): Lambda's own Errors and Duration, or the
  // Fargate task's TaskFailed and TaskDuration (dimensions as the task writes them, Instance included).
  const tasks = [...args.tasks].sort((a, b) => a.task.localeCompare(b.task) || (a.database ?? "").localeCompare(b.database ?? ""));
  const taskMetric = (t: (typeof tasks)[number], lambda: string, own: string) => {
    const label = { label: t.database ? `${t.task} ${t.database}` : t.task };
    return t.functionName
      ? ["AWS/Lambda", lambda, "FunctionName", t.functionName, label]
      : [ns, own, "service", regime, "Task", t.task, ...(t.database ? ["Instance", t.database] : []), label];
  };
  if (tasks.length) {
    row([
      ...metrics("Task runs failed", tasks.map((t) => taskMetric(t, "Errors", "TaskFailed")), "Sum", 3600),
      ...metrics("Task duration (ms)", tasks.map((t) => taskMetric(t, "Duration", "TaskDuration")), "Maximum", 3600),
    ]);
  }
  if (args.endpoints.length) {
    // An empty widget is refused by CloudWatch: response time and certificate widgets only where an endpoint publishes them.
    const nonEmpty = (w: Widget[]) => w.filter((x) => ((x.properties as { metrics: unknown[] }).metrics ?? []).length > 0);
    row(nonEmpty([
      ...metrics("Endpoints healthy (min)", args.endpoints.map((e) => [ns, "Healthy", "service", regime, "Task", "health-check", "Endpoint", e]), "Minimum", 300, { yAxis: { left: { min: 0, max: 1 } } }),
      ...metrics("Response time (ms)", (args.responseTimeEndpoints ?? args.endpoints).map((e) => [ns, "ResponseTime", "service", regime, "Task", "health-check", "Endpoint", e]), "Average", 300),
      ...metrics("Certificate days left", (args.certificateEndpoints ?? args.endpoints).map((e) => [ns, "CertificateDaysLeft", "service", regime, "Task", "health-check", "Endpoint", e]), "Minimum", 3600),
    ]));
  }
  // Availability over 30 days against the target: daily availability, and the running figure since
  // the start of the range (its last point is the 30-day availability), both 100 * healthy / checks.
  const targets = Object.entries(args.uptimeTargets ?? {})
    .filter(([e]) => args.endpoints.includes(e))
    .sort(([a], [b]) => a.localeCompare(b));
  for (let i = 0; i < targets.length; i += 3) {
    row(
      targets.slice(i, i + 3).map(([e, target]) => {
        const dims = ["service", regime, "Task", "health-check", "Endpoint", e];
        return metric(
          `${e} availability (30 days), target ${target} %`,
          [
            [ns, "Healthy", ...dims, { id: "healthy", stat: "Sum", visible: false }],
            [ns, "Healthy", ...dims, { id: "checks", stat: "SampleCount", visible: false }],
            [{ id: "daily", expression: "100 * healthy / checks", label: "daily availability %" }],
            [{ id: "running", expression: "100 * RUNNING_SUM(healthy) / RUNNING_SUM(checks)", label: "availability since the start of the range %" }],
          ],
          "Sum",
          86400,
          {
            start: "-P30D",
            yAxis: { left: { max: 100 } },
            annotations: { horizontal: [{ label: `target ${target} %`, value: target }] },
          },
        );
      }),
    );
  }
  return JSON.stringify({ widgets });
}

export class Dashboard extends pulumi.ComponentResource {
  public readonly dashboardName: pulumi.Output<string>;

  constructor(name: string, args: DashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:dashboard:Dashboard", name, {}, opts);
    const dashboard = new aws.cloudwatch.Dashboard(
      name,
      {
        dashboardName: name,
        dashboardBody: pulumi
          .all([args.region, args.alarmArns, pulumi.all(args.tasks.map((t) => pulumi.output(t.functionName)))])
          .apply(([region, arns, fns]) => dashboardBody(args.regime, region, { ...args, tasks: args.tasks.map((t, i) => ({ task: t.task, database: t.database, functionName: fns[i] })) }, arns)),
      },
      { parent: this },
    );
    this.dashboardName = dashboard.dashboardName;
    this.registerOutputs({ dashboardName: this.dashboardName });
  }
}
