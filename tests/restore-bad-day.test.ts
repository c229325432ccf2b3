/**
 * What the bad-day restore gives back, and that the restore drill exercises that same restore, against
 * the machine's PostgreSQL and an S3-compatible server: the application role reads its tables after
 * `restore --clean`; database-level settings (search_path, timezone) reach a new database; roles the
 * server lacks refuse the restore before anything changes (unless --no-owner); a backup whose
 * verification failed is passed over by restore and drill; drill and restore run the same commands;
 * drill checks fail on NULL and false; a restore killed mid-way leaves its target unchanged; a scratch
 * database left by a killed drill is dropped by the next.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask } from "../tasks/backup";
import { runTask } from "../tasks/lib/runtime";
import { restoreDrillTask, scratchName, type DrillResult } from "../tasks/restore-drill";
import { verifyBackupTask } from "../tasks/verify-backup";
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT } from "./helpers/pg";
import { restoreBench, restoreBucket, type TestDb } from "./helpers/restore";
import type { TestS3 } from "./helpers/s3";
import { failure } from "./helpers/task-failure";

let s3: TestS3;
let env: Record<string, string | undefined>;
/** The application's login role, and two roles dropped after their backup was taken. */
const suffix = randomBytes(3).toString("hex");
const appRole = `app_${suffix}`;
const goneOwner = `gone_owner_${suffix}`;
const goneReader = `gone_reader_${suffix}`;
const sources: TestDb[] = [];
let shop: TestDb;
const { freshTarget, restore, dropTargets } = restoreBench("rbd", () => env);

async function source(prefix: string): Promise<TestDb> {
  const db = await createTestDatabase(prefix);
  sources.push(db);
  return db;
}

const backup = async (db: TestDb) => (await runTask(backupTask, { ...env, DATABASE_URL: db.url, COMPRESSION: "none" })).databases[0];

/** A query as the application role, in a new session (database-level settings apply). */
async function asApp<T extends pg.QueryResultRow>(database: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ host: PG_HOST, port: PG_PORT, user: appRole, database });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  ({ s3, env } = await restoreBucket());
  await adminQuery(`CREATE ROLE ${appRole} LOGIN`);
  shop = await source("rbdshop");
  await adminQuery(
    `CREATE SCHEMA app;
     CREATE TABLE app.customers (id int PRIMARY KEY, name text);
     INSERT INTO app.customers SELECT g, 'c' || g FROM generate_series(1, 100) g;
     GRANT USAGE ON SCHEMA app TO ${appRole};
     GRANT SELECT, INSERT, UPDATE, DELETE ON app.customers TO ${appRole};
     CREATE TABLE app.app_owned (id int);
     INSERT INTO app.app_owned VALUES (1);
     ALTER TABLE app.app_owned OWNER TO ${appRole};`,
    [],
    shop.name,
  );
  await adminQuery(`ALTER DATABASE ${shop.name} SET search_path = app, public`);
  await adminQuery(`ALTER DATABASE ${shop.name} SET timezone = 'America/Los_Angeles'`);
  await backup(shop);
});

afterAll(async () => {
  await dropTargets();
  for (const db of sources) await db.drop();
  for (const r of [appRole, goneOwner, goneReader]) await adminQuery(`DROP ROLE IF EXISTS ${r}`);
  await s3?.stop();
  vi.restoreAllMocks();
});

