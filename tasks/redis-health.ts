/**
 * Redis health, what the guides run by hand (`redis-cli INFO memory`, `INFO stats | grep keyspace`,
 * the Celery queue's backlog): one INFO (memory, stats, clients, persistence) and a few commands per
 * queue (TYPE, then LLENs, ZCARD, or XINFO GROUPS, XPENDING (with IDLE, per group) and, when a group's lag is unknown, XRANGE).
 * Each check has a value and a status (ok, warning, critical, skipped) against its thresholds.
 *
 * - memory: used_memory as a percent of maxmemory (warning / critical) under a policy that refuses
 *   writes when full (noeviction, and volatile-*, which evicts only keys with a TTL and refuses writes
 *   once none is left); under an allkeys-* policy a full cache is its designed steady state (Redis
 *   docs, "Key eviction"): the value is reported, never a warning, and MemoryPercent is not sent,
 *   evicted_keys and hit_rate tell what the evictions cost. Skipped when maxmemory is 0 (no limit:
 *   Redis grows until the host runs out), which the check's detail says.
 * - evicted_keys: keys evicted since the server started (or CONFIG RESETSTAT); warning from EVICTED_KEYS_WARN.
 * - hit_rate: keyspace_hits / (hits + misses) in percent; warning below MIN_HIT_RATE_PERCENT.
 * - connected_clients: reported, no threshold.
 * - rdb_last_bgsave / aof_last_write: critical when the last save or AOF write failed (Redis then
 *   refuses writes, or loses them on restart); aof_last_rewrite: warning when the last rewrite failed.
 * - queue:<name>: the messages waiting, by the key's TYPE (queueLength): a list (Celery/Kombu) by LLEN
 *   of the list and of its Kombu priority lists (`<name>\x06\x16<1..9>`, or the `prioritySeparator`
 *   the app's Kombu `sep` sets; with priorities Celery files messages there, and the plain list
 *   holds priority 0 only); a sorted set by ZCARD; a stream by its consumer group's backlog, `lag`
 *   plus `pending` of XINFO GROUPS (the group QUEUES names, else the one furthest behind; when Redis
 *   cannot give the lag, the entries after the group's last-delivered-id counted by XRANGE up to
 *   maxLength + 1), never XLEN, which counts the entries the stream retains, read or not; no key: 0
 *   (Redis deletes an emptied list). Warning above its maxLength (its own alarm pages). A key of
 *   another type, a consumer group QUEUES names that the stream lacks, or a length Redis refuses to give (an error reply for the key: MOVED to another cluster node,
 *   CLUSTERDOWN for its slot, NOPERM), is critical: a queue nobody can measure must not look healthy. It is the queue's problem, not the instance's: it
 *   sends QueueUnmeasurable 1 (Queue dimension), which the queue's own alarm reads at the queue's
 *   severity, and it does not fail the run; its detail names the queue's QUEUES entry.
 * - pending_idle:<name>: a stream queue with maxPendingIdleMinutes: the longest a delivered entry has
 *   waited unacknowledged in any consumer group measured, in seconds (pendingIdle: XPENDING IDLE on
 *   Redis 6.2+, each group's oldest pending entry by ID before that); a warning past the limit, which
 *   its own alarm pages at the queue's severity. A worker that died after XREADGROUP leaves its entry
 *   pending with the backlog small (lag 0, pending 1). A list has no such check: Redis keeps no
 *   enqueue time for a list's items, so only its length is read.
 *
 * A critical check of the instance fails the task with one line naming the checks and their values
 * (the errors alarm fires, at the Redis' severity); warnings are in the result and the metrics. An
 * unreachable Redis, or a connection lost while the queues are read, fails within TIMEOUT_SECONDS.
 *
 * The password: REDIS_PASSWORD_SECRET_ARN names a Secrets Manager secret whose SecretString is the
 * password itself or JSON {"password": ..., "username"?: ...}. REDIS_PASSWORD (or a password in
 * REDIS_URL) is for a local run only and refused in Lambda.
 *
 * Metrics (dimensions service, Task, Instance): MemoryPercent (when maxmemory is set and the policy
 * is not allkeys-*), EvictedKeys,
 * HitRatePercent (once there were lookups), ConnectedClients, and QueueLength with a Queue dimension
 * (QueueUnmeasurable 1 instead for a queue that cannot be measured, sent only then; PendingIdleSeconds
 * for a stream entry idle past maxPendingIdleMinutes, sent only then, a log line otherwise);
 * those tasks/lib/metrics.ts lists are published, sampled: a value that meets its alarm's condition
 * (memory at or past MEMORY_WARN_PERCENT, evictions at or past EVICTED_KEYS_WARN, a hit rate below
 * MIN_HIT_RATE_PERCENT, a queue longer than its maxLength) on every run, a healthy one only in the
 * first run of each 6 hours when SCHEDULE_INTERVAL_SECONDS says how often the task runs.
 */
import { createClient, ErrorReply } from "@redis/client";
import { z } from "zod";
import { defineTask, envInt, envJson, envNumber, MetricUnit, oneLine, recordMetric, TaskError, type TaskContext } from "./lib/runtime";
import { SECRET_ARN } from "../regime/arn";
import { readSecretString } from "./lib/secrets";

