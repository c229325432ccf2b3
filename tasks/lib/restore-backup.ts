/**
 * Restoring one backup into one database: the single implementation behind the on-demand `restore`
 * (the bad day) and the scheduled `restore-drill`, so whatever breaks the one breaks the other.
 *
 * 1. Roles: the dump's table of contents is read first (`pg_restore --create --schema-only`, which
 *    stops once the definitions are printed) for the roles that own its objects or receive its grants
 *    and for its database-level entries. Roles the target server lacks, or owners the restoring user
 *    cannot act as (PostgreSQL 15 lets `ALTER ... OWNER TO r` only to members of r), refuse the
 *    restore before anything changed (MissingRolesError). `noOwner` opts out: objects are owned by
 *    the restoring user and the dump's grants are not applied (`pg_restore --no-owner
 *    --no-privileges`), for a restore into another server whose roles differ.
 * 2. All or nothing: the dump streams from S3 through a SHA-256 hash into `pg_restore -f -` (the SQL
 *    script) and on into psql inside one transaction: `BEGIN` is written first and `COMMIT` only once
 *    the object was read whole, its SHA-256 and size equal the manifest's and pg_restore exited 0;
 *    otherwise psql is killed and the server rolls the transaction back. Not `psql --single-transaction`:
 *    it sends COMMIT at the end of its input, so a restore process killed mid-way (timeout, out of
 *    memory) whose psql outlived it would commit a half-restored database. One
 *    transaction locks every restored table, index and sequence until the commit: a dump with more
 *    objects than the server's lock table holds (max_locks_per_transaction x (max_connections +
 *    max_prepared_transactions)) fails with "out of shared memory", in the drill as on the bad day.
 * 3. Database-level entries: pg_dump's custom format always carries the DATABASE PROPERTIES entry
 *    (`ALTER DATABASE <name> SET ...`, `ALTER ROLE <r> IN DATABASE <name> SET ...`) and the
 *    database's grants, which pg_restore applies only with --create (under the original name). They
 *    are applied here to the target under its own name, in the same transaction, so a restore into a
 *    new database keeps search_path, timezone and the like. Backups taken before this change carry
 *    them too: nothing in the backup or its manifest changed.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { connect, libpqEnv, type Connection } from "./db";
import { quoteIdent } from "./pgmaint";
import { startTool, toolPath, type Tool } from "./pgtools";
import { streamInto } from "./restore-stream";
import { oneLine, TaskError } from "./runtime";
import { openObject, type Manifest } from "./s3";

export interface RestoreInto {
  s3: S3Client;
  bucket: string;
  manifest: Manifest;
  target: Connection;
  /** `--clean --if-exists`: drop, then recreate, each object the dump holds. */
  clean: boolean;
  /** Restore without the dump's owners and grants (`--no-owner --no-privileges`). */
  noOwner: boolean;
  /** PATH, PG_BIN_DIR, PG_RESTORE_PATH, PSQL_PATH. */
  env: Record<string, string | undefined>;
  signal: AbortSignal;
}

export interface RestoredBackup {
  /** Tables the dump created in the target, and rows it copied into them. */
  tables: number;
  rows: number;
  /** Database-level statements applied to the target (`ALTER DATABASE "<target>" SET search_path ...`). */
  databaseSettings: string[];
  /** From the first byte read to the commit, roles check included. */
  seconds: number;
}

/** The pg_restore options of every restore: the SQL script on stdout, owners and grants unless `noOwner`. */
export function pgRestoreArgs(o: Pick<RestoreInto, "clean" | "noOwner">): string[] {
  return ["--file", "-", ...(o.noOwner ? ["--no-owner", "--no-privileges"] : []), ...(o.clean ? ["--clean", "--if-exists"] : [])];
}

/** The psql options of every restore: stop at the first error; the transaction is the script's own (BEGIN ... COMMIT). */
export const PSQL_ARGS = ["--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--file", "-"];

