/**
 * Data retention: deletes rows older than each rule's age in small batches, each batch one short
 * transaction, so no long lock or huge transaction builds up.
 *
 * What a rule covers is what `DELETE FROM table` covers: the table itself and every table under it,
 * that is each partition at any depth of a partitioned table, and each inheritance child at any
 * depth of an inheritance parent (a rule naming a partition or child covers that one and what is
 * under it). The purge acts on each of those physical tables in turn (`DELETE FROM ONLY leaf`),
 * never on a parent: a ctid names a row only inside one physical table, so a ctid picked through a
 * parent would also hit the rows at the same position in every other child. Each batch picks and
 * deletes inside one physical table, and its pick is also bound to that table's OID (`tableoid`);
 * the leaf carries the name of the rule's table as the config writes it, so a `where` that names the
 * table (`jobs.status = 'completed'`) means on each leaf what it means on the table:
 *
 *   DELETE FROM ONLY leaf AS <table> WHERE ctid = ANY(ARRAY(
 *     SELECT ctid FROM ONLY leaf AS <table> WHERE tableoid = <leaf oid> AND <column> < <bound> [AND (<where>)] LIMIT n FOR UPDATE SKIP LOCKED))
 *
 * Acting per physical table rather than through the parent with (tableoid, ctid) pairs keeps each
 * batch a TID scan of one table: through the parent, every batch would probe every partition. (So a
 * statement-level DELETE trigger of the parent itself does not fire; row-level triggers do, as
 * partitions inherit them.) Views, materialized views, foreign tables (also as a partition or child),
 * sequences and other relations are refused with one line naming the rule: a foreign table's rows
 * cannot be deleted and archived in one local transaction.
 *
 * Only old rows go, and nothing else changes: a rule is refused when its table (or a partition or
 * child) is referenced by a foreign key ON DELETE CASCADE / SET NULL / SET DEFAULT (from any table,
 * schema or partition: those rows would go or change whatever their age), has a rewrite rule ON
 * DELETE, or has an enabled DELETE trigger the rule does not list in `allowTriggers` (a trigger may
 * change any row; listing it accepts that).
 *
 * Every old row is seen: a rule is refused when row-level security applies to the purge's role on one
 * of its physical tables or on a table whose references keep rows (enabled and the role not the
 * table's owner, or FORCE ROW LEVEL SECURITY; the role neither BYPASSRLS nor a superuser): its policies
 * could hide old rows from every batch, and the run would report the rule done with them left.
 * The same is refused on every table the rule's `where` reads, directly or through views at any depth
 * (whereRowSecurityProblem): a policy hiding a row there turns the where true for rows it is meant to
 * keep.
 *
 * A row still referenced through a foreign key ON DELETE NO ACTION or RESTRICT (deferrable or not,
 * composite or not, from a plain or partitioned table, the rule's table itself included) is kept: each
 * batch's pick leaves it out (`AND NOT EXISTS (SELECT 1 FROM referencing WHERE its columns = ours)`),
 * so every other old row goes, a kept row is neither deleted nor archived, and it goes in the first run
 * after its last referencing row is gone. When the rule's tables reference themselves (a parent row and
 * its child), the child goes in one batch and the parent, freed, in a later one of the same run: rounds
 * over the tables repeat while one deletes rows. The run reports the old rows kept, by referencing
 * table and constraint (`kept`, `keptBy`, and a warning line). A referencing row written between a
 * batch's pick and its delete fails that batch's constraint check; the batch is rolled back and tried
 * again (up to 3 times), and its next pick keeps the row.
 *
 * A batch skips rows other sessions hold locked (FOR UPDATE SKIP LOCKED), so it never queues behind a
 * busy row. Once the rule's tables are done, the old rows no foreign key keeps that are still there are
 * counted; when there are some, the run waits for their row locks once, up to LOCK_TIMEOUT_MS in all
 * and within the time budget, with batches that wait (FOR UPDATE), then takes the rows released
 * meanwhile. A lock released within the wait fails nothing. A row still left fails the rule (after
 * every other rule had its turn) with one line naming the table, the count and the sessions seen
 * blocking the wait (pg_blocking_pids, pg_stat_activity: pid, state, since when its transaction runs,
 * application_name, role), so a leaked idle-in-transaction session is found, not skipped every night;
 * the report holds them (`lockedLeft`, `lockedBy`). When the time budget ends the wait first, the rule
 * is incomplete instead (`complete` false, a warning).
 *
 * The bound: the cut-off instant (now minus olderThanDays, fixed once per rule at its turn) for a
 * timestamptz column. A timestamp without time zone holds a wall-clock time in the zone its writers
 * use, which the database cannot know: the rule must state it (`columnTimezone`, refused without
 * it), and the bound is the cut-off's wall-clock time there (at the zone's smallest offset of the
 * day around it, so a daylight-saving change lets no younger row go). A date goes only once its
 * whole day is older than the rule: dates before the cut-off's date in `columnTimezone`, or in
 * UTC-12 without one (the last zone to end a day).
 *
 * With `archiveTable`, the deleted rows are copied there in the same statement, every column of the
 * physical table they came from (an inheritance child's own columns too), and the batch commits only
 * when the archive took exactly as many rows as were deleted (a trigger or rule on the archive that
 * drops rows rolls the batch back and fails the run), so a row is either in the table or in the
 * archive, never lost and never in both:
 *
 *   WITH moved AS (DELETE FROM ONLY leaf AS <table> WHERE ctid = ANY(...) RETURNING cols),
 *        archived AS (INSERT INTO archive (cols) SELECT cols FROM moved RETURNING 1)
 *   SELECT count(*) of each
 *
 * The INSERT applies assignment casts, so each archive column must keep every value unchanged: the
 * same type, or a wider one (keepsValues); numeric(12,0) for numeric(12,2), or date for a
 * timestamp, is refused. The archive may be a plain or partitioned table (rows are routed to its
 * partitions); it must not be or contain the purged table (the archived rows would be purged again).
 *
 * An index on the timestamp column keeps each batch cheap. A rule's `where` (an SQL condition such as
 * `status = 'completed'`) is ANDed to the age condition of the batch's row pick, so only matching
 * rows are deleted and archived; it is refused unless it is one expression (no `;`, comments, `$`,
 * unbalanced parentheses or quotes).
 *
 * Every rule is checked before any row is touched, every refusal told in one line naming the rule's
 * key: the checks above, and the database plans (EXPLAIN, nothing runs) the very statement a batch
 * will run on every physical table of the rule, so a where valid on the table but not on one of its
 * partitions or children stops the run before the first row of any. A failure during the run names
 * the rule (`PURGE_RULES[<n>] (<table>)`). Tables are then acted on by OID: a table that is dropped
 * (or detached from the rule's table) after the check is skipped and named in the rule's `vanished`
 * list, a renamed one is purged under its new name, and neither fails the run; one attached since
 * is checked the same way before its rows are touched. One attached while the rule's batches run is
 * not purged by that run: once the rule's tables are done they are read again, and old rows in one
 * the run did not act on make the rule incomplete (`attached`, `complete` false, a warning); the next
 * run checks and purges them.
 */
import { z } from "zod";
import {
  actByOid,
  Budget,
  databaseMetric,
  forEachDatabase,
  isTimeout,
  isVanishedSignal,
  MaintenanceSession,
  pause,
  qualified,
  quoteIdent,
  relationsByOid,
  relationText,
  sessionSettings,
  splitName,
  sqlState,
  toResult,
  type MaintenanceResult,
  type RelationRef,
  withinBudget,
  type Acted,
} from "./lib/pgmaint";
import { defineTask, MetricUnit, oneLine, TaskError, type TaskContext } from "./lib/runtime";
import { purgeRuleSetting, type PurgeRule } from "../regime/purge-rule";

const pathText = (path: PropertyKey[]) => path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");

/** The rule's fields as the missing-setting message lists them: table, timestampColumn?, ... */
const RULE_FIELDS = Object.entries(purgeRuleSetting.shape)
  .map(([k, v]) => (v.safeParse(undefined).success ? `${k}?` : k))
  .join(", ");

