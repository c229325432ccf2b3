/**
 * File backups of a host group (`logs.hostGroups[].fileBackups[]`): application files the operations
 * guides back up by hand next to the database (`.env.production`, `docker-compose.yml`, `uploads/`).
 * Pure functions: the schedule a backup runs on (UTC, as State Manager and cron run it), the backup
 * script a host runs (tar | aws s3 cp, a SHA-256 manifest beside the archive, a CloudWatch metric on
 * success), and the script that installs it with a cron file on SSH hosts. Tests run both for real.
 */
import { posix } from "node:path";
import { parseSchedule, ScheduleError, writtenSchedule, yearBoundProblem } from "./schedule";
import { stateManagerMonthsProblem } from "./limits";
import { managedMarker, shellQuote } from "./logrotate";
import { resolveLogPath, type FileBackup, type HostGroup } from "./logs";
import type { ScheduleInput } from "./schema";

/** Where every file backup lives in the log archive bucket; no log set archives under it. */
export const FILE_BACKUP_ROOT = "files/";

/** Key prefix of a file backup in the log archive bucket. */
export function fileBackupPrefix(group: string, name: string): string {
  return `${FILE_BACKUP_ROOT}${group}/${name}/`;
}

/** The `Task` dimension of the metric a backup writes, next to `service` (regime) and `Instance` (`<group>/<name>`). */
export const FILE_BACKUP_TASK = "file-backup";

/** Metric a successful backup writes (the same name the scheduled tasks use for a successful run). */
export const FILE_BACKUP_METRIC = "TaskSucceeded";

/**
 * Dimensions of a file backup's success metric, as a host's script sends it and its alarm or the
 * overdue watcher reads it: `service` (regime), `Task` (FILE_BACKUP_TASK), `Instance`
 * (`<group>/<name>`), and on an SSH host `Host` (the host as configured: `10.0.0.7`), so each SSH host
 * is its own metric and is watched on its own. The tagged instances send no Host (their membership
 * changes without the program knowing): one metric for all of them.
 */
export function fileBackupDimensions(regime: string, group: string, name: string, host?: string): Record<string, string> {
  return { service: regime, Task: FILE_BACKUP_TASK, Instance: `${group}/${name}`, ...(host !== undefined ? { Host: host } : {}) };
}

/** Shortest interval State Manager allows between association runs. */
const MIN_INTERVAL_SECONDS = 30 * 60;

/** Longest window a CloudWatch metric alarm can watch for a missed run. */
const MAX_INTERVAL_SECONDS = 7 * 86400;

export interface FileBackupSchedule {
  /** State Manager association cron, evaluated in UTC: `cron(0 3 * * ? *)`. */
  expression: string;
  /** The same times as a 5-field cron line for /etc/cron.d, or undefined when cron cannot express them. */
  hostCron?: string;
  /** Why hostCron is undefined. */
  hostCronProblem?: string;
  description: string;
  intervalSeconds: number;
}

const UTC_ZONES = new Set(["UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/GMT", "Universal", "Zulu"]);

const DOW = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** An EventBridge day-of-week token (1 = SUN .. 7 = SAT, or a name) as cron's 0 = Sunday .. 6. */
function cronDow(tok: string): string {
  const named = DOW.indexOf(tok);
  return String(named >= 0 ? named : Number(tok) - 1);
}

/** An EventBridge day-of-week field as a cron(5) one (numbers only: cron allows no names in ranges or lists). */
function hostDowField(field: string): string {
  if (field === "?" || field === "*") return "*";
  return field
    .split(",")
    .map((part) => {
      const [range, step] = part.split("/");
      const mapped = range === "*" ? "*" : range.split("-").map(cronDow).join("-");
      return step === undefined ? mapped : `${mapped}/${step}`;
    })
    .join(",");
}

/**
 * The UTC cron a file backup runs on. Throws a one-line ScheduleError (no key path) for a schedule in a
 * timezone other than UTC (State Manager associations and host cron run in UTC; daylight saving would
 * move a converted time by an hour twice a year), a rate form (no time of day), a schedule more frequent
 * than every 30 minutes (State Manager's minimum) or less frequent than weekly (a missed run could not be
 * alarmed: a CloudWatch alarm watches at most 7 days), or one naming months (State Manager association
 * cron expressions cannot).
 */
