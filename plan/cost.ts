/**
 * Estimated monthly AWS cost of what the plan provisions, per component.
 *
 * List prices for us-east-1 (on-demand, free tiers ignored, so the figure is an upper bound for a
 * small account). Usage-based parts (invocations, duration, storage) are derived from each schedule's
 * number of runs in the 30 days after the plan's reference date and from the assumptions listed in
 * `ASSUMPTIONS`; they are estimates, not quotes.
 */
import { nextRuns, parseSchedule } from "../regime/schedule";
import { catalogueEntry, runTimeAssumption } from "../tasks/catalogue";
import type { ComponentGroup } from "./run";
import type { RecordedResource } from "./mocks";

export const PRICES = {
  alarmPerMetric: 0.1, // CloudWatch standard-resolution alarm, per metric per month
  compositeAlarm: 0.5, // CloudWatch composite alarm per month
  customMetric: 0.3, // CloudWatch custom metric per month (first 10,000)
  dashboard: 3.0, // CloudWatch dashboard per month
  kmsKey: 1.0, // customer-managed KMS key per month
  schedulerPerMillion: 1.0, // EventBridge Scheduler invocations
  lambdaPerMillionRequests: 0.2,
  lambdaGbSecondX86: 0.0000166667,
  lambdaGbSecondArm: 0.0000133334,
  fargateVcpuHour: 0.04048,
  fargateGbHour: 0.004445,
  s3StandardGbMonth: 0.023,
  ecrGbMonth: 0.1,
  logsIngestGb: 0.5,
} as const;

export const ASSUMPTIONS = [
  "prices: us-east-1 list prices, free tiers ignored",
  runTimeAssumption(),
  "backup storage: a compressed dump is 25 % of the database size; copies kept = daily days + weekly days / 7 + monthly days / 30",
  "custom metrics: 3 per task (succeeded, failed, duration) and 3 per database or endpoint it reports on; redis-health 4 (memory, evictions, hit rate, clients) and 1 per queue; overdue-watch 1 per watched job",
  "logs: 50 KB ingested per task run (structured lines: one per table, endpoint or database, and a summary)",
  "container image: 0.4 GB in ECR",
];

export interface CostLine {
  component: string;
  monthlyUsd: number;
  items: { what: string; monthlyUsd: number }[];
}

export interface CostEstimate {
  currency: "USD";
  monthlyTotal: number;
  components: CostLine[];
  assumptions: string[];
}

/** Log volume of one task run, in KB (see ASSUMPTIONS). */
export const LOG_KB_PER_RUN = 50;

/** Compressed dump size as a share of the database size (see ASSUMPTIONS). */
const DUMP_RATIO = 0.25;

const round = (n: number) => Math.round(n * 100) / 100;

