/**
 * A job's run history from a CloudWatch metric it (or AWS for it) sends on each success: the newest
 * hour in which the metric has a data point above 0. Jobs that write no run marker are read this way
 * by the overdue watcher: a reminder (EventBridge Scheduler publishes its checklist straight to SNS)
 * through the Scheduler's own `AWS/Scheduler InvocationAttemptCount`, which CloudWatch keeps per
 * schedule group (dimension ScheduleGroup); a file backup through the success metric the hosts send
 * after each backup (regime/file-backups.ts FILE_BACKUP_METRIC).
 *
 * Read with GetMetricData at a 1-hour period (statistic Sum), whose data points CloudWatch keeps 455
 * days (METRIC_HOURLY, regime/limits.ts): a quarterly schedule's last run is always within reach.
 */
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { taskClientConfig } from "./s3";
import { METRIC_HOURLY } from "../../regime/limits";

/**
 * The CloudWatch client of a task: region and credentials as s3Client takes them, and
 * AWS_ENDPOINT_URL_CLOUDWATCH / AWS_ENDPOINT_URL (passed explicitly so a value given on the command
 * line counts too) for a local server.
 */
export function cloudWatchClient(env: Record<string, string | undefined>): CloudWatchClient {
  return new CloudWatchClient(taskClientConfig(env, "CLOUDWATCH"));
}

/** A metric as CloudWatch names it: namespace, metric name and its full dimension set (name -> value). */
export interface MetricRef {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
}

/** A GetMetricData query of `metric`'s hourly Sum. */
function query(id: string, metric: MetricRef) {
  return {
    Id: id,
    MetricStat: {
      Metric: { Namespace: metric.namespace, MetricName: metric.name, Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })) },
      Period: METRIC_HOURLY.periodSeconds,
      Stat: "Sum",
    },
    ReturnData: true,
  };
}

/**
 * A Lambda function's runs (AWS/Lambda Invocations, free, kept like any metric) and its failed runs
 * (AWS/Lambda Errors): a scheduled task's run history without a marker of its own.
 */
export function lambdaRuns(functionName: string): { metric: MetricRef; failures: MetricRef } {
  const dimensions = { FunctionName: functionName };
  return { metric: { namespace: "AWS/Lambda", name: "Invocations", dimensions }, failures: { namespace: "AWS/Lambda", name: "Errors", dimensions } };
}

/** EventBridge Scheduler's invocation attempts of one schedule group: a reminder's run history. */
export function schedulerAttempts(scheduleGroup: string): MetricRef {
  return { namespace: "AWS/Scheduler", name: "InvocationAttemptCount", dimensions: { ScheduleGroup: scheduleGroup } };
}

/**
 * When `metric` (less `failures`, hour by hour, when given: Lambda's Invocations less its Errors) last had a data point above 0 at or before `now`, as the end of its 1-hour data point
 * (the success was inside the hour before it, capped at `now`), or undefined when there is none in
 * the `lookbackSeconds` before `now` (capped at 455 days). Reads newest first and stops at the first
 * hour with a success. Throws when CloudWatch answers with a status other than Complete or
 * PartialData for the whole range, naming the metric.
 */
export async function lastDatapoint(cw: CloudWatchClient, metric: MetricRef, now: Date, lookbackSeconds: number, failures?: MetricRef): Promise<Date | undefined> {
  const period = METRIC_HOURLY.periodSeconds * 1000;
  // Whole hours: CloudWatch aligns 1-hour data points to the hour; the current hour counts too.
  const end = new Date(Math.ceil(now.getTime() / period) * period);
  const start = new Date(Math.floor((now.getTime() - Math.min(lookbackSeconds, METRIC_HOURLY.retentionSeconds) * 1000) / period) * period);
  let token: string | undefined;
  do {
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: end,
        ScanBy: "TimestampDescending",
        NextToken: token,
        MetricDataQueries: [
          query("attempts", metric),
          // Failed runs of the same hours, subtracted per hour: a run that failed is no success.
          ...(failures ? [query("failures", failures)] : []),
        ],
      }),
    );
    const r = out.MetricDataResults?.find((x) => x.Id === "attempts");
    const failed = new Map<number, number>();
    const f = out.MetricDataResults?.find((x) => x.Id === "failures");
    (f?.Timestamps ?? []).forEach((t, i) => failed.set(t.getTime(), f!.Values?.[i] ?? 0));
    const times = r?.Timestamps ?? [];
    const values = r?.Values ?? [];
    let newest: Date | undefined;
    times.forEach((t, i) => {
      if ((values[i] ?? 0) - (failed.get(t.getTime()) ?? 0) > 0 && (!newest || t > newest)) newest = t;
    });
    if (newest) return new Date(Math.min(newest.getTime() + period, now.getTime()));
    if (r?.StatusCode && r.StatusCode !== "Complete" && r.StatusCode !== "PartialData") {
      const dims = Object.entries(metric.dimensions).map(([k, v]) => `${k}=${v}`).join(",");
      throw new Error(`${metric.namespace} ${metric.name} (${dims}): CloudWatch answered ${r.StatusCode}${r.Messages?.length ? ` (${r.Messages.map((m) => m.Value).join("; ")})` : ""}`);
    }
    token = out.NextToken;
  } while (token);
  return undefined;
}
