/**
 * logrotate configs, Docker daemon.json log options and the shell script that installs them, rendered
 * from validated log sets. Pure functions (plus `checkWithLogrotate`, which runs the real logrotate):
 * the components deliver the output, tests check it with `/usr/sbin/logrotate`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import {
  archivePrefix,
  delaysCompression,
  effectiveKeep,
  resolveLogPath,
  type DockerLogOptions,
  type HostGroup,
  type LogSet,
} from "./logs";
import { logSetRetention, retentionText } from "./log-retention";

export const LOGROTATE_DIR = "/etc/logrotate.d";

/** The line that marks a file in /etc/logrotate.d as managed for one host group (stale ones are removed). */
export function managedMarker(regime: string, group: string): string {
  return `# managed-by: maintenance-regime ${regime}/${group}`;
}

/** A path as logrotate reads it: bare when plain, else quoted (double quotes, or single when it holds "). */
export function quoteLogPath(path: string): string {
  if (/[\u0000-\u001f\u007f]/.test(path)) throw new Error(`${path}: contains control characters`);
  if (!/[\s"'\\#]/.test(path)) return path;
  if (!path.includes('"')) return `"${path}"`;
  if (!path.includes("'")) return `'${path}'`;
  throw new Error(`${path}: contains both ' and ", logrotate cannot quote it`);
}

/** A word for /bin/sh in single quotes. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface RenderContext {
  regime: string;
  group: string;
  appRoot?: string;
  /** Bucket that receives archives; required when the log set has `archive`. */
  archiveBucket?: string;
}

/**
 * How rotated files are named whenever they are named by date: down to the second, so a name never
 * repeats, however often a file rotates (maxsize, a forced run). logrotate allows only %Y %m %d %H
 * %M %S %V %s here, and the names must sort by time (it deletes the oldest by name).
 */
export const DATE_FORMAT = "-%Y%m%d-%H%M%S";

/** Directory (under REGIME_STATE_DIR, default /var/lib/maintenance-regime) of the records of archived files. */
export const ARCHIVE_RECORD_DIR = "log-archive";

/**
 * A logrotate path as a /bin/sh word that still globs: the glob characters * ? [ ] and its \ escapes
 * are kept, every other character outside letters, digits and / . _ - + , : @ % is backslash-escaped.
 */
function shellGlob(path: string): string {
  const plain = (c: string) => (/[A-Za-z0-9/._+,:@%-]/.test(c) ? c : `\\${c}`);
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    const close = c === "[" ? path.indexOf("]", i + (path[i + 1] === "!" || path[i + 1] === "^" ? 3 : 2)) : -1;
    if (c === "\\" && i + 1 < path.length) out += `\\${path[++i]}`;
    else if (c === "*" || c === "?") out += c;
    else if (close > 0) {
      // A bracket expression: its negation and ranges stay, other characters are escaped inside it.
      let body = path.slice(i + 1, close);
      let head = "";
      if (body[0] === "!" || body[0] === "^") [head, body] = ["!", body.slice(1)];
      out += `[${head}${[...body].map((b) => (b === "-" ? b : plain(b))).join("")}]`;
      i = close;
    } else out += plain(c);
  }
  return out;
}

/**
 * The lastaction script that archives a log set's rotated files (`<path>-<date>.gz`): each file not
 * yet recorded as archived is uploaded once, with `aws s3api put-object --if-none-match '*'` (a write
 * that S3 refuses when the key exists), to `<prefix><host><absolute path>-<date>.gz`: the host and the
 * full path keep two hosts, or two directories holding `app.log`, apart, the date keeps rotations
 * apart. A refusal because the key exists (PreconditionFailed) means an earlier run stored it: it is
 * recorded too. A file that could not be uploaded stays unrecorded and is tried again at the next
 * rotation; the script then exits 1, so logrotate reports it. The record forgets files logrotate has
 * deleted. `REGIME_STATE_DIR` and `REGIME_HOSTNAME` move the record and name the host (for tests).
 */
