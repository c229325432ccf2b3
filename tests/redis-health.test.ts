/**
 * redis-health against real Redis servers: the one on 127.0.0.1:6379 (keys under a test prefix in
 * database 14, removed afterwards; maxmemory set and restored), one started here with a password, a
 * port nobody listens on and a TCP server that never answers; the password secret through a Secrets
 * Manager stand-in on 127.0.0.1 speaking the service's JSON protocol.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as net from "node:net";
import { join } from "node:path";
import { createClient } from "@redis/client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseSettings, runTask, TaskError } from "../tasks/lib/runtime";
import { parseSecretPassword, redisHealthSettings, redisHealthTask, type RedisHealthReport } from "../tasks/redis-health";
import { captureEmf, type EmfLine } from "./helpers/emf";
import { setSdkEnv, startSecretsManager, type SecretsManagerStandIn } from "./helpers/secrets-manager";
import { freePort } from "./helpers/free-port";

const ROOT = join(__dirname, "..");
const DB = 14;
const URL6379 = `redis://127.0.0.1:6379/${DB}`;
const PREFIX = `mr-test:${process.pid}:`;
const QUEUE = `${PREFIX}celery`;

function ensureRedis(): void {
  if (spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", "6379", "ping"], { encoding: "utf8" }).stdout.trim() === "PONG") return;
  spawnSync("redis-server", ["--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"]);
  for (let i = 0; i < 50; i++) {
    if (spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", "6379", "ping"], { encoding: "utf8" }).stdout.trim() === "PONG") return;
    spawnSync("sleep", ["0.1"]);
  }
  throw new Error("Redis on 127.0.0.1:6379 did not start");
}


async function failure(env: Record<string, string>): Promise<{ message: string; result?: RedisHealthReport; ms: number }> {
  const started = Date.now();
  try {
    await runTask(redisHealthTask, { LOG_LEVEL: "ERROR", ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(TaskError);
    return { message: (err as TaskError).message, result: (err as TaskError).result as RedisHealthReport | undefined, ms: Date.now() - started };
  }
  throw new Error("the task succeeded");
}

const byName = (r: RedisHealthReport) => Object.fromEntries(r.checks.map((c) => [c.name, c]));

describe("redis-health on 127.0.0.1:6379", () => {
  const admin = createClient({ socket: { host: "127.0.0.1", port: 6379 }, database: DB, RESP: 2 });
  beforeAll(async () => {
    ensureRedis();
    await admin.connect();
  });
  afterAll(async () => {
    const keys = await admin.keys(`${PREFIX}*`);
    if (keys.length) await admin.del(keys);
    admin.destroy();
  });

  it("a healthy Redis: every check with its value, queue lengths, no failure", async () => {
    await admin.del(QUEUE);
    await admin.rPush(QUEUE, ["a", "b", "c"]);
    await admin.set(`${PREFIX}hit`, "1");
    await admin.get(`${PREFIX}hit`);
    await admin.get(`${PREFIX}miss`);
    const maxmemory = Number((await admin.configGet("maxmemory")).maxmemory);
    const r = await runTask(redisHealthTask, { REDIS_URL: URL6379, QUEUES: JSON.stringify([{ name: QUEUE, maxLength: 10 }]), LOG_LEVEL: "ERROR" });
    expect(r.status).toBe("ok");
    expect(r.redis).toBe("127.0.0.1:6379");
    expect(r.redisVersion).toMatch(/^\d+\.\d+/);
    const c = byName(r);
    expect(Object.keys(c)).toEqual(["memory", "evicted_keys", "hit_rate", "connected_clients", "rdb_last_bgsave", "aof_last_write", `queue:${QUEUE}`]);
    expect(c[`queue:${QUEUE}`]).toMatchObject({ value: 3, unit: "messages", status: "ok", warn: 10 });
    expect(c.hit_rate.value).toBeGreaterThan(0);
    expect(c.hit_rate.value).toBeLessThan(100);
    expect(c.connected_clients.value).toBeGreaterThanOrEqual(2);
    expect(c.rdb_last_bgsave).toMatchObject({ value: "ok", status: "ok" });
    expect(c.aof_last_write).toMatchObject({ status: "skipped", detail: "AOF is off (appendonly no)" });
    if (maxmemory === 0) {
      expect(c.memory).toMatchObject({ value: null, status: "skipped" });
      expect(c.memory.detail).toMatch(/^maxmemory is 0 \(no limit\): memory percent not checked; used_memory /);
    } else {
      expect(c.memory.status).not.toBe("skipped");
    }
  });

  it("memory at the critical percent of maxmemory fails with one line naming the value", async () => {
    const saved = (await admin.configGet("maxmemory")).maxmemory;
    const used = Number(/used_memory:(\d+)/.exec(String(await admin.info("memory")))![1]);
    try {
      // used_memory at about 98 % of maxmemory (the check's own connection adds a little).
      await admin.configSet("maxmemory", String(Math.ceil(used / 0.98)));
      const f = await failure({ REDIS_URL: URL6379, METRICS_INSTANCE: "cache" });
      expect(f.message).toMatch(/^redis-health critical: cache memory (9\d|1\d\d)(\.\d+)? percent >= 90 \(used_memory [\d.]+ [KM]?B of maxmemory [\d.]+ [KM]?B, policy \S+\)$/);
      const m = byName(f.result!).memory;
      expect(m.status).toBe("critical");
      expect(m.value as number).toBeGreaterThanOrEqual(90);
      expect(f.result!.status).toBe("critical");

      // The same server with higher thresholds: only a warning, in the result, no failure.
      const r = await runTask(redisHealthTask, { REDIS_URL: URL6379, MEMORY_WARN_PERCENT: "50", MEMORY_CRIT_PERCENT: "0", LOG_LEVEL: "ERROR" });
      expect([r.status, byName(r).memory.status, byName(r).memory.warn, byName(r).memory.crit]).toEqual(["warning", "warning", 50, undefined]);
    } finally {
      await admin.configSet("maxmemory", saved);
    }
    expect((await admin.configGet("maxmemory")).maxmemory).toBe(saved);
  });

  it("emits memory, evictions, hit rate and each queue's length as Embedded Metric Format lines under the Instance (clients: a log line, no alarm reads it)", async () => {
    const saved = (await admin.configGet("maxmemory")).maxmemory;
    let emf: EmfLine[];
    try {
      await admin.configSet("maxmemory", String(1024 * 1024 * 1024));
      emf = await captureEmf(() =>
        runTask(redisHealthTask, { REDIS_URL: URL6379, METRICS_INSTANCE: "cache", REGIME_NAME: "prod", QUEUES: JSON.stringify([{ name: QUEUE, maxLength: 10 }]), LOG_LEVEL: "ERROR" }),
      );
    } finally {
      await admin.configSet("maxmemory", saved);
    }
    const names = emf.flatMap((e) => e._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name));
    expect(names).toEqual(expect.arrayContaining(["MemoryPercent", "EvictedKeys", "HitRatePercent", "QueueLength", "TaskSucceeded"]));
    expect(names).not.toContain("ConnectedClients");
    const main = emf.find((e) => "MemoryPercent" in e)!;
    expect(main._aws.CloudWatchMetrics[0].Dimensions).toEqual([["service", "Task", "Instance"]]);
    expect([main.service, main.Task, main.Instance]).toEqual(["prod", "redis-health", "cache"]);
    expect(main.MemoryPercent as number).toBeLessThan(1);
    const queue = emf.find((e) => "QueueLength" in e)!;
    expect(queue._aws.CloudWatchMetrics[0].Dimensions).toEqual([["service", "Task", "Instance", "Queue"]]);
    expect([queue.Queue, queue.Instance]).toEqual([QUEUE, "cache"]);
  });

  it("samples its metrics: healthy values go out in the first run of each 6 hours, a value meeting its alarm's condition on every run", async () => {
    const saved = (await admin.configGet("maxmemory")).maxmemory;
    await admin.configSet("maxmemory", String(1024 * 1024 * 1024));
    await admin.del(QUEUE);
    await admin.rPush(QUEUE, ["1", "2", "3"]);
    await admin.get(`${PREFIX}lookup`); // a lookup, so there is a hit rate
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    /** Metric names one run every 5 minutes (SCHEDULE_INTERVAL_SECONDS 300) started `minutes` after midnight UTC publishes. */
    const sentAt = async (minutes: number, extra: Record<string, string> = {}) => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(day + minutes * 60_000);
      try {
        const emf = await captureEmf(() =>
          runTask(redisHealthTask, { REDIS_URL: URL6379, METRICS_INSTANCE: "cache", REGIME_NAME: "prod", SCHEDULE_INTERVAL_SECONDS: "300", QUEUES: JSON.stringify([{ name: QUEUE, maxLength: 10 }]), LOG_LEVEL: "ERROR", ...extra }),
        );
        return emf.flatMap((e) => e._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name)).filter((n) => !n.startsWith("Task")).sort().join(" ");
      } finally {
        vi.useRealTimers();
      }
    };
    try {
      expect(await sentAt(2)).toBe("EvictedKeys HitRatePercent MemoryPercent QueueLength");
      expect(await sentAt(7)).toBe("");
      expect(await sentAt(6 * 60 + 1)).toBe("EvictedKeys HitRatePercent MemoryPercent QueueLength");
      // Each alarm's own condition: memory at or past the warning percent, a hit rate below the minimum, a queue over its maxLength.
      expect(await sentAt(7, { MEMORY_WARN_PERCENT: "0" })).toBe("MemoryPercent");
      expect(await sentAt(7, { MIN_HIT_RATE_PERCENT: "100" })).toBe("HitRatePercent");
      expect(await sentAt(7, { QUEUES: JSON.stringify([{ name: QUEUE, maxLength: 2 }]) })).toBe("QueueLength");
      expect(await sentAt(7, { EVICTED_KEYS_WARN: "1000000000" })).toBe("");
    } finally {
      await admin.configSet("maxmemory", saved);
      await admin.del(QUEUE);
    }
  });

  it("a queue longer than its maxLength is a warning naming the queue; the run does not fail", async () => {
    await admin.del(QUEUE);
    await admin.rPush(QUEUE, ["1", "2", "3", "4", "5"]);
    const r = await runTask(redisHealthTask, { REDIS_URL: URL6379, QUEUES: JSON.stringify([{ name: QUEUE, maxLength: 2 }, { name: `${PREFIX}empty`, maxLength: 0 }]), LOG_LEVEL: "ERROR" });
    expect(r.status).toBe("warning");
    expect(byName(r)[`queue:${QUEUE}`]).toMatchObject({ value: 5, status: "warning", warn: 2, detail: "5 messages waiting, more than 2 (LLEN of a list)" });
    expect(byName(r)[`queue:${PREFIX}empty`]).toMatchObject({ value: 0, status: "ok", detail: "0 messages waiting (no key: empty)" });
  });

  it("the command line runs it and prints the result as the last line", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "tasks/cli.ts"), "redis-health", "--queue", `${QUEUE}=100`], {
      encoding: "utf8",
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: URL6379 },
    });
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as RedisHealthReport;
    expect(byName(result)[`queue:${QUEUE}`]).toMatchObject({ unit: "messages", warn: 100 });
  });
});