export const purgeSettings = z
  .object({
    ...sessionSettings,
    PAUSE_MS: sessionSettings.PAUSE_MS.unwrap().default(100),
    PURGE_RULES: z.string({ message: `not set (a JSON list of {${RULE_FIELDS}})` }),
  })
  .transform((s, ctx) => {
    let raw: unknown;
    try {
      raw = JSON.parse(s.PURGE_RULES);
    } catch {
      ctx.addIssue({ code: "custom", path: ["PURGE_RULES"], message: "must be valid JSON" });
      return z.NEVER;
    }
    const r = z.array(purgeRuleSetting).min(1, "must list at least one rule").safeParse(raw);
    if (!r.success) {
      // Every problem, each under its key (PURGE_RULES[1].olderThanDays).
      for (const i of r.error.issues) ctx.addIssue({ code: "custom", path: [`PURGE_RULES${pathText(i.path)}`], message: i.message });
      return z.NEVER;
    }
    return { ...s, rules: r.data };
  });
export type PurgeSettings = z.infer<typeof purgeSettings>;

export interface RuleReport {
  rule: number;
  table: string;
  cutoff: string;
  /** The rule's extra condition, when it has one. */
  where?: string;
  deleted: number;
  archived: number;
  batches: number;
  /** false when the time budget ran out before the last old row was gone, or when `attached` lists old rows left in tables attached during the run. */
  complete: boolean;
  /** Rows deleted per physical table acted on: the table itself when plain, else each partition or child (schema.table, its current name). */
  leaves: { table: string; deleted: number }[];
  /** Tables of the rule (or its archive table) dropped, or detached from the rule's table, after the rules were checked. */
  vanished: string[];
  /**
   * Old rows (past the cut-off, matching the where) left in place because a foreign key ON DELETE NO
   * ACTION or RESTRICT still references them, counted when the rule's tables were done (0 when the time
   * budget ran out first). A row is kept until its last referencing row is gone; then a run purges it.
   */
  kept: number;
  /** The kept rows by reference: the referencing table (schema.table), the constraint, and how many old rows it references (a row may count under several). */
  keptBy: { table: string; constraint: string; rows: number }[];
  /**
   * Old rows (past the cut-off, matching the where) that no foreign key keeps, still there after the
   * batches and one wait of up to LOCK_TIMEOUT_MS for their row locks: other sessions hold them locked.
   * Counted when the rule's tables were done (0 when the time budget ran out first); above 0 the rule
   * fails, unless the time budget cut the wait short (then complete is false).
   */
  lockedLeft: number;
  /** The sessions last seen blocking that wait (pg_blocking_pids, pg_stat_activity). */
  lockedBy: LockHolder[];
  /**
   * Partitions or children attached under the rule's table while its batches ran, found when its
   * tables were done, with their old rows (past the cut-off, matching the where): this run did not
   * check or purge them, so the rule is incomplete (complete false) and the next run takes them.
   */
  attached: { table: string; rows: number }[];
}

/**
 * A session holding row locks the purge waited for, as pg_stat_activity shows it. state, since and
 * role are null when the purge's role may not see them (neither the session's role nor pg_read_all_stats).
 */
export interface LockHolder {
  pid: number;
  /** active, idle in transaction, ... */
  state: string | null;
  /** When its transaction started (xact_start, ISO 8601): it holds the locks since then at the latest. */
  since: string | null;
  applicationName: string;
  role: string | null;
}

const holderText = (h: LockHolder) =>
  `pid ${h.pid} (${h.state === null ? "state not visible to the purge's role (pg_read_all_stats shows it)" : `${h.state}${h.since ? ` since ${h.since}` : ""}`}` +
  `${h.applicationName ? `, application_name "${h.applicationName}"` : ""}${h.role ? `, role ${h.role}` : ""})`;

/** How often the second session looks at who blocks the purge's wait for row locks (ms). */
const LOCK_WATCH_POLL_MS = 100;

/**
 * Who blocks the purge's session while it waits for row locks: a second session of the same
 * connection, opened for the wait only, reads pg_blocking_pids of the purge's backend every
 * LOCK_WATCH_POLL_MS. `seen` holds the sessions of the last look that found any. When the second
 * session cannot be opened (connection limit), the wait goes on without it and `seen` stays empty.
 */
class LockWatch {
  seen: LockHolder[] = [];
  private constructor(
    private readonly watcher: MaintenanceSession | undefined,
    private readonly pid: number,
  ) {}

  static async open(s: MaintenanceSession, ctx: TaskContext): Promise<LockWatch> {
    const pid = Number((await s.query<{ pid: number }>("SELECT pg_backend_pid() AS pid"))[0].pid);
    try {
      return new LockWatch(await MaintenanceSession.open(s.connection, { LOCK_TIMEOUT_MS: 1000, STATEMENT_TIMEOUT_SECONDS: 10 }), pid);
    } catch (err) {
      ctx.log.warn(`purge: a second session to see who holds row locks could not be opened (${oneLine(err)}); waiting without it`);
      return new LockWatch(undefined, pid);
    }
  }

  /** Runs `work` (statements of the purge's session) while watching who blocks it. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    this.seen = [];
    const w = this.watcher;
    if (!w) return work();
    let running = true;
    const watching = (async () => {
      while (running) {
        try {
          const rows = await w.query<{ pid: number; state: string | null; since: Date | null; app: string | null; role: string | null }>(
            `SELECT a.pid, a.state, a.xact_start AS since, a.application_name AS app, a.usename::text AS role
               FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids($1)) ORDER BY a.pid`,
            [this.pid],
          );
          if (rows.length) this.seen = rows.map((r) => ({ pid: Number(r.pid), state: r.state, since: r.since ? r.since.toISOString() : null, applicationName: r.app ?? "", role: r.role }));
        } catch {
          /* a failed look keeps what the last one saw */
        }
        await new Promise((r) => setTimeout(r, LOCK_WATCH_POLL_MS));
      }
    })();
    try {
      return await work();
    } finally {
      running = false;
      await watching;
    }
  }

  async close(): Promise<void> {
    await this.watcher?.close();
  }
}

/**
 * Old rows of each of `leaves` a batch could still pick (purgeable: past the bound, matching the
 * where, referenced by no row), locked or not; by leaf OID, only leaves with some. A leaf dropped
 * meanwhile counts none.
 */