/** The target server lacks roles the backup's objects are owned by or granted to. */
export class MissingRolesError extends TaskError {
  constructor(
    readonly where: string,
    /** Roles that do not exist on the target server. */
    readonly missing: string[],
    /** Owner roles that exist but the restoring user is no member of. */
    readonly notMember: string[],
    readonly user: string,
  ) {
    super(
      [
        missing.length ? `${where}: the backup's objects are owned by, granted to or named by (policies, user mappings) role(s) missing on this server: ${missing.join(", ")}` : "",
        notMember.length ? `${where}: ${user} is no member of the owner role(s) ${notMember.join(", ")} and cannot give them their objects` : "",
      ]
        .filter(Boolean)
        .join("; ") + "; nothing was restored",
    );
  }
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const ROLE_LIST = String.raw`(${IDENT}(?:, ${IDENT})*)`;

/** `"a""b"` -> `a"b`; `app` -> `app` (pg_dump quotes every name that needs it). */
function unquote(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident;
}


export interface DumpDefinitions {
  /** Roles owning the dump's objects (`ALTER ... OWNER TO r`). */
  owners: string[];
  /** Roles its grants name (`GRANT ... TO r`, `REVOKE ... FROM r`, `ALTER DEFAULT PRIVILEGES FOR ROLE r`), PUBLIC left out. */
  grantees: string[];
  /** Roles objects name whatever `noOwner` says (`CREATE POLICY ... TO r`, `CREATE USER MAPPING FOR r`): pg_restore keeps these statements under --no-owner and --no-privileges. */
  required: string[];
  /** Database-level statements, each with the dumped database's name as `{{database}}`, `roles` the roles they name. */
  database: { sql: string; roles: string[] }[];
}

/**
 * Reads the lines of `pg_restore --create --schema-only` (pg_dump writes each of these statements on
 * one line): owners, grantees and the database-level entries, excluding the database's own CREATE and
 * owner (the target exists and keeps its owner).
 */
export function readDefinitions(script: string): DumpDefinitions {
  const owners = new Set<string>();
  const grantees = new Set<string>();
  const required = new Set<string>();
  const database: DumpDefinitions["database"] = [];
  const roles = (list: string) => list.split(", ").filter((r) => r.toUpperCase() !== "PUBLIC").map(unquote);
  for (const line of script.split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(String.raw`^ALTER DATABASE ${IDENT} (SET|RESET) (.*)$`).exec(line))) {
      database.push({ sql: `ALTER DATABASE {{database}} ${m[1]} ${m[2]}`, roles: [] });
    } else if ((m = new RegExp(String.raw`^ALTER ROLE (${IDENT}) IN DATABASE ${IDENT} (SET|RESET) (.*)$`).exec(line))) {
      database.push({ sql: `ALTER ROLE ${m[1]} IN DATABASE {{database}} ${m[2]} ${m[3]}`, roles: [unquote(m[1])] });
    } else if ((m = new RegExp(String.raw`^(GRANT|REVOKE) (.*) ON DATABASE ${IDENT} (TO|FROM) ${ROLE_LIST}(.*)$`).exec(line))) {
      const named = roles(m[4]);
      named.forEach((r) => grantees.add(r));
      database.push({ sql: `${m[1]} ${m[2]} ON DATABASE {{database}} ${m[3]} ${m[4]}${m[5]}`, roles: named });
    } else if ((m = new RegExp(String.raw`^ALTER (?!DATABASE ).* OWNER TO (${IDENT});$`).exec(line))) {
      owners.add(unquote(m[1]));
    } else if ((m = new RegExp(String.raw`^(?:GRANT .* TO|REVOKE .* FROM) ${ROLE_LIST}(?: WITH GRANT OPTION| GRANTED BY ${IDENT})*;$`).exec(line))) {
      roles(m[1]).forEach((r) => grantees.add(r));
    } else if ((m = new RegExp(String.raw`^ALTER DEFAULT PRIVILEGES FOR ROLE (${IDENT})(?: IN SCHEMA ${IDENT})? (?:GRANT .* TO|REVOKE .* FROM) ${ROLE_LIST};$`).exec(line))) {
      grantees.add(unquote(m[1]));
      roles(m[2]).forEach((r) => grantees.add(r));
    } else if ((m = new RegExp(String.raw`^ALTER DEFAULT PRIVILEGES FOR ROLE (${IDENT})`).exec(line))) {
      grantees.add(unquote(m[1]));
    } else if ((m = new RegExp(String.raw`^CREATE POLICY ${IDENT} ON \S+(?: AS \w+)?(?: FOR \w+)? TO ${ROLE_LIST}(?: USING| WITH CHECK|;)`).exec(line))) {
      roles(m[1]).forEach((r) => required.add(r));
    } else if ((m = new RegExp(String.raw`^CREATE USER MAPPING FOR (${IDENT}) SERVER `).exec(line))) {
      roles(m[1]).forEach((r) => required.add(r));
    }
  }
  return { owners: [...owners].sort(), grantees: [...grantees].sort(), required: [...required].sort(), database };
}

