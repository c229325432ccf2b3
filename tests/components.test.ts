import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { MOCK_ACCOUNT, setupMocks, settle, waitFor, type MockResource } from "./helpers/pulumi-mocks";
import { allowedActions, expectLeastPrivilege, statementsOf } from "./helpers/iam";

const { resources } = setupMocks();

type Alerting = typeof import("../components/alerting");
type Vault = typeof import("../components/backup-vault");
type Task = typeof import("../components/scheduled-task");
let alertingMod: Alerting;
let vaultMod: Vault;
let taskMod: Task;

let alerts: InstanceType<Alerting["AlertRouting"]>;
let vault: InstanceType<Vault["BackupVault"]>;
let lockedVault: InstanceType<Vault["BackupVault"]>;
let vacuum: InstanceType<Task["ScheduledTask"]>;
let backup: InstanceType<Task["ScheduledTask"]>;
let bigBackup: InstanceType<Task["ScheduledTask"]>;
let restoreDrill: InstanceType<Task["ScheduledTask"]>;

const ARN = (svc: string, rest: string) => `arn:aws:${svc}:us-east-1:${MOCK_ACCOUNT}:${rest}`;
const BUCKET_ARN = "arn:aws:s3:::prod-backups-prod-backups";
const VAULT_KEY = ARN("kms", "key/prod-backups-key-id");
const TOPICS = { P0: ARN("sns", "prod-alerts-P0"), P1: ARN("sns", "prod-alerts-P1"), P2: ARN("sns", "prod-alerts-P2"), P3: ARN("sns", "prod-alerts-P3") };
const archive = () => new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset("exports.handler=async()=>1") });
const CRM_PREFIXES = ["daily/crm/", "weekly/crm/", "monthly/crm/"];

/** Resources registered by the component `name` and its children (all names derive from it). */
const under = (name: string): MockResource[] => resources.filter((r) => r.name === name || r.name.startsWith(`${name}-`));
const ofType = (name: string, type: string): MockResource[] => under(name).filter((r) => r.type === type);
const one = (name: string, type: string): MockResource => {
  const found = ofType(name, type);
  expect(found, `${type} under ${name}`).toHaveLength(1);
  return found[0];
};
const countByType = (name: string): Record<string, number> =>
  under(name).reduce<Record<string, number>>((acc, r) => ((acc[r.type] = (acc[r.type] ?? 0) + 1), acc), {});

function taskArgs(overrides: Partial<import("../components/scheduled-task").ScheduledTaskArgs> = {}): import("../components/scheduled-task").ScheduledTaskArgs {
  return {
    regime: "prod",
    taskName: "vacuum",
    description: "vacuum of database crm",
    code: { kind: "zip", archive: archive(), handler: "index.handler" },
    environment: { MIN_DEAD_PERCENT: "5" },
    schedule: { expression: "cron(0 3 ? * WED *)", timezone: "America/New_York" },
    expectedIntervalSeconds: 7 * 86400,
    timeoutSeconds: 900,
    memoryMb: 256,
    policyStatements: [],
    logRetentionDays: 30,
    alarmTopics: TOPICS,
    severity: "P2",
    ...overrides,
  };
}

