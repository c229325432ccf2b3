/**
 * Monthly cost of the production regime and of every example, as the offline plan estimates it
 * (plan/cost.ts, us-east-1 list prices), before backup storage: the list price, the same after the
 * always-free allowances (the regime alone in its account), and where the money goes (alarm metrics,
 * custom metrics, dashboard, KMS keys, Lambda, Fargate, logs, scheduler, ECR, GetMetricData).
 *
 * Baseline of the same run: the same planned resources, priced the same way (custom metrics by the
 * hours they are sent in), under the publishing policy the tasks had before custom metrics were
 * limited to what is read (every task publishing TaskSucceeded, TaskFailed and TaskDuration wherever
 * it ran, and every figure it measures on every run, nothing sampled; each missed-run alarm reading
 * one metric, TaskSucceeded, instead of Lambda's invocations minus errors).
 * Targets: prod at most $12 a month before storage (goal $8), each example at most $15.
 *
 *   npx tsx bench/cost.ts [--from 2026-12-01]
 */
import * as path from "node:path";
import { bundledSettingsByFunction, estimateCost, PRICES } from "../plan/cost";
import { groupByComponent, runPlan } from "../plan/run";
import { publishedMetricCounts, RUN_METRICS, type PublishedMetric } from "../tasks/lib/metrics";

const ROOT = path.resolve(__dirname, "..");
const EXAMPLES = ["iswitch-roofs-crm", "fitnesscrm", "boardroom-ai", "bigshot", "neff-paving"];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** What each task wrote as a custom metric before the change (the baseline policy). */
const perDatabase = (...names: string[]): PublishedMetric[] => names.map((name) => ({ name, per: "Database", readBy: "-" }));
const BEFORE: Record<string, readonly PublishedMetric[]> = {
  backup: perDatabase("BackupSucceeded", "BackupSizeBytes", "BackupDurationSeconds"),
  "verify-backup": perDatabase("BackupAgeHours", "BackupVerified"),
  "restore-drill": perDatabase("RestoreSeconds", "RestoreDrillSucceeded"),
  vacuum: perDatabase("TablesVacuumed", "TablesSkipped"),
  analyze: perDatabase("TablesAnalyzed"),
  reindex: perDatabase("IndexesReindexed"),
  purge: perDatabase("RowsPurged"),
  "db-health": perDatabase("ConnectionsPercent", "WraparoundAge", "DeadTuplePercentMax", "OldestTransactionSeconds", "LastVacuumAgeHours", "LastAnalyzeAgeHours"),
  "health-check": [
    { name: "Healthy", per: "Endpoint", readBy: "-" },
    { name: "ResponseTime", per: "Endpoint", readBy: "-" },
    { name: "CertificateDaysLeft", per: "Endpoint", onlyHttps: true, readBy: "-" },
  ],
  "redis-health": [...["MemoryPercent", "EvictedKeys", "HitRatePercent", "ConnectedClients"].map((name) => ({ name, readBy: "-" })), { name: "QueueLength", per: "Queue", readBy: "-" }],
  "overdue-watch": [{ name: "Overdue", per: "Job", readBy: "-" }],
};

const CATEGORIES: [string, RegExp][] = [
  ["alarms", /^alarm |composite alarms$/],
  ["custom metrics", /^custom metric/],
  ["dashboard", /^dashboard/],
  ["KMS", /^KMS/],
  ["lambda", /^lambda/],
  ["fargate", /^fargate/],
  ["logs", /^logs of/],
  ["scheduler", /^scheduler/],
  ["ECR", /^ECR/],
  ["GetMetricData", /^GetMetricData/],
];

