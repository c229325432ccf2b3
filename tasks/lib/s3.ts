/**
 * S3 access of the backup tasks: the client (honouring AWS_ENDPOINT_URL_S3 for S3-compatible
 * servers), the manifest written beside each dump, and finding the newest manifest of a database.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { z } from "zod";
import { normalisePrefix, TIERS } from "./tiers";

/**
 * The SDK reads AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL itself; it is passed explicitly here so a
 * value given on the command line counts too. An overridden endpoint (MinIO, s3rver, LocalStack)
 * gets path-style addressing and checksums only where the API requires them.
 */
/**
 * Region, credentials and endpoint of an AWS SDK client of a task, from the task's env (CLI options
 * count): AWS_REGION / AWS_DEFAULT_REGION (default us-east-1); AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, the variables the SDK's environment provider reads
 * (otherwise the default chain, the Lambda/Fargate role, applies); AWS_ENDPOINT_URL_<SERVICE> or
 * AWS_ENDPOINT_URL for a local server (`service`: S3, CLOUDWATCH, SSM).
 */
export function taskClientConfig(env: Record<string, string | undefined>, service: string): { region: string; credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }; endpoint?: string } {
  const config: ReturnType<typeof taskClientConfig> = { region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1" };
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    config.credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN };
  }
  const endpoint = env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL;
  if (endpoint) config.endpoint = endpoint;
  return config;
}

export function s3Client(env: Record<string, string | undefined>): S3Client {
  const config: S3ClientConfig = taskClientConfig(env, "S3");
  if (config.endpoint) {
    config.forcePathStyle = true;
    config.requestChecksumCalculation = "WHEN_REQUIRED";
    config.responseChecksumValidation = "WHEN_REQUIRED";
  }
  return new S3Client(config);
}

export const manifestSchema = z.object({
  version: z.literal(1),
  format: z.literal("pg_dump-custom"),
  database: z.string(),
  databaseName: z.string(),
  bucket: z.string(),
  key: z.string(),
  tier: z.enum(TIERS),
  sizeBytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  compression: z.string(),
  serverVersion: z.string(),
  clientVersion: z.string(),
  startedAt: z.string(),
  /** The run's scheduled time, whose calendar day gave the tier (tasks/backup.ts); absent for a run by hand and in manifests written before it was recorded. */
  scheduledAt: z.string().optional(),
  finishedAt: z.string(),
  durationSeconds: z.number(),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** Manifest keys of a database across the tiers, newest first (keys carry a sortable timestamp). */
export async function listManifests(s3: S3Client, bucket: string, prefix: string | undefined, databaseId: string): Promise<string[]> {
  const keys: string[] = [];
  for (const tier of TIERS) {
    let token: string | undefined;
    do {
      const out = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: `${normalisePrefix(prefix)}${tier}/${databaseId}/`, ContinuationToken: token }),
      );
      for (const o of out.Contents ?? []) if (o.Key?.endsWith(".manifest.json")) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }
  const base = (k: string) => k.slice(k.lastIndexOf("/") + 1);
  return keys.sort((a, b) => (base(a) < base(b) ? 1 : base(a) > base(b) ? -1 : 0));
}

export async function readManifest(s3: S3Client, bucket: string, key: string): Promise<Manifest> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const text = await out.Body!.transformToString();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`manifest ${key} is not JSON`);
  }
  const m = manifestSchema.safeParse(json);
  if (!m.success) throw new Error(`manifest ${key}: ${m.error.issues[0].path.join(".")} ${m.error.issues[0].message}`);
  // A manifest vouches only for the dump beside it: one whose key names another object (another
  // database's, an older one) was changed or copied, and its size and SHA-256 prove nothing here.
  const beside = key.replace(/\.manifest\.json$/, ".dump");
  if (beside !== key && m.data.key !== beside) {
    throw new Error(`manifest ${key}: describes ${m.data.key}, not the dump beside it (${beside}); it was changed or copied, so it is not used`);
  }
  return m.data;
}

export async function openObject(s3: S3Client, bucket: string, key: string): Promise<{ body: Readable; length: number }> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { body: out.Body as Readable, length: Number(out.ContentLength ?? -1) };
}

/**
 * `If-None-Match: *` on PutObject and CompleteMultipartUpload: S3 stores the object only when no object
 * of that key exists (412 Precondition Failed otherwise). S3 User Guide, "Conditional writes".
 */
export const WRITE_ONCE = "*";

/**
 * How S3 refused a write-once put (WRITE_ONCE): `exists` (412 Precondition Failed: an object of that
 * key exists, and was not replaced) or `conflict` (409 ConditionalRequestConflict: another conditional
 * write of that key was under way); undefined for any other error.
 */
export function writeOnceRefusal(err: unknown): "exists" | "conflict" | undefined {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  if (status === 412 || e?.name === "PreconditionFailed") return "exists";
  if (status === 409 || e?.name === "ConditionalRequestConflict") return "conflict";
  return undefined;
}

/** Stores `body` as a JSON object at `key`, written once (WRITE_ONCE): a record is never replaced. Throws S3's error (writeOnceRefusal reads it). */
export async function putJsonOnce(s3: S3Client, bucket: string, key: string, body: unknown): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(body), ContentType: "application/json", IfNoneMatch: WRITE_ONCE }));
}
