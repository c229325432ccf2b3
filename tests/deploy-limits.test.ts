/**
 * The size and count limits AWS applies at deploy to the documents and collections the program
 * provisions (regime/limits.ts DEPLOY_LIMITS): for each, a document or collection just under its limit
 * passes the plan's audit and one just over is refused in one line naming the config key; the counts the
 * regime model can see from config alone (lifecycle rules, schedule groups) are promises that `pulumi up`
 * refuses too, the quota acceptably; the backup vault's policy no longer grows with the databases.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { ALERTING } from "./helpers/alerting";
import { checkPromises } from "../components/promises";
import { databaseTierRules, writeOnceRoots } from "../components/backup-vault";
import { tlsOnlyStatement, writeOnceStatement } from "../components/bucket-hardening";
import type { RecordedResource } from "../plan/mocks";
import { auditLimits } from "../plan/promises";
import { runPlan } from "../plan/run";
import { watcherDescription } from "../components/overdue-watch";
import { validateRegime } from "../regime/load";
import { DEPLOY_LIMITS } from "../regime/limits";

const FROM = new Date("2026-11-23T00:00:00Z");

const rec = (type: string, name: string, inputs: Record<string, unknown>): RecordedResource => ({ type, name, custom: true, parent: "", inputs: { tags: {}, ...inputs } });
const doc = (n: number) => "a".repeat(n);
const many = (n: number, f: (i: number) => RecordedResource) => Array.from({ length: n }, (_, i) => f(i));

/** Per limit: the resources of a document or collection of `n` (bytes, characters or items). */
const cases: [keyof typeof DEPLOY_LIMITS, (n: number) => RecordedResource[], string][] = [
  ["bucketPolicy", (n) => [rec("aws:s3/bucketPolicy:BucketPolicy", "t-backups-tls-only", { policy: doc(n) })], "databases: the backup vault's bucket policy is 20481 bytes > 20480 (S3 user guide, bucket policies): AWS refuses it at deploy; split the databases over two regimes"],
  [
    "lifecycleRules",
    (n) => [rec("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "t-archive-lifecycle", { rules: many(n, () => rec("", "", {})) })],
    "logs.hostGroups: the log archive's lifecycle configuration is 1001 rules > 1000 (S3 API reference, LifecycleConfiguration): AWS refuses it at deploy; archive fewer log sets in one regime (the backup vault has 4 rules a database, 4 for databases no longer configured and 1 for the whole bucket)",
  ],
  ["keyPolicy", (n) => [rec("aws:kms/key:Key", "t-alerts-topics", { policy: doc(n) })], "resource t-alerts-topics: key t-alerts-topics's policy is 32769 bytes > 32768 (KMS API reference, PutKeyPolicy): AWS refuses it at deploy; grant fewer principals"],
  ["topicPolicy", (n) => [rec("aws:sns/topicPolicy:TopicPolicy", "t-alerts-P0", { policy: doc(n) })], "resource t-alerts-P0: topic policy t-alerts-P0 is 30721 bytes > 30720 (SNS developer guide, policy quotas): AWS refuses it at deploy; grant fewer principals"],
  ["queuePolicy", (n) => [rec("aws:sqs/queuePolicy:QueuePolicy", "t-q", { policy: doc(n) })], "resource t-q: queue policy t-q is 8193 bytes > 8192 (SQS developer guide, policy quotas): AWS refuses it at deploy; grant fewer principals"],
  [
    "roleInlinePolicies",
    // Two inline policies of one role, with white space IAM does not count.
    (n) => [
      rec("aws:iam/role:Role", "t-db-app-backup-role", { name: "t-db-app-backup-role", assumeRolePolicy: "{}", tags: { Database: "app" } }),
      rec("aws:iam/rolePolicy:RolePolicy", "t-p1", { role: "t-db-app-backup-role-id", policy: `${doc(5000)} \n\t ` }),
      rec("aws:iam/rolePolicy:RolePolicy", "t-p2", { role: "t-db-app-backup-role-id", policy: `  ${doc(n - 5000)}` }),
    ],
    "databases[app]: role t-db-app-backup-role's inline policies together is 10241 characters > 10240 (IAM user guide, IAM and AWS STS quotas, white space not counted): AWS refuses it at deploy; grant on fewer resources",
  ],
  ["managedPolicy", (n) => [rec("aws:iam/policy:Policy", "t-w", { name: "t-w", policy: doc(n) })], "resource t-w: managed policy t-w is 6145 characters > 6144 (IAM user guide, IAM and AWS STS quotas, white space not counted): AWS refuses it at deploy; grant on fewer resources"],
  [
    "trustPolicy",
    (n) => [rec("aws:iam/role:Role", "t-r", { name: "t-r", assumeRolePolicy: doc(n) })],
    "resource t-r: role t-r's trust policy is 2049 characters > 2048 (IAM user guide, IAM and AWS STS quotas, white space not counted): AWS refuses it at deploy unless the account's quota is raised (Service Quotas), and acceptedRisks names resource t-r once it is; trust fewer principals",
  ],
  [
    "scheduleGroups",
    (n) => many(n, (i) => rec("aws:scheduler/scheduleGroup:ScheduleGroup", `t-reminders-r${i}`, { name: `t-reminders-r${i}` })),
    "reminders: the count of schedule groups (one per reminder) is 501 schedule groups > 500 (EventBridge Scheduler user guide, schedule groups): AWS refuses it at deploy unless the account's quota is raised (Service Quotas), and acceptedRisks names reminders once it is; declare fewer reminders, or raise the quota",
  ],
  ["alarmMetrics", (n) => [rec("aws:cloudwatch/metricAlarm:MetricAlarm", "t-a", { name: "t-a", metricQueries: many(n, () => rec("", "", {})) })], "resource t-a: alarm t-a's Metrics is 21 queries > 20 (CloudWatch API reference, MetricDataQuery): AWS refuses it at deploy; combine fewer metrics in one alarm"],
  ["compositeRule", (n) => [rec("aws:cloudwatch/compositeAlarm:CompositeAlarm", "t-c", { alarmName: "t-c", alarmRule: doc(n) })], "resource t-c: composite alarm t-c's rule is 10241 characters > 10240 (CloudWatch API reference, PutCompositeAlarm): AWS refuses it at deploy; combine fewer alarms in one composite alarm"],
  [
    "metricFilters",
    (n) => many(n, (i) => rec("aws:cloudwatch/logMetricFilter:LogMetricFilter", `t-f${i}`, { logGroupName: "/t/app" })),
    "resource t-f0: log group /t/app's metric filters is 101 filters > 100 (CloudWatch Logs API reference, PutMetricFilter): AWS refuses it at deploy; derive fewer metrics from one log group",
  ],
  [
    "subscriptionFilters",
    (n) => many(n, (i) => rec("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter", `t-s${i}`, { logGroupName: "/t/app" })),
    "resource t-s0: log group /t/app's subscription filters is 3 filters > 2 (CloudWatch Logs API reference, PutSubscriptionFilter): AWS refuses it at deploy; subscribe fewer destinations to one log group",
  ],
  [
    "dashboardWidgets",
    (n) => [rec("aws:cloudwatch/dashboard:Dashboard", "t-regime", { dashboardName: "t-regime", dashboardBody: JSON.stringify({ widgets: Array.from({ length: n }, () => ({ type: "text" })) }) })],
    "resource t-regime: dashboard t-regime's widgets is 501 widgets > 500 (CloudWatch API reference, Dashboard Body Structure): AWS refuses it at deploy; split the databases, endpoints or hosts over two regimes, or set dashboard: false",
  ],
  ["ssmDocument", (n) => [rec("aws:ssm/document:Document", "t-d", { name: "t-d", content: doc(n) })], "resource t-d: SSM document t-d is 65537 bytes > 65536 (Systems Manager API reference, CreateDocument): AWS refuses it at deploy; deliver fewer or shorter files in one host group"],
];

describe("the plan's audit of every document and collection against its AWS limit", () => {
  for (const [id, make, line] of cases) {
    const limit = DEPLOY_LIMITS[id].value;
    it(`${id}: ${limit} ${DEPLOY_LIMITS[id].unit} pass; ${limit + 1} are refused on the key`, () => {
      expect(auditLimits(make(limit))).toEqual([]);
      expect(auditLimits(make(limit + 1))).toEqual([line]);
    });
  }

  it("a quota (schedule groups, a trust policy) is not refused again once acceptedRisks names its key; a hard limit is", () => {
    expect(auditLimits(cases.find((c) => c[0] === "scheduleGroups")![1](501), new Set(["reminders"]))).toEqual([]);
    expect(auditLimits(cases.find((c) => c[0] === "lifecycleRules")![1](1001), new Set(["logs.hostGroups"]))).toHaveLength(1);
  });

  it("a bucket policy is measured with the bucket's real name at its longest, not the plan's stand-in: 63 characters unless its prefix is known", () => {
    // One ARN of a 13-character bucket name counts 50 characters more at 63: 20,430 bytes as recorded fit, 20,431 do not.
    const arn = "arn:aws:s3:::t-backups-abc";
    const policy = (arns: number) => JSON.stringify({ R: Array(arns).fill(arn), p: "" }).length;
    const fill = (arns: number, total: number) => JSON.stringify({ R: Array(arns).fill(arn), p: doc(total - policy(arns)) });
    const of = (p: string) => auditLimits([rec("aws:s3/bucketPolicy:BucketPolicy", "t-backups-tls-only", { policy: p })]);
    expect(of(fill(1, 20480 - 50))).toEqual([]);
    expect(of(fill(1, 20480 - 49))).toEqual(["databases: the backup vault's bucket policy is 20481 bytes > 20480 (S3 user guide, bucket policies): AWS refuses it at deploy; split the databases over two regimes"]);
    // Created from bucketPrefix "t-backups-" (10 characters): S3's name is the prefix and a 26-character suffix, 36 characters.
    const bucket = rec("aws:s3/bucket:Bucket", "t-backups-abc", { bucketPrefix: "t-backups-" });
    const withBucket = (p: string) => auditLimits([bucket, rec("aws:s3/bucketPolicy:BucketPolicy", "t-backups-tls-only", { policy: p })]);
    expect(withBucket(fill(1, 20480 - 23))).toEqual([]);
    expect(withBucket(fill(1, 20480 - 22))).toHaveLength(1);
  });
});

describe("a plan of a regime just over a limit is refused on its key; one just under plans", () => {
  it("89 host groups with an archived log set each: the log archive's writer policy (one ARN a set) fits IAM's 6,144 characters; 90 do not", async () => {
    const plan = (n: number) => {
      const hostGroups = Array.from({ length: n }, (_, g) => ({
        name: `g${String(g).padStart(3, "0")}`,
        target: { tagKey: "Role", tagValue: `g${g}` },
        schedule: "cron(0 3 ? * * *)",
        logSets: [{ name: "app", paths: [`/srv/g${g}/*.log`], frequency: "daily", keep: 30, maxAgeDays: 30, copytruncate: true, archive: { expireDays: 90 } }],
      }));
      const file = join(mkdtempSync(join(tmpdir(), "limits-")), "Pulumi.t.yaml");
      writeFileSync(file, YAML.stringify({ config: { "maintenance-regime:name": "t", "maintenance-regime:timezone": "UTC", "maintenance-regime:alerting": ALERTING, "maintenance-regime:logs": { hostGroups } } }));
      return runPlan({ configFile: file, from: FROM });
    };
    await expect(plan(89)).resolves.toBeDefined();
    await expect(plan(90)).rejects.toThrow(
      // The program refuses it before registering anything (the model measures the policy from config), with the audit's figure.
      "promise check: logs.hostGroups: the log archive's writer policy (one ARN an archived log set) is 6146 characters > 6144 (IAM user guide, IAM and AWS STS quotas, white space not counted): AWS refuses it at deploy; archive fewer log sets in one regime (one ARN each)",
    );
  }, 120_000);
});

describe("the backup vault's bucket policy does not grow with the databases", () => {
  const ARN = `arn:aws:s3:::${"b".repeat(63)}`;
  const dbs = (n: number) =>
    validateRegime({
      name: "t",
      databases: Array.from({ length: n }, (_, i) => ({
        id: `database-number-${i}`,
        secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
        network: { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] },
        backup: { schedule: "daily at 02:00" },
      })),
    });
  const policyBytes = (n: number, roots: boolean) => {
    const r = dbs(n);
    const rules = r.databases.flatMap((db) => databaseTierRules(db, r.backupVault));
    return Buffer.byteLength(JSON.stringify({ Version: "2012-10-17", Statement: [tlsOnlyStatement(ARN), writeOnceStatement(ARN, roots ? writeOnceRoots(rules) : rules)] }));
  };

  it("one statement over the tier roots: the same size for 1 and 400 databases, where one ARN per prefix passed 20 KB before 100 databases", () => {
    expect(policyBytes(400, true)).toBe(policyBytes(1, true));
    expect(policyBytes(400, true)).toBeLessThan(1024);
    expect(policyBytes(100, false)).toBeGreaterThan(DEPLOY_LIMITS.bucketPolicy.value);
  });
});

describe("counts the regime model sees from config alone are promises, refused by `pulumi up` too", () => {
  const database = (i: number) => ({
    id: `db${i}`,
    secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
    network: { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] },
    backup: { schedule: { at: "daily at 02:00", timezone: "UTC" } },
  });
  const databases = (n: number) => checkPromises(validateRegime({ name: "t", timezone: "UTC", alerting: ALERTING, databases: Array.from({ length: n }, (_, i) => database(i)) }), FROM);

  it("248 databases: 997 lifecycle rules of 1000 held (3 tiers and the drill records each, 4 catch-alls, 1 whole-bucket); 249: refused on databases, naming what fits", () => {
    const held = databases(248);
    const p = held.promises.find((x) => x.key === "databases" && x.promise.includes("lifecycle rules"))!;
    expect([p.figure, p.status, held.refusals]).toEqual(["997 rules of 1000", "held", []]);
    expect(databases(249).refusals).toEqual([
      "databases: the backup vault's lifecycle rules (4 a database: 3 tiers and its drill records; 1 a root for databases no longer configured; 1 for the whole bucket) is 1001 rules > 1000 (S3 API reference, LifecycleConfiguration): AWS refuses it at deploy; split the databases over two regimes (248 databases fit one)",
    ]);
  }, 120_000);

  const reminders = (n: number, accepted = false) =>
    checkPromises(
      validateRegime({
        name: "t",
        timezone: "UTC",
        alerting: ALERTING,
        reminders: Array.from({ length: n }, (_, i) => ({ name: `r${i}`, schedule: "monthly on day 1 at 09:00", checklist: ["Review"] })),
        ...(accepted ? { acceptedRisks: [{ key: "reminders", reason: "quota raised to 1000 (case 123)" }] } : {}),
      }),
      FROM,
    );

  it("500 reminders: 500 schedule groups of 500 held; 501: refused on reminders as a quota; accepted once raised", () => {
    const p = (n: number, a = false) => reminders(n, a).promises.find((x) => x.key === "reminders")!;
    expect([p(500).figure, p(500).status]).toEqual(["500 schedule groups of 500", "held"]);
    expect(reminders(501).refusals).toEqual([
      "reminders: the reminders' schedule groups (one each) is 501 schedule groups > 500 (EventBridge Scheduler user guide, schedule groups): AWS refuses it at deploy unless the account's quota is raised (Service Quotas), and acceptedRisks names reminders once it is; declare fewer reminders, or raise the quota",
    ]);
    expect([p(501, true).status, reminders(501, true).refusals]).toEqual(["accepted", []]);
  }, 120_000);
});

describe("an alarm description within CloudWatch's 1,024 characters keeps its runbook", () => {
  it("the overdue watcher's description names the first jobs and how many more: 600 reminders' names no longer push its alarms' instructions past 1,024", () => {
    const jobs = Array.from({ length: 600 }, (_, i) => `reminder/reminder${i}`);
    const d = watcherDescription(jobs);
    expect(d).toMatch(/^watches 600 jobs no missed-run alarm sees: reminder\/reminder0, .*reminder\/reminder\d+ and \d+ more \(WATCHED_JOBS lists them all\)$/);
    expect(d.length).toBeLessThanOrEqual(256);
    expect(watcherDescription(["db/app/backup", "reminder/audit"])).toBe("watches 2 jobs no missed-run alarm sees: db/app/backup, reminder/audit");
  });
});
