import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { MOCK_ACCOUNT, MOCK_CREATION_DATE, mockArchive, setupMocks, settle, waitFor, type MockResource } from "./helpers/pulumi-mocks";
import { gateOf } from "./helpers/metric-math";
import { allowedActions, expectLeastPrivilege, statementsOf } from "./helpers/iam";
import * as promisesMod from "../regime/promises";

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
const archive = mockArchive;
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

/** A task's schedule as ScheduledTask takes it, with the expression as its description (not checked here: the config parses it). */
const scheduleAt = (expression: string, timezone: string, intervalSeconds = 86400) => ({ expression, timezone, description: expression, intervalSeconds });

function taskArgs(overrides: Partial<import("../components/scheduled-task").ScheduledTaskArgs> = {}): import("../components/scheduled-task").ScheduledTaskArgs {
  return {
    regime: "prod",
    taskName: "vacuum",
    description: "vacuum of database crm",
    code: { kind: "zip", archive: archive(), handler: "index.handler" },
    environment: { DEAD_PERCENT_MIN: "5" },
    schedule: scheduleAt("cron(0 3 * * ? *)", "America/New_York"),
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
      schedule: scheduleAt("cron(0 2 * * ? *)", "America/New_York"),
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
      schedule: scheduleAt("cron(0 1 * * ? *)", "Europe/Berlin"),
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
      schedule: scheduleAt("cron(0 3 1 1/3 ? *)", "UTC", 92 * 86400),
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

  it("refuses every request that is not over TLS, and every upload under a tier prefix without If-None-Match", () => {
    const rules = one("prod-backups", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs.rules as { filter: { prefix: string } }[];
    const tierPrefixes = rules.map((r) => r.filter.prefix).filter((p) => p !== "");
    expect(tierPrefixes).toEqual(["daily/crm/", "weekly/crm/", "monthly/crm/", "daily/big/", "daily/", "weekly/", "monthly/"]);
    expect(statementsOf(one("prod-backups", "aws:s3/bucketPolicy:BucketPolicy").inputs.policy)).toEqual([
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [BUCKET_ARN, `${BUCKET_ARN}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
      {
        Sid: "WrittenOnce",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:PutObject",
        // The tier roots, not each database's prefix: the policy's size does not grow with the databases.
        Resource: ["daily/", "weekly/", "monthly/"].map((p) => `${BUCKET_ARN}/${p}*`),
        Condition: { Null: { "s3:if-none-match": "true" }, BoolIfExists: { "s3:ObjectCreationOperation": "true" } },
      },
    ]);
  });

  it("stays in the account when it leaves the program (retainOnDelete): the backups, the key that decrypts them, their protections and the lifecycle that expires them", () => {
    const retained: Record<string, boolean | undefined> = {};
    const capture: pulumi.ResourceTransformation = (a) => {
      retained[a.type] = a.opts.retainOnDelete;
      return undefined;
    };
    new vaultMod.BackupVault("prod-retained", { retention: vaultMod.tierRules("crm", { daily: 30, weekly: 90, monthly: 365 }), objectLock: { mode: "GOVERNANCE", days: 7 } }, { transformations: [capture] });
    expect(retained).toEqual({
      "regime:backup:BackupVault": undefined,
      "aws:kms/key:Key": true,
      // The alias goes: a vault made again later takes the same alias name.
      "aws:kms/alias:Alias": undefined,
      "aws:s3/bucket:Bucket": true,
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": true,
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls": true,
      "aws:s3/bucketVersioning:BucketVersioning": true,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": true,
      "aws:s3/bucketPolicy:BucketPolicy": true,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": true,
      "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": true,
    });
  });

  it("expires each tier after its own days, then its old versions, archives only tiers that live long enough, and cleans up", () => {
    const old = { noncurrentVersionExpiration: { noncurrentDays: 7 } };
    expect(one("prod-backups", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs.rules).toEqual([
      { id: "daily-crm", status: "Enabled", filter: { prefix: "daily/crm/" }, expiration: { days: 7 }, ...old },
      { id: "weekly-crm", status: "Enabled", filter: { prefix: "weekly/crm/" }, expiration: { days: 30 }, ...old },
      { id: "monthly-crm", status: "Enabled", filter: { prefix: "monthly/crm/" }, expiration: { days: 365 }, transitions: [{ days: 30, storageClass: "GLACIER_IR" }], ...old },
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
        ...old,
      },
      // A catch-all per tier root, the tier's longest days: what no configured database's rule covers still expires.
      { id: "catch-all.daily", status: "Enabled", filter: { prefix: "daily/" }, expiration: { days: 400 }, ...old },
      { id: "catch-all.weekly", status: "Enabled", filter: { prefix: "weekly/" }, expiration: { days: 30 }, ...old },
      { id: "catch-all.monthly", status: "Enabled", filter: { prefix: "monthly/" }, expiration: { days: 365 }, ...old },
      // Whole-bucket: nothing that removes a stored backup (a paused database's Disabled rules keep its old versions).
      {
        id: "whole-bucket-housekeeping",
        status: "Enabled",
        filter: { prefix: "" },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
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

const TASK_NAMES = ["prod-db-crm-vacuum", "prod-db-crm-backup", "prod-db-big-backup", "prod-db-crm-restore-drill"];
const policyOf = (name: string) => one(name, "aws:iam/rolePolicy:RolePolicy").inputs.policy;
const rolePolicy = (roleName: string) => resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === roleName)!.inputs.policy;
const alarmsOf = (name: string) => ofType(name, "aws:cloudwatch/metricAlarm:MetricAlarm");

describe("ScheduledTask on Lambda", () => {
  it("creates the function, its role, log group, queue, schedule and four alarms", () => {
    expect(countByType("prod-db-crm-vacuum")).toEqual({
      "regime:task:ScheduledTask": 1,
      "aws:sqs/queue:Queue": 1,
      "aws:cloudwatch/logGroup:LogGroup": 1,
      // Its watch start: the role's creation, or the `pulumi up` that last resumed it (components/watch-start.ts).
      "pulumi-nodejs:dynamic/regime:WatchStart": 1,
      "aws:iam/role:Role": 2,
      "aws:iam/rolePolicy:RolePolicy": 2,
      "aws:lambda/function:Function": 1,
      "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": 1,
      "aws:scheduler/schedule:Schedule": 1,
      "aws:cloudwatch/metricAlarm:MetricAlarm": 4,
    });
  });

  it("runs zip code on nodejs22.x with its settings plus the task, regime and metrics namespace", () => {
    const fn = one("prod-db-crm-vacuum", "aws:lambda/function:Function").inputs;
    expect({ ...fn, code: undefined, role: undefined }).toEqual({
      name: "prod-db-crm-vacuum",
      description: "vacuum of database crm",
      packageType: "Zip",
      runtime: "nodejs22.x",
      handler: "index.handler",
      architectures: ["arm64"],
      timeout: 900,
      memorySize: 256,
      // On Lambda the missed-run alarm counts Lambda's own invocations and errors: no run metric.
      environment: { variables: { DEAD_PERCENT_MIN: "5", TASK: "vacuum", REGIME_NAME: "prod", METRICS_NAMESPACE: "MaintenanceRegime" } },
      loggingConfig: { logFormat: "Text", logGroup: "/aws/lambda/prod-db-crm-vacuum" },
      tags: { Task: "vacuum" },
    });
    expect(fn.role).toBe(`arn:aws:iam::${MOCK_ACCOUNT}:role/prod-db-crm-vacuum-role`);
  });

  it("runs an image function in the VPC with the ENI permissions and nothing broader", () => {
    const fn = one("prod-db-crm-backup", "aws:lambda/function:Function").inputs;
    expect(fn.packageType).toBe("Image");
    expect(fn.imageUri).toBe("123456789012.dkr.ecr.us-east-1.amazonaws.com/prod-task@sha256:abc");
    expect(fn.runtime).toBeUndefined();
    expect(fn.vpcConfig).toEqual({ subnetIds: ["subnet-a", "subnet-b"], securityGroupIds: ["sg-backup"] });
    expect(fn.environment.variables).toEqual({
      BACKUP_BUCKET: "prod-backups-prod-backups",
      DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:crm-AbCdEf",
      TASK: "backup",
      REGIME_NAME: "prod",
      METRICS_NAMESPACE: "MaintenanceRegime",
    });
    expect(statementsOf(rolePolicy("prod-db-crm-backup-role"))).toEqual([
      { Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: ["arn:aws:secretsmanager:us-east-1:123456789012:secret:crm-AbCdEf"] },
      {
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:GetObject"],
        Resource: CRM_PREFIXES.map((p) => `${BUCKET_ARN}/${p}*`),
      },
      { Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: [VAULT_KEY] },
      { Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [ARN("logs", "log-group:/aws/lambda/prod-db-crm-backup:*")] },
      { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [ARN("sqs", "prod-db-crm-backup-dlq")] },
      {
        Effect: "Allow",
        Action: [
          "ec2:CreateNetworkInterface",
          "ec2:DescribeNetworkInterfaces",
          "ec2:DescribeSubnets",
          "ec2:DeleteNetworkInterface",
          "ec2:AssignPrivateIpAddresses",
          "ec2:UnassignPrivateIpAddresses",
        ],
        Resource: ["*"],
      },
    ]);
    // Outside a VPC there is no "*" at all.
    expect(JSON.stringify(statementsOf(rolePolicy("prod-db-crm-vacuum-role")))).not.toContain('"*"');
  });

  it("gives the function a log group with retention, named as Lambda expects", () => {
    for (const name of TASK_NAMES) {
      const lg = one(name, "aws:cloudwatch/logGroup:LogGroup").inputs;
      expect(lg.retentionInDays, name).toBe(30);
    }
    expect(one("prod-db-crm-vacuum", "aws:cloudwatch/logGroup:LogGroup").inputs.name).toBe("/aws/lambda/prod-db-crm-vacuum");
    expect(one("prod-db-big-backup", "aws:cloudwatch/logGroup:LogGroup").inputs.name).toBe("/ecs/prod-db-big-backup");
  });

  it("schedules in the given timezone, on time, with retries and a dead-letter queue", () => {
    const s = one("prod-db-crm-vacuum", "aws:scheduler/schedule:Schedule").inputs;
    expect(s).toEqual({
      name: "prod-db-crm-vacuum",
      description: "vacuum of database crm",
      scheduleExpression: "cron(0 3 * * ? *)",
      scheduleExpressionTimezone: "America/New_York",
      flexibleTimeWindow: { mode: "OFF" },
      state: "ENABLED",
      target: {
        arn: ARN("lambda", "function:prod-db-crm-vacuum"),
        roleArn: `arn:aws:iam::${MOCK_ACCOUNT}:role/prod-db-crm-vacuum-scheduler`,
        // The Scheduler replaces each <aws.scheduler.*> attribute on every run: the task is dated by its scheduled time.
        input: JSON.stringify({
          task: "vacuum",
          source: "schedule",
          scheduledTime: "<aws.scheduler.scheduled-time>",
          executionId: "<aws.scheduler.execution-id>",
          attemptNumber: "<aws.scheduler.attempt-number>",
        }),
        retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
        deadLetterConfig: { arn: ARN("sqs", "prod-db-crm-vacuum-dlq") },
      },
    });
    expect(one("prod-db-crm-vacuum", "aws:sqs/queue:Queue").inputs).toEqual({
      name: "prod-db-crm-vacuum-dlq",
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: 1209600,
      tags: { Task: "vacuum" },
    });
    expect(one("prod-db-crm-vacuum", "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs).toEqual({
      functionName: "prod-db-crm-vacuum",
      maximumRetryAttempts: 0,
      maximumEventAgeInSeconds: 3600,
      destinationConfig: { onFailure: { destination: ARN("sqs", "prod-db-crm-vacuum-dlq") } },
    });
  });

  it("lets the scheduler invoke only this function and write only to its queue, assumed only for this account", () => {
    expect(statementsOf(rolePolicy("prod-db-crm-vacuum-scheduler"))).toEqual([
      { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [ARN("lambda", "function:prod-db-crm-vacuum")] },
      { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [ARN("sqs", "prod-db-crm-vacuum-dlq")] },
    ]);
    const role = resources.find((r) => r.type === "aws:iam/role:Role" && r.name === "prod-db-crm-vacuum-scheduler")!;
    expect(statementsOf(role.inputs.assumeRolePolicy)).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT } },
      },
    ]);
    const fnRole = resources.find((r) => r.type === "aws:iam/role:Role" && r.name === "prod-db-crm-vacuum-role")!;
    expect(statementsOf(fnRole.inputs.assumeRolePolicy)).toEqual([
      { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
    ]);
  });

  it("alarms on errors, on runs near the timeout, on a missed run and on dead letters", () => {
    const byName = Object.fromEntries(alarmsOf("prod-db-crm-vacuum").map((a) => [a.inputs.name, a.inputs]));
    expect(Object.keys(byName).sort()).toEqual([
      "prod-db-crm-vacuum-dead-letters-P2",
      "prod-db-crm-vacuum-duration-P3",
      "prod-db-crm-vacuum-errors-P2",
      "prod-db-crm-vacuum-missed-run-P2",
    ]);
    const pick = (a: Record<string, any>) => ({
      namespace: a.namespace,
      metricName: a.metricName,
      dimensions: a.dimensions,
      statistic: a.statistic,
      period: a.period,
      evaluationPeriods: a.evaluationPeriods,
      datapointsToAlarm: a.datapointsToAlarm,
      comparisonOperator: a.comparisonOperator,
      threshold: a.threshold,
      treatMissingData: a.treatMissingData,
      alarmActions: a.alarmActions,
    });
    expect(pick(byName["prod-db-crm-vacuum-errors-P2"])).toEqual({
      // 1,200 s: Lambda stamps a failure at the invocation and sends it when the 900 s run ends, seen up
      // to 5 min later: the window still holds it then.
      namespace: "AWS/Lambda", metricName: "Errors", dimensions: { FunctionName: "prod-db-crm-vacuum" }, statistic: "Sum", period: 1200,
      evaluationPeriods: 1, datapointsToAlarm: undefined, comparisonOperator: "GreaterThanOrEqualToThreshold", threshold: 1, treatMissingData: "ignore", alarmActions: [TOPICS.P2],
    });
    expect(pick(byName["prod-db-crm-vacuum-duration-P3"])).toEqual({
      namespace: "AWS/Lambda", metricName: "Duration", dimensions: { FunctionName: "prod-db-crm-vacuum" }, statistic: "Maximum", period: 1200,
      evaluationPeriods: 1, datapointsToAlarm: undefined, comparisonOperator: "GreaterThanThreshold", threshold: 720000, treatMissingData: "ignore", alarmActions: [TOPICS.P3],
    });
    // Daily at 03:00 New York: 24 h + 1 h of retries + 1 h clock change + a 900 s run + 5 min until
    // the run is seen = 26 h 20 min, two periods, all without a run; no data counts as a miss. It
    // counts runs: a run that fails pages through the errors alarm above, at the same severity.
    // Gated on the task role's creation (the job's watch start): a period before it counts as a run.
    expect(pick(byName["prod-db-crm-vacuum-missed-run-P2"])).toEqual({
      namespace: undefined, metricName: undefined, dimensions: undefined, statistic: undefined, period: undefined,
      evaluationPeriods: 2, datapointsToAlarm: 2, comparisonOperator: "LessThanThreshold", threshold: 1, treatMissingData: "breaching", alarmActions: [TOPICS.P2],
    });
    expect(gateOf(byName["prod-db-crm-vacuum-missed-run-P2"])).toEqual({
      metrics: [{ id: "invocations", namespace: "AWS/Lambda", metricName: "Invocations", dimensions: { FunctionName: "prod-db-crm-vacuum" }, stat: "Sum", period: 47400 }],
      expression: `IF(EPOCH(invocations) < ${Date.parse(MOCK_CREATION_DATE) / 1000}, 1, FILL(invocations, 0))`,
    });
    expect(pick(byName["prod-db-crm-vacuum-dead-letters-P2"])).toEqual({
      namespace: "AWS/SQS", metricName: "ApproximateNumberOfMessagesVisible", dimensions: { QueueName: "prod-db-crm-vacuum-dlq" }, statistic: "Maximum", period: 300,
      evaluationPeriods: 1, datapointsToAlarm: undefined, comparisonOperator: "GreaterThanThreshold", threshold: 0, treatMissingData: "notBreaching", alarmActions: [TOPICS.P2],
    });
  });

  it("watches the daily backup's runs over one day at the backup's severity from Lambda's own invocations; its errors alarm holds a 15-minute run's failure", () => {
    const missed = alarmsOf("prod-db-crm-backup").find((a) => a.inputs.name === "prod-db-crm-backup-missed-run-P1")!.inputs;
    // 26 h 20 min (a day, an hour of retries, New York's clock change, the 900 s run, 5 min until the
    // run is seen) in two periods, published by Lambda (no custom metric).
    expect([missed.evaluationPeriods, missed.datapointsToAlarm, missed.comparisonOperator, missed.threshold, missed.treatMissingData]).toEqual([2, 2, "LessThanThreshold", 1, "breaching"]);
    // One metric read (one alarm metric billed), gated on the job's watch start.
    expect(gateOf(missed)).toEqual({
      metrics: [{ id: "invocations", namespace: "AWS/Lambda", metricName: "Invocations", dimensions: { FunctionName: "prod-db-crm-backup" }, stat: "Sum", period: 47400 }],
      expression: `IF(EPOCH(invocations) < ${Date.parse(MOCK_CREATION_DATE) / 1000}, 1, FILL(invocations, 0))`,
    });
    expect(missed.alarmDescription).toContain("pages at most 1581 minutes after the last run");
    // A run that fails pages through the errors alarm, at the same severity, whose window holds the
    // failure Lambda stamps at the invocation until it arrives, 900 s + 5 min later.
    const errors = alarmsOf("prod-db-crm-backup").find((a) => a.inputs.name === "prod-db-crm-backup-errors-P1")!.inputs;
    expect([errors.period, errors.evaluationPeriods, errors.alarmActions]).toEqual([1200, 1, missed.alarmActions]);
    // The function publishes no run metric: no RUN_METRICS, and Lambda's AWS_LAMBDA_FUNCTION_NAME turns them off.
    expect(one("prod-db-crm-backup", "aws:lambda/function:Function").inputs.environment.variables).not.toHaveProperty("RUN_METRICS");
  });

  it("leaves out the missed-run alarm when the interval is longer than CloudWatch can watch", async () => {
    expect(restoreDrill.missedRunWatched).toBe(false);
    expect((await waitFor(restoreDrill.alarmNames)).sort()).toEqual([
      "prod-db-crm-restore-drill-dead-letters-P2",
      "prod-db-crm-restore-drill-duration-P3",
      "prod-db-crm-restore-drill-errors-P2",
    ]);
  });

  it("exposes its names and ARNs as outputs", async () => {
    expect(await waitFor(vacuum.functionArn!)).toBe(ARN("lambda", "function:prod-db-crm-vacuum"));
    expect(await waitFor(vacuum.functionName!)).toBe("prod-db-crm-vacuum");
    expect(await waitFor(vacuum.scheduleName)).toBe("prod-db-crm-vacuum");
    expect(await waitFor(vacuum.roleArn)).toBe(`arn:aws:iam::${MOCK_ACCOUNT}:role/prod-db-crm-vacuum-role`);
    expect(await waitFor(vacuum.logGroupName)).toBe("/aws/lambda/prod-db-crm-vacuum");
    expect(await waitFor(vacuum.dlqArn)).toBe(ARN("sqs", "prod-db-crm-vacuum-dlq"));
    expect(vacuum.taskDefinitionArn).toBeUndefined();
  });
});

describe("ScheduledTask on Fargate", () => {
  it("creates a task definition with task and execution roles instead of a function", () => {
    expect(countByType("prod-db-big-backup")).toEqual({
      "regime:task:ScheduledTask": 1,
      "aws:sqs/queue:Queue": 1,
      "aws:cloudwatch/logGroup:LogGroup": 1,
      // Its watch start: the role's creation, or the `pulumi up` that last resumed it (components/watch-start.ts).
      "pulumi-nodejs:dynamic/regime:WatchStart": 1,
      "aws:iam/role:Role": 3,
      "aws:iam/rolePolicy:RolePolicy": 3,
      "aws:ecs/taskDefinition:TaskDefinition": 1,
      "aws:scheduler/schedule:Schedule": 1,
      "aws:cloudwatch/metricAlarm:MetricAlarm": 4,
    });
    const td = one("prod-db-big-backup", "aws:ecs/taskDefinition:TaskDefinition").inputs;
    expect({ ...td, containerDefinitions: undefined }).toEqual({
      family: "prod-db-big-backup",
      requiresCompatibilities: ["FARGATE"],
      networkMode: "awsvpc",
      cpu: "1024",
      memory: "4096",
      runtimePlatform: { cpuArchitecture: "ARM64", operatingSystemFamily: "LINUX" },
      executionRoleArn: `arn:aws:iam::${MOCK_ACCOUNT}:role/prod-db-big-backup-exec`,
      taskRoleArn: `arn:aws:iam::${MOCK_ACCOUNT}:role/prod-db-big-backup-role`,
      tags: { Task: "backup" },
      containerDefinitions: undefined,
    });
    expect(JSON.parse(td.containerDefinitions)).toEqual([
      {
        name: "backup",
        image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/prod-task@sha256:abc",
        essential: true,
        command: ["node", "cli.js", "backup"],
        environment: [
          { name: "BACKUP_BUCKET", value: "prod-backups-prod-backups" },
          { name: "METRICS_NAMESPACE", value: "MaintenanceRegime" },
          { name: "REGIME_NAME", value: "prod" },
          // ECS publishes no per-run metric: the task publishes the three its alarms read.
          { name: "RUN_METRICS", value: "TaskSucceeded,TaskFailed,TaskDuration" },
          { name: "TASK", value: "backup" },
        ],
        logConfiguration: {
          logDriver: "awslogs",
          options: { "awslogs-group": "/ecs/prod-db-big-backup", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "backup" },
        },
      },
    ]);
  });

  it("starts the task in private subnets through the scheduler with RunTask on this definition and PassRole to ECS only", () => {
    const s = one("prod-db-big-backup", "aws:scheduler/schedule:Schedule").inputs;
    expect(s.scheduleExpressionTimezone).toBe("Europe/Berlin");
    expect(s.target).toEqual({
      arn: ARN("ecs", "cluster/prod"),
      roleArn: `arn:aws:iam::${MOCK_ACCOUNT}:role/prod-db-big-backup-scheduler`,
      ecsParameters: {
        taskDefinitionArn: ARN("ecs", "task-definition/prod-db-big-backup:1"),
        launchType: "FARGATE",
        taskCount: 1,
        platformVersion: "LATEST",
        networkConfiguration: { subnets: ["subnet-a"], securityGroups: ["sg-backup"], assignPublicIp: false },
      },
      // RunTask's overrides: the backup container gets its scheduled time (and the run's id and attempt) as variables.
      input: JSON.stringify({
        containerOverrides: [
          {
            name: "backup",
            environment: [
              { name: "SCHEDULED_TIME", value: "<aws.scheduler.scheduled-time>" },
              { name: "SCHEDULER_EXECUTION_ID", value: "<aws.scheduler.execution-id>" },
              { name: "SCHEDULER_ATTEMPT", value: "<aws.scheduler.attempt-number>" },
            ],
          },
        ],
      }),
      retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
      deadLetterConfig: { arn: ARN("sqs", "prod-db-big-backup-dlq") },
    });
    expect(statementsOf(rolePolicy("prod-db-big-backup-scheduler"))).toEqual([
      {
        Effect: "Allow",
        Action: ["ecs:RunTask"],
        Resource: [ARN("ecs", "task-definition/prod-db-big-backup:1")],
        Condition: { ArnEquals: { "ecs:cluster": ARN("ecs", "cluster/prod") } },
      },
      {
        Effect: "Allow",
        Action: ["iam:PassRole"],
        Resource: [`arn:aws:iam::${MOCK_ACCOUNT}:role/prod-db-big-backup-role`, `arn:aws:iam::${MOCK_ACCOUNT}:role/prod-db-big-backup-exec`],
        Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
      },
      { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [ARN("sqs", "prod-db-big-backup-dlq")] },
    ]);
  });

  it("pulls only its own repository and writes only its own log group", () => {
    expect(statementsOf(rolePolicy("prod-db-big-backup-exec"))).toEqual([
      { Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: ["*"] },
      { Effect: "Allow", Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], Resource: ["arn:aws:ecr:us-east-1:123456789012:repository/prod-task"] },
      { Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [ARN("logs", "log-group:/ecs/prod-db-big-backup:*")] },
    ]);
  });

  it("alarms on the task's own failure and duration metrics", () => {
    const byMetric = Object.fromEntries(alarmsOf("prod-db-big-backup").map((a) => [a.inputs.metricName ?? gateOf(a.inputs).metrics[0].metricName, a.inputs]));
    expect(Object.keys(byMetric).sort()).toEqual(["ApproximateNumberOfMessagesVisible", "TaskDuration", "TaskFailed", "TaskSucceeded"]);
    expect(byMetric.TaskFailed).toMatchObject({ name: "prod-db-big-backup-errors-P0", namespace: "MaintenanceRegime", dimensions: { service: "prod", Task: "backup" }, statistic: "Sum", threshold: 1 });
    expect(byMetric.TaskDuration).toMatchObject({ name: "prod-db-big-backup-duration-P1", statistic: "Maximum", threshold: 3 * 3600 * 1000 * 0.8 });
    // A day, an hour of retries, Berlin's clock change, the 3 h run and 5 min until the success is seen: 29 h 5 min in 5 periods.
    expect(byMetric.TaskSucceeded).toMatchObject({ name: "prod-db-big-backup-missed-run-P0", evaluationPeriods: 5, datapointsToAlarm: 5 });
    expect(gateOf(byMetric.TaskSucceeded)).toEqual({
      metrics: [{ id: "successes", namespace: "MaintenanceRegime", metricName: "TaskSucceeded", dimensions: { service: "prod", Task: "backup" }, stat: "Sum", period: 20940 }],
      expression: `IF(EPOCH(successes) < ${Date.parse(MOCK_CREATION_DATE) / 1000}, 1, FILL(successes, 0))`,
    });
  });
});

describe("every task", () => {
  it("has alarms with enabled actions to the severity's topic, both ways, and explicit missing-data treatment", () => {
    const all = TASK_NAMES.flatMap(alarmsOf);
    expect(all).toHaveLength(15);
    for (const a of all) {
      const sev = a.inputs.name.slice(-2) as keyof typeof TOPICS;
      expect(a.inputs.actionsEnabled, a.name).toBe(true);
      expect(a.inputs.alarmActions, a.name).toEqual([TOPICS[sev]]);
      expect(a.inputs.okActions, a.name).toEqual([TOPICS[sev]]);
      expect(["breaching", "notBreaching", "ignore", "missing"], a.name).toContain(a.inputs.treatMissingData);
      expect(a.inputs.alarmDescription, a.name).toMatch(/^\[P[0-3]\] .{40,}/);
    }
  });

  it("holds least-privilege roles: named actions on named resources, never deleting or loosening backups", () => {
    const policies = TASK_NAMES.flatMap((n) => ofType(n, "aws:iam/rolePolicy:RolePolicy"));
    expect(policies).toHaveLength(2 + 2 + 3 + 2);
    for (const p of policies) expectLeastPrivilege(p.inputs.policy, p.name);
    const taskActions = TASK_NAMES.flatMap((n) => {
      const p = resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === `${n}-role`);
      return p ? allowedActions(p.inputs.policy) : [];
    });
    expect(taskActions.filter((a) => /^s3:(Delete|PutBucketPolicy|PutLifecycleConfiguration)/.test(a))).toEqual([]);
    expect(allowedActions(rolePolicy("prod-db-crm-restore-drill-role"))).toEqual([
      "s3:GetObject",
      "s3:ListBucket",
      "kms:Decrypt",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "sqs:SendMessage",
    ]);
  });
});

describe("ScheduledTask arguments", () => {
  const bad = (overrides: Partial<import("../components/scheduled-task").ScheduledTaskArgs>) => () =>
    new taskMod.ScheduledTask("prod-bad-task", taskArgs(overrides));

  it("refuses what Lambda, CloudWatch Logs or Scheduler would refuse, naming the argument", () => {
    expect(bad({ timeoutSeconds: 901 })).toThrow("timeoutSeconds: 901 exceeds Lambda's maximum of 900; run the task on Fargate instead");
    expect(bad({ memoryMb: 64 })).toThrow("memoryMb: must be a whole number from 128 to 10240, got 64");
    expect(bad({ memoryMb: 10241 })).toThrow("memoryMb: must be a whole number from 128 to 10240, got 10241");
    expect(bad({ logRetentionDays: 10 })).toThrow(/^logRetentionDays: 10 is not allowed by CloudWatch Logs; use one of 1, 3, 5, 7, 14, 30, /);
    expect(bad({ schedule: scheduleAt("cron(0 2 * * ? *)", "EST") })).toThrow(
      'schedule.timezone: "EST" is not an IANA timezone such as America/New_York (EST/PST ignore daylight saving)',
    );
    expect(bad({ schedule: scheduleAt("cron(0 2 * * ? *)", "Mars/Olympus_Mons") })).toThrow(/^schedule\.timezone: "Mars\/Olympus_Mons"/);
    expect(bad({ schedule: scheduleAt("0 2 * * *", "UTC") })).toThrow('schedule.expression: "0 2 * * *" must be cron(<6 fields>) or rate(<n> <unit>)');
    expect(bad({ schedule: scheduleAt("cron(0 3 * * ? *)", "UTC", 0) })).toThrow("schedule.intervalSeconds: must be at least 60, got 0");
    expect(
      bad({ code: { kind: "fargate", imageUri: "img", cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/prod", cpu: 1024, memory: 1024 }, vpc: { subnetIds: ["s"], securityGroupIds: ["g"] } }),
    ).toThrow("code.memory: 1024 MiB does not fit 1024 CPU units (2048..8192 in steps of 1024)");
    expect(bad({ code: { kind: "fargate", imageUri: "img", cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/prod", cpu: 1024, memory: 4096 } })).toThrow(
      "vpc: a Fargate task needs subnets and security groups (vpc or code.subnets)",
    );
  });

  it("refuses secrets and reserved names in the environment, but allows secret references", () => {
    expect(bad({ environment: { DB_PASSWORD: "hunter2" } })).toThrow("environment.DB_PASSWORD: looks like a secret; pass a Secrets Manager ARN (e.g. DB_PASSWORD_ARN) and read it at run time");
    expect(bad({ environment: { SLACK_TOKEN: "xoxb" } })).toThrow(/^environment\.SLACK_TOKEN: looks like a secret/);
    expect(bad({ environment: { SECRET_VALUE: "x" } })).toThrow(/^environment\.SECRET_VALUE: looks like a secret/);
    expect(bad({ environment: { AWS_REGION: "us-east-1" } })).toThrow("environment.AWS_REGION: reserved by Lambda");
    expect(bad({ environment: { REGIME_NAME: "other" } })).toThrow('environment.REGIME_NAME: "other" differs from "prod" (the alarms watch metrics under REGIME_NAME=prod)');
    expect(() => new taskMod.ScheduledTask("prod-ok-secret-ref", taskArgs({ environment: { DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:x" } }))).not.toThrow();
  });

  it("refuses wildcard, destructive or resource-less statements", () => {
    expect(bad({ policyStatements: [{ Effect: "Allow", Action: ["s3:*"], Resource: [`${BUCKET_ARN}/daily/*`] }] })).toThrow(
      'policyStatements[0].Action: "s3:*" is a wildcard; name the actions the task needs',
    );
    expect(bad({ policyStatements: [{ Effect: "Allow", Action: ["s3:GetObject"], Resource: ["*"] }] })).toThrow('policyStatements[0].Resource: "*" is refused; name the resources');
    expect(bad({ policyStatements: [{ Effect: "Allow", Action: ["s3:DeleteObjectVersion"], Resource: [`${BUCKET_ARN}/daily/*`] }] })).toThrow(
      'policyStatements[0].Action: "s3:DeleteObjectVersion" is never granted to a task',
    );
    expect(bad({ policyStatements: [{ Effect: "Allow", Action: ["s3:PutLifecycleConfiguration"], Resource: [BUCKET_ARN] }] })).toThrow(
      'policyStatements[0].Action: "s3:PutLifecycleConfiguration" is never granted to a task',
    );
    expect(under("prod-bad-task")).toEqual([]);
  });
});

describe("missedRunWindow", () => {
  it("splits the expected interval into whole-minute periods of at most a day, within CloudWatch's 7-day cap", () => {
    expect(taskMod.missedRunWindow(300)).toEqual({ period: 300, evaluationPeriods: 1 });
    expect(taskMod.missedRunWindow(90)).toEqual({ period: 120, evaluationPeriods: 1 });
    expect(taskMod.missedRunWindow(3600, 2)).toEqual({ period: 7200, evaluationPeriods: 1 });
    expect(taskMod.missedRunWindow(86400)).toEqual({ period: 86400, evaluationPeriods: 1 });
    expect(taskMod.missedRunWindow(36 * 3600)).toEqual({ period: 64800, evaluationPeriods: 2 });
    expect(taskMod.missedRunWindow(7 * 86400)).toEqual({ period: 86400, evaluationPeriods: 7 });
    expect(taskMod.missedRunWindow(86400, 8)).toBeUndefined();
    expect(taskMod.missedRunWindow(31 * 86400)).toBeUndefined();
  });
});

describe("missed-run window of a scheduled job", () => {
  const DELAY = promisesMod.METRIC_VISIBLE_DELAY_SECONDS;
  /**
   * CloudWatch's judgement of `noSuccessWithin(window)` at each minute, as its default sliding window
   * makes it: the alarm fires at minute t when no success stamped in (t - window, t] has arrived by t
   * (missing data breaching). `successes`: [stamp, visible at] in seconds since 0. Returns the first
   * minute at which it fires, or undefined.
   */
  const firstPage = (successes: [number, number][], w: { period: number; evaluationPeriods: number }, until: number) => {
    const window = w.period * w.evaluationPeriods;
    for (let t = 60; t <= until; t += 60) {
      if (t - window < 0) continue;
      if (!successes.some(([stamp, seen]) => stamp > t - window && stamp <= t && seen <= t)) return t;
    }
    return undefined;
  };
  /** A Lambda job's successes: stamped at the invocation, seen when the run ends plus the delivery delay. */
  const lambdaRuns = (starts: number[], runSeconds: (i: number) => number): [number, number][] => starts.map((s, i) => [s, s + runSeconds(i) + DELAY]);
  const job = (intervalSeconds: number, expression: string, timezone = "UTC", longestRunSeconds = 0, tolerated?: number) => ({ schedule: { expression, timezone, intervalSeconds }, longestRunSeconds, tolerated });

  it("an every-minute job: a slow run and a late metric are silent; a stopped job pages within the documented time", () => {
    const j = job(60, "rate(1 minute)", "UTC", 60);
    const w = taskMod.jobMissedRunWindow(j)!;
    // 60 s interval + 60 s delivery margin + 60 s run + 300 s until the success is seen.
    expect(w).toEqual({ period: 60, evaluationPeriods: 8 });
    expect(taskMod.missedRunTimeToPageSeconds(w)).toBe(540);
    const starts = Array.from({ length: 60 }, (_, i) => i * 60 + 1);
    expect(firstPage(lambdaRuns(starts, () => 2), w, 3540)).toBeUndefined();
    // The run at minute 10 takes its whole minute and its metric arrives 5 minutes later: silent.
    expect(firstPage(lambdaRuns(starts, (i) => (i === 10 ? 60 : 2)), w, 3540)).toBeUndefined();
    // The old window (two 1-minute periods) read as a sliding window pages on that run.
    expect(firstPage(lambdaRuns(starts, (i) => (i === 10 ? 60 : 2)), { period: 60, evaluationPeriods: 2 }, 3540)).toBeDefined();
    // The schedule stops after the run at 20:01: paged within the worst case after that success.
    const paged = firstPage(lambdaRuns(starts.filter((s) => s <= 1201), () => 2), w, 3540)!;
    expect(paged - 1201).toBeLessThanOrEqual(taskMod.missedRunTimeToPageSeconds(w));
    expect(paged - 1201).toBeGreaterThan(w.period * w.evaluationPeriods - 60);
  });

  it("a 15-minute job: a run 5 min late that takes its whole timeout is silent; a stopped job pages within 31 min of its last success", () => {
    const j = job(900, "rate(15 minutes)", "UTC", 300);
    const w = taskMod.jobMissedRunWindow(j)!;
    expect(taskMod.missedRunWindowSeconds(j)).toBe(900 + 300 + 300 + DELAY);
    expect(w).toEqual({ period: 300, evaluationPeriods: 6 });
    expect(taskMod.missedRunTimeToPageSeconds(w)).toBe(1860);
    const starts = Array.from({ length: 16 }, (_, i) => i * 900 + 20);
    expect(firstPage(lambdaRuns(starts, () => 3), w, 14400)).toBeUndefined();
    for (const i of [3, 4, 5, 6]) {
      const late = starts.map((s, k) => (k === i ? s + 300 : s));
      expect(firstPage(lambdaRuns(late, (k) => (k === i ? 300 : 3)), w, 14400), `run ${i} late and slow`).toBeUndefined();
      const stopped = starts.slice(0, i);
      const paged = firstPage(lambdaRuns(stopped, () => 3), w, 14400)!;
      expect(paged, `stopped after run ${i - 1}`).toBeDefined();
      expect(paged - stopped[i - 1]).toBeLessThanOrEqual(taskMod.missedRunTimeToPageSeconds(w));
    }
  });

  it("sizes the window from the interval, the delivery margin, the zone's clock change (cron only), the longest run and the metric delay", () => {
    expect(taskMod.missedRunWindowSeconds(job(300, "rate(5 minutes)"))).toBe(300 + 300 + DELAY);
    expect(taskMod.missedRunWindowSeconds(job(3600, "rate(1 hour)"))).toBe(3600 + 3600 + DELAY);
    expect(taskMod.missedRunWindowSeconds(job(3600, "rate(1 hour)", "UTC", 0, 3))).toBe(3 * 3600 + 3600 + DELAY);
    expect(taskMod.missedRunWindowSeconds(job(86400, "cron(0 2 * * ? *)", "UTC", 900))).toBe(86400 + 3600 + 900 + DELAY);
    // A daily 02:00 in New York runs 25 h apart on the fall-back day; in Antarctica/Troll (+00 to +02) 26 h.
    expect(taskMod.missedRunWindowSeconds(job(86400, "cron(0 2 * * ? *)", "America/New_York", 900))).toBe(86400 + 3600 + 3600 + 900 + DELAY);
    expect(taskMod.missedRunWindowSeconds(job(86400, "cron(0 2 * * ? *)", "Antarctica/Troll", 900))).toBe(86400 + 3600 + 7200 + 900 + DELAY);
    expect(taskMod.missedRunWindowSeconds(job(86400, "cron(0 2 * * ? *)", "Australia/Lord_Howe", 0))).toBe(86400 + 3600 + 1800 + DELAY);
    // A rate schedule knows no wall clock: no clock change is added.
    expect(taskMod.missedRunWindowSeconds(job(86400, "rate(1 day)", "America/New_York", 0))).toBe(86400 + 3600 + DELAY);
    // Weekly: no metric alarm can look back 7 days plus the margins; the overdue watcher watches it.
    expect(taskMod.missedRunWindowSeconds(job(7 * 86400, "cron(0 3 ? * WED *)", "UTC", 0))).toBeUndefined();
    expect(taskMod.jobMissedRunWindow(job(7 * 86400, "cron(0 3 ? * WED *)", "America/New_York", 900))).toBeUndefined();
    const sixDays = taskMod.jobMissedRunWindow(job(6 * 86400, "rate(6 days)", "UTC", 900))!;
    expect(sixDays.period * sixDays.evaluationPeriods).toBe(6 * 86400 + 3600 + 900 + DELAY);
    for (const [interval, expression] of [[60, "rate(1 minute)"], [300, "rate(5 minutes)"], [900, "rate(15 minutes)"], [3600, "rate(1 hour)"], [21600, "rate(6 hours)"], [86400, "rate(1 day)"], [2 * 86400, "rate(2 days)"], [5 * 86400, "rate(5 days)"]] as const) {
      const run = Math.min(900, interval);
      const w = taskMod.jobMissedRunWindow(job(interval, expression, "UTC", run))!;
      expect(w.period % 60).toBe(0);
      expect(promisesMod.alarmWindowProblem(w)).toBeUndefined();
      // One run delivered its margin late and taking its whole timeout, the one before it instant: silent.
      const span = Math.min(29 * 86400, 40 * interval);
      const starts = Array.from({ length: Math.ceil(span / interval) + 1 }, (_, i) => i * interval + 30);
      const late = starts.map((s, i) => (i === 5 ? s + taskMod.missedRunMarginSeconds(interval) : s));
      expect(firstPage(lambdaRuns(late, (i) => (i === 5 ? run : 0)), w, span), `interval ${interval}`).toBeUndefined();
    }
  });
});

describe("physical names", () => {
  it("keeps names within AWS limits with a stable hash suffix when the component name is long", async () => {
    const long = "regime-with-a-long-name1-db-database-with-long-name-restore-drill";
    expect(long.length).toBeGreaterThan(64);
    const t = new taskMod.ScheduledTask(long, taskArgs({ regime: "regime-with-a-long-name1", taskName: "restore-drill" }));
    await waitFor(t.alarmNames);
    await settle();
    const fnName = one(long, "aws:lambda/function:Function").inputs.name as string;
    const roleNames = ofType(long, "aws:iam/role:Role").map((r) => r.inputs.name as string);
    expect(fnName).toHaveLength(64);
    expect(fnName).toMatch(/^regime-with-a-long-name1-db-database-with-long-name-res-[0-9a-f]{8}$/);
    for (const n of roleNames) expect(n.length).toBeLessThanOrEqual(64);
    expect(new Set(roleNames).size).toBe(2);
    expect(one(long, "aws:cloudwatch/logGroup:LogGroup").inputs.name).toBe(`/aws/lambda/${fnName}`);
    expect(one(long, "aws:scheduler/schedule:Schedule").inputs.name).toBe(fnName);
    // The alarm names keep the full, readable task name.
    expect((await waitFor(t.alarmNames)).sort()[0]).toBe("regime-with-a-long-name1-db-database-with-long-name-restore-drill-dead-letters-P2");
  });
});
