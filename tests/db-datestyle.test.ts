/**
 * A database whose DateStyle is not ISO (`ALTER DATABASE ... SET DateStyle = 'SQL, DMY'`, or
 * 'German'): the tasks still read its dates and times. purge deletes exactly the rows older than its
 * rule, from a timestamptz and a date column, with a where clause written in the database's own
 * day-first order; db-health reports when each table was really last vacuumed and analyzed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbHealthTask, type Check } from "../tasks/db-health";
import { purgeTask } from "../tasks/purge";
import { runTask } from "../tasks/lib/runtime";
import { adminQuery, createTestDatabase } from "./helpers/pg";

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

describe.each(["SQL, DMY", "German"])("a database with DateStyle %s", (style) => {
  let db: Db;
  const sql = <T extends Record<string, unknown>>(text: string) => adminQuery<T>(text, [], db.name);
  const ids = async (table: string) => (await sql<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => r.id);

  beforeAll(async () => {
    db = await createTestDatabase("mr_datestyle");
    await adminQuery(`ALTER DATABASE "${db.name}" SET DateStyle = '${style}'`);
    // Rows 1 and 2 are 60 days old, 3 and 4 one day old (relative to now: no calendar date is fixed).
    await sql(
      `CREATE TABLE events (id int PRIMARY KEY, created_at timestamptz NOT NULL) WITH (autovacuum_enabled = false);
       INSERT INTO events VALUES (1, now() - interval '60 days'), (2, now() - interval '60 days' - interval '1 hour'), (3, now() - interval '1 day'), (4, now());
       CREATE TABLE daily (id int PRIMARY KEY, day date NOT NULL) WITH (autovacuum_enabled = false);
       INSERT INTO daily VALUES (1, current_date - 60), (2, current_date - 45), (3, current_date - 1), (4, current_date);
       CREATE TABLE kept (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
       INSERT INTO kept SELECT generate_series(1, 2000);`,
    );
    await sql("VACUUM ANALYZE kept");
  });
  afterAll(async () => db?.drop());

  it("purge deletes exactly the rows older than its rule, reading a where written day first as the database does", async () => {
    // The state under test: the database's own sessions write dates in the style, not in ISO.
    const [row] = (await sql<{ s: string; t: string }>("SELECT current_setting('DateStyle') AS s, '2024-02-13 10:00:00+00'::timestamptz::text AS t")).rows;
    expect(row.s).toBe(style === "German" ? "German, DMY" : "SQL, DMY");
    expect(row.t).not.toMatch(/^2024-02-13/);
    // '13/01/2000' is a date only in day-first order: read month first, the statement would fail.
    const rules = [
      { table: "events", timestampColumn: "created_at", olderThanDays: 30, where: "created_at > '13/01/2000'" },
      { table: "daily", timestampColumn: "day", olderThanDays: 30, columnTimezone: "UTC" },
    ];
    const before = Date.now();
    const result = await runTask(purgeTask, { DATABASE_URL: db.url, PAUSE_MS: "0", LOG_LEVEL: "ERROR", PURGE_RULES: JSON.stringify(rules) });
    expect(await ids("events")).toEqual([3, 4]);
    expect(await ids("daily")).toEqual([3, 4]);
    const reports = result.databases[0].report!;
    expect(reports.map((r) => r.deleted)).toEqual([2, 2]);
    // The cut-off is the instant 30 days before the run.
    const cutoff = Date.parse(reports[0].cutoff);
    expect(cutoff).toBeGreaterThan(before - 30 * 86_400_000 - 60_000);
    expect(cutoff).toBeLessThanOrEqual(Date.now() - 30 * 86_400_000);
  });

  it("db-health reports the table's real last vacuum and analyze, not the start of its statistics", async () => {
    // 1,500 of 2,000 rows deleted after the VACUUM ANALYZE: past both triggers (50 + 20 % and 50 + 10 %).
    await sql("DELETE FROM kept WHERE id <= 1500");
    for (let i = 0; i < 100; i++) {
      const r = await sql<{ d: string }>("SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'kept'");
      if (Number(r.rows[0]?.d) >= 1500) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    // The instants the server recorded, as text in a form no DateStyle changes.
    const utc = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
    const [at] = (await sql<{ v: string; a: string }>(`SELECT ${utc("last_vacuum")} AS v, ${utc("last_analyze")} AS a FROM pg_stat_user_tables WHERE relname = 'kept'`)).rows;
    const result = await runTask(dbHealthTask, { DATABASE_URL: db.url, LOG_LEVEL: "ERROR", LAST_VACUUM_WARN_HOURS: "1", LAST_VACUUM_CRIT_HOURS: "2", LAST_ANALYZE_WARN_HOURS: "1", LAST_ANALYZE_CRIT_HOURS: "2", DEAD_TUPLE_WARN_PERCENT: "90", DEAD_TUPLE_CRIT_PERCENT: "95" });
    const c = Object.fromEntries(result.databases[0].report!.checks.map((x: Check) => [x.name, x]));
    const run = Date.now();
    for (const [check, recorded, word] of [
      [c.last_vacuum, at.v, "vacuumed"],
      [c.last_analyze, at.a, "analyzed"],
    ] as const) {
      const row = (check.top as { table: string; last: string | null; since?: string; hours: number }[]).find((t) => t.table === "public.kept")!;
      // node-postgres keeps milliseconds of the server's microseconds.
      expect(Math.abs(Date.parse(row.last!) - Date.parse(recorded))).toBeLessThanOrEqual(1);
      expect(row.since).toBeUndefined();
      // Hours since that vacuum or analyze (seconds ago, rounded to 4 places), not since the statistics began.
      expect(row.hours).toBeGreaterThanOrEqual(0);
      expect(row.hours).toBeLessThanOrEqual((run - Date.parse(recorded)) / 3_600_000 + 0.00005);
      expect(check.detail).toBe(`table public.kept, autovacuum off for it, last ${word} ${row.last}`);
      expect(check.status).toBe("ok");
    }
  });
});
