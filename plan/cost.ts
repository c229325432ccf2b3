/**
 * Estimated monthly AWS cost of what the plan provisions, per component and per signal.
 *
 * List prices for us-east-1 (on-demand). `monthlyTotal` ignores free tiers, so it is an upper bound
 * for a small account; `freeTier` states separately what the always-free allowances take off when
 * the regime is alone in its account (they are per account, shared with everything else in it).
 * Usage-based parts (invocations, duration, storage) are derived from each schedule's runs in the 30
 * days after the plan's reference date and from the assumptions listed in `ASSUMPTIONS`; they are
 * estimates, not quotes.
 *
 * Per signal: every alarm is an item (`alarm <name>`, $0.10 per metric it reads, so a metric-math
 * alarm over two metrics is $0.20), and every custom metric a task publishes is an item with its
 * count and the hours of the 30 days (720) in which it is sent (`custom metric Healthy x 2, 720 h of
 * 720`), counted from the tasks' own list of published metrics (tasks/lib/metrics.ts) and the
 * settings each scheduled task is given (its environment, and the settings file bundled beside a
 * Lambda zip's index.js).
 *
 * Custom metrics are billed by the hour: "All custom metrics charges are prorated by the hour and
 * metered only when you send metrics to CloudWatch" (https://aws.amazon.com/cloudwatch/pricing/).
 * A task sends its metrics at the end of a run (start + its assumed run time), so a metric costs
 * $0.30 x (hours with a run's end) / 720: the daily backup's about 30 h, an every-minute check's
 * all 720. A sampled metric (`sampleSeconds`) is billed for the hours of the runs that send its
 * healthy value (the first of each sampling interval), and one sent only while breaching
 * (`onlyBreaching`) for none: the estimate assumes no alarm condition holds, so each hour of a
 * breach adds $0.30 / 720 per metric. The free tier (10 custom metrics) counts metric-months.
 *
 * Custom metrics written outside the tasks (log metric filters, the CloudWatch agent, host scripts)
 * are counted once per metric (each dimension set: a file backup's metric once per SSH host, whose
 * success carries its Host, and once for the tagged instances) an alarm reads or a metric filter
 * writes, at a full month: the agent
 * sends every minute, and a metric filter with a defaultValue sends in every hour its log group
 * receives any line, which a live application's logs do. The regime's filters have none: they send
 * only in hours with a matching line, which the plan cannot know, so a full month is counted as
 * their upper bound (a request counter does match every hour with traffic; an error counter's real
 * bill is lower by the hours without an error). A host script's metric is billed for the hours of its
 * runs (components/plan-record.ts hostMetricRuns), also when no alarm but the overdue watcher reads
 * it (a weekly file backup's): listed in the component whose hosts send it.
 *
 * Backup storage counts the copies each tier keeps and the expired ones the versioned vault keeps as
 * noncurrent versions for its noncurrentDays. The network that tasks in private subnets need (a NAT
 * gateway, or S3's free gateway endpoint and interface endpoints) is not provisioned by the regime and
 * often shared with the application: it is a stated assumption with its prices, not in the total.
 */
import type { Schedule } from "../regime/schedule";
import { schedulerRuns } from "../regime/scheduler-time";
import type { PlanRecord } from "../components/plan-record";
import { catalogueEntry, runTimeAssumption, runTimeSeconds } from "../tasks/catalogue";
import { isSampleRun, ITEM_SETTINGS, PUBLISHED_METRICS, publishedMetricCounts, publishedRunMetrics, RUN_METRICS, type PublishedMetric } from "../tasks/lib/metrics";
import { SETTINGS_FILE } from "../tasks/lib/bundled-settings";
import { historyReads, type WatchedJob } from "../tasks/overdue-watch";
import type { ComponentGroup } from "./run";
import type { RecordedResource } from "./mocks";