async function countLeft(s: MaintenanceSession, rule: PurgeRule, bound: Bound, leaves: Leaf[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const leaf of leaves) {
    const acted = await actByOid(s, [leaf.oid], async ([l]) => {
      const rows = await s.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${aliasedLeaf(rule, { ...leaf, ...l })} WHERE ${purgeable(rule, bound, leaf)}`, [bound.value, leaf.oid]);
      return Number(rows[0].n);
    });
    if (acted.status === "done" && acted.value > 0) out.set(leaf.oid, acted.value);
  }
  return out;
}

/** pg_class.relkind in words, with the article. */
const RELKIND: Record<string, string> = {
  r: "a table",
  p: "a partitioned table",
  v: "a view",
  m: "a materialized view",
  f: "a foreign table",
  S: "a sequence",
  c: "a composite type",
  i: "an index",
  I: "a partitioned index",
  t: "a TOAST table",
};
const kindText = (k: string) => RELKIND[k] ?? `a relation of kind ${k}`;

interface Rel extends RelationRef {
  kind: string;
}

interface Column {
  name: string;
  /** format_type: numeric(12,2), timestamp with time zone, ... */
  type: string;
  typid: number;
  typmod: number;
  generated: boolean;
}

async function relationByName(s: MaintenanceSession, schema: string, name: string): Promise<Rel | undefined> {
  const rows = await s.query<{ oid: number; kind: string }>(
    `SELECT c.oid::int AS oid, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, name],
  );
  return rows.length ? { oid: Number(rows[0].oid), schema, name, kind: rows[0].kind } : undefined;
}

/** The relation and everything under it (partitions and inheritance children at any depth), itself first; empty when it is gone. */
async function relationTree(s: MaintenanceSession, oid: number): Promise<Rel[]> {
  const rows = await s.query<{ oid: number; schema: string; name: string; kind: string }>(
    `WITH RECURSIVE tree(oid) AS (SELECT $1::oid UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
     SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind
       FROM tree JOIN pg_class c ON c.oid = tree.oid JOIN pg_namespace n ON n.oid = c.relnamespace
      ORDER BY c.oid = $1::oid DESC, n.nspname, c.relname`,
    [oid],
  );
  return rows.map((r) => ({ oid: Number(r.oid), schema: r.schema, name: r.name, kind: r.kind }));
}

/** Whether `oid` is `rootOid` or under it (a partition or inheritance child at any depth). */
async function isUnder(s: MaintenanceSession, oid: number, rootOid: number): Promise<boolean> {
  const rows = await s.query<{ under: boolean }>(
    `WITH RECURSIVE up(oid) AS (SELECT $1::oid UNION SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.oid)
     SELECT EXISTS (SELECT 1 FROM up WHERE oid = $2::oid) AS under`,
    [oid, rootOid],
  );
  return rows[0].under;
}

/** Columns (user columns, in order) of relations by OID. */
async function columnsOf(s: MaintenanceSession, oids: number[]): Promise<Map<number, Column[]>> {
  const rows = await s.query<{ rel: number; name: string; type: string; typid: number; typmod: number; generated: boolean }>(
    `SELECT a.attrelid::int AS rel, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.atttypid::int AS typid, a.atttypmod AS typmod,
            a.attgenerated <> '' AS generated
       FROM pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  const out = new Map<number, Column[]>(oids.map((o) => [o, []]));
  for (const r of rows) out.get(Number(r.rel))!.push({ name: r.name, type: r.type, typid: Number(r.typid), typmod: Number(r.typmod), generated: r.generated });
  return out;
}

/** pg_type OIDs of the types whose typmod keepsValues reads. */
const TEXT = 25;
const VARCHAR = 1043;
const NUMERIC = 1700;
/** timestamp, timestamptz, time, timetz: the typmod is the fractional-second precision. */
const PRECISION_TYPES = new Set([1114, 1184, 1083, 1266]);

/** numeric's typmod: ((precision << 16) | (scale & 0x7ff)) + 4, the scale an 11-bit signed number (PostgreSQL 15 allows negative scales). */
const numericDigits = (typmod: number) => {
  const m = typmod - 4;
  const scale = ((m & 0x7ff) ^ 0x400) - 0x400;
  return { scale, whole: ((m >> 16) & 0xffff) - scale };
};

/**
 * Whether an archive column of type `to` keeps every value of a column of type `from` unchanged. The
 * archiving INSERT applies assignment casts, which round (numeric(12,0) takes 1234.56 as 1235), cut
 * (varchar(5)) or change the value (date takes a timestamp's day only): so the same type, the same
 * type without its modifier, a wider modifier (numeric with as many whole and fraction digits, a
 * longer varchar, a finer time precision), or text/varchar without a length for text/varchar.
 */
function keepsValues(from: Column, to: Column): boolean {
  if (from.typid !== to.typid) return (from.typid === TEXT || from.typid === VARCHAR) && (to.typid === TEXT || to.typid === VARCHAR) && to.typmod === -1;
  // A time without a precision keeps microseconds, as precision 6 does.
  if (PRECISION_TYPES.has(from.typid)) return (to.typmod === -1 ? 6 : to.typmod) >= (from.typmod === -1 ? 6 : from.typmod);
  if (to.typmod === -1 || to.typmod === from.typmod) return true;
  if (from.typmod === -1) return false;
  if (from.typid === NUMERIC) {
    const [f, t] = [numericDigits(from.typmod), numericDigits(to.typmod)];
    return t.scale >= f.scale && t.whole >= f.whole;
  }
  return from.typid === VARCHAR && to.typmod >= from.typmod;
}

/**
 * A foreign key ON DELETE NO ACTION or RESTRICT referencing a physical table of the rule: the old rows
 * it references are kept (a batch's pick leaves them out), not deleted.
 */
interface Reference {
  /** The constraint's name: the one declared, for the clone a partition carries (conparentid). */
  constraint: string;
  /** The referencing table where the constraint is declared: a partitioned table covers its partitions. */
  from: Rel;
  /** The referencing columns and the columns of the purged table they reference, pairwise. */
  columns: string[];
  referenced: string[];
  /** Whether rows of the rule's own tables reference through it (a self-reference): deleting a row may free the one it references. */
  self: boolean;
}

/** A physical table the rule deletes from, with the columns a batch returns and archives, and the references that keep rows of it. */
interface Leaf extends Rel {
  columns: Column[];
  references: Reference[];
}

/** What one rule acts on, as found when it was checked (or again at its turn). */
interface Scope {
  root: Rel;
  leaves: Leaf[];
  archive?: Rel;
}

const refusedKind = (key: string, r: Rel, under?: Rel) =>
  new TaskError(`${key}: ${relationText(r)}${under ? ` (under ${relationText(under)})` : ""} is ${kindText(r.kind)}; purge acts on tables only`);

/** pg_constraint.confdeltype of the references whose ON DELETE changes the referencing rows. */
const CHANGING_ACTIONS: Record<string, string> = { c: "CASCADE", n: "SET NULL", d: "SET DEFAULT" };
/** pg_trigger.tgtype bit of DELETE triggers. */
const TRIGGER_TYPE_DELETE = 8;

/** pg_constraint.confdeltype of the references that keep a referenced row: NO ACTION, RESTRICT. */
const KEEPING_ACTIONS = new Set(["a", "r"]);

/** A foreign key ON DELETE CASCADE / SET NULL / SET DEFAULT referencing a table of the rule: a DELETE would change rows of `schema.name`. */
interface ChangingReference {
  schema: string;
  name: string;
  /** The constraint's name, the one declared. */
  con: string;
  /** pg_constraint.confdeltype, a key of CHANGING_ACTIONS. */
  action: string;
}

/**
 * The foreign keys referencing the rule's tables, read from pg_constraint once for both uses:
 * `changing`, those ON DELETE CASCADE / SET NULL / SET DEFAULT referencing any table of `tree`
 * (sideEffects refuses them), one per declared constraint, ordered by referencing schema, table and
 * constraint; `keeping`, by the OID of each of `leaves` (the physical tables), those ON DELETE NO
 * ACTION / RESTRICT referencing it (deferrable or not: a deferred check would fail the batch at its
 * commit all the same), in the same order. A reference declared on a partitioned table (or to one)
 * has a clone per partition (conparentid): each is read as the constraint declared, on the table it
 * is declared on, so its check covers every partition. Columns are given by name, which partitions
 * share whatever their attribute numbers.
 */
async function foreignKeysTo(s: MaintenanceSession, tree: Rel[], leaves: Rel[]): Promise<{ changing: ChangingReference[]; keeping: Map<number, Reference[]> }> {
  const rows = await s.query<{ leaf: number; action: string; con: string; oid: number; schema: string; name: string; kind: string; columns: string[]; referenced: string[]; self: boolean }>(
    `WITH RECURSIVE up(leaf, oid, parent, action) AS (
       SELECT k.confrelid, k.oid, k.conparentid, k.confdeltype::text FROM pg_constraint k WHERE k.contype = 'f' AND k.confrelid = ANY($1::oid[])
       UNION SELECT up.leaf, p.oid, p.conparentid, up.action FROM up JOIN pg_constraint p ON p.oid = up.parent),
     down(top, oid) AS (
       SELECT k.conrelid, k.conrelid FROM up JOIN pg_constraint k ON k.oid = up.oid WHERE up.parent = 0
       UNION SELECT down.top, i.inhrelid FROM down JOIN pg_inherits i ON i.inhparent = down.oid)
     SELECT DISTINCT up.leaf::int AS leaf, up.action, k.conname AS con, c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
            ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY x(att, i) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.att ORDER BY x.i) AS columns,
            ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY x(att, i) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.att ORDER BY x.i) AS referenced,
            EXISTS (SELECT 1 FROM down WHERE down.top = k.conrelid AND down.oid = ANY($1::oid[])) AS self
       FROM up JOIN pg_constraint k ON k.oid = up.oid JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE up.parent = 0
      ORDER BY schema, name, con, leaf`,
    [tree.map((t) => t.oid)],
  );
  const changing: ChangingReference[] = [];
  const keeping = new Map<number, Reference[]>(leaves.map((l) => [l.oid, []]));
  for (const r of rows) {
    if (Object.hasOwn(CHANGING_ACTIONS, r.action)) {
      // A constraint referencing several tables of the tree (a partitioned table and its partitions) is named once.
      const last = changing.at(-1);
      if (!(last && last.schema === r.schema && last.name === r.name && last.con === r.con && last.action === r.action)) changing.push({ schema: r.schema, name: r.name, con: r.con, action: r.action });
    } else if (KEEPING_ACTIONS.has(r.action)) {
      keeping.get(Number(r.leaf))?.push({
        constraint: r.con,
        from: { oid: Number(r.oid), schema: r.schema, name: r.name, kind: r.kind },
        columns: r.columns,
        referenced: r.referenced,
        self: r.self,
      });
    }
  }
  return { changing, keeping };
}

/**
 * What a DELETE of the rule's physical tables does beyond removing their rows, each as one phrase:
 * foreign keys (from any table, schema or partition, the table itself included) referencing them
 * ON DELETE CASCADE / SET NULL / SET DEFAULT, which delete or change referencing rows whatever their
 * age; rewrite rules ON DELETE; and enabled user DELETE triggers not listed in the rule's
 * allowTriggers (a trigger can change or delete any row). Keyed by the config key that answers it.
 */
async function sideEffects(s: MaintenanceSession, key: string, rule: PurgeRule, root: Rel, refs: ChangingReference[], leaves: Leaf[]): Promise<string[]> {
  const rootText = relationText(root);
  const problems: string[] = [];
  if (refs.length) {
    const each = refs.map((r) => `${r.schema}.${r.name} references it ON DELETE ${CHANGING_ACTIONS[r.action]} (${r.con})`);
    problems.push(
      `${key}.table: deleting old rows of ${rootText} would also delete or change rows of other tables whatever their age: ${each.join(", ")}; purge refuses it (with ON DELETE NO ACTION or RESTRICT a referenced row is kept and the run counts it)`,
    );
  }
  const oids = leaves.map((l) => l.oid);
  const rules = await s.query<{ schema: string; name: string; rule: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, r.rulename AS rule FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE r.ev_class = ANY($1::oid[]) AND r.ev_type = '4' ORDER BY 1, 2, 3`,
    [oids],
  );
  if (rules.length) problems.push(`${key}.table: ${rules.map((r) => `rule "${r.rule}" ON DELETE of ${r.schema}.${r.name}`).join(", ")} would rewrite the purge's DELETE; purge refuses it`);
  const triggers = await s.query<{ schema: string; name: string; trigger: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, t.tgname AS trigger FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgrelid = ANY($1::oid[]) AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgtype & ${TRIGGER_TYPE_DELETE} <> 0 ORDER BY 3, 1, 2`,
    [oids],
  );
  const unlisted = triggers.filter((t) => !(rule.allowTriggers ?? []).includes(t.trigger));
  if (unlisted.length) {
    const names = [...new Set(unlisted.map((t) => t.trigger))];
    const on = [...new Set(unlisted.map((t) => `${t.schema}.${t.name}`))];
    problems.push(
      `${key}.allowTriggers: DELETE trigger${names.length > 1 ? "s" : ""} ${names.map((n) => `"${n}"`).join(", ")} of ${on.length > 3 ? `${on.slice(0, 3).join(", ")} and ${on.length - 3} more` : on.join(", ")} would fire for each purged row and may change or delete other rows whatever their age; list ${names.length > 1 ? "them" : "it"} in allowTriggers to accept that`,
    );
  }
  return problems;
}

/** Why `archive` cannot take the rows of `leaves` unchanged: missing columns, and columns whose type would change a value (keepsValues); each phrase once. */
function archiveProblems(key: string, archive: Rel, acols: Column[], leaves: Leaf[]): string[] {
  const missing = new Map<string, string>();
  const narrower = new Map<string, string>();
  for (const leaf of leaves) {
    for (const c of leaf.columns) {
      const a = acols.find((x) => x.name === c.name && !x.generated);
      if (!a) {
        if (!missing.has(c.name)) missing.set(c.name, relationText(leaf));
      } else if (!keepsValues(c, a) && !narrower.has(c.name)) {
        narrower.set(c.name, `"${c.name}" is ${a.type} there, ${c.type} in ${relationText(leaf)}`);
      }
    }
  }
  const problems: string[] = [];
  const archiveText = `"${archive.schema}.${archive.name}"`;
  if (missing.size) {
    const names = [...missing.keys()].map((n) => `"${n}"`);
    problems.push(`${key}.archiveTable: table ${archiveText} has no column${names.length > 1 ? "s" : ""} ${names.join(", ")} of ${[...new Set(missing.values())].join(", ")}`);
  }
  if (narrower.size) {
    problems.push(
      `${key}.archiveTable: table ${archiveText} would not keep the values unchanged (the copy is cast: rounded, cut or turned into another type): ${[...narrower.values()].join(", ")}; give those columns the purged table's types`,
    );
  }
  return problems;
}

