/**
 * Logs as code, one LogRotation component composed of the parts beside it (every resource a child of
 * the component, whichever file creates it):
 * - rotation delivery (components/logrotate-delivery.ts): logrotate configs and Docker log options
 *   rendered from the regime and delivered to the hosts (SSM State Manager for tagged EC2 instances,
 *   SSH for the rest);
 * - the archive bucket (components/log-archive.ts): an optional hardened, write-once S3 bucket that
 *   receives archived rotated logs and file backups;
 * - log groups (components/log-groups.ts): CloudWatch log groups with retention, metric filters for
 *   errors, HTTP 5xx, 401/403, failed logins and each log group's own patterns, and alarms on them;
 * - container output (components/container-logs.ts): docker-compose services and named containers
 *   ship into their log groups through Docker's awslogs driver;
 * - the CloudWatch agent (components/log-agent.ts): its `logs` config that ships the hosts' files
 *   into those groups;
 * - file backups (components/file-backups.ts): the hosts tar application files into the archive
 *   bucket on a schedule, with an alarm when no backup was recorded (each SSH host its own);
 * - the association-failure watch (components/association-failures.ts): a State Manager association
 *   that fails on an instance pages.
 * Shared delivery plumbing (SSM documents, SSH as root, the parts' scope) is in components/host-delivery.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import type { AlertTopics } from "./alarms";
import type { LogsConfig } from "../regime/logs";
import { associationFailureWatch } from "./association-failures";
import { containerLogs } from "./container-logs";
import { fileBackups } from "./file-backups";
import { HostGroupAssociations, type LogsScope } from "./host-delivery";
import type { WatchedJobSpec } from "./overdue-watch";
import { deliverAgentConfigs } from "./log-agent";
import { logArchive } from "./log-archive";
import { createLogGroups } from "./log-groups";
import { deliverRotation } from "./logrotate-delivery";

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
  /** Region the hosts upload to and write metrics in; default the provider's. */
  region?: pulumi.Input<string>;
  tags?: Record<string, string>;
}

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
  /** The scheduled State Manager associations (components/association-watch.ts) and the weekly file backups (components/file-backups.ts: the tagged instances' and each SSH host's), for the overdue watcher. */
  public readonly watchedJobs: WatchedJobSpec[];
  /** `<group>/<backup>` -> the backup script the tagged instances run; `<group>/<backup>/<host>` -> an SSH host's copy (it sends `Host=<host>`). */
  public readonly fileBackupScripts: Record<string, pulumi.Output<string>>;

  /** `args.logs` carries its schedules resolved where the config was loaded (regime/logs.ts resolveLogs). */
  constructor(name: string, args: LogsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:logs:LogRotation", name, {}, opts);
    const scope: LogsScope = { parent: this, name, args, tags: { ...(args.tags ?? {}), Regime: args.regime }, associations: new HostGroupAssociations() };

    // The parts in the order they register (the agent after the log groups it ships into, the
    // association-failure watch after every association).
    const archive = logArchive(scope);
    this.archiveBucketName = archive.bucketName;
    this.archiveBucketArn = archive.bucketArn;
    this.archiveWriterPolicyArn = archive.writerPolicyArn;

    const rotation = deliverRotation(scope, archive.bucketName);
    this.logrotateConfigs = rotation.logrotateConfigs;
    this.daemonJson = rotation.daemonJson;
    this.ssmDocumentNames = rotation.ssmDocumentNames;

    const logGroups = createLogGroups(scope);
    this.logGroupNames = logGroups.names;

    const containers = containerLogs(scope, logGroups.byHostGroup);
    this.containerLogging = containers.logging;
    this.containerLogWriterPolicyArns = containers.writerPolicyArns;

    const agent = deliverAgentConfigs(scope, logGroups.byHostGroup);
    this.agentLogConfigs = agent.configs;
    this.agentConfigParameterNames = agent.parameterNames;

    const backups = fileBackups(scope, { name: archive.bucketName, arn: archive.bucketArn });
    this.fileBackupWriterPolicyArns = backups.writerPolicyArns;
    this.fileBackupDocumentNames = backups.documentNames;
    this.fileBackupScripts = backups.scripts;

    for (const g of args.logs.hostGroups) associationFailureWatch(scope, g);
    this.watchedJobs = [...scope.associations.watchedJobs(), ...backups.watchedJobs];

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
}
