/**
 * The task catalogue against what reads it by name at run time, where the compiler cannot follow:
 * the bundler imports each task by the catalogue's module file and export name, and the calendar
 * reads a job's kind from its schedule's name.
 */
import { describe, expect, it } from "vitest";
import { entrySource } from "../build/bundle";
import { jobKind } from "../plan/calendar";
import { TASK_CATALOGUE, TASK_NAMES, type TaskEntry } from "../tasks/catalogue";
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

  it("draws every task's schedule in the task's kind, a longer task name before the shorter one it ends with", () => {
    const scheduled = TASK_NAMES.flatMap((name) => {
      const s = (TASK_CATALOGUE[name] as TaskEntry).scheduled;
      return s ? [{ name, ...s }] : [];
    });
    expect(scheduled.map((s) => jobKind(`prod-db-app-${s.scheduleSuffix ?? s.name}`))).toEqual(scheduled.map((s) => s.kind));
    expect(jobKind("prod-db-app-verify-backup")).toBe("verify");
    expect(jobKind("prod-health-task")).toBe("health");
  });
});
