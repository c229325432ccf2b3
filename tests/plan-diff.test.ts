import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { diffPlans, main, truncateMarkdown } from "../plan/diff";
import type { Plan } from "../plan/run";
import type { RecordedResource } from "../plan/mocks";
import { lifecycleOf } from "../plan/config-keys";
import { databaseVaultRules, vaultLifecycleRules } from "../components/backup-vault";
import { archiveLifecycleRules } from "../components/log-archive";
import { archivePrefix } from "../regime/logs";
import { fileBackupPrefix } from "../regime/file-backups";

type Alarm = Plan["alarms"][number];
type Entry = Plan["calendar"][number];

const alarm = (name: string, over: Partial<Alarm> = {}): Alarm => ({
  name,
  severity: "P2",
  metric: "AWS/RDS/CPUUtilization Average",
  condition: "> 80 over 5 min",
  treatMissingData: "missing",
  pages: "prod-alerts-P2",
  description: `${name} fired`,
  ...over,
});

const schedule = (name: string, component: string, expression: string, next: string[], timezone = "America/New_York"): Entry => ({ schedule: name, component, expression, timezone, next });

/** A small regime: one database with backup and vacuum, alert routing, a log archive. */
function basePlan(): Plan {
  return {
    project: "maintenance-regime",
    stack: "prod",
    configFile: "Pulumi.prod.yaml",
    from: "2025-01-06T00:00:00.000Z",
    resourceCount: 7,
    components: [
      {
        component: "prod-alerts",
        type: "regime:alerting:AlertRouting",
        resources: [
          { type: "aws:sns/topic:Topic", name: "prod-alerts-P0" },
          { type: "aws:sns/topic:Topic", name: "prod-alerts-P2" },
        ],
      },
      {
        component: "prod-db-app-backup",
        type: "regime:task:ScheduledTask",
        resources: [
          { type: "aws:lambda/function:Function", name: "prod-db-app-backup" },
          { type: "aws:scheduler/schedule:Schedule", name: "prod-db-app-backup" },
        ],
      },
      {
        component: "prod-db-app-vacuum",
        type: "regime:task:ScheduledTask",
        resources: [
          { type: "aws:lambda/function:Function", name: "prod-db-app-vacuum" },
          { type: "aws:scheduler/schedule:Schedule", name: "prod-db-app-vacuum" },
        ],
      },
      { component: "prod-logs", type: "regime:logs:LogArchive", resources: [{ type: "aws:s3/bucket:Bucket", name: "prod-log-archive" }] },
    ],
    calendar: [
      schedule("prod-db-app-backup", "prod-db-app-backup", "cron(0 2 * * ? *)", ["Mon 2025-01-06 02:00 -05:00", "Tue 2025-01-07 02:00 -05:00", "Wed 2025-01-08 02:00 -05:00"]),
      schedule("prod-db-app-vacuum", "prod-db-app-vacuum", "cron(0 3 ? * WED *)", ["Wed 2025-01-08 03:00 -05:00", "Wed 2025-01-15 03:00 -05:00", "Wed 2025-01-22 03:00 -05:00"]),
    ],
    alarms: [
      alarm("prod-db-app-rpo-P0", { severity: "P0", metric: "MaintenanceRegime/BackupSucceeded Sum", condition: "< 1 over 26 h", treatMissingData: "breaching", pages: "prod-alerts-P0" }),
      alarm("prod-rds-app-cpu-P2"),
    ],
    cost: {
      currency: "USD",
      monthlyTotal: 12.5,
      components: [
        { component: "prod-alerts", monthlyUsd: 1, items: [] },
        { component: "prod-db-app-backup", monthlyUsd: 2.37, items: [] },
        { component: "prod-db-app-vacuum", monthlyUsd: 1.13, items: [] },
        { component: "prod-logs", monthlyUsd: 8, items: [] },
      ],
      assumptions: ["prices: us-east-1 list prices, free tiers ignored"],
    },
    outputs: { backupBucketName: "prod-backups", rpoAlarmNames: ["prod-db-app-rpo-P0"] },
  };
}

const clone = (p: Plan): Plan => structuredClone(p);
const lines = (md: string) => md.split("\n");

