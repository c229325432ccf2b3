/**
 * Backup storage: one S3 bucket that keeps backups as long as each retention tier says and no longer.
 * Versioned, SSE-KMS with its own key (rotation on, S3 bucket key to cut KMS calls), all four public
 * access blocks, ACLs disabled (BucketOwnerEnforced), TLS-only and write-once bucket policy (an upload
 * under a tier prefix must carry `If-None-Match: *`, so no one replaces a backup), one lifecycle rule per
 * tier prefix (`daily/<db>/`, `weekly/<db>/`, `monthly/<db>/`) with its own expiration and optional
 * transitions to colder storage, one per database's restore-drill records (`drills/<db>/`, kept as
 * long as its longest tier), one catch-all rule per root (`daily/`, `weekly/`, `monthly/`, `drills/`)
 * that expires what a database no longer configured left after the root's longest days
 * (`catchAllRules`), old versions expired, incomplete multipart uploads aborted, and optional Object
 * Lock. The bucket is never force-destroyed: removing the vault (the last database, or the stack)
 * leaves the backups, with the key that decrypts them, the bucket's protections and its lifecycle
 * configuration (retainOnDelete), so they stay readable and still expire.
 *
 * What is kept (the tier's retention is the promise): a dump and its manifest are written once under
 * a key of their own (`<tier>/<db>/<timestamp>.dump`, `.manifest.json`), so each is readable for
 * exactly its tier's days (S3 counts from the upload and rounds up to the next midnight UTC). Then
 * the expiration makes it a noncurrent version, kept `noncurrentDays` more (default 7) so a backup
 * deleted or expired by mistake can still be restored, and removed; its delete marker goes after
 * that. Nothing is kept longer than tier days + noncurrentDays. An Object Lock longer than the
 * shortest tier is refused: locked versions could not be removed when their tier says.
 *
 * A paused backup loses nothing it stored: the expiry of its stored backups stops with it. With no
 * new upload, expiring the tiers on would empty the daily tier about a day after its days, the
 * monthly one after a year, and then remove the old versions: no backup left, and nothing pages (the
 * RPO alarm's actions are off while paused). So each tier's rule carries its own noncurrent-version
 * expiration (not the whole-bucket rule), and the three rules of a paused database are kept with
 * status `Disabled`: "when a rule is disabled, Amazon S3 does not perform any actions defined in the
 * rule", and "when you disable or delete a lifecycle rule, after a small delay Amazon S3 stops
 * scheduling new objects for deletion or transition. Any objects that were already scheduled will be
 * unscheduled" [S3 user guide, "Maintaining lifecycle configuration rules" and "Setting lifecycle
 * configuration on a bucket"]. Every current and old version under its prefixes is kept until the
 * backup resumes; resuming is one change, the rules enabled again, and S3 then applies them to the
 * objects already stored ("the configuration rules apply to both existing objects and objects that
 * you add later", same page): backups older than their tier's days expire within about a day and
 * stay `noncurrentDays` more as old versions. Object Lock does not do this: it holds a version only
 * for its retention days from its upload, at most the shortest tier's (see above). What stays
 * whole-bucket (aborting unfinished uploads, removing a delete marker left with no version under it)
 * removes no stored backup.
 *
 * Tasks get least-privilege statements from `writeStatements` / `readStatements`: put or read under
 * their own prefixes only, never delete, never change the bucket's policy or lifecycle.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { IamStatement } from "./iam";
import { blockPublicAccess, tlsOnlyStatement, writeOnceStatement } from "./bucket-hardening";
import { drillPrefix } from "../tasks/lib/drill-record";
import { TIERS, type Tier } from "../tasks/lib/tiers";
import { catchAllId } from "../regime/retention";

export const STORAGE_CLASSES = ["STANDARD_IA", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"] as const;
export type StorageClass = (typeof STORAGE_CLASSES)[number];

/** Days S3 bills at least for an object in the class (and the earliest an IA transition is allowed). */
export const MIN_STORAGE_DAYS: Record<StorageClass, number> = {
  STANDARD_IA: 30,
  ONEZONE_IA: 30,
  GLACIER_IR: 90,
  GLACIER: 90,
  DEEP_ARCHIVE: 180,
};

export interface Transition {
  /** Days after creation. */
  days: number;
  storageClass: StorageClass;
}

