/**
 * What the program hands each deployed task is what the task reads: every environment variable a
 * component sets on a task function is a setting of that task (or of the shared runtime). A name
 * the task does not read would be silently ignored, and the config key behind it with it.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import type { RecordedResource } from "../plan/mocks";
import { runPlan } from "../plan/run";
import { tasks } from "../tasks/registry";

const FROM = new Date("2026-11-23T00:00:00Z");

/** Read by the shared runtime (tasks/lib) or the Lambda platform, whatever the task. */
const RUNTIME = new Set(["TASK", "REGIME_NAME", "METRICS_NAMESPACE", "METRICS_INSTANCE", "LOG_LEVEL", "DATABASES", "NODE_OPTIONS", "PG_BIN_DIR", "PG_DUMP_PATH", "PG_RESTORE_PATH", "SCHEDULE_INTERVAL_SECONDS",
  // Read by the entry points after a successful run (tasks/lib/run-marker.ts), for the overdue watcher.
  "RUN_MARKER_BUCKET", "RUN_MARKER_PREFIX",
  // Read by the shared runtime: the run metrics an alarm of the task reads (tasks/lib/metrics.ts publishedRunMetrics).
  "RUN_METRICS"]);

function settingNames(schema: z.ZodType): Set<string> {
  const s = schema as unknown as { shape?: Record<string, unknown>; def?: { in?: { shape?: Record<string, unknown> } } };
  const shape = s.shape ?? s.def?.in?.shape;
  if (!shape) throw new Error("a task's settings schema is not an object schema");
  return new Set(Object.keys(shape));
}

const stacks = [
  { name: "prod", run: () => runPlan({ stack: "prod", from: FROM }) },
  ...["iswitch-roofs-crm", "fitnesscrm", "boardroom-ai", "bigshot", "neff-paving"].map((slug) => ({
    name: slug,
    run: () => runPlan({ configFile: join(__dirname, "..", "examples", slug, `Pulumi.${slug}.yaml`), from: FROM }),
  })),
];

describe("every variable a deployed task gets is a setting that task reads", () => {
  for (const stack of stacks) {
    it(stack.name, async () => {
      const { resources } = await stack.run();
      const functions = resources.filter((r: RecordedResource) => r.type === "aws:lambda/function:Function");
      const checked: string[] = [];
      for (const f of functions) {
        const vars = ((f.inputs as { environment?: { variables?: Record<string, string> } }).environment?.variables ?? {}) as Record<string, string>;
        const task = tasks[vars.TASK];
        expect(task, `${f.name}: TASK ${vars.TASK}`).toBeDefined();
        const known = settingNames(task.settings);
        const unread = Object.keys(vars).filter((k) => !known.has(k) && !RUNTIME.has(k) && !k.startsWith("POWERTOOLS_"));
        expect(unread, `${f.name} (${vars.TASK})`).toEqual([]);
        checked.push(vars.TASK);
      }
      expect(checked.length).toBeGreaterThan(3);
    }, 120_000);
  }
});
