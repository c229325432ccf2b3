/**
 * The example regimes in examples/<slug>/, one per operations guide in shared/seeds: each stack file
 * passes the same validation as `pulumi up` (regimeFromConfig), carries the guide's own numbers, its
 * rendered logrotate configs pass the real logrotate, and its README says only what the file holds:
 * every config key the mapping table names is written in the stack file, and every reminder of
 * "What stays human" is a reminder of the config (and the other way round).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { regimeFromConfig } from "../regime/load";
import { checkWithLogrotate, renderDaemonJson, renderHostGroupConfigs } from "../regime/logrotate";
import { renderAgentLogsConfig } from "../regime/logs";
import { nextRuns } from "../regime/schedule";
import type { Regime } from "../regime/schema";

const NS = "maintenance-regime";
const EXAMPLES = join(__dirname, "..", "examples");
const SLUGS = ["iswitch-roofs-crm", "fitnesscrm", "boardroom-ai", "bigshot", "neff-paving"] as const;
type Slug = (typeof SLUGS)[number];

interface Example {
  config: Record<string, unknown>;
  regime: Regime;
  readme: string;
}

const cache = new Map<Slug, Example>();
function example(slug: Slug): Example {
  let e = cache.get(slug);
  if (!e) {
    const doc = YAML.parse(readFileSync(join(EXAMPLES, slug, `Pulumi.${slug}.yaml`), "utf8")) as { config: Record<string, unknown> };
    e = { config: doc.config, regime: regimeFromConfig(doc.config, NS), readme: readFileSync(join(EXAMPLES, slug, "README.md"), "utf8") };
    cache.set(slug, e);
  }
  return e;
}

/** The text of a `## title` section of a README, up to the next `## `. */
function section(readme: string, title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  const rest = readme.slice(start + title.length + 5);
  const end = rest.indexOf("\n## ");
  return end < 0 ? rest : rest.slice(0, end);
}

/** Body rows of the first Markdown table in a section, split into cells (`\|` stays inside a cell). */
function tableRows(text: string): string[][] {
  const rows = text.split("\n").filter((l) => l.startsWith("|"));
  return rows
    .slice(2)
    .map((l) => l.replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/).map((c) => c.trim()));
}

/** Reminder names in the "Reminder" column of "What stays human". */
function humanReminders(readme: string): string[] {
  return tableRows(section(readme, "What stays human")).map((cells) => {
    const m = /^`([a-z][a-z0-9-]*)`$/.exec(cells[1] ?? "");
    if (!m) throw new Error(`"What stays human" row without one reminder name: ${cells.join(" | ")}`);
    return m[1];
  });
}

/** Config key paths in the "Config key" column of "Guide → config". */
function mappedKeys(readme: string): string[] {
  return tableRows(section(readme, "Guide → config")).flatMap((cells) => [...(cells[1] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1]));
}

/**
 * The value a key path names in the stack file as written (no defaults): `databases[app].backup.schedule`,
 * where `[x]` is an index or the element whose name or id is x. Undefined when the file does not set it.
 */
function valueAt(config: Record<string, unknown>, path: string): unknown {
  const top = /^[A-Za-z]+/.exec(path)?.[0];
  if (!top) return undefined;
  let value: unknown = config[`${NS}:${top}`];
  for (const m of path.slice(top.length).matchAll(/\.([^.[\]]+)|\[([^\]]+)\]/g)) {
    if (value === null || typeof value !== "object") return undefined;
    if (m[1] !== undefined) value = (value as Record<string, unknown>)[m[1]];
    else if (/^\d+$/.test(m[2])) value = (value as unknown[])[Number(m[2])];
    else value = Array.isArray(value) ? value.find((v) => v?.name === m[2] || v?.id === m[2]) : undefined;
  }
  return value;
}

const db = (r: Regime, id: string) => r.databases.find((d) => d.id === id)!;
const endpoint = (r: Regime, name: string) => r.endpoints!.checks.find((c) => c.name === name)!;
const reminder = (r: Regime, name: string) => r.reminders.find((m) => m.name === name)!;
const group = (r: Regime, name: string) => r.logs.hostGroups.find((g) => g.name === name)!;
const logGroup = (r: Regime, g: string, id: string) => group(r, g).logGroups.find((l) => l.id === id)!;
const logrotate = (r: Regime, g: string) => renderHostGroupConfigs(group(r, g), { regime: r.name, archiveBucket: `${r.name}-log-archive` });