export interface RetentionRule {
  /** Rule id, unique in the bucket: `daily-crm`. */
  id: string;
  /** Key prefix the rule applies to, ending in `/`: `daily/crm/`. */
  prefix: string;
  /** Days after creation when the backup expires. */
  expireDays: number;
  transitions?: Transition[];
  /**
   * The rule's S3 status (default Enabled). `Disabled`: the rule stays in the configuration but S3
   * performs none of its actions (the expiration, the transitions, the noncurrent versions'
   * expiration): everything under the prefix is kept. What a paused backup's rules get (`tierRules`).
   */
  status?: "Enabled" | "Disabled";
}

export interface BackupVaultArgs {
  /** One rule per tier prefix; see `tierRules`. */
  retention: RetentionRule[];
  /** Days a replaced, deleted or expired (noncurrent) version is kept after its tier's days: the documented margin. */
  noncurrentDays?: number;
  /**
   * Days after its start an unfinished multipart upload (a dump cut off mid-stream) is removed; S3 may
   * abort one as soon as that many days after it started, finished or not, so it must be longer than
   * the slowest backup the vault holds (regime/runners.ts vaultAbortIncompleteUploadDays). Default 1.
   */
  abortIncompleteUploadDays?: number;
  /** WORM protection: no one (COMPLIANCE) or only privileged users (GOVERNANCE) may delete a version early. */
  objectLock?: { mode: "GOVERNANCE" | "COMPLIANCE"; days: number };
  /** Days KMS waits before deleting the key once it is removed from the program (7..30). */
  keyDeletionWindowDays?: number;
  tags?: Record<string, string>;
}

export type { Tier } from "../tasks/lib/tiers";

/**
 * Where a database's backups of one tier live: `<base><tier>/<databaseId>/`, `base` "" or ending in
 * "/" (the layout the backup task writes, tasks/lib/tiers.ts `backupKeys`).
 */
export function tierPrefix(tier: Tier, databaseId: string, base = ""): string {
  return `${base}${tier}/${databaseId}/`;
}

/**
 * The prefixes the vault's write-once statement denies overwrites under: the tier roots that hold the
 * retention prefixes (`daily/`, `weekly/`, `monthly/` for `daily/<db>/` ...), not each database's own.
 * One entry per database would grow the bucket policy by about 280 bytes a database (three ARNs with a
 * 63-character bucket name) past S3's 20 KB (regime/limits.ts DEPLOY_LIMITS.bucketPolicy) at about
 * 70 databases; the roots keep it the same size for any number. It is a Deny, so a wider resource
 * grants nothing: it refuses, in addition, an overwrite without If-None-Match under a tier root of a
 * database no longer configured (its backups stay write-once), and nothing else is written there
 * (run markers live under `runs/`, and every role writes only under its own database's prefixes).
 * The drill records' rules (`drills/<db>/`, drillRecordRule) give one more root, `drills/`: a drill
 * record is written once too.
 */
export function writeOnceRoots(rules: { prefix: string }[]): { prefix: string }[] {
  return [...new Set(rules.map((r) => tierRoot(r.prefix)))].map((prefix) => ({ prefix }));
}

/** The tier root a retention prefix sits under: `daily/` for `daily/crm/` (a prefix of one segment is its own root). */
function tierRoot(prefix: string): string {
  return prefix.replace(/[^/]+\/$/, "") || prefix;
}

/**
 * The catch-all rules: one per tier root (`daily/`, `weekly/`, `monthly/`) with the longest expiration
 * of the retention rules under it, so whatever the bucket holds under a tier expires, whatever database
 * names are configured. A database renamed or removed takes its own rules with it on the next `pulumi
 * up`; its stored backups are then expired by its tier's catch-all rule instead of kept forever. A
 * configured database loses no day: where several enabled rules expire one object, S3 honours the
 * shorter ("if two expiration policies overlap, the shorter expiration policy is honored" [S3 user
 * guide, "How Amazon S3 handles conflicts in lifecycle configurations"]), and its own days are at most
 * the catch-all's. regime/retention.ts `keptFor` reads which rule wins for a key.
 *
 * A catch-all rule is `Disabled` while a retention rule under its root is (a paused backup): S3 filters
 * select by prefix and cannot leave one out, so an enabled catch-all would expire the paused backups
 * the pause keeps (see the module comment). While a backup is paused, the backups of removed databases
 * are kept too, and expire once it resumes.
 *
 * Ids `catch-all.<root>`: the dot is in no database rule's id (`<tier>-<db>`). The days, for each root:
 * `expireDays` the longest of the rules under it; no transition (a removed database's backups stay in
 * the class they are in).
 */