beforeAll(async () => {
  alertingMod = await import("../components/alerting");
  vaultMod = await import("../components/backup-vault");
  taskMod = await import("../components/scheduled-task");

  alerts = new alertingMod.AlertRouting("prod-alerts", {
    channels: {
      P0: { email: ["oncall@example.com", "cto@example.com"], sms: ["+15551234567"] },
      P1: { https: ["https://hooks.example.com/alerts"] },
      P2: { email: ["ops@example.com"] },
    },
    tags: { Regime: "prod" },
  });
  vault = new vaultMod.BackupVault("prod-backups", {
    retention: [
      ...vaultMod.tierRules("crm", { daily: 7, weekly: 30, monthly: 365 }, { archive: { afterDays: 30, storageClass: "GLACIER_IR" } }),
      { id: "daily-big", prefix: "daily/big/", expireDays: 400, transitions: [{ days: 30, storageClass: "STANDARD_IA" }, { days: 60, storageClass: "GLACIER_IR" }, { days: 150, storageClass: "DEEP_ARCHIVE" }] },
    ],
    noncurrentDays: 7,
    tags: { Regime: "prod" },
  });
  lockedVault = new vaultMod.BackupVault("prod-locked", {
    retention: vaultMod.tierRules("crm", { daily: 30, weekly: 90, monthly: 365 }),
    objectLock: { mode: "COMPLIANCE", days: 30 },
  });

  vacuum = new taskMod.ScheduledTask("prod-db-crm-vacuum", taskArgs({ alarmTopics: alerts.topics }));
  backup = new taskMod.ScheduledTask(
    "prod-db-crm-backup",
    taskArgs({
      taskName: "backup",
      description: "backup of database crm",
      code: { kind: "image", imageUri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/prod-task@sha256:abc" },
      environment: { BACKUP_BUCKET: vault.bucketName, DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:crm-AbCdEf" },
      schedule: { expression: "cron(0 2 * * ? *)", timezone: "America/New_York" },
      expectedIntervalSeconds: 86400,
      timeoutSeconds: 900,
      memoryMb: 1024,
      vpc: { subnetIds: ["subnet-a", "subnet-b"], securityGroupIds: ["sg-backup"] },
      policyStatements: [
        { Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: ["arn:aws:secretsmanager:us-east-1:123456789012:secret:crm-AbCdEf"] },
        ...vault.writeStatements(CRM_PREFIXES, { readBack: true }),
      ],
      severity: "P1",
    }),
  );
  bigBackup = new taskMod.ScheduledTask(
    "prod-db-big-backup",
    taskArgs({
      taskName: "backup",
      description: "backup of database big",
      code: {
        kind: "fargate",
        imageUri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/prod-task@sha256:abc",
        cluster: ARN("ecs", "cluster/prod"),
        cpu: 1024,
        memory: 4096,
        command: ["node", "cli.js", "backup"],
      },
      environment: { BACKUP_BUCKET: vault.bucketName },
      schedule: { expression: "cron(0 1 * * ? *)", timezone: "Europe/Berlin" },
      expectedIntervalSeconds: 86400,
      timeoutSeconds: 3 * 3600,
      vpc: { subnetIds: ["subnet-a"], securityGroupIds: ["sg-backup"] },
      policyStatements: vault.writeStatements(["daily/big/"]),
      severity: "P0",
    }),
  );
  restoreDrill = new taskMod.ScheduledTask(
    "prod-db-crm-restore-drill",
    taskArgs({
      taskName: "restore-drill",
      schedule: { expression: "cron(0 3 1 1/3 ? *)", timezone: "UTC" },
      expectedIntervalSeconds: 92 * 86400,
      policyStatements: vault.readStatements(CRM_PREFIXES),
    }),
  );
  await Promise.all([
    waitFor(alerts.topicArns),
    waitFor(vault.bucketArn),
    waitFor(lockedVault.bucketArn),
    ...[vacuum, backup, bigBackup, restoreDrill].map((t) => waitFor(t.alarmNames)),
  ]);
  await settle();
});

describe("AlertRouting", () => {
  it("creates one key, four topics with policies and one subscription per channel endpoint", () => {
    expect(countByType("prod-alerts")).toEqual({
      "regime:alerting:AlertRouting": 1,
      "aws:kms/key:Key": 1,
      "aws:kms/alias:Alias": 1,
      "aws:sns/topic:Topic": 4,
      "aws:sns/topicPolicy:TopicPolicy": 4,
      "aws:sns/topicSubscription:TopicSubscription": 5,
    });
  });

  it("encrypts every topic with the rotating customer-managed key", async () => {
    const key = one("prod-alerts", "aws:kms/key:Key");
    expect(key.inputs.enableKeyRotation).toBe(true);
    expect(key.inputs.deletionWindowInDays).toBe(30);
    const topics = ofType("prod-alerts", "aws:sns/topic:Topic");
    expect(topics.map((t) => t.inputs.name).sort()).toEqual(["prod-alerts-P0", "prod-alerts-P1", "prod-alerts-P2", "prod-alerts-P3"]);
    for (const t of topics) expect(t.inputs.kmsMasterKeyId).toBe(ARN("kms", "key/prod-alerts-topics-id"));
    expect(await waitFor(alerts.kmsKeyArn)).toBe(ARN("kms", "key/prod-alerts-topics-id"));
    expect(await waitFor(alerts.topicArns)).toEqual(TOPICS);
  });

  it("lets CloudWatch alarms of this account use the key and publish, and nobody else", () => {
    const keyPolicy = statementsOf(one("prod-alerts", "aws:kms/key:Key").inputs.policy);
    expect(keyPolicy).toEqual([
      { Sid: "AccountAdministersKeyThroughIam", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${MOCK_ACCOUNT}:root` }, Action: "kms:*", Resource: "*" },
      {
        Sid: "CloudWatchAlarmsPublishToEncryptedTopics",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
        Resource: "*",
        Condition: { StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT } },
      },
    ]);
    const p0 = ofType("prod-alerts", "aws:sns/topicPolicy:TopicPolicy").find((p) => p.inputs.arn === TOPICS.P0)!;
    expect(statementsOf(p0.inputs.policy)).toEqual([
      {
        Sid: "CloudWatchAlarmsOfThisAccountPublish",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: "sns:Publish",
        Resource: TOPICS.P0,
        Condition: { StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT } },
      },
    ]);
  });

  it("subscribes each endpoint to its severity's topic with its protocol", () => {
    const subs = ofType("prod-alerts", "aws:sns/topicSubscription:TopicSubscription")
      .map((s) => ({ topic: s.inputs.topic, protocol: s.inputs.protocol, endpoint: s.inputs.endpoint }))
      .sort((a, b) => `${a.topic}${a.endpoint}`.localeCompare(`${b.topic}${b.endpoint}`));
    expect(subs).toEqual([
      { topic: TOPICS.P0, protocol: "sms", endpoint: "+15551234567" },
      { topic: TOPICS.P0, protocol: "email", endpoint: "cto@example.com" },
      { topic: TOPICS.P0, protocol: "email", endpoint: "oncall@example.com" },
      { topic: TOPICS.P1, protocol: "https", endpoint: "https://hooks.example.com/alerts" },
      { topic: TOPICS.P2, protocol: "email", endpoint: "ops@example.com" },
    ].sort((a, b) => `${a.topic}${a.endpoint}`.localeCompare(`${b.topic}${b.endpoint}`)));
  });

  it("names a subscription by its endpoint, so removing one leaves the others in place", () => {
    const names = ofType("prod-alerts", "aws:sns/topicSubscription:TopicSubscription").map((s) => s.name);
    expect(new Set(names).size).toBe(5);
    for (const n of names) expect(n).toMatch(/^prod-alerts-P[0-3]-(email|sms|https)-[0-9a-f]{8}$/);
  });

  it("refuses malformed channels, naming the entry", () => {
    expect(() => new alertingMod.AlertRouting("bad-alerts", { channels: { P0: { sms: ["5551234567"] } } })).toThrow(
      'channels.P0.sms[0]: "5551234567" is not an E.164 phone number like +15551234567',
    );
    expect(() => new alertingMod.AlertRouting("bad-alerts", { channels: { P2: { https: ["http://hooks.example.com"] } } })).toThrow(
      'channels.P2.https[0]: "http://hooks.example.com" is not an https URL',
    );
    expect(() => new alertingMod.AlertRouting("bad-alerts", { channels: { P1: { email: ["not-an-address"] } } })).toThrow(
      'channels.P1.email[0]: "not-an-address" is not an email address',
    );
    expect(under("bad-alerts")).toEqual([]);
  });
});

describe("BackupVault", () => {
  it("creates the key, the bucket and its seven settings, and Object Lock only when asked", () => {
    const expected = {
      "regime:backup:BackupVault": 1,
      "aws:kms/key:Key": 1,
      "aws:kms/alias:Alias": 1,
      "aws:s3/bucket:Bucket": 1,
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
      "aws:s3/bucketVersioning:BucketVersioning": 1,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
      "aws:s3/bucketPolicy:BucketPolicy": 1,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
    };
    expect(countByType("prod-backups")).toEqual(expected);
    expect(countByType("prod-locked")).toEqual({ ...expected, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": 1 });
  });

  it("keeps the bucket on stack deletion, blocks all public access and disables ACLs", () => {
    const bucket = one("prod-backups", "aws:s3/bucket:Bucket");
    expect(bucket.inputs.forceDestroy).toBe(false);
    expect(bucket.inputs.bucketPrefix).toBe("prod-backups-");
    expect(bucket.inputs.objectLockEnabled).toBeUndefined();
    const pab = one("prod-backups", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs;
    expect(pab).toEqual({ bucket: "prod-backups-id", blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    expect(one("prod-backups", "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs.rule).toEqual({ objectOwnership: "BucketOwnerEnforced" });
    expect(one("prod-backups", "aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration).toEqual({ status: "Enabled" });
  });

  it("encrypts with its own rotating key and an S3 bucket key", async () => {
    expect(one("prod-backups", "aws:kms/key:Key").inputs.enableKeyRotation).toBe(true);
    expect(one("prod-backups", "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs.rules).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: VAULT_KEY }, bucketKeyEnabled: true },
    ]);
    expect(await waitFor(vault.kmsKeyArn)).toBe(VAULT_KEY);
    expect(await waitFor(vault.bucketArn)).toBe(BUCKET_ARN);
    expect(await waitFor(vault.bucketName)).toBe("prod-backups-prod-backups");
  });

  it("refuses every request that is not over TLS", () => {
    expect(statementsOf(one("prod-backups", "aws:s3/bucketPolicy:BucketPolicy").inputs.policy)).toEqual([
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [BUCKET_ARN, `${BUCKET_ARN}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ]);
  });

  it("expires each tier after its own days, archives only tiers that live long enough, and cleans up", () => {
    expect(one("prod-backups", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs.rules).toEqual([
      { id: "daily-crm", status: "Enabled", filter: { prefix: "daily/crm/" }, expiration: { days: 7 } },
      { id: "weekly-crm", status: "Enabled", filter: { prefix: "weekly/crm/" }, expiration: { days: 30 } },
      { id: "monthly-crm", status: "Enabled", filter: { prefix: "monthly/crm/" }, expiration: { days: 365 }, transitions: [{ days: 30, storageClass: "GLACIER_IR" }] },
      {
        id: "daily-big",
        status: "Enabled",
        filter: { prefix: "daily/big/" },
        expiration: { days: 400 },
        transitions: [
          { days: 30, storageClass: "STANDARD_IA" },
          { days: 60, storageClass: "GLACIER_IR" },
          { days: 150, storageClass: "DEEP_ARCHIVE" },
        ],
      },
      {
        id: "whole-bucket-housekeeping",
        status: "Enabled",
        filter: { prefix: "" },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
        noncurrentVersionExpiration: { noncurrentDays: 7 },
        expiration: { expiredObjectDeleteMarker: true },
      },
    ]);
  });

  it("turns Object Lock on at creation and sets its default retention", () => {
    expect(one("prod-locked", "aws:s3/bucket:Bucket").inputs.objectLockEnabled).toBe(true);
    expect(one("prod-locked", "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration").inputs.rule).toEqual({
      defaultRetention: { mode: "COMPLIANCE", days: 30 },
    });
  });

  it("gives writers put-only access under their prefixes and readers get/list under theirs, never delete", async () => {
    const write = await waitFor(pulumi.output(vault.writeStatements(CRM_PREFIXES)));
    expect(write).toEqual([
      {
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        Resource: CRM_PREFIXES.map((p) => `${BUCKET_ARN}/${p}*`),
      },
      { Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: [VAULT_KEY] },
    ]);
    const read = await waitFor(pulumi.output(vault.readStatements(["daily/crm/"])));
    expect(read).toEqual([
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: [`${BUCKET_ARN}/daily/crm/*`] },
      { Effect: "Allow", Action: ["s3:ListBucket"], Resource: [BUCKET_ARN], Condition: { StringLike: { "s3:prefix": ["daily/crm/*"] } } },
      { Effect: "Allow", Action: ["kms:Decrypt"], Resource: [VAULT_KEY] },
    ]);
    const policy = JSON.stringify({ Version: "2012-10-17", Statement: [...write, ...read] });
    expectLeastPrivilege(policy, "vault grants");
    expect(() => vault.writeStatements([])).toThrow("prefixes: at least one prefix is needed (a whole-bucket grant is refused)");
    expect(() => vault.readStatements(["daily/*"])).toThrow('prefixes[0]: "daily/*" must be a key prefix ending in /, without * and not starting with /');
  });

  it("refuses lifecycle rules S3 rejects or that cost more than they keep, naming the rule", () => {
    const make = (retention: import("../components/backup-vault").RetentionRule[], extra = {}) => () =>
      new vaultMod.BackupVault("bad-vault", { retention, ...extra });
    expect(make([{ id: "d", prefix: "daily/", expireDays: 60, transitions: [{ days: 7, storageClass: "STANDARD_IA" }] }])).toThrow(
      "retention[0].transitions[0].days: a transition to STANDARD_IA needs at least 30 days, got 7",
    );
    expect(make([{ id: "d", prefix: "daily/", expireDays: 100, transitions: [{ days: 30, storageClass: "DEEP_ARCHIVE" }] }])).toThrow(
      "retention[0].expireDays: 100 is less than 180 days after the transition to DEEP_ARCHIVE on day 30 (S3 bills the minimum anyway)",
    );
    expect(make([{ id: "d", prefix: "daily/", expireDays: 30, transitions: [{ days: 30, storageClass: "STANDARD_IA" }] }])).toThrow(
      "retention[0].expireDays: 30 is less than 30 days after the transition to STANDARD_IA on day 30",
    );
    expect(
      make([{ id: "d", prefix: "daily/", expireDays: 400, transitions: [{ days: 30, storageClass: "GLACIER_IR" }, { days: 60, storageClass: "STANDARD_IA" }] }]),
    ).toThrow("retention[0].transitions[1].storageClass: STANDARD_IA must be colder than the previous transition's GLACIER_IR");
    expect(make([{ id: "d", prefix: "daily", expireDays: 7 }])).toThrow('retention[0].prefix: "daily" must be a key prefix ending in / and not starting with /');
    expect(make([{ id: "a", prefix: "daily/", expireDays: 7 }, { id: "b", prefix: "daily/crm/", expireDays: 30 }])).toThrow(
      'retention: prefixes "daily/" and "daily/crm/" overlap',
    );
    expect(make([])).toThrow("retention: at least one rule is needed, or backups are kept forever");
    expect(make([{ id: "d", prefix: "daily/", expireDays: 7 }], { objectLock: { mode: "FOREVER", days: 1 } })).toThrow(
      'objectLock.mode: must be GOVERNANCE or COMPLIANCE, got "FOREVER"',
    );
    expect(make([{ id: "d", prefix: "daily/", expireDays: 7 }], { noncurrentDays: 0 })).toThrow("noncurrentDays: must be a whole number >= 1, got 0");
    expect(() => new vaultMod.BackupVault("Prod_Backups", { retention: [{ id: "d", prefix: "daily/", expireDays: 7 }] })).toThrow(
      'BackupVault name: "Prod_Backups" must use only lowercase letters, digits and - (it names the bucket)',
    );
    expect(under("bad-vault")).toEqual([]);
  });
});
