/**
 * backup: pg_dump (custom format) of each configured database, streamed straight into an S3
 * multipart upload — no local disk, memory bounded by part size x queue size. The upload is
 * completed only after pg_dump exited 0 (aborted otherwise), then a manifest with the SHA-256
 * computed while streaming is written beside the dump, last, so a manifest always means a whole dump.
 * Both are written once (`If-None-Match: *`): an upload never replaces an existing backup or manifest.
 * Keys: <BACKUP_PREFIX><tier>/<database>/<timestamp>.dump and .manifest.json. The tier is that of
 * the run's scheduled time (tasks/lib/tiers.ts tierFor, the rule the plan's retention promises apply
 * to the schedule's runs, regime/retention-promises.ts), in TIMEZONE: a run scheduled 23:58 on the
 * monthly day that starts after midnight (a retry, a cold start, a Fargate start) is still that
 * month's monthly copy. A run by hand has no scheduled time and takes its start's tier. The timestamp
 * is the dump's start, the moment its data is from (restore --before, verify's age and list-backups
 * read it), so keys of every run before this rule read as they did; the manifest records the
 * scheduled time beside it (`scheduledAt`).
 */
import { AbortMultipartUploadCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createHash } from "node:crypto";
import { PassThrough, Transform } from "node:stream";
import { z } from "zod";
import { databaseMetric, failIfAny, MetricUnit, storageSettings, withTargets, type DatabaseOutcome } from "./lib/backup-common";
import { BACKUP_APPLICATION_NAME, databaseFields, libpqEnv, resolveConnection, type DatabaseTarget } from "./lib/db";
import { assertClientCanDump, clientVersion, compressionArgs, serverVersion, startTool, toolPath } from "./lib/pgtools";
import { defineTask, envInt, envNumber, oneLine, TaskError, type TaskContext } from "./lib/runtime";
import { s3Client, WRITE_ONCE, writeOnceRefusal, type Manifest } from "./lib/s3";
import { backupKeys, tierFor } from "./lib/tiers";

const MB = 1024 * 1024;
/** S3 allows 10,000 parts per upload; keep headroom for a database that grew. */
const MAX_PARTS = 9000;

