/**
 * Each operations guide's example plans offline, and its key numbers are in what the program would
 * provision: the schedules EventBridge runs, the lifecycle S3 applies, the settings each task reads,
 * the thresholds CloudWatch watches.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RecordedResource } from "../plan/mocks";
import { runPlan } from "../plan/run";
import { unexplainedWildcards } from "./helpers/iam";

const FROM = new Date("2026-11-23T00:00:00Z");
type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Each example is planned once per file (the plan is deterministic); the tests of one example read the same plan. */
const plans = new Map<string, ReturnType<typeof planOf>>();
function provisioned(slug: string): ReturnType<typeof planOf> {
  let p = plans.get(slug);
  if (!p) plans.set(slug, (p = planOf(slug)));
  return p;
}

async function planOf(slug: string) {
  const { plan, resources } = await runPlan({ configFile: join(__dirname, "..", "examples", slug, `Pulumi.${slug}.yaml`), from: FROM });
  const of = (type: string) => resources.filter((r: RecordedResource) => r.type === type).map((r) => r.inputs as Inputs);
  const schedule = (name: string) => {
    const s = of("aws:scheduler/schedule:Schedule").find((x) => x.name === name);
    expect(s, `schedule ${name}`).toBeDefined();
    return [s!.scheduleExpression, s!.scheduleExpressionTimezone];
  };
  /** A task's settings: its Lambda function's environment, or its Fargate container's. */
  const env = (fn: string) => {
    const f = of("aws:lambda/function:Function").find((x) => x.name === fn);
    if (f) return f.environment.variables as Record<string, string>;
    const td = of("aws:ecs/taskDefinition:TaskDefinition").find((x) => x.family === fn);
    expect(td, `function or task definition ${fn}`).toBeDefined();
    const [container] = JSON.parse(td!.containerDefinitions) as { environment: { name: string; value: string }[] }[];
    return Object.fromEntries(container.environment.map((e) => [e.name, e.value])) as Record<string, string>;
  };
  const alarm = (name: string) => {
    const a = of("aws:cloudwatch/metricAlarm:MetricAlarm").find((x) => x.name === name);
    expect(a, `alarm ${name}`).toBeDefined();
    return a!;
  };
  const retention = () => {
    const rules = of("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").flatMap((l) => l.rules as Inputs[]);
    // Each database's tier rules (`daily/<db>/`), not the tier roots' catch-alls.
    return Object.fromEntries(rules.filter((r) => /^(daily|weekly|monthly)\/[^/]+\/$/.test(r.filter?.prefix ?? "")).map((r) => [r.filter.prefix, r.expiration.days]));
  };
  // Every example is a complete regime: alarms page, schedules retry and dead-letter.
  // Error-budget windows notify through the composite alarm named in their PartOf tag, never on their own.
  const composites = new Map(of("aws:cloudwatch/compositeAlarm:CompositeAlarm").map((c) => [c.alarmName as string, c]));
  for (const c of composites.values()) expect(c.alarmActions?.length, c.alarmName).toBe(1);
  for (const a of of("aws:cloudwatch/metricAlarm:MetricAlarm")) {
    if (a.tags?.PartOf) expect(composites.has(a.tags.PartOf), a.name).toBe(true);
    // An alert topic's unreachable alarm pages the other severities' topics, never its own (components/subscription-watch.ts).
    else if (/-alerts-P\d-unreachable-P\d$/.test(a.name)) expect((a.alarmActions as string[]).filter((t) => t.endsWith(`-${a.name.split("-unreachable-")[0].split("-").pop()}`)), a.name).toEqual([]);
    else expect(a.alarmActions?.length, a.name).toBe(1);
  }
  for (const s of of("aws:scheduler/schedule:Schedule")) expect(s.target.deadLetterConfig?.arn, s.name).toBeTruthy();
  // A chat channel reads only alarms tagged with its regime (components/alerting.ts chatReadOnlyStatements): every alarm carries it.
  const regimeName = resources.find((r) => r.type === "regime:index:MaintenanceRegime")!.name;
  for (const a of [...of("aws:cloudwatch/metricAlarm:MetricAlarm"), ...of("aws:cloudwatch/compositeAlarm:CompositeAlarm")]) expect(a.tags?.Regime, a.name ?? a.alarmName).toBe(regimeName);
  // An alarm that counts missing data as breaching watches from its job's watch start (the plan's
  // mocked creation date): none pages at the first `pulumi up` (components/alarms.ts watchGate).
  // A host's not-reporting alarm reads no job's metric: EC2 sends StatusCheckFailed from the
  // instance's launch, long before the deploy, so a running host is OK at once and an id that never
  // reported is the fault it pages on (components/host-alarms.ts hostSilentAlarm).
  const hostSilent = (a: Record<string, unknown>) => a.namespace === "AWS/EC2" && a.metricName === "StatusCheckFailed" && /-not-reporting-P\d$/.test(String(a.name));
  for (const a of of("aws:cloudwatch/metricAlarm:MetricAlarm").filter((x) => x.treatMissingData === "breaching" && !hostSilent(x))) {
    expect((a.metricQueries as { id: string; expression?: string }[] | undefined)?.find((q) => q.id === "watched")?.expression, a.name).toMatch(/^IF\(EPOCH\(\w+\) < 1767225600, 1, /);
  }
  // No config value widens a policy: no * or ? in any Resource or condition value but where AWS requires one.
  expect(unexplainedWildcards(resources)).toEqual([]);
  const composite = (name: string) => {
    const c = composites.get(name);
    expect(c, `composite alarm ${name}`).toBeDefined();
    return c!;
  };
  return { plan, schedule, env, alarm, composite, retention, of };
}

describe("examples plan offline with their guide's numbers", () => {
  it("iSwitch Roofs CRM: 02:00 backups over 10 MB verified on Sundays, 30-minute drill with integrity checks, 15th-of-month vacuum, CPU 70 %, 99.9 % uptime, config files backed up", async () => {
    const p = await provisioned("iswitch-roofs-crm");
    expect(p.schedule("iswitch-crm-db-crm-backup")).toEqual(["cron(0 2 * * ? *)", "UTC"]);
    expect(p.schedule("iswitch-crm-db-crm-verify-backup")).toEqual(["cron(0 6 ? * SUN *)", "UTC"]);
    expect(p.env("iswitch-crm-db-crm-verify-backup").MIN_SIZE_MB).toBe("10");
    expect(p.env("iswitch-crm-db-crm-restore-drill").RTO_MINUTES).toBe("30");
    expect(p.schedule("iswitch-crm-db-crm-vacuum")).toEqual(["cron(0 3 15 * ? *)", "UTC"]);
    expect(p.alarm("iswitch-crm-host-crm-1-cpu-P2").threshold).toBe(70);
    expect(p.alarm("iswitch-crm-endpoint-frontend-slow-P3").threshold).toBe(5000);
    expect(p.retention()).toEqual({ "daily/crm/": 30, "weekly/crm/": 90, "monthly/crm/": 365 });
    // validate_leads_integrity.py as restore checks that must find no row
    const checks = JSON.parse(p.env("iswitch-crm-db-crm-restore-drill").CHECKS) as { name: string; sql: string; maxRows?: number }[];
    expect(checks.filter((c) => c.maxRows === 0).map((c) => c.sql)).toEqual([
      "SELECT count(*) FROM leads WHERE temperature IS NULL",
      "SELECT count(*) FROM leads WHERE created_at > now()",
    ]);
    // "Uptime - Target: 99.9%": fast burn at 14.4x the budget (100 - 14.4 x 0.1 = 98.56 %), slow at 6x (99.4 %)
    expect(p.composite("iswitch-crm-endpoint-frontend-budget-fast-P2").alarmRule).toBe(
      'ALARM("iswitch-crm-endpoint-frontend-budget-fast-1h-P2") AND ALARM("iswitch-crm-endpoint-frontend-budget-fast-5m-P2")',
    );
    expect(p.alarm("iswitch-crm-endpoint-frontend-budget-fast-1h-P2").threshold).toBe(98.56);
    expect(p.alarm("iswitch-crm-endpoint-backend-budget-slow-6h-P3").threshold).toBe(99.4);
    // scripts/backup.sh: .env and config.toml at 02:00 UTC, a missed day pages
    const files = p.of("aws:ssm/association:Association").find((a) => String(a.associationName ?? "").includes("file-backup-config"));
    expect(files, "file backup association").toBeDefined();
    expect(files!.scheduleExpression).toBe("cron(0 2 * * ? *)");
    expect(files!.targets).toEqual([{ key: "tag:App", values: ["iswitch-crm"] }]);
  }, 120_000);

  it("FitnessCRM: 02:00 Eastern backups, Wednesday VACUUM ANALYZE, first-Sunday REINDEX, API 500 ms, 80 connections, Redis memory", async () => {
    const p = await provisioned("fitnesscrm");
    expect(p.schedule("fitnesscrm-db-fitnesscrm-backup")).toEqual(["cron(0 2 * * ? *)", "Etc/GMT+5"]);
    expect(p.schedule("fitnesscrm-db-fitnesscrm-vacuum")).toEqual(["cron(0 3 ? * WED *)", "America/New_York"]);
    expect(p.schedule("fitnesscrm-db-fitnesscrm-reindex")).toEqual(["cron(0 2 ? * 1#1 *)", "America/New_York"]);
    // "Planned Maintenance: First Sunday of each month, 2:00 AM - 4:00 AM EST": one at() mute rule per first Sunday, 2 h, not muting the database
    const windows = p.of("aws:cloudwatch/alarmMuteRule:AlarmMuteRule").sort((a, b) => a.name.localeCompare(b.name));
    expect(windows.map((w) => w.rule.schedule.expression).slice(0, 3)).toEqual(["at(2026-12-06T02:00)", "at(2027-01-03T02:00)", "at(2027-02-07T02:00)"]);
    expect(windows).toHaveLength(12);
    // 2:00 AM EST all year, as the backups read the same guide's "2:00 AM EST": 03:00-05:00 EDT in summer.
    for (const w of windows) expect(w.rule.schedule).toMatchObject({ timezone: "Etc/GMT+5", duration: "PT2H" });
    expect(windows[0].muteTargets.alarmNames).toContain("fitnesscrm-endpoint-api-down-P0");
    expect(windows[0].muteTargets.alarmNames.some((n: string) => n.startsWith("fitnesscrm-db-"))).toBe(false);
    expect(p.alarm("fitnesscrm-endpoint-api-slow-P3").threshold).toBe(500);
    // "Database Connections > 80": the db-health metric's warning alarm
    expect(p.alarm("fitnesscrm-db-fitnesscrm-connections-P2")).toMatchObject({ metricName: "ConnectionsPercent", threshold: 80 });
    expect(p.retention()).toEqual({ "daily/fitnesscrm/": 30, "weekly/fitnesscrm/": 90, "monthly/fitnesscrm/": 90 });
    // "Check Redis memory": 80 % of maxmemory pages P2; the password is read from its secret, never set in the environment
    expect(p.alarm("fitnesscrm-redis-cache-memory-P2").threshold).toBe(80);
    const redisEnv = p.env("fitnesscrm-redis-cache-redis-health");
    expect(Object.values(redisEnv).join(" ")).not.toMatch(/password=|:[^/@]+@/i);
    expect(JSON.stringify(redisEnv)).toContain("fitnesscrm/redis-password-GhIjKl");
    const next = p.plan.calendar.find((c) => c.schedule === "fitnesscrm-db-fitnesscrm-backup")!.next[0];
    expect(next).toBe("Mon 2026-11-23 02:00 -05:00");
  }, 120_000);

  it("Boardroom AI: hourly health check, a year of monthly restore points, 4-hour RTO, application files kept 30 days, Redis memory", async () => {
    const p = await provisioned("boardroom-ai");
    expect(p.schedule("boardroom-health-task")[0]).toMatch(/^(rate\(1 hour\)|cron\(0 \* \* \* \? \*\))$/);
    expect(p.env("boardroom-db-boardroom-restore-drill").RTO_MINUTES).toBe("240");
    expect(p.retention()).toMatchObject({ "daily/boardroom/": 30, "monthly/boardroom/": 365 });
    // "Application Backup" of .env.production, docker-compose.yml, logs/, uploads/, kept 30 days
    const lifecycle = p.of("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").flatMap((l) => l.rules as Inputs[]);
    expect(lifecycle.find((r) => r.filter?.prefix === "files/app/app-files/")?.expiration.days).toBe(30);
    expect(p.alarm("boardroom-redis-cache-memory-P2").threshold).toBe(80);
  }, 120_000);

  it("BigShot: jobs older than 90 days moved to jobs_archive, completed jobs deleted after 180, detailed health with its token secret, memory and disk alarms at 90 %, Celery queue", async () => {
    const p = await provisioned("bigshot");
    const rules = JSON.parse(p.env("bigshot-db-bigshot-purge").PURGE_RULES);
    expect(rules).toEqual([
      expect.objectContaining({ table: "jobs", timestampColumn: "created_at", olderThanDays: 90, archiveTable: "jobs_archive" }),
      expect.objectContaining({ table: "jobs", timestampColumn: "created_at", olderThanDays: 180, where: "status = 'completed'" }),
    ]);
    // the detailed health check's bearer token stays in its secret: only the ARN reaches the function
    const endpoints = JSON.parse(p.env("bigshot-health-task").ENDPOINTS) as { name: string; headersSecretArn?: string }[];
    expect(endpoints.find((e) => e.name === "api-detailed")?.headersSecretArn).toBe("arn:aws:secretsmanager:us-east-1:123456789012:secret:bigshot/health-headers-AbCdEf");
    expect(p.alarm("bigshot-endpoint-api-detailed-down-P1").alarmActions).toHaveLength(1);
    expect(p.alarm("bigshot-host-app-1-memory-P2").threshold).toBe(90);
    expect(p.alarm("bigshot-host-app-1-disk-P2").threshold).toBe(90);
    expect(p.schedule("bigshot-db-bigshot-backup")).toEqual(["cron(0 2 * * ? *)", "UTC"]);
    // Celery: more than 1000 waiting tasks in the celery list pages
    expect(p.alarm("bigshot-redis-redis-queue-celery-P2")).toMatchObject({ metricName: "QueueLength", threshold: 1000 });
  }, 120_000);

  it("Neff Paving: audit logs purged after 90 days and sessions after 30, API 500 ms as a P1 warning, backup size checked, error rate 1 % / 5 %, 99.5 % uptime, payment errors critical", async () => {
    const p = await provisioned("neff-paving");
    // "Monthly Tasks (2-3 hours)" and "Quarterly Tasks (4-6 hours)": recurring mute rules over the site, host and load balancer alarms
    const windows = Object.fromEntries(p.of("aws:cloudwatch/alarmMuteRule:AlarmMuteRule").map((w) => [w.name, w]));
    expect(Object.keys(windows).sort()).toEqual(["neff-paving-mw-major-updates", "neff-paving-mw-monthly-updates"]);
    expect(windows["neff-paving-mw-monthly-updates"].rule.schedule).toEqual({ expression: "cron(0 9 1 * *)", timezone: "America/New_York", duration: "PT3H" });
    expect(windows["neff-paving-mw-major-updates"].rule.schedule).toEqual({ expression: "cron(0 10 15 1,4,7,10 *)", timezone: "America/New_York", duration: "PT6H" });
    expect(windows["neff-paving-mw-monthly-updates"].muteTargets.alarmNames).toEqual(expect.arrayContaining(["neff-paving-endpoint-website-down-P0", "neff-paving-host-web-1-cpu-P1", "neff-paving-app-web-error-rate-P1"]));
    expect(windows["neff-paving-mw-monthly-updates"].muteTargets.alarmNames.some((n: string) => n.startsWith("neff-paving-db-"))).toBe(false);
    const rules = JSON.parse(p.env("neff-paving-db-neff-paving-admin-purge").PURGE_RULES) as { table: string; olderThanDays: number }[];
    expect(rules.map((r) => [r.table, r.olderThanDays])).toEqual([
      ["audit_logs", 90],
      ["session_logs", 30],
    ]);
    // "Slow response times" is a warning alert (within 1 hour): P1
    expect(p.alarm("neff-paving-endpoint-api-slow-P1").threshold).toBe(500);
    expect(p.alarm("neff-paving-endpoint-website-slow-P1").threshold).toBe(3000);
    // "Check backup size (should be consistent)"
    expect(p.env("neff-paving-db-neff-paving-admin-verify-backup").MAX_SHRINK_PERCENT).toBe("50");
    // "Target: 99.5% uptime": fast burn below 100 - 14.4 x 0.5 = 92.8 %, slow below 97 %
    expect(p.alarm("neff-paving-endpoint-api-budget-fast-1h-P2").threshold).toBe(92.8);
    expect(p.alarm("neff-paving-endpoint-website-budget-slow-6h-P3").threshold).toBe(97);
    // "Payment processing errors" are critical: the first matching line in 5 minutes pages P0
    expect(p.alarm("neff-paving-logs-web-app-payment-errors-P0")).toMatchObject({ threshold: 1, period: 300 });
    expect(p.alarm("neff-paving-app-web-error-rate-P2").threshold).toBe(1);
    expect(p.alarm("neff-paving-app-web-error-rate-P1").threshold).toBe(5);
    expect(p.schedule("neff-paving-db-neff-paving-admin-backup")).toEqual(["cron(0 2 * * ? *)", "Etc/GMT+5"]);
  }, 120_000);

  it.each([
    ["fitnesscrm", "app", "/fitnesscrm/backend", "service", "backend"],
    ["bigshot", "bigshot", "/bigshot/backend", "service", "backend"],
    ["boardroom-ai", "app", "/boardroom/app/output", "service", "app"],
    ["iswitch-roofs-crm", "crm", "/iswitch-crm/backend/output", "name", "iswitch-crm-backend"],
  ])("%s: the backend's container output ships to its log group through the awslogs driver, with an error alarm on it", async (slug, group, logGroup, kind, container) => {
    const p = await provisioned(slug);
    const logging = (p.plan.outputs.containerLogging as Record<string, string>)[group];
    expect(logging).toContain(`awslogs-group${kind === "service" ? ": " : "='"}${logGroup}`);
    expect(logging).toContain(kind === "service" ? `  ${container}:\n    logging:\n      driver: awslogs` : `# docker run --name ${container} --log-driver awslogs`);
    expect(p.of("aws:cloudwatch/logGroup:LogGroup").map((g) => g.name)).toContain(logGroup);
    expect(p.of("aws:cloudwatch/logMetricFilter:LogMetricFilter").some((f) => f.logGroupName === logGroup)).toBe(true);
    const writer = p.of("aws:iam/policy:Policy").find((x) => String(x.name).endsWith(`-${group}-container-log-writer`));
    expect(JSON.parse(writer!.policy).Statement[0].Resource).toContain(`arn:aws:logs:us-east-1:123456789012:log-group:${logGroup}:*`);
  }, 120_000);
});