export const PRICES = {
  alarmPerMetric: 0.1, // CloudWatch standard-resolution alarm, per metric per month
  compositeAlarm: 0.5, // CloudWatch composite alarm per month
  customMetric: 0.3, // CloudWatch custom metric per month (first 10,000), prorated by the hour in which it is sent
  getMetricDataPerThousand: 0.01, // CloudWatch GetMetricData per 1,000 metrics requested (no free tier)
  dashboard: 3.0, // CloudWatch dashboard per month
  kmsKey: 1.0, // customer-managed KMS key per month
  ssmAdvancedParameter: 0.05, // SSM Parameter Store advanced parameter per month; standard ones are free (https://aws.amazon.com/systems-manager/pricing/)
  schedulerPerMillion: 1.0, // EventBridge Scheduler invocations
  lambdaPerMillionRequests: 0.2,
  lambdaGbSecondX86: 0.0000166667,
  lambdaGbSecondArm: 0.0000133334,
  fargateVcpuHour: 0.04048,
  fargateGbHour: 0.004445,
  s3StandardGbMonth: 0.023,
  ecrGbMonth: 0.1,
  logsIngestGb: 0.5,
  natGatewayHour: 0.045, // NAT gateway per hour (https://aws.amazon.com/vpc/pricing/)
  natGatewayGb: 0.045, // NAT gateway per GB processed
  interfaceEndpointAzHour: 0.01, // interface VPC endpoint (PrivateLink) per AZ per hour; an S3 gateway endpoint is free
} as const;

/**
 * Always-free monthly allowances per account (us-east-1): CloudWatch 10 custom metrics, 10 alarm
 * metrics (standard resolution), 3 dashboards of up to 50 metrics, 5 GB of log ingestion
 * (https://aws.amazon.com/cloudwatch/pricing/); Lambda 1M requests and 400,000 GB-s
 * (https://aws.amazon.com/lambda/pricing/); EventBridge Scheduler 14M invocations
 * (https://aws.amazon.com/eventbridge/pricing/). KMS keys, Fargate and S3 Standard storage have no
 * always-free allowance.
 */
export const FREE_TIER = {
  customMetrics: 10,
  alarmMetrics: 10,
  dashboards: 3,
  logsIngestGb: 5,
  lambdaRequests: 1_000_000,
  lambdaGbSeconds: 400_000,
  schedulerInvocations: 14_000_000,
} as const;

export const ASSUMPTIONS = [
  "prices: us-east-1 list prices, free tiers ignored in the total (stated separately)",
  runTimeAssumption(),
  "backup storage: a compressed dump is 25 % of the database size; copies kept = daily days + weekly days / 7 + monthly days / 30, plus the noncurrent versions an expired copy leaves for the vault's noncurrentDays (the lifecycle's noncurrentVersionExpiration), all at S3 Standard prices (a tier's transition to a colder class is not priced lower)",
  "custom metrics: what each task publishes (tasks/lib/metrics.ts) for the databases, endpoints, queues and jobs in its settings; run metrics only where no AWS metric carries them (Fargate)",
  "custom metrics are billed for the hours (of 720) in which a run ends (prorated by the hour: CloudWatch pricing); sampled ones for the hours of the runs that send a healthy value; no alarm condition holds (a breaching value adds its hours; Overdue and Unreachable are sent only then); metrics of log metric filters and the CloudWatch agent a full month; a file backup's success metric (sent by the hosts) the hours of its runs",
  "logs: checks (health-check, db-health, redis-health, overdue-watch) 1 KB per run plus 0.6 KB per endpoint, database, queue, watched job or checked alert topic (measured: a health-check of 2 endpoints writes 1.4 KB, of 10 5.5 KB, Lambda's START/END/REPORT lines added); other tasks 50 KB per run (a line per table or object)",
  "container image: 0.4 GB in ECR",
  "GetMetricData: the overdue watcher requests each watched job's history metric (and a Lambda task's Errors beside its Invocations) once per run, at $0.01 per 1,000 metrics requested (no free tier: the 1M free API requests exclude GetMetricData)",
];

export interface CostLine {
  component: string;
  monthlyUsd: number;
  items: { what: string; monthlyUsd: number }[];
}

export interface CostEstimate {
  currency: "USD";
  /** List price, free tiers ignored. */
  monthlyTotal: number;
  /** List price without the S3 storage of backups (grows with the databases, not with the regime's configuration). */
  monthlyBeforeStorage?: number;
  components: CostLine[];
  /** What the always-free allowances take off (FREE_TIER), when the regime is alone in its account. */
  freeTier?: { monthlyAfterFreeTier: number; items: { what: string; monthlyUsd: number }[] };
  assumptions: string[];
}

/** Log volume of one run of a task that reports per table or object (backup, maintenance, purge, drills), in KB (see ASSUMPTIONS). */
export const LOG_KB_PER_RUN = 50;
/** Checks: KB per run, and per item reported (endpoint, database, queue, watched job): measured from the tasks' own output (see ASSUMPTIONS). */
export const CHECK_LOG_KB = { perRun: 1, perItem: 0.6 } as const;

/** Whether a task is a check (the catalogue's `health` and `watch` kinds): its log volume is per item, not per table. */
function isCheckTask(task: string | undefined): boolean {
  const kind = catalogueEntry(task)?.scheduled?.kind;
  return kind === "health" || kind === "watch";
}

