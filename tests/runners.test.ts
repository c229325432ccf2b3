/**
 * The runner of each database task follows from its promise: a restore drill whose RTO plus checks
 * is longer than Lambda's 15 minutes runs on Fargate without being asked, a backup too big for
 * Lambda too; an explicit runner cannot pick Lambda for a promise Lambda cannot keep, and Fargate
 * without a network is refused, each with the key path and the figure.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { ALERTING } from "./helpers/alerting";
import type { RecordedResource } from "../plan/mocks";
import { runPlan } from "../plan/run";
import { validateRegime } from "../regime/load";
import { abortDaysAfter, databaseRunners, drillMinutes, vaultAbortIncompleteUploadDays } from "../regime/runners";
import { declaredFromRegime } from "../components/promises";
import { evaluatePromises } from "../regime/promises";

const ROOT = join(__dirname, "..");
const NS = "maintenance-regime";
const NET = { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] };
const db = (over: Record<string, unknown> = {}) => ({ id: "app", secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf", ...over });
const regime = (d: Record<string, unknown>) => validateRegime({ name: "prod", databases: [d] });
const runners = (d: Record<string, unknown>) => databaseRunners(regime(d).databases[0], "databases[0]");
const refusal = (d: Record<string, unknown>) => {
  try {
    regime(d);
    return "accepted";
  } catch (err) {
    return (err as Error).message;
  }
};

describe("runner of each database task", () => {
  it("a drill with rtoMinutes 60 runs on Fargate (60 + 2 = 62 minutes), its backup stays on Lambda", () => {
    expect(runners(db({ network: NET, restoreDrill: { rtoMinutes: 60 } }))).toEqual({ backup: "lambda", drill: "fargate", drillMinutes: 62 });
  });

  it("Lambda keeps drills that fit its 15 minutes with their checks, and no more", () => {
    expect(runners(db({ restoreDrill: { rtoMinutes: 13 } }))).toEqual({ backup: "lambda", drill: "lambda", drillMinutes: 15 });
    expect(runners(db({ network: NET, restoreDrill: { rtoMinutes: 14 } })).drill).toBe("fargate");
    // One check may take 5 minutes (its statement timeout): rtoMinutes 8 + 5 + 2 = 15.
    expect(runners(db({ restoreDrill: { rtoMinutes: 8, checks: [{ sql: "SELECT 1" }] } })).drill).toBe("lambda");
    expect(runners(db({ network: NET, restoreDrill: { rtoMinutes: 9, checks: [{ sql: "SELECT 1" }] } })).drill).toBe("fargate");
    expect(drillMinutes({ rtoMinutes: 30, checks: [{ sql: "a" }, { sql: "b" }, { sql: "c" }] } as never)).toBe(47);
  });

  it("a database whose backup is expected past 720 s (20 GB: 1707 s at 12 MB/s) backs up, verifies and drills on Fargate; an explicit fargate is kept", () => {
    expect(runners(db({ sizeGb: 20, network: NET, restoreDrill: { rtoMinutes: 5 } }))).toEqual({ backup: "fargate", drill: "fargate", drillMinutes: 7 });
    expect(runners(db({ network: NET, backup: { runner: "fargate" } }))).toEqual({ backup: "fargate" });
    expect(runners(db({ network: NET, restoreDrill: { rtoMinutes: 5, runner: "fargate" } })).drill).toBe("fargate");
  });

  it("an explicit lambda for a promise Lambda cannot keep is refused with the key path and the figure", () => {
    expect(refusal(db({ network: NET, restoreDrill: { rtoMinutes: 60, runner: "lambda" } }))).toBe(
      "databases[0].restoreDrill.runner: lambda stops a run at 15 minutes and the drill may need rtoMinutes 60 + 0 checks x 5 min + 2 min = 62 min; use fargate or leave it unset",
    );
    expect(refusal(db({ network: NET, restoreDrill: { rtoMinutes: 10, checks: [{ sql: "SELECT 1" }], runner: "lambda" } }))).toMatch(
      /^databases\[0\]\.restoreDrill\.runner: .* = 17 min; use fargate/,
    );
    expect(refusal(db({ sizeGb: 50, network: NET, backup: { runner: "lambda" } }))).toBe(
      "databases[0].backup.runner: lambda cannot dump 50 GB (sizeGb) in time: expected 4267 s (50 GB at 12 MB/s) > 720 s, the duration alarm's threshold (80 % of Lambda's 900 s); use fargate or leave it unset",
    );
    expect(refusal(db({ sizeGb: 50, network: NET, backup: { runner: "fargate" }, restoreDrill: { rtoMinutes: 5, runner: "lambda" } }))).toMatch(
      /^databases\[0\]\.restoreDrill\.runner: lambda cannot restore 50 GB/,
    );
    // Where Lambda can keep the promise, an explicit lambda is accepted.
    expect(refusal(db({ restoreDrill: { rtoMinutes: 10, runner: "lambda" } }))).toBe("accepted");
  });

  it("a drill or backup on Fargate without a network is refused at databases[i].network", () => {
    expect(refusal(db({ restoreDrill: { rtoMinutes: 60 } }))).toBe(
      "databases[0].network: the restore drill runs on Fargate (rtoMinutes 60 + 0 checks x 5 min + 2 min = 62 min, over Lambda's 15) and Fargate tasks need subnets and security groups; set network",
    );
    expect(refusal(db({ restoreDrill: { rtoMinutes: 5, runner: "fargate" } }))).toMatch(/^databases\[0\]\.network: the restore drill runs on Fargate \(restoreDrill\.runner: fargate\)/);
    expect(refusal(db({ sizeGb: 11 }))).toBe(
      "databases[0].network: backups run on Fargate (sizeGb 11: expected 939 s (11 GB at 12 MB/s) > 720 s, the duration alarm's threshold (80 % of Lambda's 900 s)) and Fargate tasks need subnets and security groups; set network",
    );
    // The second database is named by its index.
    expect(() => validateRegime({ name: "prod", databases: [db(), db({ id: "big", restoreDrill: {} })] })).toThrow(/^databases\[1\]\.network: the restore drill runs on Fargate/);
  });
});

describe("the prod regime's quarterly drill (rtoMinutes 60) under the offline plan", () => {
  let resources: RecordedResource[];
  beforeAll(async () => {
    const doc = YAML.parse(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
    const file = join(mkdtempSync(join(tmpdir(), "runners-")), "Pulumi.runners.yaml");
    writeFileSync(file, YAML.stringify(doc));
    ({ resources } = await runPlan({ configFile: file, from: new Date("2026-11-23T00:00:00Z"), root: ROOT }));
  }, 180_000);
  const of = (type: string) => resources.filter((r) => r.type === type).map((r) => r.inputs as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any

  it("runs the drill as a Fargate task in the database's subnets, the backup and verification on Lambda", () => {
    expect(of("aws:ecs/taskDefinition:TaskDefinition").map((t) => t.family)).toEqual(["prod-db-app-restore-drill"]);
    expect(of("aws:ecs/cluster:Cluster").map((c) => c.name)).toEqual(["prod-tasks"]);
    const fns = of("aws:lambda/function:Function").map((f) => f.name);
    expect(fns).toContain("prod-db-app-backup");
    expect(fns).toContain("prod-db-app-verify-backup");
    expect(fns).not.toContain("prod-db-app-restore-drill");
    const s = of("aws:scheduler/schedule:Schedule").find((x) => x.name === "prod-db-app-restore-drill")!;
    expect(s.target.ecsParameters).toMatchObject({ launchType: "FARGATE", networkConfiguration: { subnets: ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"], assignPublicIp: false } });
  });

  it("a 20-minute restore is inside the drill's run: its duration alarm warns only past 80 % of 67 minutes (60 + one check's 5 + 2)", () => {
    const a = of("aws:cloudwatch/metricAlarm:MetricAlarm").find((x) => x.name === "prod-db-app-restore-drill-duration-P3")!;
    expect([a.metricName, a.threshold]).toEqual(["TaskDuration", Math.floor(67 * 60 * 1000 * 0.8)]);
    expect(a.threshold).toBeGreaterThan(20 * 60 * 1000);
  });
});

describe("the backup vault aborts an unfinished upload only after the slowest backup it holds could have ended", () => {
  const days = (...dbs: Record<string, unknown>[]) => vaultAbortIncompleteUploadDays(validateRegime({ name: "prod", databases: dbs }).databases);

  it("one more whole day than the slowest run that pages nobody (S3 may abort exactly N days after the upload starts): Lambda and 300 GB 1 day, 900 GB (34.1 h) 2, 1500 GB (56.9 h) 3", () => {
    expect(days(db())).toBe(1);
    expect(days(db({ sizeGb: 300, network: NET }))).toBe(1);
    expect(days(db({ sizeGb: 900, network: NET }))).toBe(2);
    expect(days(db({ sizeGb: 1500, network: NET }))).toBe(3);
    // Shared by every database in the vault: the slowest decides.
    expect(days(db(), db({ id: "big", sizeGb: 1500, network: NET }), db({ id: "mid", sizeGb: 900, network: NET }))).toBe(3);
    expect(abortDaysAfter(86_399)).toBe(1);
    expect(abortDaysAfter(86_400)).toBe(2);
  });

  it("the plan of a 1500 GB weekly backup beside a small one: the lifecycle aborts after 3 days, and both backups' runs are held against it", async () => {
    const doc = {
      config: {
        "aws:region": "us-east-1",
        [`${NS}:name`]: "rt",
        [`${NS}:alerting`]: ALERTING,
        [`${NS}:timezone`]: "UTC",
        [`${NS}:databases`]: [
          db({ id: "big", sizeGb: 1500, network: NET, backup: { schedule: "weekly on Sunday at 23:30", rpoHours: 240, retention: { daily: 30, weekly: 90, monthly: 90 } }, verify: { schedule: "weekly on Wednesday at 12:00", maxAgeHours: 240 } }),
          db({ id: "small" }),
        ],
      },
    };
    const file = join(mkdtempSync(join(tmpdir(), "runners-")), "Pulumi.abort.yaml");
    writeFileSync(file, YAML.stringify(doc));
    const { plan, resources } = await runPlan({ configFile: file, from: new Date("2026-12-01T00:00:00Z"), root: ROOT });
    const lifecycle = resources.find((r) => r.type === "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration" && r.name === "rt-backups-lifecycle")!.inputs as { rules: { abortIncompleteMultipartUpload?: unknown }[] };
    expect(lifecycle.rules.filter((r) => r.abortIncompleteMultipartUpload).map((r) => r.abortIncompleteMultipartUpload)).toEqual([{ daysAfterInitiation: 3 }]);
    const rows = plan.promises!.items.filter((p) => p.promise === "a backup's upload is not aborted before its slowest run ends").map((p) => `${p.status} ${p.key}: ${p.figure}`);
    expect(rows).toEqual([
      "held databases[big].backup.runner: slowest run 56.9 h (its duration alarm's threshold) < 3 days, the earliest the backup vault aborts an unfinished upload",
      "held databases[small].backup.runner: slowest run 12 min (its limit) < 3 days, the earliest the backup vault aborts an unfinished upload",
    ]);
  }, 180_000);

  it("the engine reports a vault that aborts sooner (the former 1 day against 56.9 h) as unkept by the program, with the figure", () => {
    const d = declaredFromRegime(validateRegime({ name: "rt", timezone: "UTC", databases: [db({ sizeGb: 1500, network: NET, backup: { schedule: "weekly on Sunday at 23:30", rpoHours: 240 }, verify: { schedule: "weekly on Wednesday at 12:00", maxAgeHours: 240 } })] }));
    d.databases[0].abortIncompleteUploadDays = 1;
    const p = evaluatePromises(d, new Date("2026-12-01T00:00:00Z")).promises.find((x) => x.promise === "a backup's upload is not aborted before its slowest run ends")!;
    expect([p.status, p.key, p.detail]).toEqual([
      "unkept",
      "databases[app].backup.runner",
      "a backup of 1500 GB may run 56.9 h without paging, and the backup vault's lifecycle aborts an upload still unfinished 1 day after it started: that backup is lost and the run fails",
    ]);
  });
});
