/**
 * Restoring one backup into one database: the single implementation behind the on-demand `restore`
 * (the bad day) and the scheduled `restore-drill`, so whatever breaks the one breaks the other.
 *
 * 1. Roles: the dump's table of contents is read first (`pg_restore --create --schema-only`, which
 *    stops once the definitions are printed) for the roles that own its objects or receive its grants
 *    and for its database-level entries. Roles the target server lacks, or owners the restoring user
 *    cannot act as (PostgreSQL 15 lets `ALTER ... OWNER TO r` only to members of r), refuse the
 *    restore before anything changed (RestorePreconditionsError). `noOwner` opts out: objects are owned by
 *    the restoring user and the dump's grants are not applied (`pg_restore --no-owner
 *    --no-privileges`), for a restore into another server whose roles differ. Statements the
 *    restoring user may not run (database-level settings in a database it does not own, event
 *    triggers, untrusted extensions, subscriptions: privilegeProblems) refuse it then too, all named
 *    in one line, rather than rolling it back at the first one.
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
 *    new database keeps search_path, timezone and the like. They need the target's owner: a
 *    restoring user who is not its owner is refused up front (not restored without them). Backups taken before this change carry
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

/**
 * What the restore would fail on, found before anything changed: roles the target server lacks, owner
 * roles the restoring user cannot act as, and statements of the backup the restoring user may not run
 * (`privileges`, each naming what it needs and what would fix it).
 */
export class RestorePreconditionsError extends TaskError {
  constructor(
    readonly where: string,
    /** Roles that do not exist on the target server. */
    readonly missing: string[],
    /** Owner roles that exist but the restoring user is no member of. */
    readonly notMember: string[],
    readonly user: string,
    /** `<statement> needs <what>: <fix>`, one a statement kind (privilegeProblems). */
    readonly privileges: string[] = [],
  ) {
    super(RestorePreconditionsError.describe(where, missing, notMember, user, privileges));
  }

