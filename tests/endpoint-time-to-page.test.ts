/**
 * The down alarm of an endpoint pages after a time of outage, not a fixed count of checks: by default
 * about 5 minutes of failed one-minute checks and 2 failed hourly checks; an explicit
 * failuresBeforeAlarm still decides; the alarm description says how long an outage lasts before the
 * page.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { alarmInputs, endpointChecks, MOCK_CREATION_DATE, mockTopics, settle, setupMocks } from "./helpers/pulumi-mocks";
import { gateOf } from "./helpers/metric-math";
import { checkStepSeconds, checksHaveGaps, downAlarmPeriodSeconds, downTimeToPageMinutes, endpointsSchema, failuresBeforeDown } from "../regime/endpoints";
import { parseSchedule } from "../regime/schedule";

const { resources } = setupMocks();
const TOPICS = mockTopics("ttp");

type Mod = typeof import("../components/health-checks");
let mod: Mod;

const WORKING_HOURS = "cron(*/5 8-18 ? * MON-FRI *)";

const build = (regime: string, intervalSeconds: number, expression: string, checks: unknown[], timezone = "UTC") =>
  endpointChecks(mod, regime, { expression, timezone, intervalSeconds } as never, checks, TOPICS);

const alarm = (name: string) => alarmInputs(resources, name);
/** A down alarm's period: on its one metric, whether it reads it plainly (a gapped schedule) or through its watch-start gate. */
const periodOf = (a: Record<string, any>): number => a.period ?? gateOf(a).metrics[0].period; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  mod = await import("../components/health-checks");
  build("minute", 60, "rate(1 minute)", [{ name: "web", url: "https://web.example.com/health", maxResponseMs: 500 }, { name: "api", url: "https://api.example.com/health", failuresBeforeAlarm: 3 }]);
  build("hourly", 3600, "cron(0 * * * ? *)", [{ name: "app", url: "http://app.example.com/health" }, { name: "strict", url: "http://app.example.com/ready", failuresBeforeAlarm: 1 }]);
  build("five", 300, "rate(5 minutes)", [{ name: "site", url: "https://site.example.com/" }]);
  build("two", 120, "rate(2 minutes)", [{ name: "site", url: "https://site.example.com/" }]);
  // Working hours: every 5 minutes 08:00-18:55 on weekdays; its longest gap is the weekend (3725 min).
  build("office", parseSchedule(WORKING_HOURS, "America/New_York").intervalSeconds, WORKING_HOURS, [{ name: "api", url: "https://api.example.com/health", uptimeTargetPercent: 99.9 }]);
  // Every 5 minutes as a cron in New York: the repeated fall-back hour runs once (65 minutes without a check).
  build("nycron", 300, "cron(0/5 * * * ? *)", [{ name: "api", url: "https://api.example.com/health" }], "America/New_York");
  build("nyrate", 300, "rate(5 minutes)", [{ name: "api", url: "https://api.example.com/health" }], "America/New_York");
  // Checks at :00 and :05 of every hour: 5 and 55 minutes apart, no stop.
  build("uneven", 3300, "cron(0,5 * * * ? *)", [{ name: "api", url: "https://api.example.com/health", uptimeTargetPercent: 99.5 }]);
  await settle();
});

