/** Settings and reporting shared by the backup, verify-backup and restore-drill tasks. */
import { z } from "zod";
import { databaseTargets, parseDatabaseUrl, type DatabaseTarget } from "./db";
import { MetricUnit, recordMetric, TaskError, type TaskContext } from "./runtime";

/**
 * Bucket, prefix and database targets; the targets are checked here so a bad URL is a settings error.
 * Used in a z.looseObject: the other variables (AWS_*, PATH, PG*) stay available as `env`.
 */
export const storageSettings = {
  BACKUP_BUCKET: z
    .string({ message: "must name the S3 bucket of the backups" })
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)"),
  BACKUP_PREFIX: z
    .string()
    .regex(/^([^/].*\/)?$/, 'must be empty or end with "/" and not start with "/"')
    .default(""),
  DATABASE_URL: z.string().optional(),
  DATABASES: z.string().optional(),
};

type WithTargets<T> = T & { targets: DatabaseTarget[]; env: Record<string, string | undefined> };

/** Adds `targets` (from DATABASES or DATABASE_URL) and reports a bad one under its variable's name. */
export function withTargets<T extends { DATABASE_URL?: string; DATABASES?: string }>(s: T, ctx: z.RefinementCtx): WithTargets<T> {
  try {
    const targets = databaseTargets(s);
    for (const t of targets) if (t.url) parseDatabaseUrl(t.url, t.id);
    const env = Object.fromEntries(Object.entries(s).filter(([, v]) => typeof v === "string")) as Record<string, string | undefined>;
    return { ...s, targets, env };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const colon = msg.indexOf(": ");
    const key = colon > 0 && /^[A-Z_\][.a-z0-9]+$/.test(msg.slice(0, colon)) ? msg.slice(0, colon) : "DATABASE_URL";
    ctx.addIssue({ code: "custom", path: [key], message: colon > 0 ? msg.slice(colon + 2) : msg });
    return z.NEVER;
  }
}
/** One figure per database, dimensions service + Task + Database (what the per-database alarms watch). */
export function databaseMetric(ctx: TaskContext, databaseId: string, name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number, at?: Date): void {
  recordMetric(ctx, name, unit, value, ["Database", databaseId], undefined, at);
}

export interface DatabaseOutcome {
  database: string;
  /** The PostgreSQL database it connected to (backup, restore drill) or the backup was dumped from (verify-backup). */
  databaseName?: string;
  /** The secret's dbname, when the configured database name was used instead of it. */
  secretDbname?: string;
  ok: boolean;
  error?: string;
}

/** Fails the run when any database failed, with one line naming each failure. */
export function failIfAny<R extends { databases: DatabaseOutcome[] }>(task: string, result: R): R {
  const failed = result.databases.filter((d) => !d.ok);
  if (failed.length) {
    throw new TaskError(`${task} failed for ${failed.length} of ${result.databases.length} database(s): ${failed.map((d) => `${d.database}: ${d.error}`).join("; ")}`, result);
  }
  return result;
}

export { MetricUnit };
