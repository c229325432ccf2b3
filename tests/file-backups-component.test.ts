import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { MOCK_CREATION_DATE, MOCK_REGION, mockTopics, settle, setupMocks, waitFor, type MockResource } from "./helpers/pulumi-mocks";
import { gateOf } from "./helpers/metric-math";
import { parseLogs, type LogsInput } from "../regime/logs";
import { renderCronFile, renderFileBackupInstallScript, renderFileBackupScript } from "../regime/file-backups";

const { resources } = setupMocks();

const TOPICS = mockTopics("prod");

/** Seed 002 (Boardroom AI, tagged EC2 instances) and seed 000 (iSwitch Roofs CRM, over SSH). */
const LOGS: LogsInput = {
  hostGroups: [
    {
      name: "boardroom",
      target: { tagKey: "App", tagValue: "boardroom" },
      appRoot: "/home/app/boardroom",
      logSets: [{ name: "boardroom", paths: ["logs/*.jsonl"], frequency: "weekly", maxAgeDays: 30, copytruncate: true, archive: { prefix: "boardroom-logs", expireDays: 365 } }],
      fileBackups: [
        { name: "app-files", paths: [".env.production", "docker-compose.yml", "logs/", "uploads/"], exclude: ["*.tmp"] },
        { name: "uploads-weekdays", paths: ["uploads/"], schedule: { at: "weekdays at 23:15", timezone: "UTC" }, retentionDays: 14, severity: "P2" },
      ],
    },
    {
      name: "iswitch-crm",
      sshHosts: [
        { host: "10.0.0.7", user: "deploy" },
        { host: "crm.example.com", user: "root", port: 2222 },
      ],
      sshPrivateKeyConfig: "iswitchSshKey",
      appRoot: "/opt/iswitch-crm",
      fileBackups: [
        { name: "config", paths: [".env", "config.toml"] },
        { name: "uploads", paths: ["uploads/"], schedule: { at: "weekly on Sunday at 04:30", timezone: "UTC" }, retentionDays: 90 },
      ],
    },
  ],
};

const BUCKET = "prod-log-archive-logs-archive";
const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;

type Mod = typeof import("../components/logs");
let mod: Mod;
let delivery: typeof import("../components/host-delivery");
let archiveMod: typeof import("../components/log-archive");
let component: InstanceType<Mod["LogRotation"]>;
// The regime's timezone is not UTC: backups that name UTC run as written.
const logs = parseLogs(LOGS, "America/New_York");
const byType = (t: string): MockResource[] => resources.filter((r) => r.type === t);
const one = (t: string, name: string): MockResource => {
  const found = resources.filter((r) => r.type === t && r.name === name);
  expect(found, `${t} ${name}`).toHaveLength(1);
  return found[0];
};
const script = (group: number, backup: number, host?: string) =>
  renderFileBackupScript({ regime: "prod", group: logs.hostGroups[group], backup: logs.hostGroups[group].fileBackups[backup], bucket: BUCKET, region: MOCK_REGION, namespace: "MaintenanceRegime", host });

beforeAll(async () => {
  mod = await import("../components/logs");
  delivery = await import("../components/host-delivery");
  archiveMod = await import("../components/log-archive");
  component = new mod.LogRotation("logs", {
    regime: "prod",
    logs,
    defaultRetentionDays: 30,
    alarmTopics: TOPICS,
    sshPrivateKeys: { iswitchSshKey: "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n" },
  });
  await waitFor(component.logrotateConfigs);
  await settle();
});

