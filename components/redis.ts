/**
 * What one Redis gets: the redis-health task on its schedule (a ScheduledTask, in the VPC when the
 * config names a network, with a role that may read exactly its own password secret), and warning
 * alarms on the metrics the task writes: memory percent of maxmemory (not sent under an allkeys-*
 * policy, where a full cache is the steady state), and each queue's length at the
 * queue's severity (P2 unless set); evictions and hit rate when the config sets their thresholds.
 * A queue that cannot be measured (its key holds no list, sorted set or stream; Redis refuses the
 * read, as MOVED for a key another cluster node serves) pages at the queue's severity too, through
 * its own alarm on QueueUnmeasurable, naming its config key (redis[id].queues[i]), and so does a
 * stream entry a worker read and never acknowledged, idle past the queue's maxPendingIdleMinutes
 * (PendingIdleSeconds; 0: no such alarm), however short the backlog.
 * A critical value of the instance (memory at memoryCritPercent, a failing RDB save or AOF write,
 * Redis unreachable) fails the run, which pages the Redis' severity through the task's errors alarm.
 */
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, type AlertTopics, type Severity } from "./alarms";
import type { IamStatement } from "./iam";
import { jobMissedRunWindow, missedRunJobOf, ScheduledTask } from "./scheduled-task";
import { lambdaTaskWatchedJob, type WatchedJobSpec } from "./overdue-watch";
import { physicalName, withoutPrefix } from "./naming";
import type { TaskEnvironment } from "./task-settings";
import type { RedisConfig } from "../regime/schema";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";

export const REDIS_TASK = "redis-health";
/** The redis-health task's Lambda timeout: connect, INFO and a few commands per queue (LLENs, ZCARD, XINFO GROUPS and XPENDING) take well under a second; the rest is room for the secret and a cold start. */
export const REDIS_TASK_TIMEOUT_SECONDS = 60;

/** Seconds the task may take to connect and run its commands before it fails ("no answer within"). */
export const REDIS_TIMEOUT_SECONDS = 10;

export interface RedisHealthArgs {
  regime: string;
  /** The Redis as the config loader validated it; its `schedule` resolved (expression, timezone, intervalSeconds). */
  redis: RedisConfig;
  /** Zip archive of the redis-health task (build/bundle.ts). */
  archive: pulumi.asset.Archive;
  network?: { subnetIds: pulumi.Input<string[]>; securityGroupIds: pulumi.Input<string[]> };
  alarmTopics: AlertTopics;
  logRetentionDays: number;
  tags?: Record<string, string>;
}

/** The environment the task reads (tasks/redis-health.ts); no password, only the secret's ARN. */
export function redisTaskEnvironment(r: RedisConfig): Record<string, string> {
  return {
    REDIS_URL: r.url,
    ...(r.passwordSecretArn ? { REDIS_PASSWORD_SECRET_ARN: r.passwordSecretArn } : {}),
    MEMORY_WARN_PERCENT: String(r.memoryWarnPercent),
    MEMORY_CRIT_PERCENT: String(r.memoryCritPercent),
    ...(r.evictedKeysWarn !== undefined ? { EVICTED_KEYS_WARN: String(r.evictedKeysWarn) } : {}),
    ...(r.minHitRatePercent !== undefined ? { MIN_HIT_RATE_PERCENT: String(r.minHitRatePercent) } : {}),
    QUEUES: JSON.stringify(
      r.queues.map((q) => ({
        name: q.name,
        maxLength: q.maxLength,
        severity: q.severity,
        ...(q.group ? { group: q.group } : {}),
        ...(q.prioritySeparator ? { prioritySeparator: q.prioritySeparator } : {}),
        // 0: not checked, and no alarm reads it.
        ...(q.maxPendingIdleMinutes > 0 ? { maxPendingIdleMinutes: q.maxPendingIdleMinutes } : {}),
      })),
    ),
    TIMEOUT_SECONDS: String(REDIS_TIMEOUT_SECONDS),
  } satisfies TaskEnvironment<"redis-health">;
}

/** The alarm-name part of each queue: its name in the characters alarm names read well with, unique. */
export function queueAlarmParts(names: string[]): string[] {
  const seen = new Set<string>();
  return names.map((n, i) => {
    let part = `queue-${n.replace(/[^A-Za-z0-9_.-]+/g, "-").slice(0, 100)}`;
    if (seen.has(part)) part = `${part}-${i}`;
    seen.add(part);
    return part;
  });
}

/**
 * The period of the alarms on the task's metrics, in seconds: one run interval in whole minutes,
 * 5 minutes to 1 day (CloudWatch's longest period for an alarm of one evaluation period).
 */
export function redisAlarmPeriodSeconds(schedule: Pick<RedisConfig["schedule"], "intervalSeconds">): number {
  return Math.max(300, Math.min(86400, Math.round((schedule.intervalSeconds || 900) / 60) * 60));
}

