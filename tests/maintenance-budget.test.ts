/**
 * The time budget bounds a run: a statement started inside the budget is stopped at its end
 * (statement_timeout set per statement to what is left), not STATEMENT_TIMEOUT_SECONDS later. A
 * VACUUM slowed by cost-based delay (the database's vacuum_cost_delay 100 ms, vacuum_cost_limit 1:
 * about 10 pages a second) stands for a vacuum longer than the budget.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { vacuumTask } from "../tasks/maintenance";
import { purgeTask } from "../tasks/purge";
import { runTask } from "../tasks/lib/runtime";
import { BUDGET_OVERRUN_SECONDS } from "../regime/limits";
import { adminQuery, createTestDatabase } from "./helpers/pg";

describe("a maintenance run ends within its time budget", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase("ht_budget");
    await adminQuery(
      `CREATE TABLE events (id int PRIMARY KEY, body text) WITH (autovacuum_enabled = false);
       INSERT INTO events SELECT g, repeat('x', 200) FROM generate_series(1, 60000) g;
       DELETE FROM events WHERE id % 2 = 0;`,
      [],
      db.name,
    );
    await adminQuery(`ALTER DATABASE "${db.name}" SET vacuum_cost_delay = 100`);
    await adminQuery(`ALTER DATABASE "${db.name}" SET vacuum_cost_limit = 1`);
  }, 60_000);
  afterAll(async () => db?.drop());

  it("a vacuum still running when the 3 s budget ends is stopped then and left for the next run, not failed 60 s later", async () => {
    const started = Date.now();
    const result = await runTask(vacuumTask, {
      DATABASE_URL: db.url,
      LOG_LEVEL: "ERROR",
      PAUSE_MS: "0",
      TIME_BUDGET_SECONDS: "3",
      STATEMENT_TIMEOUT_SECONDS: "60",
      DEAD_PERCENT_MIN: "1",
      DEAD_TUPLES_MIN: "1",
    });
    const seconds = (Date.now() - started) / 1000;
    const r = result.databases[0].report!;
    expect(r.failed).toEqual([]);
    expect(r.done).toEqual([]);
    expect(r.deferred).toEqual(["public.events"]);
    // The budget plus the overrun, with room for a loaded machine; far under the 60 s statement limit.
    expect(seconds).toBeLessThan(3 + BUDGET_OVERRUN_SECONDS);
    // The server stopped the statement too: no VACUUM of the database is left running.
    const running = await adminQuery<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'VACUUM%'", [db.name]);
    expect(running.rows[0].n).toBe(0);
  }, 120_000);

  it("a purge batch waiting past the budget's end (its archive table locked, no lock limit) is rolled back then; the run reports it incomplete", async () => {
    await adminQuery(
      `CREATE TABLE logs (id int PRIMARY KEY, created_at timestamptz NOT NULL);
       INSERT INTO logs SELECT g, now() - interval '90 days' FROM generate_series(1, 100) g;
       CREATE TABLE logs_archive (id int, created_at timestamptz);`,
      [],
      db.name,
    );
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE logs_archive IN ACCESS EXCLUSIVE MODE");
      const started = Date.now();
      const result = await runTask(purgeTask, {
        DATABASE_URL: db.url,
        LOG_LEVEL: "ERROR",
        PAUSE_MS: "0",
        TIME_BUDGET_SECONDS: "3",
        STATEMENT_TIMEOUT_SECONDS: "60",
        LOCK_TIMEOUT_MS: "0",
        PURGE_RULES: JSON.stringify([{ table: "logs", timestampColumn: "created_at", olderThanDays: 30, archiveTable: "logs_archive" }]),
      });
      const seconds = (Date.now() - started) / 1000;
      const [report] = result.databases[0].report!;
      expect([report.deleted, report.archived, report.complete]).toEqual([0, 0, false]);
      expect(seconds).toBeLessThan(3 + BUDGET_OVERRUN_SECONDS);
    } finally {
      await holder.end();
    }
    // Rolled back whole: every row is still there.
    expect((await adminQuery<{ n: number }>("SELECT count(*)::int AS n FROM logs", [], db.name)).rows[0].n).toBe(100);
  }, 120_000);
});