const queueSetting = z
  .object({
    name: z.string().min(1, "must not be empty"),
    maxLength: z.number().int("must be a whole number").min(0, "must be >= 0"),
    severity: z.string().optional(),
    group: z.string().min(1, "must not be empty").optional(),
    prioritySeparator: z.string().min(1, "must not be empty").optional(),
    maxPendingIdleMinutes: z.number().int("must be a whole number").min(1, "must be >= 1").optional(),
  })
  .strict();

export const redisHealthSettings = z
  .object({
    REDIS_URL: z.string({ message: "not set (redis://host:6379 or rediss://host:6380)" }).superRefine((u, ctx) => {
      try {
        const url = new URL(u);
        if (url.protocol !== "redis:" && url.protocol !== "rediss:") ctx.addIssue({ code: "custom", message: "must start with redis:// or rediss://" });
        else if (!url.hostname) ctx.addIssue({ code: "custom", message: "must name a host" });
        else if (!/^\/?(\d{1,2})?$/.test(url.pathname)) ctx.addIssue({ code: "custom", message: "path must be a database number (redis://host:6379/1) or nothing" });
      } catch {
        ctx.addIssue({ code: "custom", message: "must be a URL like redis://host:6379" });
      }
    }),
    REDIS_PASSWORD_SECRET_ARN: z.string().regex(SECRET_ARN, "must be the ARN of a Secrets Manager secret").optional(),
    /** Local runs only (refused in Lambda). */
    REDIS_PASSWORD: z.string().min(1, "must not be empty").optional(),
    MEMORY_WARN_PERCENT: envNumber(0, 100).default(80),
    MEMORY_CRIT_PERCENT: envNumber(0, 100).default(90),
    /** 0: not checked. */
    EVICTED_KEYS_WARN: envInt(0).default(0),
    /** 0: not checked. */
    MIN_HIT_RATE_PERCENT: envNumber(0, 100).default(0),
    /**
     * [{ name, maxLength, severity?, group?, prioritySeparator?, maxPendingIdleMinutes? }]: queue keys
     * (list, sorted set or stream) whose backlog is checked (queueLength); maxPendingIdleMinutes: a
     * stream's pending entry idle longer than this pages (pendingIdle); unset: not checked.
     */
    QUEUES: envJson(z.array(queueSetting)).optional(),
    /** Connecting plus every command, in seconds: an unreachable Redis fails within this. */
    TIMEOUT_SECONDS: envNumber(0.1, 300).default(10),
    METRICS_INSTANCE: z.string().optional(),
    AWS_LAMBDA_FUNCTION_NAME: z.string().optional(),
  })
  .superRefine((s, ctx) => {
    if (s.MEMORY_WARN_PERCENT > 0 && s.MEMORY_CRIT_PERCENT > 0 && s.MEMORY_WARN_PERCENT > s.MEMORY_CRIT_PERCENT) {
      ctx.addIssue({ code: "custom", path: ["MEMORY_WARN_PERCENT"], message: `must not exceed MEMORY_CRIT_PERCENT (${s.MEMORY_CRIT_PERCENT})` });
    }
    const urlPassword = (() => {
      try {
        return new URL(s.REDIS_URL).password;
      } catch {
        return "";
      }
    })();
    if (s.AWS_LAMBDA_FUNCTION_NAME && (s.REDIS_PASSWORD || urlPassword)) {
      ctx.addIssue({
        code: "custom",
        path: [s.REDIS_PASSWORD ? "REDIS_PASSWORD" : "REDIS_URL"],
        message: "a password in an environment variable is refused in Lambda; use REDIS_PASSWORD_SECRET_ARN",
      });
    }
    if (s.REDIS_PASSWORD_SECRET_ARN && (s.REDIS_PASSWORD || urlPassword)) {
      ctx.addIssue({ code: "custom", path: ["REDIS_PASSWORD_SECRET_ARN"], message: "set either it or a password (REDIS_PASSWORD, REDIS_URL), not both" });
    }
  });
export type RedisHealthSettings = z.infer<typeof redisHealthSettings>;

export type RedisCheckStatus = "ok" | "warning" | "critical" | "skipped";

export interface RedisCheck {
  name: string;
  value: number | string | null;
  unit: string;
  status: RedisCheckStatus;
  warn?: number;
  crit?: number;
  detail?: string;
  /**
   * A queue's check: its key (QUEUES[].name). Its problems page through the queue's own alarms at
   * the queue's severity (QueueLength, QueueUnmeasurable), never through the run's failure.
   */
  queue?: string;
}

export interface RedisHealthReport {
  /** METRICS_INSTANCE (the config's id), or host:port. */
  redis: string;
  status: "ok" | "warning" | "critical";
  redisVersion?: string;
  checks: RedisCheck[];
}

/** INFO's text as key -> value (section headers and blank lines dropped). */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith("#")) continue;
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** The password (and ACL user) from a SecretString: the text itself, or JSON {"password": ..., "username"?: ...}. */
export function parseSecretPassword(text: string | undefined): { password: string; username?: string } {
  if (text === undefined || text === "") throw new Error("the secret has no SecretString (binary secrets are not read)");
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch {
      throw new Error('SecretString starts with "{" but is not JSON; store the password itself or {"password": "..."}');
    }
    const p = z.object({ password: z.string().min(1), username: z.string().min(1).optional() }).safeParse(doc);
    if (!p.success) throw new Error('SecretString JSON has no "password" string; store {"password": "..."} or the password itself');
    return p.data.username ? { password: p.data.password, username: p.data.username } : { password: p.data.password };
  }
  return { password: text };
}

