/**
 * Settings too large for Lambda's 4 KB environment travel in the task's bundle: a regime with 25
 * endpoints plans with every function's environment under 4 KB, and the health-check function,
 * built from the planned archive (its index.js and settings.json) and invoked through its handler,
 * checks all 25 endpoints on a real HTTP server.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { RecordedResource } from "../plan/mocks";
import { runPlan } from "../plan/run";
import * as pulumi from "@pulumi/pulumi";
import { LAMBDA_ENV_LIMIT_BYTES, splitSettings } from "../components/scheduled-task";
import { overdueWatchTask } from "../tasks/overdue-watch";
import { parseSettings } from "../tasks/lib/runtime";

const ROOT = join(__dirname, "..");
const NS = "maintenance-regime";
const N = 25;
let server: http.Server;
let port: number;
let resources: RecordedResource[];
type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const envBytes = (vars: Record<string, string>) => Object.entries(vars).reduce((a, [k, v]) => a + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0);

/** The files of a planned zip archive, as the mocks recorded it. */
async function archiveFiles(code: unknown): Promise<Record<string, string>> {
  const c = (await code) as { assets?: Record<string, unknown> | Promise<Record<string, unknown>> };
  const assets = (await c.assets) as Record<string, { text: Promise<string> | string }>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(assets)) out[k] = await v.text;
  return out;
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(req.url?.startsWith("/svc-") ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "ok", path: req.url }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
  const doc = YAML.parse(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
  doc.config[`${NS}:endpoints`] = {
    schedule: "every 1 minute",
    checks: Array.from({ length: N }, (_, i) => ({
      name: `service-${String(i).padStart(2, "0")}`,
      url: `http://127.0.0.1:${port}/svc-${i}/api/v1/health/detailed`,
      maxResponseMs: 2000,
      jsonField: { path: "status", equals: "ok" },
      bodyContains: "ok",
    })),
  };
  const file = join(mkdtempSync(join(tmpdir(), "large-settings-")), "Pulumi.large.yaml");
  writeFileSync(file, YAML.stringify(doc));
  ({ resources } = await runPlan({ configFile: file, from: new Date("2026-11-23T00:00:00Z"), root: ROOT }));
}, 180_000);
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("settings too large for a Lambda environment", () => {
  it("every function's environment totals under 4 KB; the endpoints would not have fit", () => {
    const fns = resources.filter((r) => r.type === "aws:lambda/function:Function").map((r) => r.inputs as Inputs);
    expect(fns.length).toBeGreaterThan(5);
    for (const f of fns) expect(envBytes(f.environment.variables), f.name).toBeLessThan(LAMBDA_ENV_LIMIT_BYTES);
    const hc = fns.find((f) => f.name === "prod-health-task")!;
    expect(hc.environment.variables).not.toHaveProperty("ENDPOINTS");
    expect(hc.environment.variables).toMatchObject({ TASK: "health-check", REGIME_NAME: "prod" });
  });

  it("the health-check handler reads the endpoints from its bundle and checks all 25", async () => {
    const hc = resources.find((r) => r.type === "aws:lambda/function:Function" && (r.inputs as Inputs).name === "prod-health-task")!.inputs as Inputs;
    const files = await archiveFiles(hc.code);
    expect(Object.keys(files).sort()).toEqual(["index.js", "settings.json"]);
    const endpoints = JSON.parse(JSON.parse(files["settings.json"]).ENDPOINTS);
    expect(endpoints).toHaveLength(N);
    expect(Buffer.byteLength(JSON.parse(files["settings.json"]).ENDPOINTS)).toBeGreaterThan(LAMBDA_ENV_LIMIT_BYTES);
    const dir = mkdtempSync(join(tmpdir(), "lambda-task-root-"));
    for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
    const saved = { ...process.env };
    Object.assign(process.env, hc.environment.variables, { LAMBDA_TASK_ROOT: dir, LOG_LEVEL: "ERROR" });
    try {
      const { handler } = require(join(dir, "index.js")) as { handler: () => Promise<{ results: { name: string; healthy: boolean }[] }> }; // eslint-disable-line @typescript-eslint/no-require-imports
      const result = await handler();
      expect(result.results.map((e) => e.name)).toEqual(endpoints.map((e: { name: string }) => e.name));
      expect(result.results.every((e) => e.healthy)).toBe(true);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  }, 60_000);

  it("splitSettings moves the longest plain settings out until the rest fits, and leaves small environments alone", () => {
    const small = { TASK: "vacuum", DEAD_PERCENT_MIN: "10" };
    expect(splitSettings(small)).toEqual({ environment: small, bundled: {} });
    const big = { TASK: "purge", PURGE_RULES: "x".repeat(3000), CHECKS: "y".repeat(2000), OTHER: "z".repeat(100) };
    const s = splitSettings(big);
    expect(Object.keys(s.bundled)).toEqual(["PURGE_RULES"]);
    expect(s.environment).toEqual({ TASK: "purge", CHECKS: big.CHECKS, OTHER: big.OTHER });
    const both = splitSettings({ TASK: "purge", A: "a".repeat(2500), B: "b".repeat(2400), C: "c".repeat(2300) });
    expect(Object.keys(both.bundled).sort()).toEqual(["A", "B"]);
    // A value known only at deploy moves when its caller sizes it (from stand-ins), and stays otherwise.
    const later = pulumi.output("w".repeat(5000));
    expect(Object.keys(splitSettings({ TASK: "overdue-watch", WATCHED_JOBS: later }, { WATCHED_JOBS: 5000 }).bundled)).toEqual(["WATCHED_JOBS"]);
    expect(Object.keys(splitSettings({ TASK: "overdue-watch", WATCHED_JOBS: later, BACKUP_BUCKET: pulumi.output("b") }, { WATCHED_JOBS: 100 }).bundled)).toEqual([]);
  });
});

describe("the overdue watcher's job list too large for a Lambda environment", () => {
  const M = 40;
  let watcher: Inputs;
  beforeAll(async () => {
    // prod's reminders and 40 more, monthly: each is a watched job with its schedule group's creation date.
    const doc = YAML.parse(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
    for (let i = 0; i < M; i++) {
      doc.config[`${NS}:reminders`].push({ name: `monthly-check-${String(i).padStart(2, "0")}`, schedule: `monthly on day ${(i % 28) + 1} at 09:00`, severity: "P3", checklist: [`Check number ${i}`] });
    }
    const file = join(mkdtempSync(join(tmpdir(), "large-watch-")), "Pulumi.watch.yaml");
    writeFileSync(file, YAML.stringify(doc));
    // The plan's promise check audits every function's environment: it refused this regime before.
    const plan = await runPlan({ configFile: file, from: new Date("2026-11-23T00:00:00Z"), root: ROOT });
    watcher = plan.resources.find((r) => r.type === "aws:lambda/function:Function" && (r.inputs as Inputs).name === "prod-overdue-watch")!.inputs as Inputs;
  }, 180_000);

  it("WATCHED_JOBS travels in the watcher's bundle with every job and its deploy-time watch start; the environment stays under 4 KB", async () => {
    expect(envBytes(watcher.environment.variables)).toBeLessThan(LAMBDA_ENV_LIMIT_BYTES);
    expect(watcher.environment.variables).not.toHaveProperty("WATCHED_JOBS");
    const files = await archiveFiles(watcher.code);
    expect(Object.keys(files).sort()).toEqual(["index.js", "settings.json"]);
    const bundled = JSON.parse(files["settings.json"]) as Record<string, string>;
    expect(Buffer.byteLength(bundled.WATCHED_JOBS)).toBeGreaterThan(LAMBDA_ENV_LIMIT_BYTES);
    // What the task reads at cold start (bundle, then environment) passes its own settings schema.
    const s = parseSettings(overdueWatchTask.settings, { ...bundled, ...watcher.environment.variables }) as { WATCHED_JOBS: { job: string; since?: string }[] };
    const reminders = s.WATCHED_JOBS.filter((j) => j.job.startsWith("reminder/"));
    expect(reminders).toHaveLength(M + 3);
    expect(reminders.find((j) => j.job === "reminder/monthly-check-39")).toMatchObject({ expression: "cron(0 9 12 * ? *)", since: expect.any(String) });
  });
});
