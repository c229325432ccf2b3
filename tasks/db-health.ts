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
 * Dead tuples, last vacuum, last analyze are judged as autovacuum decides a table is due (dueTables):
 * a table past autovacuum's trigger that autovacuum takes is its next job, not a problem, however
 * many dead tuples a purge left and however old its last vacuum; it counts once it is known to have
 * stayed due through a vacuum or analyze (dueTable). A due table autovacuum does not take (autovacuum
 * or track_counts off, autovacuum_enabled = false) counts from its last vacuum (analyze), as check_postgres
 * `last_vacuum` / `last_analyze` do; never vacuumed: from the start of its statistics (the database's
 * stats_reset, else the server start).
 *
 * What holds the server back outside open transactions (holdingChecks): WAL retained by replication
 * slots and the age of their xmin, the longest lock wait in this database, the oldest prepared
 * transaction; reported in the result and the log, failing the run at their critical levels (no metric).
 *
 * Long transactions leave out the backup's pg_dump (BACKUP_APPLICATION_NAME: its snapshot lasts the
 * whole dump, watched by the backup task's own timeout and duration alarm) and name the session they
 * report by pid, application_name, user, client address, state and query start.
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
import { databaseMetric, forEachDatabase, regimeRelation, sessionSettings, toResult, type MaintenanceResult, type MaintenanceSession } from "./lib/pgmaint";
import { BACKUP_APPLICATION_NAME } from "./lib/db";
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
  // WAL a replication slot keeps from removal. check_postgres replication_slots has no default (its
  // example: -warning=32M -critical=64M); 1 GiB / 10 GiB here: a slot catching up briefly stays quiet,
  // an abandoned one is named long before a typical WAL volume fills.
  slotWal: thresholds(1024 ** 3, 10 * 1024 ** 3),
  // age() of a slot's xmin / catalog_xmin: vacuum keeps every row version newer. Critical at 200 million,
  // PostgreSQL's autovacuum_freeze_max_age default, past which anti-wraparound vacuums cannot finish freezing.
  slotXmin: thresholds(10_000_000, 200_000_000, 2_147_483_647),
  // Longest wait for a lock (pg_locks.waitstart). check_postgres `locks` counts locks, it has no wait-time
  // default; 30 s / 300 s here: past PostgreSQL's deadlock_timeout (1 s) many times over.
  lockWait: thresholds(30, 300),
  // Oldest prepared transaction: check_postgres prepared_txns defaults, 1 s warning, 30 s critical.
  prepared: thresholds(1, 30),
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
    /** Bytes of WAL the most-retaining replication slot keeps (pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)). */
    REPLICATION_SLOT_WARN_BYTES: t.slotWal.warn,
    REPLICATION_SLOT_CRIT_BYTES: t.slotWal.crit,
    /** Transactions: age of the oldest xmin / catalog_xmin a replication slot holds. */
    REPLICATION_SLOT_XMIN_WARN_AGE: t.slotXmin.warn,
    REPLICATION_SLOT_XMIN_CRIT_AGE: t.slotXmin.crit,
    /** Seconds the longest-waiting session of this database has waited for a lock. */
    LOCK_WAIT_WARN_SECONDS: t.lockWait.warn,
    LOCK_WAIT_CRIT_SECONDS: t.lockWait.crit,
    /** Seconds since the oldest prepared transaction (PREPARE TRANSACTION) was prepared. */
    PREPARED_TRANSACTION_WARN_SECONDS: t.prepared.warn,
    PREPARED_TRANSACTION_CRIT_SECONDS: t.prepared.crit,
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
      ["REPLICATION_SLOT_WARN_BYTES", "REPLICATION_SLOT_CRIT_BYTES"],
      ["REPLICATION_SLOT_XMIN_WARN_AGE", "REPLICATION_SLOT_XMIN_CRIT_AGE"],
      ["LOCK_WAIT_WARN_SECONDS", "LOCK_WAIT_CRIT_SECONDS"],
      ["PREPARED_TRANSACTION_WARN_SECONDS", "PREPARED_TRANSACTION_CRIT_SECONDS"],
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


