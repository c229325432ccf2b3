/**
 * Endpoint checks further apart than one down-alarm period (a day) can hold: every 2 or 3 days, weekly.
 * Most one-day periods then hold no check, so the checks count as gapped: missing data is ignored (a
 * day without a check neither pages nor clears), the window spans the checks it counts, a checker that
 * stops is paged by its missed-run alarm at the endpoint's severity, and the promise states the real
 * time to the page. A small model of CloudWatch's evaluation (M of N periods; fewer real datapoints
 * than M: missing ones filled as the alarm says, "ignore" keeping the state) shows the alarm that does
 * not fire on a good cycle and the one that pages.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { alarmInputs, endpointChecks, mockTopics, settle, setupMocks } from "./helpers/pulumi-mocks";
import { checksHaveGaps, downAlarmWindow } from "../regime/endpoints";
import { parseSchedule } from "../regime/schedule";
import { checkPromises } from "../components/promises";
import { validateRegime } from "../regime/load";

const { resources } = setupMocks();
const TOPICS = mockTopics("sp");
let mod: typeof import("../components/health-checks");
const DAY = 86_400_000;

const build = (regime: string, text: string, checks: unknown[]) => endpointChecks(mod, regime, parseSchedule(text, "UTC"), checks, TOPICS);
const alarm = (name: string): Record<string, unknown> => alarmInputs(resources, name);

/**
 * The times (ms) over [0, days) at which an alarm reading one datapoint per check (`checks`: time ->
 * value, breaching when below 1) goes to ALARM, evaluated hourly. Periods are aligned to the period;
 * the newest N complete-or-current periods are read.
 */
function pages(a: Record<string, unknown>, checks: Map<number, number>, days: number): number[] {
  const period = (a.period as number) * 1000;
  const n = a.evaluationPeriods as number;
  const m = (a.datapointsToAlarm as number | undefined) ?? n;
  let state = "OK";
  const out: number[] = [];
  for (let t = 0; t < days * DAY; t += 3_600_000) {
    const last = Math.floor(t / period);
    const points: (number | undefined)[] = [];
    for (let p = last - n + 1; p <= last; p++) {
      const inP = [...checks].filter(([at]) => at <= t && Math.floor(at / period) === p).map(([, v]) => v);
      points.push(inP.length ? Math.min(...inP) : undefined);
    }
    const real = points.filter((v) => v !== undefined) as number[];
    let next = state;
    if (real.length >= m) next = real.slice(-m).every((v) => v < 1) ? "ALARM" : "OK";
    else if (a.treatMissingData === "breaching") next = points.filter((v) => v === undefined || v < 1).length >= m ? "ALARM" : "OK";
    else if (a.treatMissingData === "notBreaching") next = real.filter((v) => v < 1).length >= m ? "ALARM" : "OK";
    // "ignore": fewer real datapoints than M keep the state.
    if (next === "ALARM" && state !== "ALARM") out.push(t);
    state = next;
  }
  return out;
}
/** A check every `everyDays` days at 00:00 from day 0 over `days`, Healthy 1 except on the days in `down`. */
const series = (everyDays: number, days: number, down: number[] = []) => {
  const m = new Map<number, number>();
  for (let d = 0; d < days; d += everyDays) m.set(d * DAY + 60_000, down.includes(d) ? 0 : 1);
  return m;
};

beforeAll(async () => {
  mod = await import("../components/health-checks");
  build("three", "every 3 days", [{ name: "api", url: "https://api.example.com/health", uptimeTargetPercent: 99.9, maxResponseMs: 500 }]);
  build("two", "every 2 days", [{ name: "api", url: "https://api.example.com/health" }]);
  build("weekly", "weekly on Monday at 09:00", [{ name: "api", url: "https://api.example.com/health", failuresBeforeAlarm: 1 }]);
  await settle();
});

describe("checks every 3 days", () => {
  it("the down alarm ignores the days without a check and spans 2 checks: 2 of 4 one-day periods", () => {
    const a = alarm("three-endpoint-api-down-P0");
    expect([a.period, a.evaluationPeriods, a.datapointsToAlarm, a.treatMissingData]).toEqual([86400, 4, 2, "ignore"]);
    // The slow alarm averages over the same checks.
    expect(alarm("three-endpoint-api-slow-P3")).toMatchObject({ period: 86400, evaluationPeriods: 4, datapointsToAlarm: 2 });
  });

  it("a good cycle pages nobody; the old window (2 of 2 days, missing data breaching) paged every cycle", () => {
    const good = series(3, 60);
    expect(pages(alarm("three-endpoint-api-down-P0"), good, 60)).toEqual([]);
    const old = { period: 86400, evaluationPeriods: 2, datapointsToAlarm: 2, treatMissingData: "breaching" };
    expect(pages(old, good, 60).length).toBeGreaterThanOrEqual(19);
  });

  it("pages on the second failed check in a row, within the promised 168 h of the fault", () => {
    const down = series(3, 60, [30, 33, 36]);
    const at = pages(alarm("three-endpoint-api-down-P0"), down, 60);
    expect(at).toEqual([33 * DAY + 3_600_000]);
    // One failed check alone does not page.
    expect(pages(alarm("three-endpoint-api-down-P0"), series(3, 60, [30]), 60)).toEqual([]);
  });

  it("a checker that stops is paged P0 by its missed-run alarm (missing data breaching over 73 h 6 min); the error-budget windows keep their state", () => {
    const missed = alarm("three-health-task-missed-run-P0");
    expect(missed).toMatchObject({ treatMissingData: "breaching", alarmActions: [TOPICS.P0] });
    const period = (missed.metricQueries as { metric?: { period: number } }[]).find((q) => q.metric)!.metric!.period;
    expect((missed.evaluationPeriods as number) * period).toBe(4386 * 60);
    const windows = resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && String(r.inputs.name).startsWith("three-endpoint-api-budget-"));
    expect(windows.length).toBeGreaterThan(0);
    for (const w of windows) expect(w.inputs.treatMissingData, w.name).toBe("ignore");
  });
});

