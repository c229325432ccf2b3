/**
 * The overdue watcher as the prod plan provisions it (the program under Pulumi mocks): the quarterly
 * drill and the monthly reindex, too sparse for a missed-run alarm, each get an overdue alarm at
 * their own severity with missing data not breaching (Overdue is sent only for an overdue job),
 * write their markers under their own prefix, and the watcher itself runs hourly with a missed-run
 * alarm (missing data breaching) that pages, at the highest watched severity, when it stops. The monthly and
 * quarterly reminders, which run no code, are watched from their own schedule groups' Scheduler
 * history: an overdue alarm each at their severity, and the watcher may read metric data (on `*`,
 * the only resource IAM takes for cloudwatch:GetMetricData) and nothing more for them.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { runSimulation, type Simulation } from "@cloud-copilot/iam-simulate";
import { beforeAll, describe, expect, it } from "vitest";
import type { RecordedResource } from "../plan/mocks";
import { runPlan } from "../plan/run";
import { expectLeastPrivilege, statementsOf } from "./helpers/iam";
import { gateOf } from "./helpers/metric-math";

/** The creation date the plan's mocks give a schedule group (plan/mocks.ts). */
const MOCK_CREATION_DATE = "2026-01-01T00:00:00Z";

const ROOT = join(__dirname, "..");
let resources: RecordedResource[];
type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const of = (type: string) => resources.filter((r) => r.type === type).map((r) => r.inputs as Inputs);
const alarm = (name: string) => {
  const a = of("aws:cloudwatch/metricAlarm:MetricAlarm").find((x) => x.name === name);
  expect(a, name).toBeDefined();
  return a!;
};
const containerEnv = (family: string) => {
  const td = of("aws:ecs/taskDefinition:TaskDefinition").find((t) => t.family === family)!;
  return Object.fromEntries((JSON.parse(td.containerDefinitions)[0].environment as { name: string; value: string }[]).map((e) => [e.name, e.value]));
};

beforeAll(async () => {
  ({ resources } = await runPlan({ configFile: join(ROOT, "Pulumi.prod.yaml"), from: new Date("2026-11-23T00:00:00Z"), root: ROOT }));
}, 180_000);

