/**
 * A large alarm set is created a batch at a time: every alarm is still registered, with the inputs
 * createAlarm gives it, its names come back in the order of the specs, and nothing reading the names
 * sees them before the last batch is registered.
 */
import { describe, expect, it } from "vitest";
import { mockTopics, setupMocks, waitFor } from "./helpers/pulumi-mocks";

const { resources } = setupMocks();

describe("createAlarms in batches", () => {
  it("registers all 7 alarms of batches of 3, names in spec order, each routed to its severity's topic", async () => {
    const { createAlarms } = await import("../components/alarms");
    const topics = mockTopics("prod");
    const specs = Array.from({ length: 7 }, (_, i) => ({
      resource: `host-h${i}`,
      metric: "cpu",
      severity: i % 2 ? ("P1" as const) : ("P2" as const),
      runbook: `CPU of h${i}`,
      treatMissingData: "missing" as const,
      args: { namespace: "AWS/EC2", metricName: "CPUUtilization", dimensions: { InstanceId: `i-0000000${i}` }, statistic: "Average", period: 60, evaluationPeriods: 10, comparisonOperator: "GreaterThanThreshold", threshold: 80 },
    }));
    const names = createAlarms("prod", specs, topics, {}, { Regime: "prod" }, 3);
    // Registered before the names resolve: a dashboard reading them lists only registered alarms.
    const registeredWhenRead = await waitFor(names.apply(() => resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm").length));
    expect(registeredWhenRead).toBe(7);
    const expected = specs.map((s) => `prod-${s.resource}-cpu-${s.severity}`);
    expect(await waitFor(names)).toEqual(expected);
    const alarms = resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm");
    expect(alarms.map((a) => a.name).sort()).toEqual([...expected].sort());
    for (const a of alarms) {
      const severity = String(a.inputs.name).slice(-2) as "P1" | "P2";
      expect(a.inputs.alarmActions).toEqual([topics[severity]]);
      expect(a.inputs.tags).toEqual({ Regime: "prod", Severity: severity });
    }
  });
});
