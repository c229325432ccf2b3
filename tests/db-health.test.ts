import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dbHealthTask, type Check } from "../tasks/db-health";
import { vacuumTask } from "../tasks/maintenance";
import { runTask, TaskError } from "../tasks/lib/runtime";
import { adminQuery, createTestDatabase } from "./helpers/pg";
import { captureJsonLines, type EmfLine } from "./helpers/emf";

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

describe("db-health", () => {
  let db: Db;
  beforeAll(async () => {
    db = await createTestDatabase("mr_health");
    // Statistics of this database start now: a table with no vacuum recorded counts from here.
    await adminQuery("SELECT pg_stat_reset()", [], db.name);
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
      "replication_slots",
      "replication_slot_xmin",
      "lock_waits",
      "prepared_transactions",
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
    // The server runs with autovacuum off: nothing automatic will clear them, so they count.
    expect([c.dead_tuples.value, c.dead_tuples.status, c.dead_tuples.detail]).toEqual([25, "warning", "table public.orders, autovacuum off for it"]);
    expect(c.dead_tuples.top).toEqual([{ table: "public.orders", live: 1500, dead: 500, percent: 25, trigger: 50, autovacuum: false }]);
    expect([c.oldest_transaction.value, c.oldest_transaction.status]).toEqual([0, "ok"]);
    expect([c.idle_in_transaction.value, c.idle_in_transaction.status]).toEqual([0, "ok"]);
    // orders has 500 dead tuples, past autovacuum's trigger (50 + 20 % of reltuples, never counted: 0),
    // and no vacuum on record since the statistics were reset a moment ago: under the default 24 h.
    const since = (await adminQuery<{ r: Date }>("SELECT stats_reset AS r FROM pg_stat_database WHERE datname = current_database()", [], db.name)).rows[0].r;
    expect([c.last_vacuum.status, c.last_vacuum.unit, c.last_vacuum.warn, c.last_vacuum.crit]).toEqual(["ok", "hours", 24, 48]);
    expect(c.last_vacuum.value).toBeLessThan(0.1);
    expect(c.last_vacuum.detail).toBe(`table public.orders, autovacuum off for it, never vacuumed (none recorded since statistics began ${since.toISOString()}, counted from then; PostgreSQL keeps no creation time, so a newer table counts as that old)`);
    expect(c.last_vacuum.top).toEqual([{ table: "public.orders", last: null, since: since.toISOString(), autovacuum: false, hours: c.last_vacuum.value, pending: 500, trigger: 50, live: 1500, dead: 500 }]);
    expect([c.last_analyze.status, c.last_analyze.warn, c.last_analyze.crit]).toEqual(["ok", 24, 48]);
    expect(c.last_analyze.top).toEqual([expect.objectContaining({ table: "public.orders", last: null, pending: 2500, trigger: 50 })]);

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
      expect(c.idle_in_transaction.detail).toMatch(new RegExp(`^pid ${pid}, application \\(none\\), user postgres from 127\\.0\\.0\\.1, idle in transaction, query started \\S+Z$`));
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
    expect(err.message).toMatch(new RegExp(`^db-health critical: ${db.name} connections \\d+(\\.\\d+)? percent >= 1 \\(\\d+ of \\d+ connections\\)$`));
    const c = byName(err.result.databases[0].report.checks);
    expect(c.connections.status).toBe("critical");
    expect(err.result.databases[0].report.status).toBe("critical");
  });

  it("publishes the four metrics its alarms read with a Database dimension; dead tuples and the oldest transaction are log lines", async () => {
    let result: Awaited<ReturnType<typeof runTask<unknown>>> | undefined;
    const lines = await captureJsonLines(async () => (result = await runTask(dbHealthTask, env({ LOG_LEVEL: "INFO" }))));
    const perDatabase = (lines.filter((l) => "_aws" in l) as EmfLine[]).filter((e) => e.Database === db.name);
    const names = perDatabase.map((e) => e._aws.CloudWatchMetrics[0].Metrics[0].Name);
    expect(names).toEqual(["ConnectionsPercent", "WraparoundAge", "LastVacuumAgeHours", "LastAnalyzeAgeHours"]);
    // The same dimensions as the other db-health metrics (service, Task, Database): no per-table metric.
    for (const e of perDatabase) expect(e._aws.CloudWatchMetrics[0].Dimensions).toEqual([["service", "Task", "Database"]]);
    const c = byName((result as { databases: { report: { checks: Check[] } }[] }).databases[0].report.checks);
    expect(perDatabase[2].LastVacuumAgeHours).toBe(c.last_vacuum.value);
    expect(perDatabase[2].LastVacuumAgeHours).toBeGreaterThan(0);
    expect(perDatabase[3].LastAnalyzeAgeHours).toBe(c.last_analyze.value);
    // No alarm reads these two: a structured log line each, no custom metric.
    const logged = lines.filter((l) => l.message === "metric" && l.Database === db.name).map((l) => [l.metric, l.value]);
    expect(logged).toEqual([
      ["DeadTuplePercentMax", 25],
      ["OldestTransactionSeconds", c.oldest_transaction.value],
    ]);
  });

  it("samples its signals: a healthy WraparoundAge goes out in the first run of each UTC day, the connections, vacuum and analyze ages in the first of each 6 hours; at or past the warning level, every run", async () => {
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    /** Names of the metrics published for this database by one run every 15 minutes (SCHEDULE_INTERVAL_SECONDS 900) started at `at`. */
    const sentAt = async (at: number, extra: Record<string, string> = {}) => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(at);
      try {
        const lines = await captureJsonLines(() => runTask(dbHealthTask, env({ SCHEDULE_INTERVAL_SECONDS: "900", ...extra })));
        return (lines.filter((l) => "_aws" in l) as EmfLine[]).filter((e) => e.Database === db.name).map((e) => e._aws.CloudWatchMetrics[0].Metrics[0].Name).join(" ");
      } finally {
        vi.useRealTimers();
      }
    };
    const h = (hours: number, minutes: number) => day + hours * 3_600_000 + minutes * 60_000;
    // Healthy: the orders table has gone minutes without a vacuum, against a warning of 24 h.
    expect(await sentAt(h(0, 2))).toBe("ConnectionsPercent WraparoundAge LastVacuumAgeHours LastAnalyzeAgeHours");
    expect(await sentAt(h(0, 17))).toBe("");
    expect(await sentAt(h(6, 2))).toBe("ConnectionsPercent LastVacuumAgeHours LastAnalyzeAgeHours");
    expect(await sentAt(h(13, 47))).toBe("");
    // Past the warning level (the P2 alarm's threshold, from the same setting): every run, whatever the hour.
    const warn = { LAST_VACUUM_WARN_HOURS: "0.0001", WRAPAROUND_WARN_AGE: "1" };
    expect(await sentAt(h(0, 17), warn)).toBe("WraparoundAge LastVacuumAgeHours");
    expect(await sentAt(h(13, 47), warn)).toBe("WraparoundAge LastVacuumAgeHours");
    // Connections at or past CONNECTIONS_WARN_PERCENT (the connections alarm's threshold): every run.
    const busy = { CONNECTIONS_WARN_PERCENT: "0.001" };
    expect(await sentAt(h(13, 47), busy)).toBe("ConnectionsPercent");
  });

  it("rejects a bad SCHEDULE_INTERVAL_SECONDS with one line naming it", async () => {
    await expect(runTask(dbHealthTask, env({ SCHEDULE_INTERVAL_SECONDS: "15m" }))).rejects.toThrow('invalid setting SCHEDULE_INTERVAL_SECONDS: must be a whole number of seconds >= 1, got "15m"');
  });

  it("rejects bad thresholds with one line naming the key", async () => {
    await expect(runTask(dbHealthTask, env({ CONNECTIONS_WARN_PERCENT: "96" }))).rejects.toThrow("invalid setting CONNECTIONS_WARN_PERCENT: must not exceed CONNECTIONS_CRIT_PERCENT (95)");
    await expect(runTask(dbHealthTask, env({ WRAPAROUND_CRIT_AGE: "3000000000" }))).rejects.toThrow("invalid setting WRAPAROUND_CRIT_AGE: must be <= 2147483647");
    await expect(runTask(dbHealthTask, env({ LAST_VACUUM_WARN_HOURS: "50" }))).rejects.toThrow("invalid setting LAST_VACUUM_WARN_HOURS: must not exceed LAST_VACUUM_CRIT_HOURS (48)");
    await expect(runTask(dbHealthTask, env({ LAST_ANALYZE_CRIT_HOURS: "-1" }))).rejects.toThrow("invalid setting LAST_ANALYZE_CRIT_HOURS: must be >= 0");
    await expect(runTask(dbHealthTask, { LOG_LEVEL: "ERROR" })).rejects.toThrow("DATABASE_URL: not set (or DATABASES for several databases)");
  });
});

