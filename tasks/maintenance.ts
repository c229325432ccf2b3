/**
 * Targeted VACUUM, ANALYZE and REINDEX CONCURRENTLY.
 *
 * vacuum: tables are chosen by need (flexible_freeze's rule: more than DEAD_TUPLES_MIN dead tuples,
 * more than DEAD_PERCENT_MIN % dead, not vacuumed in the last VACUUMED_WITHIN_SECONDS; or a
 * relfrozenxid age beyond FREEZE_AGE), ordered by need (freeze candidates first, oldest first; then
 * by dead fraction), and vacuumed one statement per table with SKIP_LOCKED inside a time budget that
 * is checked before each table, with a pause between tables. VACUUM FULL only for tables named in
 * VACUUM_FULL_TABLES. ALL=true vacuums every table of the filter regardless of need (opt-in).
 *
 * analyze: ANALYZE (SKIP_LOCKED) of tables never analyzed or with many changes since the last one.
 *
 * reindex: drops INVALID leftovers of failed concurrent builds (*_ccnew, *_ccnew<N>, *_ccold), then
 * REINDEX INDEX CONCURRENTLY of the listed indexes, of all indexes of the listed tables, or (when
 * nothing is listed) of btree indexes whose bloat exceeds BLOAT_PERCENT_MIN: measured with pgstattuple's
 * pgstatindex where that extension is installed (within half the time budget), else estimated from
 * statistics; deduplicated indexes (PostgreSQL 13+) are not estimated and are listed in `notEstimated`.
 *
 * One run of each kind at a time per database (advisory lock): a second run reports the database
 * as "already-running" and succeeds without touching it.
 *
 * Tables and indexes are listed first and acted on one by one, by OID (`actByOid`): one dropped
 * before its turn (or while its statement waits) is skipped and named in the report's `vanished`
 * list, one renamed meanwhile is worked on under its new name, and neither fails the run. Any other
 * error of a table or index (permission denied, a timeout) still fails the run.
 */
import { z } from "zod";
import {
  actByOid,
  Budget,
  databaseMetric,
  envList,
  forEachDatabase,
  isSkippedForLock,
  pause,
  qualified,
  regimeRelation,
  relationText,
  resolveTables,
  sessionSettings,
  splitName,
  toResult,
  withinBudget,
  type MaintenanceResult,
  type MaintenanceSession,
} from "./lib/pgmaint";
import { defineTask, envBool, envInt, envNumber, MetricUnit, oneLine, TaskError, type TaskContext } from "./lib/runtime";

const filterSettings = {
  /** Only these tables (schema.table or table in public). */
  TABLES: envList.optional(),
  /** Only tables in these schemas. */
  SCHEMAS: envList.optional(),
  /** Blanket mode: every table of the filter, needed or not. Off by default. */
  ALL: envBool.default(false),
};

export const vacuumSettings = z.object({
  ...sessionSettings,
  ...filterSettings,
  DEAD_TUPLES_MIN: envInt(0).default(100),
  DEAD_PERCENT_MIN: envNumber(0, 100).default(5),
  /** Tables vacuumed (manually or by autovacuum) this recently are left alone for dead tuples. */
  VACUUMED_WITHIN_SECONDS: envInt(0).default(3600),
  /** relfrozenxid age from which a table is vacuumed with FREEZE (vacuum_freeze_table_age's default). */
  FREEZE_AGE: envInt(1, 2_000_000_000).default(150_000_000),
  /** The only tables that ever get VACUUM FULL (it rewrites the table under an ACCESS EXCLUSIVE lock). */
  VACUUM_FULL_TABLES: envList.optional(),
});
export type VacuumSettings = z.infer<typeof vacuumSettings>;

export const analyzeSettings = z.object({
  ...sessionSettings,
  ...filterSettings,
  /** Changes since the last analyze: at least this many ... */
  ANALYZE_CHANGES_MIN: envInt(0).default(50),
  /** ... and at least this share of the live rows (autovacuum_analyze_scale_factor's default 10 %). */
  ANALYZE_CHANGE_PERCENT_MIN: envNumber(0, 100).default(10),
});
export type AnalyzeSettings = z.infer<typeof analyzeSettings>;

