/**
 * Logs in the regime: host groups whose log files are rotated by logrotate (configs delivered by SSM
 * State Manager to tagged instances and over SSH to other hosts), Docker json-file log options, and
 * CloudWatch log groups with retention, metric filters and alarms.
 *
 * Everything logrotate would misread is refused here, with the key path, before anything is rendered:
 * `hostGroups[0].logSets[1].paths[0]: must be absolute or under appRoot`.
 */
import { z } from "zod";
import { LOG_RETENTION_DAYS, stateManagerMonthsProblem } from "./limits";
import { acrossValidItems, ALWAYS, configErrorMap, paused, schedule, severity, uniqueBy, whenValid } from "./primitives";
import type { Severity } from "./severity";
import { FILE_BACKUP_ROOT, fileBackupPrefix, fileBackupSchedule, type FileBackupSchedule } from "./file-backups";
import { parseSchedule, writtenSchedule, type Schedule } from "./schedule";
import { logPathsOverlap } from "./glob-overlap";

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, "must start with a letter and use only lowercase letters, digits and -, at most 40 characters");

const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);

const unixName = z
  .string()
  .regex(/^[a-z_][a-z0-9_.-]{0,31}\$?$/i, "must be a user or group name (letters, digits, _ . -)");

export const FREQUENCIES = ["daily", "weekly", "monthly", "yearly"] as const;
export type Frequency = (typeof FREQUENCIES)[number];

/** Days one rotation period covers; used to derive `rotate N` from a maximum age. */
export const FREQUENCY_DAYS: Record<Frequency, number> = { daily: 1, weekly: 7, monthly: 28, yearly: 365 };

const logRetention = z
  .number()
  .int("must be a whole number of days")
  .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
    message: `must be one of ${LOG_RETENTION_DAYS.join(", ")}`,
  });

// ---------------------------------------------------------------- logrotate log sets

const logPath = z
  .string()
  .min(1, "must not be empty")
  .refine(noControl, "must not contain newlines or control characters")
  .refine((p) => !(p.includes('"') && p.includes("'")), "must not contain both ' and \" (logrotate cannot quote it)")
  .refine((p) => !/[{}]/.test(p), "must not contain { or } (logrotate reads them as a block)")
  .refine((p) => !p.split("/").includes(".."), "must not contain .. segments");

const archiveSchema = z
  .object({
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)*\/?$/, "must be an S3 key prefix like app/logs/ (letters, digits, . _ - and /)")
      // S3 keeps . and .. literally, but a client may resolve them (logs/../files/ is files/): the checks
      // of where the prefix lies (not under files/, not starting another prefix) compare it as written.
      .refine((p) => !p.split("/").some((part) => part === "." || part === ".."), "must not contain . or .. segments (logs/../files/ would be files/ to a client that resolves them)")
      .transform((p) => (p.endsWith("/") ? p : `${p}/`))
      .optional()
      .describe("key prefix under the regime's log archive bucket; default <group>/<logSet>/"),
    expireDays: z
      .number()
      .int("must be a whole number of days")
      .min(1, "must be >= 1")
      .describe("each archived file is readable this many days after its upload (S3 rounds to the next midnight UTC), then kept 1 day as a noncurrent version and removed"),
  })
  .strict();

export const logSetSchema = z
  .object({
    name: name.describe("file name under /etc/logrotate.d/"),
    paths: z.array(logPath).min(1, "must list at least one path").describe("log files to rotate, absolute or under appRoot; globs allowed (/var/log/nginx/*.log)"),
    frequency: z.enum(FREQUENCIES, { message: `must be one of ${FREQUENCIES.join(", ")}` }).describe("how often the files are rotated (seed 001: rotate logs daily)"),
    keep: z
      .number()
      .int("must be a whole number")
      .min(1, "must be >= 1 (rotate 0 deletes every rotated log at once)")
      .max(10_000)
      .optional()
      .describe("rotated files kept (rotate N): logrotate removes a file rotated N times, however young, so logs stay N x the frequency's days (daily 1, weekly 7, monthly 28); derived from maxAgeDays when omitted"),
    maxAgeDays: z
      .number()
      .int("must be a whole number of days")
      .min(1, "must be >= 1")
      .optional()
      .describe("rotated files older than this are removed (maxage); a promise: keep x the frequency's days must reach it (or archive.expireDays), else the run is refused"),
    compress: z.boolean().default(true).describe("gzip rotated files"),
    delaycompress: z.boolean().optional().describe("default: true unless copytruncate (the writer may still append to the just-rotated file)"),
    create: z
      .object({
        mode: z.string().regex(/^0?[0-7]{3}$/, "must be an octal mode like 0640").describe("octal file mode of the new file (0640)"),
        owner: unixName.describe("user owning the new file"),
        group: unixName.describe("group owning the new file"),
      })
      .strict()
      .optional()
      .describe("create a fresh file after rotation; pair with reopenCommand when the writer keeps the file open"),
    reopenCommand: z
      .string()
      .min(1, "must not be empty")
      .refine((c) => !/[\r\n]/.test(c), "must be one line (no newlines)")
      .refine(noControl, "must not contain control characters")
      .optional()
      .describe("run once after rotation (postrotate, sharedscripts): nginx -s reopen, pm2 reloadLogs"),
    copytruncate: z.boolean().default(false).describe("copy then truncate, for writers that cannot reopen (may lose a few lines)"),
    su: z
      .object({ user: unixName.describe("user logrotate rotates as"), group: unixName.describe("group logrotate rotates as") })
      .strict()
      .optional()
      .describe("rotate as this user and group (su), needed when the log directory is writable by others than root"),
    dateext: z.boolean().default(false).describe("name rotated files by date to the second (app.log-20250101-030000) instead of a number; always on with archive"),
    maxSize: z
      .string()
      .regex(/^[1-9][0-9]*[kMG]?$/, "must be a size like 100M, 500k or 1G")
      .optional()
      .describe("rotate before the period ends when a file grows past this (maxsize)"),
    archive: archiveSchema
      .optional()
      .describe("upload each rotated *.gz once, write-once, to the regime's log archive bucket under <prefix><host><path>-<date>.gz (needs the aws CLI on the host)"),
  })
  .strict()
  // Checks across keys and paths, beside other problems: each on the keys it reads that are valid (acrossValidItems).
  .superRefine(acrossValidItems((s, ctx) => {
    if (s.keep === undefined && s.maxAgeDays === undefined) {
      ctx.addIssue({ code: "custom", path: ["keep"], message: "set keep or maxAgeDays (logrotate's default rotate 0 deletes rotated logs at once)" });
    }
    if (s.copytruncate && s.create) {
      ctx.addIssue({ code: "custom", path: ["copytruncate"], message: "copytruncate and create are mutually exclusive: use create + reopenCommand when the writer can reopen" });
    }
    if (!s.copytruncate && !s.create) {
      ctx.addIssue({ code: "custom", path: ["create"], message: "set create (+ reopenCommand) or copytruncate: true, so the writer keeps logging after rotation" });
    }
    if (s.copytruncate && s.reopenCommand) {
      ctx.addIssue({ code: "custom", path: ["reopenCommand"], message: "reopenCommand needs create, not copytruncate" });
    }
    if (s.archive && !s.compress) {
      ctx.addIssue({ code: "custom", path: ["archive"], message: "archive uploads *.gz files: needs compress: true" });
    }
    s.paths.forEach((p, i) => {
      const problem = lastSegmentProblem(p);
      if (problem) ctx.addIssue({ code: "custom", path: ["paths", i], message: problem });
    });
  }, ["keep", "maxAgeDays", "copytruncate", "create", "reopenCommand", "archive", "compress", "paths"]), ALWAYS);