/**
 * Row-level security in the purge's way: a table whose policies apply to the purge's role (PostgreSQL's
 * row_security_active: enabled on it and the role neither its owner nor BYPASSRLS nor a superuser, or
 * FORCE ROW LEVEL SECURITY and the role not BYPASSRLS nor a superuser) may hide old rows from every
 * batch, which would then leave them and report the rule done. Checked on each physical table of the
 * rule (a DELETE FROM ONLY applies that table's own policies, not its parent's) and on each table whose
 * references keep rows (a referencing row hidden from the pick would let a batch pick the row it
 * references). One phrase naming the rule's key, its table and the fix; undefined when none applies.
 */
async function rowSecurityProblem(s: MaintenanceSession, key: string, rule: PurgeRule, root: Rel, leaves: Leaf[]): Promise<string | undefined> {
  const referencing = [...new Map(leaves.flatMap((l) => l.references.map((r) => [r.from.oid, r.from] as const))).values()].filter((r) => !leaves.some((l) => l.oid === r.oid));
  const rows = await s.query<{ oid: number; schema: string; name: string; forced: boolean; owner: boolean; role: string }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relforcerowsecurity AS forced, pg_has_role(c.relowner, 'USAGE') AS owner, current_user::text AS role
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::oid[]) AND row_security_active(c.oid) ORDER BY 2, 3`,
    [[...leaves, ...referencing].map((r) => r.oid)],
  );
  if (!rows.length) return undefined;
  const why = (r: (typeof rows)[number]) => (r.forced && r.owner ? "FORCE ROW LEVEL SECURITY, so on its owner too" : `enabled, and the role does not own it`);
  const each = rows.map((r) => {
    const what = referencing.some((x) => x.oid === r.oid) ? " (referencing it)" : r.oid !== root.oid ? ` (under ${relationText(root)})` : "";
    return `${r.schema}.${r.name}${what}: ${why(r)}`;
  });
  return (
    `${key} (${rule.table}): row-level security applies to the purge's role "${rows[0].role}" on ${each.join(", ")}; its policies may hide old rows, ` +
    `which the purge would leave while reporting the rule done: run the purge as a role with BYPASSRLS, as the owner of tables without FORCE ROW LEVEL SECURITY, or as a superuser`
  );
}

/**
 * Row-level security on what the rule's `where` reads. A policy hiding rows of a table the where reads
 * (`NOT EXISTS (SELECT 1 FROM holds ...)`) turns the where true for rows it is meant to keep, and the
 * purge would delete them for good. The relations the where reads are PostgreSQL's own answer: the
 * dependencies (pg_depend) of a temporary view `SELECT 1 FROM ONLY <table> WHERE <where>` created in a
 * transaction that is rolled back, followed through every view it reads, at any depth. Each relation
 * is read with the rights of the role PostgreSQL checks there: the purge's role, or the owner of the
 * nearest view on the way that is not security_invoker (such a view reads as its owner). Row-level
 * security applies when the table has it enabled and that role is neither a superuser nor BYPASSRLS,
 * and either does not own the table or the table forces it (row_security_active's test, for that
 * role). A partitioned or inheritance parent the where reads applies its own policies only, so the
 * relation named is the one checked. Tables read only inside a function the where calls are not seen.
 * One phrase naming the rule's key, each table, how it is read and the fix; undefined when none applies.
 */