describe.each(SLUGS)("examples/%s", (slug) => {
  it("validates through regimeFromConfig like the stack file of a real stack", () => {
    const { config, regime } = example(slug);
    expect(config["aws:region"]).toBe("us-east-1");
    expect(regime.databases.length).toBeGreaterThan(0);
    expect(regime.reminders.length).toBeGreaterThan(0);
  });

  it("names in the README only config keys that the stack file sets", () => {
    const { config, readme } = example(slug);
    const keys = mappedKeys(readme);
    expect(keys.length).toBeGreaterThan(10);
    const missing = keys.filter((k) => valueAt(config, k) === undefined);
    expect(missing).toEqual([]);
  });

  it("has every human step of the README as a reminder of the config, and no reminder the README leaves out", () => {
    const { regime, readme } = example(slug);
    const named = humanReminders(readme);
    expect(named.length).toBeGreaterThan(0);
    expect([...named].sort()).toEqual(regime.reminders.map((m) => m.name).sort());
    for (const m of regime.reminders) expect(readme).toContain(m.schedule.description);
  });

  it("ships the guide's log files into the regime's own log groups, and the README maps them", () => {
    const { regime, readme } = example(slug);
    const shipped = regime.logs.hostGroups.flatMap((g) => {
      const config = renderAgentLogsConfig(g, "{instance_id}");
      if (!config) return [];
      expect(g.target, g.name).toBeDefined();
      return (JSON.parse(config).logs.logs_collected.files.collect_list as { file_path: string; log_group_name: string }[]).map((e) => ({ group: g, ...e }));
    });
    expect(shipped.length).toBeGreaterThan(0);
    for (const e of shipped) {
      expect(e.group.logGroups.map((l) => l.name), e.file_path).toContain(e.log_group_name);
      expect(e.file_path.startsWith("/"), e.file_path).toBe(true);
    }
    const filesKeys = mappedKeys(readme).filter((k) => k.endsWith(".files"));
    const withFiles = regime.logs.hostGroups.flatMap((g) => g.logGroups.filter((l) => l.files.length > 0).map((l) => `logs.hostGroups[${g.name}].logGroups[${l.id}].files`));
    expect([...new Set(filesKeys)].sort()).toEqual(withFiles.sort());
  });

  it("renders logrotate configs that the real logrotate accepts", () => {
    const { regime } = example(slug);
    const configs = regime.logs.hostGroups.flatMap((g) => Object.entries(logrotate(regime, g.name)));
    expect(configs.length).toBeGreaterThan(0);
    for (const [name, content] of configs) {
      const r = checkWithLogrotate(content);
      expect(r.errors, name).toEqual([]);
      expect(r.status, name).toBe(0);
    }
  });
});

