/**
 * What a bucket holds under a name no longer configured still expires. A database, log set or file
 * backup removed or renamed takes its own lifecycle rules with it on the next `pulumi up`; what it
 * stored is then expired by a catch-all rule (a tier root of the backup vault, the whole log archive
 * bucket or its `files/`) after the longest configured days. Planned offline (the program under Pulumi
 * mocks): the lifecycle configurations as the program declares them, read with S3's selection
 * (regime/retention.ts keptFor: among the enabled rules whose prefix matches a key, the shortest
 * expiration wins), the plan's promise and the pull-request diff.
 *
 * The S3-compatible server the other tests start (s3rver) answers PutBucketLifecycleConfiguration with
 * NotImplemented, so whether S3 accepts the overlapping configuration is not tried against a server here.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { RecordedResource } from "../plan/mocks";
import type { Plan } from "../plan/run";
import { runPlan } from "../plan/run";
import { diffPlans } from "../plan/diff";
import { keptFor, type LifecycleRuleInput } from "../regime/retention";
import { backupKeys, TIERS } from "../tasks/lib/tiers";

const ROOT = join(__dirname, "..");
const NS = "maintenance-regime";
const FROM = new Date("2026-12-01T00:00:00Z");
const AT = new Date("2026-11-01T07:00:00.123Z");
const LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration";

type Doc = { config: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Plans `source` changed by `change`, written as stack `stack`. */
async function plan(source: string, stack: string, change: (doc: Doc) => void = () => {}): Promise<{ plan: Plan; resources: RecordedResource[] }> {
  const doc = YAML.parse(readFileSync(join(ROOT, source), "utf8")) as Doc;
  change(doc);
  const file = join(mkdtempSync(join(tmpdir(), "removed-names-")), `Pulumi.${stack}.yaml`);
  writeFileSync(file, YAML.stringify(doc));
  const { plan: p, resources } = await runPlan({ configFile: file, from: FROM, root: ROOT });
  return { plan: p, resources };
}

const rulesOf = (resources: RecordedResource[], name: string): LifecycleRuleInput[] => {
  const found = resources.filter((r) => r.type === LIFECYCLE && r.name === name);
  expect(found).toHaveLength(1);
  return found[0].inputs.rules as LifecycleRuleInput[];
};

/** Days readable and days as an old version of every backup key (dump and manifest) of `db` in each tier. */
const backupsKept = (rules: LifecycleRuleInput[], db: string) =>
  Object.fromEntries(
    TIERS.map((tier) => {
      const kept = Object.values(backupKeys("", tier, db, AT)).map((key) => keptFor(rules, key));
      expect(kept[1]).toEqual(kept[0]);
      return [tier, [kept[0].readableDays, kept[0].noncurrentDays]];
    }),
  );

const withCrm = (retention: Record<string, number>, paused = false) => (doc: Doc) => {
  const dbs = doc.config[`${NS}:databases`];
  dbs.push({ ...structuredClone(dbs[0]), id: "crm", rdsInstanceId: "prod-crm" });
  dbs[1].backup.retention = retention;
  if (paused) {
    dbs[0].backup.paused = true;
    dbs[0].verify.paused = true;
  }
};

const promise = (p: Plan, key: string) => p.promises!.items.filter((x) => x.key === key && x.promise.endsWith("no longer configured expire"));
const section = (md: string, title: string) => md.split(`### ${title}`)[1]?.split("\n### ")[0] ?? "";

let prod: Awaited<ReturnType<typeof plan>>;
let two: Awaited<ReturnType<typeof plan>>;
let pausedTwo: Awaited<ReturnType<typeof plan>>;
let none: Awaited<ReturnType<typeof plan>>;

beforeAll(async () => {
  prod = await plan("Pulumi.prod.yaml", "prod");
  // crm keeps daily backups shorter, weekly and monthly ones longer than app (30, 90, 365).
  two = await plan("Pulumi.prod.yaml", "prod", withCrm({ daily: 14, weekly: 120, monthly: 400 }));
  pausedTwo = await plan("Pulumi.prod.yaml", "prod", withCrm({ daily: 14, weekly: 120, monthly: 400 }, true));
  none = await plan("Pulumi.prod.yaml", "prod", (doc) => {
    doc.config[`${NS}:databases`] = [];
  });
}, 240_000);

