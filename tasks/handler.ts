/**
 * The Lambda (and container) entry points. A zip function bundles makeHandler(oneTask); the container
 * image bundles `handler`, which picks the task named by TASK. Settings come from the function's
 * environment. A failure throws with a one-line reason, so the invocation counts as an error and the
 * Errors alarm fires.
 *
 * On demand: the image's functions (backup, verify-backup, restore-drill of a database) also run an
 * on-demand task (restore, list-backups) named in the event, `{"task":"restore","options":{"database":
 * "app","target":"arn:aws:secretsmanager:...","clean":true}}`, with the function's environment
 * (bucket, prefix) and role, the options mapped as the command line maps them. Such a run answers
 * with its result, or `{"error": "<one line>"}`, and does not throw: it is no run of the function's
 * scheduled task, so it neither records a run marker nor trips that task's Errors alarm.
 *
 * A scheduled run's event carries the Scheduler's context attributes (components/scheduled-task.ts
 * scheduledPayload): `{"task":"backup","source":"schedule","scheduledTime":"2027-01-31T23:58:00Z",
 * "executionId":"...","attemptNumber":"1"}`. They reach the task as SCHEDULED_TIME,
 * SCHEDULER_EXECUTION_ID and SCHEDULER_ATTEMPT (tasks/lib/runtime.ts SCHEDULER_CONTEXT); an event
 * without them (`aws lambda invoke` by hand) runs dated by its start.
 */
import { ON_DEMAND_TASKS, runsOnDemand } from "./catalogue";
import { findTask } from "./registry";
import { readBundledSettings } from "./lib/bundled-settings";
import { recordRunMarker } from "./lib/run-marker";
import { oneLine, optionsToEnv, runTask, SCHEDULER_CONTEXT, TaskError, type AnyTask, type OnSuccess } from "./lib/runtime";

/**
 * The Scheduler's context attributes of a scheduled run's event as the task's variables
 * (`{ SCHEDULED_TIME: "2027-01-31T23:58:00Z", ... }`); {} for an event without them. A value that is
 * not text is passed as its JSON, so the task's check names it (SCHEDULED_TIME: must be ...).
 */
export function schedulerContextEnv(event: unknown): Record<string, string> {
  if (event === null || typeof event !== "object") return {};
  const e = event as Record<string, unknown>;
  const env: Record<string, string> = {};
  for (const c of SCHEDULER_CONTEXT) {
    const v = e[c.field];
    if (v !== undefined && v !== null) env[c.variable] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return env;
}

/**
 * `onSuccess`: recordRunMarker for tasks the overdue watcher may watch (the catalogue's `runMarker`,
 * tasks/catalogue.ts). The handler's event, when it is a scheduled run's, gives the task its
 * scheduled time (schedulerContextEnv); the function's environment never does.
 */
export function makeHandler(task: AnyTask, onSuccess?: OnSuccess): (event?: unknown) => Promise<unknown> {
  // Read once per cold start: settings too large for the environment (tasks/lib/bundled-settings.ts).
  let bundled: Record<string, string> | undefined;
  return (event?: unknown) => {
    bundled ??= readBundledSettings();
    const own = Object.fromEntries(SCHEDULER_CONTEXT.map((c) => [c.variable, undefined]));
    return runTask(task, { ...bundled, ...process.env, ...own, ...schedulerContextEnv(event) }, new AbortController().signal, onSuccess);
  };
}

/** The event of an on-demand run: the task and its command-line options without the dashes. */
export interface OnDemandEvent {
  task: string;
  options?: Record<string, string | number | boolean | (string | number | boolean)[]>;
}

/** Runs an on-demand task in this function's environment; its result or `{ error }`, never a throw. */
export async function runOnDemand(event: OnDemandEvent, env: Record<string, string | undefined>): Promise<unknown> {
  try {
    const task = findTask(event.task);
    if (!runsOnDemand(task.name)) {
      throw new TaskError(`task: "${event.task}" is a scheduled task; this function runs ${env.TASK ?? "its own task"} on its schedule, and on demand only ${ON_DEMAND_TASKS.join(" or ")}`);
    }
    const options = Object.fromEntries(Object.entries(event.options ?? {}).map(([k, v]) => [k, (Array.isArray(v) ? v : [v]).map(String)]));
    const settings = task.cli ? task.cli(options) : optionsToEnv(options);
    return await runTask(task, { ...env, ...settings });
  } catch (err) {
    return { error: oneLine(err) };
  }
}

/** The container image's entry: every task in it records its successful runs when RUN_MARKER_* is set. */
export async function handler(event?: unknown): Promise<unknown> {
  const e = event as Partial<OnDemandEvent> | undefined;
  if (e && typeof e.task === "string" && e.task !== process.env.TASK) return runOnDemand(e as OnDemandEvent, { ...process.env });
  return makeHandler(findTask(process.env.TASK), recordRunMarker)(event);
}