describe("file backups under Pulumi mocks", () => {
  it("registers one document + association per tagged backup, one SSH command per host, one writer policy per group, one alarm per backup", () => {
    const counts: Record<string, number> = {};
    for (const r of resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toMatchObject({
      "aws:s3/bucket:Bucket": 1,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
      // the log archive writer + one file backup writer per host group
      "aws:iam/policy:Policy": 3,
      // the boardroom logrotate document + two backups
      "aws:ssm/document:Document": 3,
      "aws:ssm/association:Association": 3,
      "command:remote:Command": 2,
      // one missed-run alarm per tagged backup, one per SSH host of each SSH backup, + the boardroom
      // group's association-failure alarm (its rule below). The weekly backup has none: no alarm can
      // look back a week plus its margins.
      "aws:cloudwatch/metricAlarm:MetricAlarm": 5,
      // the watch start of each SSH host's backups (the daily one's alarm, the weekly one's watcher job)
      "command:local:Command": 4,
      "aws:cloudwatch/eventRule:EventRule": 1,
    });
  });

  it("SSM document: Command, schema 2.2, runs the backup script with an hour's timeout", async () => {
    const doc = one("aws:ssm/document:Document", "logs-boardroom-app-files-file-backup-document");
    expect(doc.inputs).toMatchObject({ name: "prod-boardroom-file-backup-app-files", documentType: "Command", documentFormat: "JSON" });
    const content = JSON.parse(doc.inputs.content);
    expect(content.schemaVersion).toBe("2.2");
    expect(content.mainSteps).toEqual([
      {
        action: "aws:runShellScript",
        name: "backupFiles",
        precondition: { StringEquals: ["platformType", "Linux"] },
        inputs: { timeoutSeconds: "3600", runCommand: script(0, 0).split("\n") },
      },
    ]);
    const s = script(0, 0);
    expect(s).toContain("set -euo pipefail");
    expect(s).toContain(`BUCKET='${BUCKET}'`);
    expect(s).toContain('KEY="files/boardroom/app-files/$HOST/$STAMP.tar.gz"');
    expect(s).toContain("tar -czf - -C / --exclude='*.tmp' -- 'home/app/boardroom/.env.production' 'home/app/boardroom/docker-compose.yml' 'home/app/boardroom/logs/' 'home/app/boardroom/uploads/'");
    expect(s).toContain('aws s3api create-multipart-upload --bucket "$BUCKET" --key "$KEY" --server-side-encryption aws:kms --region "$REGION"');
    expect(s).toContain("aws s3api complete-multipart-upload --bucket \"$BUCKET\" --key \"$KEY\" --upload-id \"$UPLOAD_ID\" --multipart-upload \"file://$WORK/parts.json\" --if-none-match '*'");
    expect(await waitFor(component.fileBackupScripts["boardroom/app-files"])).toBe(s);
    expect(await waitFor(component.fileBackupDocumentNames["boardroom/app-files"])).toBe("prod-boardroom-file-backup-app-files");
    // SSH groups get no document.
    expect(Object.keys(component.fileBackupDocumentNames).sort()).toEqual(["boardroom/app-files", "boardroom/uploads-weekdays"]);
  });

  it("associations target the group's tag on each backup's UTC cron, pinned to the document version; every host tries", () => {
    const daily = one("aws:ssm/association:Association", "logs-boardroom-app-files-file-backup-association");
    expect(daily.inputs).toMatchObject({
      name: "prod-boardroom-file-backup-app-files",
      associationName: "prod-boardroom-file-backup-app-files",
      documentVersion: "1",
      targets: [{ key: "tag:App", values: ["boardroom"] }],
      scheduleExpression: "cron(0 3 * * ? *)",
      applyOnlyAtCronInterval: true,
      maxErrors: "100%",
    });
    const weekdays = one("aws:ssm/association:Association", "logs-boardroom-uploads-weekdays-file-backup-association");
    expect(weekdays.inputs).toMatchObject({ targets: [{ key: "tag:App", values: ["boardroom"] }], scheduleExpression: "cron(15 23 ? * MON-FRI *)" });
  });

  it("SSH hosts: one command each installs every backup script (the host's own copy) and cron file of the group, as root, re-run when they change", () => {
    const g = logs.hostGroups[1];
    const backupsOn = (host: string) =>
      Object.fromEntries(
        g.fileBackups.map((b, i) => {
          const s = b.schedule;
          return [b.name, { script: script(1, i, host), cron: renderCronFile({ regime: "prod", group: g.name, name: b.name, hostCron: s.hostCron!, description: s.description }) }];
        }),
      );
    const backups = backupsOn("10.0.0.7");
    const install = renderFileBackupInstallScript({ regime: "prod", group: "iswitch-crm", backups });
    const a = one("command:remote:Command", "logs-iswitch-crm-file-backups-ssh-10-0-0-7");
    const b = one("command:remote:Command", "logs-iswitch-crm-file-backups-ssh-crm-example-com");
    expect(a.inputs.create).toBe(delivery.SSH_RUN_AS_ROOT);
    expect(a.inputs.stdin).toBe(install);
    expect(a.inputs.triggers).toEqual([createHash("sha256").update(install).digest("hex")]);
    expect(b.inputs.stdin).toBe(renderFileBackupInstallScript({ regime: "prod", group: "iswitch-crm", backups: backupsOn("crm.example.com") }));
    expect(b.inputs.stdin).not.toBe(install);
    expect(install).toContain(Buffer.from(backups.uploads.cron).toString("base64"));
    expect(install).toContain(Buffer.from(backups.config.script).toString("base64"));
    // The copies differ only in the host their success metric names.
    expect(backups.config.script).toContain("--dimensions 'service=prod,Task=file-backup,Instance=iswitch-crm/config,Host=10.0.0.7'");
    expect(backupsOn("crm.example.com").config.script).toContain("--dimensions 'service=prod,Task=file-backup,Instance=iswitch-crm/config,Host=crm.example.com'");
    expect(backups.uploads.cron).toContain("\n30 4 * * 0 root timeout --kill-after=60 3600 /usr/local/sbin/maintenance-regime-iswitch-crm-uploads-backup ");
    expect(a.inputs.connection["4dabf18193072939515e22adb298388d"]).toBe("1b47061264138c4ac30d75fd1eb44270");
    expect(b.inputs.connection.value).toMatchObject({ host: "crm.example.com", user: "root", port: 2222 });
  });

  it("the log archive bucket expires each backup prefix after its retention, noncurrent versions a day later", () => {
    const rules = one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "logs-archive-lifecycle").inputs.rules;
    expect(rules).toEqual([
      { id: "expire-boardroom-logs", status: "Enabled", filter: { prefix: "boardroom-logs/" }, expiration: { days: 365 }, noncurrentVersionExpiration: { noncurrentDays: 1 } },
      ...[
        ["boardroom", "app-files", 30],
        ["boardroom", "uploads-weekdays", 14],
        ["iswitch-crm", "config", 30],
        ["iswitch-crm", "uploads", 90],
      ].map(([g, n, days]) => ({
        id: `expire-files-${g}-${n}`,
        status: "Enabled",
        filter: { prefix: `files/${g}/${n}/` },
        expiration: { days },
        noncurrentVersionExpiration: { noncurrentDays: 1 },
      })),
      // What no configured prefix covers (a removed log set or file backup): the longest days of all, of the file backups under files/.
      { id: "catch-all.bucket", status: "Enabled", filter: { prefix: "" }, expiration: { days: 365 }, noncurrentVersionExpiration: { noncurrentDays: 1 } },
      { id: "catch-all.files", status: "Enabled", filter: { prefix: "files/" }, expiration: { days: 90 }, noncurrentVersionExpiration: { noncurrentDays: 1 } },
      { id: "abort-incomplete-uploads", status: "Enabled", filter: { prefix: "" }, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } },
      { id: "remove-expired-delete-markers", status: "Enabled", filter: { prefix: "" }, expiration: { expiredObjectDeleteMarker: true } },
    ]);
    // The bucket stays versioned, SSE-KMS and TLS only (the logs component's hardening).
    expect(one("aws:s3/bucketVersioning:BucketVersioning", "logs-archive-versioning").inputs.versioningConfiguration).toEqual({ status: "Enabled" });
    expect(one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "logs-archive-sse").inputs.rules[0].applyServerSideEncryptionByDefault).toEqual({ sseAlgorithm: "aws:kms" });
  });

  it("writer policy per group: s3:PutObject on exactly its backup prefixes, the metric only in the regime's namespace", async () => {
    for (const [group, names] of [
      ["boardroom", ["app-files", "uploads-weekdays"]],
      ["iswitch-crm", ["config", "uploads"]],
    ] as const) {
      const p = one("aws:iam/policy:Policy", `logs-${group}-file-backup-writer`);
      expect(p.inputs.name).toBe(`prod-${group}-file-backup-writer`);
      expect(JSON.parse(p.inputs.policy)).toEqual({
        Version: "2012-10-17",
        Statement: [
          { Sid: "PutFileBackups", Effect: "Allow", Action: ["s3:PutObject", "s3:AbortMultipartUpload"], Resource: names.map((n) => `${BUCKET_ARN}/files/${group}/${n}/*`) },
          {
            Sid: "RecordFileBackups",
            Effect: "Allow",
            Action: ["cloudwatch:PutMetricData"],
            Resource: ["*"],
            Condition: { StringEquals: { "cloudwatch:namespace": "MaintenanceRegime" } },
          },
        ],
      });
      expect(await waitFor(component.fileBackupWriterPolicyArns[group])).toBe(`arn:aws:iam::123456789012:policy/prod-${group}-file-backup-writer`);
    }
    // The log archive writer keeps to the rotated logs' prefix.
    expect(JSON.parse(one("aws:iam/policy:Policy", "logs-archive-writer").inputs.policy).Statement[0].Resource).toEqual([`${BUCKET_ARN}/boardroom-logs/*`]);
  });

  it("alarms: no backup recorded within the interval (+ an hour, weekly: none) is breaching, at the backup's severity", () => {
    const alarms: Record<string, Record<string, any>> = Object.fromEntries(byType("aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => [r.inputs.name, r.inputs]));
    expect(Object.keys(alarms).sort()).toEqual([
      "prod-logs-boardroom-associations-failed-P2",
      "prod-logs-boardroom-backup-app-files-missed-run-P1",
      "prod-logs-boardroom-backup-uploads-weekdays-missed-run-P2",
      "prod-logs-iswitch-crm-backup-config-host-10-0-0-7-missed-run-P1",
      "prod-logs-iswitch-crm-backup-config-host-crm-example-com-missed-run-P1",
    ]);
    const daily = alarms["prod-logs-boardroom-backup-app-files-missed-run-P1"];
    // 24 h + an hour of delivery margin + its hour-long run + 5 min until its success is seen: 1565 min
    // in 5 periods; gated on the watch start, its SSM document's creation (mocked).
    expect(gateOf(daily)).toEqual({
      metrics: [{ id: "backups", namespace: "MaintenanceRegime", metricName: "TaskSucceeded", dimensions: { service: "prod", Task: "file-backup", Instance: "boardroom/app-files" }, stat: "Sum", period: 18780 }],
      expression: `IF(EPOCH(backups) < ${Date.parse(MOCK_CREATION_DATE) / 1000}, 1, FILL(backups, 0))`,
    });
    expect(daily).toMatchObject({
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "breaching",
      actionsEnabled: true,
      alarmActions: [TOPICS.P1],
      okActions: [TOPICS.P1],
    });
    expect(daily.alarmDescription).toContain("No file backup boardroom/app-files was recorded in 1565 minutes (daily at 03:00 UTC)");
    // weekdays: the longest gap is Friday 23:15 to Monday 23:15 (72 h), + 2 h 5 min: 4445 min in five periods
    expect(alarms["prod-logs-boardroom-backup-uploads-weekdays-missed-run-P2"]).toMatchObject({ evaluationPeriods: 5, alarmActions: [TOPICS.P2] });
    expect(gateOf(alarms["prod-logs-boardroom-backup-uploads-weekdays-missed-run-P2"]).metrics[0].period).toBe(53340);
    const crm = alarms["prod-logs-iswitch-crm-backup-config-host-crm-example-com-missed-run-P1"];
    expect(crm).toMatchObject({ evaluationPeriods: 5, treatMissingData: "breaching", alarmActions: [TOPICS.P1] });
    // Gated on the host's own watch start: the stamp of the first install of its cron (mocked).
    expect(gateOf(crm)).toEqual({
      metrics: [{ id: "backups", namespace: "MaintenanceRegime", metricName: "TaskSucceeded", dimensions: { service: "prod", Task: "file-backup", Instance: "iswitch-crm/config", Host: "crm.example.com" }, stat: "Sum", period: 18780 }],
      expression: `IF(EPOCH(backups) < ${Date.parse(MOCK_CREATION_DATE) / 1000}, 1, FILL(backups, 0))`,
    });
    expect(crm.alarmDescription).toBe(
      "[P1] No file backup iswitch-crm/config was recorded from SSH host crm.example.com in 1565 minutes (daily at 03:00 UTC). The other hosts of the group are watched on their own. " +
        "On crm.example.com (ssh -p 2222 root@crm.example.com) read `journalctl -t maintenance-regime-iswitch-crm-config` (or syslog) for the last run's error, check that /etc/cron.d/maintenance-regime-iswitch-crm-config is there, " +
        "the disk has room (df -h), the aws CLI runs and the host's credentials carry the prod-iswitch-crm-file-backup-writer policy. Then run /usr/local/sbin/maintenance-regime-iswitch-crm-config-backup there as root.",
    );
    expect(alarms["prod-logs-iswitch-crm-backup-config-host-10-0-0-7-missed-run-P1"].alarmDescription).toContain("On 10.0.0.7 (ssh deploy@10.0.0.7) read");
    // The metric the script writes is the one the alarm watches.
    expect(script(0, 0)).toContain(
      "aws cloudwatch put-metric-data --region \"$REGION\" --namespace 'MaintenanceRegime' --metric-name TaskSucceeded --unit Count --value 1 --dimensions 'service=prod,Task=file-backup,Instance=boardroom/app-files'",
    );
  });

  it("SSH hosts are watched one by one: a run on 10.0.0.7 is seen by its own alarm only, so crm.example.com, which stopped, still pages", () => {
    const alarms = byType("aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => r.inputs);
    // What 10.0.0.7's copy of the script sends after a backup (its --dimensions, as CloudWatch stores them).
    const sent = /--dimensions '([^']+)'/.exec(script(1, 0, "10.0.0.7"))![1];
    const point = Object.fromEntries(sent.split(",").map((kv) => kv.split("=") as [string, string]));
    // A metric alarm reads one metric: the namespace, name and exactly its dimension set.
    const sees = (a: Record<string, any>) =>
      gateOf(a).metrics.some((m) => m.namespace === "MaintenanceRegime" && m.metricName === "TaskSucceeded" && JSON.stringify(Object.entries(m.dimensions ?? {}).sort()) === JSON.stringify(Object.entries(point).sort()));
    // Missing data is breaching: an alarm that sees no success pages.
    const paging = alarms.filter((a) => /-iswitch-crm-backup-config-/.test(a.name) && a.treatMissingData === "breaching" && !sees(a)).map((a) => a.name);
    expect(alarms.filter(sees).map((a) => a.name)).toEqual(["prod-logs-iswitch-crm-backup-config-host-10-0-0-7-missed-run-P1"]);
    expect(paging).toEqual(["prod-logs-iswitch-crm-backup-config-host-crm-example-com-missed-run-P1"]);
    // The tagged group's alarm reads the metric without Host, which its instances send.
    expect(gateOf(alarms.find((a) => a.name === "prod-logs-boardroom-backup-app-files-missed-run-P1")!).metrics[0].dimensions).toEqual({ service: "prod", Task: "file-backup", Instance: "boardroom/app-files" });
  });

  it("a weekly backup on 2 SSH hosts is 2 overdue-watcher jobs, each reading its host's metric from its own watch start, stamped after that host's install", async () => {
    const weekly = component.watchedJobs.filter((j) => j.job.startsWith("file-backup/iswitch-crm/"));
    expect(weekly.map((j) => [j.job, j.resource, j.history?.metric?.dimensions])).toEqual([
      ["file-backup/iswitch-crm/uploads/10.0.0.7", "logs-iswitch-crm-backup-uploads-host-10-0-0-7", { service: "prod", Task: "file-backup", Instance: "iswitch-crm/uploads", Host: "10.0.0.7" }],
      ["file-backup/iswitch-crm/uploads/crm.example.com", "logs-iswitch-crm-backup-uploads-host-crm-example-com", { service: "prod", Task: "file-backup", Instance: "iswitch-crm/uploads", Host: "crm.example.com" }],
    ]);
    expect(weekly[1].description).toBe("file backup iswitch-crm/uploads on SSH host crm.example.com (weekly on Sunday at 04:30 UTC)");
    expect(weekly[1].byHand).toMatch(/^then on crm\.example\.com \(ssh -p 2222 root@crm\.example\.com\) read `journalctl -t maintenance-regime-iswitch-crm-uploads`/);
    const stamps = byType("command:local:Command");
    expect(stamps.map((r) => r.name).sort()).toEqual([
      "logs-iswitch-crm-config-file-backup-since-10-0-0-7",
      "logs-iswitch-crm-config-file-backup-since-crm-example-com",
      "logs-iswitch-crm-uploads-file-backup-since-10-0-0-7",
      "logs-iswitch-crm-uploads-file-backup-since-crm-example-com",
    ]);
    for (const r of stamps) expect(r.inputs.create).toBe("date -u +%Y-%m-%dT%H:%M:%SZ");
    expect(await waitFor(pulumi.output(weekly[0].since!))).toMatch(/^\d{4}-\d\d-\d\dT/);
    // Boardroom's tagged instances back up daily and on weekdays: their missed-run alarms watch them, no watcher job.
    expect(component.watchedJobs.filter((j) => j.job.startsWith("file-backup/boardroom/"))).toEqual([]);
  });

  it("an alarm name stays within CloudWatch's 255 characters for the longest names; a long host keeps its start and a hash", async () => {
    const { fileBackupHostAlarmResource } = await import("../components/file-backups");
    const { alarmName } = await import("../components/alarms");
    const regime = "r".repeat(24);
    const group = "g".repeat(40);
    const backup = "b".repeat(40);
    const long = `${"a".repeat(120)}.example.com`;
    const other = `${"a".repeat(120)}.example.org`;
    const name = (host: string) => alarmName(regime, { resource: fileBackupHostAlarmResource(regime, group, backup, host), metric: "missed-run", severity: "P0" });
    expect(name(long).length).toBe(255);
    expect(name(long)).toMatch(new RegExp(`^${regime}-logs-${group}-backup-${backup}-host-a+-[0-9a-f]{8}-missed-run-P0$`));
    expect(name(other)).not.toBe(name(long));
    expect(name("10.0.0.7")).toBe(`${regime}-logs-${group}-backup-${backup}-host-10-0-0-7-missed-run-P0`);
  });

  it("refuses, where the config is loaded and so before registering anything, a schedule in the regime's non-UTC timezone and an SSH schedule cron cannot write", async () => {
    const before = resources.length;
    const local = { hostGroups: [{ ...LOGS.hostGroups![0], fileBackups: [{ name: "app-files", paths: ["uploads/"], schedule: "daily at 03:00" }] }] };
    expect(() => parseLogs(local, "Europe/Berlin", "logs.")).toThrow(
      new Error(
        'logs.hostGroups[0].fileBackups[0].schedule: "daily at 03:00" is in Europe/Berlin, but State Manager and cron run file backups in UTC (daylight saving would move a converted time); write it in UTC: { at: "daily at 03:00", timezone: UTC } with the UTC time',
      ),
    );
    const ssh = { hostGroups: [{ ...LOGS.hostGroups![1], fileBackups: [{ ...LOGS.hostGroups![1].fileBackups![0], schedule: "cron(0 3 ? * 1#1,1#2,1#3,1#4,1#5 *)" }] }] };
    expect(() => parseLogs(ssh, "UTC", "logs.")).toThrow(
      new Error("logs.hostGroups[0].fileBackups[0].schedule: the group's SSH hosts run it from cron, and cron cannot express 1#1,1#2,1#3,1#4,1#5 (last, nearest weekday or n-th weekday)"),
    );
    await settle();
    expect(resources.length).toBe(before);
  });
});

