/**
 * The shrink check's baseline is the last backup that passed verification, not the one just before:
 * against the machine's PostgreSQL and an S3-compatible server, a damaged state keeps failing backup
 * after backup, restore and the drill take the last good copy and say what they passed over and why,
 * a shrink accepted with ACCEPT_SHRINK becomes the baseline, and records written before the baseline
 * was recorded (a backup passed against one that failed) are judged by that baseline.
 */
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask } from "../tasks/backup";
import { runTask } from "../tasks/lib/runtime";
import { putJsonOnce } from "../tasks/lib/s3";
import { verificationKey } from "../tasks/lib/verification";
import { restoreDrillTask, type DrillResult } from "../tasks/restore-drill";
import { verifyBackupTask, type VerifyResult } from "../tasks/verify-backup";
import { adminQuery, createTestDatabase } from "./helpers/pg";
import { restoreBench, restoreBucket, type TestDb } from "./helpers/restore";
import type { TestS3 } from "./helpers/s3";
import { failure } from "./helpers/task-failure";

let s3: TestS3;
let env: Record<string, string | undefined>;
const sources: TestDb[] = [];
const { freshTarget, restore, dropTargets } = restoreBench("rsb", () => env);

/** A database of 50,000 orders (about 2 MB uncompressed). */
async function source(prefix: string): Promise<TestDb> {
  const db = await createTestDatabase(prefix);
  sources.push(db);
  await adminQuery("CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 50000) g", [], db.name);
  return db;
}

/** The incident: 95 % of the rows deleted. */
const damage = (db: TestDb) => adminQuery("DELETE FROM orders WHERE id > 2500", [], db.name);
const backup = async (db: TestDb) => (await runTask(backupTask, { ...env, DATABASE_URL: db.url, COMPRESSION: "none" })).databases[0].key!;
const verifyEnv = (db: TestDb, extra: Record<string, string> = {}) => ({ ...env, DATABASE_URL: db.url, MAX_SHRINK_PERCENT: "50", MIN_SIZE_MB: "0", ...extra });
const verify = async (db: TestDb, extra?: Record<string, string>): Promise<VerifyResult["databases"][0]> => ((await runTask(verifyBackupTask, verifyEnv(db, extra))) as VerifyResult).databases[0];
const verifyFails = async (db: TestDb, extra?: Record<string, string>) => {
  const err = await failure(runTask(verifyBackupTask, verifyEnv(db, extra)));
  return { message: err.message, outcome: (err.result as VerifyResult).databases[0] };
};
const rows = async (db: string) => (await adminQuery("SELECT count(*)::int AS n FROM orders", [], db)).rows[0].n;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

beforeAll(async () => {
  ({ s3, env } = await restoreBucket());
});

afterAll(async () => {
  await dropTargets();
  for (const db of sources) await db.drop();
  await s3?.stop();
  vi.restoreAllMocks();
});

describe("a damaged state captured by two backups in a row", () => {
  let db: TestDb;
  const keys: string[] = [];

  beforeAll(async () => {
    db = await source("rsbchain");
    keys.push(await backup(db));
    await verify(db);
    await damage(db);
    keys.push(await backup(db));
    await verifyFails(db);
    keys.push(await backup(db));
  });

  it("the third backup fails too, measured against the first (the last that passed), not the failed second", async () => {
    const { message, outcome } = await verifyFails(db);
    expect(outcome.key).toBe(keys[2]);
    expect(outcome.previousKey).toBe(keys[0]);
    expect(outcome.shrinkPercent).toBeGreaterThan(90);
    expect(message).toMatch(new RegExp(`^verify-backup failed for 1 of 1 database\\(s\\): ${db.name}: shrink: \\d+ bytes, 9\\d\\.\\d % smaller than the last backup that passed verification, ${esc(keys[0])} of \\d+ bytes \\(MAX_SHRINK_PERCENT 50\\)$`));
  });

  it("restore without --before takes the first and names the two it passed over, with why", async () => {
    const target = await freshTarget();
    const r = await restore({ database: db.name, target: target.url });
    expect(r.key).toBe(keys[0]);
    expect(await rows(target.name)).toBe(50000);
    expect(r.skipped.map((k) => k.key)).toEqual([keys[2], keys[1]]);
    for (const k of r.skipped) expect(k.why).toMatch(new RegExp(`^verify-backup failed \\(shrink: \\d+ bytes, 9\\d\\.\\d % smaller than the last backup that passed verification, ${esc(keys[0])} `));
  });

  it("the drill restores the first too", async () => {
    const r: DrillResult = await runTask(restoreDrillTask, { ...env, DATABASE_URL: db.url, CHECKS: JSON.stringify([{ sql: "SELECT count(*) FROM orders", minRows: 50000 }]) });
    expect(r.databases[0]).toMatchObject({ ok: true, key: keys[0] });
    expect(r.databases[0].skipped?.map((k) => k.key)).toEqual([keys[2], keys[1]]);
  });

  it("once the rows are back, the next backup passes against the first", async () => {
    await adminQuery("INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(2501, 50000) g", [], db.name);
    keys.push(await backup(db));
    const d = await verify(db);
    expect(d).toMatchObject({ ok: true, key: keys[3], previousKey: keys[0] });
    expect(Math.abs(d.shrinkPercent!)).toBeLessThan(5);
  });
});

