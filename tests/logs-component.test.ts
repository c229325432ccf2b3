import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { mockTopics, settle, setupMocks, waitFor, type MockResource } from "./helpers/pulumi-mocks";
import Ajv from "ajv";
import { filterPatternProblem, parseLogs, type LogsInput } from "../regime/logs";
import { renderAgentScript, renderHostGroupConfigs, renderInstallScript } from "../regime/logrotate";
import { LOG_RETENTION_DAYS } from "../regime/limits";

const { resources } = setupMocks();

const TOPICS = mockTopics("prod");

const LOGS: LogsInput = {
  hostGroups: [
    {
      name: "crm",
      target: { tagKey: "Regime", tagValue: "iswitch-crm" },
      docker: {},
      logSets: [{ name: "crm-app", paths: ["/app/logs/*.log"], frequency: "weekly", maxAgeDays: 30, copytruncate: true }],
      logGroups: [
        // The rotated files are also the shipped ones: a log set and a log group overlap.
        {
          id: "backend",
          name: "/app/crm/backend",
          format: "json",
          files: ["/app/logs/*.log"],
          errors: {},
          failedLogins: { threshold: 5 },
          patterns: [
            {
              name: "payment-failed",
              pattern: '{ ($.event = "payment_failed") || (($.level = "error") && ($.component = "payments")) }',
              threshold: 1,
              periodMinutes: 1,
              severity: "P0",
              description: "Payments are failing: check the payment provider's status page and the last deploy; roll back if it started with a release.",
            },
          ],
        },
        {
          id: "nginx",
          name: "/app/crm/nginx",
          retentionDays: 90,
          files: ["/var/log/nginx/access.log"],
          timestampFormat: "%d/%b/%Y:%H:%M:%S %z",
          http5xx: {},
          authFailures: {},
          errorRate: {},
        },
      ],
    },
    {
      name: "boardroom",
      target: { tagKey: "App", tagValue: "boardroom" },
      appRoot: "/home/app/boardroom",
      schedule: "cron(30 2 ? * SUN *)",
      applyOnlyAtCronInterval: false,
      logSets: [{ name: "boardroom", paths: ["logs/*.jsonl"], frequency: "weekly", maxAgeDays: 30, copytruncate: true, archive: { expireDays: 365 } }],
    },
    {
      name: "bigshot",
      sshHosts: [
        { host: "10.0.0.5", user: "deploy" },
        { host: "bigshot.example.com", user: "root", port: 2222, agentMode: "ec2" },
      ],
      sshPrivateKeyConfig: "bigshotSshKey",
      appRoot: "/opt/bigshot",
      logSets: [{ name: "bigshot", paths: ["logs/*.log"], frequency: "weekly", keep: 4, copytruncate: true }],
      logGroups: [
        {
          id: "app",
          name: "/bigshot/app",
          files: ["logs/app.log"],
          multiLineStartPattern: "^\\d{4}-\\d{2}-\\d{2} ",
          // grep -i "security\|unauthorized" logs/app.log (seed 003)
          patterns: [
            { name: "security-events", pattern: "?security ?Security ?SECURITY ?unauthorized ?Unauthorized ?UNAUTHORIZED", threshold: 3, periodMinutes: 15, severity: "P1" },
            { name: "payment-errors", pattern: '"payment" "error"' },
          ],
        },
      ],
    },
  ],
};

type Mod = typeof import("../components/logs");
let mod: Mod;
let delivery: typeof import("../components/host-delivery");
let logGroupsMod: typeof import("../components/log-groups");
let component: InstanceType<Mod["LogRotation"]>;
/** Children as the SDK saw them: a transformation on the component reaches only resources parented to it. */
const children: { type: string; name: string; parent: unknown; dependsOn: unknown; retainOnDelete?: boolean }[] = [];
const logs = parseLogs(LOGS);

const byType = (t: string): MockResource[] => resources.filter((r) => r.type === t);
const one = (t: string, name: string): MockResource => {
  const found = resources.filter((r) => r.type === t && r.name === name);
  expect(found, `${t} ${name}`).toHaveLength(1);
  return found[0];
};

beforeAll(async () => {
  mod = await import("../components/logs");
  delivery = await import("../components/host-delivery");
  logGroupsMod = await import("../components/log-groups");
  component = new mod.LogRotation("logs", {
    regime: "prod",
    logs,
    defaultRetentionDays: 30,
    alarmTopics: TOPICS,
    sshPrivateKeys: { bigshotSshKey: "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n" },
  }, {
    transformations: [
      (a) => {
        if (a.type !== "regime:logs:LogRotation") children.push({ type: a.type, name: a.name, parent: a.opts.parent, dependsOn: a.opts.dependsOn, retainOnDelete: a.opts.retainOnDelete });
        return undefined;
      },
    ],
  });
  await waitFor(component.logrotateConfigs);
  await settle();
});

