/**
 * Run markers: a task whose schedule is too sparse for a CloudWatch metric alarm (more than 7 days
 * between runs) records each successful run as a small object `<prefix><timestamp>.success.json` in
 * the backup vault; the overdue watcher (tasks/overdue-watch.ts) reads the newest one. One object per
 * run, written with `If-None-Match: *`: markers are never replaced, which a bucket enforcing
 * conditional writes accepts. The components set RUN_MARKER_BUCKET and RUN_MARKER_PREFIX only on
 * watched tasks; without them recordRunMarker does nothing.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { putJsonOnce, s3Client, writeOnceRefusal } from "./s3";
import { keyTimestamp } from "./tiers";

export const MARKER_SUFFIX = ".success.json";
/** Written by the watcher the first time it watches a job with no marker: the start of its watch. */
export const WATCHING_SINCE = "watching-since.json";

/** `<prefix><yyyymmddThhmmssmmmZ>.success.json`: keys sort by time. */
export function markerKey(prefix: string, at: Date): string {
  return `${prefix}${keyTimestamp(at)}${MARKER_SUFFIX}`;
}

/** The time a marker key records, or undefined for other keys. */
export function markerTime(key: string): Date | undefined {
  const m = /(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(\d{3})Z\.success\.json$/.exec(key);
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7])) : undefined;
}

/**
 * Records a successful run when RUN_MARKER_BUCKET and RUN_MARKER_PREFIX are set (the task's
 * environment), keyed by the run's start (`startedAt`: for a backup the moment its data is from, so
 * an RPO the overdue watcher holds counts the data's age); the object holds { task, instance,
 * startedAt, finishedAt }. Throws when the write fails, so the run fails and its errors alarm fires
 * instead of the watcher paging weeks later.
 */
export async function recordRunMarker(env: Record<string, string | undefined>, task: string, startedAt = new Date()): Promise<void> {
  const bucket = env.RUN_MARKER_BUCKET;
  const prefix = env.RUN_MARKER_PREFIX;
  if (!bucket || !prefix) return;
  const s3 = s3Client(env);
  try {
    await putJsonOnce(s3, bucket, markerKey(prefix, startedAt), { task, instance: env.METRICS_INSTANCE ?? null, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString() });
  } catch (err) {
    throw new Error(`run marker s3://${bucket}/${markerKey(prefix, startedAt)}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    s3.destroy();
  }
}

/** The newest successful run recorded under `prefix`, and the watch start when the watcher wrote one. */
export async function readMarkers(s3: S3Client, bucket: string, prefix: string): Promise<{ lastSuccess?: Date; watchingSince?: Date }> {
  let last: Date | undefined;
  let since = false;
  let token: string | undefined;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of out.Contents ?? []) {
      const t = o.Key ? markerTime(o.Key) : undefined;
      if (t && (!last || t > last)) last = t;
      if (o.Key === `${prefix}${WATCHING_SINCE}`) since = true;
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  if (!since) return { lastSuccess: last };
  const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${WATCHING_SINCE}` }))).Body!.transformToString();
  const at = new Date((JSON.parse(body) as { since?: string }).since ?? "");
  if (Number.isNaN(at.getTime())) throw new Error(`s3://${bucket}/${prefix}${WATCHING_SINCE}: "since" is not a time`);
  return { lastSuccess: last, watchingSince: at };
}

/** Writes `<prefix>watching-since.json` = { since } unless it exists (If-None-Match); returns `since`. */
export async function startWatching(s3: S3Client, bucket: string, prefix: string, since: Date): Promise<Date> {
  try {
    await putJsonOnce(s3, bucket, `${prefix}${WATCHING_SINCE}`, { since: since.toISOString() });
    return since;
  } catch (err) {
    // Another run wrote it first: keep the earlier start.
    if (writeOnceRefusal(err) === "exists") return (await readMarkers(s3, bucket, prefix)).watchingSince ?? since;
    throw err;
  }
}
