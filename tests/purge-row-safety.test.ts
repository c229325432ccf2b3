/**
 * The purge's promise against real PostgreSQL: only rows older than the rule go, never fresh ones,
 * and with an archive table a row is either in the table or in the archive, unchanged. A rule that
 * cannot keep that is refused before any row is touched, with one line naming the rule: an archive
 * whose column types would change the values, references and triggers that change other rows, a
 * timestamp without time zone whose writers' zone is not stated, and a where that is valid on the
 * rule's table but not on the statement run on one of its partitions or children. A date goes only
 * once its whole day is over.
 */
import { describe, expect, it } from "vitest";
import { runTask } from "../tasks/lib/runtime";
import { purgeTask } from "../tasks/purge";
import { adminQuery } from "./helpers/pg";
import { purgeDatabase } from "./helpers/purge";

describe("purge keeps fresh rows and archived values", () => {
  const t = purgeDatabase("ps_purge_safety");
  const { sql, env, refused } = t;
  const rows = async (text: string) => (await adminQuery(text, [], t.db().name)).rows;

  describe("an archive table whose columns would change the values", () => {
    it("narrower types (numeric(12,0) for numeric(12,2), date for timestamptz) are refused before any row is deleted", async () => {
      await sql(`
        CREATE TABLE payments (id int PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric(12,2), memo text, paid_at timestamptz);
        CREATE TABLE payments_archive (id int PRIMARY KEY, created_at date, amount numeric(12,0), memo varchar, paid_at date);
        INSERT INTO payments VALUES (1, now() - interval '400 days', 1234.56, 'old', now() - interval '399 days 13 hours'),
                                    (2, now() - interval '10 days', 99.99, 'fresh', now());`);
      const rule = { table: "payments", timestampColumn: "created_at", olderThanDays: 365, archiveTable: "payments_archive" };
      expect(await refused([rule])).toBe(
        'PURGE_RULES[0].archiveTable: table "public.payments_archive" would not keep the values unchanged (the copy is cast: rounded, cut or turned into another type): ' +
          '"created_at" is date there, timestamp with time zone in public.payments, "amount" is numeric(12,0) there, numeric(12,2) in public.payments, ' +
          '"paid_at" is date there, timestamp with time zone in public.payments; give those columns the purged table\'s types',
      );
      expect(await rows("SELECT id, amount::text FROM payments ORDER BY id")).toEqual([
        { id: 1, amount: "1234.56" },
        { id: 2, amount: "99.99" },
      ]);
      expect(await rows("SELECT * FROM payments_archive")).toEqual([]);
    });

    it("wider types keep every value: the old row moves unchanged, the fresh one stays", async () => {
      await sql(`
        CREATE TABLE payments_wide (id bigint, created_at timestamptz, amount numeric(14,3), memo text, paid_at timestamptz(6));
        DROP TABLE IF EXISTS payments_narrow_text;
        CREATE TABLE payments_narrow_text (id int, created_at timestamptz, amount numeric, memo varchar(3), paid_at timestamptz);`);
      const rule = { table: "payments", timestampColumn: "created_at", olderThanDays: 365 };
      // bigint for int is another type: refused; so is a varchar(3) that would cut text.
      expect(await refused([{ ...rule, archiveTable: "payments_wide" }])).toMatch(/^PURGE_RULES\[0\]\.archiveTable: .*"id" is bigint there, integer in public\.payments;/);
      expect(await refused([{ ...rule, archiveTable: "payments_narrow_text" }])).toMatch(/"memo" is character varying\(3\) there, text in public\.payments;/);
      await sql(`ALTER TABLE payments_wide ALTER COLUMN id TYPE int`);
      const result = await runTask(purgeTask, env([{ ...rule, archiveTable: "payments_wide" }]));
      expect([result.databases[0].report![0].deleted, result.databases[0].report![0].archived]).toEqual([1, 1]);
      expect(await rows("SELECT id, amount::text, memo FROM payments ORDER BY id")).toEqual([{ id: 2, amount: "99.99", memo: "fresh" }]);
      expect(await rows("SELECT id, amount::text, memo, paid_at - created_at = interval '11 hours' AS paid_kept FROM payments_wide")).toEqual([
        { id: 1, amount: "1234.560", memo: "old", paid_kept: true },
      ]);
    });
  });

  describe("generated columns are archived like any other", () => {
    it("a generated column's values go into the archive's plain column; an archive without it, or with it generated, is refused", async () => {
      await sql(`
        CREATE TABLE ev (id int PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric(12,2), cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED);
        CREATE TABLE ev_arch (id int PRIMARY KEY, created_at timestamptz, amount numeric(12,2), cents bigint);
        CREATE TABLE ev_arch_short (id int PRIMARY KEY, created_at timestamptz, amount numeric(12,2));
        CREATE TABLE ev_arch_gen (id int PRIMARY KEY, created_at timestamptz, amount numeric(12,2), cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED);
        INSERT INTO ev (id, created_at, amount) VALUES (1, now() - interval '400 days', 12.34), (2, now() - interval '1 day', 5.00);`);
      const rule = { table: "ev", timestampColumn: "created_at", olderThanDays: 365 };
      expect(await refused([{ ...rule, archiveTable: "ev_arch_short" }])).toBe('PURGE_RULES[0].archiveTable: table "public.ev_arch_short" has no column "cents" of public.ev');
      expect(await refused([{ ...rule, archiveTable: "ev_arch_gen" }])).toBe('PURGE_RULES[0].archiveTable: table "public.ev_arch_gen" has no column "cents" of public.ev');
      const result = await runTask(purgeTask, env([{ ...rule, archiveTable: "ev_arch" }]));
      expect([result.databases[0].report![0].deleted, result.databases[0].report![0].archived]).toEqual([1, 1]);
      expect(await rows("SELECT id, amount::text, cents::int FROM ev_arch")).toEqual([{ id: 1, amount: "12.34", cents: 1234 }]);
      expect(await rows("SELECT id FROM ev")).toEqual([{ id: 2 }]);
    });
  });

  describe("a DELETE that would change other rows", () => {
    it("ON DELETE CASCADE: refused, and the fresh invoices of an old account stay (the repro)", async () => {
      await sql(`
        CREATE TABLE accounts (id int PRIMARY KEY, created_at timestamptz NOT NULL);
        CREATE TABLE accounts_archive (LIKE accounts INCLUDING ALL);
        CREATE TABLE invoices (id int PRIMARY KEY, account_id int NOT NULL REFERENCES accounts ON DELETE CASCADE, created_at timestamptz NOT NULL, amount numeric);
        INSERT INTO accounts VALUES (1, now() - interval '3 years'), (2, now() - interval '10 days');
        INSERT INTO invoices VALUES (10, 1, now() - interval '1 day', 500), (11, 1, now() - interval '2 hours', 700), (20, 2, now(), 100);`);
      const rule = { table: "accounts", timestampColumn: "created_at", olderThanDays: 365, archiveTable: "accounts_archive" };
      expect(await refused([rule])).toBe(
        "PURGE_RULES[0].table: deleting old rows of public.accounts would also delete or change rows of other tables whatever their age: " +
          "public.invoices references it ON DELETE CASCADE (invoices_account_id_fkey); purge refuses it (with ON DELETE NO ACTION or RESTRICT a referenced row is kept and the run counts it)",
      );
      expect((await rows("SELECT id FROM invoices ORDER BY id")).map((r) => r.id)).toEqual([10, 11, 20]);
      expect((await rows("SELECT id FROM accounts ORDER BY id")).map((r) => r.id)).toEqual([1, 2]);
      expect(await rows("SELECT * FROM accounts_archive")).toEqual([]);
    });

    it("SET NULL from another schema and CASCADE from a partitioned table, onto a partition of the rule's table: every one named", async () => {
      await sql(`
        CREATE TABLE tenants (id int, region text, created_at timestamptz NOT NULL, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
        CREATE TABLE tenants_eu PARTITION OF tenants FOR VALUES IN ('eu');
        CREATE SCHEMA billing;
        CREATE TABLE billing.contacts (id int, tenant_id int, region text, FOREIGN KEY (tenant_id, region) REFERENCES tenants ON DELETE SET NULL);
        CREATE TABLE usage (id int, tenant_id int, region text, day date) PARTITION BY RANGE (day);
        CREATE TABLE usage_2026 PARTITION OF usage FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        ALTER TABLE usage ADD FOREIGN KEY (tenant_id, region) REFERENCES tenants ON DELETE CASCADE;
        INSERT INTO tenants VALUES (1, 'eu', now() - interval '3 years');
        INSERT INTO billing.contacts VALUES (1, 1, 'eu');
        INSERT INTO usage VALUES (1, 1, 'eu', '2026-11-29');`);
      for (const table of ["tenants", "tenants_eu"]) {
        expect(await refused([{ table, timestampColumn: "created_at", olderThanDays: 30 }])).toMatch(
          /^PURGE_RULES\[0\]\.table: deleting old rows of public\.tenants(_eu)? would also .*: billing\.contacts references it ON DELETE SET NULL \(contacts_tenant_id_region_fkey\), public\.usage references it ON DELETE CASCADE \(usage_tenant_id_region_fkey\);/,
        );
      }
      expect(await rows("SELECT (SELECT count(*) FROM tenants)::int AS t, (SELECT count(tenant_id) FROM billing.contacts)::int AS c, (SELECT count(*) FROM usage)::int AS u")).toEqual([{ t: 1, c: 1, u: 1 }]);
    });

    it("a reference without a delete action is accepted: unreferenced old rows go; a referenced old row is kept and counted (tests/purge-references.test.ts)", async () => {
      await sql(`
        CREATE TABLE customers (id int PRIMARY KEY, created_at timestamptz NOT NULL);
        CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers);
        INSERT INTO customers VALUES (1, now() - interval '3 years'), (2, now() - interval '3 years'), (3, now());`);
      const rule = { table: "customers", timestampColumn: "created_at", olderThanDays: 365 };
      const result = await runTask(purgeTask, env([rule]));
      expect(result.databases[0].report![0].deleted).toBe(2);
      expect((await rows("SELECT id FROM customers")).map((r) => r.id)).toEqual([3]);

      await sql(`INSERT INTO customers VALUES (4, now() - interval '3 years'), (5, now() - interval '3 years'); INSERT INTO orders VALUES (40, 4);`);
      const [report] = (await runTask(purgeTask, env([rule]))).databases[0].report!;
      expect([report.deleted, report.kept, report.keptBy]).toEqual([1, 1, [{ table: "public.orders", constraint: "orders_customer_id_fkey", rows: 1 }]]);
      expect((await rows("SELECT id FROM customers ORDER BY id")).map((r) => r.id)).toEqual([3, 4]);
      expect((await rows("SELECT id FROM orders")).map((r) => r.id)).toEqual([40]);
    });

    it("a DELETE trigger is refused unless the rule lists it in allowTriggers; a rewrite rule ON DELETE is refused", async () => {
      await sql(`
        CREATE TABLE sessions (id int PRIMARY KEY, user_id int, created_at timestamptz NOT NULL);
        CREATE TABLE tokens (id int PRIMARY KEY, user_id int, created_at timestamptz NOT NULL);
        CREATE FUNCTION drop_tokens() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM tokens WHERE user_id = OLD.user_id; RETURN OLD; END $$;
        CREATE TRIGGER drop_tokens AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION drop_tokens();
        INSERT INTO sessions VALUES (1, 7, now() - interval '100 days'), (2, 8, now());
        INSERT INTO tokens VALUES (1, 7, now() - interval '1 hour'), (2, 8, now());`);
      const rule = { table: "sessions", timestampColumn: "created_at", olderThanDays: 30 };
      expect(await refused([rule])).toBe(
        'PURGE_RULES[0].allowTriggers: DELETE trigger "drop_tokens" of public.sessions would fire for each purged row and may change or delete other rows whatever their age; list it in allowTriggers to accept that',
      );
      expect(await rows("SELECT (SELECT count(*) FROM sessions)::int AS s, (SELECT count(*) FROM tokens)::int AS t")).toEqual([{ s: 2, t: 2 }]);
      // Listed: the owner accepts what the trigger does.
      const result = await runTask(purgeTask, env([{ ...rule, allowTriggers: ["drop_tokens"] }]));
      expect(result.databases[0].report![0].deleted).toBe(1);
      expect((await rows("SELECT id FROM tokens")).map((r) => r.id)).toEqual([2]);

      await sql(`
        CREATE TABLE notes (id int PRIMARY KEY, created_at timestamptz NOT NULL);
        CREATE RULE keep_notes AS ON DELETE TO notes DO INSTEAD NOTHING;
        INSERT INTO notes VALUES (1, now() - interval '100 days');`);
      expect(await refused([{ ...rule, table: "notes" }])).toBe('PURGE_RULES[0].table: rule "keep_notes" ON DELETE of public.notes would rewrite the purge\'s DELETE; purge refuses it');
    });
  });

  describe("a timestamp without time zone is read in the zone it was written in", () => {
    const repro = `
      DROP TABLE IF EXISTS events;
      CREATE TABLE events (id int PRIMARY KEY, created_at timestamp NOT NULL, note text);
      SET TimeZone = 'America/Los_Angeles';
      INSERT INTO events VALUES (1, localtimestamp - interval '30 hours', 'older than 1 day'), (2, localtimestamp - interval '20 hours', '20 h old'),
                                (3, localtimestamp - interval '17 hours', '17 h old'), (4, localtimestamp, 'new');`;
    const rule = { table: "events", timestampColumn: "created_at", olderThanDays: 1 };

    it("without columnTimezone the rule is refused, naming the key, and every row stays (the database's zone is UTC, the writers' is Los Angeles)", async () => {
      await sql(repro);
      expect(await refused([rule])).toBe(
        'PURGE_RULES[0].columnTimezone: column "created_at" of public.events is timestamp without time zone, which holds no zone: state the IANA zone its values are written in (the writers\' TimeZone, such as UTC or America/Los_Angeles); read in another zone, rows would go up to its offset early',
      );
      expect((await rows("SELECT id FROM events ORDER BY id")).map((r) => r.id)).toEqual([1, 2, 3, 4]);
    });

    it("with columnTimezone only the row older than a day goes", async () => {
      await sql(repro);
      const result = await runTask(purgeTask, env([{ ...rule, columnTimezone: "America/Los_Angeles" }]));
      expect(result.databases[0].report![0].deleted).toBe(1);
      expect((await rows("SELECT id FROM events ORDER BY id")).map((r) => r.id)).toEqual([2, 3, 4]);
    });

    it("columnTimezone on a timestamptz column, or a zone PostgreSQL does not know, is refused; a malformed zone is refused as a setting", async () => {
      await sql("CREATE TABLE stamped (id int, created_at timestamptz NOT NULL); INSERT INTO stamped VALUES (1, now() - interval '3 days')");
      expect(await refused([{ ...rule, table: "stamped", columnTimezone: "UTC" }])).toBe(
        'PURGE_RULES[0].columnTimezone: column "created_at" of public.stamped is timestamp with time zone, which holds instants; a zone does not apply (remove columnTimezone)',
      );
      expect(await refused([{ ...rule, columnTimezone: "PST" }])).toMatch(/^invalid setting PURGE_RULES\[0\]\.columnTimezone: must be an IANA timezone/);
      expect((await rows("SELECT count(*)::int AS n FROM stamped"))[0].n).toBe(1);
    });
  });

  describe("a date goes only once its whole day is older than the rule", () => {
    const setup = `
      DROP TABLE IF EXISTS daily_stats;
      CREATE TABLE daily_stats (id int PRIMARY KEY, day date NOT NULL);
      INSERT INTO daily_stats SELECT g, current_date - g FROM generate_series(0, 5) g;`;
    const rule = { table: "daily_stats", timestampColumn: "day", olderThanDays: 3 };

    it("in the rule's zone: the day 3 days ago (not over for 3 days yet) stays, the days before it go", async () => {
      await sql(setup);
      await runTask(purgeTask, env([{ ...rule, columnTimezone: "UTC" }]));
      expect((await rows("SELECT current_date - day AS ago FROM daily_stats ORDER BY 1")).map((r) => r.ago)).toEqual([0, 1, 2, 3]);
    });

    it("without a zone, in the last zone to end a day (UTC-12): no day goes before it is over there; the day 5 days ago goes", async () => {
      await sql(setup);
      const result = await runTask(purgeTask, env([rule]));
      const cutoff = new Date(result.databases[0].report![0].cutoff).getTime();
      const left = (await rows("SELECT current_date - day AS ago FROM daily_stats ORDER BY 1")).map((r) => r.ago);
      // Each day gone ended (its next midnight in UTC-12, 12:00 UTC) before the cut-off.
      const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
      for (const ago of [0, 1, 2, 3, 4, 5].filter((a) => !left.includes(a))) expect(today - (ago - 1) * 86_400_000 + 12 * 3_600_000).toBeLessThanOrEqual(cutoff);
      expect(left.slice(0, 4)).toEqual([0, 1, 2, 3]);
      expect(left).not.toContain(5);
    });
  });

  describe("a where that names the table means the same on every partition or child, and is checked on each before any row goes", () => {
    it("on a partitioned table (the repro): jobs.status = 'completed' deletes the old completed job only", async () => {
      await sql(`
        CREATE TABLE jobs (id int, created_at timestamptz NOT NULL, status text) PARTITION BY RANGE (created_at);
        CREATE TABLE jobs_2025 PARTITION OF jobs FOR VALUES FROM ('2000-01-01') TO ('2026-01-01');
        CREATE TABLE jobs_2026 PARTITION OF jobs FOR VALUES FROM ('2026-01-01') TO ('2100-01-01');
        INSERT INTO jobs VALUES (1, '2025-03-01', 'completed'), (2, now(), 'completed'), (3, '2025-03-01', 'running');`);
      const result = await runTask(purgeTask, env([{ table: "jobs", timestampColumn: "created_at", olderThanDays: 90, where: "jobs.status = 'completed'" }]));
      expect(result.databases[0].report![0].deleted).toBe(1);
      expect((await rows("SELECT id FROM jobs ORDER BY id")).map((r) => r.id)).toEqual([2, 3]);
    });

    it("on an inheritance parent with rows of its own: the same; a where valid on the parent alone is refused before the parent's rows go", async () => {
      await sql(`
        CREATE TABLE tasks (id int, created_at timestamptz NOT NULL, status text);
        CREATE TABLE tasks_2025 (note text) INHERITS (tasks);
        INSERT INTO tasks VALUES (1, now() - interval '400 days', 'completed'), (2, now(), 'completed');
        INSERT INTO tasks_2025 VALUES (11, now() - interval '400 days', 'completed', 'x'), (12, now() - interval '400 days', 'running', 'y');`);
      // Valid on "tasks" through the parent, not on "ONLY tasks_2025" by itself.
      const schemaQualified = { table: "tasks", timestampColumn: "created_at", olderThanDays: 90, where: "public.tasks.status = 'completed'" };
      expect(await refused([schemaQualified])).toMatch(/^PURGE_RULES\[0\]\.where: not a condition on public\.tasks: .*; PURGE_RULES\[0\]\.where: not a condition on public\.tasks_2025 \(under public\.tasks\): /);
      expect((await rows("SELECT id FROM tasks ORDER BY id")).map((r) => r.id)).toEqual([1, 2, 11, 12]);

      const result = await runTask(purgeTask, env([{ ...schemaQualified, where: "tasks.status = 'completed'" }]));
      expect(result.databases[0].report![0].deleted).toBe(2);
      expect((await rows("SELECT id FROM tasks ORDER BY id")).map((r) => r.id)).toEqual([2, 12]);
    });
  });
});