describe("down alarm of an endpoint", () => {
  it("one-minute checks page after 5 failed checks by default (seed 000: service down > 5 minutes)", () => {
    const a = alarm("minute-endpoint-web-down-P0");
    expect([periodOf(a), a.evaluationPeriods, a.datapointsToAlarm, a.treatMissingData]).toEqual([60, 5, 5, "breaching"]);
    // Checks without gaps: gated on the checker's watch start (its role's mocked creation).
    expect(gateOf(a).expression).toBe(`IF(EPOCH(healthy) < ${Date.parse(MOCK_CREATION_DATE) / 1000}, 1, FILL(healthy, 0))`);
    expect(a.alarmDescription).toContain("5 checks in a row (one check every 1 min: pages 5-6 min into an outage)");
    // The slow alarm averages over the same checks.
    expect(alarm("minute-endpoint-web-slow-P3").evaluationPeriods).toBe(5);
  });

  it("hourly checks page after 2 failed checks, not after 5 hours", () => {
    const a = alarm("hourly-endpoint-app-down-P0");
    expect([periodOf(a), a.evaluationPeriods, a.datapointsToAlarm]).toEqual([3600, 2, 2]);
    expect(a.alarmDescription).toContain("2 checks in a row (one check every 60 min: pages 120-180 min into an outage)");
  });

  it("every 5 minutes: 2 checks (10 minutes); every 2 minutes: 3 checks (6 minutes)", () => {
    expect(alarm("five-endpoint-site-down-P0")).toMatchObject({ evaluationPeriods: 2, datapointsToAlarm: 2 });
    expect(periodOf(alarm("five-endpoint-site-down-P0"))).toBe(300);
    expect(alarm("two-endpoint-site-down-P0")).toMatchObject({ evaluationPeriods: 3, datapointsToAlarm: 3 });
    expect(periodOf(alarm("two-endpoint-site-down-P0"))).toBe(120);
  });

  it("an explicit failuresBeforeAlarm still decides, whatever the interval", () => {
    expect(alarm("minute-endpoint-api-down-P0")).toMatchObject({ evaluationPeriods: 3, datapointsToAlarm: 3 });
    expect(alarm("minute-endpoint-api-down-P0").alarmDescription).toContain("pages 3-4 min into an outage");
    expect(alarm("hourly-endpoint-strict-down-P0")).toMatchObject({ evaluationPeriods: 1, datapointsToAlarm: 1 });
    expect(periodOf(alarm("hourly-endpoint-strict-down-P0"))).toBe(3600);
  });
});

