/**
 * IAM policy documents hold only tab, LF, CR and U+0020-U+00FF (IAM User Guide, "IAM and AWS STS
 * quotas"). A config value that lands in a policy is refused on its key when it holds anything else;
 * the plan refuses any recorded policy document (role, managed, bucket, key, topic, queue) that does.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { ALERTING } from "./helpers/alerting";
import { runPlan } from "../plan/run";
import { auditNamesAndPolicies } from "../plan/resource-audit";
import type { RecordedResource } from "../plan/mocks";

const NS = "maintenance-regime";
const FROM = new Date("2026-12-01T00:00:00Z");

function withIamUser(user: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "policy-characters-")), "Pulumi.rt.yaml");
  const db = { id: "app", iamAuth: { host: "app.cluster-abc.us-east-1.rds.amazonaws.com", user, database: "app", resourceId: "db-ABCDEFGHIJKL" } };
  writeFileSync(file, YAML.stringify({ config: { [`${NS}:name`]: "rt", [`${NS}:alerting`]: ALERTING, [`${NS}:databases`]: [db] } }));
  return file;
}

describe("a database user outside IAM's characters (iamAuth.user, named in the rds-db:connect grant)", () => {
  it("Cyrillic резервист is refused on its key, with the characters IAM would refuse", async () => {
    await expect(runPlan({ configFile: withIamUser("резервист"), from: FROM })).rejects.toThrow(
      'config error: databases[0].iamAuth.user: holds "р" (U+0440), "е" (U+0435), "з" (U+0437), "в" (U+0432), "и" (U+0438) and 2 more, outside what IAM takes in a policy (tab, LF, CR and U+0020-U+00FF: Latin-1); the rds-db:connect grant names this user',
    );
  }, 120_000);

  it("Latin-1 sauvegarde_é plans, and the backup and verify roles name it", async () => {
    const { resources } = await runPlan({ configFile: withIamUser("sauvegarde_é"), from: FROM });
    const grants = resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && String(r.inputs.policy).includes("rds-db:connect"));
    expect(grants.length).toBeGreaterThanOrEqual(2);
    for (const g of grants) expect(String(g.inputs.policy)).toContain("dbuser:db-ABCDEFGHIJKL/sauvegarde_é");
  }, 120_000);
});

describe("the plan's audit of every recorded policy document", () => {
  const res = (type: string, name: string, inputs: Record<string, unknown>, parent = "rt-db-app-backup"): RecordedResource => ({ type, name, custom: true, parent, inputs });
  const policy = (resource: string) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["rds-db:connect"], Resource: [resource] }] });

  it("refuses a role policy, bucket policy and queue policy holding a character outside Latin-1, naming the key of the component", () => {
    const component = (type: string, name: string, parent: string): RecordedResource => ({ type, name, custom: false, parent, inputs: {} });
    const lines = auditNamesAndPolicies([
      component("regime:index:MaintenanceRegime", "rt", ""),
      component("regime:backup:BackupVault", "rt-backups", "rt"),
      component("regime:database:DatabaseMaintenance", "rt-db-app", "rt"),
      component("regime:task:ScheduledTask", "rt-db-app-backup", "rt-db-app"),
      res("aws:lambda/function:Function", "rt-db-app-backup", { name: "rt-db-app-backup", tags: { Database: "app" } }),
      res("aws:iam/rolePolicy:RolePolicy", "rt-db-app-backup-role", { policy: policy("arn:aws:rds-db:us-east-1:123456789012:dbuser:db-X/резервист") }),
      res("aws:s3/bucketPolicy:BucketPolicy", "rt-backups-policy", { policy: policy("arn:aws:s3:::rt-backups/日次/*") }, "rt-backups"),
      res("aws:sqs/queuePolicy:QueuePolicy", "q", { policy: policy("arn:aws:sqs:us-east-1:123456789012:q\u2028") }, "rt-backups"),
    ]);
    expect(lines).toEqual([
      'databases[app]: the policy of aws:iam/rolePolicy:RolePolicy rt-db-app-backup-role holds "р" (U+0440), "е" (U+0435), "з" (U+0437), "в" (U+0432), "и" (U+0438) and 2 more, outside what IAM takes in a policy (tab, LF, CR and U+0020-U+00FF: Latin-1): AWS refuses it at deploy',
      'backupVault: the policy of aws:s3/bucketPolicy:BucketPolicy rt-backups-policy holds "日" (U+65E5), "次" (U+6B21), outside what IAM takes in a policy (tab, LF, CR and U+0020-U+00FF: Latin-1): AWS refuses it at deploy',
      'backupVault: the policy of aws:sqs/queuePolicy:QueuePolicy q holds "\u2028" (U+2028), outside what IAM takes in a policy (tab, LF, CR and U+0020-U+00FF: Latin-1): AWS refuses it at deploy',
    ]);
  });

  it("accepts Latin-1 (é, ß, ÿ) and the tab, LF and CR IAM allows", () => {
    expect(auditNamesAndPolicies([res("aws:iam/policy:Policy", "p", { policy: policy("arn:aws:rds-db:us-east-1:123456789012:dbuser:db-X/sauvegarde_éßÿ\t\n\r") })])).toEqual([]);
  });
});
