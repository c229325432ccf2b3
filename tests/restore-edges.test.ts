/**
 * restore's refusals at the edges, against the machine's PostgreSQL and an S3-compatible server:
 * two databases' backups in one bucket, a manifest changed to point elsewhere, a target that does
 * not exist, times that are not what they seem. Every refusal leaves the target as it was.
 */
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupTask } from "../tasks/backup";
import { runTask } from "../tasks/lib/runtime";
import { readManifest } from "../tasks/lib/s3";
import { restoreOptions, restoreTask } from "../tasks/restore";
import { fingerprint, seedShop } from "./helpers/backup-fixtures";
import { freePort } from "./helpers/free-port";
import { adminQuery, createTestDatabase, PG_HOST, PG_USER } from "./helpers/pg";
import { restoreBench, restoreBucket, type TestDb } from "./helpers/restore";
import { failure } from "./helpers/task-failure";
import type { TestS3 } from "./helpers/s3";
import { setSdkEnv, startSecretsManager } from "./helpers/secrets-manager";

let s3: TestS3;
let app: TestDb;
let other: TestDb;
let env: Record<string, string | undefined>;
let appKey: string;
let otherKey: string;

const { freshTarget, restore, dropTargets } = restoreBench("rse", () => env);

beforeAll(async () => {
  ({ s3, env } = await restoreBucket());
  app = await createTestDatabase("rsa");
  other = await createTestDatabase("rsb");
  await seedShop(app.name, 50);
  await seedShop(other.name, 60);
  appKey = (await runTask(backupTask, { ...env, DATABASE_URL: app.url, COMPRESSION: "none" })).databases[0].key!;
  otherKey = (await runTask(backupTask, { ...env, DATABASE_URL: other.url, COMPRESSION: "none" })).databases[0].key!;
});

afterAll(async () => {
  await dropTargets();
  await app?.drop();
  await other?.drop();
  await s3?.stop();
  vi.restoreAllMocks();
});