/**
 * The metric part of each queue's alarm names, by queue (`names` in config order): its length
 * (queue-<name>), the unmeasurable-queue alarm and the pending-idle alarm. One name list for all,
 * so no queue's name makes another's alarm name; the earlier ones keep the names they had before
 * the pending-idle alarm came.
 */
export function queueAlarmMetrics(names: string[]): { parts: string[]; unmeasurableParts: string[]; pendingIdleParts: string[] } {
  const all = queueAlarmParts([...names, ...names.map((n) => `${n} unmeasurable`), ...names.map((n) => `${n} pending idle`)]);
  return { parts: all.slice(0, names.length), unmeasurableParts: all.slice(names.length, 2 * names.length), pendingIdleParts: all.slice(2 * names.length) };
}

/** Severity of a Redis warning level (memory, evictions, hit rate): a failed check pages the Redis' own severity. */
export const REDIS_WARNING_SEVERITY: Severity = "P2";

/**
 * The overdue watcher's job for the redis-health task of component `name` when it runs further apart
 * than its missed-run alarm can look back (weekly), or undefined: its function's runs (a failed run
 * pages through its errors alarm at the same severity), at the Redis' severity.
 */
export function redisWatchedJob(name: string, regime: string, r: Pick<RedisConfig, "id" | "schedule" | "severity" | "paused">, since?: pulumi.Input<string>): WatchedJobSpec | undefined {
  return lambdaTaskWatchedJob({
    resource: withoutPrefix(`${name}-${REDIS_TASK}`, regime),
    functionName: physicalName(`${name}-${REDIS_TASK}`, 64),
    since,
    schedule: r.schedule,
    timeoutSeconds: REDIS_TASK_TIMEOUT_SECONDS,
    severity: r.severity,
    countsRuns: true,
    description: `${REDIS_TASK} of redis ${r.id}`,
    window: jobMissedRunWindow(missedRunJobOf({ schedule: r.schedule, timeoutSeconds: REDIS_TASK_TIMEOUT_SECONDS })),
    paused: r.paused,
  });
}

export class RedisHealth extends pulumi.ComponentResource {
  public readonly task: ScheduledTask;
  /** The task for the overdue watcher when it runs further apart than a missed-run alarm sees (weekly): redisWatchedJob. */
  public readonly watchedJobs: WatchedJobSpec[];
  public readonly alarmNames: pulumi.Output<string[]>;