describe("iSwitch Roofs CRM (seed 000)", () => {
  const { regime: r } = example("iswitch-roofs-crm");
  const crm = db(r, "crm");

  it("backs up daily at 02:00 UTC, verifies every Sunday above 10 MB, drills the restore within the 30-minute RTO and validates the leads", () => {
    expect(r.timezone).toBe("UTC");
    expect(crm.backup.schedule).toMatchObject({ expression: "cron(0 2 * * ? *)", timezone: "UTC" });
    // The guide's 24 h is the gap between daily backups: the next one must also be stored and seen (README).
    expect(crm.backup.rpoHours).toBe(25);
    expect(crm.verify.schedule.expression).toBe("cron(0 6 ? * SUN *)");
    expect(crm.verify.minSizeMb).toBe(10);
    expect(crm.restoreDrill!.schedule.expression).toBe("cron(0 4 ? * SUN *)");
    expect(crm.restoreDrill!.rtoMinutes).toBe(30);
    expect(crm.restoreDrill!.checks).toEqual([
      { name: "leads restored", sql: "SELECT count(*) FROM leads", minRows: 1 },
      { name: "no lead without temperature", sql: "SELECT count(*) FROM leads WHERE temperature IS NULL", maxRows: 0 },
      { name: "no lead created in the future", sql: "SELECT count(*) FROM leads WHERE created_at > now()", maxRows: 0 },
    ]);
  });

  it("vacuums and analyzes on the 15th and flags queries over 100 ms", () => {
    expect(crm.vacuum!.schedule.expression).toBe("cron(0 3 15 * ? *)");
    expect(crm.analyze!.schedule.expression).toBe("cron(30 3 15 * ? *)");
    expect(crm.health!.slowQueryMs).toBe(100);
  });

  it("pages when a service is down for 5 minutes or the page average passes 5 s", () => {
    expect(r.endpoints!.schedule.expression).toBe("rate(1 minute)");
    for (const name of ["frontend", "backend"]) expect(endpoint(r, name)).toMatchObject({ status: 200, failuresBeforeAlarm: 5, severity: "P0", minCertificateDays: 30 });
    expect(endpoint(r, "frontend").url).toMatch(/\/_stcore\/health$/);
    expect(endpoint(r, "frontend").maxResponseMs).toBe(5000);
  });

  it("alarms on CPU/memory over 90 % for 10 minutes and disk over 85 %, warning at the targets 70/80/70", () => {
    const h = r.hosts[0];
    expect(h.cpu).toEqual({ warn: 70, crit: 90, minutes: 10 });
    expect(h.memory).toEqual({ warn: 80, crit: 90, minutes: 10 });
    expect(h.disk).toMatchObject({ warn: 70, crit: 85 });
  });

  it("counts errors per day (< 10) and the error rate (1 % target, 5 % alert)", () => {
    for (const id of ["frontend", "backend"]) expect(logGroup(r, "crm", id).errors).toMatchObject({ threshold: 10, periodMinutes: 1440 });
    expect(logGroup(r, "crm", "backend").errorRate).toMatchObject({ warnPercent: 1, critPercent: 5, periodMinutes: 5 });
    expect(r.logRetentionDays).toBe(30);
  });

  it("rotates /app/logs weekly, compresses a week later, deletes after 30 days", () => {
    const conf = logrotate(r, "crm")["iswitch-crm"];
    expect(conf).toContain("/app/logs/*.log {");
    for (const line of ["weekly", "rotate 5", "maxage 30", "compress", "delaycompress", "copytruncate"]) expect(conf).toMatch(new RegExp(`^    ${line}$`, "m"));
    expect(JSON.parse(renderDaemonJson(group(r, "crm").docker!))["log-opts"]).toEqual({ "max-size": "50m", "max-file": "5" });
  });

  it("reminds of the last-Friday security audit and the 90-day key rotation", () => {
    expect(reminder(r, "security-audit").schedule.expression).toBe("cron(0 10 ? * 6L *)");
    expect(reminder(r, "dependency-updates").schedule.expression).toBe("cron(0 9 ? * 2#1 *)");
    expect(reminder(r, "key-rotation").schedule.expression).toBe("cron(0 9 1 1,4,7,10 ? *)");
  });
});

