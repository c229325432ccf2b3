/**
 * What a queue's backlog is, against the Redis on 127.0.0.1:6379 (keys under a test prefix in
 * database 13, removed afterwards): a Celery queue with priorities is its plain list plus Kombu's
 * priority lists (`<queue>\x06\x16<step>`, or the separator the app's `sep` sets), and a stream is
 * measured by its consumer groups' lag and pending entries, not by XLEN (the entries it retains).
 * The stack config reaches the task through the component's environment.
 */
import { spawnSync } from "node:child_process";
import { createClient, ErrorReply } from "@redis/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisTaskEnvironment } from "../components/redis";
import { redisSchema } from "../regime/schema";
import { runTask } from "../tasks/lib/runtime";
import { IDLE_SCAN_MAX_PENDING, queueLength, redisHealthTask, type QueueCommands, type RedisHealthReport } from "../tasks/redis-health";
import { captureEmf } from "./helpers/emf";

const DB = 13;
const URL6379 = `redis://127.0.0.1:6379/${DB}`;
const P = `mr-backlog:${process.pid}:`;
const SEP = "\x06\x16";

const admin = createClient({ socket: { host: "127.0.0.1", port: 6379 }, database: DB, RESP: 2 });
const cmd = (...args: string[]) => admin.sendCommand(args);

