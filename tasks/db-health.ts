/**
 * Database health, the check_postgres set: each check has a value and a status (ok, warning,
 * critical) against warn/crit thresholds (check_postgres defaults where it has them, overridable by
 * environment). A critical check fails the task (one line naming the checks, the alarm fires); a
 * warning does not fail it but is in the result and the metrics.
 *
 * Nothing here opens a user table (no pg_relation_size on tables): a table held under an ACCESS
 * EXCLUSIVE lock never blocks the health check. Table sizes are therefore pg_class.relpages figures
 * (as of the last VACUUM/ANALYZE/CREATE INDEX), labelled as estimates.
 *
 * Last vacuum / last analyze (check_postgres `last_vacuum` / `last_analyze`, autovacuum counted): hours
 * since the newest of the manual and the automatic run, over the tables that need one, i.e. whose dead
 * tuples (changes since the last analyze) are past the point at which autovacuum would act
 * (autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor x reltuples, the table's own storage
 * parameters first). A quiet or static table therefore never counts, however old its last vacuum; a
 * table skipped for locks night after night does, once it is due. A due table with no vacuum recorded
 * counts from the start of its statistics (the database's stats_reset, else the server start) and is
 * reported as never vacuumed.
 *
 * Metrics (Database dimension): ConnectionsPercent, WraparoundAge, DeadTuplePercentMax,
 * OldestTransactionSeconds, LastVacuumAgeHours, LastAnalyzeAgeHours (0: no table is due); those
 * tasks/lib/metrics.ts lists are published, the others are log lines. All four published ones are
 * sampled: a value at or past its warning level (CONNECTIONS_WARN_PERCENT, WRAPAROUND_WARN_AGE,
 * LAST_VACUUM_WARN_HOURS, LAST_ANALYZE_WARN_HOURS: the P2 alarms' thresholds) is published on every
 * run, a healthy one only in the first run of each UTC day (wraparound) or of each 6 hours
 * (connections, vacuum and analyze ages) when SCHEDULE_INTERVAL_SECONDS says how often the task runs
 * (tasks/lib/metrics.ts SAMPLE_SECONDS).
 */
import { z } from "zod";
import { databaseMetric, forEachDatabase, sessionSettings, toResult, type MaintenanceResult, type MaintenanceSession } from "./lib/pgmaint";
import { defineTask, envInt, envNumber, MetricUnit, oneLine, TaskError } from "./lib/runtime";

/** A pair of thresholds; 0 switches a level off. */
const thresholds = (warn: number, crit: number, max = Number.MAX_SAFE_INTEGER) => ({ warn: envNumber(0, max).default(warn), crit: envNumber(0, max).default(crit) });

const t = {
  connections: thresholds(90, 95, 100),
  wraparound: thresholds(1_300_000_000, 1_400_000_000, 2_147_483_647),
  dead: thresholds(20, 50, 100),
  oldestTx: thresholds(3600, 21_600),
  idleTx: thresholds(300, 1800),
  // check_postgres last_vacuum / last_analyze defaults: 1 day warning, 2 days critical (in hours).
  lastVacuum: thresholds(24, 48),
  lastAnalyze: thresholds(24, 48),
  dbSize: thresholds(0, 0),
  slow: thresholds(1, 0),
};

