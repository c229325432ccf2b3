/**
 * The regime config as a DevOps engineer writes it: defaults filled in, and every malformed stack file
 * refused with one line naming the key path, before anything is provisioned.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { regimeFromConfig, regimeJsonSchema, validateRegime } from "../regime/load";
import { refusal } from "./helpers/refusal";
import { restoreCheckBounds } from "../regime/schema";

const NS = "maintenance-regime";
const ROOT = join(__dirname, "..");

const db = (over: Record<string, unknown> = {}) => ({
  id: "app",
  secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
  ...over,
});

describe("defaults", () => {
  it("fills in the guides' common ground for a database that names only its secret", () => {
    const r = validateRegime({ name: "prod", databases: [db()] });
    const d = r.databases[0];
    expect(r.timezone).toBe("UTC");
    expect(r.logRetentionDays).toBe(30);
    expect(d.backup.retention).toEqual({ daily: 30, weekly: 90, monthly: 365 });
    expect(d.backup.schedule.expression).toBe("cron(0 2 * * ? *)");
    expect(d.backup.rpoHours).toBe(26);
    expect(d.verify.maxAgeHours).toBe(26);
    expect(d.restoreDrill).toBeUndefined();
    expect(r.alerting.P0).toEqual({ email: [], sms: [], https: [], slack: [], teams: [] });
  });

  it("schedules take the regime's timezone unless they name their own", () => {
    const r = validateRegime({
      name: "prod",
      timezone: "America/Chicago",
      databases: [db({ vacuum: { schedule: "weekly on Wednesday at 03:00" }, reindex: { schedule: { at: "monthly on day 15 at 04:00", timezone: "Europe/Berlin" } } })],
    });
    expect(r.databases[0].vacuum!.schedule).toMatchObject({ expression: "cron(0 3 ? * WED *)", timezone: "America/Chicago" });
    expect(r.databases[0].reindex!.schedule).toMatchObject({ expression: "cron(0 4 15 * ? *)", timezone: "Europe/Berlin" });
  });

  it("reads Pulumi's flat config, values as objects or as the JSON strings Pulumi stores", () => {
    const r = regimeFromConfig(
      { [`${NS}:name`]: "prod", [`${NS}:databases`]: JSON.stringify([db()]), [`${NS}:dashboard`]: "false", "aws:region": "us-east-1" },
      NS,
    );
    expect(r.databases.map((d) => d.id)).toEqual(["app"]);
    expect(r.dashboard).toBe(false);
  });
});

describe("restore check bounds, backup shrink and purge conditions", () => {
  it("a check with neither bound is judged by minRows 1; maxRows alone sets no minimum; name and where pass through", () => {
    const r = validateRegime({
      name: "prod",
      databases: [
        db({
          verify: { maxShrinkPercent: 50 },
          // The drill (60-minute RTO, 3 checks) runs on Fargate, which needs subnets.
          network: { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] },
          restoreDrill: {
            checks: [
              { sql: "SELECT count(*) FROM leads" },
              { name: "no lead without temperature", sql: "SELECT id FROM leads WHERE temperature IS NULL", maxRows: 0 },
              { sql: "SELECT count(*) FROM users", minRows: 0, maxRows: 10 },
            ],
          },
          purge: { rules: [{ table: "jobs", olderThanDays: 180, archiveTable: "jobs_archive", where: "status = 'completed' AND note <> 'a;b'" }] },
        }),
      ],
    });
    const d = r.databases[0];
    expect(d.restoreDrill!.checks.map(restoreCheckBounds)).toStrictEqual([
      { sql: "SELECT count(*) FROM leads", minRows: 1 },
      { name: "no lead without temperature", sql: "SELECT id FROM leads WHERE temperature IS NULL", maxRows: 0 },
      { sql: "SELECT count(*) FROM users", minRows: 0, maxRows: 10 },
    ]);
    expect(d.verify.maxShrinkPercent).toBe(50);
    expect(d.purge!.rules[0].where).toBe("status = 'completed' AND note <> 'a;b'");
  });

  it("without the new keys nothing changes: no shrink limit, no condition", () => {
    const d = validateRegime({ name: "prod", databases: [db({ purge: { rules: [{ table: "audit_logs", olderThanDays: 90 }] } })] }).databases[0];
    expect(d.verify.maxShrinkPercent).toBeUndefined();
    expect(d.purge!.rules[0]).toStrictEqual({ table: "audit_logs", timestampColumn: "created_at", olderThanDays: 90, batchSize: 5000 });
  });
});

describe("malformed regimes are refused with the key path", () => {
  const cases: [string, unknown, RegExp][] = [
    ["typo'd key", { name: "prod", databases: [db({ bakup: {} })] }, /^databases\[0\]: unknown key bakup \(did you mean backup\?\)$/],
    ["wrong type", { name: "prod", databases: [db({ sizeGb: "big" })] }, /^databases\[0\]\.sizeGb: /],
    ["negative retention", { name: "prod", databases: [db({ backup: { retention: { daily: -1 } } })] }, /^databases\[0\]\.backup\.retention\.daily: must be >= 1$/],
    ["retention not whole days", { name: "prod", databases: [db({ backup: { retention: { weekly: 1.5 } } })] }, /^databases\[0\]\.backup\.retention\.weekly: must be a whole number/],
    ["bad cron", { name: "prod", databases: [db({ vacuum: { schedule: "cron(0 3 * * *)" } })] }, /^databases\[0\]\.vacuum\.schedule: /],
    ["unreadable schedule", { name: "prod", databases: [db({ backup: { schedule: "every blue moon" } })] }, /^databases\[0\]\.backup\.schedule: /],
    ["bad timezone", { name: "prod", timezone: "EST" }, /^timezone: must be an IANA timezone/],
    ["bad timezone of one schedule", { name: "prod", databases: [db({ backup: { schedule: { at: "daily at 02:00", timezone: "Mars/Olympus" } } })] }, /^databases\[0\]\.backup\.schedule\.timezone: must be an IANA timezone/],
    ["threshold out of range", { name: "prod", hosts: [{ name: "web", instanceId: "i-0123456789abcdef0", cpu: { warn: 120 } }] }, /^hosts\[0\]\.cpu\.warn: must be <= 100$/],
    ["warn above crit", { name: "prod", hosts: [{ name: "web", instanceId: "i-0123456789abcdef0", cpu: { warn: 95, crit: 90 } }] }, /^hosts\[0\]\.cpu\.warn: warn must be <= crit$/],
    ["unknown severity", { name: "prod", endpoints: { checks: [{ name: "api", url: "https://x.example.com/health", severity: "P5" }] } }, /^endpoints\.checks\[0\]\.severity: must be one of P0, P1, P2, P3$/],
    ["unknown severity of a channel", { name: "prod", alerting: { P4: { email: ["a@example.com"] } } }, /^alerting: unknown key P4$/],
    ["bad email", { name: "prod", alerting: { P0: { email: ["oncall"] } } }, /^alerting\.P0\.email\[0\]: must be an email address$/],
    ["both credentials", { name: "prod", databases: [db({ iamAuth: { host: "h", user: "u", database: "d", resourceId: "db-ABC" } })] }, /^databases\[0\]\.secretArn: needs exactly one of secretArn or iamAuth$/],
    ["no credentials", { name: "prod", databases: [{ id: "app" }] }, /^databases\[0\]\.secretArn: needs exactly one of secretArn or iamAuth$/],
    ["duplicate database", { name: "prod", databases: [db(), db()] }, /^databases\[1\]\.id: duplicate database id "app"$/],
    ["log retention CloudWatch does not offer", { name: "prod", logRetentionDays: 45 }, /^logRetentionDays: must be one of 1, 3, 5, 7, 14, 30/],
    ["purge without days", { name: "prod", databases: [db({ purge: { rules: [{ table: "audit_logs" }] } })] }, /^databases\[0\]\.purge\.rules\[0\]\.olderThanDays: /],
    ["restore check with minRows above maxRows", { name: "prod", databases: [db({ restoreDrill: { checks: [{ sql: "SELECT 1", minRows: 5, maxRows: 1 }] } })] }, /^databases\[0\]\.restoreDrill\.checks\[0\]\.minRows: minRows must be <= maxRows$/],
    ["restore check with a negative maxRows", { name: "prod", databases: [db({ restoreDrill: { checks: [{ sql: "SELECT 1", maxRows: -1 }] } })] }, /^databases\[0\]\.restoreDrill\.checks\[0\]\.maxRows: must be >= 0$/],
    [
      "two restore checks of one name",
      { name: "prod", databases: [db({ restoreDrill: { checks: [{ name: "leads", sql: "SELECT 1" }, { name: "leads", sql: "SELECT 2" }] } })] },
      /^databases\[0\]\.restoreDrill\.checks\[1\]\.name: duplicate check "leads"$/,
    ],
    ["shrink percent of 0", { name: "prod", databases: [db({ verify: { maxShrinkPercent: 0 } })] }, /^databases\[0\]\.verify\.maxShrinkPercent: must be > 0$/],
    ["shrink percent over 100", { name: "prod", databases: [db({ verify: { maxShrinkPercent: 150 } })] }, /^databases\[0\]\.verify\.maxShrinkPercent: must be <= 100$/],
    [
      "purge where with a second statement",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "jobs", olderThanDays: 180, where: "status = 'completed'; DROP TABLE jobs" }] } })] },
      /^databases\[0\]\.purge\.rules\[0\]\.where: must be a single SQL expression \(no ;\)$/,
    ],
    [
      "purge where with a comment",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "jobs", olderThanDays: 180 }, { table: "jobs", olderThanDays: 180, where: "status = 'completed' /* and */" }] } })] },
      /^databases\[0\]\.purge\.rules\[1\]\.where: must not contain a comment \(\/\*\)$/,
    ],
    [
      "purge where with an unbalanced parenthesis",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "jobs", olderThanDays: 180, where: "status = 'completed') OR (true" }] } })] },
      /^databases\[0\]\.purge\.rules\[0\]\.where: has a \) without its \($/,
    ],
    [
      "purge where with an open quote",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "jobs", olderThanDays: 180, where: "status = 'completed" }] } })] },
      /^databases\[0\]\.purge\.rules\[0\]\.where: has an unterminated string literal \('\)$/,
    ],
    ["vacuum budget beyond Lambda", { name: "prod", databases: [db({ vacuum: { timeBudgetMinutes: 30 } })] }, /^databases\[0\]\.vacuum\.timeBudgetMinutes: must be <= 11\.5 \(a run may take 30 s past its budget; its duration alarm pages at 720 s of Lambda's 900\)/],
    ["http endpoint URL", { name: "prod", endpoints: { checks: [{ name: "api", url: "ftp://x.example.com" }] } }, /^endpoints\.checks\[0\]\.url: must be an http\(s\) URL$/],
    ["certificate days on plain http", { name: "prod", endpoints: { checks: [{ name: "api", url: "http://x.example.com", minCertificateDays: 14 }] } }, /^endpoints\.checks\[0\]\.minCertificateDays: needs an https URL$/],
    [
      "relative log path without appRoot",
      { name: "prod", logs: { hostGroups: [{ name: "web", target: { tagKey: "Role", tagValue: "web" }, logSets: [{ name: "app", paths: ["logs/*.log"], frequency: "daily", keep: 7, copytruncate: true }] }] } },
      /^logs\.hostGroups\[0\]\.logSets\[0\]\.paths\[0\]: must be absolute or under appRoot/,
    ],
    [
      "keep 0 with no max age",
      { name: "prod", logs: { hostGroups: [{ name: "web", target: { tagKey: "Role", tagValue: "web" }, logSets: [{ name: "app", paths: ["/app/logs/*.log"], frequency: "daily", keep: 0, copytruncate: true }] }] } },
      /^logs\.hostGroups\[0\]\.logSets\[0\]\.keep: must be >= 1/,
    ],
    [
      "unknown log frequency",
      { name: "prod", logs: { hostGroups: [{ name: "web", target: { tagKey: "Role", tagValue: "web" }, logSets: [{ name: "app", paths: ["/app/logs/*.log"], frequency: "hourly", keep: 7, copytruncate: true }] }] } },
      /^logs\.hostGroups\[0\]\.logSets\[0\]\.frequency: must be one of daily, weekly, monthly, yearly$/,
    ],
  ];

  it.each(cases)("%s", (_label, raw, expected) => {
    const message = refusal(raw);
    expect(message).toMatch(expected);
    expect(message).not.toContain("\n");
  });

  it("a key of the project namespace the regime does not know is refused, other namespaces are left alone", () => {
    expect(() => regimeFromConfig({ [`${NS}:name`]: "prod", [`${NS}:databse`]: "[]", "aws:region": "us-east-1" }, NS)).toThrow(
      /^maintenance-regime:databse: unknown config key; did you mean maintenance-regime:databases\? known keys: name, timezone/,
    );
  });
});

