/**
 * Checks across items and keys (duplicate names, prefixes, warn below crit) run beside a value of the
 * wrong type or a non-integer elsewhere, so the first run shows every problem; zod's own problems read
 * like the regime's (`must be a whole number`, `must be a number, not the string "5"`); archive
 * prefixes with . or .. segments are refused; the plan names the stack of its config file.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { ALERTING } from "./helpers/alerting";
import { regimeProblems } from "../regime/load";

const ROOT = join(__dirname, "..");
const NS = "maintenance-regime";
const secretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-AbCdEf";

/** Writes `config` (keys without namespace get NS) to `dir/fileName`; returns its path. */
function stackFile(fileName: string, config: Record<string, unknown>, dir = mkdtempSync(join(tmpdir(), "every-check-"))): string {
  const file = join(dir, fileName);
  writeFileSync(file, YAML.stringify({ config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k.includes(":") ? k : `${NS}:${k}`, v])) }));
  return file;
}

/** The offline plan of `file`: exit status, stdout, stderr lines. */
function plan(file: string): { status: number | null; stdout: string; lines: string[] } {
  const run = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "plan/cli.ts"), "--config", file, "--from", "2026-12-01"], { encoding: "utf8", cwd: ROOT });
  return { status: run.status, stdout: run.stdout, lines: run.stderr.trim().split("\n") };
}

const base = { "aws:region": "us-east-1", name: "rt", alerting: ALERTING };

/** logs.hostGroups[0] with `over` laid over a tagged group that rotates one file. */
const group = (over: Record<string, unknown>) => ({
  name: "web",
  target: { tagKey: "Role", tagValue: "web" },
  logSets: [{ name: "a", paths: ["/var/log/a.log"], frequency: "daily", keep: 7, copytruncate: true }],
  ...over,
});
const logSet = (name: string, over: Record<string, unknown> = {}) => ({ name, paths: [`/var/log/${name}.log`], frequency: "daily", keep: 7, copytruncate: true, ...over });

describe("every check runs beside values of the wrong type", () => {
  it("a non-integer or a bad enum in a list's first item hides none of the list's duplicates: 8 lines in one run", () => {
    const file = stackFile("dup-suppressed.yaml", {
      ...base,
      endpoints: {
        checks: [
          { name: "api", url: "https://a.example.com/", timeoutMs: 1000.5 },
          { name: "api", url: "https://b.example.com/" },
        ],
      },
      hosts: [
        { name: "h1", instanceId: "i-0a1b2c3d4e5f60004", cpu: { warn: 80, crit: 90, minutes: 2.5 } },
        { name: "h1", instanceId: "i-0a1b2c3d4e5f60005" },
      ],
      reminders: [
        { name: "r", schedule: "daily at 09:00", checklist: ["x"], severity: "P7" },
        { name: "r", schedule: "daily at 09:00", checklist: ["x"] },
      ],
      databases: [
        { id: "app", secretArn, backup: { rpoHours: 26.5, retention: { daily: 7.5 } } },
        { id: "app", secretArn },
      ],
    });
    const run = plan(file);
    expect(run.status).toBe(1);
    expect(run.lines).toEqual([
      "error: config error: databases[0].backup.retention.daily: must be a whole number of days",
      'error: config error: databases[1].id: duplicate database id "app"',
      "error: config error: endpoints.checks[0].timeoutMs: must be a whole number",
      'error: config error: endpoints.checks[1].name: duplicate endpoint "api"',
      "error: config error: hosts[0].cpu.minutes: must be a whole number",
      'error: config error: hosts[1].name: duplicate host "h1"',
      "error: config error: reminders[0].severity: must be one of P0, P1, P2, P3",
      'error: config error: reminders[1].name: duplicate reminder "r"',
    ]);
  });

  it("checks across a host's keys, a host group's lists and the host groups run beside a value of the wrong type", () => {
    const { lines } = regimeProblems({
      name: "rt",
      alerting: ALERTING,
      backupVault: { objectLock: { mode: "GOVERNANCE", days: 5 } },
      // A refused tier is not compared with the lock (one mistake, one line); a valid one is.
      databases: [
        { id: "app", secretArn, backup: { retention: { daily: 2.5 } } },
        { id: "web", secretArn, backup: { retention: { weekly: 3 } } },
      ],
      hosts: [{ name: "h1", instanceId: "i-0a1b2c3d4e5f60004", cpu: { warn: 95, crit: 90, minutes: "10" } }],
      logs: {
        hostGroups: [
          group({
            logSets: [logSet("a", { keep: "seven" }), logSet("a"), logSet("b", { archive: { prefix: "files/web/", expireDays: 30 } })],
            fileBackups: [
              { name: "conf", paths: ["/etc/app"], retentionDays: 7.5 },
              { name: "conf", paths: ["/etc/app2"] },
            ],
          }),
          group({ name: "web", target: { tagKey: "Role", tagValue: 5 } }),
        ],
      },
    });
    expect(lines).toEqual([
      "backupVault.objectLock.days: 5 is longer than databases[1].backup.retention.weekly (3): locked backups could not be removed when their tier expires",
      "databases[0].backup.retention.daily: must be a whole number of days",
      "hosts[0].cpu.warn: warn must be <= crit",
      'hosts[0].cpu.minutes: must be a number, not the string "10"',
      'logs.hostGroups[0].logSets[0].keep: must be a number, not the string "seven"',
      'logs.hostGroups[0].logSets[1].name: duplicate log set name "a"',
      "logs.hostGroups[0].logSets[2].archive.prefix: files/web/ is under files/, where file backups go: set another prefix",
      "logs.hostGroups[0].fileBackups[0].retentionDays: must be a whole number of days",
      'logs.hostGroups[0].fileBackups[1].name: duplicate file backup name "conf"',
      'logs.hostGroups[1].name: duplicate host group "web"',
      "logs.hostGroups[1].target.tagValue: must be a string, not the number 5",
    ]);
  });
});