interface TableStat {
  oid: number;
  schema: string;
  name: string;
  live: number;
  dead: number;
  deadPercent: number;
  xidAge: number;
  sinceVacuumSeconds: number | null;
  modsSinceAnalyze: number;
  analyzed: boolean;
}

async function tableStats(s: MaintenanceSession): Promise<TableStat[]> {
  // pg_class and pg_stat_* only: no function here opens a table, so a locked table never blocks this.
  await s.query("SELECT pg_stat_clear_snapshot()");
  const rows = await s.query<Record<string, string | number | boolean | null>>(`
    SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name,
           coalesce(st.n_live_tup, 0)::bigint AS live, coalesce(st.n_dead_tup, 0)::bigint AS dead,
           age(c.relfrozenxid)::bigint AS xid_age,
           extract(epoch FROM now() - greatest(st.last_vacuum, st.last_autovacuum))::float8 AS since_vacuum,
           coalesce(st.n_mod_since_analyze, 0)::bigint AS mods,
           (st.last_analyze IS NOT NULL OR st.last_autoanalyze IS NOT NULL) AS analyzed
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
     WHERE c.relkind IN ('r', 'm') AND ${regimeRelation()}`);
  return rows.map((r) => {
    const live = Number(r.live);
    const dead = Number(r.dead);
    return {
      oid: Number(r.oid),
      schema: String(r.schema),
      name: String(r.name),
      live,
      dead,
      deadPercent: live + dead > 0 ? (100 * dead) / (live + dead) : 0,
      xidAge: Number(r.xid_age),
      sinceVacuumSeconds: r.since_vacuum === null ? null : Number(r.since_vacuum),
      modsSinceAnalyze: Number(r.mods),
      analyzed: Boolean(r.analyzed),
    };
  });
}

async function filtered(s: MaintenanceSession, settings: { TABLES?: string[]; SCHEMAS?: string[] }): Promise<TableStat[]> {
  let all = await tableStats(s);
  if (settings.TABLES?.length) {
    const wanted = new Set((await resolveTables(s, "TABLES", settings.TABLES)).map((t) => t.oid));
    all = all.filter((t) => wanted.has(t.oid));
  }
  if (settings.SCHEMAS?.length) {
    const schemas = new Set(settings.SCHEMAS);
    all = all.filter((t) => schemas.has(t.schema));
  }
  return all;
}

const display = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;

export interface TableOutcome {
  table: string;
  reasons: string[];
  deadBefore: number;
  deadAfter?: number;
  modsBefore?: number;
  full?: boolean;
  freeze?: boolean;
  ms: number;
}

export interface TablesReport {
  /** Tables worked on, in the order of need. */
  done: TableOutcome[];
  /** Tables SKIP_LOCKED passed over because another session held a conflicting lock. */
  skippedLocked: string[];
  /** Tables that needed work but were not started because the time budget ran out. */
  deferred: string[];
  failed: { table: string; error: string }[];
  /** Tables listed at the start that were dropped before their turn (schema.table as listed). */
  vanished: string[];
  /** Tables of the filter that needed nothing. */
  notNeeded: number;
  elapsedMs: number;
}

interface Planned {
  t: TableStat;
  reasons: string[];
  /** The statement for the table under its current (quoted) name. */
  sql: (name: string) => string;
  full?: boolean;
  freeze?: boolean;
}

/** VACUUM/ANALYZE name a relation that was dropped after the statement resolved it this way (a WARNING, no error). */
const noLongerExists = (notices: { message: string }[]) => notices.some((n) => /no longer exists/i.test(n.message));