const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-AbCdEf";
const iamAuth = (over: Record<string, unknown> = {}) => ({ host: "app.abc.us-east-1.rds.amazonaws.com", user: "maintenance", database: "app", resourceId: "db-ABCDEFGHIJKLMNOPQRSTUVWXY", ...over });
const redisWith = (passwordSecretArn: string) => ({ name: "prod", redis: [{ id: "broker", url: "redis://r.internal:6379", passwordSecretArn }] });
const host = (name: string, instanceId = "i-0123456789abcdef0") => ({ name, instanceId });
const app = (over: Record<string, unknown> = {}) => ({ name: "web", loadBalancer: "app/web-alb/0123456789abcdef", ...over });

describe("a config value that reaches an IAM policy names exactly one resource of the right kind", () => {
  const cases: [string, unknown, string][] = [
    [
      "a secret ARN with a wildcard name",
      { name: "prod", databases: [db({ secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:*" })] },
      'databases[0].secretArn: must name one Secrets Manager secret: "*" and "?" are IAM wildcards and would grant every match',
    ],
    [
      "a secret ARN with ? in place of the suffix",
      { name: "prod", databases: [db({ secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-??????" })] },
      'databases[0].secretArn: must name one Secrets Manager secret: "*" and "?" are IAM wildcards and would grant every match',
    ],
    [
      "an S3 bucket as a secret",
      { name: "prod", databases: [db({ secretArn: "arn:aws:s3:::some-bucket/backup" })] },
      "databases[0].secretArn: must be the full ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf), not an ARN of s3",
    ],
    [
      "a secret ARN without its suffix",
      { name: "prod", databases: [db({ secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres" })] },
      "databases[0].secretArn: must be the full ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf), with the 6-character suffix",
    ],
    [
      "a secret ARN with a short account id",
      { name: "prod", databases: [db({ secretArn: "arn:aws:secretsmanager:us-east-1:12345678901:secret:prod/app/postgres-AbCdEf" })] },
      'databases[0].secretArn: must be the full ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf): "12345678901" is not a 12-digit account id',
    ],
    [
      "a secret ARN with no region",
      { name: "prod", databases: [db({ secretArn: "arn:aws:secretsmanager::123456789012:secret:prod/app/postgres-AbCdEf" })] },
      'databases[0].secretArn: must be the full ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf): "" is not a region',
    ],
    [
      "a Redis password secret with a wildcard",
      redisWith("arn:aws:secretsmanager:us-east-1:123456789012:secret:redis-*"),
      'redis[0].passwordSecretArn: must name one Secrets Manager secret: "*" and "?" are IAM wildcards and would grant every match',
    ],
    [
      "a Redis password in SSM instead of Secrets Manager",
      redisWith("arn:aws:ssm:us-east-1:123456789012:parameter/redis-AbCdEf"),
      "redis[0].passwordSecretArn: must be the full ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf), not an ARN of ssm",
    ],
    [
      "iamAuth.user *",
      { name: "prod", databases: [{ id: "app", iamAuth: iamAuth({ user: "*" }) }] },
      'databases[0].iamAuth.user: must be a PostgreSQL role name (letters, digits, _ $ . -, starting with a letter or _); "*" and "?" are IAM wildcards',
    ],
    [
      "iamAuth.user with ?",
      { name: "prod", databases: [{ id: "app", iamAuth: iamAuth({ user: "admin?" }) }] },
      'databases[0].iamAuth.user: must be a PostgreSQL role name (letters, digits, _ $ . -, starting with a letter or _); "*" and "?" are IAM wildcards',
    ],
    [
      "iamAuth.user with a path",
      { name: "prod", databases: [{ id: "app", iamAuth: iamAuth({ user: "x/../admin" }) }] },
      'databases[0].iamAuth.user: must be a PostgreSQL role name (letters, digits, _ $ . -, starting with a letter or _); "*" and "?" are IAM wildcards',
    ],
    ["iamAuth.user over 63 bytes", { name: "prod", databases: [{ id: "app", iamAuth: iamAuth({ user: "u".repeat(64) }) }] }, "databases[0].iamAuth.user: must be at most 63 bytes"],
    ["iamAuth.resourceId with a wildcard", { name: "prod", databases: [{ id: "app", iamAuth: iamAuth({ resourceId: "db-*" }) }] }, "databases[0].iamAuth.resourceId: must be the DbiResourceId (db-...)"],
    ["an instance id of 12 hex digits", { name: "prod", hosts: [host("web", "i-0123456789ab")] }, "hosts[0].instanceId: must be an EC2 instance id (i- and 8 or 17 hex digits)"],
  ];

  it.each(cases)("%s", (_label, raw, expected) => {
    expect(refusal(raw)).toBe(expected);
  });

  it("the exact forms pass: secrets of the program's partition in any region, role names PostgreSQL allows", () => {
    for (const arn of [SECRET, "arn:aws:secretsmanager:eu-central-1:123456789012:secret:a_b+c=d.e@f-123456"]) {
      expect(validateRegime({ name: "prod", databases: [db({ secretArn: arn })] }).databases[0].secretArn).toBe(arn);
    }
    for (const user of ["maintenance", "app_user", "Reporting$1", "ops.svc", "é_user"]) {
      expect(validateRegime({ name: "prod", databases: [{ id: "app", iamAuth: iamAuth({ user }) }] }).databases[0].iamAuth!.user).toBe(user);
    }
  });
});

describe("mistakes that would pass silently are refused, naming the key", () => {
  const cases: [string, unknown, string][] = [
    ["name: ~ (null)", { name: null }, "name: is null (empty); give it a value or remove the key"],
    ["an optional section set to null", { name: "prod", databases: [db({ restoreDrill: null })] }, "databases[0].restoreDrill: is null (empty); give it a value or remove the key"],
    ["a null list item", { name: "prod", hosts: [null] }, "hosts[0]: is null (empty); give it a value or remove the key"],
    ["a null schedule", { name: "prod", databases: [db({ backup: { schedule: null } })] }, "databases[0].backup.schedule: is null (empty); give it a value or remove the key"],
    ["two hosts of one name", { name: "prod", hosts: [host("web"), host("web", "i-0123456789abcdef1")] }, 'hosts[1].name: duplicate host "web"'],
    ["two applications of one name", { name: "prod", applications: [app(), app({ loadBalancer: "app/other/0123456789abcdef" })] }, 'applications[1].name: duplicate application "web"'],
    [
      "two reminders of one name",
      { name: "prod", reminders: [{ name: "audit", schedule: "monthly on day 1 at 09:00", checklist: ["a"] }, { name: "audit", schedule: "monthly on day 2 at 09:00", checklist: ["b"] }] },
      'reminders[1].name: duplicate reminder "audit"',
    ],
    [
      "two host groups of one name",
      { name: "prod", logs: { hostGroups: [{ name: "web", target: { tagKey: "Role", tagValue: "web" } }, { name: "web", target: { tagKey: "Role", tagValue: "api" } }] } },
      'logs.hostGroups[1].name: duplicate host group "web"',
    ],
    ["two redis of one id", { name: "prod", redis: [{ id: "cache", url: "redis://a:6379" }, { id: "cache", url: "redis://b:6379" }] }, 'redis[1].id: duplicate redis id "cache"'],
    [
      "a HEAD check with a body condition, down on every run",
      { name: "prod", endpoints: { checks: [{ name: "api", url: "https://a.example.com/health", method: "HEAD", bodyContains: "ok" }] } },
      "endpoints.checks[0].bodyContains: a HEAD response has no body: use method GET, or drop the body condition",
    ],
    [
      "a slow threshold past the timeout, whose alarm could never fire",
      { name: "prod", endpoints: { checks: [{ name: "api", url: "https://a.example.com/health", timeoutMs: 10000, maxResponseMs: 20000 }] } },
      "endpoints.checks[0].maxResponseMs: must be < timeoutMs (10000): an answer slower than the timeout counts as down, so the slow alarm could never fire",
    ],
    [
      "an unquoted table name with capitals, which PostgreSQL folds",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "Orders", olderThanDays: 90 }] } })] },
      'databases[0].purge.rules[0].table: Orders is read by PostgreSQL as orders: write orders, or "Orders" for a name created in quotes with capitals',
    ],
    [
      "one key accepted twice",
      { name: "prod", acceptedRisks: [{ key: "databases[app].backup.schedule", reason: "a" }, { key: "databases[app].backup.schedule", reason: "b" }] },
      'acceptedRisks[1].key: duplicate accepted risk "databases[app].backup.schedule"',
    ],
    [
      "two endpoints of one name",
      { name: "prod", endpoints: { checks: [{ name: "api", url: "https://a.example.com/health" }, { name: "api", url: "https://b.example.com/health" }] } },
      'endpoints.checks[1].name: duplicate endpoint "api"',
    ],
    [
      "an endpoint's header secret given as a wildcard",
      { name: "prod", endpoints: { checks: [{ name: "api", url: "https://a.example.com/health", headersSecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:*" }] } },
      'endpoints.checks[0].headersSecretArn: must name one Secrets Manager secret: "*" and "?" are IAM wildcards and would grant every match',
    ],
    [
      "a log archive prefix inside another's, whose expiry would remove its archives",
      {
        name: "prod",
        logs: {
          hostGroups: [
            {
              name: "web",
              target: { tagKey: "Role", tagValue: "web" },
              logSets: [
                { name: "all", paths: ["/var/log/app/*.log"], frequency: "daily", copytruncate: true, keep: 7, archive: { prefix: "app/", expireDays: 30 } },
                { name: "audit", paths: ["/var/log/audit/*.log"], frequency: "daily", copytruncate: true, keep: 7, archive: { prefix: "app/audit/", expireDays: 365 } },
              ],
            },
          ],
        },
      },
      "logs.hostGroups[0].logSets[1].archive.prefix: app/audit/ starts with app/ of logs.hostGroups[0].logSets[0].archive: its expiry would also remove these objects; choose prefixes that do not start one another",
    ],
    [
      "two purge rules of one table, spelled differently",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "audit_logs", olderThanDays: 90 }, { table: "public.audit_logs", olderThanDays: 30 }] } })] },
      'databases[0].purge.rules[1].table: duplicate purge rule on table "public.audit_logs"',
    ],
    [
      "a purge rule's column zone given as an abbreviation, which ignores daylight saving",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "events", olderThanDays: 1, columnTimezone: "PST" }] } })] },
      "databases[0].purge.rules[0].columnTimezone: must be an IANA timezone such as America/New_York or UTC (EST/PST are not: they ignore daylight saving)",
    ],
    [
      "a purge rule's column zone in the wrong case",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "events", olderThanDays: 1, columnTimezone: "america/los_angeles" }] } })] },
      'databases[0].purge.rules[0].columnTimezone: "america/los_angeles": IANA timezone names are case-sensitive; write America/Los_Angeles',
    ],
    ["a table listed twice for VACUUM FULL", { name: "prod", databases: [db({ vacuum: { fullTables: ["events", "public.events"] } })] }, 'databases[0].vacuum.fullTables[1]: duplicate table "public.events"'],
    ["an email subscribed twice", { name: "prod", alerting: { P0: { email: ["ops@example.com", "OPS@example.com"] } } }, 'alerting.P0.email[1]: duplicate email address "OPS@example.com"'],
    [
      "a table name with SQL in it",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "audit_logs; DROP TABLE users; --", olderThanDays: 90 }] } })] },
      'databases[0].purge.rules[0].table: must be a PostgreSQL table or schema.table: letters, digits, _ and $ starting with a letter or _, or a "quoted name"; at most 63 bytes each (no ;)',
    ],
    [
      "a table name over 63 bytes",
      { name: "prod", databases: [db({ purge: { rules: [{ table: `t${"x".repeat(63)}`, olderThanDays: 90 }] } })] },
      `databases[0].purge.rules[0].table: must be a PostgreSQL table or schema.table: letters, digits, _ and $ starting with a letter or _, or a "quoted name"; at most 63 bytes each ("t${"x".repeat(19)}..." is longer)`,
    ],
    [
      "a three-part table name",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "db.public.audit_logs", olderThanDays: 90 }] } })] },
      'databases[0].purge.rules[0].table: must be a PostgreSQL table or schema.table: letters, digits, _ and $ starting with a letter or _, or a "quoted name"; at most 63 bytes each',
    ],
    [
      "a column name with a space",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "audit_logs", timestampColumn: "created at", olderThanDays: 90 }] } })] },
      'databases[0].purge.rules[0].timestampColumn: must be a PostgreSQL name: letters, digits, _ and $ starting with a letter or _, or a "quoted name"; at most 63 bytes each',
    ],
    [
      "an archive table with an unterminated quote",
      { name: "prod", databases: [db({ purge: { rules: [{ table: "audit_logs", archiveTable: '"audit archive', olderThanDays: 90 }] } })] },
      'databases[0].purge.rules[0].archiveTable: must be a PostgreSQL table or schema.table: letters, digits, _ and $ starting with a letter or _, or a "quoted name"; at most 63 bytes each (unterminated ")',
    ],
    [
      "an index name starting with a digit",
      { name: "prod", databases: [db({ reindex: { indexes: ["public.1_idx"] } })] },
      'databases[0].reindex.indexes[0]: must be a PostgreSQL table or schema.table: letters, digits, _ and $ starting with a letter or _, or a "quoted name"; at most 63 bytes each',
    ],
    ["an RDS identifier with two hyphens", { name: "prod", databases: [db({ rdsInstanceId: "app--db" })] }, "databases[0].rdsInstanceId: must be an RDS DB instance identifier: 1-63 letters, digits or hyphens, starting with a letter"],
    ["an RDS identifier ending in a hyphen", { name: "prod", databases: [db({ rdsInstanceId: "app-db-" })] }, "databases[0].rdsInstanceId: must be an RDS DB instance identifier: no trailing hyphen"],
    ["an RDS identifier starting with a digit", { name: "prod", databases: [db({ rdsInstanceId: "1app" })] }, "databases[0].rdsInstanceId: must be an RDS DB instance identifier: 1-63 letters, digits or hyphens, starting with a letter"],
    [
      "an ALB name of 33 characters",
      { name: "prod", applications: [app({ loadBalancer: `app/${"a".repeat(33)}/0123456789abcdef` })] },
      "applications[0].loadBalancer: must be the ALB ARN suffix app/<name>/<16 hex digits>, the name 1-32 letters, digits or hyphens",
    ],
    [
      "an ALB name with an underscore",
      { name: "prod", applications: [app({ loadBalancer: "app/web_alb/0123456789abcdef" })] },
      "applications[0].loadBalancer: must be the ALB ARN suffix app/<name>/<16 hex digits>, the name 1-32 letters, digits or hyphens",
    ],
    [
      "a target group name ending in a hyphen",
      { name: "prod", applications: [app({ targetGroup: "targetgroup/web-/0123456789abcdef" })] },
      "applications[0].targetGroup: must be the target group ARN suffix targetgroup/<name>/<16 hex digits>, the name 1-32 letters, digits or hyphens",
    ],
  ];

  it.each(cases)("%s", (_label, raw, expected) => {
    expect(refusal(raw)).toBe(expected);
  });

  it("PostgreSQL names reach the tasks as the literal names; quoted forms lose their quotes", () => {
    const d = validateRegime({
      name: "prod",
      databases: [
        db({
          vacuum: { fullTables: ['"Event Log"', "public.events"] },
          reindex: { indexes: ['analytics."Idx ""A"""'] },
          purge: {
            rules: [
              { table: 'public."Audit Log"', timestampColumn: '"Created At"', archiveTable: "archive.audit_log", olderThanDays: 90 },
              { table: "jobs", olderThanDays: 30, where: "status = 'completed'" },
              { table: "jobs", olderThanDays: 180, where: "status = 'failed'" },
            ],
          },
        }),
      ],
    }).databases[0];
    expect(d.vacuum!.fullTables).toEqual(["Event Log", "public.events"]);
    expect(d.reindex!.indexes).toEqual(['analytics.Idx "A"']);
    expect(d.purge!.rules.map((r) => [r.table, r.timestampColumn, r.archiveTable])).toEqual([
      ["public.Audit Log", "Created At", "archive.audit_log"],
      ["jobs", "created_at", undefined],
      ["jobs", "created_at", undefined],
    ]);
  });
});