/** A table that needs a vacuum (analyze) and how long that has gone unanswered. */
export interface DueTable {
  /** schema.table */
  table: string;
  /** Newest of the manual and the automatic run (ISO 8601), or null: none recorded since `since`. */
  last: string | null;
  /** Start of the table's statistics (stats_reset of the database, else the server start), for `last: null`. */
  since?: string;
  /** Whether autovacuum takes this table (autovacuum and track_counts on, the table's autovacuum_enabled not false). */
  autovacuum: boolean;
  /**
   * Autovacuum's tables: the moment the table is known to have been due already (ISO 8601), a run
   * of vacuum or analyze that left it due; null when nothing shows it due before now.
   */
  dueSince?: string | null;
  /**
   * Hours counted against the thresholds: for a table autovacuum takes, since `dueSince` (0 when
   * null: autovacuum is about to act); for a table it does not take, since `last` (or `since`).
   */
  hours: number;
  /** Dead tuples (vacuum) or rows changed since the last analyze (analyze). */
  pending: number;
  /** The count at which autovacuum acts on this table: threshold + scale factor x reltuples. */
  trigger: number;
  /** Live and dead tuples (pg_stat_user_tables n_live_tup, n_dead_tup). */
  live: number;
  dead: number;
}

interface DueRow {
  tbl: string;
  live: string;
  dead: string;
  mods: string;
  ins: string;
  vacuumed: Date | null;
  vacuumed_h: number | null;
  analyzed: Date | null;
  analyzed_h: number | null;
  since: Date;
  since_h: number;
  auto: boolean;
  vtrig: number;
  atrig: number;
}

/**
 * The tables past autovacuum's vacuum or analyze trigger, with what shows how long each has been due.
 *
 * Due means what autovacuum itself acts on (PostgreSQL docs, "The Autovacuum Daemon", 25.1.6): dead
 * tuples above autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor x reltuples (vacuum),
 * rows changed since the last analyze above autovacuum_analyze_threshold +
 * autovacuum_analyze_scale_factor x reltuples (analyze), reltuples < 0 (never counted) as 0, the
 * table's storage parameters (CREATE TABLE, "Storage Parameters") before the server's settings.
 * Autovacuum takes a table when `autovacuum` and `track_counts` are on and the table's
 * autovacuum_enabled is not false. Reads pg_stat_user_tables and pg_class only: a locked table never
 * blocks it. The relations are those of regimeRelation (no temporary tables).
 */
async function dueTables(s: MaintenanceSession): Promise<DueRow[]> {
  const option = (name: string) =>
    `coalesce((SELECT o.option_value FROM pg_options_to_table(c.reloptions) o WHERE o.option_name = '${name}'), current_setting('${name}'))::float8`;
  const hoursSince = (t: string) => `extract(epoch FROM now() - ${t})::float8 / 3600`;
  return s.query<DueRow>(
    `WITH e AS (
       SELECT coalesce(d.stats_reset, pg_postmaster_start_time()) AS since,
              current_setting('autovacuum')::bool AND current_setting('track_counts')::bool AS daemon
         FROM pg_stat_database d WHERE d.datname = current_database()),
     t AS (
       SELECT n.nspname || '.' || c.relname AS tbl, st.n_live_tup AS live, st.n_dead_tup AS dead,
              st.n_mod_since_analyze AS mods, st.n_ins_since_vacuum AS ins,
              greatest(st.last_vacuum, st.last_autovacuum) AS vacuumed, greatest(st.last_analyze, st.last_autoanalyze) AS analyzed,
              e.since, e.daemon AND coalesce((SELECT o.option_value FROM pg_options_to_table(c.reloptions) o WHERE o.option_name = 'autovacuum_enabled')::bool, true) AS auto,
              ${option("autovacuum_vacuum_threshold")} + ${option("autovacuum_vacuum_scale_factor")} * greatest(c.reltuples, 0)::float8 AS vtrig,
              ${option("autovacuum_analyze_threshold")} + ${option("autovacuum_analyze_scale_factor")} * greatest(c.reltuples, 0)::float8 AS atrig
         FROM pg_stat_user_tables st
         JOIN pg_class c ON c.oid = st.relid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN e
        WHERE c.relkind IN ('r', 'm') AND ${regimeRelation()})
     SELECT t.*, ${hoursSince("vacuumed")} AS vacuumed_h, ${hoursSince("analyzed")} AS analyzed_h, ${hoursSince("since")} AS since_h
       FROM t WHERE dead > vtrig OR mods > atrig`,
  );
}

