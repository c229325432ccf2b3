/**
 * Backups are written once. The vault's bucket policy (as the program declares it under Pulumi's mocks)
 * is evaluated with @cloud-copilot/iam-simulate together with the backup task role's own policy: an
 * upload under a tier prefix without `If-None-Match` is refused, with it allowed, multipart parts pass,
 * and keys outside the tier prefixes are as before. Then the backup task's real requests, recorded by an
 * HTTP proxy on 127.0.0.1 in front of the S3-compatible server, carry `If-None-Match: *` on the dump
 * (one PUT, or CompleteMultipartUpload) and on the manifest. The S3-compatible server (s3rver 3.7.1)
 * reads If-None-Match only on GET: it does not refuse a PUT to an existing key, so S3's 412 itself is
 * not reproduced here; what is checked is that every write asks for it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { RecordedResource } from "../plan/mocks";
import { runPlan } from "../plan/run";
import { backupTask } from "../tasks/backup";
import { runTask } from "../tasks/lib/runtime";
import { statementsOf } from "./helpers/iam";
import { adminQuery, createTestDatabase } from "./helpers/pg";
import { startS3, type TestS3 } from "./helpers/s3";
import { startRecordingProxy, vaultDecision, type Decision } from "./helpers/s3-requests";


describe("the vault's bucket policy with the backup role's policy (prod plan, IAM simulation)", () => {
  let resources: RecordedResource[];
  let bucketPolicy: unknown;
  let backupRolePolicy: unknown;
  let bucketArn: string;

  beforeAll(async () => {
    ({ resources } = await runPlan({ from: new Date("2026-11-23T00:00:00Z") }));
    const bp = resources.find((r) => r.type === "aws:s3/bucketPolicy:BucketPolicy" && r.name === "prod-backups-tls-only");
    bucketPolicy = JSON.parse(String(bp!.inputs.policy));
    const rp = resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "prod-db-app-backup-role");
    backupRolePolicy = JSON.parse(String(rp!.inputs.policy));
    bucketArn = String(statementsOf(bucketPolicy)[0].Resource![0]);
  }, 120_000);

  const decide = (policy: unknown, action: string, key: string, context: Record<string, string>): Promise<Decision> =>
    vaultDecision(policy, bucketPolicy, bucketArn, action, key, context);

  const KEY = "daily/app/20261123T020000000Z.dump";
  const MANIFEST = "daily/app/20261123T020000000Z.manifest.json";
  // PutObject and CompleteMultipartUpload are both authorised as s3:PutObject; S3 sets
  // s3:ObjectCreationOperation true for them and false for CreateMultipartUpload/UploadPart.
  const put = { "s3:ObjectCreationOperation": "true" };
  const withHeader = { ...put, "s3:if-none-match": "*" };
  const part = { "s3:ObjectCreationOperation": "false" };

  it("the bucket policy declares the write-once statement over the tier roots, whatever the number of databases", () => {
    const st = statementsOf(bucketPolicy).find((s) => s.Sid === "WrittenOnce")!;
    expect(st).toMatchObject({ Effect: "Deny", Principal: "*", Action: "s3:PutObject" });
    // drills/: the restore drills' records (tasks/lib/drill-record.ts), written once like the backups.
    expect(st.Resource).toEqual([`${bucketArn}/daily/*`, `${bucketArn}/weekly/*`, `${bucketArn}/monthly/*`, `${bucketArn}/drills/*`]);
  });

  it("PutObject of a dump or manifest without If-None-Match is denied; with it allowed", async () => {
    expect(await decide(backupRolePolicy, "s3:PutObject", KEY, put)).toBe("ExplicitlyDenied");
    expect(await decide(backupRolePolicy, "s3:PutObject", MANIFEST, put)).toBe("ExplicitlyDenied");
    expect(await decide(backupRolePolicy, "s3:PutObject", "weekly/app/x.dump", put)).toBe("ExplicitlyDenied");
    expect(await decide(backupRolePolicy, "s3:PutObject", KEY, withHeader)).toBe("Allowed");
    expect(await decide(backupRolePolicy, "s3:PutObject", MANIFEST, withHeader)).toBe("Allowed");
    // A request S3 did not mark as a part operation counts as a write of the object.
    expect(await decide(backupRolePolicy, "s3:PutObject", KEY, {})).toBe("ExplicitlyDenied");
  });

  it("multipart: CreateMultipartUpload and UploadPart pass, CompleteMultipartUpload needs the header", async () => {
    expect(await decide(backupRolePolicy, "s3:PutObject", KEY, part)).toBe("Allowed");
    expect(await decide(backupRolePolicy, "s3:PutObject", KEY, put)).toBe("ExplicitlyDenied");
    expect(await decide(backupRolePolicy, "s3:PutObject", KEY, withHeader)).toBe("Allowed");
    expect(await decide(backupRolePolicy, "s3:AbortMultipartUpload", KEY, {})).toBe("Allowed");
  });

  it("the role still cannot write outside its prefixes, delete, or reach another database's backups", async () => {
    expect(await decide(backupRolePolicy, "s3:PutObject", "daily/other/x.dump", withHeader)).toBe("ImplicitlyDenied");
    expect(await decide(backupRolePolicy, "s3:PutObject", "notes/x.txt", withHeader)).toBe("ImplicitlyDenied");
    expect(await decide(backupRolePolicy, "s3:DeleteObject", KEY, {})).toBe("ImplicitlyDenied");
  });

  it("keys outside the backup prefixes are as before: an administrator may replace them without the header, never a backup", async () => {
    const admin = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:PutObject"], Resource: [`${bucketArn}/*`] }] };
    expect(await decide(admin, "s3:PutObject", "notes/readme.txt", put)).toBe("Allowed");
    expect(await decide(admin, "s3:PutObject", "dailyx/app/x.dump", put)).toBe("Allowed");
    expect(await decide(admin, "s3:PutObject", KEY, put)).toBe("ExplicitlyDenied");
    // A tier root is write-once for every database, one no longer configured too; runs/ is not a tier root.
    expect(await decide(admin, "s3:PutObject", "daily/removed/x.dump", put)).toBe("ExplicitlyDenied");
    expect(await decide(admin, "s3:PutObject", "runs/app/backup/marker.json", put)).toBe("Allowed");
    expect(await decide(admin, "s3:PutObject", KEY, withHeader)).toBe("Allowed");
    // The TLS-only statement still applies to everything.
    expect(await decide(admin, "s3:PutObject", "notes/readme.txt", { ...put, "aws:SecureTransport": "false" })).toBe("ExplicitlyDenied");
  });
});

describe("the backup task's requests carry If-None-Match: * (recorded in front of the S3-compatible server)", () => {
  let s3: TestS3;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let small: Awaited<ReturnType<typeof createTestDatabase>>;
  let large: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    s3 = await startS3();
    proxy = await startRecordingProxy(s3.port);
    small = await createTestDatabase("wonce_small");
    await adminQuery("CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT g, 'n' || g FROM generate_series(1, 100) g;", [], small.name);
    large = await createTestDatabase("wonce_large");
    // About 12 MB of dump (hex compresses about 2:1): three 5 MB parts.
    await adminQuery(
      `CREATE TABLE events (id bigint PRIMARY KEY, payload text);
       INSERT INTO events SELECT g, md5(g::text) || md5((g * 31)::text) || md5(random()::text) || md5(random()::text) FROM generate_series(1, 200000) g;`,
      [],
      large.name,
    );
  }, 120_000);

  afterAll(async () => {
    await small?.drop();
    await large?.drop();
    await proxy?.close();
    await s3?.stop();
    vi.restoreAllMocks();
  });

  const env = (url: string) => ({ PATH: process.env.PATH, ...s3.env, AWS_ENDPOINT_URL_S3: proxy.url, DATABASE_URL: url, PART_SIZE_MB: "5" });
  const ofKey = (key: string) => proxy.requests.filter((r) => decodeURIComponent(r.path.split("?")[0]) === `/${s3.bucket}/${key}`);

  it("a small dump: one PUT with the header, and the manifest PUT with it", async () => {
    proxy.requests.length = 0;
    const result = await runTask(backupTask, env(small.url));
    const out = result.databases[0];
    expect(out.ok).toBe(true);
    const dump = ofKey(out.key!).filter((r) => r.method === "PUT");
    expect(dump).toHaveLength(1);
    expect(dump[0].path).not.toContain("uploadId");
    expect(dump[0].headers["if-none-match"]).toBe("*");
    const manifest = ofKey(out.manifestKey!).filter((r) => r.method === "PUT");
    expect(manifest).toHaveLength(1);
    expect(manifest[0].headers["if-none-match"]).toBe("*");
  }, 60_000);

  it("a multipart dump: parts without it (S3 takes none there), CompleteMultipartUpload with it; the manifest with it", async () => {
    proxy.requests.length = 0;
    const result = await runTask(backupTask, env(large.url));
    const out = result.databases[0];
    expect(out.ok).toBe(true);
    expect(out.sizeBytes).toBeGreaterThan(10 * 1024 * 1024);
    const requests = ofKey(out.key!);
    const create = requests.filter((r) => r.method === "POST" && /[?&]uploads(=|&|$)/.test(r.path));
    const parts = requests.filter((r) => r.method === "PUT" && r.path.includes("partNumber="));
    const complete = requests.filter((r) => r.method === "POST" && r.path.includes("uploadId="));
    expect(create).toHaveLength(1);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(complete).toHaveLength(1);
    expect(complete[0].headers["if-none-match"]).toBe("*");
    expect(requests.filter((r) => r.method === "PUT" && !r.path.includes("partNumber="))).toHaveLength(0);
    const manifest = ofKey(out.manifestKey!).filter((r) => r.method === "PUT");
    expect(manifest).toHaveLength(1);
    expect(manifest[0].headers["if-none-match"]).toBe("*");
  }, 120_000);

  it("S3's refusal of an existing manifest key fails the run in one line and replaces nothing", async () => {
    const before = await s3.snapshot();
    proxy.refuse.when = (r) => r.method === "PUT" && r.path.split("?")[0].endsWith(".manifest.json");
    try {
      const err = await runTask(backupTask, env(small.url)).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(
        new RegExp(
          `^backup failed for 1 of 1 database\\(s\\): ${small.name}: manifest s3://backups/(?:daily|weekly|monthly)/${small.name}/\\d{8}T\\d{9}Z\\.manifest\\.json not written: an object of that key already exists \\(backups are written once, never replaced\\)$`,
        ),
      );
    } finally {
      proxy.refuse.when = undefined;
    }
    const after = await s3.snapshot();
    for (const [key, etag] of before) expect(after.get(key), key).toBe(etag);
    expect([...after.keys()].filter((k) => !before.has(k) && k.endsWith(".manifest.json"))).toEqual([]);
  }, 60_000);
});
