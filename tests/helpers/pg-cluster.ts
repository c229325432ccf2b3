/**
 * A private PostgreSQL cluster for tests that need server settings the shared test server does not
 * have (it runs with autovacuum off): the machine's newest installed version (Debian layout under
 * /usr/lib/postgresql), initdb into a temporary directory, started on a free port with the given
 * `-c` settings, stopped and removed by `stop`.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./free-port";

/** bin directory of the newest PostgreSQL under /usr/lib/postgresql (Debian layout). */
function pgBin(): string {
  const versions = readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error("no PostgreSQL server under /usr/lib/postgresql: apt-get install -y postgresql");
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}


export interface PrivateCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** One statement (or several, without parameters) on a fresh connection to `database`. */
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /** URL of another database of the cluster. */
  urlOf(database: string): string;
  stop(): void;
}

/** Starts a cluster with `settings` (name -> value, as `-c name=value`). */
export async function startPrivateCluster(prefix: string, settings: Record<string, string>): Promise<PrivateCluster> {
  const bin = pgBin();
  // The server refuses to run as root: as root, run its programs as the postgres user.
  const asServerUser = (program: string, args: string[]) =>
    process.getuid?.() === 0 ? execFileSync("runuser", ["-u", "postgres", "--", join(bin, program), ...args], { stdio: "pipe" }) : execFileSync(join(bin, program), args, { stdio: "pipe" });
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString().trim()), Number(execFileSync("id", ["-g", "postgres"]).toString().trim()));
  const data = join(dir, "data");
  let started = false;
  const stop = () => {
    if (started) {
      try {
        asServerUser("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        /* already stopped */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    asServerUser("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
    const port = await freePort();
    const options = [`-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(" ");
    asServerUser("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "server.log"), "-w", "start"]);
    started = true;
    const urlOf = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
    return {
      url: urlOf("postgres"),
      urlOf,
      async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = [], database = "postgres") {
        const c = new pg.Client({ connectionString: urlOf(database) });
        await c.connect();
        try {
          return (await c.query<T>(sql, params)).rows;
        } finally {
          await c.end();
        }
      },
      stop,
    };
  } catch (err) {
    stop();
    throw err;
  }
}
