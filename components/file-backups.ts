/**
 * File backups: the hosts tar application files into the log archive bucket under
 * files/<group>/<name>/ (an SSM Command document + association on the backup's schedule for tagged
 * instances, a cron file over SSH for the rest), with a writer policy per host group and an alarm when
 * no backup was recorded. Part of the logs component (components/logs.ts).
 *
 * A backup runs on every host of its group, and each host's run is a job of its own: one host that
 * stops backing up (disk full, tar failing, the aws CLI broken, its cron file gone, the host rebuilt)
 * must page although the others still back up. So each SSH host (the configured list, known when the
 * plan is made) gets its own copy of the script, whose success metric carries `Host=<host as
 * configured>` (regime/file-backups.ts fileBackupDimensions), and its own watch on that metric:
 * `<regime>-logs-<group>-backup-<name>-host-<host>-missed-run-<severity>`, or for a weekly backup its
 * own overdue-watcher job `file-backup/<group>/<name>/<host>`. The instances with the group's tag send
 * the metric without Host (their membership changes without the program knowing) and are watched
 * together by `<regime>-logs-<group>-backup-<name>-missed-run-<severity>` (or the watcher's
 * `file-backup/<group>/<name>`): it pages when no tagged instance backed up. What watches a single
 * tagged instance is the association-failure alarm (components/association-failures.ts): a run that
 * fails on one instance (a missing path, tar or the upload failing, no aws CLI) pages P2. Nothing
 * watches a tagged instance on which the backup does not run at all while others run it (its SSM
 * agent dead or unregistered, the instance stopped): State Manager records no failure for it.
 *
 * A weekly backup is further apart than a metric alarm looks back (7 days): it has no missed-run alarm
 * and is handed to the overdue watcher (fileBackupWatchedJob), which reads the same success metric's
 * hourly history and pages `<regime>-logs-<group>-backup-<name>[-host-<host>]-overdue-<severity>` when
 * the backup expected after the last one is more than its run (an hour) plus the Scheduler-like margin
 * (an hour) late. A backup that never ran is measured from its watch start: on the tagged instances
 * its SSM document's creation date (the document stays while the backup is paused), on an SSH host
 * the time `pulumi up` first installed its cron there (a local command, run after that host's install
 * command, stamping the date once, kept in the stack's state: a host added later is measured from its
 * own install, not paged for runs due before it). The missed-run alarms are gated on the same watch
 * start (components/alarms.ts watchGate): a new backup, or a new host, does not page before its first
 * backup was due; a paused backup's alarm sits OK, and once resumed the backup is watched from the
 * `pulumi up` that resumed it (components/watch-start.ts), as a new one is.
 */
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, watchGate, type Severity } from "./alarms";
import { jobWatchStart } from "./watch-start";
import { sshHostNamePart, type FileBackup, type HostGroup } from "../regime/logs";
import {
  FILE_BACKUP_METRIC,
  FILE_BACKUP_TIMEOUT_SECONDS,
  fileBackupCronPath,
  fileBackupDocumentName,
  fileBackupDimensions,
  fileBackupPrefix,
  fileBackupScriptPath,
  renderCronFile,
  renderFileBackupInstallScript,
  renderFileBackupScript,
} from "../regime/file-backups";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";
import { jobMissedRunWindow, noSuccessWithin } from "./scheduled-task";
import { runOnSshHosts, ssmDocumentContent, tagTargets, type LogsScope } from "./host-delivery";
import { physicalName } from "./naming";
import { planRecord } from "./plan-record";
import { ALARM_NAME_MAX } from "../regime/limits";
import { historyLookbackSeconds, OVERDUE_TOLERANCE_MARGIN_SECONDS, type WatchedJobSpec } from "./overdue-watch";


/**
 * The missed-run alarm window of a file backup (jobMissedRunWindow: its interval, an hour of delivery
 * margin, its longest run, the time its success takes to be seen; State Manager runs the cron in UTC),
 * or undefined when that is longer than a metric alarm looks back (7 days: a weekly backup).
 */
export function fileBackupMissedRunWindow(s: { expression: string; intervalSeconds: number }): { period: number; evaluationPeriods: number } | undefined {
  return jobMissedRunWindow({ schedule: { expression: s.expression, timezone: "UTC", intervalSeconds: s.intervalSeconds }, longestRunSeconds: FILE_BACKUP_TIMEOUT_SECONDS });
}

/** An SSH host of a host group, as configured (host, user, port). */
export type SshHost = HostGroup["sshHosts"][number];