describe("restore at the edges", () => {
  it("refuses a manifest that names another object than the dump beside it (here another database's backup)", async () => {
    const target = await freshTarget();
    await restore({ database: app.name, target: target.url, key: appKey });
    const before = await fingerprint(target.name);
    const mine = await readManifest(s3.client, s3.bucket, appKey.replace(/\.dump$/, ".manifest.json"));
    const theirs = await readManifest(s3.client, s3.bucket, otherKey.replace(/\.dump$/, ".manifest.json"));
    // The newest manifest of app now describes other's dump: its key, size and SHA-256 all agree with that object.
    const forged = `pg/daily/${app.name}/20991231T000000000Z.manifest.json`;
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: forged, Body: JSON.stringify({ ...mine, key: theirs.key, sizeBytes: theirs.sizeBytes, sha256: theirs.sha256 }) }));
    const err = await failure(restore({ database: app.name, target: target.url, clean: "true" }));
    expect(err.message).toBe(`manifest ${forged}: describes ${otherKey}, not the dump beside it (pg/daily/${app.name}/20991231T000000000Z.dump); it was changed or copied, so it is not used`);
    expect(await fingerprint(target.name)).toEqual(before);
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: forged }));
  });

  it("names --target in one line when the target database does not exist", async () => {
    const err = await failure(restore({ database: app.name, target: "postgres://postgres@127.0.0.1:5432/rse_no_such_database" }));
    expect(err.message).toBe('--target 127.0.0.1:5432/rse_no_such_database: cannot connect: database "rse_no_such_database" does not exist; create it first (createdb) or name an existing one');
  });

  it("refuses a --before day that does not exist rather than rolling it into the next month", () => {
    expect(() => restoreOptions({ database: ["app"], target: ["postgres://h/app"], before: ["2025-02-30T00:00:00Z"] })).toThrow('--before: "2025-02-30T00:00:00Z" is not a time that exists');
    expect(() => restoreOptions({ database: ["app"], target: ["postgres://h/app"], before: ["2025-04-31T00:00Z"] })).toThrow('--before: "2025-04-31T00:00Z" is not a time that exists');
    expect(restoreOptions({ database: ["app"], target: ["postgres://h/app"], before: ["2024-02-29T23:59:59.5+01:00"] }).RESTORE_BEFORE).toBe("2024-02-29T23:59:59.5+01:00");
  });

  it("refuses a --before date alone instead of reading it as UTC midnight, hours from the midnight meant", () => {
    expect(() => restoreOptions({ database: ["app"], target: ["postgres://h/app"], before: ["2026-11-29"] })).toThrow(
      '--before: "2026-11-29" is a date without a time of day and offset; give both, like 2026-11-29T00:00:00-05:00 or 2026-11-29T00:00:00Z, so the time read is the one you mean',
    );
    expect(restoreOptions({ database: ["app"], target: ["postgres://h/app"], before: ["2026-11-29T00:00:00+09:00"] }).RESTORE_BEFORE).toBe("2026-11-29T00:00:00+09:00");
  });

  it("the README's --before examples parse", () => {
    const examples = [...readFileSync("README.md", "utf8").matchAll(/--before (\S+)/g)].map((m) => m[1]).filter((v) => /^\d/.test(v));
    expect(examples.length).toBeGreaterThan(0);
    for (const v of examples) expect(restoreOptions({ database: ["app"], target: ["postgres://h/app"], before: [v] }).RESTORE_BEFORE).toBe(v);
  });

  it("refuses a --before time of day without its offset instead of reading it as UTC", () => {
    expect(() => restoreOptions({ database: ["app"], target: ["postgres://h/app"], before: ["2026-11-29T09:05"] })).toThrow(
      '--before: "2026-11-29T09:05" has no offset; add Z for UTC or the local offset (2026-11-29T09:05-05:00), so the backup chosen is the one before the time you mean',
    );
    expect(restoreOptions({ database: ["app"], target: ["postgres://h/app"], before: ["2026-11-29T09:05-05:00"] }).RESTORE_BEFORE).toBe("2026-11-29T09:05-05:00");
  });

  it("a download cut mid-object stops the restore and leaves the target as it was", async () => {
    const target = await freshTarget();
    await restore({ database: app.name, target: target.url, key: appKey });
    const before = await fingerprint(target.name);
    // A proxy in front of the S3 server that cuts the dump's download after 8 kB of its ~20 kB.
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const upstream = net.connect(s3.port, "127.0.0.1");
      sockets.add(client).add(upstream);
      let answered = -Infinity;
      upstream.on("data", (chunk: Buffer) => {
        const room = 8_000 - answered;
        answered += chunk.length;
        if (room >= chunk.length) return void client.write(chunk);
        client.write(chunk.subarray(0, room), () => (client.destroy(), upstream.destroy()));
      });
      client.on("data", (c: Buffer) => {
        if (/^GET \S+\.dump[ ?]/.test(c.toString("latin1"))) answered = 0;
        upstream.write(c);
      });
      client.on("error", () => upstream.destroy()).on("close", () => upstream.destroy());
      upstream.on("error", () => client.destroy()).on("close", () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const endpoint = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    try {
      const err = await failure(
        runTask(restoreTask, { ...env, AWS_ENDPOINT_URL_S3: endpoint, ...restoreOptions({ database: [app.name], target: [target.url], key: [appKey], clean: ["true"] }) }),
      );
      expect(err.message).toBe(`${appKey}: reading the backup stopped (aborted); nothing was restored: the transaction was rolled back and 127.0.0.1:5432/${target.name} is as it was`);
    } finally {
      for (const x of sockets) x.destroy();
      await new Promise((r) => proxy.close(r));
    }
    expect(await fingerprint(target.name)).toEqual(before);
  });

  it("counts views and sequences as content: a target holding only those is refused without --clean, unchanged", async () => {
    const target = await freshTarget();
    await adminQuery("CREATE VIEW customers AS SELECT 1 AS id; CREATE SEQUENCE orders_id_seq", [], target.name);
    const err = await failure(restore({ database: app.name, target: target.url, key: appKey }));
    expect(err.message).toBe(
      `--target 127.0.0.1:5432/${target.name}: holds 2 relation(s) (public.customers (view), public.orders_id_seq (sequence)); add --clean to drop and recreate what the backup holds, or restore into an empty database`,
    );
    expect((await adminQuery("SELECT id FROM customers", [], target.name)).rows).toEqual([{ id: 1 }]);
  });
});

describe("restore --target <Secrets Manager secret without dbname> (an RDS-managed master user secret)", () => {
  const MASTER = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/master-AbCdEf";
  it("is refused in one line naming --target and the secret, before any connection: never restored into the server's postgres database", async () => {
    // Nothing listens on the secret's port: a restore that connected at all would fail on that instead.
    const sm = await startSecretsManager({ [MASTER]: JSON.stringify({ host: PG_HOST, port: await freePort(), username: PG_USER, password: "x" }) });
    const restoreSdkEnv = setSdkEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url, AWS_ACCESS_KEY_ID: "AKIDTESTDB", AWS_SECRET_ACCESS_KEY: "test-secret-access-key", AWS_REGION: "us-east-1" });
    try {
      const err = await failure(restore({ database: app.name, target: MASTER }));
      expect(err.message).toBe(
        `--target: secret ${MASTER} holds no dbname and no database name is configured; name the database with a postgres:// URL as --target, or add dbname to the secret`,
      );
    } finally {
      restoreSdkEnv();
      await sm.close();
    }
  });
});