describe("the bad-day restore gives back a working database", () => {
  it("after restore --clean over the damaged database the application role reads and owns its tables again", async () => {
    expect(await asApp(shop.name, "SELECT count(*)::int AS n FROM customers")).toEqual([{ n: 100 }]);
    await adminQuery("DELETE FROM app.customers WHERE id > 50", [], shop.name);
    const r = await restore({ database: shop.name, target: shop.url, clean: "true" });
    expect(r.noOwner).toBe(false);
    expect(await asApp(shop.name, "SELECT count(*)::int AS n FROM customers")).toEqual([{ n: 100 }]);
    expect(await asApp(shop.name, "SELECT count(*)::int AS n FROM app_owned")).toEqual([{ n: 1 }]);
    const owner = await adminQuery("SELECT tableowner FROM pg_tables WHERE schemaname = 'app' ORDER BY tablename", [], shop.name);
    expect(owner.rows.map((x) => x.tableowner)).toEqual([appRole, "postgres"]);
  });

  it("a restore into a new database carries the database-level settings: search_path and timezone, so the application's queries work", async () => {
    const target = await freshTarget();
    const r = await restore({ database: shop.name, target: target.url });
    expect(r.databaseSettings).toEqual([`ALTER DATABASE "${target.name}" SET search_path TO 'app', 'public';`, `ALTER DATABASE "${target.name}" SET "TimeZone" TO 'America/Los_Angeles';`]);
    const rows = await asApp<{ search_path: string; tz: string; n: number }>(target.name, "SELECT current_setting('search_path') AS search_path, current_setting('TimeZone') AS tz, (SELECT count(*)::int FROM customers) AS n");
    expect(rows).toEqual([{ search_path: "app, public", tz: "America/Los_Angeles", n: 100 }]);
  });

  it("refuses, naming every role the server lacks, before the target changes; --no-owner restores without owners and grants", async () => {
    await adminQuery(`CREATE ROLE ${goneOwner}; CREATE ROLE ${goneReader}`);
    const db = await source("rbdroles");
    await adminQuery(`CREATE TABLE ledger (id int); ALTER TABLE ledger OWNER TO ${goneOwner}; GRANT SELECT ON ledger TO ${goneReader}`, [], db.name);
    await backup(db);
    await adminQuery(`DROP TABLE ledger`, [], db.name);
    await adminQuery(`DROP ROLE ${goneOwner}; DROP ROLE ${goneReader}`);
    const target = await freshTarget();
    const err = await failure(restore({ database: db.name, target: target.url }));
    expect(err.message).toBe(
      `--target 127.0.0.1:5432/${target.name}: the backup's objects are owned by, granted to or named by (policies, user mappings) role(s) missing on this server: ${goneOwner}, ${goneReader}; create them (CREATE ROLE) or grant them to postgres, or add --no-owner to restore without the backup's owners and grants; nothing was restored`,
    );
    expect((await adminQuery("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'", [], target.name)).rows).toEqual([{ n: 0 }]);
    const r = await restore({ database: db.name, target: target.url, "no-owner": "true" });
    expect(r).toMatchObject({ noOwner: true, tables: 1 });
    expect((await adminQuery("SELECT tableowner FROM pg_tables WHERE tablename = 'ledger'", [], target.name)).rows).toEqual([{ tableowner: "postgres" }]);
  });
});

describe("a backup whose verification failed", () => {
  let db: TestDb;
  let good: string;
  let bad: string;

  beforeAll(async () => {
    db = await source("rbdver");
    await adminQuery("CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 20000) g", [], db.name);
    good = (await backup(db)).key!;
    // The incident, then the backup that captured it; verify-backup marks it failed.
    await adminQuery("DELETE FROM orders WHERE id > 100", [], db.name);
    bad = (await backup(db)).key!;
    await failure(runTask(verifyBackupTask, { ...env, DATABASE_URL: db.url, MAX_SHRINK_PERCENT: "50", MIN_SIZE_MB: "0" }));
  });

  it("is passed over by restore, which says which and why; --key still restores it", async () => {
    const target = await freshTarget();
    const r = await restore({ database: db.name, target: target.url });
    expect(r.key).toBe(good);
    expect(r.skipped).toEqual([{ key: bad, why: expect.stringMatching(/^verify-backup failed \(shrink: \d+ bytes, 9\d\.\d % smaller than the previous backup \(never verified; none passed\), pg\/\S+ of \d+ bytes \(MAX_SHRINK_PERCENT 50\)\), record pg\/(daily|weekly|monthly)\/.*-failed\.json$/) }]);
    expect((await adminQuery("SELECT count(*)::int AS n FROM orders", [], target.name)).rows).toEqual([{ n: 20000 }]);
    const again = await freshTarget();
    expect((await restore({ database: db.name, target: again.url, key: bad })).skipped).toEqual([]);
    expect((await adminQuery("SELECT count(*)::int AS n FROM orders", [], again.name)).rows).toEqual([{ n: 100 }]);
  });

  it("is passed over by the drill, whose checks fail on NULL and false and pass on true", async () => {
    const checks = [
      { name: "sum of nothing", sql: "SELECT sum(id) FROM orders WHERE id < 0" },
      { name: "has big orders", sql: "SELECT exists (SELECT 1 FROM orders WHERE id > 1000000)" },
      { name: "has orders", sql: "SELECT exists (SELECT 1 FROM orders)" },
      { name: "count", sql: "SELECT count(*) FROM orders", minRows: 20000 },
    ];
    const err = await failure(runTask(restoreDrillTask, { ...env, DATABASE_URL: db.url, CHECKS: JSON.stringify(checks) }));
    expect(err.message).toBe(`restore-drill failed for 1 of 1 database(s): ${db.name}: check "sum of nothing": returned NULL, not a number or true (minRows 1), check "has big orders": returned false`);
    const outcome = (err.result as DrillResult).databases[0];
    expect(outcome.key).toBe(good);
    expect(outcome.skipped?.map((k) => k.key)).toEqual([bad]);
    expect(outcome.checks.map((c) => [c.name, c.ok, c.value])).toEqual([
      ["sum of nothing", false, null],
      ["has big orders", false, false],
      ["has orders", true, true],
      ["count", true, 20000],
    ]);
  });
});