/** Reads the dump's definitions from the start of the object: pg_restore stops after the table of contents. */
async function definitionsOf(o: RestoreInto): Promise<DumpDefinitions> {
  const { body } = await openObject(o.s3, o.bucket, o.manifest.key);
  const toc = startTool(toolPath("pg_restore", o.env), ["--create", "--schema-only", "--file", "-"], { PATH: o.env.PATH ?? process.env.PATH }, "pipe");
  let text = "";
  toc.child.stdout!.setEncoding("utf8").on("data", (d: string) => (text += d));
  const stdin = toc.child.stdin!;
  stdin.on("error", () => undefined);
  body.on("error", () => undefined);
  body.pipe(stdin);
  const code = await toc.exited;
  body.unpipe(stdin);
  body.destroy();
  if (code !== 0) throw new TaskError(`${o.manifest.key}: pg_restore could not read its table of contents (exit ${code}): ${toc.stderrTail() || "no message"}; nothing was restored`);
  return readDefinitions(text);
}

/** Refuses, naming them all, roles the target lacks and owners the restoring user cannot act as. */
async function checkRoles(o: RestoreInto, defs: DumpDefinitions, where: string): Promise<void> {
  const needed = [...new Set([...defs.required, ...(o.noOwner ? [] : [...defs.owners, ...defs.grantees, ...defs.database.flatMap((d) => d.roles)])])];
  if (needed.length === 0) return;
  const client = await connect(o.target);
  try {
    const r = await client.query<{ role: string; exists: boolean; member: boolean | null; me: string }>(
      `SELECT n AS role, r.oid IS NOT NULL AS exists, CASE WHEN r.oid IS NULL THEN NULL ELSE pg_has_role(current_user, r.oid, 'MEMBER') END AS member, current_user AS me
         FROM unnest($1::text[]) AS n LEFT JOIN pg_roles r ON r.rolname = n ORDER BY n`,
      [needed],
    );
    const missing = r.rows.filter((x) => !x.exists).map((x) => x.role);
    const notMember = r.rows.filter((x) => x.exists && !x.member && defs.owners.includes(x.role)).map((x) => x.role);
    if (missing.length || notMember.length) throw new MissingRolesError(where, missing, notMember, r.rows[0]?.me ?? o.target.user);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Counts psql's command tags as they pass: one `CREATE TABLE` per table, `COPY <n>` per table's rows. */
function countTags(psql: Tool): { tables: number; rows: number } {
  const counts = { tables: 0, rows: 0 };
  let rest = "";
  psql.child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    const lines = (rest + d).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      if (line === "CREATE TABLE") counts.tables++;
      const copy = /^COPY (\d+)$/.exec(line);
      if (copy) counts.rows += Number(copy[1]);
    }
  });
  return counts;
}

/**
 * Restores `manifest`'s dump into `target` (module comment), all or nothing. Errors are TaskErrors of
 * one line ending in what became of the target; MissingRolesError before anything was read into it.
 */
