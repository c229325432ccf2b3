/**
 * What no metric alarm can see, planned offline: weekly file backups (on tagged instances and over
 * SSH) are held by the overdue watcher, which reads each backup's success metric; a weekly database
 * backup with an RPO over 168 h has no RPO metric alarm but the watcher's P0 overdue alarm (the
 * stable `rpoAlarmNames` output names it). Such plans are accepted and their figures held; an RPO a
 * good week breaks is refused with its line.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { ALERTING } from "./helpers/alerting";
import { describe, expect, it } from "vitest";
import { runPlan } from "../plan/run";
import type { RecordedResource } from "../plan/mocks";
import { MOCK_CREATION_DATE } from "./helpers/pulumi-mocks";

const FROM = new Date("2026-12-01T00:00:00Z");
const NS = "maintenance-regime";
type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function stackFile(logs: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "weekly-")), "Pulumi.wk.yaml");
  const config: Record<string, unknown> = { [`${NS}:name`]: "wk", [`${NS}:alerting`]: ALERTING, [`${NS}:timezone`]: "UTC" };
  Object.assign(config, { [`${NS}:logs`]: logs, [`${NS}:wkSshKey`]: { secure: "v1:AAAABBBBCCCC" } });
  writeFileSync(file, YAML.stringify({ config }));
  return file;
}

/** A regime whose database backs up weekly (Sunday 03:00 UTC) with `rpoHours`; `sizeGb` sets the backup's run (5 GB: 7 min, 85 GB: 2 h). */
function databaseStackFile(sizeGb: number, rpoHours: number, paused = false): string {
  const file = join(mkdtempSync(join(tmpdir(), "weekly-")), "Pulumi.wk.yaml");
  const db = {
    id: "app",
    sizeGb,
    secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:wk/app/postgres-AbCdEf",
    network: { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] },
    backup: { schedule: "weekly on Sunday at 03:00", rpoHours, ...(paused ? { paused } : {}), weeklyOn: "Sunday", retention: { daily: 30, weekly: 90, monthly: 90 } },
    verify: { schedule: "weekly on Sunday at 06:00", maxAgeHours: 168 },
  };
  writeFileSync(file, YAML.stringify({ config: { [`${NS}:name`]: "wk", [`${NS}:alerting`]: ALERTING, [`${NS}:timezone`]: "UTC", [`${NS}:databases`]: [db] } }));
  return file;
}

const LOGS = {
  hostGroups: [
    { name: "app", target: { tagKey: "App", tagValue: "wk" }, appRoot: "/srv/app", fileBackups: [{ name: "uploads", paths: ["uploads/"], schedule: "weekly on Sunday at 04:00", severity: "P1" }] },
    {
      name: "crm",
      sshHosts: [{ host: "203.0.113.10", user: "deploy" }],
      sshPrivateKeyConfig: "wkSshKey",
      appRoot: "/opt/crm",
      fileBackups: [{ name: "config", paths: [".env"], schedule: "weekly on Saturday at 22:00" }],
    },
  ],
};