describe("a restore killed mid-way", () => {
  it("leaves the target as it was when the restoring process dies and its psql outlives it", async () => {
    const db = await source("rbdkill");
    await adminQuery("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 400000) g; CREATE INDEX big_h ON big (h)", [], db.name);
    await backup(db);
    const target = await freshTarget();
    // One process (no tsx wrapper), killed alone as a timeout or the OOM killer would: its children live on.
    const child = spawn(process.execPath, ["--import", "tsx", "tasks/cli.ts", "restore", "--database", db.name, "--target", target.url], {
      env: { ...process.env, ...env } as NodeJS.ProcessEnv,
      stdio: "ignore",
    });
    // Killed while the index is built: the data is in, the rest of the script already in psql's pipe.
    const indexing = async () =>
      (await adminQuery("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'CREATE INDEX big_h%'", [target.name])).rows[0].n > 0;
    for (let i = 0; i < 800 && !(await indexing()); i++) await new Promise((r) => setTimeout(r, 10));
    expect(await indexing()).toBe(true);
    child.kill("SIGKILL");
    // psql reads the end of its input once pg_restore is gone; wait until its session ended.
    for (let i = 0; i < 400; i++) {
      const r = await adminQuery("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [target.name]);
      if (r.rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await adminQuery("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'", [], target.name)).rows).toEqual([{ n: 0 }]);
  });
});

describe("the drill runs the bad-day restore", () => {
  it("drill and restore run pg_restore and psql with the same options, in one transaction", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pgtools-"));
    const log = path.join(dir, "calls.log");
    const wrappers: Record<string, string> = {};
    for (const tool of ["pg_restore", "psql"]) {
      const real = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
      wrappers[tool] = path.join(dir, tool);
      writeFileSync(wrappers[tool], `#!/bin/sh\necho "${tool} $*" >> ${log}\nexec ${real} "$@"\n`);
      chmodSync(wrappers[tool], 0o755);
    }
    const tools = { PG_RESTORE_PATH: wrappers.pg_restore, PSQL_PATH: wrappers.psql };
    try {
      const target = await freshTarget();
      await restoreBench("rbd", () => ({ ...env, ...tools })).restore({ database: shop.name, target: target.url });
      const restoreCalls = readFileSync(log, "utf8").trim().split("\n");
      rmSync(log);
      await runTask(restoreDrillTask, { ...env, ...tools, DATABASE_URL: shop.url });
      const drillCalls = readFileSync(log, "utf8").trim().split("\n");
      // The table of contents is read first; pg_restore and psql then start together, in either order.
      expect(restoreCalls[0]).toBe("pg_restore --create --schema-only --file -");
      expect(restoreCalls.slice(1).sort()).toEqual(["pg_restore --file -", "psql --no-psqlrc --set ON_ERROR_STOP=1 --file -"]);
      expect(drillCalls.sort()).toEqual([...restoreCalls].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("drops a scratch database a killed drill left, older than the longest drill, and keeps one of a drill in progress", async () => {
    const leftover = scratchName(shop.name, new Date(Date.now() - 2 * 3600_000));
    const inProgress = scratchName(shop.name, new Date(Date.now() - 60_000));
    await adminQuery(`CREATE DATABASE "${leftover}"`);
    await adminQuery(`CREATE DATABASE "${inProgress}"`);
    try {
      const r: DrillResult = await runTask(restoreDrillTask, { ...env, DATABASE_URL: shop.url });
      expect(r.databases[0].leftoversDropped).toEqual([leftover]);
      const left = await adminQuery("SELECT datname FROM pg_database WHERE datname IN ($1, $2)", [leftover, inProgress]);
      expect(left.rows).toEqual([{ datname: inProgress }]);
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS "${leftover}"`);
      await adminQuery(`DROP DATABASE IF EXISTS "${inProgress}"`);
    }
  });
});
