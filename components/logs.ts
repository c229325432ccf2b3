/**
 * Logs as code: logrotate configs and Docker log options rendered from the regime and delivered to the
 * hosts (SSM State Manager for tagged EC2 instances, SSH for the rest), an optional hardened S3 bucket
 * that receives archived rotated logs, CloudWatch log groups with retention, metric filters for
 * errors, HTTP 5xx, 401/403, failed logins and each log group's own patterns, and alarms on them, and the CloudWatch agent `logs`
 * config that ships the hosts' files into those groups (appended to the agent's configuration through
 * an SSM parameter and AmazonCloudWatch-ManageAgent for tagged instances, over SSH for the rest).
 * Container output: docker-compose services and named containers ship into their log groups through
 * Docker's awslogs driver (the compose `logging:` block and a writer policy per host group).
 * File backups: the hosts tar application files into the archive bucket under files/<group>/<name>/
 * (an SSM Command document + association on the backup's schedule for tagged instances, a cron file
 * over SSH for the rest), with a writer policy per host group and an alarm when no backup was recorded.
 */
import { createHash } from "node:crypto";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, type AlertTopics, type Severity } from "./alarms";
import { physicalName } from "./naming";
import { tlsOnlyStatement, writeOnceStatement } from "./backup-vault";
import { missedRunWindow, noSuccessWithin } from "./scheduled-task";
import { archivePrefix, BUILT_IN_LOG_METRICS, checkFileBackupSchedules, INSTANCE_STREAM, renderAgentLogsConfig, sshStreamName, type FileBackup, type HostGroup, type LogGroupConfig, type LogsConfig } from "../regime/logs";
import {
  FILE_BACKUP_METRIC,
  FILE_BACKUP_TASK,
  fileBackupPrefix,
  fileBackupSchedule,
  renderCronFile,
  renderFileBackupInstallScript,
  renderFileBackupScript,
} from "../regime/file-backups";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";
import { renderContainerLogging } from "../regime/container-logs";
import { policyJson } from "./iam";
import { renderAgentScript, renderDaemonJson, renderHostGroupConfigs, renderInstallScript } from "../regime/logrotate";

export interface LogsArgs {
  /** Regime name: prefix of every physical name. */
  regime: string;
  logs: LogsConfig;
  /** Retention of log groups that name none (the regime's logRetentionDays). */
  defaultRetentionDays: number;
  alarmTopics: AlertTopics;
  /** SSH private keys by the config key a host group names in `sshPrivateKeyConfig` (Pulumi secrets). */
  sshPrivateKeys?: Record<string, pulumi.Input<string>>;
  /** Days before incomplete multipart uploads to the archive bucket are aborted. */
  abortIncompleteUploadDays?: number;
  /** The regime's timezone: file backup schedules that name none are in it (and must be UTC). Default UTC. */
  timezone?: string;
  /** Region the hosts upload to and write metrics in; default the provider's. */
  region?: pulumi.Input<string>;
  tags?: Record<string, string>;
}

/** Default CloudWatch Logs filter patterns, by log format. Text access logs: nginx/Apache combined. */
export const DEFAULT_PATTERNS = {
  text: {
    errors: "?ERROR ?Error ?error ?FATAL ?CRITICAL",
    http5xx: "[ip, ident, user, timestamp, request, status_code = 5*, bytes, ...]",
    authFailures: "[ip, ident, user, timestamp, request, status_code = 401 || status_code = 403, bytes, ...]",
    failedLogins: '?"Failed password" ?"authentication failure" ?"login failed" ?"Login failed" ?"invalid credentials"',
    requests: "[ip, ident, user, timestamp, request, status_code, bytes, ...]",
  },
  json: {
    errors: '{ ($.level = "error") || ($.level = "ERROR") || ($.level = "fatal") || ($.level = "FATAL") || ($.levelname = "ERROR") || ($.levelname = "CRITICAL") }',
    http5xx: "{ $.status >= 500 }",
    authFailures: "{ ($.status = 401) || ($.status = 403) }",
    failedLogins: '{ ($.event = "login_failed") || (($.event = "login") && ($.success IS FALSE)) }',
    requests: "{ $.status > 0 }",
  },
} as const;

type CountMetric = "errors" | "http5xx" | "authFailures" | "failedLogins";

const COUNT_METRICS: { key: CountMetric; metric: string; what: string; runbook: string }[] = [
  { key: "errors", metric: BUILT_IN_LOG_METRICS.errors, what: "application errors", runbook: "Read the log group for the error lines and their stack traces; fix or open a ticket for recurring ones." },
  { key: "http5xx", metric: BUILT_IN_LOG_METRICS.http5xx, what: "HTTP 5xx responses", runbook: "Check the application's health and recent deploys; roll back if the errors started with a release." },
  { key: "authFailures", metric: BUILT_IN_LOG_METRICS.authFailures, what: "HTTP 401/403 responses", runbook: "Look for one source address or account probing endpoints; block it or rotate the exposed credentials." },
  { key: "failedLogins", metric: BUILT_IN_LOG_METRICS.failedLogins, what: "failed logins", runbook: "Look for brute force (one address, many accounts or one account, many tries); lock or rate-limit the source." },
];

