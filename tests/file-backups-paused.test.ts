/**
 * `paused: true` on a file backup, as `pulumi up` would provision it: a tagged group's paused backup
 * keeps its SSM document but loses its association (an association has no disabled state), an SSH
 * group's paused backup keeps its cron file with the job line commented out, and the missed-backup
 * alarm (each SSH host's own) keeps evaluating with its actions off, and its prefix's lifecycle rule in
 * the log archive bucket is kept Disabled, so no archive it stored expires; the backups beside it are untouched.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MOCK_CREATION_DATE, mockTopics, settle, setupMocks, waitFor, type MockResource } from "./helpers/pulumi-mocks";
import { PAUSED_WATCH_START } from "../components/alarms";
import { parseLogs, type LogsInput } from "../regime/logs";
import { renderCronFile } from "../regime/file-backups";

const { resources } = setupMocks();

const LOGS: LogsInput = {
  hostGroups: [
    {
      name: "boardroom",
      target: { tagKey: "App", tagValue: "boardroom" },
      appRoot: "/home/app/boardroom",
      fileBackups: [
        { name: "app-files", paths: [".env.production"] },
        { name: "uploads", paths: ["uploads/"], paused: true },
      ],
    },
    {
      name: "crm",
      sshHosts: [{ host: "10.0.0.7", user: "deploy" }],
      sshPrivateKeyConfig: "crmSshKey",
      appRoot: "/opt/crm",
      fileBackups: [
        { name: "config", paths: [".env"] },
        { name: "uploads", paths: ["uploads/"], paused: true },
      ],
    },
  ],
};

const ofType = (t: string): MockResource[] => resources.filter((r) => r.type === t);

beforeAll(async () => {
  const { LogRotation } = await import("../components/logs");
  const component = new LogRotation("logs", {
    regime: "prod",
    logs: parseLogs(LOGS),
    defaultRetentionDays: 30,
    alarmTopics: mockTopics("prod"),
    sshPrivateKeys: { crmSshKey: "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n" },
  });
  await waitFor(component.logrotateConfigs);
  await settle();
});

describe("a paused file backup", () => {
  it("tagged hosts: the document stays, the association is gone; the running backup keeps its own", () => {
    expect(ofType("aws:ssm/document:Document").map((r) => r.inputs.name).sort()).toEqual(["prod-boardroom-file-backup-app-files", "prod-boardroom-file-backup-uploads"]);
    expect(ofType("aws:ssm/association:Association").map((r) => r.inputs.associationName)).toEqual(["prod-boardroom-file-backup-app-files"]);
  });

  it("SSH hosts: the cron file stays with the job line commented out, the other backup's line runs", () => {
    const cmd = ofType("command:remote:Command").find((r) => r.name === "logs-crm-file-backups-ssh-10-0-0-7")!;
    const files = [...String(cmd.inputs.stdin).matchAll(/[A-Za-z0-9+/=]{40,}/g)].map((m) => Buffer.from(m[0], "base64").toString("utf8"));
    const uploads = files.find((f) => f.startsWith("# File backup prod/crm/uploads"))!;
    const config = files.find((f) => f.startsWith("# File backup prod/crm/config"))!;
    expect(uploads).toMatch(/\n# paused: 0 3 \* \* \* root timeout --kill-after=60 3600 \/usr\/local\/sbin\/maintenance-regime-crm-uploads-backup /);
    expect(config).toMatch(/\n0 3 \* \* \* root timeout --kill-after=60 3600 \/usr\/local\/sbin\/maintenance-regime-crm-config-backup /);
    const input = { regime: "prod", group: "crm", name: "uploads", hostCron: "0 3 * * *", description: "daily" };
    expect(renderCronFile({ ...input, paused: true })).toBe(renderCronFile(input).replace("\n0 3 * * * root", "\n# paused: 0 3 * * * root"));
  });

  it("its archives are kept: its prefix's lifecycle rule (expiration and old versions') is Disabled, so nothing under it expires; the running backups' rules expire as before", async () => {
    const { keptFor } = await import("../regime/retention");
    const rules = ofType("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").find((r) => r.name === "logs-archive-lifecycle")!.inputs.rules;
    const status = Object.fromEntries(rules.filter((r: { filter: { prefix: string } }) => r.filter.prefix.startsWith("files/")).map((r: { filter: { prefix: string }; status: string }) => [r.filter.prefix, r.status]));
    // The catch-all of files/ (and of the whole bucket) would expire the paused archives too: Disabled while paused.
    expect(status).toEqual({ "files/boardroom/app-files/": "Enabled", "files/boardroom/uploads/": "Disabled", "files/crm/config/": "Enabled", "files/crm/uploads/": "Disabled", "files/": "Disabled" });
    expect(rules.find((r: { id: string }) => r.id === "catch-all.bucket")?.status).toBe("Disabled");
    for (const group of ["boardroom", "crm"]) {
      const kept = keptFor(rules, `files/${group}/uploads/app-1/20261129T030000Z.tar.gz`);
      expect({ group, readable: kept.readableDays, noncurrent: kept.noncurrentDays }).toEqual({ group, readable: undefined, noncurrent: undefined });
    }
    expect(keptFor(rules, "files/crm/config/app-1/20261129T030000Z.tar.gz")).toMatchObject({ readableDays: 30, noncurrentDays: 1 });
  });

  it("its missed-backup alarm evaluates with its actions off; the others page", () => {
    const alarms = Object.fromEntries(ofType("aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => [r.inputs.name, r.inputs]));
    expect(alarms["prod-logs-boardroom-backup-uploads-missed-run-P1"].actionsEnabled).toBe(false);
    expect(alarms["prod-logs-crm-backup-uploads-host-10-0-0-7-missed-run-P1"].actionsEnabled).toBe(false);
    expect(alarms["prod-logs-boardroom-backup-app-files-missed-run-P1"].actionsEnabled).toBe(true);
    expect(alarms["prod-logs-crm-backup-config-host-10-0-0-7-missed-run-P1"].actionsEnabled).toBe(true);
    // A paused backup's alarm counts every period as a backup (its watch start is the end of time), so
    // it sits OK while paused and a resumed backup that does not run changes its state and pages.
    const gate = (name: string) => (alarms[name].metricQueries as { id: string; expression?: string }[]).find((q) => q.id === "watched")!.expression;
    const never = Date.parse(PAUSED_WATCH_START) / 1000;
    expect(gate("prod-logs-boardroom-backup-uploads-missed-run-P1")).toBe(`IF(EPOCH(backups) < ${never}, 1, FILL(backups, 0))`);
    expect(gate("prod-logs-crm-backup-uploads-host-10-0-0-7-missed-run-P1")).toBe(`IF(EPOCH(backups) < ${never}, 1, FILL(backups, 0))`);
    expect(gate("prod-logs-boardroom-backup-app-files-missed-run-P1")).toBe(`IF(EPOCH(backups) < ${Date.parse(MOCK_CREATION_DATE) / 1000}, 1, FILL(backups, 0))`);
    expect(alarms["prod-logs-boardroom-backup-uploads-missed-run-P1"].alarmDescription).toMatch(/^\[P1\] \(paused: notifies nobody until the job is resumed\) \(sits OK while paused; once resumed it is watched from the `pulumi up` that resumes it/);
  });
});
