/**
 * redis-health against a Redis server of its own (started here on a free port, no persistence):
 * what a full cache means depends on its maxmemory-policy, and a queue is measured by its key's type;
 * a queue's key on a database index and on a two-node cluster (a key another node serves: MOVED).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@redis/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTask, TaskError } from "../tasks/lib/runtime";
import { redisHealthTask, type RedisHealthReport } from "../tasks/redis-health";
import { captureEmf } from "./helpers/emf";
import { freePort, waitForPort } from "./helpers/free-port";


/** Connects `client` to the redis-server just spawned on `port`, once it listens. */
async function connectWhenUp(client: { connect(): Promise<unknown> }, port: number): Promise<void> {
  await waitForPort(port);
  await client.connect();
}

describe("redis-health: maxmemory policies and queue key types (a private redis-server)", () => {
  let server: ChildProcess;
  let url: string;
  let admin: ReturnType<typeof createClient>;
  beforeAll(async () => {
    const port = await freePort();
    server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru"], { stdio: "ignore" });
    url = `redis://127.0.0.1:${port}`;
    admin = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: (n) => (n > 50 ? false : 100) }, RESP: 2 });
    await connectWhenUp(admin, port);
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

  it("queues are measured by their key's type: a sorted set by ZCARD, a stream no consumer group reads by XLEN; over maxLength they warn and send QueueLength", async () => {
    await admin.flushAll();
    await admin.zAdd("celery", [1, 2, 3, 4, 5].map((n) => ({ score: n, value: `task-${n}` })));
    for (let i = 0; i < 3; i++) await admin.xAdd("events", "*", { n: String(i) });
    let report: RedisHealthReport | undefined;
    const emf = await captureEmf(async () => {
      report = await runTask(redisHealthTask, { REDIS_URL: url, QUEUES: JSON.stringify([{ name: "celery", maxLength: 2 }, { name: "events", maxLength: 10 }]), LOG_LEVEL: "ERROR" });
    });
    const c = byName(report!);
    expect(c["queue:celery"]).toMatchObject({ value: 5, status: "warning", warn: 2, detail: "5 messages waiting, more than 2 (ZCARD of a sorted set)" });
    expect(c["queue:events"]).toMatchObject({ value: 3, status: "ok", detail: "3 messages waiting (XLEN of a stream without consumer groups: no group has read any entry)" });
    const lengths = emf.filter((e) => "QueueLength" in e).map((e) => [e.Queue, e.QueueLength]);
    expect(lengths).toEqual([["celery", 5], ["events", 3]]);
  });

  it("a queue key that holds no queue (a string, a hash) pages at the queue's severity, not the Redis': the run succeeds, QueueUnmeasurable names the queue; a missing key is an empty queue", async () => {
    await admin.flushAll();
    await admin.set("celery", "oops");
    await admin.hSet("jobs", { a: "1" });
    await admin.rPush("emails", ["m1"]);
    const queues = [
      { name: "celery", maxLength: 2, severity: "P3" },
      { name: "jobs", maxLength: 2, severity: "P1" },
      { name: "emails", maxLength: 2 },
      { name: "drained", maxLength: 2 },
    ];
    let report: RedisHealthReport | undefined;
    const emf = await captureEmf(async () => {
      report = await runTask(redisHealthTask, { REDIS_URL: url, QUEUES: JSON.stringify(queues), LOG_LEVEL: "ERROR" });
    });
    const c = byName(report!);
    expect(c["queue:celery"]).toMatchObject({ value: null, status: "critical", queue: "celery", detail: "QUEUES[0] (severity P3) cannot be measured: the key is a string, not a list, sorted set or stream" });
    expect(c["queue:jobs"]).toMatchObject({ value: null, status: "critical", queue: "jobs", detail: "QUEUES[1] (severity P1) cannot be measured: the key is a hash, not a list, sorted set or stream" });
    expect(c["queue:emails"]).toMatchObject({ value: 1, status: "ok" });
    expect(c["queue:drained"]).toMatchObject({ value: 0, status: "ok", detail: "0 messages waiting (no key: empty)" });
    // The instance's own checks are all well: the queues' problem is theirs alone.
    expect(report!.checks.filter((k) => !k.queue && k.status === "critical")).toEqual([]);
    expect(emf.filter((e) => "QueueUnmeasurable" in e).map((e) => [e.Queue, e.QueueUnmeasurable])).toEqual([["celery", 1], ["jobs", 1]]);
    expect(emf.filter((e) => "QueueLength" in e).map((e) => [e.Queue, e.QueueLength])).toEqual([["emails", 1], ["drained", 0]]);
  });

  it("an instance check that fails still fails the run at the Redis' severity, naming it and not the queue beside it", async () => {
    await admin.flushAll();
    await admin.set("celery", "oops");
    await fill();
    await admin.configSet("maxmemory-policy", "noeviction");
    try {
      const err = (await runTask(redisHealthTask, { REDIS_URL: url, QUEUES: JSON.stringify([{ name: "celery", maxLength: 2 }]), LOG_LEVEL: "ERROR" }).catch((e: unknown) => e)) as TaskError;
      expect(err).toBeInstanceOf(TaskError);
      expect(err.message).toMatch(/^redis-health critical: 127\.0\.0\.1:\d+ memory [\d.]+ percent >= 90 \([^)]*\)$/);
      expect(byName(err.result as RedisHealthReport)["queue:celery"]).toMatchObject({ status: "critical", queue: "celery" });
    } finally {
      await admin.configSet("maxmemory-policy", "allkeys-lru");
      await admin.flushAll();
    }
  });
});