export interface LogsOutputs {
  /** Host group -> log set -> rendered logrotate config. */
  logrotateConfigs: pulumi.Output<Record<string, Record<string, string>>>;
  /** Host group -> daemon.json (groups with Docker options only). */
  daemonJson: Record<string, string>;
}

export class LogRotation extends pulumi.ComponentResource implements LogsOutputs {
  public readonly logrotateConfigs: pulumi.Output<Record<string, Record<string, string>>>;
  public readonly daemonJson: Record<string, string>;
  /** Host group -> SSM document name (groups with an EC2 tag target). */
  public readonly ssmDocumentNames: Record<string, pulumi.Output<string>>;
  public readonly archiveBucketName?: pulumi.Output<string>;
  public readonly archiveBucketArn?: pulumi.Output<string>;
  /** IAM policy to attach to the instance roles of hosts that archive (s3:PutObject on their prefixes). */
  public readonly archiveWriterPolicyArn?: pulumi.Output<string>;
  /** Log group id (`<hostGroup>/<id>`) -> log group name. */
  public readonly logGroupNames: Record<string, pulumi.Output<string>>;
  /** CloudWatch agent logs config: `<hostGroup>` (tagged instances) and `<hostGroup>/<ssh host>` -> JSON. */
  public readonly agentLogConfigs: Record<string, string>;
  /** Host group -> SSM parameter holding its agent logs config (groups with a tag target and files). */
  public readonly agentConfigParameterNames: Record<string, pulumi.Output<string>>;
  /** Host group -> what to add to its compose file (services' `logging:`) and its `docker run` commands (groups that ship containers). */
  public readonly containerLogging: Record<string, pulumi.Output<string>>;
  /** Host group -> IAM policy dockerd's credentials need to write its containers' output (logs:CreateLogStream, PutLogEvents). */
  public readonly containerLogWriterPolicyArns: Record<string, pulumi.Output<string>>;
  /** Host group -> IAM policy its hosts' roles need to upload file backups and write the backup metric. */
  public readonly fileBackupWriterPolicyArns: Record<string, pulumi.Output<string>>;
  /** `<group>/<backup>` -> SSM document that runs the backup (groups with a tag target). */
  public readonly fileBackupDocumentNames: Record<string, pulumi.Output<string>>;
  /** `<group>/<backup>` -> the backup script the hosts run. */
  public readonly fileBackupScripts: Record<string, pulumi.Output<string>>;

