/**
 * Objects that vanish between a maintenance task listing them and acting on them: a second
 * connection drops or renames them while the task is paused between tables (vacuum, analyze) or
 * waits for a lock another session holds (reindex, purge, databases). The task skips them, names
 * them in the result and succeeds; a real error still fails the run.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runTask } from "../tasks/lib/runtime";
import { analyzeTask, reindexTask, vacuumTask } from "../tasks/maintenance";
import { purgeTask } from "../tasks/purge";
import { adminQuery, adminUrl, createTestDatabase } from "./helpers/pg";

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stat(db: Db, schema: string, table: string) {
  const r = await adminQuery<{ dead: string; live: string; mods: string; last_vacuum: Date | null; last_analyze: Date | null }>(
    "SELECT n_dead_tup AS dead, n_live_tup AS live, n_mod_since_analyze AS mods, last_vacuum, last_analyze FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2",
    [schema, table],
    db.name,
  );
  return r.rows[0];
}

/** schema.table (autovacuum off) of `rows` rows of which `deleted` were deleted, its statistics flushed. */
async function makeTable(db: Db, schema: string, table: string, rows: number, deleted: number): Promise<void> {
  await adminQuery(
    `CREATE SCHEMA IF NOT EXISTS ${schema};
     CREATE TABLE ${schema}.${table} (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false);
     INSERT INTO ${schema}.${table} SELECT g, md5(g::text) FROM generate_series(1, ${rows}) g;
     DELETE FROM ${schema}.${table} WHERE id <= ${deleted};`,
    [],
    db.name,
  );
  await waitFor(`statistics of ${table}`, async () => {
    const s = await stat(db, schema, table);
    return Boolean(s) && Number(s.dead) === deleted && Number(s.live) === rows - deleted;
  });
}

/** True once the task's session in `database` waits for a lock. */
const taskWaitsForLock = (database: string) => async () =>
  (
    await adminQuery<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'maintenance-regime' AND wait_event_type = 'Lock'",
      [database],
    )
  ).rows[0].n > 0;

