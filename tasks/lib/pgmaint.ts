/**
 * Shared machinery of the PostgreSQL maintenance tasks (vacuum, analyze, reindex, purge, db-health):
 * one maintenance session per database with its own lock_timeout and statement_timeout, one run at a
 * time per database (advisory lock), a time budget checked before each unit of work, server notices
 * captured per statement, and safe identifier quoting.
 *
 * Objects vanish: a task lists its tables, indexes and databases first and acts on them one by one,
 * so any of them can be dropped or renamed before its turn. Relations are therefore acted on by OID
 * (`actByOid`: the name is looked up from the OID right before acting, and looked up again when the
 * statement fails with a "does not exist" SQLSTATE): a relation that is gone is reported as vanished
 * and skipped, a renamed one is acted on under its new name, and any other error stays an error. A
 * database of a multi-database run that answered when the run started and is gone at its turn
 * (SQLSTATE 3D000) is reported with status "vanished"; it never fails the run.
 */
import { BUDGET_OVERRUN_SECONDS } from "../../regime/limits";
import pg from "pg";
import { z } from "zod";
import { ConnectError, connect, databaseFields, databaseNameKey, databaseTargets, resolveConnection, type Connection, type DatabaseTarget } from "./db";
import { envInt, MetricUnit, oneLine, recordMetric, TaskError, type TaskContext } from "./runtime";

export const quoteIdent = (name: string): string => pg.escapeIdentifier(name);

/** `schema.table` quoted for SQL. */
export const qualified = (schema: string, name: string): string => `${quoteIdent(schema)}.${quoteIdent(name)}`;

/**
 * SQLSTATEs meaning "the object named is not there": undefined_table (42P01), undefined_object
 * (42704), invalid_schema_name (3F000), invalid_catalog_name (3D000, a database) [PostgreSQL
 * documentation, Appendix A "PostgreSQL Error Codes"].
 */
export const VANISHED_SQLSTATES: ReadonlySet<string> = new Set(["42P01", "42704", "3F000", "3D000"]);

/** The SQLSTATE of a server error (pg's DatabaseError.code, ConnectError.code), if any. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** True when the error says that a named object does not exist (see VANISHED_SQLSTATES). */
export const isVanishedSignal = (err: unknown): boolean => VANISHED_SQLSTATES.has(sqlState(err) ?? "");

/** A relation (table, index, ...) as the catalog names it now. */
export interface RelationRef {
  oid: number;
  schema: string;
  name: string;
}

/** `schema.name` of a relation. */
export const relationText = (r: { schema: string; name: string }): string => `${r.schema}.${r.name}`;

