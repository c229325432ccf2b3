/**
 * The down alarm of an endpoint pages after a time of outage, not a fixed count of checks: by default
 * about 5 minutes of failed one-minute checks and 2 failed hourly checks; an explicit
 * failuresBeforeAlarm still decides; the alarm description says how long an outage lasts before the
 * page.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { mockArchive, mockTopics, settle, setupMocks } from "./helpers/pulumi-mocks";
import { downTimeToPageMinutes, endpointsSchema, failuresBeforeDown } from "../regime/endpoints";

const { resources } = setupMocks();
const TOPICS = mockTopics("ttp");

type Mod = typeof import("../components/health-checks");
let mod: Mod;

function build(regime: string, intervalSeconds: number, expression: string, checks: unknown[]) {
  const endpoints = endpointsSchema.parse({ checks }).checks;
  return new mod.HealthChecks(`${regime}-health`, {
    regime,
    endpoints,
    schedule: { expression, timezone: "UTC", intervalSeconds } as never,
    archive: mockArchive(),
    alarmTopics: TOPICS,
    logRetentionDays: 30,
  });
}

const alarm = (name: string) => {
  const a = resources.find((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && r.inputs.name === name);
  expect(a, name).toBeDefined();
  return a!.inputs;
};

beforeAll(async () => {
  mod = await import("../components/health-checks");
  build("minute", 60, "rate(1 minute)", [{ name: "web", url: "https://web.example.com/health", maxResponseMs: 500 }, { name: "api", url: "https://api.example.com/health", failuresBeforeAlarm: 3 }]);
  build("hourly", 3600, "cron(0 * * * ? *)", [{ name: "app", url: "http://app.example.com/health" }, { name: "strict", url: "http://app.example.com/ready", failuresBeforeAlarm: 1 }]);
  build("five", 300, "rate(5 minutes)", [{ name: "site", url: "https://site.example.com/" }]);
  build("two", 120, "rate(2 minutes)", [{ name: "site", url: "https://site.example.com/" }]);
  await settle();
});

describe("down alarm of an endpoint", () => {
  it("one-minute checks page after 5 failed checks by default (seed 000: service down > 5 minutes)", () => {
    const a = alarm("minute-endpoint-web-down-P0");
    expect([a.period, a.evaluationPeriods, a.datapointsToAlarm, a.treatMissingData]).toEqual([60, 5, 5, "breaching"]);
    expect(a.alarmDescription).toContain("5 checks in a row (one check every 1 min: pages 5-6 min into an outage)");
    // The slow alarm averages over the same checks.
    expect(alarm("minute-endpoint-web-slow-P3").evaluationPeriods).toBe(5);
  });

  it("hourly checks page after 2 failed checks, not after 5 hours", () => {
    const a = alarm("hourly-endpoint-app-down-P0");
    expect([a.period, a.evaluationPeriods, a.datapointsToAlarm]).toEqual([3600, 2, 2]);
    expect(a.alarmDescription).toContain("2 checks in a row (one check every 60 min: pages 120-180 min into an outage)");
  });

  it("every 5 minutes: 2 checks (10 minutes); every 2 minutes: 3 checks (6 minutes)", () => {
    expect(alarm("five-endpoint-site-down-P0")).toMatchObject({ period: 300, evaluationPeriods: 2, datapointsToAlarm: 2 });
    expect(alarm("two-endpoint-site-down-P0")).toMatchObject({ period: 120, evaluationPeriods: 3, datapointsToAlarm: 3 });
  });

  it("an explicit failuresBeforeAlarm still decides, whatever the interval", () => {
    expect(alarm("minute-endpoint-api-down-P0")).toMatchObject({ evaluationPeriods: 3, datapointsToAlarm: 3 });
    expect(alarm("minute-endpoint-api-down-P0").alarmDescription).toContain("pages 3-4 min into an outage");
    expect(alarm("hourly-endpoint-strict-down-P0")).toMatchObject({ period: 3600, evaluationPeriods: 1, datapointsToAlarm: 1 });
  });
});

describe("failuresBeforeDown", () => {
  it("covers 5 minutes of outage, at least 2 checks, within CloudWatch's look-back", () => {
    expect([60, 120, 180, 300, 600, 3600, 86400].map((p) => failuresBeforeDown(undefined, p))).toEqual([5, 3, 2, 2, 2, 2, 2]);
    expect(failuresBeforeDown(7, 60)).toBe(7);
    for (const p of [60, 120, 300, 900, 3600, 21600, 86400]) {
      const n = failuresBeforeDown(undefined, p);
      expect(n * p).toBeLessThanOrEqual(p < 3600 ? 86400 : 604800);
      expect(downTimeToPageMinutes(n, p)[0]).toBeGreaterThanOrEqual(Math.min(5, n * (p / 60)));
    }
    expect(downTimeToPageMinutes(5, 60)).toEqual([5, 6]);
  });

  it("an endpoint without failuresBeforeAlarm keeps it unset in the parsed config (derived where the interval is known)", () => {
    expect(endpointsSchema.parse({ checks: [{ name: "a", url: "https://a.example.com/" }] }).checks[0].failuresBeforeAlarm).toBeUndefined();
  });
});
