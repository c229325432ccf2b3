import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADVISORY_LOCK_KEYS, ADVISORY_LOCK_NAMESPACE } from "../tasks/lib/pgmaint";
import { runTask } from "../tasks/lib/runtime";
import { analyzeTask, reindexTask, vacuumTask } from "../tasks/maintenance";
import { adminQuery, createTestDatabase } from "./helpers/pg";
import { validateRegime } from "../regime/load";

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stat(db: Db, table: string) {
  const r = await adminQuery<{ dead: string; live: string; last_vacuum: Date | null; last_analyze: Date | null }>(
    "SELECT n_dead_tup AS dead, n_live_tup AS live, last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = $1",
    [table],
    db.name,
  );
  return r.rows[0];
}

/** A table (autovacuum off, so only the task vacuums it) of `rows` rows of which `deleted` were deleted. */
async function makeTable(db: Db, table: string, rows: number, deleted: number): Promise<void> {
  await adminQuery(
    `CREATE TABLE ${table} (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false);
     INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series(1, ${rows}) g;
     DELETE FROM ${table} WHERE id <= ${deleted};`,
    [],
    db.name,
  );
  // Statistics are flushed when the session ends and read asynchronously (PostgreSQL 15).
  await waitFor(`statistics of ${table}`, async () => {
    const s = await stat(db, table);
    return Boolean(s) && Number(s.dead) === deleted && Number(s.live) === rows - deleted;
  });
}

const base = (db: Db) => ({ DATABASE_URL: db.url, PAUSE_MS: "0", LOG_LEVEL: "ERROR" });

