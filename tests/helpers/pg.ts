/**
 * The machine's real PostgreSQL (127.0.0.1:5432, trust auth). Starts the server when it is down and
 * gives each test file its own throwaway database.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";

export const PG_HOST = process.env.PGHOST_TEST ?? "127.0.0.1";
export const PG_PORT = Number(process.env.PGPORT_TEST ?? 5432);
export const PG_USER = process.env.PGUSER_TEST ?? "postgres";

export function adminUrl(database = "postgres"): string {
  return `postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/${database}`;
}

async function canConnect(): Promise<boolean> {
  const c = new pg.Client({ connectionString: adminUrl() });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

/** Ensures the server is up, starting the Debian cluster if needed. */
export async function ensurePostgres(): Promise<void> {
  if (await canConnect()) return;
  try {
    execFileSync("bash", ["-c", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | sort -V | tail -1) main start"], { stdio: "ignore" });
  } catch {
    /* reported below */
  }
  for (let i = 0; i < 50; i++) {
    if (await canConnect()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`PostgreSQL is not reachable at ${PG_HOST}:${PG_PORT}`);
}

export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = [], database = "postgres"): Promise<pg.QueryResult<T>> {
  const c = new pg.Client({ connectionString: adminUrl(database) });
  await c.connect();
  try {
    return await c.query<T>(sql, params);
  } finally {
    await c.end();
  }
}

/** Creates a fresh database named with the prefix; returns its URL and a drop function. */
export async function createTestDatabase(prefix: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  await ensurePostgres();
  const name = `${prefix}_${randomBytes(4).toString("hex")}`.toLowerCase();
  await adminQuery(`CREATE DATABASE "${name}"`);
  return {
    name,
    url: adminUrl(name),
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