describe("a misspelled or foreign namespace is refused with did you mean", () => {
  const refusedConfig = (config: Record<string, unknown>): string[] => {
    try {
      regimeFromConfig(config, NS);
    } catch (err) {
      return (err as Error).message.split("\n");
    }
    throw new Error("the config was accepted");
  };
  it.each([
    ["one letter short", "maintenance-regim:name", 'maintenance-regim:name: unknown namespace "maintenance-regim"; did you mean maintenance-regime:name?'],
    ["underscore", "maintenance_regime:databases", 'maintenance_regime:databases: unknown namespace "maintenance_regime"; did you mean maintenance-regime:databases?'],
    ["capitals", "Maintenance-Regime:hosts", 'Maintenance-Regime:hosts: unknown namespace "Maintenance-Regime"; did you mean maintenance-regime:hosts?'],
    ["transposed letters", "maintenacne-regime:reminders", 'maintenacne-regime:reminders: unknown namespace "maintenacne-regime"; did you mean maintenance-regime:reminders?'],
    ["another namespace with a regime key", "app:databases", 'app:databases: "databases" is a key of maintenance-regime, not of app; did you mean maintenance-regime:databases?'],
    ["the AWS namespace with a regime key", "aws:logs", 'aws:logs: "logs" is a key of maintenance-regime, not of aws; did you mean maintenance-regime:logs?'],
  ])("%s", (_label, key, expected) => {
    expect(refusedConfig({ [`${NS}:name`]: "prod", [key]: "[]", "aws:region": "us-east-1" })).toEqual([expected]);
  });

  it("provider keys stay the providers': aws:region, aws:endpoints, docker:host", () => {
    expect(regimeFromConfig({ [`${NS}:name`]: "prod", "aws:region": "us-east-1", "aws:endpoints": "[]", "docker:host": "unix:///var/run/docker.sock" }, NS).name).toBe("prod");
  });

  it('a name given as the text "null" or "~" in Pulumi\'s flat config is no value, not a regime named null', () => {
    expect(refusedConfig({ [`${NS}:name`]: "null" })).toEqual(["name: is null (empty); give it a value or remove the key"]);
    expect(refusedConfig({ [`${NS}:name`]: "~" })).toEqual(["name: is null (empty); give it a value or remove the key"]);
  });
});

