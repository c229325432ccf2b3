/**
 * restore-drill: restores the newest backup of each database (streamed from S3 into
 * `pg_restore -d`) into a scratch database `<db>_drill_<timestamp>` on the same server, runs the
 * configured checks (a query returning one number, or rows, with a minimum and/or a maximum: `maxRows: 0`
 * asserts that nothing is found), compares the restore time with the RTO target, and always drops the
 * scratch database, on failure too.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { databaseMetric, failIfAny, MetricUnit, storageSettings, withTargets, type DatabaseOutcome } from "./lib/backup-common";
import { connect, libpqEnv, resolveConnection, type Connection, type DatabaseTarget } from "./lib/db";
import { startTool, toolPath } from "./lib/pgtools";
import { streamInto } from "./lib/restore-stream";
import { defineTask, envJson, envNumber, oneLine, TaskError, type TaskContext } from "./lib/runtime";
import { newestManifest, openObject, s3Client } from "./lib/s3";
import { keyTimestamp } from "./lib/tiers";

const rowBound = z.number().int("must be a whole number").min(0, "must be >= 0");

/** Mirrors databases[].restoreDrill.checks[]: with neither bound, minRows is 1 (the query finds something). */
const checkSchema = z
  .object({
    name: z.string().min(1, "must not be empty").optional(),
    sql: z.string().min(1, "must be a query"),
    minRows: rowBound.optional(),
    maxRows: rowBound.optional(),
  })
  .strict()
  .refine((c) => c.minRows === undefined || c.maxRows === undefined || c.minRows <= c.maxRows, { message: "minRows must be <= maxRows", path: ["minRows"] })
  .transform((c) => ({ ...c, name: c.name ?? c.sql, minRows: c.minRows === undefined && c.maxRows === undefined ? 1 : c.minRows }));
type CheckSettings = z.output<typeof checkSchema>;

const settings = z
  .looseObject({
    ...storageSettings,
    RTO_MINUTES: envNumber(0.001).default(60),
    CHECKS: envJson(z.array(checkSchema)).default([]),
    PG_BIN_DIR: z.string().optional(),
    PG_RESTORE_PATH: z.string().optional(),
  })
  .transform(withTargets);
type Settings = z.infer<typeof settings>;

export interface DrillCheck {
  /** The configured name, else the SQL. */
  name: string;
  sql: string;
  minRows?: number;
  maxRows?: number;
  /** The query's figure: its one number, else its number of rows. */
  value?: number;
  /** The bound the figure broke, when it broke one. */
  broken?: "minRows" | "maxRows";
  ok: boolean;
  detail: string;
}

export interface DrillOutcome extends DatabaseOutcome {
  key?: string;
  scratchDatabase?: string;
  restoreSeconds?: number;
  rtoSeconds: number;
  checks: DrillCheck[];
  dropped?: boolean;
}

