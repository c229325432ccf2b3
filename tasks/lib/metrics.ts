/**
 * The CloudWatch custom metrics the tasks publish: one list per task, each metric with what reads
 * it. A custom metric costs $0.30 a month per name and dimension set (CloudWatch pricing,
 * https://aws.amazon.com/cloudwatch/pricing/), so a task publishes only what an alarm or the
 * dashboard reads; every other figure it measures is a structured log line (`"metric"` with name,
 * unit, value and dimension), searchable with Logs Insights and billed as log bytes only.
 *
 * The task runtime (tasks/lib/runtime.ts recordMetric) publishes exactly these, and the plan's cost
 * estimate (plan/cost.ts) counts exactly these from each scheduled task's settings: one list for
 * both, so the estimate cannot drift from what the code writes.
 *
 * Run metrics (`TaskSucceeded`, `TaskFailed`, `TaskDuration`) are not in these lists: where a task
 * runs decides them (publishedRunMetrics).
 */

/** The extra dimension of a per-item metric, and the setting that lists the items. */
export const ITEM_SETTINGS = { Database: "DATABASES", Endpoint: "ENDPOINTS", Queue: "QUEUES", Job: "WATCHED_JOBS" } as const;
export type ItemDimension = keyof typeof ITEM_SETTINGS;

export interface PublishedMetric {
  name: string;
  /** One metric per database, endpoint, queue or watched job (its extra dimension); none: one per scheduled task. */
  per?: ItemDimension;
  /** Endpoints only: published for an endpoint whose `conditions` has this key (the alarm that reads it exists only then). */
  onlyWithCondition?: string;
  /** Endpoints only: published for an https endpoint only. */
  onlyHttps?: boolean;
  /** What reads it: the alarm (components/...) or the dashboard widget. */
  readBy: string;
}

export const PUBLISHED_METRICS: Record<string, readonly PublishedMetric[]> = {
  backup: [
    { name: "BackupSucceeded", per: "Database", readBy: "the RPO alarm (components/database.ts) and the dashboard's backups widget" },
    { name: "BackupSizeBytes", per: "Database", readBy: "the dashboard's backup size widget (no AWS metric has a database's dump size)" },
  ],
  "verify-backup": [],
  "restore-drill": [],
  vacuum: [],
  analyze: [],
  reindex: [],
  purge: [],
  "db-health": [
    { name: "ConnectionsPercent", per: "Database", readBy: "the connections alarm (components/database.ts)" },
    { name: "WraparoundAge", per: "Database", readBy: "the wraparound alarm (components/database.ts)" },
    { name: "LastVacuumAgeHours", per: "Database", readBy: "the last-vacuum alarm (components/database.ts)" },
    { name: "LastAnalyzeAgeHours", per: "Database", readBy: "the last-analyze alarm (components/database.ts)" },
  ],
  "health-check": [
    { name: "Healthy", per: "Endpoint", readBy: "the down and error-budget alarms (components/health-checks.ts) and the dashboard" },
    { name: "ResponseTime", per: "Endpoint", onlyWithCondition: "responseTimeMs", readBy: "the slow alarm of an endpoint with maxResponseMs, and the dashboard" },
    { name: "CertificateDaysLeft", per: "Endpoint", onlyWithCondition: "certificateDaysLeft", readBy: "the certificate alarm of an endpoint with minCertificateDays, and the dashboard" },
  ],
  "redis-health": [
    { name: "MemoryPercent", readBy: "the memory alarm (components/redis.ts)" },
    { name: "EvictedKeys", readBy: "the evictions alarm (components/redis.ts)" },
    { name: "HitRatePercent", readBy: "the hit-rate alarm (components/redis.ts)" },
    { name: "QueueLength", per: "Queue", readBy: "the queue-length alarm (components/redis.ts)" },
  ],
  "overdue-watch": [{ name: "Overdue", per: "Job", readBy: "the overdue alarm of each watched job (components/overdue-watch.ts)" }],
};

/** The run metrics every task can write; which of them are published depends on where it runs. */
export const RUN_METRICS = ["TaskSucceeded", "TaskFailed", "TaskDuration"] as const;
export type RunMetric = (typeof RUN_METRICS)[number];

/**
 * The run metrics a task publishes as CloudWatch metrics; the others go to its log line `"run"`.
 *
 * - RUN_METRICS set (comma-separated names, may be empty): exactly those. The scheduled-task
 *   component sets it for Fargate to what its alarms read (TaskFailed for the errors alarm,
 *   TaskDuration for the duration alarm, TaskSucceeded only when a missed-run alarm reads it).
 * - On Lambda (AWS_LAMBDA_FUNCTION_NAME set) without RUN_METRICS: none. Lambda publishes Errors,
 *   Duration and Invocations of every function for free, and the alarms read those.
 * - Elsewhere (the command line, a container without RUN_METRICS): all three.
 *
 * Throws on a name that is not a run metric, naming the variable.
 */
export function publishedRunMetrics(env: Record<string, string | undefined>): RunMetric[] {
  if (env.RUN_METRICS !== undefined) {
    const names = env.RUN_METRICS.split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => !(RUN_METRICS as readonly string[]).includes(n));
    if (unknown.length) throw new Error(`RUN_METRICS: ${unknown.join(", ")} is not one of ${RUN_METRICS.join(", ")}`);
    return RUN_METRICS.filter((m) => names.includes(m));
  }
  return env.AWS_LAMBDA_FUNCTION_NAME ? [] : [...RUN_METRICS];
}

function jsonList(text: string | undefined): unknown[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

/**
 * The custom metrics one scheduled task publishes, from its settings (environment plus bundled
 * settings) as the task reads them: run metrics, then each published metric with its count of
 * items. Unknown task: run metrics only.
 */
export function publishedMetricCounts(
  settings: Record<string, string | undefined>,
  /** Another publishing policy to count (a benchmark's baseline); default: what the tasks publish. */
  policy: { metrics: Record<string, readonly PublishedMetric[]>; runMetrics: readonly string[] } = { metrics: PUBLISHED_METRICS, runMetrics: publishedRunMetrics(settings) },
): { name: string; count: number }[] {
  const out: { name: string; count: number }[] = policy.runMetrics.map((name) => ({ name, count: 1 }));
  for (const m of policy.metrics[settings.TASK ?? ""] ?? []) {
    if (!m.per) {
      out.push({ name: m.name, count: 1 });
      continue;
    }
    let items = jsonList(settings[ITEM_SETTINGS[m.per]]);
    if (m.onlyHttps) items = items.filter((e) => String((e as { url?: unknown })?.url ?? "").startsWith("https:"));
    if (m.onlyWithCondition) items = items.filter((e) => (e as { conditions?: Record<string, unknown> })?.conditions?.[m.onlyWithCondition!] !== undefined);
    if (items.length) out.push({ name: m.name, count: items.length });
  }
  return out;
}

/** Whether task `task` publishes metric `name` (run metrics aside). */
export function isPublished(task: string, name: string): boolean {
  return (PUBLISHED_METRICS[task] ?? []).some((m) => m.name === name);
}
