/**
 * The delivery check of prod's alert topics under the plan's Pulumi mocks: the watcher is told which
 * topics to check and who the config says hears each, may list exactly those topics' subscriptions
 * (IAM simulation), and each checked severity has an unreachable alarm whose actions go to the other
 * severities' topics, never its own.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import { join } from "node:path";
import { runSimulation, type Simulation } from "@cloud-copilot/iam-simulate";
import { beforeAll, describe, expect, it } from "vitest";
import type { RecordedResource } from "../plan/mocks";
import { runPlan } from "../plan/run";
import { expectLeastPrivilege, statementsOf } from "./helpers/iam";

const ROOT = join(__dirname, "..");
let resources: RecordedResource[];
let cost: Awaited<ReturnType<typeof runPlan>>["plan"]["cost"];
type Inputs = Record<string, any>;
const of = (type: string) => resources.filter((r) => r.type === type).map((r) => r.inputs as Inputs);

beforeAll(async () => {
  ({ resources, plan: { cost } } = await runPlan({ configFile: join(ROOT, "Pulumi.prod.yaml"), from: new Date("2026-11-23T00:00:00Z"), root: ROOT }));
}, 180_000);

const SEVERITIES = ["P0", "P1", "P2", "P3"];

describe("the alert topics' delivery check (prod)", () => {
  it("the watcher checks every paged severity's topic, with the subscribers the config declares", () => {
    const fn = of("aws:lambda/function:Function").find((f) => f.name === "prod-overdue-watch")!;
    const topics = JSON.parse(fn.environment.variables.ALERT_TOPICS) as { severity: string; topicArn: string; declared: string[] }[];
    expect(topics.map((t) => [t.severity, t.declared])).toEqual([
      ["P0", ["email oncall@example.com", "sms +15555550100"]],
      ["P1", ["email oncall@example.com"]],
      ["P2", ["email devops@example.com"]],
      ["P3", ["email devops@example.com"]],
    ]);
    for (const t of topics) expect(t.topicArn).toMatch(new RegExp(`^arn:aws:sns:[a-z0-9-]+:\\d{12}:prod-alerts-${t.severity}$`));
  });

  it("one unreachable alarm per checked severity: Unreachable >= 1 in the hour, its actions on the other topics and not its own", () => {
    const alarms = of("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => /-unreachable-/.test(a.name));
    expect(alarms.map((a) => a.name).sort()).toEqual(["prod-alerts-P0-unreachable-P1", "prod-alerts-P1-unreachable-P0", "prod-alerts-P2-unreachable-P0", "prod-alerts-P3-unreachable-P0"]);
    for (const sev of SEVERITIES) {
      const a = alarms.find((x) => x.name.startsWith(`prod-alerts-${sev}-`))!;
      const others = SEVERITIES.filter((s) => s !== sev);
      expect(a.alarmActions, a.name).toEqual(others.map((s) => expect.stringMatching(new RegExp(`:prod-alerts-${s}$`))));
      expect(a.okActions, a.name).toEqual(a.alarmActions);
      expect((a.alarmActions as string[]).some((t) => t.endsWith(`:prod-alerts-${sev}`)), a.name).toBe(false);
      expect({ ns: a.namespace, metric: a.metricName, dims: a.dimensions, stat: a.statistic, period: a.period, n: a.evaluationPeriods, op: a.comparisonOperator, t: a.threshold, missing: a.treatMissingData, on: a.actionsEnabled }).toEqual({
        ns: "MaintenanceRegime", metric: "Unreachable", dims: { service: "prod", Task: "overdue-watch", Severity: sev }, stat: "Maximum", period: 3600, n: 1, op: "GreaterThanOrEqualToThreshold", t: 1, missing: "notBreaching", on: true,
      });
      expect(a.alarmDescription).toContain(`("${sev} pages reach nobody")`);
    }
  });

  it("the plan's cost lists the four alarms at $0.10 a month each, and Unreachable at $0 (sent only while a severity is unreachable)", () => {
    const items = cost.components.flatMap((c) => c.items);
    expect(items.filter((i) => /^alarm prod-alerts-P\d-unreachable-/.test(i.what)).map((i) => [i.what, i.monthlyUsd])).toEqual([
      ["alarm prod-alerts-P0-unreachable-P1", 0.1],
      ["alarm prod-alerts-P1-unreachable-P0", 0.1],
      ["alarm prod-alerts-P2-unreachable-P0", 0.1],
      ["alarm prod-alerts-P3-unreachable-P0", 0.1],
    ]);
    expect(items.find((i) => i.what.startsWith("custom metric Unreachable x 4, 0 h of 720"))?.monthlyUsd).toBe(0);
  });

  it("a severity no other severity's subscriber would hear pages those that have one; with none its alarm has no actions", async () => {
    const { unreachableAlarmSpecs } = await import("../components/subscription-watch");
    const subscribers = { P0: { email: ["a@example.com"], sms: [], https: [], chat: [] }, P1: { email: [], sms: [], https: [], chat: ["slack C123"] }, P2: { email: [], sms: [], https: [], chat: [] } };
    const specs = unreachableAlarmSpecs("rt", { severities: ["P0", "P1"], subscribers });
    expect(specs.map((s) => [s.resource, s.severity, s.notify])).toEqual([
      ["alerts-P0", "P1", ["P1"]],
      ["alerts-P1", "P0", ["P0"]],
    ]);
    expect(unreachableAlarmSpecs("rt", { severities: ["P0"], subscribers: { P0: subscribers.P0 } }).map((s) => [s.severity, s.notify])).toEqual([["P0", []]]);
  });

  it("the watcher's role lists the subscriptions of exactly the alert topics and reads SMS state, nothing more of SNS (IAM simulation)", async () => {
    const policy = JSON.parse(String(resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "prod-overdue-watch-role")!.inputs.policy));
    expectLeastPrivilege(policy, "prod-overdue-watch-role");
    const list = statementsOf(policy).filter((s) => ([] as string[]).concat(s.Action ?? []).includes("sns:ListSubscriptionsByTopic"));
    const topicArns = list.flatMap((s) => ([] as string[]).concat(s.Resource ?? []));
    expect(topicArns.map((t) => t.split(":").pop())).toEqual(SEVERITIES.map((s) => `prod-alerts-${s}`));
    const [region, account] = topicArns[0].split(":").slice(3, 5);
    const decide = async (action: string, resource: string) => {
      const result = await runSimulation(
        {
          identityPolicies: [{ name: "watcher", policy }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          request: { action, principal: `arn:aws:iam::${account}:role/watcher`, resource: { accountId: account, resource }, contextVariables: {} },
        } as Simulation,
        {},
      );
      if (result.resultType === "error") throw new Error(JSON.stringify(result.errors));
      return result.overallResult;
    };
    for (const arn of topicArns) expect(await decide("sns:ListSubscriptionsByTopic", arn), arn).toBe("Allowed");
    // Another team's topic in the same account, and anything that changes or publishes: refused.
    expect(await decide("sns:ListSubscriptionsByTopic", `arn:aws:sns:${region}:${account}:other-team-alerts`)).not.toBe("Allowed");
    for (const action of ["sns:Publish", "sns:Subscribe", "sns:SetTopicAttributes", "sns:DeleteTopic"]) expect(await decide(action, topicArns[0]), action).not.toBe("Allowed");
    // Account-wide SNS actions (no resource type): every subscription of the account, opting a number back in, changing SMS settings.
    for (const action of ["sns:ListSubscriptions", "sns:ListTopics", "sns:OptInPhoneNumber", "sns:SetSMSAttributes", "sns:ListPhoneNumbersOptedOut"]) expect(await decide(action, "*"), action).not.toBe("Allowed");
    for (const action of ["sns:GetSMSSandboxAccountStatus", "sns:ListSMSSandboxPhoneNumbers", "sns:CheckIfPhoneNumberIsOptedOut"]) expect(await decide(action, "*"), action).toBe("Allowed");
  });
});