/** A second session holding `lock` (a LOCK TABLE statement) in an open transaction until release(). */
async function holdLock(url: string, lock: string): Promise<{ release: () => Promise<void>; client: pg.Client }> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  await client.query("BEGIN");
  await client.query(lock);
  return {
    client,
    release: async () => {
      await client.query("COMMIT").catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/** Starts a task without awaiting it (its rejection is kept for the later await). */
function start<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

const base = (db: Db) => ({ DATABASE_URL: db.url, PAUSE_MS: "0", LOG_LEVEL: "ERROR" });

describe("objects that vanish between listing and acting", () => {
  let db: Db;
  const sql = (text: string, database = db.name) => adminQuery(text, [], database);
  const ids = async (text: string, database = db.name) => (await adminQuery<{ id: number }>(text, [], database)).rows.map((r) => Number(r.id));
  beforeAll(async () => {
    db = await createTestDatabase("mr_vanish");
  });
  afterAll(async () => db?.drop());

  it("vacuum: a table dropped and one renamed while the run pauses between tables; the dropped one is reported, the renamed one vacuumed", async () => {
    await makeTable(db, "public", "vac_first", 10_000, 5_000); // 50 % dead: first
    await makeTable(db, "public", "vac_dropped", 10_000, 3_000);
    await makeTable(db, "public", "vac_renamed", 10_000, 2_000);
    const running = start(runTask(vacuumTask, { ...base(db), PAUSE_MS: "3000" }));
    await waitFor("vac_first vacuumed", async () => (await stat(db, "public", "vac_first"))?.last_vacuum != null);
    await sql("DROP TABLE vac_dropped; ALTER TABLE vac_renamed RENAME TO vac_renamed_now");

    const d = (await running).databases[0];
    expect(d.status).toBe("done");
    expect(d.report!.done.map((t) => [t.table, t.deadAfter])).toEqual([
      ["public.vac_first", 0],
      ["public.vac_renamed_now", 0],
    ]);
    expect(d.report!.vanished).toEqual(["public.vac_dropped"]);
    expect(d.report!.failed).toEqual([]);
    expect((await stat(db, "public", "vac_renamed_now")).last_vacuum).not.toBeNull();
  });

  it("analyze: a table whose schema is dropped and one whose schema is renamed while the run pauses", async () => {
    await makeTable(db, "an", "an_first", 3_000, 0); // never analyzed, most changes: first
    await makeTable(db, "an_gone", "an_dropped", 2_000, 0);
    await makeTable(db, "an_moved", "an_later", 1_000, 0);
    const running = start(runTask(analyzeTask, { ...base(db), SCHEMAS: "an,an_gone,an_moved", PAUSE_MS: "3000" }));
    await waitFor("an_first analyzed", async () => (await stat(db, "an", "an_first"))?.last_analyze != null);
    await sql("DROP SCHEMA an_gone CASCADE; ALTER SCHEMA an_moved RENAME TO an_moved_now");

    const d = (await running).databases[0];
    expect(d.status).toBe("done");
    expect(d.report!.done.map((t) => t.table)).toEqual(["an.an_first", "an_moved_now.an_later"]);
    expect(d.report!.vanished).toEqual(["an_gone.an_dropped"]);
    expect(d.report!.failed).toEqual([]);
    expect((await stat(db, "an_moved_now", "an_later")).last_analyze).not.toBeNull();
  });

  it("reindex: an index dropped, one renamed and one whose table is dropped while the run waits on the first", async () => {
    await sql(`
      CREATE TABLE ri_a (id int); CREATE INDEX ri_a_idx ON ri_a (id);
      CREATE TABLE ri_b (id int); CREATE INDEX ri_b_idx ON ri_b (id);
      CREATE TABLE ri_c (id int); CREATE INDEX ri_c_idx ON ri_c (id);
      CREATE TABLE ri_d (id int); CREATE INDEX ri_d_idx ON ri_d (id);
      INSERT INTO ri_a SELECT generate_series(1, 1000); INSERT INTO ri_c SELECT generate_series(1, 1000);`);
    const filenode = async (idx: string) => (await adminQuery<{ f: string }>("SELECT pg_relation_filenode($1::regclass)::text AS f", [idx], db.name)).rows[0].f;
    const before = await filenode("ri_c_idx");
    const lock = await holdLock(db.url, "LOCK TABLE ri_a IN SHARE UPDATE EXCLUSIVE MODE");
    let running;
    try {
      running = start(runTask(reindexTask, { ...base(db), REINDEX_INDEXES: "ri_a_idx,ri_b_idx,ri_c_idx,ri_d_idx", LOCK_TIMEOUT_MS: "60000" }));
      await waitFor("reindex waiting for ri_a", taskWaitsForLock(db.name));
      await sql("DROP INDEX ri_b_idx; ALTER INDEX ri_c_idx RENAME TO ri_c_idx_now; DROP TABLE ri_d");
    } finally {
      await lock.release();
    }
    const d = (await running!).databases[0];
    expect(d.status).toBe("done");
    expect(d.report!.reindexed.map((i) => i.index)).toEqual(["public.ri_a_idx", "public.ri_c_idx_now"]);
    expect(d.report!.vanished).toEqual(["public.ri_b_idx", "public.ri_d_idx"]);
    expect(d.report!.failed).toEqual([]);
    expect(await filenode("ri_c_idx_now")).not.toBe(before);
  });

  it("purge: tables dropped, renamed, a partition dropped and the archive table dropped between rules, while the first rule waits for a lock", async () => {
    const old = "now() - interval '400 days'";
    await sql(`
      CREATE TABLE pv_locked (id int, created_at timestamptz NOT NULL);
      CREATE TABLE pv_dropped (LIKE pv_locked);
      CREATE TABLE pv_renamed (LIKE pv_locked);
      CREATE TABLE pv_parts (id int, created_at timestamptz NOT NULL) PARTITION BY RANGE (id);
      CREATE TABLE pv_parts_1 PARTITION OF pv_parts FOR VALUES FROM (0) TO (100);
      CREATE TABLE pv_parts_2 PARTITION OF pv_parts FOR VALUES FROM (100) TO (200);
      CREATE TABLE pv_arch (LIKE pv_locked);
      CREATE TABLE pv_arch_archive (LIKE pv_locked);
      INSERT INTO pv_locked VALUES (1, ${old}), (2, ${old}), (3, now());
      INSERT INTO pv_dropped VALUES (1, ${old});
      INSERT INTO pv_renamed VALUES (1, ${old}), (2, now());
      INSERT INTO pv_parts VALUES (1, ${old}), (2, now()), (101, ${old});
      INSERT INTO pv_arch VALUES (1, ${old}), (2, ${old});`);
    const rule = (table: string, extra: object = {}) => ({ table, timestampColumn: "created_at", olderThanDays: 30, ...extra });
    const rules = [rule("pv_locked"), rule("pv_dropped"), rule("pv_renamed"), rule("pv_parts"), rule("pv_arch", { archiveTable: "pv_arch_archive" })];
    const lock = await holdLock(db.url, "LOCK TABLE pv_locked IN ACCESS EXCLUSIVE MODE");
    let running;
    try {
      running = start(runTask(purgeTask, { ...base(db), LOCK_TIMEOUT_MS: "60000", PURGE_RULES: JSON.stringify(rules) }));
      await waitFor("purge waiting for pv_locked", taskWaitsForLock(db.name));
      await sql("DROP TABLE pv_dropped; ALTER TABLE pv_renamed RENAME TO pv_renamed_now; DROP TABLE pv_parts_2; DROP TABLE pv_arch_archive");
    } finally {
      await lock.release();
    }
    const d = (await running!).databases[0];
    expect(d.status).toBe("done");
    expect(d.report!.map((r) => [r.table, r.deleted, r.vanished, r.complete])).toEqual([
      ["public.pv_locked", 2, [], true],
      ["public.pv_dropped", 0, ["public.pv_dropped"], true],
      ["public.pv_renamed_now", 1, [], true],
      ["public.pv_parts", 1, ["public.pv_parts_2"], true],
      ["public.pv_arch", 0, ["public.pv_arch_archive"], false],
    ]);
    expect(await ids("SELECT id FROM pv_locked ORDER BY id")).toEqual([3]);
    expect(await ids("SELECT id FROM pv_renamed_now ORDER BY id")).toEqual([2]);
    expect(await ids("SELECT id FROM pv_parts ORDER BY id")).toEqual([2]);
    // Its archive is gone: nothing is deleted that could not be archived.
    expect(await ids("SELECT id FROM pv_arch ORDER BY id")).toEqual([1, 2]);
  });

  it("purge: partitions dropped, renamed and detached while the rule works on an earlier one", async () => {
    const old = "now() - interval '400 days'";
    await sql(`
      CREATE TABLE pm (id int, created_at timestamptz NOT NULL) PARTITION BY RANGE (id);
      CREATE TABLE pm_a PARTITION OF pm FOR VALUES FROM (0) TO (100);
      CREATE TABLE pm_b PARTITION OF pm FOR VALUES FROM (100) TO (200);
      CREATE TABLE pm_c PARTITION OF pm FOR VALUES FROM (200) TO (300);
      CREATE TABLE pm_d PARTITION OF pm FOR VALUES FROM (300) TO (400);
      INSERT INTO pm VALUES (1, ${old}), (2, ${old}), (3, ${old}), (4, now()), (101, ${old}), (201, ${old}), (202, now()), (301, ${old});`);
    const lock = await holdLock(db.url, "LOCK TABLE pm_a IN ACCESS EXCLUSIVE MODE");
    let running;
    try {
      const rules = [{ table: "pm", timestampColumn: "created_at", olderThanDays: 30, batchSize: 2 }];
      running = start(runTask(purgeTask, { ...base(db), LOCK_TIMEOUT_MS: "60000", PURGE_RULES: JSON.stringify(rules) }));
      await waitFor("purge waiting for pm_a", taskWaitsForLock(db.name));
      await sql("DROP TABLE pm_b; ALTER TABLE pm_c RENAME TO pm_c_now; ALTER TABLE pm DETACH PARTITION pm_d");
    } finally {
      await lock.release();
    }
    const [r] = (await running!).databases[0].report!;
    expect(r.leaves).toEqual([
      { table: "public.pm_a", deleted: 3 },
      { table: "public.pm_c_now", deleted: 1 },
    ]);
    expect(r.vanished).toEqual(["public.pm_b", "public.pm_d"]);
    expect(await ids("SELECT id FROM pm ORDER BY id")).toEqual([4, 202]);
    // Detached: no longer part of the rule's table, so its rows are left alone.
    expect(await ids("SELECT id FROM pm_d ORDER BY id")).toEqual([301]);
  });

  it("a real error of one object (permission denied) still fails the run", async () => {
    const role = `mr_vanish_${randomBytes(3).toString("hex")}`;
    await sql(`CREATE TABLE pd (id int, created_at timestamptz NOT NULL); CREATE INDEX pd_idx ON pd (id); INSERT INTO pd VALUES (1, now() - interval '400 days')`);
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    try {
      const url = db.url.replace("postgres@", `${role}@`);
      await expect(runTask(purgeTask, { ...base(db), DATABASE_URL: url, PURGE_RULES: JSON.stringify([{ table: "pd", timestampColumn: "created_at", olderThanDays: 30 }]) })).rejects.toThrow(
        "permission denied for table pd",
      );
      await expect(runTask(reindexTask, { ...base(db), DATABASE_URL: url, REINDEX_INDEXES: "pd_idx" })).rejects.toThrow(
        `reindex: database ${db.name}: public.pd_idx: must be owner of index pd_idx`,
      );
      expect(await ids("SELECT id FROM pd")).toEqual([1]);
    } finally {
      await adminQuery(`DROP ROLE ${role}`);
    }
  });

  describe("databases of a multi-database run", () => {
    let other: Db;
    beforeEach(async () => {
      other = await createTestDatabase("mr_vanish_other");
    });
    afterEach(async () => other?.drop());

    const purgeTable = async (database: string) =>
      sql("DROP TABLE IF EXISTS dbv; CREATE TABLE dbv (id int, created_at timestamptz NOT NULL); INSERT INTO dbv VALUES (1, now() - interval '400 days'), (2, now())", database);
    const databases = (...targets: [string, string][]) => JSON.stringify(targets.map(([id, url]) => ({ id, url })));
    const purgeEnv = (targets: string) => ({
      DATABASES: targets,
      PAUSE_MS: "0",
      LOG_LEVEL: "ERROR",
      LOCK_TIMEOUT_MS: "60000",
      // dbv_slow: the DELETE trigger that keeps a batch running while its database is dropped (it changes no other row).
      PURGE_RULES: JSON.stringify([{ table: "dbv", timestampColumn: "created_at", olderThanDays: 30, allowTriggers: ["dbv_slow"] }]),
    });

    it("purge: a database dropped while the run works on the one before it is reported as vanished", async () => {
      await purgeTable(db.name);
      await purgeTable(other.name);
      const lock = await holdLock(db.url, "LOCK TABLE dbv IN ACCESS EXCLUSIVE MODE");
      let running;
      try {
        running = start(runTask(purgeTask, purgeEnv(databases(["first", db.url], ["second", other.url]))));
        await waitFor("purge waiting in the first database", taskWaitsForLock(db.name));
        await other.drop();
      } finally {
        await lock.release();
      }
      const result = await running!;
      expect(result.databases.map((d) => [d.database, d.status, d.report?.[0].deleted])).toEqual([
        ["first", "done", 1],
        ["second", "vanished", undefined],
      ]);
      expect(result.databases[1].detail).toContain(`database "${other.name}" does not exist`);
      await sql("DELETE FROM dbv");
    });

    it("purge: a database dropped WITH (FORCE) while the run works in it is reported as vanished", async () => {
      await purgeTable(db.name);
      await purgeTable(other.name);
      // The run's DELETE in the second database sleeps in a row trigger, so the forced drop is sure
      // to end its session mid-statement (a lock held by another session there would be released by
      // the same drop, possibly before the run's own session is ended).
      await sql(
        `CREATE FUNCTION dbv_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(60); RETURN OLD; END $$;
         CREATE TRIGGER dbv_slow BEFORE DELETE ON dbv FOR EACH ROW EXECUTE FUNCTION dbv_slow();`,
        other.name,
      );
      const running = start(runTask(purgeTask, purgeEnv(databases(["first", db.url], ["second", other.url]))));
      await waitFor("purge deleting in the second database", async () =>
        (
          await adminQuery<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'maintenance-regime' AND wait_event = 'PgSleep'",
            [other.name],
          )
        ).rows[0].n > 0,
      );
      await other.drop();
      const result = await running;
      expect(result.databases.map((d) => [d.database, d.status])).toEqual([
        ["first", "done"],
        ["second", "vanished"],
      ]);
      expect(await ids("SELECT id FROM dbv ORDER BY id")).toEqual([2]);
    });

    it("vacuum: a database dropped while the run pauses in the one before it is reported as vanished", async () => {
      await makeTable(db, "public", "dbv_first", 4_000, 2_000);
      await makeTable(db, "public", "dbv_second", 4_000, 1_000);
      const running = start(runTask(vacuumTask, { DATABASES: databases(["first", db.url], ["second", other.url]), PAUSE_MS: "3000", LOG_LEVEL: "ERROR" }));
      await waitFor("dbv_first vacuumed", async () => (await stat(db, "public", "dbv_first"))?.last_vacuum != null);
      await other.drop();
      const result = await running;
      expect(result.databases.map((d) => [d.database, d.status])).toEqual([
        ["first", "done"],
        ["second", "vanished"],
      ]);
      expect(result.databases[0].report!.done.map((t) => t.table)).toEqual(["public.dbv_first", "public.dbv_second"]);
    });

    it("a database that did not exist when the run started is a configuration fault: the run fails naming it, after doing the others", async () => {
      await purgeTable(db.name);
      const missing = `mr_vanish_never_${randomBytes(3).toString("hex")}`;
      await expect(runTask(purgeTask, purgeEnv(databases(["first", db.url], ["typo", adminUrl(missing)])))).rejects.toThrow(
        `database typo: database typo: cannot connect to`,
      );
      expect(await ids("SELECT id FROM dbv ORDER BY id")).toEqual([2]);
    });
  });
});
