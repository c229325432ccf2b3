/**
 * "Autovacuum counted": the last-vacuum and last-analyze ages run from autovacuum's own runs too. The
 * shared test server runs with autovacuum off, so this file starts a private PostgreSQL cluster of the
 * machine's newest installed version (initdb into a temporary directory, autovacuum on with a 1 s
 * naptime) and lets the real autovacuum daemon vacuum and analyze a table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbHealthTask, type Check } from "../tasks/db-health";
import { runTask } from "../tasks/lib/runtime";
import { startPrivateCluster, type PrivateCluster } from "./helpers/pg-cluster";

describe("db-health counts autovacuum's runs (a private cluster with autovacuum on)", () => {
  let cluster: PrivateCluster;
  let url: string;
  const query = <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) => cluster.query<T>(sql, params);
  const waitFor = async (sql: string, ok: (row: Record<string, unknown>) => boolean, what: string) => {
    for (let i = 0; i < 300; i++) {
      const [row] = await query(sql);
      if (row && ok(row)) return row;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`autovacuum did not ${what} within 30 s`);
  };

  beforeAll(async () => {
    cluster = await startPrivateCluster("db-health-autovacuum", { autovacuum: "on", autovacuum_naptime: "1" });
    url = cluster.url;

    // autovacuum_vacuum_threshold/_analyze_threshold 0 and tiny scale factors: the daemon acts at once.
    await query(
      `CREATE TABLE busy (id int PRIMARY KEY) WITH (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0.01);
       INSERT INTO busy SELECT generate_series(1, 2000);
       DELETE FROM busy WHERE id <= 500;
       CREATE TABLE neglected (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
       INSERT INTO neglected SELECT generate_series(1, 2000);
       DELETE FROM neglected WHERE id <= 500;`,
    );
    await waitFor("SELECT last_autovacuum, last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'busy'", (r) => r.last_autovacuum !== null && r.last_autoanalyze !== null, "vacuum and analyze busy");
    // Keep the daemon off it from now on, and make it due again: its last runs stay autovacuum's.
    await query("ALTER TABLE busy SET (autovacuum_enabled = false)");
    await query("DELETE FROM busy WHERE id <= 1000");
    await waitFor("SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'busy'", (r) => Number(r.d) >= 500, "show busy's new dead tuples");
  }, 120_000);

  afterAll(() => cluster?.stop());

  it("measures a table vacuumed and analyzed only by autovacuum from autovacuum's runs, not as never", async () => {
    const [s] = await query<{ last_vacuum: Date | null; last_autovacuum: Date; last_analyze: Date | null; last_autoanalyze: Date }>(
      "SELECT last_vacuum, last_autovacuum, last_analyze, last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'busy'",
    );
    expect([s.last_vacuum, s.last_analyze]).toEqual([null, null]);
    const result = await runTask(dbHealthTask, { DATABASE_URL: url, LOG_LEVEL: "ERROR", LAST_VACUUM_WARN_HOURS: "0.0001", LAST_VACUUM_CRIT_HOURS: "1", LAST_ANALYZE_WARN_HOURS: "0.0001", LAST_ANALYZE_CRIT_HOURS: "1" });
    const c = Object.fromEntries(result.databases[0].report!.checks.map((x: Check) => [x.name, x]));
    const row = (check: Check, table: string) => (check.top as { table: string; last: string | null; hours: number }[]).find((t) => t.table === table);

    const busyVacuum = row(c.last_vacuum, "public.busy")!;
    expect(busyVacuum.last).toBe(s.last_autovacuum.toISOString());
    // Hours are rounded to 0.0001 h (0.36 s): a run right after autovacuum's may read 0.
    expect(busyVacuum.hours).toBeGreaterThanOrEqual(0);
    expect(busyVacuum.hours).toBeLessThan(0.1);
    const busyAnalyze = row(c.last_analyze, "public.busy")!;
    expect(busyAnalyze.last).toBe(s.last_autoanalyze.toISOString());
    // The table autovacuum never touched is the oldest, reported as never vacuumed.
    expect(c.last_vacuum.top![0]).toMatchObject({ table: "public.neglected", last: null });
    // A new cluster's statistics were never reset: they count from the server start.
    const [{ started }] = await query<{ started: Date }>("SELECT pg_postmaster_start_time() AS started");
    expect(c.last_vacuum.detail).toMatch(new RegExp(`^table public\\.neglected, autovacuum off for it, never vacuumed \\(none recorded since statistics began ${started.toISOString()}, counted from then; PostgreSQL keeps no creation time, so a newer table counts as that old\\)`));
    expect(c.last_vacuum.status).toBe("warning");
  });

  it("after a manual VACUUM the newer of the two runs counts", async () => {
    await query("VACUUM busy");
    await query("DELETE FROM busy WHERE id <= 1500");
    await waitFor("SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'busy'", (r) => Number(r.d) >= 500, "show busy's new dead tuples");
    const [s] = await query<{ last_vacuum: Date; last_autovacuum: Date }>("SELECT last_vacuum, last_autovacuum FROM pg_stat_user_tables WHERE relname = 'busy'");
    expect(s.last_vacuum.getTime()).toBeGreaterThan(s.last_autovacuum.getTime());
    // busy is now half dead tuples: the dead-tuple check is switched off here (0), it is not under test.
    const result = await runTask(dbHealthTask, { DATABASE_URL: url, LOG_LEVEL: "ERROR", DEAD_TUPLE_WARN_PERCENT: "0", DEAD_TUPLE_CRIT_PERCENT: "0" });
    const c = Object.fromEntries(result.databases[0].report!.checks.map((x: Check) => [x.name, x]));
    expect((c.last_vacuum.top as { table: string; last: string }[]).find((t) => t.table === "public.busy")!.last).toBe(s.last_vacuum.toISOString());
  });
});
