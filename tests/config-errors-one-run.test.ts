/**
 * A config's problems come in one run of the plan: every check runs on the parts of the config that
 * are valid, whatever stage it belongs to (the schema, schedules, each window's schedule and duration
 * on the Scheduler's calendar, the alarms and components a window or mute names), and a part with a
 * problem is not judged further.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { ALERTING } from "./helpers/alerting";
import { regimeProblems } from "../regime/load";

const ROOT = join(__dirname, "..");
const NS = "maintenance-regime";

/** The plan's stderr lines and exit status for a stack file of `config` (keys without namespace get NS). */
function plan(config: Record<string, unknown>): { status: number | null; stdout: string; lines: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "config-errors-"));
  const file = join(dir, "Pulumi.bad.yaml");
  const doc = { config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k.includes(":") ? k : `${NS}:${k}`, v])) };
  writeFileSync(file, YAML.stringify(doc));
  const run = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "plan/cli.ts"), "--config", file, "--from", "2026-12-01"], { encoding: "utf8", cwd: ROOT });
  return { status: run.status, stdout: run.stdout, lines: run.stderr.trim().split("\n") };
}

const base = { "aws:region": "us-east-1", name: "rt", alerting: ALERTING };
const reminder = { name: "r1", schedule: { at: "monthly on the last day at 09:00", timezone: "Pacific/Chatham" }, checklist: ["x"] };
const NO_TIME_OF_DAY = '"every day" has no time of day: a maintenance window starts at one (daily at 02:00, first Sunday of the month at 02:00)';