describe("redis-health when Redis cannot be reached", () => {
  it("a port nobody listens on fails with one line", async () => {
    const port = await freePort();
    const f = await failure({ REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(f.message).toBe(`redis 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(f.message).not.toContain("\n");
  });

  it("a server that never answers fails within the timeout", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const f = await failure({ REDIS_URL: `redis://127.0.0.1:${port}`, TIMEOUT_SECONDS: "0.5", METRICS_INSTANCE: "broker" });
      expect(f.message).toMatch(new RegExp(`^redis broker \\(127\\.0\\.0\\.1:${port}\\): no answer within 0\\.5 s`));
      expect(f.ms).toBeGreaterThanOrEqual(450);
      expect(f.ms).toBeLessThan(3000);
      expect(sockets.length).toBeGreaterThanOrEqual(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe("redis-health with a password", () => {
  const PASSWORD = "s3cret-pass word";
  let port = 0;
  let server: ChildProcess;
  const dir = mkdtempSync(join(tmpdir(), "redis-health-"));
  let sm: SecretsManagerStandIn;
  let restoreEnv: () => void = () => undefined;
  const ARN = (name: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}`;
  const SECRETS: Record<string, string> = {
    [ARN("redis-plain-AbCdEf")]: PASSWORD,
    [ARN("redis-json-GhIjKl")]: JSON.stringify({ password: PASSWORD }),
    [ARN("redis-wrong-MnOpQr")]: JSON.stringify({ password: "not-it" }),
    [ARN("redis-shape-StUvWx")]: JSON.stringify({ pass: PASSWORD }),
  };

  beforeAll(async () => {
    port = await freePort();
    server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD, "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((r) => {
        const s = net.connect(port, "127.0.0.1", () => (s.destroy(), r(true)));
        s.on("error", () => r(false));
      });
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    sm = await startSecretsManager(SECRETS);
    restoreEnv = setSdkEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url, AWS_ACCESS_KEY_ID: "AKIDTESTREDIS", AWS_SECRET_ACCESS_KEY: "test-secret-access-key", AWS_REGION: "us-east-1" });
  });
  afterAll(async () => {
    server?.kill();
    rmSync(dir, { recursive: true, force: true });
    await sm?.close();
    restoreEnv();
  });

  it("without the password the check fails in one line; with REDIS_PASSWORD it passes", async () => {
    const url = `redis://127.0.0.1:${port}`;
    const f = await failure({ REDIS_URL: url });
    expect(f.message).toMatch(new RegExp(`^redis 127\\.0\\.0\\.1:${port}: NOAUTH`));
    const r = await runTask(redisHealthTask, { REDIS_URL: url, REDIS_PASSWORD: PASSWORD, LOG_LEVEL: "ERROR" });
    expect(r.status).toBe("ok");
    const wrong = await failure({ REDIS_URL: url, REDIS_PASSWORD: "nope" });
    expect(wrong.message).toMatch(/WRONGPASS|invalid password/i);
    expect(wrong.message).not.toContain(PASSWORD);
  });

  it("reads the password from a Secrets Manager secret, plain or JSON, also in Lambda", async () => {
    const url = `redis://127.0.0.1:${port}`;
    for (const name of ["redis-plain-AbCdEf", "redis-json-GhIjKl"]) {
      const r = await runTask(redisHealthTask, { REDIS_URL: url, REDIS_PASSWORD_SECRET_ARN: ARN(name), AWS_LAMBDA_FUNCTION_NAME: "prod-redis-cache", LOG_LEVEL: "ERROR" });
      expect(r.status).toBe("ok");
    }
    expect((await failure({ REDIS_URL: url, REDIS_PASSWORD_SECRET_ARN: ARN("redis-wrong-MnOpQr") })).message).toMatch(/WRONGPASS|invalid password/i);
    expect((await failure({ REDIS_URL: url, REDIS_PASSWORD_SECRET_ARN: ARN("redis-shape-StUvWx") })).message).toBe(
      'REDIS_PASSWORD_SECRET_ARN: cannot read the password: SecretString JSON has no "password" string; store {"password": "..."} or the password itself',
    );
    expect((await failure({ REDIS_URL: url, REDIS_PASSWORD_SECRET_ARN: ARN("redis-missing-YzAbCd") })).message).toMatch(
      /^REDIS_PASSWORD_SECRET_ARN: cannot read the password: Secrets Manager can't find the specified secret\.$/,
    );
  });

  it("a failed RDB snapshot fails the check naming it", async () => {
    const url = `redis://127.0.0.1:${port}`;
    const admin = createClient({ socket: { host: "127.0.0.1", port }, password: PASSWORD, RESP: 2 });
    await admin.connect();
    try {
      // The server's working directory is gone: the snapshot cannot be written.
      rmSync(dir, { recursive: true, force: true });
      await admin.bgSave();
      let info = "";
      for (let i = 0; i < 100; i++) {
        info = String(await admin.info("persistence"));
        if (/rdb_bgsave_in_progress:0/.test(info) && /rdb_last_bgsave_status:err/.test(info)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(info).toMatch(/rdb_last_bgsave_status:err/);
      const f = await failure({ REDIS_URL: url, REDIS_PASSWORD: PASSWORD, METRICS_INSTANCE: "broker" });
      expect(f.message).toBe("redis-health critical: broker rdb_last_bgsave err (the last RDB snapshot failed; with stop-writes-on-bgsave-error Redis refuses writes)");
      expect(f.message).not.toContain(PASSWORD);
    } finally {
      admin.destroy();
    }
  });

  it("a password in the environment is refused in Lambda; the secret's JSON may name an ACL user", () => {
    const lambda = { AWS_LAMBDA_FUNCTION_NAME: "prod-redis-cache" };
    expect(() => parseSettings(redisHealthSettings, { REDIS_URL: "redis://h:6379", REDIS_PASSWORD: "pw", ...lambda })).toThrow(
      "invalid setting REDIS_PASSWORD: a password in an environment variable is refused in Lambda; use REDIS_PASSWORD_SECRET_ARN",
    );
    expect(() => parseSettings(redisHealthSettings, { REDIS_URL: "redis://:pw@h:6379", ...lambda })).toThrow("invalid setting REDIS_URL: a password in an environment variable is refused in Lambda");
    expect(() => parseSettings(redisHealthSettings, { REDIS_URL: "http://h:6379" })).toThrow("invalid setting REDIS_URL: must start with redis:// or rediss://");
    expect(() => parseSettings(redisHealthSettings, { REDIS_URL: "redis://h", MEMORY_WARN_PERCENT: "95" })).toThrow("invalid setting MEMORY_WARN_PERCENT: must not exceed MEMORY_CRIT_PERCENT (90)");
    expect(parseSecretPassword(JSON.stringify({ username: "monitor", password: "pw" }))).toEqual({ username: "monitor", password: "pw" });
    expect(parseSecretPassword("plain pw\n")).toEqual({ password: "plain pw\n" });
  });
});
