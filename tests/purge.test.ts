import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTask } from "../tasks/lib/runtime";
import { purgeTask } from "../tasks/purge";
import { adminQuery, createTestDatabase } from "./helpers/pg";

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

describe("purge", () => {
  let db: Db;
  beforeAll(async () => {
    db = await createTestDatabase("mr_purge");
  });
  afterAll(async () => db?.drop());

  const env = (rules: unknown) => ({ DATABASE_URL: db.url, PAUSE_MS: "0", LOG_LEVEL: "ERROR", PURGE_RULES: JSON.stringify(rules) });
  const ids = async (sql: string) => (await adminQuery<{ id: number }>(sql, [], db.name)).rows.map((r) => Number(r.id));

  it("deletes only rows older than the rule, in batches", async () => {
    await adminQuery(
      `CREATE TABLE audit_logs (id int PRIMARY KEY, created_at timestamptz NOT NULL, action text);
       CREATE INDEX ON audit_logs (created_at);
       INSERT INTO audit_logs SELECT g, now() - interval '120 days' - g * interval '1 hour', 'old' FROM generate_series(1, 10) g;
       INSERT INTO audit_logs VALUES (11, now() - interval '90 days' - interval '1 hour', 'just outside'),
                                     (12, now() - interval '90 days' + interval '1 hour', 'just inside'),
                                     (13, now(), 'new');`,
      [],
      db.name,
    );
    const result = await runTask(purgeTask, env([{ table: "audit_logs", timestampColumn: "created_at", olderThanDays: 90, batchSize: 3 }]));
    const [report] = result.databases[0].report!;
    expect({ ...report, cutoff: undefined }).toEqual({ rule: 0, table: "public.audit_logs", cutoff: undefined, deleted: 11, archived: 0, batches: 4, complete: true });
    expect(await ids("SELECT id FROM audit_logs ORDER BY id")).toEqual([12, 13]);
  });

  it("moves rows into the archive table in the same statement that deletes them", async () => {
    await adminQuery(
      `CREATE TABLE jobs (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, created_at timestamp NOT NULL, payload jsonb);
       CREATE TABLE jobs_archive (LIKE jobs INCLUDING ALL);
       INSERT INTO jobs (created_at, payload) SELECT now() - g * interval '40 days', jsonb_build_object('n', g) FROM generate_series(1, 7) g;`,
      [],
      db.name,
    );
    // 40..280 days old: ids 3..7 are older than 90 days.
    const result = await runTask(purgeTask, env([{ table: "jobs", timestampColumn: "created_at", olderThanDays: 90, archiveTable: "jobs_archive", batchSize: 2 }]));
    const [report] = result.databases[0].report!;
    expect([report.deleted, report.archived, report.batches, report.complete]).toEqual([5, 5, 3, true]);
    expect(await ids("SELECT id FROM jobs ORDER BY id")).toEqual([1, 2]);
    expect(await ids("SELECT id FROM jobs_archive ORDER BY id")).toEqual([3, 4, 5, 6, 7]);
    const payload = await adminQuery<{ p: unknown }>("SELECT payload AS p FROM jobs_archive WHERE id = 5", [], db.name);
    expect(payload.rows[0].p).toEqual({ n: 5 });
  });

  it("checks every rule against the database before touching a row", async () => {
    await adminQuery(
      `CREATE TABLE sessions (id int PRIMARY KEY, created_at timestamptz, user_id int);
       CREATE TABLE sessions_archive (id int, created_at timestamptz);
       INSERT INTO sessions VALUES (1, now() - interval '100 days', 1);`,
      [],
      db.name,
    );
    const ok = { table: "sessions", timestampColumn: "created_at", olderThanDays: 30 };
    await expect(runTask(purgeTask, env([ok, { ...ok, table: "nope" }]))).rejects.toThrow(`PURGE_RULES[1].table: table "public.nope" does not exist in database ${db.name}`);
    await expect(runTask(purgeTask, env([{ ...ok, timestampColumn: "created" }]))).rejects.toThrow('PURGE_RULES[0].timestampColumn: column "created" does not exist in table public.sessions');
    await expect(runTask(purgeTask, env([{ ...ok, timestampColumn: "user_id" }]))).rejects.toThrow('PURGE_RULES[0].timestampColumn: column "user_id" is integer, not a timestamp or date');
    await expect(runTask(purgeTask, env([{ ...ok, archiveTable: "sessions_archive" }]))).rejects.toThrow('PURGE_RULES[0].archiveTable: table "public.sessions_archive" has no column "user_id" of public.sessions');
    expect(await ids("SELECT id FROM sessions")).toEqual([1]);
  });

  it("rejects bad settings with one line naming the key", async () => {
    const rule = { table: "sessions", timestampColumn: "created_at", olderThanDays: 30 };
    await expect(runTask(purgeTask, env([{ ...rule, olderThanDays: -5 }]))).rejects.toThrow(/^invalid setting PURGE_RULES\[0\]\.olderThanDays: must be > 0$/);
    await expect(runTask(purgeTask, env([rule, { ...rule, batchSize: 0 }]))).rejects.toThrow("invalid setting PURGE_RULES[1].batchSize: must be >= 1");
    await expect(runTask(purgeTask, env([{ ...rule, tabel: "x" }]))).rejects.toThrow(/^invalid setting PURGE_RULES\[0\]: Unrecognized key: "tabel"$/);
    await expect(runTask(purgeTask, { ...env([rule]), PURGE_RULES: "[{" })).rejects.toThrow("invalid setting PURGE_RULES: must be valid JSON");
    await expect(runTask(purgeTask, { DATABASE_URL: db.url, LOG_LEVEL: "ERROR" })).rejects.toThrow(/^invalid setting PURGE_RULES: not set/);
    await expect(runTask(purgeTask, { ...env([rule]), DATABASE_URL: "mysql://host/db" })).rejects.toThrow("DATABASE_URL: must start with postgres:// or postgresql://");
    await expect(runTask(purgeTask, { ...env([rule]), DATABASE_URL: "::" })).rejects.toThrow("DATABASE_URL: must be a URL like postgres://user@host:5432/dbname");
  });
});
