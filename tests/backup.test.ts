import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask, type BackupResult } from "../tasks/backup";
import { createContext, METRIC_STAMP_MAX_AGE_SECONDS, MetricUnit, recordMetric, runTask } from "../tasks/lib/runtime";
import { captureEmf } from "./helpers/emf";
import { readManifest } from "../tasks/lib/s3";
import { restoreDrillTask, type DrillResult } from "../tasks/restore-drill";
import { verifyBackupTask, type VerifyResult } from "../tasks/verify-backup";
import { fingerprint, seedShop } from "./helpers/backup-fixtures";
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, PG_USER } from "./helpers/pg";
import { failure } from "./helpers/task-failure";
import { startS3, type TestS3 } from "./helpers/s3";

let s3: TestS3;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let env: Record<string, string | undefined>;

async function objectBytes(key: string): Promise<Buffer> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

beforeAll(async () => {
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  s3 = await startS3();
  db = await createTestDatabase("bk");
  await seedShop(db.name);
  env = { PATH: process.env.PATH, ...s3.env, DATABASE_URL: db.url, BACKUP_PREFIX: "pg/" };
});

afterAll(async () => {
  await db?.drop();
  await s3?.stop();
  vi.restoreAllMocks();
});

describe("backup, verify-backup, restore-drill against PostgreSQL and an S3 server", () => {
  let first: BackupResult["databases"][number];

  it("stores a dump that pg_restore turns back into identical data, with a manifest whose checksum matches", async () => {
    const result = await runTask(backupTask, env);
    expect(result.databases).toHaveLength(1);
    first = result.databases[0];
    expect(first.ok).toBe(true);
    expect(first.database).toBe(db.name);
    expect(first.key).toMatch(new RegExp(`^pg/(daily|weekly|monthly)/${db.name}/\\d{8}T\\d{9}Z\\.dump$`));
    expect(first.manifestKey).toBe(first.key!.replace(/\.dump$/, ".manifest.json"));
    expect(first.compression).toBe("gzip:1");

    const dump = await objectBytes(first.key!);
    expect(dump.subarray(0, 5).toString()).toBe("PGDMP");
    const manifest = await readManifest(s3.client, s3.bucket, first.manifestKey!);
    expect(manifest.sizeBytes).toBe(dump.length);
    expect(manifest.sha256).toBe(createHash("sha256").update(dump).digest("hex"));
    expect(manifest.database).toBe(db.name);
    expect(manifest.key).toBe(first.key);
    expect(manifest.clientVersion).toMatch(/^\d+\.\d+/);
    expect(manifest.serverVersion).toMatch(/^\d+\.\d+/);
    expect(Date.parse(manifest.finishedAt)).toBeGreaterThanOrEqual(Date.parse(manifest.startedAt));

    const copy = await createTestDatabase("bkcopy");
    try {
      const r = spawnSync("pg_restore", ["-h", PG_HOST, "-p", String(PG_PORT), "-U", PG_USER, "-d", copy.name, "--no-owner", "--exit-on-error"], { input: dump });
      expect(r.stderr.toString()).toBe("");
      expect(r.status).toBe(0);
      const original = await fingerprint(db.name);
      expect(original.customers.startsWith("2000:")).toBe(true);
      expect(original.orders.startsWith("6000:")).toBe(true);
      expect(await fingerprint(copy.name)).toEqual(original);
    } finally {
      await copy.drop();
    }
  });

  it("puts the backup under the weekly tier on WEEKLY_DAY", async () => {
    const today = new Date();
    const weekly = await runTask(backupTask, { ...env, MONTHLY_DAY: today.getUTCDate() === 1 ? "2" : "1", WEEKLY_DAY: String(today.getUTCDay()) });
    expect(weekly.databases[0].tier).toBe("weekly");
    expect(weekly.databases[0].key!.startsWith(`pg/weekly/${db.name}/`)).toBe(true);
  });

  it("verify-backup passes on the newest backup and lists every check", async () => {
    const result: VerifyResult = await runTask(verifyBackupTask, { ...env, RPO_HOURS: "1", MIN_SIZE_MB: "0.05" });
    const d = result.databases[0];
    expect(d.ok).toBe(true);
    expect(d.checks.map((c) => [c.name, c.ok])).toEqual([
      ["age", true],
      ["size", true],
      ["sha256", true],
      ["pg_restore", true],
    ]);
    expect(d.tocEntries).toBeGreaterThanOrEqual(8);
  });

  it("verify-backup fails with one line when the size is under MIN_SIZE_MB", async () => {
    const err = await failure(runTask(verifyBackupTask, { ...env, MIN_SIZE_MB: "10" }));
    expect(err.message).toMatch(new RegExp(`^verify-backup failed for 1 of 1 database\\(s\\): ${db.name}: size: \\d+ bytes \\(MIN_SIZE_MB 10 = 10485760 bytes\\)$`));
  });

  it("verify-backup counts a backup's age from its start, the moment its data is from: started 27 h ago and finished 25.5 h ago fails rpo 26 h", async () => {
    // The newest real dump stored again under another prefix, as a 90-minute run that started 27 h ago.
    const manifest = await readManifest(s3.client, s3.bucket, first.manifestKey!);
    const started = new Date(Date.now() - 27 * 3_600_000);
    const finished = new Date(Date.now() - 25.5 * 3_600_000);
    const key = `aged/daily/${db.name}/${started.toISOString().replace(/[-:]/g, "").replace(".", "")}.dump`;
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: await objectBytes(first.key!) }));
    const aged = { ...manifest, key, startedAt: started.toISOString(), finishedAt: finished.toISOString() };
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key.replace(/\.dump$/, ".manifest.json"), Body: JSON.stringify(aged) }));

    const err = await failure(runTask(verifyBackupTask, { ...env, BACKUP_PREFIX: "aged/", RPO_HOURS: "26", MIN_SIZE_MB: "0.05" }));
    expect(err.message).toBe(`verify-backup failed for 1 of 1 database(s): ${db.name}: age: newest backup is 27.0 h old, from its start (RPO_HOURS 26)`);
    const passed: VerifyResult = await runTask(verifyBackupTask, { ...env, BACKUP_PREFIX: "aged/", RPO_HOURS: "27.5", MIN_SIZE_MB: "0.05" });
    expect(passed.databases[0].checks.find((c) => c.name === "age")).toMatchObject({ ok: true, detail: "newest backup is 27.0 h old, from its start (RPO_HOURS 27.5)" });
  });

  it("restore-drill restores into a scratch database, runs the checks and drops it", async () => {
    const checks = JSON.stringify([{ sql: "SELECT count(*) FROM customers", minRows: 2000 }, { sql: "SELECT id FROM orders WHERE total > 499", minRows: 12 }]);
    const result: DrillResult = await runTask(restoreDrillTask, { ...env, CHECKS: checks, RTO_MINUTES: "5" });
    const d = result.databases[0];
    expect(d.ok).toBe(true);
    expect(d.scratchDatabase).toMatch(new RegExp(`^${db.name}_drill_\\d{8}t\\d{6}$`));
    expect(d.checks.map((c) => [c.value, c.ok])).toEqual([
      [2000, true],
      [12, true],
    ]);
    expect(d.restoreSeconds).toBeLessThan(300);
    expect(d.dropped).toBe(true);
    const left = await adminQuery("SELECT datname FROM pg_database WHERE datname LIKE $1", [`${db.name}_drill_%`]);
    expect(left.rows).toEqual([]);
  });

  it("restore-drill fails when a check fails and still drops the scratch database", async () => {
    const checks = JSON.stringify([{ sql: "SELECT count(*) FROM customers", minRows: 5000 }, { sql: "SELECT * FROM no_such_table" }]);
    const err = await failure(runTask(restoreDrillTask, { ...env, CHECKS: checks }));
    expect(err.message).toBe(
      `restore-drill failed for 1 of 1 database(s): ${db.name}: check "SELECT count(*) FROM customers": found 2000 row(s), fewer than minRows 5000, check "SELECT * FROM no_such_table": query failed: relation "no_such_table" does not exist`,
    );
    const d = (err.result as DrillResult).databases[0];
    expect(d.dropped).toBe(true);
    const left = await adminQuery("SELECT datname FROM pg_database WHERE datname LIKE $1", [`${db.name}_drill_%`]);
    expect(left.rows).toEqual([]);
  });

  it("restore-drill checks with maxRows: nothing found passes, rows found fail naming the check, the rows and maxRows", async () => {
    const passing = [
      { name: "no order without a customer", sql: "SELECT id FROM orders WHERE customer_id IS NULL", maxRows: 0 },
      { name: "no negative balance (count)", sql: "SELECT count(*) FROM customers WHERE balance < 0", maxRows: 0 },
      { name: "customers in range", sql: "SELECT count(*) FROM customers", minRows: 1000, maxRows: 3000 },
    ];
    const ok: DrillResult = await runTask(restoreDrillTask, { ...env, CHECKS: JSON.stringify(passing) });
    expect(ok.databases[0].checks.map((c) => [c.name, c.value, c.ok, c.broken, c.detail])).toEqual([
      ["no order without a customer", 0, true, undefined, "found 0 row(s) (maxRows 0)"],
      ["no negative balance (count)", 0, true, undefined, "found 0 row(s) (maxRows 0)"],
      ["customers in range", 2000, true, undefined, "found 2000 row(s) (minRows 1000, maxRows 3000)"],
    ]);
    expect(ok.databases[0].checks[0]).toMatchObject({ sql: passing[0].sql, maxRows: 0 });
    expect(ok.databases[0].checks[0].minRows).toBeUndefined();

    const failing = [
      { name: "no order over 499", sql: "SELECT id FROM orders WHERE total > 499", maxRows: 0 },
      { name: "customers in range", sql: "SELECT count(*) FROM customers", minRows: 10, maxRows: 100 },
      { name: "enough orders", sql: "SELECT count(*) FROM orders", minRows: 1, maxRows: 10000 },
    ];
    const err = await failure(runTask(restoreDrillTask, { ...env, CHECKS: JSON.stringify(failing) }));
    expect(err.message).toBe(
      `restore-drill failed for 1 of 1 database(s): ${db.name}: check "no order over 499": found 12 row(s), more than maxRows 0, check "customers in range": found 2000 row(s), more than maxRows 100`,
    );
    const d = (err.result as DrillResult).databases[0];
    expect(d.checks.map((c) => [c.name, c.value, c.ok, c.broken])).toEqual([
      ["no order over 499", 12, false, "maxRows"],
      ["customers in range", 2000, false, "maxRows"],
      ["enough orders", 6000, true, undefined],
    ]);
    expect(d.dropped).toBe(true);
  });

  it("restore-drill fails when the restore takes longer than the RTO", async () => {
    // A backup whose restore takes well over the smallest RTO (0.06 s) on any machine: 300,000 rows
    // to load and index. Dropped afterwards so the tests below back up the shop alone.
    await adminQuery("CREATE TABLE rto_ballast AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 300000) g", [], db.name);
    await adminQuery("CREATE INDEX ON rto_ballast (note)", [], db.name);
    try {
      await runTask(backupTask, env);
      const err = await failure(runTask(restoreDrillTask, { ...env, RTO_MINUTES: "0.001" }));
      expect(err.message).toMatch(/restore took \d+\.\d s, over the RTO of 0\.06 s \(RTO_MINUTES 0\.001\)$/);
    } finally {
      await adminQuery("DROP TABLE rto_ballast", [], db.name);
    }
  });

  it("verify-backup and restore-drill fail on a tampered object; once verify-backup marked it failed, the drill passes it over", async () => {
    const result = await runTask(backupTask, env);
    const key = result.databases[0].key!;
    const bytes = await objectBytes(key);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes }));
    // Not verified yet: the drill takes it and fails on its checksum.
    const drill = await failure(runTask(restoreDrillTask, env));
    expect(drill.message).toContain(`sha256 of ${key} is `);
    expect((drill.result as DrillResult).databases[0].dropped).toBe(true);
    const left = await adminQuery("SELECT datname FROM pg_database WHERE datname LIKE $1", [`${db.name}_drill_%`]);
    expect(left.rows).toEqual([]);
    const err = await failure(runTask(verifyBackupTask, env));
    expect(err.message).toContain(`${db.name}: sha256: sha256 of the object is `);
    expect(err.message).toContain(`manifest says ${result.databases[0].sha256}`);
    const after: DrillResult = await runTask(restoreDrillTask, env);
    expect(after.databases[0].key).not.toBe(key);
    expect(after.databases[0].skipped).toEqual([{ key, why: expect.stringMatching(/^verify-backup failed \(sha256: sha256 of the object is [0-9a-f]{64}, manifest says [0-9a-f]{64}; pg_restore: pg_restore reading the whole archive exited with 1: pg_restore: error: could not uncompress data: .*\), record /) }]);
  });

  it("emits BackupSucceeded (stamped with the dump's start) and BackupSizeBytes with a Database dimension, and no other backup metric", async () => {
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(...String(chunk).split("\n").filter((l) => l.startsWith("{")));
      return true;
    });
    try {
      await runTask(backupTask, env);
    } finally {
      spy.mockRestore();
      void write;
    }
    const emf = lines.map((l) => JSON.parse(l)).find((o) => o.BackupSucceeded !== undefined);
    expect(emf.BackupSucceeded).toBe(1);
    // The RPO alarm measures the newest backup's data age: the success carries the dump's start
    // (the "backup stored" line's startedAt), not the moment it was stored.
    const stored = lines.map((l) => JSON.parse(l)).find((o) => o.message === "backup stored");
    expect(emf._aws.Timestamp).toBe(Date.parse(stored.startedAt));
    const size = lines.map((l) => JSON.parse(l)).find((o) => o.BackupSizeBytes !== undefined);
    expect(size._aws.Timestamp).toBeGreaterThanOrEqual(emf._aws.Timestamp);
    expect(emf.Database).toBe(db.name);
    expect(emf.Task).toBe("backup");
    expect(emf._aws.CloudWatchMetrics[0].Dimensions).toEqual([["service", "Task", "Database"]]);
    // Published: what the RPO alarm and the dashboard read; the duration is Lambda's own (a log line here).
    const published = lines.map((l) => JSON.parse(l)).filter((o) => o._aws).flatMap((o) => o._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name));
    expect(published.filter((n) => !n.startsWith("Task")).sort()).toEqual(["BackupSizeBytes", "BackupSucceeded"]);
  });
});