export interface DrillResult {
  bucket: string;
  databases: DrillOutcome[];
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** `<db>_drill_<timestamp>`, within PostgreSQL's 63-byte identifier limit. */
export function scratchName(database: string, at: Date): string {
  const suffix = `_drill_${keyTimestamp(at).toLowerCase().slice(0, 15)}`;
  return database.toLowerCase().replace(/[^a-z0-9_]/g, "_").slice(0, 63 - suffix.length) + suffix;
}

/** A query's figure: the number in a one-row, one-column numeric result, else the number of rows. */
function figure(rows: Record<string, unknown>[], fields: number): number {
  if (rows.length === 1 && fields === 1) {
    const v = Object.values(rows[0])[0];
    const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : typeof v === "bigint" ? Number(v) : NaN;
    if (!Number.isNaN(n)) return n;
  }
  return rows.length;
}

const bounds = (c: CheckSettings) =>
  [c.minRows !== undefined ? `minRows ${c.minRows}` : "", c.maxRows !== undefined ? `maxRows ${c.maxRows}` : ""].filter(Boolean).join(", ");

/** A check's outcome: the rows found against its bounds, naming the bound broken. */
export function judge(c: CheckSettings, value: number): Pick<DrillCheck, "ok" | "detail" | "broken"> {
  if (c.minRows !== undefined && value < c.minRows) return { ok: false, broken: "minRows", detail: `found ${value} row(s), fewer than minRows ${c.minRows}` };
  if (c.maxRows !== undefined && value > c.maxRows) return { ok: false, broken: "maxRows", detail: `found ${value} row(s), more than maxRows ${c.maxRows}` };
  return { ok: true, detail: `found ${value} row(s) (${bounds(c)})` };
}

async function runChecks(conn: Connection, scratch: string, checks: Settings["CHECKS"]): Promise<DrillCheck[]> {
  const client = await connect({ ...conn, database: scratch }, { statement_timeout: 300_000 });
  try {
    const out: DrillCheck[] = [];
    for (const c of checks) {
      const base = { name: c.name, sql: c.sql, ...(c.minRows !== undefined ? { minRows: c.minRows } : {}), ...(c.maxRows !== undefined ? { maxRows: c.maxRows } : {}) };
      try {
        const r = await client.query(c.sql);
        const value = figure(r.rows, r.fields.length);
        out.push({ ...base, value, ...judge(c, value) });
      } catch (err) {
        out.push({ ...base, ok: false, detail: `query failed: ${oneLine(err)}` });
      }
    }
    return out;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function drillOne(s: Settings, target: DatabaseTarget, s3: S3Client, ctx: TaskContext): Promise<DrillOutcome> {
  const rtoSeconds = s.RTO_MINUTES * 60;
  const m = await newestManifest(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, target.id);
  if (!m) return { database: target.id, ok: false, error: `no backup of ${target.id} to restore`, rtoSeconds, checks: [] };
  const conn = await resolveConnection(target, s.env);
  const scratch = scratchName(conn.database, new Date());
  const admin = await connect(conn);
  const outcome: DrillOutcome = { database: target.id, ok: false, key: m.key, scratchDatabase: scratch, rtoSeconds, checks: [] };
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(scratch)}`);
    ctx.log.info("restore started", { database: target.id, key: m.key, scratch });
    const started = Date.now();
    const { body } = await openObject(s3, s.BACKUP_BUCKET, m.key);
    const restore = startTool(
      toolPath("pg_restore", s.env),
      ["--dbname", scratch, "--no-owner", "--no-privileges", "--exit-on-error", "--no-password"],
      libpqEnv(conn, scratch),
      "pipe",
    );
    const streamed = await streamInto(body, restore, ctx.signal);
    outcome.restoreSeconds = (Date.now() - started) / 1000;
    if (streamed.sha256 !== m.sha256) throw new TaskError(`sha256 of ${m.key} is ${streamed.sha256}, manifest says ${m.sha256}`);
    if (streamed.exitCode !== 0) throw new TaskError(`pg_restore exited with ${streamed.exitCode}: ${restore.stderrTail() || "no message"}`);
    databaseMetric(ctx, target.id, "RestoreSeconds", MetricUnit.Seconds, outcome.restoreSeconds);

    outcome.checks = await runChecks(conn, scratch, s.CHECKS);
    const problems = outcome.checks.filter((c) => !c.ok).map((c) => `check "${c.name}": ${c.detail}`);
    if (outcome.restoreSeconds > rtoSeconds) problems.push(`restore took ${outcome.restoreSeconds.toFixed(1)} s, over the RTO of ${rtoSeconds} s (RTO_MINUTES ${s.RTO_MINUTES})`);
    outcome.ok = problems.length === 0;
    if (problems.length) outcome.error = problems.join(", ");
  } catch (err) {
    outcome.ok = false;
    outcome.error = oneLine(err);
  } finally {
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(scratch)} WITH (FORCE)`);
      outcome.dropped = true;
    } catch (err) {
      outcome.dropped = false;
      outcome.ok = false;
      outcome.error = `${outcome.error ? `${outcome.error}, ` : ""}scratch database ${scratch} not dropped: ${oneLine(err)}`;
    }
    await admin.end().catch(() => undefined);
  }
  return outcome;
}

export const restoreDrillTask = defineTask({
  name: "restore-drill",
  description: "restore the newest backup into a scratch database, run checks, compare with the RTO, drop it",
  settings,
  async run(s, ctx): Promise<DrillResult> {
    const s3 = s3Client(s.env);
    const result: DrillResult = { bucket: s.BACKUP_BUCKET, databases: [] };
    for (const target of s.targets) {
      let outcome: DrillOutcome;
      try {
        outcome = await drillOne(s, target, s3, ctx);
      } catch (err) {
        outcome = { database: target.id, ok: false, error: oneLine(err), rtoSeconds: s.RTO_MINUTES * 60, checks: [] };
      }
      if (outcome.ok) ctx.log.info("restore drill passed", { ...outcome });
      else ctx.log.error("restore drill failed", { database: target.id, error: outcome.error });
      databaseMetric(ctx, target.id, "RestoreDrillSucceeded", MetricUnit.Count, outcome.ok ? 1 : 0);
      result.databases.push(outcome);
    }
    return failIfAny("restore-drill", result);
  },
});