describe("every retention the config states is what the log archive bucket keeps, and nothing is written twice", () => {
  const rules = () => one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "logs-archive-lifecycle").inputs.rules;
  /** Keys the hosts write: an archived rotation (host, full path, date to the second) and a file backup with its manifest. */
  const stated: [string, number][] = [
    ["boardroom-logs/ip-10-0-1-5/home/app/boardroom/logs/app.jsonl-20261130-030000.gz", 365],
    ...logs.hostGroups.flatMap((g) =>
      g.fileBackups.flatMap((b): [string, number][] => [
        [`files/${g.name}/${b.name}/app-1/20261129T030000Z.tar.gz`, b.retentionDays],
        [`files/${g.name}/${b.name}/app-1/20261129T030000Z.tar.gz.sha256`, b.retentionDays],
      ]),
    ),
  ];

  it("each archive and file backup is readable exactly its stated days, then kept one day as a noncurrent version", async () => {
    const { keptFor } = await import("../regime/retention");
    expect(stated).toHaveLength(9);
    for (const [key, days] of stated) {
      const kept = keptFor(rules(), key);
      expect({ key, readable: kept.readableDays, noncurrent: kept.noncurrentDays }).toEqual({ key, readable: days, noncurrent: archiveMod.ARCHIVE_NONCURRENT_DAYS });
    }
    expect(archiveMod.ARCHIVE_NONCURRENT_DAYS).toBe(1);
  });

  it("the bucket policy refuses an upload over an existing key (no If-None-Match) under every archive and backup prefix; multipart parts pass", async () => {
    const { runSimulation } = await import("@cloud-copilot/iam-simulate");
    const policy = JSON.parse(one("aws:s3/bucketPolicy:BucketPolicy", "logs-archive-tls-only").inputs.policy);
    expect(policy.Statement[1]).toEqual({
      Sid: "WrittenOnce",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:PutObject",
      Resource: ["boardroom-logs/", "files/boardroom/app-files/", "files/boardroom/uploads-weekdays/", "files/iswitch-crm/config/", "files/iswitch-crm/uploads/"].map((p) => `${BUCKET_ARN}/${p}*`),
      Condition: { Null: { "s3:if-none-match": "true" }, BoolIfExists: { "s3:ObjectCreationOperation": "true" } },
    });
    // The hosts' own writer policies allow the put; the bucket policy decides.
    const writer = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:PutObject"], Resource: [`${BUCKET_ARN}/*`] }] };
    const decide = async (key: string, context: Record<string, string>) => {
      const r = await runSimulation(
        {
          request: { principal: "arn:aws:iam::123456789012:role/boardroom-host", action: "s3:PutObject", resource: { resource: `${BUCKET_ARN}/${key}`, accountId: "123456789012" }, contextVariables: { "aws:SecureTransport": "true", ...context } },
          identityPolicies: [{ name: "writer", policy: writer }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          resourcePolicy: policy,
        },
        {},
      );
      return (r as { overallResult?: string }).overallResult;
    };
    for (const [key] of stated) {
      // PutObject / CompleteMultipartUpload without the header: refused.
      expect(await decide(key, { "s3:ObjectCreationOperation": "true" }), key).toBe("ExplicitlyDenied");
      // With If-None-Match: * (what the hosts send): allowed; S3 itself refuses it when the key exists.
      expect(await decide(key, { "s3:ObjectCreationOperation": "true", "s3:if-none-match": "*" }), key).toBe("Allowed");
      // CreateMultipartUpload and UploadPart take no conditional header: exempt.
      expect(await decide(key, { "s3:ObjectCreationOperation": "false" }), key).toBe("Allowed");
    }
  });
});