describe("the backup vault: backups of a database no longer configured expire", () => {
  it("prod: one catch-all rule per tier root with the tier's days, its old versions expired as the tier's are", () => {
    const catchAlls = rulesOf(prod.resources, "prod-backups-lifecycle")
      .filter((r) => r.id.startsWith("catch-all."))
      .map((r) => [r.id, r.status, r.filter?.prefix, r.expiration?.days, r.noncurrentVersionExpiration?.noncurrentDays]);
    expect(catchAlls).toEqual([
      ["catch-all.daily", "Enabled", "daily/", 30, 7],
      ["catch-all.weekly", "Enabled", "weekly/", 90, 7],
      ["catch-all.monthly", "Enabled", "monthly/", 365, 7],
      // The drill records of a removed database (drills/<db>/), after the longest of the databases' own.
      ["catch-all.drills", "Enabled", "drills/", 365, 7],
    ]);
    // A database removed (or renamed from) `old`: its backups expire like app's, nothing is kept forever.
    expect(backupsKept(rulesOf(prod.resources, "prod-backups-lifecycle"), "old")).toEqual({ daily: [30, 7], weekly: [90, 7], monthly: [365, 7] });
  });

  it("two databases of different retentions: a removed one's backups expire after each tier's longest days; each configured one keeps exactly its own", () => {
    const rules = rulesOf(two.resources, "prod-backups-lifecycle");
    expect(backupsKept(rules, "old")).toEqual({ daily: [30, 7], weekly: [120, 7], monthly: [400, 7] });
    // S3 honours the shortest of overlapping expirations: the catch-all takes no day from a configured database.
    expect(backupsKept(rules, "app")).toEqual({ daily: [30, 7], weekly: [90, 7], monthly: [365, 7] });
    expect(backupsKept(rules, "crm")).toEqual({ daily: [14, 7], weekly: [120, 7], monthly: [400, 7] });
    // A database whose id starts like a configured one's is not covered by that one's rule.
    expect(backupsKept(rules, "crm-old")).toEqual({ daily: [30, 7], weekly: [120, 7], monthly: [400, 7] });
    expect(keptFor(rules, "daily/crm-old/20261101T070000123Z.dump").rules).toEqual(["catch-all.daily", "whole-bucket-housekeeping"]);
  });

  it("the plan promises it: the days of each tier root and the old versions' days", () => {
    expect(promise(prod.plan, "databases").map((p) => [p.promise, p.figure, p.status])).toEqual([
      ["backups of a database no longer configured expire", "daily/ 30 days, weekly/ 90 days, monthly/ 365 days, drills/ 365 days (the longest configured), then 7 more as an old version", "held"],
    ]);
    expect(promise(two.plan, "databases").map((p) => [p.figure, p.value])).toEqual([["daily/ 30 days, weekly/ 120 days, monthly/ 400 days, drills/ 400 days (the longest configured), then 7 more as an old version", 400]]);
  });

  it("while a backup is paused the catch-alls are Disabled (they would expire the paused backups), and the promise says paused with the days once it resumes", () => {
    const rules = rulesOf(pausedTwo.resources, "prod-backups-lifecycle");
    expect(rules.filter((r) => r.id.startsWith("catch-all.")).map((r) => r.status)).toEqual(["Disabled", "Disabled", "Disabled", "Disabled"]);
    expect(backupsKept(rules, "app")).toEqual({ daily: [undefined, undefined], weekly: [undefined, undefined], monthly: [undefined, undefined] });
    expect(promise(pausedTwo.plan, "databases").map((p) => [p.figure, p.status])).toEqual([
      [
        "kept while databases[app].backup.paused is paused (the catch-all rules are Disabled with its rules: an S3 filter cannot leave a paused prefix out), then daily/ 30 days, weekly/ 120 days, monthly/ 400 days, drills/ 400 days (the longest configured), then 7 more as an old version",
        "paused",
      ],
    ]);
  });
});