/** Metrics one run of the task with these settings requests from GetMetricData: the overdue watcher's job histories (tasks/overdue-watch.ts historyReads). */
function metricsRequestedPerRun(settings: Record<string, string>): number {
  if (!settings.WATCHED_JOBS) return 0;
  return historyReads(JSON.parse(settings.WATCHED_JOBS) as WatchedJob[]).reduce((n, r) => n + (r.failures ? 2 : 1), 0);
}

/** KB of logs one run of the task with these settings writes (see ASSUMPTIONS). */
function logKbPerRun(settings: Record<string, string>): number {
  if (!isCheckTask(settings.TASK)) return LOG_KB_PER_RUN;
  const items = Object.values(ITEM_SETTINGS).reduce((n, key) => {
    try {
      const v = settings[key] ? JSON.parse(settings[key]) : [];
      return n + (Array.isArray(v) ? v.length : 0);
    } catch {
      return n;
    }
  }, 0);
  return CHECK_LOG_KB.perRun + CHECK_LOG_KB.perItem * Math.max(1, items);
}

/** Compressed dump size as a share of the database size (see ASSUMPTIONS). */
const DUMP_RATIO = 0.25;

const round = (n: number) => Math.round(n * 100) / 100;

type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Hours in the estimate's window of 30 days. */
export const MONTH_HOURS = 720;

/**
 * Start times (ms) of a schedule's runs in the 30 days after `from`: a rate schedule's every interval
 * from `from` on; a cron schedule's as EventBridge Scheduler makes them (regime/scheduler-time.ts
 * schedulerRuns, the promises' clock): `cron(0/59 * * * ? *)` runs at :00 and :59, 1,440 times, not
 * once per longest interval (59 minutes), and a sub-hourly cron in working hours is not cut short.
 */