describe("every config error in one run", () => {
  it("a window's schedule is judged beside the other parts' errors; its alarm names wait for the database that makes alarms", () => {
    const run = plan({
      ...base,
      timezone: "Mars/Olympus",
      databases: [
        {
          id: "app",
          secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-AbCdEf",
          backup: { schedule: "dialy at 02:00" },
          verify: { schedule: { at: "daily at 25:00", timezone: "Europe/Dublin" } },
        },
      ],
      reminders: [{ ...reminder, schedule: { ...reminder.schedule, timezone: "Pacific/Chatam" } }],
      maintenanceWindows: [{ name: "w", schedule: "rate(1 day)", durationMinutes: 60, alarms: ["nonexistent-alarm"] }],
      mutes: [{ alarms: ["rt-db-app-rpo-P0"], until: "2026-12-24T18:00", reason: "x" }],
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.lines).toEqual([
      "error: config error: timezone: must be an IANA timezone such as America/New_York or UTC (EST/PST are not: they ignore daylight saving)",
      'error: config error: databases[0].backup.schedule: unknown schedule "dialy at 02:00"; examples: "daily at 02:00", "weekly on Wednesday at 03:00", "cron(0 2 * * ? *)"',
      "error: config error: databases[0].verify.schedule: hour 25 out of range 0-23",
      "error: config error: reminders[0].schedule.timezone: must be an IANA timezone such as America/New_York or UTC (EST/PST are not: they ignore daylight saving)",
      `error: config error: maintenanceWindows[0].schedule: ${NO_TIME_OF_DAY}`,
      "error: config error: mutes[0].until: must be an ISO time to the minute with its offset, like 2026-12-24T18:00Z or 2026-12-24T13:00-05:00 (a mute starts and ends on a whole minute)",
    ]);
  });

  it("windows with a bad schedule or duration are also told the alarms they name that do not exist", () => {
    const run = plan({
      ...base,
      reminders: [reminder],
      maintenanceWindows: [
        { name: "w", schedule: "rate(1 day)", durationMinutes: 60, alarms: ["nonexistent-alarm"] },
        { name: "w2", schedule: "daily at 02:00", durationMinutes: 1440, alarms: ["other-nonexistent"] },
      ],
    });
    expect(run.status).toBe(1);
    expect(run.lines).toEqual([
      `error: config error: maintenanceWindows[0].schedule: ${NO_TIME_OF_DAY}`,
      'error: config error: maintenanceWindows[0].alarms[0]: no alarm named "nonexistent-alarm" in this regime (the plan lists them)',
      'error: config error: maintenanceWindows[1].durationMinutes: 1440 min is as long as the 1440 min between two starts of "daily at 02:00": the alarms would be muted without a break; a window must end before the next one starts',
      'error: config error: maintenanceWindows[1].alarms[0]: no alarm named "other-nonexistent" in this regime (the plan lists them)',
    ]);
  });

  it("errors of four stages (schema, schedule, the Scheduler's calendar, the built regime's names) come together", () => {
    const run = plan({
      ...base,
      reminders: [{ name: "r1", schedule: "monthly on day 1 at 09:00", checklist: ["x"] }],
      maintenanceWindows: [
        { name: "w", schedule: "dialy at 02:00", durationMinutes: 60, alarms: ["rt-reminder-r1-missed-run-P9"] },
        { name: "w2", schedule: { at: "daily at 03:00", timezone: "America/New_York" }, durationMinutes: 1400, components: ["rt-reminders", "rt-helth"] },
      ],
      mutes: [{ alarms: ["rt-nope-P0"], until: "2026-12-24T18:00", reason: "x" }],
    });
    expect(run.status).toBe(1);
    expect(run.lines).toEqual([
      'error: config error: maintenanceWindows[0].schedule: unknown schedule "dialy at 02:00"; examples: "daily at 02:00", "weekly on Wednesday at 03:00", "cron(0 2 * * ? *)"',
      'error: config error: maintenanceWindows[0].alarms[0]: no alarm named "rt-reminder-r1-missed-run-P9" in this regime (the plan lists them)',
      'error: config error: maintenanceWindows[1].durationMinutes: 1400 min is longer than the 1380 min between the starts on 2027-03-13 and 2027-03-14 of "daily at 03:00" in America/New_York (the clock changes between them): a window must end before the next one starts',
      'error: config error: maintenanceWindows[1].components[1]: no component named "rt-helth" in this regime; components: rt, rt-alerts, rt-overdue, rt-overdue-watch, rt-regime, rt-reminders',
      "error: config error: mutes[0].until: must be an ISO time to the minute with its offset, like 2026-12-24T18:00Z or 2026-12-24T13:00-05:00 (a mute starts and ends on a whole minute)",
      'error: config error: mutes[0].alarms[0]: no alarm named "rt-nope-P0" in this regime (the plan lists them)',
    ]);
  });

  it("a broken promise and an alarm name the regime does not have come in one run, config errors first", () => {
    const run = plan({
      ...base,
      timezone: "America/New_York",
      databases: [{ id: "app", secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-AbCdEf", backup: { schedule: "daily at 02:00", rpoHours: 26 } }],
      maintenanceWindows: [{ name: "w", schedule: "daily at 04:00", durationMinutes: 60, alarms: ["rt-db-app-rpo-P0", "rt-db-app-rpo-P1"] }],
    });
    expect(run.status).toBe(1);
    expect(run.lines[0]).toBe('error: config error: maintenanceWindows[0].alarms[1]: no alarm named "rt-db-app-rpo-P1" in this regime (the plan lists them)');
    expect(run.lines.slice(1).map((l) => l.slice(0, l.indexOf(": ", "error: promise check: ".length)))).toEqual([
      "error: promise check: databases[app].backup.schedule",
      "error: promise check: databases[app].verify.maxAgeHours",
    ]);
  });

  it("the same windows, valid, plan as before: their rules mute the alarms named", () => {
    const run = plan({
      ...base,
      reminders: [reminder],
      maintenanceWindows: [{ name: "w", schedule: "daily at 03:00", durationMinutes: 60, alarms: ["rt-reminder-r1-overdue-P3"] }],
    });
    expect(run.lines).toEqual([""]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("  rt-mw-w: cron(0 3 * * *) UTC for PT1H, 1 alarms");
  });

  it("a database's schema error, a reminder's schedule, another database's runner and a window's schedule in one run", () => {
    const secretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-AbCdEf";
    const { lines, regime } = regimeProblems({
      name: "rt",
      databases: [
        { id: "app", secretArn, backup: { retention: { daily: 0 } } },
        { id: "big", secretArn, restoreDrill: { rtoMinutes: 60 } },
        { id: "nokey", backup: { retention: "x" } },
      ],
      reminders: [{ name: "r1", schedule: "every fortnight", checklist: ["x"] }],
      maintenanceWindows: [{ name: "w", schedule: "every 10 minutes", durationMinutes: 5 }],
    });
    expect(regime).toBeUndefined();
    expect(lines).toEqual([
      "databases[0].backup.retention.daily: must be >= 1",
      "databases[1].network: the restore drill runs on Fargate (rtoMinutes 60 + 0 checks x 5 min + 2 min = 62 min, over Lambda's 15) and Fargate tasks need subnets and security groups; set network",
      'databases[2].backup.retention: must be a mapping (key: value), not the string "x"',
      "databases[2].secretArn: needs exactly one of secretArn or iamAuth",
      expect.stringMatching(/^reminders\[0\]\.schedule: unknown schedule "every fortnight"/),
      'maintenanceWindows[0].schedule: "every 10 minutes" has no time of day: a maintenance window starts at one (daily at 02:00, first Sunday of the month at 02:00)',
      "maintenanceWindows[0].alarms: must name what it mutes: alarms, severities or components",
    ]);
  });

  it("an item's lines follow the order of its keys in the stack file: an unknown key written first comes first, whatever stage finds the others", () => {
    const run = plan({
      ...base,
      databases: [
        {
          id: "app",
          secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-AbCdEf",
          bakup: { schedule: "daily at 02:00" },
          backup: { schedule: "daily at 25:00", retention: { daily: 0 } },
          purge: { rules: [{ table: "a;b", olderThanDays: 30, colour: "red" }] },
        },
      ],
      endpoints: { schedule: "every 0 minutes", checks: [{ name: "api", url: "https://app.example.com/health", extra: 1, timeoutMs: 50 }] },
    });
    expect(run.status).toBe(1);
    expect(run.lines).toEqual([
      "error: config error: databases[0]: unknown key bakup (did you mean backup?)",
      "error: config error: databases[0].backup.schedule: hour 25 out of range 0-23",
      "error: config error: databases[0].backup.retention.daily: must be >= 1",
      expect.stringMatching(/^error: config error: databases\[0\]\.purge\.rules\[0\]\.table: must be a PostgreSQL table/),
      "error: config error: databases[0].purge.rules[0]: unknown key colour",
      'error: config error: endpoints.schedule: "every 0 minutes": the interval must be at least 1',
      "error: config error: endpoints.checks[0]: unknown key extra",
      "error: config error: endpoints.checks[0].timeoutMs: must be >= 100",
    ]);
  });

  it("a refused bound is not compared with the keys that read it: one bad timeoutMs, url or warning level gives one line", () => {
    const secretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-AbCdEf";
    const { lines } = regimeProblems({
      name: "rt",
      databases: [{ id: "app", secretArn, health: { connectionsWarnPercent: 80, connectionsCritPercent: 150 } }],
      endpoints: {
        checks: [
          { name: "api", url: "https://app.example.com/health", timeoutMs: 50, maxResponseMs: 70_000 },
          { name: "web", url: "ftp://app.example.com/", minCertificateDays: 14 },
          { name: "ok", url: "https://app.example.com/", timeoutMs: 1000, maxResponseMs: 2000 },
        ],
      },
    });
    expect(lines).toEqual([
      expect.stringMatching(/^databases\[0\]\.health\.connectionsCritPercent: /),
      "endpoints.checks[0].timeoutMs: must be >= 100",
      "endpoints.checks[1].url: must be an http(s) URL",
      // Valid keys are still compared, beside the other items' problems.
      "endpoints.checks[2].maxResponseMs: must be < timeoutMs (1000): an answer slower than the timeout counts as down, so the slow alarm could never fire",
    ]);
  });
});
