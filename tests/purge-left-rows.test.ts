/**
 * A purge run that says done leaves no old row it could have deleted, against real PostgreSQL: a rule
 * whose tables row-level security applies to for the purge's role (forced on the owner, enabled for a
 * role that does not own the table, on one partition) is refused before any row goes, naming the rule
 * and the fix; a row another session holds locked is waited for a bounded time (LOCK_TIMEOUT_MS), and
 * one still locked after that fails the rule with a line naming the table, the count and the blocking
 * session, while every other old row is deleted.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTask } from "../tasks/lib/runtime";
import { purgeTask } from "../tasks/purge";
import { adminQuery, adminUrl } from "./helpers/pg";
import { purgeDatabase } from "./helpers/purge";

describe("purge leaves no old row behind while reporting done", () => {
  const t = purgeDatabase("ps_purge_left");
  const { sql, env, ids } = t;
  const suffix = randomBytes(4).toString("hex");
  /** Roles of the cluster, named for this file only: the table's owner, a role that does not own it, one with BYPASSRLS. */
  const owner = `purge_owner_${suffix}`;
  const other = `purge_other_${suffix}`;
  const bypass = `purge_bypass_${suffix}`;
  beforeAll(async () => {
    await adminQuery(`CREATE ROLE ${owner} LOGIN; CREATE ROLE ${other} LOGIN; CREATE ROLE ${bypass} LOGIN BYPASSRLS`);
  });
  afterAll(async () => {
    await t.db()?.drop();
    await adminQuery(`DROP ROLE IF EXISTS ${owner}; DROP ROLE IF EXISTS ${other}; DROP ROLE IF EXISTS ${bypass}`);
  });
  /** The task's settings connecting as `role`. */
  const as = (role: string, rules: unknown) => ({ ...env(rules), DATABASE_URL: t.db().url.replace("//postgres@", `//${role}@`) });
  const refusedAs = async (role: string, rules: unknown) => {
    try {
      await runTask(purgeTask, as(role, rules));
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`${JSON.stringify(rules)} was accepted as ${role}`);
  };

  /** The repro's table: 201 rows, ids 1..111 older than 90 days, 112..201 fresh; a tenant per id % 3. */
  const events = (table: string) => `
    DROP TABLE IF EXISTS ${table};
    CREATE TABLE ${table} (id int PRIMARY KEY, tenant_id int NOT NULL, created_at timestamptz NOT NULL);
    INSERT INTO ${table} SELECT g, g % 3, CASE WHEN g <= 111 THEN now() - interval '100 days' - g * interval '1 minute' ELSE now() - g * interval '1 minute' END
      FROM generate_series(1, 201) g;
    GRANT SELECT, UPDATE, DELETE ON ${table} TO ${other}, ${bypass};`;
  const rule = { table: "events", olderThanDays: 90 };
  const fresh = Array.from({ length: 90 }, (_, i) => 112 + i);

  describe("row-level security", () => {
    it("forced on the table its owner purges: refused before any row goes, naming the rule and the fix; with BYPASSRLS the same role purges every old row", async () => {
      await sql(`${events("events")}
        ALTER TABLE events OWNER TO ${owner};
        ALTER TABLE events ENABLE ROW LEVEL SECURITY;
        ALTER TABLE events FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant ON events USING (tenant_id = current_setting('app.tenant_id', true)::int);`);
      expect(await refusedAs(owner, [rule])).toBe(
        `PURGE_RULES[0] (events): row-level security applies to the purge's role "${owner}" on public.events: FORCE ROW LEVEL SECURITY, so on its owner too; ` +
          "its policies may hide old rows, which the purge would leave while reporting the rule done: run the purge as a role with BYPASSRLS, as the owner of tables without FORCE ROW LEVEL SECURITY, or as a superuser",
      );
      expect((await ids("SELECT count(*) AS id FROM events"))[0]).toBe(201);

      await sql(`ALTER ROLE ${owner} BYPASSRLS`);
      try {
        const result = await runTask(purgeTask, as(owner, [rule]));
        expect(result.databases[0].report![0]).toMatchObject({ deleted: 111, complete: true, kept: 0, lockedLeft: 0 });
        expect(await ids("SELECT id FROM events ORDER BY id")).toEqual(fresh);
      } finally {
        await sql(`ALTER ROLE ${owner} NOBYPASSRLS`);
      }
    });

    it("enabled (not forced) and purged by a role that does not own the table, with a policy hiding only some rows: refused; a role with BYPASSRLS purges them", async () => {
      await sql(`${events("events")}
        ALTER TABLE events ENABLE ROW LEVEL SECURITY;
        CREATE POLICY tenant_one ON events USING (tenant_id = 1);`);
      expect(await refusedAs(other, [rule])).toMatch(
        new RegExp(`^PURGE_RULES\\[0\\] \\(events\\): row-level security applies to the purge's role "${other}" on public\\.events: enabled, and the role does not own it; .* run the purge as a role with BYPASSRLS`),
      );
      expect((await ids("SELECT count(*) AS id FROM events"))[0]).toBe(201);

      const result = await runTask(purgeTask, as(bypass, [rule]));
      expect(result.databases[0].report![0]).toMatchObject({ deleted: 111, complete: true });
      expect(await ids("SELECT id FROM events ORDER BY id")).toEqual(fresh);
    });

    it("forced on one partition of a partitioned table: refused naming that partition, and no partition loses a row", async () => {
      await sql(`
        DROP TABLE IF EXISTS pevents;
        CREATE TABLE pevents (id int, region text, tenant_id int, created_at timestamptz NOT NULL) PARTITION BY LIST (region);
        CREATE TABLE pevents_eu PARTITION OF pevents FOR VALUES IN ('eu');
        CREATE TABLE pevents_us PARTITION OF pevents FOR VALUES IN ('us');
        ALTER TABLE pevents OWNER TO ${owner}; ALTER TABLE pevents_eu OWNER TO ${owner}; ALTER TABLE pevents_us OWNER TO ${owner};
        INSERT INTO pevents SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g % 3, now() - interval '100 days' FROM generate_series(1, 10) g;
        ALTER TABLE pevents_us ENABLE ROW LEVEL SECURITY;
        ALTER TABLE pevents_us FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant ON pevents_us USING (tenant_id = 1);`);
      expect(await refusedAs(owner, [{ ...rule, table: "pevents" }])).toMatch(
        new RegExp(`^PURGE_RULES\\[0\\] \\(pevents\\): row-level security applies to the purge's role "${owner}" on public\\.pevents_us \\(under public\\.pevents\\): FORCE ROW LEVEL SECURITY, so on its owner too; `),
      );
      expect(await ids("SELECT id FROM pevents ORDER BY id")).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });
  });

  describe("rows other sessions hold locked", () => {
    /** A session of another program holding `ids` of `table` with SELECT ... FOR UPDATE in an open transaction. */
    async function holdLocks(table: string, rowIds: number[]) {
      const c = new pg.Client({ connectionString: adminUrl(t.db().name), application_name: "leaky-worker" });
      await c.connect();
      await c.query("BEGIN");
      await c.query(`SELECT id FROM ${table} WHERE id = ANY($1) FOR UPDATE`, [rowIds]);
      const pid = Number((await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid);
      return { pid, release: async () => (await c.query("COMMIT"), await c.end()) };
    }
    /** Whether a session of this database waits on a lock `pid` holds. */
    const blockedBy = async (pid: number) =>
      (await adminQuery<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", [pid], t.db().name)).rows[0].n > 0;

    it("a lock released while the run waits for it: every old row goes and the run succeeds", async () => {
      await sql(events("events"));
      const holder = await holdLocks("events", [5, 50, 100]);
      let settled = false;
      const run = runTask(purgeTask, { ...env([{ ...rule, batchSize: 20 }]), LOCK_TIMEOUT_MS: "20000" }).finally(() => (settled = true));
      // Released once the purge waits for it (or when the run ended without waiting).
      while (!settled && !(await blockedBy(holder.pid))) await new Promise((r) => setTimeout(r, 50));
      await holder.release();
      const result = await run;
      expect(result.databases[0].report![0]).toMatchObject({ deleted: 111, complete: true, kept: 0, lockedLeft: 0, lockedBy: [] });
      expect(await ids("SELECT id FROM events ORDER BY id")).toEqual(fresh);
    });

    it("a lock held throughout: the rule fails naming the table, the count and the blocking session; every row not locked goes, and the next rule still runs", async () => {
      await sql(`${events("events")} ${events("audit")}`);
      const holder = await holdLocks("events", [5, 50, 100]);
      try {
        const started = Date.now();
        const failed = await runTask(purgeTask, { ...env([{ ...rule, batchSize: 20 }, { ...rule, table: "audit" }]), LOCK_TIMEOUT_MS: "1500" }).then(
          () => "accepted",
          (err: Error) => err.message,
        );
        expect(failed).toMatch(
          new RegExp(
            `^PURGE_RULES\\[0\\] \\(events\\): 3 old row\\(s\\) of public\\.events left after waiting 1\\.5s \\(LOCK_TIMEOUT_MS\\) for their row locks: ` +
              `locked by pid ${holder.pid} \\(idle in transaction since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z, application_name "leaky-worker", role postgres\\); end or commit those sessions`,
          ),
        );
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(await ids("SELECT id FROM events WHERE id <= 111 ORDER BY id")).toEqual([5, 50, 100]);
        expect(await ids("SELECT id FROM events WHERE id > 111 ORDER BY id")).toEqual(fresh);
        expect(await ids("SELECT id FROM audit ORDER BY id")).toEqual(fresh);
      } finally {
        await holder.release();
      }
    });
  });
});