/**
 * check_postgres last_vacuum / last_analyze, autovacuum counted, over the tables that need it. Real
 * timestamps on the real server: the thresholds are fractions of an hour set per run.
 */
describe("db-health last vacuum and last analyze", () => {
  let db: Db;
  let other: pg.Client;
  const waitFor = async (sql: string, ok: (row: Record<string, unknown>) => boolean) => {
    for (let i = 0; i < 100; i++) {
      const r = await adminQuery(sql, [], db.name);
      if (r.rows[0] && ok(r.rows[0])) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`statistics never showed: ${sql}`);
  };
  const stat = async (table: string) =>
    (await adminQuery<{ dead: string; last_vacuum: Date | null; last_analyze: Date | null }>("SELECT n_dead_tup AS dead, last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = $1", [table], db.name)).rows[0];
  /** Seconds since a table's statistics began (the reset below): the age of a table never vacuumed. */
  /**
   * Hours since `table`'s last vacuum (analyze) less half a second: a threshold the tables done before
   * the four-second pause are at and recent (done after it) is not, however slow the machine is.
   */
  const thresholdBelow = async (table: string, kind: "vacuum" | "analyze") =>
    Math.round(
      Number((await adminQuery<{ s: number }>(`SELECT extract(epoch FROM now() - last_${kind})::float8 - 0.5 AS s FROM pg_stat_user_tables WHERE relname = $1`, [table], db.name)).rows[0].s) * 1000,
    ) / 3_600_000;
  beforeAll(async () => {
    db = await createTestDatabase("mr_health_age");
    await adminQuery("SELECT pg_stat_reset()", [], db.name);
    // autovacuum is off for every table here, so only the statements below vacuum or analyze them
    // (one at a time: VACUUM cannot run in a multi-statement string).
    for (const sql of [
      "CREATE TABLE neglected (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)",
      "INSERT INTO neglected SELECT g, 'x' FROM generate_series(1, 2000) g",
      "ANALYZE neglected",
      "DELETE FROM neglected WHERE id <= 600",
      // a quiet, static table: vacuumed and analyzed once, untouched since
      "CREATE TABLE static (id int PRIMARY KEY) WITH (autovacuum_enabled = false)",
      "INSERT INTO static SELECT generate_series(1, 2000)",
      "VACUUM ANALYZE static",
      // dead tuples, but below autovacuum's trigger (50 + 20 % of 2000 = 450)
      "CREATE TABLE few_dead (id int PRIMARY KEY) WITH (autovacuum_enabled = false)",
      "INSERT INTO few_dead SELECT generate_series(1, 2000)",
      "VACUUM ANALYZE few_dead",
      "DELETE FROM few_dead WHERE id <= 300",
      "ANALYZE few_dead",
      // its own storage parameters make 5 dead tuples due
      "CREATE TABLE eager (id int PRIMARY KEY) WITH (autovacuum_enabled = false, autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0)",
      "INSERT INTO eager SELECT generate_series(1, 2000)",
      "VACUUM ANALYZE eager",
      "DELETE FROM eager WHERE id <= 5",
      "ANALYZE eager",
      "CREATE TABLE recent (id int PRIMARY KEY) WITH (autovacuum_enabled = false)",
      "INSERT INTO recent SELECT generate_series(1, 2000)",
    ])
      await adminQuery(sql, [], db.name);
    // Another session's temporary table with dead tuples: nobody else can vacuum it, so it never counts.
    other = new pg.Client({ connectionString: db.url });
    await other.connect();
    await other.query("CREATE TEMP TABLE scratch AS SELECT generate_series(1, 2000) AS id; DELETE FROM scratch WHERE id <= 1000");
    // Its statistics are visible now, not only after the session's next flush (PostgreSQL 15+).
    await other.query("SELECT pg_stat_force_next_flush()");
    await other.query("SELECT 1");
    await waitFor("SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'scratch'", (r) => Number(r.d) === 1000);
    await waitFor("SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'neglected'", (r) => Number(r.d) === 600);
    // Gone by long enough that "never vacuumed" is clearly older than what follows.
    await new Promise((r) => setTimeout(r, 4000));
    // recent: vacuumed and analyzed now, then past the trigger again (600 dead of 2000).
    await adminQuery("VACUUM ANALYZE recent", [], db.name);
    await adminQuery("DELETE FROM recent WHERE id <= 600", [], db.name);
    await waitFor("SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'recent'", (r) => Number(r.d) === 600);
    await waitFor("SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'eager'", (r) => Number(r.d) === 5);
  }, 60_000);
  afterAll(async () => {
    await other?.end();
    await db?.drop();
  });

  const run = (extra: Record<string, string>) => runTask(dbHealthTask, { DATABASE_URL: db.url, LOG_LEVEL: "ERROR", TOP_TABLES: "20", ...extra });
  const checksOf = (result: { databases: { report?: { checks: Check[] } }[] }) => Object.fromEntries(result.databases[0].report!.checks.map((c) => [c.name, c]));
  const tables = (c: Check) => (c.top ?? []).map((t) => t.table);

  it("counts only the tables past autovacuum's trigger, oldest first, autovacuum or manual run alike", async () => {
    const c = checksOf(await run({}));
    // static (no dead tuples), few_dead (300 < 450) and the other session's temporary table are not due.
    expect(tables(c.last_vacuum)).toEqual(["public.neglected", "public.eager", "public.recent"]);
    const [neglected, eager, recent] = c.last_vacuum.top as Record<string, unknown>[];
    expect(neglected).toMatchObject({ last: null, pending: 600, trigger: 450 });
    expect(eager).toMatchObject({ last: (await stat("eager")).last_vacuum!.toISOString(), pending: 5, trigger: 0 });
    expect(recent).toMatchObject({ last: (await stat("recent")).last_vacuum!.toISOString(), pending: 600, trigger: 450 });
    expect(Number(recent.hours)).toBeLessThan(Number(neglected.hours));
    expect(c.last_vacuum.value).toBe(neglected.hours);
    expect(c.last_vacuum.status).toBe("ok");
    // The other session's temporary table (50 % dead) is left out of the dead tuples check too.
    expect(c.dead_tuples.top!.map((t) => t.table)).not.toContain(expect.stringMatching(/scratch$/));
    // Analyze: neglected was analyzed before its 600 deletes (past 50 + 10 % of 2000); recent's 600 deletes
    // came after its analyze; static, few_dead and eager were analyzed after their last change.
    expect(tables(c.last_analyze)).toEqual(["public.neglected", "public.recent"]);
    expect(c.last_analyze.top![0]).toMatchObject({ last: (await stat("neglected")).last_analyze!.toISOString(), pending: 600, trigger: 250 });
  });

  it("warns about the tables not vacuumed within the threshold, not about the one vacuumed since", async () => {
    // A threshold just below eager's age: neglected (never vacuumed since the statistics began) and
    // eager are at it, recent (vacuumed four seconds later) is not.
    const warnHours = await thresholdBelow("eager", "vacuum");
    const result = await run({ LAST_VACUUM_WARN_HOURS: String(warnHours), LAST_VACUUM_CRIT_HOURS: "1" });
    const c = checksOf(result);
    expect(c.last_vacuum.status).toBe("warning");
    // neglected is named, one more (eager) is at the warning level; recent is not counted.
    expect(c.last_vacuum.detail).toMatch(new RegExp(`^table public\\.neglected, autovacuum off for it, never vacuumed \\(none recorded since statistics began \\S+Z, counted from then; PostgreSQL keeps no creation time, so a newer table counts as that old\\); 1 more table\\(s\\) at ${warnHours} hours or more$`));
    const byTable = Object.fromEntries((c.last_vacuum.top as { table: string; hours: number }[]).map((t) => [t.table, t.hours]));
    expect(byTable["public.neglected"]).toBeGreaterThanOrEqual(warnHours);
    expect(byTable["public.eager"]).toBeGreaterThanOrEqual(warnHours);
    expect(byTable["public.recent"]).toBeLessThan(warnHours);
    expect(result.databases[0].report!.status).toBe("warning");
  });

  it("fails the run with one line naming the table and its age when the critical age is reached", async () => {
    // Critical between recent's age and the others' (as above); warning at 0.36 s.
    const critHours = await thresholdBelow("eager", "vacuum");
    const err = await run({ LAST_VACUUM_WARN_HOURS: "0.0001", LAST_VACUUM_CRIT_HOURS: String(critHours) }).catch((e) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err.message).toMatch(
      new RegExp(`^db-health critical: ${db.name} last_vacuum \\d+\\.\\d+ hours >= ${critHours} \\(table public\\.neglected, autovacuum off for it, never vacuumed \\(none recorded since statistics began \\S+Z, counted from then; PostgreSQL keeps no creation time, so a newer table counts as that old\\); 1 more table\\(s\\) at ${critHours} hours or more\\)$`),
    );
    expect(err.message.split("\n")).toHaveLength(1);
    const c = checksOf(err.result);
    expect(c.last_vacuum.status).toBe("critical");
    // Analyze at its defaults (24 h / 48 h): not part of the failure.
    expect(c.last_analyze.status).toBe("ok");
  });

  it("fails on the analyze age alone, naming the table last analyzed", async () => {
    // neglected was analyzed right after the statistics began, recent four seconds later.
    const critHours = await thresholdBelow("neglected", "analyze");
    const err = await run({ LAST_ANALYZE_WARN_HOURS: "0.0001", LAST_ANALYZE_CRIT_HOURS: String(critHours) }).catch((e) => e);
    expect(err).toBeInstanceOf(TaskError);
    const analyzed = (await stat("neglected")).last_analyze!.toISOString();
    expect(err.message).toMatch(new RegExp(`^db-health critical: ${db.name} last_analyze \\d+\\.\\d+ hours >= ${critHours} \\(table public\\.neglected, autovacuum off for it, last analyzed ${analyzed}\\)$`));
    expect(checksOf(err.result).last_vacuum.status).toBe("ok");
  });

  it("a table the vacuum task skips for a lock stays counted; once vacuumed, it no longer counts", async () => {
    // The nightly vacuum task passes over a locked table (SKIP_LOCKED) and counts it in TablesSkipped.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query("BEGIN; LOCK TABLE neglected IN ACCESS EXCLUSIVE MODE");
      const vacuum = await runTask(vacuumTask, { DATABASE_URL: db.url, LOG_LEVEL: "ERROR", TABLES: "neglected" });
      expect(vacuum.databases[0].report!.skippedLocked).toEqual(["public.neglected"]);
      expect((await stat("neglected")).last_vacuum).toBeNull();
      const c = checksOf(await run({ LAST_VACUUM_WARN_HOURS: "0.0001", LAST_VACUUM_CRIT_HOURS: "1" }));
      expect(c.last_vacuum.status).toBe("warning");
      expect(c.last_vacuum.detail).toMatch(/^table public\.neglected, autovacuum off for it, never vacuumed/);
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
    }
    await adminQuery("VACUUM neglected", [], db.name);
    await waitFor("SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'neglected'", (r) => Number(r.d) === 0);
    const c = checksOf(await run({}));
    expect(tables(c.last_vacuum)).toEqual(["public.eager", "public.recent"]);
  });
});
