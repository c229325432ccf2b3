/**
 * The regime as a stack config: one zod schema, validated once at the entry point with every default
 * applied here. Each top-level key is a config key of the project namespace in Pulumi.<stack>.yaml
 * (`maintenance-regime:databases`, ...). Words mirror the operations guides so a guide translates line
 * by line: schedules ("daily at 02:00"), retention in days, thresholds in percent and milliseconds.
 */
import { z } from "zod";
import { LOG_RETENTION_DAYS } from "./limits";
import { endpointsSchema } from "./endpoints";
import { hostGroupSchema } from "./logs";
import { id, schedule, severity, timezone } from "./primitives";
import { sqlExpressionProblem } from "../tasks/lib/sql-expression";

const retentionDays = z.number().int("must be a whole number of days").min(1, "must be >= 1");

const logRetention = z
  .number()
  .int()
  .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
    message: `must be one of ${LOG_RETENTION_DAYS.join(", ")}`,
  });

const percent = z.number().gt(0, "must be > 0").max(100, "must be <= 100");

const awsArn = z.string().regex(/^arn:aws[a-z-]*:[a-z0-9-]+:/, "must be an ARN");

// ---------------------------------------------------------------- alerting

const channels = z
  .object({
    email: z.array(z.email("must be an email address")).default([]),
    sms: z.array(z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 phone number like +15551234567")).default([]),
    https: z.array(z.url({ protocol: /^https$/, message: "must be an https URL" })).default([]),
  })
  .strict();

export const alertingSchema = z
  .object({
    P0: channels.default({ email: [], sms: [], https: [] }),
    P1: channels.default({ email: [], sms: [], https: [] }),
    P2: channels.default({ email: [], sms: [], https: [] }),
    P3: channels.default({ email: [], sms: [], https: [] }),
  })
  .strict()
  .describe("Alert routing: one SNS topic per severity (P0 critical: service down, data loss; P1 high; P2 medium; P3 info) and who hears it");

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
    schedule: schedule.default("daily at 02:00"),
    retention: tierRetentionSchema.default({ daily: 30, weekly: 90, monthly: 365 }),
    weeklyOn: z.enum(["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]).default("Sunday"),
    monthlyOnDay: z.number().int().min(1).max(28, "must be <= 28 so every month has it").default(1),
    compression: z.string().regex(/^(none|gzip(:[1-9])?|lz4(:[1-9])?|zstd(:([1-9]|1[0-9]|2[0-2]))?|[0-9])$/, "must be none, gzip[:1-9], lz4[:1-9], zstd[:1-22] or 0-9").default("zstd:3"),
    rpoHours: z.number().gt(0, "must be > 0").default(26).describe("alarm when no successful backup was recorded for this long"),
    runner: z.enum(["lambda", "fargate"]).optional().describe("default: lambda up to 10 GB (sizeGb), fargate beyond"),
    severity: severity.default("P1"),
  })
  .strict();

const verifySchema = z
  .object({
    schedule: schedule.default("daily at 06:00"),
    minSizeMb: z.number().min(0, "must be >= 0").default(0.01),
    maxAgeHours: z.number().gt(0, "must be > 0").default(26),
    maxShrinkPercent: percent
      .optional()
      .describe("fail when the newest backup is smaller than the one before it by more than this percent (\"backup size should be consistent\"); unset: not compared"),
    severity: severity.default("P1"),
  })
  .strict();

const rowBound = z.number().int("must be a whole number").min(0, "must be >= 0");

const restoreCheck = z
  .object({
    name: z.string().min(1, "must not be empty").max(100, "must be at most 100 characters").optional().describe("names the check in the drill's result and failure line; default: the SQL"),
    sql: z.string().min(1).describe("a query returning one number (count(*)), or rows (their count is compared)"),
    minRows: rowBound.optional().describe("fail when the query finds fewer; default 1 when maxRows is not set"),
    maxRows: rowBound.optional().describe("fail when the query finds more; 0: the query must find nothing"),
  })
  .strict()
  .refine((c) => c.minRows === undefined || c.maxRows === undefined || c.minRows <= c.maxRows, {
    message: "minRows must be <= maxRows",
    path: ["minRows"],
  })
  .describe("at least one bound applies: a check that sets neither means minRows 1 (the query finds something)");

/** The bounds a restore check is judged by: minRows 1 when it sets neither (the default of old). */
export function restoreCheckBounds<C extends { minRows?: number; maxRows?: number }>(c: C): C {
  return c.minRows === undefined && c.maxRows === undefined ? { ...c, minRows: 1 } : c;
}

const restoreDrillSchema = z
  .object({
    schedule: schedule.default("quarterly on day 1 at 03:00"),
    rtoMinutes: z.number().gt(0, "must be > 0").default(60),
    checks: z
      .array(restoreCheck)
      .superRefine((checks, ctx) => {
        const seen = new Set<string>();
        checks.forEach((c, i) => {
          const label = c.name ?? c.sql;
          if (seen.has(label)) ctx.addIssue({ code: "custom", path: [i, c.name ? "name" : "sql"], message: `duplicate check "${label}"` });
          seen.add(label);
        });
      })
      .default([]),
    severity: severity.default("P2"),
  })
  .strict();

const vacuumSchema = z
  .object({
    schedule: schedule.default("weekly on Wednesday at 03:00"),
    timeBudgetMinutes: z.number().gt(0).max(14, "must be <= 14 (Lambda stops at 15 minutes)").default(10),
    minDeadPercent: percent.default(5),
    minDeadTuples: z.number().int().min(0).default(100),
    fullTables: z.array(z.string()).default([]).describe("tables explicitly allowed a VACUUM FULL (locks them!)"),
    severity: severity.default("P2"),
  })
  .strict();

const reindexSchema = z
  .object({
    schedule: schedule.default("monthly on day 1 at 04:00"),
    timeBudgetMinutes: z.number().gt(0).max(14, "must be <= 14 (Lambda stops at 15 minutes)").default(10),
    indexes: z.array(z.string()).default([]).describe("schema.index names; empty: bloated indexes by estimate"),
    severity: severity.default("P3"),
  })
  .strict();

const purgeRule = z
  .object({
    table: z.string().min(1),
    timestampColumn: z.string().min(1).default("created_at"),
    olderThanDays: z.number().int("must be a whole number of days").min(1, "must be >= 1"),
    archiveTable: z.string().min(1).optional(),
    where: z
      .string()
      .superRefine((w, ctx) => {
        const problem = sqlExpressionProblem(w);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional()
      .describe("SQL condition ANDed to the age (\"status = 'completed'\"): only matching rows are deleted and archived"),
    batchSize: z.number().int().min(1).max(100_000).default(5000),
  })
  .strict();

const purgeSchema = z
  .object({
    schedule: schedule.default("daily at 03:30"),
    rules: z.array(purgeRule).min(1, "must list at least one rule"),
    severity: severity.default("P3"),
  })
  .strict();

const dbHealthSchema = z
  .object({
    schedule: schedule.default("every 15 minutes"),
    connectionsWarnPercent: percent.default(80),
    connectionsCritPercent: percent.default(95),
    wraparoundWarnAge: z.number().int().min(1).default(1_300_000_000),
    wraparoundCritAge: z.number().int().min(1).default(1_400_000_000),
    slowQueryMs: z.number().gt(0).default(100),
    severity: severity.default("P1"),
  })
  .strict()
  .refine((h) => h.connectionsWarnPercent <= h.connectionsCritPercent, {
    message: "connectionsWarnPercent must be <= connectionsCritPercent",
    path: ["connectionsWarnPercent"],
  });

const networkSchema = z.union([
  z
    .object({
      subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, "must be a subnet id (subnet-...)")).min(1),
      securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]+$/, "must be a security group id (sg-...)")).min(1),
    })
    .strict(),
  z
    .object({
      stack: z.string().regex(/^[\w.-]+\/[\w.-]+\/[\w.-]+$/, "must be organization/project/stack"),
      subnetIdsOutput: z.string().min(1).default("privateSubnetIds"),
      securityGroupIdsOutput: z.string().min(1).default("databaseClientSecurityGroupIds"),
    })
    .strict()
    .describe("read subnets and security groups from another stack's outputs (StackReference)"),
]);

