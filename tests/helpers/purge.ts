/**
 * A throwaway database for purge tests (tests/helpers/pg.ts), created before the file's tests and
 * dropped after, with the few ways the tests run and read it.
 */
import { afterAll, beforeAll } from "vitest";
import { runTask } from "../../tasks/lib/runtime";
import { purgeTask } from "../../tasks/purge";
import { adminQuery, createTestDatabase } from "./pg";

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

export function purgeDatabase(prefix: string) {
  let db: Db;
  beforeAll(async () => {
    db = await createTestDatabase(prefix);
  });
  afterAll(async () => db?.drop());
  /** The task's settings for `rules` (a list of purge rules) on this database. */
  const env = (rules: unknown) => ({ DATABASE_URL: db.url, PAUSE_MS: "0", LOG_LEVEL: "ERROR", PURGE_RULES: JSON.stringify(rules) });
  return {
    /** The database (name, url), once beforeAll has run. */
    db: () => db,
    sql: (text: string) => adminQuery(text, [], db.name),
    env,
    /** The `id` column of a query's rows, as numbers. */
    ids: async (text: string) => (await adminQuery<{ id: number }>(text, [], db.name)).rows.map((r) => Number(r.id)),
    /** The one-line message a run of `rules` fails with; throws when the run succeeds. */
    refused: async (rules: unknown) => {
      try {
        await runTask(purgeTask, env(rules));
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`${JSON.stringify(rules)} was accepted`);
    },
  };
}
