/**
 * db-health judges the states the regime itself produces as healthy and still pages the real
 * problems behind them:
 * - a purge leaves a table past autovacuum's trigger: with autovacuum on, that is autovacuum's next
 *   job (no page, whatever the dead-tuple percentage or the age of the table's last vacuum); a table
 *   autovacuum does not take, or one a vacuum or analyze already found due and left so, still pages.
 *   A private cluster with autovacuum on and a one-hour naptime holds the "before autovacuum runs" state.
 * - the backup's pg_dump holds one transaction for the whole dump: not a long transaction to page;
 *   any other session is, named by application, user and query start.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbHealthTask, type Check } from "../tasks/db-health";
import { BACKUP_APPLICATION_NAME } from "../tasks/lib/db";
import { runTask, TaskError } from "../tasks/lib/runtime";
import { createTestDatabase } from "./helpers/pg";
import { startPrivateCluster, type PrivateCluster } from "./helpers/pg-cluster";

const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs db-health; a critical run's result is read from its TaskError. */
async function health(env: Record<string, string>) {
  try {
    return { error: undefined, checks: byName((await runTask(dbHealthTask, { LOG_LEVEL: "ERROR", ...env })).databases[0].report!.checks) };
  } catch (err) {
    if (!(err instanceof TaskError)) throw err;
    return { error: err.message, checks: byName((err.result as { databases: { report: { checks: Check[] } }[] }).databases[0].report.checks) };
  }
}

