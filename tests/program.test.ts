/**
 * The whole program under Pulumi's mocks, as `pulumi up` would run it: the production regime and a
 * minimal one, checked the way a reviewer reads a preview — exact counts, where every alarm pages, that
 * every schedule retries and dead-letters, that every log group expires, that buckets are hardened,
 * that roles are least-privilege, and that no secret reaches an environment variable or an output.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import YAML from "yaml";
import { ALERTING } from "./helpers/alerting";
import type { RecordedResource } from "../plan/mocks";
import { planCalendarSvg } from "../plan/calendar";
import { runPlan, type Plan } from "../plan/run";
import type { PlanRecord } from "../components/plan-record";
import { XMLValidator } from "fast-xml-parser";
import { isIanaTimezone, LOG_RETENTION_DAYS } from "../regime/limits";
import { expectLeastPrivilege, statementsOf, unexplainedWildcards } from "./helpers/iam";
import { renderSvgToPng } from "./helpers/render-svg";
import { createContext, MetricUnit } from "../tasks/lib/runtime";
import { databaseMetric } from "../tasks/lib/pgmaint";
import { gateOf } from "./helpers/metric-math";

const ROOT = join(__dirname, "..");
const FROM = new Date("2026-11-23T00:00:00Z");
const NS = "maintenance-regime";

type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function writeStack(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "regime-program-"));
  const file = join(dir, "Pulumi.test.yaml");
  writeFileSync(file, YAML.stringify({ config: { [`${NS}:alerting`]: ALERTING, ...config } }));
  return file;
}

const ofType = (rs: RecordedResource[], type: string) => rs.filter((r) => r.type === type);
const inputs = (r: RecordedResource) => r.inputs as Inputs;
const countByType = (rs: RecordedResource[]) => {
  const out: Record<string, number> = {};
  for (const r of rs.filter((x) => x.custom)) out[r.type] = (out[r.type] ?? 0) + 1;
  return out;
};

describe("the minimal regime: one database with the default backup and verification", () => {
  let resources: RecordedResource[];
  let plan: Plan;
  beforeAll(async () => {
    const file = writeStack({
      "aws:region": "us-east-1",
      [`${NS}:name`]: "mini",
      [`${NS}:dashboard`]: false,
      [`${NS}:databases`]: [{ id: "crm", secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:crm-AbCdEf" }],
    });
    ({ plan, resources } = await runPlan({ configFile: file, from: FROM }));
  }, 120_000);

  it("provisions exactly the alert topics, the vault, the task image and two scheduled tasks", () => {
    expect(countByType(resources)).toEqual({
      // alert routing: one KMS key (+alias), a topic and its policy per severity, and one email subscription a severity (tests/helpers/alerting.ts)
      "aws:kms/key:Key": 2,
      "aws:kms/alias:Alias": 2,
      "aws:sns/topic:Topic": 4,
      "aws:sns/topicPolicy:TopicPolicy": 4,
      "aws:sns/topicSubscription:TopicSubscription": 4,
      // backup vault: bucket, versioning, encryption, public-access block, ownership, TLS-only policy, lifecycle
      "aws:s3/bucket:Bucket": 1,
      "aws:s3/bucketVersioning:BucketVersioning": 1,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
      "aws:s3/bucketPolicy:BucketPolicy": 1,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
      // task image of PostgreSQL 16: repository, lifecycle, image
      "aws:ecr/repository:Repository": 1,
      "aws:ecr/lifecyclePolicy:LifecyclePolicy": 1,
      "docker:index/image:Image": 1,
      // backup and verify-backup: function, invoke config, log group, DLQ, two roles (function, scheduler) with policies, schedule
      "aws:lambda/function:Function": 2,
      "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": 2,
      "aws:cloudwatch/logGroup:LogGroup": 2,
      "aws:sqs/queue:Queue": 2,
      "aws:iam/role:Role": 4,
      "aws:iam/rolePolicy:RolePolicy": 4,
      "aws:scheduler/schedule:Schedule": 2,
      // per task: its watch start (the role's creation, or the `pulumi up` that last resumed it)
      "pulumi-nodejs:dynamic/regime:WatchStart": 2,
      // per task: errors, near-timeout, missed run, dead letters; plus the database's RPO alarm
      "aws:cloudwatch/metricAlarm:MetricAlarm": 9,
    });
    expect(plan.resourceCount).toBe(55);
  });

  it("keeps daily backups 30 days, weekly 90, monthly 365 under the database's own prefixes, its drill records as long as the longest, and as long under each root for a database no longer configured", () => {
    const lifecycle = inputs(ofType(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0]);
    const tiers = Object.fromEntries(
      (lifecycle.rules as Inputs[]).filter((r) => r.expiration?.days).map((r) => [r.filter.prefix, r.expiration.days]),
    );
    expect(tiers).toEqual({ "daily/crm/": 30, "weekly/crm/": 90, "monthly/crm/": 365, "drills/crm/": 365, "daily/": 30, "weekly/": 90, "monthly/": 365, "drills/": 365 });
    expect((lifecycle.rules as Inputs[]).some((r) => r.abortIncompleteMultipartUpload?.daysAfterInitiation >= 1)).toBe(true);
  });

  it("backs up at 02:00 UTC every day and pages P0 once the newest backup is 26 hours old", () => {
    const backup = ofType(resources, "aws:scheduler/schedule:Schedule").map(inputs).find((s) => s.name === "mini-db-crm-backup")!;
    expect([backup.scheduleExpression, backup.scheduleExpressionTimezone]).toEqual(["cron(0 2 * * ? *)", "UTC"]);
    const rpo = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").map(inputs).find((a) => a.name === "mini-db-crm-rpo-P0")!;
    expect(rpo).toMatchObject({ treatMissingData: "breaching", comparisonOperator: "LessThanThreshold", threshold: 1 });
    // Gated on the backup task's watch start (its role's creation, as the plan mocks it): a period
    // before it counts as a backup, so a new database does not page before its first backup was due.
    const gate = gateOf(rpo);
    expect(gate.metrics.map((m) => [m.metricName, m.dimensions, m.stat])).toEqual([["BackupSucceeded", { service: "mini", Task: "backup", Instance: "crm", Database: "crm" }, "Sum"]]);
    expect(gate.expression).toBe("IF(EPOCH(backups) < 1767225600, 1, FILL(backups, 0))");
    // Successes are stamped with the dump's start: a window a minute short of 26 h (whole minutes per
    // period, each at most a day) and a minute of evaluation page before the data is 26 h old.
    expect([gate.metrics[0].period, rpo.evaluationPeriods, rpo.datapointsToAlarm]).toEqual([46_740, 2, 2]);
    expect(gate.metrics[0].period * rpo.evaluationPeriods + 60).toBeLessThanOrEqual(26 * 3600);
    expect(rpo.alarmActions).toEqual(["arn:aws:sns:us-east-1:123456789012:mini-alerts-P0"]);
  });

  it("tells the backup task the database by secret ARN only, and its instance for the alarms", () => {
    const fn = ofType(resources, "aws:lambda/function:Function").map(inputs).find((f) => f.name === "mini-db-crm-backup")!;
    const env = fn.environment.variables as Record<string, string>;
    expect(JSON.parse(env.DATABASES)).toEqual([{ id: "crm", secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:crm-AbCdEf" }]);
    expect(env).toMatchObject({ TASK: "backup", REGIME_NAME: "mini", METRICS_INSTANCE: "crm", BACKUP_BUCKET: expect.any(String), TIMEZONE: "UTC" });
    expect(fn.packageType).toBe("Image");
  });
});

describe("the production regime (Pulumi.prod.yaml)", () => {
  let resources: RecordedResource[];
  let plan: Plan;
  let record: PlanRecord;
  beforeAll(async () => {
    ({ plan, resources, record } = await runPlan({ stack: "prod", from: FROM }));
  }, 120_000);

  it("every alarm pages a severity topic of the regime and says how to treat missing data", () => {
    const alarms = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").map(inputs);
    expect(alarms.length).toBeGreaterThan(50);
    for (const a of alarms) {
      // An alert topic's unreachable alarm pages the other severities' topics, not its own (tests/subscription-watch-component.test.ts).
      if (/^prod-alerts-P\d-unreachable-P\d$/.test(a.name)) continue;
      expect(a.alarmActions, a.name).toHaveLength(1);
      expect(a.alarmActions[0], a.name).toMatch(/^arn:aws:sns:us-east-1:123456789012:prod-alerts-P[0-3]$/);
      expect(a.alarmActions[0].endsWith(`-${a.tags.Severity}`), a.name).toBe(true);
      expect(["breaching", "notBreaching", "ignore", "missing"], a.name).toContain(a.treatMissingData);
      expect(a.alarmDescription, a.name).toBeTruthy();
    }
  });

  it("every schedule has an IANA timezone, a retry policy and a dead-letter queue", () => {
    const schedules = ofType(resources, "aws:scheduler/schedule:Schedule").map(inputs);
    // 11 jobs and the overdue watcher of the quarterly drill and monthly reindex.
    expect(schedules.length).toBe(12);
    for (const s of schedules) {
      expect(isIanaTimezone(s.scheduleExpressionTimezone), s.name).toBe(true);
      expect(s.target.retryPolicy.maximumRetryAttempts, s.name).toBeGreaterThanOrEqual(1);
      expect(s.target.deadLetterConfig.arn, s.name).toMatch(/^arn:aws:sqs:/);
    }
  });

  it("every log group expires its logs", () => {
    const groups = ofType(resources, "aws:cloudwatch/logGroup:LogGroup").map(inputs);
    expect(groups.map((g) => g.name)).toEqual(expect.arrayContaining(["/aws/lambda/prod-db-app-backup", "/prod/app", "/prod/nginx/access"]));
    for (const g of groups) expect(LOG_RETENTION_DAYS as readonly number[], g.name).toContain(g.retentionInDays);
  });

  it("the CloudWatch agent ships the app's and Nginx's files into the regime's log groups on the tagged instances", () => {
    const configs = (plan.outputs as Record<string, any>).cloudwatchAgentLogConfigs as Record<string, string>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(Object.keys(configs)).toEqual(["app"]);
    const entries = JSON.parse(configs.app).logs.logs_collected.files.collect_list as Inputs[];
    expect(entries.map((e) => [e.file_path, e.log_group_name])).toEqual([
      ["/app/logs/*.log", "/prod/app"],
      ["/var/log/nginx/access.log", "/prod/nginx/access"],
    ]);
    const groups = new Map(ofType(resources, "aws:cloudwatch/logGroup:LogGroup").map((r) => [inputs(r).name, inputs(r).retentionInDays]));
    for (const e of entries) expect(LOG_RETENTION_DAYS as readonly number[], e.log_group_name).toContain(groups.get(e.log_group_name));
    const [param] = ofType(resources, "aws:ssm/parameter:Parameter").map(inputs);
    expect(param).toMatchObject({ name: "AmazonCloudWatch-prod-app-logs", insecureValue: configs.app });
    const agent = ofType(resources, "aws:ssm/association:Association").map(inputs).find((a) => a.name === "AmazonCloudWatch-ManageAgent")!;
    expect(agent).toMatchObject({
      parameters: { action: "configure (append)", optionalConfigurationSource: "ssm", optionalConfigurationLocation: "AmazonCloudWatch-prod-app-logs" },
      targets: [{ key: "tag:Role", values: ["app"] }],
      scheduleExpression: "cron(0 3 ? * * *)",
    });
  });

  it("every bucket is private, encrypted with KMS, owner-enforced, TLS-only, and aborts unfinished uploads", () => {
    const buckets = ofType(resources, "aws:s3/bucket:Bucket");
    expect(buckets.length).toBe(2);
    const byBucket = (type: string) => ofType(resources, type).map(inputs);
    const bucketIds = buckets.map((b) => `${b.name}-id`);
    for (const id of bucketIds) {
      const pab = byBucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").find((x) => x.bucket === id);
      expect(pab, id).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
      const sse = byBucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").find((x) => x.bucket === id);
      expect(sse?.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, id).toBe("aws:kms");
      const own = byBucket("aws:s3/bucketOwnershipControls:BucketOwnershipControls").find((x) => x.bucket === id);
      expect(own?.rule.objectOwnership, id).toBe("BucketOwnerEnforced");
      const policy = byBucket("aws:s3/bucketPolicy:BucketPolicy").find((x) => x.bucket === id);
      const deny = statementsOf(policy?.policy).find((s) => s.Effect === "Deny");
      expect(deny?.Condition, id).toEqual({ Bool: { "aws:SecureTransport": "false" } });
      const lifecycle = byBucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").find((x) => x.bucket === id);
      expect((lifecycle?.rules as Inputs[]).some((r) => r.abortIncompleteMultipartUpload), id).toBe(true);
    }
    const versioning = byBucket("aws:s3/bucketVersioning:BucketVersioning");
    for (const id of bucketIds) expect(versioning.find((v) => v.bucket === id)?.versioningConfiguration.status, id).toBe("Enabled");
    const key = ofType(resources, "aws:kms/key:Key").map(inputs);
    for (const k of key) expect(k.enableKeyRotation, k.description).toBe(true);
  });

  it("every role policy names its actions and resources; no task may delete backups or loosen the bucket", () => {
    const policies = [...ofType(resources, "aws:iam/rolePolicy:RolePolicy"), ...ofType(resources, "aws:iam/policy:Policy")];
    expect(policies.length).toBeGreaterThan(15);
    for (const p of policies) expectLeastPrivilege(inputs(p).policy, p.name);
  });

  it("no wildcard reaches a Resource or condition value of any policy, except where AWS requires one (tests/helpers/iam.ts)", () => {
    expect(unexplainedWildcards(resources)).toEqual([]);
    // The check reads every policy document: a grant on every secret would be named.
    const widened = resources.map((r) =>
      r.name === "prod-db-app-backup-role" ? { ...r, inputs: { ...r.inputs, policy: String(inputs(r).policy).replace(/secret:[^"]+/, "secret:*") } } : r,
    );
    expect(unexplainedWildcards(widened)).toEqual(["prod-db-app-backup-role: arn:aws:secretsmanager:us-east-1:123456789012:secret:* (secretsmanager:GetSecretValue)"]);
  });

  it("queues and topics are encrypted, functions run nodejs22.x inside the database's subnets", () => {
    for (const q of ofType(resources, "aws:sqs/queue:Queue").map(inputs)) expect(q.sqsManagedSseEnabled || q.kmsMasterKeyId, q.name).toBeTruthy();
    for (const t of ofType(resources, "aws:sns/topic:Topic").map(inputs)) expect(t.kmsMasterKeyId, t.name).toBeTruthy();
    const fns = ofType(resources, "aws:lambda/function:Function").map(inputs);
    for (const f of fns.filter((x) => x.packageType === "Zip")) expect(f.runtime, f.name).toBe("nodejs22.x");
    for (const f of fns.filter((x) => String(x.name).startsWith("prod-db-app-"))) {
      expect(f.vpcConfig, f.name).toEqual({ subnetIds: ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] });
    }
  });

  it("no secret in environment variables or outputs", () => {
    const fns = ofType(resources, "aws:lambda/function:Function").map(inputs);
    for (const f of fns) {
      const env = (f.environment?.variables ?? {}) as Record<string, string>;
      for (const [k, v] of Object.entries(env)) {
        expect(k, f.name).not.toMatch(/PASSWORD|SECRET_VALUE|PGPASS|DATABASE_URL/);
        expect(String(v), `${f.name} ${k}`).not.toMatch(/postgres(ql)?:\/\/[^@\s]*:[^@\s]*@/);
      }
    }
    expect(JSON.stringify(plan.outputs)).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY|postgres(ql)?:\/\/[^@\s]*:[^@\s]*@/);
  });

  it("exports the stable outputs other stacks read", () => {
    const o = plan.outputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(o.backupBucketName).toBeTruthy();
    expect(o.backupBucketArn).toMatch(/^arn:aws:s3:::/);
    expect(Object.keys(o.alertTopicArns)).toEqual(["P0", "P1", "P2", "P3"]);
    expect(Object.keys(o.taskArns)).toEqual([
      "app/backup",
      "app/db-health",
      "app/purge",
      "app/reindex",
      "app/restore-drill",
      "app/vacuum",
      "app/verify-backup",
      "health-check",
      "overdue-watch",
    ]);
    expect(o.overdueAlarmNames).toEqual({
      "app/reindex": "prod-db-app-reindex-overdue-P3",
      "app/restore-drill": "prod-db-app-restore-drill-overdue-P2",
      "app/vacuum": "prod-db-app-vacuum-overdue-P2",
      "association/app/cloudwatch-agent": "prod-logs-app-cloudwatch-agent-association-overdue-P2",
      "association/app/logrotate": "prod-logs-app-logrotate-association-overdue-P2",
      "reminder/access-review": "prod-reminder-access-review-overdue-P3",
      "reminder/maintenance-notice": "prod-reminder-maintenance-notice-overdue-P3",
      "reminder/penetration-test": "prod-reminder-penetration-test-overdue-P3",
    });
    expect(o.scheduleNames["app/backup"]).toBe("prod-db-app-backup");
    expect(o.scheduleNames["reminder/access-review"]).toBe("prod-reminders-access-review");
    expect(o.dashboardName).toBe("prod-regime");
    expect(o.rpoAlarmNames).toEqual({ app: "prod-db-app-rpo-P0" });
    expect(o.logrotateConfigs.app.nginx).toContain("/var/log/nginx/*.log");
    expect(Object.keys(o.bundleSha256).sort()).toEqual(["analyze", "db-health", "health-check", "overdue-watch", "purge", "redis-health", "reindex", "vacuum"]);
  });

  it("names the AWS CLI command that runs each scheduled task once now, and restore and list-backups on demand", () => {
    const o = plan.outputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const runNow = o.runNow as Record<string, string>;
    expect(Object.keys(runNow)).toEqual([...Object.keys(o.taskArns), "app/list-backups", "app/restore"].sort());
    const schedules = ofType(resources, "aws:scheduler/schedule:Schedule").map(inputs);
    // Lambda: the event the schedule sends, without the scheduled time the Scheduler fills in (a run now is dated by its start), waiting for the answer.
    const backup = schedules.find((x) => x.name === "prod-db-app-backup")!;
    expect(JSON.parse(backup.target.input)).toEqual({
      task: "backup",
      source: "schedule",
      scheduledTime: "<aws.scheduler.scheduled-time>",
      executionId: "<aws.scheduler.execution-id>",
      attemptNumber: "<aws.scheduler.attempt-number>",
    });
    expect(runNow["app/backup"]).toBe(
      `aws lambda invoke --region us-east-1 --function-name prod-db-app-backup --cli-binary-format raw-in-base64-out --cli-read-timeout 0 --payload '{"task":"backup","source":"schedule"}' response.json`,
    );
    expect(runNow["health-check"]).toContain("--function-name prod-health-task ");
    // Fargate: the cluster, task definition and network the schedule starts it with.
    const drill = schedules.find((x) => x.name === "prod-db-app-restore-drill")!;
    const ecs = drill.target.ecsParameters;
    expect(ecs.launchType).toBe("FARGATE");
    expect(runNow["app/restore-drill"]).toBe(
      `aws ecs run-task --region us-east-1 --cluster ${drill.target.arn} --task-definition ${ecs.taskDefinitionArn} --launch-type FARGATE --platform-version LATEST --count 1 ` +
        `--network-configuration 'awsvpcConfiguration={subnets=[${ecs.networkConfiguration.subnets.join(",")}],securityGroups=[${ecs.networkConfiguration.securityGroups.join(",")}],assignPublicIp=DISABLED}'`,
    );
    expect(ecs.networkConfiguration.subnets.length).toBeGreaterThan(0);
    // The schedule gives the drill's container its scheduled time; the run now gives none.
    expect(JSON.parse(drill.target.input).containerOverrides).toEqual([
      {
        name: "restore-drill",
        environment: [
          { name: "SCHEDULED_TIME", value: "<aws.scheduler.scheduled-time>" },
          { name: "SCHEDULER_EXECUTION_ID", value: "<aws.scheduler.execution-id>" },
          { name: "SCHEDULER_ATTEMPT", value: "<aws.scheduler.attempt-number>" },
        ],
      },
    ]);
    // On demand in the verify-backup function (image): reads the backups and the database's secret.
    expect(runNow["app/restore"]).toBe(
      `aws lambda invoke --region us-east-1 --function-name prod-db-app-verify-backup --cli-binary-format raw-in-base64-out --cli-read-timeout 0 ` +
        `--payload '{"task":"restore","options":{"database":"app","target":"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-AbCdEf"}}' response.json`,
    );
    expect(runNow["app/list-backups"]).toContain(`--function-name prod-db-app-verify-backup `);
    expect(runNow["app/list-backups"]).toContain(`--payload '{"task":"list-backups","options":{"database":"app"}}'`);
  });

  it("the calendar shows the 02:00 backup in New York time and the guides' weekly and monthly jobs", () => {
    const byName = Object.fromEntries(plan.calendar.map((c) => [c.schedule, c]));
    expect(byName["prod-db-app-backup"].next).toEqual(["Mon 2026-11-23 02:00 -05:00", "Tue 2026-11-24 02:00 -05:00", "Wed 2026-11-25 02:00 -05:00"]);
    expect(byName["prod-db-app-vacuum"].next[0]).toBe("Wed 2026-11-25 03:00 -05:00");
    expect(byName["prod-db-app-reindex"].next[0]).toBe("Sun 2026-12-06 02:00 -05:00");
    expect(byName["prod-app-logrotate"]).toMatchObject({ expression: "cron(0 3 ? * * *)", timezone: "UTC" });
  });

  it("the alarms watch the very dimensions the deployed tasks write", () => {
    const fns = ofType(resources, "aws:lambda/function:Function").map(inputs);
    const alarms = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").map(inputs);
    /** EMF dimensions of one metric written by the task code with the function's own environment. */
    const emitted = (fnName: string, metric: string, database?: string) => {
      const env = fns.find((f) => f.name === fnName)!.environment.variables as Record<string, string>;
      const lines: string[] = [];
      const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: unknown) => (lines.push(String(chunk)), true));
      try {
        const ctx = createContext(env.TASK, env, new AbortController().signal);
        if (database) databaseMetric(ctx, database, metric, MetricUnit.Count, 1);
        else ctx.metrics.addMetric(metric, MetricUnit.Count, 1);
        ctx.metrics.publishStoredMetrics();
      } finally {
        spy.mockRestore();
      }
      const emf = lines.map((l) => JSON.parse(l)).find((o) => o._aws?.CloudWatchMetrics?.[0]?.Metrics?.some((m: { Name: string }) => m.Name === metric));
      const keys: string[] = emf._aws.CloudWatchMetrics[0].Dimensions[0];
      return { namespace: emf._aws.CloudWatchMetrics[0].Namespace, dimensions: Object.fromEntries(keys.map((k) => [k, emf[k]])) };
    };
    const watched = (name: string) => {
      const a = alarms.find((x) => x.name === name)!;
      const m = a.metricQueries ? gateOf(a).metrics[0] : a;
      return { namespace: m.namespace, dimensions: m.dimensions };
    };
    expect(emitted("prod-db-app-backup", "BackupSucceeded", "app")).toEqual(watched("prod-db-app-rpo-P0"));
    expect(emitted("prod-db-app-db-health", "ConnectionsPercent", "app")).toEqual(watched("prod-db-app-connections-P2"));
    // On Lambda the missed-run alarm counts the function's own invocations: a failed run pages through
    // the errors alarm at the same severity, whose period holds the run until its failure is seen.
    const missed = alarms.find((x) => x.name === "prod-db-app-backup-missed-run-P1")!;
    expect(gateOf(missed).metrics.map((m) => [m.namespace, m.metricName, m.dimensions])).toEqual([["AWS/Lambda", "Invocations", { FunctionName: "prod-db-app-backup" }]]);
    expect(alarms.find((x) => x.name === "prod-db-app-backup-errors-P1")!.alarmActions).toEqual(missed.alarmActions);
    const checks = alarms.find((x) => x.name === "prod-health-task-missed-run-P3")!;
    expect(gateOf(checks).metrics.map((m) => [m.namespace, m.metricName, m.dimensions])).toEqual([["AWS/Lambda", "Invocations", { FunctionName: "prod-health-task" }]]);
    expect(alarms.find((x) => x.name === "prod-health-task-errors-P3")!.alarmActions).toEqual(checks.alarmActions);
  });

  it("the guides' thresholds are what the alarms watch", () => {
    const byName = Object.fromEntries(plan.alarms.map((a) => [a.name, a]));
    expect(byName["prod-host-app-1-cpu-P2"].condition).toBe("> 80 over 600 s");
    expect(byName["prod-host-app-1-memory-P2"].condition).toBe("> 85 over 600 s");
    expect(byName["prod-host-app-1-disk-P2"].condition).toBe("> 85 over 600 s");
    expect(byName["prod-endpoint-api-slow-P3"].condition).toBe("> 500 over 300 s");
    expect(byName["prod-app-app-latency-P2"].condition).toBe("> 0.5 over 300 s");
    expect(byName["prod-logs-app-app-errors-P2"].condition).toBe(">= 10 over 24 h");
    expect(byName["prod-db-app-connections-P2"].condition).toBe(">= 80 over 900 s");
  });

  it("draws the calendar picture: jobs at their local times, frequent checks as bands, monthly jobs on the strip, thresholds beside", () => {
    const svg = planCalendarSvg(plan, record);
    expect(XMLValidator.validate(svg)).toBe(true);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(texts).toEqual(expect.arrayContaining(["02:00 prod-db-app-back…", "prod-health-task: every min, all week", "prod-db-app-reindex", "02:00"]));
    expect(texts.some((t) => t.startsWith("prod-host-app-1-cpu-P2"))).toBe(true);
    expect(texts).toContain("CPUUtilization Average &gt; 80 over 600 s");
    const { png, width } = renderSvgToPng(svg);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(width).toBeGreaterThan(0);
  });

  it("reads subnets from another stack when the database names one", async () => {
    const doc = YAML.parse(require("node:fs").readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
    doc.config[`${NS}:databases`][0].network = { stack: "acme/network/prod" };
    const { resources: rs } = await runPlan({ configFile: writeStack(doc.config), from: FROM });
    expect(rs.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => r.inputs.name)).toEqual(["acme/network/prod"]);
    const fn = rs.filter((r) => r.type === "aws:lambda/function:Function").map(inputs).find((f) => f.name === "prod-db-app-vacuum")!;
    expect(fn.vpcConfig).toEqual({ subnetIds: ["subnet-0offline0000000a", "subnet-0offline0000000b"], securityGroupIds: ["sg-0offline000000000"] });
  }, 120_000);
});

