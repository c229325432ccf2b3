/**
 * A backup that pg_restore lists but psql cannot load (a CHECK constraint calling a SQL function that
 * names a table without its schema; pg_dump's scripts run with search_path = ''): the restore's
 * failure message names the cause, psql's `ERROR:` line, not only the QUERY/CONTEXT lines after it.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupTask } from "../tasks/backup";
import { summarizeStderr } from "../tasks/lib/pgtools";
import { runTask } from "../tasks/lib/runtime";
import { adminQuery, createTestDatabase } from "./helpers/pg";
import { restoreBench, restoreBucket, type TestDb } from "./helpers/restore";
import type { TestS3 } from "./helpers/s3";
import { failure } from "./helpers/task-failure";

let s3: TestS3;
let env: Record<string, string | undefined>;
let db: TestDb;
const { freshTarget, restore, dropTargets } = restoreBench(`rec${randomBytes(2).toString("hex")}`, () => env);

beforeAll(async () => {
  ({ s3, env } = await restoreBucket());
  db = await createTestDatabase("recsrc");
  await adminQuery(
    `CREATE TABLE allowed (v int PRIMARY KEY);
     INSERT INTO allowed SELECT generate_series(1, 10);
     CREATE FUNCTION is_allowed(x int) RETURNS bool LANGUAGE sql STABLE AS 'SELECT EXISTS (SELECT 1 FROM allowed WHERE v = x)';
     CREATE TABLE orders (id serial PRIMARY KEY, v int CHECK (is_allowed(v)));
     INSERT INTO orders (v) SELECT 1 + g % 10 FROM generate_series(1, 50) g;`,
    [],
    db.name,
  );
  await runTask(backupTask, { ...env, DATABASE_URL: db.url, COMPRESSION: "none" });
}, 60_000);

afterAll(async () => {
  await dropTargets();
  await db?.drop();
  await s3?.stop();
});

describe("a restore that fails in psql", () => {
  it("names the ERROR line, the cause, and leaves the target empty", async () => {
    const target = await freshTarget();
    const err = await failure(restore({ database: db.name, target: target.url }));
    expect(err.message).toMatch(/ERROR: +relation "allowed" does not exist/);
    expect((await adminQuery("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'", [], target.name)).rows).toEqual([{ n: 0 }]);
  }, 60_000);
});

describe("summarizeStderr", () => {
  it("keeps the error line whole, adds short DETAIL/HINT first, and fits the rest", () => {
    const text = summarizeStderr([
      "psql:<stdin>:80: ERROR:  duplicate key value violates unique constraint \"p_pkey\"",
      "DETAIL:  Key (id)=(1) already exists.",
      `CONTEXT:  COPY p, line 2: ${"x".repeat(700)}`,
      "HINT:  Check the data.",
    ]);
    expect(text).toBe('psql:<stdin>:80: ERROR:  duplicate key value violates unique constraint "p_pkey" DETAIL:  Key (id)=(1) already exists. HINT:  Check the data.');
    expect(summarizeStderr(["pg_restore: error: could not execute query: ERROR:  x", "Command was: CREATE x"])).toBe("pg_restore: error: could not execute query: ERROR:  x Command was: CREATE x");
    expect(summarizeStderr(["a", "b", "c", "d"])).toBe("b c d");
  });
});
