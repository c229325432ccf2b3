/**
 * Purge and foreign keys ON DELETE NO ACTION / RESTRICT, against real PostgreSQL: an old row another
 * row still references is kept (neither deleted nor archived), every other old row goes, and the run
 * counts the rows kept by referencing table and constraint. Composite keys, a table referencing itself
 * (a parent and its old child both go in one run), references from and to partitioned tables, and
 * deferrable constraints.
 */
import { describe, expect, it } from "vitest";
import { runTask } from "../tasks/lib/runtime";
import { purgeTask, type RuleReport } from "../tasks/purge";
import { purgeDatabase } from "./helpers/purge";

describe("purge keeps rows still referenced and purges the rest", () => {
  const { sql, env, ids } = purgeDatabase("mr_purge_refs");
  const run = async (rules: unknown): Promise<RuleReport[]> => (await runTask(purgeTask, env(rules))).databases[0].report!;

  it("composite NO ACTION and RESTRICT references from two schemas, with an archive: the referenced rows stay (not archived, run after run), the others move", async () => {
    await sql(`
      CREATE TABLE accounts (id int, region text, created_at timestamptz NOT NULL, PRIMARY KEY (id, region));
      CREATE TABLE accounts_archive (LIKE accounts);
      CREATE TABLE orders (id int PRIMARY KEY, account_id int, region text, FOREIGN KEY (account_id, region) REFERENCES accounts);
      CREATE SCHEMA billing;
      CREATE TABLE billing.holds (id int PRIMARY KEY, acct int, reg text, FOREIGN KEY (acct, reg) REFERENCES accounts (id, region) ON DELETE RESTRICT);
      INSERT INTO accounts SELECT i, 'eu', now() - interval '3 years' FROM generate_series(1, 5) i;
      INSERT INTO accounts VALUES (6, 'eu', now()), (1, 'us', now() - interval '3 years');
      -- (1,'eu') by an order, (2,'eu') by a hold, (3,'eu') by both; (1,'us') only shares an id with a referenced row.
      INSERT INTO orders VALUES (10, 1, 'eu'), (11, 3, 'eu'), (12, NULL, 'us');
      INSERT INTO billing.holds VALUES (20, 2, 'eu'), (21, 3, 'eu');`);
    const rule = { table: "accounts", timestampColumn: "created_at", olderThanDays: 365, archiveTable: "accounts_archive", batchSize: 2 };
    const [report] = await run([rule]);
    expect([report.deleted, report.archived, report.complete, report.kept]).toEqual([3, 3, true, 3]);
    expect(report.keptBy).toEqual([
      { table: "billing.holds", constraint: "holds_acct_reg_fkey", rows: 2 },
      { table: "public.orders", constraint: "orders_account_id_region_fkey", rows: 2 },
    ]);
    const left = "SELECT id FROM accounts ORDER BY region, id";
    expect(await ids(left)).toEqual([1, 2, 3, 6]);
    expect(await ids("SELECT id FROM accounts_archive ORDER BY region, id")).toEqual([4, 5, 1]);
    expect(await ids("SELECT id FROM orders ORDER BY id")).toEqual([10, 11, 12]);
    expect(await ids("SELECT id FROM billing.holds ORDER BY id")).toEqual([20, 21]);

    // The next run neither fails nor archives the kept rows twice; once unreferenced, a row goes.
    const [again] = await run([rule]);
    expect([again.deleted, again.kept]).toEqual([0, 3]);
    await sql(`DELETE FROM orders WHERE id = 10; DELETE FROM billing.holds WHERE id = 21`);
    const [freed] = await run([rule]);
    expect([freed.deleted, freed.archived, freed.kept]).toEqual([1, 1, 2]);
    expect(await ids(left)).toEqual([2, 3, 6]);
    expect(await ids("SELECT id FROM accounts_archive ORDER BY id")).toEqual([1, 1, 4, 5]);
  });

  it("a table referencing itself: an old parent and its old child both go in one run; a chain held by a fresh row stays whole", async () => {
    await sql(`
      CREATE TABLE comments (id int PRIMARY KEY, parent_id int REFERENCES comments, created_at timestamptz NOT NULL);
      INSERT INTO comments VALUES
        (1, NULL, now() - interval '100 days'), (2, 1, now() - interval '99 days'), (3, 2, now() - interval '98 days'),
        (4, NULL, now() - interval '100 days'), (5, 4, now() - interval '1 day'),
        (6, NULL, now() - interval '100 days'), (7, 6, now() - interval '99 days'), (8, 7, now()),
        (9, NULL, now());`);
    const [report] = await run([{ table: "comments", timestampColumn: "created_at", olderThanDays: 30, batchSize: 1 }]);
    expect([report.deleted, report.kept, report.complete]).toEqual([3, 3, true]);
    expect(report.keptBy).toEqual([{ table: "public.comments", constraint: "comments_parent_id_fkey", rows: 3 }]);
    expect(await ids("SELECT id FROM comments ORDER BY id")).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it("references from a partitioned table to a partitioned table (rule on the table or on one partition): every partition's rows are read", async () => {
    await sql(`
      CREATE TABLE tenants (id int, region text, created_at timestamptz NOT NULL, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
      CREATE TABLE tenants_eu PARTITION OF tenants FOR VALUES IN ('eu');
      CREATE TABLE tenants_us PARTITION OF tenants FOR VALUES IN ('us');
      CREATE TABLE usage (id int, tenant_id int, region text, day date) PARTITION BY RANGE (day);
      CREATE TABLE usage_2025 PARTITION OF usage FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      CREATE TABLE usage_2026 PARTITION OF usage FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      ALTER TABLE usage ADD FOREIGN KEY (tenant_id, region) REFERENCES tenants;
      INSERT INTO tenants SELECT i, r, now() - interval '2 years' FROM generate_series(1, 3) i, (VALUES ('eu'), ('us')) v(r);
      INSERT INTO usage VALUES (1, 1, 'eu', '2025-06-01'), (2, 2, 'us', '2026-06-01'), (3, 3, 'us', '2025-02-01');`);
    const [eu] = await run([{ table: "tenants_eu", timestampColumn: "created_at", olderThanDays: 365 }]);
    expect([eu.deleted, eu.kept, eu.keptBy]).toEqual([2, 1, [{ table: "public.usage", constraint: "usage_tenant_id_region_fkey", rows: 1 }]]);
    const [all] = await run([{ table: "tenants", timestampColumn: "created_at", olderThanDays: 365 }]);
    expect([all.deleted, all.kept, all.keptBy]).toEqual([1, 3, [{ table: "public.usage", constraint: "usage_tenant_id_region_fkey", rows: 3 }]]);
    expect((await sql("SELECT id || region AS t FROM tenants ORDER BY 1")).rows.map((r) => r.t)).toEqual(["1eu", "2us", "3us"]);
    expect(await ids("SELECT id FROM usage ORDER BY id")).toEqual([1, 2, 3]);
  });

  it("a deferrable reference (initially deferred or immediate) keeps its rows the same way", async () => {
    await sql(`
      CREATE TABLE users (id int PRIMARY KEY, created_at timestamptz NOT NULL);
      CREATE TABLE invites (id int, user_id int REFERENCES users DEFERRABLE INITIALLY DEFERRED);
      CREATE TABLE grants (id int, user_id int REFERENCES users DEFERRABLE INITIALLY IMMEDIATE);
      INSERT INTO users SELECT i, now() - interval '2 years' FROM generate_series(1, 4) i;
      INSERT INTO invites VALUES (1, 1);
      INSERT INTO grants VALUES (1, 2);`);
    const [report] = await run([{ table: "users", timestampColumn: "created_at", olderThanDays: 365 }]);
    expect([report.deleted, report.kept]).toEqual([2, 2]);
    expect(report.keptBy.map((k) => k.constraint)).toEqual(["grants_user_id_fkey", "invites_user_id_fkey"]);
    expect(await ids("SELECT id FROM users ORDER BY id")).toEqual([1, 2]);
  });
  it("a referencing row committed after a batch's snapshot fails that batch's check; the batch is tried again and keeps the row", async () => {
    // The where calls a function that, on row 1, has another session (dblink) commit a row referencing it, once: between the
    // statement's snapshot (which the pick's NOT EXISTS reads) and the row's lock, as a writer racing the purge would.
    await sql(`
      CREATE EXTENSION IF NOT EXISTS dblink;
      CREATE TABLE devices (id int PRIMARY KEY, created_at timestamptz NOT NULL);
      CREATE TABLE readings (id int, device_id int REFERENCES devices);
      CREATE FUNCTION late_reading(device int) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
          IF device = 1 AND NOT EXISTS (SELECT 1 FROM readings) THEN
            PERFORM dblink_exec('host=127.0.0.1 user=postgres dbname=' || current_database(), 'INSERT INTO readings VALUES (1, 1)');
          END IF;
          RETURN true;
        END $$;
      INSERT INTO devices SELECT i, now() - interval '2 years' FROM generate_series(1, 3) i;`);
    const [report] = await run([{ table: "devices", timestampColumn: "created_at", olderThanDays: 365, where: "late_reading(id)" }]);
    expect([report.deleted, report.kept]).toEqual([2, 1]);
    expect(await ids("SELECT id FROM devices")).toEqual([1]);
    expect(await ids("SELECT id FROM readings")).toEqual([1]);
  });
});