export function catchAllRules(retention: RetentionRule[]): RetentionRule[] {
  const roots = new Map<string, RetentionRule[]>();
  for (const r of retention) roots.set(tierRoot(r.prefix), [...(roots.get(tierRoot(r.prefix)) ?? []), r]);
  return [...roots].map(([prefix, rules]) => ({
    id: catchAllId(prefix.replace(/\/$/, "").replace(/[^A-Za-z0-9._-]/g, "-")),
    prefix,
    expireDays: Math.max(...rules.map((r) => r.expireDays)),
    ...(rules.some((r) => r.status === "Disabled") ? { status: "Disabled" as const } : {}),
  }));
}

/**
 * The three tier rules of one database: keys `<base><tier>/<dbId>/...` expire after the tier's days;
 * with `archive`, monthly backups move to a colder class after `afterDays` (only when they live long
 * enough afterwards to be worth it); with `paused`, the rules are kept `Disabled`, so nothing of the
 * database expires until its backup resumes (see the module comment).
 */
export function tierRules(
  dbId: string,
  days: Record<Tier, number>,
  opts: { basePrefix?: string; archive?: { afterDays: number; storageClass?: StorageClass }; paused?: boolean } = {},
): RetentionRule[] {
  const base = opts.basePrefix ?? "";
  return TIERS.map((tier) => {
    const rule: RetentionRule = { id: `${tier}-${dbId}`, prefix: tierPrefix(tier, dbId, base), expireDays: days[tier], ...(opts.paused ? { status: "Disabled" as const } : {}) };
    const a = opts.archive;
    if (a) {
      const cls = a.storageClass ?? "GLACIER_IR";
      if (days[tier] - a.afterDays >= MIN_STORAGE_DAYS[cls]) rule.transitions = [{ days: a.afterDays, storageClass: cls }];
    }
    return rule;
  });
}

/**
 * The vault rules of a configured database (`databases[<id>].backup`: its retention days and
 * `paused`), with the regime's `backupVault.archiveAfterDays`: what components/regime.ts gives the
 * vault and the promise model (components/promises.ts) judges.
 */
export function databaseTierRules(
  db: { id: string; backup: { retention: Record<Tier, number>; paused?: boolean } },
  vault: { archiveAfterDays?: number },
): RetentionRule[] {
  return tierRules(db.id, db.backup.retention, {
    ...(vault.archiveAfterDays ? { archive: { afterDays: vault.archiveAfterDays } } : {}),
    ...(db.backup.paused ? { paused: true } : {}),
  });
}

/**
 * The lifecycle rule of one database's drill records (`drills/<dbId>/`, tasks/lib/drill-record.ts):
 * id `drills-<dbId>`, expiring after the database's longest tier retention, so a record lives at
 * least as long as any backup it can name (a drill restores a backup already taken, so that backup
 * expires first) and no longer; `Disabled` while the backup is paused, as its tier rules are, so the
 * records of the backups a paused database keeps stay with them. No transitions: the records are a
 * few hundred bytes.
 */
export function drillRecordRule(db: { id: string; backup: { retention: Record<Tier, number>; paused?: boolean } }): RetentionRule {
  return {
    id: `drills-${db.id}`,
    prefix: drillPrefix(db.id),
    expireDays: Math.max(...TIERS.map((t) => db.backup.retention[t])),
    ...(db.backup.paused ? { status: "Disabled" as const } : {}),
  };
}

/**
 * Every vault rule of a configured database: its three tier rules (databaseTierRules) and its drill
 * records' rule (drillRecordRule), 4 a database. What components/regime.ts gives the vault and the
 * promise model counts against S3's 1,000 lifecycle rules.
 */
export function databaseVaultRules(
  db: { id: string; backup: { retention: Record<Tier, number>; paused?: boolean } },
  vault: { archiveAfterDays?: number },
): RetentionRule[] {
  return [...databaseTierRules(db, vault), drillRecordRule(db)];
}