  constructor(name: string, args: RedisHealthArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:redis:RedisHealth", name, {}, opts);
    const r = args.redis;
    const tags = { ...(args.tags ?? {}), Redis: r.id };
    const statements: IamStatement[] = r.passwordSecretArn ? [{ Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [r.passwordSecretArn] }] : [];

    this.task = new ScheduledTask(
      `${name}-${REDIS_TASK}`,
      {
        regime: args.regime,
        taskName: REDIS_TASK,
        description: `${REDIS_TASK} of redis ${r.id}`,
        code: { kind: "zip", archive: args.archive, handler: "index.handler" },
        instance: r.id,
        environment: redisTaskEnvironment(r),
        schedule: r.schedule,
        scheduleKey: `redis[${r.id}].schedule`,
        paused: args.redis.paused,
        timeoutSeconds: REDIS_TASK_TIMEOUT_SECONDS,
        memoryMb: 256,
        vpc: args.network,
        policyStatements: statements,
        logRetentionDays: args.logRetentionDays,
        alarmTopics: args.alarmTopics,
        severity: r.severity,
        tags,
      },
      { parent: this },
    );

    this.watchedJobs = [redisWatchedJob(name, args.regime, r, this.task.watchStart)].flatMap((j) => (j ? [j] : []));

    // Warning levels page from the metrics the task writes. A breaching value is written on every
    // run, a healthy one once every 6 hours (tasks/lib/metrics.ts SAMPLE_SECONDS.warningLevel), so
    // missing data is not breaching; a run that writes none (it failed, or maxmemory is 0) is paged by
    // the errors alarm, a task that stops by its missed-run alarm.
    const period = redisAlarmPeriodSeconds(args.redis.schedule);
    const dims = { service: args.regime, Task: REDIS_TASK, Instance: r.id };
    const alarms: pulumi.Output<string>[] = [];
    const alarm = (
      metric: string,
      severity: RedisConfig["severity"],
      metricName: string,
      comparisonOperator: string,
      threshold: number,
      runbook: string,
      extraDims: Record<string, string> = {},
    ) =>
      alarms.push(
        createAlarm(
          args.regime,
          {
            resource: `redis-${r.id}`,
            metric,
            severity,
            runbook,
            treatMissingData: "notBreaching",
            args: {
              namespace: METRICS_NAMESPACE_DEFAULT,
              metricName,
              dimensions: { ...dims, ...extraDims },
              statistic: "Maximum",
              period,
              evaluationPeriods: 1,
              comparisonOperator,
              threshold,
            },
          },
          args.alarmTopics,
          { parent: this },
          tags,
        ).name,
      );

    alarm(
      "memory",
      REDIS_WARNING_SEVERITY,
      "MemoryPercent",
      "GreaterThanOrEqualToThreshold",
      r.memoryWarnPercent,
      `Redis ${r.id} uses ${r.memoryWarnPercent} % of its maxmemory (at ${r.memoryCritPercent} % the check fails). Look at the biggest keys (redis-cli --bigkeys, MEMORY USAGE), keys without a TTL, a growing queue; raise maxmemory or the node size if the data is expected. Write errors follow under noeviction (or volatile-* with no expiring key left). Under an allkeys-* policy the task sends no MemoryPercent: a full cache evicts by design, and evictedKeysWarn / minHitRatePercent watch what that costs.`,
    );
    if (r.evictedKeysWarn !== undefined) {
      alarm(
        "evictions",
        REDIS_WARNING_SEVERITY,
        "EvictedKeys",
        "GreaterThanOrEqualToThreshold",
        r.evictedKeysWarn,
        `Redis ${r.id} has evicted ${r.evictedKeysWarn} keys or more since it started (INFO stats evicted_keys): it is full and drops data to make room. Raise maxmemory or the node size, or shorten TTLs; CONFIG RESETSTAT restarts the count.`,
      );
    }
    if (r.minHitRatePercent !== undefined) {
      alarm(
        "hit-rate",
        REDIS_WARNING_SEVERITY,
        "HitRatePercent",
        "LessThanThreshold",
        r.minHitRatePercent,
        `The cache hit rate of Redis ${r.id} (keyspace_hits / (hits + misses) since it started) fell below ${r.minHitRatePercent} %. Check for evictions, TTLs that are too short, or new code reading keys it never writes.`,
      );
    }
    const { parts, unmeasurableParts, pendingIdleParts } = queueAlarmMetrics(r.queues.map((q) => q.name));
    r.queues.forEach((q, i) =>
      alarm(
        parts[i],
        q.severity,
        "QueueLength",
        "GreaterThanThreshold",
        q.maxLength,
        `The queue "${q.name}" on Redis ${r.id} holds more than ${q.maxLength} messages waiting (a list: LLEN of it and its Celery priority lists; a sorted set: ZCARD; a stream: its consumer group's lag plus pending, XINFO GROUPS): workers fall behind or are down. The redis-health result (its queue:${q.name} check) says how it was counted and, for a stream, how long the oldest unacknowledged entry has waited (a stuck worker). Check the workers (celery -A <app> inspect active / stats; XINFO CONSUMERS for a stream), their logs and errors, and scale them; purge only messages you know are obsolete.`,
        { Queue: q.name },
      ),
    );
    // Sent only while the queue cannot be measured (tasks/redis-health.ts): its own problem, at its own
    // severity, not a failed run at the Redis' severity.
    r.queues.forEach((q, i) =>
      alarm(
        unmeasurableParts[i],
        q.severity,
        "QueueUnmeasurable",
        "GreaterThanOrEqualToThreshold",
        1,
        `The queue "${q.name}" (redis[${r.id}].queues[${i}]) on Redis ${r.id} cannot be measured: its key holds no list, sorted set or stream (a string or hash written under the queue's name), the stream lacks the consumer group the config names, or Redis refused reading it (MOVED: another cluster node serves the key; NOPERM: the user may not read it). The redis-health result names which (its queue:${q.name} check). Fix the key, the queue's name or group in the config (or start the workers that create the group); point REDIS_URL at the node that serves the key.`,
        { Queue: q.name },
      ),
    );

    // Sent only while a stream entry is idle past the limit (tasks/redis-health.ts pendingIdle); 0: no alarm.
    r.queues.forEach((q, i) => {
      if (q.maxPendingIdleMinutes > 0) {
        alarm(
          pendingIdleParts[i],
          q.severity,
          "PendingIdleSeconds",
          "GreaterThanThreshold",
          q.maxPendingIdleMinutes * 60,
          `A stream entry of the queue "${q.name}" (redis[${r.id}].queues[${i}]) on Redis ${r.id} was read by a worker (XREADGROUP) and not acknowledged (XACK) for more than ${q.maxPendingIdleMinutes} min: the worker died or hangs, and Redis redelivers nothing on its own, however short the backlog. The redis-health result (its pending_idle:${q.name} check) names the entry, its consumer group and consumer. Check that consumer (XINFO CONSUMERS ${q.name} <group>: its idle and inactive times), restart the workers, and claim the entry for a live consumer (XAUTOCLAIM ${q.name} <group> <consumer> ${q.maxPendingIdleMinutes * 60000} 0) or acknowledge it if it is done; raise maxPendingIdleMinutes if jobs run that long.`,
          { Queue: q.name },
        );
      }
    });

    this.alarmNames = pulumi.all(alarms);
    this.registerOutputs({ alarmNames: this.alarmNames });
  }
}
