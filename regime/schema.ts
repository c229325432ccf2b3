/**
 * The regime as a stack config: one zod schema, validated once at the entry point with every default
 * applied here. Each top-level key is a config key of the project namespace in Pulumi.<stack>.yaml
 * (`maintenance-regime:databases`, ...). Words mirror the operations guides so a guide translates line
 * by line: schedules ("daily at 02:00"), retention in days, thresholds in percent and milliseconds.
 */
import { z } from "zod";
import type { Schedule } from "./schedule";
import { BUDGET_OVERRUN_SECONDS, LAMBDA_MAX_TIMEOUT_SECONDS, LOG_RETENTION_DAYS, MAX_TIME_BUDGET_SECONDS, NEAR_TIMEOUT_FRACTION } from "./limits";
import { endpointsSchema } from "./endpoints";
import { logsSchemaAt, type LogsConfig } from "./logs";
import { ownLogGroupPrefixes } from "./own-log-groups";
import { chatWebhookProblem, slackChannelKey, slackChannelSchema, teamsChannelKey, teamsChannelSchema, type SlackChannel, type TeamsChannel } from "./chat";
import { SEVERITIES } from "./severity";
import {
  ALB_ARN_SUFFIX,
  ALWAYS,
  id,
  paused,
  pgName,
  pgRoleName,
  rdsInstanceIdentifier,
  schedule,
  secretsManagerArn,
  severity,
  TARGET_GROUP_ARN_SUFFIX,
  timezone,
  uniqueBy,
  uniqueValues,
  whenValid,
} from "./primitives";
import { purgeRule } from "./purge-rule";
import { maintenanceWindowsSchema, mutesSchema } from "./maintenance-windows";
import { TIERS } from "../tasks/lib/tiers";

// Keys whose value is rewritten on parsing (PostgreSQL names lose their quotes) take `.prefault`: the
// default is parsed like a written value and still shows in the JSON Schema (zod drops `.default`
// there for rewritten values).
const retentionDays = z.number().int("must be a whole number of days").min(1, "must be >= 1");

const logRetention = z
  .number()
  .int()
  .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
    message: `must be one of ${LOG_RETENTION_DAYS.join(", ")}`,
  });

const percent = z.number().gt(0, "must be > 0").max(100, "must be <= 100");

// ---------------------------------------------------------------- alerting

