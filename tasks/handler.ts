/**
 * The Lambda (and container) entry points. A zip function bundles makeHandler(oneTask); the container
 * image bundles `handler`, which picks the task named by TASK. Settings come from the function's
 * environment. A failure throws with a one-line reason, so the invocation counts as an error and the
 * Errors alarm fires.
 */
import { findTask } from "./registry";
import { runTask, type AnyTask } from "./lib/runtime";

export function makeHandler(task: AnyTask): () => Promise<unknown> {
  return () => runTask(task, process.env, new AbortController().signal);
}

export async function handler(): Promise<unknown> {
  return makeHandler(findTask(process.env.TASK))();
}
