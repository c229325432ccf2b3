/**
 * The task catalogue against what reads it by name at run time, where the compiler cannot follow:
 * the bundler imports each task by the catalogue's module file and export name, and each schedule's
 * kind, which the program records where it creates the schedule (components/plan-record.ts) and the
 * calendar picture draws, is the kind of the task the schedule starts.
 */
import { describe, expect, it } from "vitest";
import { entrySource } from "../build/bundle";
import { join } from "node:path";
import { runPlan, scheduleRecordOf } from "../plan/run";
import { emptyPlanRecord } from "../components/plan-record";
import { parseSchedule } from "../regime/schedule";
import { TASK_CATALOGUE, TASK_NAMES, type TaskEntry, type TaskName } from "../tasks/catalogue";
import { findTask } from "../tasks/registry";

describe("the task catalogue", () => {
  it("names, for every task, the module and export the registry runs, which the bundle entry imports", async () => {
    for (const name of TASK_NAMES) {
      const { file, exportName } = TASK_CATALOGUE[name].module;
      const mod = (await import(`../tasks/${file}.ts`)) as Record<string, unknown>;
      expect(mod[exportName], name).toBe(findTask(name));
      expect(findTask(name).name).toBe(name);
      expect(entrySource(name)).toContain(`import { ${exportName} } from "./tasks/${file}";`);
    }
  });

  it("gives every schedule the kind of the task it starts, recorded where the program creates the schedule (bigshot schedules every task)", async () => {
    const { resources, record } = await runPlan({ configFile: join(__dirname, "..", "examples", "bigshot", "Pulumi.bigshot.yaml"), from: new Date("2026-12-01T00:00:00Z") });
    const of = (type: string) => resources.filter((r) => r.type === type).map((r) => r.inputs as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
    // The TASK setting of what each schedule starts: a Lambda function, or a Fargate task definition's container.
    const taskOf = new Map<string, string>();
    for (const f of of("aws:lambda/function:Function")) taskOf.set(`arn:aws:lambda:us-east-1:123456789012:function:${f.name}`, f.environment.variables.TASK);
    for (const t of resources.filter((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition")) {
      const env = (JSON.parse(String(t.inputs.containerDefinitions))[0].environment as { name: string; value: string }[]).find((e) => e.name === "TASK")!;
      taskOf.set(`arn:aws:ecs:us-east-1:123456789012:task-definition/${t.name}`, env.value);
    }
    const started = of("aws:scheduler/schedule:Schedule").map((s) => ({ name: String(s.name), task: taskOf.get(s.target.ecsParameters?.taskDefinitionArn ?? s.target.arn) }));
    const tasks = started.filter((s) => s.task !== undefined);
    expect(new Set(tasks.map((s) => s.task))).toEqual(new Set(TASK_NAMES.filter((t) => (TASK_CATALOGUE[t] as TaskEntry).scheduled)));
    for (const s of tasks) expect(record.schedules[s.name]?.kind, s.name).toBe((TASK_CATALOGUE[s.task as TaskName] as TaskEntry).scheduled!.kind);
    // The rest publish a reminder to a topic; associations run documents on the hosts.
    for (const s of started.filter((x) => x.task === undefined)) expect(record.schedules[s.name]?.kind, s.name).toBe("reminder");
    const associations = of("aws:ssm/association:Association").map((a) => [record.schedules[a.associationName]?.kind, a.name === "AmazonCloudWatch-ManageAgent" ? "log shipping" : "logrotate"]);
    expect(associations.length).toBeGreaterThan(0);
    for (const [kind, expected] of associations) expect(kind).toBe(expected);
    expect(Object.keys(record.schedules).length).toBe(started.length + associations.length);
  }, 120_000);

  it("lets the plan refuse a schedule created without a record, or recorded otherwise than it runs", () => {
    const schedule = (inputs: Record<string, unknown>) => ({ type: "aws:scheduler/schedule:Schedule", name: "t-db-app-backup", custom: true, parent: "", inputs: { name: "t-db-app-backup", ...inputs } });
    const record = emptyPlanRecord();
    expect(() => scheduleRecordOf(schedule({ scheduleExpression: "cron(0 2 * * ? *)" }), record)).toThrow(
      "schedule t-db-app-backup: created without a record (components/plan-record.ts recordSchedule)",
    );
    record.schedules["t-db-app-backup"] = { name: "t-db-app-backup", kind: "backup", schedule: parseSchedule("daily at 02:00", "America/New_York"), configKey: "databases[app].backup.schedule", paused: false };
    const created = { scheduleExpression: "cron(0 2 * * ? *)", scheduleExpressionTimezone: "America/New_York", state: "ENABLED" };
    expect(scheduleRecordOf(schedule(created), record).kind).toBe("backup");
    expect(() => scheduleRecordOf(schedule({ ...created, scheduleExpressionTimezone: "UTC" }), record)).toThrow(
      'schedule t-db-app-backup (databases[app].backup.schedule): recorded as {"expression":"cron(0 2 * * ? *)","timezone":"America/New_York","paused":false}, created as {"expression":"cron(0 2 * * ? *)","timezone":"UTC","paused":false}',
    );
    expect(() => scheduleRecordOf(schedule({ ...created, state: "DISABLED" }), record)).toThrow(/created as .*"paused":true/);
  });
});