/** Who hears severity `sev`; the key a refusal names to use instead (alerting.P1.slack) depends on it. */
const channels = (sev: (typeof SEVERITIES)[number]) =>
  z
    .object({
      email: z.array(z.email("must be an email address")).superRefine(uniqueValues("email address", (v) => v.toLowerCase()), ALWAYS).default([]).describe("email addresses subscribed to the topic (each confirms the subscription once)"),
      sms: z.array(z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 phone number like +15551234567")).superRefine(uniqueValues("phone number"), ALWAYS).default([]).describe("phone numbers (E.164, +15551234567) texted by SNS"),
      https: z
        .array(
          z.url({ protocol: /^https$/, message: "must be an https URL" }).superRefine((url, ctx) => {
            // A chat service's webhook as an https subscription never delivers: refused with the key to use instead.
            const problem = chatWebhookProblem(url, `alerting.${sev}`);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
          }),
        )
        .superRefine(uniqueValues("webhook"), ALWAYS)
        .default([])
        .describe("https endpoints (PagerDuty, Opsgenie, a relay) SNS posts each alarm to as its own JSON; not Slack, GovSlack, Teams (connector or Workflows), Google Chat or Discord webhooks (use slack or teams)"),
      slack: z
        .array(slackChannelSchema)
        .superRefine(uniqueBy<SlackChannel>("channelId", "Slack channel", slackChannelKey), ALWAYS)
        .default([])
        .describe("Slack channels that get the alarms through AWS Chatbot (authorise the workspace once in the Chatbot console; invite @aws to the channel)"),
      teams: z
        .array(teamsChannelSchema)
        .superRefine(uniqueBy<TeamsChannel>("channelId", "Teams channel", teamsChannelKey), ALWAYS)
        .default([])
        .describe("Microsoft Teams channels that get the alarms through AWS Chatbot (authorise the team once in the Chatbot console)"),
    })
    .strict();

const noChannels = { email: [], sms: [], https: [], slack: [], teams: [] };

export const alertingSchema = z
  .object({
    P0: channels("P0").default(noChannels).describe("seed 001: P0 (Critical): Service down, data loss; response time 30 minutes"),
    P1: channels("P1").default(noChannels).describe("seed 001: P1 (High): Severe degradation, security breach"),
    P2: channels("P2").default(noChannels).describe("seed 001: P2 (Medium): Partial degradation, high error rates"),
    P3: channels("P3").default(noChannels).describe("seed 001: P3 (Low): Minor issues, performance degradation; also reminders"),
  })
  .strict()
  .describe("Alert routing: one SNS topic per severity (P0 critical: service down, data loss; P1 high; P2 medium; P3 info) and who hears it; a severity the regime pages needs a subscriber (its alerting.<P> promise), an email, SMS or https one where reminders go");

// ---------------------------------------------------------------- backups

export const tierRetentionSchema = z
  .object({
    daily: retentionDays.default(30).describe("days a daily backup is kept"),
    weekly: retentionDays.default(90).describe("days a weekly backup is kept"),
    monthly: retentionDays.default(365).describe("days a monthly backup is kept"),
  })
  .strict();

const backupSchema = z
  .object({
    schedule: schedule.default("daily at 02:00").describe("when pg_dump runs (seed 001: Daily at 2:00 AM EST)"),
    paused: paused.describe(
      "true: the backup's schedule is disabled, its missed-run watch and RPO alarm silent (they sit OK), and its tiers' lifecycle rules kept Disabled (no backup it stored expires) until it is set back; then they watch it afresh from that `pulumi up` and page only if it misses its first backup due after it (the plan lists it paused)",
    ),
    retention: tierRetentionSchema.default({ daily: 30, weekly: 90, monthly: 365 }).describe("days each tier of backup is kept (seed 001: 30 days, 90 days S3; seed 002: 30 days, archive 1 year)"),
    weeklyOn: z.enum(["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]).default("Sunday").describe("the day whose backup is kept as the weekly one"),
    monthlyOnDay: z.number().int().min(1).max(28, "must be <= 28 so every month has it").default(1).describe("the day of the month whose backup is kept as the monthly one"),
    compression: z.string().regex(/^(none|gzip(:[1-9])?|lz4(:[1-9])?|zstd(:([1-9]|1[0-9]|2[0-2]))?|[0-9])$/, "must be none, gzip[:1-9], lz4[:1-9], zstd[:1-22] or 0-9").default("zstd:3").describe("pg_dump --compress: none, gzip, lz4 or zstd with an optional :level, or a gzip level 0-9 (0: none); lz4 and zstd need PostgreSQL 16+ (older: gzip:1)"),
    rpoHours: z.number().gt(0, "must be > 0").default(26).describe("the recovery point objective: P0 page once the newest successful backup's data (counted from the backup's start) is this old; over 168 h (beyond a metric alarm's 7 days) the overdue watcher pages, at most 2 h later"),
    runner: z
      .enum(["lambda", "fargate"])
      .optional()
      .describe("where backup and verify-backup run; default: lambda while a backup is expected to take at most 720 s (sizeGb up to 8.4375 at 12 MB/s: its duration alarm's threshold, 80 % of Lambda's 900 s), fargate beyond; lambda is refused beyond"),
    severity: severity.default("P1").describe("severity of a failed backup run (the rpoHours alarm is always P0)"),
  })
  .strict();

const verifySchema = z
  .object({
    schedule: schedule.default("daily at 06:00").describe("when the newest backup is checked (seed 001: Verify Backups, daily)"),
    paused,
    minSizeMb: z.number().min(0, "must be >= 0").default(0.01).describe("fail when the newest backup is smaller than this many MB (seed 000: expected > 10 MB)"),
    maxAgeHours: z.number().gt(0, "must be > 0").default(26).describe("fail when the newest backup is older than this many hours, counted from its start, the moment its data is from (seed 000/001/002: RPO 24 hours)"),
    maxShrinkPercent: percent
      .optional()
      .describe("fail when the newest backup is smaller than the last backup that passed verification by more than this percent (\"backup size should be consistent\"), so every backup holding a deletion fails until the data is back or the shrink is accepted (verify-backup --accept-shrink <key>); unset: not compared"),
    severity: severity.default("P1").describe("severity of a failed verification"),
  })
  .strict();

const rowBound = z.number().int("must be a whole number").min(0, "must be >= 0");

const restoreCheck = z
  .object({
    name: z.string().min(1, "must not be empty").max(100, "must be at most 100 characters").optional().describe("names the check in the drill's result and failure line; default: the SQL"),
    sql: z.string().min(1).describe("a query returning one number (count(*)), one true/false (passes only when true), or rows (their count is compared); a single NULL fails"),
    minRows: rowBound.optional().describe("fail when the query finds fewer; default 1 when maxRows is not set"),
    maxRows: rowBound.optional().describe("fail when the query finds more; 0: the query must find nothing"),
  })
  .strict()
  .refine((c) => c.minRows === undefined || c.maxRows === undefined || c.minRows <= c.maxRows, {
    message: "minRows must be <= maxRows",
    path: ["minRows"],
    ...whenValid("minRows", "maxRows"),
  })
  .describe("at least one bound applies: a check that sets neither means minRows 1 (the query finds something)");

/** The bounds a restore check is judged by: minRows 1 when it sets neither (the default of old). */
export function restoreCheckBounds<C extends { minRows?: number; maxRows?: number }>(c: C): C {
  return c.minRows === undefined && c.maxRows === undefined ? { ...c, minRows: 1 } : c;
}

const restoreDrillSchema = z
  .object({
    schedule: schedule.default("quarterly on day 1 at 03:00").describe("when the newest backup not failed in verification is restored into a scratch database, as the restore task does, and checked"),
    paused,
    rtoMinutes: z.number().gt(0, "must be > 0").default(60).describe("fail when the restore takes longer than this many minutes (seed 000: RTO < 30 minutes; seed 002: 4 hours)"),
    checks: z
      .array(restoreCheck)
      .superRefine((checks, ctx) => {
        // Named checks by name, unnamed ones by their SQL (the label a result shows).
        uniqueBy<(typeof checks)[number]>("name", "check", (c) => c.name)(checks, ctx);
        uniqueBy<(typeof checks)[number]>("sql", "check", (c) => (c.name === undefined ? c.sql : undefined))(checks, ctx);
      }, ALWAYS)
      .default([])
      .describe("queries run against the restored database; each must find what it expects"),
    runner: z
      .enum(["lambda", "fargate"])
      .optional()
      .describe(
        "where the drill runs; default: fargate when rtoMinutes + 5 min per check + 2 min exceeds Lambda's 15 minutes (or backups run on Fargate), else lambda; lambda is refused where it cannot keep that promise; fargate needs network",
      ),
    severity: severity.default("P2").describe("severity of a failed restore drill"),
  })
  .strict();

/** A maintenance run's time budget in minutes: at most MAX_TIME_BUDGET_SECONDS (its run, with the overrun, stays under the duration alarm of Lambda). */
const timeBudgetMinutes = z
  .number()
  .gt(0)
  .max(
    MAX_TIME_BUDGET_SECONDS / 60,
    `must be <= ${MAX_TIME_BUDGET_SECONDS / 60} (a run may take ${BUDGET_OVERRUN_SECONDS} s past its budget; its duration alarm pages at ${LAMBDA_MAX_TIMEOUT_SECONDS * NEAR_TIMEOUT_FRACTION} s of Lambda's ${LAMBDA_MAX_TIMEOUT_SECONDS})`,
  )
  .default(10);

const vacuumSchema = z
  .object({
    schedule: schedule.default("weekly on Wednesday at 03:00").describe("when VACUUM (ANALYZE) runs (seed 001: VACUUM ANALYZE weekly)"),
    paused,
    timeBudgetMinutes: timeBudgetMinutes.describe("minutes of work per run; tables left over wait for the next run"),
    minDeadPercent: percent.default(5).describe("vacuum a table when dead tuples reach this percent of its rows"),
    minDeadTuples: z.number().int().min(0).default(100).describe("... and at least this many dead tuples"),
    fullTables: z.array(pgName(true)).superRefine(uniqueValues("table", tableKey), ALWAYS).prefault([]).describe("tables explicitly allowed a VACUUM FULL (locks them!)"),
    severity: severity.default("P2").describe("severity of a failed vacuum run"),
  })
  .strict();

const reindexSchema = z
  .object({
    schedule: schedule.default("monthly on day 1 at 04:00").describe("when REINDEX CONCURRENTLY runs"),
    paused,
    timeBudgetMinutes: timeBudgetMinutes.describe("minutes of work per run; indexes left over wait for the next run"),
    indexes: z.array(pgName(true)).superRefine(uniqueValues("index", tableKey), ALWAYS).prefault([]).describe("schema.index names; empty: bloated indexes by estimate"),
    severity: severity.default("P3").describe("severity of a failed reindex run"),
  })
  .strict();

const purgeSchema = z
  .object({
    schedule: schedule.default("daily at 03:30").describe("when the purge runs"),
    paused,
    rules: z
      .array(purgeRule)
      .min(1, "must list at least one rule")
      .superRefine(
        // Rules of one table may split it by condition (completed jobs after 30 days, failed ones after 180); the same table and condition twice is a duplicate.
        uniqueBy<z.output<typeof purgeRule>>("table", "purge rule on table", (r) => `${tableKey(r.table)} WHERE ${(typeof r.where === "string" ? r.where : "").replace(/\s+/g, " ").trim()}`),
        ALWAYS,
      )
      .describe("one rule per table, or several per table with different where conditions"),
    severity: severity.default("P3").describe("severity of a failed purge run"),
  })
  .strict();

/** Hours as a threshold: fractions allowed (0.5 is 30 minutes). */
const hours = z.number().gt(0, "must be > 0");

const dbHealthSchema = z
  .object({
    schedule: schedule.default("every 15 minutes").describe("how often the database health check runs"),
    paused,
    connectionsWarnPercent: percent.default(80).describe("warn when connections in use reach this percent of max_connections"),
    connectionsCritPercent: percent.default(95).describe("fail the check (alarm at severity) at this percent of max_connections"),
    wraparoundWarnAge: z.number().int().min(1).default(1_300_000_000).describe("warn when the oldest transaction-ID age (datfrozenxid) reaches this; wraparound is at 2^31"),
    wraparoundCritAge: z.number().int().min(1).default(1_400_000_000).describe("fail the check (alarm at severity) at this transaction-ID age"),
    slowQueryMs: z.number().gt(0).default(100).describe("statements slower than this many ms on average are reported (pg_stat_statements; seed 000: no queries > 100 ms)"),
    lastVacuumWarnHours: hours
      .default(24)
      .describe(
        "warn (P2 alarm db-<id>-last-vacuum-P2) when a table whose dead tuples are past autovacuum's trigger has had no VACUUM, by hand, by the vacuum task or by autovacuum, for this many hours (check_postgres last_vacuum default: 1 day); below lastVacuumCritHours",
      ),
    lastVacuumCritHours: hours.default(48).describe("fail the check (alarm at severity) at this many hours without a vacuum of such a table (check_postgres last_vacuum default: 2 days)"),
    lastAnalyzeWarnHours: hours
      .default(24)
      .describe("warn (P2 alarm db-<id>-last-analyze-P2) when a table whose changes are past autovacuum's analyze trigger has had no ANALYZE (manual or auto) for this many hours (check_postgres last_analyze default: 1 day); below lastAnalyzeCritHours"),
    lastAnalyzeCritHours: hours.default(48).describe("fail the check (alarm at severity) at this many hours without an analyze of such a table (check_postgres last_analyze default: 2 days)"),
    severity: severity.default("P1").describe("severity of a failed check (a critical level reached, database unreachable)"),
  })
  .strict()
  .refine((h) => h.connectionsWarnPercent <= h.connectionsCritPercent, {
    message: "connectionsWarnPercent must be <= connectionsCritPercent",
    path: ["connectionsWarnPercent"],
    ...whenValid("connectionsWarnPercent", "connectionsCritPercent"),
  })
  .superRefine((h, ctx) => {
    // The warning must come before the failure, or the P2 alarm could never fire first. A value already
    // refused on its own key is not compared again (one problem, one line).
    for (const [warn, crit] of [
      ["lastVacuumWarnHours", "lastVacuumCritHours"],
      ["lastAnalyzeWarnHours", "lastAnalyzeCritHours"],
    ] as const) {
      if (!hours.safeParse(h[warn]).success || !hours.safeParse(h[crit]).success) continue;
      if (h[warn] >= h[crit]) ctx.addIssue({ code: "custom", path: [warn], message: `must be < ${crit} (${h[crit]})` });
    }
  }, whenValid());

const networkSchema = z.union([
  z
    .object({
      subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, "must be a subnet id (subnet-...)")).min(1).describe("VPC subnets the task runs in"),
      securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]+$/, "must be a security group id (sg-...)")).min(1).describe("security groups of the task; the server must accept them"),
    })
    .strict()
    .describe("subnets and security groups by id"),
  z
    .object({
      stack: z.string().regex(/^[\w.-]+\/[\w.-]+\/[\w.-]+$/, "must be organization/project/stack").describe("the other stack, as organization/project/stack"),
      subnetIdsOutput: z.string().min(1).default("privateSubnetIds").describe("its output holding the list of subnet ids"),
      securityGroupIdsOutput: z.string().min(1).default("databaseClientSecurityGroupIds").describe("its output holding the list of security group ids"),
    })
    .strict()
    .describe("read subnets and security groups from another stack's outputs (StackReference)"),
]);