/**
 * Job name of a file backup in the overdue watcher (the Overdue metric's Job dimension):
 * `file-backup/<group>/<name>` for the tagged instances, `file-backup/<group>/<name>/<host>` for an SSH
 * host (as configured).
 */
export function fileBackupJob(group: string, name: string, host?: string): string {
  return `file-backup/${group}/${name}${host !== undefined ? `/${host}` : ""}`;
}

/** Resource part of the tagged instances' file backup alarms: `logs-<group>-backup-<name>` (`-missed-run-` or `-overdue-<severity>` follows). */
export function fileBackupAlarmResource(group: string, name: string): string {
  return `logs-${group}-backup-${name}`;
}

/** The longest end an alarm name of a file backup takes after its resource: `-missed-run-P0` (`-overdue-P0` is shorter). */
const LONGEST_ALARM_END = "-missed-run-P0";

/**
 * Resource part of an SSH host's file backup alarms: `logs-<group>-backup-<name>-host-<host>`, the host
 * as regime/logs.ts sshHostNamePart writes it (`10.0.0.7` -> `10-0-0-7`). When the whole alarm name
 * (`<regime>-<resource>-missed-run-P0`, the longest) would pass CloudWatch's 255 characters
 * (ALARM_NAME_MAX), the host part keeps its start and ends in an 8-hex hash of it (physicalName), so
 * it stays unique and stable.
 */
export function fileBackupHostAlarmResource(regime: string, group: string, name: string, host: string): string {
  const base = `${fileBackupAlarmResource(group, name)}-host-`;
  const room = ALARM_NAME_MAX - `${regime}-${base}`.length - LONGEST_ALARM_END.length;
  return `${base}${physicalName(sshHostNamePart(host), room)}`;
}

/**
 * How to check one SSH host's file backup, for its runbooks: log in, read the backup's syslog tag,
 * check the cron file, the disk, the aws CLI and the writer policy, then run the script by hand.
 * Starts with "on <host>", ends with a full stop.
 */
export function sshHostBackupCheck(regime: string, group: string, name: string, h: SshHost): string {
  return (
    `on ${h.host} (ssh${h.port !== 22 ? ` -p ${h.port}` : ""} ${h.user}@${h.host}) read \`journalctl -t maintenance-regime-${group}-${name}\` (or syslog) for the last run's error, ` +
    `check that ${fileBackupCronPath(group, name)} is there, the disk has room (df -h), the aws CLI runs and the host's credentials carry the ${regime}-${group}-file-backup-writer policy. ` +
    `Then run ${fileBackupScriptPath(group, name)} there as root.`
  );
}

/** Seconds after its expected start before a watched file backup is overdue: its longest run (an hour) plus the Scheduler-like margin (an hour). */
export const FILE_BACKUP_OVERDUE_TOLERANCE_SECONDS = FILE_BACKUP_TIMEOUT_SECONDS + OVERDUE_TOLERANCE_MARGIN_SECONDS;

/**
 * The overdue watcher's job for file backup `b` of host group `g` (schedule `s`, UTC) in `regime`, or
 * undefined when a missed-run alarm watches it (fileBackupMissedRunWindow) or it is paused. Without
 * `host`, the tagged instances' job (`file-backup/<group>/<name>`: the last run on any of them); with
 * it, that SSH host's (`file-backup/<group>/<name>/<host>`: its own runs only, through the Host
 * dimension). Its last run is the newest hour with a success (FILE_BACKUP_METRIC, fileBackupDimensions,
 * as the hosts send it), read back over its interval plus its tolerance plus one hour for the
 * hour-aligned data points (at most 455 days); `since` is its watch start (ISO 8601).
 */
export function fileBackupWatchedJob(
  regime: string,
  g: Pick<HostGroup, "name" | "target">,
  b: Pick<FileBackup, "name" | "severity" | "paused">,
  s: { expression: string; intervalSeconds: number; description: string },
  since?: pulumi.Input<string>,
  host?: SshHost,
): WatchedJobSpec | undefined {
  if (fileBackupMissedRunWindow(s) || b.paused) return undefined;
  return {
    job: fileBackupJob(g.name, b.name, host?.host),
    resource: host ? fileBackupHostAlarmResource(regime, g.name, b.name, host.host) : fileBackupAlarmResource(g.name, b.name),
    since,
    expression: s.expression,
    timezone: "UTC",
    toleranceSeconds: FILE_BACKUP_OVERDUE_TOLERANCE_SECONDS,
    history: {
      metric: { namespace: METRICS_NAMESPACE_DEFAULT, name: FILE_BACKUP_METRIC, dimensions: fileBackupDimensions(regime, g.name, b.name, host?.host) },
      lookbackSeconds: historyLookbackSeconds(s.intervalSeconds, FILE_BACKUP_OVERDUE_TOLERANCE_SECONDS),
    },
    severity: b.severity as Severity,
    description: `file backup ${g.name}/${b.name}${host ? ` on SSH host ${host.host}` : g.target ? " on the tagged instances" : ""} (${s.description})`,
    byHand: host
      ? `then ${sshHostBackupCheck(regime, g.name, b.name, host)}`
      : `then ${
          g.target ? `read the association ${fileBackupDocumentName(regime, g.name, b.name)}'s run history in State Manager` : `read syslog (maintenance-regime-${g.name}-${b.name}) on the SSH hosts`
        }: a missing path, the aws CLI or the instance role's ${regime}-${g.name}-file-backup-writer policy. Then run the backup by hand.`,
  };
}