export const dbHealthSettings = z
  .object({
    ...sessionSettings,
    CONNECTIONS_WARN_PERCENT: t.connections.warn,
    CONNECTIONS_CRIT_PERCENT: t.connections.crit,
    WRAPAROUND_WARN_AGE: t.wraparound.warn,
    WRAPAROUND_CRIT_AGE: t.wraparound.crit,
    DEAD_TUPLE_WARN_PERCENT: t.dead.warn,
    DEAD_TUPLE_CRIT_PERCENT: t.dead.crit,
    /** Tables smaller than this (live + dead rows) do not count for the dead-tuple check. */
    TABLE_ROWS_MIN: envInt(0).default(1000),
    OLDEST_TRANSACTION_WARN_SECONDS: t.oldestTx.warn,
    OLDEST_TRANSACTION_CRIT_SECONDS: t.oldestTx.crit,
    IDLE_IN_TRANSACTION_WARN_SECONDS: t.idleTx.warn,
    IDLE_IN_TRANSACTION_CRIT_SECONDS: t.idleTx.crit,
    /** Hours since the last (auto)vacuum of a table that needs one; fractions allowed (0.5: 30 minutes). */
    LAST_VACUUM_WARN_HOURS: t.lastVacuum.warn,
    LAST_VACUUM_CRIT_HOURS: t.lastVacuum.crit,
    /** Hours since the last (auto)analyze of a table whose statistics are due. */
    LAST_ANALYZE_WARN_HOURS: t.lastAnalyze.warn,
    LAST_ANALYZE_CRIT_HOURS: t.lastAnalyze.crit,
    DATABASE_SIZE_WARN_BYTES: t.dbSize.warn,
    DATABASE_SIZE_CRIT_BYTES: t.dbSize.crit,
    /** pg_stat_statements: statements whose mean execution time exceeds this are slow. */
    SLOW_STATEMENT_MS: envNumber(0).default(100),
    SLOW_STATEMENTS_WARN_COUNT: t.slow.warn,
    SLOW_STATEMENTS_CRIT_COUNT: t.slow.crit,
    /** How many of the worst tables (and largest tables) the result lists. */
    TOP_TABLES: envInt(1, 100).default(5),
  })
  .superRefine((s, ctx) => {
    for (const [warn, crit] of [
      ["CONNECTIONS_WARN_PERCENT", "CONNECTIONS_CRIT_PERCENT"],
      ["WRAPAROUND_WARN_AGE", "WRAPAROUND_CRIT_AGE"],
      ["DEAD_TUPLE_WARN_PERCENT", "DEAD_TUPLE_CRIT_PERCENT"],
      ["OLDEST_TRANSACTION_WARN_SECONDS", "OLDEST_TRANSACTION_CRIT_SECONDS"],
      ["IDLE_IN_TRANSACTION_WARN_SECONDS", "IDLE_IN_TRANSACTION_CRIT_SECONDS"],
      ["LAST_VACUUM_WARN_HOURS", "LAST_VACUUM_CRIT_HOURS"],
      ["LAST_ANALYZE_WARN_HOURS", "LAST_ANALYZE_CRIT_HOURS"],
      ["DATABASE_SIZE_WARN_BYTES", "DATABASE_SIZE_CRIT_BYTES"],
      ["SLOW_STATEMENTS_WARN_COUNT", "SLOW_STATEMENTS_CRIT_COUNT"],
    ] as const) {
      if (s[warn] > 0 && s[crit] > 0 && s[warn] > s[crit]) {
        ctx.addIssue({ code: "custom", path: [warn], message: `must not exceed ${crit} (${s[crit]})` });
      }
    }
  });
export type DbHealthSettings = z.infer<typeof dbHealthSettings>;

export type CheckStatus = "ok" | "warning" | "critical" | "unavailable";

export interface Check {
  name: string;
  value: number | null;
  unit: string;
  status: CheckStatus;
  warn?: number;
  crit?: number;
  /** What the value refers to (the table, the database, the backend). */
  detail?: string;
  /** Supporting rows (worst tables, largest tables, slow statements). */
  top?: Record<string, unknown>[];
}

/** Status of a value against thresholds (0 = level off); higher is worse. */
export function evaluate(value: number | null, warn: number, crit: number): CheckStatus {
  if (value === null) return "ok";
  if (crit > 0 && value >= crit) return "critical";
  if (warn > 0 && value >= warn) return "warning";
  return "ok";
}

const check = (name: string, value: number | null, unit: string, warn: number, crit: number, extra: Partial<Check> = {}): Check => ({
  name,
  value,
  unit,
  status: evaluate(value, warn, crit),
  ...(warn > 0 ? { warn } : {}),
  ...(crit > 0 ? { crit } : {}),
  ...extra,
});

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** A table that needs a vacuum (analyze) and how long it has gone without one. */
export interface DueTable {
  /** schema.table */
  table: string;
  /** Newest of the manual and the automatic run (ISO 8601), or null: none recorded since `since`. */
  last: string | null;
  /** Start of the table's statistics (stats_reset of the database, else the server start), for `last: null`. */
  since?: string;
  /** Hours since `last` (or since `since`). */
  hours: number;
  /** Dead tuples (vacuum) or rows changed since the last analyze (analyze). */
  pending: number;
  /** The count at which autovacuum acts on this table: threshold + scale factor x reltuples. */
  trigger: number;
}

