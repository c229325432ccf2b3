/**
 * The CloudWatch custom metrics the tasks publish: one list per task, each metric with what reads
 * it. A custom metric costs $0.30 a month per name and dimension set, prorated by the hour: "All
 * custom metrics charges are prorated by the hour and metered only when you send metrics to
 * CloudWatch" (CloudWatch pricing, https://aws.amazon.com/cloudwatch/pricing/). So a task publishes
 * only what an alarm or the dashboard reads, and a slow or rare signal only when it matters
 * (`sampleSeconds`, `onlyBreaching`); every other figure it measures is a structured log line
 * (`"metric"` with name, unit, value and dimension), searchable with Logs Insights and billed as log
 * bytes only.
 *
 * The task runtime (tasks/lib/runtime.ts recordMetric) publishes exactly these, and the plan's cost
 * estimate (plan/cost.ts) counts exactly these from each scheduled task's settings: one list for
 * both, so the estimate cannot drift from what the code writes.
 *
 * Run metrics (`TaskSucceeded`, `TaskFailed`, `TaskDuration`) are not in these lists: where a task
 * runs decides them (publishedRunMetrics).
 */

/** The extra dimension of a per-item metric, and the setting that lists the items. */
export const ITEM_SETTINGS = { Database: "DATABASES", Endpoint: "ENDPOINTS", Queue: "QUEUES", Job: "WATCHED_JOBS", Severity: "ALERT_TOPICS" } as const;
export type ItemDimension = keyof typeof ITEM_SETTINGS;

export interface PublishedMetric {
  name: string;
  /** One metric per database, endpoint, queue, watched job or checked severity (its extra dimension); none: one per scheduled task. */
  per?: ItemDimension;
  /** Endpoints only: published for an endpoint whose `conditions` has this key (the alarm that reads it exists only then). */
  onlyWithCondition?: string;
  /** Published for an item whose entry sets this key (a queue's maxPendingIdleMinutes: the alarm that reads it exists only then). */
  onlyWithField?: string;
  /** Endpoints only: published for an https endpoint only. */
  onlyHttps?: boolean;
  /** What reads it: the alarm (components/...) or the dashboard widget. */
  readBy: string;
  /**
   * Sampled: a value that breaches its alarm's threshold is published on every run (the time to
   * page is that of an unsampled metric), a healthy one only in the first run of each
   * `sampleSeconds` of UTC time (86,400: the first run of each UTC day). The alarm treats missing
   * data as not breaching; a task that stops is paged by its missed-run alarm. Billed for the hours
   * of those first runs (plus the hours of breaching values, which the estimate assumes none of).
   */
  sampleSeconds?: number;
  /**
   * Published only while breaching (an overdue job's Overdue = 1); nothing is sent while all is well,
   * so it is billed only in the hours of a breach (the estimate assumes none). Its alarm treats
   * missing data as not breaching.
   */
  onlyBreaching?: boolean;
  /**
   * A check's data point, read by an alarm that counts periods and treats a period without data as
   * breaching (the down alarm: one Healthy per check and period): stamped with the run's scheduled
   * time, or its start when run by hand (tasks/lib/runtime.ts runDate), not with the moment the run
   * ends. A healthy answer that takes most of its timeout, after a cold start and a late delivery,
   * ends in the next period: stamped "now", its point would leave its own period empty (a failed
   * check to the alarm) and count twice in the next. Not for a figure that says when something
   * happened (BackupSucceeded is stamped with the dump's start) nor for a sampled one (its alarm
   * treats missing data as not breaching).
   */
  ofRunPeriod?: boolean;
}

/** Sampling intervals of the slow signals (PublishedMetric.sampleSeconds), in seconds. */
export const SAMPLE_SECONDS = {
  /** Days left of a certificate change once a day: one healthy value per UTC day. */
  certificateDaysLeft: 86_400,
  /**
   * Transaction-ID age: PostgreSQL forces an anti-wraparound vacuum at autovacuum_freeze_max_age
   * (200 million by default) and the warning sits at 1.3 billion of the 2.1 billion limit; even a
   * busy server's age moves by a few percent of that gap a day: one healthy value per UTC day.
   */
  wraparoundAge: 86_400,
  /**
   * Hours since the last (auto)vacuum or analyze of a due table: its warning is counted in hours
   * (default 24); four healthy values a day (every 6 h, a quarter of the default warning) keep the
   * climb towards it visible in the metric's graph.
   */
  maintenanceAgeHours: 6 * 3600,
  /**
   * Levels read only by a warning alarm (a database's connections, a Redis's memory, evictions, hit
   * rate and queue lengths): a value at or past the alarm's threshold goes out on every run, so the
   * alarm pages as soon as before; a healthy one four times a day (every 6 h) only keeps the metric's
   * graph. No dashboard widget reads them.
   */
  warningLevel: 6 * 3600,
} as const;

/**
 * Whether a run starting at `startMs` is the first of its sampling interval (UTC-aligned multiples
 * of `sampleSeconds`), for a task scheduled every `runIntervalSeconds`: its start falls within one
 * run interval of the interval's beginning. Without a run interval (a run by hand): every run is.
 * Stateless, so a late or repeated start costs at most one missing or one extra healthy value.
 */