/**
 * How long a due table has gone unanswered, for one operation. A table autovacuum does not take
 * counts from its last run (nothing automatic will act on it). A table autovacuum takes counts only
 * from the moment it is known to have been due already, as autovacuum visits every database each
 * autovacuum_naptime and acts on a due table then: a table just made due (a purge, a bulk load) is
 * autovacuum's next job, not a problem, however old its last vacuum. Known due:
 * - vacuum: at its newest vacuum or analyze R, dead tuples were at least n_dead_tup - n_mod_since_analyze
 *   (dead tuples only grow by updates and deletes, which n_mod_since_analyze counts since the analyze
 *   and so since R); above the trigger, the table was due at R and has stayed so;
 * - analyze: a vacuum V after its last analyze, when rows changed before V (n_mod_since_analyze less
 *   n_ins_since_vacuum and n_dead_tup, the changes since V) were already above the trigger.
 */
export function dueTable(r: DueRow, kind: "vacuum" | "analyze"): DueTable | undefined {
  const iso = (d: Date) => new Date(d).toISOString();
  const [pending, trigger] = kind === "vacuum" ? [Number(r.dead), Number(r.vtrig)] : [Number(r.mods), Number(r.atrig)];
  if (!(pending > trigger)) return undefined;
  const last = kind === "vacuum" ? r.vacuumed : r.analyzed;
  const base = {
    table: r.tbl,
    last: last ? iso(last) : null,
    ...(last ? {} : { since: iso(r.since) }),
    autovacuum: r.auto,
    pending,
    trigger: Math.floor(trigger),
    live: Number(r.live),
    dead: Number(r.dead),
  };
  if (!r.auto) return { ...base, hours: Number((kind === "vacuum" ? r.vacuumed_h : r.analyzed_h) ?? r.since_h) };
  let due: { at: Date; hours: number } | undefined;
  if (kind === "vacuum") {
    const newest = [
      { at: r.vacuumed, hours: r.vacuumed_h },
      { at: r.analyzed, hours: r.analyzed_h },
    ].filter((x): x is { at: Date; hours: number } => x.at !== null);
    const at = newest.sort((a, b) => new Date(b.at).getTime() - new Date(a.at).getTime())[0];
    if (at && Number(r.dead) - Number(r.mods) > trigger) due = { at: at.at, hours: Number(at.hours) };
  } else if (r.vacuumed && (!r.analyzed || new Date(r.vacuumed) > new Date(r.analyzed)) && Number(r.mods) - Number(r.ins) - Number(r.dead) > trigger) {
    due = { at: r.vacuumed, hours: Number(r.vacuumed_h) };
  }
  return { ...base, dueSince: due ? iso(due.at) : null, hours: due ? due.hours : 0 };
}

/**
 * check_postgres `last_vacuum` / `last_analyze` with autovacuum counted, over the tables that need the
 * operation (dueTables, dueTable): the value is the most hours a due table has gone unanswered (0
 * when none), `top` lists the worst tables, and the detail names the worst and how many more are at
 * its level.
 */
export function lastMaintenance(rows: DueRow[], kind: "vacuum" | "analyze", warnHours: number, critHours: number, top: number): Check {
  // Hours to 4 decimals (0.36 s), so thresholds in fractions of an hour compare as written.
  const hours = (h: number) => Math.round(h * 10_000) / 10_000;
  const due = rows
    .map((r) => dueTable(r, kind))
    .filter((d): d is DueTable => d !== undefined)
    .map((d) => ({ ...d, hours: hours(d.hours) }))
    .sort((a, b) => b.hours - a.hours || b.pending - a.pending);
  const c = check(`last_${kind}`, due.length ? due[0].hours : 0, "hours", warnHours, critHours, { top: due.slice(0, top) });
  const done = kind === "vacuum" ? "vacuumed" : "analyzed";
  if (due.length) {
    const w = due[0];
    const at = (h: number) => (h > 0 ? due.filter((d) => d.hours >= h).length : 0);
    const level = c.status === "critical" ? { hours: critHours, count: at(critHours) } : c.status === "warning" ? { hours: warnHours, count: at(warnHours) } : undefined;
    const state = !w.autovacuum
      ? `autovacuum off for it, ${w.last ? `last ${done} ${w.last}` : `never ${done} (${neverSince(w.since!)})`}`
      : w.dueSince
        ? `due since ${w.dueSince} and not ${done} by autovacuum since`
        : `just due, autovacuum's next job`;
    c.detail = `table ${w.table}, ${state}` + (level && level.count > 1 ? `; ${level.count - 1} more table(s) at ${level.hours} hours or more` : "");
  }
  return c;
}