/** What the host groups that back up files get. */
export interface FileBackups {
  /** Host group -> IAM policy its hosts' roles need to upload file backups and write the backup metric. */
  writerPolicyArns: Record<string, pulumi.Output<string>>;
  /** `<group>/<backup>` -> SSM document that runs the backup (groups with a tag target). */
  documentNames: Record<string, pulumi.Output<string>>;
  /**
   * `<group>/<backup>` -> the backup script the tagged instances run (its success metric has no Host);
   * `<group>/<backup>/<host>` -> an SSH host's copy, which differs only in sending `Host=<host>`.
   */
  scripts: Record<string, pulumi.Output<string>>;
  /** The weekly backups, for the overdue watcher (fileBackupWatchedJob): the tagged instances' job and one per SSH host. */
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
 * association on the group's tag and the backup's UTC schedule, a cron file and the host's own copy of
 * the script per SSH host, and an alarm when no backup was recorded within the schedule's interval
 * (gated on the watch start; no data is breaching): one for the tagged instances together, one per SSH host. A weekly
 * backup gets overdue-watcher jobs instead, in the same split.
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

  const render = (b: FileBackup, host?: string) =>
    pulumi.all([bucketName, region]).apply(([bucket, reg]) => renderFileBackupScript({ regime: args.regime, group: g, backup: b, bucket, region: reg, namespace, host }));
  // Backup name -> its cron file and each SSH host's copy of its script (by host as configured).
  const cronFiles: Record<string, { scripts: Record<string, pulumi.Output<string>>; cron: string }> = {};
  // Backups of the SSH hosts: each host's missed-run alarm, or for a weekly backup the overdue
  // watcher's job, from that host's own watch start (known once its cron is installed).
  const onHosts: { b: FileBackup; schedule: FileBackup["schedule"]; weekly: boolean }[] = [];
  for (const b of g.fileBackups) {
    const key = `${g.name}/${b.name}`;
    const schedule = b.schedule;
    const script = render(b);
    out.scripts[key] = script;
    const hostScripts = Object.fromEntries(g.sshHosts.map((h) => [h.host, render(b, h.host)]));
    for (const [host, s] of Object.entries(hostScripts)) out.scripts[`${key}/${host}`] = s;
    const weekly = !fileBackupMissedRunWindow(schedule) && !b.paused;
    // The hosts send the success metric once per run (in UTC, like the schedule): the cost estimate bills those hours, per dimension set.
    const recordRuns = (host?: string) =>
      planRecord().hostMetricRuns.push({
        namespace,
        metricName: FILE_BACKUP_METRIC,
        dimensions: fileBackupDimensions(args.regime, g.name, b.name, host),
        schedule: { expression: schedule.expression, timezone: "UTC", intervalSeconds: schedule.intervalSeconds },
        component: name,
      });
    if (g.target) {
      const docName = fileBackupDocumentName(args.regime, g.name, b.name);
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
      // The tagged instances together: their metric has no Host. Their watch start: the document's
      // creation (it stays while the backup is paused), or the `pulumi up` that last resumed the backup.
      const since = jobWatchStart(`${name}-${g.name}-${b.name}-file-backup`, { created: doc.createdDate, paused: b.paused, what: `logs.hostGroups[${g.name}].fileBackups[${b.name}]` }, { parent });
      missedBackupAlarm(scope, g, b, schedule, since);
      recordRuns();
      if (weekly) out.watchedJobs.push(fileBackupWatchedJob(args.regime, g, b, schedule, since)!);
    }
    if (g.sshHosts.length > 0) {
      cronFiles[b.name] = { scripts: hostScripts, cron: renderCronFile({ regime: args.regime, group: g.name, name: b.name, hostCron: schedule.hostCron!, description: schedule.description, paused: b.paused }) };
      for (const h of g.sshHosts) recordRuns(h.host);
      onHosts.push({ b, schedule, weekly });
    }
  }

