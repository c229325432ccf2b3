/**
 * Another session's temporary tables: only that session can vacuum, analyze or reindex them
 * ("cannot reindex temporary tables of other sessions"). Every maintenance and health query leaves
 * them out alike (tasks/lib/pgmaint.ts regimeRelation).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbHealthTask, type Check } from "../tasks/db-health";
import { reindexTask, vacuumTask } from "../tasks/maintenance";
import { runTask } from "../tasks/lib/runtime";
import { adminQuery, createTestDatabase } from "./helpers/pg";

describe("maintenance and health leave other sessions' temporary tables alone", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let etl: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase("ht_temp_tables");
    await adminQuery(
      `CREATE TABLE sparse (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
       INSERT INTO sparse SELECT generate_series(1, 100000);
       DELETE FROM sparse WHERE id % 10 <> 0;`,
      [],
      db.name,
    );
    await adminQuery("VACUUM ANALYZE sparse", [], db.name);
    // An ETL session's staging table: as bloated as sparse, and larger.
    etl = new pg.Client({ connectionString: db.url, application_name: "etl" });
    await etl.connect();
    await etl.query("CREATE TEMP TABLE staging (id int PRIMARY KEY, v text)");
    await etl.query("INSERT INTO staging SELECT g, 'x' FROM generate_series(1, 200000) g");
    await etl.query("DELETE FROM staging WHERE id % 10 <> 0");
    await etl.query("ANALYZE staging");
  }, 120_000);
  afterAll(async () => {
    await etl?.end();
    await db?.drop();
  });
  const base = { LOG_LEVEL: "ERROR", PAUSE_MS: "0" };

  it("reindex rebuilds the bloated table's index and does not pick the temporary one (nor fail on it)", async () => {
    const result = await runTask(reindexTask, { ...base, DATABASE_URL: db.url, INDEX_SIZE_MIN_MB: "1", BLOAT_PERCENT_MIN: "30" });
    const r = result.databases[0].report!;
    expect(r.failed).toEqual([]);
    expect(r.reindexed.map((i) => i.index)).toEqual(["public.sparse_pkey"]);
    // The staging index is still the session's own, untouched.
    expect((await etl.query("SELECT count(*)::int AS n FROM staging")).rows[0].n).toBe(20000);
  });

  it("vacuum and db-health do not list it either", async () => {
    const vac = await runTask(vacuumTask, { ...base, DATABASE_URL: db.url, DEAD_PERCENT_MIN: "1", DEAD_TUPLES_MIN: "1" });
    expect(JSON.stringify(vac.databases[0].report)).not.toMatch(/staging|pg_temp/);
    const health = await runTask(dbHealthTask, { ...base, DATABASE_URL: db.url, DEAD_TUPLE_WARN_PERCENT: "0", DEAD_TUPLE_CRIT_PERCENT: "0" });
    const size = health.databases[0].report!.checks.find((c: Check) => c.name === "database_size")!;
    expect((size.top as { table: string }[]).map((t) => t.table)).toEqual(["public.sparse"]);
  });
});