/**
 * The basis of a table with no vacuum (analyze) recorded: the start of its statistics (the
 * database's stats_reset, else the server start). PostgreSQL records no creation time of a table, so
 * a table created later is counted from then too, and the words say so rather than imply the table
 * has been neglected that long.
 */
export function neverSince(since: string): string {
  return `none recorded since statistics began ${since}, counted from then; PostgreSQL keeps no creation time, so a newer table counts as that old`;
}

/**
 * Dead tuples (check_postgres `bloat` in spirit): the worst dead-tuple percentage of the tables (at
 * least `minRows` live + dead) past autovacuum's vacuum trigger that autovacuum will not clear: it
 * does not take them, or they are known due since a vacuum or analyze that left them so (dueTable).
 * A table just made due is autovacuum's next job and does not count, whatever its percentage.
 */
export function deadTuples(rows: DueRow[], warn: number, crit: number, minRows: number, top: number): Check {
  const stuck = rows
    .map((r) => dueTable(r, "vacuum"))
    .filter((d): d is DueTable => d !== undefined && d.live + d.dead >= minRows && (!d.autovacuum || d.dueSince != null))
    .map((d) => ({ ...d, percent: round((100 * d.dead) / (d.live + d.dead)) }))
    .sort((a, b) => b.percent - a.percent || b.dead - a.dead);
  const w = stuck[0];
  return check("dead_tuples", w ? w.percent : 0, "percent", warn, crit, {
    ...(w ? { detail: `table ${w.table}, ${w.autovacuum ? `due since ${w.dueSince}, autovacuum has not cleared it` : "autovacuum off for it"}` } : {}),
    top: stuck.slice(0, top).map((d) => ({ table: d.table, live: d.live, dead: d.dead, percent: d.percent, trigger: d.trigger, autovacuum: d.autovacuum })),
  });
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

  // Dead tuples and vacuum/analyze ages, judged as autovacuum decides a table is due.
  const due = await dueTables(s);
  checks.push(deadTuples(due, st.DEAD_TUPLE_WARN_PERCENT, st.DEAD_TUPLE_CRIT_PERCENT, st.TABLE_ROWS_MIN, st.TOP_TABLES));

  // Oldest open transaction and longest idle-in-transaction session in this database (not counting
  // this one, nor the backup's pg_dump: its snapshot lasts the whole dump, and the backup task's
  // timeout and duration alarm watch it).
  const sessions = await q<{ kind: string; seconds: number; pid: number; app: string; usr: string | null; client: string | null; query_start: Date | null; state: string | null }>(
    `SELECT kind, seconds, pid, app, usr, client, query_start, state FROM (
       SELECT DISTINCT ON (k.kind) k.kind, k.seconds, a.pid, a.application_name AS app, a.usename AS usr, host(a.client_addr) AS client, a.query_start, a.state
         FROM pg_stat_activity a
        CROSS JOIN LATERAL (VALUES ('oldest', extract(epoch FROM now() - a.xact_start)::float8),
                                   ('idle', CASE WHEN a.state LIKE 'idle in transaction%' THEN extract(epoch FROM now() - a.state_change)::float8 END)) k(kind, seconds)
        WHERE a.xact_start IS NOT NULL AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend' AND a.datname = current_database()
          AND a.application_name <> $1 AND k.seconds IS NOT NULL
        ORDER BY k.kind, k.seconds DESC) x`,
    [BACKUP_APPLICATION_NAME],
  );
  const session = (kind: string) => sessions.find((x) => x.kind === kind);
  /** Who holds it: pid, application_name, user, client address, query start (pg_stat_activity). */
  const who = (x: (typeof sessions)[number]) =>
    `pid ${x.pid}, application ${x.app ? `"${x.app}"` : "(none)"}, user ${x.usr ?? "(none)"}${x.client ? ` from ${x.client}` : ""}, ${x.state ?? "state unknown"}, query started ${x.query_start ? new Date(x.query_start).toISOString() : "(none)"}`;
  for (const [kind, name, warn, crit] of [
    ["oldest", "oldest_transaction", st.OLDEST_TRANSACTION_WARN_SECONDS, st.OLDEST_TRANSACTION_CRIT_SECONDS],
    ["idle", "idle_in_transaction", st.IDLE_IN_TRANSACTION_WARN_SECONDS, st.IDLE_IN_TRANSACTION_CRIT_SECONDS],
  ] as const) {
    const x = session(kind);
    checks.push(check(name, x ? round(Number(x.seconds)) : 0, "seconds", warn, crit, x ? { detail: who(x) } : {}));
  }

  checks.push(lastMaintenance(due, "vacuum", st.LAST_VACUUM_WARN_HOURS, st.LAST_VACUUM_CRIT_HOURS, st.TOP_TABLES));
  checks.push(lastMaintenance(due, "analyze", st.LAST_ANALYZE_WARN_HOURS, st.LAST_ANALYZE_CRIT_HOURS, st.TOP_TABLES));

  // Size: the database (pg_database_size reads the directory, no table lock) and its largest tables.
  const [size] = await q<{ bytes: string }>(`SELECT pg_database_size(current_database()) AS bytes`);
  const largest = await q<{ tbl: string; bytes: string }>(
    `SELECT n.nspname || '.' || c.relname AS tbl,
            ((c.relpages + coalesce(tc.relpages, 0) + coalesce((SELECT sum(ic.relpages) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid), 0))
              * current_setting('block_size')::int)::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
      WHERE c.relkind IN ('r', 'm') AND ${regimeRelation()}
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
  checks.push(...(await holdingChecks(s, st)));
  return checks;
}

/** A replication slot as `slotChecks` reads it (pg_replication_slots). */
export interface SlotRow {
  slot: string;
  type: string;
  active: boolean;
  /** Bytes of WAL from restart_lsn to the current position; null when the slot has reserved none. */
  retained: string | null;
  /** age() of xmin and of catalog_xmin (transactions), null when the slot holds none. */
  xmin_age: number | null;
  catalog_xmin_age: number | null;
  wal_status: string | null;
}

/**
 * Replication slots, two checks: `replication_slots` (bytes of WAL the most-retaining slot keeps
 * from removal: an inactive slot, its replica or CDC consumer gone, keeps every segment from its
 * restart_lsn until the disk fills) and `replication_slot_xmin` (the oldest xmin / catalog_xmin a
 * slot holds, in transactions: vacuum keeps every row version newer, and freezing stops there).
 * Physical slots and the logical slots of this database; details name the worst slot, whether it is
 * active, and to drop it with pg_drop_replication_slot when its consumer is gone.
 */
export function slotChecks(rows: SlotRow[], st: DbHealthSettings, top: number): Check[] {
  const bytes = rows.map((r) => ({ ...r, bytes: r.retained === null ? 0 : Number(r.retained), age: Math.max(r.xmin_age ?? 0, r.catalog_xmin_age ?? 0) }));
  const listed = (xs: typeof bytes) => xs.slice(0, top).map((r) => ({ slot: r.slot, type: r.type, active: r.active, retainedBytes: r.bytes, xminAge: r.xmin_age, catalogXminAge: r.catalog_xmin_age, walStatus: r.wal_status }));
  const name = (r: (typeof bytes)[number]) =>
    `slot ${r.slot} (${r.type}, ${r.active ? "active" : "inactive: its consumer is not connected; if it is gone, SELECT pg_drop_replication_slot('" + r.slot.replace(/'/g, "''") + "')"})`;
  const byWal = [...bytes].sort((a, b) => b.bytes - a.bytes);
  const byAge = [...bytes].sort((a, b) => b.age - a.age);
  const w = byWal[0];
  const a = byAge[0];
  return [
    check("replication_slots", w ? w.bytes : 0, "bytes", st.REPLICATION_SLOT_WARN_BYTES, st.REPLICATION_SLOT_CRIT_BYTES, {
      ...(w ? { detail: `${name(w)} retains ${w.bytes} bytes of WAL${w.wal_status ? `, wal_status ${w.wal_status}` : ""}` } : {}),
      top: listed(byWal),
    }),
    check("replication_slot_xmin", a ? a.age : 0, "transactions", st.REPLICATION_SLOT_XMIN_WARN_AGE, st.REPLICATION_SLOT_XMIN_CRIT_AGE, {
      ...(a && a.age > 0 ? { detail: `${name(a)} holds back vacuum: its ${(a.xmin_age ?? 0) >= (a.catalog_xmin_age ?? 0) ? "xmin" : "catalog_xmin"} is ${a.age} transactions old` } : {}),
      top: listed(byAge.filter((r) => r.age > 0)),
    }),
  ];
}

/**
 * What holds the server back outside pg_stat_activity's transactions: replication slots (slotChecks),
 * the longest lock wait in this database (`lock_waits`, seconds since pg_locks.waitstart, PostgreSQL
 * 14+; the detail names the waiting pid and the pids pg_blocking_pids says block it), and the oldest
 * prepared transaction of the server (`prepared_transactions`, seconds since PREPARE TRANSACTION;
 * invisible to oldest_transaction, it holds its locks and its xmin until COMMIT/ROLLBACK PREPARED).
 * A check whose view this server lacks is "unavailable".
 */
async function holdingChecks(s: MaintenanceSession, st: DbHealthSettings): Promise<Check[]> {
  const checks: Check[] = [];
  const slots = await s.query<SlotRow>(
    `SELECT slot_name AS slot, slot_type AS type, active,
            CASE WHEN restart_lsn IS NOT NULL THEN pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, restart_lsn)::bigint END AS retained,
            age(xmin)::int AS xmin_age, age(catalog_xmin)::int AS catalog_xmin_age,
            ${Number((await s.query<{ v: string }>("SELECT current_setting('server_version_num') AS v"))[0].v) >= 130000 ? "wal_status" : "NULL::text AS wal_status"}
       FROM pg_replication_slots WHERE database IS NULL OR database = current_database()`,
  );
  checks.push(...slotChecks(slots, st, st.TOP_TABLES));

  try {
    const waits = await s.query<{ pid: number; seconds: number; mode: string; locktype: string; rel: string | null; blockers: number[]; query: string | null; app: string }>(
      `SELECT a.pid, extract(epoch FROM now() - l.waitstart)::float8 AS seconds, l.mode, l.locktype, l.relation::regclass::text AS rel,
              pg_blocking_pids(a.pid) AS blockers, left(regexp_replace(a.query, '\s+', ' ', 'g'), 200) AS query, a.application_name AS app
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE NOT l.granted AND l.waitstart IS NOT NULL AND a.datname = current_database()
        ORDER BY l.waitstart LIMIT $1`,
      [st.TOP_TABLES],
    );
    const w = waits[0];
    checks.push(
      check("lock_waits", w ? round(Number(w.seconds)) : 0, "seconds", st.LOCK_WAIT_WARN_SECONDS, st.LOCK_WAIT_CRIT_SECONDS, {
        ...(w ? { detail: `pid ${w.pid} (application ${w.app ? `"${w.app}"` : "(none)"}) waits for ${w.mode} on ${w.rel ?? w.locktype}, blocked by pid ${w.blockers.join(", ") || "(none now)"}` } : {}),
        top: waits.map((x) => ({ pid: x.pid, seconds: round(Number(x.seconds)), mode: x.mode, relation: x.rel ?? x.locktype, blockedBy: x.blockers, query: x.query })),
      }),
    );
  } catch (err) {
    checks.push({ name: "lock_waits", value: null, unit: "seconds", status: "unavailable", detail: `pg_locks.waitstart (PostgreSQL 14+): ${oneLine(err)}` });
  }

  const prepared = await s.query<{ gid: string; database: string; owner: string; seconds: number; xid_age: number }>(
    `SELECT gid, database, owner, extract(epoch FROM now() - prepared)::float8 AS seconds, age(transaction)::int AS xid_age
       FROM pg_prepared_xacts ORDER BY prepared LIMIT $1`,
    [st.TOP_TABLES],
  );
  const p = prepared[0];
  checks.push(
    check("prepared_transactions", p ? round(Number(p.seconds)) : 0, "seconds", st.PREPARED_TRANSACTION_WARN_SECONDS, st.PREPARED_TRANSACTION_CRIT_SECONDS, {
      ...(p ? { detail: `prepared transaction "${p.gid}" in database ${p.database} (owner ${p.owner}), ${p.xid_age} transactions old: COMMIT PREPARED or ROLLBACK PREPARED it` } : {}),
      top: prepared.map((x) => ({ gid: x.gid, database: x.database, owner: x.owner, seconds: round(Number(x.seconds)), xidAge: x.xid_age })),
    }),
  );
  return checks;
}

const round = (n: number) => Math.round(n * 100) / 100;

export interface DbHealthReport {
  status: "ok" | "warning" | "critical";
  checks: Check[];
}

export const dbHealthTask = defineTask({
  name: "db-health",
  description: "Connections, wraparound, dead tuples, long transactions, last vacuum/analyze, size, slow statements, replication slots, lock waits, prepared transactions",
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