describe("every problem of a config is reported in one run, one line each", () => {
  it("errors of different kinds in one regime: each line names its key path, each item's lines together in config order", () => {
    const lines = refusal({
      name: "prod",
      logRetentionDays: 45,
      databases: [
        db({ secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:*", backup: { schedule: "every blue moon", retention: { daily: 0 } } }),
        db({ purge: { rules: [{ table: "audit_logs; DROP TABLE users; --", olderThanDays: 90 }] } }),
      ],
      hosts: [host("web"), host("web", "i-0123456789abcdef1")],
      reminders: [{ name: "audit", schedule: "every fortnight", checklist: ["a"] }],
    }).split("\n");
    expect(lines).toEqual([
      "logRetentionDays: must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
      'databases[0].secretArn: must name one Secrets Manager secret: "*" and "?" are IAM wildcards and would grant every match',
      expect.stringMatching(/^databases\[0\]\.backup\.schedule: unknown schedule "every blue moon"/),
      "databases[0].backup.retention.daily: must be >= 1",
      'databases[1].id: duplicate database id "app"',
      'databases[1].purge.rules[0].table: must be a PostgreSQL table or schema.table: letters, digits, _ and $ starting with a letter or _, or a "quoted name"; at most 63 bytes each (no ;)',
      'hosts[1].name: duplicate host "web"',
      expect.stringMatching(/^reminders\[0\]\.schedule: unknown schedule "every fortnight"/),
    ]);
  });

  it("a cron schedule whose year field ends is refused: the job would stop after it while the next 12 months' promises hold; a start year with a step repeats", () => {
    expect(refusal({ name: "prod", databases: [db({ backup: { schedule: "cron(0 2 * * ? 2026-2027)" } })], reminders: [{ name: "pen", schedule: "cron(0 9 1 1 ? 2027,2028)", checklist: ["a"] }] }).split("\n")).toEqual([
      "databases[0].backup.schedule: cron(0 2 * * ? 2026-2027): the year field 2026-2027 ends, so the job stops running after it; a maintenance schedule must keep repeating: use * (or a start year with a step, 2027/2)",
      "reminders[0].schedule: cron(0 9 1 1 ? 2027,2028): the year field 2027,2028 ends, so the job stops running after it; a maintenance schedule must keep repeating: use * (or a start year with a step, 2027/2)",
    ]);
    expect(() => validateRegime({ name: "prod", databases: [db({ backup: { schedule: "cron(0 2 * * ? 2026/1)" } })] })).not.toThrow();
  });

  it("checks that run beside other problems skip the invalid parts instead of failing: a locked vault with a database whose backup or retention is missing, or a purge condition that is not text", () => {
    const lock = { objectLock: { mode: "GOVERNANCE", days: 10 } };
    expect(refusal({ name: "prod", backupVault: lock, databases: [db({ backup: null })], endpoints: { checks: [{ name: "api", url: "ftp://x" }] } }).split("\n")).toEqual([
      "databases[0].backup: is null (empty); give it a value or remove the key",
      "endpoints.checks[0].url: must be an http(s) URL",
    ]);
    expect(refusal({ name: "prod", backupVault: lock, databases: [db({ backup: { retention: null } })] })).toBe("databases[0].backup.retention: is null (empty); give it a value or remove the key");
    expect(refusal({ name: "prod", backupVault: lock, databases: [db({ backup: 5 })] })).toBe("databases[0].backup: must be a mapping (key: value), not the number 5");
    expect(refusal({ name: "prod", databases: [db({ purge: { rules: [{ table: "jobs", olderThanDays: 30, where: 5 }] } })] })).toMatch(/^databases\[0\]\.purge\.rules\[0\]\.where: /);
  });

  it("an unknown key hides nothing else of its object: the schedule and runner of the same database are still judged", () => {
    const lines = refusal({
      name: "prod",
      databases: [db({ backup: { schedule: "daily at 25:00", rpoHour: 30 }, restoreDrill: { rtoMinutes: 60 }, unknownKey: 1 })],
      reminders: [{ name: "audit", schedule: "every fortnight", checklist: ["a"], severtiy: "P3" }],
    }).split("\n");
    expect(lines).toEqual([
      "databases[0].backup.schedule: hour 25 out of range 0-23",
      "databases[0].backup: unknown key rpoHour (did you mean rpoHours?)",
      "databases[0]: unknown key unknownKey",
      expect.stringMatching(/^databases\[0\]\.network: the restore drill runs on Fargate \(rtoMinutes 60 /),
      expect.stringMatching(/^reminders\[0\]\.schedule: unknown schedule "every fortnight"/),
      "reminders[0]: unknown key severtiy (did you mean severity?)",
    ]);
  });

  it("a file backup with no time of day outside UTC is told the form that is accepted, not one refused next", () => {
    const logs = { hostGroups: [{ name: "web", target: { tagKey: "Role", tagValue: "web" }, fileBackups: [{ name: "etc", paths: ["/etc"], schedule: "every 8 days" }] }] };
    const line = refusal({ name: "prod", timezone: "America/New_York", logs });
    expect(line).toBe('logs.hostGroups[0].fileBackups[0].schedule: "every 8 days" has no time of day; file backups run from a cron expression: write e.g. "daily at 03:00" or "every hour at :15", in UTC ({ at: "daily at 03:00", timezone: UTC })');
  });

  it("namespace mistakes come first, then the regime's own problems", () => {
    let message = "";
    try {
      regimeFromConfig({ "maintenance-regim:timezone": "UTC", [`${NS}:name`]: "~", [`${NS}:hosts`]: JSON.stringify([host("web", "i-1")]) }, NS);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split("\n")).toEqual([
      'maintenance-regim:timezone: unknown namespace "maintenance-regim"; did you mean maintenance-regime:timezone?',
      "name: is null (empty); give it a value or remove the key",
      "hosts[0].instanceId: must be an EC2 instance id (i- and 8 or 17 hex digits)",
    ]);
  });
});

describe("secret config keys", () => {
  const logs = { hostGroups: [{ name: "web", sshHosts: [{ host: "203.0.113.10", user: "deploy" }], sshPrivateKeyConfig: "webDeployKey", docker: {} }] };
  it("a key named by sshPrivateKeyConfig may sit beside the regime's keys", () => {
    const r = regimeFromConfig({ [`${NS}:name`]: "prod", [`${NS}:logs`]: JSON.stringify(logs), [`${NS}:webDeployKey`]: "[secret]" }, NS);
    expect(r.logs.hostGroups[0].sshPrivateKeyConfig).toBe("webDeployKey");
  });
  it("any other extra key is still refused", () => {
    expect(() => regimeFromConfig({ [`${NS}:name`]: "prod", [`${NS}:logs`]: JSON.stringify(logs), [`${NS}:otherKey`]: "x" }, NS)).toThrow(/^maintenance-regime:otherKey: unknown config key/);
  });
});

describe("the program refuses a bad stack file before provisioning anything", () => {
  it("npm run plan prints every problem of the file, one line each, and exits 1", () => {
    const doc = YAML.parse(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
    doc.config[`${NS}:databases`][0].backup.retention.daily = 0;
    doc.config[`${NS}:databases`][0].secretArn = "arn:aws:s3:::some-bucket/*";
    doc.config[`${NS}:databases`][0].backup.schedule = "every blue moon";
    doc.config["maintenance-regim:dashboard"] = false;
    const dir = mkdtempSync(join(tmpdir(), "regime-config-"));
    const file = join(dir, "Pulumi.bad.yaml");
    writeFileSync(file, YAML.stringify(doc));
    const run = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "plan/cli.ts"), "--config", file], { encoding: "utf8", cwd: ROOT });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toEqual([
      'error: config error: maintenance-regim:dashboard: unknown namespace "maintenance-regim"; did you mean maintenance-regime:dashboard?',
      'error: config error: databases[0].secretArn: must name one Secrets Manager secret: "*" and "?" are IAM wildcards and would grant every match',
      expect.stringMatching(/^error: config error: databases\[0\]\.backup\.schedule: unknown schedule "every blue moon"/),
      "error: config error: databases[0].backup.retention.daily: must be >= 1",
    ]);
  });

  it("npm run plan prints one line naming the key and exits 1, without a stack trace", () => {
    const doc = YAML.parse(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
    doc.config[`${NS}:databases`][0].backup.retention.daily = 0;
    const dir = mkdtempSync(join(tmpdir(), "regime-config-"));
    const file = join(dir, "Pulumi.bad.yaml");
    writeFileSync(file, YAML.stringify(doc));
    const run = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "plan/cli.ts"), "--config", file], { encoding: "utf8", cwd: ROOT });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim()).toBe("error: config error: databases[0].backup.retention.daily: must be >= 1");
  });
});