describe("weekly file backups in a regime without databases", () => {
  it("plans: each weekly file backup has its overdue alarm, read from its success metric; no vault is needed", async () => {
    const { plan, resources } = await runPlan({ configFile: stackFile(LOGS), from: FROM });
    const of = (type: string) => resources.filter((r: RecordedResource) => r.type === type).map((r) => r.inputs as Inputs);
    const names = of("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => a.name as string);
    const watcher = of("aws:lambda/function:Function").find((f) => f.name === "wk-overdue-watch")!;
    expect(watcher.environment.variables.BACKUP_BUCKET).toBeUndefined();
    const jobs = JSON.parse(watcher.environment.variables.WATCHED_JOBS) as Inputs[];
    expect(jobs.find((j) => j.job === "file-backup/app/uploads")).toEqual({
      job: "file-backup/app/uploads",
      expression: "cron(0 4 ? * SUN *)",
      timezone: "UTC",
      toleranceSeconds: 7200,
      history: { metric: { namespace: "MaintenanceRegime", name: "TaskSucceeded", dimensions: { service: "wk", Task: "file-backup", Instance: "app/uploads" } }, lookbackSeconds: 7 * 86400 + 7200 + 3600 },
      // The tagged group's watch start: its SSM document's creation date (the mocks' stand-in).
      since: "2026-01-01T00:00:00Z",
    });
    // The SSH host's: its own job on its Host dimension, from the date stamped once by the local command made after its install.
    expect(jobs.find((j) => j.job === "file-backup/crm/config/203.0.113.10")).toMatchObject({
      expression: "cron(0 22 ? * SAT *)",
      history: { metric: { dimensions: { service: "wk", Task: "file-backup", Instance: "crm/config", Host: "203.0.113.10" } } },
      since: "2026-01-01T00:00:00Z",
    });
    expect(jobs.find((j) => j.job === "file-backup/crm/config")).toBeUndefined();
    expect(of("command:local:Command").map((c) => c.create)).toEqual(["date -u +%Y-%m-%dT%H:%M:%SZ"]);
    // No missed-run alarm (a week is more than it may look back), an overdue alarm at each backup's severity.
    expect(names.filter((n) => /-logs-(app|crm)-backup-/.test(n)).sort()).toEqual(["wk-logs-app-backup-uploads-overdue-P1", "wk-logs-crm-backup-config-host-203-0-113-10-overdue-P1"]);
    expect(plan.outputs.overdueAlarmNames).toMatchObject({ "file-backup/app/uploads": "wk-logs-app-backup-uploads-overdue-P1", "file-backup/crm/config/203.0.113.10": "wk-logs-crm-backup-config-host-203-0-113-10-overdue-P1" });
    const promise = (key: string) => plan.promises!.items.filter((p) => p.key === key).map((p) => `${p.status} ${p.figure}`);
    expect(promise("logs.hostGroups[app].fileBackups[uploads].schedule")).toEqual(["held paged within 171 h (+ its run time) of its last run on any instance tagged App=wk, by the overdue watch"]);
    expect(promise("logs.hostGroups[crm].fileBackups[config].schedule")).toEqual(["held paged within 171 h (+ its run time) of its last run on its SSH host 203.0.113.10, by the overdue watch"]);
    // Each weekly success metric (the tagged instances', each SSH host's) is billed for the hours of its runs (4 Sundays, 4 Saturdays in the 30 days), though only the overdue watcher reads it.
    const logsCost = plan.cost.components.find((c) => c.component === "wk-logs")!.items.map((i) => i.what);
    expect(logsCost.filter((w) => w.startsWith("custom metric"))).toEqual([
      "custom metric MaintenanceRegime/TaskSucceeded service=wk,Task=file-backup,Instance=app/uploads, 4 h of 720 (sent by the hosts once per run of cron(0 4 ? * SUN *) UTC, read by the overdue watcher)",
      "custom metric MaintenanceRegime/TaskSucceeded service=wk,Task=file-backup,Instance=crm/config,Host=203.0.113.10, 4 h of 720 (sent by the hosts once per run of cron(0 22 ? * SAT *) UTC, read by the overdue watcher)",
    ]);
  }, 120_000);
});

describe("a weekly database backup with rpoHours 170", () => {
  it("plans: no RPO metric alarm; the overdue watcher's P0 alarm holds the RPO from the backup's run markers", async () => {
    const { plan, resources } = await runPlan({ configFile: databaseStackFile(5, 170), from: FROM });
    const of = (type: string) => resources.filter((r: RecordedResource) => r.type === type).map((r) => r.inputs as Inputs);
    const alarms = new Map(of("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => [a.name as string, a]));
    const names = [...alarms.keys()];

    // No metric alarm on BackupSucceeded: the watcher's overdue alarm instead, named by the stable output.
    expect(names.filter((n) => /-rpo-/.test(n))).toEqual(["wk-db-app-rpo-overdue-P0"]);
    expect([...alarms.values()].filter((a) => a.metricName === "BackupSucceeded")).toEqual([]);
    expect(plan.outputs.rpoAlarmNames).toEqual({ app: "wk-db-app-rpo-overdue-P0" });
    const rpo = alarms.get("wk-db-app-rpo-overdue-P0")!;
    expect({ metric: rpo.metricName, dims: rpo.dimensions, period: rpo.period, evaluationPeriods: rpo.evaluationPeriods, missing: rpo.treatMissingData, actions: rpo.actionsEnabled }).toEqual({
      metric: "Overdue",
      dims: { service: "wk", Task: "overdue-watch", Job: "app/rpo" },
      period: 3600,
      evaluationPeriods: 1,
      missing: "notBreaching",
      actions: true,
    });

    // The watcher judges the backup's newest run marker by age; the backup writes those markers.
    const watcher = of("aws:lambda/function:Function").find((f) => f.name === "wk-overdue-watch")!;
    const jobs = JSON.parse(watcher.environment.variables.WATCHED_JOBS) as Inputs[];
    expect(jobs.find((j) => j.job === "app/rpo")).toEqual({ job: "app/rpo", prefix: "runs/app/backup/", since: MOCK_CREATION_DATE, expression: "cron(0 3 ? * SUN *)", timezone: "UTC", toleranceSeconds: 0, maxAgeSeconds: 170 * 3600 });
    const backup = of("aws:lambda/function:Function").find((f) => f.name === "wk-db-app-backup")!;
    expect(backup.environment.variables).toMatchObject({ RUN_MARKER_PREFIX: "runs/app/backup/" });
    // The watcher pages P0 when it stops: as urgent as the RPO it holds.
    expect(names).toContain("wk-overdue-watch-missed-run-P0");

    const promise = (key: string) => plan.promises!.items.filter((p) => p.key === key).map((p) => `${p.status} ${p.figure}`);
    expect(promise("databases[app].backup.rpoHours")).toEqual(["held paged at most 2 h after it is due (one overdue-watch interval + the alarm's period), by the overdue watch wk-db-app-rpo-overdue-P0"]);
    expect(promise("databases[app].backup.schedule")).toContain("held up to 168.2 h of data (7 d between backups + up to 12 min to store one)");
  }, 120_000);

  it("a paused backup keeps its RPO overdue alarm with the actions off, as a paused metric RPO alarm; the promise is paused", async () => {
    const { plan, resources } = await runPlan({ configFile: databaseStackFile(5, 170, true), from: FROM });
    const rpo = resources.find((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && r.inputs.name === "wk-db-app-rpo-overdue-P0")!;
    expect(rpo.inputs.actionsEnabled).toBe(false);
    expect(plan.outputs.rpoAlarmNames).toEqual({ app: "wk-db-app-rpo-overdue-P0" });
    expect(plan.promises!.items.filter((p) => p.key === "databases[app].backup.rpoHours").map((p) => `${p.status} ${p.figure}`)).toEqual(["paused no page while paused (the alarm's actions are off)"]);
  }, 120_000);

  it("rpoHours 169 with weekly backups that take 2 h (up to 3.2 h before their duration alarm pages) is refused: a good week leaves 171.3 h", async () => {
    await expect(runPlan({ configFile: databaseStackFile(85, 169), from: FROM })).rejects.toThrow(
      /^promise check: databases\[app\]\.backup\.schedule: "weekly on Sunday at 03:00" leaves 7 d between backups \+ up to 3\.2 h to store the next \+ 5 min for the RPO alarm to see it \(first 2026-12-06\) > rpoHours 169: the RPO alarm pages P0 although every backup succeeds; back up at least every 165\.6 h or set rpoHours to at least 172$/m,
    );
  }, 120_000);
});
