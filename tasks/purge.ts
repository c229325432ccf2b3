/**
 * Data retention: deletes rows older than each rule's age in small batches, each batch one short
 * transaction (one statement), so no long lock or huge transaction builds up. With `archiveTable`,
 * the rows are copied there in the same statement that deletes them:
 *
 *   WITH moved AS (DELETE FROM t WHERE ctid = ANY(ARRAY(SELECT ctid ... LIMIT n)) RETURNING ...)
 *   INSERT INTO archive (...) SELECT ... FROM moved
 *
 * so a row is either in the table or in the archive, never lost and never in both. The cut-off is
 * fixed once per rule at the start of the run. An index on the timestamp column keeps each batch cheap.
 * A rule's `where` (an SQL condition such as `status = 'completed'`) is ANDed to the age condition of
 * the batch's row pick, so only matching rows are deleted and archived; it is refused unless it is one
 * expression (no `;`, comments, `$`, unbalanced parentheses or quotes), and checked by the database
 * (valid, boolean) before any row is touched.
 */
import { z } from "zod";
import {
  Budget,
  databaseMetric,
  forEachDatabase,
  pause,
  qualified,
  quoteIdent,
  sessionSettings,
  splitName,
  toResult,
  type MaintenanceResult,
  type MaintenanceSession,
} from "./lib/pgmaint";
import { defineTask, MetricUnit, oneLine, TaskError } from "./lib/runtime";
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
}

interface Validated {
  table: { schema: string; name: string };
  archive?: { schema: string; name: string };
  columns: string[];
}

async function relationColumns(s: MaintenanceSession, schema: string, name: string) {
  return s.query<{ name: string; type: string; generated: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attgenerated <> '' AS generated
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [schema, name],
  );
}

/** Checks the rule against the database: table, column (a timestamp or date) and archive table. */
async function validateRule(s: MaintenanceSession, rule: PurgeRule, i: number): Promise<Validated> {
  const key = `PURGE_RULES[${i}]`;
  const table = splitName(rule.table);
  const cols = await relationColumns(s, table.schema, table.name);
  if (!cols.length) throw new TaskError(`${key}.table: table "${table.schema}.${table.name}" does not exist in database ${s.connection.id}`);
  const col = cols.find((c) => c.name === rule.timestampColumn);
  if (!col) throw new TaskError(`${key}.timestampColumn: column "${rule.timestampColumn}" does not exist in table ${table.schema}.${table.name}`);
  if (!/^(timestamp|date)/.test(col.type)) throw new TaskError(`${key}.timestampColumn: column "${rule.timestampColumn}" is ${col.type}, not a timestamp or date`);
  const columns = cols.filter((c) => !c.generated).map((c) => c.name);
  if (rule.where !== undefined) {
    // Planned, not run: the database says whether it is a valid boolean condition on this table.
    try {
      await s.query(`EXPLAIN SELECT ctid FROM ${qualified(table.schema, table.name)} WHERE (${rule.where})`);
    } catch (err) {
      throw new TaskError(`${key}.where: not a condition on ${table.schema}.${table.name}: ${oneLine(err)}`);
    }
  }
  if (!rule.archiveTable) return { table, columns };
  const archive = splitName(rule.archiveTable, table.schema);
  const acols = await relationColumns(s, archive.schema, archive.name);
  if (!acols.length) {
    throw new TaskError(
      `${key}.archiveTable: table "${archive.schema}.${archive.name}" does not exist in database ${s.connection.id} (create it with CREATE TABLE ${archive.name} (LIKE ${table.name} INCLUDING ALL))`,
    );
  }
  const missing = columns.find((c) => !acols.some((a) => a.name === c && !a.generated));
  if (missing) throw new TaskError(`${key}.archiveTable: table "${archive.schema}.${archive.name}" has no column "${missing}" of ${table.schema}.${table.name}`);
  return { table, archive, columns };
}

export const purgeTask = defineTask({
  name: "purge",
  description: "Delete (and optionally archive) rows older than each retention rule, in small batches",
  settings: purgeSettings,
  async run(settings, ctx): Promise<MaintenanceResult<RuleReport[]>> {
    const outcomes = await forEachDatabase(settings, settings, "purge", ctx, async (s) => {
      const budget = new Budget(settings.TIME_BUDGET_SECONDS, ctx.signal);
      // Every rule is checked before any row is touched.
      const validated: Validated[] = [];
      for (const [i, rule] of settings.rules.entries()) validated.push(await validateRule(s, rule, i));
      const reports: RuleReport[] = [];
      for (const [i, rule] of settings.rules.entries()) {
        const v = validated[i];
        const cutoff = (await s.query<{ c: Date }>("SELECT now() - make_interval(secs => $1::float8 * 86400) AS c", [rule.olderThanDays]))[0].c;
        const t = qualified(v.table.schema, v.table.name);
        const col = quoteIdent(rule.timestampColumn);
        const condition = rule.where !== undefined ? `${col} < $1 AND (${rule.where})` : `${col} < $1`;
        const pick = `SELECT ctid FROM ${t} WHERE ${condition} LIMIT ${rule.batchSize} FOR UPDATE SKIP LOCKED`;
        const collist = v.columns.map(quoteIdent).join(", ");
        const sql = v.archive
          ? `WITH moved AS (DELETE FROM ${t} WHERE ctid = ANY(ARRAY(${pick})) RETURNING ${collist})
             INSERT INTO ${qualified(v.archive.schema, v.archive.name)} (${collist}) OVERRIDING SYSTEM VALUE SELECT ${collist} FROM moved`
          : `DELETE FROM ${t} WHERE ctid = ANY(ARRAY(${pick}))`;
        const report: RuleReport = {
          rule: i,
          table: `${v.table.schema}.${v.table.name}`,
          cutoff: cutoff.toISOString(),
          ...(rule.where !== undefined ? { where: rule.where } : {}),
          deleted: 0,
          archived: 0,
          batches: 0,
          complete: false,
        };
        for (;;) {
          if (budget.exhausted()) {
            ctx.log.warn(`purge ${report.table}: time budget of ${settings.TIME_BUDGET_SECONDS}s used up; the rest waits for the next run`);
            break;
          }
          if (report.batches > 0) await pause(settings.PAUSE_MS, ctx.signal);
          // One statement = one transaction: the archive insert and the delete commit together.
          const { result } = await s.exec(sql, [cutoff]);
          const n = result.rowCount ?? 0;
          if (n === 0) {
            report.complete = true;
            break;
          }
          report.batches++;
          report.deleted += n;
          if (v.archive) report.archived += n;
          if (n < rule.batchSize) {
            report.complete = true;
            break;
          }
        }
        ctx.log.info(`purge ${report.table}: ${report.deleted} row(s) older than ${report.cutoff}${rule.where !== undefined ? ` where ${rule.where}` : ""} deleted${v.archive ? ` (archived to ${v.archive.schema}.${v.archive.name})` : ""} in ${report.batches} batch(es)`);
        reports.push(report);
      }
      databaseMetric(ctx, s.connection.id, "RowsPurged", MetricUnit.Count, reports.reduce((a, r) => a + r.deleted, 0));
      return reports;
    });
    return toResult(outcomes);
  },
});