describe("vacuum", () => {
  let db: Db;
  beforeAll(async () => {
    db = await createTestDatabase("mr_vacuum");
  });
  afterAll(async () => db?.drop());

  it("vacuums only the tables that need it, most needed first, and reports dead tuples before and after", async () => {
    await makeTable(db, "bloated", 10_000, 5_000);
    await makeTable(db, "half_bloated", 10_000, 2_000);
    await makeTable(db, "clean", 10_000, 0);
    await makeTable(db, "few_dead", 10_000, 50); // under the 100 dead-tuple minimum

    const result = await runTask(vacuumTask, base(db));
    expect(result.databases).toHaveLength(1);
    const d = result.databases[0];
    expect(d.status).toBe("done");
    expect(d.report!.done.map((t) => [t.table, t.deadBefore, t.deadAfter])).toEqual([
      ["public.bloated", 5000, 0],
      ["public.half_bloated", 2000, 0],
    ]);
    expect(d.report!.done[0].reasons).toEqual(["5000 dead tuples (50.0 %)"]);
    expect(d.report!.skippedLocked).toEqual([]);
    expect(d.report!.notNeeded).toBe(2);

    expect(Number((await stat(db, "bloated")).dead)).toBe(0);
    expect((await stat(db, "bloated")).last_analyze).not.toBeNull();
    expect((await stat(db, "clean")).last_vacuum).toBeNull();
    expect((await stat(db, "few_dead")).last_vacuum).toBeNull();
    expect(Number((await stat(db, "few_dead")).dead)).toBe(50);

    // Just vacuumed: nothing left to do.
    const again = await runTask(vacuumTask, base(db));
    expect(again.databases[0].report!.done).toEqual([]);
  });

  it("skips a table another transaction holds locked, without waiting and without disturbing it", async () => {
    await makeTable(db, "locked", 4_000, 2_000);
    await makeTable(db, "unlocked", 4_000, 1_000);
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE");
      await other.query("INSERT INTO locked VALUES (100000, 'written while locked')");

      // A wait for the lock would last the 30 s lock timeout; skipping it takes a moment even on a busy machine.
      const started = Date.now();
      const result = await runTask(vacuumTask, { ...base(db), LOCK_TIMEOUT_MS: "30000" });
      expect(Date.now() - started).toBeLessThan(20_000);
      const r = result.databases[0].report!;
      expect(r.skippedLocked).toEqual(["public.locked"]);
      expect(r.done.map((t) => t.table)).toEqual(["public.unlocked"]);
      expect(r.failed).toEqual([]);

      await other.query("COMMIT");
    } finally {
      await other.end();
    }
    const rows = await adminQuery<{ n: string; v: string }>("SELECT count(*) AS n, max(v) FILTER (WHERE id = 100000) AS v FROM locked", [], db.name);
    expect(rows.rows[0]).toEqual({ n: "2001", v: "written while locked" });
    expect(Number((await stat(db, "unlocked")).dead)).toBe(0);
    expect((await stat(db, "locked")).last_vacuum).toBeNull();
  });

  it("runs once at a time per database: a second run finds the advisory lock taken and leaves the database alone", async () => {
    await makeTable(db, "waiting", 2_000, 1_000);
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      const got = await holder.query("SELECT pg_try_advisory_lock($1, $2) AS ok", [ADVISORY_LOCK_NAMESPACE, ADVISORY_LOCK_KEYS.vacuum]);
      expect(got.rows[0].ok).toBe(true);
      const result = await runTask(vacuumTask, base(db));
      expect(result.databases).toEqual([{ database: db.name, databaseName: db.name, status: "already-running" }]);
      expect(Number((await stat(db, "waiting")).dead)).toBe(1000);
    } finally {
      await holder.end();
    }
    // Free again: this run does the work, including the table skipped earlier because it was locked.
    const result = await runTask(vacuumTask, base(db));
    expect(result.databases[0].report!.done.map((t) => t.table)).toEqual(["public.waiting", "public.locked"]);
  });

  it("uses VACUUM FULL only for the tables listed in VACUUM_FULL_TABLES, and honours TABLES", async () => {
    await makeTable(db, "rewrite_me", 3_000, 2_000);
    await makeTable(db, "keep_in_place", 3_000, 2_000);
    await makeTable(db, "not_listed", 3_000, 2_000);
    const node = async (t: string) => (await adminQuery<{ f: string }>("SELECT pg_relation_filenode($1::regclass)::text AS f", [t], db.name)).rows[0].f;
    const before = { rewrite: await node("rewrite_me"), keep: await node("keep_in_place") };

    const result = await runTask(vacuumTask, { ...base(db), TABLES: "rewrite_me, public.keep_in_place", VACUUM_FULL_TABLES: "rewrite_me" });
    const done = result.databases[0].report!.done;
    expect(done.map((t) => [t.table, t.full ?? false])).toEqual([
      ["public.rewrite_me", true],
      ["public.keep_in_place", false],
    ]);
    expect(await node("rewrite_me")).not.toBe(before.rewrite);
    expect(await node("keep_in_place")).toBe(before.keep);
    expect(Number((await stat(db, "not_listed")).dead)).toBe(2000);
  });

  it("names from config with spaces, commas and quotes reach VACUUM FULL and REINDEX as the tables and indexes they name", async () => {
    await adminQuery(
      `CREATE SCHEMA "My Schema";
       CREATE TABLE "My Schema"."Audit ""Log""" (id int, note text);
       CREATE TABLE "a,b" (id int);
       CREATE INDEX "Audit Idx" ON "My Schema"."Audit ""Log""" (id);
       INSERT INTO "My Schema"."Audit ""Log""" SELECT g, 'x' FROM generate_series(1, 1000) g;
       INSERT INTO "a,b" SELECT generate_series(1, 100);`,
      [],
      db.name,
    );
    // What the component sets from fullTables: ['"My Schema"."Audit ""Log"""', '"a,b"'] and indexes: ['"My Schema"."Audit Idx"'].
    const regime = validateRegime({
      name: "t",
      databases: [
        {
          id: "app",
          secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
          vacuum: { fullTables: ['"My Schema"."Audit ""Log"""', '"a,b"'] },
          reindex: { indexes: ['"My Schema"."Audit Idx"'] },
        },
      ],
    });
    const fullTables = JSON.stringify(regime.databases[0].vacuum?.fullTables);
    const indexes = JSON.stringify(regime.databases[0].reindex?.indexes);
    const vacuumed = await runTask(vacuumTask, { ...base(db), ALL: "true", TABLES: fullTables, VACUUM_FULL_TABLES: fullTables });
    expect(vacuumed.databases[0].report!.done.map((t) => [t.table, t.full ?? false]).sort()).toEqual([
      ['My Schema.Audit "Log"', true],
      ["public.a,b", true],
    ]);
    const reindexed = await runTask(reindexTask, { ...base(db), REINDEX_INDEXES: indexes });
    expect(reindexed.databases[0].report!.reindexed.map((i) => [i.index, i.reason])).toEqual([["My Schema.Audit Idx", "listed"]]);
    await expect(runTask(vacuumTask, { ...base(db), VACUUM_FULL_TABLES: "[not json" })).rejects.toThrow("VACUUM_FULL_TABLES: must be a JSON array of names or names separated by commas");
  });

  it("rejects bad settings with one line naming the key", async () => {
    await expect(runTask(vacuumTask, { ...base(db), TABLES: "public.nope" })).rejects.toThrow(`TABLES: table "public.nope" does not exist in database ${db.name}`);
    await expect(runTask(vacuumTask, { ...base(db), LOCK_TIMEOUT_MS: "-1" })).rejects.toThrow("invalid setting LOCK_TIMEOUT_MS: must be >= 0");
    await expect(runTask(vacuumTask, { ...base(db), DATABASE_URL: "not a url" })).rejects.toThrow("DATABASE_URL: must be a URL like postgres://user@host:5432/dbname");
    await expect(runTask(vacuumTask, { ...base(db), DEAD_PERCENT_MIN: "many" })).rejects.toThrow("invalid setting DEAD_PERCENT_MIN: must be a number");
  });
});

