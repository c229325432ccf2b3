/**
 * restore and list-backups against the machine's PostgreSQL and an S3-compatible server: backups
 * taken by the backup task (uncompressed, so a tampered copy stays a dump pg_restore accepts),
 * copied into older keys of other tiers to give a history.
 */
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask } from "../tasks/backup";
import { runOnDemand } from "../tasks/handler";
import { listBackupsTask, type ListBackupsResult } from "../tasks/list-backups";
import { runTask } from "../tasks/lib/runtime";
import { readManifest, type Manifest } from "../tasks/lib/s3";
import { restoreOptions, type RestoreResult } from "../tasks/restore";
import { verifyBackupTask } from "../tasks/verify-backup";
import { fingerprint, seedShop } from "./helpers/backup-fixtures";
import { adminQuery, createTestDatabase } from "./helpers/pg";
import { restoreBench, type TestDb } from "./helpers/restore";
import { failure } from "./helpers/task-failure";
import { startS3, type TestS3 } from "./helpers/s3";

let s3: TestS3;
let source: TestDb;
let env: Record<string, string | undefined>;
/** Fingerprints of the source when each backup was taken. */
let stateA: Record<string, string>;
let stateB: Record<string, string>;
let newestKey: string;
let firstKey: string;

const OLD_MONTHLY = "20250101T020000000Z";
const OLD_WEEKLY = "20250105T020000000Z";