describe("jobs too sparse for a metric alarm (prod)", () => {
  it("the quarterly drill and the monthly reindex have no missed-run alarm, and an overdue alarm each at their severity", () => {
    const names = of("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => a.name as string);
    expect(names.filter((n) => /-(missed-run|overdue)-P\d$/.test(n) && /restore-drill|reindex/.test(n)).sort()).toEqual([
      "prod-db-app-reindex-overdue-P3",
      "prod-db-app-restore-drill-overdue-P2",
    ]);
    const a = alarm("prod-db-app-restore-drill-overdue-P2");
    expect({ ns: a.namespace, metric: a.metricName, dims: a.dimensions, stat: a.statistic, period: a.period, n: a.evaluationPeriods, op: a.comparisonOperator, t: a.threshold, missing: a.treatMissingData }).toEqual({
      ns: "MaintenanceRegime", metric: "Overdue", dims: { service: "prod", Task: "overdue-watch", Job: "app/restore-drill" }, stat: "Maximum", period: 3600, n: 1, op: "GreaterThanOrEqualToThreshold", t: 1, missing: "notBreaching",
    });
    expect(a.alarmActions).toEqual([expect.stringContaining("prod-alerts-P2")]);
    expect(a.alarmDescription).toContain('"job overdue: app/restore-drill"');
  });

  it("the watcher runs hourly and pages when it stops (its jobs' overdue alarms do not): missed-run over 2 hours with missing data breaching, at the highest watched severity", () => {
    const s = of("aws:scheduler/schedule:Schedule").find((x) => x.name === "prod-overdue-watch")!;
    expect([s.scheduleExpression, s.flexibleTimeWindow.mode]).toEqual(["rate(1 hour)", "OFF"]);
    const m = alarm("prod-overdue-watch-missed-run-P2");
    // Runs = the function's invocations (AWS/Lambda, no custom metric); a failed run pages through its errors alarm, at the same severity.
    const gate = gateOf(m);
    expect([gate.metrics[0].metricName, gate.metrics[0].dimensions, gate.metrics[0].period * m.evaluationPeriods, m.treatMissingData]).toEqual([
      "Invocations",
      { FunctionName: "prod-overdue-watch" },
      // An hour + an hour of retries + its 120 s run + 5 min until the success is seen, in 5-minute periods.
      7800,
      "breaching",
    ]);
    // Its errors and dead letters page at that severity too: a stopped or failing watcher is one page, not one per job.
    expect(of("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => a.name as string).filter((n) => n.startsWith("prod-overdue-watch-")).sort()).toEqual([
      "prod-overdue-watch-dead-letters-P2",
      "prod-overdue-watch-duration-P3",
      "prod-overdue-watch-errors-P2",
      "prod-overdue-watch-missed-run-P2",
    ]);
    const fn = of("aws:lambda/function:Function").find((f) => f.name === "prod-overdue-watch")!;
    const jobs = JSON.parse(fn.environment.variables.WATCHED_JOBS);
    expect(jobs.filter((j: Inputs) => j.prefix).map((j: Inputs) => [j.job, j.prefix, j.expression, j.timezone])).toEqual([
      ["app/restore-drill", "runs/app/restore-drill/", "cron(0 3 1 1,4,7,10 ? *)", "America/New_York"],
      // Weekly: no metric alarm looks back a week plus its margins.
      ["app/vacuum", "runs/app/vacuum/", "cron(0 3 ? * WED *)", "America/New_York"],
      ["app/reindex", "runs/app/reindex/", "cron(0 2 ? * 1#1 *)", "America/New_York"],
    ]);
    // The drill's tolerance: its 67-minute run plus the Scheduler's hour of retries.
    expect(jobs[0].toleranceSeconds).toBe(67 * 60 + 3600);
  });

  it("each watched job writes its markers under its own prefix and nowhere else; unwatched jobs write none", () => {
    expect(containerEnv("prod-db-app-restore-drill")).toMatchObject({ RUN_MARKER_PREFIX: "runs/app/restore-drill/" });
    const fns = Object.fromEntries(of("aws:lambda/function:Function").map((f) => [f.name, f.environment.variables as Record<string, string>]));
    expect(fns["prod-db-app-reindex"].RUN_MARKER_PREFIX).toBe("runs/app/reindex/");
    expect(fns["prod-db-app-vacuum"].RUN_MARKER_PREFIX).toBe("runs/app/vacuum/");
    for (const name of ["prod-db-app-backup", "prod-db-app-purge", "prod-health-task"]) expect(fns[name]).not.toHaveProperty("RUN_MARKER_PREFIX");
    const policy = resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "prod-db-app-reindex-role")!;
    const puts = statementsOf((policy.inputs as Inputs).policy).filter((s) => JSON.stringify(s.Action).includes("s3:PutObject"));
    expect(puts.flatMap((s) => s.Resource as string[])).toEqual([expect.stringMatching(/:::[^/]+\/runs\/app\/reindex\/\*$/)]);
  });

  it("prod's three monthly and quarterly reminders: each alone in its schedule group, watched from that group's history from the group's creation, an overdue alarm each at its severity", () => {
    const fn = of("aws:lambda/function:Function").find((f) => f.name === "prod-overdue-watch")!;
    const watched = (JSON.parse(fn.environment.variables.WATCHED_JOBS) as Inputs[]).filter((j) => j.history);
    expect(watched.map((j) => j.job)).toEqual(["reminder/maintenance-notice", "reminder/access-review", "reminder/penetration-test"]);
    const schedules = of("aws:scheduler/schedule:Schedule");
    for (const j of watched) {
      const name = j.job.split("/")[1];
      const schedule = schedules.find((x) => x.name === `prod-reminders-${name}`)!;
      // Its own group: the InvocationAttemptCount the watcher reads is this reminder's alone.
      expect(schedule.groupName, name).toBe(j.history.scheduleGroup);
      expect(schedules.filter((x) => x.groupName === j.history.scheduleGroup), name).toHaveLength(1);
      // No markers in the vault: never started, it is measured from its group's creation date.
      expect([j.expression, j.timezone, j.prefix, j.since], name).toEqual([schedule.scheduleExpression, schedule.scheduleExpressionTimezone, undefined, MOCK_CREATION_DATE]);
      // Reads back over its longest interval plus the hour of tolerance, within CloudWatch's 455 days of hourly data.
      expect(j.toleranceSeconds, name).toBe(3600);
      expect(j.history.lookbackSeconds, name).toBeGreaterThan(27 * 86400);
      expect(j.history.lookbackSeconds, name).toBeLessThanOrEqual(455 * 86400);
      const a = alarm(`prod-reminder-${name}-overdue-P3`);
      expect([a.metricName, a.dimensions, a.treatMissingData, a.alarmActions]).toEqual(["Overdue", { service: "prod", Task: "overdue-watch", Job: j.job }, "notBreaching", [expect.stringContaining("prod-alerts-P3")]]);
      expect(a.alarmDescription, name).toContain("do the checklist by hand");
      // No missed-run alarm: a CloudWatch alarm cannot look back that far.
      expect(of("aws:cloudwatch/metricAlarm:MetricAlarm").some((x) => x.name === `prod-reminder-${name}-missed-run-P3`), name).toBe(false);
    }
    // The quarterly one reads back a quarter and a little more (92 days + 2 h).
    expect(watched.find((j) => j.job === "reminder/access-review")!.history.lookbackSeconds).toBe(92 * 86400 + 7200);
  });

  it("the watcher's role: markers under runs/ and metric reads; GetMetricData on * because IAM names no metric resource", () => {
    const policy = resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "prod-overdue-watch-role")!;
    const statements = expectLeastPrivilege((policy.inputs as Inputs).policy, "prod-overdue-watch-role");
    const star = statements.filter((s) => ([] as string[]).concat(s.Resource ?? []).includes("*"));
    // And the SNS SMS reads of the subscription check (no resource type either: tests/subscription-watch-component.test.ts).
    expect(star.map((s) => s.Action)).toEqual([["cloudwatch:GetMetricData"], ["sns:GetSMSSandboxAccountStatus", "sns:ListSMSSandboxPhoneNumbers", "sns:CheckIfPhoneNumberIsOptedOut"]]);
    expect(statements.flatMap((s) => ([] as string[]).concat(s.Action ?? [])).filter((a) => a.startsWith("cloudwatch:"))).toEqual(["cloudwatch:GetMetricData"]);
  });

  it("the watcher writes watch-start records but no run marker: it cannot record a run that did not happen (IAM simulation with the vault's bucket policy)", async () => {
    const role = JSON.parse(String(resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "prod-overdue-watch-role")!.inputs.policy));
    const bucketPolicy = JSON.parse(String(resources.find((r) => r.type === "aws:s3/bucketPolicy:BucketPolicy" && r.name === "prod-backups-tls-only")!.inputs.policy));
    const bucketArn = String(statementsOf(bucketPolicy)[0].Resource![0]);
    const decide = async (action: string, key: string) => {
      const result = await runSimulation(
        {
          identityPolicies: [{ name: "watcher", policy: role }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          resourcePolicy: bucketPolicy,
          request: {
            action,
            principal: "arn:aws:iam::123456789012:role/watcher",
            resource: { accountId: "123456789012", resource: `${bucketArn}/${key}` },
            contextVariables: { "aws:SecureTransport": "true", "s3:ObjectCreationOperation": "true", "s3:if-none-match": "*" },
          },
        } as Simulation,
        {},
      );
      if (result.resultType === "error") throw new Error(JSON.stringify(result.errors));
      return result.overallResult;
    };
    expect(await decide("s3:PutObject", "runs/app/restore-drill/watching-since.json")).toBe("Allowed");
    expect(await decide("s3:PutObject", "runs/app/vacuum/watching-since.json")).toBe("Allowed");
    expect(await decide("s3:GetObject", "runs/app/restore-drill/20261201T030000000Z.success.json")).toBe("Allowed");
    // A forged success marker, anything else under runs/, and the backups themselves: refused.
    expect(await decide("s3:PutObject", "runs/app/restore-drill/20261201T030000000Z.success.json")).not.toBe("Allowed");
    expect(await decide("s3:PutObject", "runs/app/restore-drill/watching-since.json.success.json")).not.toBe("Allowed");
    expect(await decide("s3:PutObject", "runs/app/restore-drill/x")).not.toBe("Allowed");
    expect(await decide("s3:PutObject", "daily/app/20261201T020000000Z.dump")).not.toBe("Allowed");
  });

  it("prod's State Manager associations (logrotate, CloudWatch agent config of host group app): each watched by its id on its own schedule, an overdue alarm each at P2", () => {
    const fn = of("aws:lambda/function:Function").find((f) => f.name === "prod-overdue-watch")!;
    const watched = (JSON.parse(fn.environment.variables.WATCHED_JOBS) as Inputs[]).filter((j) => j.association);
    const associations = resources.filter((r) => r.type === "aws:ssm/association:Association");
    expect(associations.map((a) => a.name).sort()).toEqual(["prod-logs-app-association", "prod-logs-app-cwagent-association"]);
    expect(watched).toEqual([
      { job: "association/app/logrotate", expression: "cron(0 3 ? * * *)", timezone: "UTC", toleranceSeconds: 3600, association: { id: "prod-logs-app-association-id" } },
      { job: "association/app/cloudwatch-agent", expression: "cron(0 3 ? * * *)", timezone: "UTC", toleranceSeconds: 3600, association: { id: "prod-logs-app-cwagent-association-id" } },
    ]);
    // The schedule the watcher follows is the association's own.
    for (const a of associations) expect((a.inputs as Inputs).scheduleExpression).toBe("cron(0 3 ? * * *)");
    for (const kind of ["logrotate", "cloudwatch-agent"]) {
      const a = alarm(`prod-logs-app-${kind}-association-overdue-P2`);
      expect([a.metricName, a.dimensions, a.alarmActions]).toEqual(["Overdue", { service: "prod", Task: "overdue-watch", Job: `association/app/${kind}` }, [expect.stringContaining("prod-alerts-P2")]]);
      expect(a.alarmDescription).toContain(`No run of the State Manager association ${kind} of host group app`);
      expect(a.alarmDescription).toContain("SSM agents are online");
    }
  });

  it("the watcher may read exactly those associations: ssm:DescribeAssociation on their association ARNs, no wildcard", () => {
    const policy = resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "prod-overdue-watch-role")!;
    const statements = expectLeastPrivilege((policy.inputs as Inputs).policy, "prod-overdue-watch-role");
    const ssm = statements.filter((s) => ([] as string[]).concat(s.Action ?? []).some((a) => a.startsWith("ssm:")));
    expect(ssm.map((s) => [s.Action, s.Resource])).toEqual([
      [["ssm:DescribeAssociation"], ["arn:aws:ssm:us-east-1:123456789012:association/prod-logs-app-association-id", "arn:aws:ssm:us-east-1:123456789012:association/prod-logs-app-cwagent-association-id"]],
    ]);
  });
});

