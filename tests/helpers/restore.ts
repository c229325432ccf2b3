/**
 * The restore task as the restore tests run it: fresh target databases on the machine's PostgreSQL,
 * each dropped by `dropTargets`, and `restore(options)`, the task run with the bucket's settings and
 * the options as the command line gives them (`{ database, target, key, before, clean }`).
 */
import { runTask } from "../../tasks/lib/runtime";
import { restoreOptions, restoreTask, type RestoreResult } from "../../tasks/restore";
import { vi } from "vitest";
import { createTestDatabase } from "./pg";
import { startS3, type TestS3 } from "./s3";

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

/**
 * The set-up of a restore test file: the tasks' log, progress and metric lines silenced, an S3
 * server started, and the settings of its bucket with backups under `pg/`.
 */
export async function restoreBucket(): Promise<{ s3: TestS3; env: Record<string, string | undefined> }> {
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  const s3 = await startS3();
  return { s3, env: { PATH: process.env.PATH, ...s3.env, BACKUP_PREFIX: "pg/" } };
}