function runStartsIn30Days(s: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">, from: Date): { starts: number[]; intervalSeconds: number } {
  if (/^rate\(/i.test(s.expression)) {
    const n = Math.floor((30 * 86400) / s.intervalSeconds);
    return { starts: Array.from({ length: n }, (_, i) => from.getTime() + i * s.intervalSeconds * 1000), intervalSeconds: s.intervalSeconds };
  }
  return { starts: schedulerRuns(s, from.getTime(), from.getTime() + 30 * 86400_000).runs, intervalSeconds: s.intervalSeconds };
}

/**
 * Clock hours (of the 720 in the window) in which a metric is sent: the hours holding the end of a
 * run (start + `runSeconds`); with `sampleSeconds`, only of the runs that send a healthy value
 * (tasks/lib/metrics.ts isSampleRun, as the task decides it).
 */
export function billedHours(runs: { starts: number[]; intervalSeconds: number }, runSeconds: number, from: Date, sampleSeconds?: number): number {
  const hours = new Set<number>();
  const end = from.getTime() + MONTH_HOURS * 3600_000;
  for (const t of runs.starts) {
    if (sampleSeconds !== undefined && !isSampleRun(t, sampleSeconds, runs.intervalSeconds)) continue;
    const sent = t + runSeconds * 1000;
    if (sent < end) hours.add(Math.floor(sent / 3600_000));
  }
  return Math.min(MONTH_HOURS, hours.size);
}

function envOf(fn: Inputs): Record<string, string> {
  return (fn.environment?.variables ?? {}) as Record<string, string>;
}

/**
 * Seconds one run of a task is assumed to take: its catalogue run time (tasks/catalogue.ts, the
 * "task duration" assumption), from the size of the databases in its DATABASES setting (`sizesGb`:
 * database id -> GB, the config's sizeGb; 1 GB for one not listed) or its TIME_BUDGET_SECONDS setting
 * where the run time scales with them.
 */
function taskSeconds(env: Record<string, string>, sizesGb: Readonly<Record<string, number>>): number {
  const scheduled = catalogueEntry(env.TASK)?.scheduled;
  if (!scheduled) throw new Error(`cost: TASK "${env.TASK}" is no scheduled task of the catalogue (tasks/catalogue.ts)`);
  return runTimeSeconds(scheduled.cost.runTime, {
    sizeGb: databasesGb(env, sizesGb),
    ...(env.TIME_BUDGET_SECONDS !== undefined ? { timeBudgetSeconds: Number(env.TIME_BUDGET_SECONDS) } : {}),
  });
}

/** GB of the databases a task's DATABASES setting lists (1 GB when it lists none, or one of unknown size). */
function databasesGb(env: Record<string, string>, sizesGb: Readonly<Record<string, number>>): number {
  const ids = env.DATABASES ? (JSON.parse(env.DATABASES) as { id: string }[]).map((d) => d.id) : [];
  return ids.length ? ids.reduce((gb, id) => gb + (sizesGb[id] ?? 1), 0) : 1;
}

const TIER_EVERY_DAYS: Record<string, number> = { daily: 1, weekly: 7, monthly: 30 };

/**
 * GB of backups a lifecycle configuration keeps (`sizesGb`: database id -> GB, 1 GB for one not
 * listed): per tier prefix, the copies its expiration keeps times the dump size (`current`), and the
 * versions the bucket still holds after they expired (`noncurrent`): in a versioned bucket the
 * expiration only turns a copy into a noncurrent version, which the rule with
 * noncurrentVersionExpiration removes `noncurrentDays` later (components/backup-vault.ts), so a
 * tier written every `e` days holds about noncurrentDays / e more copies.
 */
export function keptBackupGb(lifecycle: Inputs, sizesGb: Readonly<Record<string, number>>): { current: number; noncurrent: number; noncurrentDays: number } {
  const rules = (lifecycle.rules ?? []) as Inputs[];
  const noncurrentDays = Math.max(0, ...rules.map((r) => Number(r.noncurrentVersionExpiration?.noncurrentDays ?? 0)));
  let current = 0;
  let noncurrent = 0;
  for (const rule of rules) {
    const m = /^(daily|weekly|monthly)\/([^/]+)\/$/.exec(String(rule.filter?.prefix ?? ""));
    const days = Number(rule.expiration?.days ?? 0);
    if (!m || !days) continue;
    const every = TIER_EVERY_DAYS[m[1]];
    const dumpGb = (sizesGb[m[2]] ?? 1) * DUMP_RATIO;
    const kept = Math.ceil(days / every);
    current += kept * dumpGb;
    noncurrent += (Math.ceil((days + noncurrentDays) / every) - kept) * dumpGb;
  }
  return { current, noncurrent, noncurrentDays };
}

/** Settings of a Lambda zip's bundled settings file (components/scheduled-task.ts splitSettings), per function name. */
export async function bundledSettingsByFunction(resources: RecordedResource[]): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  for (const r of resources) {
    if (r.type !== "aws:lambda/function:Function") continue;
    const code = (await (r.inputs as Inputs).code) as { assets?: Record<string, { text?: unknown }> | Promise<Record<string, { text?: unknown }>> } | undefined;
    const assets = code?.assets ? await code.assets : undefined;
    const file = assets?.[SETTINGS_FILE];
    if (!file?.text) continue;
    try {
      out.set(String((r.inputs as Inputs).name ?? r.name), JSON.parse(String(await file.text)) as Record<string, string>);
    } catch {
      // Not JSON: the task itself refuses it at cold start; the estimate counts the environment only.
    }
  }
  return out;
}

/** Which metrics the tasks publish: the tasks' own lists (default), or another policy to compare with (a benchmark's baseline). */
export interface PublishingPolicy {
  metrics: Record<string, readonly PublishedMetric[]>;
  runMetrics(settings: Record<string, string>): readonly string[];
}
const TASKS_POLICY: PublishingPolicy = { metrics: PUBLISHED_METRICS, runMetrics: (settings) => publishedRunMetrics(settings) };

/**
 * `custom metric Name x N, H h of 720` items of the custom metrics one task's settings make it
 * publish, each with the hours it is sent in (billedHours) and its price for them.
 */
function taskMetricItems(
  settings: Record<string, string>,
  runs: { starts: number[]; intervalSeconds: number },
  runSeconds: number,
  from: Date,
  policy: PublishingPolicy,
): { what: string; count: number; hours: number }[] {
  const readBy = new Map((policy.metrics[settings.TASK ?? ""] ?? []).map((m) => [m.name, m.readBy]));
  const hoursOf = new Map<number | undefined, number>();
  const hoursSent = (sample?: number) => {
    let h = hoursOf.get(sample);
    if (h === undefined) hoursOf.set(sample, (h = billedHours(runs, runSeconds, from, sample)));
    return h;
  };
  return publishedMetricCounts(settings, { metrics: policy.metrics, runMetrics: policy.runMetrics(settings) }).map(({ name, count, sampleSeconds, onlyBreaching }) => {
    const hours = onlyBreaching ? 0 : hoursSent(sampleSeconds);
    const how = onlyBreaching ? "sent only while its alarm's condition holds; " : sampleSeconds ? `healthy value sampled every ${sampleSeconds / 3600} h, breaching ones every run; ` : "";
    const why = (RUN_METRICS as readonly string[]).includes(name) ? "a run metric an alarm of the task reads" : `read by ${readBy.get(name)}`;
    return { what: `custom metric ${name} x ${count}, ${hours} h of ${MONTH_HOURS} (${how}${why})`, count, hours };
  });
}