describe("a regime without databases (no backup vault): reminders and associations are still watched", () => {
  let solo: RecordedResource[];
  let report: Awaited<ReturnType<typeof runPlan>>["plan"];
  const soloOf = (type: string) => solo.filter((r) => r.type === type).map((r) => r.inputs as Inputs);

  beforeAll(async () => {
    const doc = {
      config: {
        "aws:region": "us-east-1",
        "maintenance-regime:name": "solo",
        "maintenance-regime:timezone": "UTC",
        "maintenance-regime:alerting": { P0: { email: ["oncall@example.com"] }, P1: { email: ["oncall@example.com"] }, P2: { email: ["devops@example.com"] }, P3: { email: ["devops@example.com"] } },
        "maintenance-regime:reminders": [
          { name: "penetration-test", schedule: "quarterly on the 1st at 09:00", severity: "P2", checklist: ["Book the penetration test"] },
          { name: "weekly-review", schedule: "every Monday at 09:00", severity: "P3", checklist: ["Read the dashboard"] },
        ],
        "maintenance-regime:logs": {
          hostGroups: [
            {
              name: "web",
              target: { tagKey: "Role", tagValue: "web" },
              appRoot: "/srv/app",
              logSets: [{ name: "app", paths: ["logs/*.log"], frequency: "daily", maxAgeDays: 14, copytruncate: true }],
              fileBackups: [{ name: "uploads", paths: ["uploads"], schedule: "daily at 02:00", retentionDays: 30, severity: "P1" }],
            },
          ],
        },
      },
    };
    const file = join(mkdtempSync(join(tmpdir(), "overdue-solo-")), "Pulumi.solo.yaml");
    writeFileSync(file, YAML.stringify(doc));
    ({ resources: solo, plan: report } = await runPlan({ configFile: file, from: new Date("2026-11-23T00:00:00Z"), root: ROOT }));
  }, 180_000);

  it("has no vault, and a watcher without BACKUP_BUCKET watching the quarterly reminder and the logrotate association (the file backup's own missed-run alarm watches its association)", () => {
    expect(soloOf("aws:s3/bucket:Bucket").concat(soloOf("aws:s3/bucketV2:BucketV2")).filter((b) => String(b.bucket ?? b.bucketPrefix ?? "").includes("backups"))).toEqual([]);
    const fn = soloOf("aws:lambda/function:Function").find((f) => f.name === "solo-overdue-watch");
    expect(fn, "the overdue watcher").toBeDefined();
    expect(fn!.environment.variables).not.toHaveProperty("BACKUP_BUCKET");
    const jobs = JSON.parse(fn!.environment.variables.WATCHED_JOBS) as Inputs[];
    expect(jobs.map((j) => [j.job, j.prefix, j.since ?? j.association?.id])).toEqual([
      ["association/web/logrotate", undefined, "solo-logs-web-association-id"],
      ["reminder/penetration-test", undefined, MOCK_CREATION_DATE],
      // Weekly: no metric alarm looks back a week plus its margins.
      ["reminder/weekly-review", undefined, MOCK_CREATION_DATE],
    ]);
    const names = soloOf("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => a.name as string).filter((n) => /-overdue-P\d$/.test(n));
    expect(names.sort()).toEqual(["solo-logs-web-logrotate-association-overdue-P2", "solo-reminder-penetration-test-overdue-P2", "solo-reminder-weekly-review-overdue-P3"]);
    expect(soloOf("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => a.name as string)).toContain("solo-logs-web-backup-uploads-missed-run-P1");
  });

  it("the watcher's role reads no bucket: metric data for the reminder, DescribeAssociation on the association it watches", () => {
    const policy = solo.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "solo-overdue-watch-role")!;
    const statements = expectLeastPrivilege((policy.inputs as Inputs).policy, "solo-overdue-watch-role");
    const actions = statements.flatMap((s) => ([] as string[]).concat(s.Action ?? []));
    expect(actions.filter((a) => a.startsWith("s3:"))).toEqual([]);
    expect(actions).toContain("cloudwatch:GetMetricData");
    expect(statements.find((s) => ([] as string[]).concat(s.Action ?? []).includes("ssm:DescribeAssociation"))!.Resource).toEqual([
      "arn:aws:ssm:us-east-1:123456789012:association/solo-logs-web-association-id",
    ]);
  });

  it("the promises say so: the quarterly reminder and the logrotate association are paged when they stop, nothing is unkept", () => {
    const items = report.promises!.items;
    expect(items.filter((p) => p.status === "unkept")).toEqual([]);
    const reminder = items.find((p) => p.key === "reminders[penetration-test].schedule" && p.promise.endsWith("paged when it stops"))!;
    expect([reminder.status, reminder.figure]).toEqual(["held", expect.stringMatching(/of its last run, by the overdue watch$/)]);
    const association = items.find((p) => p.key === "logs.hostGroups[web].schedule" && p.promise.endsWith("paged when it stops"))!;
    // Daily at 03:00 UTC: a day + the hour of tolerance + the watcher's hour + the alarm's hour.
    expect([association.status, association.figure, association.value]).toEqual(["held", "paged within 27 h of its last run, by the overdue watch", 27 * 3600]);
  });
});