describe("LogRotation under Pulumi mocks", () => {
  it("registers exactly the expected resources, all children of the component", () => {
    const counts: Record<string, number> = {};
    for (const r of resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual({
      "regime:logs:LogRotation": 1,
      "aws:s3/bucket:Bucket": 1,
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
      "aws:s3/bucketVersioning:BucketVersioning": 1,
      "aws:s3/bucketPolicy:BucketPolicy": 1,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
      "aws:iam/policy:Policy": 1,
      "aws:ssm/document:Document": 2,
      "aws:ssm/association:Association": 3,
      "aws:ssm/parameter:Parameter": 1,
      "command:remote:Command": 4,
      "aws:cloudwatch/logGroup:LogGroup": 3,
      "aws:cloudwatch/logMetricFilter:LogMetricFilter": 8,
      "aws:cloudwatch/metricAlarm:MetricAlarm": 11,
      "aws:cloudwatch/eventRule:EventRule": 2,
      "aws:cloudwatch/eventTarget:EventTarget": 2,
      "aws:sqs/queue:Queue": 2,
      "aws:sqs/queuePolicy:QueuePolicy": 2,
    });
    const own = resources.filter((r) => r.type !== "regime:logs:LogRotation");
    expect(children.map((c) => `${c.type} ${c.name}`).sort()).toEqual(own.map((r) => `${r.type} ${r.name}`).sort());
    for (const c of children) expect(c.parent, c.name).toBe(component);
    // Names derive from the component name, alarms follow the regime's alarm naming.
    for (const r of own) expect(r.type.endsWith("MetricAlarm") ? r.name.startsWith("prod-logs-") : r.name.startsWith("logs-"), r.name).toBe(true);
  });

  it("a failed association run pages P2: one EventBridge rule per group on its associations' Failed state changes, delivered to a queue of its own, an alarm on the rule's Invocations", () => {
    const rule = one("aws:cloudwatch/eventRule:EventRule", "logs-crm-association-failed");
    expect(rule.inputs.name).toBe("prod-crm-association-failed");
    // The crm group's logrotate and CloudWatch agent associations, by the ids AWS gave them.
    expect(JSON.parse(rule.inputs.eventPattern as string)).toEqual({
      source: ["aws.ssm"],
      "detail-type": ["EC2 State Manager Instance Association State Change"],
      detail: { "association-id": ["logs-crm-association-id", "logs-crm-cwagent-association-id"], status: ["Failed"] },
    });
    // A target, so the rule's per-rule metrics are published: the group's own queue, which only this rule may send to, keeping the events 14 days.
    const queue = one("aws:sqs/queue:Queue", "logs-crm-association-failed");
    expect(queue.inputs).toMatchObject({ name: "prod-crm-association-failed", sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 86400 });
    const target = one("aws:cloudwatch/eventTarget:EventTarget", "logs-crm-association-failed");
    expect(target.inputs).toMatchObject({ rule: "prod-crm-association-failed", arn: expect.stringContaining("prod-crm-association-failed") });
    const queuePolicy = JSON.parse(one("aws:sqs/queuePolicy:QueuePolicy", "logs-crm-association-failed").inputs.policy as string);
    expect(queuePolicy.Statement).toEqual([
      {
        Sid: "FailureEventsFromTheRule",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: target.inputs.arn,
        Condition: { ArnEquals: { "aws:SourceArn": expect.stringContaining("prod-crm-association-failed") } },
      },
    ]);
    const alarm = one("aws:cloudwatch/metricAlarm:MetricAlarm", "prod-logs-crm-associations-failed-P2");
    expect(alarm.inputs.alarmDescription).toContain("SQS queue prod-crm-association-failed");
    expect(alarm.inputs).toMatchObject({
      namespace: "AWS/Events",
      metricName: "Invocations",
      dimensions: { RuleName: "prod-crm-association-failed" },
      statistic: "Sum",
      period: 300,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: 1,
      treatMissingData: "notBreaching",
      alarmActions: [TOPICS.P2],
    });
    // SSH-only groups have no association and no rule.
    expect(resources.filter((r) => r.type === "aws:cloudwatch/eventRule:EventRule").map((r) => r.name).sort()).toEqual(["logs-boardroom-association-failed", "logs-crm-association-failed"]);
  });

  it("SSM document: Command, schema 2.2, aws:runShellScript running the group's install script", async () => {
    const doc = one("aws:ssm/document:Document", "logs-crm-document");
    expect(doc.inputs).toMatchObject({ name: "prod-crm-logrotate", documentType: "Command", documentFormat: "JSON" });
    const content = JSON.parse(doc.inputs.content);
    expect(content.schemaVersion).toBe("2.2");
    expect(content.mainSteps).toHaveLength(1);
    expect(content.mainSteps[0]).toMatchObject({ action: "aws:runShellScript", name: "installLogConfigs", inputs: { timeoutSeconds: "300" } });
    const configs = renderHostGroupConfigs(logs.hostGroups[0], { regime: "prod" });
    const expected = renderInstallScript({ regime: "prod", group: "crm", configs, docker: logs.hostGroups[0].docker });
    expect(content.mainSteps[0].inputs.runCommand.join("\n")).toBe(expected);
    // The config travels base64-encoded and lands in /etc/logrotate.d/<name>.
    expect(expected).toContain(`printf %s ${Buffer.from(configs["crm-app"]).toString("base64")} | base64 -d > "$WORK/new/crm-app"`);
    expect(expected).toContain('install -m 0644 -o root -g root "$WORK/new/$n" "$STAGE/$n"');
    expect(await waitFor(component.logrotateConfigs)).toEqual({
      crm: configs,
      boardroom: renderHostGroupConfigs(logs.hostGroups[1], { regime: "prod", archiveBucket: "prod-log-archive-logs-archive" }),
      bigshot: renderHostGroupConfigs(logs.hostGroups[2], { regime: "prod" }),
    });
    expect(component.daemonJson).toEqual({ crm: '{\n  "log-driver": "json-file",\n  "log-opts": {\n    "max-size": "10m",\n    "max-file": "3"\n  }\n}\n' });
  });

  it("associations target the tag, on the group's cron, pinned to the document version", () => {
    const crm = one("aws:ssm/association:Association", "logs-crm-association");
    expect(crm.inputs).toMatchObject({
      name: "prod-crm-logrotate",
      associationName: "prod-crm-logrotate",
      documentVersion: "1",
      targets: [{ key: "tag:Regime", values: ["iswitch-crm"] }],
      scheduleExpression: "cron(0 3 ? * * *)",
      applyOnlyAtCronInterval: true,
      maxConcurrency: "25%",
      maxErrors: "10%",
    });
    const boardroom = one("aws:ssm/association:Association", "logs-boardroom-association");
    expect(boardroom.inputs).toMatchObject({
      targets: [{ key: "tag:App", values: ["boardroom"] }],
      scheduleExpression: "cron(30 2 ? * SUN *)",
      applyOnlyAtCronInterval: false,
    });
  });

  it("SSH hosts: one remote command each, script on stdin as root, key as a secret, re-run on change", () => {
    const script = renderInstallScript({ regime: "prod", group: "bigshot", configs: renderHostGroupConfigs(logs.hostGroups[2], { regime: "prod" }) });
    const a = one("command:remote:Command", "logs-bigshot-ssh-10-0-0-5");
    const b = one("command:remote:Command", "logs-bigshot-ssh-bigshot-example-com");
    expect(a.inputs.create).toBe(delivery.SSH_RUN_AS_ROOT);
    expect(a.inputs.stdin).toBe(script);
    expect(a.inputs.triggers).toEqual([createHash("sha256").update(script).digest("hex")]);
    // The whole connection is a secret because the key is (Pulumi's secret signature wraps it).
    const SECRET_SIG = "4dabf18193072939515e22adb298388d";
    expect(a.inputs.connection).toEqual({
      [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270",
      value: { host: "10.0.0.5", user: "deploy", port: 22, privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n" },
    });
    expect(b.inputs.connection[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
    expect(b.inputs.connection.value).toMatchObject({ host: "bigshot.example.com", user: "root", port: 2222 });
  });

  it("archive bucket stays in the account when it leaves the program (retainOnDelete): the archives, their protections and the lifecycle that expires them", () => {
    const retained = Object.fromEntries(children.filter((c) => c.name.startsWith("logs-archive")).map((c) => [`${c.type} ${c.name}`, c.retainOnDelete]));
    expect(retained).toEqual({
      "aws:s3/bucket:Bucket logs-archive": true,
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock logs-archive-public-access": true,
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls logs-archive-ownership": true,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration logs-archive-sse": true,
      "aws:s3/bucketVersioning:BucketVersioning logs-archive-versioning": true,
      "aws:s3/bucketPolicy:BucketPolicy logs-archive-tls-only": true,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration logs-archive-lifecycle": true,
      // The hosts' writer policy goes with the last archiving log set: it grants uploads, it holds nothing.
      "aws:iam/policy:Policy logs-archive-writer": undefined,
    });
  });

  it("archive bucket: private, encrypted, TLS only, expiry per prefix; writer policy limited to the prefixes", () => {
    expect(one("aws:s3/bucket:Bucket", "logs-archive").inputs).toMatchObject({ bucketPrefix: "prod-log-archive-" });
    expect(one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "logs-archive-public-access").inputs).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    expect(one("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "logs-archive-ownership").inputs.rule).toEqual({ objectOwnership: "BucketOwnerEnforced" });
    expect(one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "logs-archive-sse").inputs.rules[0]).toEqual({
      applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" },
      bucketKeyEnabled: true,
    });
    expect(one("aws:s3/bucketVersioning:BucketVersioning", "logs-archive-versioning").inputs.versioningConfiguration).toEqual({ status: "Enabled" });
    const tls = JSON.parse(one("aws:s3/bucketPolicy:BucketPolicy", "logs-archive-tls-only").inputs.policy);
    expect(tls.Statement[0]).toMatchObject({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "logs-archive-lifecycle").inputs.rules).toEqual([
      {
        id: "expire-boardroom-boardroom",
        status: "Enabled",
        filter: { prefix: "boardroom/boardroom/" },
        expiration: { days: 365 },
        noncurrentVersionExpiration: { noncurrentDays: 1 },
      },
      // A removed or renamed log set's archives: the longest configured days.
      { id: "catch-all.bucket", status: "Enabled", filter: { prefix: "" }, expiration: { days: 365 }, noncurrentVersionExpiration: { noncurrentDays: 1 } },
      { id: "abort-incomplete-uploads", status: "Enabled", filter: { prefix: "" }, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } },
      { id: "remove-expired-delete-markers", status: "Enabled", filter: { prefix: "" }, expiration: { expiredObjectDeleteMarker: true } },
    ]);
    expect(tls.Statement[1]).toMatchObject({ Sid: "WrittenOnce", Effect: "Deny", Action: "s3:PutObject", Resource: ["arn:aws:s3:::prod-log-archive-logs-archive/boardroom/boardroom/*"] });
    const writer = JSON.parse(one("aws:iam/policy:Policy", "logs-archive-writer").inputs.policy);
    expect(writer.Statement[0]).toEqual({
      Sid: "PutArchives",
      Effect: "Allow",
      Action: ["s3:PutObject"],
      Resource: ["arn:aws:s3:::prod-log-archive-logs-archive/boardroom/boardroom/*"],
    });
  });

  it("every log group has a valid retention", () => {
    const groups = byType("aws:cloudwatch/logGroup:LogGroup").map((r) => [r.inputs.name, r.inputs.retentionInDays]);
    expect(groups).toEqual([
      ["/app/crm/backend", 30],
      ["/app/crm/nginx", 90],
      ["/bigshot/app", 30],
    ]);
  });

  it("metric filters: JSON and access-log patterns, counted into the regime's namespace", () => {
    const filters = Object.fromEntries(byType("aws:cloudwatch/logMetricFilter:LogMetricFilter").map((r) => [r.inputs.name, r.inputs]));
    expect(Object.keys(filters).sort()).toEqual([
      "prod-bigshot-app-payment-errors",
      "prod-bigshot-app-security-events",
      "prod-crm-backend-errors",
      "prod-crm-backend-failed-logins",
      "prod-crm-backend-payment-failed",
      "prod-crm-nginx-http-401-403",
      "prod-crm-nginx-http-5xx",
      "prod-crm-nginx-requests",
    ]);
    expect(filters["prod-crm-backend-errors"]).toEqual({
      name: "prod-crm-backend-errors",
      logGroupName: "/app/crm/backend",
      pattern: logGroupsMod.DEFAULT_PATTERNS.json.errors,
      metricTransformation: { name: "crm-backend-errors", namespace: "prod/Logs", value: "1", unit: "Count" },
    });
    expect(filters["prod-crm-nginx-http-5xx"].pattern).toBe("[ip, ident, user, timestamp, request, status_code = 5*, bytes, ...]");
    expect(filters["prod-crm-nginx-http-401-403"].pattern).toBe("[ip, ident, user, timestamp, request, status_code = 401 || status_code = 403, bytes, ...]");
    expect(filters["prod-crm-nginx-requests"].logGroupName).toBe("/app/crm/nginx");
  });

  it("alarms: one per filter with the guides' thresholds, error rate 1 % / 5 %, all with actions and explicit missing data", () => {
    const alarms: Record<string, Record<string, any>> = Object.fromEntries(byType("aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => [r.inputs.name, r.inputs]));
    expect(Object.keys(alarms).sort()).toEqual([
      "prod-logs-bigshot-app-payment-errors-P2",
      "prod-logs-bigshot-app-security-events-P1",
      "prod-logs-boardroom-associations-failed-P2",
      "prod-logs-crm-associations-failed-P2",
      "prod-logs-crm-backend-errors-P2",
      "prod-logs-crm-backend-failed-logins-P1",
      "prod-logs-crm-backend-payment-failed-P0",
      "prod-logs-crm-nginx-error-rate-P1",
      "prod-logs-crm-nginx-error-rate-P2",
      "prod-logs-crm-nginx-http-401-403-P2",
      "prod-logs-crm-nginx-http-5xx-P1",
    ]);
    expect(Object.keys(alarms)).toHaveLength(11);
    for (const [name, a] of Object.entries(alarms)) {
      const topic = TOPICS[name.slice(-2) as keyof typeof TOPICS];
      expect(a.actionsEnabled, name).toBe(true);
      expect(a.alarmActions, name).toEqual([topic]);
      expect(a.okActions, name).toEqual([topic]);
      expect(a.treatMissingData, name).toBe("notBreaching");
    }
    expect(alarms["prod-logs-crm-backend-errors-P2"]).toMatchObject({
      namespace: "prod/Logs",
      metricName: "crm-backend-errors",
      statistic: "Sum",
      period: 86400,
      evaluationPeriods: 1,
      threshold: 10,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
    });
    expect(alarms["prod-logs-crm-backend-failed-logins-P1"]).toMatchObject({ metricName: "crm-backend-failed-logins", period: 300, threshold: 5 });
    expect(alarms["prod-logs-crm-nginx-http-401-403-P2"]).toMatchObject({ metricName: "crm-nginx-http-401-403", period: 300, threshold: 20 });
    expect(alarms["prod-logs-crm-nginx-http-5xx-P1"]).toMatchObject({ metricName: "crm-nginx-http-5xx", period: 300, threshold: 10 });
    for (const [sev, pct] of [["P2", 1], ["P1", 5]] as const) {
      expect(alarms[`prod-logs-crm-nginx-error-rate-${sev}`]).toMatchObject({
        threshold: pct,
        comparisonOperator: "GreaterThanThreshold",
        evaluationPeriods: 1,
        metricQueries: [
          { id: "errors", metric: { namespace: "prod/Logs", metricName: "crm-nginx-http-5xx", period: 300, stat: "Sum" }, returnData: false },
          { id: "requests", metric: { namespace: "prod/Logs", metricName: "crm-nginx-requests", period: 300, stat: "Sum" }, returnData: false },
          { id: "rate", expression: "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)", returnData: true },
        ],
      });
    }
  });

  it("log groups' own patterns: one filter and one alarm each, named and dimensioned like the built-in ones", async () => {
    const filters = Object.fromEntries(byType("aws:cloudwatch/logMetricFilter:LogMetricFilter").map((r) => [r.inputs.name, r]));
    const alarms = Object.fromEntries(byType("aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => [r.inputs.name, r]));
    // The filter counts the pattern's lines into <group>-<logGroup id>-<name> in the regime's namespace.
    expect(filters["prod-bigshot-app-security-events"].name).toBe("logs-bigshot-app-security-events-filter");
    expect(filters["prod-bigshot-app-security-events"].inputs).toEqual({
      name: "prod-bigshot-app-security-events",
      logGroupName: "/bigshot/app",
      pattern: "?security ?Security ?SECURITY ?unauthorized ?Unauthorized ?UNAUTHORIZED",
      metricTransformation: { name: "bigshot-app-security-events", namespace: "prod/Logs", value: "1", unit: "Count" },
    });
    expect(filters["prod-crm-backend-payment-failed"].inputs).toMatchObject({
      logGroupName: "/app/crm/backend",
      pattern: '{ ($.event = "payment_failed") || (($.level = "error") && ($.component = "payments")) }',
      metricTransformation: { name: "crm-backend-payment-failed", namespace: "prod/Logs" },
    });
    expect(filters["prod-bigshot-app-payment-errors"].inputs.pattern).toBe('"payment" "error"');

    const security = alarms["prod-logs-bigshot-app-security-events-P1"].inputs;
    expect(security).toMatchObject({
      namespace: "prod/Logs",
      metricName: "bigshot-app-security-events",
      statistic: "Sum",
      period: 900,
      evaluationPeriods: 1,
      threshold: 3,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      actionsEnabled: true,
      alarmActions: [TOPICS.P1],
      okActions: [TOPICS.P1],
      treatMissingData: "notBreaching",
      tags: { Regime: "prod", Severity: "P1" },
    });
    expect(security.dimensions).toBeUndefined();
    // Without a description, the runbook line says what matched and where.
    expect(security.alarmDescription).toBe(
      "[P1] 3 or more lines matching security-events (?security ?Security ?SECURITY ?unauthorized ?Unauthorized ?UNAUTHORIZED) in /bigshot/app within 15 minutes. Read the matching lines in the log group and act on what they report.",
    );
    // Defaults: one line within 5 minutes, P2.
    expect(alarms["prod-logs-bigshot-app-payment-errors-P2"].inputs).toMatchObject({
      metricName: "bigshot-app-payment-errors",
      period: 300,
      threshold: 1,
      alarmActions: [TOPICS.P2],
      okActions: [TOPICS.P2],
      treatMissingData: "notBreaching",
    });
    // The description is the runbook line.
    const payment = alarms["prod-logs-crm-backend-payment-failed-P0"].inputs;
    expect(payment).toMatchObject({ metricName: "crm-backend-payment-failed", period: 60, threshold: 1, alarmActions: [TOPICS.P0], okActions: [TOPICS.P0] });
    expect(payment.alarmDescription).toMatch(/^\[P0\] 1 or more lines matching payment-failed \(.*\) in \/app\/crm\/backend within 1 minutes\. Payments are failing: check the payment provider's status page/);
    // Each alarm is created after its filter, like the built-in ones.
    for (const [alarm, filter] of [
      ["prod-logs-bigshot-app-security-events-P1", "logs-bigshot-app-security-events-filter"],
      ["prod-logs-crm-backend-payment-failed-P0", "logs-crm-backend-payment-failed-filter"],
    ]) {
      const deps = children.find((c) => c.name === alarm)!.dependsOn as { urn: unknown }[];
      const urns = await Promise.all(deps.map((d) => waitFor(d.urn as never)));
      expect(urns.map((u) => String(u).split("::").pop()), alarm).toEqual([filter]);
    }
  });

  it("every filter pattern the component renders (built-in defaults and the log groups' own) reads as CloudWatch's filter syntax", async () => {
    const rendered = byType("aws:cloudwatch/logMetricFilter:LogMetricFilter").map((r) => r.inputs.pattern as string);
    expect(rendered).toHaveLength(8);
    const all = [...rendered, ...Object.values(logGroupsMod.DEFAULT_PATTERNS.text), ...Object.values(logGroupsMod.DEFAULT_PATTERNS.json)];
    for (const p of all) expect(filterPatternProblem(p), p).toBeUndefined();
    // Not vacuous: the same checker refuses what CloudWatch refuses.
    expect(filterPatternProblem('"payment "error"')).toBe('has an unclosed " (opened at character 16)');
    expect(filterPatternProblem('{ $.event = "payment_failed" ')).toBe("has an unclosed { (opened at character 1)");
  });

  it("a changed log set changes the delivered document and the SSH trigger", async () => {
    const changed = parseLogs({ ...LOGS, hostGroups: LOGS.hostGroups!.map((g) => ({ ...g, logSets: g.logSets!.map((s) => ({ ...s, keep: 9 })) })) });
    const before = resources.length;
    const c2 = new mod.LogRotation("logs2", { regime: "prod", logs: changed, defaultRetentionDays: 30, alarmTopics: TOPICS, sshPrivateKeys: { bigshotSshKey: "k" } });
    await waitFor(c2.logrotateConfigs);
    await settle();
    const added = resources.slice(before);
    const doc1 = one("aws:ssm/document:Document", "logs-crm-document").inputs.content;
    const doc2 = added.find((r) => r.name === "logs2-crm-document")!.inputs.content;
    expect(doc2).not.toBe(doc1);
    const line = (JSON.parse(doc2).mainSteps[0].inputs.runCommand as string[]).find((l) => l.endsWith(' | base64 -d > "$WORK/new/crm-app"'))!;
    expect(Buffer.from(line.split(" ")[2], "base64").toString()).toContain("\n    rotate 9\n");
    const t1 = one("command:remote:Command", "logs-bigshot-ssh-10-0-0-5").inputs.triggers;
    const t2 = added.find((r) => r.name === "logs2-bigshot-ssh-10-0-0-5")!.inputs.triggers;
    expect(t2).not.toEqual(t1);
  });

  it("refuses SSH hosts whose private key secret was not passed in, naming the config key", () => {
    expect(
      () => new mod.LogRotation("logs3", { regime: "prod", logs: parseLogs({ hostGroups: [LOGS.hostGroups![2]] }), defaultRetentionDays: 30, alarmTopics: TOPICS }),
    ).toThrow("logs.hostGroups[bigshot].sshPrivateKeyConfig: no secret given for config key bigshotSshKey (pulumi config set --secret bigshotSshKey < key)");
  });
});

/**
 * The parts of the CloudWatch agent's JSON schema (amazon-cloudwatch-agent, translator/config/schema.json)
 * that a logs-only config touches, written out here: `logs` needs `logs_collected`; a collect_list entry
 * needs file_path (at most 4096 characters) and allows only the agent's keys; names are 1..512 characters.
 */
const AGENT_LOGS_SCHEMA = {
  type: "object",
  properties: {
    agent: { type: "object" },
    metrics: { type: "object", required: ["metrics_collected"] },
    logs: {
      type: "object",
      additionalProperties: false,
      required: ["logs_collected"],
      properties: {
        force_flush_interval: { type: "integer", minimum: 1, maximum: 172800 },
        log_stream_name: { type: "string", minLength: 1, maxLength: 512 },
        logs_collected: {
          type: "object",
          additionalProperties: false,
          properties: {
            files: {
              type: "object",
              additionalProperties: false,
              required: ["collect_list"],
              properties: {
                collect_list: {
                  type: "array",
                  minItems: 1,
                  maxItems: 16384,
                  uniqueItems: true,
                  items: {
                    type: "object",
                    additionalProperties: false,
                    required: ["file_path"],
                    properties: {
                      file_path: { type: "string", maxLength: 4096 },
                      log_group_name: { type: "string", minLength: 1, maxLength: 512 },
                      log_stream_name: { type: "string", minLength: 1, maxLength: 512 },
                      log_group_class: { type: "string", minLength: 1, maxLength: 512 },
                      multi_line_start_pattern: { type: "string", minLength: 1, maxLength: 4096 },
                      timestamp_format: { type: "string", minLength: 1, maxLength: 4096 },
                      timezone: { enum: ["Local", "LOCAL", "UTC"] },
                      trim_timestamp: { type: "boolean" },
                      encoding: { type: "string", minLength: 1, maxLength: 4096 },
                      auto_removal: { type: "boolean" },
                      blacklist: { type: "string", minLength: 1, maxLength: 4096 },
                      publish_multi_logs: { type: "boolean" },
                      retention_in_days: { type: "integer" },
                      filters: { type: "array" },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

describe("CloudWatch agent: the hosts' files shipped into the regime's log groups", () => {
  const validate = new Ajv({ allErrors: true }).compile(AGENT_LOGS_SCHEMA);
  const collect = (config: string) => JSON.parse(config).logs.logs_collected.files.collect_list as Record<string, unknown>[];

  it("renders one logs config per tagged group and per SSH host, in the agent's shape", () => {
    expect(Object.keys(component.agentLogConfigs).sort()).toEqual(["bigshot/10.0.0.5", "bigshot/bigshot.example.com", "crm"]);
    for (const [key, config] of Object.entries(component.agentLogConfigs)) {
      expect(validate(JSON.parse(config)), `${key}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(collect(component.agentLogConfigs.crm)).toEqual([
      // A glob: every match is shipped (the agent otherwise tails only the newest), one stream each.
      { file_path: "/app/logs/*.log", log_group_name: "/app/crm/backend", log_stream_name: "{instance_id}", publish_multi_logs: true },
      { file_path: "/var/log/nginx/access.log", log_group_name: "/app/crm/nginx", log_stream_name: "{instance_id}", timestamp_format: "%d/%b/%Y:%H:%M:%S %z" },
    ]);
    // SSH hosts have no instance id: the stream is the host's name; relative files are under appRoot.
    expect(collect(component.agentLogConfigs["bigshot/bigshot.example.com"])).toEqual([
      { file_path: "/opt/bigshot/logs/app.log", log_group_name: "/bigshot/app", log_stream_name: "bigshot.example.com", multi_line_start_pattern: "^\\d{4}-\\d{2}-\\d{2} " },
    ]);
  });

  it("the schema check is not vacuous: it refuses what the agent refuses", () => {
    const bad = JSON.parse(component.agentLogConfigs.crm);
    bad.logs.logs_collected.files.collect_list[0].retention = 30;
    expect(validate(bad)).toBe(false);
    expect(validate({ logs: { logs_collected: { files: { collect_list: [{ log_group_name: "/x" }] } } } })).toBe(false);
    expect(validate({ logs: {} })).toBe(false);
  });

  it("combines with the metrics config of the host alarms: disjoint sections, together still the agent's shape", async () => {
    const { HostAlarms } = await import("../components/host-alarms");
    const hosts = new HostAlarms("hosts", {
      regime: "prod",
      hosts: [{ name: "app-1", instanceId: "i-0123456789abcdef0", cpu: { warn: 80, crit: 90, minutes: 10 }, memory: { warn: 85, crit: 95, minutes: 10 }, disk: { warn: 85, crit: 95, minutes: 10 }, diskPath: "/", statusCheck: { severity: "P1", minutes: 2 }, detailedMonitoring: false }],
      applications: [],
      databases: [],
      alarmTopics: TOPICS,
    });
    const metrics = JSON.parse(hosts.agentConfig);
    const logsConfig = JSON.parse(component.agentLogConfigs.crm);
    expect(Object.keys(metrics)).toEqual(["metrics"]);
    expect(Object.keys(logsConfig)).toEqual(["logs"]);
    expect(validate({ ...metrics, ...logsConfig })).toBe(true);
    // Only the dimension sets the memory and disk alarms read: memory by InstanceId (its original),
    // disk rolled up to InstanceId and path, its original (with fstype) not sent, no per-instance disk roll-up.
    expect(metrics.metrics.aggregation_dimensions).toEqual([["InstanceId", "path"]]);
    expect(metrics.metrics.metrics_collected.disk).toMatchObject({ resources: ["/"], drop_device: true, drop_original_metrics: ["disk_used_percent"] });
    expect(metrics.metrics.metrics_collected.mem).not.toHaveProperty("drop_original_metrics");
  });

  it("every shipped file goes to a log group the component creates, with a retention; the agent sets none", () => {
    const created = new Map(byType("aws:cloudwatch/logGroup:LogGroup").map((r) => [r.inputs.name as string, r.inputs.retentionInDays as number]));
    const entries = Object.values(component.agentLogConfigs).flatMap(collect);
    expect(entries.length).toBe(4);
    for (const e of entries) {
      expect(created.has(e.log_group_name as string), String(e.log_group_name)).toBe(true);
      expect(LOG_RETENTION_DAYS as readonly number[]).toContain(created.get(e.log_group_name as string));
      expect(e).not.toHaveProperty("retention_in_days");
      expect(String(e.file_path).startsWith("/"), String(e.file_path)).toBe(true);
    }
  });

  it("tagged instances: the config in an AmazonCloudWatch- parameter, after the group's log groups exist", async () => {
    const p = one("aws:ssm/parameter:Parameter", "logs-crm-cwagent-config");
    expect(p.inputs).toEqual({
      name: "AmazonCloudWatch-prod-crm-logs",
      description: "CloudWatch agent logs config of prod/crm: the files shipped into its log groups",
      type: "String",
      tier: "Standard",
      insecureValue: component.agentLogConfigs.crm,
      tags: { Regime: "prod" },
    });
    expect(await waitFor(component.agentConfigParameterNames.crm)).toBe("AmazonCloudWatch-prod-crm-logs");
    const deps = children.find((c) => c.name === "logs-crm-cwagent-config")!.dependsOn as { urn: unknown }[];
    const groupUrns = await Promise.all(deps.map((d) => waitFor(d.urn as never)));
    expect(groupUrns.map((u) => String(u).split("::").pop()).sort()).toEqual(["logs-crm-backend-log-group", "logs-crm-nginx-log-group"]);
  });

  it("tagged instances: AmazonCloudWatch-ManageAgent appends the parameter on the group's tag and schedule, restarting the agent", () => {
    const a = one("aws:ssm/association:Association", "logs-crm-cwagent-association");
    expect(a.inputs).toEqual({
      name: "AmazonCloudWatch-ManageAgent",
      associationName: `prod-crm-cloudwatch-logs-${createHash("sha256").update(component.agentLogConfigs.crm).digest("hex").slice(0, 8)}`,
      parameters: {
        action: "configure (append)",
        mode: "ec2",
        optionalConfigurationSource: "ssm",
        optionalConfigurationLocation: "AmazonCloudWatch-prod-crm-logs",
        optionalRestart: "yes",
      },
      targets: [{ key: "tag:Regime", values: ["iswitch-crm"] }],
      scheduleExpression: "cron(0 3 ? * * *)",
      applyOnlyAtCronInterval: true,
      complianceSeverity: "MEDIUM",
      maxConcurrency: "25%",
      maxErrors: "10%",
      tags: { Regime: "prod" },
    });
    // A group without files gets no agent config.
    expect(resources.filter((r) => r.name.startsWith("logs-boardroom-cwagent"))).toEqual([]);
  });

  it("a changed file list changes the parameter and the association (which then runs again), not the association's target", async () => {
    const changed = parseLogs({ hostGroups: [{ ...LOGS.hostGroups![0], logGroups: [{ id: "backend", name: "/app/crm/backend", files: ["/app/logs/*.jsonl"] }] }] });
    const before = resources.length;
    const c4 = new mod.LogRotation("logs4", { regime: "prod", logs: changed, defaultRetentionDays: 30, alarmTopics: TOPICS });
    await waitFor(c4.logrotateConfigs);
    await settle();
    const added = resources.slice(before);
    const param = added.find((r) => r.name === "logs4-crm-cwagent-config")!;
    const assoc = added.find((r) => r.name === "logs4-crm-cwagent-association")!;
    expect(param.inputs.name).toBe("AmazonCloudWatch-prod-crm-logs");
    expect(param.inputs.insecureValue).toContain('"file_path":"/app/logs/*.jsonl"');
    expect(param.inputs.insecureValue).not.toBe(component.agentLogConfigs.crm);
    const first = one("aws:ssm/association:Association", "logs-crm-cwagent-association").inputs;
    expect(assoc.inputs.associationName).not.toBe(first.associationName);
    expect(assoc.inputs.targets).toEqual(first.targets);
  });

  it("SSH hosts: the config on stdin as root, then append-config in the host's agent mode; re-run when it changes", () => {
    const onPrem = one("command:remote:Command", "logs-bigshot-cwagent-ssh-10-0-0-5");
    const ec2 = one("command:remote:Command", "logs-bigshot-cwagent-ssh-bigshot-example-com");
    const script = renderAgentScript({ regime: "prod", group: "bigshot", config: component.agentLogConfigs["bigshot/10.0.0.5"], mode: "onPremise" });
    expect(onPrem.inputs.create).toBe(delivery.SSH_RUN_AS_ROOT);
    expect(onPrem.inputs.stdin).toBe(script);
    expect(onPrem.inputs.triggers).toEqual([createHash("sha256").update(script).digest("hex")]);
    expect(script).toContain('"$CTL" -a append-config -m onPremise -c "file:$DIR/prod-bigshot-cloudwatch-logs.json" -s');
    expect(ec2.inputs.stdin).toContain('"$CTL" -a append-config -m ec2 -c "file:$DIR/prod-bigshot-cloudwatch-logs.json" -s');
    expect(ec2.inputs.connection.value).toMatchObject({ host: "bigshot.example.com", user: "root", port: 2222 });
    expect(ec2.inputs.connection["4dabf18193072939515e22adb298388d"]).toBe("1b47061264138c4ac30d75fd1eb44270");
    expect(children.find((c) => c.name === "logs-bigshot-cwagent-ssh-10-0-0-5")!.dependsOn).toHaveLength(1);
  });
});
