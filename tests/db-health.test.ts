import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbHealthTask, type Check } from "../tasks/db-health";
import { runTask, TaskError } from "../tasks/lib/runtime";
import { adminQuery, createTestDatabase } from "./helpers/pg";
import { captureEmf } from "./helpers/emf";

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

describe("db-health", () => {
  let db: Db;
  beforeAll(async () => {
    db = await createTestDatabase("mr_health");
    await adminQuery(
      `CREATE TABLE orders (id int PRIMARY KEY, total numeric) WITH (autovacuum_enabled = false);
       INSERT INTO orders SELECT g, g FROM generate_series(1, 2000) g;
       DELETE FROM orders WHERE id <= 500;
       CREATE EXTENSION pg_stat_statements;`,
      [],
      db.name,
    );
    for (let i = 0; i < 100; i++) {
      const r = await adminQuery<{ d: string }>("SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'orders'", [], db.name);
      if (Number(r.rows[0]?.d) === 500) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });
  afterAll(async () => db?.drop());

  const env = (extra: Record<string, string> = {}) => ({ DATABASE_URL: db.url, LOG_LEVEL: "ERROR", ...extra });
  const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c]));

  it("reports each check with its value, thresholds and status", async () => {
    const result = await runTask(dbHealthTask, env());
    const d = result.databases[0];
    expect(d.database).toBe(db.name);
    const c = byName(d.report!.checks);
    expect(Object.keys(c)).toEqual([
      "connections",
      "wraparound",
      "dead_tuples",
      "oldest_transaction",
      "idle_in_transaction",
      "last_vacuum",
      "last_analyze",
      "database_size",
      "slow_statements",
    ]);
    const max = Number((await adminQuery<{ m: string }>("SELECT current_setting('max_connections') AS m")).rows[0].m);
    expect(c.connections.value).toBeGreaterThanOrEqual(100 / max);
    expect(c.connections.value).toBeLessThan(90);
    expect([c.connections.status, c.connections.warn, c.connections.crit]).toEqual(["ok", 90, 95]);

    const wrap = Number((await adminQuery<{ a: string }>("SELECT max(age(datfrozenxid)) AS a FROM pg_database WHERE datallowconn")).rows[0].a);
    expect(c.wraparound.value).toBeGreaterThan(0);
    expect(c.wraparound.value).toBeLessThanOrEqual(wrap);
    expect([c.wraparound.status, c.wraparound.warn, c.wraparound.crit]).toEqual(["ok", 1_300_000_000, 1_400_000_000]);

    // 500 dead of 2000 rows: 25 %, above the 20 % warning, below the 50 % critical.
    expect([c.dead_tuples.value, c.dead_tuples.status, c.dead_tuples.detail]).toEqual([25, "warning", "table public.orders"]);
    expect(c.dead_tuples.top).toEqual([{ table: "public.orders", live: 1500, dead: 500, percent: 25 }]);
    expect([c.oldest_transaction.value, c.oldest_transaction.status]).toEqual([0, "ok"]);
    expect([c.idle_in_transaction.value, c.idle_in_transaction.status]).toEqual([0, "ok"]);
    expect(c.last_vacuum.status).toBe("ok");
    expect(c.last_vacuum.detail).toBe("table public.orders");

    const size = Number((await adminQuery<{ s: string }>("SELECT pg_database_size($1) AS s", [db.name])).rows[0].s);
    expect(c.database_size.value).toBe(size);
    expect(c.database_size.status).toBe("ok");
    // The extension exists but the server does not preload it: reported, not failed.
    expect(c.slow_statements.status).toBe("unavailable");
    expect(c.slow_statements.detail).toMatch(/shared_preload_libraries/);
    expect(d.report!.status).toBe("warning");
  });

  it("measures an idle-in-transaction session of this database", async () => {
    const idle = new pg.Client({ connectionString: db.url });
    await idle.connect();
    try {
      await idle.query("BEGIN");
      const pid = (await idle.query("SELECT pg_backend_pid() AS p")).rows[0].p;
      await new Promise((r) => setTimeout(r, 1300));
      const result = await runTask(dbHealthTask, env({ IDLE_IN_TRANSACTION_WARN_SECONDS: "1", IDLE_IN_TRANSACTION_CRIT_SECONDS: "600" }));
      const c = byName(result.databases[0].report!.checks);
      expect(c.idle_in_transaction.status).toBe("warning");
      expect(c.idle_in_transaction.detail).toBe(`pid ${pid}`);
      expect(c.idle_in_transaction.value).toBeGreaterThanOrEqual(1.2);
      expect(c.idle_in_transaction.value).toBeLessThan(30);
      expect(c.oldest_transaction.value).toBeGreaterThanOrEqual(1.2);
    } finally {
      await idle.end();
    }
  });

  it("fails with one line naming the critical check when a threshold is crossed", async () => {
    const err = await runTask(dbHealthTask, env({ CONNECTIONS_WARN_PERCENT: "0.5", CONNECTIONS_CRIT_PERCENT: "1" })).catch((e) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err.message).toMatch(new RegExp(`^db-health critical: ${db.name} connections \\d+(\\.\\d+)? percent >= 1$`));
    const c = byName(err.result.databases[0].report.checks);
    expect(c.connections.status).toBe("critical");
    expect(err.result.databases[0].report.status).toBe("critical");
  });

  it("emits the four metrics with a Database dimension as Embedded Metric Format lines", async () => {
    const emf = await captureEmf(() => runTask(dbHealthTask, env()));
    const perDatabase = emf.filter((e) => e.Database === db.name);
    const names = perDatabase.map((e) => e._aws.CloudWatchMetrics[0].Metrics[0].Name);
    expect(names).toEqual(["ConnectionsPercent", "WraparoundAge", "DeadTuplePercentMax", "OldestTransactionSeconds"]);
    for (const e of perDatabase) expect(e._aws.CloudWatchMetrics[0].Dimensions[0]).toContain("Database");
    expect(perDatabase[2].DeadTuplePercentMax).toBe(25);
  });

  it("rejects bad thresholds with one line naming the key", async () => {
    await expect(runTask(dbHealthTask, env({ CONNECTIONS_WARN_PERCENT: "96" }))).rejects.toThrow("invalid setting CONNECTIONS_WARN_PERCENT: must not exceed CONNECTIONS_CRIT_PERCENT (95)");
    await expect(runTask(dbHealthTask, env({ WRAPAROUND_CRIT_AGE: "3000000000" }))).rejects.toThrow("invalid setting WRAPAROUND_CRIT_AGE: must be <= 2147483647");
    await expect(runTask(dbHealthTask, { LOG_LEVEL: "ERROR" })).rejects.toThrow("DATABASE_URL: not set (or DATABASES for several databases)");
  });
});