describe("a data point stamped in the past", () => {
  it("is stamped at most 2 h 50 min back: CloudWatch may take hours to see points stamped 3 h or more back, so a 5-hour dump's success counts from 2 h 50 min before its end", async () => {
    const ctx = createContext("backup", { REGIME_NAME: "t", METRICS_INSTANCE: "app", LOG_LEVEL: "ERROR" }, new AbortController().signal);
    const now = Date.now();
    const [recent, old] = await captureEmf(async () => {
      recordMetric(ctx, "BackupSucceeded", MetricUnit.Count, 1, ["Database", "app"], undefined, new Date(now - 3_600_000));
      recordMetric(ctx, "BackupSucceeded", MetricUnit.Count, 1, ["Database", "app"], undefined, new Date(now - 5 * 3_600_000));
    });
    const stamp = (l: { _aws: object }) => (l._aws as { Timestamp: number }).Timestamp;
    expect(stamp(recent)).toBe(now - 3_600_000);
    expect(METRIC_STAMP_MAX_AGE_SECONDS).toBe(10_200);
    expect(stamp(old)).toBeGreaterThanOrEqual(now - METRIC_STAMP_MAX_AGE_SECONDS * 1000);
    expect(stamp(old)).toBeLessThan(now - METRIC_STAMP_MAX_AGE_SECONDS * 1000 + 60_000);
  });
});

