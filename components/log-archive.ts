/**
 * The log archive bucket: a hardened, write-once S3 bucket that receives the hosts' archived rotated
 * logs (under `<prefix>` of each archiving log set) and their file backups (under
 * files/<group>/<name>/), each prefix expiring on its own rule, and the policy that lets hosts upload
 * rotated logs to their archive prefixes. Part of the logs component (components/logs.ts).
 */
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import { archivePrefix } from "../regime/logs";
import { FILE_BACKUP_ROOT, fileBackupPrefix } from "../regime/file-backups";
import { catchAllId } from "../regime/retention";
import { blockPublicAccess, tlsOnlyStatement, writeOnceStatement } from "./bucket-hardening";
import type { LogsScope } from "./host-delivery";

/** Days an expired (or deleted) archive or file backup is kept as a noncurrent version before S3 removes it. */
export const ARCHIVE_NONCURRENT_DAYS = 1;

/** The archive bucket and the rotated-log writer policy; all absent when nothing archives or backs up files. */
export interface LogArchive {
  bucketName?: pulumi.Output<string>;
  bucketArn?: pulumi.Output<string>;
  /** IAM policy for the instance roles of hosts that archive rotated logs (s3:PutObject on their prefixes); absent when no log set archives. */
  writerPolicyArn?: pulumi.Output<string>;
}

/**
 * Creates the archive bucket when a log set archives or a host group backs up files, and the
 * rotated-log writer policy when a log set archives.
 */
export function logArchive(scope: LogsScope): LogArchive {
  const { name, args, tags } = scope;
  const groups = args.logs.hostGroups;
  const archived = groups.flatMap((g) => g.logSets.filter((s) => s.archive).map((s) => ({ group: g.name, set: s })));
  const backedUp = groups.flatMap((g) => g.fileBackups.map((b) => ({ group: g, backup: b })));
  if (archived.length === 0 && backedUp.length === 0) return {};
  const bucket = archiveBucket(scope, archiveRetention(groups));
  const archive: LogArchive = { bucketName: bucket.bucket, bucketArn: bucket.arn };
  if (archived.length > 0) {
    const policy = new aws.iam.Policy(
      `${name}-archive-writer`,
      {
        name: `${args.regime}-log-archive-writer`,
        description: `Lets hosts of ${args.regime} upload rotated logs to their archive prefixes`,
        policy: bucket.arn.apply((arn) => archiveWriterPolicy(arn, groups)),
        tags,
      },
      { parent: scope.parent },
    );
    archive.writerPolicyArn = policy.arn;
  }
  return archive;
}

/**
 * The hosts' writer policy (JSON) for the archive bucket `arn`: PutObject under each archived log set's
 * prefix, one ARN a set, and nothing else (each rotated file is put once, with If-None-Match: *; nothing
 * is listed, read or deleted). A managed policy holds at most 6,144 characters (regime/limits.ts
 * DEPLOY_LIMITS.managedPolicy): about 90 archived log sets; the promise model measures it here.
 */
export function archiveWriterPolicy(arn: string, groups: LogsScope["args"]["logs"]["hostGroups"]): string {
  const archived = groups.flatMap((g) => g.logSets.filter((s) => s.archive).map((s) => archivePrefix(g.name, s)));
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Sid: "PutArchives", Effect: "Allow", Action: ["s3:PutObject"], Resource: archived.map((p) => `${arn}/${p}*`) }],
  });
}

/** The archive bucket's name prefix (S3 appends a unique suffix to it, BUCKET_PREFIX_SUFFIX_CHARS). */
export function archiveBucketPrefix(regime: string): string {
  return `${regime}-log-archive-`.slice(0, 37);
}

