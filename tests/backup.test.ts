import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask, type BackupResult } from "../tasks/backup";
import { runTask, TaskError } from "../tasks/lib/runtime";
import { readManifest } from "../tasks/lib/s3";
import { restoreDrillTask, type DrillResult } from "../tasks/restore-drill";
import { verifyBackupTask, type VerifyResult } from "../tasks/verify-backup";
import { fingerprint, seedShop } from "./helpers/backup-fixtures";
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, PG_USER } from "./helpers/pg";
import { startS3, type TestS3 } from "./helpers/s3";

let s3: TestS3;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let env: Record<string, string | undefined>;

async function objectBytes(key: string): Promise<Buffer> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function failure(p: Promise<unknown>): Promise<TaskError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TaskError) return err;
    throw err;
  }
  throw new Error("expected the task to fail");
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
      `restore-drill failed for 1 of 1 database(s): ${db.name}: check "SELECT count(*) FROM customers": 2000 (at least 5000), check "SELECT * FROM no_such_table": query failed: relation "no_such_table" does not exist`,
    );
    const d = (err.result as DrillResult).databases[0];
    expect(d.dropped).toBe(true);
    const left = await adminQuery("SELECT datname FROM pg_database WHERE datname LIKE $1", [`${db.name}_drill_%`]);
    expect(left.rows).toEqual([]);
  });

  it("restore-drill fails when the restore takes longer than the RTO", async () => {
    const err = await failure(runTask(restoreDrillTask, { ...env, RTO_MINUTES: "0.001" }));
    expect(err.message).toMatch(/restore took \d+\.\d s, over the RTO of 0\.06 s \(RTO_MINUTES 0\.001\)$/);
  });

  it("verify-backup and restore-drill fail on a tampered object", async () => {
    const result = await runTask(backupTask, env);
    const key = result.databases[0].key!;
    const bytes = await objectBytes(key);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes }));
    const err = await failure(runTask(verifyBackupTask, env));
    expect(err.message).toContain(`${db.name}: sha256: sha256 of the object is `);
    expect(err.message).toContain(`manifest says ${result.databases[0].sha256}`);
    const drill = await failure(runTask(restoreDrillTask, env));
    expect((drill.result as DrillResult).databases[0].dropped).toBe(true);
    const left = await adminQuery("SELECT datname FROM pg_database WHERE datname LIKE $1", [`${db.name}_drill_%`]);
    expect(left.rows).toEqual([]);
  });

  it("emits BackupSucceeded with a Database dimension", async () => {
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
    expect(emf.Database).toBe(db.name);
    expect(emf.Task).toBe("backup");
    expect(emf._aws.CloudWatchMetrics[0].Dimensions).toEqual([["service", "Task", "Database"]]);
  });
});
