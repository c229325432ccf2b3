/**
 * The plan's cost counts what the tasks really publish: the metric list of tasks/lib/metrics.ts drives
 * both the task runtime and the estimate, and a real run's Embedded Metric Format lines are compared
 * with the estimate's count. Run metrics follow where the task runs (Lambda publishes its own). Each
 * custom metric is priced for the hours of the 30 days in which it is sent (CloudWatch prorates them
 * by the hour): a daily job's metrics about 30 of 720 hours, an every-minute check's all 720, a
 * sampled one the hours of its sampling runs, one sent only while breaching none.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { billedHours, bundledSettingsByFunction, CHECK_LOG_KB, estimateCost, FREE_TIER, keptBackupGb, MONTH_HOURS, PRICES } from "../plan/cost";
import type { RecordedResource } from "../plan/mocks";
import { emptyPlanRecord, type PlanRecord } from "../components/plan-record";
import { parseSchedule } from "../regime/schedule";
import { catalogueEntry } from "../tasks/catalogue";
import type { ComponentGroup } from "../plan/run";
import { healthCheckTask } from "../tasks/health-check";
import { publishedMetricCounts, publishedRunMetrics } from "../tasks/lib/metrics";
import { defineTask, runTask, TaskError } from "../tasks/lib/runtime";
import { captureEmf, captureJsonLines, type EmfLine } from "./helpers/emf";

let server: http.Server;
let base: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.statusCode = req.url === "/down" ? 500 : 200;
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Distinct CloudWatch metrics (name + dimension values) in EMF lines: what CloudWatch bills. */
const billed = (emf: EmfLine[]) =>
  new Set(emf.flatMap((e) => e._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => `${m.Name} ${d.Dimensions[0].map((k) => `${k}=${String(e[k])}`).join(",")}`))));

const ok = defineTask({ name: "vacuum", description: "stand-in run", settings: z.object({}).passthrough(), run: async () => ({ done: true }) });

