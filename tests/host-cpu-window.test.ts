/**
 * A host's CPU alarm pages after the level held cpu.minutes, in periods of the data EC2 really sends:
 * every 5 minutes under basic monitoring (EC2's default), every minute under detailed monitoring. The
 * CloudWatch agent's memory and disk (sent every 60 s) keep one-minute periods. A CPU window that is
 * no whole number of 5-minute periods under basic monitoring is refused, naming the key.
 */
import { describe, expect, it } from "vitest";
import { validateRegime } from "../regime/load";
import { refusal } from "./helpers/refusal";
import { alarmInputs, mockTopics, setupMocks, waitFor } from "./helpers/pulumi-mocks";

const { resources } = setupMocks();

const host = (name: string, over: Record<string, unknown> = {}) => ({ name, instanceId: "i-0123456789abcdef0", ...over });

describe("host CPU alarm windows follow EC2's data period", () => {
  it("basic monitoring: 10 minutes are two 5-minute periods; detailed: ten 1-minute periods; memory and disk one-minute periods either way", async () => {
    const { HostAlarms } = await import("../components/host-alarms");
    const r = validateRegime({
      name: "prod",
      hosts: [host("basic"), host("detailed", { detailedMonitoring: true, cpu: { warn: 80, crit: 90, minutes: 7 } }), host("long", { cpu: { warn: 80, crit: 90, minutes: 90 } })],
    });
    const h = new HostAlarms("hosts", { regime: "prod", hosts: r.hosts, applications: [], databases: [], alarmTopics: mockTopics("prod") });
    await waitFor(h.alarmNames);
    const window = (name: string) => {
      const a = alarmInputs(resources, name);
      return { period: a.period, evaluationPeriods: a.evaluationPeriods };
    };
    expect(window("prod-host-basic-cpu-P1")).toEqual({ period: 300, evaluationPeriods: 2 });
    expect(window("prod-host-basic-cpu-P2")).toEqual({ period: 300, evaluationPeriods: 2 });
    expect(window("prod-host-detailed-cpu-P1")).toEqual({ period: 60, evaluationPeriods: 7 });
    expect(window("prod-host-long-cpu-P1")).toEqual({ period: 300, evaluationPeriods: 18 });
    expect(window("prod-host-basic-memory-P1")).toEqual({ period: 60, evaluationPeriods: 10 });
    expect(window("prod-host-basic-disk-P2")).toEqual({ period: 60, evaluationPeriods: 10 });
    expect(alarmInputs(resources, "prod-host-basic-cpu-P1")).toMatchObject({ namespace: "AWS/EC2", metricName: "CPUUtilization", threshold: 90 });
  });

  it("a CPU window that is no multiple of 5 minutes under basic monitoring is refused on its key, every host its own line", () => {
    const msg = refusal({ name: "prod", hosts: [host("web", { cpu: { warn: 80, crit: 90, minutes: 7 } }), host("db", { cpu: { warn: 80, crit: 90, minutes: 3 } })] });
    expect(msg.split("\n")).toEqual([
      "hosts[0].cpu.minutes: 7 is not a whole number of EC2's 5-minute CPU periods (basic monitoring sends CPUUtilization every 5 minutes): use 5 or 10, or set detailedMonitoring: true if the instance has detailed monitoring (1-minute data)",
      "hosts[1].cpu.minutes: 3 is not a whole number of EC2's 5-minute CPU periods (basic monitoring sends CPUUtilization every 5 minutes): use 5, or set detailedMonitoring: true if the instance has detailed monitoring (1-minute data)",
    ]);
  });

  it("the same windows pass with detailed monitoring, and multiples of 5 pass without it", () => {
    expect(validateRegime({ name: "prod", hosts: [host("web", { detailedMonitoring: true, cpu: { warn: 80, crit: 90, minutes: 7 } })] }).hosts[0].cpu.minutes).toBe(7);
    expect(validateRegime({ name: "prod", hosts: [host("web", { cpu: { warn: 80, crit: 90, minutes: 15 } })] }).hosts[0].detailedMonitoring).toBe(false);
  });
});
