/** The TaskError a task run ends with; fails the test when the run succeeds or throws anything else. */
import { TaskError } from "../../tasks/lib/runtime";

export async function failure(p: Promise<unknown>): Promise<TaskError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TaskError) return err;
    throw err;
  }
  throw new Error("expected the task to fail");
}
