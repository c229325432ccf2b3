/**
 * A component hands a task only settings the task reads: TaskEnvironment is typed from each task's
 * settings schema. The refusals are checked by `npx tsc --noEmit -p .` (each @ts-expect-error line
 * fails the type check if the key were accepted); the run checks the type's source is the schema.
 */
import { describe, expect, it } from "vitest";
import type { TaskEnvironment } from "../components/task-settings";
import { overdueWatchTask } from "../tasks/overdue-watch";
import { redisHealthTask } from "../tasks/redis-health";

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
});