describe("the pull-request diff says where a removed database's backups go", () => {
  const RUN = "S3's first lifecycle run after `pulumi up`";

  it("one of two removed: the tiers whose days the catch-all rules cut are deleted sooner, at the top; the rest is listed with the days that now apply", () => {
    const md = diffPlans(two.plan, prod.plan);
    // crm kept weekly 120 and monthly 400 days; the catch-alls now keep app's 90 and 365.
    expect(section(md, "Stored data deleted sooner than before").split("\n").filter((l) => l.startsWith("- "))).toEqual([
      `- \`databases[crm]\` removed: its weekly backups under \`weekly/crm/\` (\`databases[crm].backup.retention.weekly\`) now expire by the catch-all rules: kept 120 → 90 days, then 7 days more as an old version. What is older than 90 days goes on ${RUN}, unrecoverable 7 days later.`,
      `- \`databases[crm]\` removed: its monthly backups under \`monthly/crm/\` (\`databases[crm].backup.retention.monthly\`) now expire by the catch-all rules: kept 400 → 365 days, then 7 days more as an old version. What is older than 365 days goes on ${RUN}, unrecoverable 7 days later.`,
      `- \`databases[crm]\` removed: its restore-drill records under \`drills/crm/\` now expire by the catch-all rules: kept 400 → 365 days, then 7 days more as an old version. What is older than 365 days goes on ${RUN}, unrecoverable 7 days later.`,
      `- \`databases\` catch-all rule \`catch-all.weekly\`: the backups of databases no longer configured (if any are stored) under \`weekly/\`: kept 120 → 90 days, then 7 days more as an old version. What is older than 90 days goes on ${RUN}, unrecoverable 7 days later.`,
      `- \`databases\` catch-all rule \`catch-all.monthly\`: the backups of databases no longer configured (if any are stored) under \`monthly/\`: kept 400 → 365 days, then 7 days more as an old version. What is older than 365 days goes on ${RUN}, unrecoverable 7 days later.`,
      `- \`databases\` catch-all rule \`catch-all.drills\`: the restore-drill records of databases no longer configured (if any are stored) under \`drills/\`: kept 400 → 365 days, then 7 days more as an old version. What is older than 365 days goes on ${RUN}, unrecoverable 7 days later.`,
    ]);
    expect(section(md, "Stored data of removed config items").trim()).toBe(
      "- `databases[crm]` removed: what it stored now expires by the catch-all rules (its daily backups under `daily/crm/` 14 → 30 days; then 7 days more as an old version)",
    );
    // Added back, nothing is removed or deleted sooner: no such section.
    expect(diffPlans(prod.plan, two.plan)).not.toContain("Stored data of removed config items");
    expect(diffPlans(prod.plan, two.plan)).not.toContain("deleted sooner");
  });

  it("renamed (crm to sales): the old name's backups expire by the catch-all rules; nothing is said of a database added", async () => {
    const renamed = await plan("Pulumi.prod.yaml", "prod", (doc) => {
      withCrm({ daily: 14, weekly: 120, monthly: 400 })(doc);
      doc.config[`${NS}:databases`][1].id = "sales";
    });
    const md = diffPlans(two.plan, renamed.plan);
    expect(section(md, "Stored data of removed config items").trim().split("\n")).toEqual([
      "- `databases[crm]` removed: what it stored now expires by the catch-all rules (its daily backups under `daily/crm/` 14 → 30 days, its weekly backups under `weekly/crm/` 120 days, its monthly backups under `monthly/crm/` 400 days, its restore-drill records under `drills/crm/` 400 days; then 7 days more as an old version)",
    ]);
    expect(md).not.toContain("deleted sooner");
  }, 120_000);

  it("the last database removed: the vault leaves the program and its lifecycle configuration stays on the bucket unchanged", () => {
    expect(none.resources.filter((r) => r.type === LIFECYCLE && r.name === "prod-backups-lifecycle")).toEqual([]);
    const md = diffPlans(prod.plan, none.plan);
    expect(section(md, "Stored data of removed config items").trim()).toBe(
      "- `databases[app]` removed, and its bucket leaves the program: its lifecycle configuration stays on the bucket unchanged, so what it stored expires as before (its daily backups under `daily/app/` 30 days, its weekly backups under `weekly/app/` 90 days, its monthly backups under `monthly/app/` 365 days, its restore-drill records under `drills/app/` 365 days; then 7 days more as an old version)",
    );
    expect(md).not.toContain("deleted sooner");
  });

  it("app's backup resumed: its tiers, its drill records and the catch-alls Disabled with them expire again, with the backup to run by hand", () => {
    const got = section(diffPlans(pausedTwo.plan, two.plan), "Stored data deleted sooner than before").split("\n").filter((l) => l.startsWith("- "));
    expect(got.map((l) => l.split(":")[0])).toEqual([
      "- `databases[app].backup.retention.daily` resumes (rule `daily-app` Disabled → Enabled)",
      "- `databases[app].backup.retention.weekly` resumes (rule `weekly-app` Disabled → Enabled)",
      "- `databases[app].backup.retention.monthly` resumes (rule `monthly-app` Disabled → Enabled)",
      "- `databases[app]` resumes (rule `drills-app` Disabled → Enabled)",
      "- `databases` catch-all rule `catch-all.daily` resumes (Disabled → Enabled)",
      "- `databases` catch-all rule `catch-all.weekly` resumes (Disabled → Enabled)",
      "- `databases` catch-all rule `catch-all.monthly` resumes (Disabled → Enabled)",
      "- `databases` catch-all rule `catch-all.drills` resumes (Disabled → Enabled)",
    ]);
    expect(got[2]).toBe(
      "- `databases[app].backup.retention.monthly` resumes (rule `monthly-app` Disabled → Enabled): its monthly backups under `monthly/app/`: kept no expiry → 365 days, then no expiry → 7 days more as an old version. " +
        `What is older than 365 days goes on ${RUN}, unrecoverable 7 days later; old versions older than 7 days go for good on that run. ` +
        "That run can come before the first new backup is uploaded: run the backup by hand as it resumes (`pulumi stack output runNow --json | jq -r '.\"app/backup\"' | sh`).",
    );
    // crm was never paused: nothing of it is listed.
    expect(got.some((l) => l.includes("crm"))).toBe(false);
  });

  it("a base plan without lifecycle rules (older plans): the removed database is named from the promises, as before", () => {
    const md = diffPlans({ ...two.plan, lifecycle: undefined }, prod.plan);
    expect(section(md, "Stored data of removed config items").trim()).toBe(
      "- `databases[crm]` removed: its backups expire by the catch-all rules (daily/ 30 days, weekly/ 90 days, monthly/ 365 days, drills/ 365 days (the longest configured), then 7 more as an old version)",
    );
    expect(md).not.toContain("Stored data deleted sooner than before");
  });
});