describe("FitnessCRM (seed 001)", () => {
  const { regime: r } = example("fitnesscrm");
  const d = db(r, "fitnesscrm");

  it("backs up at 2:00 AM EST all year (03:00 EDT in summer), keeps 30 days / 90 days, RPO 24 h, RTO 1 h", () => {
    expect(r.timezone).toBe("America/New_York");
    const backup = d.backup.schedule;
    expect(backup).toMatchObject({ expression: "cron(0 2 * * ? *)", timezone: "Etc/GMT+5" });
    expect(nextRuns(backup, new Date("2027-01-10T00:00:00Z"), 1)[0].toISOString()).toBe("2027-01-10T07:00:00.000Z");
    expect(nextRuns(backup, new Date("2027-07-10T00:00:00Z"), 1)[0].toISOString()).toBe("2027-07-10T07:00:00.000Z");
    // Every backup 24 h after the last, the spring-forward Sunday included.
    expect(nextRuns(backup, new Date("2027-03-13T00:00:00Z"), 3).map((x) => x.toISOString())).toEqual(["2027-03-13T07:00:00.000Z", "2027-03-14T07:00:00.000Z", "2027-03-15T07:00:00.000Z"]);
    expect(d.backup.retention).toEqual({ daily: 30, weekly: 90, monthly: 90 });
    expect(d.backup.rpoHours).toBe(25);
    expect(d.restoreDrill!.rtoMinutes).toBe(60);
    expect(d.restoreDrill!.checks).toEqual([{ sql: "SELECT count(*) FROM clients", minRows: 1 }]);
  });

  it("vacuums and analyzes on Wednesdays, reindexes and drills in the first-Sunday window", () => {
    expect(d.vacuum!.schedule.expression).toBe("cron(0 3 ? * WED *)");
    expect(d.analyze!.schedule.expression).toBe("cron(30 3 ? * WED *)");
    expect(d.reindex!.schedule.expression).toBe("cron(0 2 ? * 1#1 *)");
    expect(d.restoreDrill!.schedule.expression).toBe("cron(0 3 ? * 1#1 *)");
  });

  it("alarms at CPU 80 %, memory 85 %, disk 85 %, API 500 ms, error rate 1 %, 80 connections", () => {
    const h = r.hosts[0];
    expect([h.cpu.warn, h.memory.warn, h.disk.warn]).toEqual([80, 85, 85]);
    expect(endpoint(r, "api").maxResponseMs).toBe(500);
    expect(logGroup(r, "app", "nginx").errorRate?.warnPercent).toBe(1);
    expect(d.health).toMatchObject({ connectionsWarnPercent: 80, connectionsCritPercent: 95 });
    expect(logGroup(r, "app", "backend").failedLogins?.pattern).toBe('{ $.action = "login_failure" }');
  });

  it("routes P0 to on-call and the DBA, P1 to on-call and security", () => {
    expect(r.alerting.P0.email).toEqual(["oncall@fitnesscrm.example.com", "dba@fitnesscrm.example.com"]);
    expect(r.alerting.P1.email).toContain("security@fitnesscrm.example.com");
  });

  it("tells users at least 48 hours before every first-Sunday 02:00 window, for three years", () => {
    const window = reminder(r, "maintenance-window").schedule;
    expect(window.expression).toBe("cron(0 2 ? * 1#1 *)");
    const notices = nextRuns(reminder(r, "maintenance-notice").schedule, new Date("2027-01-01T00:00:00Z"), 36);
    expect(notices).toHaveLength(36);
    for (const n of notices) {
      const next = nextRuns(window, n, 1)[0];
      const hours = (next.getTime() - n.getTime()) / 3_600_000;
      expect(hours, `notice ${n.toISOString()}`).toBeGreaterThanOrEqual(48);
      expect(hours, `notice ${n.toISOString()}`).toBeLessThanOrEqual(11 * 24);
    }
  });

  it("hands the on-call over on Fridays at 5:00 PM Eastern and rotates Nginx logs daily", () => {
    expect(reminder(r, "on-call-handoff").schedule).toMatchObject({ expression: "cron(0 17 ? * FRI *)", timezone: "America/New_York" });
    const conf = logrotate(r, "app").nginx;
    for (const line of ["daily", "rotate 30", "postrotate"]) expect(conf).toMatch(new RegExp(`^    ${line}$`, "m"));
    expect(conf).toMatch(/^        nginx -s reopen$/m);
  });
});