async function whereRowSecurityProblem(s: MaintenanceSession, key: string, rule: PurgeRule, root: Rel): Promise<string | undefined> {
  if (rule.where === undefined) return undefined;
  type Hit = { schema: string; name: string; via: string | null; checker: string; invoker: boolean; forced: boolean; owner: boolean };
  let rows: Hit[];
  await s.exec("BEGIN");
  try {
    await s.exec(`CREATE TEMPORARY VIEW purge_where_probe AS SELECT 1 AS one FROM ${aliasedLeaf(rule, root)} WHERE (${rule.where})`);
    rows = await s.query<Hit>(
      `WITH RECURSIVE reads(oid, checker, via) AS (
         SELECT d.refobjid, (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user), NULL::oid
           FROM pg_rewrite w JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid AND d.refclassid = 'pg_class'::regclass
          WHERE w.ev_class = (SELECT c.oid FROM pg_class c WHERE c.relname = 'purge_where_probe' AND c.relnamespace = pg_my_temp_schema()) AND d.refobjid <> w.ev_class
         UNION
         SELECT d.refobjid,
                CASE WHEN coalesce((SELECT o.option_value FROM pg_options_to_table(v.reloptions) o WHERE o.option_name = 'security_invoker'), 'false')::bool THEN reads.checker ELSE v.relowner END,
                v.oid
           FROM reads JOIN pg_class v ON v.oid = reads.oid AND v.relkind = 'v'
           JOIN pg_rewrite w ON w.ev_class = v.oid
           JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid)
       SELECT DISTINCT n.nspname AS schema, c.relname AS name, vn.nspname || '.' || vc.relname AS via, r.rolname::text AS checker,
              r.rolname = current_user AS invoker, c.relforcerowsecurity AS forced, pg_has_role(r.oid, c.relowner, 'USAGE') AS owner
         FROM reads JOIN pg_class c ON c.oid = reads.oid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.oid = reads.checker
         LEFT JOIN pg_class vc ON vc.oid = reads.via LEFT JOIN pg_namespace vn ON vn.oid = vc.relnamespace
        WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND NOT r.rolsuper AND NOT r.rolbypassrls
          AND (c.relforcerowsecurity OR NOT pg_has_role(r.oid, c.relowner, 'USAGE'))
        ORDER BY 1, 2, 3`,
    );
  } finally {
    await s.exec("ROLLBACK").catch(() => undefined);
  }
  if (!rows.length) return undefined;
  const role = (await s.query<{ r: string }>("SELECT current_user::text AS r"))[0].r;
  const each = rows.map((r) => {
    const how = r.via === null ? "the where reads it" : `the where reads it through view ${r.via}${r.invoker ? "" : `, which reads as its owner "${r.checker}"`}`;
    const who = r.invoker ? "the role" : `"${r.checker}"`;
    return `${r.schema}.${r.name} (${how}): ${r.forced && r.owner ? "FORCE ROW LEVEL SECURITY, so on its owner too" : `enabled, and ${who} does not own it`}`;
  });
  const owners = rows.some((r) => !r.invoker) ? " (for a view that reads as its owner, that owner)" : "";
  return (
    `${key} (${rule.table}): row-level security applies to the purge's role "${role}" on ${each.join(", ")}; its policies may hide rows the where reads, ` +
    `so the purge would delete rows the where is meant to keep: run the purge${owners} as a role with BYPASSRLS, as the owner of tables without FORCE ROW LEVEL SECURITY, or as a superuser`
  );
}

/**
 * The physical tables of the rule's table (found by OID) and the archive's fitness for them: refuses
 * (TaskError naming the rule's key, every problem in one line) foreign tables among them, a DELETE
 * with effects on other rows (sideEffects), an archive that is not a table, holds a foreign table,
 * overlaps the purged table, lacks a column of one of them or would change a value (keepsValues).
 * Undefined when the rule's table no longer exists; "archive-gone" when the archive table no longer exists.
 */
async function scopeOf(s: MaintenanceSession, key: string, rule: PurgeRule, rootOid: number, archiveOid: number | undefined): Promise<Scope | "archive-gone" | undefined> {
  const tree = await relationTree(s, rootOid);
  if (!tree.length) return undefined;
  const root = tree[0];
  if (root.kind !== "r" && root.kind !== "p") throw refusedKind(`${key}.table`, root);
  const odd = tree.find((r) => r.kind !== "r" && r.kind !== "p");
  if (odd) throw refusedKind(`${key}.table`, odd, root);
  const tables = tree.filter((r) => r.kind === "r");
  const columns = await columnsOf(s, tables.map((t) => t.oid));
  // Generated columns too: their values are archived like any other (into a plain column of the
  // archive; a generated one there would recompute them, so it counts as missing).
  const references = await foreignKeysTo(s, tree, tables);
  const leaves = tables.map((t) => ({ ...t, columns: columns.get(t.oid)!, references: references.keeping.get(t.oid)! }));
  const problems = await sideEffects(s, key, rule, root, references.changing, leaves);
  const hidden = await rowSecurityProblem(s, key, rule, root, leaves);
  if (hidden) problems.push(hidden);
  let archive: Rel | undefined;
  if (archiveOid !== undefined) {
    const archiveTree = await relationTree(s, archiveOid);
    if (!archiveTree.length) return "archive-gone";
    archive = archiveTree[0];
    const oddArchive = archiveTree.find((r) => r.kind !== "r" && r.kind !== "p");
    const shared = archiveTree.find((a) => tree.some((t) => t.oid === a.oid));
    if (oddArchive === archive) problems.push(`${key}.archiveTable: ${relationText(archive)} is ${kindText(archive.kind)}; purge archives into tables only`);
    else if (oddArchive) problems.push(`${key}.archiveTable: ${relationText(oddArchive)} (under ${relationText(archive)}) is ${kindText(oddArchive.kind)}; purge archives into tables only`);
    else if (shared) problems.push(`${key}.archiveTable: ${relationText(archive)} and ${relationText(root)} share ${relationText(shared)}; archived rows would be purged again (use a separate table)`);
    else problems.push(...archiveProblems(key, archive, (await columnsOf(s, [archive.oid])).get(archive.oid)!, leaves));
  }
  if (problems.length) throw new TaskError(problems.join("; "));
  return { root, leaves, archive };
}

/**
 * How a batch compares the rule's column with its cut-off: the SQL type of the bound (the first
 * parameter of every batch statement) and the bound as text, worked out once per rule from the
 * cut-off instant. timestamptz: the instant. timestamp without time zone: the wall-clock time of the
 * instant in the rule's columnTimezone, taking the zone's smallest UTC offset of the day before to the
 * day after (so on a daylight-saving change no row written up to an hour after the cut-off goes). date:
 * a day goes only when it is over, so the dates before that wall-clock time's date; in the rule's
 * columnTimezone, else in Etc/GMT+12 (UTC-12, where a day ends last: over there, over everywhere).
 */
interface Bound {
  type: "timestamptz" | "timestamp" | "date";
  value: string;
}

/** format_type of a timestamp without time zone, with or without a precision. */
const NAIVE = /^timestamp(\(\d\))? without time zone$/;

/** The zone a date rule without columnTimezone reads its days in: UTC-12 (POSIX sign), where a day ends last. */
const LATEST_ZONE = "Etc/GMT+12";

async function boundOf(s: MaintenanceSession, columnType: string, rule: PurgeRule, cutoff: Date): Promise<Bound> {
  const type = columnType === "date" ? "date" : NAIVE.test(columnType) ? "timestamp" : undefined;
  if (!type) return { type: "timestamptz", value: cutoff.toISOString() };
  const rows = await s.query<{ b: string }>(
    `SELECT least($1::timestamptz AT TIME ZONE $2, ($1::timestamptz - interval '1 day') AT TIME ZONE $2 + interval '1 day',
                  ($1::timestamptz + interval '1 day') AT TIME ZONE $2 - interval '1 day')::${type}::text AS b`,
    [cutoff.toISOString(), rule.columnTimezone ?? LATEST_ZONE],
  );
  return { type, value: rows[0].b };
}

/** The rows a rule purges, on the table aliased with the rule's table name: older than the bound ($1), and matching the rule's where. */
const oldRows = (rule: PurgeRule, bound: Bound) => `${quoteIdent(rule.timestampColumn)} < $1::${bound.type}${rule.where !== undefined ? ` AND (${rule.where})` : ""}`;

/** The physical table `leaf` alone (ONLY), aliased with the name of the rule's table as the config writes it (a where may name it). */
const aliasedLeaf = (rule: PurgeRule, leaf: Rel) => `ONLY ${qualified(leaf.schema, leaf.name)} AS ${quoteIdent(splitName(rule.table).name)}`;

/**
 * Whether a row of the purged table (aliased with the rule's table name) is referenced through `ref`:
 * a referencing row with every column equal (a NULL in one references nothing, as MATCH SIMPLE and
 * MATCH FULL read it). A reference declared on a partitioned table is read through it (every
 * partition); one on a plain table reads that table ONLY, as its check does.
 */
function referencedBy(rule: PurgeRule, ref: Reference): string {
  const outer = quoteIdent(splitName(rule.table).name);
  // Another alias than the outer one, so the outer columns stay reachable even when the table references itself.
  const inner = quoteIdent(`${splitName(rule.table).name}_referencing`);
  const on = ref.columns.map((c, i) => `${inner}.${quoteIdent(c)} = ${outer}.${quoteIdent(ref.referenced[i])}`).join(" AND ");
  return `EXISTS (SELECT 1 FROM ${ref.from.kind === "p" ? "" : "ONLY "}${qualified(ref.from.schema, ref.from.name)} AS ${inner} WHERE ${on})`;
}

/**
 * The rows of the physical table `leaf` (aliased by aliasedLeaf) a batch may pick: its own ($2, its
 * OID), older than the bound ($1), matching the rule's where, referenced through none of its references.
 */
