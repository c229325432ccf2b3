/**
 * The backup path of a PostgreSQL 16+ database, the schema's default majorVersion: the task image
 * ships pg_dump of the server's major (image/Dockerfile), and COMPRESSION auto then compresses the
 * custom format with zstd level 1 instead of gzip (tasks/lib/pgtools.ts compressionArgs). Against a
 * real PostgreSQL 17 server and its own client tools (tests/helpers/pg17.ts) and the S3 server:
 * backup, verify-backup (every block decompressed), restore-drill and the bad-day restore, and a
 * truncated zstd archive refused.
 */
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask, type BackupResult } from "../tasks/backup";
import { runTask } from "../tasks/lib/runtime";
import { readManifest } from "../tasks/lib/s3";
import { restoreDrillTask, type DrillResult } from "../tasks/restore-drill";
import { restoreOptions, restoreTask } from "../tasks/restore";
import { verifyBackupTask, type VerifyResult } from "../tasks/verify-backup";
import { fingerprint, seedShop } from "./helpers/backup-fixtures";
import { startPg17, type Pg17 } from "./helpers/pg17";
import { startS3, type TestS3 } from "./helpers/s3";
import { failure } from "./helpers/task-failure";

let pg17: Pg17;
let s3: TestS3;
let env: Record<string, string | undefined>;
const DB = "shop";

async function objectBytes(key: string): Promise<Buffer> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

beforeAll(async () => {
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  [pg17, s3] = await Promise.all([startPg17(), startS3()]);
  await pg17.query(`CREATE DATABASE ${DB}`);
  await seedShop(DB, 2000, pg17.query);
  // PATH without the machine's PostgreSQL 15 tools in front: the task must take PG_BIN_DIR's.
  env = { PATH: process.env.PATH, ...s3.env, DATABASE_URL: pg17.url(DB), BACKUP_PREFIX: "pg17/", PG_BIN_DIR: pg17.binDir };
}, 120_000);

afterAll(async () => {
  await s3?.stop();
  await pg17?.stop();
  vi.restoreAllMocks();
});

describe("a PostgreSQL 17 database: zstd-compressed custom archives, stored, verified, drilled and restored", () => {
  let stored: BackupResult["databases"][number];

  it("backup (COMPRESSION auto) stores a zstd:1 custom archive made by pg_dump 17, its manifest's checksum matching", async () => {
    const result = await runTask(backupTask, env);
    stored = result.databases[0];
    expect(stored).toMatchObject({ ok: true, compression: "zstd:1" });
    expect(stored.clientVersion).toMatch(/^17\./);
    expect(stored.serverVersion).toMatch(/^17\./);
    const dump = await objectBytes(stored.key!);
    expect(dump.subarray(0, 5).toString()).toBe("PGDMP");
    const manifest = await readManifest(s3.client, s3.bucket, stored.manifestKey!);
    expect(manifest).toMatchObject({ compression: "zstd:1", sizeBytes: dump.length, sha256: createHash("sha256").update(dump).digest("hex") });
    // The archive's own header, as pg_restore reads it.
    const list = spawnSync(path.join(pg17.binDir, "pg_restore"), ["--list"], { input: dump, encoding: "utf8" });
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^;\s+Compression: zstd$/m);
    expect(list.stdout).toMatch(/TABLE DATA public customers/);
  });

  it("verify-backup reads every block of it back with pg_restore 17", async () => {
    const result: VerifyResult = await runTask(verifyBackupTask, { ...env, RPO_HOURS: "1", MIN_SIZE_MB: "0.05" });
    expect(result.databases[0].checks.map((c) => [c.name, c.ok])).toEqual([
      ["age", true],
      ["size", true],
      ["sha256", true],
      ["pg_restore", true],
    ]);
  });

  it("restore-drill restores it into a scratch database whose checks see every row", async () => {
    const checks = JSON.stringify([{ sql: "SELECT count(*) FROM customers", minRows: 2000 }, { sql: "SELECT count(*) FROM orders", minRows: 6000 }]);
    const result: DrillResult = await runTask(restoreDrillTask, { ...env, CHECKS: checks, RTO_MINUTES: "5" });
    const d = result.databases[0];
    expect(d.ok).toBe(true);
    expect(d.checks.map((c) => c.value)).toEqual([2000, 6000]);
    expect(d.dropped).toBe(true);
  });

  it("the bad-day restore puts back identical rows", async () => {
    await pg17.query("CREATE DATABASE shop_restored");
    await runTask(restoreTask, { ...env, ...restoreOptions({ database: [DB], target: [pg17.url("shop_restored")] }) });
    const original = await fingerprint(DB, pg17.query);
    expect(original.customers.startsWith("2000:")).toBe(true);
    expect(await fingerprint("shop_restored", pg17.query)).toEqual(original);
  });

  it("a zstd archive cut short fails verify-backup's pg_restore check even when its checksum and size were written for the cut copy", async () => {
    const dump = await objectBytes(stored.key!);
    const cut = dump.subarray(0, Math.floor(dump.length * 0.6));
    const manifest = await readManifest(s3.client, s3.bucket, stored.manifestKey!);
    const key = stored.key!.replace(/^pg17\//, "cut/");
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: cut }));
    const forged = { ...manifest, key, sizeBytes: cut.length, sha256: createHash("sha256").update(cut).digest("hex") };
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key.replace(/\.dump$/, ".manifest.json"), Body: JSON.stringify(forged) }));
    const err = await failure(runTask(verifyBackupTask, { ...env, BACKUP_PREFIX: "cut/", RPO_HOURS: "1", MIN_SIZE_MB: "0.01" }));
    const d = (err.result as VerifyResult).databases[0];
    expect(d.checks.map((c) => [c.name, c.ok])).toEqual([
      ["age", true],
      ["size", true],
      ["sha256", true],
      ["pg_restore", false],
    ]);
    expect(err.message).toMatch(/^verify-backup failed for 1 of 1 database\(s\): shop: pg_restore: /);
  });
});