/** The Markdown section under `### title`, up to the next one. */
function section(md: string, title: string): string {
  const start = md.indexOf(`### ${title}\n`);
  expect(start, `section "${title}" in:\n${md}`).toBeGreaterThanOrEqual(0);
  const end = md.indexOf("\n### ", start + 4);
  return md.slice(start, end < 0 ? undefined : end);
}

/** A change a reviewer would make: a new database's backup, the vacuum moved, the CPU threshold raised, an alarm dropped. */
function headPlan(): Plan {
  const head = clone(basePlan());
  head.resourceCount = 8;
  head.components.push({
    component: "prod-db-billing-backup",
    type: "regime:task:ScheduledTask",
    resources: [
      { type: "aws:scheduler/schedule:Schedule", name: "prod-db-billing-backup" },
      { type: "aws:lambda/function:Function", name: "prod-db-billing-backup" },
    ],
  });
  head.components = head.components.filter((c) => c.component !== "prod-logs");
  const alerts = head.components.find((c) => c.component === "prod-alerts")!;
  alerts.resources.push({ type: "aws:sns/topic:Topic", name: "prod-alerts-P1" });
  alerts.resources = alerts.resources.filter((r) => r.name !== "prod-alerts-P2");
  head.calendar[1] = schedule("prod-db-app-vacuum", "prod-db-app-vacuum", "cron(0 4 ? * SUN *)", ["Sun 2025-01-12 04:00 +00:00", "Sun 2025-01-19 04:00 +00:00", "Sun 2025-01-26 04:00 +00:00"], "UTC");
  head.calendar.push(schedule("prod-db-billing-backup", "prod-db-billing-backup", "cron(30 1 * * ? *)", ["Mon 2025-01-06 01:30 -05:00", "Tue 2025-01-07 01:30 -05:00", "Wed 2025-01-08 01:30 -05:00"]));
  head.alarms = [
    alarm("prod-db-app-rpo-P0", { severity: "P1", metric: "MaintenanceRegime/BackupSucceeded Sum", condition: "< 1 over 30 h", treatMissingData: "breaching", pages: "prod-alerts-P1" }),
    alarm("prod-db-billing-rpo-P0", { severity: "P0", metric: "MaintenanceRegime/BackupSucceeded Sum", condition: "< 1 over 26 h", treatMissingData: "breaching", pages: "prod-alerts-P0" }),
  ];
  head.cost.components = [
    { component: "prod-alerts", monthlyUsd: 1, items: [] },
    { component: "prod-db-app-backup", monthlyUsd: 2.37, items: [] },
    { component: "prod-db-app-vacuum", monthlyUsd: 1.5, items: [] },
    { component: "prod-db-billing-backup", monthlyUsd: 3.2, items: [] },
  ];
  head.cost.monthlyTotal = 8.07;
  head.outputs = { backupBucketName: "prod-backups", billingBackupArn: "arn" };
  return head;
}