describe("run metrics follow where the task runs", () => {
  it("on Lambda a run publishes none (Lambda's Errors, Duration and Invocations carry them); elsewhere all three", async () => {
    const lambda = await captureEmf(() => runTask(ok, { AWS_LAMBDA_FUNCTION_NAME: "prod-db-app-vacuum", LOG_LEVEL: "ERROR" }));
    expect(billed(lambda)).toEqual(new Set());
    const cli = await captureEmf(() => runTask(ok, { LOG_LEVEL: "ERROR", REGIME_NAME: "prod" }));
    expect([...billed(cli)].map((m) => m.split(" ")[0]).sort()).toEqual(["TaskDuration", "TaskFailed", "TaskSucceeded"]);
  });

  it("RUN_METRICS names exactly the run metrics published (a Fargate task without a missed-run alarm: failed and duration)", async () => {
    const emf = await captureEmf(() => runTask(ok, { RUN_METRICS: "TaskFailed,TaskDuration", LOG_LEVEL: "ERROR" }));
    expect([...billed(emf)].map((m) => m.split(" ")[0]).sort()).toEqual(["TaskDuration", "TaskFailed"]);
    expect(publishedRunMetrics({ RUN_METRICS: "", AWS_LAMBDA_FUNCTION_NAME: "f" })).toEqual([]);
    expect(publishedRunMetrics({ RUN_METRICS: "TaskSucceeded", AWS_LAMBDA_FUNCTION_NAME: "f" })).toEqual(["TaskSucceeded"]);
  });

  it("a wrong RUN_METRICS name is refused before the run, naming the variable", async () => {
    const err = await runTask(ok, { RUN_METRICS: "TaskSucceded", LOG_LEVEL: "ERROR" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect((err as Error).message).toBe("invalid setting RUN_METRICS: TaskSucceded is not one of TaskSucceeded, TaskFailed, TaskDuration");
  });
});

describe("the estimate counts what the task writes", () => {
  it("health-check on Lambda: one Healthy per endpoint, ResponseTime only where maxResponseMs is set, nothing else", async () => {
    const env = {
      TASK: "health-check",
      REGIME_NAME: "prod",
      AWS_LAMBDA_FUNCTION_NAME: "prod-health-task",
      ENDPOINTS: JSON.stringify([
        { name: "api", url: `${base}/ok`, conditions: { responseTimeMs: 5000 } },
        { name: "web", url: `${base}/ok` },
        { name: "admin", url: `${base}/down` },
      ]),
    };
    const lines = await captureJsonLines(() => runTask(healthCheckTask, env).catch(() => undefined));
    const written = billed(lines.filter((l): l is EmfLine => "_aws" in l));
    expect([...written].sort()).toEqual([
      "Healthy service=prod,Task=health-check,Endpoint=admin",
      "Healthy service=prod,Task=health-check,Endpoint=api",
      "Healthy service=prod,Task=health-check,Endpoint=web",
      "ResponseTime service=prod,Task=health-check,Endpoint=api",
    ]);
    expect(publishedMetricCounts(env).reduce((a, m) => a + m.count, 0)).toBe(written.size);
    // Its log volume (INFO, Lambda's own START/END/REPORT lines, ~0.4 KB, aside) fits the estimate's allowance for a check.
    const bytes = lines.reduce((a, l) => a + JSON.stringify(l).length + 1, 0);
    expect(bytes + 400).toBeLessThanOrEqual((CHECK_LOG_KB.perRun + CHECK_LOG_KB.perItem * 3) * 1024);
  });
});

/** One Lambda task on a schedule, and an alarm over two metrics, as the plan records them. */
function lambdaRegime(env: Record<string, string>, code?: unknown, scheduleExpression = "rate(1 minute)"): { resources: RecordedResource[]; groups: ComponentGroup[]; record: PlanRecord } {
  const resources: RecordedResource[] = [
    {
      type: "aws:lambda/function:Function",
      name: "t-health-task",
      custom: true,
      parent: "",
      inputs: { name: "t-health-task", memorySize: 256, timeout: 40, architectures: ["arm64"], environment: { variables: env }, ...(code ? { code } : {}) },
    },
    { type: "aws:scheduler/schedule:Schedule", name: "t-health-task", custom: true, parent: "", inputs: { scheduleExpression, scheduleExpressionTimezone: "UTC", target: { arn: "arn:aws:lambda:us-east-1:123456789012:function:t-health-task" } } },
    {
      type: "aws:cloudwatch/metricAlarm:MetricAlarm",
      name: "t-health-task-missed-run-P3",
      custom: true,
      parent: "",
      inputs: {
        name: "t-health-task-missed-run-P3",
        metricQueries: [
          { id: "invocations", metric: { namespace: "AWS/Lambda", metricName: "Invocations", period: 120 } },
          { id: "errors", metric: { namespace: "AWS/Lambda", metricName: "Errors", period: 120 } },
          { id: "successes", expression: "invocations - FILL(errors, 0)", returnData: true },
        ],
      },
    },
  ];
  // What the program records where it creates the schedule (components/plan-record.ts): the estimate reads its runs there.
  const record = emptyPlanRecord();
  record.schedules["t-health-task"] = { name: "t-health-task", kind: catalogueEntry(env.TASK)!.scheduled!.kind, schedule: parseSchedule(scheduleExpression, "UTC"), paused: false, starts: { runner: "lambda", name: "t-health-task" } };
  return { resources, groups: [{ component: "t-health", type: "regime:health:HealthChecks", resources: resources.map((r) => ({ type: r.type, name: r.name })) }], record };
}

describe("the plan's cost per signal", () => {
  const endpoints = Array.from({ length: 25 }, (_, i) => ({ name: `service-${i}`, url: `https://example.org/${i}`, conditions: { status: 200, ...(i < 10 ? { responseTimeMs: 2000 } : {}) } }));

  it("counts endpoints moved into the bundle's settings.json, and prices a two-metric alarm at two alarm metrics", async () => {
    const code = new pulumi.asset.AssetArchive({
      "index.js": new pulumi.asset.StringAsset("exports.handler = () => 0;"),
      "settings.json": new pulumi.asset.StringAsset(JSON.stringify({ ENDPOINTS: JSON.stringify(endpoints) })),
    });
    const { resources, groups, record } = lambdaRegime({ TASK: "health-check", REGIME_NAME: "t" }, code);
    const bundled = await bundledSettingsByFunction(resources);
    expect(bundled.get("t-health-task")?.ENDPOINTS).toBe(JSON.stringify(endpoints));
    const cost = estimateCost(resources, groups, new Date("2026-12-01T00:00:00Z"), record, bundled);
    const items = Object.fromEntries(cost.components[0].items.map((i) => [i.what.split(" (")[0], i.monthlyUsd]));
    expect(items["custom metric Healthy x 25, 720 h of 720"]).toBe(7.5);
    expect(items["custom metric ResponseTime x 10, 720 h of 720"]).toBe(3);
    expect(Object.keys(items).filter((k) => k.includes("Task"))).toEqual([]);
    expect(items["alarm t-health-task-missed-run-P3"]).toBe(2 * PRICES.alarmPerMetric);
    // Without the bundle, the endpoints are not seen: the estimate would miss 35 metrics.
    const unbundled = estimateCost(resources, groups, new Date("2026-12-01T00:00:00Z"), record);
    expect(unbundled.components[0].items.some((i) => i.what.startsWith("custom metric"))).toBe(false);
  });

  it("states the free tier apart: the first 10 custom metrics and 10 alarm metrics, Lambda's and the scheduler's allowances", () => {
    const { resources, groups, record } = lambdaRegime({ TASK: "health-check", REGIME_NAME: "t", ENDPOINTS: JSON.stringify(endpoints) });
    const cost = estimateCost(resources, groups, new Date("2026-12-01T00:00:00Z"), record);
    const free = Object.fromEntries(cost.freeTier!.items.map((i) => [i.what, i.monthlyUsd]));
    expect(free[`CloudWatch: ${FREE_TIER.customMetrics} of 35 custom metric-months`]).toBe(3);
    expect(free["CloudWatch: 2 of 2 alarm metrics"]).toBe(0.2);
    expect(free["EventBridge Scheduler: 43200 of 43200 invocations"]).toBe(0.04);
    expect(cost.monthlyTotal).toBe(cost.components[0].monthlyUsd);
    expect(cost.freeTier!.monthlyAfterFreeTier).toBe(Math.round((cost.monthlyTotal - cost.freeTier!.items.reduce((a, b) => a + b.monthlyUsd, 0)) * 100) / 100);
    expect(cost.monthlyBeforeStorage).toBe(cost.monthlyTotal);
  });
});

describe("custom metrics are priced for the hours they are sent in (CloudWatch prorates them by the hour)", () => {
  const from = new Date("2026-12-01T00:00:00Z");
  const metricItems = (cost: ReturnType<typeof estimateCost>) => cost.components[0].items.filter((i) => i.what.startsWith("custom metric")).map((i) => `${i.what.split(" (")[0]} $${i.monthlyUsd}`);

  it("a daily backup's metrics: sent at the end of each run, 30 hours of 720, $0.0125 each", () => {
    const { resources, groups, record } = lambdaRegime({ TASK: "backup", REGIME_NAME: "t", DATABASES: JSON.stringify([{ id: "app" }]) }, undefined, "cron(0 2 * * ? *)");
    const cost = estimateCost(resources, groups, from, record);
    expect(metricItems(cost)).toEqual(["custom metric BackupSucceeded x 1, 30 h of 720 $0.01", "custom metric BackupSizeBytes x 1, 30 h of 720 $0.01"]);
    expect(cost.freeTier!.items.find((i) => i.what.includes("custom metric-months"))?.what).toBe("CloudWatch: 0.08 of 0.08 custom metric-months");
  });

  it("certificates every minute: Healthy every hour, CertificateDaysLeft (sampled) the hour of each day's first run", () => {
    const endpoints = [{ name: "api", url: "https://example.org/", conditions: { status: 200, certificateDaysLeft: 14 } }];
    const { resources, groups, record } = lambdaRegime({ TASK: "health-check", REGIME_NAME: "t", SCHEDULE_INTERVAL_SECONDS: "60", ENDPOINTS: JSON.stringify(endpoints) });
    expect(metricItems(estimateCost(resources, groups, from, record))).toEqual(["custom metric Healthy x 1, 720 h of 720 $0.3", "custom metric CertificateDaysLeft x 1, 30 h of 720 $0.01"]);
  });

  it("db-health every 15 minutes: wraparound once a day, the connections, vacuum and analyze ages every 6 hours", () => {
    const { resources, groups, record } = lambdaRegime({ TASK: "db-health", REGIME_NAME: "t", SCHEDULE_INTERVAL_SECONDS: "900", DATABASES: JSON.stringify([{ id: "app" }]) }, undefined, "rate(15 minutes)");
    expect(metricItems(estimateCost(resources, groups, from, record))).toEqual([
      "custom metric ConnectionsPercent x 1, 120 h of 720 $0.05",
      "custom metric WraparoundAge x 1, 30 h of 720 $0.01",
      "custom metric LastVacuumAgeHours x 1, 120 h of 720 $0.05",
      "custom metric LastAnalyzeAgeHours x 1, 120 h of 720 $0.05",
    ]);
  });

  it("the hourly overdue watcher's Overdue: sent only for an overdue job, listed at $0 (none assumed overdue)", () => {
    const jobs = [{ job: "app/restore-drill" }, { job: "app/reindex" }];
    const { resources, groups, record } = lambdaRegime({ TASK: "overdue-watch", REGIME_NAME: "t", WATCHED_JOBS: JSON.stringify(jobs) }, undefined, "rate(1 hour)");
    const cost = estimateCost(resources, groups, from, record);
    expect(metricItems(cost)).toEqual(["custom metric Overdue x 2, 0 h of 720 $0"]);
    expect(cost.components[0].items.find((i) => i.what.startsWith("custom metric Overdue"))!.what).toContain("sent only while its alarm's condition holds");
  });

  it("redis-health every 15 minutes: PendingIdleSeconds for each queue with maxPendingIdleMinutes, sent only while an entry is idle past it, listed at $0", () => {
    const queues = [
      { name: "celery", maxLength: 1000, maxPendingIdleMinutes: 60 },
      { name: "events", maxLength: 100, maxPendingIdleMinutes: 15 },
      { name: "emails", maxLength: 50 },
    ];
    const { resources, groups, record } = lambdaRegime({ TASK: "redis-health", REGIME_NAME: "t", SCHEDULE_INTERVAL_SECONDS: "900", QUEUES: JSON.stringify(queues) }, undefined, "rate(15 minutes)");
    const cost = estimateCost(resources, groups, from, record);
    expect(metricItems(cost).filter((m) => /Queue|Pending/.test(m))).toEqual([
      "custom metric QueueLength x 3, 120 h of 720 $0.15",
      "custom metric QueueUnmeasurable x 3, 0 h of 720 $0",
      "custom metric PendingIdleSeconds x 2, 0 h of 720 $0",
    ]);
    expect(cost.components[0].items.find((i) => i.what.startsWith("custom metric PendingIdleSeconds"))!.what).toContain("sent only while its alarm's condition holds");
  });

  it("the overdue watcher's GetMetricData: each history metric once per run at $0.01 per 1,000 (1,500 reminders hourly: $10.80); marker jobs read none", () => {
    const reminder = (i: number) => ({ job: `reminder/r${i}`, expression: "cron(0 9 1 1,4,7,10 ? *)", timezone: "UTC", toleranceSeconds: 3600, since: "2026-01-01T00:00:00Z", history: { scheduleGroup: `t-reminders-r${i}`, lookbackSeconds: 8_000_000 } });
    const lambdaTask = {
      job: "app/vacuum",
      expression: "cron(0 3 ? * SUN *)",
      timezone: "UTC",
      toleranceSeconds: 7200,
      since: "2026-01-01T00:00:00Z",
      history: {
        metric: { namespace: "AWS/Lambda", name: "Invocations", dimensions: { FunctionName: "t-app-vacuum" } },
        failures: { namespace: "AWS/Lambda", name: "Errors", dimensions: { FunctionName: "t-app-vacuum" } },
        lookbackSeconds: 700_000,
      },
    };
    const marker = { job: "app/restore-drill", prefix: "runs/app/restore-drill/", expression: "cron(0 4 1 */3 ? *)", timezone: "UTC", toleranceSeconds: 7200 };
    const line = (jobs: unknown[]) => {
      const { resources, groups, record } = lambdaRegime({ TASK: "overdue-watch", REGIME_NAME: "t", WATCHED_JOBS: JSON.stringify(jobs) }, undefined, "rate(1 hour)");
      return estimateCost(resources, groups, from, record).components[0].items.find((i) => i.what.startsWith("GetMetricData"));
    };
    expect(line([marker, lambdaTask, reminder(0)])).toMatchObject({ what: expect.stringContaining("(3 metrics x 720 runs)"), monthlyUsd: 0.02 });
    expect(line(Array.from({ length: 1500 }, (_, i) => reminder(i)))).toMatchObject({ what: expect.stringContaining("(1500 metrics x 720 runs)"), monthlyUsd: 10.8 });
    expect(line([marker])).toBeUndefined();
  });

  it("a quarterly job's run metrics (Fargate) cost nothing in a month it does not run, and $0.0004 in one it runs", () => {
    const hours = (start: string) => billedHours({ starts: [Date.parse(start)], intervalSeconds: 92 * 86400 }, 4020, new Date("2027-01-01T00:00:00Z"));
    expect(hours("2027-01-01T08:00:00Z")).toBe(1);
    expect(billedHours({ starts: [], intervalSeconds: 92 * 86400 }, 4020, from)).toBe(0);
    expect(Math.round(((PRICES.customMetric * hours("2027-01-01T08:00:00Z")) / MONTH_HOURS) * 10_000) / 10_000).toBe(0.0004);
  });
});

describe("the pull-request diff", () => {
  it("shows the monthly change at list price and, apart, after the free tier", async () => {
    const { diffPlans, EMPTY_PLAN } = await import("../plan/diff");
    const plan = (total: number, afterFree: number) => ({
      ...EMPTY_PLAN,
      project: "maintenance-regime",
      stack: "t",
      cost: { ...EMPTY_PLAN.cost, monthlyTotal: total, components: [{ component: "t-health-task", monthlyUsd: total, items: [] }], freeTier: { monthlyAfterFreeTier: afterFree, items: [] } },
    });
    const md = diffPlans(plan(32.31, 20), plan(21.4, 8.5));
    expect(md).toContain("**Monthly cost** $32.31 → $21.40 (-$10.91)");
    expect(md).toContain("After the always-free allowances (this regime alone in its account): $20.00 → $8.50 a month (-$11.50).");
  });
});

describe("backup storage and the network the plan does not provision", () => {
  const from = new Date("2026-12-01T00:00:00Z");
  const lifecycle = (noncurrentDays: number): RecordedResource => ({
    type: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    name: "t-backups-lifecycle",
    custom: true,
    parent: "",
    inputs: {
      rules: [
        { id: "daily-app", status: "Enabled", filter: { prefix: "daily/app/" }, expiration: { days: 30 } },
        { id: "weekly-app", status: "Enabled", filter: { prefix: "weekly/app/" }, expiration: { days: 90 } },
        { id: "monthly-app", status: "Enabled", filter: { prefix: "monthly/app/" }, expiration: { days: 365 } },
        { id: "whole-bucket-housekeeping", status: "Enabled", filter: { prefix: "" }, noncurrentVersionExpiration: { noncurrentDays }, expiration: { expiredObjectDeleteMarker: true } },
      ],
    },
  });
  const group = (resources: RecordedResource[]): ComponentGroup[] => [{ component: "t", type: "regime:Test", resources: resources.map((r) => ({ type: r.type, name: r.name })) }];

  it("counts the expired copies a versioned bucket keeps for noncurrentDays beside the copies within their tiers' days", () => {
    // A 4 GB database dumps 1 GB: 30 daily + 13 weekly + 13 monthly copies = 56 GB; expired ones kept
    // 7 days more: 7 daily, one weekly (97 days hold 14), no monthly (372 days still hold 13) = 8 GB.
    expect(keptBackupGb(lifecycle(7).inputs, { app: 4 })).toEqual({ current: 56, noncurrent: 8, noncurrentDays: 7 });
    const cost = estimateCost([lifecycle(7)], group([lifecycle(7)]), from, { schedules: {}, databaseSizesGb: { app: 4 } });
    expect(cost.components[0].items).toEqual([
      { what: "S3 storage of ~64 GB of backups (56 GB within their tiers' days, 8 GB of expired copies kept as noncurrent versions 7 days more)", monthlyUsd: round2(64 * PRICES.s3StandardGbMonth) },
    ]);
    expect(cost.monthlyTotal - cost.monthlyBeforeStorage!).toBeCloseTo(64 * PRICES.s3StandardGbMonth, 2);
    // A longer noncurrentDays keeps more.
    expect(keptBackupGb(lifecycle(30).inputs, { app: 4 }).noncurrent).toBe(30 + 5 + 1);
  });

  it("states the NAT gateway or endpoints that tasks in private subnets need, outside the total, with the dumps they move", () => {
    const backup = (vpc: boolean): RecordedResource[] => [
      {
        type: "aws:lambda/function:Function",
        name: "t-db-app-backup",
        custom: true,
        parent: "",
        inputs: { name: "t-db-app-backup", memorySize: 1024, timeout: 900, architectures: ["arm64"], environment: { variables: { TASK: "backup", DATABASES: JSON.stringify([{ id: "app" }]) } }, ...(vpc ? { vpcConfig: { subnetIds: ["subnet-1"], securityGroupIds: ["sg-1"] } } : {}) },
      },
      { type: "aws:scheduler/schedule:Schedule", name: "t-db-app-backup", custom: true, parent: "", inputs: { scheduleExpression: "cron(0 2 * * ? *)", scheduleExpressionTimezone: "UTC", target: { arn: "arn:aws:lambda:us-east-1:123456789012:function:t-db-app-backup" } } },
    ];
    const record = { databaseSizesGb: { app: 4 }, schedules: { "t-db-app-backup": { name: "t-db-app-backup", kind: "backup" as const, schedule: parseSchedule("cron(0 2 * * ? *)", "UTC"), paused: false, starts: { runner: "lambda" as const, name: "t-db-app-backup" } } } };
    const inVpc = estimateCost(backup(true), group(backup(true)), from, record);
    const network = inVpc.assumptions.filter((a) => a.startsWith("network, not in the total"));
    // 30 daily runs x a 1 GB dump through a NAT gateway.
    expect(network).toEqual([
      "network, not in the total: 1 scheduled task run in private subnets (t-db-app-backup) and reach S3 and Secrets Manager through the VPC's own NAT gateway or endpoints, which the regime does not provision: a NAT gateway costs $32.40 a month plus $0.045/GB processed (~30 GB of dumps a month here: $1.35); or an S3 gateway endpoint (free, no per-GB charge for the dumps) and 1 interface endpoint (Secrets Manager) at $7.20 a month each per availability zone",
    ]);
    const outside = estimateCost(backup(false), group(backup(false)), from, record);
    expect(outside.assumptions.filter((a) => a.startsWith("network"))).toEqual([]);
    expect(inVpc.monthlyTotal).toBe(outside.monthlyTotal);
  });
});

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

describe("metrics the hosts send once per run", () => {
  it("a daily file backup's success metric is billed for the 30 hours of its runs, not a month; one the program did not record, a month", () => {
    const from = new Date("2026-12-01T00:00:00Z");
    const dimensions = { service: "t", Task: "file-backup", Instance: "app/uploads" };
    const alarm: RecordedResource = {
      type: "aws:cloudwatch/metricAlarm:MetricAlarm",
      name: "t-logs-app-backup-uploads-missed-run-P1",
      custom: true,
      parent: "",
      inputs: { name: "t-logs-app-backup-uploads-missed-run-P1", namespace: "MaintenanceRegime", metricName: "TaskSucceeded", dimensions, period: 90000, evaluationPeriods: 1 },
    };
    const groups: ComponentGroup[] = [{ component: "t-logs", type: "regime:logs:LogRotation", resources: [{ type: alarm.type, name: alarm.name }] }];
    const runs = [{ namespace: "MaintenanceRegime", metricName: "TaskSucceeded", dimensions, schedule: { expression: "cron(0 2 * * ? *)", timezone: "UTC", intervalSeconds: 86400 } }];
    const items = (hostMetricRuns = runs) => estimateCost([alarm], groups, from, { schedules: {}, databaseSizesGb: {}, hostMetricRuns }).components[0].items.filter((i) => i.what.startsWith("custom metric"));
    expect(items()).toEqual([
      { what: "custom metric MaintenanceRegime/TaskSucceeded, 30 h of 720 (sent by the hosts once per run of cron(0 2 * * ? *) UTC, read by t-logs-app-backup-uploads-missed-run-P1)", monthlyUsd: 0.01 },
    ]);
    expect(items([])).toEqual([{ what: "custom metric MaintenanceRegime/TaskSucceeded, 720 h of 720 (written outside the tasks, read by t-logs-app-backup-uploads-missed-run-P1)", monthlyUsd: 0.3 }]);
  });

  it("each SSH host's metric and alarm are billed on their own; a weekly one no alarm reads (the overdue watcher does) is billed for its runs in the component that sends it", () => {
    const from = new Date("2026-12-01T00:00:00Z");
    const daily = { expression: "cron(0 2 * * ? *)", timezone: "UTC", intervalSeconds: 86400 };
    const weekly = { expression: "cron(0 4 ? * SUN *)", timezone: "UTC", intervalSeconds: 7 * 86400 };
    const dims = (host: string, name = "config") => ({ service: "t", Task: "file-backup", Instance: `crm/${name}`, Host: host });
    const alarms: RecordedResource[] = ["10.0.0.7", "crm.example.com"].map((host) => ({
      type: "aws:cloudwatch/metricAlarm:MetricAlarm",
      name: `t-logs-crm-backup-config-host-${host.replace(/\./g, "-")}-missed-run-P1`,
      custom: true,
      parent: "",
      inputs: { name: `t-logs-crm-backup-config-host-${host.replace(/\./g, "-")}-missed-run-P1`, namespace: "MaintenanceRegime", metricName: "TaskSucceeded", dimensions: dims(host), period: 90000, evaluationPeriods: 1 },
    }));
    const groups: ComponentGroup[] = [{ component: "t-logs", type: "regime:logs:LogRotation", resources: alarms.map((a) => ({ type: a.type, name: a.name })) }];
    const hostMetricRuns = [
      ...["10.0.0.7", "crm.example.com"].map((h) => ({ namespace: "MaintenanceRegime", metricName: "TaskSucceeded", dimensions: dims(h), schedule: daily, component: "t-logs" })),
      ...["10.0.0.7", "crm.example.com"].map((h) => ({ namespace: "MaintenanceRegime", metricName: "TaskSucceeded", dimensions: dims(h, "uploads"), schedule: weekly, component: "t-logs" })),
    ];
    const items = estimateCost(alarms, groups, from, { schedules: {}, databaseSizesGb: {}, hostMetricRuns }).components[0].items;
    expect(items.filter((i) => i.what.startsWith("alarm "))).toEqual(alarms.map((a) => ({ what: `alarm ${a.name}`, monthlyUsd: 0.1 })));
    expect(items.filter((i) => i.what.startsWith("custom metric")).map((i) => i.what)).toEqual([
      "custom metric MaintenanceRegime/TaskSucceeded, 30 h of 720 (sent by the hosts once per run of cron(0 2 * * ? *) UTC, read by t-logs-crm-backup-config-host-10-0-0-7-missed-run-P1)",
      "custom metric MaintenanceRegime/TaskSucceeded, 30 h of 720 (sent by the hosts once per run of cron(0 2 * * ? *) UTC, read by t-logs-crm-backup-config-host-crm-example-com-missed-run-P1)",
      "custom metric MaintenanceRegime/TaskSucceeded service=t,Task=file-backup,Instance=crm/uploads,Host=10.0.0.7, 4 h of 720 (sent by the hosts once per run of cron(0 4 ? * SUN *) UTC, read by the overdue watcher)",
      "custom metric MaintenanceRegime/TaskSucceeded service=t,Task=file-backup,Instance=crm/uploads,Host=crm.example.com, 4 h of 720 (sent by the hosts once per run of cron(0 4 ? * SUN *) UTC, read by the overdue watcher)",
    ]);
  });
});