  if (g.sshHosts.length > 0) {
    // Each host installs its own copies of the scripts (the cron files are the same on every host).
    const install = (h: SshHost) =>
      pulumi
        .all(Object.fromEntries(Object.entries(cronFiles).map(([n, f]) => [n, f.scripts[h.host]])))
        .apply((scripts) =>
          renderFileBackupInstallScript({
            regime: args.regime,
            group: g.name,
            backups: Object.fromEntries(Object.entries(cronFiles).map(([n, f]) => [n, { script: scripts[n], cron: f.cron }])),
          }),
        );
    const installed = runOnSshHosts(scope, g, g.sshHosts, "file-backups-ssh", install);
    // Every backup, paused ones too: a paused backup keeps its watch start's state, so that resuming it is stamped.
    for (const { b, schedule, weekly } of onHosts) {
      for (const h of g.sshHosts) {
        // No AWS resource per host carries a date: stamp the first `pulumi up` that installed the cron on
        // this host, once (after its install command; no triggers: never run again, kept in the state),
        // or the `pulumi up` that last resumed the backup: the watch start of this host's backup, for its
        // missed-run alarm's gate or its watcher job.
        const installedAt = new command.local.Command(
          `${name}-${g.name}-${b.name}-file-backup-since-${sshHostNamePart(h.host)}`,
          { create: "date -u +%Y-%m-%dT%H:%M:%SZ" },
          { parent, dependsOn: [installed[h.host]] },
        ).stdout.apply((o) => o.trim());
        const since = jobWatchStart(
          `${name}-${g.name}-${b.name}-file-backup-${sshHostNamePart(h.host)}`,
          { created: installedAt, paused: b.paused, what: `logs.hostGroups[${g.name}].fileBackups[${b.name}] on SSH host ${h.host}` },
          { parent },
        );
        missedBackupAlarm(scope, g, b, schedule, since, h);
        if (weekly) out.watchedJobs.push(fileBackupWatchedJob(args.regime, g, b, schedule, since, h)!);
      }
    }
  }
}

/**
 * Pages at the backup's severity when no backup was recorded within fileBackupMissedRunWindow: from any
 * tagged instance (no `host`), or from SSH host `host`; none for a backup too sparse for it.
 */
function missedBackupAlarm(
  scope: LogsScope,
  g: HostGroup,
  b: FileBackup,
  schedule: { expression: string; intervalSeconds: number; description: string },
  since: pulumi.Input<string>,
  host?: SshHost,
): void {
  const { args, tags, parent } = scope;
  const window = fileBackupMissedRunWindow(schedule);
  if (!window) return;
  const minutes = Math.round((window.period * window.evaluationPeriods) / 60);
  const what = `No file backup ${g.name}/${b.name} was recorded${host ? ` from SSH host ${host.host}` : ""} in ${minutes} minutes (${schedule.description}).`;
  createAlarm(
    args.regime,
    {
      resource: host ? fileBackupHostAlarmResource(args.regime, g.name, b.name, host.host) : fileBackupAlarmResource(g.name, b.name),
      metric: "missed-run",
      severity: b.severity as Severity,
      runbook: host
        ? `${what} The other hosts of the group are watched on their own. ${sshHostBackupCheck(args.regime, g.name, b.name, host).replace(/^on/, "On")}`
        : `${what} Read the association ${fileBackupDocumentName(args.regime, g.name, b.name)}'s run history in State Manager: a missing path, the aws CLI or the instance role's ${args.regime}-${g.name}-file-backup-writer policy. Then run the backup by hand.`,
      treatMissingData: "breaching",
      paused: b.paused,
      args: {
        // Gated on the watch start (watchGate): its SSM document's creation, or the first install of
        // the host's cron, or the backup's last resume; a paused backup's alarm sits OK.
        metricQueries: watchGate({
          metrics: [{ id: "backups", metric: { namespace: METRICS_NAMESPACE_DEFAULT, metricName: FILE_BACKUP_METRIC, dimensions: fileBackupDimensions(args.regime, g.name, b.name, host?.host), stat: "Sum", period: window.period } }],
          since,
          paused: b.paused,
          label: "backups (1 before the watch start)",
          what: `logs.hostGroups[${g.name}].fileBackups[${b.name}] missed-run alarm`,
        }),
        ...noSuccessWithin(window),
      },
    },
    args.alarmTopics,
    { parent },
    tags,
  );
}