describe("checks on a schedule with gaps (working hours)", () => {
  it("the down alarm counts 5-minute checks while they run, not the weekend: 2 periods of 5 minutes, and the gaps neither page nor clear it", () => {
    const a = alarm("office-endpoint-api-down-P0");
    expect([a.period, a.evaluationPeriods, a.datapointsToAlarm, a.treatMissingData]).toEqual([300, 2, 2, "ignore"]);
    // Missing data ignored: a new endpoint does not page at creation, so no watch-start gate.
    expect(a.metricQueries).toBeUndefined();
    expect(a.alarmDescription).toContain(`2 checks in a row (one check every 5 min: pages 10-15 min into an outage while checks run, ${WORKING_HOURS}; outside them the alarm keeps its state)`);
  });

  it("a checker that stops is paged by the health-check task's own missed-run alarm, which looks over the weekend, at the most urgent endpoint's severity", () => {
    // Nothing else pages: the down alarms ignore missing data on a gapped schedule.
    const missed = alarm("office-health-task-missed-run-P0");
    expect(missed.treatMissingData).toBe("breaching");
    expect(missed.alarmActions).toEqual([TOPICS.P0]);
    // Without gaps a stopped checker leaves the down alarms without data, which breaches them: P3 says the rest.
    alarm("minute-health-task-missed-run-P3");
    // The task's own errors stay P3: a failed run is an endpoint down, which its down alarm pages. So
    // the missed-run alarm counts successful runs (invocations minus errors): a checker that fails
    // every run pages P0 too.
    alarm("office-health-task-errors-P3");
    expect(gateOf(missed)).toEqual({
      metrics: [
        { id: "invocations", namespace: "AWS/Lambda", metricName: "Invocations", dimensions: { FunctionName: "office-health-task" }, stat: "Sum", period: missed.metricQueries[0].metric.period },
        { id: "errors", namespace: "AWS/Lambda", metricName: "Errors", dimensions: { FunctionName: "office-health-task" }, stat: "Sum", period: missed.metricQueries[0].metric.period },
      ],
      expression: `IF(EPOCH(invocations) < ${Date.parse(MOCK_CREATION_DATE) / 1000}, 1, FILL(invocations, 0) - FILL(errors, 0))`,
    });
  });

  it("a cron in a zone whose clock changes has a gap too: the fall-back night's 65 minutes without checks neither page P0 nor clear the alarm", () => {
    const s = (expression: string, timezone: string) => ({ expression, timezone, intervalSeconds: 300 });
    expect(checksHaveGaps(s("cron(0/5 * * * ? *)", "America/New_York"))).toBe(true);
    expect(checksHaveGaps(s("cron(0/5 * * * ? *)", "UTC"))).toBe(false);
    expect(checksHaveGaps(s("cron(0/5 * * * ? *)", "Etc/GMT+5"))).toBe(false);
    expect(checksHaveGaps(s("rate(5 minutes)", "America/New_York"))).toBe(false);
    expect(alarm("nycron-endpoint-api-down-P0").treatMissingData).toBe("ignore");
    // The checker's own missed-run alarm pages at the endpoint's severity when it stops.
    expect(alarm("nycron-health-task-missed-run-P0").treatMissingData).toBe("breaching");
    expect(alarm("nyrate-endpoint-api-down-P0").treatMissingData).toBe("breaching");
  });

  it("the error-budget windows keep their state at night instead of burning the budget", () => {
    const windows = resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && String(r.inputs.name).startsWith("office-endpoint-api-budget-"));
    expect(windows.length).toBeGreaterThan(0);
    for (const w of windows) expect(w.inputs.treatMissingData).toBe("ignore");
    const minute = resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && String(r.inputs.name).startsWith("minute-endpoint-web-budget-"));
    for (const w of minute) expect(w.inputs.treatMissingData).toBe("breaching");
  });

  it("the step is the shortest time between two checks; a regular schedule has no gaps", () => {
    const s = (t: string) => parseSchedule(t, "America/New_York");
    expect([checkStepSeconds(s(WORKING_HOURS)), s(WORKING_HOURS).intervalSeconds, downAlarmPeriodSeconds(s(WORKING_HOURS)), checksHaveGaps(s(WORKING_HOURS))]).toEqual([300, 3665 * 60, 300, true]);
    expect([checkStepSeconds(s("every 1 minute")), downAlarmPeriodSeconds(s("every 1 minute")), checksHaveGaps(s("every 1 minute"))]).toEqual([60, 60, false]);
    // A cron in New York: the repeated fall-back hour runs once, so even every minute has a gap that night.
    expect([checkStepSeconds(s("cron(* * * * ? *)")), checksHaveGaps(s("cron(* * * * ? *)"))]).toEqual([60, true]);
    expect([checkStepSeconds(s("hourly")), checksHaveGaps(s("hourly")), checksHaveGaps(parseSchedule("hourly", "UTC"))]).toEqual([3600, s("hourly").expression.startsWith("cron("), false]);
    expect([checkStepSeconds(s("daily at 09:00")), downAlarmPeriodSeconds(s("daily at 09:00"))]).toEqual([86400, 86400]);
  });
});

describe("checks unevenly spaced (cron(0,5 * * * ? *))", () => {
  it("the down alarm's runbook counts the 55-minute gap: pages 10-65 min into an outage, not 10-15", () => {
    const a = alarm("uneven-endpoint-api-down-P0");
    expect([a.period, a.evaluationPeriods, a.treatMissingData]).toEqual([300, 2, "ignore"]);
    expect(a.alarmDescription).toContain("2 checks in a row (checks 5 to 55 min apart: pages 10-65 min into an outage): ");
  });

  it("the burn alarms say the checks an hour really holds: 2, not the 12 a 5-minute step would give", () => {
    const composite = resources.find((r) => r.type === "aws:cloudwatch/compositeAlarm:CompositeAlarm" && r.inputs.alarmName === "uneven-endpoint-api-budget-slow-P3")!;
    expect(composite.inputs.alarmDescription).toContain("It pages on 1 failed of 12 checks in 6h and 1 failed of 2 checks in 30m.");
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