describe("diffPlans", () => {
  it("says there is no change when the plans are the same, and lists no section", () => {
    const md = diffPlans(basePlan(), basePlan());
    expect(md).toContain("**No change to the regime**: 7 resources, 2 schedules, 2 alarms, $12.50 a month.");
    expect(md).not.toContain("###");
    expect(md).toContain("## Offline plan: maintenance-regime / prod");
  });

  it("still says no change when only the order of entries and the reference date differ", () => {
    const head = clone(basePlan());
    head.components.reverse();
    for (const c of head.components) c.resources.reverse();
    head.alarms.reverse();
    head.cost.components.reverse();
    head.from = "2025-02-01T00:00:00.000Z";
    head.calendar = head.calendar.map((s) => ({ ...s, next: ["Sat 2025-02-01 02:00 -05:00"] })).reverse();
    const md = diffPlans(basePlan(), head);
    expect(md).toContain("**No change to the regime**");
    expect(md).toContain("> The plans count next runs from different dates (base 2025-01-06T00:00:00.000Z, head 2025-02-01T00:00:00.000Z).");
  });

  it("heads the diff with the counts a reviewer reads first", () => {
    const md = diffPlans(basePlan(), headPlan());
    expect(lines(md)).toContain("**Resources** 7 → 8 (+1) · **Schedules** +1 -0 ~1 · **Alarms** +1 -1 ~1 · **Monthly cost** $12.50 → $8.07 (-$4.43)");
    expect(md).not.toContain("No change to the regime");
  });

  it("lists resources added and removed per component, new and removed components marked", () => {
    const s = section(diffPlans(basePlan(), headPlan()), "Resources by component");
    expect(s).toContain(
      [
        "**`prod-alerts` (regime:alerting:AlertRouting): changed, +1 -1**",
        "",
        "```diff",
        "- aws:sns/topic:Topic  prod-alerts-P2",
        "+ aws:sns/topic:Topic  prod-alerts-P1",
        "```",
      ].join("\n"),
    );
    expect(s).toContain(
      [
        "**`prod-db-billing-backup` (regime:task:ScheduledTask): new component, +2 -0**",
        "",
        "```diff",
        "+ aws:lambda/function:Function  prod-db-billing-backup",
        "+ aws:scheduler/schedule:Schedule  prod-db-billing-backup",
        "```",
      ].join("\n"),
    );
    expect(s).toContain("**`prod-logs` (regime:logs:LogArchive): component removed, +0 -1**\n\n```diff\n- aws:s3/bucket:Bucket  prod-log-archive\n```");
    // Unchanged components are not listed; components in name order.
    expect(s).not.toContain("prod-db-app-backup`");
    expect(s.indexOf("prod-alerts")).toBeLessThan(s.indexOf("prod-db-billing-backup"));
    expect(s.indexOf("prod-db-billing-backup")).toBeLessThan(s.indexOf("prod-logs"));
  });

  it("folds a component with many resource changes under a toggle", () => {
    const head = clone(basePlan());
    head.components.push({
      component: "prod-dashboard",
      type: "regime:dashboard:Dashboard",
      resources: Array.from({ length: 20 }, (_, i) => ({ type: "aws:cloudwatch/metricAlarm:MetricAlarm", name: `a-${String(i).padStart(2, "0")}` })),
    });
    const md = diffPlans(basePlan(), head);
    expect(md).toContain("<details>\n<summary>prod-dashboard (regime:dashboard:Dashboard): new component, +20 -0</summary>\n\n```diff\n+ aws:cloudwatch/metricAlarm:MetricAlarm  a-00\n");
    expect(md).toContain("+ aws:cloudwatch/metricAlarm:MetricAlarm  a-19\n```\n\n</details>");
  });

  it("shows schedules added with their next runs, and changed expression and timezone before and after", () => {
    const s = section(diffPlans(basePlan(), headPlan()), "Schedules");
    expect(lines(s)).toContain(
      "| `prod-db-billing-backup` | prod-db-billing-backup | `cron(30 1 * * ? *)` | America/New_York | Mon 2025-01-06 01:30 -05:00, Tue 2025-01-07 01:30 -05:00, Wed 2025-01-08 01:30 -05:00 |",
    );
    expect(lines(s)).toContain(
      "| `prod-db-app-vacuum` | expression, timezone | `cron(0 3 ? * WED *)` America/New_York | `cron(0 4 ? * SUN *)` UTC | " +
        "Wed 2025-01-08 03:00 -05:00, Wed 2025-01-15 03:00 -05:00, Wed 2025-01-22 03:00 -05:00 → Sun 2025-01-12 04:00 +00:00, Sun 2025-01-19 04:00 +00:00, Sun 2025-01-26 04:00 +00:00 |",
    );
    expect(s).not.toContain("`prod-db-app-backup`");
  });

  it("shows a schedule whose timezone alone changed", () => {
    const head = clone(basePlan());
    head.calendar[0] = { ...head.calendar[0], timezone: "Europe/Berlin", next: ["Mon 2025-01-06 02:00 +01:00"] };
    const md = diffPlans(basePlan(), head);
    expect(md).toContain("**Schedules** +0 -0 ~1");
    expect(section(md, "Schedules")).toContain("| `prod-db-app-backup` | timezone | `cron(0 2 * * ? *)` America/New_York | `cron(0 2 * * ? *)` Europe/Berlin | ");
  });

  it("shows a removed schedule", () => {
    const head = clone(basePlan());
    head.calendar = head.calendar.slice(0, 1);
    const s = section(diffPlans(basePlan(), head), "Schedules");
    expect(s).toContain("Removed:\n\n| Schedule | Component | Expression | Timezone |\n| --- | --- | --- | --- |\n| `prod-db-app-vacuum` | prod-db-app-vacuum | `cron(0 3 ? * WED *)` | America/New_York |");
  });

  it("shows alarms added and removed, and each changed condition, severity and pages", () => {
    const s = section(diffPlans(basePlan(), headPlan()), "Alarms");
    expect(s).toContain(
      "Added:\n\n| Severity | Alarm | Metric | Condition | Missing data | Pages |\n| --- | --- | --- | --- | --- | --- |\n" +
        "| P0 | `prod-db-billing-rpo-P0` | MaintenanceRegime/BackupSucceeded Sum | `< 1 over 26 h` | breaching | prod-alerts-P0 |",
    );
    expect(s).toContain("Removed:\n\n| Severity | Alarm | Metric | Condition | Missing data | Pages |\n| --- | --- | --- | --- | --- | --- |\n| P2 | `prod-rds-app-cpu-P2` | AWS/RDS/CPUUtilization Average | `> 80 over 5 min` | missing | prod-alerts-P2 |");
    const changed = lines(s.slice(s.indexOf("Changed:")));
    expect(changed).toContain("| `prod-db-app-rpo-P0` | severity | P0 | P1 |");
    expect(changed).toContain("| `prod-db-app-rpo-P0` | condition | < 1 over 26 h | < 1 over 30 h |");
    expect(changed).toContain("| `prod-db-app-rpo-P0` | pages | prod-alerts-P0 | prod-alerts-P1 |");
    // Fields that did not change are not listed.
    expect(changed.filter((l) => l.includes("metric") || l.includes("missing data"))).toEqual([]);
  });

  it("shows the monthly cost per changed component and the total, before, after and delta", () => {
    const s = section(diffPlans(basePlan(), headPlan()), "Estimated monthly cost");
    expect(s).toContain(
      [
        "| Component | Before | After | Delta |",
        "| --- | --- | --- | --- |",
        "| `prod-db-app-vacuum` | $1.13 | $1.50 | +$0.37 |",
        "| `prod-db-billing-backup` (new) | $0.00 | $3.20 | +$3.20 |",
        "| `prod-logs` (removed) | $8.00 | $0.00 | -$8.00 |",
        "| **Total** | **$12.50** | **$8.07** | **-$4.43** |",
      ].join("\n"),
    );
    expect(s).toContain("2 other components unchanged.");
  });

  it("says the cost is unchanged when only resources moved", () => {
    const head = clone(basePlan());
    head.alarms[1] = alarm("prod-rds-app-cpu-P2", { condition: "> 90 over 5 min" });
    const md = diffPlans(basePlan(), head);
    expect(section(md, "Estimated monthly cost")).toContain("Unchanged: $12.50 a month.");
    expect(md).toContain("**Alarms** +0 -0 ~1");
  });

  it("lists stack outputs removed, which other stacks may read", () => {
    const s = section(diffPlans(basePlan(), headPlan()), "Stack outputs");
    expect(s).toContain("Removed (stacks that read them break): `rpoAlarmNames`");
    expect(s).toContain("Added: `billingBackupArn`");
  });

  it("links the calendar picture", () => {
    expect(diffPlans(basePlan(), headPlan(), { svgLink: "https://example.test/runs/1/artifacts/2" })).toContain("[Maintenance calendar (SVG)](https://example.test/runs/1/artifacts/2)");
  });

  it("gives the same Markdown whatever the order of the entries", () => {
    const head = headPlan();
    const shuffled = clone(head);
    shuffled.components.reverse();
    for (const c of shuffled.components) c.resources.reverse();
    shuffled.calendar.reverse();
    shuffled.alarms.reverse();
    shuffled.cost.components.reverse();
    const base = basePlan();
    const baseShuffled = clone(base);
    baseShuffled.components.reverse();
    baseShuffled.alarms.reverse();
    expect(diffPlans(baseShuffled, shuffled)).toBe(diffPlans(base, head));
  });

  it("keeps table rows whole when a name holds a pipe", () => {
    const head = clone(basePlan());
    head.alarms.push(alarm("odd|name", { metric: "A|B Sum" }));
    const table = section(diffPlans(basePlan(), head), "Alarms")
      .split("\n")
      .filter((l) => l.startsWith("|"));
    const columns = (l: string) => l.replace(/\\\|/g, "").split("|").length;
    expect(table.length).toBe(3);
    expect(new Set(table.map(columns)).size).toBe(1);
    expect(table[2]).toContain("`odd\\|name`");
  });
});

