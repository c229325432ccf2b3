/**
 * A purge run never deletes rows its where is meant to keep, nor says done with old rows left in a
 * partition attached while it ran, against real PostgreSQL: a where reading a table row-level security
 * applies to (directly, through a security_invoker view, or through a view whose owner it applies to)
 * is refused before any row goes, naming the table and how the where reads it, while a where reading a
 * table without it still purges; a partition attached during the run leaves the rule incomplete with
 * its old rows counted and named.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTask } from "../tasks/lib/runtime";
import { purgeTask } from "../tasks/purge";
import { captureJsonLines } from "./helpers/emf";
import { adminQuery, adminUrl } from "./helpers/pg";
import { purgeDatabase } from "./helpers/purge";

describe("purge and what its where reads", () => {
  const t = purgeDatabase("ps_purge_where");
  const { sql, env, ids } = t;
  const suffix = randomBytes(4).toString("hex");
  /** Roles of the cluster, named for this file only: the purge's role (owner of events) and another. */
  const purger = `purge_where_${suffix}`;
  const other = `purge_where_other_${suffix}`;
  beforeAll(async () => {
    await adminQuery(`CREATE ROLE ${purger} LOGIN; CREATE ROLE ${other} LOGIN`);
  });
  afterAll(async () => {
    await t.db()?.drop();
    await adminQuery(`DROP ROLE IF EXISTS ${purger}; DROP ROLE IF EXISTS ${other}`);
  });
  const as = (rules: unknown) => ({ ...env(rules), DATABASE_URL: t.db().url.replace("//postgres@", `//${purger}@`) });
  const refused = async (rules: unknown) => {
    try {
      await runTask(purgeTask, as(rules));
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`${JSON.stringify(rules)} was accepted`);
  };

  /** events (owned by the purge's role): ids 1..10 old, 11..15 fresh; holds on old ids 2, 4, 6, with RLS hiding them (no app.tenant set) when `rls`. */
  const setup = (rls: boolean) =>
    sql(`
      DROP VIEW IF EXISTS held, held_owned; DROP TABLE IF EXISTS events, holds;
      CREATE TABLE events (id int PRIMARY KEY, created_at timestamptz NOT NULL);
      INSERT INTO events SELECT g, CASE WHEN g <= 10 THEN now() - interval '100 days' ELSE now() END FROM generate_series(1, 15) g;
      ALTER TABLE events OWNER TO ${purger};
      CREATE TABLE holds (event_id int, tenant int NOT NULL);
      INSERT INTO holds VALUES (2, 1), (4, 1), (6, 1);
      GRANT SELECT ON holds TO ${purger}, ${other};
      ${rls ? "ALTER TABLE holds ENABLE ROW LEVEL SECURITY; CREATE POLICY h ON holds FOR SELECT USING (tenant = current_setting('app.tenant', true)::int);" : ""}
      CREATE VIEW held WITH (security_invoker = true) AS SELECT event_id FROM holds;
      GRANT SELECT ON held TO ${purger};
      CREATE VIEW held_owned AS SELECT event_id FROM holds;
      ALTER VIEW held_owned OWNER TO ${other};
      GRANT SELECT ON held_owned TO ${purger};`);
  const keep = [2, 4, 6, 11, 12, 13, 14, 15];
  const rule = { table: "events", olderThanDays: 90, where: "NOT EXISTS (SELECT 1 FROM holds h WHERE h.event_id = events.id)" };
  const fix = "run the purge as a role with BYPASSRLS, as the owner of tables without FORCE ROW LEVEL SECURITY, or as a superuser";

  it("a where reading a table with row-level security the role does not own: refused before any row goes, naming the table; without it, directly or through a view, the rule purges", async () => {
    await setup(true);
    expect(await refused([rule])).toBe(
      `PURGE_RULES[0] (events): row-level security applies to the purge's role "${purger}" on public.holds (the where reads it): enabled, and the role does not own it; ` +
        `its policies may hide rows the where reads, so the purge would delete rows the where is meant to keep: ${fix}`,
    );
    expect((await ids("SELECT count(*) AS id FROM events"))[0]).toBe(15);

    await setup(false);
    for (const where of [rule.where, "id NOT IN (SELECT event_id FROM held)"]) {
      await sql("DELETE FROM events; INSERT INTO events SELECT g, CASE WHEN g <= 10 THEN now() - interval '100 days' ELSE now() END FROM generate_series(1, 15) g");
      const result = await runTask(purgeTask, as([{ ...rule, where }]));
      expect(result.databases[0].report![0]).toMatchObject({ deleted: 7, complete: true });
      expect(await ids("SELECT id FROM events ORDER BY id")).toEqual(keep);
    }
  });

  it("through a security_invoker view: refused naming the table and the view", async () => {
    await setup(true);
    expect(await refused([{ ...rule, where: "id NOT IN (SELECT event_id FROM held)" }])).toMatch(
      new RegExp(`^PURGE_RULES\\[0\\] \\(events\\): row-level security applies to the purge's role "${purger}" on public\\.holds \\(the where reads it through view public\\.held\\): enabled, and the role does not own it; `),
    );
    expect((await ids("SELECT count(*) AS id FROM events"))[0]).toBe(15);
  });

  it("through a view that reads as its owner: refused naming that owner when row-level security applies to it; purged when that owner owns the table", async () => {
    await setup(true);
    expect(await refused([{ ...rule, where: "id NOT IN (SELECT event_id FROM held_owned)" }])).toMatch(
      new RegExp(`on public\\.holds \\(the where reads it through view public\\.held_owned, which reads as its owner "${other}"\\): enabled, and "${other}" does not own it; `),
    );
    expect((await ids("SELECT count(*) AS id FROM events"))[0]).toBe(15);

    await sql(`ALTER TABLE holds OWNER TO ${other}`);
    const result = await runTask(purgeTask, as([{ ...rule, where: "id NOT IN (SELECT event_id FROM held_owned)" }]));
    expect(result.databases[0].report![0]).toMatchObject({ deleted: 7, complete: true });
    expect(await ids("SELECT id FROM events ORDER BY id")).toEqual(keep);
  });

  it("a partition attached while the rule runs: the run is incomplete, naming the partition and its old rows, which the next run purges", async () => {
    await sql(`
      DROP TABLE IF EXISTS ev, ev_2;
      CREATE TABLE ev (id int, region int NOT NULL, created_at timestamptz NOT NULL) PARTITION BY LIST (region);
      CREATE TABLE ev_1 PARTITION OF ev FOR VALUES IN (1);
      INSERT INTO ev SELECT g, 1, now() - interval '100 days' FROM generate_series(1, 2000) g;
      CREATE TABLE ev_2 (id int, region int NOT NULL, created_at timestamptz NOT NULL);
      INSERT INTO ev_2 SELECT g, 2, now() - interval '100 days' FROM generate_series(2001, 2500) g;`);
    let report: unknown;
    // The warning line goes to stderr (as the logger writes warnings).
    const warned = await captureJsonLines(async () => {
      let settled = false;
      const run = runTask(purgeTask, { ...env([{ table: "ev", olderThanDays: 90, batchSize: 100 }]), PAUSE_MS: "300", LOG_LEVEL: "WARN" }).finally(() => (settled = true));
      const c = new pg.Client({ connectionString: adminUrl(t.db().name) });
      await c.connect();
      try {
        // Attached from another session once the purge's first batch is seen.
        while (!settled && Number((await c.query("SELECT count(*) AS n FROM ev_1")).rows[0].n) === 2000) await new Promise((r) => setTimeout(r, 20));
        await c.query("ALTER TABLE ev ATTACH PARTITION ev_2 FOR VALUES IN (2)");
      } finally {
        await c.end();
      }
      report = (await run).databases[0].report![0];
    }, process.stderr);
    expect(warned.map((l) => l.message)).toContain(
      "purge PURGE_RULES[0] (ev): public.ev_2: 500 old row(s) in partitions or children attached to public.ev during the run, which it had not checked; left for the next run",
    );
    expect(report).toMatchObject({ deleted: 2000, complete: false, attached: [{ table: "public.ev_2", rows: 500 }] });
    expect((await ids("SELECT count(*) AS id FROM ev"))[0]).toBe(500);
    const again = await runTask(purgeTask, env([{ table: "ev", olderThanDays: 90, batchSize: 100 }]));
    expect(again.databases[0].report![0]).toMatchObject({ deleted: 500, complete: true, attached: [] });
    expect((await ids("SELECT count(*) AS id FROM ev"))[0]).toBe(0);
  });
});
