/**
 * File backups: the hosts tar application files into the log archive bucket under
 * files/<group>/<name>/ (an SSM Command document + association on the backup's schedule for tagged
 * instances, a cron file over SSH for the rest), with a writer policy per host group and an alarm when
 * no backup was recorded. Part of the logs component (components/logs.ts).
 *
 * A weekly backup is further apart than a metric alarm looks back (7 days): it has no missed-run alarm
 * and is handed to the overdue watcher (fileBackupWatchedJob), which reads the same success metric's
 * hourly history and pages `<regime>-logs-<group>-backup-<name>-overdue-<severity>` when the backup
 * expected after the last one is more than its run (an hour) plus the Scheduler-like margin (an hour)
 * late. A backup that never ran is measured from its watch start: its SSM document's creation date
 * (tag-targeted groups; the document stays while the backup is paused), or for a group of SSH hosts
 * only the time `pulumi up` first installed its cron (a local command stamping the date once, kept
 * in the stack's state: no AWS resource is made per backup of an SSH group that carries a date).
 */
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, type Severity } from "./alarms";
import type { FileBackup, HostGroup } from "../regime/logs";
import {
  FILE_BACKUP_METRIC,
  FILE_BACKUP_TASK,
  fileBackupPrefix,
  renderCronFile,
  renderFileBackupInstallScript,
  renderFileBackupScript,
} from "../regime/file-backups";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";
import { jobMissedRunWindow, noSuccessWithin } from "./scheduled-task";
import { runOnSshHosts, ssmDocumentContent, tagTargets, type LogsScope } from "./host-delivery";
import { planRecord } from "./plan-record";
import { historyLookbackSeconds, OVERDUE_TOLERANCE_MARGIN_SECONDS, type WatchedJobSpec } from "./overdue-watch";

/** The longest a file backup runs: its SSM document step's timeout (an SSH host's cron run is allowed as long). */
export const FILE_BACKUP_TIMEOUT_SECONDS = 3600;

/**
 * The missed-run alarm window of a file backup (jobMissedRunWindow: its interval, an hour of delivery
 * margin, its longest run, the time its success takes to be seen; State Manager runs the cron in UTC),
 * or undefined when that is longer than a metric alarm looks back (7 days: a weekly backup).
 */
export function fileBackupMissedRunWindow(s: { expression: string; intervalSeconds: number }): { period: number; evaluationPeriods: number } | undefined {
  return jobMissedRunWindow({ schedule: { expression: s.expression, timezone: "UTC", intervalSeconds: s.intervalSeconds }, longestRunSeconds: FILE_BACKUP_TIMEOUT_SECONDS });
}

/** Job name of a file backup in the overdue watcher (the metric's Job dimension): `file-backup/<group>/<name>`. */
export function fileBackupJob(group: string, name: string): string {
  return `file-backup/${group}/${name}`;
}

/** Resource part of a file backup's alarms: `logs-<group>-backup-<name>` (`-missed-run-` or `-overdue-<severity>` follows). */
export function fileBackupAlarmResource(group: string, name: string): string {
  return `logs-${group}-backup-${name}`;
}

/** Seconds after its expected start before a watched file backup is overdue: its longest run (an hour) plus the Scheduler-like margin (an hour). */
export const FILE_BACKUP_OVERDUE_TOLERANCE_SECONDS = FILE_BACKUP_TIMEOUT_SECONDS + OVERDUE_TOLERANCE_MARGIN_SECONDS;

/**
 * The overdue watcher's job for file backup `b` of host group `g` (schedule `s`, UTC) in `regime`, or
 * undefined when a missed-run alarm watches it (fileBackupMissedRunWindow) or it is paused. Its last
 * run is the newest hour with a success (FILE_BACKUP_METRIC, dimensions service/Task/Instance, as the
 * hosts send it), read back over its interval plus its tolerance plus one hour for the hour-aligned
 * data points (at most 455 days); `since` is its watch start (ISO 8601).
 */