async function bytesOf(key: string): Promise<Buffer> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Stores `dump` as a backup of `tier` taken at `stamp`, with a manifest; `sha256` overrides the real one (a tampered object). */
async function plant(template: Manifest, dump: Buffer, tier: Manifest["tier"], stamp: string, sha256?: string): Promise<string> {
  const key = `pg/${tier}/${template.database}/${stamp}.dump`;
  const at = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(15, 18)}Z`;
  const manifest: Manifest = { ...template, key, tier, startedAt: at, finishedAt: at, sizeBytes: dump.length, sha256: sha256 ?? createHash("sha256").update(dump).digest("hex") };
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: dump }));
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key.replace(/\.dump$/, ".manifest.json"), Body: JSON.stringify(manifest) }));
  return key;
}

const { targets, freshTarget, restore, dropTargets } = restoreBench("rst", () => env);

beforeAll(async () => {
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  // Metric lines (Embedded Metric Format) of every run.
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  s3 = await startS3();
  source = await createTestDatabase("rsrc");
  await seedShop(source.name, 200);
  env = { PATH: process.env.PATH, ...s3.env, BACKUP_PREFIX: "pg/" };
  const backupEnv = { ...env, DATABASE_URL: source.url, COMPRESSION: "none" };

  stateA = await fingerprint(source.name);
  const a = (await runTask(backupTask, backupEnv)).databases[0];
  firstKey = a.key!;
  const manifestA = await readManifest(s3.client, s3.bucket, a.manifestKey!);
  await plant(manifestA, await bytesOf(a.key!), "monthly", OLD_MONTHLY);

  await adminQuery("DELETE FROM orders WHERE id % 3 = 0; UPDATE customers SET balance = 0 WHERE id < 50", [], source.name);
  stateB = await fingerprint(source.name);
  const b = (await runTask(backupTask, backupEnv)).databases[0];
  newestKey = b.key!;
  await plant(await readManifest(s3.client, s3.bucket, b.manifestKey!), await bytesOf(b.key!), "weekly", OLD_WEEKLY);
  expect(stateB).not.toEqual(stateA);
  // verify-backup checks the newest backup (b) and records its outcome beside it.
  const verified = await runTask(verifyBackupTask, { ...backupEnv, RPO_HOURS: "1" });
  expect(verified.databases[0]).toMatchObject({ ok: true, key: newestKey, recordKey: expect.stringMatching(new RegExp(`^pg/(daily|weekly|monthly)/${source.name}/verified/\\d{8}T\\d{9}Z\\.\\d{8}T\\d{9}Z-ok\\.json$`)) });
});

afterAll(async () => {
  await dropTargets();
  await source?.drop();
  await s3?.stop();
  vi.restoreAllMocks();
});

describe("restore", () => {
  it("restores the newest backup into an empty database: the same rows, and says what it restored", async () => {
    const target = await freshTarget();
    const r = await restore({ database: source.name, target: target.url });
    expect(r.key).toBe(newestKey);
    expect(r.database).toBe(source.name);
    expect(r.tables).toBe(2);
    expect(r.rows).toBe(200 + 400);
    expect(r.bytes).toBeGreaterThan(0);
    expect(r.target).toBe(`127.0.0.1:5432/${target.name}`);
    expect(r.seconds).toBeGreaterThan(0);
    expect(await fingerprint(target.name)).toEqual(stateB);
  });

  it("--before picks the newest backup taken before the time, across the tiers; --key one exact backup", async () => {
    const t1 = await freshTarget();
    const r1 = await restore({ database: source.name, target: t1.url, before: "2025-01-03T00:00:00Z" });
    expect(r1.key).toBe(`pg/monthly/${source.name}/${OLD_MONTHLY}.dump`);
    expect(r1.tier).toBe("monthly");
    expect(await fingerprint(t1.name)).toEqual(stateA);

    const t2 = await freshTarget();
    const r2 = await restore({ database: source.name, target: t2.url, before: "2025-06-01T00:00:00Z" });
    expect(r2.key).toBe(`pg/weekly/${source.name}/${OLD_WEEKLY}.dump`);
    expect(r2.startedAt).toBe("2025-01-05T02:00:00.000Z");
    expect(await fingerprint(t2.name)).toEqual(stateB);

    const t3 = await freshTarget();
    const r3 = await restore({ database: source.name, target: t3.url, key: firstKey });
    expect(r3.key).toBe(firstKey);
    expect(await fingerprint(t3.name)).toEqual(stateA);

    const none = await failure(restore({ database: source.name, target: t3.url, before: "2024-12-31T00:00:00Z" }));
    expect(none.message).toBe(`--before 2024-12-31T00:00:00Z: no backup of ${source.name} was taken before 2024-12-31T00:00:00.000Z; the oldest was taken at 2025-01-01T02:00:00.000Z`);
  });

  it("refuses a target that holds tables unless --clean, which drops and recreates what the dump holds", async () => {
    const target = await freshTarget();
    await restore({ database: source.name, target: target.url, key: firstKey });
    await adminQuery("CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (7)", [], target.name);

    const refused = await failure(restore({ database: source.name, target: target.url }));
    expect(refused.message).toBe(
      `--target 127.0.0.1:5432/${target.name}: holds 3 table(s) (public.customers, public.keep_me, public.orders); add --clean to drop and recreate what the backup holds, or restore into an empty database`,
    );
    expect(await fingerprint(target.name)).toEqual(stateA);

    const r = await restore({ database: source.name, target: target.url, clean: "true" });
    expect(r.clean).toBe(true);
    expect(await fingerprint(target.name)).toEqual(stateB);
    // What the dump does not hold stays.
    expect((await adminQuery("SELECT x FROM keep_me", [], target.name)).rows).toEqual([{ x: 7 }]);
  });

  it("stops on a tampered object before the target changes, though pg_restore alone would have restored it", async () => {
    const target = await freshTarget();
    await restore({ database: source.name, target: target.url, key: firstKey });
    const before = await fingerprint(target.name);

    // Same length, one name changed inside the COPY data: still a dump pg_restore reads without complaint.
    const dump = await bytesOf(newestKey);
    const at = dump.indexOf("Customer 150\t");
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(dump);
    tampered.write("Kustomer", at);
    const m = await readManifest(s3.client, s3.bucket, newestKey.replace(/\.dump$/, ".manifest.json"));
    const key = await plant(m, tampered, "daily", "20991231T000000000Z", m.sha256);
    const scratch = await freshTarget();
    const plain = spawnSync("pg_restore", ["-d", scratch.url, "--no-owner"], { input: tampered });
    expect(plain.status).toBe(0);
    expect((await adminQuery("SELECT count(*)::int AS n FROM customers WHERE name LIKE 'Kustomer%'", [], scratch.name)).rows[0].n).toBe(1);

    const err = await failure(restore({ database: source.name, target: target.url, key, clean: "true" }));
    expect(err.message).toMatch(new RegExp(`^sha256 of ${key} is [0-9a-f]{64} over ${dump.length} bytes, manifest says ${m.sha256} over ${dump.length}; nothing was restored: the transaction was rolled back and 127\\.0\\.0\\.1:5432/${target.name} is as it was$`));
    expect(await fingerprint(target.name)).toEqual(before);
  });

  it("names the argument in one line: an unknown database with the ones that have backups, a bad time, a missing target", async () => {
    const target = await freshTarget();
    const missing = await failure(restore({ database: "app2", target: target.url }));
    expect(missing.message).toBe(`--database app2: no such database in the bucket (s3://backups/pg/{daily,weekly,monthly}/app2/); databases with backups: ${source.name}`);
    expect(() => restoreOptions({ database: ["app"], target: [target.url], before: ["yesterday"] })).toThrow('--before: "yesterday" is not an ISO time (2025-10-10T02:00:00Z)');
    expect(() => restoreOptions({ database: ["app"] })).toThrow(/^--target: missing; the postgres:\/\/ URL or Secrets Manager ARN of the database to restore into$/);
    expect(() => restoreOptions({})).toThrow("--database: missing; the id of the database whose backup is restored (npm run task -- list-backups); --target: missing");
    const badKey = await failure(restore({ database: source.name, target: target.url, key: "pg/daily/x.dump" }));
    expect(badKey.message).toMatch(/^--key pg\/daily\/x\.dump: no backup of \S+ with that key; the newest is /);
  });

  it("runs from the command line as `npm run task -- restore`, ending with one JSON line", async () => {
    const target = targets[0];
    // Not spawnSync: the S3 server runs in this process and must keep answering.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn("npx", ["tsx", "tasks/cli.ts", "restore", "--database", "app2", "--target", target.url], { env: { ...process.env, ...env } as NodeJS.ProcessEnv });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]).error).toMatch(/^--database app2: no such database in the bucket/);
    expect(r.stderr).toContain(`error: --database app2: no such database in the bucket (s3://backups/pg/{daily,weekly,monthly}/app2/); databases with backups: ${source.name}\n`);
  });

  it("runs on demand in a task function from the event, answering with the result or the error line", async () => {
    const target = await freshTarget();
    const fnEnv = { ...env, TASK: "verify-backup" };
    const ok = (await runOnDemand({ task: "restore", options: { database: source.name, target: target.url, key: newestKey } }, fnEnv)) as RestoreResult;
    expect(ok.key).toBe(newestKey);
    expect(await fingerprint(target.name)).toEqual(stateB);
    expect(await runOnDemand({ task: "restore", options: { database: source.name, target: target.url } }, fnEnv)).toEqual({
      error: expect.stringMatching(/^--target 127\.0\.0\.1:5432\/\S+: holds 2 table\(s\)/),
    });
    expect(await runOnDemand({ task: "backup" }, fnEnv)).toEqual({
      error: 'task: "backup" is a scheduled task; this function runs verify-backup on its schedule, and on demand only restore or list-backups',
    });
  });
});