beforeAll(async () => {
  expect(spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", "6379", "ping"], { encoding: "utf8" }).stdout.trim()).toBe("PONG");
  await admin.connect();
});
afterAll(async () => {
  const keys = await admin.keys(`${P}*`);
  if (keys.length) await admin.del(keys);
  admin.destroy();
});

type Queue = { name: string; maxLength: number; severity?: string; group?: string; prioritySeparator?: string; maxPendingIdleMinutes?: number };
const run = (queues: Queue[]) => runTask(redisHealthTask, { REDIS_URL: URL6379, QUEUES: JSON.stringify(queues), LOG_LEVEL: "ERROR" });
const queueCheck = (r: RedisHealthReport, name: string) => r.checks.find((c) => c.name === `queue:${name}`)!;

/** A stream of `n` entries with ids 1-0 .. n-0, trimmed to `maxlen` when given; the XADDs are sent 1,000 at a time, in order on the one connection. */
async function stream(key: string, n: number, maxlen?: number): Promise<void> {
  for (let from = 1; from <= n; from += 1000) {
    const ids = Array.from({ length: Math.min(1000, n - from + 1) }, (_, j) => from + j);
    await Promise.all(ids.map((i) => cmd("XADD", key, ...(maxlen ? ["MAXLEN", String(maxlen)] : []), `${i}-0`, "task", `t${i}`)));
  }
}
/** The lag XINFO GROUPS gives for the stream's first group (null: Redis cannot tell). */
async function lagOf(key: string): Promise<unknown> {
  const groups = (await cmd("XINFO", "GROUPS", key)) as unknown as unknown[][];
  return groups[0][groups[0].indexOf("lag") + 1];
}
/** Group `group` reads `count` new entries as `consumer` and acknowledges the first `ack` of them. */
async function consume(key: string, group: string, count: number, ack: number, consumer = "worker-1"): Promise<void> {
  const reply = (await cmd("XREADGROUP", "GROUP", group, consumer, "COUNT", String(count), "STREAMS", key, ">")) as unknown as [string, [string, string[]][]][] | null;
  const ids = reply ? reply[0][1].map(([id]) => id) : [];
  if (ack) await cmd("XACK", key, group, ...ids.slice(0, ack));
}

/** A stream of `n` entries that group `workers` has read in full as worker-1, acknowledging the first `ack`. */
async function readStream(key: string, n: number, ack: number): Promise<void> {
  await stream(key, n);
  await cmd("XGROUP", "CREATE", key, "workers", "0");
  await consume(key, "workers", n, ack);
}
/** The test's connection as the task's commands, each raw command answered by `send` (a server of another version). */
const serverAs = (send: (args: string[]) => Promise<unknown>): QueueCommands => ({
  type: (k) => admin.type(k),
  lLen: (k) => admin.lLen(k),
  zCard: (k) => admin.zCard(k),
  xLen: (k) => admin.xLen(k),
  sendCommand: send,
});

describe("a Celery queue with priorities is the plain list and its Kombu priority lists", () => {
  it("celery: 2 plain + 3 at priority 3 + 1 at priority 9 = 6 waiting, over a maxLength of 5; only priority lists (no plain key): 4, not 0", async () => {
    await admin.lPush(`${P}celery`, ["a", "b"]);
    await admin.lPush(`${P}celery${SEP}3`, ["c", "d", "e"]);
    await admin.lPush(`${P}celery${SEP}9`, ["f"]);
    await admin.lPush(`${P}urgent${SEP}6`, ["g", "h", "i", "j"]);
    let report!: RedisHealthReport;
    const emf = await captureEmf(async () => {
      report = await run([
        { name: `${P}celery`, maxLength: 5 },
        { name: `${P}urgent`, maxLength: 10 },
      ]);
    });
    expect(queueCheck(report, `${P}celery`)).toMatchObject({
      value: 6,
      status: "warning",
      detail: "6 messages waiting, more than 5 (LLEN of the list and its Kombu priority lists: 2 plain, 3 at priority 3, 1 at priority 9)",
    });
    expect(queueCheck(report, `${P}urgent`)).toMatchObject({ value: 4, status: "ok" });
    const sent = Object.fromEntries(emf.filter((e) => "QueueLength" in e).map((e) => [e.Queue, e.QueueLength]));
    expect(sent[`${P}celery`]).toBe(6);
  });

  it("the app's own Kombu sep (\":\", Celery's priority example) set in the stack config reaches the task: jobs + jobs:1 .. jobs:9 are counted; without it only the plain list", async () => {
    await admin.lPush(`${P}jobs`, ["a"]);
    await admin.lPush(`${P}jobs:1`, ["b", "c"]);
    await admin.lPush(`${P}jobs:7`, ["d", "e", "f"]);
    // The schedule is resolved when the stack config is loaded; the environment does not read it.
    const schedule = { expression: "rate(15 minutes)", timezone: "UTC", description: "every 15 minutes", intervalSeconds: 900, text: "every 15 minutes" };
    const config = { ...redisSchema.parse({ id: "broker", url: URL6379, queues: [{ name: `${P}jobs`, maxLength: 100, prioritySeparator: ":" }] }), schedule };
    const withSep = await runTask(redisHealthTask, { ...redisTaskEnvironment(config), LOG_LEVEL: "ERROR" });
    expect(queueCheck(withSep, `${P}jobs`)).toMatchObject({ value: 6, detail: "6 messages waiting (LLEN of the list and its Kombu priority lists: 1 plain, 2 at priority 1, 3 at priority 7)" });
    const without = await run([{ name: `${P}jobs`, maxLength: 100 }]);
    expect(queueCheck(without, `${P}jobs`)).toMatchObject({ value: 1, detail: "1 messages waiting (LLEN of a list)" });
  });
});

describe("a stream is measured by its consumer groups' backlog (lag + pending), not XLEN", () => {
  it("trimmed to MAXLEN 10 after 30 entries, every one read and acknowledged: 0 waiting though XLEN is 10", async () => {
    const key = `${P}events`;
    await stream(key, 30, 10);
    await cmd("XGROUP", "CREATE", key, "workers", "0");
    await consume(key, "workers", 100, 100);
    expect(await admin.xLen(key)).toBe(10);
    const report = await run([{ name: key, maxLength: 5 }]);
    expect(queueCheck(report, key)).toMatchObject({ value: 0, status: "ok", detail: "0 messages waiting (consumer group workers: lag 0 undelivered + 0 pending)" });
  });

  it("10 entries, 4 delivered and 1 of those acknowledged: 6 undelivered + 3 pending = 9, over a maxLength of 8; the oldest pending entry's idle time is named", async () => {
    const key = `${P}orders`;
    await stream(key, 10);
    await cmd("XGROUP", "CREATE", key, "billing", "0");
    await consume(key, "billing", 4, 1);
    const report = await run([{ name: key, maxLength: 8 }]);
    const c = queueCheck(report, key);
    expect(c).toMatchObject({ value: 9, status: "warning", warn: 8 });
    expect(c.detail).toMatch(/^9 messages waiting, more than 8 \(consumer group billing: lag 6 undelivered \+ 3 pending; the oldest pending entry 2-0 idle \d+ s with consumer worker-1\)$/);
  });

  it("two groups: unset, the one furthest behind counts (10); group names the one measured (0); a group the stream lacks cannot be measured and pages the queue, not the run", async () => {
    const key = `${P}mail`;
    await stream(key, 10);
    await cmd("XGROUP", "CREATE", key, "fast", "0");
    await cmd("XGROUP", "CREATE", key, "slow", "0");
    await consume(key, "fast", 100, 100);
    let report!: RedisHealthReport;
    const emf = await captureEmf(async () => {
      report = await run([{ name: key, maxLength: 50 }]);
    });
    expect(queueCheck(report, key)).toMatchObject({ value: 10, detail: "10 messages waiting (consumer group slow, the furthest behind of 2: lag 10 undelivered + 0 pending)" });
    expect(emf.find((e) => "QueueLength" in e)?.QueueLength).toBe(10);
    const fast = await run([{ name: key, maxLength: 50, group: "fast" }]);
    expect(queueCheck(fast, key)).toMatchObject({ value: 0, status: "ok", detail: "0 messages waiting (consumer group fast: lag 0 undelivered + 0 pending)" });
    let missing!: RedisHealthReport;
    const emfMissing = await captureEmf(async () => {
      missing = await run([{ name: key, maxLength: 50, group: "audit", severity: "P3" }]);
    });
    expect(queueCheck(missing, key)).toMatchObject({ value: null, status: "critical", detail: 'QUEUES[0] (severity P3) cannot be measured: the stream has no consumer group "audit" (its groups: fast, slow)' });
    expect(emfMissing.find((e) => "QueueUnmeasurable" in e)).toMatchObject({ QueueUnmeasurable: 1, Queue: key });
  });

  it("lag unknown after XDEL of an undelivered entry: 990 delivered and unacknowledged, 10 undelivered, one of them deleted: 9 + 990 = 999, not XLEN + pending (1,989)", async () => {
    const key = `${P}jobs-stream`;
    await stream(key, 1000);
    await cmd("XGROUP", "CREATE", key, "g", "0");
    await consume(key, "g", 990, 0);
    await cmd("XDEL", key, "995-0");
    expect(await lagOf(key)).toBeNull();
    const report = await run([{ name: key, maxLength: 1000 }]);
    const c = queueCheck(report, key);
    expect(c).toMatchObject({ value: 999, status: "ok" });
    expect(c.detail).toMatch(/^999 messages waiting \(consumer group g: lag unknown to Redis, 9 undelivered \(XRANGE after its last-delivered-id 990-0\) \+ 990 pending; the oldest pending entry 1-0 idle \d+ s with consumer worker-1\)$/);
  });

  it("a stream capped at 10,000 entries, its group created at 9999-0 (1 waiting): 1, not the 10,000 retained; the QueueLength sent is 1", async () => {
    const key = `${P}events-capped`;
    await stream(key, 10_000, 10_000);
    await cmd("XGROUP", "CREATE", key, "workers", "9999-0");
    expect(await lagOf(key)).toBeNull();
    let report!: RedisHealthReport;
    const emf = await captureEmf(async () => {
      report = await run([{ name: key, maxLength: 1000 }]);
    });
    expect(queueCheck(report, key)).toMatchObject({ value: 1, status: "ok", detail: "1 messages waiting (consumer group workers: lag unknown to Redis, 1 undelivered (XRANGE after its last-delivered-id 9999-0) + 0 pending)" });
    expect(emf.find((e) => "QueueLength" in e)?.QueueLength).toBe(1);
  });

  it("XGROUP SETID to 500-0 on a 1,000-entry stream: 500 waiting; 2,500 after a group created at 500-5 (an ID no entry has) of 3,000 are counted exactly across XRANGE pieces", async () => {
    const key = `${P}replay`;
    await stream(key, 1000);
    await cmd("XGROUP", "CREATE", key, "g", "0");
    await cmd("XGROUP", "SETID", key, "g", "$");
    await cmd("XGROUP", "SETID", key, "g", "500-0");
    expect(await lagOf(key)).toBeNull();
    expect(queueCheck(await run([{ name: key, maxLength: 1000 }]), key)).toMatchObject({ value: 500, status: "ok" });
    const long = `${P}replay-long`;
    await stream(long, 3000);
    await cmd("XGROUP", "CREATE", long, "g", "500-5");
    expect(await lagOf(long)).toBeNull();
    expect(queueCheck(await run([{ name: long, maxLength: 5000 }]), long)).toMatchObject({ value: 2500, status: "ok" });
  });

  it("more undelivered than the threshold: counted up to maxLength + 1 and said to be at least that, over the threshold (warning, QueueLength sent over it)", async () => {
    const key = `${P}flood`;
    await stream(key, 3000);
    await cmd("XGROUP", "CREATE", key, "g", "0");
    await consume(key, "g", 10, 0);
    await cmd("XDEL", key, "2000-0");
    expect(await lagOf(key)).toBeNull();
    let report!: RedisHealthReport;
    const emf = await captureEmf(async () => {
      report = await run([{ name: key, maxLength: 1500, severity: "P2" }]);
    });
    const c = queueCheck(report, key);
    expect(c).toMatchObject({ value: 1511, status: "warning", warn: 1500 });
    expect(c.detail).toMatch(/^at least 1511 messages waiting, more than 1500 \(consumer group g: lag unknown to Redis, at least 1501 undelivered \(XRANGE after its last-delivered-id 10-0, counted up to 1501\) \+ 10 pending; /);
    expect(emf.find((e) => "QueueLength" in e)?.QueueLength).toBe(1511);
  });

  it("Redis 6.x (no entries-read or lag in XINFO GROUPS): a capped 10,000-entry stream read and acknowledged is 0, with 3 undelivered and 2 pending it is 5", async () => {
    const key = `${P}redis6`;
    await stream(key, 10_000, 10_000);
    await cmd("XGROUP", "CREATE", key, "workers", "0");
    await consume(key, "workers", 10_000, 10_000);
    // The real server's reply in the shape Redis 6.2 gives (name, consumers, pending, last-delivered-id).
    const redis6 = serverAs(async (args) => {
      const reply = await admin.sendCommand(args);
      if (args[0] !== "XINFO") return reply;
      const since7 = new Set(["entries-read", "lag"]);
      return (reply as unknown as unknown[][]).map((g) => g.filter((_, i) => !since7.has(String(g[i - (i % 2)]))));
    });
    const groups = (await redis6.sendCommand(["XINFO", "GROUPS", key])) as unknown[][];
    expect(groups[0]).not.toContain("lag");
    expect(await queueLength(redis6, { name: key, maxLength: 1000 })).toMatchObject({ length: 0 });
    for (let i = 10_001; i <= 10_005; i++) await cmd("XADD", key, "MAXLEN", "10000", `${i}-0`, "task", `t${i}`);
    await consume(key, "workers", 2, 0);
    expect(await queueLength(redis6, { name: key, maxLength: 1000 })).toMatchObject({ length: 5 });
  });

  it("a stream no consumer group reads: XLEN, every retained entry unread by any group", async () => {
    const key = `${P}audit-log`;
    await stream(key, 3);
    const report = await run([{ name: key, maxLength: 10 }]);
    expect(queueCheck(report, key)).toMatchObject({ value: 3, status: "ok", detail: "3 messages waiting (XLEN of a stream without consumer groups: no group has read any entry)" });
  });
});

describe("a stream entry read and never acknowledged pages once idle past maxPendingIdleMinutes, whatever the backlog", () => {
  /** Sets the idle time of pending entries `ids` of `group` (XCLAIM to their consumer with IDLE, JUSTID: the delivery count stays). */
  const idleFor = (key: string, group: string, ms: number, ...ids: string[]) => cmd("XCLAIM", key, group, "worker-1", "0", ...ids, "IDLE", String(ms), "JUSTID");
  const pendingIdleSent = (emf: Record<string, unknown>[]) => emf.filter((e) => "PendingIdleSeconds" in e).map((e) => [e.Queue, e.PendingIdleSeconds]);

  it("3 entries read, 2 acknowledged, the third idle 2 min (its worker died): backlog 1 of maxLength 100 is fine, but idle over a 1-minute limit warns and sends PendingIdleSeconds", async () => {
    const key = `${P}stuck`;
    await readStream(key, 3, 2);
    await idleFor(key, "workers", 120_000, "3-0");
    let report!: RedisHealthReport;
    const emf = await captureEmf(async () => {
      report = await run([{ name: key, maxLength: 100, severity: "P1", maxPendingIdleMinutes: 1 }]);
    });
    expect(queueCheck(report, key)).toMatchObject({ value: 1, status: "ok" });
    const idle = report.checks.find((c) => c.name === `pending_idle:${key}`)!;
    expect(idle).toMatchObject({ unit: "seconds", status: "warning", warn: 60, queue: key });
    expect(idle.value).toBeGreaterThanOrEqual(120);
    expect(idle.detail).toMatch(/^pending entry 3-0 of consumer group workers idle \d+ s with consumer worker-1 \(delivered 1 times, never acknowledged\), longer than 1 min: its worker died or hangs$/);
    const sent = pendingIdleSent(emf);
    expect(sent).toHaveLength(1);
    expect(sent[0][0]).toBe(key);
    expect(sent[0][1]).toBeGreaterThan(60);
    expect(report.status).toBe("warning");
  });

  it("an entry idle below the limit (just read) and entries read and acknowledged after an hour's idle: nothing sent, the check is ok", async () => {
    const fresh = `${P}fresh`;
    await readStream(fresh, 2, 0);
    const acked = `${P}acked`;
    await readStream(acked, 2, 0);
    await idleFor(acked, "workers", 3_600_000, "1-0", "2-0");
    await cmd("XACK", acked, "workers", "1-0", "2-0");
    let report!: RedisHealthReport;
    const emf = await captureEmf(async () => {
      report = await run([
        { name: fresh, maxLength: 100, maxPendingIdleMinutes: 1 },
        { name: acked, maxLength: 100, maxPendingIdleMinutes: 1 },
      ]);
    });
    const freshIdle = report.checks.find((c) => c.name === `pending_idle:${fresh}`)!;
    expect(freshIdle).toMatchObject({ status: "ok", warn: 60 });
    expect(freshIdle.value).toBeLessThan(60);
    expect(report.checks.find((c) => c.name === `pending_idle:${acked}`)).toMatchObject({ value: 0, status: "ok", detail: "no pending entry" });
    expect(pendingIdleSent(emf)).toEqual([]);
  });

  it("a stuck entry behind one claimed again a moment ago (the oldest by ID is fresh) is found by XPENDING IDLE; a server before 6.2 (IDLE refused) reads the oldest by ID only and says so", async () => {
    const key = `${P}reclaimed`;
    await readStream(key, 2, 0);
    await idleFor(key, "workers", 7_200_000, "2-0");
    const live = await queueLength(admin as unknown as QueueCommands, { name: key, maxLength: 100, maxPendingIdleMinutes: 60 });
    expect(live).toMatchObject({ pendingIdle: { entry: { id: "2-0", group: "workers" } } });
    expect("pendingIdle" in live && live.pendingIdle!.onlyOldest).toBeUndefined();
    expect(("pendingIdle" in live && live.pendingIdle!.seconds) || 0).toBeGreaterThan(3600);
    // XPENDING with IDLE as Redis 6.0 answers it (argc neither 3, 6 nor 7: a syntax error).
    const redis60 = serverAs(async (args) => {
      if (args[0] === "XPENDING" && args.includes("IDLE")) throw new ErrorReply("ERR syntax error");
      return admin.sendCommand(args);
    });
    const old = await queueLength(redis60, { name: key, maxLength: 100, maxPendingIdleMinutes: 60 });
    expect(old).toMatchObject({ pendingIdle: { onlyOldest: "Redis refused XPENDING IDLE (before 6.2)", entry: { id: "1-0" } } });
    expect(("pendingIdle" in old && old.pendingIdle!.seconds) || 0).toBeLessThan(3600);
  });

  it("a group with more pending entries than XPENDING IDLE may scan (10,000) has its oldest entry read only, and the detail says so", async () => {
    const key = `${P}pile-up`;
    await stream(key, IDLE_SCAN_MAX_PENDING + 1);
    await cmd("XGROUP", "CREATE", key, "workers", "0");
    await consume(key, "workers", IDLE_SCAN_MAX_PENDING + 1, 0);
    await idleFor(key, "workers", 7_200_000, `${IDLE_SCAN_MAX_PENDING + 1}-0`);
    const report = await run([{ name: key, maxLength: 1000, maxPendingIdleMinutes: 60 }]);
    expect(queueCheck(report, key)).toMatchObject({ value: IDLE_SCAN_MAX_PENDING + 1, status: "warning" });
    expect(report.checks.find((c) => c.name === `pending_idle:${key}`)).toMatchObject({
      status: "ok",
      detail: expect.stringMatching(/^pending entry 1-0 of consumer group workers idle \d+ s .*; only the oldest pending entry by ID was read where group workers has 10001 pending, more than XPENDING IDLE may scan \(10000\)$/),
    });
  });

  it("two groups, group unset: the stuck entry of the group with the smaller backlog pages too (any group's entry counts, not only the one furthest behind's)", async () => {
    const key = `${P}two-groups`;
    await stream(key, 10);
    await cmd("XGROUP", "CREATE", key, "behind", "0");
    await cmd("XGROUP", "CREATE", key, "ahead", "0");
    await consume(key, "ahead", 10, 9, "worker-1");
    await idleFor(key, "ahead", 600_000, "10-0");
    const report = await run([{ name: key, maxLength: 100, maxPendingIdleMinutes: 5 }]);
    expect(queueCheck(report, key)).toMatchObject({ value: 10, detail: expect.stringContaining("consumer group behind, the furthest behind of 2") });
    expect(report.checks.find((c) => c.name === `pending_idle:${key}`)).toMatchObject({ status: "warning", detail: expect.stringMatching(/^pending entry 10-0 of consumer group ahead idle \d+ s/) });
  });

  it("the stack config's default (60 min) reaches the task; 0 leaves it out: no pending-idle check", async () => {
    const key = `${P}configured`;
    await readStream(key, 1, 0);
    await idleFor(key, "workers", 3_700_000, "1-0");
    const schedule = { expression: "rate(15 minutes)", timezone: "UTC", description: "every 15 minutes", intervalSeconds: 900, text: "every 15 minutes" };
    const config = (queue: Record<string, unknown>) => ({ ...redisSchema.parse({ id: "broker", url: URL6379, queues: [{ name: key, maxLength: 100, ...queue }] }), schedule });
    let report!: RedisHealthReport;
    const emf = await captureEmf(async () => {
      report = await runTask(redisHealthTask, { ...redisTaskEnvironment(config({})), LOG_LEVEL: "ERROR" });
    });
    expect(report.checks.find((c) => c.name === `pending_idle:${key}`)).toMatchObject({ status: "warning", warn: 3600 });
    expect(pendingIdleSent(emf).map(([q]) => q)).toEqual([key]);
    const off = await runTask(redisHealthTask, { ...redisTaskEnvironment(config({ maxPendingIdleMinutes: 0 })), LOG_LEVEL: "ERROR" });
    expect(off.checks.find((c) => c.name === `pending_idle:${key}`)).toBeUndefined();
  });
});