export const databaseSchema = z
  .object({
    id,
    engine: z.literal("postgres").default("postgres"),
    majorVersion: z.number().int().min(12).max(18).default(16).describe("server major version: the task image ships pg_dump of this version"),
    sizeGb: z.number().gt(0).default(1).describe("approximate size; above 10 GB backups run on Fargate"),
    secretArn: awsArn.optional().describe("Secrets Manager secret in the RDS JSON shape"),
    iamAuth: z
      .object({ host: z.string().min(1), port: z.number().int().default(5432), user: z.string().min(1), database: z.string().min(1), resourceId: z.string().regex(/^db-[A-Z0-9]+$/, "must be the DbiResourceId (db-...)") })
      .strict()
      .optional(),
    network: networkSchema.optional(),
    backup: backupSchema.default(backupSchema.parse({})),
    verify: verifySchema.default(verifySchema.parse({})),
    restoreDrill: restoreDrillSchema.optional(),
    vacuum: vacuumSchema.optional(),
    analyze: z.object({ schedule: schedule, severity: severity.default("P3") }).strict().optional(),
    reindex: reindexSchema.optional(),
    purge: purgeSchema.optional(),
    health: dbHealthSchema.optional(),
    rdsInstanceId: z.string().optional().describe("RDS instance identifier for CPU, storage and connection alarms"),
    maxConnectionsAlarm: z.number().int().min(1).optional().describe("alarm when DatabaseConnections exceeds this (seed 001: 80)"),
  })
  .strict()
  .refine((d) => [d.secretArn, d.iamAuth].filter(Boolean).length === 1, {
    message: "needs exactly one of secretArn or iamAuth",
    path: ["secretArn"],
  });