describe("a big database on Fargate and log hosts reached over SSH", () => {
  let resources: RecordedResource[];
  let plan: Plan;
  beforeAll(async () => {
    const file = writeStack({
      "aws:region": "us-east-1",
      [`${NS}:name`]: "big",
      [`${NS}:databases`]: [
        {
          id: "scans",
          sizeGb: 400,
          majorVersion: 17,
          // A 400 GB dump takes 9.5 h at the catalogue's rate and up to 15.2 h before its duration alarm
          // pages: data written just after 02:00 is safe once the next day's backup is stored, 39.2 h later;
          // the 06:00 verify may find only the day before's backup, whose data is then 28 h old.
          backup: { rpoHours: 40 },
          verify: { maxAgeHours: 40 },
          iamAuth: { host: "scans.abc.us-east-1.rds.amazonaws.com", user: "maintenance", database: "scans", resourceId: "db-ABCDEFGHIJKL" },
          network: { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] },
        },
      ],
      [`${NS}:logs`]: {
        hostGroups: [
          {
            name: "web",
            sshHosts: [{ host: "203.0.113.10", user: "deploy" }],
            sshPrivateKeyConfig: "webDeployKey",
            logSets: [{ name: "app", paths: ["/app/logs/*.log"], frequency: "daily", keep: 7, copytruncate: true }],
            logGroups: [{ id: "app", name: "/big/app", files: ["/app/logs/*.log"], errors: {} }],
          },
        ],
      },
      [`${NS}:webDeployKey`]: { secure: "v1:AAAABBBBCCCC" },
    });
    ({ plan, resources } = await runPlan({ configFile: file, from: FROM }));
  }, 120_000);

  it("runs backup, verification on Fargate with the task image's node entry point, scheduled through ECS", () => {
    const defs = ofType(resources, "aws:ecs/taskDefinition:TaskDefinition").map(inputs);
    expect(defs.map((d) => d.family).sort()).toEqual(["big-db-scans-backup", "big-db-scans-verify-backup"]);
    const backup = JSON.parse(defs.find((d) => d.family === "big-db-scans-backup")!.containerDefinitions)[0];
    expect([backup.entryPoint, backup.command]).toEqual([["node"], ["cli.js", "backup"]]);
    const env = Object.fromEntries((backup.environment as { name: string; value: string }[]).map((e) => [e.name, e.value]));
    expect(JSON.parse(env.DATABASES)).toEqual([{ id: "scans", iamAuth: true, host: "scans.abc.us-east-1.rds.amazonaws.com", port: 5432, user: "maintenance", database: "scans" }]);
    const schedule = ofType(resources, "aws:scheduler/schedule:Schedule").map(inputs).find((x) => x.name === "big-db-scans-backup")!;
    expect(schedule.target.ecsParameters).toMatchObject({ launchType: "FARGATE", networkConfiguration: { subnets: ["subnet-0a1b2c3d4e5f60001"], assignPublicIp: false } });
    expect(ofType(resources, "aws:ecs/cluster:Cluster")).toHaveLength(1);
    const connect = ofType(resources, "aws:iam/rolePolicy:RolePolicy")
      .flatMap((p) => statementsOf(inputs(p).policy))
      .find((st) => ([] as string[]).concat(st.Action ?? []).includes("rds-db:connect"));
    expect(connect?.Resource).toEqual(["arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKL/maintenance"]);
  });

  it("the verify of a 400 GB dump on Fargate is measured against the backup's own duration reference, not Lambda's 900 s", () => {
    // It reads the whole dump back: at the dump's 12 MB/s, 9.5 h; its duration alarm pages past 1.6 times that, like the backup's.
    const threshold = (name: string) => ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").map(inputs).find((a) => a.name === name)!.threshold;
    expect(threshold("big-db-scans-verify-backup-duration-P2")).toBe(threshold("big-db-scans-backup-duration-P2"));
    expect(threshold("big-db-scans-verify-backup-duration-P2")).toBeGreaterThan(9 * 3600 * 1000);
  });

  it("runs restore on demand as a Fargate task: the verify-backup task definition with the restore command", () => {
    const runNow = (plan.outputs as { runNow: Record<string, string> }).runNow;
    const verify = ofType(resources, "aws:scheduler/schedule:Schedule").map(inputs).find((x) => x.name === "big-db-scans-verify-backup")!;
    const start =
      `aws ecs run-task --region us-east-1 --cluster ${verify.target.arn} --task-definition ${verify.target.ecsParameters.taskDefinitionArn} --launch-type FARGATE --platform-version LATEST --count 1 ` +
      `--network-configuration 'awsvpcConfiguration={subnets=[subnet-0a1b2c3d4e5f60001],securityGroups=[sg-0a1b2c3d4e5f60003],assignPublicIp=DISABLED}'`;
    expect(runNow["scans/verify-backup"]).toBe(start);
    // IAM-authenticated database: no secret to name, the target is the user's to fill in.
    expect(runNow["scans/restore"]).toBe(
      `${start} --overrides '{"containerOverrides":[{"name":"verify-backup","command":["cli.js","restore","--database","scans","--target","TARGET_URL_OR_SECRET_ARN"]}]}'`,
    );
    expect(runNow["scans/list-backups"]).toBe(`${start} --overrides '{"containerOverrides":[{"name":"verify-backup","command":["cli.js","list-backups","--database","scans"]}]}'`);
  });

  it("delivers logrotate and the CloudWatch agent logs config over SSH with the private key from secret config, never in plain text", () => {
    const cmds = ofType(resources, "command:remote:Command").map(inputs);
    expect(cmds).toHaveLength(2);
    // The connection holds a secret, so Pulumi marks it secret as a whole (encrypted in the state).
    const SECRET_SIG = "4dabf18193072939515e22adb298388d";
    for (const c of cmds) {
      expect(c.connection[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
      expect(c.connection.value).toMatchObject({ host: "203.0.113.10", user: "deploy", port: 22 });
      expect(JSON.stringify(c)).not.toContain("v1:AAAABBBBCCCC");
    }
    expect(cmds.filter((c) => String(c.stdin).includes("-a append-config -m onPremise"))).toHaveLength(1);
    // No tag target: no parameter, no association for the agent.
    expect(ofType(resources, "aws:ssm/parameter:Parameter")).toHaveLength(0);
  });
});

describe("determinism", () => {
  it("two runs of `npm run plan -- --json` print the same bytes, archive hashes included", async () => {
    // Two processes at once: each is its own run, and neither waits for the other.
    const run = () =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        execFile(process.execPath, ["--import", "tsx", join(ROOT, "plan/cli.ts"), "--json", "--from", "2026-11-23"], { encoding: "utf8", cwd: ROOT, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
          const code = (err as { code?: unknown } | null)?.code;
          if (err && typeof code !== "number") reject(err);
          else resolve({ status: typeof code === "number" ? code : 0, stdout, stderr });
        });
      });
    const [a, b] = await Promise.all([run(), run()]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const plan = JSON.parse(a.stdout) as Plan;
    expect(plan.from).toBe("2026-11-23T00:00:00.000Z");
    expect(Object.values(plan.outputs.bundleSha256 as Record<string, string>).every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);
  }, 120_000);
});