/**
 * A custom metric an alarm reads that no scheduled task publishes (CloudWatch agent, host scripts,
 * log metric filters): namespace, name and dimensions, or undefined for an AWS metric or a task's.
 */
function outsideMetricKey(metric: { namespace?: string; metricName?: string; dimensions?: Record<string, string> }): string | undefined {
  const ns = String(metric.namespace ?? "");
  if (!ns || ns.startsWith("AWS/")) return undefined;
  if (metric.dimensions?.Task && metric.dimensions.Task in PUBLISHED_METRICS) return undefined;
  return `${ns}/${metric.metricName}${JSON.stringify(Object.entries(metric.dimensions ?? {}).sort())}`;
}

/**
 * The estimate of the plan's resources (`groups`: by component) over the 30 days after `from`.
 * `record`: what the program recorded (components/plan-record.ts): each schedule as the config
 * resolved it, by its name; database id -> GB as the config says (`sizeGb`, for dump and restore
 * times and backup storage); the custom metrics hosts send once per run of a schedule (a file
 * backup's success), billed for the hours of those runs. `bundled`: settings files of Lambda zips by
 * function name (bundledSettingsByFunction); `policy`: which metrics the tasks publish (default:
 * tasks/lib/metrics.ts). Throws when a Scheduler schedule has no record.
 */
