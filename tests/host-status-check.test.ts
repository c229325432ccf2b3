/**
 * A host that fails an EC2 status check, or is gone (stopped, terminated, a wrong instance id), pages
 * at hosts[].statusCheck.severity after statusCheck.minutes. Its CPU, memory and disk alarms treat
 * missing data as missing and keep their last state when the instance sends nothing; the status-check
 * alarm treats it as breaching, so a host that stops reporting pages. The plan's Promises section
 * states the time to the page, and bad settings are refused on their key.
 */
import { describe, expect, it } from "vitest";
import { validateRegime } from "../regime/load";
import { checkPromises } from "../components/promises";
import { refusal } from "./helpers/refusal";
import { alarmInputs, mockTopics, setupMocks, waitFor } from "./helpers/pulumi-mocks";
import { evaluateAlarm, type DataPoint } from "./helpers/metric-math";

const { resources } = setupMocks();

const host = (name: string, over: Record<string, unknown> = {}) => ({ name, instanceId: "i-0123456789abcdef0", ...over });
const FROM = new Date("2026-12-01T00:00:00Z");
const T = 1_800_000_000;
/** One StatusCheckFailed (and CPUUtilization) point a minute from `from` for `minutes`, failing where `failed(minute)`. */
const minutes = (from: number, count: number, failed: (m: number) => boolean): DataPoint[] =>
  Array.from({ length: count }, (_, m) => [
    { metricName: "StatusCheckFailed", at: from + m * 60 + 5, value: failed(m) ? 1 : 0 },
    { metricName: "CPUUtilization", at: from + m * 60 + 5, value: 20 },
  ]).flat();

describe("host status checks", () => {
  it("pages when the checks fail for statusCheck.minutes or stop arriving; one failed minute, or a healthy host, does not", async () => {
    const { HostAlarms } = await import("../components/host-alarms");
    const r = validateRegime({ name: "prod", hosts: [host("app-1"), host("db-1", { instanceId: "i-0fedcba9876543210", statusCheck: { severity: "P0", minutes: 5 } })] });
    const h = new HostAlarms("hosts", { regime: "prod", hosts: r.hosts, applications: [], databases: [], alarmTopics: mockTopics("prod") });
    await waitFor(h.alarmNames);
    const app = alarmInputs(resources, "prod-host-app-1-status-check-P1");
    expect(app).toMatchObject({ namespace: "AWS/EC2", metricName: "StatusCheckFailed", dimensions: { InstanceId: "i-0123456789abcdef0" }, period: 60, evaluationPeriods: 2, treatMissingData: "breaching" });
    const db = alarmInputs(resources, "prod-host-db-1-status-check-P0");
    expect(db).toMatchObject({ dimensions: { InstanceId: "i-0fedcba9876543210" }, evaluationPeriods: 5 });

    const at = T + 10 * 60;
    expect(evaluateAlarm(app, minutes(T, 10, () => false), at, "OK")).toBe("OK");
    expect(evaluateAlarm(app, minutes(T, 10, (m) => m === 9), at, "OK")).toBe("OK");
    expect(evaluateAlarm(app, minutes(T, 10, (m) => m >= 8), at, "OK")).toBe("ALARM");
    // Two failed minutes are not enough for db-1's five.
    expect(evaluateAlarm(db, minutes(T, 10, (m) => m >= 8), at, "OK")).toBe("OK");
    expect(evaluateAlarm(db, minutes(T, 10, (m) => m >= 5), at, "OK")).toBe("ALARM");

    // Stopped at minute 8: no more points. The CPU alarm keeps its OK; the status-check alarm pages.
    const stopped = minutes(T, 8, () => false);
    expect(evaluateAlarm(alarmInputs(resources, "prod-host-app-1-cpu-P1"), stopped, T + 20 * 60, "OK")).not.toBe("ALARM");
    expect(evaluateAlarm(app, stopped, at, "OK")).toBe("ALARM");
    expect(evaluateAlarm(app, stopped, T + 9 * 60, "OK")).toBe("OK");
  });

  it("the plan promises the page, from what is provisioned: one check interval of the window and CloudWatch's evaluation", () => {
    const r = validateRegime({ name: "prod", hosts: [host("app-1"), host("db-1", { statusCheck: { severity: "P0", minutes: 5 } })] });
    const lines = checkPromises(r, FROM).promises.filter((p) => p.key.endsWith(".statusCheck"));
    expect(lines.map((p) => `${p.key} ${p.status} ${p.promise}: ${p.figure}`)).toEqual([
      "hosts[app-1].statusCheck held P1 page when host app-1 fails an EC2 status check or stops sending them for 2 min: paged at most 3 min after the fault",
      "hosts[db-1].statusCheck held P0 page when host db-1 fails an EC2 status check or stops sending them for 5 min: paged at most 6 min after the fault",
    ]);
  });

  it("refuses a window outside 1 to 60 minutes and an unknown severity, each on its key", () => {
    const msg = refusal({ name: "prod", hosts: [host("a", { statusCheck: { minutes: 0 } }), host("b", { statusCheck: { minutes: 61, severity: "P5" } })] });
    const lines = msg.split("\n");
    expect(lines.some((l) => l.startsWith("hosts[0].statusCheck.minutes:"))).toBe(true);
    expect(lines.some((l) => l.startsWith("hosts[1].statusCheck.minutes:"))).toBe(true);
    expect(lines.some((l) => l.startsWith("hosts[1].statusCheck.severity:"))).toBe(true);
  });
});
