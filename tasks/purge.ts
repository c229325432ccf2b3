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
 * deletes inside one physical table, and its pick is also bound to that table's OID (`tableoid`):
 *
 *   DELETE FROM ONLY leaf WHERE ctid = ANY(ARRAY(
 *     SELECT ctid FROM ONLY leaf WHERE tableoid = <leaf oid> AND <age> [AND (<where>)] LIMIT n FOR UPDATE SKIP LOCKED))
 *
 * Acting per physical table rather than through the parent with (tableoid, ctid) pairs keeps each
 * batch a TID scan of one table: through the parent, every batch would probe every partition. (So a
 * statement-level DELETE trigger of the parent itself does not fire; row-level triggers do, as
 * partitions inherit them.) Views, materialized views, foreign tables (also as a partition or child),
 * sequences and other relations are refused with one line naming the rule: a foreign table's rows
 * cannot be deleted and archived in one local transaction.
 *
 * With `archiveTable`, the deleted rows are copied there in the same statement, every column of the
 * physical table they came from (an inheritance child's own columns too), and the batch commits only
 * when the archive took exactly as many rows as were deleted (a trigger or rule on the archive that
 * drops rows rolls the batch back and fails the run), so a row is either in the table or in the
 * archive, never lost and never in both:
 *
 *   WITH moved AS (DELETE FROM ONLY leaf WHERE ctid = ANY(...) RETURNING cols),
 *        archived AS (INSERT INTO archive (cols) SELECT cols FROM moved RETURNING 1)
 *   SELECT count(*) of each
 *
 * The archive may be a plain or partitioned table (rows are routed to its partitions); it must not
 * be or contain the purged table (the archived rows would be purged again).
 *
 * The cut-off is fixed once per rule at the start of the run. An index on the timestamp column keeps
 * each batch cheap. A rule's `where` (an SQL condition such as `status = 'completed'`) is ANDed to the
 * age condition of the batch's row pick, so only matching rows are deleted and archived; it is
 * refused unless it is one expression (no `;`, comments, `$`, unbalanced parentheses or quotes), and
 * checked by the database (valid, boolean) before any row is touched.
 *
 * Every rule is checked before any row is touched. Tables are then acted on by OID: a table that is
 * dropped (or detached from the rule's table) after the check is skipped and named in the rule's
 * `vanished` list, a renamed one is purged under its new name, and neither fails the run.
 */
import { z } from "zod";
import {
  actByOid,
  Budget,
  databaseMetric,
  forEachDatabase,
  pause,
  qualified,
  quoteIdent,
  relationsByOid,
  relationText,
  sessionSettings,
  splitName,
  toResult,
  type MaintenanceResult,
  type MaintenanceSession,
  type RelationRef,
  withinBudget,
  type Acted,
} from "./lib/pgmaint";
import { defineTask, MetricUnit, oneLine, TaskError, type TaskContext } from "./lib/runtime";
import { sqlExpressionProblem } from "./lib/sql-expression";

export const purgeRuleSchema = z
  .object({
    /** schema.table, or table in public. */
    table: z.string().min(1, "must name a table"),
    timestampColumn: z.string().min(1, "must name a column"),
    olderThanDays: z.number({ message: "must be a number of days" }).positive("must be > 0"),
    archiveTable: z.string().min(1).optional(),
    /** SQL condition ANDed to the age condition. */
    where: z
      .string({ message: "must be an SQL condition" })
      .superRefine((w, ctx) => {
        const problem = sqlExpressionProblem(w);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional(),
    batchSize: z.number().int("must be a whole number").min(1, "must be >= 1").max(100_000, "must be <= 100000").default(1000),
  })
  .strict();
export type PurgeRule = z.infer<typeof purgeRuleSchema>;

const pathText = (path: PropertyKey[]) => path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");

export const purgeSettings = z
  .object({
    ...sessionSettings,
    PAUSE_MS: sessionSettings.PAUSE_MS.unwrap().default(100),
    PURGE_RULES: z.string({ message: "not set (a JSON list of {table, timestampColumn, olderThanDays, archiveTable?, where?, batchSize?})" }),
  })
  .transform((s, ctx) => {
    let raw: unknown;
    try {
      raw = JSON.parse(s.PURGE_RULES);
    } catch {
      ctx.addIssue({ code: "custom", path: ["PURGE_RULES"], message: "must be valid JSON" });
      return z.NEVER;
    }
    const r = z.array(purgeRuleSchema).min(1, "must list at least one rule").safeParse(raw);
    if (!r.success) {
      const i = r.error.issues[0];
      ctx.addIssue({ code: "custom", path: [`PURGE_RULES${pathText(i.path)}`], message: i.message });
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
  /** false when the time budget ran out before the last old row was gone. */
  complete: boolean;
  /** Rows deleted per physical table acted on: the table itself when plain, else each partition or child (schema.table, its current name). */
  leaves: { table: string; deleted: number }[];
  /** Tables of the rule (or its archive table) dropped, or detached from the rule's table, after the rules were checked. */
  vanished: string[];
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
  type: string;
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
  const rows = await s.query<{ rel: number; name: string; type: string; generated: boolean }>(
    `SELECT a.attrelid::int AS rel, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attgenerated <> '' AS generated
       FROM pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  const out = new Map<number, Column[]>(oids.map((o) => [o, []]));
  for (const r of rows) out.get(Number(r.rel))!.push({ name: r.name, type: r.type, generated: r.generated });
  return out;
}

/** A physical table the rule deletes from, with the columns a batch returns and archives. */
interface Leaf extends Rel {
  columns: string[];
}

/** What one rule acts on, as found when it was checked (or again at its turn). */
interface Scope {
  root: Rel;
  leaves: Leaf[];
  archive?: Rel;
}

const refusedKind = (key: string, r: Rel, under?: Rel) =>
  new TaskError(`${key}: ${relationText(r)}${under ? ` (under ${relationText(under)})` : ""} is ${kindText(r.kind)}; purge acts on tables only`);

/**
 * The physical tables of the rule's table (found by OID) and the archive's fitness for them: refuses
 * (TaskError naming the rule's key) foreign tables among them, an archive that is not a table, holds
 * a foreign table, overlaps the purged table, or lacks a column of one of them. Undefined when the
 * rule's table no longer exists; "archive-gone" when the archive table no longer exists.
 */
async function scopeOf(s: MaintenanceSession, key: string, rootOid: number, archiveOid: number | undefined): Promise<Scope | "archive-gone" | undefined> {
  const tree = await relationTree(s, rootOid);
  if (!tree.length) return undefined;
  const root = tree[0];
  if (root.kind !== "r" && root.kind !== "p") throw refusedKind(`${key}.table`, root);
  const odd = tree.find((r) => r.kind !== "r" && r.kind !== "p");
  if (odd) throw refusedKind(`${key}.table`, odd, root);
  const tables = tree.filter((r) => r.kind === "r");
  const columns = await columnsOf(s, tables.map((t) => t.oid));
  const leaves = tables.map((t) => ({ ...t, columns: columns.get(t.oid)!.filter((c) => !c.generated).map((c) => c.name) }));
  if (archiveOid === undefined) return { root, leaves };

  const archiveTree = await relationTree(s, archiveOid);
  if (!archiveTree.length) return "archive-gone";
  const archive = archiveTree[0];
  if (archive.kind !== "r" && archive.kind !== "p") throw new TaskError(`${key}.archiveTable: ${relationText(archive)} is ${kindText(archive.kind)}; purge archives into tables only`);
  const oddArchive = archiveTree.find((r) => r.kind !== "r" && r.kind !== "p");
  if (oddArchive) throw new TaskError(`${key}.archiveTable: ${relationText(oddArchive)} (under ${relationText(archive)}) is ${kindText(oddArchive.kind)}; purge archives into tables only`);
  const shared = archiveTree.find((a) => tree.some((t) => t.oid === a.oid));
  if (shared) {
    throw new TaskError(`${key}.archiveTable: ${relationText(archive)} and ${relationText(root)} share ${relationText(shared)}; archived rows would be purged again (use a separate table)`);
  }
  const acols = (await columnsOf(s, [archive.oid])).get(archive.oid)!;
  for (const leaf of leaves) {
    const missing = leaf.columns.find((c) => !acols.some((a) => a.name === c && !a.generated));
    if (missing) throw new TaskError(`${key}.archiveTable: table "${archive.schema}.${archive.name}" has no column "${missing}" of ${relationText(leaf)}`);
  }
  return { root, leaves, archive };
}

interface Checked {
  rootOid: number;
  archiveOid?: number;
  /** schema.table of the rule's table and archive table when they were checked. */
  rootName: string;
  archiveName?: string;
  /** The physical tables the rule covered when it was checked. */
  leaves: Rel[];
}

/** Checks the rule against the database before any row is touched: table, column (a timestamp or date), where, archive table. */
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
  if (rule.where !== undefined) {
    // Planned, not run: the database says whether it is a valid boolean condition on this table.
    try {
      await s.query(`EXPLAIN SELECT ctid FROM ${qualified(root.schema, root.name)} WHERE (${rule.where})`);
    } catch (err) {
      throw new TaskError(`${key}.where: not a condition on ${relationText(root)}: ${oneLine(err)}`);
    }
  }
  let archiveOid: number | undefined;
  let archiveName: string | undefined;
  if (rule.archiveTable) {
    const a = splitName(rule.archiveTable, root.schema);
    const archive = await relationByName(s, a.schema, a.name);
    if (!archive) {
      throw new TaskError(
        `${key}.archiveTable: table "${a.schema}.${a.name}" does not exist in database ${s.connection.id} (create it with CREATE TABLE ${a.name} (LIKE ${root.name} INCLUDING ALL))`,
      );
    }
    archiveOid = archive.oid;
    archiveName = relationText(archive);
  }
  const scope = await scopeOf(s, key, root.oid, archiveOid);
  return { rootOid: root.oid, archiveOid, rootName: relationText(root), archiveName, leaves: typeof scope === "object" ? scope.leaves : [] };
}

export const purgeTask = defineTask({
  name: "purge",
  description: "Delete (and optionally archive) rows older than each retention rule, in small batches",
  settings: purgeSettings,
  async run(settings, ctx): Promise<MaintenanceResult<RuleReport[]>> {
    const outcomes = await forEachDatabase(settings, settings, "purge", ctx, async (s) => {
      const budget = new Budget(settings.TIME_BUDGET_SECONDS, ctx.signal);
      s.until(budget.cleanupDeadline);
      // Every rule is checked before any row is touched.
      const checked: Checked[] = [];
      for (const [i, rule] of settings.rules.entries()) checked.push(await checkRule(s, rule, i));
      const reports: RuleReport[] = [];
      for (const [i, rule] of settings.rules.entries()) {
        reports.push(await purgeRule(s, settings, ctx, budget, rule, i, checked[i]));
      }
      databaseMetric(ctx, s.connection.id, "RowsPurged", MetricUnit.Count, reports.reduce((a, r) => a + r.deleted, 0));
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
): Promise<RuleReport> {
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
  };
  const vanished = (what: string, why: string) => {
    report.vanished.push(what);
    ctx.log.warn(`purge ${key} (${rule.table}): ${what} ${why} since the rules were checked; skipped`);
  };
  const scope = await scopeOf(s, key, checked.rootOid, checked.archiveOid);
  if (scope === undefined) {
    vanished(report.table, "was dropped");
    return report;
  }
  if (scope === "archive-gone") {
    // Nothing is deleted that cannot be archived; the next run's check names the missing archive table.
    vanished(checked.archiveName!, "(the archive table) was dropped");
    report.complete = false;
    return report;
  }
  for (const gone of checked.leaves.filter((l) => !scope.leaves.some((x) => x.oid === l.oid))) {
    vanished(relationText(gone), (await relationsByOid(s, [gone.oid])).size ? "was detached from the rule's table" : "was dropped");
  }
  const col = quoteIdent(rule.timestampColumn);
  // The cut-off is an instant (timestamptz): against a timestamp-without-time-zone or date column
  // PostgreSQL reads the column in the session's TimeZone (the database's own setting), as the rows were
  // written; an untyped parameter would take the column's type and drop the instant's offset.
  const condition = `${col} < $1::timestamptz${rule.where !== undefined ? ` AND (${rule.where})` : ""}`;
  leaves: for (const leaf of scope.leaves) {
    let counted: { table: string; deleted: number } | undefined;
    for (;;) {
      if (budget.exhausted()) {
        ctx.log.warn(`purge ${report.table}: time budget of ${settings.TIME_BUDGET_SECONDS}s used up; the rest waits for the next run`);
        report.complete = false;
        break leaves;
      }
      if (report.batches > 0) await pause(settings.PAUSE_MS, ctx.signal);
      if (leaf.oid !== scope.root.oid && !(await isUnder(s, leaf.oid, scope.root.oid))) {
        // Dropped (then it is under nothing) or detached from the rule's table meanwhile.
        vanished(counted?.table ?? relationText(leaf), (await relationsByOid(s, [leaf.oid])).size ? "was detached from the rule's table" : "was dropped");
        break;
      }
      const oids = scope.archive ? [leaf.oid, scope.archive.oid] : [leaf.oid];
      let acted: Acted<{ deleted: number; archived: number }>;
      try {
        acted = await withinBudget(s, budget, () => actByOid(s, oids, ([l, a]) => purgeBatch(s, key, rule, condition, cutoff, l, leaf.columns, a)));
      } catch (err) {
        if (!s.stoppedByDeadline(err)) throw err;
        // The batch was rolled back whole: nothing of it is deleted or archived.
        ctx.log.warn(`purge ${report.table}: a batch stopped at the end of the time budget of ${settings.TIME_BUDGET_SECONDS}s; the rest waits for the next run`);
        report.complete = false;
        break leaves;
      }
      if (acted.status === "vanished") {
        if (acted.gone.includes(leaf.oid)) {
          vanished(counted?.table ?? relationText(leaf), "was dropped");
          break;
        }
        // Nothing is deleted that cannot be archived; the next run's check names the missing archive table.
        vanished(relationText(scope.archive!), "(the archive table) was dropped");
        report.complete = false;
        break leaves;
      }
      if (!counted) report.leaves.push((counted = { table: "", deleted: 0 }));
      counted.table = relationText(acted.rels[0]);
      const n = acted.value;
      if (n.deleted > 0) {
        report.batches++;
        report.deleted += n.deleted;
        report.archived += n.archived;
        counted.deleted += n.deleted;
      }
      if (n.deleted < rule.batchSize) break;
    }
  }
  const where = rule.where !== undefined ? ` where ${rule.where}` : "";
  const into = scope.archive ? ` (archived to ${relationText(scope.archive)})` : "";
  const parts = scope.leaves.length > 1 ? ` from ${report.leaves.filter((l) => l.deleted > 0).length} of ${scope.leaves.length} tables` : "";
  ctx.log.info(`purge ${report.table}: ${report.deleted} row(s) older than ${report.cutoff}${where} deleted${parts}${into} in ${report.batches} batch(es)`);
  return report;
}

/**
 * One batch inside one physical table `leaf`: up to batchSize rows of it (and only of it: its OID
 * binds the pick) older than the cut-off are deleted, and with `archive` inserted there in the same
 * statement. With an archive the batch is its own transaction and commits only when the archive took
 * exactly the rows deleted.
 */
async function purgeBatch(
  s: MaintenanceSession,
  key: string,
  rule: PurgeRule,
  condition: string,
  cutoff: Date,
  leaf: RelationRef,
  columns: string[],
  archive: RelationRef | undefined,
): Promise<{ deleted: number; archived: number }> {
  const t = qualified(leaf.schema, leaf.name);
  const pick = `SELECT ctid FROM ONLY ${t} WHERE tableoid = $2::oid AND ${condition} LIMIT ${rule.batchSize} FOR UPDATE SKIP LOCKED`;
  const remove = `DELETE FROM ONLY ${t} WHERE ctid = ANY(ARRAY(${pick}))`;
  if (!archive) {
    // One statement = one transaction.
    const { result } = await s.exec(remove, [cutoff, leaf.oid]);
    return { deleted: result.rowCount ?? 0, archived: 0 };
  }
  const collist = columns.map(quoteIdent).join(", ");
  const a = qualified(archive.schema, archive.name);
  await s.exec("BEGIN");
  try {
    const { result } = await s.exec(
      `WITH moved AS (${remove} RETURNING ${collist}),
            archived AS (INSERT INTO ${a} (${collist}) OVERRIDING SYSTEM VALUE SELECT ${collist} FROM moved RETURNING 1)
       SELECT (SELECT count(*) FROM moved)::int AS deleted, (SELECT count(*) FROM archived)::int AS archived`,
      [cutoff, leaf.oid],
    );
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
