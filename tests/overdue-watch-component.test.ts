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
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { RecordedResource } from "../plan/mocks";
import { runPlan } from "../plan/run";
import { expectLeastPrivilege, statementsOf } from "./helpers/iam";

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
    // Successful runs = the function's invocations minus its errors (AWS/Lambda, no custom metric).
    const q = m.metricQueries as Inputs[];
    expect([q.map((x) => x.metric?.metricName ?? x.expression), q[0].metric.dimensions, q[0].metric.period * m.evaluationPeriods, m.treatMissingData]).toEqual([
      ["Invocations", "Errors", "invocations - FILL(errors, 0)"],
      { FunctionName: "prod-overdue-watch" },
      7200,
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
    expect(jobs.filter((j: Inputs) => !j.history).map((j: Inputs) => [j.job, j.prefix, j.expression, j.timezone])).toEqual([
      ["app/restore-drill", "runs/app/restore-drill/", "cron(0 3 1 1,4,7,10 ? *)", "America/New_York"],
      ["app/reindex", "runs/app/reindex/", "cron(0 2 ? * 1#1 *)", "America/New_York"],
    ]);
    // The drill's tolerance: its 67-minute run plus the Scheduler's hour of retries.
    expect(jobs[0].toleranceSeconds).toBe(67 * 60 + 3600);
  });

  it("each watched job writes its markers under its own prefix and nowhere else; unwatched jobs write none", () => {
    expect(containerEnv("prod-db-app-restore-drill")).toMatchObject({ RUN_MARKER_PREFIX: "runs/app/restore-drill/" });
    const fns = Object.fromEntries(of("aws:lambda/function:Function").map((f) => [f.name, f.environment.variables as Record<string, string>]));
    expect(fns["prod-db-app-reindex"].RUN_MARKER_PREFIX).toBe("runs/app/reindex/");
    for (const name of ["prod-db-app-backup", "prod-db-app-vacuum", "prod-health-task"]) expect(fns[name]).not.toHaveProperty("RUN_MARKER_PREFIX");
    const policy = resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "prod-db-app-reindex-role")!;
    const puts = statementsOf((policy.inputs as Inputs).policy).filter((s) => JSON.stringify(s.Action).includes("s3:PutObject"));
    expect(puts.flatMap((s) => s.Resource as string[])).toEqual([expect.stringMatching(/:::[^/]+\/runs\/app\/reindex\/\*$/)]);
  });

  it("prod's three monthly and quarterly reminders: each alone in its schedule group, watched from that group's history, an overdue alarm each at its severity", () => {
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
      expect([j.expression, j.timezone, j.prefix], name).toEqual([schedule.scheduleExpression, schedule.scheduleExpressionTimezone, `runs/reminders/${name}/`]);
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
    expect(star.map((s) => s.Action)).toEqual([["cloudwatch:GetMetricData"]]);
    expect(statements.flatMap((s) => ([] as string[]).concat(s.Action ?? [])).filter((a) => a.startsWith("cloudwatch:"))).toEqual(["cloudwatch:GetMetricData"]);
  });
});