describe("checks every 2 days and weekly", () => {
  it("every 2 days: 2 of 3 one-day periods, ignoring the day between; a good cycle pages nobody", () => {
    const a = alarm("two-endpoint-api-down-P0");
    expect([a.period, a.evaluationPeriods, a.datapointsToAlarm, a.treatMissingData]).toEqual([86400, 3, 2, "ignore"]);
    expect(pages(a, series(2, 60), 60)).toEqual([]);
    expect(pages(a, series(2, 60, [20, 22]), 60)).toEqual([22 * DAY + 3_600_000]);
    expect(alarm("two-health-task-missed-run-P0").treatMissingData).toBe("breaching");
  });

  it("weekly with failuresBeforeAlarm 1: one day holds the check, the six without keep the state", () => {
    const a = alarm("weekly-endpoint-api-down-P0");
    expect([a.period, a.evaluationPeriods, a.datapointsToAlarm, a.treatMissingData]).toEqual([86400, 1, 1, "ignore"]);
    expect(pages(a, series(7, 70), 70)).toEqual([]);
    expect(pages(a, series(7, 70, [35]), 70)).toEqual([35 * DAY + 3_600_000]);
  });

  it("the default: 2 checks while 2 fit CloudWatch's 7 days (up to 6 days apart), else 1", () => {
    const w = (text: string, explicit?: number) => downAlarmWindow(explicit, parseSchedule(text, "UTC"));
    expect(w("every 3 days")).toMatchObject({ failures: 2, evaluationPeriods: 4, spanSeconds: 2 * 3 * 86400 + 86400 });
    expect(w("every 6 days")).toMatchObject({ failures: 2, evaluationPeriods: 7 });
    expect(w("weekly on Monday at 09:00")).toMatchObject({ failures: 1, evaluationPeriods: 1, spanSeconds: 8 * 86400 });
    // Daily checks are one a period: unchanged, missing data breaching.
    expect(w("daily at 09:00")).toMatchObject({ failures: 2, period: 86400, evaluationPeriods: 2, datapointsToAlarm: 2 });
    expect(checksHaveGaps(parseSchedule("daily at 09:00", "UTC"))).toBe(false);
    expect(checksHaveGaps(parseSchedule("every 25 hours", "UTC"))).toBe(true);
  });
});

describe("the promise states the real time to the page", () => {
  const alerting = { P0: { email: ["a@example.com"] }, P1: { email: ["a@example.com"] }, P2: { email: ["a@example.com"] }, P3: { email: ["a@example.com"] } };
  const report = (schedule: string, check: Record<string, unknown> = {}) =>
    checkPromises(validateRegime({ name: "rt", timezone: "UTC", alerting, endpoints: { schedule, checks: [{ name: "api", url: "https://app.example.com/health", ...check }] } }), new Date("2026-12-01T00:00:00Z"));
  const down = (r: ReturnType<typeof report>) => r.promises.find((p) => p.key === "endpoints.checks[api].failuresBeforeAlarm")!;

  it("every 3 days: 2 checks, paged within 168 h (2 x 72 h + the day holding the second + a minute + the second's run of up to 40 s)", () => {
    const r = report("every 3 days");
    expect(r.refusals).toEqual([]);
    expect(down(r)).toMatchObject({ status: "held", value: 2 * 3 * 86400 + 86400 + 60 + 40 });
    expect(down(r).promise).toBe("P0 page when api is down for 2 checks (8640 min), within 168 h of the fault");
    expect(r.promises.find((p) => p.key === "endpoints.schedule")).toMatchObject({ status: "held", figure: "paged within 73.1 h of its last run" });
  });

  it("weekly with 2 failures needs 8 days of window: refused, naming the key", () => {
    expect(report("weekly on Monday at 09:00", { failuresBeforeAlarm: 2 }).refusals).toEqual([
      "endpoints.checks[api].failuresBeforeAlarm: failuresBeforeAlarm 2 gives alarm rt-endpoint-api-down-P0 a window of 86400 s x 8 periods = 691200 s > CloudWatch's 604,800 s (7 days): CloudWatch refuses it at deploy; check more often or lower failuresBeforeAlarm",
    ]);
  });
});