export function isSampleRun(startMs: number, sampleSeconds: number, runIntervalSeconds: number | undefined): boolean {
  if (!runIntervalSeconds || runIntervalSeconds >= sampleSeconds) return true;
  return startMs % (sampleSeconds * 1000) < runIntervalSeconds * 1000;
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
    { name: "ConnectionsPercent", per: "Database", sampleSeconds: SAMPLE_SECONDS.warningLevel, readBy: "the connections alarm (components/database.ts)" },
    { name: "WraparoundAge", per: "Database", sampleSeconds: SAMPLE_SECONDS.wraparoundAge, readBy: "the wraparound alarm (components/database.ts)" },
    { name: "LastVacuumAgeHours", per: "Database", sampleSeconds: SAMPLE_SECONDS.maintenanceAgeHours, readBy: "the last-vacuum alarm (components/database.ts)" },
    { name: "LastAnalyzeAgeHours", per: "Database", sampleSeconds: SAMPLE_SECONDS.maintenanceAgeHours, readBy: "the last-analyze alarm (components/database.ts)" },
  ],
  "health-check": [
    { name: "Healthy", per: "Endpoint", ofRunPeriod: true, readBy: "the down and error-budget alarms (components/health-checks.ts) and the dashboard" },
    { name: "ResponseTime", per: "Endpoint", onlyWithCondition: "responseTimeMs", ofRunPeriod: true, readBy: "the slow alarm of an endpoint with maxResponseMs, and the dashboard" },
    { name: "CertificateDaysLeft", per: "Endpoint", onlyWithCondition: "certificateDaysLeft", sampleSeconds: SAMPLE_SECONDS.certificateDaysLeft, readBy: "the certificate alarm of an endpoint with minCertificateDays, and the dashboard" },
  ],
  "redis-health": [
    { name: "MemoryPercent", sampleSeconds: SAMPLE_SECONDS.warningLevel, readBy: "the memory alarm (components/redis.ts)" },
    { name: "EvictedKeys", sampleSeconds: SAMPLE_SECONDS.warningLevel, readBy: "the evictions alarm (components/redis.ts)" },
    { name: "HitRatePercent", sampleSeconds: SAMPLE_SECONDS.warningLevel, readBy: "the hit-rate alarm (components/redis.ts)" },
    { name: "QueueLength", per: "Queue", sampleSeconds: SAMPLE_SECONDS.warningLevel, readBy: "the queue-length alarm (components/redis.ts)" },
    { name: "QueueUnmeasurable", per: "Queue", onlyBreaching: true, readBy: "the unmeasurable-queue alarm (components/redis.ts)" },
    { name: "PendingIdleSeconds", per: "Queue", onlyWithField: "maxPendingIdleMinutes", onlyBreaching: true, readBy: "the pending-idle alarm of a queue with maxPendingIdleMinutes (components/redis.ts)" },
  ],
  "overdue-watch": [
    { name: "Overdue", per: "Job", onlyBreaching: true, readBy: "the overdue alarm of each watched job (components/overdue-watch.ts)" },
    { name: "Unreachable", per: "Severity", onlyBreaching: true, readBy: "the unreachable alarm of each checked severity (components/subscription-watch.ts)" },
  ],
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
 * items, and how often it is sent (`sampleSeconds`, `onlyBreaching`: see PublishedMetric; neither:
 * at the end of every run). Unknown task: run metrics only.
 */
export function publishedMetricCounts(
  settings: Record<string, string | undefined>,
  /** Another publishing policy to count (a benchmark's baseline); default: what the tasks publish. */
  policy: { metrics: Record<string, readonly PublishedMetric[]>; runMetrics: readonly string[] } = { metrics: PUBLISHED_METRICS, runMetrics: publishedRunMetrics(settings) },
): { name: string; count: number; sampleSeconds?: number; onlyBreaching?: boolean }[] {
  const out: { name: string; count: number; sampleSeconds?: number; onlyBreaching?: boolean }[] = policy.runMetrics.map((name) => ({ name, count: 1 }));
  const how = (m: PublishedMetric) => ({ ...(m.sampleSeconds ? { sampleSeconds: m.sampleSeconds } : {}), ...(m.onlyBreaching ? { onlyBreaching: true } : {}) });
  for (const m of policy.metrics[settings.TASK ?? ""] ?? []) {
    if (!m.per) {
      out.push({ name: m.name, count: 1, ...how(m) });
      continue;
    }
    let items = jsonList(settings[ITEM_SETTINGS[m.per]]);
    if (m.onlyHttps) items = items.filter((e) => String((e as { url?: unknown })?.url ?? "").startsWith("https:"));
    if (m.onlyWithField) items = items.filter((e) => (e as Record<string, unknown> | null)?.[m.onlyWithField!] !== undefined);
    if (m.onlyWithCondition) items = items.filter((e) => (e as { conditions?: Record<string, unknown> })?.conditions?.[m.onlyWithCondition!] !== undefined);
    if (items.length) out.push({ name: m.name, count: items.length, ...how(m) });
  }
  return out;
}

/** The entry of metric `name` in task `task`'s list, or undefined when the task does not publish it. */
export function publishedMetric(task: string, name: string): PublishedMetric | undefined {
  return (PUBLISHED_METRICS[task] ?? []).find((m) => m.name === name);
}

/** Whether task `task` publishes a sampled metric: its scheduled runs need SCHEDULE_INTERVAL_SECONDS (isSampleRun). */
export function publishesSampled(task: string): boolean {
  return (PUBLISHED_METRICS[task] ?? []).some((m) => m.sampleSeconds !== undefined);
}

/**
 * SCHEDULE_INTERVAL_SECONDS: seconds between two scheduled runs of the task (the component sets it
 * for a task with sampled metrics); undefined when unset (a run by hand). Throws on anything but a
 * whole number >= 1, naming the variable.
 */
export function scheduleIntervalSeconds(env: Record<string, string | undefined>): number | undefined {
  const v = env.SCHEDULE_INTERVAL_SECONDS;
  if (v === undefined || v === "") return undefined;
  if (!/^[0-9]+$/.test(v.trim()) || Number(v) < 1) throw new Error(`SCHEDULE_INTERVAL_SECONDS: must be a whole number of seconds >= 1, got "${v}"`);
  return Number(v);
}
