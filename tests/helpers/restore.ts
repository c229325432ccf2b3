/**
 * The restore task as the restore tests run it: fresh target databases on the machine's PostgreSQL,
 * each dropped by `dropTargets`, and `restore(options)`, the task run with the bucket's settings and
 * the options as the command line gives them (`{ database, target, key, before, clean }`).
 */
import { runTask } from "../../tasks/lib/runtime";
import { restoreOptions, restoreTask, type RestoreResult } from "../../tasks/restore";
import { createTestDatabase } from "./pg";

export type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;

export interface RestoreBench {
  /** Every target made so far, in order. */
  targets: TestDb[];
  /** An empty database to restore into, named `<prefix>_<random>`. */
  freshTarget(): Promise<TestDb>;
  restore(options: Record<string, string>): Promise<RestoreResult>;
  dropTargets(): Promise<void>;
}

/** `prefix`: of the target databases' names; `env`: the settings of the bucket, read when a restore runs (set in beforeAll). */
export function restoreBench(prefix: string, env: () => Record<string, string | undefined>): RestoreBench {
  const targets: TestDb[] = [];
  return {
    targets,
    async freshTarget() {
      const t = await createTestDatabase(prefix);
      targets.push(t);
      return t;
    },
    restore: (options) => runTask(restoreTask, { ...env(), ...restoreOptions(Object.fromEntries(Object.entries(options).map(([k, v]) => [k, [v]]))) }) as Promise<RestoreResult>,
    async dropTargets() {
      for (const t of targets.splice(0)) await t.drop();
    },
  };
}