async function runPlanned(s: MaintenanceSession, plan: Planned[], notNeeded: number, settings: { TIME_BUDGET_SECONDS: number; PAUSE_MS: number }, ctx: TaskContext, kind: "vacuum" | "analyze"): Promise<TablesReport> {
  const budget = new Budget(settings.TIME_BUDGET_SECONDS, ctx.signal);
  s.until(budget.cleanupDeadline);
  const report: TablesReport = { done: [], skippedLocked: [], deferred: [], failed: [], vanished: [], notNeeded, elapsedMs: 0 };
  const vanished = (p: Planned) => {
    report.vanished.push(display(p.t));
    ctx.log.warn(`${kind} skipped ${display(p.t)}: dropped since the tables were listed`);
  };
  for (let i = 0; i < plan.length; i++) {
    const p = plan[i];
    if (budget.exhausted()) {
      report.deferred.push(...plan.slice(i).map((x) => display(x.t)));
      ctx.log.warn(`time budget of ${settings.TIME_BUDGET_SECONDS}s used up; ${plan.length - i} table(s) left for the next run`);
      break;
    }
    if (i > 0) await pause(settings.PAUSE_MS, ctx.signal);
    const started = Date.now();
    try {
      const acted = await withinBudget(s, budget, () => actByOid(s, [p.t.oid], ([r]) => s.exec(p.sql(qualified(r.schema, r.name)))));
      if (acted.status === "vanished") {
        vanished(p);
        continue;
      }
      const { notices } = acted.value;
      const current = relationText(acted.rels[0]);
      if (isSkippedForLock(notices)) {
        report.skippedLocked.push(current);
        ctx.log.info(`${kind} skipped ${current}: locked by another session`);
        continue;
      }
      const after = (await tableStats(s)).find((x) => x.oid === p.t.oid);
      if (!after && noLongerExists(notices)) {
        vanished(p);
        continue;
      }
      if (current !== display(p.t)) ctx.log.info(`${display(p.t)} was renamed to ${current} since the tables were listed`);
      report.done.push({
        table: current,
        reasons: p.reasons,
        deadBefore: p.t.dead,
        ...(kind === "vacuum" ? { deadAfter: after?.dead ?? 0 } : { modsBefore: p.t.modsSinceAnalyze }),
        ...(p.full ? { full: true } : {}),
        ...(p.freeze ? { freeze: true } : {}),
        ms: Date.now() - started,
      });
      ctx.log.info(`${kind} ${current} (${p.reasons.join(", ")}) in ${Date.now() - started} ms`);
    } catch (err) {
      if (s.stoppedByDeadline(err)) {
        report.deferred.push(...plan.slice(i).map((x) => display(x.t)));
        ctx.log.warn(`${kind} ${display(p.t)} stopped at the end of the time budget of ${settings.TIME_BUDGET_SECONDS}s; ${plan.length - i} table(s) left for the next run`);
        break;
      }
      report.failed.push({ table: display(p.t), error: oneLine(err) });
      ctx.log.error(`${kind} ${display(p.t)} failed: ${oneLine(err)}`);
    }
  }
  report.elapsedMs = budget.elapsedMs;
  return report;
}

/** Which tables need VACUUM and why, most needed first. */
export function planVacuum(tables: TableStat[], settings: VacuumSettings, fullOids: Set<number>): { plan: Planned[]; notNeeded: number } {
  const plan: Planned[] = [];
  for (const t of tables) {
    const reasons: string[] = [];
    const freeze = t.xidAge >= settings.FREEZE_AGE;
    if (freeze) reasons.push(`xid age ${t.xidAge}`);
    const recentlyVacuumed = t.sinceVacuumSeconds !== null && t.sinceVacuumSeconds < settings.VACUUMED_WITHIN_SECONDS;
    if (t.dead > settings.DEAD_TUPLES_MIN && t.deadPercent > settings.DEAD_PERCENT_MIN && !recentlyVacuumed) {
      reasons.push(`${t.dead} dead tuples (${t.deadPercent.toFixed(1)} %)`);
    }
    if (!reasons.length && settings.ALL) reasons.push("all tables requested");
    if (!reasons.length) continue;
    const full = fullOids.has(t.oid);
    const opts = [full ? "FULL" : undefined, freeze ? "FREEZE" : undefined, "ANALYZE", "SKIP_LOCKED"].filter(Boolean).join(", ");
    plan.push({ t, reasons, sql: (name) => `VACUUM (${opts}) ${name}`, full, freeze });
  }
  plan.sort((a, b) => Number(Boolean(b.freeze)) - Number(Boolean(a.freeze)) || (a.freeze ? b.t.xidAge - a.t.xidAge : 0) || b.t.deadPercent - a.t.deadPercent || b.t.dead - a.t.dead);
  return { plan, notNeeded: tables.length - plan.length };
}

