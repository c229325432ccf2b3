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

/** GetMetricData takes at most 500 queries per request (CloudWatch API reference, GetMetricData: MetricDataQueries, "maximum of 500"). */
export const GET_METRIC_DATA_MAX_QUERIES = 500;

/** One job's history to read: the metric counting its runs, the failed runs to subtract hour by hour, how far back (seconds). */
export interface HistoryRead {
  metric: MetricRef;
  failures?: MetricRef;
  lookbackSeconds: number;
}

const metricText = (m: MetricRef) => `${m.namespace} ${m.name} (${Object.entries(m.dimensions).map(([k, v]) => `${k}=${v}`).join(",")})`;

/**
 * For each read, when its `metric` (less its `failures`, hour by hour: Lambda's Invocations less its
 * Errors) last had a data point above 0 at or before `now`, as the end of that 1-hour data point (the
 * success was inside the hour before it, capped at `now`), or undefined when there is none in its
 * `lookbackSeconds` before `now` (capped at 455 days). Results in the order of `reads`.
 *
 * Reads are batched: up to 500 queries per GetMetricData request (a read with failures takes two),
 * each request over the widest range of its batch, every page followed; so a watcher of 1,500 jobs
 * makes a handful of requests, not 1,500 in a row inside its Lambda timeout. Throws when CloudWatch
 * answers a query with a status other than Complete or PartialData, naming its metric.
 */
export async function lastSuccesses(cw: CloudWatchClient, reads: readonly HistoryRead[], now: Date): Promise<(Date | undefined)[]> {
  const period = METRIC_HOURLY.periodSeconds * 1000;
  // Whole hours: CloudWatch aligns 1-hour data points to the hour; the current hour counts too.
  const end = new Date(Math.ceil(now.getTime() / period) * period);
  // Each read's first hour (its look-back, at most 455 days), worked out once.
  const startOf = reads.map((r) => Math.floor((now.getTime() - Math.min(r.lookbackSeconds, METRIC_HOURLY.retentionSeconds) * 1000) / period) * period);
  const results: (Date | undefined)[] = new Array(reads.length).fill(undefined);
  const batches: number[][] = [];
  let queries = GET_METRIC_DATA_MAX_QUERIES;
  reads.forEach((r, i) => {
    const q = r.failures ? 2 : 1;
    if (queries + q > GET_METRIC_DATA_MAX_QUERIES) {
      batches.push([]);
      queries = 0;
    }
    batches[batches.length - 1].push(i);
    queries += q;
  });
  for (const batch of batches) {
    // Hour -> value, per query id (`a<i>`: the runs of read i, `f<i>`: its failures).
    const points = new Map<string, Map<number, number>>();
    let token: string | undefined;
    do {
      const out = await cw.send(
        new GetMetricDataCommand({
          StartTime: new Date(Math.min(...batch.map((i) => startOf[i]))),
          EndTime: end,
          ScanBy: "TimestampDescending",
          NextToken: token,
          MetricDataQueries: batch.flatMap((i) => [query(`a${i}`, reads[i].metric), ...(reads[i].failures ? [query(`f${i}`, reads[i].failures!)] : [])]),
        }),
      );
      for (const r of out.MetricDataResults ?? []) {
        if (r.StatusCode && r.StatusCode !== "Complete" && r.StatusCode !== "PartialData") {
          const i = Number(r.Id!.slice(1));
          const m = r.Id!.startsWith("f") ? reads[i].failures! : reads[i].metric;
          throw new Error(`${metricText(m)}: CloudWatch answered ${r.StatusCode}${r.Messages?.length ? ` (${r.Messages.map((x) => x.Value).join("; ")})` : ""}`);
        }
        const at = points.get(r.Id!) ?? new Map<number, number>();
        (r.Timestamps ?? []).forEach((t, k) => at.set(t.getTime(), r.Values?.[k] ?? 0));
        points.set(r.Id!, at);
      }
      token = out.NextToken;
    } while (token);
    for (const i of batch) {
      const failed = points.get(`f${i}`);
      let newest: number | undefined;
      for (const [t, v] of points.get(`a${i}`) ?? []) {
        // A run that failed is no success; an hour before this read's own look-back does not count.
        if (t >= startOf[i] && v - (failed?.get(t) ?? 0) > 0 && (newest === undefined || t > newest)) newest = t;
      }
      if (newest !== undefined) results[i] = new Date(Math.min(newest + period, now.getTime()));
    }
  }
  return results;
}
