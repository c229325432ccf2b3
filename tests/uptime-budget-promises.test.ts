/**
 * An endpoint's uptime target, as the plan states it and as its burn alarms page: the promise line
 * names the failed checks that trip each window, and the window alarms the program records under the
 * plan's mocks go below their threshold at exactly that many failures (one fewer does not). A target
 * whose 30-day budget is shorter than one check interval is refused with its key and the arithmetic.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runPlan, type Plan } from "../plan/run";
import type { RecordedResource } from "../plan/mocks";
import { formatPromises } from "../plan/promises";
import { regimeStackFile } from "./helpers/stack-file";

const FROM = new Date("2026-12-01T00:00:00Z");

function stackFile(schedule: string, targets: Record<string, number>): string {
  return regimeStackFile("up", "up", { endpoints: { schedule, checks: Object.entries(targets).map(([name, t]) => ({ name, url: `https://${name}.example.com/health`, uptimeTargetPercent: t })) } });
}

describe("one-minute checks: the promise names the failures that page, and the alarms page on exactly those", () => {
  let plan: Plan;
  let resources: RecordedResource[];
  beforeAll(async () => {
    ({ plan, resources } = await runPlan({ configFile: stackFile("every 1 minute", { strict: 99.99, usual: 99.9, lenient: 99.5 }), from: FROM }));
  }, 120_000);

  it("the plan's lines: 99.99 % pages P2 on a single failed check, with the budget's arithmetic; 99.5 % on 5 of 60 in the hour", () => {
    const items = plan.promises!.items.filter((p) => p.key.endsWith("uptimeTargetPercent"));
    const lines = formatPromises({ ...plan.promises!, items }).slice(2);
    expect(lines).toEqual([
      "  [held] endpoints.checks[strict].uptimeTargetPercent: P2 page when strict spends its 99.99 % budget (4.32 min in 30 days) at 14.4x (fast burn): paged on a single failed check (1 failed of 60 checks in 60 min and 1 failed of 5 checks in 5 min)",
      "  [held] endpoints.checks[strict].uptimeTargetPercent: P3 page when strict spends its 99.99 % budget (4.32 min in 30 days) at 6x (slow burn): paged on a single failed check (1 failed of 360 checks in 6 h and 1 failed of 30 checks in 30 min)",
      "  [held] endpoints.checks[usual].uptimeTargetPercent: P2 page when usual spends its 99.9 % budget (43.2 min in 30 days) at 14.4x (fast burn): paged on a single failed check (1 failed of 60 checks in 60 min and 1 failed of 5 checks in 5 min)",
      "  [held] endpoints.checks[usual].uptimeTargetPercent: P3 page when usual spends its 99.9 % budget (43.2 min in 30 days) at 6x (slow burn): paged on 3 failed of 360 checks in 6 h and 1 failed of 30 checks in 30 min",
      "  [held] endpoints.checks[lenient].uptimeTargetPercent: P2 page when lenient spends its 99.5 % budget (216 min in 30 days) at 14.4x (fast burn): paged on 5 failed of 60 checks in 60 min and 1 failed of 5 checks in 5 min",
      "  [held] endpoints.checks[lenient].uptimeTargetPercent: P3 page when lenient spends its 99.5 % budget (216 min in 30 days) at 6x (slow burn): paged on 11 failed of 360 checks in 6 h and 1 failed of 30 checks in 30 min",
    ]);
    expect(items[0].detail).toBe("at 14.4x, 4.32 min in 30 days allows 0.09 min of downtime in 60 min, less than one check (1 min): any failed check is a fast burn");
  });

  it("each recorded window alarm (availability % over its period of one-minute checks) trips at the promised failures and not one fewer", () => {
    const alarms = resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && /-budget-(fast|slow)-/.test(String(r.inputs.name)));
    expect(alarms).toHaveLength(12);
    const promises = plan.promises!.items.filter((x) => x.key.endsWith("uptimeTargetPercent"));
    expect(promises).toHaveLength(6);
    let windows = 0;
    for (const p of promises) {
      const endpoint = /\[(\w+)\]/.exec(p.key)![1];
      const burn = /\((fast|slow) burn\)/.exec(p.promise)![1];
      for (const [, failures, checks] of p.figure.matchAll(/(\d+) failed of (\d+) checks/g)) {
        const windowSeconds = Number(checks) * 60;
        const alarm = alarms.find((a) => String(a.inputs.name).includes(`endpoint-${endpoint}-budget-${burn}-`) && (a.inputs.metricQueries as { metric?: { period: number } }[]).some((q) => q.metric?.period === windowSeconds));
        expect(alarm, `${endpoint} ${burn} ${windowSeconds} s`).toBeDefined();
        const threshold = Number(alarm!.inputs.threshold);
        expect(alarm!.inputs.comparisonOperator).toBe("LessThanThreshold");
        const availability = (f: number) => (100 * (Number(checks) - f)) / Number(checks);
        expect(availability(Number(failures)) < threshold, `${endpoint} ${burn}: ${failures} of ${checks} below ${threshold}`).toBe(true);
        expect(availability(Number(failures) - 1) < threshold, `${endpoint} ${burn}: ${Number(failures) - 1} of ${checks} not below ${threshold}`).toBe(false);
        windows++;
      }
    }
    expect(windows).toBe(12);
  });

  it("the composite alarm that pages says the same failures", () => {
    const composite = resources.find((r) => r.type === "aws:cloudwatch/compositeAlarm:CompositeAlarm" && String(r.inputs.alarmName).includes("endpoint-lenient-budget-fast"));
    expect(String(composite!.inputs.alarmDescription)).toContain("It pages on 5 failed of 60 checks in 1h and 1 failed of 5 checks in 5m.");
  });
});

describe("a budget shorter than one check interval", () => {
  it("99.99 % with checks every 5 minutes is refused: 4.32 min of budget < 5 min, so one failed check spends it all", async () => {
    await expect(runPlan({ configFile: stackFile("every 5 minutes", { strict: 99.99, fine: 99.98 }), from: FROM })).rejects.toThrow(
      /^promise check: endpoints\.checks\[strict\]\.uptimeTargetPercent: 99\.99 % of 30 days leaves 4\.32 min of downtime \(0\.01 % of 43,200 min\), less than one check interval \(5 min\): one failed check spends more than the whole budget, so the P2 fast burn alarm pages on every failed check and the target is missed after one; check at least every 4 min or set uptimeTargetPercent to at most 99\.98$/,
    );
  }, 120_000);
});