describe("analyze", () => {
  let db: Db;
  beforeAll(async () => {
    db = await createTestDatabase("mr_analyze");
  });
  afterAll(async () => db?.drop());

  it("analyzes tables never analyzed or much changed, and leaves the rest", async () => {
    await makeTable(db, "fresh", 1_000, 0);
    await makeTable(db, "steady", 1_000, 0);
    await adminQuery("ANALYZE steady", [], db.name);
    await makeTable(db, "churned", 1_000, 0);
    await adminQuery("ANALYZE churned", [], db.name);
    await adminQuery("UPDATE churned SET v = 'changed' WHERE id <= 300", [], db.name);
    await waitFor("changes of churned", async () => {
      const r = await adminQuery<{ m: string }>("SELECT n_mod_since_analyze AS m FROM pg_stat_user_tables WHERE relname = 'churned'", [], db.name);
      return Number(r.rows[0].m) === 300;
    });

    const result = await runTask(analyzeTask, base(db));
    const r = result.databases[0].report!;
    expect(r.done.map((t) => [t.table, t.reasons])).toEqual([
      ["public.fresh", ["never analyzed"]],
      ["public.churned", ["300 changes since last analyze"]],
    ]);
    expect(r.notNeeded).toBe(1);
    expect((await stat(db, "fresh")).last_analyze).not.toBeNull();
  });
});

describe("reindex", () => {
  let db: Db;
  beforeAll(async () => {
    db = await createTestDatabase("mr_reindex");
  });
  afterAll(async () => db?.drop());

  const invalidIndexes = async () =>
    (await adminQuery<{ name: string }>("SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid ORDER BY 1", [], db.name)).rows.map((r) => r.name);
  const filenode = async (idx: string) => (await adminQuery<{ f: string }>("SELECT pg_relation_filenode($1::regclass)::text AS f", [idx], db.name)).rows[0].f;

  it("drops an invalid *_ccnew leftover of a failed concurrent build, then rebuilds the listed index", async () => {
    await adminQuery("CREATE TABLE accounts (id int, email text); INSERT INTO accounts VALUES (1, 'a@x'), (1, 'b@x'); CREATE INDEX accounts_email_idx ON accounts (email)", [], db.name);
    // A concurrent unique build over duplicates fails and leaves its index INVALID, like a failed REINDEX CONCURRENTLY.
    await expect(adminQuery("CREATE UNIQUE INDEX CONCURRENTLY accounts_id_idx_ccnew ON accounts (id)", [], db.name)).rejects.toThrow(/could not create unique index/);
    expect(await invalidIndexes()).toEqual(["accounts_id_idx_ccnew"]);
    const before = await filenode("accounts_email_idx");

    const result = await runTask(reindexTask, { ...base(db), REINDEX_INDEXES: "accounts_email_idx" });
    const r = result.databases[0].report!;
    expect(r.droppedLeftovers).toEqual(["public.accounts_id_idx_ccnew"]);
    expect(r.reindexed.map((i) => [i.index, i.table, i.reason])).toEqual([["public.accounts_email_idx", "accounts", "listed"]]);
    expect(r.failed).toEqual([]);
    expect(await invalidIndexes()).toEqual([]);
    expect(await filenode("accounts_email_idx")).not.toBe(before);
  });

  it("picks btree indexes by estimated bloat when nothing is listed", async () => {
    await adminQuery(
      `CREATE TABLE sparse (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
       INSERT INTO sparse SELECT generate_series(1, 100000);
       DELETE FROM sparse WHERE id % 10 <> 0;
       CREATE TABLE dense (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
       INSERT INTO dense SELECT generate_series(1, 100000);`,
      [],
      db.name,
    );
    await adminQuery("VACUUM ANALYZE sparse", [], db.name);
    await adminQuery("VACUUM ANALYZE dense", [], db.name);
    const sparseBefore = await filenode("sparse_pkey");
    const denseBefore = await filenode("dense_pkey");

    const result = await runTask(reindexTask, { ...base(db), INDEX_SIZE_MIN_MB: "1", BLOAT_PERCENT_MIN: "30" });
    const r = result.databases[0].report!;
    expect(r.reindexed.map((i) => i.index)).toEqual(["public.sparse_pkey"]);
    expect(r.reindexed[0].reason).toMatch(/^estimated bloat (8\d|9\d) %$/);
    expect(r.reindexed[0].sizeAfter).toBeLessThan(r.reindexed[0].sizeBefore / 5);
    expect(await filenode("sparse_pkey")).not.toBe(sparseBefore);
    expect(await filenode("dense_pkey")).toBe(denseBefore);
  });

  it("rejects an unknown index naming REINDEX_INDEXES", async () => {
    await expect(runTask(reindexTask, { ...base(db), REINDEX_INDEXES: "missing_idx" })).rejects.toThrow(`REINDEX_INDEXES: index "public.missing_idx" does not exist in database ${db.name}`);
  });
});

