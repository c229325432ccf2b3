/**
 * Targeted `vacuum` task against the baseline of the operations guides: a blanket `VACUUM ANALYZE`
 * of the whole database. `npx tsx bench/vacuum.ts`
 *
 * Database: 50 tables (autovacuum off on all of them, so nothing but the measured run cleans up):
 * 3 bloated tables (BENCH_BLOATED_ROWS rows, half of them updated: 50 % dead tuples) and 47 clean
 * tables (BENCH_CLEAN_ROWS rows each, no dead tuples). Two states of the clean tables are measured:
 *
 *  - "fresh": the clean tables were just bulk-loaded and never vacuumed or analyzed (a nightly
 *    import, a restored database). A blanket VACUUM ANALYZE also sets hint bits and the visibility
 *    map and samples statistics there: work autovacuum's insert threshold does anyway, and nothing
 *    a dead-tuple clean-up needs.
 *  - "settled": the clean tables were vacuumed and analyzed before. A blanket run then skips their
 *    heap pages through the visibility map but still analyzes every table.
 *
 * Before each measured run the state is rebuilt the same way (bloated tables reloaded and updated,
 * "fresh" clean tables reloaded), followed by a CHECKPOINT, so both runs face the same database.
 * The targeted run uses PAUSE_MS=0 (the default pause of 500 ms between tables is a courtesy to
 * replicas, not work).
 */
import pg from "pg";
import { runTask } from "../tasks/lib/runtime";
import { vacuumTask } from "../tasks/maintenance";
import { adminQuery, createTestDatabase } from "../tests/helpers/pg";

const CLEAN_TABLES = 47;
const BLOATED_TABLES = 3;
const CLEAN_ROWS = Number(process.env.BENCH_CLEAN_ROWS ?? 100_000);
const BLOATED_ROWS = Number(process.env.BENCH_BLOATED_ROWS ?? 200_000);

const clean = Array.from({ length: CLEAN_TABLES }, (_, i) => `clean_${String(i + 1).padStart(2, "0")}`);
const bloated = Array.from({ length: BLOATED_TABLES }, (_, i) => `bloated_${i + 1}`);

async function main() {
  const db = await createTestDatabase("bench_vacuum");
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const q = (sql: string) => c.query(sql);
  const load = async (t: string, rows: number) => {
    await q(`TRUNCATE ${t}`);
    await q(`INSERT INTO ${t} SELECT g, g % 1000, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, ${rows}) g`);
  };
  const create = async (t: string) => {
    await q(`CREATE TABLE ${t} (id int PRIMARY KEY, grp int NOT NULL, payload text NOT NULL) WITH (autovacuum_enabled = false)`);
    await q(`CREATE INDEX ON ${t} (grp)`);
  };
  const deadOf = async () => {
    await q("SELECT pg_stat_clear_snapshot()");
    const r = await c.query<{ relname: string; d: string }>(`SELECT relname, n_dead_tup AS d FROM pg_stat_user_tables WHERE relname LIKE 'bloated_%' ORDER BY 1`);
    return r.rows.reduce((a, x) => a + Number(x.d), 0);
  };

  try {
    for (const t of clean) await create(t);
    process.stderr.write(`database ${db.name}: ${CLEAN_TABLES} clean tables x ${CLEAN_ROWS} rows, ${BLOATED_TABLES} bloated tables x ${BLOATED_ROWS} rows\n`);

    const reset = async (fresh: boolean) => {
      if (fresh) for (const t of clean) await load(t, CLEAN_ROWS);
      for (const t of bloated) {
        // Recreated (new statistics entry): the previous measured run vacuumed it seconds ago.
        await q(`DROP TABLE IF EXISTS ${t}`);
        await create(t);
        await load(t, BLOATED_ROWS);
        // ANALYZE, not VACUUM: a vacuum minutes ago would (rightly) keep the task away for an hour.
        await q(`ANALYZE ${t}`);
        await q(`UPDATE ${t} SET payload = md5(payload) WHERE id % 2 = 0`);
      }
      await q("CHECKPOINT");
      // The updating session's statistics reach the shared counters asynchronously: wait for them.
      const expected = BLOATED_TABLES * Math.floor(BLOATED_ROWS / 2);
      for (let i = 0; i < 200 && (await deadOf()) < expected; i++) await new Promise((r) => setTimeout(r, 100));
      return deadOf();
    };

    const results: Record<string, { targetedMs: number; blanketMs: number; deadBefore: number; targetedLeft: number; blanketLeft: number; tables: number }> = {};
    for (const state of ["fresh", "settled"] as const) {
      if (state === "settled") {
        for (const t of clean) await q(`VACUUM ANALYZE ${t}`);
      }
      // Targeted run.
      const deadBefore = await reset(state === "fresh");
      const write = process.stdout.write.bind(process.stdout);
      process.stdout.write = ((chunk: string) => (String(chunk).includes('"_aws"') ? true : write(chunk))) as typeof process.stdout.write;
      let t0 = performance.now();
      let report;
      try {
        report = (await runTask(vacuumTask, { DATABASE_URL: db.url, PAUSE_MS: "0", LOG_LEVEL: "ERROR" })).databases[0].report!;
      } finally {
        process.stdout.write = write;
      }
      const targetedMs = performance.now() - t0;
      const targetedLeft = await deadOf();

      // Baseline: blanket VACUUM ANALYZE, from the same state.
      await reset(state === "fresh");
      t0 = performance.now();
      await q("VACUUM ANALYZE");
      const blanketMs = performance.now() - t0;
      const blanketLeft = await deadOf();
      results[state] = { targetedMs, blanketMs, deadBefore, targetedLeft, blanketLeft, tables: report.done.length };
    }

    const size = (await adminQuery<{ s: string }>("SELECT pg_size_pretty(pg_database_size($1)) AS s", [db.name])).rows[0].s;
    console.log(`\nvacuum benchmark: 50 tables (3 bloated, ${BLOATED_ROWS} rows with 50 % dead; 47 clean, ${CLEAN_ROWS} rows), database ${size}`);
    console.log("state    | targeted vacuum task            | baseline VACUUM ANALYZE (blanket) | speed-up | dead tuples left (targeted / blanket)");
    for (const [state, r] of Object.entries(results)) {
      console.log(
        `${state.padEnd(8)} | ${r.targetedMs.toFixed(0).padStart(7)} ms, ${r.tables} tables vacuumed  | ${r.blanketMs.toFixed(0).padStart(7)} ms, 50 tables              | ${(r.blanketMs / r.targetedMs).toFixed(1).padStart(6)}x  | ${r.targetedLeft} of ${r.deadBefore} (${((100 * r.targetedLeft) / r.deadBefore).toFixed(1)} %) / ${r.blanketLeft}`,
      );
    }
    console.log("targets: targeted >= 5x faster than blanket; bloated tables left with <= 10 % of their dead tuples");
  } finally {
    await c.end();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