describe("verify-backup compares the newest backup's size with the previous one (MAX_SHRINK_PERCENT)", () => {
  let shrinkDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let senv: Record<string, string | undefined>;
  const today = new Date();
  // Fixed tiers whatever today is: daily unless asked otherwise.
  const notToday = { WEEKLY_DAY: String((today.getUTCDay() + 1) % 7), MONTHLY_DAY: today.getUTCDate() === 1 ? "2" : "1" };

  beforeAll(async () => {
    shrinkDb = await createTestDatabase("bkshrink");
    await seedShop(shrinkDb.name);
    senv = { PATH: process.env.PATH, ...s3.env, DATABASE_URL: shrinkDb.url, BACKUP_PREFIX: "shrink/", ...notToday };
  });
  afterAll(async () => shrinkDb?.drop());

  it("passes the first backup and says there is nothing to compare with", async () => {
    const backup = await runTask(backupTask, senv);
    const result: VerifyResult = await runTask(verifyBackupTask, { ...senv, MAX_SHRINK_PERCENT: "50" });
    const d = result.databases[0];
    expect(d.ok).toBe(true);
    expect(d.checks.map((c) => c.name)).toEqual(["age", "size", "shrink", "sha256", "pg_restore"]);
    expect(d.checks[2]).toEqual({
      name: "shrink",
      ok: true,
      detail: `first backup of ${shrinkDb.name}: no previous backup to compare its ${backup.databases[0].sizeBytes} bytes with`,
    });
    expect(d.previousKey).toBeUndefined();
  });

  it("passes a backup of the same size and fails, in one line naming both sizes and the percent, one that shrank by more", async () => {
    const second = (await runTask(backupTask, senv)).databases[0];
    const same: VerifyResult = await runTask(verifyBackupTask, { ...senv, MAX_SHRINK_PERCENT: "50" });
    expect(same.databases[0].ok).toBe(true);
    expect(same.databases[0].key).toBe(second.key);
    expect(Math.abs(same.databases[0].shrinkPercent!)).toBeLessThan(5);

    // Most of the data goes; the next backup lands in another tier (weekly), and is still compared with the daily one before it.
    await adminQuery("DELETE FROM orders; DELETE FROM customers WHERE id > 100", [], shrinkDb.name);
    const third = (await runTask(backupTask, { ...senv, WEEKLY_DAY: String(today.getUTCDay()) })).databases[0];
    expect(third.key!.startsWith(`shrink/weekly/${shrinkDb.name}/`)).toBe(true);
    const prev = await readManifest(s3.client, s3.bucket, second.manifestKey!);
    const now = await readManifest(s3.client, s3.bucket, third.manifestKey!);
    const percent = Number((((prev.sizeBytes - now.sizeBytes) / prev.sizeBytes) * 100).toFixed(1));
    expect(percent).toBeGreaterThan(50);

    const err = await failure(runTask(verifyBackupTask, { ...senv, MAX_SHRINK_PERCENT: "50" }));
    expect(err.message).toBe(
      `verify-backup failed for 1 of 1 database(s): ${shrinkDb.name}: shrink: ${now.sizeBytes} bytes, ${percent} % smaller than the last backup that passed verification, ${second.key} of ${prev.sizeBytes} bytes (MAX_SHRINK_PERCENT 50)`,
    );
    const d = (err.result as VerifyResult).databases[0];
    expect([d.previousKey, d.previousSizeBytes, d.shrinkPercent]).toEqual([second.key, prev.sizeBytes, percent]);
    expect(d.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["shrink"]);

    // A looser bound passes the same backup; without MAX_SHRINK_PERCENT the sizes are not compared.
    const loose: VerifyResult = await runTask(verifyBackupTask, { ...senv, MAX_SHRINK_PERCENT: "99" });
    expect(loose.databases[0].checks.find((c) => c.name === "shrink")).toMatchObject({ ok: true, detail: expect.stringContaining(`${percent} % smaller than`) });
    const unset: VerifyResult = await runTask(verifyBackupTask, senv);
    expect(unset.databases[0].checks.map((c) => c.name)).toEqual(["age", "size", "sha256", "pg_restore"]);
  });

  it("a grown backup passes and reports how much larger it is", async () => {
    await seedMore(shrinkDb.name);
    const fourth = (await runTask(backupTask, senv)).databases[0];
    const result: VerifyResult = await runTask(verifyBackupTask, { ...senv, MAX_SHRINK_PERCENT: "10" });
    const d = result.databases[0];
    expect(d.ok).toBe(true);
    expect(d.key).toBe(fourth.key);
    expect(d.previousKey!.startsWith(`shrink/weekly/${shrinkDb.name}/`)).toBe(true);
    expect(d.shrinkPercent).toBeLessThan(0);
    expect(d.checks.find((c) => c.name === "shrink")!.detail).toMatch(/^\d+ bytes, \d+(\.\d)? % larger than the last backup that passed verification, shrink\/weekly\/\S+ of \d+ bytes/);
  });
});

async function seedMore(database: string): Promise<void> {
  await adminQuery(
    `INSERT INTO orders (customer_id, total, placed_at) SELECT 1 + g % 100, (g % 500) + 0.99, timestamp '2024-06-01' + g * interval '1 hour' FROM generate_series(1, 20000) g`,
    [],
    database,
  );
}