describe("Boardroom AI (seed 002)", () => {
  const { regime: r } = example("boardroom-ai");
  const d = db(r, "boardroom");

  it("backs up daily at 2 AM, keeps 30 days and the archive a year, RPO 24 h, RTO 4 h", () => {
    expect(d.backup.schedule.expression).toBe("cron(0 2 * * ? *)");
    expect(d.backup.retention).toEqual({ daily: 30, weekly: 30, monthly: 365 });
    expect(r.backupVault.archiveAfterDays).toBe(30);
    expect(d.backup.compression).toBe("gzip");
    expect(d.backup.rpoHours).toBe(25);
    expect(d.restoreDrill!.rtoMinutes).toBe(240);
    expect(d.verify.schedule.expression).toBe("cron(0 6 ? * MON *)");
  });

  it("checks /health hourly for status healthy within 5 s and alarms at the first failure", () => {
    expect(r.endpoints!.schedule.expression).toBe("cron(0 * * * ? *)");
    expect(endpoint(r, "app")).toMatchObject({
      url: "https://boardroom.ai/health",
      timeoutMs: 5000,
      jsonField: { path: "status", equals: "healthy" },
      failuresBeforeAlarm: 1,
      severity: "P0",
    });
  });

  it("pages DatabaseDown within a minute and HighErrorRate at 0.1 5xx/s over 5 minutes", () => {
    expect(d.health!.schedule.expression).toBe("rate(1 minute)");
    expect(d.health!.severity).toBe("P0");
    expect(logGroup(r, "app", "nginx").http5xx).toMatchObject({ threshold: 30, periodMinutes: 5, severity: "P1" });
  });

  it("analyzes weekly and reindexes idx_users_email", () => {
    expect(d.analyze!.schedule.expression).toBe("cron(0 3 ? * SUN *)");
    expect(d.reindex!.indexes).toEqual(["public.idx_users_email"]);
    expect(d.reindex!.schedule.intervalSeconds).toBe(7 * 86400);
  });

  it("rotates logs/*.jsonl daily under /home/app, deletes after 30 days, archives for a year", () => {
    const set = group(r, "app").logSets[0];
    expect(set).toMatchObject({ frequency: "daily", maxAgeDays: 30, archive: { expireDays: 365 } });
    const conf = logrotate(r, "app")["boardroom-jsonl"];
    expect(conf).toContain("/home/app/logs/*.jsonl {");
    expect(conf).toMatch(/^    rotate 30$/m);
    expect(conf).toContain("for f in /home/app/logs/*.jsonl-[0-9]*.gz; do");
    expect(conf).toContain("aws s3api put-object");
  });
});

describe("BigShot (seed 003)", () => {
  const { regime: r } = example("bigshot");
  const d = db(r, "bigshot");

  it("keeps the Friday backup as weekly, deletes the others after 30 days, archives old ones", () => {
    expect(d.majorVersion).toBe(15);
    expect(d.backup.weeklyOn).toBe("Friday");
    expect(d.backup.retention).toEqual({ daily: 30, weekly: 365, monthly: 365 });
    expect(r.backupVault.archiveAfterDays).toBe(30);
  });

  it("moves jobs older than 3 months to jobs_archive at month end and deletes completed jobs older than 6 months", () => {
    expect(d.purge!.rules).toEqual([
      { table: "jobs", timestampColumn: "created_at", olderThanDays: 90, archiveTable: "jobs_archive", batchSize: 5000 },
      // "DELETE FROM jobs WHERE created_at < NOW() - INTERVAL '6 months' AND status = 'completed'"
      { table: "jobs", timestampColumn: "created_at", olderThanDays: 180, where: "status = 'completed'", batchSize: 5000 },
    ]);
    expect(d.purge!.schedule.expression).toBe("cron(0 3 L * ? *)");
  });

  it("analyzes and vacuums weekly, reindexes at month start, tests the restore monthly", () => {
    expect(d.analyze!.schedule.expression).toBe("cron(0 3 ? * SUN *)");
    expect(d.vacuum!.schedule.expression).toBe("cron(30 3 ? * SUN *)");
    expect(d.reindex!.schedule.expression).toBe("cron(0 4 1 * ? *)");
    expect(d.restoreDrill!.schedule.expression).toBe("cron(0 5 1 * ? *)");
    expect(d.restoreDrill!.checks.map((c) => c.sql)).toEqual(["SELECT count(*) FROM domains", "SELECT count(*) FROM users"]);
    expect(d.health!.slowQueryMs).toBe(100);
  });

  it("alarms at CPU > 80 %, memory > 90 %, disk free < 10 %", () => {
    const h = r.hosts[0];
    expect([h.cpu.warn, h.memory.warn, h.disk.warn]).toEqual([80, 90, 90]);
  });

  it("rotates logs/ and logs/nginx/ weekly, deletes after 30 days, watches failed logins", () => {
    const conf = logrotate(r, "bigshot").bigshot;
    expect(conf).toContain("/opt/bigshot/logs/*.log /opt/bigshot/logs/nginx/*.log {");
    for (const line of ["weekly", "maxage 30", "delaycompress", "copytruncate"]) expect(conf).toMatch(new RegExp(`^    ${line}$`, "m"));
    expect(logGroup(r, "bigshot", "app").failedLogins?.pattern).toContain('"failed login"');
  });

  it("reminds at quarter end on the last day of March, June, September and December", () => {
    const runs = nextRuns(reminder(r, "quarterly-end").schedule, new Date("2027-01-01T00:00:00Z"), 4);
    expect(runs.map((t) => t.toISOString().slice(0, 10))).toEqual(["2027-03-31", "2027-06-30", "2027-09-30", "2027-12-31"]);
    expect(reminder(r, "evening-review").schedule.expression).toBe("cron(0 17 ? * MON-FRI *)");
  });
});