  constructor(name: string, args: LogsArgs, opts?: pulumi.ComponentResourceOptions) {
    // Refused before anything is registered (the regime's loader refuses them too, with the same lines).
    checkFileBackupSchedules(args.logs, args.timezone ?? "UTC", "logs.");
    super("regime:logs:LogRotation", name, {}, opts);
    const tags = { ...(args.tags ?? {}), Regime: args.regime };
    const groups = args.logs.hostGroups;

    // ---------------------------------------------------------- archive bucket (only when a log set archives or a group backs up files)
    const archived = groups.flatMap((g) => g.logSets.filter((s) => s.archive).map((s) => ({ group: g.name, set: s })));
    const backedUp = groups.flatMap((g) => g.fileBackups.map((b) => ({ group: g, backup: b })));
    let bucketName: pulumi.Output<string> | undefined;
    let bucketArn: pulumi.Output<string> | undefined;
    if (archived.length > 0 || backedUp.length > 0) {
      const bucket = this.archiveBucket(
        name,
        args,
        [
          ...archived.map((a) => ({ prefix: archivePrefix(a.group, a.set), expireDays: a.set.archive!.expireDays })),
          ...backedUp.map((b) => ({ prefix: fileBackupPrefix(b.group.name, b.backup.name), expireDays: b.backup.retentionDays })),
        ],
        tags,
      );
      bucketName = bucket.bucket;
      bucketArn = bucket.arn;
      this.archiveBucketName = bucket.bucket;
      this.archiveBucketArn = bucket.arn;
    }
    if (archived.length > 0) {
      const bucket = { arn: bucketArn! };
      const policy = new aws.iam.Policy(
        `${name}-archive-writer`,
        {
          name: `${args.regime}-log-archive-writer`,
          description: `Lets hosts of ${args.regime} upload rotated logs to their archive prefixes`,
          policy: bucket.arn.apply((arn) =>
            JSON.stringify({
              Version: "2012-10-17",
              Statement: [
                // Each rotated file is put once (If-None-Match: *); nothing is listed, read or deleted.
                { Sid: "PutArchives", Effect: "Allow", Action: ["s3:PutObject"], Resource: archived.map((a) => `${arn}/${archivePrefix(a.group, a.set)}*`) },
              ],
            }),
          ),
          tags,
        },
        { parent: this },
      );
      this.archiveWriterPolicyArn = policy.arn;
    }

    // ---------------------------------------------------------- logrotate + daemon.json delivery
    const bucketInput: pulumi.Output<string> = bucketName ?? pulumi.output("");
    const configsByGroup: Record<string, pulumi.Output<Record<string, string>>> = {};
    this.daemonJson = {};
    this.ssmDocumentNames = {};
    for (const g of groups) {
      const configs = bucketInput.apply((b) => renderHostGroupConfigs(g, { regime: args.regime, archiveBucket: b || undefined }));
      configsByGroup[g.name] = configs;
      if (g.docker) this.daemonJson[g.name] = renderDaemonJson(g.docker);
      const containers = g.logGroups.flatMap((lg) => lg.containers.map((c) => ({ ...c, logGroup: lg.name })));
      if (g.logSets.length === 0 && !g.docker && containers.length === 0) continue;
      const script = configs.apply((c) => renderInstallScript({ regime: args.regime, group: g.name, configs: c, docker: g.docker, containers }));
      if (g.target) this.ssmDelivery(name, args, g, script, tags);
      if (g.sshHosts.length > 0) this.sshDelivery(name, args, g, script);
    }
    this.logrotateConfigs = pulumi.all(configsByGroup);

    // ---------------------------------------------------------- CloudWatch log groups, filters, alarms
    this.logGroupNames = {};
    const logGroupsOf: Record<string, aws.cloudwatch.LogGroup[]> = {};
    for (const g of groups) {
      logGroupsOf[g.name] = g.logGroups.map((lg) => {
        const group = this.logGroup(name, args, g, lg, tags);
        this.logGroupNames[`${g.name}/${lg.id}`] = group.name;
        return group;
      });
    }

    // ---------------------------------------------------------- container output: Docker's awslogs driver
    this.containerLogging = {};
    this.containerLogWriterPolicyArns = {};
    const shipsContainers = groups.filter((g) => g.logGroups.some((lg) => lg.containers.length > 0));
    if (shipsContainers.length > 0) {
      const region = pulumi.output(args.region ?? aws.getRegionOutput({}, { parent: this }).region);
      for (const g of shipsContainers) this.containerLogs(name, args, g, logGroupsOf[g.name], region, tags);
    }

    // ---------------------------------------------------------- CloudWatch agent: ship the files
    // Delivered after the log groups exist, so the agent never creates one without retention.
    this.agentLogConfigs = {};
    this.agentConfigParameterNames = {};
    for (const g of groups) {
      if (g.target) {
        const config = renderAgentLogsConfig(g, INSTANCE_STREAM);
        if (config) {
          this.agentLogConfigs[g.name] = config;
          this.agentSsmDelivery(name, args, g, config, logGroupsOf[g.name], tags);
        }
      }
      for (const h of g.sshHosts) {
        const config = renderAgentLogsConfig(g, sshStreamName(h.host));
        if (!config) continue;
        this.agentLogConfigs[`${g.name}/${h.host}`] = config;
        const script = renderAgentScript({ regime: args.regime, group: g.name, config, mode: h.agentMode });
        new command.remote.Command(
          `${name}-${g.name}-cwagent-ssh-${h.host.replace(/[^A-Za-z0-9-]/g, "-")}`,
          {
            connection: { host: h.host, user: h.user, port: h.port, privateKey: pulumi.secret(this.sshKey(args, g)) },
            create: SSH_RUN_AS_ROOT,
            stdin: script,
            triggers: [sha256(script)],
          },
          { parent: this, dependsOn: logGroupsOf[g.name] },
        );
      }
    }

    // ---------------------------------------------------------- file backups
    this.fileBackupWriterPolicyArns = {};
    this.fileBackupDocumentNames = {};
    this.fileBackupScripts = {};
    if (backedUp.length > 0) {
      const region = args.region ?? aws.getRegionOutput({}, { parent: this }).region;
      for (const g of groups.filter((x) => x.fileBackups.length > 0)) this.fileBackups(name, args, g, bucketName!, bucketArn!, region, tags);
    }

    // ---------------------------------------------------------- association runs that fail page
    for (const g of groups) this.associationFailureWatch(name, args, g, tags);

    this.registerOutputs({
      containerLogging: this.containerLogging,
      containerLogWriterPolicyArns: this.containerLogWriterPolicyArns,
      fileBackupWriterPolicyArns: this.fileBackupWriterPolicyArns,
      fileBackupDocumentNames: this.fileBackupDocumentNames,
      logrotateConfigs: this.logrotateConfigs,
      daemonJson: this.daemonJson,
      ssmDocumentNames: this.ssmDocumentNames,
      archiveBucketName: this.archiveBucketName,
      archiveBucketArn: this.archiveBucketArn,
      archiveWriterPolicyArn: this.archiveWriterPolicyArn,
      logGroupNames: this.logGroupNames,
      agentLogConfigs: this.agentLogConfigs,
      agentConfigParameterNames: this.agentConfigParameterNames,
    });
  }