export async function restoreInto(o: RestoreInto): Promise<RestoredBackup> {
  const m = o.manifest;
  const where = `${o.target.host}:${o.target.port}/${o.target.database}`;
  const started = Date.now();
  const defs = await definitionsOf(o);
  await checkRoles(o, defs, where);
  const databaseSettings = defs.database
    .filter((d) => !o.noOwner || (d.roles.length === 0 && !/^(GRANT|REVOKE) /.test(d.sql)))
    .map((d) => d.sql.split("{{database}}").join(quoteIdent(o.target.database)));

  const { body, length } = await openObject(o.s3, o.bucket, m.key);
  if (length !== m.sizeBytes) {
    body.destroy();
    throw new TaskError(`${m.key}: object holds ${length} bytes, manifest says ${m.sizeBytes}; nothing was restored`);
  }
  const script = startTool(toolPath("pg_restore", o.env), pgRestoreArgs(o), { PATH: o.env.PATH ?? process.env.PATH }, "pipe");
  const psql = startTool(toolPath("psql", o.env), PSQL_ARGS, libpqEnv(o.target), "pipe");
  const counts = countTags(psql);
  const psqlIn = psql.child.stdin!;
  let psqlGone = false;
  psqlIn.on("error", () => (psqlGone = true));
  // One transaction, the database-level entries first; psql's input ending without COMMIT (this
  // process killed) ends the session and the server rolls it back.
  psqlIn.write(["BEGIN;", ...databaseSettings].join("\n") + "\n");
  // The script flows on as pg_restore writes it; only its end is held back (end: false).
  script.child.stdout!.pipe(psqlIn, { end: false });
  // psql stopped early (an SQL error: ON_ERROR_STOP): nothing reads the script any more.
  void psql.exited.then(() => {
    psqlGone = true;
    if (script.child.exitCode === null) script.child.kill("SIGKILL");
  });
  const onAbort = () => {
    psql.child.kill("SIGKILL");
    script.child.kill("SIGKILL");
  };
  o.signal.addEventListener("abort", onAbort, { once: true });

  try {
    const streamed = await streamInto(body, script, o.signal);
    await new Promise<void>((resolve) => (script.child.stdout!.readableEnded ? resolve() : script.child.stdout!.once("end", resolve)));
    const whole = streamed.sha256 === m.sha256 && streamed.bytes === m.sizeBytes;
    if (!whole || streamed.exitCode !== 0 || psqlGone) {
      psql.child.kill("SIGKILL");
      const code = await psql.exited;
      const why = !whole
        ? `sha256 of ${m.key} is ${streamed.sha256} over ${streamed.bytes} bytes, manifest says ${m.sha256} over ${m.sizeBytes}`
        : psqlGone && streamed.exitCode !== 0 && code !== 137
          ? `psql exited with ${code}: ${psql.stderrTail() || "no message"}`
          : streamed.exitCode !== 0
            ? `pg_restore exited with ${streamed.exitCode}: ${script.stderrTail() || "no message"}`
            : `psql exited with ${code}: ${psql.stderrTail() || "no message"}`;
      throw new TaskError(`${why}; nothing was restored: the transaction was rolled back and ${where} is as it was`);
    }
    // Verified: let psql read the end of the script and commit.
    psqlIn.end("COMMIT;\n");
    const code = await psql.exited;
    if (code !== 0) throw new TaskError(`psql exited with ${code}: ${psql.stderrTail() || "no message"}; the transaction was rolled back and ${where} is as it was`);
  } catch (err) {
    onAbort();
    if (err instanceof TaskError) throw err;
    // The object stopped arriving (a cut connection, a stop signal): psql never saw the script's end.
    await psql.exited;
    throw new TaskError(`${m.key}: reading the backup stopped (${oneLine(err)}); nothing was restored: the transaction was rolled back and ${where} is as it was`);
  } finally {
    o.signal.removeEventListener("abort", onAbort);
  }
  return { tables: counts.tables, rows: counts.rows, databaseSettings, seconds: (Date.now() - started) / 1000 };
}
