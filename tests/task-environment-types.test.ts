/**
 * A component hands a task only settings the task reads: TaskEnvironment is typed from each task's
 * settings schema. The refusals are checked by `npx tsc --noEmit -p .` (each @ts-expect-error line
 * fails the type check if the key were accepted); the run checks the type's source is the schema.
 */
import { describe, expect, it } from "vitest";
import type { TaskEnvironment } from "../components/task-settings";
import { overdueWatchTask } from "../tasks/overdue-watch";
import { redisHealthTask } from "../tasks/redis-health";
import { backupTask } from "../tasks/backup";
import { vacuumTask } from "../tasks/maintenance";
import { restoreDrillTask } from "../tasks/restore-drill";
import { imageTaskSettings } from "../components/database";
import { regimeFromConfig } from "../regime/load";
import { PROJECT, readStackConfig } from "../plan/run";
import { join } from "node:path";

describe("task environments typed from the tasks' settings schemas", () => {
  it("takes a task's own settings and the runtime's; refuses a misspelt setting and another task's", () => {
    const watch: TaskEnvironment<"overdue-watch"> = { BACKUP_BUCKET: "b", WATCHED_JOBS: "[]", TASK: "overdue-watch", RUN_METRICS: "" };
    // @ts-expect-error WATCHED_JOB: overdue-watch reads WATCHED_JOBS
    const misspelt: TaskEnvironment<"overdue-watch"> = { WATCHED_JOB: "[]" };
    // @ts-expect-error ENDPOINTS is a health-check setting; redis-health does not read it
    const otherTask: TaskEnvironment<"redis-health"> = { REDIS_URL: "redis://h:6379", ENDPOINTS: "[]" };
    expect(Object.keys(overdueWatchTask.settings.shape)).toEqual(expect.arrayContaining(Object.keys(watch).filter((k) => !["TASK", "RUN_METRICS"].includes(k))));
    expect(Object.keys(overdueWatchTask.settings.shape)).not.toContain(Object.keys(misspelt)[0]);
    expect(Object.keys(redisHealthTask.settings.shape)).not.toContain("ENDPOINTS");
    expect(Object.keys(redisHealthTask.settings.shape)).toContain(Object.keys(otherTask)[0]);
  });

  it("gives a database's size only to the task that reads it; refuses it for a restore drill or a vacuum", () => {
    const backup: TaskEnvironment<"backup"> = { DATABASES: "[]", BACKUP_BUCKET: "b", ESTIMATED_SIZE_GB: "120" };
    // @ts-expect-error ESTIMATED_SIZE_GB: restore-drill does not read the database's size (plan/cost.ts takes it from the config)
    const drill: TaskEnvironment<"restore-drill"> = { DATABASES: "[]", BACKUP_BUCKET: "b", ESTIMATED_SIZE_GB: "120" };
    // @ts-expect-error ESTIMATED_SIZE_GB: vacuum stops at its TIME_BUDGET_SECONDS whatever the size
    const vacuum: TaskEnvironment<"vacuum"> = { DATABASES: "[]", TIME_BUDGET_SECONDS: "600", ESTIMATED_SIZE_GB: "120" };
    expect(Object.keys(backupTask.settings.in.shape)).toEqual(expect.arrayContaining(Object.keys(backup)));
    expect(Object.keys(restoreDrillTask.settings.in.shape)).not.toContain(Object.keys(drill)[2]);
    expect(Object.keys(vacuumTask.settings.shape)).not.toContain(Object.keys(vacuum)[2]);

    // What the database component hands its image tasks: the size to the backup alone.
    const { config } = readStackConfig(join(__dirname, "..", "Pulumi.prod.yaml"));
    const db = { ...regimeFromConfig(config, PROJECT).databases[0], sizeGb: 120 };
    const image = imageTaskSettings(db, {}, "bucket");
    expect(image.backup.ESTIMATED_SIZE_GB).toBe("120");
    expect(Object.keys(image["verify-backup"])).not.toContain("ESTIMATED_SIZE_GB");
    expect(Object.keys(image["restore-drill"])).not.toContain("ESTIMATED_SIZE_GB");
  });
});