  /**
   * A host group's container output (see regime/container-logs.ts for why Docker's awslogs driver per
   * container): the compose override / `docker run` flags that point each declared service or
   * container at its log group, and the policy dockerd's credentials need to write there
   * (logs:CreateLogStream and logs:PutLogEvents on the streams of exactly those groups; the groups
   * exist already, with their retention, so no CreateLogGroup).
   */
  private containerLogs(name: string, args: LogsArgs, g: HostGroup, logGroups: aws.cloudwatch.LogGroup[], region: pulumi.Output<string>, tags: Record<string, string>): void {
    this.containerLogging[g.name] = region.apply((r) => renderContainerLogging(g, r)!);
    const arns = g.logGroups.flatMap((lg, i) => (lg.containers.length > 0 ? [pulumi.interpolate`${logGroups[i].arn}:*`] : []));
    const policy = new aws.iam.Policy(
      `${name}-${g.name}-container-log-writer`,
      {
        name: `${args.regime}-${g.name}-container-log-writer`,
        description: `Lets dockerd on the hosts of ${args.regime}/${g.name} write its containers' output to their log groups`,
        policy: policyJson([{ Sid: "WriteContainerOutput", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: arns }]),
        tags,
      },
      { parent: this },
    );
    this.containerLogWriterPolicyArns[g.name] = policy.arn;
  }

