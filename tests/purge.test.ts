import { beforeAll, describe, expect, it } from "vitest";
import { runTask } from "../tasks/lib/runtime";
import { purgeSettings, purgeTask } from "../tasks/purge";
import { purgeRule } from "../regime/purge-rule";
import { adminQuery } from "./helpers/pg";
import { purgeDatabase } from "./helpers/purge";

describe("purge", () => {
  const t = purgeDatabase("mr_purge");
  const { env, ids } = t;
  let db: ReturnType<typeof t.db>;
  beforeAll(() => {
    db = t.db();
  });

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
    expect({ ...report, cutoff: undefined }).toEqual({ rule: 0, table: "public.audit_logs", cutoff: undefined, deleted: 11, archived: 0, batches: 4, complete: true, leaves: [{ table: "public.audit_logs", deleted: 11 }], vanished: [], kept: 0, keptBy: [], lockedLeft: 0, lockedBy: [], attached: [] });
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
    // 40..280 days old, written in the session's zone (UTC): ids 3..7 are older than 90 days.
    const result = await runTask(purgeTask, env([{ table: "jobs", timestampColumn: "created_at", olderThanDays: 90, archiveTable: "jobs_archive", batchSize: 2, columnTimezone: "UTC" }]));
    const [report] = result.databases[0].report!;
    expect([report.deleted, report.archived, report.batches, report.complete]).toEqual([5, 5, 3, true]);
    expect(await ids("SELECT id FROM jobs ORDER BY id")).toEqual([1, 2]);
    expect(await ids("SELECT id FROM jobs_archive ORDER BY id")).toEqual([3, 4, 5, 6, 7]);
    const payload = await adminQuery<{ p: unknown }>("SELECT payload AS p FROM jobs_archive WHERE id = 5", [], db.name);
    expect(payload.rows[0].p).toEqual({ n: 5 });
  });

  it("with where, deletes and archives only old rows that match it, still in batches", async () => {
    // BigShot: DELETE FROM jobs WHERE created_at < NOW() - INTERVAL '6 months' AND status = 'completed'
    await adminQuery(
      `CREATE TABLE bs_jobs (id int PRIMARY KEY, created_at timestamptz NOT NULL, status text NOT NULL, note text);
       CREATE TABLE bs_jobs_archive (LIKE bs_jobs INCLUDING ALL);
       INSERT INTO bs_jobs SELECT g, now() - interval '200 days' - g * interval '1 hour',
                                  CASE WHEN g % 3 = 0 THEN 'failed' WHEN g % 3 = 1 THEN 'completed' ELSE 'running' END, NULL
                             FROM generate_series(1, 30) g;
       INSERT INTO bs_jobs VALUES (101, now() - interval '10 days', 'completed', NULL),
                                  (102, now() - interval '179 days', 'completed', NULL),
                                  (103, now() - interval '200 days', 'a;b -- (', 'quoted text is data'),
                                  (104, now() - interval '200 days', 'completed', 'it''s done');`,
      [],
      db.name,
    );
    const where = "status = 'completed' OR (status = 'a;b -- (' AND note LIKE '%quoted%')";
    const expected = await ids(`SELECT id FROM bs_jobs WHERE created_at < now() - interval '180 days' AND (${where}) ORDER BY id`);
    expect(expected).toEqual([1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 103, 104]);
    const kept = await ids(`SELECT id FROM bs_jobs WHERE id NOT IN (${expected.join(",")}) ORDER BY id`);

    const result = await runTask(purgeTask, env([{ table: "bs_jobs", timestampColumn: "created_at", olderThanDays: 180, archiveTable: "bs_jobs_archive", where, batchSize: 5 }]));
    const [report] = result.databases[0].report!;
    expect([report.where, report.deleted, report.archived, report.batches, report.complete]).toEqual([where, 12, 12, 3, true]);
    expect(await ids("SELECT id FROM bs_jobs_archive ORDER BY id")).toEqual(expected);
    expect(await ids("SELECT id FROM bs_jobs ORDER BY id")).toEqual(kept);
    const archived = await adminQuery<{ status: string; note: string | null }>("SELECT status, note FROM bs_jobs_archive WHERE id IN (103, 104) ORDER BY id", [], db.name);
    expect(archived.rows).toEqual([
      { status: "a;b -- (", note: "quoted text is data" },
      { status: "completed", note: "it's done" },
    ]);

    // Without an archive table: the old failed jobs go, the running ones stay.
    const second = await runTask(purgeTask, env([{ table: "bs_jobs", timestampColumn: "created_at", olderThanDays: 180, where: "status IN ('failed')", batchSize: 4 }]));
    expect([second.databases[0].report![0].deleted, second.databases[0].report![0].batches]).toEqual([10, 3]);
    const left = await adminQuery<{ status: string; n: string }>("SELECT status, count(*) AS n FROM bs_jobs GROUP BY status ORDER BY status", [], db.name);
    expect(left.rows).toEqual([
      { status: "completed", n: "2" },
      { status: "running", n: "10" },
    ]);
  });

  it("a where the database refuses fails before any row is touched, naming the rule's key", async () => {
    await adminQuery(
      `CREATE TABLE w_jobs (id int PRIMARY KEY, created_at timestamptz NOT NULL, status text);
       INSERT INTO w_jobs VALUES (1, now() - interval '400 days', 'completed'), (2, now() - interval '400 days', 'failed');`,
      [],
      db.name,
    );
    const ok = { table: "w_jobs", timestampColumn: "created_at", olderThanDays: 30 };
    await expect(runTask(purgeTask, env([ok, { ...ok, where: "state = 'completed'" }]))).rejects.toThrow(
      'PURGE_RULES[1].where: not a condition on public.w_jobs: column "state" does not exist',
    );
    await expect(runTask(purgeTask, env([{ ...ok, where: "status" }]))).rejects.toThrow(
      "PURGE_RULES[0].where: not a condition on public.w_jobs: argument of AND must be type boolean, not type text",
    );
    expect(await ids("SELECT id FROM w_jobs ORDER BY id")).toEqual([1, 2]);
  });

  it("refuses a where that is not one expression, with one line naming the key", async () => {
    const rule = { table: "w_jobs", timestampColumn: "created_at", olderThanDays: 30 };
    const refused = async (where: string) => {
      try {
        await runTask(purgeTask, env([rule, { ...rule, where }]));
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`where ${where} was accepted`);
    };
    expect(await refused("status = 'completed'; DROP TABLE w_jobs")).toBe("invalid setting PURGE_RULES[1].where: must be a single SQL expression (no ;)");
    expect(await refused("status = 'completed' -- and the rest")).toBe("invalid setting PURGE_RULES[1].where: must not contain a comment (--)");
    expect(await refused("status = 'completed' /* x */")).toBe("invalid setting PURGE_RULES[1].where: must not contain a comment (/*)");
    expect(await refused("true) OR (true")).toBe("invalid setting PURGE_RULES[1].where: has a ) without its (");
    expect(await refused("(status = 'completed'")).toBe("invalid setting PURGE_RULES[1].where: has 1 unclosed (");
    expect(await refused("status = 'completed")).toBe("invalid setting PURGE_RULES[1].where: has an unterminated string literal (')");
    expect(await refused('"status = 1')).toBe('invalid setting PURGE_RULES[1].where: has an unterminated quoted identifier (")');
    expect(await refused("created_at < $1")).toBe("invalid setting PURGE_RULES[1].where: must not contain $ (parameters or dollar quoting)");
    expect(await refused("   ")).toBe("invalid setting PURGE_RULES[1].where: must be an SQL condition, not empty");
    expect(await ids("SELECT id FROM w_jobs ORDER BY id")).toEqual([1, 2]);
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

  it("the config's rule and the task's setting are one definition: a rule the config parsed reaches the task unchanged; a bad field gets the same message under each key", () => {
    const written = { table: 'billing."Audit Log"', olderThanDays: 90, where: "status = 'done'", columnTimezone: "Europe/Berlin" };
    const config = purgeRule.parse(written);
    expect(config).toEqual({ table: "billing.Audit Log", timestampColumn: "created_at", olderThanDays: 90, where: "status = 'done'", batchSize: 5000, columnTimezone: "Europe/Berlin" });
    expect(purgeSettings.parse({ PURGE_RULES: JSON.stringify([config]) }).rules).toEqual([config]);
    const bad = { table: "jobs", olderThanDays: 1.5, batchSize: 0, where: "1; DROP TABLE jobs" };
    const messages = (issues: { path: PropertyKey[]; message: string }[]) => issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    const fromConfig = messages(purgeRule.safeParse(bad).error!.issues);
    expect(fromConfig).toHaveLength(3);
    expect(messages(purgeSettings.safeParse({ PURGE_RULES: JSON.stringify([bad]) }).error!.issues)).toEqual(fromConfig.map((m) => `PURGE_RULES[0].${m}`));
  });

  it("rejects bad settings with one line naming the key", async () => {
    const rule = { table: "sessions", timestampColumn: "created_at", olderThanDays: 30 };
    await expect(runTask(purgeTask, env([{ ...rule, olderThanDays: -5 }]))).rejects.toThrow(/^invalid setting PURGE_RULES\[0\]\.olderThanDays: must be >= 1$/);
    await expect(runTask(purgeTask, env([rule, { ...rule, batchSize: 0 }]))).rejects.toThrow("invalid setting PURGE_RULES[1].batchSize: must be >= 1");
    await expect(runTask(purgeTask, env([{ ...rule, tabel: "x" }]))).rejects.toThrow(/^invalid setting PURGE_RULES\[0\]: Unrecognized key: "tabel"$/);
    await expect(runTask(purgeTask, { ...env([rule]), PURGE_RULES: "[{" })).rejects.toThrow("invalid setting PURGE_RULES: must be valid JSON");
    await expect(runTask(purgeTask, { DATABASE_URL: db.url, LOG_LEVEL: "ERROR" })).rejects.toThrow(/^invalid setting PURGE_RULES: not set/);
    await expect(runTask(purgeTask, { ...env([rule]), DATABASE_URL: "mysql://host/db" })).rejects.toThrow("DATABASE_URL: must start with postgres:// or postgresql://");
    await expect(runTask(purgeTask, { ...env([rule]), DATABASE_URL: "::" })).rejects.toThrow("DATABASE_URL: must be a URL like postgres://user@host:5432/dbname");
  });
});
