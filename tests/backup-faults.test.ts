import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask, type BackupResult } from "../tasks/backup";
import { BACKUP_APPLICATION_NAME } from "../tasks/lib/db";
import { runTask } from "../tasks/lib/runtime";
import { adminQuery, createTestDatabase } from "./helpers/pg";
import { startCuttingProxy, startS3, type TestS3 } from "./helpers/s3";
import { failure } from "./helpers/task-failure";

let s3: TestS3;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let env: Record<string, string | undefined>;
let before: Map<string, string>;

/** After a failed run: no new object of any kind, and every earlier object unchanged. */
async function expectUntouched(): Promise<void> {
  expect(await s3.snapshot()).toEqual(before);
}

beforeAll(async () => {
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  s3 = await startS3();
  db = await createTestDatabase("bkfault");
  // About 12 MB of dump: hex strings compress only about 2:1, so the upload needs several 5 MB parts.
  await adminQuery(
    `CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz, payload text);
     INSERT INTO events SELECT g, now() - g * interval '1 second', md5(g::text) || md5((g * 31)::text) || md5(random()::text) || md5(random()::text)
     FROM generate_series(1, 200000) g;`,
    [],
    db.name,
  );
  env = { PATH: process.env.PATH, ...s3.env, DATABASE_URL: db.url, PART_SIZE_MB: "5" };
  const good = await runTask(backupTask, env);
  expect(good.databases[0].ok).toBe(true);
  expect(good.databases[0].sizeBytes).toBeGreaterThan(11 * 1024 * 1024);
  before = await s3.snapshot();
  expect(before.size).toBe(2);
});

afterAll(async () => {
  await db?.drop();
  await s3?.stop();
  vi.restoreAllMocks();
});

describe("backup failures leave earlier backups intact and write no manifest", () => {
  it("fails when the S3 connection dies mid-upload", async () => {
    const proxy = await startCuttingProxy(s3.port, 7 * 1024 * 1024);
    try {
      const err = await failure(runTask(backupTask, { ...env, AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${proxy.port}` }));
      await proxy.cut;
      expect(err.message).toMatch(new RegExp(`^backup failed for 1 of 1 database\\(s\\): ${db.name}: upload to s3://backups/(?:daily|weekly|monthly)/${db.name}/\\d{8}T\\d{9}Z\\.dump failed: `));
    } finally {
      await proxy.close();
    }
    await expectUntouched();
  });

  it("fails when pg_dump's connection is killed mid-dump", async () => {
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
      const run = failure(runTask(backupTask, env));
      let pid: number | undefined;
      for (let i = 0; i < 200 && !pid; i++) {
        const r = await adminQuery<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND wait_event_type = 'Lock'",
          [db.name, BACKUP_APPLICATION_NAME],
        );
        pid = r.rows[0]?.pid;
        if (!pid) await new Promise((r) => setTimeout(r, 50));
      }
      expect(pid).toBeGreaterThan(0);
      await adminQuery("SELECT pg_terminate_backend($1)", [pid]);
      const err = await run;
      expect(err.message).toMatch(new RegExp(`^backup failed for 1 of 1 database\\(s\\): ${db.name}: pg_dump exited with 1: pg_dump: error: .*(terminating connection due to administrator command|server closed the connection unexpectedly)`));
    } finally {
      await locker.query("ROLLBACK").catch(() => undefined);
      await locker.end();
    }
    await expectUntouched();
  });

  it("refuses a pg_dump older than the server before dumping", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "old-pg-"));
    const fake = path.join(dir, "pg_dump");
    writeFileSync(fake, '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 14.9"; exit 0; fi\necho "must not be run to dump" >&2\nexit 3\n');
    chmodSync(fake, 0o755);
    try {
      const server = (await adminQuery<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v.split(" ")[0];
      const major = server.split(".")[0];
      const err = await failure(runTask(backupTask, { ...env, PG_DUMP_PATH: fake }));
      expect(err.message).toBe(
        `backup failed for 1 of 1 database(s): ${db.name}: database ${db.name}: pg_dump 14.9 is older than the server (PostgreSQL ${server}); install the PostgreSQL ${major} client and point PG_BIN_DIR or PG_DUMP_PATH at it`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await expectUntouched();
  });

  it("backs up the other databases when one fails, and fails the run naming the failed one", async () => {
    const small = await createTestDatabase("bkok");
    try {
      await adminQuery("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)", [], small.name);
      const databases = JSON.stringify([
        { id: "gone", url: small.url.replace(small.name, "no_such_database_here") },
        { id: "small", url: small.url },
      ]);
      const err = await failure(runTask(backupTask, { ...env, DATABASE_URL: undefined, DATABASES: databases }));
      expect(err.message).toMatch(/^backup failed for 1 of 2 database\(s\): gone: database gone: cannot connect to 127\.0\.0\.1:5432\/no_such_database_here: database "no_such_database_here" does not exist$/);
      const result = err.result as BackupResult;
      expect(result.databases.map((d) => [d.database, d.ok])).toEqual([
        ["gone", false],
        ["small", true],
      ]);
      const after = await s3.snapshot();
      expect([...after.keys()].filter((k) => !before.has(k)).sort()).toEqual([result.databases[1].key, result.databases[1].manifestKey].sort());
      for (const [k, v] of before) expect(after.get(k)).toBe(v);
    } finally {
      await small.drop();
    }
  });
});