describe("zod's own problems in the regime's words", () => {
  it("types, whole numbers, enums, bounds and missing keys, each naming its key", () => {
    const { lines } = regimeProblems({
      name: "rt",
      alerting: ALERTING,
      dashboard: "yes",
      databases: [{ id: "app", secretArn, majorVersion: 16.5, sizeGb: "2", network: { subnetIds: "subnet-1", securityGroupIds: ["sg-1"] }, backup: { runner: "ec2" } }],
      redis: [{ id: "cache", url: "redis://cache:6379", queues: { name: "celery" } }],
      endpoints: { checks: [{ name: "api", url: "https://a.example.com/", timeoutMs: 50 }] },
      hosts: [{ name: "h1" }],
      reminders: [{ name: "r", schedule: "daily at 09:00", checklist: [] }],
    });
    expect(lines).toEqual([
      "databases[0].majorVersion: must be a whole number",
      'databases[0].sizeGb: must be a number, not the string "2"',
      'databases[0].network.subnetIds: must be a list, not the string "subnet-1"',
      "databases[0].backup.runner: must be one of lambda, fargate",
      "redis[0].queues: must be a list, not a mapping (key: value)",
      "endpoints.checks[0].timeoutMs: must be >= 100",
      "hosts[0].instanceId: missing; this key is required",
      "reminders[0].checklist: must list at least one step",
      'dashboard: must be true or false, not the string "yes"',
    ]);
  });
});

describe("S3 prefixes are compared as written", () => {
  it("an archive prefix with a . or .. segment is refused on its key; .. inside a segment is a name", () => {
    const { lines } = regimeProblems({
      name: "rt",
      alerting: ALERTING,
      logs: {
        hostGroups: [
          group({
            logSets: [
              logSet("a", { archive: { prefix: "logs/../files/app/conf/", expireDays: 30 } }),
              logSet("b", { archive: { prefix: "logs/./b/", expireDays: 30 } }),
              logSet("c", { archive: { prefix: "logs/..", expireDays: 30 } }),
              logSet("d", { archive: { prefix: "logs/..d/", expireDays: 30 } }),
            ],
            fileBackups: [{ name: "..", paths: ["/etc/app"] }],
          }),
        ],
      },
    });
    const DOTS = "must not contain . or .. segments (logs/../files/ would be files/ to a client that resolves them)";
    expect(lines).toEqual([
      `logs.hostGroups[0].logSets[0].archive.prefix: ${DOTS}`,
      `logs.hostGroups[0].logSets[1].archive.prefix: ${DOTS}`,
      `logs.hostGroups[0].logSets[2].archive.prefix: ${DOTS}`,
      "logs.hostGroups[0].fileBackups[0].name: must start with a letter and use only lowercase letters, digits and -, at most 40 characters",
    ]);
  });
});

describe("the plan names the stack of its config file", () => {
  it("Pulumi.<stack>.yaml plans <stack>; another file name is said to name no stack", () => {
    const unnamed = stackFile("rpo-weekly.yaml", { ...base, dashboard: false });
    const named = join(mkdtempSync(join(tmpdir(), "every-check-")), "Pulumi.staging.yaml");
    copyFileSync(unnamed, named);
    const [a, b] = [plan(unnamed), plan(named)];
    expect(a.status).toBe(0);
    expect(a.stdout.split("\n")[0]).toMatch(/^Regime plan: maintenance-regime \/ rpo-weekly\.yaml \(no stack: the file is not named Pulumi\.<stack>\.yaml\) {2}\(.*rpo-weekly\.yaml, offline, \d+ resources\)$/);
    expect(b.status).toBe(0);
    expect(b.stdout.split("\n")[0]).toMatch(/^Regime plan: maintenance-regime \/ staging {2}\(.*Pulumi\.staging\.yaml, offline, \d+ resources\)$/);
    // Apart from its first line, the plan is the same whatever the stack is called.
    expect(a.stdout.split("\n").slice(1).join("\n").replaceAll("rpo-weekly.yaml", "F")).toBe(b.stdout.split("\n").slice(1).join("\n").replaceAll("Pulumi.staging.yaml", "F"));
  });
});