const settings = z
  .looseObject({
    ...storageSettings,
    COMPRESSION: z.string().default("auto"),
    WEEKLY_DAY: envInt(0, 6).default(0),
    MONTHLY_DAY: envInt(1, 28).default(1),
    TIMEZONE: z
      .string()
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat("en-US", { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, "must be an IANA time zone like America/New_York")
      .default("UTC"),
    PART_SIZE_MB: envInt(5, 5120).default(8),
    UPLOAD_QUEUE_SIZE: envInt(1, 16).default(2),
    ESTIMATED_SIZE_GB: envNumber(0).optional(),
    PG_BIN_DIR: z.string().optional(),
    PG_DUMP_PATH: z.string().optional(),
    PATH: z.string().optional(),
    AWS_ENDPOINT_URL_S3: z.url({ message: "must be a URL like http://127.0.0.1:9000" }).optional(),
    AWS_ENDPOINT_URL: z.url({ message: "must be a URL like http://127.0.0.1:9000" }).optional(),
    AWS_REGION: z.string().optional(),
  })
  .transform(withTargets);

type Settings = z.infer<typeof settings>;

export interface BackupOutcome extends DatabaseOutcome {
  key?: string;
  manifestKey?: string;
  tier?: string;
  sizeBytes?: number;
  sha256?: string;
  /** When the dump started (ISO 8601): the moment the backup's data is from. */
  startedAt?: string;
  /** The run's scheduled time (ISO 8601), whose calendar day gave the tier; absent for a run by hand. */
  scheduledAt?: string;
  seconds?: number;
  compression?: string;
  serverVersion?: string;
  clientVersion?: string;
}

export interface BackupResult {
  bucket: string;
  databases: BackupOutcome[];
}

/** The line for S3's refusal of a write-once upload (412 / 409), or undefined for any other error. */
function writeOnceMessage(err: unknown): string | undefined {
  const refusal = writeOnceRefusal(err);
  if (refusal === "exists") return "an object of that key already exists (backups are written once, never replaced)";
  if (refusal === "conflict") return "another upload of that key was under way (S3 409); nothing was replaced";
  return undefined;
}

/** Part size: the configured one, raised when the estimated size would need more parts than S3 allows. */
export function partSizeBytes(partSizeMb: number, estimatedSizeGb?: number): number {
  const needed = estimatedSizeGb ? Math.ceil((estimatedSizeGb * 1024 * MB) / MAX_PARTS) : 0;
  return Math.max(partSizeMb * MB, needed);
}

async function backupOne(s: Settings, target: DatabaseTarget, s3: S3Client, ctx: TaskContext): Promise<BackupOutcome> {
  const conn = await resolveConnection(target, s.env);
  const bin = toolPath("pg_dump", s.env);
  const [client, server] = await Promise.all([clientVersion(bin, s.env), serverVersion(conn)]);
  assertClientCanDump(client, server, target.id, bin);
  const comp = compressionArgs(s.COMPRESSION, client);
  if (comp.note) ctx.log.warn(comp.note, databaseFields(conn));

  const started = new Date();
  // The tier of the run's scheduled time, as the plan files each run of the schedule; the key's timestamp is the start.
  const tier = tierFor(ctx.scheduledAt ?? started, { weeklyDay: s.WEEKLY_DAY, monthlyDay: s.MONTHLY_DAY, timeZone: s.TIMEZONE });
  const scheduledAt = ctx.scheduledAt?.toISOString();
  const keys = backupKeys(s.BACKUP_PREFIX, tier, target.id, started);
  ctx.log.info("dump started", { ...databaseFields(conn), key: keys.dump, tier, ...(scheduledAt ? { scheduledAt } : {}), client: client.text, server: server.text, compression: comp.effective });

  const dump = startTool(bin, ["--format=custom", ...comp.args, "--no-password"], libpqEnv(conn, conn.database, BACKUP_APPLICATION_NAME));
  const onAbort = () => dump.child.kill("SIGTERM");
  ctx.signal.addEventListener("abort", onAbort, { once: true });

  const hash = createHash("sha256");
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  // The upload's body ends only when pg_dump exited 0: before that, S3 cannot complete the upload.
  const body = new PassThrough({ highWaterMark: MB });
  dump.child.stdout!.pipe(counter).pipe(body, { end: false });
  const streamed = new Promise<void>((resolve, reject) => {
    counter.once("end", resolve);
    counter.once("error", reject);
  });

  const upload = new Upload({
    client: s3,
    params: {
      Bucket: s.BACKUP_BUCKET,
      Key: keys.dump,
      Body: body,
      ContentType: "application/octet-stream",
      Metadata: { database: target.id, format: "pg_dump-custom", compression: comp.effective },
      // Written once: lib-storage passes the params to PutObject (one part) and CompleteMultipartUpload,
      // so S3 refuses to replace an existing key (412), and the vault's bucket policy refuses an upload without it.
      IfNoneMatch: WRITE_ONCE,
    },
    partSize: partSizeBytes(s.PART_SIZE_MB, s.ESTIMATED_SIZE_GB),
    queueSize: s.UPLOAD_QUEUE_SIZE,
    leavePartsOnError: false,
  });
  const uploadDone = upload.done();
  // The upload's outcome with its failure named; every wait below reads this one, never the raw
  // uploadDone (a race with both could surface the SDK's bare error first).
  const uploaded = uploadDone.then(
    () => undefined,
    (err) => {
      throw new TaskError(`upload to s3://${s.BACKUP_BUCKET}/${keys.dump} failed: ${writeOnceMessage(err) ?? oneLine(err)}`);
    },
  );
  const uploadFailed = new Promise<never>((_, reject) => uploaded.catch(reject));

  try {
    const code = await Promise.race([dump.exited, uploadFailed]);
    if (ctx.signal.aborted) throw new TaskError("stopped before pg_dump finished");
    if (code !== 0) throw new TaskError(`pg_dump exited with ${code}: ${dump.stderrTail() || "no message"}`);
    await Promise.race([streamed, uploadFailed]);
    body.end();
    await uploaded;
  } catch (err) {
    if (dump.child.exitCode === null) dump.child.kill("SIGKILL");
    body.destroy(new Error("dump failed"));
    // The run's own error is the one to report: an abort that fails too (S3 unreachable) must not replace it.
    await upload.abort().catch(() => undefined);
    await uploadDone.catch(() => undefined);
    // The SDK aborts on its own; make sure no parts are left even when its abort failed.
    const uploadId = (upload as unknown as { uploadId?: string }).uploadId;
    if (uploadId) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: s.BACKUP_BUCKET, Key: keys.dump, UploadId: uploadId })).catch(() => undefined);
    }
    throw err;
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
  }

  const stored = await s3.send(new HeadObjectCommand({ Bucket: s.BACKUP_BUCKET, Key: keys.dump }));
  if (Number(stored.ContentLength) !== bytes) {
    throw new TaskError(`s3://${s.BACKUP_BUCKET}/${keys.dump} holds ${stored.ContentLength} bytes, pg_dump wrote ${bytes}`);
  }
  const finished = new Date();
  const manifest: Manifest = {
    version: 1,
    format: "pg_dump-custom",
    database: target.id,
    databaseName: conn.database,
    bucket: s.BACKUP_BUCKET,
    key: keys.dump,
    tier,
    sizeBytes: bytes,
    sha256: hash.digest("hex"),
    compression: comp.effective,
    serverVersion: server.text,
    clientVersion: client.text,
    startedAt: started.toISOString(),
    ...(scheduledAt ? { scheduledAt } : {}),
    finishedAt: finished.toISOString(),
    durationSeconds: (finished.getTime() - started.getTime()) / 1000,
  };
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: s.BACKUP_BUCKET,
        Key: keys.manifest,
        Body: JSON.stringify(manifest, null, 2),
        ContentType: "application/json",
        IfNoneMatch: WRITE_ONCE,
      }),
    );
  } catch (err) {
    throw new TaskError(`manifest s3://${s.BACKUP_BUCKET}/${keys.manifest} not written: ${writeOnceMessage(err) ?? oneLine(err)}`);
  }
  return {
    ...databaseFields(conn),
    ok: true,
    key: keys.dump,
    manifestKey: keys.manifest,
    tier,
    sizeBytes: bytes,
    sha256: manifest.sha256,
    startedAt: manifest.startedAt,
    ...(scheduledAt ? { scheduledAt } : {}),
    seconds: manifest.durationSeconds,
    compression: comp.effective,
    serverVersion: server.text,
    clientVersion: client.text,
  };
}