export function fileBackupSchedule(input: ScheduleInput, regimeTimezone: string): FileBackupSchedule {
  const { text, timezone } = writtenSchedule(input, regimeTimezone);
  const s = parseSchedule(text, timezone);
  const ends = yearBoundProblem(s.expression);
  if (ends) throw new ScheduleError(ends);
  // No time of day first: the UTC advice below would otherwise suggest a form that is refused too.
  if (s.expression.startsWith("rate(")) {
    throw new ScheduleError(`"${text}" has no time of day; file backups run from a cron expression: write e.g. "daily at 03:00" or "every hour at :15"${UTC_ZONES.has(s.timezone) ? "" : `, in UTC ({ at: "daily at 03:00", timezone: UTC })`}`);
  }
  if (!UTC_ZONES.has(s.timezone)) {
    throw new ScheduleError(
      `"${text}" is in ${s.timezone}, but State Manager and cron run file backups in UTC (daylight saving would move a converted time); write it in UTC: { at: "${text}", timezone: UTC } with the UTC time`,
    );
  }
  const fields = /^cron\((.*)\)$/.exec(s.expression)![1].split(" ").map((f) => f.toUpperCase());
  const [mi, ho, dm, mo, dw, yr] = fields;
  const months = stateManagerMonthsProblem(text, s.expression);
  if (months) throw new ScheduleError(months);
  if (s.intervalSeconds < MIN_INTERVAL_SECONDS) throw new ScheduleError(`"${text}" runs more often than every 30 minutes, State Manager's minimum`);
  if (s.intervalSeconds > MAX_INTERVAL_SECONDS) {
    throw new ScheduleError(`"${text}" runs less often than weekly: a missed backup could not be alarmed (a CloudWatch alarm watches at most 7 days)`);
  }
  let hostCron: string | undefined;
  let hostCronProblem: string | undefined;
  if (yr !== "*") hostCronProblem = `cron has no year field (${yr})`;
  else if (/[LW#]/.test(dm) || /[L#]/.test(dw)) hostCronProblem = `cron cannot express ${/[LW#]/.test(dm) ? dm : dw} (last, nearest weekday or n-th weekday)`;
  else hostCron = [mi, ho, dm === "?" ? "*" : dm, mo, hostDowField(dw)].join(" ");
  return { expression: s.expression, hostCron, hostCronProblem, description: `${s.description} UTC`, intervalSeconds: s.intervalSeconds };
}

export interface FileBackupScriptInput {
  regime: string;
  group: Pick<HostGroup, "name" | "appRoot">;
  backup: Pick<FileBackup, "name" | "paths" | "exclude">;
  bucket: string;
  region: string;
  /** CloudWatch namespace of the success metric (the tasks' METRICS_NAMESPACE). */
  namespace: string;
  /** The SSH host (as configured) this copy of the script is for: its success metric carries it as `Host` (fileBackupDimensions). Unset for the tagged instances' copy. */
  host?: string;
}

/** Absolute paths a backup archives, in declared order. */
export function fileBackupPaths(group: Pick<HostGroup, "appRoot">, backup: Pick<FileBackup, "paths">): string[] {
  return backup.paths.map((p) => resolveLogPath(p, group.appRoot));
}

/** Size of each uploaded part: S3 takes 5 MiB to 5 GiB and at most 10,000 parts, so archives up to 625 GiB. */
export const FILE_BACKUP_PART_BYTES = 64 * 1024 * 1024;

/**
 * The backup script a host runs as root. Every path must exist (else nothing is uploaded). tar streams
 * the paths (relative to /) through sha256sum into a multipart upload to
 * `s3://<bucket>/files/<group>/<name>/<host>/<UTC stamp>.tar.gz` (SSE-KMS), one part of
 * `FILE_BACKUP_PART_BYTES` at a time on local disk (`split --filter` hands each to `aws s3api
 * upload-part`). The upload is completed only after tar exited 0 or 1 (GNU tar's 1: a file changed
 * while read, e.g. a log being written; a warning), and with `complete-multipart-upload
 * --if-none-match '*'`, the conditional write the bucket requires: no backup ever replaces another.
 * When tar fails (exit 2: an unreadable file ...) or a part cannot be uploaded, the upload is aborted,
 * so no truncated archive becomes an object. `aws s3 cp -` streams too, but sends no If-None-Match,
 * hence the parts by hand. After the archive, `<stamp>.tar.gz.sha256` (sha256sum -c format, put with
 * `put-object --if-none-match '*'`) and the success metric (fileBackupDimensions: with `Host` in an SSH
 * host's copy, `input.host`, so a run by hand there counts for that host too). `REGIME_HOSTNAME` and `REGIME_STAMP` fix
 * the host and stamp, `REGIME_PART_BYTES` the part size (for tests).
 */
/**
 * The longest a file backup runs, seconds: its SSM document step's timeout on tagged instances, and
 * on an SSH host the `timeout` its cron line runs the script under (SIGTERM, then SIGKILL a minute
 * later); a run stopped there aborts its multipart upload and sends no success. The promise model,
 * the missed-run windows and the vault's abort-incomplete-upload days count on it.
 */
export const FILE_BACKUP_TIMEOUT_SECONDS = 3600;

export function renderFileBackupScript(input: FileBackupScriptInput): string {
  const { regime, group, backup } = input;
  const prefix = fileBackupPrefix(group.name, backup.name);
  const paths = fileBackupPaths(group, backup);
  const members = paths.map((p) => p.replace(/^\/+/, ""));
  const where = `${regime}/${group.name}/${backup.name}`;
  const excludes = (backup.exclude ?? []).map((e) => `--exclude=${shellQuote(e)}`);
  return [
    "#!/bin/bash",
    `# File backup ${where}${input.host !== undefined ? ` on SSH host ${input.host}` : ""}; generated by maintenance-regime. Do not edit: changes are overwritten on the next delivery.`,
    "set -euo pipefail",
    `export BUCKET=${shellQuote(input.bucket)}`,
    `export REGION=${shellQuote(input.region)}`,
    `fail() { echo "error: file backup ${where}: $*" >&2; exit 1; }`,
    'command -v aws >/dev/null || fail "aws CLI not found"',
    'HOST="${REGIME_HOSTNAME:-$(hostname)}"',
    'STAMP="${REGIME_STAMP:-$(date -u +%Y%m%dT%H%M%SZ)}"',
    `export KEY="${prefix}$HOST/$STAMP.tar.gz"`,
    "missing=0",
    `for p in ${paths.map(shellQuote).join(" ")}; do`,
    '  [ -e "$p" ] || { echo "error: file backup ' + where + ': $p does not exist" >&2; missing=1; }',
    "done",
    '[ "$missing" -eq 0 ] || fail "nothing uploaded"',
    'export WORK="$(mktemp -d)"',
    "trap 'rm -rf \"$WORK\"' EXIT",
    `trap 'fail "stopped by a signal (the run limit is ${FILE_BACKUP_TIMEOUT_SECONDS} s); nothing uploaded"' TERM INT`,
    'UPLOAD_ID="$(aws s3api create-multipart-upload --bucket "$BUCKET" --key "$KEY" --server-side-encryption aws:kms --region "$REGION" --query UploadId --output text)" || fail "cannot start the upload to s3://$BUCKET/$KEY"',
    "export UPLOAD_ID",
    `trap 'abort "stopped by a signal (the run limit is ${FILE_BACKUP_TIMEOUT_SECONDS} s); upload aborted, nothing stored"' TERM INT`,
    `abort() { aws s3api abort-multipart-upload --bucket "$BUCKET" --key "$KEY" --upload-id "$UPLOAD_ID" --region "$REGION" >/dev/null 2>&1 || true; fail "$*"; }`,
    // Each part: written by split, uploaded, its ETag kept for the completion, then deleted.
    "cat > \"$WORK/upload-part\" <<'PART'",
    "#!/bin/bash",
    "set -euo pipefail",
    'cat > "$FILE"',
    'n=$((10#${FILE##*.} + 1))',
    'etag="$(aws s3api upload-part --bucket "$BUCKET" --key "$KEY" --upload-id "$UPLOAD_ID" --part-number "$n" --body "$FILE" --region "$REGION" --query ETag --output text)"',
    `printf '{"ETag":"\\\\"%s\\\\"","PartNumber":%d}\\n' "\${etag//\\"/}" "$n" > "$FILE.json"`,
    'rm -f "$FILE"',
    "PART",
    'chmod 0700 "$WORK/upload-part"',
    'mkfifo "$WORK/sum"',
    `sha256sum < "$WORK/sum" > "$WORK/sha256" &`,
    "summer=$!",
    "set +e",
    "{",
    `  tar -czf - -C / ${[...excludes, "--", ...members.map(shellQuote)].join(" ")}`,
    '  echo "$?" > "$WORK/tar.rc"',
    `} | tee "$WORK/sum" | split -b "\${REGIME_PART_BYTES:-${FILE_BACKUP_PART_BYTES}}" -d -a 5 --filter="$WORK/upload-part" - "$WORK/part."`,
    'split_rc="${PIPESTATUS[2]}"',
    'wait "$summer"',
    "set -e",
    'tar_rc="$(cat "$WORK/tar.rc" 2>/dev/null || echo 2)"',
    '[ "$split_rc" -eq 0 ] || abort "upload to s3://$BUCKET/$KEY failed; nothing stored"',
    '[ "$tar_rc" -le 1 ] || abort "tar failed (exit $tar_rc); nothing uploaded"',
    '{ printf \'{"Parts":[\'; cat "$WORK"/part.*.json | paste -sd, -; printf \']}\'; } > "$WORK/parts.json"',
    'aws s3api complete-multipart-upload --bucket "$BUCKET" --key "$KEY" --upload-id "$UPLOAD_ID" --multipart-upload "file://$WORK/parts.json" --if-none-match \'*\' --region "$REGION" >/dev/null || abort "upload to s3://$BUCKET/$KEY could not be completed (a backup under that key already exists?); nothing replaced"',
    '[ "$tar_rc" -eq 0 ] || echo "warning: file backup ' + where + ': a file changed while tar read it (tar exit 1); archived as read" >&2',
    'sum="$(cut -c1-64 "$WORK/sha256")"',
    'printf "%s  %s\\n" "$sum" "$STAMP.tar.gz" > "$WORK/manifest"',
    'aws s3api put-object --bucket "$BUCKET" --key "$KEY.sha256" --body "$WORK/manifest" --server-side-encryption aws:kms --if-none-match \'*\' --region "$REGION" >/dev/null || fail "the manifest s3://$BUCKET/$KEY.sha256 could not be stored"',
    `aws cloudwatch put-metric-data --region "$REGION" --namespace ${shellQuote(input.namespace)} --metric-name ${FILE_BACKUP_METRIC} --unit Count --value 1 --dimensions ${shellQuote(
      Object.entries(fileBackupDimensions(regime, group.name, backup.name, input.host))
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    )}`,
    'echo "backed up to s3://$BUCKET/$KEY (sha256 $sum)"',
    "",
  ].join("\n");
}

/** The SSM Command document and State Manager association of a backup on the tagged instances: `<regime>-<group>-file-backup-<name>`. */
export function fileBackupDocumentName(regime: string, group: string, name: string): string {
  return `${regime}-${group}-file-backup-${name}`;
}

/** Where the install script puts a backup script on an SSH host. */
export function fileBackupScriptPath(group: string, name: string): string {
  return `/usr/local/sbin/maintenance-regime-${group}-${name}-backup`;
}

/** The cron file of a backup on an SSH host. */
export function fileBackupCronPath(group: string, name: string): string {
  return `/etc/cron.d/maintenance-regime-${group}-${name}`;
}

/** The /etc/cron.d file that runs a backup script as root at the UTC times, its output to syslog. */
export function renderCronFile(input: { regime: string; group: string; name: string; hostCron: string; description: string; paused?: boolean }): string {
  const tag = `maintenance-regime-${input.group}-${input.name}`;
  return [
    `# File backup ${input.regime}/${input.group}/${input.name} (${input.description}); generated by maintenance-regime.`,
    managedMarker(input.regime, input.group),
    "SHELL=/bin/bash",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    // cronie reads CRON_TZ; the install script warns when another cron would use a non-UTC host clock.
    "CRON_TZ=UTC",
    // paused: true keeps the file (resuming is one line in the stack config) with the job commented out.
    // The run limit the tagged instances' SSM step has (FILE_BACKUP_TIMEOUT_SECONDS), enforced by coreutils timeout.
    `${input.paused ? "# paused: " : ""}${input.hostCron} root timeout --kill-after=60 ${FILE_BACKUP_TIMEOUT_SECONDS} ${fileBackupScriptPath(input.group, input.name)} 2>&1 | logger -t ${tag}`,
    "",
  ].join("\n");
}

export interface FileBackupInstallInput {
  regime: string;
  group: string;
  /** Backup name -> its rendered script and cron file. */
  backups: Record<string, { script: string; cron: string }>;
}

/**
 * Script (run as root over SSH) that installs each backup script 0755 and its cron file 0644 and
 * removes the group's cron files and scripts no longer declared. `REGIME_ETC` and `REGIME_SBIN` move
 * /etc and /usr/local/sbin (for tests).
 */
export function renderFileBackupInstallScript(input: FileBackupInstallInput): string {
  const names = Object.keys(input.backups).sort();
  for (const n of names) if (!/^[a-z][a-z0-9-]*$/.test(n)) throw new Error(`${n}: not a safe file backup name`);
  const marker = managedMarker(input.regime, input.group);
  const base = `maintenance-regime-${input.group}-`;
  const lines = [
    "#!/bin/bash",
    `# Installs the file backups of ${input.regime}/${input.group}; generated by maintenance-regime.`,
    "set -euo pipefail",
    'ETC="${REGIME_ETC:-/etc}"',
    'SBIN="${REGIME_SBIN:-/usr/local/sbin}"',
    'mkdir -p "$ETC/cron.d" "$SBIN"',
    'if [ "$(date +%z)" != "+0000" ] && ! crond -V >/dev/null 2>&1; then echo "warning: the host clock is not UTC and cron may not read CRON_TZ: file backups run at the UTC times in local time" >&2; fi',
  ];
  for (const n of names) {
    const b = input.backups[n];
    const script = posix.basename(fileBackupScriptPath(input.group, n));
    const cron = posix.basename(fileBackupCronPath(input.group, n));
    lines.push(
      `printf %s ${Buffer.from(b.script, "utf8").toString("base64")} | base64 -d > "$SBIN/.${script}.new"`,
      `chmod 0755 "$SBIN/.${script}.new" && mv -f "$SBIN/.${script}.new" "$SBIN/${script}"`,
      `printf %s ${Buffer.from(b.cron, "utf8").toString("base64")} | base64 -d > "$ETC/cron.d/.${cron}.new"`,
      `chmod 0644 "$ETC/cron.d/.${cron}.new" && mv -f "$ETC/cron.d/.${cron}.new" "$ETC/cron.d/${cron}"`,
      `echo "installed $ETC/cron.d/${cron} and $SBIN/${script}"`,
    );
  }
  lines.push(
    `keep=" ${names.join(" ")} "`,
    `for f in "$ETC"/cron.d/${base}*; do`,
    '  [ -f "$f" ] || continue',
    `  n="\${f##*/${base}}"`,
    `  if grep -qxF ${shellQuote(marker)} "$f" && [[ "$keep" != *" $n "* ]]; then rm -f "$f" "$SBIN/${base}$n-backup"; echo "removed $f"; fi`,
    "done",
    "",
  );
  return lines.join("\n");
}