// ---------------------------------------------------------------- Redis

/** A Secrets Manager secret's full ARN: the role's GetSecretValue grant names exactly it, suffix included. */
const secretsManagerArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/,
    "must be the full ARN of a Secrets Manager secret, with the 6-character suffix (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf)",
  );

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

const redisQueueSchema = z
  .object({
    name: z.string().min(1, "must not be empty").max(512, "must be at most 512 characters").describe("the list key a worker pops (Celery's default queue is \"celery\")"),
    maxLength: z.number().int("must be a whole number").min(0, "must be >= 0").describe("alarm when the list holds more than this many messages (LLEN)"),
    severity: severity.default("P2").describe("severity of the queue-length alarm"),
  })
  .strict();

export const redisSchema = z
  .object({
    id,
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
    schedule: schedule.default("every 15 minutes"),
    memoryWarnPercent: percent.default(80).describe("warn (P2 alarm) when used_memory reaches this percent of maxmemory"),
    memoryCritPercent: percent.default(90).describe("fail the check (alarm at severity) at this percent of maxmemory; no maxmemory (0): not checked"),
    evictedKeysWarn: z.number().int("must be a whole number").min(1, "must be >= 1").optional().describe("warn when evicted_keys (since the server started or CONFIG RESETSTAT) reaches this"),
    minHitRatePercent: percent.optional().describe("warn when keyspace hits / (hits + misses) is below this percent"),
    queues: z
      .array(redisQueueSchema)
      .superRefine((queues, ctx) => {
        const seen = new Set<string>();
        queues.forEach((q, i) => {
          if (seen.has(q.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate queue "${q.name}"` });
          seen.add(q.name);
        });
      })
      .default([]),
    severity: severity.default("P1").describe("severity of a failed check (memory critical, persistence failing, Redis unreachable)"),
  })
  .strict()
  .refine((r) => r.memoryWarnPercent <= r.memoryCritPercent, {
    message: "memoryWarnPercent must be <= memoryCritPercent",
    path: ["memoryWarnPercent"],
  });

// ---------------------------------------------------------------- hosts and applications

const thresholdPair = (warnDefault: number, critDefault: number) =>
  z
    .object({ warn: percent.default(warnDefault), crit: percent.default(critDefault), minutes: z.number().int().min(1).max(1440).default(10) })
    .strict()
    .refine((t) => t.warn <= t.crit, { message: "warn must be <= crit", path: ["warn"] });

export const hostSchema = z
  .object({
    name: id,
    instanceId: z.string().regex(/^i-[0-9a-f]{8,17}$/, "must be an EC2 instance id (i-...)"),
    cpu: thresholdPair(80, 90).default({ warn: 80, crit: 90, minutes: 10 }),
    memory: thresholdPair(85, 95).default({ warn: 85, crit: 95, minutes: 10 }),
    disk: thresholdPair(85, 95).default({ warn: 85, crit: 95, minutes: 10 }),
    diskPath: z.string().startsWith("/").default("/"),
  })
  .strict();

export const applicationSchema = z
  .object({
    name: id,
    loadBalancer: z.string().regex(/^app\/[\w-]+\/[0-9a-f]+$/, "must be the ALB ARN suffix app/<name>/<id>"),
    targetGroup: z.string().regex(/^targetgroup\/[\w-]+\/[0-9a-f]+$/, "must be the target group ARN suffix targetgroup/<name>/<id>").optional(),
    errorRatePercent: z.object({ warn: percent.default(1), crit: percent.default(5) }).strict().default({ warn: 1, crit: 5 }),
    latencyMs: z.object({ warn: z.number().gt(0).default(500), crit: z.number().gt(0).default(5000) }).strict().default({ warn: 500, crit: 5000 }),
  })
  .strict();

// ---------------------------------------------------------------- reminders (human steps)

export const reminderSchema = z
  .object({
    name: id,
    schedule,
    severity: severity.default("P3"),
    checklist: z.array(z.string().min(1)).min(1, "must list at least one step"),
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
        objectLock: z.object({ mode: z.enum(["GOVERNANCE", "COMPLIANCE"]), days: z.number().int().min(1) }).strict().optional(),
        archiveAfterDays: z.number().int().min(30, "must be >= 30 (S3 minimum before a cold tier)").optional(),
        noncurrentDays: z.number().int().min(1).default(7),
      })
      .strict()
      .default({ noncurrentDays: 7 }),
    databases: z.array(databaseSchema).default([]),
    redis: z.array(redisSchema).default([]).describe("Redis servers (cache, Celery broker) checked on a schedule: memory, evictions, hit rate, persistence, queue lengths"),
    endpoints: endpointsSchema.optional(),
    hosts: z.array(hostSchema).default([]),
    applications: z.array(applicationSchema).default([]),
    logs: z.object({ hostGroups: z.array(hostGroupSchema).default([]) }).strict().default({ hostGroups: [] }),
    reminders: z.array(reminderSchema).default([]),
    dashboard: z.boolean().default(true),
  })
  .strict()
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    r.databases.forEach((d, i) => {
      if (seen.has(d.id)) ctx.addIssue({ code: "custom", path: ["databases", i, "id"], message: `duplicate database id "${d.id}"` });
      seen.add(d.id);
    });
    const redisIds = new Set<string>();
    r.redis.forEach((x, i) => {
      if (redisIds.has(x.id)) ctx.addIssue({ code: "custom", path: ["redis", i, "id"], message: `duplicate redis id "${x.id}"` });
      redisIds.add(x.id);
    });
  });

export type RegimeInput = z.input<typeof regimeSchema>;
export type Regime = z.output<typeof regimeSchema>;
export type DatabaseConfig = Regime["databases"][number];
export type RedisConfig = Regime["redis"][number];
export type { EndpointConfig } from "./endpoints";
export type ScheduleInput = z.output<typeof schedule>;

/** Top-level config keys, in the order they appear in a stack file. */
export const REGIME_KEYS = Object.keys(regimeSchema.shape) as (keyof Regime)[];
