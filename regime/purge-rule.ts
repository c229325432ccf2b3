/**
 * A purge rule's fields, defined once for both readers: the stack config (`databases[].purge.rules[]`,
 * regime/schema.ts) and the purge task's PURGE_RULES setting (tasks/purge.ts), which gets the rules
 * the config parsed, JSON-encoded. The two differ only in how a name arrives: the config reads it as a
 * user writes it (`"Audit Log"`, `public."Audit Log"`: quoted parts, folding refused) and hands the task
 * the literal name (quotes removed, parts joined with `.`), which the task quotes itself. Every other
 * field, its default and its messages are the same object in both.
 *
 * This file imports zod and regime/primitives only (no Pulumi), as it is bundled into the purge task.
 */
import { z } from "zod";
import { pgName, timezone } from "./primitives";
import { sqlExpressionProblem } from "../tasks/lib/sql-expression";

/** The fields that are the same in the config and in the task (olderThanDays goes before archiveTable, as the reference lists them). */
const { olderThanDays, ...rest } = {
  olderThanDays: z.number({ message: "must be a number of days" }).int("must be a whole number of days").min(1, "must be >= 1").describe("rows older than this many days are deleted"),
  where: z
    .string({ message: "must be an SQL condition" })
    .superRefine((w, ctx) => {
      const problem = sqlExpressionProblem(w);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional()
    .describe(
      "SQL condition ANDed to the age (\"status = 'completed'\"): only matching rows are deleted and archived; refused when row-level security applies on a table it reads, directly or through views, to the purge's role (or to the owner of a view that is not security_invoker)",
    ),
  batchSize: z
    .number()
    .int("must be a whole number")
    .min(1, "must be >= 1")
    .max(100_000, "must be <= 100000")
    .default(5000)
    .describe("rows deleted per transaction, so locks stay short"),
  columnTimezone: timezone
    .optional()
    .describe(
      "IANA timezone the column's values are written in (the writers' session TimeZone): required for a timestamp without time zone column (the run refuses the rule without it), optional for a date column (unset: a day goes once it is over in UTC-12, the last zone to end it); refused for timestamp with time zone",
    ),
  allowTriggers: z
    .array(z.string().min(1, "must name a trigger"))
    .optional()
    .describe(
      "names of DELETE triggers of the table or its partitions/children accepted to fire for each purged row; a run refuses a rule whose table has any other DELETE trigger, a rewrite rule ON DELETE, or a foreign key referencing it ON DELETE CASCADE / SET NULL / SET DEFAULT (they change other rows whatever their age)",
    ),
};

const TABLE = "table whose old rows are deleted (schema.table or table; PostgreSQL names of at most 63 bytes, \"Quoted Name\" for other characters); a partitioned or inheritance parent covers every partition or child under it; views and foreign tables are refused; an old row a foreign key ON DELETE NO ACTION or RESTRICT still references is kept (each run counts them) until its last referencing row is gone; refused when row-level security applies to the purge's role on it or a partition or child (give that role BYPASSRLS, or make it the owner without FORCE ROW LEVEL SECURITY)";
const COLUMN = "column holding the row's age";
const ARCHIVE =
  "rows are copied here (a table or partitioned table with every column of the purged tables, each of the same type or one that keeps every value: numeric(12,0) for numeric(12,2), or date for a timestamp, is refused) in the batch that deletes them (seed 001: archive old data); unset: deleted only";

/** A purge rule as the stack config writes it (names as PostgreSQL reads them; pgName). */
export const purgeRule = z
  .object({
    table: pgName(true).describe(TABLE),
    timestampColumn: pgName(false).prefault("created_at").describe(COLUMN),
    olderThanDays,
    archiveTable: pgName(true).optional().describe(ARCHIVE),
    ...rest,
  })
  .strict();

/** A literal PostgreSQL name, as the config hands it on (quotes removed). */
const literalName = (what: string) => z.string({ message: `must name a ${what}` }).min(1, `must name a ${what}`);

/** A purge rule as the purge task reads it from PURGE_RULES: the config's rule, names literal. */
export const purgeRuleSetting = z
  .object({
    table: literalName("table").describe(TABLE),
    timestampColumn: literalName("column").default("created_at").describe(COLUMN),
    olderThanDays,
    archiveTable: literalName("table").optional().describe(ARCHIVE),
    ...rest,
  })
  .strict();
export type PurgeRule = z.output<typeof purgeRuleSetting>;