describe("a legitimate shrink (a cleanup) accepted with ACCEPT_SHRINK", () => {
  it("passes the named backup, which then is the baseline; a key left set refuses a later backup", async () => {
    const db = await source("rsbaccept");
    const first = await backup(db);
    await verify(db);
    await damage(db);
    const cleaned = await backup(db);
    await verifyFails(db);

    const accepted = await verify(db, { ACCEPT_SHRINK: cleaned });
    expect(accepted).toMatchObject({ ok: true, key: cleaned, previousKey: first, shrinkAccepted: true });
    expect(accepted.checks.find((c) => c.name === "shrink")!.detail).toMatch(/^\d+ bytes, 9\d\.\d % smaller than the last backup that passed verification, .*; accepted by ACCEPT_SHRINK$/);

    const next = await backup(db);
    const stale = await verifyFails(db, { ACCEPT_SHRINK: cleaned });
    expect(stale.message).toBe(
      `verify-backup failed for 1 of 1 database(s): ${db.name}: ACCEPT_SHRINK: ${cleaned} is not the newest backup of ${db.name} (${next}); a shrink is accepted only for the backup the run verifies`,
    );
    const d = await verify(db);
    expect(d).toMatchObject({ ok: true, key: next, previousKey: cleaned });
    expect(Math.abs(d.shrinkPercent!)).toBeLessThan(5);

    const target = await freshTarget();
    const r = await restore({ database: db.name, target: target.url });
    expect([r.key, r.skipped]).toEqual([next, []]);
    expect(await rows(target.name)).toBe(2500);

    const wrong = await failure(runTask(verifyBackupTask, verifyEnv(db, { ACCEPT_SHRINK: "daily/other/20261129T020000000Z.dump" })));
    expect(wrong.message).toBe(`ACCEPT_SHRINK: "daily/other/20261129T020000000Z.dump" is not the key of a backup of ${db.name} (pg/{daily,weekly,monthly}/<database>/<timestamp>.dump, as list-backups shows it)`);
  });
});

describe("the first backup, and a verification that never ran", () => {
  it("the first passes as the first and records no baseline; a damaged backup never verified is no baseline for the next", async () => {
    const db = await source("rsbfirst");
    const first = await backup(db);
    const d = await verify(db);
    expect(d.checks.find((c) => c.name === "shrink")).toEqual({ name: "shrink", ok: true, detail: `first backup of ${db.name}: no previous backup to compare its ${d.sizeBytes} bytes with` });
    const record = JSON.parse(await (await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: d.recordKey! }))).Body!.transformToString());
    expect(record).toMatchObject({ key: first, ok: true, baselineKey: null });

    await damage(db);
    const unverified = await backup(db); // its verify-backup did not run
    const damaged = await backup(db);
    const { outcome } = await verifyFails(db);
    expect([outcome.key, outcome.previousKey]).toEqual([damaged, first]);

    const target = await freshTarget();
    const r = await restore({ database: db.name, target: target.url });
    expect(r.key).toBe(first);
    expect(await rows(target.name)).toBe(50000);
    expect(r.skipped).toEqual([
      { key: damaged, why: expect.stringMatching(/^verify-backup failed \(shrink: /) },
      { key: unverified, why: `never verified, and taken between ${first} and ${damaged}, which shrank past MAX_SHRINK_PERCENT against it: it may hold the same damage` },
    ]);
  });
});

describe("records written before the baseline was recorded", () => {
  it("a backup passed only against one that failed is passed over by restore and is no baseline", async () => {
    const db = await source("rsbold");
    const keys = [await backup(db)];
    await damage(db);
    keys.push(await backup(db), await backup(db));
    // As verify-backup wrote them before: each compared with the backup just before it, no baselineKey.
    const at = (i: number) => new Date(Date.UTC(2026, 10, 29, 3, i));
    const old = (key: string, ok: boolean, detail: string) => ({ key, ok, verifiedAt: "", checks: [{ name: "shrink", ok, detail }] });
    await putJsonOnce(s3.client, s3.bucket, verificationKey(keys[0], at(0), true), old(keys[0], true, "first backup of x: no previous backup to compare its 1 bytes with"));
    await putJsonOnce(s3.client, s3.bucket, verificationKey(keys[1], at(1), false), old(keys[1], false, `104607 bytes, 94.9 % smaller than the previous backup's 2066743 bytes (${keys[0]}; MAX_SHRINK_PERCENT 50)`));
    await putJsonOnce(s3.client, s3.bucket, verificationKey(keys[2], at(2), true), old(keys[2], true, `104607 bytes, 0 % smaller than the previous backup's 104607 bytes (${keys[1]}; MAX_SHRINK_PERCENT 50)`));

    const target = await freshTarget();
    const r = await restore({ database: db.name, target: target.url });
    expect(r.key).toBe(keys[0]);
    expect(await rows(target.name)).toBe(50000);
    expect(r.skipped.map((k) => k.key)).toEqual([keys[2], keys[1]]);
    expect(r.skipped[0].why).toMatch(new RegExp(`^verify-backup passed it only against ${esc(keys[1])}, which failed verification; record `));

    keys.push(await backup(db));
    const { outcome } = await verifyFails(db);
    expect([outcome.key, outcome.previousKey]).toEqual([keys[3], keys[0]]);
  });
});