describe("truncateMarkdown", () => {
  it("cuts at a line, closes an open code block and says where the rest is", () => {
    const head = clone(basePlan());
    head.components.push({
      component: "big",
      type: "",
      resources: Array.from({ length: 12 }, (_, i) => ({ type: "aws:sqs/queue:Queue", name: `queue-${i}-${"x".repeat(60)}` })),
    });
    const md = diffPlans(basePlan(), head);
    const cut = truncateMarkdown(md, 900);
    expect(cut.length).toBeLessThanOrEqual(900);
    expect(cut.split("\n").filter((l) => l.startsWith("```")).length % 2).toBe(0);
    expect(cut.trimEnd().endsWith("> The diff was cut here; the full diff is in the workflow run's summary.")).toBe(true);
    expect(truncateMarkdown(md, md.length)).toBe(md);
  });
});

describe("plan/diff.ts command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "plan-diff-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, content: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content, null, 2));
    return file;
  };
  const base = write("base.json", basePlan());
  const head = write("head.json", headPlan());

  it("prints the Markdown of two plan files", async () => {
    const r = await promisify(execFile)("npx", ["tsx", "plan/diff.ts", base, head, "--svg-link", "https://example.test/svg"], { cwd: process.cwd() });
    expect(r.stdout).toContain("**Resources** 7 → 8 (+1)");
    expect(r.stdout).toContain("[Maintenance calendar (SVG)](https://example.test/svg)");
    expect(r.stdout).toBe(diffPlans(basePlan(), headPlan(), { svgLink: "https://example.test/svg" }));
  });

  it("refuses a missing file with one line naming it", async () => {
    const missing = join(dir, "nope.json");
    const err = await promisify(execFile)("npx", ["tsx", "plan/diff.ts", missing, head], { cwd: process.cwd() }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stdout).toBe("");
    expect(err.stderr.split("\n").filter((l: string) => l.startsWith("error:"))).toEqual([`error: ${missing}: no such file`]);
  });

  it("refuses a file that is not a plan, naming the file and the key", () => {
    const notJson = write("not-json.json", "<html>");
    expect(main([base, notJson])).toEqual({ code: 2, stdout: "", stderr: `error: ${notJson}: not JSON (expected the output of npm run plan -- --json)\n` });
    const noAlarms = write("no-alarms.json", { ...basePlan(), alarms: undefined });
    expect(main([noAlarms, head]).stderr).toBe(`error: ${noAlarms}: not a plan (alarms missing or malformed)\n`);
    const badCost = write("bad-cost.json", { ...basePlan(), cost: { monthlyTotal: "12" } });
    expect(main([base, badCost]).stderr).toBe(`error: ${badCost}: not a plan (cost.monthlyTotal missing or malformed)\n`);
  });

  it("refuses bad arguments naming them", () => {
    expect(main([base]).stderr).toMatch(/^error: expected BASE\.json and HEAD\.json, got 1 file argument\(s\); usage: /);
    expect(main([base, head, "--svg"]).stderr).toMatch(/^error: --svg: unknown option; usage: /);
    expect(main([base, head, "--svg-link"]).stderr).toBe("error: --svg-link: needs a value\n");
    expect(main([base, head, "--max-chars", "lots"]).stderr).toBe('error: --max-chars: "lots" is not a whole number of at least 200\n');
  });

  it("takes a missing base as a commit without a plan when told to", () => {
    const r = main([join(dir, "none.json"), head, "--base-optional"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("> The base commit gave no offline plan (it has none yet, or it failed): everything below is new.");
    expect(r.stdout).toContain("**Resources** 0 → 8 (+8)");
    expect(r.stdout).toContain("**`prod-alerts` (regime:alerting:AlertRouting): new component, +2 -0**");
    // A base that exists but is broken is still refused.
    expect(main([write("empty.json", ""), head, "--base-optional"]).code).toBe(2);
  });

  it("cuts the Markdown to --max-chars", () => {
    const r = main([join(dir, "none.json"), head, "--base-optional", "--max-chars", "600"]);
    expect(r.stdout.length).toBeLessThanOrEqual(600);
    expect(r.stdout).toContain("> The diff was cut here");
  });
});