/** The current schema and name of relations by OID (pg_class); OIDs that no longer exist are absent. */
export async function relationsByOid(s: MaintenanceSession, oids: number[]): Promise<Map<number, RelationRef>> {
  const rows = await s.query<{ oid: number; schema: string; name: string }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[])`,
    [oids],
  );
  return new Map(rows.map((r) => [Number(r.oid), { oid: Number(r.oid), schema: r.schema, name: r.name }]));
}

/** How acting on relations listed earlier went: done (under their current names) or vanished (these OIDs are gone). */
export type Acted<T> = { status: "done"; value: T; rels: RelationRef[] } | { status: "vanished"; gone: number[] };

/**
 * Acts on relations listed earlier, by OID. Their current names are looked up right before `act`
 * runs; when any is gone, nothing runs and the result is "vanished" with the missing OIDs. When
 * `act` fails with a vanished signal (42P01, 42704, 3F000), the names are looked up again: a
 * relation gone since means "vanished"; one renamed since (a new name or schema) is acted on again
 * under that name, up to `attempts` times; when every name is unchanged the error is real and is
 * thrown (for instance a `where` naming a table that was dropped). Any other error is thrown as is.
 */
export async function actByOid<T>(s: MaintenanceSession, oids: number[], act: (rels: RelationRef[]) => Promise<T>, attempts = 3): Promise<Acted<T>> {
  let lastError: unknown;
  let lastNames: string[] | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const found = await relationsByOid(s, oids);
    const gone = oids.filter((o) => !found.has(o));
    if (gone.length) return { status: "vanished", gone };
    const rels = oids.map((o) => found.get(o)!);
    const names = rels.map(relationText);
    // Still there under the same names: the "does not exist" was about something else.
    if (lastNames && names.every((n, i) => n === lastNames![i])) throw lastError;
    try {
      return { status: "done", value: await act(rels), rels };
    } catch (err) {
      if (!isVanishedSignal(err)) throw err;
      lastError = err;
      lastNames = names;
    }
  }
  throw lastError;
}

/**
 * A list of literal names: a JSON array (`["public.audit_logs","My Schema.Audit Log"]`, what the
 * components set, so a name may hold spaces or commas) or, typed by hand, names separated by commas
 * or whitespace (TABLES=public.a,b). Empty means "none given".
 */
export const envList = z
  .string()
  .transform((s, ctx) => {
    if (!s.trim().startsWith("[")) return s.split(/[\s,]+/).filter(Boolean);
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a JSON array of names or names separated by commas" });
      return z.NEVER;
    }
  })
  .pipe(z.array(z.string().regex(/^[^.]+(\.[^.]+)?$/, "must be names like table or schema.table, separated by commas")));

/** Splits `schema.name` (or `name`, schema public). */
export function splitName(name: string, defaultSchema = "public"): { schema: string; name: string } {
  const dot = name.indexOf(".");
  return dot < 0 ? { schema: defaultSchema, name } : { schema: name.slice(0, dot), name: name.slice(dot + 1) };
}

/** Session settings shared by the maintenance tasks. */
export const sessionSettings = {
  /** Where the databases are (tasks/lib/db.ts): one DATABASE_URL locally, a DATABASES JSON list in AWS. */
  DATABASE_URL: z.string().optional(),
  DATABASES: z.string().optional(),
  AWS_LAMBDA_FUNCTION_NAME: z.string().optional(),
  AWS_REGION: z.string().optional(),
  /** How long a statement waits for a lock before giving up (per session, never global). */
  LOCK_TIMEOUT_MS: envInt(0, 3_600_000).default(5000),
  /** Server-side limit of one statement (node-postgres query_timeout would only stop waiting). */
  STATEMENT_TIMEOUT_SECONDS: envInt(0, 86_400).default(600),
  /** Work stops starting new tables/batches once this much time has passed (checked before each). */
  TIME_BUDGET_SECONDS: envInt(1, 86_400).default(600),
  /** Pause between tables (or batches), to let replicas and the I/O system breathe. */
  PAUSE_MS: envInt(0, 600_000).default(500),
};

export interface SessionOptions {
  LOCK_TIMEOUT_MS: number;
  STATEMENT_TIMEOUT_SECONDS: number;
}

/** Advisory-lock keys: one namespace for this program, one key per task kind. */
export const ADVISORY_LOCK_NAMESPACE = 0x4d52; // "MR"
export const ADVISORY_LOCK_KEYS = { vacuum: 1, analyze: 2, reindex: 3, purge: 4 } as const;
export type LockKind = keyof typeof ADVISORY_LOCK_KEYS;

export interface Notice {
  severity?: string;
  code?: string;
  message: string;
}

/** A statement stopped by statement_timeout (57014) or lock_timeout (55P03). */
export const isTimeout = (err: unknown): boolean => ["57014", "55P03"].includes(sqlState(err) ?? "");

/** A connection configured for maintenance, collecting the notices each statement raises. */
export class MaintenanceSession {
  private notices: Notice[] = [];
  private deadline: number | undefined;
  private cutByDeadline = false;
  constructor(
    readonly client: pg.Client,
    readonly connection: Connection,
    private readonly opts: SessionOptions = { LOCK_TIMEOUT_MS: 0, STATEMENT_TIMEOUT_SECONDS: 0 },
  ) {
    client.on("notice", (n: { severity?: string; code?: string; message?: string }) => this.notices.push({ severity: n.severity, code: n.code, message: n.message ?? "" }));
  }

  static async open(c: Connection, opts: SessionOptions): Promise<MaintenanceSession> {
    const client = await connect(c);
    client.on("error", () => {
      /* a dropped connection surfaces as a failed query */
    });
    const s = new MaintenanceSession(client, c, opts);
    // SET, not ALTER ... SET: these limits apply to this session only.
    await client.query(`SET lock_timeout = ${Math.trunc(opts.LOCK_TIMEOUT_MS)}`);
    await client.query(`SET statement_timeout = ${Math.trunc(opts.STATEMENT_TIMEOUT_SECONDS) * 1000}`);
    await client.query(`SET idle_in_transaction_session_timeout = 60000`);
    return s;
  }

  /**
   * Bounds every following statement by the time left until `deadline` (epoch ms; undefined: only the
   * session's STATEMENT_TIMEOUT_SECONDS and LOCK_TIMEOUT_MS): statement_timeout and lock_timeout are set
   * before each statement to the smaller of the setting and what is left (at least 1 ms; 0 would mean
   * no limit), so a statement started just before the deadline ends at it.
   */
  until(deadline: number | undefined): void {
    this.deadline = deadline;
  }

  /** Whether `err` is the last statement stopped by the deadline of `until` (not by the session's own limits). */
  stoppedByDeadline(err: unknown): boolean {
    return this.cutByDeadline && isTimeout(err);
  }

  private async bound(sql: string): Promise<void> {
    // COMMIT and ROLLBACK end a transaction that may have failed, where a SET would fail too.
    if (this.deadline === undefined || /^\s*(COMMIT|ROLLBACK)\b/i.test(sql)) return;
    const left = Math.max(1, Math.floor(this.deadline - Date.now()));
    const statementMs = Math.trunc(this.opts.STATEMENT_TIMEOUT_SECONDS) * 1000;
    const lockMs = Math.trunc(this.opts.LOCK_TIMEOUT_MS);
    const statement = statementMs > 0 ? Math.min(statementMs, left) : left;
    const lock = lockMs > 0 ? Math.min(lockMs, left) : left;
    this.cutByDeadline = statement === left || lock === left;
    await this.client.query(`SET statement_timeout = ${statement}; SET lock_timeout = ${lock}`);
  }

  /** Runs one statement on its own (never inside a transaction block) and returns its notices. */
  async exec(sql: string, params?: unknown[]): Promise<{ result: pg.QueryResult; notices: Notice[] }> {
    await this.bound(sql);
    this.notices = [];
    const result = await this.client.query(sql, params);
    const notices = this.notices;
    this.notices = [];
    return { result, notices };
  }

  async query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]> {
    await this.bound(sql);
    return (await this.client.query<T>(sql, params)).rows;
  }

  /** pg_try_advisory_lock: false when another run holds it in this database. Released when the session ends. */
  async tryLock(kind: LockKind): Promise<boolean> {
    const rows = await this.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS ok", [ADVISORY_LOCK_NAMESPACE, ADVISORY_LOCK_KEYS[kind]]);
    return rows[0].ok;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/** SKIP_LOCKED reports a locked table as a WARNING "skipping vacuum of ... --- lock not available" (SQLSTATE 55P03). */
export function isSkippedForLock(notices: Notice[]): boolean {
  return notices.some((n) => n.code === "55P03" || /lock not available/i.test(n.message));
}

/**
 * Time budget checked before each unit of work (flexible_freeze style); with MaintenanceSession.until
 * at `deadline` a running statement is stopped at its end, and the clean-up after it at `cleanupDeadline`
 * (BUDGET_OVERRUN_SECONDS later).
 */
export class Budget {
  readonly deadline: number;
  constructor(
    seconds: number,
    private readonly signal: AbortSignal,
    private readonly started = Date.now(),
  ) {
    this.deadline = started + seconds * 1000;
  }
  /** Epoch ms by which the run's clean-up ends: the deadline plus BUDGET_OVERRUN_SECONDS. */
  get cleanupDeadline(): number {
    return this.deadline + BUDGET_OVERRUN_SECONDS * 1000;
  }
  exhausted(): boolean {
    return this.signal.aborted || Date.now() >= this.deadline;
  }
  get elapsedMs(): number {
    return Date.now() - this.started;
  }
}

/**
 * Runs `work` (the statements of one unit of work) with each statement bounded by what is left of the
 * time budget (MaintenanceSession.until), then bounds what follows by the clean-up deadline again.
 */
export async function withinBudget<T>(s: MaintenanceSession, budget: Budget, work: () => Promise<T>): Promise<T> {
  s.until(budget.deadline);
  try {
    return await work();
  } finally {
    s.until(budget.cleanupDeadline);
  }
}

export const pause = (ms: number, signal: AbortSignal) =>
  ms <= 0 || signal.aborted
    ? Promise.resolve()
    : new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          signal.removeEventListener("abort", done);
          resolve();
        }
        signal.addEventListener("abort", done, { once: true });
      });

/**
 * One figure with the Database dimension: a metric where tasks/lib/metrics.ts publishes it, else a
 * log line (recordMetric). `breaching`: the value breaches its alarm's threshold (a sampled metric
 * is then published on every run).
 */
export function databaseMetric(ctx: TaskContext, database: string, name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number, breaching?: boolean): void {
  recordMetric(ctx, name, unit, value, ["Database", database], breaching);
}

export interface DatabaseEnv {
  DATABASE_URL?: string;
  DATABASES?: string;
  AWS_LAMBDA_FUNCTION_NAME?: string;
  AWS_REGION?: string;
}

export interface DatabaseOutcome<R> {
  database: string;
  /** The PostgreSQL database the session was opened on (absent when the target did not resolve). */
  databaseName?: string;
  status: "done" | "already-running" | "vanished" | "failed";
  error?: string;
  /** For "vanished": what the server said (database "x" does not exist). */
  detail?: string;
  result?: R;
}

/** pg's own message when the server closes the connection, and the SQLSTATE of pg_terminate_backend (DROP DATABASE ... WITH (FORCE)). */
const connectionLost = (err: unknown) => sqlState(err) === "57P01" || /Connection terminated/i.test(err instanceof Error ? err.message : "");

/** Whether the target's database answers a fresh connection attempt with 3D000 (does not exist). */
async function databaseMissing(t: DatabaseTarget, env: Record<string, string | undefined>): Promise<boolean> {
  try {
    const client = await connect(await resolveConnection(t, env));
    await client.end().catch(() => undefined);
    return false;
  } catch (err) {
    return err instanceof ConnectError && err.code === "3D000";
  }
}

/**
 * Runs `work` once per configured database, each with its own maintenance session. With `lock`, a
 * database where another run of the same kind holds the advisory lock is reported as
 * "already-running" and left alone (the run still succeeds: the other run is doing the work). A
 * database that fails does not stop the others; the task fails afterwards naming it.
 *
 * With several databases, each is first tried once (connect and close) to list the ones that exist
 * now. One of those that is gone at its turn (dropped or renamed meanwhile: SQLSTATE 3D000 on
 * connecting, or its session ended by DROP DATABASE ... WITH (FORCE) and a new connection then gets
 * 3D000) is reported with status "vanished" and does not fail the run. A database that did not
 * exist when the run started is a configuration fault: it fails the run as before.
 */
export async function forEachDatabase<R>(
  env: DatabaseEnv,
  opts: SessionOptions,
  lock: LockKind | undefined,
  ctx: TaskContext,
  work: (s: MaintenanceSession) => Promise<R>,
): Promise<DatabaseOutcome<R>[]> {
  const dbEnv: Record<string, string | undefined> = { ...env };
  const targets = databaseTargets(dbEnv);
  const seen = new Set<string>();
  if (targets.length > 1) {
    for (const t of targets) {
      try {
        const client = await connect(await resolveConnection(t, dbEnv));
        await client.end().catch(() => undefined);
        seen.add(t.id);
      } catch {
        /* its turn reports why */
      }
    }
  }
  const outcomes: DatabaseOutcome<R>[] = [];
  for (const t of targets) {
    let session: MaintenanceSession | undefined;
    let databaseName: string | undefined;
    try {
      const c = await resolveConnection(t, dbEnv);
      databaseName = c.database;
      session = await MaintenanceSession.open(c, opts);
      seen.add(t.id);
      ctx.log.info(
        `database ${t.id}: connected to ${c.database} on ${c.host}:${c.port}${c.secretDbname !== undefined ? ` (${databaseNameKey(t.id)}; the secret's dbname ${c.secretDbname} not used)` : ""}`,
        databaseFields(c),
      );
      if (lock && !(await session.tryLock(lock))) {
        ctx.log.warn(`database ${t.id}: another ${lock} run holds the lock; leaving it alone`);
        outcomes.push({ database: t.id, databaseName, status: "already-running" });
        continue;
      }
      outcomes.push({ database: t.id, databaseName, status: "done", result: await work(session) });
    } catch (err) {
      const msg = oneLine(err);
      const gone = seen.has(t.id) && (sqlState(err) === "3D000" || (connectionLost(err) && (await databaseMissing(t, dbEnv))));
      if (gone) {
        ctx.log.warn(`database ${t.id}: gone since the run started (${msg}); skipped`);
        outcomes.push({ database: t.id, ...(databaseName !== undefined ? { databaseName } : {}), status: "vanished", detail: msg });
        continue;
      }
      if (targets.length === 1 && err instanceof TaskError) throw err;
      ctx.log.error(`database ${t.id}: ${msg}`);
      outcomes.push({ database: t.id, ...(databaseName !== undefined ? { databaseName } : {}), status: "failed", error: msg });
    } finally {
      await session?.close();
    }
  }
  const failed = outcomes.filter((o) => o.status === "failed");
  if (failed.length) {
    throw new TaskError(`database ${failed[0].database}: ${failed[0].error}${failed.length > 1 ? ` (and ${failed.length - 1} more failed)` : ""}`, { databases: outcomes });
  }
  return outcomes;
}

/**
 * SQL condition: the relation (pg_class alias `c`, its pg_namespace alias `n`) is one this regime may
 * act on or judge. Not the system catalogs (pg_catalog, information_schema, pg_toast*: vacuumed
 * with their tables), and not temporary relations, of this session or another one (relpersistence
 * 't', in pg_temp_N / pg_toast_temp_N): only their own session can vacuum, analyze or reindex them
 * ("cannot vacuum/reindex temporary tables of other sessions") and they go with it. Every maintenance
 * and health query over the catalog uses this one filter; for an index, pass the index's own pg_class
 * row (an index of a temporary table is temporary too).
 */
export function regimeRelation(c = "c", n = "n"): string {
  return `(${c}.relpersistence <> 't' AND ${n}.nspname NOT IN ('pg_catalog', 'information_schema') AND ${n}.nspname !~ '^pg_(toast|temp_)')`;
}

/** Resolves configured `schema.table` names to existing tables, with a clear error naming the setting. */
export async function resolveTables(s: MaintenanceSession, key: string, names: string[]): Promise<{ schema: string; name: string; oid: number }[]> {
  const out: { schema: string; name: string; oid: number }[] = [];
  for (const raw of names) {
    const { schema, name } = splitName(raw);
    const rows = await s.query<{ oid: number; kind: string }>(
      `SELECT c.oid::int AS oid, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, name],
    );
    if (!rows.length || !["r", "m", "p"].includes(rows[0].kind)) {
      throw new TaskError(`${key}: table "${schema}.${name}" does not exist in database ${s.connection.id}`);
    }
    out.push({ schema, name, oid: rows[0].oid });
  }
  return out;
}

/** The task result: one entry per database, its report under `report`. */
export interface MaintenanceResult<R> {
  databases: { database: string; databaseName?: string; status: DatabaseOutcome<R>["status"]; error?: string; detail?: string; report?: R }[];
}

export function toResult<R>(outcomes: DatabaseOutcome<R>[]): MaintenanceResult<R> {
  return {
    databases: outcomes.map((o) => ({
      database: o.database,
      ...(o.databaseName !== undefined ? { databaseName: o.databaseName } : {}),
      status: o.status,
      ...(o.error ? { error: o.error } : {}),
      ...(o.detail ? { detail: o.detail } : {}),
      ...(o.result !== undefined ? { report: o.result } : {}),
    })),
  };
}
