/**
 * restore (on demand): one backup of a database from the bucket into a target database.
 *
 *   npm run task -- restore --database <id> --target <postgres URL | Secrets Manager ARN>
 *                           [--before <ISO time> | --key <object key>] [--clean] [--no-owner]
 *
 * Which backup: the newest of the database across the tiers that is a good copy or not verified yet;
 * with --before (a time with its offset; a date alone is refused) the newest such one whose key
 * timestamp (its start) is before that time; with --key that one, whatever its verification said.
 * Backups passed over are named with why: a failed verification (its failed checks), a pass measured
 * only against a failed backup, or never verified and older than one passed over
 * (lib/backup-listing.ts restorableBackup).
 *
 * What the drills proved: the run names the last passing restore drill of the database (when, which
 * backup, its restore time against the RTO) from the drill records in the vault, and whether the
 * backup chosen is that one, newer (verified at most, never drill-restored) or older
 * (lib/drill-record.ts drillStanding); `no restore drill has passed for <db>` when none has. A drill
 * that failed after the last passing one is named with its first error (of the backup chosen, else
 * the last drill's backup), and a passing drill that ran no checks or ran by hand says so. Records
 * that cannot be read are warned about and do not stop the restore.
 *
 * How: lib/restore-backup.ts restoreInto, the same code the restore drill runs: owners, grants and
 * database-level settings as the backup holds them (a target server lacking the backup's roles is
 * refused before anything changes, naming them; --no-owner restores without owners and grants), all
 * in one transaction that commits only after the object's SHA-256 and size matched the manifest. A
 * target that holds tables (or views, sequences) is refused unless --clean, which adds
 * `--clean --if-exists` (drop, then recreate, each object the dump holds) inside the same transaction.
 *
 * The same code runs in Lambda and Fargate (the database's verify-backup function or task, README
 * "On the bad day"); there the target is best a Secrets Manager ARN (RDS secret shape), read with the
 * task's role.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { SECRET_ARN } from "../regime/arn";
import { storageSettings } from "./lib/backup-common";
import { noSuchDatabase, restorableBackup, type SkippedBackup } from "./lib/backup-listing";
import { drillRecords, drillStanding, type DrillStanding } from "./lib/drill-record";
import { connect, ConnectError, parseDatabaseUrl, resolveConnection, type Connection } from "./lib/db";
import { parseIsoTime } from "./lib/iso-time";
import { RestorePreconditionsError, restoreInto } from "./lib/restore-backup";
import { defineTask, envBool, oneLine, optionsToEnv, TaskError, type TaskContext } from "./lib/runtime";
import { listManifests, readManifest, s3Client, type Manifest } from "./lib/s3";

const settings = z.looseObject({
  BACKUP_BUCKET: storageSettings.BACKUP_BUCKET,
  BACKUP_PREFIX: storageSettings.BACKUP_PREFIX,
  RESTORE_DATABASE: z.string({ message: "missing: --database <id> names the database whose backup is restored" }).min(1, "missing: --database <id>"),
  RESTORE_TARGET: z.string({ message: "missing: --target <postgres URL or Secrets Manager ARN> names the database restored into" }).min(1, "missing: --target"),
  RESTORE_BEFORE: z.string().optional(),
  RESTORE_KEY: z.string().optional(),
  RESTORE_CLEAN: envBool.default(false),
  RESTORE_NO_OWNER: envBool.default(false),
  PG_BIN_DIR: z.string().optional(),
  PG_RESTORE_PATH: z.string().optional(),
  PSQL_PATH: z.string().optional(),
}).transform((s) => ({ ...s, env: Object.fromEntries(Object.entries(s).filter(([, v]) => typeof v === "string")) as Record<string, string | undefined> }));
type Settings = z.infer<typeof settings>;

/** Settings variable -> command-line argument, so every refusal names what the user typed. */
const ARGUMENTS: Record<string, string> = {
  RESTORE_DATABASE: "--database",
  RESTORE_TARGET: "--target",
  RESTORE_BEFORE: "--before",
  RESTORE_KEY: "--key",
  RESTORE_CLEAN: "--clean",
  RESTORE_NO_OWNER: "--no-owner",
};