/**
 * The stored data a change deletes sooner. The lifecycle rules of each plan are what the components
 * declare (components/backup-vault.ts databaseVaultRules, vaultLifecycleRules; components/log-archive.ts
 * archiveLifecycleRules), read into the plan as `npm run plan -- --json` does (plan/config-keys.ts lifecycleOf).
 */
describe("diffPlans: stored data deleted sooner than before", () => {
  type Days = { daily: number; weekly: number; monthly: number };
  type Db = { id: string; retention: Days; paused?: boolean };
  type Logs = { sets?: { name: string; expireDays: number }[]; files?: { name: string; retentionDays: number; paused?: boolean }[] };
  const LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration";
  const RUN = "S3's first lifecycle run after `pulumi up`";

  /** basePlan with the backup vault of `dbs` (old versions kept `noncurrentDays`) and a log archive of host group `app`. */
  function withBuckets(dbs: Db[], opts: { noncurrentDays?: number; logs?: Logs } = {}): Plan {
    const recorded: RecordedResource[] = [{ type: "regime:backup:BackupVault", name: "prod-backups", custom: false, inputs: {}, parent: "prod" }];
    if (dbs.length > 0) {
      const retention = dbs.flatMap((d) => databaseVaultRules({ id: d.id, backup: { retention: d.retention, paused: d.paused } }, {}));
      recorded.push({ type: LIFECYCLE, name: "prod-backups-lifecycle", custom: true, inputs: { rules: vaultLifecycleRules(retention, opts.noncurrentDays ?? 7, 7) }, parent: "prod-backups" });
    }
    const sets = opts.logs?.sets ?? [];
    const files = opts.logs?.files ?? [];
    if (sets.length + files.length > 0) {
      const rules = [
        ...sets.map((s) => ({ prefix: archivePrefix("app", { name: s.name, archive: { expireDays: s.expireDays } } as never), expireDays: s.expireDays })),
        ...files.map((f) => ({ prefix: fileBackupPrefix("app", f.name), expireDays: f.retentionDays, ...(f.paused ? { paused: true } : {}) })),
      ];
      recorded.push({ type: LIFECYCLE, name: "prod-logs-archive-lifecycle", custom: true, inputs: { rules: archiveLifecycleRules(rules, 7) }, parent: "prod-logs" });
    }
    const logs = { hostGroups: [{ name: "app", logSets: sets.map((s) => ({ name: s.name, archive: { expireDays: s.expireDays } })), fileBackups: files.map((f) => ({ name: f.name })) }] };
    const plan = basePlan();
    plan.components.push({ component: "prod", type: "regime:index:MaintenanceRegime", resources: [] });
    return { ...plan, lifecycle: lifecycleOf(recorded, logs) };
  }

  const app = (retention: Days, paused = false): Db => ({ id: "app", retention, ...(paused ? { paused } : {}) });
  const LONG = { daily: 30, weekly: 90, monthly: 3650 };
  /** The lines under the section, without its caution note. */
  const flagged = (md: string) => (md.includes("### Stored data deleted sooner than before\n") ? section(md, "Stored data deleted sooner than before").split("\n").filter((l) => l.startsWith("- ")) : []);

  it("a database renamed with its retention cut: each tier's and the drill records' days before → after, the catch-alls', first in the diff", () => {
    const md = diffPlans(withBuckets([app(LONG)]), withBuckets([{ id: "main", retention: { daily: 7, weekly: 14, monthly: 30 } }], { noncurrentDays: 1 }));
    const oldVersions = "then 7 → 1 days more as an old version (`backupVault.noncurrentDays`)";
    const goes = (days: number) => `What is older than ${days} days goes on ${RUN}, unrecoverable 1 day later; old versions older than 1 day go for good on that run.`;
    expect(flagged(md)).toEqual([
      `- \`databases[app]\` removed: its daily backups under \`daily/app/\` (\`databases[app].backup.retention.daily\`) now expire by the catch-all rules: kept 30 → 7 days, ${oldVersions}. ${goes(7)}`,
      `- \`databases[app]\` removed: its weekly backups under \`weekly/app/\` (\`databases[app].backup.retention.weekly\`) now expire by the catch-all rules: kept 90 → 14 days, ${oldVersions}. ${goes(14)}`,
      `- \`databases[app]\` removed: its monthly backups under \`monthly/app/\` (\`databases[app].backup.retention.monthly\`) now expire by the catch-all rules: kept 3650 → 30 days, ${oldVersions}. ${goes(30)}`,
      `- \`databases[app]\` removed: its restore-drill records under \`drills/app/\` now expire by the catch-all rules: kept 3650 → 30 days, ${oldVersions}. ${goes(30)}`,
      `- \`databases\` catch-all rule \`catch-all.daily\`: the backups of databases no longer configured (if any are stored) under \`daily/\`: kept 30 → 7 days, ${oldVersions}. ${goes(7)}`,
      `- \`databases\` catch-all rule \`catch-all.weekly\`: the backups of databases no longer configured (if any are stored) under \`weekly/\`: kept 90 → 14 days, ${oldVersions}. ${goes(14)}`,
      `- \`databases\` catch-all rule \`catch-all.monthly\`: the backups of databases no longer configured (if any are stored) under \`monthly/\`: kept 3650 → 30 days, ${oldVersions}. ${goes(30)}`,
      `- \`databases\` catch-all rule \`catch-all.drills\`: the restore-drill records of databases no longer configured (if any are stored) under \`drills/\`: kept 3650 → 30 days, ${oldVersions}. ${goes(30)}`,
    ]);
    // Counted in the heading line, and the first section a reviewer reads.
    expect(lines(md)).toContain("**Resources** 7 → 7 (±0) · **Schedules** +0 -0 ~0 · **Alarms** +0 -0 ~0 · **Monthly cost** $12.50 → $12.50 (±$0.00) · **Stored data deleted sooner** 8 prefixes");
    expect(md.indexOf("### ")).toBe(md.indexOf("### Stored data deleted sooner than before"));
    expect(section(md, "Stored data deleted sooner than before")).toContain("> [!CAUTION]");
    // Each prefix once: nothing of app is left to list as merely removed.
    expect(md).not.toContain("Stored data of removed config items");
  });

  it("monthly cut in place (3650 → 30 on the same database): flagged with its key, and the catch-all that follows it", () => {
    const md = diffPlans(withBuckets([app(LONG)]), withBuckets([app({ ...LONG, monthly: 30 })]));
    expect(flagged(md)).toEqual([
      `- \`databases[app].backup.retention.monthly\`: its monthly backups under \`monthly/app/\`: kept 3650 → 30 days, then 7 days more as an old version. What is older than 30 days goes on ${RUN}, unrecoverable 7 days later.`,
      `- \`databases[app]\`: its restore-drill records under \`drills/app/\`: kept 3650 → 90 days, then 7 days more as an old version. What is older than 90 days goes on ${RUN}, unrecoverable 7 days later.`,
      `- \`databases\` catch-all rule \`catch-all.monthly\`: the backups of databases no longer configured (if any are stored) under \`monthly/\`: kept 3650 → 30 days, then 7 days more as an old version. What is older than 30 days goes on ${RUN}, unrecoverable 7 days later.`,
      `- \`databases\` catch-all rule \`catch-all.drills\`: the restore-drill records of databases no longer configured (if any are stored) under \`drills/\`: kept 3650 → 90 days, then 7 days more as an old version. What is older than 90 days goes on ${RUN}, unrecoverable 7 days later.`,
    ]);
  });

  it("lengthening a tier, the noncurrent days or an archive's days flags nothing", () => {
    const md = diffPlans(
      withBuckets([app({ daily: 7, weekly: 30, monthly: 90 })], { logs: { sets: [{ name: "nginx", expireDays: 30 }] } }),
      withBuckets([app({ daily: 14, weekly: 60, monthly: 365 })], { noncurrentDays: 30, logs: { sets: [{ name: "nginx", expireDays: 90 }] } }),
    );
    expect(flagged(md)).toEqual([]);
    expect(md).not.toContain("deleted sooner");
  });

  it("backupVault.noncurrentDays cut: the old versions older than the new days go for good, per prefix, naming the key", () => {
    const md = diffPlans(withBuckets([app(LONG)]), withBuckets([app(LONG)], { noncurrentDays: 1 }));
    const got = flagged(md);
    expect(got).toHaveLength(8);
    expect(got[0]).toBe(
      `- \`databases[app].backup.retention.daily\`: its daily backups under \`daily/app/\`: kept 30 days, then 7 → 1 days more as an old version (\`backupVault.noncurrentDays\`). Old versions (expired, deleted or replaced objects) older than 1 day go for good on ${RUN}.`,
    );
    expect(got.every((l) => l.includes("then 7 → 1 days more as an old version (`backupVault.noncurrentDays`)"))).toBe(true);
  });

  it("a log archive's expireDays and a file backup's retentionDays cut: flagged with their keys", () => {
    const md = diffPlans(
      withBuckets([], { logs: { sets: [{ name: "nginx", expireDays: 400 }, { name: "api", expireDays: 400 }], files: [{ name: "uploads", retentionDays: 30 }] } }),
      withBuckets([], { logs: { sets: [{ name: "nginx", expireDays: 30 }, { name: "api", expireDays: 400 }], files: [{ name: "uploads", retentionDays: 7 }] } }),
    );
    expect(flagged(md)).toEqual([
      `- \`logs.hostGroups[app].logSets[nginx].archive\`: its archived logs under \`app/nginx/\`: kept 400 → 30 days, then 1 day more as an old version. What is older than 30 days goes on ${RUN}, unrecoverable 1 day later.`,
      `- \`logs.hostGroups[app].fileBackups[uploads]\`: its archives under \`files/app/uploads/\`: kept 30 → 7 days, then 1 day more as an old version. What is older than 7 days goes on ${RUN}, unrecoverable 1 day later.`,
      `- \`logs.hostGroups\` catch-all rule \`catch-all.files\`: the archives of file backups no longer configured (if any are stored) under \`files/\`: kept 30 → 7 days, then 1 day more as an old version. What is older than 7 days goes on ${RUN}, unrecoverable 1 day later.`,
    ]);
  });

  it("a paused backup resumed: what expires, and the backup to run by hand as it resumes", () => {
    const days = { daily: 7, weekly: 30, monthly: 90 };
    const md = diffPlans(withBuckets([app(days, true)]), withBuckets([app(days)]));
    const got = flagged(md);
    expect(got[0]).toBe(
      `- \`databases[app].backup.retention.daily\` resumes (rule \`daily-app\` Disabled → Enabled): its daily backups under \`daily/app/\`: kept no expiry → 7 days, then no expiry → 7 days more as an old version. ` +
        `What is older than 7 days goes on ${RUN}, unrecoverable 7 days later; old versions older than 7 days go for good on that run. ` +
        "That run can come before the first new backup is uploaded: run the backup by hand as it resumes (`pulumi stack output runNow --json | jq -r '.\"app/backup\"' | sh`).",
    );
    expect(got.filter((l) => l.includes("run the backup by hand"))).toHaveLength(3);
    // The drill records and the four catch-alls, Disabled with the tiers, are enabled again too (tests/removed-names-expire.test.ts lists them on the prod plan).
    expect(got).toHaveLength(8);
    expect(got[7]).toMatch(/^- `databases` catch-all rule `catch-all\.drills` resumes \(Disabled → Enabled\): the restore-drill records of databases no longer configured/);
    // Pausing keeps everything: nothing deleted sooner.
    expect(flagged(diffPlans(withBuckets([app(days)]), withBuckets([app(days, true)])))).toEqual([]);
  });

  it("a paused file backup resumed: its association to apply now, or its script on SSH hosts", () => {
    const md = diffPlans(withBuckets([], { logs: { files: [{ name: "uploads", retentionDays: 14, paused: true }] } }), withBuckets([], { logs: { files: [{ name: "uploads", retentionDays: 14 }] } }));
    expect(flagged(md)[0]).toContain(
      "That run can come before the first new backup is uploaded: run the file backup by hand as it resumes (apply its State Manager association `prod-app-file-backup-uploads` now, or run `/usr/local/sbin/maintenance-regime-app-uploads-backup` on each SSH host).",
    );
  });

  it("an unchanged plan gives no such line", () => {
    const plan = withBuckets([app(LONG)], { logs: { sets: [{ name: "nginx", expireDays: 90 }], files: [{ name: "uploads", retentionDays: 7 }] } });
    const md = diffPlans(plan, clone(plan));
    expect(md).toContain("**No change to the regime**");
    expect(md).not.toContain("deleted sooner");
  });

  it("a base plan without lifecycle (older plans) is read as before: no prefix compared, nothing flagged", () => {
    const base = { ...withBuckets([app(LONG)]), lifecycle: undefined };
    const md = diffPlans(base, withBuckets([app({ ...LONG, monthly: 30 })]));
    expect(md).toContain("**No change to the regime**");
    expect(md).not.toContain("deleted sooner");
  });
});