/** The archive bucket's retention: one prefix per archived log set and per file backup, with its days. */
export function archiveRetention(groups: LogsScope["args"]["logs"]["hostGroups"]): ArchiveRule[] {
  return [
    ...groups.flatMap((g) => g.logSets.filter((s) => s.archive).map((s) => ({ prefix: archivePrefix(g.name, s), expireDays: s.archive!.expireDays }))),
    ...groups.flatMap((g) => g.fileBackups.map((b) => ({ prefix: fileBackupPrefix(g.name, b.name), expireDays: b.retentionDays, ...(b.paused ? { paused: true } : {}) }))),
  ];
}

type ArchiveRule = { prefix: string; expireDays: number; paused?: boolean; id?: string };

/**
 * The catch-all rules of the archive bucket, so whatever it holds expires whatever log sets and file
 * backups are configured: one for the whole bucket (prefix "") with the longest days of all `rules`,
 * which expires the archives of a log set (and the backups of a host group) no longer configured, and
 * one for `files/` with the longest days of the file backups, which expires a removed file backup's
 * archives sooner. A configured prefix loses no day: where several enabled rules expire one object,
 * S3 honours the shorter [S3 user guide, "How Amazon S3 handles conflicts in lifecycle
 * configurations"], and its own days are at most the catch-alls'. Both are `Disabled` while a file
 * backup is paused: S3 filters cannot leave its prefix out, and an enabled catch-all would expire the
 * archives its pause keeps; the archives of removed log sets and file backups are then kept too, until
 * it resumes. Ids `catch-all.*`: the dot is in no prefix rule's id (`expire-<prefix>`).
 */
export function archiveCatchAllRules(rules: ArchiveRule[]): ArchiveRule[] {
  if (rules.length === 0) return [];
  const paused = rules.some((r) => r.paused) ? { paused: true } : {};
  const files = rules.filter((r) => r.prefix.startsWith(FILE_BACKUP_ROOT));
  return [
    { id: catchAllId("bucket"), prefix: "", expireDays: Math.max(...rules.map((r) => r.expireDays)), ...paused },
    ...(files.length > 0 ? [{ id: catchAllId("files"), prefix: FILE_BACKUP_ROOT, expireDays: Math.max(...files.map((r) => r.expireDays)), ...paused }] : []),
  ];
}

/** Id of the archive bucket's lifecycle rule of one archived log set's or file backup's prefix: `expire-files-app-uploads` for `files/app/uploads/`. */
export function archiveRuleId(prefix: string): string {
  return `expire-${prefix.replace(/[^A-Za-z0-9-]/g, "-").replace(/-+$/, "")}`;
}

/**
 * The archive bucket's lifecycle rules: one per prefix of `rules`, the catch-alls
 * (`archiveCatchAllRules`: 1, or 2 with file backups) and two for the whole bucket (unfinished uploads
 * aborted after `abortDays`, expired delete markers removed). S3 takes at most 1,000 (regime/limits.ts
 * DEPLOY_LIMITS.lifecycleRules); the promise model counts them here.
 */
export function archiveLifecycleRules(rules: ArchiveRule[], abortDays: number) {
  return [
    ...[...rules, ...archiveCatchAllRules(rules)].map((r) => ({
      id: r.id ?? archiveRuleId(r.prefix),
      status: r.paused ? "Disabled" : "Enabled",
      filter: { prefix: r.prefix },
      expiration: { days: r.expireDays },
      // An expired archive becomes a noncurrent version; it goes a day later.
      noncurrentVersionExpiration: { noncurrentDays: ARCHIVE_NONCURRENT_DAYS },
    })),
    {
      id: "abort-incomplete-uploads",
      status: "Enabled",
      filter: { prefix: "" },
      abortIncompleteMultipartUpload: { daysAfterInitiation: abortDays },
    },
    // Delete markers left once their noncurrent version is gone (S3 allows this flag only in a rule without days).
    { id: "remove-expired-delete-markers", status: "Enabled", filter: { prefix: "" }, expiration: { expiredObjectDeleteMarker: true } },
  ];
}