function archiveScript(set: LogSet, ctx: RenderContext & { archiveBucket: string }): string[] {
  const prefix = archivePrefix(ctx.group, set);
  const globs = set.paths.map((p) => `${shellGlob(resolveLogPath(p, ctx.appRoot))}-[0-9]*.gz`);
  const record = `\${REGIME_STATE_DIR:-/var/lib/maintenance-regime}/${ARCHIVE_RECORD_DIR}/${ctx.regime}-${ctx.group}-${set.name}`;
  return [
    "lastaction",
    `    command -v aws >/dev/null || { echo "${set.name}: aws CLI not found, rotated logs not archived" >&2; exit 1; }`,
    `    REC="${record}"`,
    '    mkdir -p "${REC%/*}" && touch "$REC"',
    '    HOST="${REGIME_HOSTNAME:-$(hostname)}"',
    "    failed=0",
    `    for f in ${globs.join(" ")}; do`,
    '        [ -f "$f" ] || continue',
    '        grep -qxF "$f" "$REC" && continue',
    `        if out="$(aws s3api put-object --bucket ${shellQuote(ctx.archiveBucket)} --key ${shellQuote(prefix)}"$HOST$f" --body "$f" --if-none-match '*' 2>&1 >/dev/null)" || printf '%s' "$out" | grep -q PreconditionFailed; then`,
    '            echo "$f" >> "$REC"',
    "        else",
    `            echo "${set.name}: $f not archived (tried again at the next rotation): $out" >&2`,
    "            failed=1",
    "        fi",
    "    done",
    '    while IFS= read -r f; do [ ! -e "$f" ] || echo "$f"; done < "$REC" > "$REC.new" && mv -f "$REC.new" "$REC"',
    '    exit "$failed"',
    "endscript",
  ];
}

/**
 * The logrotate config of one log set: one file under /etc/logrotate.d/<name>. Its header states what
 * the directives really keep (regime/log-retention.ts: the smaller of rotate x period and maxage, and
 * the archive's days), the figure of the log set's retention promise.
 */
export function renderLogrotateConfig(set: LogSet, ctx: RenderContext): string {
  const keep = effectiveKeep(set);
  const paths = set.paths.map((p) => quoteLogPath(resolveLogPath(p, ctx.appRoot)));
  const d: string[] = [set.frequency, `rotate ${keep}`];
  if (set.maxAgeDays !== undefined) d.push(`maxage ${set.maxAgeDays}`);
  if (set.maxSize) d.push(`maxsize ${set.maxSize}`);
  d.push("missingok", "notifempty");
  if (set.compress) {
    d.push("compress");
    if (delaysCompression(set)) d.push("delaycompress");
  } else d.push("nocompress");
  // Archived files are named by date: numbered names (x.log.1.gz) are renamed at every rotation.
  if (set.dateext || set.archive) d.push("dateext", `dateformat ${DATE_FORMAT}`);
  if (set.copytruncate) d.push("copytruncate");
  if (set.create) d.push(`create ${set.create.mode.padStart(4, "0")} ${set.create.owner} ${set.create.group}`);
  if (set.su) d.push(`su ${set.su.user} ${set.su.group}`);
  const scripts: string[] = [];
  if (set.reopenCommand) scripts.push("postrotate", `    ${set.reopenCommand}`, "endscript");
  if (set.archive) {
    if (!ctx.archiveBucket) throw new Error(`log set ${set.name}: archive needs the log archive bucket name`);
    scripts.push(...archiveScript(set, { ...ctx, archiveBucket: ctx.archiveBucket }));
  }
  if (scripts.length) d.push("sharedscripts", ...scripts);
  return [
    `# Generated by maintenance-regime from the stack config (${ctx.regime}, host group ${ctx.group}, log set ${set.name}).`,
    `# Rotated logs kept: ${retentionText(set, logSetRetention(set))}.`,
    "# Do not edit: changes are overwritten on the next delivery.",
    managedMarker(ctx.regime, ctx.group),
    `${paths.join(" ")} {`,
    ...d.map((l) => `    ${l}`),
    "}",
    "",
  ].join("\n");
}

/** Every log set of a host group rendered: file name under /etc/logrotate.d -> content. */
export function renderHostGroupConfigs(group: HostGroup, ctx: Omit<RenderContext, "group" | "appRoot">): Record<string, string> {
  const out: Record<string, string> = {};
  for (const set of group.logSets) out[set.name] = renderLogrotateConfig(set, { ...ctx, group: group.name, appRoot: group.appRoot });
  return out;
}

/** Docker's json-file log options; values are strings, as dockerd requires. */
export function renderDaemonJson(opts: Pick<DockerLogOptions, "maxSize" | "maxFile">): string {
  return (
    JSON.stringify({ "log-driver": "json-file", "log-opts": { "max-size": opts.maxSize, "max-file": String(opts.maxFile) } }, null, 2) + "\n"
  );
}

/** Lines of logrotate's stderr that report an error (logrotate 3.21 exits 0 on many of them). */
export function logrotateErrors(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("error:"));
}