/**
 * check_postgres `last_vacuum` / `last_analyze` with autovacuum counted, over the tables that need the
 * operation: the value is the age in hours of the oldest such table (0 when none is due), `top` lists
 * the oldest tables, and the detail names the worst and how many more are at its level.
 *
 * Due means past autovacuum's own trigger (PostgreSQL docs, "The Autovacuum Daemon"): dead tuples
 * (vacuum) or changes since the last analyze (analyze) above autovacuum_<kind>_threshold +
 * autovacuum_<kind>_scale_factor x reltuples (reltuples < 0, never counted, as 0), with the table's
 * storage parameters before the server's settings. Temporary tables are left out: no other session
 * can vacuum them. Reads pg_stat_user_tables and pg_class only: a locked table never blocks it.
 */
export async function lastMaintenance(s: MaintenanceSession, kind: "vacuum" | "analyze", warnHours: number, critHours: number, top: number): Promise<Check> {
  const pending = kind === "vacuum" ? "n_dead_tup" : "n_mod_since_analyze";
  const option = (name: string) =>
    `coalesce((SELECT o.option_value FROM pg_options_to_table(c.reloptions) o WHERE o.option_name = '${name}'), current_setting('${name}'))::float8`;
  const rows = await s.query<{ tbl: string; last: Date | null; since: Date; hours: number; pending: string; trig: number; over_crit: string; over_warn: string }>(
    `WITH due AS (
       SELECT st.schemaname || '.' || st.relname AS tbl, greatest(st.last_${kind}, st.last_auto${kind}) AS last, e.since,
              extract(epoch FROM now() - coalesce(greatest(st.last_${kind}, st.last_auto${kind}), e.since))::float8 / 3600 AS hours,
              st.${pending} AS pending,
              ${option(`autovacuum_${kind}_threshold`)} + ${option(`autovacuum_${kind}_scale_factor`)} * greatest(c.reltuples, 0)::float8 AS trig
         FROM pg_stat_user_tables st
         JOIN pg_class c ON c.oid = st.relid
        CROSS JOIN (SELECT coalesce(d.stats_reset, pg_postmaster_start_time()) AS since FROM pg_stat_database d WHERE d.datname = current_database()) e
        WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't')
     SELECT tbl, last, since, hours, pending, trig,
            count(*) FILTER (WHERE $2::float8 > 0 AND hours >= $2::float8) OVER () AS over_crit,
            count(*) FILTER (WHERE $3::float8 > 0 AND hours >= $3::float8) OVER () AS over_warn
       FROM due WHERE pending > trig
      ORDER BY hours DESC, pending DESC LIMIT $1`,
    [top, critHours, warnHours],
  );
  const done = kind === "vacuum" ? "vacuumed" : "analyzed";
  const iso = (d: Date) => new Date(d).toISOString();
  // Hours to 4 decimals (0.36 s), so thresholds in fractions of an hour compare as written.
  const hours = (h: number) => Math.round(h * 10_000) / 10_000;
  const c = check(`last_${kind}`, rows.length ? hours(Number(rows[0].hours)) : 0, "hours", warnHours, critHours, {
    top: rows.map((r) => ({
      table: r.tbl,
      last: r.last ? iso(r.last) : null,
      ...(r.last ? {} : { since: iso(r.since) }),
      hours: hours(Number(r.hours)),
      pending: Number(r.pending),
      trigger: Math.floor(Number(r.trig)),
    })) satisfies DueTable[],
  });
  if (rows.length) {
    const w = rows[0];
    const level = c.status === "critical" ? { hours: critHours, count: Number(w.over_crit) } : c.status === "warning" ? { hours: warnHours, count: Number(w.over_warn) } : undefined;
    c.detail =
      `table ${w.tbl}, ${w.last ? `last ${done} ${iso(w.last)}` : `never ${done} (statistics since ${iso(w.since)})`}` +
      (level && level.count > 1 ? `; ${level.count - 1} more table(s) at ${level.hours} hours or more` : "");
  }
  return c;
}