export function planAnalyze(tables: TableStat[], settings: AnalyzeSettings): { plan: Planned[]; notNeeded: number } {
  const plan: Planned[] = [];
  for (const t of tables) {
    const reasons: string[] = [];
    if (!t.analyzed && (t.live > 0 || t.modsSinceAnalyze > 0)) reasons.push("never analyzed");
    else if (t.modsSinceAnalyze >= settings.ANALYZE_CHANGES_MIN && t.modsSinceAnalyze >= (settings.ANALYZE_CHANGE_PERCENT_MIN / 100) * t.live) {
      reasons.push(`${t.modsSinceAnalyze} changes since last analyze`);
    }
    if (!reasons.length && settings.ALL) reasons.push("all tables requested");
    if (!reasons.length) continue;
    plan.push({ t, reasons, sql: (name) => `ANALYZE (SKIP_LOCKED) ${name}` });
  }
  plan.sort((a, b) => Number(a.t.analyzed) - Number(b.t.analyzed) || b.t.modsSinceAnalyze - a.t.modsSinceAnalyze);
  return { plan, notNeeded: tables.length - plan.length };
}

function failOnTableErrors(task: string, result: MaintenanceResult<{ failed: { table?: string; index?: string; error: string }[] }>) {
  for (const d of result.databases) {
    const f = d.report?.failed[0];
    if (f) throw new TaskError(`${task}: database ${d.database}: ${f.table ?? f.index}: ${f.error}${d.report!.failed.length > 1 ? ` (and ${d.report!.failed.length - 1} more)` : ""}`, result);
  }
}

export const vacuumTask = defineTask({
  name: "vacuum",
  description: "VACUUM (ANALYZE, SKIP_LOCKED) of the tables that need it, inside a time budget",
  settings: vacuumSettings,
  async run(settings, ctx): Promise<MaintenanceResult<TablesReport>> {
    const outcomes = await forEachDatabase(settings, settings, "vacuum", ctx, async (s) => {
      const fullOids = new Set((await resolveTables(s, "VACUUM_FULL_TABLES", settings.VACUUM_FULL_TABLES ?? [])).map((t) => t.oid));
      const { plan, notNeeded } = planVacuum(await filtered(s, settings), settings, fullOids);
      ctx.log.info(`database ${s.connection.id}: ${plan.length} table(s) need vacuum`);
      const report = await runPlanned(s, plan, notNeeded, settings, ctx, "vacuum");
      databaseMetric(ctx, s.connection.id, "TablesVacuumed", MetricUnit.Count, report.done.length);
      databaseMetric(ctx, s.connection.id, "TablesSkipped", MetricUnit.Count, report.skippedLocked.length + report.deferred.length);
      return report;
    });
    const result = toResult(outcomes);
    failOnTableErrors("vacuum", result);
    return result;
  },
});

export const analyzeTask = defineTask({
  name: "analyze",
  description: "ANALYZE (SKIP_LOCKED) of tables never analyzed or much changed since",
  settings: analyzeSettings,
  async run(settings, ctx): Promise<MaintenanceResult<TablesReport>> {
    const outcomes = await forEachDatabase(settings, settings, "analyze", ctx, async (s) => {
      const { plan, notNeeded } = planAnalyze(await filtered(s, settings), settings);
      const report = await runPlanned(s, plan, notNeeded, settings, ctx, "analyze");
      databaseMetric(ctx, s.connection.id, "TablesAnalyzed", MetricUnit.Count, report.done.length);
      return report;
    });
    const result = toResult(outcomes);
    failOnTableErrors("analyze", result);
    return result;
  },
});

// ---------------------------------------------------------------------------------------------
// REINDEX

export const reindexSettings = z.object({
  ...sessionSettings,
  /** Indexes to rebuild (schema.index or index in public). */
  REINDEX_INDEXES: envList.optional(),
  /** Tables whose every index is rebuilt. */
  REINDEX_TABLES: envList.optional(),
  /** With nothing listed: btree indexes whose estimated bloat is at least this share of their size. */
  BLOAT_PERCENT_MIN: envNumber(0, 100).default(30),
  /** ... and that are at least this large (small indexes are not worth the work). */
  INDEX_SIZE_MIN_MB: envNumber(0).default(10),
  /** Drop INVALID leftovers of failed concurrent index builds (*_ccnew, *_ccold) first. */
  DROP_INVALID_LEFTOVERS: envBool.default(true),
});
export type ReindexSettings = z.infer<typeof reindexSettings>;

