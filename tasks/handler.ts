/**
 * The Lambda (and container) entry points. A zip function bundles makeHandler(oneTask); the container
 * image bundles `handler`, which picks the task named by TASK. Settings come from the function's
 * environment. A failure throws with a one-line reason, so the invocation counts as an error and the
 * Errors alarm fires.
 */
import { findTask } from "./registry";
import { readBundledSettings } from "./lib/bundled-settings";
import { recordRunMarker } from "./lib/run-marker";
import { runTask, type AnyTask, type OnSuccess } from "./lib/runtime";

/** `onSuccess`: recordRunMarker for tasks the overdue watcher may watch (the catalogue's `runMarker`, tasks/catalogue.ts). */
export function makeHandler(task: AnyTask, onSuccess?: OnSuccess): () => Promise<unknown> {
  // Read once per cold start: settings too large for the environment (tasks/lib/bundled-settings.ts).
  let bundled: Record<string, string> | undefined;
  return () => {
    bundled ??= readBundledSettings();
    return runTask(task, { ...bundled, ...process.env }, new AbortController().signal, onSuccess);
  };
}

/** The container image's entry: every task in it records its successful runs when RUN_MARKER_* is set. */
export async function handler(): Promise<unknown> {
  return makeHandler(findTask(process.env.TASK), recordRunMarker)();
}