describe("list-backups", () => {
  it("lists every backup newest first with its tier, key, start, size, SHA-256 and the outcome of its verification", async () => {
    // The tampered backup is now the newest: verify-backup finds its SHA-256 wrong and records that.
    await failure(runTask(verifyBackupTask, { ...env, DATABASE_URL: source.url }));
    const r = (await runTask(listBackupsTask, { ...env, ...listBackupsTask.cli!({ database: [source.name] }) })) as ListBackupsResult;
    const keys = r.backups.map((b) => b.key);
    expect(keys[0]).toBe(`pg/daily/${source.name}/20991231T000000000Z.dump`);
    expect(keys.slice(1, 3)).toEqual([newestKey, firstKey]);
    expect(keys.slice(3)).toEqual([`pg/weekly/${source.name}/${OLD_WEEKLY}.dump`, `pg/monthly/${source.name}/${OLD_MONTHLY}.dump`]);
    const starts = r.backups.map((b) => Date.parse(b.startedAt));
    expect([...starts].sort((x, y) => y - x)).toEqual(starts);
    const m = await readManifest(s3.client, s3.bucket, firstKey.replace(/\.dump$/, ".manifest.json"));
    // No drill has passed for it: drilled null (restore-drill-record.test.ts has drilled ones).
    expect(r.backups[2]).toEqual({ database: source.name, tier: m.tier, key: firstKey, startedAt: m.startedAt, sizeBytes: m.sizeBytes, sha256: m.sha256, verified: null, drilled: null });
    expect(Object.keys(r.backups[0])).toEqual(["database", "tier", "key", "startedAt", "sizeBytes", "sha256", "verified", "drilled"]);
    expect(r.backups.map((b) => b.verified)).toEqual([false, true, null, null, null]);

    // Without --database: every database in the bucket (here the one).
    const all = (await runTask(listBackupsTask, env)) as ListBackupsResult;
    expect(all.backups).toEqual(r.backups);
  });

  it("names an unknown database in one line", async () => {
    const err = await failure(runTask(listBackupsTask, { ...env, LIST_DATABASE: "nope" }));
    expect(err.message).toBe(`--database nope: no such database in the bucket (s3://backups/pg/{daily,weekly,monthly}/nope/); databases with backups: ${source.name}`);
  });
});