export interface IndexEstimate {
  schema: string;
  name: string;
  table: string;
  oid: number;
  sizeBytes: number;
  /** null when the index cannot be estimated (expression columns, no statistics yet, deduplicated keys). */
  bloatPercent: number | null;
  /**
   * Where bloatPercent comes from: "pgstatindex" (measured leaf density, exact), "estimate" (the
   * statistics-based estimate); with bloatPercent null, why there is none.
   */
  source: "pgstatindex" | "estimate" | "unavailable";
  /** With source "unavailable": why, e.g. "estimate unavailable for deduplicated index". */
  why?: string;
}

/** The reason given for an index whose keys may be stored as posting lists. */
export const DEDUPLICATED_UNAVAILABLE = "estimate unavailable for deduplicated index";

/**
 * Btree bloat estimate after ioguix/pgsql-bloat-estimation (BSD-2): the pages the index would need
 * for reltuples entries of the average key width (pg_stats) at its fillfactor, against the pages it
 * has. It is an estimate: it needs fresh statistics (ANALYZE) and ignores expression indexes.
 *
 * The estimate assumes one index tuple per heap row. Since PostgreSQL 13 a btree stores equal keys
 * once with a posting list of heap TIDs ("Deduplication", PostgreSQL docs, B-Tree Indexes, 67.4.3;
 * on by default, deduplicate_items), so an index on a column with many equal values is far smaller
 * than the estimate's "ideal" and its bloat clamps to 0 however empty its pages are. Such an index
 * (PostgreSQL 13+, not unique, deduplicate_items not off, no INCLUDE columns, and a key whose
 * statistics give fewer than 0.9 distinct values per row, or more than one key column) gets no
 * estimate: bloatPercent null, source "unavailable", why DEDUPLICATED_UNAVAILABLE. Unique indexes
 * deduplicate only row versions of one key, so the estimate stands for them. `measureLeafDensity`
 * replaces both with a measurement where pgstattuple is installed.
 */
