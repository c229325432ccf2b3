/**
 * Where a task's databases are and how it logs in.
 *
 * - Locally: DATABASE_URL (one database) — the same variable psql and pg_dump users already know.
 * - In AWS: DATABASES, a JSON list of targets, each with either `secretArn` (a Secrets Manager secret
 *   in the standard RDS JSON shape: host, port, username, password, dbname) or `iamAuth: true` with
 *   host, port, user and database (an RDS IAM token is generated per connection). Credentials are
 *   never plain environment values in Lambda: a DATABASE_URL with a password is refused there.
 *
 * The database name is never guessed: a secret target connects to its `database` (the stack config's
 * `databases[<id>].database`), else to the secret's dbname; with neither it is refused. An RDS-managed
 * master user secret has no dbname, and a server's `postgres` database would answer every query
 * without error.
 *
 * Every session sets DateStyle's output to ISO (connect): node-postgres parses date and timestamp
 * values only in that style (under `ALTER DATABASE ... SET DateStyle = 'SQL, DMY'` it returns null).
 */
import { Signer } from "@aws-sdk/rds-signer";
import pg from "pg";
import { SECRET_ARN } from "../../regime/arn";
import { z } from "zod";
import { TaskError } from "./runtime";
import { readSecretString } from "./secrets";

export const databaseTargetSchema = z
  .object({
    /** Stable id used in S3 keys, metric dimensions and reports. */
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "must be lowercase letters, digits, - or _"),
    secretArn: z.string().regex(SECRET_ARN, "must be the ARN of a Secrets Manager secret").optional(),
    iamAuth: z.boolean().optional(),
    url: z.string().optional(),
    host: z.string().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    user: z.string().optional(),
    database: z.string().optional(),
    sslmode: z.enum(["disable", "prefer", "require", "verify-full"]).optional(),
  })
  .strict()
  .refine((t) => [t.secretArn, t.iamAuth, t.url].filter(Boolean).length === 1, {
    message: "needs exactly one of secretArn, iamAuth or url",
  })
  .refine((t) => !t.iamAuth || (t.host && t.user && t.database), { message: "iamAuth needs host, user and database" });

export type DatabaseTarget = z.infer<typeof databaseTargetSchema>;

/** Connection parameters, in the PG* form both node-postgres and the PostgreSQL client binaries accept. */
export interface Connection {
  id: string;
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  sslmode?: string;
  /** The secret's dbname when the target's configured `database` differs from it and was used instead. */
  secretDbname?: string;
}

/** The stack config key naming a secret target's database (components/database.ts passes it as the target's `database`). */
export const databaseNameKey = (id: string): string => `databases[${id}].database`;

/**
 * Log and result fields naming a connection's database: `database` its id (as in S3 keys and metric
 * dimensions), `databaseName` the PostgreSQL database connected to, `secretDbname` the secret's
 * dbname when the configured name was used instead of it.
 */
export function databaseFields(c: Connection): { database: string; databaseName: string; secretDbname?: string } {
  return { database: c.id, databaseName: c.database, ...(c.secretDbname !== undefined ? { secretDbname: c.secretDbname } : {}) };
}

const inLambda = (env: Record<string, string | undefined>) => Boolean(env.AWS_LAMBDA_FUNCTION_NAME);

export function parseDatabaseUrl(url: string, id?: string): Connection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TaskError("DATABASE_URL: must be a URL like postgres://user@host:5432/dbname");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new TaskError("DATABASE_URL: must start with postgres:// or postgresql://");
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!database) throw new TaskError("DATABASE_URL: names no database (postgres://user@host:5432/dbname)");
  return {
    id: id ?? database.toLowerCase().replace(/[^a-z0-9_-]/g, "-"),
    host: u.hostname || "127.0.0.1",
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username) || "postgres",
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database,
    sslmode: u.searchParams.get("sslmode") ?? undefined,
  };
}

/** The configured targets, from DATABASES (JSON) or DATABASE_URL. */
export function databaseTargets(env: Record<string, string | undefined>): DatabaseTarget[] {
  if (env.DATABASES) {
    let raw: unknown;
    try {
      raw = JSON.parse(env.DATABASES);
    } catch {
      throw new TaskError("DATABASES: must be a JSON list of database targets");
    }
    const parsed = z.array(databaseTargetSchema).min(1, "must list at least one database").safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new TaskError(`DATABASES${i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${i.message}`);
    }
    return parsed.data;
  }
  if (env.DATABASE_URL) {
    const c = parseDatabaseUrl(env.DATABASE_URL);
    if (inLambda(env) && c.password) {
      throw new TaskError("DATABASE_URL: a password in an environment variable is refused in Lambda; use DATABASES with secretArn or iamAuth");
    }
    return [{ id: c.id, url: env.DATABASE_URL }];
  }
  throw new TaskError("DATABASE_URL: not set (or DATABASES for several databases)");
}

const secretShape = z.object({
  host: z.string(),
  port: z.coerce.number().int().optional(),
  username: z.string(),
  password: z.string(),
  dbname: z.string().optional(),
});

