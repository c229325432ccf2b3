/**
 * Two resources of one type with one physical name: AWS creates the first and refuses the second
 * (CloudWatch Logs CreateLogGroup: ResourceAlreadyExistsException). The config refuses a host group's
 * log group named like a log group the regime makes for its own tasks or chat channels, and the plan
 * refuses any two recorded resources of one type that share a name, naming the config keys.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { ALERTING } from "./helpers/alerting";
import { runPlan } from "../plan/run";
import { auditNamesAndPolicies } from "../plan/resource-audit";
import type { RecordedResource } from "../plan/mocks";

const NS = "maintenance-regime";
const FROM = new Date("2026-12-01T00:00:00Z");

function stackFile(config: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), "physical-names-")), "Pulumi.rt.yaml");
  writeFileSync(file, YAML.stringify({ config: Object.fromEntries(Object.entries({ alerting: ALERTING, ...config }).map(([k, v]) => [`${NS}:${k}`, v])) }));
  return file;
}

const withLogGroup = (name: string) =>
  stackFile({
    name: "rt",
    endpoints: { checks: [{ name: "api", url: "https://app.example.com/health" }] },
    logs: { hostGroups: [{ name: "app", target: { tagKey: "Role", tagValue: "app" }, logGroups: [{ id: "checker", name, files: ["/var/log/app.log"] }] }] },
  });

describe("a host group's log group named like one of the regime's own", () => {
  it("the health-check task's own /aws/lambda/rt-health-task is refused on the log group's key, before any resource", async () => {
    await expect(runPlan({ configFile: withLogGroup("/aws/lambda/rt-health-task"), from: FROM })).rejects.toThrow(
      "config error: logs.hostGroups[0].logGroups[0].name: /aws/lambda/rt-health-task is a name the regime keeps for its own log groups (every name starting /aws/lambda/rt-, /ecs/rt-, /aws/chatbot/rt-: its tasks' and chat channels'); choose a name outside them",
    );
  }, 120_000);

  it("every such log group is refused, one line each: a Fargate task's and a chat channel's names too", async () => {
    const file = stackFile({
      name: "rt",
      logs: {
        hostGroups: [
          { name: "app", target: { tagKey: "Role", tagValue: "app" }, logGroups: [{ id: "a", name: "/ecs/rt-db-app-restore-drill", files: ["/var/log/a.log"] }] },
          { name: "web", target: { tagKey: "Role", tagValue: "web" }, logGroups: [{ id: "b", name: "/aws/chatbot/rt-alerts-slack-0", files: ["/var/log/b.log"] }] },
        ],
      },
    });
    const err = await runPlan({ configFile: file, from: FROM }).then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(err?.split("\n").filter((l) => /^(config error: )?logs\./.test(l)).map((l) => l.replace(/^config error: /, "").split(":")[0])).toEqual([
      "logs.hostGroups[0].logGroups[0].name",
      "logs.hostGroups[1].logGroups[0].name",
    ]);
  }, 120_000);

  it("a log group outside those names plans, beside the task's own (another regime's /aws/lambda/ name included)", async () => {
    const { resources } = await runPlan({ configFile: withLogGroup("/aws/lambda/other-health-task"), from: FROM });
    const names = resources.filter((r) => r.type === "aws:cloudwatch/logGroup:LogGroup").map((r) => r.inputs.name);
    expect(names).toContain("/aws/lambda/other-health-task");
    expect(names).toContain("/aws/lambda/rt-health-task");
  }, 120_000);
});

describe("the plan's audit of physical names over every recorded resource", () => {
  const res = (type: string, name: string, inputs: Record<string, unknown>, parent = "rt"): RecordedResource => ({ type, name, custom: true, parent, inputs });

  it("refuses two log groups, roles (whatever their case), topics or queues of one name, naming the keys of both", () => {
    const lines = auditNamesAndPolicies([
      res("aws:cloudwatch/logGroup:LogGroup", "rt-health-task-logs", { name: "/aws/lambda/rt-health-task", tags: { Task: "health-check" } }),
      res("aws:cloudwatch/logGroup:LogGroup", "rt-db-app-backup-logs", { name: "/aws/lambda/rt-health-task", tags: { Database: "app" } }),
      res("aws:iam/role:Role", "a", { name: "rt-Backup-role", tags: { Database: "app" } }),
      res("aws:iam/role:Role", "b", { name: "rt-backup-role", tags: { Database: "crm" } }),
      res("aws:sns/topic:Topic", "t1", { name: "rt-alerts-P1" }),
      res("aws:sns/topic:Topic", "t2", { name: "rt-alerts-P1" }),
    ]);
    expect(lines).toEqual([
      "endpoints and databases[app]: 2 resources of type aws:cloudwatch/logGroup:LogGroup are named /aws/lambda/rt-health-task (rt-health-task-logs, rt-db-app-backup-logs): AWS creates the first and refuses the next at deploy; rename one",
      "databases[app] and databases[crm]: 2 resources of type aws:iam/role:Role are named rt-Backup-role (a, b): AWS creates the first and refuses the next at deploy; rename one",
      "resource t1 and resource t2: 2 resources of type aws:sns/topic:Topic are named rt-alerts-P1 (t1, t2): AWS creates the first and refuses the next at deploy; rename one",
    ]);
  });

  it("names the config key of resources that carry no tag: their component's (alerting), a reminder's own, an overdue alarm's job's", () => {
    const component = (type: string, name: string, parent: string): RecordedResource => ({ type, name, custom: false, parent, inputs: {} });
    const lines = auditNamesAndPolicies([
      component("regime:index:MaintenanceRegime", "rt", ""),
      component("regime:alerting:AlertRouting", "rt-alerts", "rt"),
      component("regime:reminders:Reminders", "rt-reminders", "rt"),
      component("regime:database:DatabaseMaintenance", "rt-db-app", "rt"),
      component("regime:task:ScheduledTask", "rt-db-app-restore-drill", "rt-db-app"),
      component("regime:watch:OverdueWatch", "rt-overdue", "rt"),
      res("aws:sns/topic:Topic", "t1", { name: "rt-alerts-P1" }, "rt-alerts"),
      res("aws:sns/topic:Topic", "t2", { name: "rt-alerts-P1" }, "rt-alerts"),
      res("aws:scheduler/scheduleGroup:ScheduleGroup", "rt-reminders-rotate-keys", { name: "rt-rotate" }, "rt-reminders"),
      res("aws:scheduler/scheduleGroup:ScheduleGroup", "rt-reminders-renew-certs", { name: "rt-rotate" }, "rt-reminders"),
      res("aws:cloudwatch/metricAlarm:MetricAlarm", "rt-db-app-restore-drill-overdue-P2", { name: "rt-drill-late" }, "rt-overdue"),
      res("aws:cloudwatch/metricAlarm:MetricAlarm", "rt-dlq", { name: "rt-drill-late" }, "rt"),
    ]);
    expect(lines).toEqual([
      "alerting: 2 resources of type aws:sns/topic:Topic are named rt-alerts-P1 (t1, t2): AWS creates the first and refuses the next at deploy; rename one",
      "reminders[rotate-keys] and reminders[renew-certs]: 2 resources of type aws:scheduler/scheduleGroup:ScheduleGroup are named rt-rotate (rt-reminders-rotate-keys, rt-reminders-renew-certs): AWS creates the first and refuses the next at deploy; rename one",
      "databases[app] and name: 2 resources of type aws:cloudwatch/metricAlarm:MetricAlarm are named rt-drill-late (rt-db-app-restore-drill-overdue-P2, rt-dlq): AWS creates the first and refuses the next at deploy; rename one",
    ]);
  });

  it("accepts one name in two scopes: metric filters of two log groups, schedules of two groups, associations running one document, log groups in two regions", () => {
    expect(
      auditNamesAndPolicies([
        res("aws:cloudwatch/logMetricFilter:LogMetricFilter", "f1", { name: "errors", logGroupName: "/app/a" }),
        res("aws:cloudwatch/logMetricFilter:LogMetricFilter", "f2", { name: "errors", logGroupName: "/app/b" }),
        res("aws:scheduler/schedule:Schedule", "s1", { name: "rt-backup", groupName: "rt-p1" }),
        res("aws:scheduler/schedule:Schedule", "s2", { name: "rt-backup", groupName: "rt-p2" }),
        res("aws:ssm/association:Association", "a1", { name: "AmazonCloudWatch-ManageAgent", associationName: "rt-app-cloudwatch-logs" }),
        res("aws:ssm/association:Association", "a2", { name: "AmazonCloudWatch-ManageAgent", associationName: "rt-web-cloudwatch-logs" }),
        res("aws:cloudwatch/logGroup:LogGroup", "g1", { name: "/aws/chatbot/rt-alerts-slack", region: "us-east-1" }),
        res("aws:cloudwatch/logGroup:LogGroup", "g2", { name: "/aws/chatbot/rt-alerts-slack" }),
      ]),
    ).toEqual([]);
  });
});