/** A database name as PostgreSQL takes it in a connection: any text up to 63 bytes but control characters; no quoting. */
const pgDatabaseName = z
  .string()
  .min(1, "must not be empty")
  .refine((v) => Buffer.byteLength(v, "utf8") <= 63 && !/[\u0000-\u001f]/.test(v), "must be a PostgreSQL database name (at most 63 bytes, no control characters)");

export const databaseSchema = z
  .object({
    id: id.describe("names the database's tasks, backups (<tier>/<id>/), metrics and alarms"),
    engine: z.literal("postgres").default("postgres").describe("database engine; only PostgreSQL"),
    majorVersion: z.number().int().min(12).max(18).default(16).describe("server major version: the task image ships pg_dump of this version"),
    sizeGb: z.number().gt(0).default(1).describe("approximate size; a backup is expected to stream it at 12 MB/s, so above 8.4375 GB (720 s) backups run on Fargate"),
    secretArn: secretsManagerArn.optional().describe("full ARN (with its 6-character suffix) of the Secrets Manager secret in the RDS JSON shape; the tasks may read only this secret"),
    database: pgDatabaseName
      .optional()
      .describe(
        "with secretArn: the database the tasks connect to (its name on the server), used over the secret's dbname when both are given (the run's log names the secret's); unset: the secret's dbname, and a secret without one (an RDS-managed master user secret) is refused on every run. With iamAuth: set iamAuth.database",
      ),
    iamAuth: z
      .object({
        host: z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, "must be a host name").describe("endpoint of the RDS instance"),
        port: z.number().int().min(1).max(65535).default(5432).describe("PostgreSQL port"),
        user: pgRoleName.describe("database user granted rds_iam (the rds-db:connect grant names it, so Latin-1 only: IAM takes U+0020-U+00FF in a policy)"),
        database: pgDatabaseName.describe("database name to connect to"),
        resourceId: z.string().regex(/^db-[A-Z0-9]{1,64}$/, "must be the DbiResourceId (db-...)").describe("the instance's DbiResourceId (db-...), which the rds-db:connect grant names"),
      })
      .strict()
      .optional()
      .describe("connect with an RDS IAM authentication token instead of a password secret"),
    network: networkSchema.optional().describe("subnets and security groups the tasks run in (the database must accept them); unset: outside a VPC"),
    backup: backupSchema.default(backupSchema.parse({})).describe("pg_dump to the backup vault, kept in daily, weekly and monthly tiers"),
    verify: verifySchema.default(verifySchema.parse({})).describe("checks that the newest backup exists, is recent and has a plausible size"),
    restoreDrill: restoreDrillSchema.optional().describe("restores the newest backup not failed in verification through the restore task's own code and runs checks on it (seed 000: test latest backup restore); unset: no drill"),
    vacuum: vacuumSchema.optional().describe("VACUUM (ANALYZE) of tables that need it; unset: autovacuum only"),
    analyze: z
      .object({ schedule: schedule.describe("when ANALYZE runs"), paused, severity: severity.default("P3").describe("severity of a failed analyze run") })
      .strict()
      .optional()
      .describe("ANALYZE of tables whose statistics are stale; unset: autovacuum only"),
    reindex: reindexSchema.optional().describe("REINDEX CONCURRENTLY of bloated or listed indexes; unset: none"),
    purge: purgeSchema.optional().describe("deletes (and optionally archives) old rows by age; unset: none"),
    health: dbHealthSchema.optional().describe("scheduled health check: connections, wraparound, dead tuples, last vacuum and analyze, slow statements; unset: none"),
    rdsInstanceId: rdsInstanceIdentifier.optional().describe("RDS instance identifier for CPU, storage and connection alarms"),
    maxConnectionsAlarm: z.number().int().min(1).optional().describe("alarm when DatabaseConnections exceeds this (seed 001: 80)"),
  })
  .strict()
  // Also beside other problems of the database (ALWAYS): a database missing both is told so in the same run.
  .refine((d: { secretArn?: unknown; iamAuth?: unknown } | null) => d === null || typeof d !== "object" || [d.secretArn, d.iamAuth].filter(Boolean).length === 1, {
    message: "needs exactly one of secretArn or iamAuth",
    path: ["secretArn"],
    ...ALWAYS,
  })
  // One place for the name: an IAM-authenticated database names it in iamAuth.database (its grant's user connects there).
  .refine((d: { database?: unknown; iamAuth?: unknown } | null) => d === null || typeof d !== "object" || d.database === undefined || !d.iamAuth, {
    message: "is for a secretArn database; with iamAuth the database is iamAuth.database",
    path: ["database"],
    ...ALWAYS,
  });