export const backupTask = defineTask({
  name: "backup",
  description: "pg_dump each database straight to S3 (tiered keys, manifest with SHA-256 written last)",
  settings,
  async run(s, ctx): Promise<BackupResult> {
    const s3 = s3Client(s.env);
    const result: BackupResult = { bucket: s.BACKUP_BUCKET, databases: [] };
    // One database at a time: memory stays bounded and the server sees one dump at a time.
    for (const target of s.targets) {
      let outcome: BackupOutcome;
      try {
        outcome = await backupOne(s, target, s3, ctx);
        ctx.log.info("backup stored", { ...outcome });
        databaseMetric(ctx, target.id, "BackupSizeBytes", MetricUnit.Bytes, outcome.sizeBytes!);
        databaseMetric(ctx, target.id, "BackupDurationSeconds", MetricUnit.Seconds, outcome.seconds!);
      } catch (err) {
        outcome = { database: target.id, ok: false, error: oneLine(err) };
        ctx.log.error("backup failed", { database: target.id, error: outcome.error });
      }
      // A success is stamped with the dump's start, the moment its data is from: the RPO alarm's
      // window (regime/promises.ts rpoAlarmWindow) then measures the newest backup's data age.
      databaseMetric(ctx, target.id, "BackupSucceeded", MetricUnit.Count, outcome.ok ? 1 : 0, outcome.startedAt ? new Date(outcome.startedAt) : undefined);
      result.databases.push(outcome);
    }
    return failIfAny("backup", result);
  },
});