export function fileBackupWatchedJob(
  regime: string,
  g: Pick<HostGroup, "name" | "target">,
  b: Pick<FileBackup, "name" | "severity" | "paused">,
  s: { expression: string; intervalSeconds: number; description: string },
  since?: pulumi.Input<string>,
): WatchedJobSpec | undefined {
  if (fileBackupMissedRunWindow(s) || b.paused) return undefined;
  return {
    job: fileBackupJob(g.name, b.name),
    resource: fileBackupAlarmResource(g.name, b.name),
    since,
    expression: s.expression,
    timezone: "UTC",
    toleranceSeconds: FILE_BACKUP_OVERDUE_TOLERANCE_SECONDS,
    history: {
      metric: { namespace: METRICS_NAMESPACE_DEFAULT, name: FILE_BACKUP_METRIC, dimensions: fileBackupDimensions(regime, g, b) },
      lookbackSeconds: historyLookbackSeconds(s.intervalSeconds, FILE_BACKUP_OVERDUE_TOLERANCE_SECONDS),
    },
    severity: b.severity as Severity,
    description: `file backup ${g.name}/${b.name} (${s.description})`,
    byHand: `then ${
      g.target ? `read the association ${regime}-${g.name}-file-backup-${b.name}'s run history in State Manager` : `read syslog (maintenance-regime-${g.name}-${b.name}) on the SSH hosts`
    }: a missing path, the aws CLI or the instance role's ${regime}-${g.name}-file-backup-writer policy. Then run the backup by hand.`,
  };
}

/** What the host groups that back up files get. */
export interface FileBackups {
  /** Host group -> IAM policy its hosts' roles need to upload file backups and write the backup metric. */
  writerPolicyArns: Record<string, pulumi.Output<string>>;
  /** `<group>/<backup>` -> SSM document that runs the backup (groups with a tag target). */
  documentNames: Record<string, pulumi.Output<string>>;
  /** `<group>/<backup>` -> the backup script the hosts run. */
  scripts: Record<string, pulumi.Output<string>>;
  /** The weekly backups, for the overdue watcher (fileBackupWatchedJob). */
  watchedJobs: WatchedJobSpec[];
}

/**
 * Every host group's file backups into the archive bucket (`bucket`: its name and ARN; present
 * whenever a group backs up files). The region the hosts upload to is `args.region`, else the
 * provider's (looked up only when some group backs up files).
 */
export function fileBackups(scope: LogsScope, bucket: { name?: pulumi.Output<string>; arn?: pulumi.Output<string> }): FileBackups {
  const out: FileBackups = { writerPolicyArns: {}, documentNames: {}, scripts: {}, watchedJobs: [] };
  const backingUp = scope.args.logs.hostGroups.filter((g) => g.fileBackups.length > 0);
  if (backingUp.length === 0) return out;
  const region = scope.args.region ?? aws.getRegionOutput({}, { parent: scope.parent }).region;
  for (const g of backingUp) hostGroupFileBackups(scope, g, bucket.name!, bucket.arn!, region, out);
  return out;
}

/**
 * A host group's file backups: the writer policy (s3:PutObject on exactly its backup prefixes, the
 * backup metric in the regime's namespace; the bucket's aws/s3 key lets every role of the account
 * encrypt through S3, so no KMS statement), per backup an SSM Command document + State Manager
 * association on the group's tag and the backup's UTC schedule, a cron file per SSH host, and an
 * alarm when no backup was recorded within the schedule's interval (missing data is breaching).
 */