// ---------------------------------------------------------------- Redis

/** What is wrong with a Redis URL as config (host and port, optionally a database number; never a password). */
export function redisUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "must be a URL like redis://host:6379 or rediss://host:6380";
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") return `must start with redis:// or rediss:// (TLS), not ${u.protocol}//`;
  if (u.password) return "must not carry a password: put it in a Secrets Manager secret and name that in passwordSecretArn";
  if (!u.hostname) return "must name a host";
  if (u.search || u.hash) return "must not have a query or fragment";
  if (!/^\/?(\d{1,2})?$/.test(u.pathname)) return "path must be a database number (redis://host:6379/1) or nothing";
  return undefined;
}

/**
 * A stream queue's default maxPendingIdleMinutes: Celery's Redis broker redelivers a task its worker
 * has not acknowledged within the visibility timeout, 1 hour by default ("The default visibility
 * timeout for Redis is 1 hour", https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout),
 * so a worker is taken for dead after an hour there. A stream has no such redelivery: a pending entry
 * stays with its consumer until another claims it (https://redis.io/docs/latest/commands/xclaim/), so
 * the same hour is when it pages. A job that runs longer needs a longer setting.
 */
export const DEFAULT_MAX_PENDING_IDLE_MINUTES = 60;

const redisQueueSchema = z
  .object({
    name: z.string().min(1, "must not be empty").max(512, "must be at most 512 characters").describe("the queue's key: a list a worker pops (Celery's default queue is \"celery\"; its priority lists are counted with it), or a sorted set or stream; no key is an empty queue; a key of another type, or one Redis refuses to read (MOVED on a cluster), pages at the queue's severity"),
    maxLength: z.number().int("must be a whole number").min(0, "must be >= 0").describe("alarm when more than this many messages wait: a list by LLEN of it and of its Celery (Kombu) priority lists; a sorted set by ZCARD; a stream by its consumer group's backlog (lag + pending of XINFO GROUPS, not XLEN)"),
    severity: severity.default("P2").describe("severity of the queue's alarms: longer than maxLength, a key that cannot be measured, or a stream entry unacknowledged past maxPendingIdleMinutes"),
    group: z.string().min(1, "must not be empty").optional().describe("a stream's consumer group whose backlog is measured (a group the stream lacks pages at the queue's severity); unset: every group, the one furthest behind counts"),
    prioritySeparator: z
      .string()
      .min(1, "must not be empty")
      .max(16, "must be at most 16 characters")
      .optional()
      .describe("the Celery app's Kombu `sep` transport option, when it sets one (\":\" in Celery's priority example: priority lists celery:1 to celery:9); unset: Kombu's default \"\\x06\\x16\" (priority lists named the queue, \\x06\\x16, then the step 3, 6 or 9)"),
    maxPendingIdleMinutes: z
      .number()
      .int("must be a whole number")
      .min(0, "must be >= 0")
      .default(DEFAULT_MAX_PENDING_IDLE_MINUTES)
      .describe(
        "a stream: page at the queue's severity when an entry a worker read (XREADGROUP) has waited unacknowledged (no XACK) longer than this, in any consumer group (or the one `group` names): its worker died or hangs, and nothing redelivers it; XPENDING IDLE on Redis 6.2+; before 6.2, or for a group with more pending entries than the check scans (a scan Redis blocks on), that group's oldest pending entry by ID only. The default is Celery's Redis visibility_timeout (1 h), after which Celery redelivers an unacknowledged task. A list or sorted set has no pending entries and never pages on it (Redis keeps no enqueue time of a list's items); 0: no check and no alarm",
      ),
  })
  .strict();