export interface RestoreResult {
  database: string;
  key: string;
  tier: Manifest["tier"];
  /** When the restored backup was taken (its manifest's startedAt). */
  startedAt: string;
  /** host:port/database of the target, no credentials. */
  target: string;
  /** Tables the dump created in the target, and rows it copied into them. */
  tables: number;
  rows: number;
  bytes: number;
  sha256: string;
  clean: boolean;
  /** Restored without the backup's owners and grants (--no-owner). */
  noOwner: boolean;
  /** Database-level statements applied to the target (ALTER DATABASE ... SET). */
  databaseSettings: string[];
  /** Newer backups passed over (failed verification, passed only against a failed one, or never verified below one passed over), and why. */
  skipped: SkippedBackup[];
  /** The last passing restore drill and how the restored backup stands against it; undefined when the records could not be read. */
  drill?: DrillStanding;
  seconds: number;
}

/** How the backup stands against the drills of its database (passing, and failed since), or undefined (warned) when the drill records cannot be read. */
async function drillOf(s: Settings, s3: S3Client, m: Manifest, ctx: TaskContext): Promise<DrillStanding | undefined> {
  try {
    return drillStanding(s.RESTORE_DATABASE, await drillRecords(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, s.RESTORE_DATABASE), m);
  } catch (err) {
    ctx.log.warn("drill records not read", { database: s.RESTORE_DATABASE, error: oneLine(err) });
    process.stderr.write(`drill records of ${s.RESTORE_DATABASE} not read: ${oneLine(err)}\n`);
    return undefined;
  }
}

/** The manifest the arguments choose and the newer backups passed over, or a one-line refusal naming the argument. */
async function chooseBackup(s: Settings, s3: S3Client): Promise<{ manifest: Manifest; skipped: SkippedBackup[] }> {
  const id = s.RESTORE_DATABASE;
  if (s.RESTORE_KEY) {
    const keys = await listManifests(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, id);
    if (keys.length === 0) throw new TaskError(await noSuchDatabase(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, id));
    const wanted = s.RESTORE_KEY.replace(/\.manifest\.json$/, ".dump");
    const manifestKey = wanted.replace(/\.dump$/, ".manifest.json");
    if (!wanted.endsWith(".dump") || !keys.includes(manifestKey)) {
      throw new TaskError(`--key ${s.RESTORE_KEY}: no backup of ${id} with that key; the newest is ${keys[0].replace(/\.manifest\.json$/, ".dump")} (npm run task -- list-backups --database ${id})`);
    }
    return { manifest: await readManifest(s3, s.BACKUP_BUCKET, manifestKey), skipped: [] };
  }
  const before = s.RESTORE_BEFORE ? (parseIsoTime(s.RESTORE_BEFORE) as { at: Date }).at : undefined;
  const { chosen, skipped, entries } = await restorableBackup(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, id, before);
  if (entries.length === 0) throw new TaskError(await noSuchDatabase(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, id));
  if (!chosen) {
    const passed = skipped.length ? `; passed over: ${skipped.map((k) => `${k.key} (${k.why})`).join(", ")}; name one with --key to restore it anyway` : "";
    const range = before ? `--before ${s.RESTORE_BEFORE}: no backup of ${id} was taken before ${before.toISOString()}` : `--database ${id}: no backup`;
    const oldest = before && skipped.length === 0 ? `; the oldest was taken at ${entries[entries.length - 1].startedAt}` : "";
    throw new TaskError(`${range}${skipped.length ? " that can be trusted" : ""}${oldest}${passed}`);
  }
  return { manifest: await readManifest(s3, s.BACKUP_BUCKET, chosen.key.replace(/\.dump$/, ".manifest.json")), skipped };
}

