/**
 * redis-health against a Redis server of its own (started here on a free port, no persistence):
 * what a full cache means depends on its maxmemory-policy, and a queue is measured by its key's type.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createClient } from "@redis/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTask, TaskError } from "../tasks/lib/runtime";
import { redisHealthTask, type RedisHealthReport } from "../tasks/redis-health";
import { captureEmf } from "./helpers/emf";
import { freePort } from "./helpers/free-port";


describe("redis-health: maxmemory policies and queue key types (a private redis-server)", () => {
  let server: ChildProcess;
  let url: string;
  let admin: ReturnType<typeof createClient>;
  beforeAll(async () => {
    const port = await freePort();
    server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru"], { stdio: "ignore" });
    url = `redis://127.0.0.1:${port}`;
    admin = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: (n) => (n > 50 ? false : 100) }, RESP: 2 });
    for (let i = 0; ; i++) {
      try {
        await admin.connect();
        break;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }, 30_000);
  afterAll(async () => {
    admin?.destroy();
    server?.kill();
  });
  const byName = (r: RedisHealthReport) => Object.fromEntries(r.checks.map((c) => [c.name, c]));
  const fill = () => admin.eval("for i=1,40000 do redis.call('set','k'..i, string.rep('x',1000)) end return 1");

  it("a full cache under allkeys-lru evicts as designed: no page, no MemoryPercent for its alarm; a poor hit rate is what warns", async () => {
    await fill();
    // Lookups: 1 hit of 4 (keys never written, as evicted ones, miss).
    await admin.get("k40000");
    for (const k of ["gone-1", "gone-2", "gone-3"]) await admin.get(k);
    const info = await admin.info("stats");
    expect(Number(/evicted_keys:(\d+)/.exec(info)![1])).toBeGreaterThan(1000);
    let report: RedisHealthReport | undefined;
    const emf = await captureEmf(async () => {
      report = await runTask(redisHealthTask, { REDIS_URL: url, MIN_HIT_RATE_PERCENT: "50", LOG_LEVEL: "ERROR" });
    });
    const c = byName(report!);
    expect(c.memory.status).toBe("ok");
    expect(c.memory.value as number).toBeGreaterThan(90);
    expect(c.memory.detail).toMatch(/policy allkeys-lru: Redis evicts keys to stay under maxmemory, a full cache is its steady state/);
    expect([c.hit_rate.status, c.hit_rate.value]).toEqual(["warning", 25]);
    expect(report!.status).toBe("warning");
    const names = emf.flatMap((e) => e._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name));
    expect(names).not.toContain("MemoryPercent");
    expect(names).toEqual(expect.arrayContaining(["EvictedKeys", "HitRatePercent"]));
  });

  it("the same full cache under noeviction (writes refused) still fails the run naming memory, as under volatile-lru with no expiring keys", async () => {
    for (const policy of ["noeviction", "volatile-lru"]) {
      await admin.configSet("maxmemory-policy", policy);
      const err = (await runTask(redisHealthTask, { REDIS_URL: url, LOG_LEVEL: "ERROR" }).catch((e: unknown) => e)) as TaskError;
      expect(err).toBeInstanceOf(TaskError);
      expect(err.message).toMatch(new RegExp(`^redis-health critical: 127\\.0\\.0\\.1:\\d+ memory (9\\d|1\\d\\d)(\\.\\d+)? percent >= 90 \\(used_memory [\\d.]+ MB of maxmemory 20 MB, policy ${policy}\\)$`));
    }
    await admin.configSet("maxmemory-policy", "allkeys-lru");
  });

  it("queues are measured by their key's type: a sorted set by ZCARD, a stream by XLEN; over maxLength they warn and send QueueLength", async () => {
    await admin.flushAll();
    await admin.zAdd("celery", [1, 2, 3, 4, 5].map((n) => ({ score: n, value: `task-${n}` })));
    for (let i = 0; i < 3; i++) await admin.xAdd("events", "*", { n: String(i) });
    let report: RedisHealthReport | undefined;
    const emf = await captureEmf(async () => {
      report = await runTask(redisHealthTask, { REDIS_URL: url, QUEUES: JSON.stringify([{ name: "celery", maxLength: 2 }, { name: "events", maxLength: 10 }]), LOG_LEVEL: "ERROR" });
    });
    const c = byName(report!);
    expect(c["queue:celery"]).toMatchObject({ value: 5, status: "warning", warn: 2, detail: "5 messages waiting, more than 2 (ZCARD of a sorted set)" });
    expect(c["queue:events"]).toMatchObject({ value: 3, status: "ok", detail: "3 messages waiting (XLEN of a stream)" });
    const lengths = emf.filter((e) => "QueueLength" in e).map((e) => [e.Queue, e.QueueLength]);
    expect(lengths).toEqual([["celery", 5], ["events", 3]]);
  });

  it("a queue key that holds no queue (a string, a hash) cannot be measured: the run fails naming it", async () => {
    await admin.set("celery", "oops");
    await admin.hSet("jobs", { a: "1" });
    const err = (await runTask(redisHealthTask, { REDIS_URL: url, QUEUES: JSON.stringify([{ name: "celery", maxLength: 2 }, { name: "jobs", maxLength: 2 }]), LOG_LEVEL: "ERROR" }).catch((e: unknown) => e)) as TaskError;
    expect(err).toBeInstanceOf(TaskError);
    expect(err.message).toMatch(
      /^redis-health critical: 127\.0\.0\.1:\d+ queue:celery null \(cannot be measured: the key is a string, not a list, sorted set or stream\); queue:jobs null \(cannot be measured: the key is a hash, not a list, sorted set or stream\)$/,
    );
  });
});