const purgeable = (rule: PurgeRule, bound: Bound, leaf: Leaf) =>
  `tableoid = $2::oid AND ${oldRows(rule, bound)}${leaf.references.map((r) => ` AND NOT ${referencedBy(rule, r)}`).join("")}`;

/**
 * The statement of one batch inside the physical table `leaf` (parameters: $1 the bound, $2 the
 * leaf's OID). Its pick skips rows other sessions hold locked (FOR UPDATE SKIP LOCKED); with `wait`, it
 * waits for them (FOR UPDATE, bounded by the session's lock_timeout and statement_timeout). The leaf is aliased with the name of the rule's table as the config writes it, so a where that names it
 * (`jobs.status = 'completed'`) means the same on every partition or child.
 */
function batchStatement(rule: PurgeRule, bound: Bound, leaf: Leaf, archive: RelationRef | undefined, wait = false): { pick: string; statement: string } {
  const t = aliasedLeaf(rule, leaf);
  const pick = `SELECT ctid FROM ${t} WHERE ${purgeable(rule, bound, leaf)} LIMIT ${rule.batchSize} FOR UPDATE${wait ? "" : " SKIP LOCKED"}`;
  const remove = `DELETE FROM ${t} WHERE ctid = ANY(ARRAY(${pick}))`;
  if (!archive) return { pick, statement: remove };
  const collist = leaf.columns.map((c) => quoteIdent(c.name)).join(", ");
  return {
    pick,
    statement: `WITH moved AS (${remove} RETURNING ${collist}),
            archived AS (INSERT INTO ${qualified(archive.schema, archive.name)} (${collist}) OVERRIDING SYSTEM VALUE SELECT ${collist} FROM moved RETURNING 1)
       SELECT (SELECT count(*) FROM moved)::int AS deleted, (SELECT count(*) FROM archived)::int AS archived`,
  };
}

/** SQLSTATEs of a lock not granted in time (lock_timeout) and of a statement cancelled (statement_timeout). */
const BUSY = new Set(["55P03", "57014"]);

/**
 * Plans (EXPLAIN, nothing runs) the very statement a batch will run on each physical table of the
 * scope when the rule has a where, so a where that is valid on the rule's table but not on one of its
 * partitions or children is refused before any row of any of them is touched. Every problem in one
 * line naming the key.
 */
async function checkStatements(s: MaintenanceSession, key: string, rule: PurgeRule, bound: Bound, scope: Scope): Promise<void> {
  // Without a where or a reference every part of the statement is one the catalog checks above answer; planning takes the table's lock, which a busy table makes wait.
  // A reference is read by the purge's own role: planning tells a referencing table it may not read up front.
  if (rule.where === undefined && !scope.leaves.some((l) => l.references.length)) return;
  const problems: string[] = [];
  for (const leaf of scope.leaves) {
    const { pick, statement } = batchStatement(rule, bound, leaf, scope.archive);
    const where = `${relationText(leaf)}${leaf.oid !== scope.root.oid ? ` (under ${relationText(scope.root)})` : ""}`;
    // A table dropped or renamed since it was listed is skipped here and told at its turn; a lock or timeout says so, not that the where is wrong.
    const planned = async (text: string, what: string) => {
      try {
        await s.query(`EXPLAIN ${text}`, [bound.value, leaf.oid]);
        return true;
      } catch (err) {
        // "invalid reference to FROM-clause entry" shares 42P01 with a table that is gone: only a table gone or renamed is skipped.
        if (isVanishedSignal(err) && (await relationsByOid(s, [leaf.oid])).get(leaf.oid)?.name !== leaf.name) return false;
        problems.push(BUSY.has(sqlState(err) ?? "") ? `${key}: could not plan the batch on ${where}: ${oneLine(err)}` : `${what}: ${oneLine(err)}`);
        return false;
      }
    };
    if (!(await planned(pick, `${key}.where: not a condition on ${where}`))) continue;
    await planned(statement, scope.archive ? `${key}.archiveTable: the batch on ${where} cannot archive into ${relationText(scope.archive)}` : `${key}: the batch cannot delete from ${where}`);
  }
  if (problems.length) throw new TaskError(problems.join("; "));
}

interface Checked {
  rootOid: number;
  archiveOid?: number;
  /** schema.table of the rule's table and archive table when they were checked. */
  rootName: string;
  archiveName?: string;
  /** The physical tables the rule covered when it was checked. */
  leaves: Rel[];
  /** format_type of the rule's column. */
  columnType: string;
}

/**
 * Checks the rule against the database before any row is touched: table, column (a timestamp or date;
 * a timestamp without time zone only with columnTimezone, which PostgreSQL must know), the archive
 * table, what the DELETE would do to other rows, and the very batch statements on every physical table.
 */
async function checkRule(s: MaintenanceSession, rule: PurgeRule, i: number): Promise<Checked> {
  const key = `PURGE_RULES[${i}]`;
  const name = splitName(rule.table);
  const root = await relationByName(s, name.schema, name.name);
  if (!root) throw new TaskError(`${key}.table: table "${name.schema}.${name.name}" does not exist in database ${s.connection.id}`);
  if (root.kind !== "r" && root.kind !== "p") throw refusedKind(`${key}.table`, root);
  const cols = (await columnsOf(s, [root.oid])).get(root.oid)!;
  const col = cols.find((c) => c.name === rule.timestampColumn);
  if (!col) throw new TaskError(`${key}.timestampColumn: column "${rule.timestampColumn}" does not exist in table ${relationText(root)}`);
  if (!/^(date|timestamp(\(\d\))?( with(out)? time zone)?)$/.test(col.type)) throw new TaskError(`${key}.timestampColumn: column "${rule.timestampColumn}" is ${col.type}, not a timestamp or date`);
  const problems: string[] = [];
  const columnText = `column "${rule.timestampColumn}" of ${relationText(root)} is ${col.type}`;
  if (NAIVE.test(col.type) && rule.columnTimezone === undefined) {
    problems.push(
      `${key}.columnTimezone: ${columnText}, which holds no zone: state the IANA zone its values are written in (the writers' TimeZone, such as UTC or America/Los_Angeles); read in another zone, rows would go up to its offset early`,
    );
  }
  if (!NAIVE.test(col.type) && col.type !== "date" && rule.columnTimezone !== undefined) {
    problems.push(`${key}.columnTimezone: ${columnText}, which holds instants; a zone does not apply (remove columnTimezone)`);
  }
  if (rule.columnTimezone !== undefined) {
    try {
      await s.query("SELECT now() AT TIME ZONE $1", [rule.columnTimezone]);
    } catch (err) {
      problems.push(`${key}.columnTimezone: ${oneLine(err)}`);
    }
  }
  let archiveOid: number | undefined;
  let archiveName: string | undefined;
  if (rule.archiveTable) {
    const a = splitName(rule.archiveTable, root.schema);
    const archive = await relationByName(s, a.schema, a.name);
    if (!archive) {
      problems.push(
        `${key}.archiveTable: table "${a.schema}.${a.name}" does not exist in database ${s.connection.id} (create it with CREATE TABLE ${a.name} (LIKE ${root.name} INCLUDING ALL))`,
      );
    } else {
      archiveOid = archive.oid;
      archiveName = relationText(archive);
    }
  }
  if (problems.length) throw new TaskError(problems.join("; "));
  const scope = await scopeOf(s, key, rule, root.oid, archiveOid);
  if (typeof scope === "object") {
    await checkStatements(s, key, rule, await boundOf(s, col.type, rule, new Date()), scope);
    // After the where is known to be a valid condition on every table: a failure here is not its syntax.
    let hidden: string | undefined;
    try {
      hidden = await whereRowSecurityProblem(s, key, rule, scope.root);
    } catch (err) {
      throw new TaskError(`${key}.where: could not list the tables it reads (to check their row-level security): ${oneLine(err)}`);
    }
    if (hidden) throw new TaskError(hidden);
  }
  return { rootOid: root.oid, archiveOid, rootName: relationText(root), archiveName, leaves: typeof scope === "object" ? scope.leaves : [], columnType: col.type };
}