/** The target's connection: a postgres URL, or a Secrets Manager ARN read as databases' secrets are. */
async function targetConnection(s: Settings): Promise<Connection> {
  const t = s.RESTORE_TARGET;
  try {
    if (t.startsWith("arn:")) {
      if (!SECRET_ARN.test(t)) throw new TaskError("must be a postgres:// URL or a Secrets Manager secret ARN");
      return await resolveConnection({ id: "target", secretArn: t }, s.env, "name the database with a postgres:// URL as --target, or add dbname to the secret");
    }
    return parseDatabaseUrl(t, "target");
  } catch (err) {
    throw new TaskError(`--target: ${oneLine(err).replace(/^(DATABASE_URL|database target): /, "")}`);
  }
}

const KINDS: Record<string, string> = { r: "table", p: "table", v: "view", m: "materialized view", S: "sequence", f: "foreign table" };

/**
 * What the target holds outside the system schemas, at most `limit` names: its tables (ordinary and
 * partitioned); or, when it has none, its views, materialized views, sequences and foreign tables,
 * each named with its kind (`public.v (view)`). Either makes the target non-empty.
 */
async function userTables(c: Connection, limit = 3): Promise<{ count: number; names: string[]; tables: boolean }> {
  const client = await connect(c);
  try {
    const r = await client.query<{ name: string; kind: string; n: string; tables: boolean }>(
      `WITH rel AS (
         SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relkind::text AS kind
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'),
       shown AS (SELECT * FROM rel WHERE kind IN ('r', 'p') OR NOT EXISTS (SELECT 1 FROM rel WHERE kind IN ('r', 'p')))
       SELECT name, kind, count(*) OVER ()::text AS n, bool_and(kind IN ('r', 'p')) OVER () AS tables FROM shown ORDER BY 1 LIMIT $1`,
      [limit],
    );
    if (r.rows.length === 0) return { count: 0, names: [], tables: true };
    const tables = r.rows[0].tables;
    return { count: Number(r.rows[0].n), names: r.rows.map((x) => (tables ? x.name : `${x.name} (${KINDS[x.kind]})`)), tables };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function restore(s: Settings, ctx: TaskContext): Promise<RestoreResult> {
  const s3 = s3Client(s.env);
  const { manifest: m, skipped } = await chooseBackup(s, s3);
  for (const k of skipped) ctx.log.warn("backup passed over", { key: k.key, why: k.why });
  const target = await targetConnection(s);
  const where = `${target.host}:${target.port}/${target.database}`;
  const present = await userTables(target).catch((err: unknown) => {
    // The target is the user's argument: name it, not the internal connection id.
    const why = oneLine(err).replace(/^database target: cannot connect to \S+: /, "");
    const hint = err instanceof ConnectError && err.code === "3D000" ? "; create it first (createdb) or name an existing one" : "";
    throw new TaskError(`--target ${where}: cannot connect: ${why}${hint}`);
  });
  if (present.count > 0 && !s.RESTORE_CLEAN) {
    throw new TaskError(
      `--target ${where}: holds ${present.count} ${present.tables ? "table(s)" : "relation(s)"} (${present.names.join(", ")}${present.count > present.names.length ? ", ..." : ""}); add --clean to drop and recreate what the backup holds, or restore into an empty database`,
    );
  }
  const drill = await drillOf(s, s3, m, ctx);
  if (drill) process.stderr.write(`${drill.line}\n`);
  ctx.log.info("restore started", {
    database: s.RESTORE_DATABASE,
    key: m.key,
    tier: m.tier,
    backupStartedAt: m.startedAt,
    target: where,
    clean: s.RESTORE_CLEAN,
    noOwner: s.RESTORE_NO_OWNER,
    ...(drill ? { drill: drill.line, drillRestored: drill.chosen } : {}),
  });
  let restored;
  try {
    restored = await restoreInto({ s3, bucket: s.BACKUP_BUCKET, manifest: m, target, clean: s.RESTORE_CLEAN, noOwner: s.RESTORE_NO_OWNER, env: s.env, signal: ctx.signal });
  } catch (err) {
    if (err instanceof RestorePreconditionsError) {
      const roleRemedy = `; create them (CREATE ROLE) or grant them to ${err.user}${s.RESTORE_NO_OWNER ? " (policies and user mappings name their roles even with --no-owner)" : ", or add --no-owner to restore without the backup's owners and grants"}`;
      throw new TaskError(`--target ${RestorePreconditionsError.describe(err.where, err.missing, err.notMember, err.user, err.privileges, roleRemedy)}`);
    }
    throw err;
  }
  return {
    database: s.RESTORE_DATABASE,
    key: m.key,
    tier: m.tier,
    startedAt: m.startedAt,
    target: where,
    tables: restored.tables,
    rows: restored.rows,
    bytes: m.sizeBytes,
    sha256: m.sha256,
    clean: s.RESTORE_CLEAN,
    noOwner: s.RESTORE_NO_OWNER,
    databaseSettings: restored.databaseSettings,
    skipped,
    ...(drill ? { drill } : {}),
    seconds: restored.seconds,
  };
}

/**
 * Maps `--database`, `--target`, `--before`, `--key`, `--clean`, `--no-owner` to settings; refuses bad ones with
 * one line naming each argument (all problems, joined by "; ").
 */
export function restoreOptions(options: Record<string, string[]>): Record<string, string> {
  const problems: string[] = [];
  const last = (k: string) => options[k]?.[options[k].length - 1];
  if (!last("database")) problems.push("--database: missing; the id of the database whose backup is restored (npm run task -- list-backups)");
  if (!last("target")) problems.push("--target: missing; the postgres:// URL or Secrets Manager ARN of the database to restore into");
  const before = last("before");
  const beforeTime = before === undefined ? undefined : parseIsoTime(before);
  if (beforeTime && "problem" in beforeTime) problems.push(`--before: ${beforeTime.problem}`);
  if (before !== undefined && last("key") !== undefined) problems.push("--key: cannot be combined with --before; --key names one backup");
  for (const flag of ["clean", "no-owner"]) {
    const v = last(flag);
    if (v !== undefined && !["true", "false"].includes(v)) problems.push(`--${flag}: takes no value, got "${v}"`);
  }
  if (problems.length) throw new TaskError(problems.join("; "));
  // The other options set settings as for every task (`--backup-bucket`, `--aws-endpoint-url-s3`).
  const own = new Set(Object.values(ARGUMENTS).map((a) => a.slice(2)));
  const env = optionsToEnv(Object.fromEntries(Object.entries(options).filter(([k]) => !own.has(k))));
  for (const [variable, arg] of Object.entries(ARGUMENTS)) {
    const v = last(arg.slice(2));
    if (v !== undefined) env[variable] = v;
  }
  return env;
}

export const restoreTask = defineTask({
  name: "restore",
  description: "restore a backup (newest not failed in verification, --before a time, or --key) into --target with its owners, grants and database settings; refuses a target with tables unless --clean",
  settings,
  async run(s, ctx): Promise<RestoreResult> {
    // Settings read from the environment (Lambda, Fargate) get the same checks as command-line options.
    restoreOptions(
      Object.fromEntries(
        Object.entries(ARGUMENTS)
          .filter(([v]) => s[v as keyof Settings] !== undefined)
          .map(([v, a]) => [a.slice(2), [String(s[v as keyof Settings])]]),
      ),
    );
    const result = await restore(s, ctx);
    for (const k of result.skipped) process.stderr.write(`passed over ${k.key}: ${k.why}\n`);
    process.stderr.write(
      `restored ${result.key} (${result.tier}, taken ${result.startedAt}, ${result.bytes} bytes) into ${result.target}: ${result.tables} table(s), ${result.rows} row(s) in ${result.seconds.toFixed(1)} s\n`,
    );
    ctx.log.info("restore finished", { ...result });
    return result;
  },
  cli: restoreOptions,
});