// ---------------------------------------------------------------- CloudWatch log groups

/**
 * Metric names (and alarm name parts) of the built-in log metrics: a custom pattern may not take them.
 * `rate-errors` is the error rate's own 5xx filter, `error-rate` its alarms.
 */
export const BUILT_IN_LOG_METRICS = {
  errors: "errors",
  http5xx: "http-5xx",
  authFailures: "http-401-403",
  failedLogins: "failed-logins",
  requests: "requests",
  rateErrors: "rate-errors",
  errorRate: "error-rate",
} as const;

const RESERVED_METRICS: readonly string[] = Object.values(BUILT_IN_LOG_METRICS);

/** Characters CloudWatch allows inside a %regular expression%: alphanumerics, : _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \ * + . */
const REGEX_BODY = /^[A-Za-z0-9:_#=@/;,\-^$?[\]{}|\\*+.]+$/;

/** CloudWatch's limits: %regular expressions% per JSON or space-delimited pattern, regex patterns per log group (metric filters). */
export const MAX_REGEX_PER_PATTERN = 2;
export const MAX_REGEX_PATTERNS_PER_LOG_GROUP = 5;

interface PatternScan {
  problem?: string;
  /** How many %regular expressions% the pattern holds. */
  regexes: number;
}

/**
 * Reads a CloudWatch Logs filter pattern the way CloudWatch splits it: "quoted terms", %regular
 * expressions%, a { JSON } pattern or a [space, delimited] pattern, or plain terms (space: AND; ?term:
 * OR; -term: NOT). Reports what CloudWatch would refuse or read otherwise than written: an empty
 * pattern (it counts every line), an unclosed quote or %, unbalanced ( ) [ ] { }, text after a JSON or
 * delimited block, a JSON pattern without a $. selector, unquoted brackets or AND/OR/NOT among plain terms, a regular
 * expression with characters CloudWatch does not support (( ), spaces, non-ASCII), too many of them.
 */
function scanFilterPattern(pattern: string): PatternScan {
  const p = pattern.trim();
  if (p === "") return { problem: "must not be empty (an empty pattern counts every line)", regexes: 0 };
  const closes: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  const stack: { c: string; at: number }[] = [];
  let regexes = 0;
  let outside = "";
  let firstBlockEnd = -1;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '"') {
      let j = i + 1;
      while (j < p.length && p[j] !== '"') j += p[j] === "\\" ? 2 : 1;
      if (j >= p.length) return { problem: `has an unclosed " (opened at character ${i + 1})`, regexes };
      outside += "Q"; // a term: ?"a phrase" is a term with its ?
      i = j;
      continue;
    }
    if (c === "%") {
      const end = p.indexOf("%", i + 1);
      if (end < 0) return { problem: `has an unclosed % regular expression (opened at character ${i + 1})`, regexes };
      const body = p.slice(i + 1, end);
      if (body === "") return { problem: `has an empty %% regular expression at character ${i + 1}`, regexes };
      if (/[()]/.test(body)) return { problem: `%${body}%: CloudWatch regular expressions do not support ( ) groups`, regexes };
      if (!REGEX_BODY.test(body)) {
        return { problem: `%${body}%: CloudWatch regular expressions allow only letters, digits, : _ # = @ / ; , - and ^ $ ? [ ] { } | \\ * + . (use \\s for a space)`, regexes };
      }
      regexes++;
      outside += "R";
      i = end;
      continue;
    }
    outside += c;
    if (c === "(" || c === "[" || c === "{") stack.push({ c, at: i });
    else if (c in closes) {
      const open = stack.pop();
      if (!open || open.c !== closes[c]) return { problem: `has an unbalanced ${c} at character ${i + 1}`, regexes };
      if (stack.length === 0 && firstBlockEnd < 0 && open.at === 0) firstBlockEnd = i;
    }
  }
  if (stack.length > 0) {
    const open = stack[stack.length - 1];
    return { problem: `has an unclosed ${open.c} (opened at character ${open.at + 1})`, regexes };
  }
  const first = p[0];
  if (first === "{" || first === "[") {
    const kind = first === "{" ? "JSON" : "space-delimited";
    if (firstBlockEnd !== p.length - 1) return { problem: `a ${kind} pattern must be one ${first} ... ${first === "{" ? "}" : "]"} block with nothing after it`, regexes };
    const inner = p.slice(1, -1).trim();
    if (first === "{" && !/\$/.test(inner)) return { problem: 'a JSON pattern needs a selector, like { $.level = "error" }', regexes };
    if (first === "[" && inner === "") return { problem: "a space-delimited pattern needs fields, like [ip, user, status_code = 5*]", regexes };
    if (regexes > MAX_REGEX_PER_PATTERN) return { problem: `holds ${regexes} %regular expressions%: CloudWatch allows at most ${MAX_REGEX_PER_PATTERN} in a ${kind} pattern`, regexes };
    return { regexes };
  }
  // Plain terms.
  const bracket = /[()[\]{}]/.exec(outside);
  if (bracket) return { problem: `put terms with ${bracket[0]} in double quotes: an unquoted one is read as a JSON or space-delimited pattern`, regexes };
  if (regexes > 0 && !/^%[^%]*%$/.test(p)) return { problem: "a %regular expression% among plain terms must be the whole pattern (CloudWatch matches it alone)", regexes };
  const terms = outside.split(/\s+/);
  const bare = terms.find((t) => t === "?" || t === "-");
  if (bare) return { problem: `a lone ${bare}: write it right before its term (?ERROR, -DEBUG)`, regexes };
  const operator = terms.find((t) => /^(AND|OR|NOT|&&|\|\|)$/.test(t));
  if (operator) {
    return { problem: `${operator} is read as a term to match, not an operator: separate terms with spaces (all must appear), prefix ?term (any) or -term (none); quote "${operator}" to match it`, regexes };
  }
  return { regexes };
}

/** Why CloudWatch Logs would refuse or misread the filter pattern, or undefined when it reads as written. */
export function filterPatternProblem(pattern: string): string | undefined {
  return scanFilterPattern(pattern).problem;
}

