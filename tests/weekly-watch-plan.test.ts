/**
 * What no metric alarm can see, planned offline: weekly file backups (on tagged instances and over
 * SSH) are held by the overdue watcher, which reads each backup's success metric; the plan is
 * accepted and their figures are held.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { runPlan } from "../plan/run";
import type { RecordedResource } from "../plan/mocks";

const FROM = new Date("2026-12-01T00:00:00Z");
const NS = "maintenance-regime";
type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function stackFile(logs: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "weekly-")), "Pulumi.wk.yaml");
  const config: Record<string, unknown> = { [`${NS}:name`]: "wk", [`${NS}:timezone`]: "UTC" };
  Object.assign(config, { [`${NS}:logs`]: logs, [`${NS}:wkSshKey`]: { secure: "v1:AAAABBBBCCCC" } });
  writeFileSync(file, YAML.stringify({ config }));
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
    // The SSH group's: the date stamped once by the local command made with the backup.
    expect(jobs.find((j) => j.job === "file-backup/crm/config")).toMatchObject({ expression: "cron(0 22 ? * SAT *)", history: { metric: { dimensions: { Instance: "crm/config" } } }, since: "2026-01-01T00:00:00Z" });
    expect(of("command:local:Command").map((c) => c.create)).toEqual(["date -u +%Y-%m-%dT%H:%M:%SZ"]);
    // No missed-run alarm (a week is more than it may look back), an overdue alarm at each backup's severity.
    expect(names.filter((n) => /-logs-(app|crm)-backup-/.test(n)).sort()).toEqual(["wk-logs-app-backup-uploads-overdue-P1", "wk-logs-crm-backup-config-overdue-P1"]);
    expect(plan.outputs.overdueAlarmNames).toMatchObject({ "file-backup/app/uploads": "wk-logs-app-backup-uploads-overdue-P1", "file-backup/crm/config": "wk-logs-crm-backup-config-overdue-P1" });
    const promise = (key: string) => plan.promises!.items.filter((p) => p.key === key).map((p) => `${p.status} ${p.figure}`);
    expect(promise("logs.hostGroups[app].fileBackups[uploads].schedule")).toEqual(["held paged within 171 h (+ its run time) of its last run, by the overdue watch"]);
    expect(promise("logs.hostGroups[crm].fileBackups[config].schedule")).toEqual(["held paged within 171 h (+ its run time) of its last run, by the overdue watch"]);
  }, 120_000);
});
