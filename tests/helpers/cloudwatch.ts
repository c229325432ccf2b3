/**
 * A CloudWatch metrics endpoint on 127.0.0.1 on a free port, speaking the AWS JSON 1.0 protocol the
 * SDK's CloudWatchClient uses (POST /, `X-Amz-Target: GraniteServiceVersion20100801.<Operation>`,
 * timestamps as epoch seconds). It answers GetMetricData for MetricStat queries from the data points
 * a test puts in: each period's statistic (Sum, Maximum, SampleCount) over the points inside it,
 * periods aligned to the period from the epoch, only periods holding a point returned, newest first
 * with ScanBy TimestampDescending, at most `pageSize` points per answer with a NextToken after.
 * Every request body is kept for assertions. AWS_ENDPOINT_URL_CLOUDWATCH points the SDK at it.
 */
import { startJsonProtocolServer } from "./json-protocol";
import { runTask } from "../../tasks/lib/runtime";
import { overdueWatchTask, type OverdueResult } from "../../tasks/overdue-watch";

export interface MetricPoint {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  at: Date;
  value: number;
}

export interface TestCloudWatch {
  endpoint: string;
  env: Record<string, string>;
  /** Adds data points, as a service publishing them would. */
  put(...points: MetricPoint[]): void;
  /** Forgets every data point and request. */
  clear(): void;
  /** Parsed bodies of the GetMetricData requests received, in order. */
  requests: Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  stop(): Promise<void>;
}

const key = (ns: string, name: string, dims: Record<string, string>) =>
  JSON.stringify([ns, name, Object.entries(dims).sort(([a], [b]) => a.localeCompare(b))]);

export async function startCloudWatch(pageSize = 100_800): Promise<TestCloudWatch> {
  let points: MetricPoint[] = [];
  const requests: Record<string, any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const getMetricData = (req: any) => {
    const start = req.StartTime * 1000;
    const end = req.EndTime * 1000;
    const offset = req.NextToken ? Number(req.NextToken) : 0;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const results = (req.MetricDataQueries as any[]).map((q) => {
      const m = q.MetricStat.Metric;
      const dims = Object.fromEntries((m.Dimensions ?? []).map((d: { Name: string; Value: string }) => [d.Name, d.Value]));
      const k = key(m.Namespace, m.MetricName, dims);
      const period = q.MetricStat.Period * 1000;
      const buckets = new Map<number, number[]>();
      for (const p of points) {
        const t = p.at.getTime();
        if (key(p.namespace, p.metricName, p.dimensions) !== k || t < start || t >= end) continue;
        const b = Math.floor(t / period) * period;
        buckets.set(b, [...(buckets.get(b) ?? []), p.value]);
      }
      const stat = (v: number[]) => (q.MetricStat.Stat === "Maximum" ? Math.max(...v) : q.MetricStat.Stat === "SampleCount" ? v.length : v.reduce((a, b) => a + b, 0));
      const times = [...buckets.keys()].sort((a, b) => (req.ScanBy === "TimestampAscending" ? a - b : b - a));
      const page = times.slice(offset, offset + pageSize);
      return { id: q.Id, page, more: offset + pageSize < times.length, values: page.map((t) => stat(buckets.get(t)!)) };
    });
    const more = results.some((r) => r.more);
    return {
      MetricDataResults: results.map((r) => ({ Id: r.id, Label: r.id, Timestamps: r.page.map((t) => t / 1000), Values: r.values, StatusCode: r.more ? "PartialData" : "Complete" })),
      Messages: [],
      ...(more ? { NextToken: String(offset + pageSize) } : {}),
    };
  };

  const { endpoint, stop } = await startJsonProtocolServer({
    version: "1.0",
    invalidAction: "com.amazonaws.cloudwatch#InvalidAction",
    handlers: {
      "GraniteServiceVersion20100801.GetMetricData": (body) => {
        requests.push(body);
        return { json: getMetricData(body) };
      },
    },
  });
  return {
    endpoint,
    env: { AWS_ENDPOINT_URL_CLOUDWATCH: endpoint },
    put: (...p) => void points.push(...p),
    clear: () => {
      points = [];
      requests.length = 0;
    },
    requests,
    stop,
  };
}

/**
 * Runs the overdue-watch task as of `at` (ISO 8601) over `jobs`, reading metric history from `cw`
 * with stand-in credentials and no vault; `env` adds or overrides settings (another regime name, an
 * SSM endpoint).
 */
export async function watchJobs(cw: TestCloudWatch, jobs: unknown[], at: string, env: Record<string, string> = {}): Promise<OverdueResult> {
  return (await runTask(overdueWatchTask, {
    ...cw.env,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    REGIME_NAME: "rt",
    LOG_LEVEL: "ERROR",
    WATCHED_JOBS: JSON.stringify(jobs),
    WATCH_AT: at,
    ...env,
  })) as OverdueResult;
}
