/**
 * What the restore drills proved, as the bad day reads it, against the machine's PostgreSQL and an
 * S3-compatible server: a passing drill writes its record under `drills/<db>/` (with If-None-Match: *,
 * seen by a recording proxy; S3's 412 for an existing key is answered by the proxy, as s3rver does not
 * refuse an overwrite), a failing one a `failed` record that counts for nothing; restore names the
 * last passing drill and whether the backup it restores is that one, newer or older; list-backups
 * marks the drill-restored backups; a database no drill passed for is said so. Then the prod plan's
 * roles under the IAM simulator with the vault's bucket policy: the drill role writes only its own
 * database's drills/ prefix and only with If-None-Match, the verify-backup role (which runs restore
 * and list-backups on the bad day) reads it; and the drill records' lifecycle rule.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { RecordedResource } from "../plan/mocks";
import { runPlan } from "../plan/run";
import { backupTask } from "../tasks/backup";
import { drillStanding, type DrillRecord } from "../tasks/lib/drill-record";
import { listBackupsTask, type ListBackupsResult } from "../tasks/list-backups";
import { runTask } from "../tasks/lib/runtime";
import { readManifest } from "../tasks/lib/s3";
import { restoreDrillTask, type DrillResult } from "../tasks/restore-drill";
import { seedShop } from "./helpers/backup-fixtures";
import { statementsOf } from "./helpers/iam";
import { createTestDatabase } from "./helpers/pg";
import { restoreBench, restoreBucket, type TestDb } from "./helpers/restore";
import type { TestS3 } from "./helpers/s3";
import { startRecordingProxy, vaultDecision } from "./helpers/s3-requests";
import { failure } from "./helpers/task-failure";

describe("drill records, restore and list-backups", () => {
  let s3: TestS3;
  let env: Record<string, string | undefined>;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let shop: TestDb;
  let other: TestDb;
  let drilledKey: string;
  let drilledAt: string;
  let failedAt: string;
  const { freshTarget, restore, dropTargets } = restoreBench("rdr", () => env);
  const stderr = () => vi.mocked(process.stderr.write).mock.calls.map((c) => String(c[0])).join("");
  const backup = async (db: TestDb) => (await runTask(backupTask, { ...env, DATABASE_URL: db.url, COMPRESSION: "none" })).databases[0];
  const CHECKS = JSON.stringify([{ name: "customers", sql: "SELECT count(*) FROM customers", minRows: 200 }]);
  const drill = (db: TestDb, checks = CHECKS) => runTask(restoreDrillTask, { ...env, AWS_ENDPOINT_URL_S3: proxy.url, DATABASE_URL: db.url, RTO_MINUTES: "45", CHECKS: checks });
  const keysUnder = async (prefix: string) => ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();
  const read = async <T,>(key: string): Promise<T> => JSON.parse(await (await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))).Body!.transformToString()) as T;
  const list = async (db: TestDb) => runTask(listBackupsTask, { ...env, LIST_DATABASE: db.name }) as Promise<ListBackupsResult>;

  beforeAll(async () => {
    ({ s3, env } = await restoreBucket());
    proxy = await startRecordingProxy(s3.port);
    shop = await createTestDatabase("rdrshop");
    await seedShop(shop.name, 200);
    other = await createTestDatabase("rdrother");
    await seedShop(other.name, 20);
    drilledKey = (await backup(shop)).key!;
    await backup(other);
  }, 120_000);

  afterAll(async () => {
    await dropTargets();
    await shop?.drop();
    await other?.drop();
    await proxy?.close();
    await s3?.stop();
    vi.restoreAllMocks();
  });

  it("a passing drill writes one record under drills/<db>/, once (If-None-Match: *), with what it proved", async () => {
    proxy.requests.length = 0;
    const r: DrillResult = await drill(shop);
    const outcome = r.databases[0];
    expect(outcome.ok).toBe(true);
    expect(await keysUnder(`pg/drills/${shop.name}/`)).toEqual([outcome.recordKey]);
    expect(outcome.recordKey).toMatch(new RegExp(`^pg/drills/${shop.name}/\\d{8}T\\d{9}Z\\.passed\\.json$`));
    const puts = proxy.requests.filter((q) => q.method === "PUT" && decodeURIComponent(q.path.split("?")[0]) === `/${s3.bucket}/${outcome.recordKey}`);
    expect(puts).toHaveLength(1);
    expect(puts[0].headers["if-none-match"]).toBe("*");
    const record = await read<DrillRecord>(outcome.recordKey!);
    const manifest = await readManifest(s3.client, s3.bucket, drilledKey.replace(/\.dump$/, ".manifest.json"));
    expect(record).toEqual({
      database: shop.name,
      outcome: "passed",
      backupKey: drilledKey,
      backupStartedAt: manifest.startedAt,
      drillStartedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      restoreSeconds: outcome.restoreSeconds,
      rtoMinutes: 45,
      checks: [{ name: "customers", ok: true, detail: "found 200 row(s) (minRows 200)" }],
      runner: "local",
    });
    expect(record.restoreSeconds).toBeGreaterThan(0);
    drilledAt = record.drillStartedAt;
  }, 120_000);

  it("restore names the last passing drill, and that the backup it restores is that one", async () => {
    const target = await freshTarget();
    const result = await restore({ database: shop.name, target: target.url });
    expect(result.key).toBe(drilledKey);
    expect(result.drill?.chosen).toBe("drill-restored");
    const minutes = ((result.drill!.lastPassed!.restoreSeconds ?? 0) / 60).toFixed(1);
    const line = `the last restore drill of ${shop.name} passed ${drilledAt} on ${drilledKey} (taken ${result.startedAt}), restored in ${minutes} min of the 45 min RTO (run by hand); the backup chosen is that one`;
    expect(result.drill?.line).toBe(line);
    expect(stderr()).toContain(`${line}\n`);
  }, 120_000);

  it("a newer backup is named as newer and not drill-restored; a failed drill of it writes a failed record that proves nothing", async () => {
    const newer = (await backup(shop)).key!;
    const err = await failure(drill(shop, JSON.stringify([{ name: "too many", sql: "SELECT count(*) FROM customers", minRows: 1000 }])));
    const failed = (err.result as DrillResult).databases[0];
    expect(failed.key).toBe(newer);
    expect(failed.recordKey).toMatch(/\.failed\.json$/);
    const record = await read<DrillRecord>(failed.recordKey!);
    expect([record.outcome, record.backupKey, record.error]).toEqual(["failed", newer, `check "too many": found 200 row(s), fewer than minRows 1000`]);

    const target = await freshTarget();
    const result = await restore({ database: shop.name, target: target.url });
    expect(result.key).toBe(newer);
    expect(result.drill?.chosen).toBe("newer");
    expect(result.drill?.lastPassed?.backupKey).toBe(drilledKey);
    expect(result.drill?.line).toMatch(new RegExp(`^the last passing restore drill of ${shop.name} passed ${drilledAt} on ${drilledKey} .* RTO \\(run by hand\\); the backup chosen, ${newer} \\(taken ${result.startedAt}\\), is newer and was not drill-restored; a later drill on ${record.drillStartedAt} of this backup failed: check "too many": found 200 row\\(s\\), fewer than minRows 1000$`));
    expect(stderr()).toContain(result.drill!.line);
    failedAt = record.drillStartedAt;

    const listed = (await list(shop)).backups;
    expect(listed.map((b) => [b.key, b.drilled?.drillStartedAt ?? null, b.failedDrill ?? null])).toEqual([
      [newer, null, { drillStartedAt: record.drillStartedAt, error: `check "too many": found 200 row(s), fewer than minRows 1000` }],
      [drilledKey, drilledAt, null],
    ]);
    const failedRow = stderr().split("\n").reverse().find((l) => l.endsWith(newer))!;
    expect(failedRow).toContain(`failed ${record.drillStartedAt.replace("T", " ").replace(/\.\d+Z$/, "Z")}: check "too many": found 200 row(s), fewer than minRows 1000 `);
    const row = stderr().split("\n").reverse().find((l) => l.endsWith(drilledKey))!;
    expect(row).toContain(`${drilledAt.replace("T", " ").replace(/\.\d+Z$/, "Z")} (`);
    expect(row).toContain("min of the 45 min RTO)");
  }, 180_000);

  it("an older backup restored by --key is named as older", async () => {
    // An older copy of the drilled backup, under a key of its own.
    const manifest = await readManifest(s3.client, s3.bucket, drilledKey.replace(/\.dump$/, ".manifest.json"));
    const old = `pg/monthly/${shop.name}/20250101T020000000Z.dump`;
    const body = await (await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: drilledKey }))).Body!.transformToByteArray();
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: old, Body: body }));
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: old.replace(/\.dump$/, ".manifest.json"), Body: JSON.stringify({ ...manifest, key: old, tier: "monthly", startedAt: "2025-01-01T02:00:00.000Z", finishedAt: "2025-01-01T02:00:00.000Z" }) }));
    const target = await freshTarget();
    const result = await restore({ database: shop.name, target: target.url, key: old });
    expect(result.drill?.chosen).toBe("older");
    // The last drill failed on another backup (the newer one): said, with which backup.
    const newer = (await list(shop)).backups[0].key;
    expect(result.drill?.line).toMatch(new RegExp(`; the backup chosen, ${old} \\(taken 2025-01-01T02:00:00.000Z\\), is older and was not drill-restored; the last drill, on ${failedAt}, failed, of ${newer}: check "too many": found 200 row\\(s\\), fewer than minRows 1000$`));
  }, 120_000);

  it("no drill record: restore and list-backups say no restore drill has passed, and go on", async () => {
    const target = await freshTarget();
    const result = await restore({ database: other.name, target: target.url });
    expect(result.drill).toEqual({ chosen: "none", line: `no restore drill has passed for ${other.name}; the backup chosen, ${result.key}, was never drill-restored` });
    expect(result.tables).toBe(2);
    const listed = (await list(other)).backups;
    expect(listed.map((b) => b.drilled)).toEqual([null]);
    expect(stderr()).toContain(`no restore drill has passed for ${other.name}\n`);
  }, 120_000);

  it("a drill record of that key already there (S3 answers 412): the drill fails in one line naming it, nothing replaced", async () => {
    proxy.refuse.when = (q) => q.method === "PUT" && q.path.includes("/drills/");
    try {
      const err = await failure(drill(shop));
      expect(err.message).toMatch(
        new RegExp(`^restore-drill failed for 1 of 1 database\\(s\\): ${shop.name}: drill record s3://backups/pg/drills/${shop.name}/\\d{8}T\\d{9}Z\\.passed\\.json not written: a record of that key already exists \\(drill records are written once\\)$`),
      );
    } finally {
      proxy.refuse.when = undefined;
    }
    expect((await keysUnder(`pg/drills/${shop.name}/`)).filter((k) => k.endsWith(".passed.json"))).toHaveLength(1);
  }, 120_000);
});

describe("a drill that failed after a passing one of the same backup, and a drill that checked nothing", () => {
  let s3: TestS3;
  let env: Record<string, string | undefined>;
  let shop: TestDb;
  let key: string;
  const { freshTarget, restore, dropTargets } = restoreBench("rdrf", () => env);
  const stderr = () => vi.mocked(process.stderr.write).mock.calls.map((c) => String(c[0])).join("");
  const drill = (checks: string) => runTask(restoreDrillTask, { ...env, DATABASE_URL: shop.url, RTO_MINUTES: "45", CHECKS: checks });
  const GOOD = JSON.stringify([{ name: "customers", sql: "SELECT count(*) FROM customers", minRows: 10 }]);
  const BAD = JSON.stringify([{ name: "customers", sql: "SELECT count(*) FROM customers", minRows: 100000 }]);
  const ERROR = `check "customers": found 50 row(s), fewer than minRows 100000`;
  const time = (t: string) => t.replace("T", " ").replace(/\.\d+Z$/, "Z");

  beforeAll(async () => {
    ({ s3, env } = await restoreBucket());
    shop = await createTestDatabase("rdrfshop");
    await seedShop(shop.name, 50);
    key = (await runTask(backupTask, { ...env, DATABASE_URL: shop.url, COMPRESSION: "none" })).databases[0].key!;
  }, 120_000);

  afterAll(async () => {
    await dropTargets();
    await shop?.drop();
    await s3?.stop();
    vi.restoreAllMocks();
  });

  it("restore names the later failed drill of the backup it restores, with its first error; list-backups shows it failed", async () => {
    const passed = (await drill(GOOD)).databases[0];
    expect(passed.ok).toBe(true);
    const failed = ((await failure(drill(BAD))).result as DrillResult).databases[0];
    expect(failed.key).toBe(key);
    const failedAt = (JSON.parse(await (await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: failed.recordKey! }))).Body!.transformToString()) as DrillRecord).drillStartedAt;

    const result = await restore({ database: shop.name, target: (await freshTarget()).url });
    expect(result.key).toBe(key);
    expect(result.drill?.chosen).toBe("drill-restored");
    const p = result.drill!.lastPassed!;
    const line = `the last passing restore drill of ${shop.name} passed ${p.drillStartedAt} on ${key} (taken ${result.startedAt}), restored in ${((p.restoreSeconds ?? 0) / 60).toFixed(1)} min of the 45 min RTO (run by hand); the backup chosen is that one; a later drill on ${failedAt} of this backup failed: ${ERROR}`;
    expect(result.drill?.line).toBe(line);
    expect(stderr()).toContain(`${line}\n`);

    const listed = (await runTask(listBackupsTask, { ...env, LIST_DATABASE: shop.name })) as ListBackupsResult;
    expect(listed.backups.map((b) => [b.key, b.drilled?.drillStartedAt, b.failedDrill])).toEqual([[key, p.drillStartedAt, { drillStartedAt: failedAt, error: ERROR }]]);
    const row = stderr().split("\n").reverse().find((l) => l.endsWith(key))!;
    expect(row).toContain(`failed ${time(failedAt)}: ${ERROR}; passed ${time(p.drillStartedAt)} (`);
  }, 180_000);

  it("a passing drill that ran no checks is named as such, and it is the last drill now", async () => {
    const none = (await drill("[]")).databases[0];
    expect(none.ok).toBe(true);
    const result = await restore({ database: shop.name, target: (await freshTarget()).url });
    const p = result.drill!.lastPassed!;
    expect(p.checks).toEqual([]);
    expect(result.drill?.line).toBe(
      `the last restore drill of ${shop.name} passed ${p.drillStartedAt} on ${key} (taken ${result.startedAt}), restored in ${((p.restoreSeconds ?? 0) / 60).toFixed(1)} min of the 45 min RTO (no integrity checks ran; run by hand); the backup chosen is that one`,
    );
    const listed = (await runTask(listBackupsTask, { ...env, LIST_DATABASE: shop.name })) as ListBackupsResult;
    expect(listed.backups.map((b) => [b.drilled?.drillStartedAt, b.failedDrill])).toEqual([[p.drillStartedAt, undefined]]);
  }, 180_000);

  it("a drill run by Lambda or Fargate with checks is named without a qualifier; with no passing drill, the last failed one is named", () => {
    const base = { database: "app", backupKey: "pg/daily/app/a.dump", backupStartedAt: "2026-11-01T02:00:00.000Z", rtoMinutes: 60, restoreSeconds: 840 };
    const ok = { ...base, key: "pg/drills/app/20261103T030000000Z.passed.json", outcome: "passed" as const, drillStartedAt: "2026-11-03T03:00:00.000Z", runner: "fargate" as const, checks: [{ name: "c", ok: true, detail: "found 1 row(s) (minRows 1)" }] };
    expect(drillStanding("app", [ok], { key: base.backupKey, startedAt: base.backupStartedAt }).line).toBe(
      "the last restore drill of app passed 2026-11-03T03:00:00.000Z on pg/daily/app/a.dump (taken 2026-11-01T02:00:00.000Z), restored in 14.0 min of the 60 min RTO; the backup chosen is that one",
    );
    const bad = { ...ok, key: "pg/drills/app/20261104T030000000Z.failed.json", outcome: "failed" as const, drillStartedAt: "2026-11-04T03:00:00.000Z", error: "restore took 70 min, over the 60 min RTO" };
    expect(drillStanding("app", [bad], { key: "pg/daily/app/b.dump", startedAt: "2026-11-05T02:00:00.000Z" }).line).toBe(
      "no restore drill has passed for app; the backup chosen, pg/daily/app/b.dump, was never drill-restored; the last drill, on 2026-11-04T03:00:00.000Z, failed, of pg/daily/app/a.dump: restore took 70 min, over the 60 min RTO",
    );
  });
});

describe("the drill records' grants and lifecycle (prod plan, IAM simulation with the vault's bucket policy)", () => {
  let resources: RecordedResource[];
  let bucketPolicy: unknown;
  let bucketArn: string;
  const role = (name: string) => JSON.parse(String(resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === name)!.inputs.policy));
  const put = { "s3:ObjectCreationOperation": "true" };
  const withHeader = { ...put, "s3:if-none-match": "*" };
  const RECORD = "drills/app/20261201T030000000Z.passed.json";

  beforeAll(async () => {
    ({ resources } = await runPlan({ from: new Date("2026-12-01T00:00:00Z") }));
    bucketPolicy = JSON.parse(String(resources.find((r) => r.type === "aws:s3/bucketPolicy:BucketPolicy" && r.name === "prod-backups-tls-only")!.inputs.policy));
    bucketArn = String(statementsOf(bucketPolicy)[0].Resource![0]);
  }, 120_000);

  it("the drill role writes its database's drill records only, and only with If-None-Match", async () => {
    const drillRole = role("prod-db-app-restore-drill-role");
    const decide = (action: string, key: string, context: Record<string, string>) => vaultDecision(drillRole, bucketPolicy, bucketArn, action, key, context);
    expect(await decide("s3:PutObject", RECORD, withHeader)).toBe("Allowed");
    expect(await decide("s3:PutObject", RECORD, put)).toBe("ExplicitlyDenied");
    expect(await decide("s3:PutObject", "drills/other/20261201T030000000Z.passed.json", withHeader)).toBe("ImplicitlyDenied");
    expect(await decide("s3:PutObject", "daily/app/20261201T030000000Z.dump", withHeader)).toBe("ImplicitlyDenied");
    expect(await decide("s3:DeleteObject", RECORD, {})).toBe("ImplicitlyDenied");
  });

  it("the verify-backup role (restore, list-backups) reads and lists its database's drill records, writes none", async () => {
    const verifyRole = role("prod-db-app-verify-backup-role");
    const decide = (action: string, key: string | undefined, context: Record<string, string>) => vaultDecision(verifyRole, bucketPolicy, bucketArn, action, key, context);
    expect(await decide("s3:GetObject", RECORD, {})).toBe("Allowed");
    expect(await decide("s3:ListBucket", undefined, { "s3:prefix": "drills/app/" })).toBe("Allowed");
    expect(await decide("s3:GetObject", "drills/other/20261201T030000000Z.passed.json", {})).toBe("ImplicitlyDenied");
    expect(await decide("s3:ListBucket", undefined, { "s3:prefix": "drills/other/" })).toBe("ImplicitlyDenied");
    expect(await decide("s3:PutObject", RECORD, withHeader)).toBe("ImplicitlyDenied");
  });

  it("the records expire with the database's longest tier (monthly, 365 days), old versions as the backups'", () => {
    const lifecycle = resources.find((r) => r.type === "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration" && r.name === "prod-backups-lifecycle")!;
    const rules = lifecycle.inputs.rules as { id: string }[];
    expect(rules.find((r) => r.id === "drills-app")).toEqual({ id: "drills-app", status: "Enabled", filter: { prefix: "drills/app/" }, expiration: { days: 365 }, noncurrentVersionExpiration: { noncurrentDays: 7 } });
  });
});