describe("redis-health: queue keys on a database index and on a cluster (private redis-servers)", () => {
  const servers: ChildProcess[] = [];
  const clients: { destroy(): void }[] = [];
  let dir = "";
  const start = async (args: string[]) => {
    const port = await freePort();
    servers.push(spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...args], { stdio: "ignore" }));
    return port;
  };
  const connect = async (port: number, database?: number) => {
    const c = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false }, RESP: 2, ...(database !== undefined ? { database } : {}) });
    await connectWhenUp(c, port);
    clients.push(c);
    return c;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "redis-queues-"));
  });
  afterAll(() => {
    for (const c of clients) c.destroy();
    for (const s of servers) s.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the database index of REDIS_URL is the one read: a list in db 3 is measured, the same name holding a string in db 4 pages its queue", async () => {
    const port = await start([]);
    await (await connect(port, 3)).rPush("celery", ["a", "b"]);
    await (await connect(port, 4)).set("celery", "oops");
    const queues = JSON.stringify([{ name: "celery", maxLength: 10, severity: "P3" }]);
    const db3 = await runTask(redisHealthTask, { REDIS_URL: `redis://127.0.0.1:${port}/3`, QUEUES: queues, LOG_LEVEL: "ERROR" });
    expect(db3.checks.find((c) => c.name === "queue:celery")).toMatchObject({ value: 2, status: "ok" });
    let db4: RedisHealthReport | undefined;
    const emf = await captureEmf(async () => {
      db4 = await runTask(redisHealthTask, { REDIS_URL: `redis://127.0.0.1:${port}/4`, QUEUES: queues, LOG_LEVEL: "ERROR" });
    });
    expect(db4!.checks.find((c) => c.name === "queue:celery")).toMatchObject({ value: null, status: "critical", detail: "QUEUES[0] (severity P3) cannot be measured: the key is a string, not a list, sorted set or stream" });
    expect(emf.filter((e) => "QueueUnmeasurable" in e).map((e) => e.Queue)).toEqual(["celery"]);
  });

  it("on a cluster: a queue in the node's slots is measured, one of the wrong type and one on another node (MOVED) page their queues, the run succeeds", async () => {
    const cluster = (name: string) => ["--cluster-enabled", "yes", "--cluster-config-file", `${name}.conf`];
    const [pa, pb] = [await start(cluster("a")), await start(cluster("b"))];
    const [a, b] = [await connect(pa), await connect(pb)];
    await a.sendCommand(["CLUSTER", "ADDSLOTSRANGE", "0", "8191"]);
    await b.sendCommand(["CLUSTER", "ADDSLOTSRANGE", "8192", "16383"]);
    await a.sendCommand(["CLUSTER", "MEET", "127.0.0.1", String(pb)]);
    for (let i = 0; ; i++) {
      const states = await Promise.all([a, b].map(async (c) => /cluster_state:ok/.test(String(await c.sendCommand(["CLUSTER", "INFO"])))));
      if (states.every(Boolean)) break;
      if (i > 100) throw new Error("the cluster did not form");
      await new Promise((r) => setTimeout(r, 100));
    }
    // Key names by their hash slot: node a serves 0-8191, node b the rest.
    const slot = async (k: string) => Number(await a.sendCommand(["CLUSTER", "KEYSLOT", k]));
    const keysOf = async (low: boolean, n: number) => {
      const out: string[] = [];
      for (let i = 0; out.length < n; i++) if ((await slot(`q${i}`)) < 8192 === low) out.push(`q${i}`);
      return out;
    };
    const [here, wrong] = await keysOf(true, 2);
    const [elsewhere] = await keysOf(false, 1);
    await a.rPush(here, ["m"]);
    await a.set(wrong, "oops");
    await b.rPush(elsewhere, ["m", "n"]);
    let report: RedisHealthReport | undefined;
    const emf = await captureEmf(async () => {
      report = await runTask(redisHealthTask, {
        REDIS_URL: `redis://127.0.0.1:${pa}`,
        QUEUES: JSON.stringify([{ name: here, maxLength: 5 }, { name: wrong, maxLength: 5 }, { name: elsewhere, maxLength: 5 }]),
        LOG_LEVEL: "ERROR",
      });
    });
    const c = Object.fromEntries(report!.checks.map((k) => [k.name, k]));
    expect(c[`queue:${here}`]).toMatchObject({ value: 1, status: "ok" });
    expect(c[`queue:${wrong}`]).toMatchObject({ status: "critical", detail: "QUEUES[1] cannot be measured: the key is a string, not a list, sorted set or stream" });
    expect(c[`queue:${elsewhere}`]).toMatchObject({ status: "critical" });
    expect(c[`queue:${elsewhere}`].detail).toMatch(new RegExp(`^QUEUES\\[2\\] cannot be measured: Redis refused reading it: MOVED \\d+ 127\\.0\\.0\\.1:${pb}$`));
    expect(emf.filter((e) => "QueueUnmeasurable" in e).map((e) => e.Queue)).toEqual([wrong, elsewhere]);
  }, 30_000);
});