describe("reindex of deduplicated btree indexes (PostgreSQL 13+)", () => {
  let db: Db;
  beforeAll(async () => {
    db = await createTestDatabase("mr_dedup");
    // Two tables of 300k rows with an index on a 4-value column (posting lists); 60 % of one deleted.
    await adminQuery(
      `CREATE TABLE worn (id int PRIMARY KEY, status int) WITH (autovacuum_enabled = false);
       CREATE INDEX worn_status_idx ON worn (status);
       INSERT INTO worn SELECT g, g % 4 FROM generate_series(1, 300000) g;
       DELETE FROM worn WHERE id % 5 < 3;
       CREATE TABLE fresh (id int PRIMARY KEY, status int) WITH (autovacuum_enabled = false);
       INSERT INTO fresh SELECT g, g % 4 FROM generate_series(1, 300000) g;
       CREATE INDEX fresh_status_idx ON fresh (status);`,
      [],
      db.name,
    );
    await adminQuery("VACUUM ANALYZE worn", [], db.name);
    await adminQuery("VACUUM ANALYZE fresh", [], db.name);
  }, 120_000);
  afterAll(async () => db?.drop());
  const filenode = async (idx: string) => (await adminQuery<{ f: string }>("SELECT pg_relation_filenode($1::regclass)::text AS f", [idx], db.name)).rows[0].f;
  const settings = () => ({ ...base(db), INDEX_SIZE_MIN_MB: "0.5", BLOAT_PERCENT_MIN: "30", REINDEX_TABLES: undefined });

  it("without pgstattuple does not call a deduplicated index healthy: it names it as not estimated and leaves it", async () => {
    const before = await filenode("worn_status_idx");
    const r = (await runTask(reindexTask, settings())).databases[0].report!;
    expect(r.reindexed.map((i) => i.index)).toEqual(["public.worn_pkey"]);
    expect([...r.notEstimated].sort((a, b) => a.index.localeCompare(b.index))).toEqual([
      { index: "public.fresh_status_idx", why: "estimate unavailable for deduplicated index" },
      { index: "public.worn_status_idx", why: "estimate unavailable for deduplicated index" },
    ]);
    expect(await filenode("worn_status_idx")).toBe(before);
  }, 60_000);

  it("with pgstattuple measures leaf density: the bloated deduplicated index is rebuilt, the fresh one is not", async () => {
    await adminQuery("CREATE EXTENSION pgstattuple", [], db.name);
    const worn = await filenode("worn_status_idx");
    const fresh = await filenode("fresh_status_idx");
    const r = (await runTask(reindexTask, settings())).databases[0].report!;
    expect(r.reindexed.map((i) => i.index)).toEqual(["public.worn_status_idx"]);
    expect(r.reindexed[0].reason).toMatch(/^measured bloat (5\d|6\d) %$/);
    expect(r.reindexed[0].sizeAfter).toBeLessThan(r.reindexed[0].sizeBefore * 0.6);
    expect(r.notEstimated).toEqual([]);
    expect(await filenode("worn_status_idx")).not.toBe(worn);
    expect(await filenode("fresh_status_idx")).toBe(fresh);
  }, 60_000);
});