/**
 * Private bucket: versioned, SSE-KMS with the account's S3 key (aws/s3, rotated by AWS; hosts need no
 * key grant to upload), all public access blocked, no ACLs, TLS only, expiry per archive prefix.
 *
 * Write-once: under every archive and file-backup prefix the bucket policy refuses a PutObject or
 * CompleteMultipartUpload without `If-None-Match: *` (`s3:if-none-match` absent), so no upload can
 * replace a stored archive; `s3:ObjectCreationOperation` is false for CreateMultipartUpload and
 * UploadPart, which take no conditional header, and exempts them [S3 user guide, "Enforce conditional
 * writes"]. The hosts send the header (`aws s3api put-object --if-none-match '*'`,
 * `complete-multipart-upload --if-none-match '*'`).
 *
 * What is kept: every key is written once and never overwritten, so an object is readable for its
 * prefix's `expireDays` (archive `expireDays`, file backup `retentionDays`; S3 counts from the upload
 * and rounds up to the next midnight UTC), then becomes a noncurrent version that is removed one day
 * later (`ARCHIVE_NONCURRENT_DAYS`), its delete marker after that. Nothing outlives its prefix's rule,
 * and what no configured prefix covers any more (a log set or file backup removed or renamed) expires
 * by a catch-all rule after the longest configured days (`archiveCatchAllRules`).
 *
 * A paused file backup (`paused`) loses none of the archives it stored: its prefix's rule, which
 * carries both the expiration and the noncurrent versions' expiration, is kept with status
 * `Disabled`, and S3 performs none of a disabled rule's actions [S3 user guide, "Maintaining
 * lifecycle configuration rules"], so every archive stays until the backup resumes (the rule enabled
 * again then applies to what is stored: archives past their days expire). Expiring them with no new
 * upload would leave the prefix empty `retentionDays` + 1 day after the pause, and the missed-backup
 * alarm is silent while paused. The whole-bucket rules (unfinished uploads, delete markers left with
 * no version) remove no archive.
 *
 * When the last archiving log set and file backup go (or the stack is destroyed), the bucket leaves the
 * program but stays in the account (`retainOnDelete`), with its archives, public-access block,
 * ownership controls, encryption, versioning, policy and last lifecycle rules; it is encrypted with
 * the AWS-managed key, so no key of its own is kept. Delete it by hand once empty.
 */
function archiveBucket(scope: LogsScope, rules: { prefix: string; expireDays: number; paused?: boolean }[]): aws.s3.Bucket {
  const { name, args, tags, parent } = scope;
  // The bucket and everything that protects or expires what it holds stay in the account when the
  // archive leaves the program (nothing archives or backs up files any more, or the stack is destroyed):
  // the bucket is never force-destroyed, so deleting it while archives remain would fail the update
  // after its policy and public-access block were already gone; its last lifecycle rules, catch-alls
  // included, still expire what it holds.
  const kept = { parent, retainOnDelete: true };
  const bucket = new aws.s3.Bucket(`${name}-archive`, { bucketPrefix: archiveBucketPrefix(args.regime), forceDestroy: false, tags }, kept);
  blockPublicAccess(`${name}-archive`, bucket.id, kept);
  new aws.s3.BucketServerSideEncryptionConfiguration(
    `${name}-archive-sse`,
    { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }] },
    kept,
  );
  const versioning = new aws.s3.BucketVersioning(`${name}-archive-versioning`, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, kept);
  new aws.s3.BucketPolicy(
    `${name}-archive-tls-only`,
    {
      bucket: bucket.id,
      policy: bucket.arn.apply((arn) =>
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [tlsOnlyStatement(arn), writeOnceStatement(arn, rules)],
        }),
      ),
    },
    kept,
  );
  new aws.s3.BucketLifecycleConfiguration(
    `${name}-archive-lifecycle`,
    {
      bucket: bucket.id,
      rules: archiveLifecycleRules(rules, args.abortIncompleteUploadDays ?? 7),
    },
    // Lifecycle rules on noncurrent versions need versioning in place first.
    { ...kept, dependsOn: [versioning] },
  );
  return bucket;
}