describe("the log archive: archives of a log set or file backup no longer configured expire", () => {
  const BOARDROOM = "examples/boardroom-ai/Pulumi.boardroom-ai.yaml";
  let boardroom: Awaited<ReturnType<typeof plan>>;
  let more: Awaited<ReturnType<typeof plan>>;

  beforeAll(async () => {
    boardroom = await plan(BOARDROOM, "boardroom-ai");
    // A second file backup (60 days), a second archived log set (400 days) and a log set that does not archive.
    more = await plan(BOARDROOM, "boardroom-ai", (doc) => {
      const g = doc.config[`${NS}:logs`].hostGroups[0];
      g.fileBackups.push({ name: "old-files", paths: ["old"], retentionDays: 60 });
      g.logSets.push({ ...structuredClone(g.logSets[0]), name: "old-logs", paths: ["logs/old/*.jsonl"], archive: { expireDays: 400 } });
      g.logSets.push({ name: "plain", paths: ["logs/plain/*.log"], frequency: "daily", keep: 7, copytruncate: true });
    });
  }, 240_000);

  const archive = (p: Awaited<ReturnType<typeof plan>>) => rulesOf(p.resources, "boardroom-logs-archive-lifecycle");

  it("a whole-bucket catch-all with the longest days of all, and one for files/ with the longest file backup's", () => {
    expect(
      archive(boardroom)
        .filter((r) => r.id.startsWith("catch-all."))
        .map((r) => [r.id, r.status, r.filter?.prefix, r.expiration?.days, r.noncurrentVersionExpiration?.noncurrentDays]),
    ).toEqual([
      ["catch-all.bucket", "Enabled", "", 365, 1],
      ["catch-all.files", "Enabled", "files/", 30, 1],
    ]);
    const rules = archive(more);
    const kept = (key: string) => {
      const k = keptFor(rules, key);
      return [k.readableDays, k.noncurrentDays];
    };
    // Removed: a log set's archives after the longest archive days, a file backup's after the longest file backup's.
    expect(kept("app/gone/app-1/home/app/logs/x.jsonl-20261101.gz")).toEqual([400, 1]);
    expect(kept("files/app/gone/app-1/20261101T030000Z.tar.gz")).toEqual([60, 1]);
    expect(kept("files/other-group/app-files/app-1/20261101T030000Z.tar.gz")).toEqual([60, 1]);
    // Configured: each keeps exactly its own days.
    expect(kept("app/boardroom-jsonl/app-1/home/app/logs/x.jsonl-20261101.gz")).toEqual([365, 1]);
    expect(kept("app/old-logs/app-1/home/app/logs/old/x.jsonl-20261101.gz")).toEqual([400, 1]);
    expect(kept("files/app/app-files/app-1/20261101T030000Z.tar.gz")).toEqual([30, 1]);
    expect(kept("files/app/old-files/app-1/20261101T030000Z.tar.gz")).toEqual([60, 1]);
  });

  it("the plan promises it", () => {
    expect(promise(boardroom.plan, "logs.hostGroups").map((p) => [p.promise, p.figure, p.status])).toEqual([
      ["archives of a log set or file backup no longer configured expire", "any other key 365 days, files/ 30 days (the longest configured), then 1 more as an old version", "held"],
    ]);
  });

  it("the diff flags a removed file backup and a removed archived log set whose days the catch-all rules cut, not a removed log set that archived nothing", () => {
    const md = diffPlans(more.plan, boardroom.plan);
    const RUN = "S3's first lifecycle run after `pulumi up`";
    expect(section(md, "Stored data deleted sooner than before").split("\n").filter((l) => l.startsWith("- "))).toEqual([
      `- \`logs.hostGroups[app].logSets[old-logs]\` removed: its archived logs under \`app/old-logs/\` (\`logs.hostGroups[app].logSets[old-logs].archive\`) now expire by the catch-all rules: kept 400 → 365 days, then 1 day more as an old version. What is older than 365 days goes on ${RUN}, unrecoverable 1 day later.`,
      `- \`logs.hostGroups[app].fileBackups[old-files]\` removed: its archives under \`files/app/old-files/\` now expire by the catch-all rules: kept 60 → 30 days, then 1 day more as an old version. What is older than 30 days goes on ${RUN}, unrecoverable 1 day later.`,
      `- \`logs.hostGroups\` catch-all rule \`catch-all.bucket\`: the archives of log sets no longer configured (if any are stored) anywhere in the bucket: kept 400 → 365 days, then 1 day more as an old version. What is older than 365 days goes on ${RUN}, unrecoverable 1 day later.`,
      `- \`logs.hostGroups\` catch-all rule \`catch-all.files\`: the archives of file backups no longer configured (if any are stored) under \`files/\`: kept 60 → 30 days, then 1 day more as an old version. What is older than 30 days goes on ${RUN}, unrecoverable 1 day later.`,
    ]);
    expect(section(md, "Stored data deleted sooner than before")).not.toContain("logSets[plain]");
    // Every removed item's prefix is flagged, so none is left to list as merely removed.
    expect(md).not.toContain("Stored data of removed config items");
  });

  it("a log set that stays but stops archiving, or moves its archive prefix: the diff names the archives left under the old prefix, with the catch-all's days, flagged when they are fewer", async () => {
    const oldLogs = (change: (s: Record<string, any>) => void) => (doc: Doc) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const g = doc.config[`${NS}:logs`].hostGroups[0];
      g.fileBackups.push({ name: "old-files", paths: ["old"], retentionDays: 60 });
      g.logSets.push({ ...structuredClone(g.logSets[0]), name: "old-logs", paths: ["logs/old/*.jsonl"], archive: { expireDays: 400 } });
      g.logSets.push({ name: "plain", paths: ["logs/plain/*.log"], frequency: "daily", keep: 7, copytruncate: true });
      change(g.logSets.find((s: { name: string }) => s.name === "old-logs"));
    };
    const unarchived = await plan(BOARDROOM, "boardroom-ai", oldLogs((s) => delete s.archive));
    const moved = await plan(BOARDROOM, "boardroom-ai", oldLogs((s) => (s.archive.prefix = "app/old-logs-v2/")));
    // The log set is still configured: only its archive rule goes, and what it stored falls to the whole-bucket catch-all (365 days, not 400).
    const md = diffPlans(more.plan, unarchived.plan);
    expect(section(md, "Stored data deleted sooner than before").split("\n").filter((l) => l.startsWith("- "))[0]).toBe(
      "- `logs.hostGroups[app].logSets[old-logs].archive` removed: its archived logs under `app/old-logs/` now expire by the catch-all rules: kept 400 → 365 days, then 1 day more as an old version. What is older than 365 days goes on S3's first lifecycle run after `pulumi up`, unrecoverable 1 day later.",
    );
    // The same days by S3's selection on the head's rules.
    expect(keptFor(archive(unarchived), "app/old-logs/app-1/home/app/logs/old/x.jsonl-20261101.gz").readableDays).toBe(365);
    expect(section(diffPlans(more.plan, moved.plan), "Stored data of removed config items").trim().split("\n")).toEqual([
      "- `logs.hostGroups[app].logSets[old-logs].archive`: prefix `app/old-logs/` changed to `app/old-logs-v2/`: what it stored now expires by the catch-all rules (its archived logs under `app/old-logs/` 400 days; then 1 day more as an old version)",
    ]);
    // Archiving again under the old prefix: nothing lost, no line.
    expect(diffPlans(unarchived.plan, more.plan)).not.toContain("Stored data of removed config items");
    expect(diffPlans(unarchived.plan, more.plan)).not.toContain("deleted sooner");
  }, 240_000);
});
