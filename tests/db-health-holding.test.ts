/**
 * db-health's checks of what holds the server back outside open transactions, against the machine's
 * PostgreSQL: an inactive replication slot retaining WAL, a session waiting on a lock, prepared
 * transactions (a real one only where max_prepared_transactions > 0; otherwise the query runs and
 * reports none).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbHealthTask, type Check } from "../tasks/db-health";
import { runTask, TaskError } from "../tasks/lib/runtime";
import { adminQuery, createTestDatabase } from "./helpers/pg";

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const slot = `dbh_abandoned_${randomBytes(3).toString("hex")}`;
let db: Db;

beforeAll(async () => {
  db = await createTestDatabase("mr_holding");
  await adminQuery("CREATE TABLE events (id int, payload text)", [], db.name);
});
afterAll(async () => {
  await adminQuery(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
  await db?.drop();
});

const env = (extra: Record<string, string> = {}) => ({ DATABASE_URL: db.url, LOG_LEVEL: "ERROR", ...extra });
const checksOf = async (extra: Record<string, string> = {}) => Object.fromEntries((await runTask(dbHealthTask, env(extra))).databases[0].report!.checks.map((c) => [c.name, c])) as Record<string, Check>;

describe("replication slots", () => {
  it("names an inactive slot retaining WAL, and is ok once it is dropped", async () => {
    await adminQuery("SELECT pg_create_physical_replication_slot($1, true)", [slot]);
    // About 8 MB of WAL after the slot's restart_lsn.
    await adminQuery("INSERT INTO events SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g", [], db.name);
    const c = (await checksOf({ REPLICATION_SLOT_WARN_BYTES: String(4 * 1024 ** 2), REPLICATION_SLOT_CRIT_BYTES: String(1024 ** 4) })).replication_slots;
    const mine = c.top!.find((r) => r.slot === slot)!;
    expect(mine).toMatchObject({ type: "physical", active: false });
    expect(Number(mine.retainedBytes)).toBeGreaterThan(4 * 1024 ** 2);
    expect(c.status).toBe("warning");
    expect(c.value).toBeGreaterThanOrEqual(Number(mine.retainedBytes));

    await adminQuery("SELECT pg_drop_replication_slot($1)", [slot]);
    const after = (await checksOf({ REPLICATION_SLOT_WARN_BYTES: String(4 * 1024 ** 2), REPLICATION_SLOT_CRIT_BYTES: String(1024 ** 4) })).replication_slots;
    expect(after.top!.find((r) => r.slot === slot)).toBeUndefined();
  }, 60_000);
});

describe("lock waits", () => {
  it("names the waiting session and its blocker; past the critical level the run fails naming lock_waits", async () => {
    const holder = new pg.Client({ connectionString: db.url });
    const waiter = new pg.Client({ connectionString: db.url, application_name: "dbh-waiter" });
    await holder.connect();
    await waiter.connect();
    try {
      const holderPid = (await holder.query<{ p: number }>("SELECT pg_backend_pid() AS p")).rows[0].p;
      const waiterPid = (await waiter.query<{ p: number }>("SELECT pg_backend_pid() AS p")).rows[0].p;
      await holder.query("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
      const blocked = waiter.query("SELECT count(*) FROM events").catch(() => undefined);
      await new Promise((r) => setTimeout(r, 2500));

      const quiet = (await checksOf()).lock_waits;
      expect(quiet.status).toBe("ok");
      expect(quiet.value).toBeGreaterThanOrEqual(2);
      const c = (await checksOf({ LOCK_WAIT_WARN_SECONDS: "1", LOCK_WAIT_CRIT_SECONDS: "600" })).lock_waits;
      expect(c.status).toBe("warning");
      expect(c.detail).toBe(`pid ${waiterPid} (application "dbh-waiter") waits for AccessShareLock on events, blocked by pid ${holderPid}`);
      const err = await runTask(dbHealthTask, env({ LOCK_WAIT_WARN_SECONDS: "1", LOCK_WAIT_CRIT_SECONDS: "2" })).catch((e) => e);
      expect(err).toBeInstanceOf(TaskError);
      expect(err.message).toMatch(new RegExp(`lock_waits \\d+(\\.\\d+)? seconds >= 2 \\(pid ${waiterPid} `));

      await holder.query("COMMIT");
      await blocked;
      expect((await checksOf({ LOCK_WAIT_WARN_SECONDS: "1" })).lock_waits).toMatchObject({ value: 0, status: "ok" });
    } finally {
      await holder.end();
      await waiter.end();
    }
  }, 60_000);
});

describe("prepared transactions", () => {
  it("reads pg_prepared_xacts: none on this server is ok", async () => {
    const c = (await checksOf()).prepared_transactions;
    expect(c).toMatchObject({ value: 0, status: "ok", warn: 1, crit: 30 });
  });
});

describe("a table never analyzed", () => {
  it("says its age counts from the start of statistics, which may predate the table", async () => {
    const fresh = await createTestDatabase("mr_newtable");
    try {
      await adminQuery("CREATE TABLE brand_new (id int) WITH (autovacuum_enabled = false); INSERT INTO brand_new SELECT generate_series(1, 5000)", [], fresh.name);
      for (let i = 0; i < 100; i++) {
        const r = await adminQuery<{ m: string }>("SELECT n_mod_since_analyze AS m FROM pg_stat_user_tables WHERE relname = 'brand_new'", [], fresh.name);
        if (Number(r.rows[0]?.m) === 5000) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      const result = await runTask(dbHealthTask, { DATABASE_URL: fresh.url, LOG_LEVEL: "ERROR" });
      const c = result.databases[0].report!.checks.find((x) => x.name === "last_analyze")!;
      expect(c.detail).toMatch(
        /^table public\.brand_new, autovacuum off for it, never analyzed \(none recorded since statistics began \S+Z, counted from then; PostgreSQL keeps no creation time, so a newer table counts as that old\)$/,
      );
    } finally {
      await fresh.drop();
    }
  }, 60_000);
});