describe("db-health after a purge, with autovacuum on (a private cluster)", () => {
  let cluster: PrivateCluster;
  const q = <T extends Record<string, unknown>>(sql: string) => cluster.query<T>(sql, [], "shop");
  const stat = async (table: string) =>
    (await q<{ dead: string; last_autovacuum: Date | null }>(`SELECT n_dead_tup AS dead, last_autovacuum FROM pg_stat_user_tables WHERE relname = '${table}'`))[0];
  const waitDead = async (table: string, atLeast: number) => {
    for (let i = 0; i < 300 && Number((await stat(table)).dead) < atLeast; i++) await sleep(100);
  };
  // Scaled ages: 0.0005 h (1.8 s) and 0.001 h (3.6 s) stand for check_postgres' 24 h and 48 h.
  const ages = { LAST_VACUUM_WARN_HOURS: "0.0005", LAST_VACUUM_CRIT_HOURS: "0.001", LAST_ANALYZE_WARN_HOURS: "0.0005", LAST_ANALYZE_CRIT_HOURS: "0.001" };

  beforeAll(async () => {
    // Autovacuum on, but its next visit an hour away: the state between a purge and autovacuum's run.
    cluster = await startPrivateCluster("db-health-purge", { autovacuum: "on", autovacuum_naptime: "3600" });
    await cluster.query("CREATE DATABASE shop");
    for (const sql of [
      "CREATE TABLE audit_logs (id int PRIMARY KEY, created_at timestamptz NOT NULL)",
      "INSERT INTO audit_logs SELECT g, now() - g * interval '1 minute' FROM generate_series(1, 200000) g",
      "CREATE TABLE archive (id int PRIMARY KEY) WITH (autovacuum_enabled = false)",
      "INSERT INTO archive SELECT generate_series(1, 20000)",
      "CREATE TABLE stuck (id int PRIMARY KEY)",
      "INSERT INTO stuck SELECT generate_series(1, 20000)",
      "VACUUM ANALYZE audit_logs, archive, stuck",
    ])
      await q(sql);
    // The tables' last vacuum is older than the (scaled) critical age, as a quiet table's would be.
    await sleep(4000);
  }, 120_000);
  afterAll(() => cluster?.stop());

  it("a purge that removes 57 % of a table vacuumed long ago is autovacuum's next job: no page", async () => {
    // The purge: rows older than 60 days (the oldest 113,600 of 200,000) deleted.
    await q("DELETE FROM audit_logs WHERE created_at < now() - interval '60 days'");
    await waitDead("audit_logs", 113_000);
    const { error, checks: c } = await health({ DATABASE_URL: cluster.urlOf("shop"), ...ages });
    // The state under test held: autovacuum has not run yet.
    expect((await stat("audit_logs")).last_autovacuum).toBeNull();
    expect(error).toBeUndefined();
    expect([c.dead_tuples.status, c.dead_tuples.value]).toEqual(["ok", 0]);
    expect([c.last_vacuum.status, c.last_vacuum.value]).toEqual(["ok", 0]);
    expect(c.last_vacuum.detail).toBe("table public.audit_logs, just due, autovacuum's next job");
    expect(c.last_vacuum.top![0]).toMatchObject({ table: "public.audit_logs", autovacuum: true, dueSince: null, trigger: 40_050 });
    // About 113,600 dead tuples (57 %): past autovacuum's trigger of 50 + 20 % of 200,000.
    expect(c.last_vacuum.top![0].pending).toBeGreaterThan(113_000);
    expect(c.last_analyze.status).toBe("ok");
  });

  it("still pages a due table autovacuum does not take (autovacuum_enabled = false)", async () => {
    await q("DELETE FROM archive WHERE id <= 12000");
    await waitDead("archive", 12_000);
    const { error, checks: c } = await health({ DATABASE_URL: cluster.urlOf("shop"), ...ages });
    expect(c.dead_tuples.status).toBe("critical");
    expect(c.dead_tuples.detail).toBe("table public.archive, autovacuum off for it");
    expect(c.last_vacuum.status).toBe("critical");
    expect(c.last_vacuum.detail).toMatch(/^table public\.archive, autovacuum off for it, last vacuumed \S+Z$/);
    expect(error).toMatch(/^db-health critical: shop dead_tuples 60 percent >= 50 \(table public\.archive, autovacuum off for it\); shop last_vacuum [\d.]+ hours >= 0\.001 \(table public\.archive, autovacuum off for it, last vacuumed \S+Z\)/);
  });

  it("still pages a table an analyze found due and no vacuum has cleared since", async () => {
    await q("DELETE FROM stuck WHERE id <= 15000");
    await waitDead("stuck", 15_000);
    // An analyze (as autovacuum's, when its vacuum of the table keeps failing) sees the dead tuples.
    await q("ANALYZE stuck");
    const [{ analyzed }] = await q<{ analyzed: Date }>("SELECT last_analyze AS analyzed FROM pg_stat_user_tables WHERE relname = 'stuck'");
    await sleep(4000);
    const { error, checks: c } = await health({ DATABASE_URL: cluster.urlOf("shop"), ...ages, DEAD_TUPLE_WARN_PERCENT: "0", DEAD_TUPLE_CRIT_PERCENT: "0" });
    const row = (c.last_vacuum.top as { table: string; dueSince: string | null; hours: number }[]).find((t) => t.table === "public.stuck")!;
    expect(row.dueSince).toBe(analyzed.toISOString());
    expect(row.hours).toBeGreaterThanOrEqual(0.001);
    expect(error).toMatch(/last_vacuum [\d.]+ hours >= 0\.001 \(table public\.(archive|stuck)/);
    // With the archive table vacuumed, stuck is the one named.
    await q("VACUUM archive");
    const again = await health({ DATABASE_URL: cluster.urlOf("shop"), ...ages, DEAD_TUPLE_WARN_PERCENT: "0", DEAD_TUPLE_CRIT_PERCENT: "0" });
    expect(again.checks.last_vacuum.detail).toBe(`table public.stuck, due since ${analyzed.toISOString()} and not vacuumed by autovacuum since`);
    expect(again.checks.last_vacuum.status).toBe("critical");
  });
});

describe("db-health long transactions: the backup's pg_dump is not one", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase("ht_health_tx");
  });
  afterAll(async () => db?.drop());

  const hold = async (applicationName: string) => {
    const c = new pg.Client({ connectionString: db.url, application_name: applicationName });
    await c.connect();
    await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    await c.query("SELECT count(*) FROM pg_class");
    const [{ pid }] = (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows;
    return { c, pid };
  };
  const thresholds = { OLDEST_TRANSACTION_WARN_SECONDS: "1", OLDEST_TRANSACTION_CRIT_SECONDS: "2", IDLE_IN_TRANSACTION_WARN_SECONDS: "0", IDLE_IN_TRANSACTION_CRIT_SECONDS: "0" };

  it("a backup's snapshot held past the critical age does not page", async () => {
    const backup = await hold(BACKUP_APPLICATION_NAME);
    try {
      await sleep(2500);
      const { error, checks: c } = await health({ DATABASE_URL: db.url, ...thresholds });
      expect(error).toBeUndefined();
      expect([c.oldest_transaction.status, c.oldest_transaction.value]).toEqual(["ok", 0]);
    } finally {
      await backup.c.end();
    }
  });

  it("any other long transaction pages, named by application, user and query start; beside a running backup too", async () => {
    const backup = await hold(BACKUP_APPLICATION_NAME);
    const report = await hold("nightly-report");
    try {
      await sleep(2500);
      const { error, checks: c } = await health({ DATABASE_URL: db.url, ...thresholds });
      expect(c.oldest_transaction.status).toBe("critical");
      expect(c.oldest_transaction.detail).toMatch(new RegExp(`^pid ${report.pid}, application "nightly-report", user postgres from 127\\.0\\.0\\.1, idle in transaction, query started \\S+Z$`));
      expect(error).toMatch(new RegExp(`^db-health critical: ${db.name} oldest_transaction [\\d.]+ seconds >= 2 \\(pid ${report.pid}, application "nightly-report", user postgres`));
    } finally {
      await report.c.end();
      await backup.c.end();
    }
  });
});