describe("JSON Schema", () => {
  it("describes every top-level key with its defaults, for editors", () => {
    const schema = regimeJsonSchema() as { properties: Record<string, { default?: unknown }>; additionalProperties?: unknown };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["name", "timezone", "databases", "endpoints", "hosts", "logs", "reminders", "alerting"]));
    expect(schema.properties.timezone.default).toBe("UTC");
    expect(schema.additionalProperties).toBe(false);
  });
});

describe("endpoint header secrets and alarm severities", () => {
  const HEADERS_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bigshot/health-headers-AbCdEf";
  const endpoints = (check: Record<string, unknown>) => ({ name: "prod", endpoints: { checks: [{ name: "api", url: "https://x.example.com/health", ...check }] } });

  it("slow alarms page P3 and certificate alarms P2 unless the endpoint says otherwise; no header secret by default", () => {
    const [plain] = validateRegime(endpoints({ maxResponseMs: 500, minCertificateDays: 30 })).endpoints!.checks;
    expect(plain).toMatchObject({ severity: "P0", slowSeverity: "P3", certificateSeverity: "P2" });
    expect(plain.headersSecretArn).toBeUndefined();
    const [set] = validateRegime(endpoints({ maxResponseMs: 500, slowSeverity: "P2", minCertificateDays: 30, certificateSeverity: "P1", headersSecretArn: HEADERS_ARN })).endpoints!.checks;
    expect(set).toMatchObject({ slowSeverity: "P2", certificateSeverity: "P1", headersSecretArn: HEADERS_ARN });
  });

  it.each([
    ["unknown slow severity", { maxResponseMs: 500, slowSeverity: "warning" }, /^endpoints\.checks\[0\]\.slowSeverity: must be one of P0, P1, P2, P3$/],
    ["unknown certificate severity", { minCertificateDays: 30, certificateSeverity: "P9" }, /^endpoints\.checks\[0\]\.certificateSeverity: must be one of P0, P1, P2, P3$/],
    ["secret name instead of ARN", { headersSecretArn: "bigshot/health-headers" }, /^endpoints\.checks\[0\]\.headersSecretArn: must be the full ARN of a Secrets Manager secret/],
    ["partial ARN without the suffix", { headersSecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:bigshot/health-headers" }, /^endpoints\.checks\[0\]\.headersSecretArn: must be the full ARN .*6-character suffix/],
    ["ARN of another service", { headersSecretArn: "arn:aws:ssm:us-east-1:123456789012:parameter/health-AbCdEf" }, /^endpoints\.checks\[0\]\.headersSecretArn: must be the full ARN/],
    ["header values inline", { headers: { Authorization: "Bearer x" } }, /^endpoints\.checks\[0\]: unknown key headers$/],
  ])("%s is refused with the key path", (_label, check, expected) => {
    expect(refusal(endpoints(check))).toMatch(expected);
  });
});

describe("redis", () => {
  const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bigshot/redis-auth-AbCdEf";
  const redis = (over: Record<string, unknown> = {}) => ({ name: "prod", redis: [{ id: "broker", url: "redis://redis.internal:6379", ...over }] });

  it("defaults: every 15 minutes, memory 80/90 % of maxmemory, P1, no queues; queues page P2 unless set, and on a stream entry unacknowledged 60 min", () => {
    const [r] = validateRegime(redis()).redis;
    expect(r).toMatchObject({ schedule: { text: "every 15 minutes", expression: "rate(15 minutes)", intervalSeconds: 900 }, memoryWarnPercent: 80, memoryCritPercent: 90, severity: "P1", queues: [] });
    expect(r.evictedKeysWarn).toBeUndefined();
    expect(r.minHitRatePercent).toBeUndefined();
    const [q] = validateRegime(redis({ passwordSecretArn: SECRET, url: "rediss://r.example.com:6380/1", queues: [{ name: "celery", maxLength: 1000 }] })).redis;
    expect(q.queues).toEqual([{ name: "celery", maxLength: 1000, severity: "P2", maxPendingIdleMinutes: 60 }]);
    expect(validateRegime({ name: "prod" }).redis).toEqual([]);
  });

  it.each([
    ["password in the URL", { url: "redis://:hunter2@redis.internal:6379" }, /^redis\[0\]\.url: must not carry a password: put it in a Secrets Manager secret and name that in passwordSecretArn$/],
    ["user and password in the URL", { url: "rediss://default:hunter2@redis.internal:6380" }, /^redis\[0\]\.url: must not carry a password/],
    ["another scheme", { url: "http://redis.internal:6379" }, /^redis\[0\]\.url: must start with redis:\/\/ or rediss:\/\/ \(TLS\), not http:\/\/$/],
    ["not a URL", { url: "redis.internal:6379" }, /^redis\[0\]\.url: must start with redis:\/\/ or rediss:\/\//],
    ["a path that is no database number", { url: "redis://redis.internal:6379/cache" }, /^redis\[0\]\.url: path must be a database number/],
    ["warn above crit", { memoryWarnPercent: 95 }, /^redis\[0\]\.memoryWarnPercent: memoryWarnPercent must be <= memoryCritPercent$/],
    ["crit above 100", { memoryCritPercent: 120 }, /^redis\[0\]\.memoryCritPercent: must be <= 100$/],
    ["secret name instead of ARN", { passwordSecretArn: "bigshot/redis-auth" }, /^redis\[0\]\.passwordSecretArn: must be the full ARN of a Secrets Manager secret/],
    ["password inline", { password: "hunter2" }, /^redis\[0\]: unknown key password$/],
    ["queue without maxLength", { queues: [{ name: "celery" }] }, /^redis\[0\]\.queues\[0\]\.maxLength: /],
    ["negative maxLength", { queues: [{ name: "celery", maxLength: -1 }] }, /^redis\[0\]\.queues\[0\]\.maxLength: must be >= 0$/],
    ["duplicate queue", { queues: [{ name: "celery", maxLength: 1 }, { name: "celery", maxLength: 2 }] }, /^redis\[0\]\.queues\[1\]\.name: duplicate queue "celery"$/],
    ["unknown queue severity", { queues: [{ name: "celery", maxLength: 1, severity: "high" }] }, /^redis\[0\]\.queues\[0\]\.severity: must be one of P0, P1, P2, P3$/],
    ["fractional maxPendingIdleMinutes", { queues: [{ name: "events", maxLength: 1, maxPendingIdleMinutes: 0.5 }] }, /^redis\[0\]\.queues\[0\]\.maxPendingIdleMinutes: must be a whole number$/],
    ["negative maxPendingIdleMinutes", { queues: [{ name: "events", maxLength: 1, maxPendingIdleMinutes: -5 }] }, /^redis\[0\]\.queues\[0\]\.maxPendingIdleMinutes: must be >= 0$/],
    ["evictedKeysWarn 0", { evictedKeysWarn: 0 }, /^redis\[0\]\.evictedKeysWarn: must be >= 1$/],
    ["bad network", { network: { subnetIds: ["net-1"], securityGroupIds: ["sg-0abc"] } }, /^redis\[0\]\.network\.subnetIds\[0\]: must be a subnet id/],
    ["bad schedule", { schedule: "every 15 fortnights" }, /^redis\[0\]\.schedule: /],
  ])("%s is refused with the key path", (_label, over, expected) => {
    expect(refusal(redis(over))).toMatch(expected);
  });

  it("two Redis with one id are refused", () => {
    expect(refusal({ name: "prod", redis: [{ id: "cache", url: "redis://a:6379" }, { id: "cache", url: "redis://b:6379" }] })).toBe('redis[1].id: duplicate redis id "cache"');
  });
});

describe("endpoint uptime targets", () => {
  const endpoints = (check: Record<string, unknown>) => ({ name: "prod", endpoints: { checks: [{ name: "api", url: "https://x.example.com/health", ...check }] } });

  it("optional: unset by default with uptimeSeverity P2; 99.9 and 99.5 are taken as given", () => {
    const [plain] = validateRegime(endpoints({})).endpoints!.checks;
    expect(plain.uptimeTargetPercent).toBeUndefined();
    expect(plain.uptimeSeverity).toBe("P2");
    expect(validateRegime(endpoints({ uptimeTargetPercent: 99.9 })).endpoints!.checks[0]).toMatchObject({ uptimeTargetPercent: 99.9, uptimeSeverity: "P2" });
    expect(validateRegime(endpoints({ uptimeTargetPercent: 99.5, uptimeSeverity: "P1" })).endpoints!.checks[0]).toMatchObject({ uptimeTargetPercent: 99.5, uptimeSeverity: "P1" });
  });

  it.each([
    ["100 (no error budget)", { uptimeTargetPercent: 100 }, /^endpoints\.checks\[0\]\.uptimeTargetPercent: must be a percentage above 0 and below 100 \(e\.g\. 99\.9\): 100 leaves no error budget$/],
    ["above 100", { uptimeTargetPercent: 100.5 }, /^endpoints\.checks\[0\]\.uptimeTargetPercent: must be a percentage above 0 and below 100/],
    ["0", { uptimeTargetPercent: 0 }, /^endpoints\.checks\[0\]\.uptimeTargetPercent: must be a percentage above 0 and below 100 \(e\.g\. 99\.9\)$/],
    ["negative", { uptimeTargetPercent: -99.9 }, /^endpoints\.checks\[0\]\.uptimeTargetPercent: must be a percentage above 0 and below 100 \(e\.g\. 99\.9\)$/],
    ["a string with a percent sign", { uptimeTargetPercent: "99.9%" }, /^endpoints\.checks\[0\]\.uptimeTargetPercent: must be a number$/],
    ["unknown uptime severity", { uptimeTargetPercent: 99.9, uptimeSeverity: "critical" }, /^endpoints\.checks\[0\]\.uptimeSeverity: must be one of P0, P1, P2, P3$/],
  ])("%s is refused with the key path", (_label, check, expected) => {
    expect(refusal(endpoints(check))).toMatch(expected);
  });
});

describe("the database name of a secretArn database (databases[].database)", () => {
  it("is kept as written, and is in the JSON Schema beside secretArn", () => {
    expect(validateRegime({ name: "prod", databases: [db({ database: "Shop DB" })] }).databases[0].database).toBe("Shop DB");
    expect(validateRegime({ name: "prod", databases: [db()] }).databases[0].database).toBeUndefined();
    const item = (regimeJsonSchema() as { properties: { databases: { items: { properties: Record<string, { type?: string; description?: string }> } } } }).properties.databases.items.properties;
    expect(item.database.type).toBe("string");
    expect(item.database.description).toMatch(/^with secretArn: the database the tasks connect to/);
  });

  it.each([
    ["empty", db({ database: "" }), "databases[0].database: must not be empty"],
    ["over 63 bytes", db({ database: "d".repeat(64) }), "databases[0].database: must be a PostgreSQL database name (at most 63 bytes, no control characters)"],
    ["a control character", db({ database: "app\n" }), "databases[0].database: must be a PostgreSQL database name (at most 63 bytes, no control characters)"],
    ["with iamAuth", { id: "app", iamAuth: iamAuth(), database: "app" }, "databases[0].database: is for a secretArn database; with iamAuth the database is iamAuth.database"],
  ])("refuses a name %s in one line naming the key", (_, database, expected) => {
    expect(refusal({ name: "prod", databases: [database] })).toBe(expected);
  });
});