const filterPattern = z
  .string()
  .max(1024, "must be at most 1024 characters")
  .refine((p) => !/[\r\n]/.test(p), "must be one line")
  .superRefine((p, ctx) => {
    const problem = filterPatternProblem(p);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const periodMinutes = z.number().int().min(1).max(1440, "must be <= 1440");

const countMetric = (threshold: number, minutes: number, sev: Severity) =>
  z
    .object({
      pattern: filterPattern.optional().describe("CloudWatch Logs filter pattern; default depends on format"),
      threshold: z.number().int().min(1).default(threshold).describe("alarm when the count reaches this within periodMinutes"),
      periodMinutes: periodMinutes.default(minutes).describe("minutes the lines are counted over"),
      severity: severity.default(sev).describe("severity of the alarm"),
    })
    .strict();

/**
 * A log group's own filter pattern: one metric filter and one alarm, named like the built-in ones
 * (`<group>-<logGroup id>-<name>`), at least `threshold` matching lines within `periodMinutes`.
 */
export const logPatternSchema = countMetric(1, 5, "P2")
  .extend({
    name: name
      .refine((n) => !RESERVED_METRICS.includes(n), { message: `must not be a built-in metric name (${RESERVED_METRICS.join(", ")})` })
      .describe("names the metric filter, metric and alarm: <group>-<logGroup id>-<name>"),
    pattern: filterPattern.describe('CloudWatch Logs filter pattern: terms (payment error: both; ?a ?b: either; "an exact phrase"), { $.json = "selector" } or [space, delimited, fields]; case-sensitive'),
    description: z
      .string()
      .min(1, "must not be empty")
      .max(512, "must be at most 512 characters")
      .refine(noControl, "must be one line")
      .optional()
      .describe("the alarm's runbook line: what the lines mean and what to do"),
  })
  .strict();

/**
 * A container whose output (stdout and stderr) ships into a log group through Docker's `awslogs`
 * driver: a docker-compose service (every container of it, replicas included) or one container by its
 * name (`docker run --name`, compose `container_name`).
 */
export const containerSchema = z
  .object({
    service: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, "must be a docker-compose service name (letters, digits, _ . -)")
      .optional()
      .describe("docker-compose service whose containers ship here (backend)"),
    name: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, "must be a Docker container name (letters, digits, _ . -)")
      .optional()
      .describe("container name (docker run --name, compose container_name) that ships here"),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.service === undefined) === (c.name === undefined)) ctx.addIssue({ code: "custom", path: ["service"], message: "set exactly one of service or name" });
  }, whenValid("service", "name"));

/** A strftime-style directive the CloudWatch agent's timestamp_format understands (%Y, %-d, %f, %z ...). */
const TIMESTAMP_DIRECTIVE = /%-?[abABcdfHIjmMpSyYzZ]/;