async function secretPassword(arn: string, signal: AbortSignal): Promise<{ password: string; username?: string }> {
  try {
    return parseSecretPassword(await readSecretString(arn, signal));
  } catch (err) {
    throw new TaskError(`REDIS_PASSWORD_SECRET_ARN: cannot read the password: ${oneLine(err)}`);
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Status of a value against thresholds (0 = level off); higher is worse. */
function evaluate(value: number, warn: number, crit: number): RedisCheckStatus {
  if (crit > 0 && value >= crit) return "critical";
  if (warn > 0 && value >= warn) return "warning";
  return "ok";
}

const bytes = (n: number) => (n >= 1024 * 1024 ? `${round(n / (1024 * 1024))} MB` : n >= 1024 ? `${round(n / 1024)} KB` : `${n} B`);

/**
 * Whether Redis under this maxmemory-policy makes room by evicting any key when full (allkeys-lru,
 * allkeys-lfu, allkeys-random), so that a full cache refuses no write: Redis docs, "Key eviction".
 * volatile-* evicts only keys with an expire set and refuses writes once none is left, as noeviction does.
 */
export const evictsWhenFull = (policy: string | undefined): boolean => /^allkeys-/.test(policy ?? "");

/** The checks INFO gives (memory, evictions, hit rate, clients, persistence). */
export function infoChecks(info: Record<string, string>, st: Pick<RedisHealthSettings, "MEMORY_WARN_PERCENT" | "MEMORY_CRIT_PERCENT" | "EVICTED_KEYS_WARN" | "MIN_HIT_RATE_PERCENT">): RedisCheck[] {
  const n = (k: string) => Number(info[k] ?? 0);
  const checks: RedisCheck[] = [];
  const used = n("used_memory");
  const max = n("maxmemory");
  const thresholds = { ...(st.MEMORY_WARN_PERCENT > 0 ? { warn: st.MEMORY_WARN_PERCENT } : {}), ...(st.MEMORY_CRIT_PERCENT > 0 ? { crit: st.MEMORY_CRIT_PERCENT } : {}) };
  if (max > 0 && evictsWhenFull(info.maxmemory_policy)) {
    checks.push({
      name: "memory",
      value: round((100 * used) / max),
      unit: "percent",
      status: "ok",
      detail: `used_memory ${bytes(used)} of maxmemory ${bytes(max)}, policy ${info.maxmemory_policy}: Redis evicts keys to stay under maxmemory, a full cache is its steady state (evicted_keys and hit_rate tell what it costs)`,
    });
  } else if (max > 0) {
    const pct = round((100 * used) / max);
    checks.push({
      name: "memory",
      value: pct,
      unit: "percent",
      status: evaluate(pct, st.MEMORY_WARN_PERCENT, st.MEMORY_CRIT_PERCENT),
      ...thresholds,
      detail: `used_memory ${bytes(used)} of maxmemory ${bytes(max)}, policy ${info.maxmemory_policy ?? "unknown"}`,
    });
  } else {
    checks.push({ name: "memory", value: null, unit: "percent", status: "skipped", detail: `maxmemory is 0 (no limit): memory percent not checked; used_memory ${bytes(used)}` });
  }
  const evicted = n("evicted_keys");
  checks.push({
    name: "evicted_keys",
    value: evicted,
    unit: "keys",
    status: evaluate(evicted, st.EVICTED_KEYS_WARN, 0),
    ...(st.EVICTED_KEYS_WARN > 0 ? { warn: st.EVICTED_KEYS_WARN } : {}),
    detail: "since the server started or CONFIG RESETSTAT",
  });
  const hits = n("keyspace_hits");
  const misses = n("keyspace_misses");
  if (hits + misses > 0) {
    const rate = round((100 * hits) / (hits + misses));
    checks.push({
      name: "hit_rate",
      value: rate,
      unit: "percent",
      status: st.MIN_HIT_RATE_PERCENT > 0 && rate < st.MIN_HIT_RATE_PERCENT ? "warning" : "ok",
      ...(st.MIN_HIT_RATE_PERCENT > 0 ? { warn: st.MIN_HIT_RATE_PERCENT } : {}),
      detail: `${hits} hits, ${misses} misses`,
    });
  } else {
    checks.push({ name: "hit_rate", value: null, unit: "percent", status: "skipped", detail: "no keyspace lookups since the server started or CONFIG RESETSTAT" });
  }
  checks.push({ name: "connected_clients", value: n("connected_clients"), unit: "clients", status: "ok", ...(info.blocked_clients ? { detail: `${info.blocked_clients} blocked` } : {}) });
  const bgsave = info.rdb_last_bgsave_status ?? "unknown";
  checks.push({
    name: "rdb_last_bgsave",
    value: bgsave,
    unit: "status",
    status: bgsave === "err" ? "critical" : "ok",
    detail: bgsave === "err" ? "the last RDB snapshot failed; with stop-writes-on-bgsave-error Redis refuses writes" : `rdb_changes_since_last_save ${info.rdb_changes_since_last_save ?? "unknown"}`,
  });
  if (info.aof_enabled === "1") {
    const write = info.aof_last_write_status ?? "unknown";
    checks.push({ name: "aof_last_write", value: write, unit: "status", status: write === "err" ? "critical" : "ok", ...(write === "err" ? { detail: "the last AOF write failed" } : {}) });
    const rewrite = info.aof_last_bgrewrite_status ?? "unknown";
    checks.push({ name: "aof_last_rewrite", value: rewrite, unit: "status", status: rewrite === "err" ? "warning" : "ok", ...(rewrite === "err" ? { detail: "the last AOF rewrite (BGREWRITEAOF) failed" } : {}) });
  } else {
    checks.push({ name: "aof_last_write", value: null, unit: "status", status: "skipped", detail: "AOF is off (appendonly no)" });
  }
  return checks;
}

/** host:port of a Redis URL, never its credentials. */
export function redisAddress(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || "6379"}`;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: () => string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new TaskError(what()));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The commands a queue's length is read with (a @redis/client client has them). */
export interface QueueCommands {
  type(key: string): Promise<unknown>;
  lLen(key: string): Promise<number>;
  zCard(key: string): Promise<number>;
  xLen(key: string): Promise<number>;
  /** A raw command: XINFO GROUPS and XPENDING are read field by field, whatever the Redis version gives. */
  sendCommand(args: string[]): Promise<unknown>;
}

/**
 * Kombu's separator between a queue's name and its priority (kombu.transport.redis Channel.sep,
 * "\x06\x16"): with priorities, the Redis transport keeps a queue as one list per priority step,
 * `<queue>` for step 0 and `<queue><sep><step>` for the others (Channel._q_for_pri; default
 * priority_steps [0, 3, 6, 9]), and counts the queue as the sum of their LLENs (Channel._size).
 */
export const KOMBU_PRIORITY_SEPARATOR = "\x06\x16";
/**
 * The step values a priority list can carry: kombu clamps a message's priority to 0..9 and files it
 * under the largest step at or below it, so every step a message lands in is 0..9 whatever
 * priority_steps says (the default [0, 3, 6, 9], Celery's documented list(range(10))); 0 is the plain list.
 */
const PRIORITY_STEPS = [1, 2, 3, 4, 5, 6, 7, 8, 9];

/** A queue as QUEUES gives it: its key, and how its key's messages are counted. */
export interface QueueSpec {
  name: string;
  /** A stream's consumer group whose backlog is the queue's length; unset: the largest backlog of its groups. */
  group?: string;
  /** Kombu's `sep` transport option when the app sets one; default KOMBU_PRIORITY_SEPARATOR. */
  prioritySeparator?: string;
  /**
   * Minutes a stream's delivered entry may stay unacknowledged (idle in its group's PEL) before it
   * pages: set, the groups' pending entries are read for it (pendingIdle); unset, not.
   */
  maxPendingIdleMinutes?: number;
  /**
   * The queue's threshold (messages): a stream's undelivered entries that Redis cannot give as a lag
   * are counted up to maxLength + 1, enough to tell it is exceeded; unset: every one.
   */
  maxLength?: number;
}

/**
 * A queue's length and how it was read; `atLeast` when the length is a lower bound (a stream group's
 * undelivered entries counted up to QueueSpec.maxLength + 1, more than its threshold, and not further).
 */
export type QueueMeasure = { length: number; how: string; atLeast?: boolean; pendingIdle?: PendingIdle } | { error: string };

/** A delivered, unacknowledged entry of a consumer group: one row of XPENDING's extended form. */
export interface PendingEntry {
  group: string;
  id: string;
  consumer: string;
  /** Milliseconds since it was last delivered (XREADGROUP, XCLAIM). */
  idleMs: number;
  deliveries: number;
}

/**
 * The longest-idle pending entry pendingIdle found (none: nothing pending), in whole seconds, and,
 * when some group's entries were not all looked at, why only its oldest entry by ID was (`onlyOldest`).
 */
export interface PendingIdle {
  seconds: number;
  entry?: PendingEntry;
  onlyOldest?: string;
}

/**
 * The most pending entries of one group XPENDING IDLE may scan. Redis reads the PEL from its start
 * until an entry is idle long enough, the whole of it when none is, in one blocking command: measured
 * 40 to 50 ms for 200,000 pending entries with none idle enough on Redis 7.0 (a 2-core test machine),
 * so about 2 ms at this bound. A group with more pending entries (a consumer that reads far ahead of
 * what it acknowledges, or a pile-up its backlog alarm already pages) has its oldest entry read only.
 */
export const IDLE_SCAN_MAX_PENDING = 10_000;

/** XINFO GROUPS' reply (field, value, field, value, ... per group) as objects. */
function fieldMaps(reply: unknown): Record<string, unknown>[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((g) => {
    const out: Record<string, unknown> = {};
    if (Array.isArray(g)) for (let i = 0; i + 1 < g.length; i += 2) out[String(g[i])] = g[i + 1];
    return out;
  });
}

/**
 * Entries XRANGE returns per call when counting a stream's undelivered entries: the reply holds the
 * entries' fields, so a long count is read in pieces of this many.
 */
const XRANGE_CHUNK = 1000;

/**
 * The entries of stream `key` after `afterId` (a group's last-delivered-id), counted up to `limit`
 * (unset: all): XRANGE from `afterId` inclusive, in XRANGE_CHUNK pieces, each piece dropping the
 * entry equal to its start. The inclusive start works on every Redis with streams (5.0+); the
 * exclusive `(id` start needs 6.2 (Redis docs, "XRANGE": exclusive ranges since 6.2.0), and Redis
 * 6.x is where XINFO GROUPS has no lag at all. O(the count), not O(the stream).
 */
async function entriesAfter(client: QueueCommands, key: string, afterId: string, limit?: number): Promise<number> {
  let count = 0;
  let start = afterId;
  while (limit === undefined || count < limit) {
    const want = limit === undefined ? XRANGE_CHUNK : Math.min(XRANGE_CHUNK, limit - count);
    const reply = await client.sendCommand(["XRANGE", key, start, "+", "COUNT", String(want + 1)]);
    const ids = Array.isArray(reply) ? reply.map((e) => String((e as unknown[])[0])) : [];
    const after = ids.filter((id) => id !== start).slice(0, want);
    count += after.length;
    if (after.length < want) break;
    start = after[after.length - 1];
  }
  return count;
}

const num = (v: unknown): number | null => (v === null || v === undefined || v === "" ? null : Number.isFinite(Number(v)) ? Number(v) : null);

/**
 * A Celery (Kombu) queue on a list: the plain list and its priority lists `<name><sep><1..9>`
 * (KOMBU_PRIORITY_SEPARATOR), summed as Kombu's own _size sums them. On a cluster only the plain list:
 * Kombu's Redis transport runs on a single server (its BRPOP over several lists is refused
 * CROSSSLOT on a cluster), and the priority lists may live on other nodes.
 */
async function listLength(client: QueueCommands, q: QueueSpec, plainType: string, cluster: boolean): Promise<QueueMeasure> {
  const plain = plainType === "list" ? Number(await client.lLen(q.name)) : 0;
  if (cluster) return plainType === "none" ? { length: 0, how: "no key: empty" } : { length: plain, how: "LLEN of a list" };
  const sep = q.prioritySeparator ?? KOMBU_PRIORITY_SEPARATOR;
  const counts = await Promise.all(PRIORITY_STEPS.map(async (step) => [step, Number(await client.lLen(`${q.name}${sep}${step}`))] as const));
  const held = counts.filter(([, n]) => n > 0);
  const total = plain + held.reduce((sum, [, n]) => sum + n, 0);
  if (!held.length) return plainType === "none" ? { length: 0, how: "no key: empty" } : { length: plain, how: "LLEN of a list" };
  return { length: total, how: `LLEN of the list and its Kombu priority lists: ${plain} plain, ${held.map(([step, n]) => `${n} at priority ${step}`).join(", ")}` };
}

/**
 * The first pending entry of `group` on stream `key` by ID (XPENDING key group - + 1, Redis 5.0+), or
 * with `minIdleMs` the first one idle at least that long (XPENDING ... IDLE, Redis 6.2+: an older
 * server answers an error reply); undefined when there is none.
 */
async function firstPending(client: QueueCommands, key: string, group: string, minIdleMs?: number): Promise<PendingEntry | undefined> {
  const reply = await client.sendCommand(["XPENDING", key, group, ...(minIdleMs === undefined ? [] : ["IDLE", String(minIdleMs)]), "-", "+", "1"]);
  const row = Array.isArray(reply) && Array.isArray(reply[0]) ? (reply[0] as unknown[]) : undefined;
  return row ? { group, id: String(row[0]), consumer: String(row[1]), idleMs: Number(row[2]), deliveries: Number(row[3]) } : undefined;
}

/**
 * The longest a delivered entry of stream `key` has waited unacknowledged in any of `groups`, against
 * `limitSeconds`: a worker that read it (XREADGROUP) and died before XACK leaves it pending for
 * good, and nothing redelivers it until a consumer claims it (Redis docs, "XCLAIM": "Then suddenly
 * that consumer fails forever"). Per group with pending entries: its oldest entry by ID; when that one
 * is within the limit, XPENDING IDLE (limitSeconds + 1) s finds any later entry idle longer (one
 * delivered again by XCLAIM restarts its idle time and may sit before a stuck one). Redis before 6.2
 * refuses IDLE, and a group over IDLE_SCAN_MAX_PENDING is not scanned: then only its oldest entry by
 * ID is read (`onlyOldest` says why). Two commands per group at most. Idle times are whole seconds,
 * rounded down.
 */
export async function pendingIdle(client: QueueCommands, key: string, groups: { name: string; pending: number }[], limitSeconds: number): Promise<PendingIdle> {
  let idleRefused = false;
  const onlyOldest: string[] = [];
  let worst: PendingEntry | undefined;
  for (const g of groups.filter((g) => g.pending > 0)) {
    let entry = await firstPending(client, key, g.name);
    if (entry && entry.idleMs < (limitSeconds + 1) * 1000) {
      if (g.pending > IDLE_SCAN_MAX_PENDING) onlyOldest.push(`group ${g.name} has ${g.pending} pending, more than XPENDING IDLE may scan (${IDLE_SCAN_MAX_PENDING})`);
      else if (!idleRefused) {
        try {
          entry = (await firstPending(client, key, g.name, (limitSeconds + 1) * 1000)) ?? entry;
        } catch (err) {
          if (!(err instanceof ErrorReply)) throw err;
          idleRefused = true;
        }
      }
    }
    if (entry && (!worst || entry.idleMs > worst.idleMs)) worst = entry;
  }
  if (idleRefused) onlyOldest.unshift("Redis refused XPENDING IDLE (before 6.2)");
  return { seconds: worst ? Math.floor(worst.idleMs / 1000) : 0, ...(worst ? { entry: worst } : {}), ...(onlyOldest.length ? { onlyOldest: onlyOldest.join("; ") } : {}) };
}

/**
 * A stream's backlog: for a consumer group, the entries not yet delivered to it (XINFO GROUPS `lag`,
 * Redis 7.0+) plus those delivered and not acknowledged (`pending`, its PEL); XLEN counts every
 * entry the stream retains (trimmed by MAXLEN, read or not) and says nothing of what is waiting.
 * The group is QueueSpec.group (one that does not exist is an error: its workers never created it,
 * or the name is wrong); unset, every group of the stream, and the largest backlog counts, since
 * each group reads every entry and the one furthest behind is the one that is late. A stream without
 * groups: XLEN, nothing having been read by a group. When Redis cannot give the lag (null: entries
 * were deleted after the group's last-delivered-id, or the group was created or set with XGROUP
 * SETID at an arbitrary ID; absent before 7.0; Redis docs "XINFO GROUPS"), the undelivered entries
 * are counted: those with an ID after its last-delivered-id (entriesAfter), up to QueueSpec.maxLength
 * + 1, plus pending (delivered entries, all at or before that ID, so none is counted twice). Exact up
 * to that bound; at the bound the backlog is "at least" the figure (`atLeast`), already over the
 * threshold. The oldest pending entry's idle time (XPENDING, a worker that took it and never
 * acknowledged it) is in the detail; with QueueSpec.maxPendingIdleMinutes, `pendingIdle` is the
 * longest-idle pending entry of every group measured (pendingIdle), not only the one furthest behind.
 */
async function streamBacklog(client: QueueCommands, q: QueueSpec): Promise<QueueMeasure> {
  const groups = fieldMaps(await client.sendCommand(["XINFO", "GROUPS", q.name]));
  if (!groups.length) {
    if (q.group) return { error: `the stream has no consumer group ${JSON.stringify(q.group)} (none at all: no worker has created one)` };
    const len = Number(await client.xLen(q.name));
    return { length: len, how: "XLEN of a stream without consumer groups: no group has read any entry" };
  }
  const chosen = q.group ? groups.filter((g) => String(g.name) === q.group) : groups;
  if (!chosen.length) return { error: `the stream has no consumer group ${JSON.stringify(q.group)} (its groups: ${groups.map((g) => String(g.name)).join(", ")})` };
  const limit = q.maxLength === undefined ? undefined : q.maxLength + 1;
  const measured: { name: string; backlog: number; counted: boolean; atLeast: boolean; undelivered: number; pending: number; lastId: string }[] = [];
  for (const g of chosen) {
    const pending = num(g.pending) ?? 0;
    const lastId = String(g["last-delivered-id"]);
    const lag = num(g.lag);
    const undelivered = lag ?? (await entriesAfter(client, q.name, lastId, limit));
    const atLeast = lag === null && undelivered === limit;
    measured.push({ name: String(g.name), backlog: undelivered + pending, counted: lag === null, atLeast, undelivered, pending, lastId });
  }
  const worst = measured.reduce((a, b) => (b.backlog > a.backlog ? b : a));
  const first = await firstPending(client, q.name, worst.name);
  const idle = first ? `; the oldest pending entry ${first.id} idle ${Math.round(first.idleMs / 1000)} s with consumer ${first.consumer}` : "";
  const of = q.group ? `consumer group ${worst.name}` : chosen.length > 1 ? `consumer group ${worst.name}, the furthest behind of ${chosen.length}` : `consumer group ${worst.name}`;
  const parts = worst.counted
    ? `lag unknown to Redis, ${worst.atLeast ? "at least " : ""}${worst.undelivered} undelivered (XRANGE after its last-delivered-id ${worst.lastId}${worst.atLeast ? `, counted up to ${limit}` : ""}) + ${worst.pending} pending`
    : `lag ${worst.undelivered} undelivered + ${worst.pending} pending`;
  const stuck = q.maxPendingIdleMinutes === undefined ? undefined : await pendingIdle(client, q.name, measured, q.maxPendingIdleMinutes * 60);
  return { length: worst.backlog, how: `${of}: ${parts}${idle}`, ...(worst.atLeast ? { atLeast: true } : {}), ...(stuck ? { pendingIdle: stuck } : {}) };
}

/**
 * A queue's length by its key's TYPE: a list (or no key) with its Kombu priority lists
 * (listLength), a sorted set by ZCARD, a stream by its consumer groups' backlog (streamBacklog); a
 * missing key is an empty queue (Redis deletes a list when its last element goes). `error` for a key
 * of another type, which holds no queue, or a consumer group QueueSpec.group names that is not there.
 * `cluster`: the server runs in cluster mode (INFO cluster_enabled).
 */
export async function queueLength(client: QueueCommands, q: QueueSpec, cluster = false): Promise<QueueMeasure> {
  const type = String(await client.type(q.name));
  if (q.group && type !== "stream" && type !== "none") return { error: `consumer group ${JSON.stringify(q.group)} is set but the key is a ${type}, not a stream` };
  if (type === "list" || (type === "none" && !q.group)) return listLength(client, q, type, cluster);
  if (type === "none") return { length: 0, how: "no key: empty" };
  if (type === "zset") return { length: Number(await client.zCard(q.name)), how: "ZCARD of a sorted set" };
  if (type === "stream") return streamBacklog(client, q);
  return { error: `the key is a ${type}, not a list, sorted set or stream` };
}

/** The name of a queue's pending-idle check: not `queue:` + anything, which another queue's name could spell. */
const pendingIdleCheckName = (queue: string) => `pending_idle:${queue}`;

/**
 * A stream queue's pending-idle check: the longest a delivered entry has waited unacknowledged, in
 * seconds, a warning past `limitMinutes` (its own alarm pages, at the queue's severity).
 */
function pendingIdleCheck(queue: string, p: PendingIdle, limitMinutes: number): RedisCheck {
  const limit = limitMinutes * 60;
  const e = p.entry;
  const which = p.onlyOldest ? `; only the oldest pending entry by ID was read where ${p.onlyOldest}` : "";
  return {
    name: pendingIdleCheckName(queue),
    value: p.seconds,
    unit: "seconds",
    status: p.seconds > limit ? "warning" : "ok",
    warn: limit,
    queue,
    detail: e
      ? `pending entry ${e.id} of consumer group ${e.group} idle ${p.seconds} s with consumer ${e.consumer} (delivered ${e.deliveries} times, never acknowledged)${p.seconds > limit ? `, longer than ${limitMinutes} min: its worker died or hangs` : ""}${which}`
      : `no pending entry${which}`,
  };
}

async function check(settings: RedisHealthSettings, ctx: TaskContext): Promise<RedisHealthReport> {
  const url = new URL(settings.REDIS_URL);
  const address = redisAddress(settings.REDIS_URL);
  const label = settings.METRICS_INSTANCE ?? address;
  const who = label === address ? `redis ${address}` : `redis ${label} (${address})`;
  const timeoutMs = Math.round(settings.TIMEOUT_SECONDS * 1000);
  const fromSecret = settings.REDIS_PASSWORD_SECRET_ARN ? await secretPassword(settings.REDIS_PASSWORD_SECRET_ARN, ctx.signal) : undefined;
  const password = fromSecret?.password ?? settings.REDIS_PASSWORD ?? (url.password ? decodeURIComponent(url.password) : undefined);
  const username = fromSecret?.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const database = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;

  let lastError: unknown;
  const common = { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(url.port || 6379), connectTimeout: timeoutMs, socketTimeout: timeoutMs, reconnectStrategy: false as const };
  const client = createClient({
    socket: url.protocol === "rediss:" ? { ...common, tls: true as const } : common,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(database !== undefined ? { database } : {}),
    RESP: 2,
    disableOfflineQueue: true,
  });
  client.on("error", (err) => {
    lastError = err;
  });
  const fail = (err: unknown) => new TaskError(`${who}: ${oneLine(err ?? lastError)}`);
  let timedOut = false;
  const work = (async () => {
    try {
      await client.connect();
    } catch (err) {
      if (timedOut) return undefined;
      throw fail(err instanceof Error && /Socket closed unexpectedly/.test(err.message) && lastError ? lastError : err);
    }
    let info: Record<string, string>;
    try {
      info = parseInfo(String(await client.info()));
    } catch (err) {
      if (timedOut) return undefined;
      throw fail(err);
    }
    const checks = infoChecks(info, settings);
    for (const [i, q] of (settings.QUEUES ?? []).entries()) {
      let measured: Awaited<ReturnType<typeof queueLength>>;
      try {
        measured = await queueLength(client, q, info.cluster_enabled === "1");
      } catch (err) {
        if (timedOut) return undefined;
        // Redis' error reply about this key (MOVED, CLUSTERDOWN, NOPERM) is the queue's; anything
        // else (the connection lost) is the instance's and fails the run.
        if (!(err instanceof ErrorReply)) throw fail(err);
        measured = { error: `Redis refused reading it: ${oneLine(err)}` };
      }
      if ("error" in measured) {
        const entry = `QUEUES[${i}]${q.severity ? ` (severity ${q.severity})` : ""}`;
        checks.push({ name: `queue:${q.name}`, value: null, unit: "messages", status: "critical", queue: q.name, detail: `${entry} cannot be measured: ${measured.error}` });
        continue;
      }
      const len = measured.length;
      checks.push({
        name: `queue:${q.name}`,
        value: len,
        unit: "messages",
        status: len > q.maxLength ? "warning" : "ok",
        warn: q.maxLength,
        queue: q.name,
        detail: `${measured.atLeast ? "at least " : ""}${len > q.maxLength ? `${len} messages waiting, more than ${q.maxLength}` : `${len} messages waiting`} (${measured.how})`,
      });
      if (measured.pendingIdle && q.maxPendingIdleMinutes !== undefined) checks.push(pendingIdleCheck(q.name, measured.pendingIdle, q.maxPendingIdleMinutes));
    }
    return { version: info.redis_version, evicts: evictsWhenFull(info.maxmemory_policy), checks };
  })();
  // After a timeout the destroyed client fails the pending command; that rejection is already reported.
  work.catch(() => undefined);
  let outcome: Awaited<typeof work>;
  try {
    outcome = await withTimeout(
      work,
      timeoutMs,
      () => `${who}: no answer within ${settings.TIMEOUT_SECONDS} s${lastError ? ` (${oneLine(lastError)})` : ""}`,
      () => {
        timedOut = true;
        client.destroy();
      },
    );
  } finally {
    if (client.isOpen) client.destroy();
  }
  const checks = outcome!.checks;

  const status = checks.some((c) => c.status === "critical") ? "critical" : checks.some((c) => c.status === "warning") ? "warning" : "ok";
  const value = (name: string) => checks.find((c) => c.name === name)?.value;
  // `breaches`: the value against its alarm's own condition (components/redis.ts): a sampled metric
  // (tasks/lib/metrics.ts) goes out on every run then, a healthy value only once per sampling interval.
  const metric = (name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], v: unknown, breaches?: (n: number) => boolean) => {
    if (typeof v === "number") recordMetric(ctx, name, unit, v, undefined, breaches ? breaches(v) : undefined);
  };
  // Under an allkeys-* policy a full cache is the steady state: its memory alarm would page on health.
  if (!outcome!.evicts) metric("MemoryPercent", MetricUnit.Percent, value("memory"), (n) => n >= settings.MEMORY_WARN_PERCENT);
  // The evictions and hit-rate alarms exist only when their level is set (0 here: unset).
  metric("EvictedKeys", MetricUnit.Count, value("evicted_keys"), (n) => settings.EVICTED_KEYS_WARN > 0 && n >= settings.EVICTED_KEYS_WARN);
  metric("HitRatePercent", MetricUnit.Percent, value("hit_rate"), (n) => settings.MIN_HIT_RATE_PERCENT > 0 && n < settings.MIN_HIT_RATE_PERCENT);
  metric("ConnectedClients", MetricUnit.Count, value("connected_clients"));
  for (const q of settings.QUEUES ?? []) {
    const v = value(`queue:${q.name}`);
    // A queue that cannot be measured pages through its own alarm, at its own severity.
    if (typeof v !== "number") recordMetric(ctx, "QueueUnmeasurable", MetricUnit.Count, 1, ["Queue", q.name], true);
    else recordMetric(ctx, "QueueLength", MetricUnit.Count, v, ["Queue", q.name], v > q.maxLength);
    // Sent only while an entry is idle past the limit (its alarm's condition); a healthy value is a log line.
    const idle = value(pendingIdleCheckName(q.name));
    if (typeof idle === "number" && q.maxPendingIdleMinutes !== undefined) recordMetric(ctx, "PendingIdleSeconds", MetricUnit.Seconds, idle, ["Queue", q.name], idle > q.maxPendingIdleMinutes * 60);
  }
  for (const c of checks.filter((c) => c.status === "warning" || c.status === "critical")) {
    ctx.log.warn(`${label}: ${c.name} ${c.status}: ${c.value} ${c.unit}${c.detail ? ` (${c.detail})` : ""}`);
  }
  return { redis: label, status, ...(outcome!.version ? { redisVersion: outcome!.version } : {}), checks };
}

export const redisHealthTask = defineTask({
  name: "redis-health",
  description: "Redis memory of maxmemory, evictions, hit rate, clients, persistence, queue lengths",
  settings: redisHealthSettings,
  async run(settings, ctx): Promise<RedisHealthReport> {
    const report = await check(settings, ctx);
    // A queue's problem pages at the queue's severity through its own alarm (QueueUnmeasurable), not here.
    const critical = report.checks
      .filter((c) => c.status === "critical" && c.queue === undefined)
      .map((c) => (typeof c.value === "number" ? `${c.name} ${c.value} ${c.unit} >= ${c.crit}${c.detail ? ` (${c.detail})` : ""}` : `${c.name} ${c.value}${c.detail ? ` (${c.detail})` : ""}`));
    if (critical.length) throw new TaskError(`redis-health critical: ${report.redis} ${critical.join("; ")}`, report);
    return report;
  },
  cli(options) {
    // `--queue celery=1000` (repeatable) gives QUEUES; every other `--foo-bar X` sets FOO_BAR=X.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(options)) {
      if (k === "queue") continue;
      env[k.toUpperCase().replace(/-/g, "_")] = v[v.length - 1];
    }
    if (options.queue) {
      env.QUEUES = JSON.stringify(
        options.queue.map((q) => {
          const m = /^(.+)=(\d+)$/.exec(q);
          if (!m) throw new Error(`--queue: "${q}" must be name=maxLength, like celery=1000`);
          return { name: m[1], maxLength: Number(m[2]) };
        }),
      );
    }
    return env;
  },
});