export const redisSchema = z
  .object({
    id: id.describe("names the Redis check, its metrics and alarms"),
    url: z
      .string()
      .superRefine((u, ctx) => {
        const problem = redisUrlProblem(u);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .describe("redis://host:6379 or rediss://host:6380 (TLS), optionally /<database number>; no password"),
    passwordSecretArn: secretsManagerArn
      .optional()
      .describe("Secrets Manager secret holding the password: the SecretString itself, or JSON {\"password\": ...} (and \"username\" for an ACL user)"),
    network: networkSchema.optional().describe("subnets and security groups the check runs in (the Redis must accept them); unset: outside a VPC"),
    schedule: schedule.default("every 15 minutes").describe("how often the Redis check runs"),
    paused,
    memoryWarnPercent: percent.default(80).describe("warn (P2 alarm) when used_memory reaches this percent of maxmemory; not under an allkeys-* maxmemory-policy, where a full cache is the steady state (evictedKeysWarn and minHitRatePercent watch it)"),
    memoryCritPercent: percent.default(90).describe("fail the check (alarm at severity) at this percent of maxmemory; no maxmemory (0) or an allkeys-* policy: not checked"),
    evictedKeysWarn: z.number().int("must be a whole number").min(1, "must be >= 1").optional().describe("warn when evicted_keys (since the server started or CONFIG RESETSTAT) reaches this"),
    minHitRatePercent: percent.optional().describe("warn when keyspace hits / (hits + misses) is below this percent"),
    queues: z
      .array(redisQueueSchema)
      .superRefine(uniqueBy("name", "queue"), ALWAYS)
      .default([])
      .describe("queues (lists, sorted sets or streams) whose backlog is alarmed on"),
    severity: severity.default("P1").describe("severity of a failed check (memory critical, persistence failing, Redis unreachable); a queue's problems page at the queue's severity"),
  })
  .strict()
  .refine((r) => r.memoryWarnPercent <= r.memoryCritPercent, {
    message: "memoryWarnPercent must be <= memoryCritPercent",
    path: ["memoryWarnPercent"],
    ...whenValid("memoryWarnPercent", "memoryCritPercent"),
  });

// ---------------------------------------------------------------- hosts and applications

/** Minutes between two EC2 CPUUtilization data points under basic monitoring (EC2 user guide, "Enable or turn off detailed monitoring for your instances"). */
export const BASIC_MONITORING_MINUTES = 5;

const thresholdPair = (warnDefault: number, critDefault: number) =>
  z
    .object({
      warn: percent.default(warnDefault).describe("P2 alarm above this percent"),
      crit: percent.default(critDefault).describe("P1 alarm above this percent"),
      minutes: z.number().int().min(1).max(1440).default(10).describe("minutes the level must hold before the alarm (seed 000: Alert: >90% for >10 minutes)"),
    })
    .strict()
    .refine((t) => t.warn <= t.crit, { message: "warn must be <= crit", path: ["warn"], ...whenValid("warn", "crit") });

export const hostSchema = z
  .object({
    name: id.describe("names the host's alarms"),
    instanceId: z.string().regex(/^i-([0-9a-f]{8}|[0-9a-f]{17})$/, "must be an EC2 instance id (i- and 8 or 17 hex digits)").describe("EC2 instance id, looked up by pulumi preview and up (one of no instance in the stack's account and region, or a terminated one, is refused; the offline plan cannot look it up); memory and disk need the CloudWatch agent on it"),
    cpu: thresholdPair(80, 90).default({ warn: 80, crit: 90, minutes: 10 }).describe("CPU utilization in percent (seed 001: > 80%; seed 000: > 90% for > 10 minutes)"),
    memory: thresholdPair(85, 95).default({ warn: 85, crit: 95, minutes: 10 }).describe("memory used in percent (seed 001: > 85%)"),
    disk: thresholdPair(85, 95).default({ warn: 85, crit: 95, minutes: 10 }).describe("disk used in percent of diskPath (seed 000/001: > 85% full)"),
    diskPath: z.string().startsWith("/").default("/").describe("mount point whose disk use is alarmed on"),
    statusCheck: z
      .object({
        severity: severity.default("P1").describe("severity of the page when the instance fails a status check, stops, is terminated or sends no status checks"),
        minutes: z.number().int().min(1).max(60).default(2).describe("minutes the failure must hold before the page (EC2 sends StatusCheckFailed every minute)"),
      })
      .strict()
      .default({ severity: "P1", minutes: 2 })
      .describe(
        "EC2 status checks (StatusCheckFailed: system, instance and attached EBS checks, every minute at no charge) page when one fails for minutes; the instance's state-change events page when it stops or is terminated, which its CPU, memory and disk alarms do not see (a stopped host sends no data); 15 min without a status check pages too (a wrong or replaced instance id, a host stopped before deploy)",
      ),
    detailedMonitoring: z
      .boolean()
      .default(false)
      .describe(
        "EC2 detailed monitoring is on for the instance: CPUUtilization every minute; off (EC2's default, basic monitoring), every 5 minutes, so the CPU alarm counts 5-minute periods and cpu.minutes must be a multiple of 5",
      ),
  })
  .strict()
  .superRefine((h, ctx) => {
    // Basic monitoring sends one CPUUtilization a 5 minutes (EC2 user guide, "Enable or turn off
    // detailed monitoring for your instances"): an alarm of one-minute periods would see one point in
    // five and, with missing data, page on a single 5-minute average (CloudWatch user guide, "How alarm
    // state is evaluated when data is missing"), not after cpu.minutes.
    if (!h.detailedMonitoring && h.cpu.minutes % BASIC_MONITORING_MINUTES !== 0) {
      const lower = Math.floor(h.cpu.minutes / BASIC_MONITORING_MINUTES) * BASIC_MONITORING_MINUTES;
      const upper = lower + BASIC_MONITORING_MINUTES;
      ctx.addIssue({
        code: "custom",
        path: ["cpu", "minutes"],
        message: `${h.cpu.minutes} is not a whole number of EC2's 5-minute CPU periods (basic monitoring sends CPUUtilization every 5 minutes): use ${lower > 0 ? `${lower} or ` : ""}${upper}, or set detailedMonitoring: true if the instance has detailed monitoring (1-minute data)`,
      });
    }
  }, whenValid("detailedMonitoring", "cpu"));

export const applicationSchema = z
  .object({
    name: id.describe("names the application's alarms"),
    loadBalancer: z.string().regex(ALB_ARN_SUFFIX, "must be the ALB ARN suffix app/<name>/<16 hex digits>, the name 1-32 letters, digits or hyphens").describe("the Application Load Balancer in front of it, as its ARN suffix app/<name>/<id>"),
    targetGroup: z.string().regex(TARGET_GROUP_ARN_SUFFIX, "must be the target group ARN suffix targetgroup/<name>/<16 hex digits>, the name 1-32 letters, digits or hyphens").optional().describe("narrows the metrics to one target group (targetgroup/<name>/<id>); unset: the whole load balancer"),
    errorRatePercent: z
      .object({ warn: percent.default(1).describe("P2 alarm above this percent"), crit: percent.default(5).describe("P1 alarm above this percent") })
      .strict()
      .default({ warn: 1, crit: 5 })
      .describe("5xx responses in percent of requests over 5 minutes (seed 000: target < 1%, alert > 5%)"),
    latencyMs: z
      .object({ warn: z.number().gt(0).default(500).describe("P2 alarm above this many ms"), crit: z.number().gt(0).default(5000).describe("P1 alarm above this many ms") })
      .strict()
      .default({ warn: 500, crit: 5000 })
      .describe("p90 response time in ms over 5 minutes (seed 001: > 500 ms; seed 000: > 5 s average)"),
  })
  .strict();

// ---------------------------------------------------------------- reminders (human steps)

export const reminderSchema = z
  .object({
    name: id.describe("names the reminder's schedule and topic message"),
    schedule: schedule.describe("when the reminder is sent (monthly on day 1 at 09:00)"),
    paused,
    severity: severity.default("P3").describe("topic the reminder is sent to"),
    checklist: z.array(z.string().min(1)).min(1, "must list at least one step").superRefine(uniqueValues("step"), ALWAYS).describe("the steps a person does, as the guide lists them"),
  })
  .strict();

// ---------------------------------------------------------------- the regime

export const regimeSchema = z
  .object({
    name: id.describe("prefix of every resource name"),
    timezone: timezone.default("UTC").describe("IANA timezone of every schedule that names none"),
    logRetentionDays: logRetention.default(30).describe("retention of every log group the regime creates"),
    alerting: alertingSchema.default(alertingSchema.parse({})),
    backupVault: z
      .object({
        objectLock: z
          .object({
            mode: z.enum(["GOVERNANCE", "COMPLIANCE"]).describe("COMPLIANCE: no one may delete a backup early; GOVERNANCE: only privileged users"),
            days: z.number().int().min(1).describe("days each backup is locked after it is written"),
          })
          .strict()
          .optional()
          .describe("S3 Object Lock (WORM) on the backups, at most the shortest tier's days; unset: none"),
        archiveAfterDays: z
          .number()
          .int()
          .min(30, "must be >= 30 (S3 minimum before a cold tier)")
          .optional()
          .describe("days after which a backup moves to Glacier Instant Retrieval (tiers kept at least 90 days longer); unset: stays in S3 Standard"),
        noncurrentDays: z
          .number()
          .int()
          .min(1)
          .default(7)
          .describe("days an expired or deleted backup stays restorable as a noncurrent version after its tier's days; nothing is kept longer, except while its database's backup is paused (its rules Disabled: nothing expires)"),
      })
      .strict()
      .default({ noncurrentDays: 7 })
      .describe("the S3 bucket holding the database backups"),
    databases: z.array(databaseSchema).prefault([]).describe("PostgreSQL databases: backups, verification, restore drills, vacuum, purge and health checks"),
    redis: z.array(redisSchema).default([]).describe("Redis servers (cache, Celery broker) checked on a schedule: memory, evictions, hit rate, persistence, queue lengths"),
    endpoints: endpointsSchema.optional().describe("HTTP(S) health checks of the services (seed 000: verify health endpoints); unset: none"),
    hosts: z.array(hostSchema).default([]).describe("EC2 instances with status-check, stopped, not-reporting, CPU, memory and disk alarms"),
    applications: z.array(applicationSchema).default([]).describe("applications behind an Application Load Balancer: 5xx error rate and response time alarms"),
    logs: logsSchemaAt("logs.")
      .default({ hostGroups: [] })
      .describe("log rotation, log shipping to CloudWatch and log alarms on the hosts"),
    reminders: z.array(reminderSchema).default([]).describe("human steps of the guides (reviews, audits) sent as checklists on a schedule"),
    maintenanceWindows: maintenanceWindowsSchema,
    mutes: mutesSchema,
    dashboard: z.boolean().default(true).describe("create a CloudWatch dashboard of the regime"),
    acceptedRisks: z
      .array(
        z
          .object({
            key: z.string().min(1, "must not be empty").describe("the config key whose broken promise is accepted, as the refusal names it (databases[app].backup.schedule)"),
            reason: z.string().min(1, "must say why the risk is accepted").describe("why the risk is accepted, for the next reader"),
          })
          .strict(),
      )
      .default([])
      .describe("broken promises accepted on purpose (the plan's Promises section); an acceptance of a key that breaks nothing is refused"),
  })
  .strict()
  .superRefine((r, ctx) => {
    // Every named list: a second item of one name would make a second set of alarms and schedules.
    uniqueBy("id", "database id")(r.databases, ctx, ["databases"]);
    uniqueBy("id", "redis id")(r.redis, ctx, ["redis"]);
    uniqueBy("name", "host")(r.hosts, ctx, ["hosts"]);
    uniqueBy("name", "application")(r.applications, ctx, ["applications"]);
    uniqueBy("name", "reminder")(r.reminders, ctx, ["reminders"]);
    uniqueBy("key", "accepted risk")(r.acceptedRisks, ctx, ["acceptedRisks"]);
    // Host groups are checked by the logs schema, with the rest of what two groups may not share.
    // A host group's log group may not take a name the regime gives its own runners' log groups:
    // CloudWatch Logs refuses the second group of one name at deploy.
    const own = typeof r.name === "string" ? ownLogGroupPrefixes(r.name) : [];
    const hostGroups = (r.logs as { hostGroups?: unknown } | null | undefined)?.hostGroups;
    if (Array.isArray(hostGroups)) {
      hostGroups.forEach((g: { logGroups?: unknown } | null, i) => {
        const groups = g?.logGroups;
        if (!Array.isArray(groups)) return;
        groups.forEach((lg: { name?: unknown } | null, j) => {
          const taken = typeof lg?.name === "string" ? own.find((p) => (lg.name as string).startsWith(p)) : undefined;
          if (taken) {
            ctx.addIssue({
              code: "custom",
              path: ["logs", "hostGroups", i, "logGroups", j, "name"],
              message: `${lg!.name} is a name the regime keeps for its own log groups (every name starting ${own.join(", ")}: its tasks' and chat channels'); choose a name outside them`,
            });
          }
        });
      });
    }
    // A locked backup cannot be removed before its lock ends: a lock longer than a tier keeps that tier longer than it says.
    // Also run beside other issues (ALWAYS): parts that are not what the schema says are skipped here
    // and reported on their own keys.
    const lock = (r.backupVault as { objectLock?: { days?: unknown } } | null | undefined)?.objectLock;
    if (lock && typeof lock.days === "number" && Array.isArray(r.databases)) {
      for (const [i, d] of r.databases.entries()) {
        const retention = (d as { backup?: { retention?: Record<string, unknown> } } | null)?.backup?.retention;
        if (retention === null || typeof retention !== "object") continue;
        const tier = TIERS.find((t) => retentionDays.safeParse(retention[t]).success && (retention[t] as number) < (lock.days as number));
        if (tier) {
          ctx.addIssue({
            code: "custom",
            path: ["backupVault", "objectLock", "days"],
            message: `${lock.days} is longer than databases[${i}].backup.retention.${tier} (${retention[tier]}): locked backups could not be removed when their tier expires`,
          });
          break;
        }
      }
    }
  }, ALWAYS);

/** One spelling of a table or index name as the tasks read it (literal, schema public by default): `audit_logs` is `public.audit_logs`. */
function tableKey(name: string): string {
  return name.includes(".") ? name : `public.${name}`;
}

export type RegimeInput = z.input<typeof regimeSchema>;
/** The regime as the schema parses it: schedules still as written (`ScheduleInput`). */
export type ParsedRegime = z.output<typeof regimeSchema>;
export type ScheduleInput = z.output<typeof schedule>;

/**
 * A schedule of the config resolved once, where the config is loaded (regime/load.ts): the Schedule it
 * runs on (expression, IANA timezone, readable description, longest gap in seconds) and `text`, the
 * schedule as written (`daily at 02:00`, the `at` of `{ at, timezone }`), for messages that quote the config.
 */
export interface ConfigSchedule extends Schedule {
  text: string;
}

/** `T` with every `schedule: ScheduleInput` key, at any depth, as a ConfigSchedule. */
export type WithResolvedSchedules<T> = T extends readonly (infer E)[]
  ? WithResolvedSchedules<E>[]
  : T extends object
    ? { [K in keyof T]: K extends "schedule" ? ([T[K]] extends [ScheduleInput] ? ConfigSchedule : T[K]) : WithResolvedSchedules<T[K]> }
    : T;

/**
 * The validated regime (regime/load.ts `validateRegime`): every schedule resolved once in its timezone
 * (the regime's unless it names its own); `logs` has its own resolved forms (regime/logs.ts
 * resolveLogs: host groups' State Manager crons and file backups' UTC crons).
 */
export type Regime = Omit<WithResolvedSchedules<ParsedRegime>, "logs"> & { logs: LogsConfig };
export type DatabaseConfig = Regime["databases"][number];
export type RedisConfig = Regime["redis"][number];
export type { EndpointConfig } from "./endpoints";

/** Top-level config keys, in the order they appear in a stack file. */
export const REGIME_KEYS = Object.keys(regimeSchema.shape) as (keyof Regime)[];