export async function estimateIndexBloat(s: MaintenanceSession): Promise<IndexEstimate[]> {
  const rows = await s.query<Record<string, string | number | null>>(`
    WITH idx AS (
      SELECT c.oid, n.nspname AS schema, c.relname AS name, t.relname AS tbl, i.indrelid, c.relpages::bigint AS relpages,
             greatest(c.reltuples, 0)::float8 AS reltuples, i.indnatts, i.indexprs IS NOT NULL AS has_expr,
             current_setting('server_version_num')::int >= 130000 AND NOT i.indisunique AND i.indnatts = i.indnkeyatts
               AND NOT coalesce((SELECT o IN ('deduplicate_items=off', 'deduplicate_items=false', 'deduplicate_items=0') FROM unnest(c.reloptions) o WHERE o LIKE 'deduplicate_items=%'), false) AS may_dedup,
             coalesce((SELECT substring(o FROM 'fillfactor=([0-9]+)')::int FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 90) AS fillfactor,
             string_to_array(textin(int2vectorout(i.indkey)), ' ')::int[] AS cols
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_am am ON am.oid = c.relam
       WHERE am.amname = 'btree' AND i.indisvalid AND c.relpages > 0 AND ${regimeRelation()}
    )
    SELECT idx.oid::int AS oid, idx.schema, idx.name, idx.tbl, idx.relpages, idx.reltuples, idx.fillfactor, idx.has_expr, idx.may_dedup,
           min(CASE WHEN s.n_distinct < 0 THEN -s.n_distinct WHEN idx.reltuples > 0 THEN s.n_distinct / idx.reltuples END)::float8 AS distinct_ratio,
           current_setting('block_size')::int AS bs,
           count(s.avg_width)::int AS with_stats, count(*)::int AS ncols,
           sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 1024))::float8 AS datawidth,
           max(coalesce(s.null_frac, 0))::float8 AS maxnull
      FROM idx
      CROSS JOIN LATERAL unnest(idx.cols) AS k(attnum)
      LEFT JOIN pg_attribute a ON a.attrelid = idx.indrelid AND a.attnum = k.attnum
      LEFT JOIN pg_stats s ON s.schemaname = idx.schema AND s.tablename = idx.tbl AND s.attname = a.attname AND NOT s.inherited
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 11`);
  const align = (n: number) => Math.ceil(n / 8) * 8;
  return rows.map((r) => {
    const bs = Number(r.bs);
    const relpages = Number(r.relpages);
    let bloatPercent: number | null = null;
    const base = { schema: String(r.schema), name: String(r.name), table: String(r.tbl), oid: Number(r.oid), sizeBytes: relpages * bs };
    const duplicates = Number(r.ncols) > 1 || r.distinct_ratio === null || Number(r.distinct_ratio) < DISTINCT_RATIO_UNIQUE;
    if (r.may_dedup && duplicates) return { ...base, bloatPercent, source: "unavailable" as const, why: DEDUPLICATED_UNAVAILABLE };
    if (!r.has_expr && Number(r.with_stats) === Number(r.ncols) && relpages > 1) {
      // IndexTupleData (8 bytes, + null bitmap when a column has nulls), key data, both MAXALIGNed,
      // plus a 4-byte line pointer; 24-byte page header and 16-byte btree special space.
      const tupleWidth = align(Number(r.maxnull) > 0 ? 12 : 8) + align(Number(r.datawidth)) + 4;
      const perPage = Math.floor(((bs - 24 - 16) * Number(r.fillfactor)) / 100 / tupleWidth);
      const estPages = 1 + Math.ceil(Number(r.reltuples) / Math.max(perPage, 1));
      bloatPercent = Math.max(0, (100 * (relpages - estPages)) / relpages);
    }
    if (bloatPercent === null) return { ...base, bloatPercent, source: "unavailable" as const, why: r.has_expr ? "estimate unavailable for expression index" : "estimate unavailable: no statistics (ANALYZE)" };
    return { ...base, bloatPercent, source: "estimate" as const };
  });
}

/** Distinct values per row at or above which keys are taken as unique enough for the one-tuple-per-row estimate. */
const DISTINCT_RATIO_UNIQUE = 0.9;

/**
 * Measures btree leaf density with pgstattuple's pgstatindex where the extension is installed in the
 * database (any schema), and replaces each given index's bloat with 100 - avg_leaf_density * 100 /
 * leaf fillfactor (the density a fresh build gives; 90 by default): exact, deduplication included.
 * pgstatindex reads the whole index, so only indexes at least `minBytes` large are measured (smaller
 * ones are never rebuilt), smallest first, and measuring stops once `budget` is half spent, leaving the
 * rest of the time to the rebuilds; unmeasured indexes keep the statistics estimate. Without
 * pgstattuple the estimates are returned unchanged. An index pgstatindex cannot read (dropped
 * meanwhile, permission) keeps its estimate too.
 */
export async function measureLeafDensity(s: MaintenanceSession, estimates: IndexEstimate[], minBytes: number, budget: Budget): Promise<IndexEstimate[]> {
  const ext = await s.query<{ schema: string }>("SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'pgstattuple'");
  if (!ext.length) return estimates;
  const fn = `${ext[0].schema}.pgstatindex`;
  const half = budget.deadline - (budget.deadline - (Date.now() - budget.elapsedMs)) / 2;
  const order = estimates.map((e, i) => ({ e, i })).filter(({ e }) => e.sizeBytes >= minBytes).sort((a, b) => a.e.sizeBytes - b.e.sizeBytes);
  const out = [...estimates];
  for (const { e, i } of order) {
    if (budget.exhausted() || Date.now() >= half) break;
    try {
      const rows = await withinBudget(s, budget, () =>
        s.query<{ density: number | null; fillfactor: number }>(
          `SELECT CASE WHEN p.leaf_pages > 0 THEN p.avg_leaf_density END::float8 AS density,
                  coalesce((SELECT substring(o FROM 'fillfactor=([0-9]+)')::int FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 90) AS fillfactor
             FROM pg_class c, ${fn}(c.oid::regclass) p WHERE c.oid = $1`,
          [e.oid],
        ),
      );
      const density = rows[0]?.density;
      if (density === null || density === undefined || Number.isNaN(Number(density))) continue;
      out[i] = { ...e, bloatPercent: Math.max(0, 100 - (Number(density) * 100) / Number(rows[0].fillfactor)), source: "pgstatindex", why: undefined };
    } catch (err) {
      if (s.stoppedByDeadline(err)) break;
    }
  }
  return out;
}