export const purgeTask = defineTask({
  name: "purge",
  description: "Delete (and optionally archive) rows older than each retention rule, in small batches",
  settings: purgeSettings,
  async run(settings, ctx): Promise<MaintenanceResult<RuleReport[]>> {
    const outcomes = await forEachDatabase(settings, settings, "purge", ctx, async (s) => {
      const budget = new Budget(settings.TIME_BUDGET_SECONDS, ctx.signal);
      s.until(budget.cleanupDeadline);
      // Every rule is checked before any row is touched; every rule's refusal is told, not only the first.
      const checked: Checked[] = [];
      const refusals: string[] = [];
      for (const [i, rule] of settings.rules.entries()) {
        try {
          checked.push(await checkRule(s, rule, i));
        } catch (err) {
          refusals.push(err instanceof TaskError ? err.message : `PURGE_RULES[${i}] (${rule.table}): ${oneLine(err)}`);
        }
      }
      if (refusals.length) throw new TaskError(refusals.join("; "));
      const reports: RuleReport[] = [];
      // Rows left locked fail their rule after every rule had its turn: one leaked session does not stop the other tables' purges.
      const failures: string[] = [];
      for (const [i, rule] of settings.rules.entries()) {
        try {
          const { report, failure } = await purgeRule(s, settings, ctx, budget, rule, i, checked[i]);
          reports.push(report);
          if (failure) failures.push(failure);
        } catch (err) {
          // Every failure of a run names the rule it stopped at; the SQLSTATE stays (a database dropped meanwhile is skipped, not failed).
          if (err instanceof TaskError && err.message.startsWith(`PURGE_RULES[${i}]`)) throw err;
          throw Object.assign(new Error(`PURGE_RULES[${i}] (${rule.table}): ${oneLine(err)}`), { code: sqlState(err) });
        }
      }
      databaseMetric(ctx, s.connection.id, "RowsPurged", MetricUnit.Count, reports.reduce((a, r) => a + r.deleted, 0));
      if (failures.length) throw new TaskError(failures.join("; "));
      return reports;
    });
    return toResult(outcomes);
  },
});

async function purgeRule(
  s: MaintenanceSession,
  settings: PurgeSettings,
  ctx: TaskContext,
  budget: Budget,
  rule: PurgeRule,
  i: number,
  checked: Checked,
): Promise<{ report: RuleReport; failure?: string }> {
  const key = `PURGE_RULES[${i}]`;
  const cutoff = (await s.query<{ c: Date }>("SELECT now() - make_interval(secs => $1::float8 * 86400) AS c", [rule.olderThanDays]))[0].c;
  const now = (await relationsByOid(s, [checked.rootOid])).get(checked.rootOid);
  const report: RuleReport = {
    rule: i,
    table: now ? relationText(now) : checked.rootName,
    cutoff: cutoff.toISOString(),
    ...(rule.where !== undefined ? { where: rule.where } : {}),
    deleted: 0,
    archived: 0,
    batches: 0,
    complete: true,
    leaves: [],
    vanished: [],
    kept: 0,
    keptBy: [],
    lockedLeft: 0,
    lockedBy: [],
    attached: [],
  };
  const vanished = (what: string, why: string) => {
    report.vanished.push(what);
    ctx.log.warn(`purge ${key} (${rule.table}): ${what} ${why} since the rules were checked; skipped`);
  };
  const scope = await scopeOf(s, key, rule, checked.rootOid, checked.archiveOid);
  if (scope === undefined) {
    vanished(report.table, "was dropped");
    return { report };
  }
  if (scope === "archive-gone") {
    // Nothing is deleted that cannot be archived; the next run's check names the missing archive table.
    vanished(checked.archiveName!, "(the archive table) was dropped");
    report.complete = false;
    return { report };
  }
  for (const gone of checked.leaves.filter((l) => !scope.leaves.some((x) => x.oid === l.oid))) {
    vanished(relationText(gone), (await relationsByOid(s, [gone.oid])).size ? "was detached from the rule's table" : "was dropped");
  }
  const bound = await boundOf(s, checked.columnType, rule, cutoff);
  // Partitions or children attached since the check are checked the same way before their rows are touched.
  const fresh = scope.leaves.filter((l) => !checked.leaves.some((c) => c.oid === l.oid));
  if (fresh.length) await checkStatements(s, key, rule, bound, { ...scope, leaves: fresh });
  const selfReferencing = scope.leaves.some((l) => l.references.some((r) => r.self));
  const counts = new Map<number, { table: string; deleted: number }>();
  const gone = new Set<number>();
  /** One batch on `leaf`, counted in the report: the rows it deleted, or why none could be ("gone": the leaf dropped or detached; "archive-gone"). */
  const batchOn = async (leaf: Leaf, wait: boolean): Promise<number | "gone" | "archive-gone"> => {
    let counted = counts.get(leaf.oid);
    if (leaf.oid !== scope.root.oid && !(await isUnder(s, leaf.oid, scope.root.oid))) {
      // Dropped (then it is under nothing) or detached from the rule's table meanwhile.
      vanished(counted?.table ?? relationText(leaf), (await relationsByOid(s, [leaf.oid])).size ? "was detached from the rule's table" : "was dropped");
      gone.add(leaf.oid);
      return "gone";
    }
    const oids = scope.archive ? [leaf.oid, scope.archive.oid] : [leaf.oid];
    const acted = await actByOid(s, oids, ([l, a]) => purgeBatch(s, key, rule, bound, { ...leaf, ...l }, a, wait));
    if (acted.status === "vanished") {
      if (acted.gone.includes(leaf.oid)) {
        vanished(counted?.table ?? relationText(leaf), "was dropped");
        gone.add(leaf.oid);
        return "gone";
      }
      // Nothing is deleted that cannot be archived; the next run's check names the missing archive table.
      vanished(relationText(scope.archive!), "(the archive table) was dropped");
      report.complete = false;
      return "archive-gone";
    }
    if (!counted) {
      report.leaves.push((counted = { table: "", deleted: 0 }));
      counts.set(leaf.oid, counted);
    }
    counted.table = relationText(acted.rels[0]);
    const n = acted.value;
    if (n.deleted > 0) {
      report.batches++;
      report.deleted += n.deleted;
      report.archived += n.archived;
      counted.deleted += n.deleted;
    }
    return n.deleted;
  };
  /**
   * Batches over `leaves`, skipping locked rows, until each has no old row left to pick. Rows of the
   * rule's own tables that reference others of them (a parent and its child): a batch leaves out every
   * referenced row, so the child goes first and its parent in a later batch; another round over the
   * tables follows while a round deleted rows and such a reference exists. False when the time budget
   * ran out or the archive table was dropped (report.complete is then false).
   */
  const sweep = async (leaves: Leaf[]): Promise<boolean> => {
    for (;;) {
      const before = report.deleted;
      for (const leaf of leaves.filter((l) => !gone.has(l.oid))) {
        for (;;) {
          if (budget.exhausted()) {
            ctx.log.warn(`purge ${report.table}: time budget of ${settings.TIME_BUDGET_SECONDS}s used up; the rest waits for the next run`);
            report.complete = false;
            return false;
          }
          if (report.batches > 0) await pause(settings.PAUSE_MS, ctx.signal);
          let n: Awaited<ReturnType<typeof batchOn>>;
          try {
            n = await withinBudget(s, budget, () => batchOn(leaf, false));
          } catch (err) {
            if (!s.stoppedByDeadline(err)) throw err;
            // The batch was rolled back whole: nothing of it is deleted or archived.
            ctx.log.warn(`purge ${report.table}: a batch stopped at the end of the time budget of ${settings.TIME_BUDGET_SECONDS}s; the rest waits for the next run`);
            report.complete = false;
            return false;
          }
          if (n === "archive-gone") return false;
          if (n === "gone" || n < rule.batchSize) break;
        }
      }
      if (!selfReferencing || report.deleted === before) return true;
    }
  };
  const live = () => scope.leaves.filter((l) => !gone.has(l.oid));
  /**
   * The old rows the batches left that no reference keeps are rows other sessions hold locked (or rows
   * written since). One wait for them: each physical table holding some gets batches that wait for row
   * locks, all within LOCK_TIMEOUT_MS of the wait's start (the rest of the time budget when that is 0 or
   * less is left), then a sweep takes rows released meanwhile. What is still left goes to
   * report.lockedLeft, with the sessions last seen blocking the wait (report.lockedBy), and the failure
   * line naming them. False when the time budget ran out (report.complete false).
   */
  const waitForLocks = async (): Promise<{ failure?: string } | false> => {
    let left = await countLeft(s, rule, bound, live());
    if (!left.size) return {};
    const waitMs = settings.LOCK_TIMEOUT_MS > 0 ? settings.LOCK_TIMEOUT_MS : Infinity;
    // Cut short: the budget ends before the LOCK_TIMEOUT_MS wait would (without one, the wait is the rest of the budget).
    const cutByBudget = Number.isFinite(waitMs) && Date.now() + waitMs > budget.deadline;
    const end = Math.min(Date.now() + waitMs, budget.deadline);
    const holders = new Map<number, LockHolder[]>();
    const watch = await LockWatch.open(s, ctx);
    try {
      for (const leaf of live().filter((l) => left.has(l.oid))) {
        while (Date.now() < end) {
          let n: Awaited<ReturnType<typeof batchOn>>;
          s.until(end);
          try {
            n = await watch.during(() => batchOn(leaf, true));
          } catch (err) {
            if (!isTimeout(err)) throw err;
            holders.set(leaf.oid, watch.seen);
            break;
          } finally {
            s.until(budget.cleanupDeadline);
          }
          if (n === "archive-gone") return false;
          if (n === "gone" || n < rule.batchSize) break;
        }
      }
    } finally {
      await watch.close();
    }
    if (!(await sweep(live().filter((l) => left.has(l.oid))))) return false;
    left = await countLeft(s, rule, bound, live());
    report.lockedLeft = [...left.values()].reduce((a, n) => a + n, 0);
    report.lockedBy = [...new Map([...left.keys()].flatMap((oid) => holders.get(oid) ?? []).map((h) => [h.pid, h] as const)).values()];
    if (!report.lockedLeft) return {};
    const tables = scope.leaves.length > 1 ? ` (${[...left].map(([oid, n]) => `${counts.get(oid)?.table ?? relationText(scope.leaves.find((l) => l.oid === oid)!)}: ${n}`).join(", ")})` : "";
    const waited = Number.isFinite(waitMs) && !cutByBudget ? `${settings.LOCK_TIMEOUT_MS / 1000}s (LOCK_TIMEOUT_MS)` : "until the end of the time budget";
    const by = report.lockedBy.length
      ? `locked by ${report.lockedBy.map(holderText).join(", ")}`
      : "no session was seen holding them (rows written since, or locks taken after the wait)";
    const line = `${report.lockedLeft} old row(s) of ${report.table}${tables} left after waiting ${waited} for their row locks: ${by}`;
    if (cutByBudget) {
      ctx.log.warn(`purge ${key} (${rule.table}): ${line}; the rest waits for the next run`);
      report.complete = false;
      return false;
    }
    return { failure: `${key} (${rule.table}): ${line}; end or commit those sessions (a leaked one holds them every night) and run the purge again` };
  };
  let failure: string | undefined;
  if (await sweep(scope.leaves)) {
    const waited = await waitForLocks();
    if (waited) {
      failure = waited.failure;
      await countKept(s, rule, bound, live().filter((l) => l.references.length), report);
      await countAttached(s, rule, bound, scope, report);
      if (report.attached.length) {
        report.complete = false;
        ctx.log.warn(
          `purge ${key} (${rule.table}): ${report.attached.map((a) => `${a.table}: ${a.rows}`).join(", ")} old row(s) in partitions or children attached to ${report.table} during the run, ` +
            "which it had not checked; left for the next run",
        );
      }
    }
  }
  const where = rule.where !== undefined ? ` where ${rule.where}` : "";
  const into = scope.archive ? ` (archived to ${relationText(scope.archive)})` : "";
  const parts = scope.leaves.length > 1 ? ` from ${report.leaves.filter((l) => l.deleted > 0).length} of ${scope.leaves.length} tables` : "";
  ctx.log.info(`purge ${report.table}: ${report.deleted} row(s) with ${rule.timestampColumn} < ${bound.value} (older than ${report.cutoff})${where} deleted${parts}${into} in ${report.batches} batch(es)`);
  if (report.kept) {
    ctx.log.warn(
      `purge ${report.table}: ${report.kept} row(s) with ${rule.timestampColumn} < ${bound.value}${where} kept: still referenced by ${report.keptBy.map((k) => `${k.table} (${k.constraint}): ${k.rows}`).join(", ")}; each goes once no row references it`,
    );
  }
  return { report, failure };
}