  /**
   * A host group's file backups: the writer policy (s3:PutObject on exactly its backup prefixes, the
   * backup metric in the regime's namespace; the bucket's aws/s3 key lets every role of the account
   * encrypt through S3, so no KMS statement), per backup an SSM Command document + State Manager
   * association on the group's tag and the backup's UTC schedule, a cron file per SSH host, and an
   * alarm when no backup was recorded within the schedule's interval (missing data is breaching).
   */
  private fileBackups(
    name: string,
    args: LogsArgs,
    g: HostGroup,
    bucketName: pulumi.Output<string>,
    bucketArn: pulumi.Output<string>,
    region: pulumi.Input<string>,
    tags: Record<string, string>,
  ): void {
    const namespace = METRICS_NAMESPACE_DEFAULT;
    const policy = new aws.iam.Policy(
      `${name}-${g.name}-file-backup-writer`,
      {
        name: `${args.regime}-${g.name}-file-backup-writer`,
        description: `Lets hosts of ${args.regime}/${g.name} upload their file backups and record them`,
        policy: bucketArn.apply((arn) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              // PutObject covers the multipart calls; a backup whose tar failed aborts its own upload. Nothing is read or deleted.
              {
                Sid: "PutFileBackups",
                Effect: "Allow",
                Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
                Resource: g.fileBackups.map((b) => `${arn}/${fileBackupPrefix(g.name, b.name)}*`),
              },
              {
                Sid: "RecordFileBackups",
                Effect: "Allow",
                Action: ["cloudwatch:PutMetricData"],
                Resource: ["*"],
                Condition: { StringEquals: { "cloudwatch:namespace": namespace } },
              },
            ],
          }),
        ),
        tags,
      },
      { parent: this },
    );
    this.fileBackupWriterPolicyArns[g.name] = policy.arn;

    const cronFiles: Record<string, { script: pulumi.Output<string>; cron: string }> = {};
    for (const b of g.fileBackups) {
      const key = `${g.name}/${b.name}`;
      const schedule = fileBackupSchedule(b.schedule, args.timezone ?? "UTC");
      const script = pulumi
        .all([bucketName, region])
        .apply(([bucket, reg]) => renderFileBackupScript({ regime: args.regime, group: g, backup: b, bucket, region: reg, namespace }));
      this.fileBackupScripts[key] = script;
      if (g.target) {
        const docName = `${args.regime}-${g.name}-file-backup-${b.name}`;
        const doc = new aws.ssm.Document(
          `${name}-${g.name}-${b.name}-file-backup-document`,
          {
            name: docName,
            documentType: "Command",
            documentFormat: "JSON",
            content: script.apply((s) =>
              ssmDocumentContent(`Backs up the files of ${args.regime}/${g.name}/${b.name} to the log archive bucket`, s, { stepName: "backupFiles", timeoutSeconds: 3600 }),
            ),
            tags,
          },
          { parent: this },
        );
        this.fileBackupDocumentNames[key] = doc.name;
        this.trackAssociation(g, new aws.ssm.Association(
          `${name}-${g.name}-${b.name}-file-backup-association`,
          {
            name: doc.name,
            associationName: docName,
            documentVersion: doc.latestVersion,
            targets: tagTargets(g),
            scheduleExpression: schedule.expression,
            applyOnlyAtCronInterval: true,
            complianceSeverity: "HIGH",
            maxConcurrency: "25%",
            // Every host backs up its own files: one failure must not stop the others.
            maxErrors: "100%",
            tags,
          },
          { parent: this },
        ));
      }
      if (g.sshHosts.length > 0) {
        cronFiles[b.name] = { script, cron: renderCronFile({ regime: args.regime, group: g.name, name: b.name, hostCron: schedule.hostCron!, description: schedule.description }) };
      }
      this.missedBackupAlarm(args, g, b, schedule.intervalSeconds, schedule.description, tags);
    }

    if (g.sshHosts.length > 0) {
      const key = this.sshKey(args, g);
      const install = pulumi
        .all(Object.fromEntries(Object.entries(cronFiles).map(([n, f]) => [n, f.script])))
        .apply((scripts) =>
          renderFileBackupInstallScript({
            regime: args.regime,
            group: g.name,
            backups: Object.fromEntries(Object.entries(cronFiles).map(([n, f]) => [n, { script: scripts[n], cron: f.cron }])),
          }),
        );
      for (const h of g.sshHosts) {
        new command.remote.Command(
          `${name}-${g.name}-file-backups-ssh-${h.host.replace(/[^A-Za-z0-9-]/g, "-")}`,
          {
            connection: { host: h.host, user: h.user, port: h.port, privateKey: pulumi.secret(key) },
            create: SSH_RUN_AS_ROOT,
            stdin: install,
            triggers: [install.apply(sha256)],
          },
          { parent: this },
        );
      }
    }
  }

  private missedBackupAlarm(args: LogsArgs, g: HostGroup, b: FileBackup, intervalSeconds: number, description: string, tags: Record<string, string>): void {
    // An hour of slack for a backup that takes longer than the previous one (a weekly one gets none:
    // CloudWatch watches at most 7 days).
    const window = missedRunWindow(Math.min(intervalSeconds + 3600, 7 * 86400))!;
    const minutes = Math.round((window.period * window.evaluationPeriods) / 60);
    createAlarm(
      args.regime,
      {
        resource: `logs-${g.name}-backup-${b.name}`,
        metric: "missed-run",
        severity: b.severity as Severity,
        runbook: `No file backup ${g.name}/${b.name} was recorded in ${minutes} minutes (${description}). ${
          g.target ? `Read the association ${args.regime}-${g.name}-file-backup-${b.name}'s run history in State Manager` : `Read syslog (maintenance-regime-${g.name}-${b.name}) on the SSH hosts`
        }: a missing path, the aws CLI or the instance role's ${args.regime}-${g.name}-file-backup-writer policy. Then run the backup by hand.`,
        treatMissingData: "breaching",
        args: {
          namespace: METRICS_NAMESPACE_DEFAULT,
          metricName: FILE_BACKUP_METRIC,
          dimensions: { service: args.regime, Task: FILE_BACKUP_TASK, Instance: `${g.name}/${b.name}` },
          ...noSuccessWithin(window),
        },
      },
      args.alarmTopics,
      { parent: this },
      tags,
    );
  }

  /**
   * The group's agent logs config in an SSM parameter (AmazonCloudWatch-*, which the managed policy
   * CloudWatchAgentServerPolicy lets instances read) and a State Manager association of the AWS-owned
   * AmazonCloudWatch-ManageAgent document that appends it to the agent's configuration on the group's
   * instances, on the group's schedule, restarting the agent.
   */
  private agentSsmDelivery(name: string, args: LogsArgs, g: HostGroup, config: string, logGroups: aws.cloudwatch.LogGroup[], tags: Record<string, string>): void {
    const parameter = new aws.ssm.Parameter(
      `${name}-${g.name}-cwagent-config`,
      {
        name: agentParameterName(args.regime, g.name),
        description: `CloudWatch agent logs config of ${args.regime}/${g.name}: the files shipped into its log groups`,
        type: "String",
        // Standard parameters hold 4 KB; larger configs need the advanced tier.
        tier: Buffer.byteLength(config) > 4096 ? "Advanced" : "Standard",
        // Not a secret: plain, so a preview shows what changes in it.
        insecureValue: config,
        tags,
      },
      { parent: this, dependsOn: logGroups },
    );
    this.agentConfigParameterNames[g.name] = parameter.name;
    this.trackAssociation(g, new aws.ssm.Association(
      `${name}-${g.name}-cwagent-association`,
      {
        name: AGENT_DOCUMENT,
        // The parameter keeps its name when the config changes; a name carrying the config's hash makes
        // the association change too, so with applyOnlyAtCronInterval: false it runs right after.
        associationName: `${args.regime}-${g.name}-cloudwatch-logs-${sha256(config).slice(0, 8)}`,
        parameters: {
          action: "configure (append)",
          mode: "ec2",
          optionalConfigurationSource: "ssm",
          optionalConfigurationLocation: parameter.name,
          optionalRestart: "yes",
        },
        ...groupRun(g),
        tags,
      },
      { parent: this, dependsOn: [parameter] },
    ));
  }

  /** Association ids of each host group, for its failure rule (associationFailureWatch). */
  private readonly associationIds = new Map<string, pulumi.Output<string>[]>();

  private trackAssociation(g: HostGroup, a: aws.ssm.Association): void {
    this.associationIds.set(g.name, [...(this.associationIds.get(g.name) ?? []), a.associationId]);
  }

  /**
   * Pages when a State Manager association of the group fails on an instance: an EventBridge rule on
   * the group's associations' "EC2 State Manager Instance Association State Change" events with status
   * Failed, and an alarm on the rule's MatchedEvents (AWS/Events, dimension RuleName; a free metric)
   * at ASSOCIATION_FAILURE_SEVERITY. A failed run pages within one period plus CloudWatch's minute.
   * An association that stops running altogether emits no event: nothing sees that.
   */
  private associationFailureWatch(name: string, args: LogsArgs, g: HostGroup, tags: Record<string, string>): void {
    const ids = this.associationIds.get(g.name);
    if (!ids || ids.length === 0) return;
    const rule = new aws.cloudwatch.EventRule(
      `${name}-${g.name}-association-failed`,
      {
        name: physicalName(`${args.regime}-${g.name}-association-failed`, 64),
        description: `Runs of the State Manager associations of ${args.regime}/${g.name} (logrotate, CloudWatch agent, file backups) that failed on an instance`,
        eventPattern: pulumi.all(ids).apply((associationIds) =>
          JSON.stringify({ source: ["aws.ssm"], "detail-type": ["EC2 State Manager Instance Association State Change"], detail: { "association-id": associationIds, status: ["Failed"] } }),
        ),
        tags,
      },
      { parent: this },
    );
    createAlarm(
      args.regime,
      {
        resource: associationAlarmResource(g.name),
        metric: "failed",
        severity: ASSOCIATION_FAILURE_SEVERITY,
        runbook: `A State Manager association of ${args.regime}/${g.name} (logrotate configs, CloudWatch agent config or a file backup) failed on an instance. Open State Manager, the association's execution history, and read the failed instance's output (a missing path, a logrotate config error, the instance role).`,
        treatMissingData: "notBreaching",
        args: { namespace: "AWS/Events", metricName: "MatchedEvents", dimensions: { RuleName: rule.name }, statistic: "Sum", ...ASSOCIATION_FAILURE_WINDOW, comparisonOperator: "GreaterThanOrEqualToThreshold", threshold: 1 },
      },
      args.alarmTopics,
      { parent: this },
      tags,
    );
  }

  private sshKey(args: LogsArgs, g: HostGroup): pulumi.Input<string> {
    const keyName = g.sshPrivateKeyConfig!;
    const key = args.sshPrivateKeys?.[keyName];
    if (key === undefined) {
      throw new Error(`logs.hostGroups[${g.name}].sshPrivateKeyConfig: no secret given for config key ${keyName} (pulumi config set --secret ${keyName} < key)`);
    }
    return key;
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
   * later (`ARCHIVE_NONCURRENT_DAYS`), its delete marker after that. Nothing outlives its prefix's rule.
   */
  private archiveBucket(name: string, args: LogsArgs, rules: { prefix: string; expireDays: number }[], tags: Record<string, string>): aws.s3.Bucket {
    const bucket = new aws.s3.Bucket(`${name}-archive`, { bucketPrefix: `${args.regime}-log-archive-`.slice(0, 37), forceDestroy: false, tags }, { parent: this });
    new aws.s3.BucketPublicAccessBlock(
      `${name}-archive-public-access`,
      { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
      { parent: this },
    );
    new aws.s3.BucketOwnershipControls(`${name}-archive-ownership`, { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, { parent: this });
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-archive-sse`,
      { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }] },
      { parent: this },
    );
    const versioning = new aws.s3.BucketVersioning(
      `${name}-archive-versioning`,
      { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
      { parent: this },
    );
    new aws.s3.BucketPolicy(
      `${name}-archive-tls-only`,
      {
        bucket: bucket.id,
        policy: bucket.arn.apply((arn) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              tlsOnlyStatement(arn),
              writeOnceStatement(arn, rules),
            ],
          }),
        ),
      },
      { parent: this },
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-archive-lifecycle`,
      {
        bucket: bucket.id,
        rules: [
          ...rules.map((r) => ({
            id: `expire-${r.prefix.replace(/[^A-Za-z0-9-]/g, "-").replace(/-+$/, "")}`,
            status: "Enabled",
            filter: { prefix: r.prefix },
            expiration: { days: r.expireDays },
            // An expired archive becomes a noncurrent version; it goes a day later.
            noncurrentVersionExpiration: { noncurrentDays: ARCHIVE_NONCURRENT_DAYS },
          })),
          {
            id: "abort-incomplete-uploads",
            status: "Enabled",
            filter: { prefix: "" },
            abortIncompleteMultipartUpload: { daysAfterInitiation: args.abortIncompleteUploadDays ?? 7 },
          },
          // Delete markers left once their noncurrent version is gone (S3 allows this flag only in a rule without days).
          { id: "remove-expired-delete-markers", status: "Enabled", filter: { prefix: "" }, expiration: { expiredObjectDeleteMarker: true } },
        ],
      },
      // Lifecycle rules on noncurrent versions need versioning in place first.
      { parent: this, dependsOn: [versioning] },
    );
    return bucket;
  }

  /** SSM Command document with the install script + State Manager association on the group's tag. */
  private ssmDelivery(name: string, args: LogsArgs, g: HostGroup, script: pulumi.Output<string>, tags: Record<string, string>): void {
    const docName = `${args.regime}-${g.name}-logrotate`;
    const doc = new aws.ssm.Document(
      `${name}-${g.name}-document`,
      {
        name: docName,
        documentType: "Command",
        documentFormat: "JSON",
        content: script.apply((s) => ssmDocumentContent(`Installs the logrotate configs of ${args.regime}/${g.name}`, s)),
        tags,
      },
      { parent: this },
    );
    this.ssmDocumentNames[g.name] = doc.name;
    this.trackAssociation(g, new aws.ssm.Association(
      `${name}-${g.name}-association`,
      {
        name: doc.name,
        associationName: docName,
        documentVersion: doc.latestVersion,
        ...groupRun(g),
        tags,
      },
      { parent: this },
    ));
  }

  /** One remote command per SSH host: the same script through `bash -s` as root; re-run when it changes. */
  private sshDelivery(name: string, args: LogsArgs, g: HostGroup, script: pulumi.Output<string>): void {
    const key = this.sshKey(args, g);
    for (const h of g.sshHosts) {
      new command.remote.Command(
        `${name}-${g.name}-ssh-${h.host.replace(/[^A-Za-z0-9-]/g, "-")}`,
        {
          connection: { host: h.host, user: h.user, port: h.port, privateKey: pulumi.secret(key) },
          create: SSH_RUN_AS_ROOT,
          stdin: script,
          triggers: [script.apply(sha256)],
        },
        { parent: this },
      );
    }
  }

  private logGroup(name: string, args: LogsArgs, g: HostGroup, lg: LogGroupConfig, tags: Record<string, string>): aws.cloudwatch.LogGroup {
    const base = `${name}-${g.name}-${lg.id}`;
    const group = new aws.cloudwatch.LogGroup(
      `${base}-log-group`,
      { name: lg.name, retentionInDays: lg.retentionDays ?? args.defaultRetentionDays, tags },
      { parent: this },
    );
    const namespace = `${args.regime}/Logs`;
    const resource = `logs-${g.name}-${lg.id}`;
    const patterns = DEFAULT_PATTERNS[lg.format];
    const filter = (metric: string, pattern: string): { metricName: string; resource: aws.cloudwatch.LogMetricFilter } => {
      const metricName = `${g.name}-${lg.id}-${metric}`;
      const resource = new aws.cloudwatch.LogMetricFilter(
        `${base}-${metric}-filter`,
        {
          name: `${args.regime}-${metricName}`,
          logGroupName: group.name,
          pattern,
          metricTransformation: { name: metricName, namespace, value: "1", defaultValue: "0", unit: "Count" },
        },
        { parent: this },
      );
      return { metricName, resource };
    };

    /** A filter counting the pattern's lines and an alarm when `threshold` of them fall within `periodMinutes`. */
    const countAlarm = (metric: string, pattern: string, spec: { threshold: number; periodMinutes: number; severity: string }, runbook: string): void => {
      const f = filter(metric, pattern);
      createAlarm(
        args.regime,
        {
          resource,
          metric,
          severity: spec.severity as Severity,
          runbook,
          treatMissingData: "notBreaching",
          args: {
            namespace,
            metricName: f.metricName,
            statistic: "Sum",
            period: spec.periodMinutes * 60,
            evaluationPeriods: 1,
            threshold: spec.threshold,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
          },
        },
        args.alarmTopics,
        { parent: this, dependsOn: [f.resource] },
        tags,
      );
    };

    const created: Partial<Record<CountMetric, string>> = {};
    for (const m of COUNT_METRICS) {
      const spec = lg[m.key];
      if (!spec) continue;
      const pattern = spec.pattern ?? patterns[m.key];
      created[m.key] = pattern;
      countAlarm(m.metric, pattern, spec, `${spec.threshold} or more ${m.what} in ${lg.name} within ${spec.periodMinutes} minutes. ${m.runbook}`);
    }

    // The log group's own patterns: same filter, metric and alarm naming as the built-in ones.
    for (const p of lg.patterns) {
      countAlarm(
        p.name,
        p.pattern,
        p,
        `${p.threshold} or more lines matching ${p.name} (${p.pattern}) in ${lg.name} within ${p.periodMinutes} minutes. ${
          p.description ?? "Read the matching lines in the log group and act on what they report."
        }`,
      );
    }

    if (lg.errorRate) {
      const r = lg.errorRate;
      const errorsPattern = r.errorsPattern ?? lg.http5xx?.pattern ?? patterns.http5xx;
      const requests = filter(BUILT_IN_LOG_METRICS.requests, r.requestsPattern ?? patterns.requests);
      // Reuse the 5xx filter when it counts the same lines; otherwise count them separately.
      const errorsMetric =
        created.http5xx === errorsPattern ? `${g.name}-${lg.id}-${BUILT_IN_LOG_METRICS.http5xx}` : filter(BUILT_IN_LOG_METRICS.rateErrors, errorsPattern).metricName;
      for (const [severity, percent] of [["P2", r.warnPercent], ["P1", r.critPercent]] as const) {
        createAlarm(
          args.regime,
          {
            resource,
            metric: BUILT_IN_LOG_METRICS.errorRate,
            severity,
            runbook: `More than ${percent} % of requests in ${lg.name} failed (5xx) over ${r.periodMinutes} minutes. Check the application's health and recent deploys; roll back if it started with a release.`,
            treatMissingData: "notBreaching",
            args: {
              evaluationPeriods: 1,
              threshold: percent,
              comparisonOperator: "GreaterThanThreshold",
              metricQueries: [
                { id: "errors", metric: { namespace, metricName: errorsMetric, period: r.periodMinutes * 60, stat: "Sum" }, returnData: false },
                { id: "requests", metric: { namespace, metricName: requests.metricName, period: r.periodMinutes * 60, stat: "Sum" }, returnData: false },
                { id: "rate", expression: "IF(requests > 0, 100 * errors / requests, 0)", label: "5xx percent of requests", returnData: true },
              ],
            },
          },
          args.alarmTopics,
          { parent: this, dependsOn: [requests.resource] },
          tags,
        );
      }
    }
    return group;
  }
}

/** Days an expired (or deleted) archive or file backup is kept as a noncurrent version before S3 removes it. */
export const ARCHIVE_NONCURRENT_DAYS = 1;

/** AWS-owned SSM document that installs, configures and restarts the CloudWatch agent. */
export const AGENT_DOCUMENT = "AmazonCloudWatch-ManageAgent";

/** SSM parameter of a host group's agent logs config; CloudWatchAgentServerPolicy reads only AmazonCloudWatch-*. */
/** The State Manager targets of a host group: its instances with the group's tag. */
function tagTargets(g: HostGroup): { key: string; values: string[] }[] {
  return [{ key: `tag:${g.target!.tagKey}`, values: [g.target!.tagValue] }];
}

/**
 * How a group's configuration associations (logrotate, CloudWatch agent) run: on its tag and its
 * schedule, a quarter of the instances at a time, stopping when a tenth of them fail.
 */
function groupRun(g: HostGroup) {
  return {
    targets: tagTargets(g),
    scheduleExpression: g.schedule,
    applyOnlyAtCronInterval: g.applyOnlyAtCronInterval,
    complianceSeverity: "MEDIUM",
    maxConcurrency: "25%",
    maxErrors: "10%",
  };
}

/** Severity of a host group's association-failure alarm: a failed config or backup run on an instance (the file backup's own missed-run alarm pages at its severity). */
export const ASSOCIATION_FAILURE_SEVERITY: Severity = "P2";
/** Window of the association-failure alarm: one failure event in 5 minutes. */
export const ASSOCIATION_FAILURE_WINDOW = { period: 300, evaluationPeriods: 1 } as const;

/** Resource part of a host group's association-failure alarm: `<regime>-logs-<group>-associations-failed-P2`. */
export function associationAlarmResource(group: string): string {
  return `logs-${group}-associations`;
}

/** The State Manager associations a host group gets (tagged instances only): logrotate configs, the CloudWatch agent config, one per file backup. */
export function hostGroupAssociations(g: HostGroup): string[] {
  if (!g.target) return [];
  return [
    ...(g.logSets.length > 0 || g.docker ? ["logrotate"] : []),
    ...(renderAgentLogsConfig(g, INSTANCE_STREAM) ? ["cloudwatch-agent"] : []),
    ...g.fileBackups.map((b) => `file-backup ${b.name}`),
  ];
}

export function agentParameterName(regime: string, group: string): string {
  return `AmazonCloudWatch-${regime}-${group}-logs`;
}

/** Runs the install script from stdin as root (directly, or through passwordless sudo). */
export const SSH_RUN_AS_ROOT = 'if [ "$(id -u)" -eq 0 ]; then bash -s; else sudo -n bash -s; fi';

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/** SSM Command document (schema 2.2) running the script with aws:runShellScript, one line per entry. */
export function ssmDocumentContent(description: string, script: string, opts: { stepName?: string; timeoutSeconds?: number } = {}): string {
  return JSON.stringify(
    {
      schemaVersion: "2.2",
      description,
      mainSteps: [
        {
          action: "aws:runShellScript",
          name: opts.stepName ?? "installLogConfigs",
          precondition: { StringEquals: ["platformType", "Linux"] },
          inputs: { timeoutSeconds: String(opts.timeoutSeconds ?? 300), runCommand: script.split("\n") },
        },
      ],
    },
    null,
    2,
  );
}
