/**
 * A host that fails an EC2 status check pages at hosts[].statusCheck.severity after
 * statusCheck.minutes; one that stops or is terminated pages at the same severity through its
 * state-change event (an EventBridge rule of its own, a queue that keeps the events, an alarm on the
 * rule's Invocations named like the host's other alarms). The status-check alarm treats missing data as missing, as AWS advises for
 * EC2 metrics: a pause in EC2's reports does not page a healthy host. The plan's Promises section
 * states both times to the page, and bad settings are refused on their key.
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
/** One StatusCheckFailed point a minute from `from` for `count` minutes, failing where `failed(minute)`. */
const minutes = (from: number, count: number, failed: (m: number) => boolean): DataPoint[] =>
  Array.from({ length: count }, (_, m) => ({ metricName: "StatusCheckFailed", at: from + m * 60 + 5, value: failed(m) ? 1 : 0 }));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const inputs = (type: string) => resources.filter((r) => r.type === type).map((r) => r.inputs as Record<string, any>);

describe("host status checks and state changes", () => {
  it("the status-check alarm pages when the checks fail for statusCheck.minutes; one failed minute, a healthy host, or a pause in EC2's reports does not", async () => {
    const { HostAlarms } = await import("../components/host-alarms");
    const r = validateRegime({ name: "prod", hosts: [host("app-1"), host("db-1", { instanceId: "i-0fedcba9876543210", statusCheck: { severity: "P0", minutes: 5 } })] });
    const h = new HostAlarms("prod-monitoring", { regime: "prod", hosts: r.hosts, applications: [], databases: [], alarmTopics: mockTopics("prod") });
    await waitFor(h.alarmNames);
    const app = alarmInputs(resources, "prod-host-app-1-status-check-P1");
    expect(app).toMatchObject({ namespace: "AWS/EC2", metricName: "StatusCheckFailed", dimensions: { InstanceId: "i-0123456789abcdef0" }, period: 60, evaluationPeriods: 2, treatMissingData: "missing" });
    const db = alarmInputs(resources, "prod-host-db-1-status-check-P0");
    expect(db).toMatchObject({ dimensions: { InstanceId: "i-0fedcba9876543210" }, evaluationPeriods: 5 });

    const at = T + 10 * 60;
    expect(evaluateAlarm(app, minutes(T, 10, () => false), at, "OK")).toBe("OK");
    expect(evaluateAlarm(app, minutes(T, 10, (m) => m === 9), at, "OK")).toBe("OK");
    expect(evaluateAlarm(app, minutes(T, 10, (m) => m >= 8), at, "OK")).toBe("ALARM");
    expect(evaluateAlarm(db, minutes(T, 10, (m) => m >= 8), at, "OK")).toBe("OK");
    expect(evaluateAlarm(db, minutes(T, 10, (m) => m >= 5), at, "OK")).toBe("ALARM");
    // EC2's reports pause for 3 minutes on a healthy host: no page.
    expect(evaluateAlarm(app, minutes(T, 7, () => false), at, "OK")).not.toBe("ALARM");
  });

  it("a stopped or terminated host pages at its severity: a rule a host on its state-change events, its queue and an alarm on the rule's Invocations named like its other alarms", async () => {
    const rules = inputs("aws:cloudwatch/eventRule:EventRule").filter((x) => /^prod-host-.*-stopped$/.test(String(x.name)));
    expect(rules.map((x) => [x.name, JSON.parse(x.eventPattern)])).toEqual([
      ["prod-host-app-1-stopped", { source: ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], detail: { "instance-id": ["i-0123456789abcdef0"], state: ["stopping", "stopped", "shutting-down", "terminated"] } }],
      ["prod-host-db-1-stopped", { source: ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], detail: { "instance-id": ["i-0fedcba9876543210"], state: ["stopping", "stopped", "shutting-down", "terminated"] } }],
    ]);
    const queues = inputs("aws:sqs/queue:Queue").filter((x) => /^prod-host-.*-stopped$/.test(String(x.name)));
    expect(queues.map((q) => [q.name, q.messageRetentionSeconds, q.sqsManagedSseEnabled])).toEqual([
      ["prod-host-app-1-stopped", 1209600, true],
      ["prod-host-db-1-stopped", 1209600, true],
    ]);
    const targets = inputs("aws:cloudwatch/eventTarget:EventTarget").filter((t) => /^prod-host-.*-stopped$/.test(String(t.rule)));
    expect(targets.map((t) => t.rule).sort()).toEqual(["prod-host-app-1-stopped", "prod-host-db-1-stopped"]);
    const policy = JSON.parse(inputs("aws:sqs/queuePolicy:QueuePolicy").find((p) => String(p.policy).includes("StateChangesFromTheRule"))!.policy);
    expect(policy.Statement[0]).toMatchObject({ Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sqs:SendMessage" });

    const stopped = alarmInputs(resources, "prod-host-app-1-stopped-P1");
    expect(stopped).toMatchObject({ namespace: "AWS/Events", metricName: "Invocations", dimensions: { RuleName: "prod-host-app-1-stopped" }, treatMissingData: "notBreaching" });
    expect(stopped.alarmActions).toEqual(["arn:aws:sns:us-east-1:123456789012:prod-P1"]);
    expect(alarmInputs(resources, "prod-host-db-1-stopped-P0").alarmActions).toEqual(["arn:aws:sns:us-east-1:123456789012:prod-P0"]);
    // The stop event arrives: the next evaluation pages; no event: OK.
    expect(evaluateAlarm(stopped, [{ metricName: "Invocations", at: T + 30, value: 1 }], T + 60, "OK")).toBe("ALARM");
    expect(evaluateAlarm(stopped, [], T + 60, "OK")).toBe("OK");
  });

  it("a host that sends no status checks pages at its severity: a wrong instance id from the first evaluations, a replaced or stopped one 15 min after its last; a pause in EC2's reports does not", () => {
    // The alarms of the first test's program: app-1 at P1, db-1 at P0.
    const silent = alarmInputs(resources, "prod-host-app-1-not-reporting-P1");
    expect(silent).toMatchObject({
      namespace: "AWS/EC2",
      metricName: "StatusCheckFailed",
      dimensions: { InstanceId: "i-0123456789abcdef0" },
      statistic: "SampleCount",
      period: 300,
      evaluationPeriods: 3,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "breaching",
    });
    expect(silent.alarmActions).toEqual(["arn:aws:sns:us-east-1:123456789012:prod-P1"]);
    expect(alarmInputs(resources, "prod-host-db-1-not-reporting-P0").alarmActions).toEqual(["arn:aws:sns:us-east-1:123456789012:prod-P0"]);
    const status = alarmInputs(resources, "prod-host-app-1-status-check-P1");
    const cpu = alarmInputs(resources, "prod-host-app-1-cpu-P1");
    const at = T + 60 * 60;
    // A typo or an instance terminated before deploy: no data at all. The other alarms never leave INSUFFICIENT_DATA; this one pages.
    expect(evaluateAlarm(status, [], at, "INSUFFICIENT_DATA")).toBe("INSUFFICIENT_DATA");
    expect(evaluateAlarm(cpu, [], at, "INSUFFICIENT_DATA")).toBe("INSUFFICIENT_DATA");
    expect(evaluateAlarm(silent, [], at, "INSUFFICIENT_DATA")).toBe("ALARM");
    // A running host reports every minute: OK; EC2's reports pause 14 min: still OK.
    expect(evaluateAlarm(silent, minutes(T, 60, () => false), at, "OK")).toBe("OK");
    expect(evaluateAlarm(silent, minutes(T, 60, () => false).filter((p) => p.at < at - 14 * 60), at, "OK")).toBe("OK");
    // Replaced (the old id terminated) or stopped 20 min ago: ALARM; at most 20 min after its last point.
    expect(evaluateAlarm(silent, minutes(T, 40, () => false), at, "OK")).toBe("ALARM");
    const last = T + 39 * 60 + 5;
    const firstAlarm = Array.from({ length: 30 }, (_, m) => last + (m + 1) * 60).find((t) => evaluateAlarm(silent, minutes(T, 40, () => false), t - (t % 60), "OK") === "ALARM")!;
    expect(firstAlarm - last).toBeLessThanOrEqual(20 * 60);
  });

  it("the plan promises every page, from what is provisioned: what the status-check and stop alarms see, and the silent host", () => {
    const r = validateRegime({ name: "prod", hosts: [host("app-1"), host("db-1", { statusCheck: { severity: "P0", minutes: 5 } })] });
    const lines = checkPromises(r, FROM).promises.filter((p) => p.key.startsWith("hosts["));
    expect(lines.map((p) => `${p.key} ${p.status} ${p.promise}: ${p.figure}`)).toEqual([
      "hosts[app-1].statusCheck held P1 page when host app-1 fails an EC2 status check for 2 min: paged at most 3 min after the fault while it sends status checks",
      "hosts[app-1].statusCheck held P1 page when host app-1 stops or is terminated: paged at most 2 min after the fault of instance i-0123456789abcdef0, from deploy on",
      "hosts[app-1].instanceId held P1 page when host app-1 sends no EC2 status checks for 15 min (stopped, terminated, replaced, or an instance id of no instance): paged at most 21 min after the fault (its last status check); pulumi preview and up refuse an id of no instance or a terminated one before deploy, the offline plan cannot look it up",
      "hosts[db-1].statusCheck held P0 page when host db-1 fails an EC2 status check for 5 min: paged at most 6 min after the fault while it sends status checks",
      "hosts[db-1].statusCheck held P0 page when host db-1 stops or is terminated: paged at most 2 min after the fault of instance i-0123456789abcdef0, from deploy on",
      "hosts[db-1].instanceId held P0 page when host db-1 sends no EC2 status checks for 15 min (stopped, terminated, replaced, or an instance id of no instance): paged at most 21 min after the fault (its last status check); pulumi preview and up refuse an id of no instance or a terminated one before deploy, the offline plan cannot look it up",
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
