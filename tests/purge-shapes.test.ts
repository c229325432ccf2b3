/**
 * Purge against every table shape PostgreSQL has: partitioned (one and several levels), inheritance
 * parents and children, no primary key, archive tables plain and partitioned; and the shapes that
 * cannot be purged (views, foreign tables, ...) refused with one line naming the rule.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { runTask } from "../tasks/lib/runtime";
import { purgeTask } from "../tasks/purge";
import { adminQuery, PG_HOST, PG_PORT } from "./helpers/pg";
import { purgeDatabase } from "./helpers/purge";

describe("purge of every table shape", () => {
  const t = purgeDatabase("mr_purge_shapes");
  const { sql, env, ids, refused } = t;
  let db: ReturnType<typeof t.db>;
  beforeAll(() => {
    db = t.db();
  });

  const repro = `
    DROP TABLE IF EXISTS events, events_archive;
    CREATE TABLE events (id int, region text, created_at timestamptz NOT NULL, payload text) PARTITION BY LIST (region);
    CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu');
    CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us');
    INSERT INTO events_eu VALUES (1,'eu',now()-interval '400 days','old'),(2,'eu',now()-interval '400 days','old'),(3,'eu',now()-interval '400 days','old');
    INSERT INTO events_us VALUES (11,'us',now()-interval '1 day','new'),(12,'us',now()-interval '1 day','new'),(13,'us',now()-interval '1 day','new');`;

  /** `npm run task -- purge` as a user runs it: exit code and the JSON result on the last stdout line. */
  async function cli(rules: unknown): Promise<{ code: number; result: any; stderr: string }> {
    const run = promisify(execFile);
    try {
      const r = await run("npm", ["run", "--silent", "task", "--", "purge"], {
        cwd: process.cwd(),
        env: { ...process.env, DATABASE_URL: `postgres://postgres@${PG_HOST}:${PG_PORT}/${db.name}`, PURGE_RULES: JSON.stringify(rules), PAUSE_MS: "0" },
      });
      return { code: 0, result: JSON.parse(r.stdout.trim().split("\n").pop()!), stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, result: undefined, stderr: e.stderr };
    }
  }

  it("the partitioned repro through the CLI: deletes the 3 old rows of events_eu and keeps the 3 fresh rows of events_us", async () => {
    await sql(repro);
    // The rows sit at the same ctids in both partitions: (0,1), (0,2), (0,3).
    const ctids = await adminQuery<{ c: string }>("SELECT DISTINCT ctid::text AS c FROM events ORDER BY 1", [], db.name);
    expect(ctids.rows.map((r) => r.c)).toEqual(["(0,1)", "(0,2)", "(0,3)"]);

    const run = await cli([{ table: "events", timestampColumn: "created_at", olderThanDays: 90 }]);
    expect(run.code).toBe(0);
    const [report] = run.result.databases[0].report;
    expect([report.deleted, report.archived, report.complete]).toEqual([3, 0, true]);
    expect(report.leaves).toEqual([
      { table: "public.events_eu", deleted: 3 },
      { table: "public.events_us", deleted: 0 },
    ]);
    expect(await ids("SELECT id FROM events ORDER BY id")).toEqual([11, 12, 13]);
  }, 60_000);

  it("the partitioned repro with an archive table: the 3 old rows are archived exactly once, also over two runs", async () => {
    await sql(repro + "CREATE TABLE events_archive (LIKE events);");
    const rule = { table: "events", timestampColumn: "created_at", olderThanDays: 90, archiveTable: "events_archive", batchSize: 2 };
    const first = await runTask(purgeTask, env([rule]));
    expect([first.databases[0].report![0].deleted, first.databases[0].report![0].archived]).toEqual([3, 3]);
    const second = await runTask(purgeTask, env([rule]));
    expect([second.databases[0].report![0].deleted, second.databases[0].report![0].archived]).toEqual([0, 0]);
    expect(await ids("SELECT id FROM events ORDER BY id")).toEqual([11, 12, 13]);
    expect(await ids("SELECT id FROM events_archive ORDER BY id")).toEqual([1, 2, 3]);
    const archived = await adminQuery("SELECT region, payload FROM events_archive ORDER BY id", [], db.name);
    expect(archived.rows).toEqual([1, 2, 3].map(() => ({ region: "eu", payload: "old" })));
  });

  it("partitions of partitions: every leaf at any depth loses exactly its old rows; a rule on a sub-partition stays inside it", async () => {
    await sql(`
      CREATE TABLE ml (id int, region text, created_at timestamptz NOT NULL) PARTITION BY LIST (region);
      CREATE TABLE ml_eu PARTITION OF ml FOR VALUES IN ('eu') PARTITION BY RANGE (id);
      CREATE TABLE ml_eu_low PARTITION OF ml_eu FOR VALUES FROM (0) TO (100);
      CREATE TABLE ml_eu_high PARTITION OF ml_eu FOR VALUES FROM (100) TO (1000) PARTITION BY HASH (id);
      CREATE TABLE ml_eu_high_0 PARTITION OF ml_eu_high FOR VALUES WITH (MODULUS 2, REMAINDER 0);
      CREATE TABLE ml_eu_high_1 PARTITION OF ml_eu_high FOR VALUES WITH (MODULUS 2, REMAINDER 1);
      CREATE TABLE ml_us PARTITION OF ml FOR VALUES IN ('us');
      CREATE TABLE ml_other PARTITION OF ml DEFAULT;
      -- Odd ids old, even ids fresh, in every leaf.
      INSERT INTO ml SELECT g, r, CASE WHEN g % 2 = 1 THEN now() - interval '200 days' ELSE now() - interval '2 days' END
        FROM (VALUES ('eu', 1, 40), ('eu', 101, 160), ('us', 1, 30), ('ap', 1, 20)) v(r, lo, hi), generate_series(lo, hi) g;
      CREATE TABLE ml_archive (id int, region text, created_at timestamptz NOT NULL) PARTITION BY LIST (region);
      CREATE TABLE ml_archive_eu PARTITION OF ml_archive FOR VALUES IN ('eu');
      CREATE TABLE ml_archive_rest PARTITION OF ml_archive DEFAULT;`);
    const before = await adminQuery<{ t: string; old: string; fresh: string }>(
      `SELECT tableoid::regclass::text AS t, count(*) FILTER (WHERE created_at < now() - interval '100 days') AS old,
              count(*) FILTER (WHERE created_at >= now() - interval '100 days') AS fresh FROM ml GROUP BY 1 ORDER BY 1`,
      [],
      db.name,
    );
    const oldIds = await ids("SELECT id FROM ml WHERE created_at < now() - interval '100 days' AND region = 'eu' ORDER BY id");

    // A rule naming the 'eu' sub-partition covers its leaves and nothing else.
    const eu = await runTask(purgeTask, env([{ table: "ml_eu", timestampColumn: "created_at", olderThanDays: 100, archiveTable: "ml_archive", batchSize: 7 }]));
    const r = eu.databases[0].report![0];
    expect(r.leaves.map((l) => l.table)).toEqual(["public.ml_eu_high_0", "public.ml_eu_high_1", "public.ml_eu_low"]);
    expect([r.deleted, r.archived]).toEqual([oldIds.length, oldIds.length]);
    expect(await ids("SELECT id FROM ml_archive ORDER BY id")).toEqual(oldIds);
    expect(await ids("SELECT id FROM ml_archive_rest")).toEqual([]);
    expect(await ids("SELECT id FROM ml WHERE region <> 'eu' AND created_at < now() - interval '100 days'")).toHaveLength(25);

    // The root covers every leaf at every depth.
    const all = await runTask(purgeTask, env([{ table: "ml", timestampColumn: "created_at", olderThanDays: 100 }]));
    expect(all.databases[0].report![0].deleted).toBe(25);
    const after = await adminQuery<{ t: string; old: string; fresh: string }>(
      `SELECT tableoid::regclass::text AS t, count(*) FILTER (WHERE created_at < now() - interval '100 days') AS old,
              count(*) FILTER (WHERE created_at >= now() - interval '100 days') AS fresh FROM ml GROUP BY 1 ORDER BY 1`,
      [],
      db.name,
    );
    expect(after.rows).toEqual(before.rows.map((b) => ({ ...b, old: "0" })));
  });

  it("an inheritance parent covers itself and its children; rows at the same ctid in each child are told apart; a child's own columns are archived", async () => {
    await sql(`
      CREATE TABLE logs (id int, created_at timestamptz NOT NULL, note text);
      CREATE TABLE logs_a () INHERITS (logs);
      CREATE TABLE logs_b (host text) INHERITS (logs);
      CREATE TABLE logs_b_sub () INHERITS (logs_b);
      -- Same positions, opposite ages: (0,1) is old in logs_a and logs_b_sub, fresh in logs and logs_b.
      INSERT INTO logs VALUES (1, now() - interval '1 day', 'p-fresh'), (2, now() - interval '50 days', 'p-old');
      INSERT INTO logs_a VALUES (11, now() - interval '50 days', 'a-old'), (12, now() - interval '1 day', 'a-fresh');
      INSERT INTO logs_b VALUES (21, now() - interval '1 day', 'b-fresh', 'h1'), (22, now() - interval '50 days', 'b-old', 'h2');
      INSERT INTO logs_b_sub VALUES (31, now() - interval '50 days', 'sub-old', 'h3'), (32, now() - interval '1 day', 'sub-fresh', 'h4');
      CREATE TABLE logs_archive (id int, created_at timestamptz, note text);`);
    const rule = { table: "logs", timestampColumn: "created_at", olderThanDays: 30, archiveTable: "logs_archive" };
    // logs_b's own column "host" would be lost: refused before any row is touched.
    expect(await refused([rule])).toBe('PURGE_RULES[0].archiveTable: table "public.logs_archive" has no column "host" of public.logs_b');
    expect(await ids("SELECT id FROM logs ORDER BY id")).toEqual([1, 2, 11, 12, 21, 22, 31, 32]);

    // A rule naming one child covers that child and what is under it only.
    const child = await runTask(purgeTask, env([{ table: "logs_b", timestampColumn: "created_at", olderThanDays: 30 }]));
    expect(child.databases[0].report![0].leaves).toEqual([
      { table: "public.logs_b", deleted: 1 },
      { table: "public.logs_b_sub", deleted: 1 },
    ]);
    expect(await ids("SELECT id FROM logs ORDER BY id")).toEqual([1, 2, 11, 12, 21, 32]);

    await sql("ALTER TABLE logs_archive ADD COLUMN host text; INSERT INTO logs_b VALUES (23, now() - interval '60 days', 'b-old-2', 'h5')");
    const parent = await runTask(purgeTask, env([rule]));
    expect(parent.databases[0].report![0].leaves).toEqual([
      { table: "public.logs", deleted: 1 },
      { table: "public.logs_a", deleted: 1 },
      { table: "public.logs_b", deleted: 1 },
      { table: "public.logs_b_sub", deleted: 0 },
    ]);
    expect(await ids("SELECT id FROM logs ORDER BY id")).toEqual([1, 12, 21, 32]);
    const archived = await adminQuery("SELECT id, note, host FROM logs_archive ORDER BY id", [], db.name);
    expect(archived.rows).toEqual([
      { id: 2, note: "p-old", host: null },
      { id: 11, note: "a-old", host: null },
      { id: 23, note: "b-old-2", host: "h5" },
    ]);
  });

  it("with where on a partitioned table, deletes only matching old rows in each partition", async () => {
    await sql(`
      CREATE TABLE jobs (id int, region text, created_at timestamptz NOT NULL, status text) PARTITION BY LIST (region);
      CREATE TABLE jobs_eu PARTITION OF jobs FOR VALUES IN ('eu');
      CREATE TABLE jobs_us PARTITION OF jobs FOR VALUES IN ('us');
      INSERT INTO jobs VALUES (1, 'eu', now() - interval '400 days', 'completed'), (2, 'eu', now() - interval '400 days', 'running'),
                              (3, 'us', now() - interval '400 days', 'running'), (4, 'us', now() - interval '400 days', 'completed'),
                              (5, 'us', now() - interval '1 day', 'completed');`);
    const result = await runTask(purgeTask, env([{ table: "jobs", timestampColumn: "created_at", olderThanDays: 90, where: "status = 'completed'", batchSize: 1 }]));
    expect(result.databases[0].report![0].deleted).toBe(2);
    expect(await ids("SELECT id FROM jobs ORDER BY id")).toEqual([2, 3, 5]);
  });

  it("a timestamp column without time zone is read in the rule's columnTimezone: exactly the rows older than the cut-off go, east or west of UTC, whatever the database's zone", async () => {
    for (const [zone, database] of [["America/Los_Angeles", "Asia/Tokyo"], ["Asia/Tokyo", "America/Los_Angeles"], ["America/Los_Angeles", "UTC"]]) {
      // Rows 1.5 h to 48.5 h old, written as local wall-clock times of the writers' zone.
      await adminQuery(`ALTER DATABASE "${db.name}" SET timezone = '${database}'`, [], "postgres");
      await sql(`
        DROP TABLE IF EXISTS local_times;
        CREATE TABLE local_times (age_hours numeric, created_at timestamp NOT NULL);
        INSERT INTO local_times SELECT h + 0.5, (now() - make_interval(mins => ((h + 0.5) * 60)::int)) AT TIME ZONE '${zone}' FROM generate_series(1, 48) h;`);
      const result = await runTask(purgeTask, env([{ table: "local_times", timestampColumn: "created_at", olderThanDays: 1, columnTimezone: zone }]));
      expect([zone, result.databases[0].report![0].deleted]).toEqual([zone, 25]);
      expect([zone, await ids("SELECT min(age_hours) AS id FROM local_times"), await ids("SELECT max(age_hours) AS id FROM local_times")]).toEqual([zone, [1.5], [23.5]]);
    }
    await adminQuery(`ALTER DATABASE "${db.name}" RESET timezone`, [], "postgres");
  });

  it("a column that is not one timestamp or date (an array or a range of them) is refused before any row is touched", async () => {
    await sql(`
      CREATE TABLE stamps (at timestamptz[] NOT NULL, span daterange NOT NULL);
      INSERT INTO stamps VALUES (ARRAY[now() - interval '400 days'], daterange(current_date - 400, current_date - 399));`);
    expect(await refused([{ table: "stamps", timestampColumn: "at", olderThanDays: 1 }])).toMatch(/PURGE_RULES\[0\]\.timestampColumn: column "at" is timestamp with time zone\[\], not a timestamp or date/);
    expect(await refused([{ table: "stamps", timestampColumn: "span", olderThanDays: 1 }])).toMatch(/PURGE_RULES\[0\]\.timestampColumn: column "span" is daterange, not a timestamp or date/);
    expect(await ids("SELECT count(*) AS id FROM stamps")).toEqual([1]);
  });

  it("a table without primary key: of identical duplicate rows, the old ones all go and are archived once each, the fresh ones all stay", async () => {
    await sql(`
      CREATE TABLE clicks (created_at date NOT NULL, url text);
      CREATE TABLE clicks_archive (LIKE clicks, archived_at timestamptz DEFAULT now());
      INSERT INTO clicks SELECT current_date - 100, '/same' FROM generate_series(1, 5);
      INSERT INTO clicks SELECT current_date - 1, '/same' FROM generate_series(1, 3);`);
    const result = await runTask(purgeTask, env([{ table: "clicks", timestampColumn: "created_at", olderThanDays: 30, archiveTable: "clicks_archive", batchSize: 2 }]));
    expect([result.databases[0].report![0].deleted, result.databases[0].report![0].archived, result.databases[0].report![0].batches]).toEqual([5, 5, 3]);
    const left = await adminQuery<{ d: number; n: string }>("SELECT current_date - created_at AS d, count(*) AS n FROM clicks GROUP BY 1", [], db.name);
    expect(left.rows).toEqual([{ d: 1, n: "3" }]);
    const archived = await adminQuery<{ d: number; n: string; stamped: boolean }>(
      "SELECT current_date - created_at AS d, count(*) AS n, bool_and(archived_at IS NOT NULL) AS stamped FROM clicks_archive GROUP BY 1",
      [],
      db.name,
    );
    expect(archived.rows).toEqual([{ d: 100, n: "5", stamped: true }]);
  });

  it("an archive that does not take every deleted row rolls the batch back and fails the run; nothing is lost", async () => {
    await sql(`
      CREATE TABLE orders (id int PRIMARY KEY, created_at timestamptz NOT NULL);
      CREATE TABLE orders_archive (LIKE orders);
      CREATE FUNCTION skip_odd() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id % 2 = 1 THEN RETURN NULL; END IF; RETURN NEW; END $$;
      CREATE TRIGGER skip_odd BEFORE INSERT ON orders_archive FOR EACH ROW EXECUTE FUNCTION skip_odd();
      INSERT INTO orders SELECT g, now() - interval '100 days' FROM generate_series(1, 4) g;`);
    await expect(runTask(purgeTask, env([{ table: "orders", timestampColumn: "created_at", olderThanDays: 30, archiveTable: "orders_archive" }]))).rejects.toThrow(
      "PURGE_RULES[0].archiveTable: public.orders_archive took 2 of the 4 row(s) deleted from public.orders (a trigger or rule on it?); the batch was rolled back",
    );
    expect(await ids("SELECT id FROM orders ORDER BY id")).toEqual([1, 2, 3, 4]);
    expect(await ids("SELECT id FROM orders_archive")).toEqual([]);
  });

  describe("shapes that cannot be purged are refused with one line naming the rule, before any row is touched", () => {
    beforeAll(async () => {
      await sql(`
        CREATE TABLE src (id int, region text, created_at timestamptz NOT NULL);
        INSERT INTO src VALUES (1, 'eu', now() - interval '400 days');
        CREATE VIEW src_v AS SELECT * FROM src;
        CREATE MATERIALIZED VIEW src_mv AS SELECT * FROM src;
        CREATE SEQUENCE src_seq;
        CREATE INDEX src_idx ON src (created_at);
        CREATE TYPE src_type AS (id int, created_at timestamptz);
        CREATE TABLE src_archive (LIKE src);`);
    });
    const rule = (table: string, extra: object = {}) => ({ table, timestampColumn: "created_at", olderThanDays: 30, ...extra });

    it("views, materialized views, sequences, indexes, composite types and missing tables", async () => {
      const ok = rule("src");
      expect(await refused([ok, rule("src_v")])).toBe("PURGE_RULES[1].table: public.src_v is a view; purge acts on tables only");
      expect(await refused([rule("src_mv")])).toBe("PURGE_RULES[0].table: public.src_mv is a materialized view; purge acts on tables only");
      expect(await refused([rule("src_seq")])).toBe("PURGE_RULES[0].table: public.src_seq is a sequence; purge acts on tables only");
      expect(await refused([rule("src_idx")])).toBe("PURGE_RULES[0].table: public.src_idx is an index; purge acts on tables only");
      expect(await refused([rule("src_type")])).toBe("PURGE_RULES[0].table: public.src_type is a composite type; purge acts on tables only");
      expect(await refused([ok, rule("src_gone")])).toBe(`PURGE_RULES[1].table: table "public.src_gone" does not exist in database ${db.name}`);
      expect(await refused([rule("src", { archiveTable: "src_v" })])).toBe("PURGE_RULES[0].archiveTable: public.src_v is a view; purge archives into tables only");
      expect(await ids("SELECT id FROM src")).toEqual([1]);
    });

    it("foreign tables, also as a partition, and as the archive table (postgres_fdw)", async () => {
      await sql(`
        CREATE EXTENSION IF NOT EXISTS postgres_fdw;
        CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '${PG_HOST}', port '${PG_PORT}', dbname '${db.name}');
        CREATE USER MAPPING FOR CURRENT_USER SERVER loopback OPTIONS (user 'postgres');
        CREATE FOREIGN TABLE src_remote (id int, region text, created_at timestamptz NOT NULL) SERVER loopback OPTIONS (table_name 'src');
        CREATE TABLE mixed (id int, region text, created_at timestamptz NOT NULL) PARTITION BY LIST (region);
        CREATE TABLE mixed_eu PARTITION OF mixed FOR VALUES IN ('eu');
        CREATE FOREIGN TABLE mixed_remote PARTITION OF mixed FOR VALUES IN ('ap') SERVER loopback OPTIONS (table_name 'src');
        INSERT INTO mixed_eu VALUES (1, 'eu', now() - interval '400 days');`);
      // The loopback really reaches the rows: refusing it is not for want of a connection.
      expect(await ids("SELECT id FROM src_remote")).toEqual([1]);
      expect(await refused([rule("src_remote")])).toBe("PURGE_RULES[0].table: public.src_remote is a foreign table; purge acts on tables only");
      expect(await refused([rule("src"), rule("mixed")])).toBe("PURGE_RULES[1].table: public.mixed_remote (under public.mixed) is a foreign table; purge acts on tables only");
      expect(await refused([rule("src", { archiveTable: "src_remote" })])).toBe("PURGE_RULES[0].archiveTable: public.src_remote is a foreign table; purge archives into tables only");
      expect(await ids("SELECT id FROM src")).toEqual([1]);
      expect(await ids("SELECT id FROM mixed_eu")).toEqual([1]);
    });

    it("an archive table that is, or holds, or lies under the purged table", async () => {
      await sql(`
        CREATE TABLE ev (id int, region text, created_at timestamptz NOT NULL) PARTITION BY LIST (region);
        CREATE TABLE ev_eu PARTITION OF ev FOR VALUES IN ('eu');
        CREATE TABLE ev_old PARTITION OF ev DEFAULT;
        INSERT INTO ev VALUES (1, 'eu', now() - interval '400 days');`);
      expect(await refused([rule("ev", { archiveTable: "ev" })])).toBe(
        "PURGE_RULES[0].archiveTable: public.ev and public.ev share public.ev; archived rows would be purged again (use a separate table)",
      );
      expect(await refused([rule("ev", { archiveTable: "ev_old" })])).toBe(
        "PURGE_RULES[0].archiveTable: public.ev_old and public.ev share public.ev_old; archived rows would be purged again (use a separate table)",
      );
      expect(await refused([rule("ev_eu", { archiveTable: "ev" })])).toBe(
        "PURGE_RULES[0].archiveTable: public.ev and public.ev_eu share public.ev_eu; archived rows would be purged again (use a separate table)",
      );
      expect(await ids("SELECT id FROM ev")).toEqual([1]);
    });
  });
});