type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function measure(name: string, configFile: string, from: Date) {
  const { plan, resources, record } = await runPlan({ configFile, from });
  const items = plan.cost.components.flatMap((c) => c.items);
  const storage = items.filter((i) => i.what.startsWith("S3 storage")).reduce((a, i) => a + i.monthlyUsd, 0);
  const by = Object.fromEntries(CATEGORIES.map(([k, re]) => [k, items.filter((i) => re.test(i.what)).reduce((a, i) => a + i.monthlyUsd, 0)]));
  // Baseline: the same tasks' settings counted under the old policy; missed-run alarms back to one metric.
  const bundled = await bundledSettingsByFunction(resources);
  const settingsOf: Record<string, string>[] = [];
  for (const r of resources) {
    const i = r.inputs as Inputs;
    if (r.type === "aws:lambda/function:Function") settingsOf.push({ ...(bundled.get(String(i.name)) ?? {}), ...(i.environment?.variables ?? {}), AWS_LAMBDA_FUNCTION_NAME: String(i.name) });
    if (r.type === "aws:ecs/taskDefinition:TaskDefinition") {
      for (const c of JSON.parse(String(i.containerDefinitions ?? "[]")) as { environment?: { name: string; value: string }[] }[]) settingsOf.push(Object.fromEntries((c.environment ?? []).map((e) => [e.name, e.value])));
    }
  }
  const count = (list: { count: number }[]) => list.reduce((a, m) => a + m.count, 0);
  const taskMetricsNow = settingsOf.reduce((a, s) => a + count(publishedMetricCounts(s)), 0);
  const taskMetricsBefore = settingsOf.reduce((a, s) => a + count(publishedMetricCounts(s, { metrics: BEFORE, runMetrics: RUN_METRICS })), 0);
  const mathMissedRuns = resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && ((r.inputs as Inputs).metricQueries ?? []).some((q: Inputs) => q.expression === "invocations - FILL(errors, 0)")).length;
  const now = plan.cost.monthlyBeforeStorage ?? plan.cost.monthlyTotal - storage;
  const baseline = estimateCost(resources, groupByComponent(resources), from, record, bundled, { metrics: BEFORE, runMetrics: () => RUN_METRICS });
  const before = (baseline.monthlyBeforeStorage ?? baseline.monthlyTotal) - mathMissedRuns * PRICES.alarmPerMetric;
  const afterFree = (plan.cost.freeTier?.monthlyAfterFreeTier ?? plan.cost.monthlyTotal) - storage;
  return { name, now, before, afterFree, by, taskMetricsNow, taskMetricsBefore };
}

async function main() {
  const from = new Date(`${arg("from", "2026-12-01")}T00:00:00Z`);
  const stacks: [string, string][] = [["prod", path.join(ROOT, "Pulumi.prod.yaml")], ...EXAMPLES.map((e): [string, string] => [e, path.join(ROOT, "examples", e, `Pulumi.${e}.yaml`)])];
  const usd = (n: number) => `$${n.toFixed(2)}`.padStart(7);
  console.log(`Monthly cost before backup storage (us-east-1 list prices; plan from ${from.toISOString().slice(0, 10)})`);
  console.log(`${"stack".padEnd(18)} ${"baseline".padStart(8)} ${"now".padStart(7)} ${"x".padStart(5)}  ${"free tier".padStart(9)}  target  task metrics  breakdown (now)`);
  for (const [name, file] of stacks) {
    const m = await measure(name, file, from);
    const target = name === "prod" ? 12 : 15;
    const breakdown = Object.entries(m.by)
      .filter(([, v]) => v >= 0.005)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(", ");
    console.log(
      `${name.padEnd(18)} ${usd(m.before).padStart(8)} ${usd(m.now)} ${(m.now / m.before).toFixed(2).padStart(5)}  ${usd(m.afterFree).padStart(9)}  ${usd(target)}  ${String(m.taskMetricsBefore).padStart(4)} -> ${String(m.taskMetricsNow).padEnd(4)} ${breakdown}`,
    );
  }
  console.log("baseline: the same resources with every task publishing its run metrics and every figure it measures; free tier: after the always-free allowances, the regime alone in its account");
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
