/**
 * restore-drill: restores the newest backup of each database that restore would take (not failed in
 * verification, nor passed only against a failed one: lib/backup-listing.ts restorableBackup) into
 * a scratch database `<db>_drill_<timestamp>` on the same server through lib/restore-backup.ts
 * restoreInto, the code the bad-day `restore` runs (same pg_restore options, one transaction through
 * psql, owners, grants and database-level settings), so a backup the restore would fail on fails the
 * drill with the same message. It runs the configured checks (a query returning one number, or rows,
 * with a minimum and/or a maximum: `maxRows: 0` asserts that nothing is found; a true/false answer
 * passes only when true; NULL fails), compares the restore time with the RTO target, and always drops
 * the scratch database, on failure too. A drill stopped before its drop (timeout, out of memory)
 * leaves its scratch database behind: the next drill drops those of its database older than the
 * longest a drill can run (leftoverAgeSeconds) and without sessions.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type pg from "pg";
import { z } from "zod";
import { LAMBDA_MAX_TIMEOUT_SECONDS } from "../regime/limits";
import { drillMinutes } from "../regime/runners";
import { databaseMetric, failIfAny, MetricUnit, storageSettings, withTargets, type DatabaseOutcome } from "./lib/backup-common";
import { restorableBackup, type SkippedBackup } from "./lib/backup-listing";
import { connect, databaseFields, resolveConnection, type Connection, type DatabaseTarget } from "./lib/db";
import { quoteIdent } from "./lib/pgmaint";
import { drillRunner, writeDrillRecord } from "./lib/drill-record";
import { restoreInto } from "./lib/restore-backup";
import { defineTask, envJson, envNumber, oneLine, type TaskContext } from "./lib/runtime";
import { readManifest, s3Client } from "./lib/s3";
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
    PSQL_PATH: z.string().optional(),
  })
  .transform(withTargets);
type Settings = z.infer<typeof settings>;

export interface DrillCheck {
  /** The configured name, else the SQL. */
  name: string;
  sql: string;
  minRows?: number;
  maxRows?: number;
  /** The query's figure: its one number or true/false (null for NULL), else its number of rows. */
  value?: number | boolean | null;
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
  /** Newer backups passed over (lib/backup-listing.ts restorableBackup), and why. */
  skipped?: SkippedBackup[];
  /** Scratch databases of earlier drills of this database, left by a run stopped before its drop, dropped now. */
  leftoversDropped?: string[];
  /** The drill record written to the vault (lib/drill-record.ts), when a backup was chosen. */
  recordKey?: string;
}

export interface DrillResult {
  bucket: string;
  databases: DrillOutcome[];
}


const SCRATCH_INFIX = "_drill_";
/** keyTimestamp's first 15 characters, lowercased: `20251010t020000`. */
const SCRATCH_STAMP = /^(\d{4})(\d\d)(\d\d)t(\d\d)(\d\d)(\d\d)$/;

/** The part of a scratch name before `_drill_`: the database's name, lowercased, [a-z0-9_] only, cut to fit 63 bytes. */
function scratchPrefix(database: string): string {
  return database.toLowerCase().replace(/[^a-z0-9_]/g, "_").slice(0, 63 - SCRATCH_INFIX.length - 15);
}

/**
 * `<db>_drill_<yyyymmddThhmmss>` (UTC, lowercased), within PostgreSQL's 63-byte identifier limit: the
 * one place the scratch databases' names are defined; scratchMadeAt reads them back.
 */
export function scratchName(database: string, at: Date): string {
  return `${scratchPrefix(database)}${SCRATCH_INFIX}${keyTimestamp(at).toLowerCase().slice(0, 15)}`;
}

/** When a drill of `database` made scratch database `name` (scratchName), or undefined when it is not one. */
export function scratchMadeAt(database: string, name: string): Date | undefined {
  const head = scratchPrefix(database) + SCRATCH_INFIX;
  if (!name.startsWith(head)) return undefined;
  const m = SCRATCH_STAMP.exec(name.slice(head.length));
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : undefined;
}

/**
 * Seconds after which a scratch database can only be a leftover: the longest a drill can run, on
 * Lambda its 900 s timeout, on Fargate drillMinutes (RTO + time for the checks + setup), whichever
 * is longer, since the task does not know its runner.
 */
export function leftoverAgeSeconds(rtoMinutes: number, checks: number): number {
  return Math.max(LAMBDA_MAX_TIMEOUT_SECONDS, drillMinutes({ rtoMinutes, checks: new Array(checks) }) * 60);
}

/** A query's figure: the value of a one-row, one-column numeric, boolean or NULL result, else the number of rows. */
function figure(rows: Record<string, unknown>[], fields: number): number | boolean | null {
  if (rows.length === 1 && fields === 1) {
    const v = Object.values(rows[0])[0];
    if (v === null || typeof v === "boolean") return v;
    const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : typeof v === "bigint" ? Number(v) : NaN;
    if (!Number.isNaN(n)) return n;
  }
  return rows.length;
}