/** INVALID indexes left by a failed CREATE/REINDEX ... CONCURRENTLY, with no build running on their table. */
export async function invalidLeftovers(s: MaintenanceSession): Promise<{ oid: number; schema: string; name: string; table: string }[]> {
  return s.query(`
    SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, t.relname AS table
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT i.indisvalid AND ${regimeRelation()}
       AND c.relname ~ '_cc(new|old)[0-9]*$'
       AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.relid = i.indrelid)
     ORDER BY 2, 3`);
}

export interface ReindexReport {
  droppedLeftovers: string[];
  reindexed: { index: string; table: string; reason: string; sizeBefore: number; sizeAfter: number; ms: number }[];
  deferred: string[];
  failed: { index: string; error: string }[];
  /** Indexes of at least INDEX_SIZE_MIN_MB with no bloat figure (not measured, no sound estimate), and why. */
  notEstimated: { index: string; why: string }[];
  /** Indexes (targets or invalid leftovers) listed that were dropped (with their table, or on their own) before their turn. */
  vanished: string[];
  elapsedMs: number;
}

interface IndexTarget {
  oid: number;
  schema: string;
  name: string;
  table: string;
}

async function resolveIndexes(s: MaintenanceSession, names: string[]): Promise<IndexTarget[]> {
  const out = [];
  for (const raw of names) {
    const { schema, name } = splitName(raw);
    const rows = await s.query<{ oid: number; table: string }>(
      `SELECT c.oid::int AS oid, t.relname AS table FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, name],
    );
    if (!rows.length) throw new TaskError(`REINDEX_INDEXES: index "${schema}.${name}" does not exist in database ${s.connection.id}`);
    out.push({ oid: Number(rows[0].oid), schema, name, table: rows[0].table });
  }
  return out;
}

export const reindexTask = defineTask({
  name: "reindex",
  description: "REINDEX INDEX CONCURRENTLY of bloated or listed indexes, after dropping invalid leftovers",
  settings: reindexSettings,
  async run(settings, ctx): Promise<MaintenanceResult<ReindexReport>> {
    const outcomes = await forEachDatabase(settings, settings, "reindex", ctx, async (s) => {
      const budget = new Budget(settings.TIME_BUDGET_SECONDS, ctx.signal);
      s.until(budget.cleanupDeadline);
      const report: ReindexReport = { droppedLeftovers: [], reindexed: [], deferred: [], failed: [], vanished: [], notEstimated: [], elapsedMs: 0 };
      const dropLeftovers = async () => {
        if (!settings.DROP_INVALID_LEFTOVERS) return;
        for (const l of await invalidLeftovers(s)) {
          try {
            // Gone meanwhile (its table dropped, or dropped by someone else): nothing left to clean up, only to report.
            const acted = await actByOid(s, [l.oid], ([r]) => s.exec(`DROP INDEX CONCURRENTLY ${qualified(r.schema, r.name)}`));
            if (acted.status === "done") {
              report.droppedLeftovers.push(relationText(acted.rels[0]));
              ctx.log.info(`dropped invalid leftover index ${relationText(acted.rels[0])} on ${l.table}`);
            } else {
              report.vanished.push(`${l.schema}.${l.name}`);
            }
          } catch (err) {
            report.failed.push({ index: `${l.schema}.${l.name}`, error: `dropping invalid leftover: ${oneLine(err)}` });
          }
        }
      };
      await dropLeftovers();

      // Targets: listed indexes and all indexes of listed tables; otherwise the bloat estimate.
      const targets: (IndexTarget & { reason: string })[] = [];
      const seen = new Set<number>();
      const add = (t: IndexTarget, reason: string) => {
        if (!seen.has(t.oid)) {
          seen.add(t.oid);
          targets.push({ oid: t.oid, schema: t.schema, name: t.name, table: t.table, reason });
        }
      };
      for (const i of await resolveIndexes(s, settings.REINDEX_INDEXES ?? [])) add(i, "listed");
      for (const t of await resolveTables(s, "REINDEX_TABLES", settings.REINDEX_TABLES ?? [])) {
        const idx = await s.query<IndexTarget>(
          `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, $2::text AS table FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.indrelid = $1 ORDER BY c.relname`,
          [t.oid, t.name],
        );
        for (const i of idx) add({ ...i, oid: Number(i.oid) }, "table listed");
      }
      if (!settings.REINDEX_INDEXES?.length && !settings.REINDEX_TABLES?.length) {
        const all = await measureLeafDensity(s, await estimateIndexBloat(s), settings.INDEX_SIZE_MIN_MB * 1024 * 1024, budget);
        for (const e of all) {
          if (e.source === "unavailable" && e.sizeBytes >= settings.INDEX_SIZE_MIN_MB * 1024 * 1024) {
            report.notEstimated.push({ index: `${e.schema}.${e.name}`, why: e.why! });
          }
        }
        if (report.notEstimated.length) {
          ctx.log.warn(`reindex: ${report.notEstimated.length} index(es) of at least INDEX_SIZE_MIN_MB not judged (install pgstattuple to measure them, or list them)`, { notEstimated: report.notEstimated });
        }
        const est = all
          .filter((e) => e.bloatPercent !== null && e.bloatPercent >= settings.BLOAT_PERCENT_MIN && e.sizeBytes >= settings.INDEX_SIZE_MIN_MB * 1024 * 1024)
          .sort((a, b) => b.bloatPercent! * b.sizeBytes - a.bloatPercent! * a.sizeBytes);
        for (const e of est) add(e, `${e.source === "pgstatindex" ? "measured" : "estimated"} bloat ${e.bloatPercent!.toFixed(0)} %`);
      }

      // By name, not OID: REINDEX CONCURRENTLY gives the rebuilt index a new OID under the old name.
      const size = async (r: { schema: string; name: string }) =>
        Number((await s.query<{ b: string }>(`SELECT pg_relation_size(c.oid) AS b FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, [r.schema, r.name]))[0]?.b ?? 0);
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i];
        if (budget.exhausted()) {
          report.deferred.push(...targets.slice(i).map((x) => `${x.schema}.${x.name}`));
          break;
        }
        if (i > 0) await pause(settings.PAUSE_MS, ctx.signal);
        const started = Date.now();
        try {
          const acted = await actByOid(s, [t.oid], async ([r]) => {
            const sizeBefore = await size(r);
            await withinBudget(s, budget, () => s.exec(`REINDEX INDEX CONCURRENTLY ${qualified(r.schema, r.name)}`));
            return { sizeBefore, sizeAfter: await size(r) };
          });
          if (acted.status === "vanished") {
            report.vanished.push(`${t.schema}.${t.name}`);
            ctx.log.warn(`reindex skipped ${t.schema}.${t.name}: dropped since the indexes were listed`);
            continue;
          }
          report.reindexed.push({ index: relationText(acted.rels[0]), table: t.table, reason: t.reason, ...acted.value, ms: Date.now() - started });
        } catch (err) {
          if (s.stoppedByDeadline(err)) {
            report.deferred.push(...targets.slice(i).map((x) => `${x.schema}.${x.name}`));
            ctx.log.warn(`reindex ${t.schema}.${t.name} stopped at the end of the time budget of ${settings.TIME_BUDGET_SECONDS}s; ${targets.length - i} index(es) left for the next run`);
          } else {
            report.failed.push({ index: `${t.schema}.${t.name}`, error: oneLine(err) });
          }
          // A REINDEX CONCURRENTLY cut short (lock_timeout, statement_timeout) leaves an invalid *_ccnew.
          await dropLeftovers();
          if (s.stoppedByDeadline(err)) break;
        }
      }
      report.elapsedMs = budget.elapsedMs;
      databaseMetric(ctx, s.connection.id, "IndexesReindexed", MetricUnit.Count, report.reindexed.length);
      return report;
    });
    const result = toResult(outcomes);
    failOnTableErrors("reindex", result);
    return result;
  },
});
