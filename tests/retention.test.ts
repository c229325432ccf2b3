import { beforeAll, describe, expect, it } from "vitest";
import { settle, setupMocks, type MockResource } from "./helpers/pulumi-mocks";
import { keptFor, type LifecycleRuleInput } from "../regime/retention";
import { backupKeys, TIERS } from "../tasks/lib/tiers";
import { validateRegime } from "../regime/load";

const { resources } = setupMocks();

type VaultMod = typeof import("../components/backup-vault");
let vaultMod: VaultMod;

/** Two databases with the guides' tiers (seed 001: 30/90/365; a short one: 7/28/90), one archived to Glacier IR. */
const DATABASES = [
  { id: "app", retention: { daily: 30, weekly: 90, monthly: 365 }, archive: { afterDays: 30 } },
  { id: "crm", retention: { daily: 7, weekly: 28, monthly: 90 } },
] as const;

const rulesOf = (vault: string): LifecycleRuleInput[] => {
  const found = resources.filter((r: MockResource) => r.type === "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration" && r.name === `${vault}-lifecycle`);
  expect(found).toHaveLength(1);
  return found[0].inputs.rules;
};

beforeAll(async () => {
  vaultMod = await import("../components/backup-vault");
  new vaultMod.BackupVault("prod-backups", {
    retention: DATABASES.flatMap((d) => vaultMod.tierRules(d.id, d.retention, "archive" in d ? { archive: d.archive } : {})),
    noncurrentDays: 7,
  });
  await settle();
});

describe("the backup vault keeps each tier exactly its stated days", () => {
  const at = new Date("2026-11-01T07:00:00.123Z");
  for (const d of DATABASES) {
    for (const tier of TIERS) {
      it(`${d.id} ${tier}: the dump and its manifest are readable ${d.retention[tier]} days, then kept 7 days as noncurrent versions`, () => {
        const keys = backupKeys("", tier, d.id, at);
        for (const key of [keys.dump, keys.manifest]) {
          const kept = keptFor(rulesOf("prod-backups"), key);
          expect({ key, readable: kept.readableDays, noncurrent: kept.noncurrentDays }).toEqual({ key, readable: d.retention[tier], noncurrent: 7 });
        }
      });
    }
  }

  it("every object of the bucket has an expiration (no key outside the tier prefixes is written), delete markers are removed", () => {
    const rules = rulesOf("prod-backups");
    expect(keptFor(rules, "anything/else").readableDays).toBeUndefined();
    expect(rules.find((r) => r.id === "whole-bucket-housekeeping")?.expiration).toEqual({ expiredObjectDeleteMarker: true });
    // The tier rules cover exactly the tier prefixes of each database, and a catch-all each tier root.
    expect(rules.filter((r) => r.expiration?.days !== undefined).map((r) => r.filter?.prefix)).toEqual([...DATABASES.flatMap((d) => TIERS.map((t) => `${t}/${d.id}/`)), ...TIERS.map((t) => `${t}/`)]);
  });

  it("an Object Lock longer than a tier is refused (the locked versions would outlive it), naming the keys", () => {
    expect(
      () =>
        new vaultMod.BackupVault("prod-locked-long", {
          retention: vaultMod.tierRules("crm", { daily: 7, weekly: 28, monthly: 90 }),
          objectLock: { mode: "COMPLIANCE", days: 30 },
        }),
    ).toThrow(new Error("objectLock.days: 30 is longer than retention[0] (daily-crm, 7 days): locked backups could not be removed when their tier expires"));
    const regime = (days: number) => ({
      name: "prod",
      backupVault: { objectLock: { mode: "GOVERNANCE", days } },
      databases: [
        {
          id: "app",
          secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app-AbCdEf",
          network: { subnetIds: ["subnet-1"], securityGroupIds: ["sg-1"] },
          backup: { schedule: "daily at 02:00", retention: { daily: 14, weekly: 60, monthly: 365 } },
        },
      ],
    });
    expect(() => validateRegime(regime(30))).toThrow(
      "backupVault.objectLock.days: 30 is longer than databases[0].backup.retention.daily (14): locked backups could not be removed when their tier expires",
    );
    expect(validateRegime(regime(14)).backupVault.objectLock?.days).toBe(14);
  });
});