type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function runsIn30Days(expression: string, timezone: string, from: Date): number {
  const s = parseSchedule(expression, timezone);
  // Hourly or more often: the count follows from the interval (walking 43,200 minutes costs seconds).
  if (s.intervalSeconds > 0 && s.intervalSeconds <= 3600 && /^(rate\(|cron\(\S+ \* \* \* \? \*\))/.test(expression)) {
    return Math.floor((30 * 86400) / s.intervalSeconds);
  }
  const end = from.getTime() + 30 * 86400_000;
  return nextRuns(s, from, 744).filter((d) => d.getTime() < end).length;
}

function envOf(fn: Inputs): Record<string, string> {
  return (fn.environment?.variables ?? {}) as Record<string, string>;
}

function listLength(json: string | undefined): number {
  if (!json) return 0;
  try {
    const v = JSON.parse(json);
    return Array.isArray(v) ? v.length : 0;
  } catch {
    return 0;
  }
}

/**
 * Seconds one run of a task is assumed to take: its catalogue run time (tasks/catalogue.ts, the
 * "task duration" assumption), from its ESTIMATED_SIZE_GB or TIME_BUDGET_SECONDS setting where the
 * run time scales with them.
 */
function taskSeconds(env: Record<string, string>): number {
  const scheduled = catalogueEntry(env.TASK)?.scheduled;
  if (!scheduled) throw new Error(`cost: TASK "${env.TASK}" is no scheduled task of the catalogue (tasks/catalogue.ts)`);
  const r = scheduled.cost.runTime;
  if ("seconds" in r) return r.seconds;
  if ("dumpMbPerSecond" in r) return Math.max(r.minSeconds, (Number(env.ESTIMATED_SIZE_GB ?? 1) * 1024) / r.dumpMbPerSecond);
  return Number(env.TIME_BUDGET_SECONDS ?? r.defaultSeconds);
}

/** Database id -> estimated size in GB, from the backup tasks' settings. */
function databaseSizes(resources: RecordedResource[]): Map<string, number> {
  const sizes = new Map<string, number>();
  const note = (env: Record<string, string>) => {
    if (env.TASK !== "backup" || !env.DATABASES) return;
    for (const d of JSON.parse(env.DATABASES) as { id: string }[]) sizes.set(d.id, Number(env.ESTIMATED_SIZE_GB ?? 1));
  };
  for (const r of resources) {
    if (r.type === "aws:lambda/function:Function") note(envOf(r.inputs as Inputs));
    if (r.type === "aws:ecs/taskDefinition:TaskDefinition") {
      for (const c of JSON.parse(String((r.inputs as Inputs).containerDefinitions ?? "[]")) as { environment?: { name: string; value: string }[] }[]) {
        note(Object.fromEntries((c.environment ?? []).map((e) => [e.name, e.value])));
      }
    }
  }
  return sizes;
}

const TIER_EVERY_DAYS: Record<string, number> = { daily: 1, weekly: 7, monthly: 30 };

/** GB of backups a lifecycle configuration keeps: copies per tier prefix times the dump size. */
function keptBackupGb(lifecycle: Inputs, sizes: Map<string, number>): number {
  let gb = 0;
  for (const rule of (lifecycle.rules ?? []) as Inputs[]) {
    const m = /^(daily|weekly|monthly)\/([^/]+)\/$/.exec(String(rule.filter?.prefix ?? ""));
    const days = Number(rule.expiration?.days ?? 0);
    if (!m || !days) continue;
    gb += Math.ceil(days / TIER_EVERY_DAYS[m[1]]) * (sizes.get(m[2]) ?? 1) * DUMP_RATIO;
  }
  return gb;
}

export function estimateCost(resources: RecordedResource[], groups: ComponentGroup[], from: Date): CostEstimate {
  const byName = new Map(resources.map((r) => [`${r.type}::${r.name}`, r]));
  const sizes = databaseSizes(resources);
  const fnByArnName = new Map<string, RecordedResource>();
  for (const r of resources) if (r.type === "aws:lambda/function:Function") fnByArnName.set(String(r.inputs.name ?? r.name), r);
  const taskDefByFamily = new Map<string, RecordedResource>();
  for (const r of resources) if (r.type === "aws:ecs/taskDefinition:TaskDefinition") taskDefByFamily.set(String(r.inputs.family ?? r.name), r);

  // Runs per schedule, by expression and timezone: a regime repeats the same few schedules across its
  // databases, and each count walks 30 days of the schedule.
  const runsOf = new Map<string, number>();
  const runs30 = (expression: string, timezone: string): number => {
    const key = `${timezone} ${expression}`;
    let n = runsOf.get(key);
    if (n === undefined) runsOf.set(key, (n = runsIn30Days(expression, timezone, from)));
    return n;
  };

  const lines: CostLine[] = [];
  for (const g of groups) {
    const items: { what: string; monthlyUsd: number }[] = [];
    const add = (what: string, usd: number) => usd > 0 && items.push({ what, monthlyUsd: usd });
    let alarmMetrics = 0;
    let compositeAlarms = 0;
    for (const { type, name } of g.resources) {
      const r = byName.get(`${type}::${name}`);
      if (!r) continue;
      const i = r.inputs as Inputs;
      switch (r.type) {
        case "aws:cloudwatch/metricAlarm:MetricAlarm":
          alarmMetrics += i.metricQueries ? (i.metricQueries as Inputs[]).filter((q) => q.metric).length : 1;
          break;
        case "aws:cloudwatch/compositeAlarm:CompositeAlarm":
          compositeAlarms += 1;
          break;
        case "aws:kms/key:Key":
          add(`KMS key ${name}`, PRICES.kmsKey);
          break;
        case "aws:cloudwatch/dashboard:Dashboard":
          add(`dashboard ${name}`, PRICES.dashboard);
          break;
        case "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": {
          const gb = keptBackupGb(i, sizes);
          add(`S3 storage of ~${round(gb)} GB of backups`, gb * PRICES.s3StandardGbMonth);
          break;
        }
        case "aws:ecr/repository:Repository":
          add(`ECR image storage ${name}`, 0.4 * PRICES.ecrGbMonth);
          break;
        case "aws:scheduler/schedule:Schedule": {
          const runs = runs30(String(i.scheduleExpression), String(i.scheduleExpressionTimezone ?? "UTC"));
          add(`scheduler ${name} (${runs} runs)`, (runs / 1e6) * PRICES.schedulerPerMillion);
          const targetArn = String(i.target?.arn ?? "");
          const fn = fnByArnName.get(targetArn.split(":function:")[1] ?? "");
          if (fn) {
            const f = fn.inputs as Inputs;
            const env = envOf(f);
            const seconds = Math.min(Number(f.timeout ?? 900), taskSeconds(env));
            const gbSeconds = runs * seconds * (Number(f.memorySize ?? 128) / 1024);
            const arm = (f.architectures ?? []).includes("arm64");
            add(`lambda ${fn.name} (${runs} runs x ${Math.round(seconds)} s)`, gbSeconds * (arm ? PRICES.lambdaGbSecondArm : PRICES.lambdaGbSecondX86) + (runs / 1e6) * PRICES.lambdaPerMillionRequests);
            add(`logs of ${fn.name}`, ((runs * LOG_KB_PER_RUN) / (1024 * 1024)) * PRICES.logsIngestGb);
            const reported = listLength(env.DATABASES) + listLength(env.ENDPOINTS) + listLength(env.WATCHED_JOBS) / 3;
            const own = env.TASK === "redis-health" ? 4 + listLength(env.QUEUES) : 3 * reported;
            add(`custom metrics of ${fn.name}`, (3 + own) * PRICES.customMetric);
          }
          const ecs = i.target?.ecsParameters?.taskDefinitionArn ? String(i.target.ecsParameters.taskDefinitionArn) : "";
          const td = ecs ? taskDefByFamily.get(ecs.split("task-definition/")[1]?.split(":")[0] ?? "") : undefined;
          if (td) {
            const t = td.inputs as Inputs;
            const env: Record<string, string> = {};
            for (const c of JSON.parse(String(t.containerDefinitions ?? "[]")) as { environment?: { name: string; value: string }[] }[]) {
              for (const e of c.environment ?? []) env[e.name] = e.value;
            }
            const hours = (runs * taskSeconds(env)) / 3600;
            add(`fargate ${td.name} (${runs} runs)`, hours * ((Number(t.cpu ?? 1024) / 1024) * PRICES.fargateVcpuHour + (Number(t.memory ?? 2048) / 1024) * PRICES.fargateGbHour));
            add(`custom metrics of ${td.name}`, (3 + 3 * listLength(env.DATABASES)) * PRICES.customMetric);
          }
          break;
        }
        default:
          break;
      }
    }
    add(`${alarmMetrics} alarm metrics`, alarmMetrics * PRICES.alarmPerMetric);
    add(`${compositeAlarms} composite alarms`, compositeAlarms * PRICES.compositeAlarm);
    const total = items.reduce((a, b) => a + b.monthlyUsd, 0);
    if (items.length) lines.push({ component: g.component, monthlyUsd: round(total), items: items.map((x) => ({ ...x, monthlyUsd: round(x.monthlyUsd) })) });
  }
  return {
    currency: "USD",
    monthlyTotal: round(lines.reduce((a, b) => a + b.monthlyUsd, 0)),
    components: lines,
    assumptions: ASSUMPTIONS,
  };
}