  /** The one-line refusal; `roleRemedy` follows the roles' part (what the command line offers). */
  static describe(where: string, missing: string[], notMember: string[], user: string, privileges: string[], roleRemedy = ""): string {
    return (
      [
        missing.length ? `${where}: the backup's objects are owned by, granted to or named by (policies, user mappings) role(s) missing on this server: ${missing.join(", ")}` : "",
        notMember.length ? `${where}: ${user} is no member of the owner role(s) ${notMember.join(", ")} and cannot give them their objects` : "",
      ]
        .filter(Boolean)
        .join("; ") +
      (missing.length || notMember.length ? roleRemedy : "") +
      privileges.map((p, i) => (i === 0 && !missing.length && !notMember.length ? `${where}: ${p}` : `; ${p}`)).join("") +
      "; nothing was restored"
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
  /** Settings `ALTER DATABASE ... SET` sets, lower case as pg_settings names them (`search_path`, `timezone`). */
  parameters: string[];
  /** Statements only a superuser may run, as `CREATE EVENT TRIGGER audit_ddl`: event triggers, subscriptions, publications of all tables or of schemas. */
  superuser: string[];
  /** Extensions the dump creates (`CREATE EXTENSION IF NOT EXISTS`), and those it comments on (the extension's owner only). */
  extensions: string[];
  extensionComments: string[];
  /** Schemas the dump creates (CREATE on the database), and the schemas it creates objects in (CREATE on the schema, unless created). */
  schemasCreated: string[];
  schemasUsed: string[];
  /** Publications the dump creates (CREATE on the database). */
  publications: string[];
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
  const parameters = new Set<string>();
  const superuser: string[] = [];
  const extensions = new Set<string>();
  const extensionComments = new Set<string>();
  const schemasCreated = new Set<string>();
  const schemasUsed = new Set<string>();
  const publications = new Set<string>();
  const roles = (list: string) => list.split(", ").filter((r) => r.toUpperCase() !== "PUBLIC").map(unquote);
  for (const line of script.split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(String.raw`^ALTER DATABASE ${IDENT} (SET|RESET) (.*)$`).exec(line))) {
      database.push({ sql: `ALTER DATABASE {{database}} ${m[1]} ${m[2]}`, roles: [] });
      const p = new RegExp(String.raw`^(${IDENT})`).exec(m[2]);
      if (p && m[1] === "SET") parameters.add(unquote(p[1]).toLowerCase());
    } else if ((m = new RegExp(String.raw`^CREATE EVENT TRIGGER (${IDENT}) `).exec(line))) {
      superuser.push(`CREATE EVENT TRIGGER ${unquote(m[1])}`);
    } else if ((m = new RegExp(String.raw`^CREATE SUBSCRIPTION (${IDENT}) `).exec(line))) {
      superuser.push(`CREATE SUBSCRIPTION ${unquote(m[1])}`);
    } else if ((m = new RegExp(String.raw`^CREATE PUBLICATION (${IDENT})( FOR ALL TABLES)?`).exec(line))) {
      publications.add(unquote(m[1]));
      if (m[2]) superuser.push(`CREATE PUBLICATION ${unquote(m[1])} FOR ALL TABLES`);
    } else if ((m = new RegExp(String.raw`^ALTER PUBLICATION (${IDENT}) ADD TABLES IN SCHEMA (${IDENT})`).exec(line))) {
      superuser.push(`ALTER PUBLICATION ${unquote(m[1])} ADD TABLES IN SCHEMA ${unquote(m[2])}`);
    } else if ((m = new RegExp(String.raw`^CREATE EXTENSION IF NOT EXISTS (${IDENT})`).exec(line))) {
      extensions.add(unquote(m[1]));
    } else if ((m = new RegExp(String.raw`^COMMENT ON EXTENSION (${IDENT}) IS `).exec(line))) {
      extensionComments.add(unquote(m[1]));
    } else if ((m = new RegExp(String.raw`^CREATE SCHEMA (${IDENT});$`).exec(line))) {
      schemasCreated.add(unquote(m[1]));
    } else if ((m = new RegExp(String.raw`^CREATE (?:UNLOGGED |FOREIGN )?(?:TABLE|SEQUENCE|VIEW|MATERIALIZED VIEW|FUNCTION|PROCEDURE|AGGREGATE|TYPE|DOMAIN|COLLATION|CONVERSION|OPERATOR|OPERATOR CLASS|OPERATOR FAMILY|TEXT SEARCH (?:CONFIGURATION|DICTIONARY|PARSER|TEMPLATE)) (${IDENT})\.`).exec(line))) {
      schemasUsed.add(unquote(m[1]));
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
  const sorted = (x: Set<string>) => [...x].sort();
  return {
    owners: sorted(owners),
    grantees: sorted(grantees),
    required: sorted(required),
    database,
    parameters: sorted(parameters),
    superuser,
    extensions: sorted(extensions),
    extensionComments: sorted(extensionComments),
    schemasCreated: sorted(schemasCreated),
    schemasUsed: sorted(schemasUsed),
    publications: sorted(publications),
  };
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

/** What the restoring user is, in the target database, for privilegeProblems. */
interface RestoringUser {
  me: string;
  superuser: boolean;
  createRole: boolean;
  /** Member of the target database's owner (a superuser is a member of every role). */
  owner: boolean;
  databaseOwner: string;
  createOnDatabase: boolean;
  /** Server version (server_version_num): GRANT SET ON PARAMETER came with 15. */
  version: number;
}

/**
 * Refuses, naming them all at once, roles the target lacks, owners the restoring user cannot act as,
 * and statements of the backup the restoring user may not run (privilegeProblems): a restore that
 * would fail part-way fails before it read a byte into the target.
 */
async function checkUpFront(o: RestoreInto, defs: DumpDefinitions, where: string, databaseSettings: DumpDefinitions["database"]): Promise<void> {
  const needed = [...new Set([...defs.required, ...(o.noOwner ? [] : [...defs.owners, ...defs.grantees, ...defs.database.flatMap((d) => d.roles)])])];
  const client = await connect(o.target);
  try {
    const r = await client.query<{ role: string; exists: boolean; member: boolean | null; me: string }>(
      `SELECT n AS role, r.oid IS NOT NULL AS exists, CASE WHEN r.oid IS NULL THEN NULL ELSE pg_has_role(current_user, r.oid, 'MEMBER') END AS member, current_user AS me
         FROM unnest($1::text[]) AS n LEFT JOIN pg_roles r ON r.rolname = n ORDER BY n`,
      [needed],
    );
    const missing = r.rows.filter((x) => !x.exists).map((x) => x.role);
    const notMember = r.rows.filter((x) => x.exists && !x.member && defs.owners.includes(x.role)).map((x) => x.role);
    const privileges = await privilegeProblems(client, o, defs, databaseSettings);
    if (missing.length || notMember.length || privileges.problems.length) throw new RestorePreconditionsError(where, missing, notMember, privileges.user, privileges.problems);
  } finally {
    await client.end().catch(() => undefined);
  }
}

type Client = Awaited<ReturnType<typeof connect>>;

/**
 * The backup's statements the restoring user may not run in the target, one line a kind, each naming
 * the statement, what it needs and what would fix it (PostgreSQL 15 reference pages of ALTER DATABASE,
 * ALTER ROLE, CREATE EVENT TRIGGER, CREATE EXTENSION, CREATE PUBLICATION, CREATE SUBSCRIPTION, COMMENT,
 * CREATE SCHEMA and GRANT): database-level settings and grants need the database's owner (a restore
 * role that does not own the target is refused, not the settings dropped: an application whose
 * search_path setting went missing fails on its first unqualified table name, long after the restore
 * said it succeeded); settings of context `superuser` a superuser or SET on the parameter; per-role
 * settings a superuser, CREATEROLE or the role itself; event triggers, subscriptions and publications
 * of all tables or of schemas a superuser; an extension a superuser unless it is trusted (then CREATE
 * on the database), and an extension the server lacks its package; a comment on an existing extension
 * its owner; a schema and a publication CREATE on the database; objects in a schema the dump does not
 * create, CREATE on that schema. Not checked: with `clean`, dropping objects another role owns.
 */
async function privilegeProblems(client: Client, o: RestoreInto, defs: DumpDefinitions, settings: DumpDefinitions["database"]): Promise<{ user: string; problems: string[] }> {
  const u = (
    await client.query<RestoringUser>(
      `SELECT current_user AS me, r.rolsuper AS superuser, r.rolcreaterole AS "createRole", pg_has_role(current_user, d.datdba, 'MEMBER') AS owner,
              pg_get_userbyid(d.datdba) AS "databaseOwner", has_database_privilege(current_database(), 'CREATE') AS "createOnDatabase",
              current_setting('server_version_num')::int AS version
         FROM pg_database d, pg_roles r WHERE d.datname = current_database() AND r.rolname = current_user`,
    )
  ).rows[0];
  if (u.superuser) return { user: u.me, problems: [] };
  const db = quoteIdent(o.target.database);
  const problems: string[] = [];
  const list = (xs: string[]) => xs.join(", ");

  const dbLevel = settings.filter((d) => /^(ALTER DATABASE|GRANT|REVOKE) /.test(d.sql));
  if (dbLevel.length && !u.owner) {
    const what = [...new Set(dbLevel.map((d) => (d.sql.startsWith("ALTER DATABASE") ? "ALTER DATABASE ... SET" : "GRANT ... ON DATABASE")))].join(" and ");
    problems.push(
      `the backup's database-level ${what} (${list(defs.parameters) || "its grants"}) needs the owner of database ${o.target.database}, ${u.databaseOwner}, and ${u.me} is no member of it: run the restore as ${u.databaseOwner}, or first ALTER DATABASE ${db} OWNER TO ${quoteIdent(u.me)} (or GRANT ${quoteIdent(u.databaseOwner)} TO ${quoteIdent(u.me)})`,
    );
  }
  if (settings.some((d) => d.sql.startsWith("ALTER DATABASE")) && defs.parameters.length) {
    const rows = (
      await client.query<{ name: string }>(
        `SELECT name FROM pg_settings WHERE lower(name) = ANY($1::text[]) AND context = 'superuser'${u.version >= 150000 ? " AND NOT has_parameter_privilege(name, 'SET')" : ""} ORDER BY name`,
        [defs.parameters],
      )
    ).rows.map((x) => x.name);
    if (rows.length)
      problems.push(`ALTER DATABASE ... SET ${list(rows)}: only a superuser${u.version >= 150000 ? " or a role granted SET on it" : ""} may set ${rows.length > 1 ? "these" : "it"}${u.version >= 150000 ? `: GRANT SET ON PARAMETER ${list(rows)} TO ${quoteIdent(u.me)}` : ""}, or restore as a superuser`);
  }
  const roleSettings = settings.filter((d) => d.sql.startsWith("ALTER ROLE ") && d.roles.some((r) => r !== u.me));
  if (roleSettings.length && !u.createRole)
    problems.push(`ALTER ROLE ... IN DATABASE ... SET for ${list([...new Set(roleSettings.flatMap((d) => d.roles))])} needs a superuser or a role with CREATEROLE: ALTER ROLE ${quoteIdent(u.me)} CREATEROLE, or restore as a superuser`);
  if (defs.superuser.length) problems.push(`${list(defs.superuser)} ${defs.superuser.length > 1 ? "need" : "needs"} a superuser: restore as one`);

  if (defs.extensions.length || defs.extensionComments.length) {
    const names = [...new Set([...defs.extensions, ...defs.extensionComments])];
    const ext = (
      await client.query<{ name: string; exists: boolean; mine: boolean | null; owner: string | null; available: boolean; trusted: boolean }>(
        `SELECT n AS name, e.oid IS NOT NULL AS exists, CASE WHEN e.oid IS NULL THEN NULL ELSE pg_has_role(current_user, e.extowner, 'MEMBER') END AS mine,
                pg_get_userbyid(e.extowner) AS owner, a.name IS NOT NULL AS available, coalesce(v.trusted, false) AS trusted
           FROM unnest($1::text[]) AS n LEFT JOIN pg_extension e ON e.extname = n LEFT JOIN pg_available_extensions a ON a.name = n
           LEFT JOIN pg_available_extension_versions v ON v.name = n AND v.version = a.default_version ORDER BY n`,
        [names],
      )
    ).rows;
    const created = ext.filter((x) => defs.extensions.includes(x.name) && !x.exists);
    const absent = created.filter((x) => !x.available).map((x) => x.name);
    if (absent.length) problems.push(`CREATE EXTENSION ${list(absent)}: not available on this server: install ${absent.length > 1 ? "their packages" : "its package"} (pg_available_extensions)`);
    const untrusted = created.filter((x) => x.available && !x.trusted).map((x) => x.name);
    if (untrusted.length) problems.push(`CREATE EXTENSION ${list(untrusted)} needs a superuser (not a trusted extension): create ${untrusted.length > 1 ? "them" : "it"} in ${o.target.database} as one first, or restore as one`);
    const trusted = created.filter((x) => x.available && x.trusted).map((x) => x.name);
    if (trusted.length && !u.createOnDatabase) problems.push(`CREATE EXTENSION ${list(trusted)} needs CREATE on database ${o.target.database}: GRANT CREATE ON DATABASE ${db} TO ${quoteIdent(u.me)}`);
    const foreign = ext.filter((x) => defs.extensionComments.includes(x.name) && x.exists && !x.mine);
    if (foreign.length) problems.push(`COMMENT ON EXTENSION ${list(foreign.map((x) => x.name))} needs the extension's owner (${list([...new Set(foreign.map((x) => x.owner!))])}) and ${u.me} is no member of it: restore as ${foreign[0].owner}`);
  }
  if (defs.schemasCreated.length && !u.createOnDatabase) problems.push(`CREATE SCHEMA ${list(defs.schemasCreated)} needs CREATE on database ${o.target.database}: GRANT CREATE ON DATABASE ${db} TO ${quoteIdent(u.me)}`);
  if (defs.publications.length && !u.createOnDatabase) problems.push(`CREATE PUBLICATION ${list(defs.publications)} needs CREATE on database ${o.target.database}: GRANT CREATE ON DATABASE ${db} TO ${quoteIdent(u.me)}`);
  const existing = defs.schemasUsed.filter((s) => !defs.schemasCreated.includes(s));
  if (existing.length) {
    const denied = (
      await client.query<{ name: string }>(
        `SELECT n AS name FROM unnest($1::text[]) AS n JOIN pg_namespace s ON s.nspname = n WHERE NOT has_schema_privilege(s.oid, 'CREATE') ORDER BY n`,
        [existing],
      )
    ).rows.map((x) => x.name);
    if (denied.length) problems.push(`objects in schema ${list(denied)} need CREATE on it: GRANT CREATE ON SCHEMA ${list(denied.map(quoteIdent))} TO ${quoteIdent(u.me)}`);
  }
  return { user: u.me, problems };
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
 * one line ending in what became of the target; RestorePreconditionsError before anything was read into it.
 */
export async function restoreInto(o: RestoreInto): Promise<RestoredBackup> {
  const m = o.manifest;
  const where = `${o.target.host}:${o.target.port}/${o.target.database}`;
  const started = Date.now();
  const defs = await definitionsOf(o);
  const applied = defs.database.filter((d) => !o.noOwner || (d.roles.length === 0 && !/^(GRANT|REVOKE) /.test(d.sql)));
  await checkUpFront(o, defs, where, applied);
  const databaseSettings = applied.map((d) => d.sql.split("{{database}}").join(quoteIdent(o.target.database)));

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