function hostGroupFileBackups(
  scope: LogsScope,
  g: HostGroup,
  bucketName: pulumi.Output<string>,
  bucketArn: pulumi.Output<string>,
  region: pulumi.Input<string>,
  out: FileBackups,
): void {
  const { name, args, tags, parent } = scope;
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
    { parent },
  );
  out.writerPolicyArns[g.name] = policy.arn;

  const cronFiles: Record<string, { script: pulumi.Output<string>; cron: string }> = {};
  for (const b of g.fileBackups) {
    const key = `${g.name}/${b.name}`;
    const schedule = b.schedule;
    const script = pulumi
      .all([bucketName, region])
      .apply(([bucket, reg]) => renderFileBackupScript({ regime: args.regime, group: g, backup: b, bucket, region: reg, namespace }));
    out.scripts[key] = script;
    let createdDate: pulumi.Output<string> | undefined;
    if (g.target) {
      const docName = `${args.regime}-${g.name}-file-backup-${b.name}`;
      const doc = new aws.ssm.Document(
        `${name}-${g.name}-${b.name}-file-backup-document`,
        {
          name: docName,
          documentType: "Command",
          documentFormat: "JSON",
          content: script.apply((s) =>
            ssmDocumentContent(`Backs up the files of ${args.regime}/${g.name}/${b.name} to the log archive bucket`, s, { stepName: "backupFiles", timeoutSeconds: FILE_BACKUP_TIMEOUT_SECONDS }),
          ),
          tags,
        },
        { parent },
      );
      out.documentNames[key] = doc.name;
      createdDate = doc.createdDate;
      // Paused: no association, so State Manager runs nothing until `paused` is set back (an association has no disabled state).
      if (!b.paused) scope.associations.track(
        g,
        new aws.ssm.Association(
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
          { parent },
        ),
        // No `watch`: the overdue watcher does not follow it as an association. The backup's own
        // missed-run alarm (below), or for a weekly one the watcher's read of its success metric,
        // already pages at the backup's severity when its association stops running; a second page would say the same.
        { schedule: { name: docName, kind: "file backup", runs: schedule.association, configKey: `logs.hostGroups[${g.name}].fileBackups[${b.name}].schedule` } },
      );
    }
    if (g.sshHosts.length > 0) {
      cronFiles[b.name] = { script, cron: renderCronFile({ regime: args.regime, group: g.name, name: b.name, hostCron: schedule.hostCron!, description: schedule.description, paused: b.paused }) };
    }
    missedBackupAlarm(scope, g, b, schedule, schedule.description);
    // The hosts send the success metric once per run (in UTC, like the schedule): the cost estimate bills those hours.
    planRecord().hostMetricRuns.push({ namespace: METRICS_NAMESPACE_DEFAULT, metricName: FILE_BACKUP_METRIC, dimensions: fileBackupDimensions(args.regime, g, b), schedule: { expression: schedule.expression, timezone: "UTC", intervalSeconds: schedule.intervalSeconds } });
    if (!fileBackupMissedRunWindow(schedule) && !b.paused) {
      // A group of SSH hosts only has no AWS resource per backup that carries a date: stamp the first
      // `pulumi up` that installs the cron, once (no triggers: never run again, kept in the state).
      const since =
        createdDate ??
        new command.local.Command(`${name}-${g.name}-${b.name}-file-backup-since`, { create: "date -u +%Y-%m-%dT%H:%M:%SZ" }, { parent }).stdout.apply((o) => o.trim());
      out.watchedJobs.push(fileBackupWatchedJob(args.regime, g, b, schedule, since)!);
    }
  }

  if (g.sshHosts.length > 0) {
    const install = pulumi
      .all(Object.fromEntries(Object.entries(cronFiles).map(([n, f]) => [n, f.script])))
      .apply((scripts) =>
        renderFileBackupInstallScript({
          regime: args.regime,
          group: g.name,
          backups: Object.fromEntries(Object.entries(cronFiles).map(([n, f]) => [n, { script: scripts[n], cron: f.cron }])),
        }),
      );
    runOnSshHosts(scope, g, g.sshHosts, "file-backups-ssh", install);
  }
}

/** Dimensions of a file backup's success metric, as the hosts' script sends it and its alarm reads it. */
function fileBackupDimensions(regime: string, g: Pick<HostGroup, "name">, b: Pick<FileBackup, "name">): Record<string, string> {
  return { service: regime, Task: FILE_BACKUP_TASK, Instance: `${g.name}/${b.name}` };
}

/** Pages at the backup's severity when no backup was recorded within fileBackupMissedRunWindow; none for a backup too sparse for it. */
function missedBackupAlarm(scope: LogsScope, g: HostGroup, b: FileBackup, schedule: { expression: string; intervalSeconds: number }, description: string): void {
  const { args, tags, parent } = scope;
  const window = fileBackupMissedRunWindow(schedule);
  if (!window) return;
  const minutes = Math.round((window.period * window.evaluationPeriods) / 60);
  createAlarm(
    args.regime,
    {
      resource: fileBackupAlarmResource(g.name, b.name),
      metric: "missed-run",
      severity: b.severity as Severity,
      runbook: `No file backup ${g.name}/${b.name} was recorded in ${minutes} minutes (${description}). ${
        g.target ? `Read the association ${args.regime}-${g.name}-file-backup-${b.name}'s run history in State Manager` : `Read syslog (maintenance-regime-${g.name}-${b.name}) on the SSH hosts`
      }: a missing path, the aws CLI or the instance role's ${args.regime}-${g.name}-file-backup-writer policy. Then run the backup by hand.`,
      treatMissingData: "breaching",
      paused: b.paused,
      args: {
        namespace: METRICS_NAMESPACE_DEFAULT,
        metricName: FILE_BACKUP_METRIC,
        dimensions: fileBackupDimensions(args.regime, g, b),
        ...noSuccessWithin(window),
      },
    },
    args.alarmTopics,
    { parent },
    tags,
  );
}