export function estimateCost(
  resources: RecordedResource[],
  groups: ComponentGroup[],
  from: Date,
  record: Pick<PlanRecord, "schedules" | "databaseSizesGb"> & Partial<Pick<PlanRecord, "hostMetricRuns">>,
  bundled = new Map<string, Record<string, string>>(),
  policy: PublishingPolicy = TASKS_POLICY,
): CostEstimate {
  const sizesGb = record.databaseSizesGb;
  const hostRuns = record.hostMetricRuns ?? [];
  const byName = new Map(resources.map((r) => [`${r.type}::${r.name}`, r]));
  const fnByName = new Map<string, RecordedResource>();
  for (const r of resources) if (r.type === "aws:lambda/function:Function") fnByName.set(String(r.inputs.name ?? r.name), r);
  const taskDefByFamily = new Map<string, RecordedResource>();
  for (const r of resources) if (r.type === "aws:ecs/taskDefinition:TaskDefinition") taskDefByFamily.set(String(r.inputs.family ?? r.name), r);

  // Runs per schedule, by expression and timezone: a regime repeats the same few schedules across its
  // databases, and each count walks 30 days of the schedule.
  const runsOf = new Map<string, { starts: number[]; intervalSeconds: number }>();
  const runs30 = (s: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">): { starts: number[]; intervalSeconds: number } => {
    const key = `${s.timezone} ${s.expression}`;
    let n = runsOf.get(key);
    if (n === undefined) runsOf.set(key, (n = runStartsIn30Days(s, from)));
    return n;
  };

  // Usage the free tier covers, summed over the regime.
  const use = { customMetrics: 0, alarmMetrics: 0, dashboards: 0, logsGb: 0, lambdaRequests: 0, gbSecondsUsd: 0, gbSeconds: 0, schedulerInvocations: 0 };
  const outside = new Set<string>();
  const hostRunsByKey = new Map(hostRuns.map((h) => [outsideMetricKey(h)!, h]));
  // Scheduled tasks in private subnets, and the GB of dumps they move to or from S3 in the 30 days.
  const inVpc = { lambdas: [] as string[], fargate: [] as string[], dumpGb: 0 };
  const lines: CostLine[] = [];
  let storage = 0;
  for (const g of groups) {
    const items: { what: string; monthlyUsd: number }[] = [];
    const add = (what: string, usd: number) => usd > 0 && items.push({ what, monthlyUsd: usd });
    // Priced for the hours it is sent; listed even at $0 (a metric sent only while breaching).
    const customMetric = (what: string, count: number, hours = MONTH_HOURS) => {
      use.customMetrics += (count * hours) / MONTH_HOURS;
      items.push({ what, monthlyUsd: (count * PRICES.customMetric * hours) / MONTH_HOURS });
    };
    const outsideMetric = (metric: Inputs | undefined, what: string) => {
      const key = metric && outsideMetricKey(metric);
      if (!key || outside.has(key)) return;
      outside.add(key);
      const runs = hostRunsByKey.get(key);
      if (!runs) return customMetric(what, 1);
      // Sent once per run, at its end; counted in the hour each run starts (a file backup takes minutes).
      const hours = billedHours(runs30(runs.schedule), 0, from);
      customMetric(what.replace(`${MONTH_HOURS} h of ${MONTH_HOURS} (written outside the tasks`, `${hours} h of ${MONTH_HOURS} (sent by the hosts once per run of ${runs.schedule.expression} ${runs.schedule.timezone}`), 1, hours);
    };
    let compositeAlarms = 0;
    for (const { type, name } of g.resources) {
      const r = byName.get(`${type}::${name}`);
      if (!r) continue;
      const i = r.inputs as Inputs;
      switch (r.type) {
        case "aws:cloudwatch/metricAlarm:MetricAlarm": {
          const metrics: Inputs[] = i.metricQueries ? (i.metricQueries as Inputs[]).filter((q) => q.metric).map((q) => q.metric) : [i];
          use.alarmMetrics += metrics.length;
          add(`alarm ${i.name ?? name}${metrics.length > 1 ? ` (${metrics.length} metrics)` : ""}`, metrics.length * PRICES.alarmPerMetric);
          for (const m of metrics) outsideMetric(m, `custom metric ${m.namespace}/${m.metricName}, ${MONTH_HOURS} h of ${MONTH_HOURS} (written outside the tasks, read by ${i.name ?? name})`);
          break;
        }
        case "aws:cloudwatch/logMetricFilter:LogMetricFilter": {
          const t = i.metricTransformation as Inputs | undefined;
          if (t) outsideMetric({ namespace: t.namespace, metricName: t.name }, `custom metric ${t.namespace}/${t.name}, ${MONTH_HOURS} h of ${MONTH_HOURS} (log metric filter ${i.name ?? name}: ${t.defaultValue !== undefined ? "its defaultValue goes out in every hour the log group receives a line" : "sent only in the hours with a matching line: counted at a full month, its upper bound"})`);
          break;
        }
        case "aws:cloudwatch/compositeAlarm:CompositeAlarm":
          compositeAlarms += 1;
          break;
        case "aws:kms/key:Key":
          add(`KMS key ${name}`, PRICES.kmsKey);
          break;
        case "aws:ssm/parameter:Parameter":
          if (i.tier === "Advanced") add(`SSM advanced parameter ${i.name ?? name}`, PRICES.ssmAdvancedParameter);
          break;
        case "aws:cloudwatch/dashboard:Dashboard":
          use.dashboards += 1;
          add(`dashboard ${name}`, PRICES.dashboard);
          break;
        case "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": {
          const kept = keptBackupGb(i, sizesGb);
          const gb = kept.current + kept.noncurrent;
          storage += gb * PRICES.s3StandardGbMonth;
          add(
            `S3 storage of ~${round(gb)} GB of backups (${round(kept.current)} GB within their tiers' days, ${round(kept.noncurrent)} GB of expired copies kept as noncurrent versions ${kept.noncurrentDays} days more)`,
            gb * PRICES.s3StandardGbMonth,
          );
          break;
        }
        case "aws:ecr/repository:Repository":
          add(`ECR image storage ${name}`, 0.4 * PRICES.ecrGbMonth);
          break;
        case "aws:scheduler/schedule:Schedule": {
          const recorded = record.schedules[String(i.name ?? name)];
          if (!recorded) throw new Error(`cost: schedule ${i.name ?? name} was created without a record (components/plan-record.ts recordSchedule)`);
          const schedule = runs30(recorded.schedule);
          const runs = schedule.starts.length;
          use.schedulerInvocations += runs;
          add(`scheduler ${name} (${runs} runs)`, (runs / 1e6) * PRICES.schedulerPerMillion);
          // What it starts, as the program recorded it where it created the schedule.
          const fnName = recorded.starts?.runner === "lambda" ? recorded.starts.name : "";
          const fn = fnName ? fnByName.get(fnName) : undefined;
          if (fn) {
            const f = fn.inputs as Inputs;
            const env = envOf(f);
            const seconds = Math.min(Number(f.timeout ?? 900), taskSeconds(env, sizesGb));
            if (f.vpcConfig) {
              inVpc.lambdas.push(fn.name);
              inVpc.dumpGb += runs * dumpGbMoved(env, sizesGb);
            }
            const gbSeconds = runs * seconds * (Number(f.memorySize ?? 128) / 1024);
            const arm = (f.architectures ?? []).includes("arm64");
            const gbSecondsUsd = gbSeconds * (arm ? PRICES.lambdaGbSecondArm : PRICES.lambdaGbSecondX86);
            use.lambdaRequests += runs;
            use.gbSeconds += gbSeconds;
            use.gbSecondsUsd += gbSecondsUsd;
            add(`lambda ${fn.name} (${runs} runs x ${Math.round(seconds)} s)`, gbSecondsUsd + (runs / 1e6) * PRICES.lambdaPerMillionRequests);
            // Lambda sets AWS_LAMBDA_FUNCTION_NAME: the task publishes no run metric there unless told (RUN_METRICS).
            const settings = { ...(bundled.get(String(f.name ?? fnName)) ?? {}), ...env, AWS_LAMBDA_FUNCTION_NAME: String(f.name ?? fnName) };
            const logGb = (runs * logKbPerRun(settings)) / (1024 * 1024);
            use.logsGb += logGb;
            add(`logs of ${fn.name}`, logGb * PRICES.logsIngestGb);
            const requested = metricsRequestedPerRun(settings);
            if (requested) add(`GetMetricData of ${fn.name} (${requested} metrics x ${runs} runs)`, ((requested * runs) / 1000) * PRICES.getMetricDataPerThousand);
            for (const m of taskMetricItems(settings, schedule, seconds, from, policy)) customMetric(m.what, m.count, m.hours);
          }
          const td = recorded.starts?.runner === "fargate" ? taskDefByFamily.get(recorded.starts.name) : undefined;
          if (td) {
            const t = td.inputs as Inputs;
            const env: Record<string, string> = {};
            for (const c of JSON.parse(String(t.containerDefinitions ?? "[]")) as { environment?: { name: string; value: string }[] }[]) {
              for (const e of c.environment ?? []) env[e.name] = e.value;
            }
            // awsvpc without a public IP: every Fargate task runs in private subnets.
            inVpc.fargate.push(td.name);
            inVpc.dumpGb += runs * dumpGbMoved(env, sizesGb);
            const hours = (runs * taskSeconds(env, sizesGb)) / 3600;
            add(`fargate ${td.name} (${runs} runs)`, hours * ((Number(t.cpu ?? 1024) / 1024) * PRICES.fargateVcpuHour + (Number(t.memory ?? 2048) / 1024) * PRICES.fargateGbHour));
            for (const m of taskMetricItems(env, schedule, taskSeconds(env, sizesGb), from, policy)) customMetric(m.what, m.count, m.hours);
          }
          break;
        }
        default:
          break;
      }
    }
    // The component's host metrics no alarm read (a weekly file backup's, each SSH host's own: the overdue watcher reads them): billed here, for the hours of their runs.
    for (const h of hostRuns) {
      if (h.component !== g.component) continue;
      const key = outsideMetricKey(h)!;
      if (outside.has(key)) continue;
      outside.add(key);
      const hours = billedHours(runs30(h.schedule), 0, from);
      const dims = Object.entries(h.dimensions).map(([k, v]) => `${k}=${v}`).join(",");
      customMetric(`custom metric ${h.namespace}/${h.metricName} ${dims}, ${hours} h of ${MONTH_HOURS} (sent by the hosts once per run of ${h.schedule.expression} ${h.schedule.timezone}, read by the overdue watcher)`, 1, hours);
    }
    add(`${compositeAlarms} composite alarms`, compositeAlarms * PRICES.compositeAlarm);
    const total = items.reduce((a, b) => a + b.monthlyUsd, 0);
    if (items.length) lines.push({ component: g.component, monthlyUsd: round(total), items: items.map((x) => ({ ...x, monthlyUsd: round(x.monthlyUsd) })) });
  }
  const monthlyTotal = round(lines.reduce((a, b) => a + b.monthlyUsd, 0));
  const free = [
    {
      what: `CloudWatch: ${round(Math.min(use.customMetrics, FREE_TIER.customMetrics))} of ${round(use.customMetrics)} custom metric-months`,
      monthlyUsd: Math.min(use.customMetrics, FREE_TIER.customMetrics) * PRICES.customMetric,
    },
    { what: `CloudWatch: ${Math.min(use.alarmMetrics, FREE_TIER.alarmMetrics)} of ${use.alarmMetrics} alarm metrics`, monthlyUsd: Math.min(use.alarmMetrics, FREE_TIER.alarmMetrics) * PRICES.alarmPerMetric },
    { what: `CloudWatch: ${Math.min(use.dashboards, FREE_TIER.dashboards)} of ${use.dashboards} dashboards`, monthlyUsd: Math.min(use.dashboards, FREE_TIER.dashboards) * PRICES.dashboard },
    { what: `CloudWatch Logs: ${round(Math.min(use.logsGb, FREE_TIER.logsIngestGb))} of ${round(use.logsGb)} GB ingested`, monthlyUsd: Math.min(use.logsGb, FREE_TIER.logsIngestGb) * PRICES.logsIngestGb },
    { what: `Lambda: ${Math.min(use.lambdaRequests, FREE_TIER.lambdaRequests)} of ${use.lambdaRequests} requests`, monthlyUsd: (Math.min(use.lambdaRequests, FREE_TIER.lambdaRequests) / 1e6) * PRICES.lambdaPerMillionRequests },
    { what: `Lambda: ${Math.round(Math.min(use.gbSeconds, FREE_TIER.lambdaGbSeconds))} of ${Math.round(use.gbSeconds)} GB-s`, monthlyUsd: use.gbSeconds ? use.gbSecondsUsd * (Math.min(use.gbSeconds, FREE_TIER.lambdaGbSeconds) / use.gbSeconds) : 0 },
    { what: `EventBridge Scheduler: ${Math.min(use.schedulerInvocations, FREE_TIER.schedulerInvocations)} of ${use.schedulerInvocations} invocations`, monthlyUsd: (Math.min(use.schedulerInvocations, FREE_TIER.schedulerInvocations) / 1e6) * PRICES.schedulerPerMillion },
  ]
    .filter((x) => x.monthlyUsd > 0)
    .map((x) => ({ ...x, monthlyUsd: round(x.monthlyUsd) }));
  return {
    currency: "USD",
    monthlyTotal,
    monthlyBeforeStorage: round(monthlyTotal - storage),
    components: lines,
    freeTier: { monthlyAfterFreeTier: round(Math.max(0, monthlyTotal - free.reduce((a, b) => a + b.monthlyUsd, 0))), items: free },
    assumptions: [...ASSUMPTIONS, ...networkAssumption(inVpc)],
  };
}