describe("Neff Paving (seed 004)", () => {
  const { regime: r } = example("neff-paving");
  const d = db(r, "neff-paving-admin");

  it("purges audit_logs after 90 days and session_logs after 30, weekly with ANALYZE and REINDEX", () => {
    expect(d.purge!.rules.map((x) => [x.table, x.timestampColumn, x.olderThanDays])).toEqual([
      ["audit_logs", "created_at", 90],
      ["session_logs", "created_at", 30],
    ]);
    for (const task of [d.purge!, d.analyze!, d.reindex!]) expect(task.schedule.intervalSeconds).toBe(7 * 86400);
    expect(d.vacuum).toBeUndefined();
  });

  it("restores quarterly and counts customers and appointments", () => {
    expect(d.restoreDrill!.schedule.expression).toBe("cron(0 3 1 1,4,7,10 ? *)");
    expect(d.restoreDrill!.checks).toEqual([
      { sql: "SELECT count(*) FROM customers", minRows: 1 },
      { sql: "SELECT count(*) FROM appointments", minRows: 1 },
    ]);
  });

  it("holds the website to 3 s, the admin panel to 2 s, the API to 500 ms; downtime over 5 minutes is critical", () => {
    expect(endpoint(r, "website")).toMatchObject({ url: "https://neffpaving.com/", maxResponseMs: 3000, severity: "P0" });
    expect(endpoint(r, "admin")).toMatchObject({ url: "https://neffpaving.com/admin", maxResponseMs: 2000 });
    expect(endpoint(r, "api")).toMatchObject({ url: "https://neffpaving.com/api/health", maxResponseMs: 500, severity: "P0", slowSeverity: "P1" });
    expect(d.verify.maxShrinkPercent).toBe(50);
    expect(endpoint(r, "status-page").url).toBe("https://status.neffpaving.com/api/status");
    for (const c of r.endpoints!.checks) expect(c.failuresBeforeAlarm).toBe(5);
    expect(d.health).toMatchObject({ slowQueryMs: 100, severity: "P0" });
  });

  it("watches errors (< 1 % of requests) behind the load balancer and breach attempts as critical", () => {
    expect(r.applications[0]).toMatchObject({ errorRatePercent: { warn: 1, crit: 5 }, latencyMs: { warn: 500, crit: 3000 } });
    expect(logGroup(r, "web", "auth").failedLogins?.severity).toBe("P0");
    expect(r.alerting.P0.email).toContain("admin@neffpaving.example.com");
    expect(r.alerting.P0.sms.length).toBeGreaterThan(0);
  });

  it("rotates /var/log/neffpaving weekly and reopens through pm2", () => {
    const conf = logrotate(r, "web").neffpaving;
    expect(conf).toContain("/var/log/neffpaving/*.log {");
    expect(conf).toMatch(/^    weekly$/m);
    expect(conf).toMatch(/^    create 0640 root adm$/m);
    expect(conf).toContain("pm2 reloadLogs");
  });

  it("reminds of the quarterly penetration test and documentation review", () => {
    expect(reminder(r, "penetration-test").schedule.expression).toBe("cron(0 10 1 1,4,7,10 ? *)");
    expect(reminder(r, "penetration-test").checklist.join(" ")).toMatch(/professional security assessment/);
    expect(reminder(r, "documentation-review").schedule.expression).toBe("cron(0 9 15 1,4,7,10 ? *)");
  });
});
