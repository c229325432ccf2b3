/**
 * A paused backup loses nothing it stored. The prod stack with a second database, `crm`, whose backup
 * runs, and `app`'s backup and verify paused, planned offline (the program under Pulumi mocks): the
 * vault's lifecycle rules of `app` are kept Disabled (expiration and old versions' expiration alike),
 * so S3 keeps every backup and old version under its prefixes, while `crm`'s expire as before; the
 * plan runs, and its promises say so: `app`'s retention promises are paused with the figure of the
 * Disabled rules (the three that vanished while paused are listed), `crm`'s are held as prod's are.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { RecordedResource } from "../plan/mocks";
import { formatPromises, type PlanPromises } from "../plan/promises";
import { runPlan } from "../plan/run";
import { keptFor, type LifecycleRuleInput } from "../regime/retention";
import { backupKeys, TIERS } from "../tasks/lib/tiers";

const ROOT = join(__dirname, "..");
const NS = "maintenance-regime";
const FROM = new Date("2026-12-01T00:00:00Z");

let resources: RecordedResource[];
let promises: PlanPromises;

beforeAll(async () => {
  const doc = YAML.parse(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
  const dbs = doc.config[`${NS}:databases`];
  const crm = { ...structuredClone(dbs[0]), id: "crm", rdsInstanceId: "prod-crm" };
  dbs[0].backup.paused = true;
  dbs[0].verify.paused = true;
  dbs.push(crm);
  const file = join(mkdtempSync(join(tmpdir(), "paused-retention-")), "Pulumi.paused.yaml");
  writeFileSync(file, YAML.stringify(doc));
  const planned = await runPlan({ configFile: file, from: FROM, root: ROOT });
  resources = planned.resources;
  promises = planned.plan.promises!;
}, 180_000);

const vaultRules = (): LifecycleRuleInput[] => {
  const found = resources.filter((r) => r.type === "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration" && r.name === "prod-backups-lifecycle");
  expect(found).toHaveLength(1);
  return found[0].inputs.rules as LifecycleRuleInput[];
};

describe("the vault's lifecycle while a backup is paused", () => {
  it("the paused database's three tier rules and its drill records' rule are kept Disabled, old versions' expiration included; the running one's are Enabled", () => {
    const rules = vaultRules().map((r) => [r.id, r.status, r.filter?.prefix, r.expiration?.days, r.noncurrentVersionExpiration?.noncurrentDays]);
    expect(rules).toEqual([
      ["daily-app", "Disabled", "daily/app/", 30, 7],
      ["weekly-app", "Disabled", "weekly/app/", 90, 7],
      ["monthly-app", "Disabled", "monthly/app/", 365, 7],
      // The drill records name the backups kept: kept with them.
      ["drills-app", "Disabled", "drills/app/", 365, 7],
      ["daily-crm", "Enabled", "daily/crm/", 30, 7],
      ["weekly-crm", "Enabled", "weekly/crm/", 90, 7],
      ["monthly-crm", "Enabled", "monthly/crm/", 365, 7],
      ["drills-crm", "Enabled", "drills/crm/", 365, 7],
      // The catch-alls of the tier roots would expire app's backups too: Disabled while it is paused.
      ["catch-all.daily", "Disabled", "daily/", 30, 7],
      ["catch-all.weekly", "Disabled", "weekly/", 90, 7],
      ["catch-all.monthly", "Disabled", "monthly/", 365, 7],
      ["catch-all.drills", "Disabled", "drills/", 365, 7],
      // Aborts unfinished uploads and removes delete markers left alone: no stored backup.
      ["whole-bucket-housekeeping", "Enabled", "", undefined, undefined],
    ]);
  });

  it("S3 keeps every backup of the paused database, current and old versions, for as long as it is paused; the running one's expire on their days", () => {
    const at = new Date("2026-11-01T07:00:00.123Z");
    const crmDays = { daily: 30, weekly: 90, monthly: 365 };
    for (const tier of TIERS) {
      for (const key of Object.values(backupKeys("", tier, "app", at))) {
        expect({ key, ...keptFor(vaultRules(), key) }).toEqual({ key, readableDays: undefined, noncurrentDays: undefined, rules: ["whole-bucket-housekeeping"] });
      }
      for (const key of Object.values(backupKeys("", tier, "crm", at))) {
        expect({ key, ...keptFor(vaultRules(), key) }).toEqual({ key, readableDays: crmDays[tier], noncurrentDays: 7, rules: [`${tier}-crm`, "whole-bucket-housekeeping"] });
      }
    }
  });
});

describe("the plan's promises for the paused backup", () => {
  it("the plan runs (a refused promise would stop it): nothing broken, nothing unkept", () => {
    expect(promises.items.filter((p) => p.status === "broken" || p.status === "unkept")).toEqual([]);
  });

  it("every retention promise of the paused database is paused with what the Disabled rules do, the three that used to vanish included; none is held", () => {
    const lines = formatPromises(promises).filter((l) => l.includes("databases[app].backup.retention."));
    expect(lines).toEqual([
      "  [paused] databases[app].backup.retention.daily: daily backups kept 30 days: expiry suspended while paused: every copy kept, old versions too",
      "  [paused] databases[app].backup.retention.weekly: weekly backups kept 90 days: expiry suspended while paused: every copy kept, old versions too",
      "  [paused] databases[app].backup.retention.monthly: monthly backups kept 365 days: expiry suspended while paused: every copy kept, old versions too",
      "  [paused] databases[app].backup.retention.weekly: a weekly restore point kept 90 days in every week (from Sunday): no backup written while paused; expiry suspended: every weekly backup stored is kept",
      "  [paused] databases[app].backup.retention.monthly: a monthly restore point kept 365 days in every month: no backup written while paused; expiry suspended: every monthly backup stored is kept",
      "  [paused] databases[app].backup.retention.daily: the newest backup is kept until the next one is uploaded: expiry suspended while paused: the newest backup is kept",
    ]);
    const details = promises.items.filter((p) => p.key.startsWith("databases[app].backup.retention.")).map((p) => p.detail);
    expect(details[0]).toBe(
      "databases[app].backup.schedule is paused: lifecycle rule daily-app is kept Disabled, so nothing under daily/app/ expires until it resumes; resumed: 30 days from the backup's start (S3 dates an upload in parts by its start), rounded up to the next midnight UTC (30 to 31 days), then 7 more as an old version",
    );
    expect(details[3]).toBe(
      'databases[app].backup.schedule is paused: lifecycle rule weekly-app is kept Disabled, so nothing under weekly/app/ expires until it resumes; resumed: "daily at 02:00" writes a backup kept 90 days or more in every week (from Sunday)',
    );
    expect(details[5]).toBe(
      "databases[app].backup.schedule is paused: lifecycle rules daily-app, weekly-app, monthly-app are kept Disabled, so nothing under daily/app/, weekly/app/, monthly/app/ expires until it resumes; resumed: at least 712.8 h of overlap (the next is uploaded at most 24.2 h after a backup starts); when the backup resumes, S3 applies the enabled rules to what is stored: backups older than their tier's days expire within about a day, before the first new backup is uploaded if the pause outlasted them, and stay 7 days as old versions: run the backup by hand as it resumes",
    );
  });

  it("the running database's retention promises are held with the figures prod's have", () => {
    const of = (db: string) =>
      formatPromises(promises)
        .filter((l) => l.includes(`databases[${db}].backup.retention.`))
        .map((l) => l.replace(`databases[${db}]`, "databases[x]"));
    expect(of("crm")).toHaveLength(6);
    expect(of("crm").every((l) => l.startsWith("  [held] "))).toBe(true);
    expect(of("crm").map((l) => l.replace(/^ {2}\[held\] /, ""))).toContain(
      "databases[x].backup.retention.daily: the newest backup is kept until the next one is uploaded: at least 712.8 h of overlap (the next is uploaded at most 24.2 h after a backup starts)",
    );
  });
});
