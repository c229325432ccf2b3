/**
 * Uptime targets of endpoint checks (seed 000: "Uptime - Target: 99.9%", seed 004: "Target: 99.5%
 * uptime"): error-budget burn alarms under Pulumi mocks (metric math on the Healthy metric the
 * health-check task writes, thresholds, windows, severities, actions, missing data), none without a
 * target, the burn-rate arithmetic on known numbers, the dashboard's 30-day availability widgets, and
 * the offline plan's lines for the composite alarms (a separate process: the plan installs mocks of
 * its own).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { MOCK_CREATION_DATE, mockArchive, mockTopics, settle, setupMocks, type MockResource } from "./helpers/pulumi-mocks";
import { gateOf } from "./helpers/metric-math";
import { endpointsSchema } from "../regime/endpoints";
import { dashboardBody } from "../components/dashboard";
import type { Plan } from "../plan/run";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";

const { resources } = setupMocks();

const ROOT = join(__dirname, "..");
const NS = METRICS_NAMESPACE_DEFAULT;
const TOPICS = mockTopics("crm");
const archive = mockArchive;

type Mod = typeof import("../components/health-checks");
let mod: Mod;

function build(regime: string, checks: unknown[], intervalSeconds = 60) {
  const endpoints = endpointsSchema.parse({ checks }).checks;
  return new mod.HealthChecks(`${regime}-health`, {
    regime,
    endpoints,
    schedule: { expression: `rate(${intervalSeconds / 60} minutes)`, timezone: "UTC", intervalSeconds } as never,
    archive: archive(),
    alarmTopics: TOPICS,
    logRetentionDays: 30,
  });
}

const metricAlarms = () => resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm");
const composites = () => resources.filter((r) => r.type === "aws:cloudwatch/compositeAlarm:CompositeAlarm");
const one = (list: MockResource[], name: string) => {
  const found = list.filter((r) => r.name === name);
  expect(found, name).toHaveLength(1);
  return found[0].inputs;
};
const windowAlarm = (name: string) => one(metricAlarms(), name);
const composite = (name: string) => one(composites(), name);

let names: Record<string, string[]> = {};

beforeAll(async () => {
  mod = await import("../components/health-checks");
  const crm = build("crm", [
    { name: "frontend", url: "http://crm.example.com:8501/_stcore/health", uptimeTargetPercent: 99.9 },
    { name: "backend", url: "http://crm.example.com:8000/health" },
  ]);
  // With a response-time limit and a certificate minimum: the budget still counts availability only.
  const neff = build("neff", [{ name: "api", url: "https://neffpaving.com/api/health", uptimeTargetPercent: 99.5, uptimeSeverity: "P1", maxResponseMs: 800, minCertificateDays: 14 }]);
  const hourly = build("hourly", [{ name: "site", url: "https://hourly.example.com/health", uptimeTargetPercent: 99.5, uptimeSeverity: "P3" }], 3600);
  const plain = build("plain", [{ name: "web", url: "https://plain.example.com/", maxResponseMs: 3000 }]);
  await settle();
  const resolve = (o: pulumi.Output<string[]>) => new Promise<string[]>((r) => o.apply(r));
  names = { crm: await resolve(crm.alarmNames), neff: await resolve(neff.alarmNames), hourly: await resolve(hourly.alarmNames), plain: await resolve(plain.alarmNames) };
});

describe("the burn-rate arithmetic on known numbers", () => {
  it("99.9 % over 30 days leaves 43.2 minutes of downtime; 99.5 % leaves 216", () => {
    expect(mod.errorBudgetMinutes(99.9)).toBe(43.2);
    expect(mod.errorBudgetMinutes(99.5)).toBe(216);
    expect(mod.errorBudgetMinutes(99)).toBe(432);
  });

  it("the thresholds are 100 - burn rate x (100 - target), without binary-fraction noise", () => {
    // 99.9: budget rate 0.1 % unavailability; 14.4x -> 1.44 %, 6x -> 0.6 %
    expect(mod.burnThreshold(99.9, 14.4)).toBe(98.56);
    expect(mod.burnThreshold(99.9, 6)).toBe(99.4);
    // 99.5: budget rate 0.5 %; 14.4x -> 7.2 %, 6x -> 3 %
    expect(mod.burnThreshold(99.5, 14.4)).toBe(92.8);
    expect(mod.burnThreshold(99.5, 6)).toBe(97);
    // the naive float arithmetic is not exact, which is why the component rounds
    expect(100 - 14.4 * (100 - 99.9)).not.toBe(98.56);
  });

  it("the fast pair spends 2 % of the month's budget an hour, the slow pair 5 % in 6 hours (the SRE workbook's numbers)", () => {
    const [fast, slow] = mod.BURN_ALERTS;
    expect([fast.burnRate, fast.longSeconds, fast.shortSeconds]).toEqual([14.4, 3600, 300]);
    expect([slow.burnRate, slow.longSeconds, slow.shortSeconds]).toEqual([6, 21600, 1800]);
    expect(mod.budgetSpent(14.4, 3600)).toBe(0.02);
    expect(mod.budgetSpent(6, 21600)).toBe(0.05);
    // at 14.4x the whole 30-day budget is gone in 50 hours; at 6x in 5 days
    expect((30 * 24) / 14.4).toBe(50);
    // 99.9 at exactly 14.4x for one hour: 1.44 % of 60 minutes down = 0.864 minutes = 2 % of 43.2
    expect(Number(((60 * (100 - mod.burnThreshold(99.9, 14.4))) / 100 / mod.errorBudgetMinutes(99.9)).toFixed(6))).toBe(0.02);
  });

  it("availability of one-minute checks against the thresholds: what trips a window", () => {
    const availability = (healthy: number, checks: number) => (100 * healthy) / checks;
    // 99.9: one failed check in an hour (98.33 %) already burns faster than 14.4x (that minute is 2.3 % of the budget)
    expect(availability(59, 60)).toBeLessThan(mod.burnThreshold(99.9, 14.4));
    expect(availability(60, 60)).not.toBeLessThan(mod.burnThreshold(99.9, 14.4));
    // 99.5: 5 failed checks in an hour (91.67 %) trip the hour, 4 (93.33 %) do not
    expect(availability(55, 60)).toBeLessThan(mod.burnThreshold(99.5, 14.4));
    expect(availability(56, 60)).not.toBeLessThan(mod.burnThreshold(99.5, 14.4));
    // 99.5 slow: 11 of 360 checks failed in 6 hours (96.94 %) trip it, 10 (97.22 %) do not
    expect(availability(349, 360)).toBeLessThan(mod.burnThreshold(99.5, 6));
    expect(availability(350, 360)).not.toBeLessThan(mod.burnThreshold(99.5, 6));
  });

  it("windows are never shorter than the interval between checks, and at most a day", () => {
    expect(mod.burnWindowSeconds(300, 60)).toBe(300);
    expect(mod.burnWindowSeconds(300, 3600)).toBe(3600);
    expect(mod.burnWindowSeconds(21600, 3600)).toBe(21600);
    expect(mod.burnWindowSeconds(3600, 86400)).toBe(86400);
    expect(mod.burnWindowSeconds(1800, 90)).toBe(1800);
  });

  it("the slow burn pages one severity lower, P3 at most", () => {
    expect(["P0", "P1", "P2", "P3"].map((s) => mod.lowerSeverity(s as "P0"))).toEqual(["P1", "P2", "P3", "P3"]);
  });
});

describe("error-budget burn alarms of an endpoint with an uptime target", () => {
  const expectWindow = (name: string, regime: string, endpoint: string, seconds: number, threshold: number) => {
    const a = windowAlarm(name);
    const dims = { service: regime, Task: "health-check", Endpoint: endpoint };
    expect(a.name).toBe(name);
    // One metric: each check sends Healthy 1 or 0, so its Average (Sum / SampleCount) is the share of
    // healthy checks; gated on the checker's watch start (its role's mocked creation): a window before
    // it counts as available, one after it without a check as 0 %.
    expect(a.metricQueries).toEqual([
      { id: "healthy", metric: { namespace: NS, metricName: "Healthy", dimensions: dims, stat: "Average", period: seconds }, returnData: false },
      { id: "watched", expression: `IF(EPOCH(healthy) < ${Date.parse(MOCK_CREATION_DATE) / 1000}, 1, FILL(healthy, 0))`, label: expect.any(String), returnData: false },
      { id: "availability", expression: "100 * watched", label: expect.stringContaining(`${endpoint} availability %`), returnData: true },
    ]);
    expect(a.period).toBeUndefined();
    expect(a.metricName).toBeUndefined();
    expect([a.evaluationPeriods, a.datapointsToAlarm, a.comparisonOperator, a.threshold]).toEqual([1, 1, "LessThanThreshold", threshold]);
    // CloudWatch: period x evaluation periods at most a day below an hour's period, 7 days above
    expect(seconds * a.evaluationPeriods).toBeLessThanOrEqual(seconds < 3600 ? 86400 : 604800);
    expect(seconds % 60).toBe(0);
    // no checks in a window counts as unavailable, never as healthy
    expect(a.treatMissingData).toBe("breaching");
    // the composite alarm notifies; the window alone trips on a single failed check
    expect(a.actionsEnabled).toBe(true);
    expect(a.alarmActions).toEqual([]);
    expect(a.okActions).toEqual([]);
    expect(a.alarmDescription).toMatch(/Notifies nobody by itself/);
    expect(a.tags.PartOf).toBe(name.replace(/-\d+[mh](-P\d)$/, "$1"));
    expect(one(composites(), a.tags.PartOf).alarmRule).toContain(`ALARM("${name}")`);
    return a;
  };

  it("iSwitch 99.9 %: fast burn 1 h and 5 min below 98.56 % pages P2 (the default)", () => {
    expectWindow("crm-endpoint-frontend-budget-fast-1h-P2", "crm", "frontend", 3600, 98.56);
    expectWindow("crm-endpoint-frontend-budget-fast-5m-P2", "crm", "frontend", 300, 98.56);
    const c = composite("crm-endpoint-frontend-budget-fast-P2");
    expect(c.alarmName).toBe("crm-endpoint-frontend-budget-fast-P2");
    expect(c.alarmRule).toBe('ALARM("crm-endpoint-frontend-budget-fast-1h-P2") AND ALARM("crm-endpoint-frontend-budget-fast-5m-P2")');
    expect([c.actionsEnabled, c.alarmActions, c.okActions, c.tags.Severity]).toEqual([true, [TOPICS.P2], [TOPICS.P2], "P2"]);
    expect(c.alarmDescription).toMatch(/^\[P2\] http:\/\/crm\.example\.com:8501\/_stcore\/health is spending its 99\.9 % uptime budget \(43\.2 minutes of downtime in 30 days\) at 14\.4x: availability below 98\.56 % over both 1h and 5m; at this rate 2 % /);
  });

  it("iSwitch 99.9 %: slow burn 6 h and 30 min below 99.4 % pages P3", () => {
    expectWindow("crm-endpoint-frontend-budget-slow-6h-P3", "crm", "frontend", 21600, 99.4);
    expectWindow("crm-endpoint-frontend-budget-slow-30m-P3", "crm", "frontend", 1800, 99.4);
    const c = composite("crm-endpoint-frontend-budget-slow-P3");
    expect(c.alarmRule).toBe('ALARM("crm-endpoint-frontend-budget-slow-6h-P3") AND ALARM("crm-endpoint-frontend-budget-slow-30m-P3")');
    expect([c.alarmActions, c.okActions, c.tags.Severity]).toEqual([[TOPICS.P3], [TOPICS.P3], "P3"]);
    expect(c.alarmDescription).toMatch(/at 6x: availability below 99\.4 % over both 6h and 30m; at this rate 5 % /);
  });

  it("Neff Paving 99.5 % with uptimeSeverity P1: fast below 92.8 % pages P1, slow below 97 % pages P2", () => {
    expectWindow("neff-endpoint-api-budget-fast-1h-P1", "neff", "api", 3600, 92.8);
    expectWindow("neff-endpoint-api-budget-fast-5m-P1", "neff", "api", 300, 92.8);
    expectWindow("neff-endpoint-api-budget-slow-6h-P2", "neff", "api", 21600, 97);
    expectWindow("neff-endpoint-api-budget-slow-30m-P2", "neff", "api", 1800, 97);
    expect(composite("neff-endpoint-api-budget-fast-P1").alarmActions).toEqual([TOPICS.P1]);
    expect(composite("neff-endpoint-api-budget-slow-P2").alarmActions).toEqual([TOPICS.P2]);
    expect(composite("neff-endpoint-api-budget-fast-P1").alarmDescription).toMatch(/99\.5 % uptime budget \(216 minutes of downtime in 30 days\)/);
  });

  it("slowness and certificate age never spend the budget: every window of an endpoint with maxResponseMs and minCertificateDays reads Healthy alone", () => {
    const windows = metricAlarms().filter((r) => r.name.startsWith("neff-endpoint-api-budget-"));
    expect(windows).toHaveLength(4);
    for (const w of windows) {
      const metrics = (w.inputs.metricQueries as { metric?: { metricName: string } }[]).flatMap((q) => (q.metric ? [q.metric.metricName] : []));
      expect(metrics, w.name).toEqual(["Healthy"]);
    }
    // The signals have their own alarms beside the budget's.
    // (in name order: the mocks record resources as their inputs resolve)
    expect(metricAlarms().filter((r) => /^neff-endpoint-api-(slow|certificate)-/.test(r.name)).map((r) => [r.name, r.inputs.metricName]).sort()).toEqual([
      ["neff-endpoint-api-certificate-P2", "CertificateDaysLeft"],
      ["neff-endpoint-api-slow-P3", "ResponseTime"],
    ]);
  });

  it("hourly checks stretch the short windows to the hour, and an uptimeSeverity of P3 keeps the slow burn at P3", () => {
    expectWindow("hourly-endpoint-site-budget-fast-1h-P3", "hourly", "site", 3600, 92.8);
    // both fast windows are an hour: one window alarm, the composite reads it alone
    expect(composite("hourly-endpoint-site-budget-fast-P3").alarmRule).toBe('ALARM("hourly-endpoint-site-budget-fast-1h-P3")');
    expect(metricAlarms().filter((r) => r.name.startsWith("hourly-endpoint-site-budget-fast-")).map((r) => r.name)).toEqual(["hourly-endpoint-site-budget-fast-1h-P3"]);
    expect(composite("hourly-endpoint-site-budget-slow-P3").alarmRule).toBe('ALARM("hourly-endpoint-site-budget-slow-6h-P3") AND ALARM("hourly-endpoint-site-budget-slow-1h-P3")');
    expectWindow("hourly-endpoint-site-budget-slow-6h-P3", "hourly", "site", 21600, 97);
    expectWindow("hourly-endpoint-site-budget-slow-1h-P3", "hourly", "site", 3600, 97);
  });

  it("the component's alarm names list the composite alarms (the dashboard's alarm widget), not the windows", () => {
    expect(names.crm.filter((n) => n.includes("budget"))).toEqual(["crm-endpoint-frontend-budget-fast-P2", "crm-endpoint-frontend-budget-slow-P3"]);
    expect(names.neff.filter((n) => n.includes("budget"))).toEqual(["neff-endpoint-api-budget-fast-P1", "neff-endpoint-api-budget-slow-P2"]);
  });

  it("the existing alarms of the endpoint are unchanged: the down alarm still fires after failuresBeforeAlarm checks in a row", () => {
    const down = windowAlarm("crm-endpoint-frontend-down-P0");
    expect([down.evaluationPeriods, down.threshold, down.treatMissingData, down.alarmActions]).toEqual([5, 1, "breaching", [TOPICS.P0]]);
    expect(gateOf(down).metrics.map((m) => [m.metricName, m.stat])).toEqual([["Healthy", "Minimum"]]);
  });
});

describe("no uptime target, no budget alarms", () => {
  it("an endpoint without uptimeTargetPercent gets none, even next to one that has it", () => {
    expect(metricAlarms().filter((r) => r.name.startsWith("crm-endpoint-backend-")).map((r) => r.name)).toEqual(["crm-endpoint-backend-down-P0"]);
    expect(composites().filter((r) => r.name.startsWith("crm-endpoint-backend-"))).toEqual([]);
  });

  it("a regime without any target: the same alarms as before, no composite alarm, metric math only for the down alarm's watch start", () => {
    expect(names.plain).toEqual(["plain-endpoint-web-down-P0", "plain-endpoint-web-slow-P3"]);
    expect(composites().filter((r) => r.name.startsWith("plain-"))).toEqual([]);
    for (const a of metricAlarms().filter((r) => r.name.startsWith("plain-endpoint-"))) {
      expect(a.inputs.metricQueries === undefined, a.name).toBe(a.name !== "plain-endpoint-web-down-P0");
      expect(a.inputs.alarmActions, a.name).toHaveLength(1);
    }
  });

  it("the config default for uptimeSeverity is P2 and the target stays unset", () => {
    const [e] = endpointsSchema.parse({ checks: [{ name: "a", url: "https://a.example.com/" }] }).checks;
    expect(e.uptimeTargetPercent).toBeUndefined();
    expect(e.uptimeSeverity).toBe("P2");
    expect(mod.uptimeTargets([e])).toEqual({});
  });
});

describe("dashboard: 30-day availability against the target", () => {
  type W = { type: string; width: number; properties: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  const body = (endpoints: string[], uptimeTargets?: Record<string, number>) =>
    (JSON.parse(dashboardBody("crm", "us-east-1", { databases: [], endpoints, tasks: [], uptimeTargets }, [])) as { widgets: W[] }).widgets;
  const availability = (ws: W[]) => ws.filter((w) => String(w.properties.title).includes("availability (30 days)"));

  it("one widget per endpoint with a target: daily and running availability from Healthy, the target as a horizontal line", () => {
    const targets = mod.uptimeTargets(endpointsSchema.parse({ checks: [
      { name: "frontend", url: "https://crm.example.com/", uptimeTargetPercent: 99.9 },
      { name: "backend", url: "https://crm.example.com/api", uptimeTargetPercent: 99.5 },
      { name: "docs", url: "https://crm.example.com/docs" },
    ] }).checks);
    expect(targets).toEqual({ frontend: 99.9, backend: 99.5 });
    const ws = availability(body(["frontend", "backend", "docs"], targets));
    expect(ws.map((w) => w.properties.title)).toEqual(["backend availability (30 days), target 99.5 %", "frontend availability (30 days), target 99.9 %"]);
    const f = ws[1].properties;
    const dims = ["service", "crm", "Task", "health-check", "Endpoint", "frontend"];
    expect(f.metrics).toEqual([
      [NS, "Healthy", ...dims, { id: "healthy", stat: "Sum", visible: false }],
      [NS, "Healthy", ...dims, { id: "checks", stat: "SampleCount", visible: false }],
      [{ id: "daily", expression: "100 * healthy / checks", label: "daily availability %" }],
      [{ id: "running", expression: "100 * RUNNING_SUM(healthy) / RUNNING_SUM(checks)", label: "availability since the start of the range %" }],
    ]);
    expect([f.start, f.period, f.view]).toEqual(["-P30D", 86400, "timeSeries"]);
    expect(f.annotations).toEqual({ horizontal: [{ label: "target 99.9 %", value: 99.9 }] });
    expect(f.yAxis.left.max).toBe(100);
    for (const w of ws) expect(w.width).toBe(12);
  });

  it("no targets: no availability widgets; four targets wrap onto a second row", () => {
    expect(availability(body(["a", "b"]))).toEqual([]);
    const ws = availability(body(["a", "b", "c", "d"], { a: 99, b: 99, c: 99, d: 99 }));
    expect(ws.map((w) => w.width)).toEqual([8, 8, 8, 24]);
  });
});

describe("the offline plan lists the budget alarms", () => {
  it("composite alarms with their rule and topic, windows with their expression and threshold, the cost of composites", () => {
    const doc = YAML.parse(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
    const endpoints = doc.config["maintenance-regime:endpoints"];
    endpoints.checks[0].uptimeTargetPercent = 99.9;
    const dir = mkdtempSync(join(tmpdir(), "uptime-plan-"));
    const file = join(dir, "Pulumi.uptime.yaml");
    writeFileSync(file, YAML.stringify(doc));
    const run = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "plan/cli.ts"), "--config", file, "--json", "--from", "2026-11-23"], { encoding: "utf8", cwd: ROOT });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const plan = JSON.parse(run.stdout) as Plan;
    const byName = Object.fromEntries(plan.alarms.map((a) => [a.name, a]));
    const regime = doc.config["maintenance-regime:name"];
    expect(typeof regime).toBe("string");
    const fast = byName[`${regime}-endpoint-api-budget-fast-P2`];
    expect(fast).toMatchObject({ severity: "P2", metric: "composite", treatMissingData: "(by its child alarms)" });
    expect(fast.condition).toMatch(/^ALARM\("[a-z-]+-endpoint-api-budget-fast-1h-P2"\) AND ALARM\("[a-z-]+-endpoint-api-budget-fast-5m-P2"\)$/);
    expect(fast.pages).toMatch(/-alerts-P2$/);
    const hour = plan.alarms.find((a) => a.name.endsWith("-endpoint-api-budget-fast-1h-P2"))!;
    expect(hour.metric).toBe(`expression 100 * watched [watched = IF(EPOCH(healthy) < 1767225600, 1, FILL(healthy, 0)), healthy = ${NS}/Healthy Average]`);
    expect(hour.condition).toBe("< 98.56 over 60 min");
    expect(hour.treatMissingData).toBe("breaching");
    expect(hour.pages).toBe(`(nobody; part of ${fast.name})`);
    const slow = plan.alarms.find((a) => a.name.endsWith("-endpoint-api-budget-slow-P3"))!;
    expect(slow.condition).toMatch(/budget-slow-6h-P3"\) AND ALARM\(".*budget-slow-30m-P3"\)$/);
    expect(plan.alarms.find((a) => a.name.endsWith("-endpoint-api-budget-slow-6h-P3"))!.condition).toBe("< 99.4 over 360 min");
    expect(plan.alarms.find((a) => a.name.endsWith("-endpoint-api-budget-slow-30m-P3"))!.condition).toBe("< 99.4 over 1800 s");
    expect(plan.alarms.find((a) => a.name.endsWith("-endpoint-api-budget-fast-5m-P2"))!.condition).toBe("< 98.56 over 300 s");
    // the other endpoint of the stack has no target
    expect(plan.alarms.filter((a) => a.name.includes("-endpoint-web-budget"))).toEqual([]);
    const items = plan.cost.components.flatMap((c) => c.items.map((i) => i.what));
    expect(items).toContain("2 composite alarms");
  }, 120_000);
});