describe("backups stop: the last good copy only grows old", () => {
  it("a verification that fails on age alone records the copy as verified: restore, the drill and the next shrink baseline take it", async () => {
    const db = await source("rsbage");
    const good = await backup(db);
    // Backups stop; 30 h later the verification finds the newest copy too old and fails, paging.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 30 * 3_600_000);
    const { message, outcome } = await verifyFails(db, { RPO_HOURS: "26" }).finally(() => vi.useRealTimers());
    expect(message).toBe(`verify-backup failed for 1 of 1 database(s): ${db.name}: age: newest backup is 30.0 h old, from its start (RPO_HOURS 26)`);
    expect(outcome.recordKey).toMatch(/-ok\.json$/);

    const target = await freshTarget();
    const r = await restore({ database: db.name, target: target.url });
    expect(r.key).toBe(good);
    expect(r.skipped).toEqual([]);
    expect(await rows(target.name)).toBe(50000);

    const drill: DrillResult = await runTask(restoreDrillTask, { ...env, DATABASE_URL: db.url, CHECKS: JSON.stringify([{ sql: "SELECT count(*) FROM orders", minRows: 50000 }]) });
    expect(drill.databases[0]).toMatchObject({ ok: true, key: good });

    // Backups resume on a damaged state: measured against the copy that only grew old.
    await damage(db);
    await backup(db);
    const { outcome: next } = await verifyFails(db);
    expect(next.previousKey).toBe(good);
  });

  it("a record written failed on age alone (before records judged the archive only) is not held against the copy", async () => {
    const db = await source("rsbageold");
    const good = await backup(db);
    const at = new Date();
    const checks = [
      { name: "age", ok: false, detail: "newest backup is 30.0 h old, from its start (RPO_HOURS 26)" },
      { name: "size", ok: true, detail: "x" },
      { name: "sha256", ok: true, detail: "x" },
      { name: "pg_restore", ok: true, detail: "x" },
    ];
    await putJsonOnce(s3.client, s3.bucket, verificationKey(good, at, false), { key: good, ok: false, verifiedAt: at.toISOString(), checks });
    const target = await freshTarget();
    const r = await restore({ database: db.name, target: target.url });
    expect(r).toMatchObject({ key: good, skipped: [] });
  });
});

describe("ACCEPT_SHRINK's own mistakes", () => {
  it("without a key (--accept-shrink alone) or without MAX_SHRINK_PERCENT it is refused in one line naming the setting", async () => {
    const db = await source("rsbacceptbad");
    await backup(db);
    expect((await failure(runTask(verifyBackupTask, verifyEnv(db, { ACCEPT_SHRINK: "true" })))).message).toBe(
      "invalid setting ACCEPT_SHRINK: missing the key of the backup whose shrink is accepted (--accept-shrink <key>, as list-backups shows it)",
    );
    const { MAX_SHRINK_PERCENT: _limit, ...noLimit } = verifyEnv(db, { ACCEPT_SHRINK: "pg/daily/x/20261201T000000000Z.dump" });
    expect((await failure(runTask(verifyBackupTask, noLimit))).message).toBe(
      "invalid setting ACCEPT_SHRINK: no shrink is checked without MAX_SHRINK_PERCENT (verify.maxShrinkPercent), so there is nothing to accept; set both",
    );
  });
});

describe("a restore between a backup and its verification, after a failed shrink", () => {
  it("the newest backup, not verified yet, taken after a failed shrink with nothing verified since, is passed over with why", async () => {
    const db = await source("rsbpending");
    const good = await backup(db);
    await verify(db);
    await damage(db);
    const failed = await backup(db);
    await verifyFails(db);
    const pending = await backup(db);
    const target = await freshTarget();
    const r = await restore({ database: db.name, target: target.url });
    expect(r.key).toBe(good);
    expect(await rows(target.name)).toBe(50000);
    expect(r.skipped.map((k) => [k.key, k.why.split(":")[0]])).toEqual([
      [pending, `never verified, and taken after ${failed}, which shrank past MAX_SHRINK_PERCENT, with no backup verified since`],
      [failed, "verify-backup failed (shrink"],
    ]);
  });

  it("above a good copy the newest backup not verified yet is still taken", async () => {
    const db = await source("rsbpendingok");
    await backup(db);
    await verify(db);
    const newest = await backup(db);
    const r = await restore({ database: db.name, target: (await freshTarget()).url });
    expect(r).toMatchObject({ key: newest, skipped: [] });
  });
});