const bounds = (c: CheckSettings) =>
  [c.minRows !== undefined ? `minRows ${c.minRows}` : "", c.maxRows !== undefined ? `maxRows ${c.maxRows}` : ""].filter(Boolean).join(", ");

/** A check's outcome: the rows found against its bounds, naming the bound broken; NULL and false fail, true passes. */
export function judge(c: CheckSettings, value: number | boolean | null): Pick<DrillCheck, "ok" | "detail" | "broken"> {
  if (value === null) return { ok: false, detail: `returned NULL, not a number or true (${bounds(c)})` };
  if (value === false) return { ok: false, detail: "returned false" };
  if (value === true) return { ok: true, detail: "returned true" };
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

/**
 * Drops the scratch databases an earlier drill of `conn.database` left (a run stopped before its
 * drop): those scratchMadeAt reads, made over `ageSeconds` ago, with no session. Returns their names.
 */
export async function dropLeftovers(admin: pg.Client, database: string, ageSeconds: number, now: Date): Promise<string[]> {
  const r = await admin.query<{ datname: string; sessions: number }>(
    `SELECT d.datname, (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname)::int AS sessions FROM pg_database d WHERE NOT d.datistemplate ORDER BY 1`,
  );
  const dropped: string[] = [];
  for (const { datname, sessions } of r.rows) {
    const made = scratchMadeAt(database, datname);
    if (!made || sessions > 0 || now.getTime() - made.getTime() <= ageSeconds * 1000) continue;
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)}`);
    dropped.push(datname);
  }
  return dropped;
}

async function drillOne(s: Settings, target: DatabaseTarget, s3: S3Client, ctx: TaskContext): Promise<DrillOutcome> {
  const drillStartedAt = new Date();
  const rtoSeconds = s.RTO_MINUTES * 60;
  const conn = await resolveConnection(target, s.env);
  const admin = await connect(conn);
  let leftoversDropped: string[];
  try {
    leftoversDropped = await dropLeftovers(admin, conn.database, leftoverAgeSeconds(s.RTO_MINUTES, s.CHECKS.length), new Date());
  } catch (err) {
    await admin.end().catch(() => undefined);
    throw err;
  }
  if (leftoversDropped.length) ctx.log.warn("scratch databases of earlier drills dropped", { ...databaseFields(conn), leftoversDropped });
  const { chosen, skipped } = await restorableBackup(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, target.id).catch(async (err: unknown) => {
    await admin.end().catch(() => undefined);
    throw err;
  });
  for (const k of skipped) ctx.log.warn("backup passed over", { ...databaseFields(conn), key: k.key, why: k.why });
  const extra = { ...(skipped.length ? { skipped } : {}), ...(leftoversDropped.length ? { leftoversDropped } : {}) };
  if (!chosen) {
    await admin.end().catch(() => undefined);
    const passed = skipped.length ? `; passed over: ${skipped.map((k) => `${k.key} (${k.why})`).join(", ")}` : "";
    return { ...databaseFields(conn), ok: false, error: `no backup of ${target.id} to restore${passed}`, rtoSeconds, checks: [], ...extra };
  }
  const scratch = scratchName(conn.database, new Date());
  const outcome: DrillOutcome = { ...databaseFields(conn), ok: false, key: chosen.key, scratchDatabase: scratch, rtoSeconds, checks: [], ...extra };
  try {
    const m = await readManifest(s3, s.BACKUP_BUCKET, chosen.key.replace(/\.dump$/, ".manifest.json"));
    await admin.query(`CREATE DATABASE ${quoteIdent(scratch)}`);
    ctx.log.info("restore started", { ...databaseFields(conn), key: m.key, scratch });
    // The bad-day restore's own code, into the fresh scratch database: no --clean, owners and grants kept.
    const restored = await restoreInto({ s3, bucket: s.BACKUP_BUCKET, manifest: m, target: { ...conn, database: scratch }, clean: false, noOwner: false, env: s.env, signal: ctx.signal });
    outcome.restoreSeconds = restored.seconds;
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
  // What this drill proved (or where it broke), for the bad-day restore and list-backups to name.
  try {
    outcome.recordKey = await writeDrillRecord(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, {
      database: target.id,
      outcome: outcome.ok ? "passed" : "failed",
      backupKey: chosen.key,
      backupStartedAt: chosen.startedAt,
      drillStartedAt: drillStartedAt.toISOString(),
      ...(outcome.restoreSeconds !== undefined ? { restoreSeconds: outcome.restoreSeconds } : {}),
      rtoMinutes: s.RTO_MINUTES,
      checks: outcome.checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail })),
      runner: drillRunner(s.env),
      ...(outcome.error ? { error: outcome.error } : {}),
    });
  } catch (err) {
    // A passing drill whose record is lost would leave the bad day saying no drill passed: fail it, so its alarm fires now.
    outcome.ok = false;
    outcome.error = `${outcome.error ? `${outcome.error}, ` : ""}${oneLine(err)}`;
  }
  return outcome;
}

export const restoreDrillTask = defineTask({
  name: "restore-drill",
  description: "restore the newest backup not failed in verification into a scratch database as the restore task does, run checks, compare with the RTO, drop it (and leftovers of killed drills)",
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