/** Refuses rules S3 rejects or that cost more than they save; the message names the argument. */
export function validateRetention(rules: RetentionRule[]): void {
  if (rules.length === 0) throw new Error("retention: at least one rule is needed, or backups are kept forever");
  const ids = new Set<string>();
  rules.forEach((r, i) => {
    const at = `retention[${i}]`;
    if (!/^[A-Za-z0-9._-]{1,255}$/.test(r.id)) throw new Error(`${at}.id: "${r.id}" must be 1-255 letters, digits, . _ -`);
    if (ids.has(r.id)) throw new Error(`${at}.id: duplicate rule id "${r.id}"`);
    ids.add(r.id);
    if (!r.prefix || !r.prefix.endsWith("/") || r.prefix.startsWith("/")) {
      throw new Error(`${at}.prefix: "${r.prefix}" must be a key prefix ending in / and not starting with /`);
    }
    if (!Number.isInteger(r.expireDays) || r.expireDays < 1) throw new Error(`${at}.expireDays: must be a whole number >= 1, got ${r.expireDays}`);
    if (r.status !== undefined && r.status !== "Enabled" && r.status !== "Disabled") throw new Error(`${at}.status: must be Enabled or Disabled, got "${r.status}"`);
    let last: Transition | undefined;
    (r.transitions ?? []).forEach((t, j) => {
      const tat = `${at}.transitions[${j}]`;
      if (!(STORAGE_CLASSES as readonly string[]).includes(t.storageClass)) {
        throw new Error(`${tat}.storageClass: "${t.storageClass}" is not one of ${STORAGE_CLASSES.join(", ")}`);
      }
      if (!Number.isInteger(t.days) || t.days < 0) throw new Error(`${tat}.days: must be a whole number >= 0, got ${t.days}`);
      if ((t.storageClass === "STANDARD_IA" || t.storageClass === "ONEZONE_IA") && t.days < 30) {
        throw new Error(`${tat}.days: a transition to ${t.storageClass} needs at least 30 days, got ${t.days}`);
      }
      if (last) {
        if (STORAGE_CLASSES.indexOf(t.storageClass) <= STORAGE_CLASSES.indexOf(last.storageClass)) {
          throw new Error(`${tat}.storageClass: ${t.storageClass} must be colder than the previous transition's ${last.storageClass}`);
        }
        if (t.days - last.days < MIN_STORAGE_DAYS[last.storageClass]) {
          throw new Error(
            `${tat}.days: must be at least ${MIN_STORAGE_DAYS[last.storageClass]} days after the transition to ${last.storageClass} (day ${last.days}), got ${t.days}`,
          );
        }
      }
      last = t;
    });
    if (last && r.expireDays - last.days < MIN_STORAGE_DAYS[last.storageClass]) {
      throw new Error(
        `${at}.expireDays: ${r.expireDays} is less than ${MIN_STORAGE_DAYS[last.storageClass]} days after the transition to ${last.storageClass} on day ${last.days} (S3 bills the minimum anyway)`,
      );
    }
  });
  // Overlapping prefixes would give one key two expirations; S3 applies the shorter one, silently.
  const sorted = [...rules].sort((a, b) => a.prefix.localeCompare(b.prefix));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].prefix.startsWith(sorted[i - 1].prefix)) {
      throw new Error(`retention: prefixes "${sorted[i - 1].prefix}" and "${sorted[i].prefix}" overlap`);
    }
  }
}

function checkPrefixes(prefixes: string[], what: string): void {
  if (prefixes.length === 0) throw new Error(`${what}: at least one prefix is needed (a whole-bucket grant is refused)`);
  prefixes.forEach((p, i) => {
    if (!p || !p.endsWith("/") || p.startsWith("/") || p.includes("*")) {
      throw new Error(`${what}[${i}]: "${p}" must be a key prefix ending in /, without * and not starting with /`);
    }
  });
}

/**
 * The vault's lifecycle rules: one per retention rule (its tier prefix expires after its days, its old
 * versions `noncurrentDays` later), one catch-all per root (`catchAllRules`: what no configured
 * database's rule covers expires after the root's longest days) and one whole-bucket rule (unfinished
 * uploads aborted after `abortDays`, expired delete markers removed). S3 takes at most 1,000
 * (regime/limits.ts DEPLOY_LIMITS.lifecycleRules): 248 databases of three tiers and their drill
 * records (databaseVaultRules) with the four catch-alls and the whole-bucket rule; the promise model
 * counts them here.
 */