async function runChecks(s: MaintenanceSession, st: DbHealthSettings): Promise<Check[]> {
  const checks: Check[] = [];
  const q = <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => s.query<T>(sql, params);

  // Connections: client backends of the whole server against max_connections (check_postgres "backends").
  const [conn] = await q<{ used: string; max: string }>(
    `SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS used, current_setting('max_connections') AS max FROM pg_stat_activity`,
  );
  const connPct = (100 * Number(conn.used)) / Number(conn.max);
  checks.push(check("connections", round(connPct), "percent", st.CONNECTIONS_WARN_PERCENT, st.CONNECTIONS_CRIT_PERCENT, { detail: `${conn.used} of ${conn.max} connections` }));

  // Transaction-ID wraparound: the oldest datfrozenxid of all databases (check_postgres "txn_wraparound").
  const wrap = await q<{ datname: string; age: string }>(`SELECT datname, age(datfrozenxid)::bigint AS age FROM pg_database WHERE datallowconn ORDER BY 2 DESC`);
  checks.push(
    check("wraparound", Number(wrap[0].age), "transactions", st.WRAPAROUND_WARN_AGE, st.WRAPAROUND_CRIT_AGE, {
      detail: `database ${wrap[0].datname}`,
      top: wrap.slice(0, st.TOP_TABLES).map((w) => ({ database: w.datname, age: Number(w.age) })),
    }),
  );

  // Dead tuples: the worst tables of this database (tables of at least TABLE_ROWS_MIN rows). Temporary
  // tables are left out, as in lastMaintenance: only their own session can vacuum them, and they go with it.
  const dead = await q<{ tbl: string; live: string; dead: string; pct: string }>(
    `SELECT st.schemaname || '.' || st.relname AS tbl, st.n_live_tup AS live, st.n_dead_tup AS dead,
            round(100.0 * st.n_dead_tup / nullif(st.n_live_tup + st.n_dead_tup, 0), 2) AS pct
       FROM pg_stat_user_tables st JOIN pg_class c ON c.oid = st.relid
      WHERE c.relpersistence <> 't' AND st.n_live_tup + st.n_dead_tup >= $1
      ORDER BY pct DESC NULLS LAST, st.n_dead_tup DESC LIMIT $2`,
    [st.TABLE_ROWS_MIN, st.TOP_TABLES],
  );
  checks.push(
    check("dead_tuples", dead.length ? Number(dead[0].pct) : 0, "percent", st.DEAD_TUPLE_WARN_PERCENT, st.DEAD_TUPLE_CRIT_PERCENT, {
      ...(dead.length ? { detail: `table ${dead[0].tbl}` } : {}),
      top: dead.map((d) => ({ table: d.tbl, live: Number(d.live), dead: Number(d.dead), percent: Number(d.pct) })),
    }),
  );

  // Oldest open transaction and longest idle-in-transaction session in this database (not counting this one).
  const [tx] = await q<{ oldest: number | null; oldest_pid: number | null; idle: number | null; idle_pid: number | null }>(
    `SELECT max(extract(epoch FROM now() - xact_start))::float8 AS oldest,
            (array_agg(pid ORDER BY xact_start))[1] AS oldest_pid,
            max(extract(epoch FROM now() - state_change)) FILTER (WHERE state LIKE 'idle in transaction%')::float8 AS idle,
            (array_agg(pid ORDER BY state_change) FILTER (WHERE state LIKE 'idle in transaction%'))[1] AS idle_pid
       FROM pg_stat_activity
      WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND datname = current_database()`,
  );
  const oldest = num(tx.oldest);
  checks.push(check("oldest_transaction", oldest === null ? 0 : round(oldest), "seconds", st.OLDEST_TRANSACTION_WARN_SECONDS, st.OLDEST_TRANSACTION_CRIT_SECONDS, tx.oldest_pid ? { detail: `pid ${tx.oldest_pid}` } : {}));
  const idle = num(tx.idle);
  checks.push(check("idle_in_transaction", idle === null ? 0 : round(idle), "seconds", st.IDLE_IN_TRANSACTION_WARN_SECONDS, st.IDLE_IN_TRANSACTION_CRIT_SECONDS, tx.idle_pid ? { detail: `pid ${tx.idle_pid}` } : {}));

  for (const kind of ["vacuum", "analyze"] as const) {
    const [warn, crit] = kind === "vacuum" ? [st.LAST_VACUUM_WARN_HOURS, st.LAST_VACUUM_CRIT_HOURS] : [st.LAST_ANALYZE_WARN_HOURS, st.LAST_ANALYZE_CRIT_HOURS];
    checks.push(await lastMaintenance(s, kind, warn, crit, st.TOP_TABLES));
  }

  // Size: the database (pg_database_size reads the directory, no table lock) and its largest tables.
  const [size] = await q<{ bytes: string }>(`SELECT pg_database_size(current_database()) AS bytes`);
  const largest = await q<{ tbl: string; bytes: string }>(
    `SELECT n.nspname || '.' || c.relname AS tbl,
            ((c.relpages + coalesce(tc.relpages, 0) + coalesce((SELECT sum(ic.relpages) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid), 0))
              * current_setting('block_size')::int)::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
      WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
      ORDER BY bytes DESC LIMIT $1`,
    [st.TOP_TABLES],
  );
  checks.push(
    check("database_size", Number(size.bytes), "bytes", st.DATABASE_SIZE_WARN_BYTES, st.DATABASE_SIZE_CRIT_BYTES, {
      top: largest.map((l) => ({ table: l.tbl, estimatedBytes: Number(l.bytes) })),
    }),
  );

  // Slow statements from pg_stat_statements, when the extension is installed and loaded.
  const [ext] = await q<{ schema: string | null }>(`SELECT (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements') AS schema`);
  if (!ext.schema) {
    checks.push({ name: "slow_statements", value: null, unit: "statements", status: "unavailable", detail: "pg_stat_statements is not installed in this database" });
  } else {
    try {
      const slow = await q<{ query: string; calls: string; mean_ms: number }>(
        `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query, calls, round(mean_exec_time::numeric, 1)::float8 AS mean_ms
           FROM ${ext.schema === "public" ? "public" : `"${ext.schema.replace(/"/g, '""')}"`}.pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND mean_exec_time > $1
          ORDER BY mean_exec_time DESC`,
        [st.SLOW_STATEMENT_MS],
      );
      checks.push(
        check("slow_statements", slow.length, "statements", st.SLOW_STATEMENTS_WARN_COUNT, st.SLOW_STATEMENTS_CRIT_COUNT, {
          detail: `mean execution time > ${st.SLOW_STATEMENT_MS} ms`,
          top: slow.slice(0, st.TOP_TABLES).map((r) => ({ query: r.query, calls: Number(r.calls), meanMs: Number(r.mean_ms) })),
        }),
      );
    } catch (err) {
      checks.push({ name: "slow_statements", value: null, unit: "statements", status: "unavailable", detail: oneLine(err) });
    }
  }
  return checks;
}

const round = (n: number) => Math.round(n * 100) / 100;

export interface DbHealthReport {
  status: "ok" | "warning" | "critical";
  checks: Check[];
}

export const dbHealthTask = defineTask({
  name: "db-health",
  description: "Connections, wraparound, dead tuples, long transactions, last vacuum/analyze, size, slow statements",
  settings: dbHealthSettings,
  async run(settings, ctx): Promise<MaintenanceResult<DbHealthReport>> {
    const outcomes = await forEachDatabase(settings, settings, undefined, ctx, async (s) => {
      const checks = await runChecks(s, settings);
      const status = checks.some((c) => c.status === "critical") ? "critical" : checks.some((c) => c.status === "warning") ? "warning" : "ok";
      const value = (name: string) => checks.find((c) => c.name === name)?.value ?? 0;
      // At or past its warning level (the P2 alarm's threshold, from the same setting): a sampled metric is sent on every run then.
      const warns = (name: string) => (checks.find((c) => c.name === name)?.status ?? "ok") !== "ok";
      databaseMetric(ctx, s.connection.id, "ConnectionsPercent", MetricUnit.Percent, value("connections"), warns("connections"));
      databaseMetric(ctx, s.connection.id, "WraparoundAge", MetricUnit.Count, value("wraparound"), warns("wraparound"));
      databaseMetric(ctx, s.connection.id, "DeadTuplePercentMax", MetricUnit.Percent, value("dead_tuples"));
      databaseMetric(ctx, s.connection.id, "OldestTransactionSeconds", MetricUnit.Seconds, value("oldest_transaction"));
      // Hours (CloudWatch has no hour unit): the P2 alarms compare them with the config's warning hours.
      databaseMetric(ctx, s.connection.id, "LastVacuumAgeHours", MetricUnit.NoUnit, value("last_vacuum"), warns("last_vacuum"));
      databaseMetric(ctx, s.connection.id, "LastAnalyzeAgeHours", MetricUnit.NoUnit, value("last_analyze"), warns("last_analyze"));
      for (const c of checks.filter((c) => c.status !== "ok")) ctx.log.warn(`${s.connection.id}: ${c.name} ${c.status}: ${c.value} ${c.unit}${c.detail ? ` (${c.detail})` : ""}`);
      return { status, checks } as DbHealthReport;
    });
    const result = toResult(outcomes);
    const critical = result.databases.flatMap((d) =>
      (d.report?.checks ?? []).filter((c) => c.status === "critical").map((c) => `${d.database} ${c.name} ${c.value} ${c.unit} >= ${c.crit}${c.detail ? ` (${c.detail})` : ""}`),
    );
    if (critical.length) throw new TaskError(`db-health critical: ${critical.join("; ")}`, result);
    return result;
  },
});