export interface LogrotateCheck {
  ok: boolean;
  errors: string[];
  status: number | null;
  stderr: string;
}

/**
 * Checks a config with the real logrotate in debug mode (`-d -f -s <state>`: nothing is rotated):
 * fails on a non-zero exit or on any stderr line starting with `error:`.
 */
export function checkWithLogrotate(content: string, opts: { logrotate?: string } = {}): LogrotateCheck {
  const dir = mkdtempSync(join(tmpdir(), "logrotate-check-"));
  try {
    const conf = join(dir, "config");
    writeFileSync(conf, content, { mode: 0o644 });
    const r = spawnSync(opts.logrotate ?? "/usr/sbin/logrotate", ["-d", "-f", "-s", join(dir, "state"), conf], { encoding: "utf8" });
    if (r.error) throw r.error;
    const errors = logrotateErrors(r.stderr);
    return { ok: r.status === 0 && errors.length === 0, errors, status: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface InstallScriptInput {
  regime: string;
  group: string;
  /** File name under /etc/logrotate.d -> content. */
  configs: Record<string, string>;
  docker?: Pick<DockerLogOptions, "maxSize" | "maxFile" | "restartDaemon">;
  /** Containers whose output must reach a log group through the awslogs driver: checked, never changed. */
  containers?: { service?: string; name?: string; logGroup: string }[];
}

/**
 * The lines that check, on the host, that every running container of each declared service (or the
 * named container) logs through awslogs to its log group: the logging lives in the compose file, which
 * the regime does not own, so a deploy that drops it is reported (the run fails, State Manager shows
 * the association non-compliant) instead of the group going quiet. A service without a running
 * container, or a named container that does not exist, is a warning.
 */
function containerCheckLines(containers: NonNullable<InstallScriptInput["containers"]>): string[] {
  const lines = [
    'if ! command -v docker >/dev/null; then echo "error: docker is not installed, but the group ships container output" >&2; failed=1',
    "else",
    "  check_container() {",
    '    local id="$1" what="$2" group="$3" got',
    `    got="$(docker inspect --format '{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "awslogs-group"}}' "$id")" || { echo "warning: cannot inspect $what" >&2; return; }`,
    '    if [ "$got" = "awslogs $group" ]; then echo "$what logs to $group"',
    '    else echo "error: $what logs to ${got% }, not awslogs to $group: add its logging block from the containerLogging output and recreate it (docker compose up -d)" >&2; failed=1; fi',
    "  }",
  ];
  for (const c of containers) {
    const group = shellQuote(c.logGroup);
    if (c.service !== undefined) {
      const svc = shellQuote(c.service);
      lines.push(
        `  ids="$(docker ps -q --filter label=com.docker.compose.service=${svc})"`,
        `  if [ -z "$ids" ]; then echo "warning: no running container of service "${svc} >&2; fi`,
        `  for id in $ids; do check_container "$id" "container $(docker inspect --format '{{.Name}}' "$id" | sed 's|^/||') of service "${svc} ${group}; done`,
      );
    } else {
      const name = shellQuote(c.name!);
      lines.push(`  if docker inspect --type container ${name} >/dev/null 2>&1; then check_container ${name} "container "${name} ${group}; else echo "warning: no container named "${name} >&2; fi`);
    }
  }
  lines.push("fi");
  return lines;
}

/**
 * The shell script that installs a host group's files, run as root by SSM (aws:runShellScript) or over
 * SSH. The group's configs (passed base64-encoded: no quoting pitfalls) are installed all together or
 * not at all:
 *
 * 1. the set that would be installed is built in a scratch directory: every file of /etc/logrotate.d
 *    but the group's own (marked by `managedMarker`), plus the group's new configs (0644);
 * 2. `logrotate -d` reads it through a copy of the host's /etc/logrotate.conf whose `include
 *    /etc/logrotate.d` points at the scratch directory (so the host's global options and every other
 *    config take part, e.g. Debian's /etc/logrotate.d/nginx), and once more without the group's
 *    configs: an `error:` line (a `duplicate log entry`, an unknown directive ...) that the group's
 *    configs add fails the run, prints the lines and leaves /etc/logrotate.d exactly as it was;
 *    errors the host's own configs already had are reported as warnings;
 * 3. otherwise each config is staged next to /etc/logrotate.d (same file system; logrotate reads
 *    hidden files inside it too) and renamed into place, then the group's configs no longer declared
 *    are removed.
 *
 * daemon.json is merged into the existing one (jq, else python3). Containers that must ship their output
 * are checked (`containerCheckLines`). The run fails (non-zero) when the configs were refused or a
 * container does not log to its group. `REGIME_ETC` moves /etc (for tests on a scratch directory).
 */
export function renderInstallScript(input: InstallScriptInput): string {
  const marker = managedMarker(input.regime, input.group);
  const names = Object.keys(input.configs).sort();
  for (const n of names) if (!/^[a-z][a-z0-9-]*$/.test(n)) throw new Error(`${n}: not a safe file name for ${LOGROTATE_DIR}`);
  const where = `${input.regime}/${input.group}`;
  const lines: string[] = [
    "#!/bin/bash",
    `# Installs the logrotate configs of ${where}; generated by maintenance-regime.`,
    "set -euo pipefail",
    'ETC="${REGIME_ETC:-/etc}"',
    'LOGROTATE="$(command -v logrotate || echo /usr/sbin/logrotate)"',
    'WORK="$(mktemp -d)"',
    "trap 'rm -rf \"$WORK\"' EXIT",
    "failed=0",
    `MARKER=${shellQuote(marker)}`,
    `keep=" ${names.join(" ")} "`,
    'mkdir -p "$ETC/logrotate.d"',
  ];
  if (names.length) {
    lines.push('command -v logrotate >/dev/null || [ -x /usr/sbin/logrotate ] || { echo "error: logrotate is not installed" >&2; exit 1; }');
  }
  lines.push(
    // 1. The host's configs without the group's (base) and with the group's new ones (new).
    'mkdir "$WORK/base" "$WORK/new"',
    'for f in "$ETC"/logrotate.d/* "$ETC"/logrotate.d/.[!.]*; do',
    '  [ -f "$f" ] || continue',
    '  grep -qxF "$MARKER" "$f" && continue',
    '  cp -p "$f" "$WORK/base/" && cp -p "$f" "$WORK/new/"',
    "done",
  );
  for (const n of names) {
    lines.push(`printf %s ${Buffer.from(input.configs[n], "utf8").toString("base64")} | base64 -d > "$WORK/new/${n}"`, `chmod 0644 "$WORK/new/${n}"`);
  }
  lines.push(
    // 2. logrotate -d over each set, through the host's logrotate.conf.
    "check() {",
    '  local set="$1" rc=0',
    '  if [ -f "$ETC/logrotate.conf" ]; then',
    `    awk -v dir="$WORK/$set" -v etc="$ETC" '$1 == "include" && ($2 == "/etc/logrotate.d" || $2 == "/etc/logrotate.d/" || $2 == etc "/logrotate.d" || $2 == etc "/logrotate.d/") { print "include " dir; found = 1; next } { print } END { if (!found) print "include " dir }' "$ETC/logrotate.conf" > "$WORK/$set.conf"`,
    '  else printf "include %s\\n" "$WORK/$set" > "$WORK/$set.conf"; fi',
    '  "$LOGROTATE" -d -s "$WORK/$set.state" "$WORK/$set.conf" > "$WORK/$set.out" 2>&1 || rc=$?',
    `  { grep "^error:" "$WORK/$set.out" || true; } | sed "s|$WORK/$set|$ETC/logrotate.d|g" | awk '!seen[$0]++' > "$WORK/$set.errors"`,
    '  [ "$rc" -eq 0 ] || [ -s "$WORK/$set.errors" ] || echo "error: logrotate -d exited $rc" > "$WORK/$set.errors"',
    "}",
    // Without configs of its own the group can add no error (and the host may have no logrotate).
    names.length ? "check base" : ': > "$WORK/base.errors"',
    names.length ? "check new" : ': > "$WORK/new.errors"',
    'added="$(grep -vxF -f "$WORK/base.errors" "$WORK/new.errors" || true)"',
    `while IFS= read -r line; do [ -z "$line" ] || echo "warning: the host's own logrotate configs report: $line" >&2; done < "$WORK/base.errors"`,
    'if [ -n "$added" ]; then',
    '  printf "%s\\n" "$added" >&2',
    `  echo "error: the logrotate configs of ${where} were not installed; $ETC/logrotate.d is left as it was" >&2`,
    "  failed=1",
    "else",
    // 3. Staged on the same file system, renamed into place; then the group's stale configs go.
    '  STAGE="$(mktemp -d "$ETC/.logrotate.d.staging.XXXXXX")"',
    "  trap 'rm -rf \"$WORK\" \"$STAGE\"' EXIT",
    '  for n in $keep; do',
    '    install -m 0644 -o root -g root "$WORK/new/$n" "$STAGE/$n"',
    '    if cmp -s "$STAGE/$n" "$ETC/logrotate.d/$n"; then echo "$ETC/logrotate.d/$n unchanged"; else mv -f "$STAGE/$n" "$ETC/logrotate.d/$n"; echo "installed $ETC/logrotate.d/$n"; fi',
    "  done",
    '  for f in "$ETC"/logrotate.d/* "$ETC"/logrotate.d/.[!.]*; do',
    '    [ -f "$f" ] || continue',
    '    if grep -qxF "$MARKER" "$f" && [[ "$keep" != *" $(basename "$f") "* ]]; then rm -f "$f"; echo "removed $f"; fi',
    "  done",
    "fi",
  );
  if (input.docker) {
    const daemon = renderDaemonJson(input.docker);
    lines.push(
      `printf %s ${Buffer.from(daemon, "utf8").toString("base64")} | base64 -d > "$WORK/daemon.json"`,
      'target="$ETC/docker/daemon.json"',
      'mkdir -p "$ETC/docker"',
      'if [ -s "$target" ]; then',
      '  if command -v jq >/dev/null; then jq -s ".[0] * .[1]" "$target" "$WORK/daemon.json" > "$WORK/merged.json"',
      "  elif command -v python3 >/dev/null; then python3 -c 'import json,sys",
      "a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))",
      'a["log-driver"]=b["log-driver"]; a.setdefault("log-opts",{}).update(b["log-opts"])',
      "json.dump(a,open(sys.argv[3],\"w\"),indent=2)' \"$target\" \"$WORK/daemon.json\" \"$WORK/merged.json\"",
      '  else echo "error: neither jq nor python3 found to merge $target" >&2; exit 1; fi',
      'else cp "$WORK/daemon.json" "$WORK/merged.json"; fi',
      'if cmp -s "$WORK/merged.json" "$target"; then echo "$target unchanged"',
      "else",
      '  install -D -m 0644 -o root -g root "$WORK/merged.json" "$target"',
      input.docker.restartDaemon
        ? '  echo "$target changed: restarting docker"; systemctl restart docker'
        : '  echo "$target changed: restart dockerd to apply (new containers get the log options; restartDaemon: true does it)"',
      "fi",
    );
  }
  if (input.containers?.length) lines.push(...containerCheckLines(input.containers));
  lines.push('if [ "$failed" -ne 0 ]; then exit 1; fi', "");
  return lines.join("\n");
}

/** Where the CloudWatch agent's control script lives (Linux packages). */
export const CWAGENT_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl";

export interface AgentScriptInput {
  regime: string;
  group: string;
  /** Rendered agent logs config (renderAgentLogsConfig). */
  config: string;
  mode: "onPremise" | "ec2";
}

/** File the agent config lands in on an SSH host; the agent keeps its own copy per file name, so one per group. */
export function agentConfigPath(regime: string, group: string): string {
  return `/etc/maintenance-regime/${regime}-${group}-cloudwatch-logs.json`;
}

/**
 * Shell script (run as root) that writes the group's agent logs config and appends it to the running
 * agent's configuration (`append-config`: the metrics config and other appended files stay; appending
 * the same file name again replaces the earlier copy), restarting the agent.
 */
export function renderAgentScript(input: AgentScriptInput): string {
  JSON.parse(input.config);
  const path = agentConfigPath(input.regime, input.group);
  const file = posix.basename(path);
  return [
    "#!/bin/bash",
    `# Appends the CloudWatch agent logs config of ${input.regime}/${input.group}; generated by maintenance-regime.`,
    "set -euo pipefail",
    'ETC="${REGIME_ETC:-/etc}"',
    `CTL="\${REGIME_CWAGENT_CTL:-${CWAGENT_CTL}}"`,
    '[ -x "$CTL" ] || { echo "error: the CloudWatch agent is not installed ($CTL not found)" >&2; exit 1; }',
    'DIR="$ETC/maintenance-regime"',
    'mkdir -p "$DIR"',
    `printf %s ${Buffer.from(input.config, "utf8").toString("base64")} | base64 -d > "$DIR/${file}.new"`,
    `chmod 0644 "$DIR/${file}.new"`,
    `mv -f "$DIR/${file}.new" "$DIR/${file}"`,
    `"$CTL" -a append-config -m ${input.mode} -c "file:$DIR/${file}" -s`,
    `echo "appended $DIR/${file} to the CloudWatch agent's configuration"`,
    "",
  ].join("\n");
}