/**
 * The physical tables under the rule's table now that were not among the `scope` the batches acted on
 * (attached during the run), each with its old rows (past the bound, matching the where) when it has
 * some, into report.attached. Counted, not purged: their row-level security, triggers and references
 * were not checked, and the next run checks them before any of their rows goes. A table dropped
 * meanwhile counts none.
 */
async function countAttached(s: MaintenanceSession, rule: PurgeRule, bound: Bound, scope: Scope, report: RuleReport): Promise<void> {
  const now = (await relationTree(s, scope.root.oid)).filter((r) => r.kind === "r" && !scope.leaves.some((l) => l.oid === r.oid));
  for (const rel of now) {
    const acted = await actByOid(s, [rel.oid], async ([l]) => {
      const rows = await s.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${aliasedLeaf(rule, { ...rel, ...l })} WHERE tableoid = $2::oid AND ${oldRows(rule, bound)}`, [
        bound.value,
        rel.oid,
      ]);
      return { table: relationText({ ...rel, ...l }), rows: Number(rows[0].n) };
    });
    if (acted.status === "done" && acted.value.rows > 0) report.attached.push(acted.value);
  }
}

/**
 * Counts the old rows of `leaves` that references keep (report.kept: each row once; report.keptBy:
 * per referencing table and constraint, summed over the leaves). One scan of each leaf's old rows.
 */
async function countKept(s: MaintenanceSession, rule: PurgeRule, bound: Bound, leaves: Leaf[], report: RuleReport): Promise<void> {
  for (const leaf of leaves) {
    const t = aliasedLeaf(rule, leaf);
    const each = leaf.references.map((r) => referencedBy(rule, r));
    const rows = await s.query<{ counts: number[] }>(
      `SELECT ARRAY[count(*), ${each.map((e) => `count(*) FILTER (WHERE ${e})`).join(", ")}]::int[] AS counts FROM ${t} WHERE tableoid = $2::oid AND ${oldRows(rule, bound)} AND (${each.join(" OR ")})`,
      [bound.value, leaf.oid],
    );
    const [total, ...byRef] = rows[0].counts.map(Number);
    report.kept += total;
    leaf.references.forEach((r, i) => {
      if (!byRef[i]) return;
      const table = relationText(r.from);
      const known = report.keptBy.find((k) => k.table === table && k.constraint === r.constraint);
      if (known) known.rows += byRef[i];
      else report.keptBy.push({ table, constraint: r.constraint, rows: byRef[i] });
    });
  }
}

/**
 * One batch inside one physical table `leaf`: up to batchSize rows of it (and only of it: its OID
 * binds the pick) older than the bound are deleted, and with `archive` inserted there in the same
 * statement; rows other sessions hold locked are skipped, or with `wait` waited for. With an archive the batch is its own transaction and commits only when the archive took
 * exactly the rows deleted.
 */
async function purgeBatch(
  s: MaintenanceSession,
  key: string,
  rule: PurgeRule,
  bound: Bound,
  leaf: Leaf,
  archive: RelationRef | undefined,
  wait = false,
): Promise<{ deleted: number; archived: number }> {
  const { statement } = batchStatement(rule, bound, leaf, archive, wait);
  for (let attempt = 1; ; attempt++) {
    try {
      return await batchOnce(s, key, statement, bound, leaf, archive);
    } catch (err) {
      // A referencing row written after the pick's snapshot and before its lock: the constraint's check
      // failed the batch (rolled back whole); its next pick sees that row and keeps the row it references.
      if (sqlState(err) !== FOREIGN_KEY_VIOLATION || attempt >= BATCH_ATTEMPTS) throw err;
    }
  }
}

/** SQLSTATE foreign_key_violation, and how many times a batch is tried when it meets one. */
const FOREIGN_KEY_VIOLATION = "23503";
const BATCH_ATTEMPTS = 3;

async function batchOnce(
  s: MaintenanceSession,
  key: string,
  statement: string,
  bound: Bound,
  leaf: Leaf,
  archive: RelationRef | undefined,
): Promise<{ deleted: number; archived: number }> {
  if (!archive) {
    // One statement = one transaction.
    const { result } = await s.exec(statement, [bound.value, leaf.oid]);
    return { deleted: result.rowCount ?? 0, archived: 0 };
  }
  await s.exec("BEGIN");
  try {
    const { result } = await s.exec(statement, [bound.value, leaf.oid]);
    const n = { deleted: Number(result.rows[0].deleted), archived: Number(result.rows[0].archived) };
    if (n.archived !== n.deleted) {
      throw new TaskError(
        `${key}.archiveTable: ${relationText(archive)} took ${n.archived} of the ${n.deleted} row(s) deleted from ${relationText(leaf)} (a trigger or rule on it?); the batch was rolled back`,
      );
    }
    await s.exec("COMMIT");
    return n;
  } catch (err) {
    await s.exec("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
