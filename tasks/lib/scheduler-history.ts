/**
 * A schedule's run history from EventBridge Scheduler's own metric: `AWS/Scheduler
 * InvocationAttemptCount`, which CloudWatch keeps per schedule group (dimension ScheduleGroup). A
 * schedule that runs no code of its own (a reminder publishing straight to SNS) writes no run marker;
 * this history is its "last run" for the overdue watcher.
 *
 * Read with GetMetricData at a 1-hour period, whose data points CloudWatch keeps 455 days
 * (METRIC_HOURLY, regime/limits.ts): a quarterly schedule's last run is always within reach.
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

/**
 * When the newest Scheduler invocation attempt of `scheduleGroup` at or before `now` happened, as the
 * end of its 1-hour data point (the attempt was inside the hour before it), or undefined when there
 * is none in the `lookbackSeconds` before `now` (capped at 455 days). Reads newest first and stops at
 * the first hour with an attempt. Throws when CloudWatch answers with a status other than Complete
 * for the whole range, naming the group.
 */
export async function lastInvocation(cw: CloudWatchClient, scheduleGroup: string, now: Date, lookbackSeconds: number): Promise<Date | undefined> {
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
          {
            Id: "attempts",
            MetricStat: {
              Metric: { Namespace: "AWS/Scheduler", MetricName: "InvocationAttemptCount", Dimensions: [{ Name: "ScheduleGroup", Value: scheduleGroup }] },
              Period: METRIC_HOURLY.periodSeconds,
              Stat: "Sum",
            },
            ReturnData: true,
          },
        ],
      }),
    );
    const r = out.MetricDataResults?.find((x) => x.Id === "attempts");
    const times = r?.Timestamps ?? [];
    const values = r?.Values ?? [];
    let newest: Date | undefined;
    times.forEach((t, i) => {
      if ((values[i] ?? 0) > 0 && (!newest || t > newest)) newest = t;
    });
    if (newest) return new Date(Math.min(newest.getTime() + period, now.getTime()));
    if (r?.StatusCode && r.StatusCode !== "Complete" && r.StatusCode !== "PartialData") {
      throw new Error(`InvocationAttemptCount of schedule group ${scheduleGroup}: CloudWatch answered ${r.StatusCode}${r.Messages?.length ? ` (${r.Messages.map((m) => m.Value).join("; ")})` : ""}`);
    }
    token = out.NextToken;
  } while (token);
  return undefined;
}