export function vaultLifecycleRules(retention: RetentionRule[], noncurrentDays: number, abortDays: number) {
  return [
    ...[...retention, ...catchAllRules(retention)].map((r) => ({
      id: r.id,
      status: r.status ?? "Enabled",
      filter: { prefix: r.prefix },
      expiration: { days: r.expireDays },
      ...(r.transitions?.length ? { transitions: r.transitions.map((t) => ({ days: t.days, storageClass: t.storageClass })) } : {}),
      // Per prefix, not whole-bucket: a Disabled rule keeps its old versions too.
      noncurrentVersionExpiration: { noncurrentDays },
    })),
    {
      id: "whole-bucket-housekeeping",
      status: "Enabled",
      filter: { prefix: "" },
      abortIncompleteMultipartUpload: { daysAfterInitiation: abortDays },
      expiration: { expiredObjectDeleteMarker: true },
    },
  ];
}

export class BackupVault extends pulumi.ComponentResource {
  public readonly bucketName: pulumi.Output<string>;
  public readonly bucketArn: pulumi.Output<string>;
  public readonly kmsKeyArn: pulumi.Output<string>;

  constructor(name: string, args: BackupVaultArgs, opts?: pulumi.ComponentResourceOptions) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`BackupVault name: "${name}" must use only lowercase letters, digits and - (it names the bucket)`);
    validateRetention(args.retention);
    const noncurrentDays = args.noncurrentDays ?? 7;
    if (!Number.isInteger(noncurrentDays) || noncurrentDays < 1) throw new Error(`noncurrentDays: must be a whole number >= 1, got ${noncurrentDays}`);
    const abortDays = args.abortIncompleteUploadDays ?? 1;
    if (!Number.isInteger(abortDays) || abortDays < 1) throw new Error(`abortIncompleteUploadDays: must be a whole number >= 1, got ${abortDays}`);
    if (args.objectLock) {
      const { mode, days } = args.objectLock;
      if (mode !== "GOVERNANCE" && mode !== "COMPLIANCE") throw new Error(`objectLock.mode: must be GOVERNANCE or COMPLIANCE, got "${mode}"`);
      if (!Number.isInteger(days) || days < 1) throw new Error(`objectLock.days: must be a whole number >= 1, got ${days}`);
      const shortest = args.retention.reduce((a, r) => (r.expireDays < a.expireDays ? r : a));
      if (days > shortest.expireDays) {
        throw new Error(
          `objectLock.days: ${days} is longer than retention[${args.retention.indexOf(shortest)}] (${shortest.id}, ${shortest.expireDays} days): locked backups could not be removed when their tier expires`,
        );
      }
    }
    const deletionWindow = args.keyDeletionWindowDays ?? 30;
    if (!Number.isInteger(deletionWindow) || deletionWindow < 7 || deletionWindow > 30) {
      throw new Error(`keyDeletionWindowDays: must be a whole number from 7 to 30, got ${deletionWindow}`);
    }
    super("regime:backup:BackupVault", name, {}, opts);
    const tags = args.tags ?? {};
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;

    // What keeps the stored backups readable, private and expiring stays in the account when the
    // vault leaves the program (the last database removed, or the stack destroyed): the key (deleted,
    // every backup it encrypted would become unreadable after its deletion window), the bucket
    // (never force-destroyed: a delete would fail on its backups and stop the update), its
    // versioning, encryption, public-access block, ownership, policy (TLS-only, write-once),
    // lifecycle (the catch-alls expire what is left) and Object Lock. The key's $1 a month goes on
    // until it is deleted by hand once the bucket is empty (README, "Removing a database").
    const kept: pulumi.CustomResourceOptions = { parent: this, retainOnDelete: true };

    // The backups' own key ($1 a month), shared with nothing: its policy names no service, so only the
    // roles granted kms:Decrypt on it (restore, verify, drill) read backups. Why the alert topics do not
    // share it: components/alerting.ts, at its key.
    const key = new aws.kms.Key(
      `${name}-key`,
      {
        description: `${name}: encrypts the backups`,
        enableKeyRotation: true,
        deletionWindowInDays: deletionWindow,
        policy: account.apply((acct) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              { Sid: "AccountAdministersKeyThroughIam", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${acct}:root` }, Action: "kms:*", Resource: "*" },
            ],
          }),
        ),
        tags,
      },
      { ...kept },
    );
    new aws.kms.Alias(`${name}-key`, { name: `alias/${name}`, targetKeyId: key.keyId }, { parent: this });

    // bucketPrefix: at most 37 characters; S3 appends a unique suffix up to the 63-character limit.
    const bucket = new aws.s3.Bucket(
      `${name}`,
      {
        bucketPrefix: `${name.slice(0, 36).replace(/-+$/, "")}-`,
        forceDestroy: false,
        ...(args.objectLock ? { objectLockEnabled: true } : {}),
        tags,
      },
      { ...kept },
    );
    const publicAccess = blockPublicAccess(name, bucket.id, { ...kept });
    const versioning = new aws.s3.BucketVersioning(
      `${name}-versioning`,
      { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
      { ...kept },
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: bucket.id,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: key.arn }, bucketKeyEnabled: true }],
      },
      { ...kept },
    );
    new aws.s3.BucketPolicy(
      `${name}-tls-only`,
      {
        bucket: bucket.id,
        policy: bucket.arn.apply((arn) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              tlsOnlyStatement(arn),
              writeOnceStatement(arn, writeOnceRoots(args.retention)),
            ],
          }),
        ),
      },
      // S3 refuses a bucket policy while the public-access block is being written.
      { ...kept, dependsOn: [publicAccess] },
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      {
        bucket: bucket.id,
        rules: vaultLifecycleRules(args.retention, noncurrentDays, abortDays),
      },
      // Lifecycle rules on noncurrent versions need versioning in place first. Kept on the bucket when
      // the vault leaves the program (the last database removed): the bucket is never force-destroyed,
      // so its backups stay, and the last rules, catch-alls included, still expire them.
      { ...kept, dependsOn: [versioning] },
    );
    if (args.objectLock) {
      new aws.s3.BucketObjectLockConfiguration(
        `${name}-object-lock`,
        { bucket: bucket.id, rule: { defaultRetention: { mode: args.objectLock.mode, days: args.objectLock.days } } },
        { ...kept, dependsOn: [versioning] },
      );
    }

    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.kmsKeyArn = key.arn;
    this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn, kmsKeyArn: this.kmsKeyArn });
  }

  /**
   * Write-only under the prefixes: put objects (single and multipart), abort its own uploads, and
   * encrypt with the vault key. `readBack` adds s3:GetObject on the same prefixes, which HeadObject
   * needs (the backup task checks the stored size of what it just wrote). `named`: only objects of
   * that name at any depth under the prefixes (`runs/*` + `/watching-since.json`), not every key
   * there. Never delete.
   */
  writeStatements(prefixes: string[], opts: { readBack?: boolean; named?: string } = {}): IamStatement[] {
    checkPrefixes(prefixes, "prefixes");
    if (opts.named !== undefined && !/^[A-Za-z0-9._-]+$/.test(opts.named)) throw new Error(`named: "${opts.named}" must be one object name (letters, digits, . _ -)`);
    const objects = this.bucketArn.apply((arn) => prefixes.map((p) => (opts.named ? `${arn}/${p}*/${opts.named}` : `${arn}/${p}*`)));
    return [
      {
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", ...(opts.readBack ? ["s3:GetObject"] : [])],
        Resource: objects,
      },
      // Multipart uploads to an SSE-KMS bucket need Decrypt as well as GenerateDataKey.
      { Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: [this.kmsKeyArn] },
    ];
  }

  /** Read-only under the prefixes: get objects, list only those prefixes, decrypt with the vault key. */
  readStatements(prefixes: string[]): IamStatement[] {
    checkPrefixes(prefixes, "prefixes");
    return [
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: this.bucketArn.apply((arn) => prefixes.map((p) => `${arn}/${p}*`)) },
      {
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: [this.bucketArn],
        Condition: { StringLike: { "s3:prefix": prefixes.map((p) => `${p}*`) } },
      },
      { Effect: "Allow", Action: ["kms:Decrypt"], Resource: [this.kmsKeyArn] },
    ];
  }
}