/**
 * GB of dumps one run of the task moves to or from S3: the tasks whose catalogue run time streams the
 * whole database (`dumpMbPerSecond`: the backup writes the dump, verify and the drill read it); 0 for the others.
 */
function dumpGbMoved(env: Record<string, string>, sizesGb: Readonly<Record<string, number>>): number {
  const runTime = catalogueEntry(env.TASK)?.scheduled?.cost.runTime;
  return runTime && "dumpMbPerSecond" in runTime ? databasesGb(env, sizesGb) * DUMP_RATIO : 0;
}

/**
 * The network the regime's tasks in private subnets need and the regime does not provision (the
 * databases' VPC has it, or must): a stated figure beside the total, not in it, since a NAT gateway
 * or endpoint is usually shared with the application and may already be paid for. Empty when no
 * task runs in a VPC. Prices: PRICES.natGateway*, interfaceEndpointAzHour (us-east-1).
 */
function networkAssumption(inVpc: { lambdas: string[]; fargate: string[]; dumpGb: number }): string[] {
  const n = inVpc.lambdas.length + inVpc.fargate.length;
  if (!n) return [];
  // Fargate also pulls its image (ECR's api and dkr endpoints) and ships its output (CloudWatch Logs); Lambda's logs go through the service.
  const services = inVpc.fargate.length ? ["Secrets Manager", "ECR API", "ECR Docker", "CloudWatch Logs"] : ["Secrets Manager"];
  const usd = (n: number) => `$${n.toFixed(2)}`;
  return [
    `network, not in the total: ${n} scheduled task${n > 1 ? "s" : ""} run in private subnets (${[...inVpc.lambdas, ...inVpc.fargate].join(", ")}) and reach S3 and ${services.join(", ")} through the VPC's own NAT gateway or endpoints, which the regime does not provision: ` +
      `a NAT gateway costs ${usd(PRICES.natGatewayHour * MONTH_HOURS)} a month plus $${PRICES.natGatewayGb}/GB processed (~${Math.round(inVpc.dumpGb)} GB of dumps a month here: ${usd(inVpc.dumpGb * PRICES.natGatewayGb)}); ` +
      `or an S3 gateway endpoint (free, no per-GB charge for the dumps) and ${services.length} interface endpoint${services.length > 1 ? "s" : ""} (${services.join(", ")}) at ${usd(PRICES.interfaceEndpointAzHour * MONTH_HOURS)} a month each per availability zone`,
  ];
}