/**
 * Resolves a target to connection parameters (reading the secret, tasks/lib/secrets.ts, or generating
 * an IAM token). A secret target's database: the target's `database` (the config's, which wins over
 * a differing dbname of the secret: `secretDbname` then records the secret's), else the secret's
 * dbname. Throws TaskError (one line naming the target, the secret's ARN and `remedy`) when neither
 * names one; `remedy` defaults to setting databaseNameKey(t.id).
 */
export async function resolveConnection(t: DatabaseTarget, env: Record<string, string | undefined>, remedy = `set ${databaseNameKey(t.id)} in the stack config to the name of the database to connect to`): Promise<Connection> {
  if (t.url) {
    return { ...parseDatabaseUrl(t.url, t.id), ...(t.database ? { database: t.database } : {}) };
  }
  if (t.secretArn) {
    const text = await readSecretString(t.secretArn);
    let json: unknown;
    try {
      json = JSON.parse(text ?? "");
    } catch {
      throw new TaskError(`database ${t.id}: secret is not JSON in the RDS shape (host, port, username, password, dbname)`);
    }
    const s = secretShape.safeParse(json);
    if (!s.success) throw new TaskError(`database ${t.id}: secret lacks ${s.error.issues[0].path.join(".")} (RDS shape expected)`);
    const database = t.database ?? s.data.dbname;
    if (!database) {
      throw new TaskError(`database ${t.id}: secret ${t.secretArn} holds no dbname and no database name is configured; ${remedy}`);
    }
    return {
      id: t.id,
      host: t.host ?? s.data.host,
      port: t.port ?? s.data.port ?? 5432,
      user: s.data.username,
      password: s.data.password,
      database,
      sslmode: t.sslmode ?? "require",
      ...(t.database !== undefined && s.data.dbname !== undefined && s.data.dbname !== t.database ? { secretDbname: s.data.dbname } : {}),
    };
  }
  const host = t.host!;
  const port = t.port ?? 5432;
  const signer = new Signer({ hostname: host, port, username: t.user!, region: env.AWS_REGION });
  const token = await signer.getAuthToken();
  return { id: t.id, host, port, user: t.user!, password: token, database: t.database!, sslmode: t.sslmode ?? "require" };
}

/** application_name of every session this regime opens (pg_stat_activity), its backups' pg_dump excepted. */
export const APPLICATION_NAME = "maintenance-regime";
/**
 * application_name of the backup's pg_dump: its one long transaction (a consistent snapshot for the
 * whole dump) is the backup task's to watch (its timeout and duration alarm), so db-health's
 * long-transaction checks know it by this name.
 */
export const BACKUP_APPLICATION_NAME = "maintenance-regime-backup";

export function clientConfig(c: Connection, extra: Partial<pg.ClientConfig> = {}): pg.ClientConfig {
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: c.database,
    ssl: c.sslmode && c.sslmode !== "disable" && c.sslmode !== "prefer" ? { rejectUnauthorized: c.sslmode === "verify-full" } : undefined,
    application_name: APPLICATION_NAME,
    ...extra,
  };
}

/** Environment for pg_dump / pg_restore / psql child processes: no password on a command line; `applicationName` for PGAPPNAME. */
export function libpqEnv(c: Connection, database = c.database, applicationName = APPLICATION_NAME): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PGHOST: c.host,
    PGPORT: String(c.port),
    PGUSER: c.user,
    PGDATABASE: database,
    PGAPPNAME: applicationName,
    PGCONNECT_TIMEOUT: "10",
  };
  if (c.password) env.PGPASSWORD = c.password;
  if (c.sslmode) env.PGSSLMODE = c.sslmode;
  return env;
}

/** A failed connection attempt; `code` is the server's SQLSTATE when it answered (3D000: no such database). */
export class ConnectError extends TaskError {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * What every session runs first. DateStyle ISO: node-postgres parses date, timestamp and timestamptz
 * values only in ISO output; under a database's or role's `SQL, DMY`, `German` or `Postgres` style it
 * returns null (a purge cut-off of null, a never-vacuumed table dated 1970). A SET of the output
 * format alone keeps the database's field order (DMY, MDY), by which the configured SQL (a purge
 * rule's where, a drill check) reads a literal like '01/02/2024'; a startup option (-c DateStyle=ISO)
 * would reset it to the server's. Not set: IntervalStyle, as no task reads an interval value (ages
 * come back as extract(epoch ...) numbers); TimeZone, as timestamptz values come with their offset in
 * ISO output and no task reads a timestamp without time zone as a value (a purge bound is text made in
 * the rule's columnTimezone), so the database's zone stays the one its SQL means.
 */
export const SESSION_SETUP = "SET DateStyle = ISO";

/**
 * Opens a client and runs SESSION_SETUP; throws ConnectError (one line naming the target) when the
 * server refuses or cannot be reached. Every pg session of the tasks is opened here.
 */
export async function connect(c: Connection, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(c, extra));
  try {
    await client.connect();
  } catch (err) {
    const code = typeof (err as { code?: unknown })?.code === "string" ? (err as { code: string }).code : undefined;
    throw new ConnectError(`database ${c.id}: cannot connect to ${c.host}:${c.port}/${c.database}: ${err instanceof Error ? err.message : String(err)}`, code);
  }
  try {
    await client.query(SESSION_SETUP);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new ConnectError(`database ${c.id}: ${SESSION_SETUP} on ${c.host}:${c.port}/${c.database} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  return client;
}