export const logGroupSchema = z
  .object({
    id: name.describe("short name used in resource, metric and alarm names"),
    name: z
      .string()
      .regex(/^[.\-_/#A-Za-z0-9]{1,512}$/, "must be a CloudWatch log group name (letters, digits, . - _ / #)")
      .describe("CloudWatch log group name (/app/api); the regime creates it"),
    retentionDays: logRetention.optional().describe("default: the regime's logRetentionDays"),
    format: z.enum(["text", "json"]).default("text").describe("text: plain lines / nginx combined; json: one JSON object per line"),
    files: z
      .array(logPath)
      .default([])
      .describe("files the CloudWatch agent ships into this group: absolute or under appRoot; a glob ships every matching file, one stream each"),
    containers: z
      .array(containerSchema)
      .default([])
      .describe("docker-compose services or named containers whose output Docker's awslogs driver ships into this group, one stream per container (the logging block is the containerLogging output)"),
    timestampFormat: z
      .string()
      .min(1, "must not be empty")
      .max(4096)
      .refine(noControl, "must be one line")
      .refine((f) => TIMESTAMP_DIRECTIVE.test(f), "must contain strftime directives like %Y-%m-%d %H:%M:%S")
      .optional()
      .describe("the agent reads each event's time from its line with this format (%Y-%m-%d %H:%M:%S); default: the time it reads the line; for containers only with multiLineStartPattern {timestamp_format}"),
    multiLineStartPattern: z
      .string()
      .min(1, "must not be empty")
      .max(4096)
      .refine(noControl, "must be one line")
      .refine((p) => p === "{timestamp_format}" || isRegex(p), "must be a regular expression or {timestamp_format}")
      .optional()
      .describe("a line matching this regular expression starts a new event (stack traces stay one event); {timestamp_format}: a line starting with a timestamp"),
    errors: countMetric(10, 1440, "P2").optional().describe("application errors; seed 000: fewer than 10 a day"),
    http5xx: countMetric(10, 5, "P1").optional().describe("HTTP 5xx responses (status_code = 5* or $.status >= 500)"),
    authFailures: countMetric(20, 5, "P2").optional().describe("HTTP 401/403 responses"),
    failedLogins: countMetric(20, 5, "P1").optional().describe("failed logins (seed 003: grep -i \"failed login\")"),
    errorRate: z
      .object({
        requestsPattern: filterPattern.optional().describe("filter pattern of the lines counted as requests; default depends on format"),
        errorsPattern: filterPattern.optional().describe("default: the HTTP 5xx pattern"),
        warnPercent: z.number().gt(0).max(100).default(1).describe("P2 alarm above this percent of requests"),
        critPercent: z.number().gt(0).max(100).default(5).describe("P1 alarm above this percent of requests"),
        periodMinutes: periodMinutes.default(5).describe("minutes the rate is computed over"),
      })
      .strict()
      .refine((r) => r.warnPercent <= r.critPercent, { message: "warnPercent must be <= critPercent", path: ["warnPercent"], ...whenValid("warnPercent", "critPercent") })
      .optional()
      .describe("5xx responses as a percent of requests; seed 000/004: 1 % warn, 5 % critical"),
    patterns: z
      .array(logPatternSchema)
      .default([])
      .describe("the log group's own lines to count and alarm on (payment errors, security events): one metric filter and alarm each"),
  })
  .strict()
  .superRefine((l, ctx) => uniqueBy("name", "pattern name")((l as { patterns?: unknown } | null)?.patterns as { name: string }[], ctx, ["patterns"]), ALWAYS)
  .superRefine(acrossValidItems((l, ctx) => {
    if (l.files.length === 0 && l.containers.length === 0) {
      for (const key of ["timestampFormat", "multiLineStartPattern"] as const) {
        if (l[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: "needs files or containers: it applies to the lines shipped into the group" });
      }
    }
    if (l.multiLineStartPattern === "{timestamp_format}" && !l.timestampFormat) {
      ctx.addIssue({ code: "custom", path: ["multiLineStartPattern"], message: "{timestamp_format} needs timestampFormat" });
    }
    // CloudWatch refuses a sixth metric filter with a regular expression in one log group.
    const withRegex: (string | number)[][] = [
      ...(["errors", "http5xx", "authFailures", "failedLogins"] as const).filter((k) => l[k]?.pattern).map((k) => [k, "pattern", l[k]!.pattern!]),
      ...(["requestsPattern", "errorsPattern"] as const).filter((k) => l.errorRate?.[k]).map((k) => ["errorRate", k, l.errorRate![k]!]),
      ...l.patterns.flatMap((p, i) => [["patterns", i, "pattern", p.pattern]]),
    ].filter((entry) => scanFilterPattern(String(entry[entry.length - 1])).regexes > 0);
    if (withRegex.length > MAX_REGEX_PATTERNS_PER_LOG_GROUP) {
      ctx.addIssue({
        code: "custom",
        path: withRegex[MAX_REGEX_PATTERNS_PER_LOG_GROUP].slice(0, -1),
        message: `is the ${MAX_REGEX_PATTERNS_PER_LOG_GROUP + 1}th pattern with a %regular expression% in this log group: CloudWatch allows ${MAX_REGEX_PATTERNS_PER_LOG_GROUP}`,
      });
    }
    l.files.forEach((f, i) => {
      const problem = lastSegmentProblem(f);
      if (problem) ctx.addIssue({ code: "custom", path: ["files", i], message: problem.replace("rotated files like", "rotated files (shipped twice) like") });
    });
  }, ["files", "containers", "timestampFormat", "multiLineStartPattern", "patterns", "errors", "http5xx", "authFailures", "failedLogins", "errorRate"]), ALWAYS);

function isRegex(p: string): boolean {
  try {
    new RegExp(p);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- file backups

const backupPath = z
  .string()
  .min(1, "must not be empty")
  .refine(noControl, "must not contain newlines or control characters")
  .refine((p) => !p.split("/").includes(".."), "must not contain .. segments")
  .refine((p) => !/[*?[\]{}]/.test(p), "must name a file or directory, not a pattern (exclude takes globs)")
  .refine((p) => p.replace(/\/+$/, "") !== "", "must not be / itself");

export const fileBackupSchema = z
  .object({
    name: name.describe("names the S3 prefix files/<group>/<name>/, the SSM document and the cron file"),
    paths: z
      .array(backupPath)
      .min(1, "must list at least one path")
      .describe("files or directories, absolute or under appRoot; every one must exist when the backup runs"),
    exclude: z
      .array(z.string().min(1, "must not be empty").max(1024).refine(noControl, "must not contain newlines or control characters"))
      .default([])
      .describe("tar --exclude globs (*.tmp, uploads/cache)"),
    schedule: schedule
      .default({ at: "daily at 03:00", timezone: "UTC" })
      .describe("when the hosts run the backup, in UTC (State Manager and cron run it in UTC); daily to weekly"),
    retentionDays: z
      .number()
      .int("must be a whole number of days")
      .min(1, "must be >= 1")
      .default(30)
      .describe(
        "each archive and its manifest are readable this many days (S3 rounds to the next midnight UTC), then kept 1 day as a noncurrent version and removed; the plan refuses fewer days than keep the newest archive until the next run's is uploaded (weekly: 7)",
      ),
    severity: severity.default("P1").describe("severity of the alarm when no backup was recorded within the schedule's interval: each SSH host has its own alarm (its own overdue watch, weekly), the tagged instances one together"),
    paused: paused.describe(
      "true: the backup stops until it is set back: no State Manager association (tagged hosts; the document stays), the SSH hosts' cron line commented out, the missed-backup alarm silent and OK, its prefix's lifecycle rule kept Disabled (no archive it stored expires); set back, it is watched afresh from that `pulumi up` and pages only if it misses its first backup due after it (the plan lists it paused)",
    ),
  })
  .strict();

// ---------------------------------------------------------------- host groups

const sshHost = z
  .object({
    host: z.string().regex(/^[A-Za-z0-9.:-]+$/, "must be a host name or IP address").describe("host name or IP address"),
    user: unixName.describe("SSH user: root, or one with passwordless sudo"),
    port: z.number().int().min(1).max(65535).default(22).describe("SSH port"),
    agentMode: z
      .enum(["onPremise", "ec2"], { message: "must be one of onPremise, ec2" })
      .default("onPremise")
      .describe("how the CloudWatch agent on this host finds credentials and region: onPremise (its AmazonCloudWatchAgent profile) or ec2 (the instance role)"),
  })
  .strict();

export const dockerLogOptionsSchema = z
  .object({
    maxSize: z.string().regex(/^[1-9][0-9]*[kmg]$/, "must be a size like 10m, 500k or 1g").default("10m").describe("a container's log file is rotated at this size (json-file max-size)"),
    maxFile: z.number().int().min(1).max(100).default(3).describe("log files kept per container (json-file max-file)"),
    restartDaemon: z
      .boolean()
      .default(false)
      .describe("restart dockerd when daemon.json changed (restarts every container without live-restore); off: the change is reported"),
  })
  .strict();

/** An association's cron, as State Manager takes it: 5 or 6 fields (every month: checked with the group's target, below). */
const stateManagerCron = z.string().regex(/^cron\(\S+( \S+){4,5}\)$/, "must be an SSM cron expression like cron(0 3 ? * * *)");

export const hostGroupSchema = z
  .object({
    name: name.describe("names the group's SSM association, documents and resources"),
    target: z
      .object({
        tagKey: z.string().regex(/^[\w.:/=+\-@ ]{1,128}$/, "must be an EC2 tag key").describe("EC2 tag key (Role)"),
        tagValue: z.string().min(1).max(256).refine((v) => !v.includes(","), "must not contain ,").describe("value the tag must have (api)"),
      })
      .strict()
      .optional()
      .describe("EC2 instances with this tag get the configs from SSM State Manager"),
    sshHosts: z.array(sshHost).default([]).describe("hosts outside EC2 (or without SSM) that get the configs over SSH"),
    sshPrivateKeyConfig: z
      .string()
      .regex(/^[A-Za-z][\w.-]*$/, "must be a config key name")
      .optional()
      .describe("name of the secret stack config key holding the SSH private key (pulumi config set --secret)"),
    appRoot: z
      .string()
      .regex(/^\/[^\s"'{}]*$/, "must be an absolute path without spaces or quotes")
      .refine((p) => !p.split("/").includes(".."), "must not contain .. segments")
      .transform((p) => p.replace(/\/+$/, "") || "/")
      .optional()
      .describe("relative log paths (logs/*.jsonl) are under this directory"),
    schedule: stateManagerCron.default("cron(0 3 ? * * *)").describe("when State Manager re-applies the configs (drift repair), in UTC; its month field is * (State Manager association crons cannot name months)"),
    applyOnlyAtCronInterval: z.boolean().default(true).describe("false: State Manager also applies right after each change"),
    docker: dockerLogOptionsSchema.optional().describe("Docker json-file log rotation in /etc/docker/daemon.json; unset: left alone"),
    logSets: z.array(logSetSchema).default([]).describe("logrotate configs, one file each under /etc/logrotate.d/"),
    logGroups: z.array(logGroupSchema).default([]).describe("CloudWatch log groups: retention, files the agent ships and metric filters with alarms"),
    fileBackups: z
      .array(fileBackupSchema)
      .default([])
      .describe("application files tarred to the log archive bucket under files/<group>/<name>/ (the hosts need the aws CLI and fileBackupWriterPolicyArns); each SSH host is watched on its own"),
  })
  .strict()
  // Names two items of a list share, beside any other problem of the items (ALWAYS).
  .superRefine((g, ctx) => {
    const lists = (g ?? {}) as Record<string, unknown>;
    uniqueBy("name", "log set name")(lists.logSets as { name: string }[], ctx, ["logSets"]);
    uniqueBy("id", "log group id")(lists.logGroups as { id: string }[], ctx, ["logGroups"]);
    uniqueBy("name", "file backup name")(lists.fileBackups as { name: string }[], ctx, ["fileBackups"]);
  }, ALWAYS)
  .superRefine(acrossValidItems((g, ctx) => {
    // Containers' logging is checked on the hosts, so a group that ships containers has hosts too.
    const delivers = g.logSets.length > 0 || g.docker !== undefined || g.logGroups.some((l) => l.files.length > 0 || l.containers.length > 0) || g.fileBackups.length > 0;
    if (delivers && !g.target && g.sshHosts.length === 0) {
      ctx.addIssue({ code: "custom", path: ["target"], message: "set target (tag) and/or sshHosts: the group has files to deliver" });
    }
    if (g.sshHosts.length > 0 && !g.sshPrivateKeyConfig) {
      ctx.addIssue({ code: "custom", path: ["sshPrivateKeyConfig"], message: "required with sshHosts: the secret config key holding the private key" });
    }
    // Only a group with a tag target gets State Manager associations on its schedule.
    const months = g.target ? stateManagerMonthsProblem(g.schedule, g.schedule) : undefined;
    if (months) ctx.addIssue({ code: "custom", path: ["schedule"], message: months });
    g.logSets.forEach((s, i) => {
      s.paths.forEach((p, j) => {
        if (!p.startsWith("/") && !g.appRoot) {
          ctx.addIssue({ code: "custom", path: ["logSets", i, "paths", j], message: "must be absolute or under appRoot (set appRoot on the host group)" });
        }
      });
    });
    const shipped = new Map<string, string>();
    // Metric names are <group>-<id>-<metric>: log group app-x's errors and log group app's pattern x-errors would share one.
    const metrics = new Map<string, string>();
    g.logGroups.forEach((l) => RESERVED_METRICS.forEach((m) => metrics.set(`${l.id}-${m}`, `log group ${l.id}'s built-in ${m}`)));
    g.logGroups.forEach((l, i) => {
      l.patterns.forEach((p, j) => {
        const metric = `${l.id}-${p.name}`;
        const other = metrics.get(metric);
        if (other && other !== `log group ${l.id}'s pattern ${p.name}`) {
          ctx.addIssue({ code: "custom", path: ["logGroups", i, "patterns", j, "name"], message: `metric ${g.name}-${metric} is also ${other}: choose another name` });
        }
        metrics.set(metric, `log group ${l.id}'s pattern ${p.name}`);
      });
    });
    // A container has one log driver: its output can go to one log group.
    const containers = new Map<string, string>();
    g.logGroups.forEach((l, i) => {
      l.containers.forEach((c, j) => {
        const key = c.service !== undefined ? `service ${c.service}` : `container ${c.name}`;
        const other = containers.get(key);
        if (other) ctx.addIssue({ code: "custom", path: ["logGroups", i, "containers", j], message: `${key} already ships to log group ${other}: Docker gives a container one log driver` });
        else containers.set(key, l.name);
      });
    });
    g.logGroups.forEach((l, i) => {
      l.files.forEach((f, j) => {
        if (!f.startsWith("/") && !g.appRoot) {
          ctx.addIssue({ code: "custom", path: ["logGroups", i, "files", j], message: "must be absolute or under appRoot (set appRoot on the host group)" });
          return;
        }
        const full = resolveLogPath(f, g.appRoot);
        const other = shipped.get(full);
        if (other) ctx.addIssue({ code: "custom", path: ["logGroups", i, "files", j], message: `${full} is already shipped to log group ${other}` });
        shipped.set(full, l.name);
      });
    });
    g.logSets.forEach((s, i) => {
      if (s.archive && archivePrefix(g.name, s).startsWith(FILE_BACKUP_ROOT)) {
        ctx.addIssue({ code: "custom", path: ["logSets", i, "archive", "prefix"], message: `${archivePrefix(g.name, s)} is under ${FILE_BACKUP_ROOT}, where file backups go: set another prefix` });
      }
    });
    // Each SSH host names its own resources (remote commands, a file backup's alarms): two hosts must not give the same name part.
    const hostParts = new Map<string, string>();
    g.sshHosts.forEach((h, i) => {
      const part = sshHostNamePart(h.host);
      const other = hostParts.get(part);
      if (other !== undefined) ctx.addIssue({ code: "custom", path: ["sshHosts", i, "host"], message: `"${h.host}" and "${other}" give the same resource name part ${part}: list each host once` });
      else hostParts.set(part, h.host);
    });
    g.fileBackups.forEach((b, i) => {
      const seen = new Set<string>();
      b.paths.forEach((p, j) => {
        if (!p.startsWith("/") && !g.appRoot) {
          ctx.addIssue({ code: "custom", path: ["fileBackups", i, "paths", j], message: "must be absolute or under appRoot (set appRoot on the host group)" });
          return;
        }
        const full = resolveLogPath(p, g.appRoot).replace(/\/+$/, "");
        if (seen.has(full)) ctx.addIssue({ code: "custom", path: ["fileBackups", i, "paths", j], message: `${full} is listed twice` });
        seen.add(full);
      });
    });
  }), ALWAYS);

/**
 * The `logs` config: host groups, checked together. `keyPrefix` is how the config names this object
 * (`logs.` in a stack config); refusals that name a second key use it (`logs.hostGroups[0]...`).
 */
export function logsSchemaAt(keyPrefix: string) {
  return z
  .object({ hostGroups: z.array(hostGroupSchema).default([]).describe("groups of hosts that share log rotation, Docker log options, log groups and file backups") })
  .strict()
  .superRefine((l, ctx) => uniqueBy("name", "host group")((l as { hostGroups?: unknown } | null)?.hostGroups as { name: string }[], ctx, ["hostGroups"]), ALWAYS)
  // Checks across host groups, beside other problems: on the groups, sets and paths that are valid (acrossValidItems).
  .superRefine(acrossValidItems((l, ctx) => {
    for (const c of logSetClaimConflicts(l.hostGroups)) {
      const at = (k: LogPathKey) => `${keyPrefix}hostGroups[${k.group}].logSets[${k.set}].paths[${k.path}]`;
      const hosts = c.first.group === c.second.group ? "" : ` on the same hosts (${sharedHostsOf(l.hostGroups[c.first.group], l.hostGroups[c.second.group])})`;
      ctx.addIssue({
        code: "custom",
        path: ["hostGroups", c.second.group, "logSets", c.second.set, "paths", c.second.path],
        message: `${c.second.full} is also rotated by ${at(c.first)} (${c.first.full})${hosts}; logrotate skips a config that claims a file twice`,
      });
    }
    for (const c of logSetNameConflicts(l.hostGroups)) {
      ctx.addIssue({
        code: "custom",
        path: ["hostGroups", c.second.group, "logSets", c.second.set, "name"],
        message: `${LOGROTATE_D}/${l.hostGroups[c.second.group].logSets[c.second.set].name} is also written by ${keyPrefix}hostGroups[${c.first.group}].logSets[${c.first.set}] on the same hosts (${sharedHostsOf(l.hostGroups[c.first.group], l.hostGroups[c.second.group])}): rename one log set`,
      });
    }
    l.hostGroups.forEach((g, i) => {
      // A file the agent cannot resolve (relative, no appRoot) is refused on its own key.
      let problem: string | undefined;
      try {
        problem = g.target ? agentParameterProblem(g) : undefined;
      } catch {
        problem = undefined;
      }
      if (problem) ctx.addIssue({ code: "custom", path: ["hostGroups", i], message: problem });
    });
    const prefixes = new Map<string, string>();
    const logGroupNames = new Set<string>();
    l.hostGroups.forEach((g, i) => {
      g.logSets.forEach((s, j) => {
        if (!s.archive) return;
        const prefix = archivePrefix(g.name, s);
        const other = prefixes.get(prefix);
        if (other) ctx.addIssue({ code: "custom", path: ["hostGroups", i, "logSets", j, "archive", "prefix"], message: `prefix ${prefix} is already used by ${other}` });
        prefixes.set(prefix, `${g.name}/${s.name}`);
      });
      g.logGroups.forEach((lg, j) => {
        if (logGroupNames.has(lg.name)) ctx.addIssue({ code: "custom", path: ["hostGroups", i, "logGroups", j, "name"], message: `log group ${lg.name} is declared twice` });
        logGroupNames.add(lg.name);
      });
    });
    // S3 lifecycle rules filter by key prefix as a string: a prefix that starts another one would expire
    // the other's objects after its own days, so what the config says is kept would not be.
    const owned = l.hostGroups.flatMap((g, i) => [
      ...g.logSets.flatMap((s, j) => (s.archive ? [{ prefix: archivePrefix(g.name, s), path: ["hostGroups", i, "logSets", j, "archive", "prefix"], key: `${keyPrefix}hostGroups[${i}].logSets[${j}].archive` }] : [])),
      ...g.fileBackups.flatMap((b, j) => ({ prefix: fileBackupPrefix(g.name, b.name), path: ["hostGroups", i, "fileBackups", j, "name"], key: `${keyPrefix}hostGroups[${i}].fileBackups[${j}]` })),
    ]);
    for (const inner of owned) {
      const outer = owned.find((o) => o !== inner && o.prefix !== inner.prefix && inner.prefix.startsWith(o.prefix));
      if (outer) ctx.addIssue({ code: "custom", path: inner.path, message: `${inner.prefix} starts with ${outer.prefix} of ${outer.key}: its expiry would also remove these objects; choose prefixes that do not start one another` });
    }
  }), ALWAYS);
}

export const logsSchema = logsSchemaAt("");

export type LogSetInput = z.input<typeof logSetSchema>;
export type LogSet = z.output<typeof logSetSchema>;
export type LogGroupConfig = z.output<typeof logGroupSchema>;
export type LogPattern = z.output<typeof logPatternSchema>;
export type ContainerRef = z.output<typeof containerSchema>;
export type HostGroupInput = z.input<typeof hostGroupSchema>;
/** A host group as the schema parses it: its schedules still as written. */
export type ParsedHostGroup = z.output<typeof hostGroupSchema>;
export type FileBackupInput = z.input<typeof fileBackupSchema>;
/** A file backup as the schema parses it: its schedule still as written. */
export type ParsedFileBackup = z.output<typeof fileBackupSchema>;
export type DockerLogOptions = z.output<typeof dockerLogOptionsSchema>;
export type LogsInput = z.input<typeof logsSchema>;
/** The `logs` config as the schema parses it: schedules still as written (resolveLogs resolves them). */
export type ParsedLogsConfig = z.output<typeof logsSchema>;

/**
 * A host group's State Manager schedule (`logs.hostGroups[].schedule`), resolved once where the config
 * is loaded: the cron as written, which State Manager runs in UTC, and the Schedule it runs on when the
 * Scheduler grammar (regime/schedule.ts) reads it; a 5-field SSM cron it does not read has `problem`
 * (the grammar's one-line reason) instead.
 */
export interface AssociationSchedule {
  /** The association's cron as written: `cron(0 3 ? * * *)`. */
  expression: string;
  /** The same cron as a UTC Schedule; undefined when the Scheduler grammar does not read it. */
  scheduler?: Schedule;
  /** Why `scheduler` is undefined. */
  problem?: string;
}

/**
 * A file backup's schedule (`logs.hostGroups[].fileBackups[].schedule`), resolved once where the config
 * is loaded: the UTC cron it runs on (fileBackupSchedule), `text` as written, and `association`, its
 * cron as State Manager runs it (associationSchedule, as the plan's calendar lists it).
 */
export interface ConfigFileBackupSchedule extends FileBackupSchedule {
  text: string;
  association: AssociationSchedule;
}

/** A file backup with its schedule resolved (resolveLogs). */
export type FileBackup = Omit<ParsedFileBackup, "schedule"> & { schedule: ConfigFileBackupSchedule };
/** A host group with its schedules resolved (resolveLogs): what the components read. */
export type HostGroup = Omit<ParsedHostGroup, "schedule" | "fileBackups"> & { schedule: AssociationSchedule; fileBackups: FileBackup[] };
/** The `logs` config with every schedule resolved (resolveLogs). */
export interface LogsConfig {
  hostGroups: HostGroup[];
}

/** Key prefix of a log set's archive in the log archive bucket. */
export function archivePrefix(group: string, set: Pick<LogSet, "name" | "archive">): string {
  return set.archive?.prefix ?? `${group}/${set.name}/`;
}

const LOGROTATE_D = "/etc/logrotate.d";

/** One path of a log set by its indexes: `hostGroups[group].logSets[set].paths[path]`, resolved to `full`. */
export interface LogPathKey {
  group: number;
  set: number;
  path: number;
  full: string;
}

/** What a host group reaches and rotates, parsed or resolved: what the claim checks compare. */
export type GroupHosts = Pick<ParsedHostGroup, "name" | "target" | "sshHosts" | "logSets" | "appRoot">;

/**
 * The hosts two host groups both reach, in words (`instances tagged Role=web`, `10.0.0.5:22`), or
 * undefined when none can be told from the config. A group shares all its hosts with itself.
 */
export function sharedHostsOf(a: GroupHosts, b: GroupHosts): string | undefined {
  if (a === b) return a.name;
  const parts: string[] = [];
  if (a.target && b.target && a.target.tagKey === b.target.tagKey && a.target.tagValue === b.target.tagValue) {
    parts.push(`instances tagged ${a.target.tagKey}=${a.target.tagValue}`);
  }
  const other = new Set(b.sshHosts.map((h) => `${h.host}:${h.port}`));
  for (const h of a.sshHosts) if (other.has(`${h.host}:${h.port}`)) parts.push(`${h.host}:${h.port}`);
  return parts.length > 0 ? parts.join(", ") : undefined;
}

/**
 * Every log path that can name a file an earlier log path of the same host group, or of a group
 * reaching the same hosts, already names (`second` is the later one, `first` the earliest it meets):
 * logrotate reports `duplicate log entry` and skips the whole later config. Paths are compared after
 * appRoot, `//` and `./` are resolved, globs by `logPathsOverlap` (exact for `*`, `?`, `[...]`).
 */
export function logSetClaimConflicts(groups: readonly GroupHosts[]): { first: LogPathKey; second: LogPathKey }[] {
  const seen: LogPathKey[] = [];
  const out: { first: LogPathKey; second: LogPathKey }[] = [];
  groups.forEach((g, gi) => {
    g.logSets.forEach((s, si) => {
      s.paths.forEach((p, pi) => {
        if (!p.startsWith("/") && !g.appRoot) return;
        const key: LogPathKey = { group: gi, set: si, path: pi, full: resolveLogPath(p, g.appRoot) };
        const first = seen.find((k) => sharedHostsOf(groups[k.group], g) !== undefined && logPathsOverlap(k.full, key.full));
        if (first) out.push({ first, second: key });
        seen.push(key);
      });
    });
  });
  return out;
}

/** Log sets of different host groups on the same hosts with one name: both would be /etc/logrotate.d/<name>. */
export function logSetNameConflicts(groups: readonly GroupHosts[]): { first: { group: number; set: number }; second: { group: number; set: number } }[] {
  const out: { first: { group: number; set: number }; second: { group: number; set: number } }[] = [];
  groups.forEach((g, gi) => {
    g.logSets.forEach((s, si) => {
      for (let hi = 0; hi < gi; hi++) {
        // A hole: a group or log set refused on its own keys (regime/primitives.ts acrossValidItems).
        const sj = groups[hi]?.logSets.findIndex((o) => o?.name === s.name) ?? -1;
        if (sj >= 0 && sharedHostsOf(groups[hi], g) !== undefined) {
          out.push({ first: { group: hi, set: sj }, second: { group: gi, set: si } });
          break;
        }
      }
    });
  });
  return out;
}

/** Absolute path of a log path: as is when absolute, else under appRoot. */
export function resolveLogPath(path: string, appRoot: string | undefined): string {
  if (path.startsWith("/")) return path;
  if (!appRoot) throw new Error(`${path}: must be absolute or under appRoot`);
  const rel = path.replace(/^(\.\/)+/, "");
  return appRoot === "/" ? `/${rel}` : `${appRoot}/${rel}`;
}

/** A regular expression for one glob segment (`*`, `?`, `[...]`), as logrotate's glob(3) reads it. */
function segmentRegex(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** A file name the glob segment matches: a leading `*` as "app", other `*` as nothing, `?` as "x", a class as its first character. */
function sampleName(glob: string): string {
  return glob
    .replace(/\[!?(.)[^\]]*\]/g, "$1")
    .replace(/^\*/, "app")
    .replace(/\*/g, "")
    .replace(/\?/g, "x");
}

/**
 * Why a path's last segment is unsafe, or undefined: a pattern that also matches the names logrotate
 * gives rotated files (`app.log.1`, `app.log.1.gz`, `app.log-20250101.gz`) rotates them again, forever.
 */
export function lastSegmentProblem(path: string): string | undefined {
  const last = path.split("/").pop() ?? "";
  if (last === "") return "must name files, not a directory (e.g. /var/log/app/*.log)";
  if (last === "*" || last === "*.*") return `must not end in ${last}: it matches the rotated files too; use e.g. *.log`;
  const re = segmentRegex(last);
  const sample = sampleName(last);
  for (const suffix of [".1", ".1.gz", "-20250101", "-20250101.gz"]) {
    if (re.test(sample + suffix)) return `${last} also matches rotated files like ${sample}${suffix}: end the pattern with the extension, e.g. *.log`;
  }
  return undefined;
}

/** Whether a log set's rotated files are compressed one rotation late (delaycompress): as set, else unless copytruncate; never without compress. */
export function delaysCompression(set: Pick<LogSet, "compress" | "delaycompress" | "copytruncate">): boolean {
  return set.compress && (set.delaycompress ?? !set.copytruncate);
}

/** `rotate N`: the configured keep, else enough periods to cover maxAgeDays (at least 1, never 0). */
export function effectiveKeep(set: Pick<LogSet, "keep" | "maxAgeDays" | "frequency">): number {
  if (set.keep !== undefined) return set.keep;
  if (set.maxAgeDays === undefined) throw new Error("keep or maxAgeDays is required");
  return Math.max(1, Math.ceil(set.maxAgeDays / FREQUENCY_DAYS[set.frequency]));
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/** A State Manager cron as written, resolved in UTC (AssociationSchedule); never throws. */
export function associationSchedule(expression: string): AssociationSchedule {
  try {
    return { expression, scheduler: parseSchedule(expression, "UTC") };
  } catch (err) {
    return { expression, problem: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The parsed `logs` config with every schedule resolved once: each host group's State Manager cron
 * (associationSchedule) and each file backup's, in its own timezone or the regime's `timezone`
 * (fileBackupSchedule). Sparse arrays stay sparse (each backup keeps its index). Throws one line naming
 * the key path (`<prefix>hostGroups[0].fileBackups[1].schedule: ...`) for the first file backup whose
 * schedule cannot run as asked (not UTC, no time of day, too often or too rarely), or whose SSH group's
 * cron cannot express it.
 */
export function resolveLogs(logs: Pick<ParsedLogsConfig, "hostGroups">, timezone: string, pathPrefix = ""): LogsConfig {
  return {
    hostGroups: logs.hostGroups.map((g, i) => ({
      ...g,
      schedule: associationSchedule(g.schedule),
      fileBackups: g.fileBackups.map((b, j) => {
        const at = `${pathPrefix}hostGroups[${i}].fileBackups[${j}].schedule`;
        let s: FileBackupSchedule;
        try {
          s = fileBackupSchedule(b.schedule, timezone);
        } catch (err) {
          throw new Error(`${at}: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (g.sshHosts.length > 0 && !s.hostCron) throw new Error(`${at}: the group's SSH hosts run it from cron, and ${s.hostCronProblem}`);
        const { text } = writtenSchedule(b.schedule, timezone);
        return { ...b, schedule: { ...s, text, association: associationSchedule(s.expression) } };
      }),
    })),
  };
}

/**
 * Parses the `logs` config and resolves its schedules (resolveLogs; file backups that name no timezone
 * are in `timezone`); throws one line naming the key path of the first problem, after `pathPrefix`
 * (`logs.` names it as a stack config does).
 */
export function parseLogs(raw: unknown, timezone = "UTC", pathPrefix = ""): LogsConfig {
  const parsed = logsSchemaAt(pathPrefix).safeParse(raw, { error: configErrorMap });
  if (parsed.success) return resolveLogs(parsed.data, timezone, pathPrefix);
  const issue = parsed.error.issues[0];
  const at = formatPath(issue.path) ? `${pathPrefix}${formatPath(issue.path)}` : "logs";
  if (issue.code === "unrecognized_keys") throw new Error(`${at}: unknown key ${issue.keys.join(", ")}`);
  throw new Error(`${at}: ${issue.message}`);
}

// ---------------------------------------------------------------- CloudWatch agent logs config

/** Log stream of tag-targeted instances: the agent fills in the instance id. */
export const INSTANCE_STREAM = "{instance_id}";

/** Whether a path is a glob the agent expands (it then tails only the newest match unless publish_multi_logs). */
export function isGlob(path: string): boolean {
  return /[*?[]/.test(path);
}

/** One collect_list entry of the CloudWatch agent's `logs.logs_collected.files`. */
export interface AgentFileEntry {
  file_path: string;
  log_group_name: string;
  log_stream_name: string;
  publish_multi_logs?: true;
  timestamp_format?: string;
  multi_line_start_pattern?: string;
}

/** The host group's files as CloudWatch agent collect_list entries, in declared order. */
export function agentCollectList(g: Pick<HostGroup, "logGroups" | "appRoot">, streamName: string): AgentFileEntry[] {
  return g.logGroups.flatMap((lg) =>
    lg.files.map((f) => {
      const path = resolveLogPath(f, g.appRoot);
      return {
        file_path: path,
        log_group_name: lg.name,
        log_stream_name: streamName,
        // Without it the agent tails only the most recently modified match; with it, every match
        // goes to its own stream, <stream>_<path with / as _>.
        ...(isGlob(path) ? { publish_multi_logs: true as const } : {}),
        ...(lg.timestampFormat ? { timestamp_format: lg.timestampFormat } : {}),
        ...(lg.multiLineStartPattern ? { multi_line_start_pattern: lg.multiLineStartPattern } : {}),
      };
    }),
  );
}

/**
 * The CloudWatch agent configuration that ships the host group's files into its log groups: a `logs`
 * section only, meant for `append-config` next to the metrics config (retention is the log groups',
 * set by the regime, never the agent's). Undefined when no log group of the group names files.
 */
export function renderAgentLogsConfig(g: Pick<HostGroup, "logGroups" | "appRoot">, streamName: string): string | undefined {
  const collect = agentCollectList(g, streamName);
  return collect.length === 0 ? undefined : agentLogsConfigJson(collect);
}

/**
 * The agent reads JSON: compact, so a tagged group's config fits the SSM parameter that carries it
 * (indented by two, a config is about half as large again). One line, newline-terminated (the SSH
 * delivery writes it to a file).
 */
function agentLogsConfigJson(collect: AgentFileEntry[]): string {
  return JSON.stringify({ logs: { logs_collected: { files: { collect_list: collect } } } }) + "\n";
}

/**
 * What an SSM parameter value holds (SSM API Reference, PutParameter, Value: "Standard parameters have
 * a value limit of 4 KB. Advanced parameters have a value limit of 8 KB."), in bytes of UTF-8.
 */
export const SSM_PARAMETER_MAX_BYTES = { Standard: 4096, Advanced: 8192 } as const;

/** The tier of an SSM parameter holding `value`: Standard while it fits (Advanced costs $0.05 a month), else Advanced; undefined when it fits neither. */
export function ssmParameterTier(value: string): keyof typeof SSM_PARAMETER_MAX_BYTES | undefined {
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes <= SSM_PARAMETER_MAX_BYTES.Standard) return "Standard";
  return bytes <= SSM_PARAMETER_MAX_BYTES.Advanced ? "Advanced" : undefined;
}

/**
 * Why the agent logs config of a host group with a tag target (delivered in an SSM parameter,
 * components/log-agent.ts) cannot be stored: its bytes, the limit, and how many of its files would
 * fit; undefined when it fits. SSH hosts get the config as a file, which has no such limit.
 */
export function agentParameterProblem(g: Pick<HostGroup, "logGroups" | "appRoot" | "name">): string | undefined {
  const collect = agentCollectList(g, INSTANCE_STREAM);
  if (collect.length === 0) return undefined;
  const config = agentLogsConfigJson(collect);
  if (ssmParameterTier(config)) return undefined;
  let fit = 0;
  while (fit < collect.length && ssmParameterTier(agentLogsConfigJson(collect.slice(0, fit + 1)))) fit += 1;
  const max = SSM_PARAMETER_MAX_BYTES.Advanced;
  return `the CloudWatch agent config of host group ${g.name} is ${Buffer.byteLength(config, "utf8")} bytes (compact JSON of its ${collect.length} files), over the ${max} an SSM parameter holds (Advanced tier): ship at most ${fit} files from this group (a glob ships every match in one entry), or move some log groups to another host group with the same target (each group's config is its own parameter, appended beside the others)`;
}

/**
 * The part of a resource name that names an SSH host (its remote commands, a file backup's alarms and
 * watch start): the configured host with every character but letters, digits and `-` as `-`
 * (`10.0.0.7` -> `10-0-0-7`, `fe80::1` -> `fe80--1`). A host group refuses two hosts that give the same.
 */
export function sshHostNamePart(host: string): string {
  return host.replace(/[^A-Za-z0-9-]/g, "-");
}

/** Log stream of an SSH host: its configured name (the agent has no instance id off EC2); : and * are not allowed in stream names. */
export function sshStreamName(host: string): string {
  return host.replace(/[:*]/g, "-");
}
