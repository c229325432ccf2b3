/**
 * What every bucket of the regime gets, whatever it holds (the backup vault's, the log archive's): no
 * public access and no ACLs (the bucket owner owns every object), requests over TLS only, and keys that
 * are written once. Each bucket adds its own versioning, encryption key and lifecycle.
 */
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

/**
 * Blocks every form of public access to `bucket` and disables its ACLs (BucketOwnerEnforced): the
 * resources `<resourceName>-public-access` and `<resourceName>-ownership`. Returns the public-access
 * block, which a bucket policy must wait for (S3 refuses a policy while the block is being written).
 */
export function blockPublicAccess(resourceName: string, bucket: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): aws.s3.BucketPublicAccessBlock {
  const block = new aws.s3.BucketPublicAccessBlock(
    `${resourceName}-public-access`,
    { bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
    opts,
  );
  new aws.s3.BucketOwnershipControls(`${resourceName}-ownership`, { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } }, opts);
  return block;
}

/** The bucket-policy statement that refuses every request to the bucket not made over TLS. */
export function tlsOnlyStatement(bucketArn: string): Record<string, unknown> {
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:*",
    Resource: [bucketArn, `${bucketArn}/*`],
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}

/**
 * The bucket-policy statement that makes every key under the given prefixes write-once (the vault's
 * backup tiers; log archives and file backups in components/log-archive.ts): S3 refuses
 * (403) a PutObject or CompleteMultipartUpload there that does not carry `If-None-Match` (`s3:if-none-match`
 * absent), whoever sends it, so a role allowed `s3:PutObject` cannot replace a backup (whose old
 * version would then expire after `noncurrentDays`); with the header S3 itself refuses an existing key
 * (412). `s3:ObjectCreationOperation` is false for CreateMultipartUpload, UploadPart and UploadPartCopy,
 * which take no conditional header, so multipart uploads still start and send their parts; any other
 * PutObject-authorised request without the header is refused. Source: S3
 * User Guide, "Enforce conditional writes on Amazon S3 buckets". Copies into these prefixes are refused
 * too (CopyObject takes no If-None-Match there), which nothing in the regime does.
 */
export function writeOnceStatement(bucketArn: string, rules: { prefix: string }[]): Record<string, unknown> {
  return {
    Sid: "WrittenOnce",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:PutObject",
    Resource: rules.map((r) => `${bucketArn}/${r.prefix}*`),
    // IfExists: a request S3 did not mark as a part operation (false) counts as creating the object.
    Condition: { Null: { "s3:if-none-match": "true" }, BoolIfExists: { "s3:ObjectCreationOperation": "true" } },
  };
}
