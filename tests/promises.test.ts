/**
 * The regime's promises: each regime below breaks one promise and is refused with the exact line
 * naming the key; the same regime fixed passes; acceptances work and stale ones are refused; the
 * figures of prod and every example are pinned; the model the check reads is what the program provisions.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkPromises, declaredFromRegime } from "../components/promises";
import { fileBackupHostAlarmResource } from "../components/file-backups";
import type { RecordedResource } from "../plan/mocks";
import { readStackConfig, runPlan } from "../plan/run";
import { auditResources } from "../plan/promises";
import type { DeclaredPage } from "../regime/paging-promises";
import { ALERTING } from "./helpers/alerting";
import { bundledSettingsByFunction } from "../plan/cost";
import { regimeFromConfig, validateRegime } from "../regime/load";
import { alarmWindowProblem, environmentBytes, evaluatePromises, rpoAlarmWindow } from "../regime/promises";
import { nextRuns } from "../regime/schedule";
import { schedulerRuns } from "../regime/scheduler-time";

const FROM = new Date("2026-11-23T00:00:00Z");
const YEAR_END = Date.UTC(2027, 10, 23);

type Over = { timezone?: string; backup?: Record<string, unknown>; verify?: Record<string, unknown>; endpoints?: unknown; acceptedRisks?: unknown; alerting?: unknown; reminders?: unknown };

/** The one database of the test regimes: its id, credentials and network. */
const APP_DATABASE = {
  id: "app",
  secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
  network: { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] },
};

/** The config of a one-database regime (schedules as written). */
function regimeConfig(over: Over = {}) {
  return {
    name: "t",
    timezone: over.timezone ?? "UTC",
    alerting: over.alerting ?? ALERTING,
    databases: [
      {
        ...APP_DATABASE,
        backup: { schedule: "daily at 02:00", ...over.backup },
        ...(over.verify ? { verify: over.verify } : {}),
      },
    ],
    ...(over.endpoints ? { endpoints: over.endpoints } : {}),
    ...(over.acceptedRisks ? { acceptedRisks: over.acceptedRisks } : {}),
    ...(over.reminders ? { reminders: over.reminders } : {}),
  };
}

const regime = (over: Over = {}) => validateRegime(regimeConfig(over));

const refusals = (r: ReturnType<typeof regime>) => checkPromises(r, FROM).refusals;

describe("a local time the Scheduler skips breaks the RPO, the missed-run alarm and the verify", () => {
  const cases: [string, string, string, string, string, string, string][] = [
    // zone, skipped date, skipped time, missed-run page date, fixed-offset zone, verify age, the weekly tier's hole
    // (the skipped run is that Sunday's, the week's weekly backup; in Berlin the 1st of April's monthly one fills the week)
    ["America/New_York", "2027-03-14", "02:00", "2027-03-14", "Etc/GMT+5", "27 h", "no backup kept 90 days in the week from 2027-03-14: the weekly tier has a hole; "],
    // the page comes at the end of the UTC day: 02:00 the next morning in Berlin
    ["Europe/Berlin", "2027-03-28", "02:00", "2027-03-28", "Etc/GMT-1", "27 h", ""],
    ["Australia/Sydney", "2027-10-03", "02:00", "2027-10-03", "Etc/GMT-10", "27 h", "no backup kept 90 days in the week from 2027-10-03: the weekly tier has a hole; "],
  ];
  for (const [tz, date, time, pageDate, fixed, age, hole] of cases) {
    it(`${tz}: daily at 02:00 is refused; the same at 03:00 or in ${fixed} is not`, () => {
      expect(refusals(regime({ timezone: tz }))).toEqual([
        `databases[app].backup.schedule: "daily at 02:00" in ${tz} does not run on ${date} (${time} does not exist that day): 47 h between backups + up to 12 min to store the next + 5 min for the RPO alarm to see it > rpoHours 26; ${hole}its missed-run alarm (26.3 h, sliding) pages P1 on ${pageDate} although every scheduled run succeeds (runs 47 h apart, a run may take 15 min and its success 5 min to be seen); run it at a local time that exists every day (not 02:00-02:59) or in a fixed-offset zone (${fixed}), or set rpoHours to at least 48`,
        `databases[app].verify.maxAgeHours: the verify on ${date} finds the newest backup ${age} old > maxAgeHours 26 and fails without a fault; keep the backup running every day or set maxAgeHours to at least 27`,
      ]);
      expect(refusals(regime({ timezone: tz, backup: { schedule: "daily at 03:00" } }))).toEqual([]);
      expect(refusals(regime({ timezone: tz, backup: { schedule: { at: "daily at 02:00", timezone: fixed } } }))).toEqual([]);
    });
  }

  it("a job that runs several times a day keeps running on the spring-forward day: its skipped 02:00 is no broken promise; its window allows for the fall-back hour run once", () => {
    const r = regime({ timezone: "America/New_York", backup: { schedule: "cron(0 0/2 * * ? *)", rpoHours: 4 } });
    expect(refusals(r)).toEqual([]);
    const healthConfig = {
      name: "t",
      timezone: "America/New_York",
      alerting: ALERTING,
      databases: [
        {
          ...APP_DATABASE,
          backup: { schedule: { at: "daily at 02:00", timezone: "Etc/GMT+5" } },
          health: { schedule: "cron(0/15 * * * ? *)" },
        },
      ],
    };
    const health = validateRegime(healthConfig);
    // Every 15 minutes in New York: the repeated 01:00-01:45 runs once, so 01:45 EDT to 02:00 EST is
    // 75 min; the window is 15 min + 5 min of delivery + the zone's 1 h clock change + the 300 s run +
    // 5 min until its success is seen = 90 min (the aligned 20-minute window paged on 2027-11-07).
    expect(refusals(health)).toEqual([]);
    expect(checkPromises(health, FROM).promises.find((p) => p.key === "databases[app].health.schedule")).toMatchObject({ status: "held", figure: "paged within 91 min of its last run" });
    // The same every 15 minutes as a rate, which knows no clock change: paged within 31 min.
    const rate = validateRegime({ ...healthConfig, databases: [{ ...healthConfig.databases[0], health: { schedule: "every 15 minutes" } }] });
    expect(checkPromises(rate, FROM).promises.find((p) => p.key === "databases[app].health.schedule")).toMatchObject({ status: "held", figure: "paged within 31 min of its last run" });
  });

  it("Australia/Lord_Howe shifts 30 minutes: 02:00 and 02:15 are skipped on 2027-10-03, 02:45 is not", () => {
    const lines = refusals(regime({ timezone: "Australia/Lord_Howe", backup: { schedule: "daily at 02:15" } }));
    expect(lines[0]).toBe(
      `databases[app].backup.schedule: "daily at 02:15" in Australia/Lord_Howe does not run on 2027-10-03 (02:15 does not exist that day): 47.5 h between backups + up to 12 min to store the next + 5 min for the RPO alarm to see it > rpoHours 26; no backup kept 90 days in the week from 2027-10-03: the weekly tier has a hole; its missed-run alarm (25.8 h, sliding) pages P1 on 2027-10-03 although every scheduled run succeeds (runs 47.5 h apart, a run may take 15 min and its success 5 min to be seen); run it at a local time that exists every day (not 02:00-02:29) or in a fixed-offset zone (UTC: no Etc zone has a fractional offset), or set rpoHours to at least 48`,
    );
    expect(refusals(regime({ timezone: "Australia/Lord_Howe" }))[0]).toContain("does not run on 2027-10-03 (02:00 does not exist that day): 47.5 h between backups");
    expect(refusals(regime({ timezone: "Australia/Lord_Howe", backup: { schedule: "daily at 02:45" } }))).toEqual([]);
  });

  it("a weekly job at a skipped time is refused on its own key (no RPO involved)", () => {
    const raw = regimeConfig({ timezone: "America/New_York", backup: { schedule: { at: "daily at 04:00", timezone: "UTC" } } });
    const lines = checkPromises(validateRegime({ ...raw, databases: [{ ...raw.databases[0], vacuum: { schedule: "weekly on Sunday at 02:30" } }] }), FROM).refusals;
    expect(lines).toEqual([
      `databases[app].vacuum.schedule: "weekly on Sunday at 02:30" in America/New_York does not run on 2027-03-14 (02:30 does not exist that day): no vacuum of database app that day; run it at a local time that exists every day (not 02:00-02:59) or in a fixed-offset zone (Etc/GMT+5)`,
    ]);
  });
});

describe("CloudWatch slides the alarm window: a job that runs as scheduled never pages", () => {
  /**
   * CloudWatch's default sliding window, judged against the Scheduler's real runs of a year: between
   * two runs, the alarm sees the first run's success (stamped at its start) leave the window before
   * the next one's (which may take the job's whole timeout and 5 more minutes to be seen) arrives
   * when start(next) + run + delay - start(previous) > the window. Returns the first such pair.
   */
  const slidingPages = (runs: number[], window: number, lateSeconds: number) => {
    for (let i = 1; i < runs.length; i++) if (runs[i] + lateSeconds * 1000 - runs[i - 1] > window * 1000) return new Date(runs[i - 1]).toISOString();
    return undefined;
  };
  for (const [stack, file] of [["prod", join(__dirname, "..", "Pulumi.prod.yaml")], ...["bigshot", "boardroom-ai", "fitnesscrm", "iswitch-roofs-crm", "neff-paving"].map((x) => [x, join(__dirname, "..", "examples", x, `Pulumi.${x}.yaml`)])]) {
    it(`${stack}: every missed-run alarm window holds the longest real gap of the year, a run's whole timeout and 5 minutes`, () => {
      const d = declaredFromRegime(regimeFromConfig(readStackConfig(file).config, "maintenance-regime"));
      const watched = d.jobs.filter((j) => j.watch);
      expect(watched.length).toBeGreaterThan(2);
      for (const j of watched) {
        const { runs } = schedulerRuns(j, FROM.getTime() - 30 * 86_400_000, YEAR_END);
        const window = j.watch!.period * j.watch!.evaluationPeriods;
        expect(slidingPages(runs, window, (j.longestRunSeconds ?? 0) + 300), `${j.key} (${window} s)`).toBeUndefined();
      }
    });
  }

  it("prod's weekly vacuum (Wednesday 03:00 New York) is the overdue watcher's: no 7-day alarm holds the 169 h of 2027-11-03 to 11-10", () => {
    const d = declaredFromRegime(regimeFromConfig(readStackConfig(join(__dirname, "..", "Pulumi.prod.yaml")).config, "maintenance-regime"));
    const vacuum = d.jobs.find((j) => j.key === "databases[app].vacuum.schedule")!;
    const { runs } = schedulerRuns(vacuum, FROM.getTime(), YEAR_END);
    const gaps = runs.slice(1).map((r, i) => (r - runs[i]) / 3_600_000);
    expect(Math.max(...gaps)).toBe(169);
    // The old window (seven one-day periods) read as a sliding window: even runs that take no time and
    // are seen at once page on that week; runs that take their time page every week.
    expect(slidingPages(runs, 7 * 86400, 0)).toBe("2027-11-03T07:00:00.000Z");
    expect(slidingPages(runs, 7 * 86400, 900 + 300)).toBe("2026-11-25T08:00:00.000Z");
    expect(vacuum.watch).toBeUndefined();
    expect(vacuum.overdueWatch).toMatchObject({ watcher: { severity: "P2" } });
  });

  it("a daily job in Antarctica/Troll (+00 to +02): its window allows the 26 h of the day the clock falls back, and rpoHours must too", () => {
    expect(refusals(regime({ timezone: "Antarctica/Troll", backup: { schedule: "daily at 03:00" } }))).toEqual([
      `databases[app].backup.schedule: "daily at 03:00" in Antarctica/Troll runs 26 h apart from 2027-10-30 (the clock falls back before the next run): 26 h between backups + up to 12 min to store the next + 5 min for the RPO alarm to see it > rpoHours 26; run it in a fixed-offset zone (UTC) or set rpoHours to at least 27`,
    ]);
    const r = regime({ timezone: "Antarctica/Troll", backup: { schedule: "daily at 03:00", rpoHours: 27 } });
    expect(refusals(r)).toEqual([]);
    const backup = declaredFromRegime(r).jobs.find((j) => j.key === "databases[app].backup.schedule")!;
    const { runs } = schedulerRuns(backup, FROM.getTime(), YEAR_END);
    expect(Math.max(...runs.slice(1).map((x, i) => (x - runs[i]) / 3_600_000))).toBe(26);
    // 24 h + 1 h of retries + 2 h clock change + the 900 s run + 5 min: 27 h 20 min.
    expect(backup.watch!.period * backup.watch!.evaluationPeriods).toBe(98400);
    // A 25 h window (the old one: a day and an hour of margin) pages on the day of the shift.
    expect(slidingPages(runs, 90000, 900 + 300)).toBeDefined();
    // Its clock jumps two hours: a 01:30 run is skipped once a year, and the remedy names the whole stretch.
    const skipped = refusals(regime({ timezone: "Antarctica/Troll", backup: { schedule: "daily at 01:30", rpoHours: 60 }, verify: { maxAgeHours: 60 } }));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toContain("run it at a local time that exists every day (not 01:00-02:59) or in a fixed-offset zone (UTC)");
  });
});

describe("a job watched by the overdue watcher", () => {
  // The quarterly drill of a regime: too sparse for a missed-run alarm, handed to the watcher.
  const drill = () => {
    const d = declaredFromRegime(regime({ backup: { schedule: "daily at 03:00" } }));
    const base = d.jobs.find((j) => j.key === "databases[app].backup.schedule")!;
    const job = { ...base, key: "databases[app].restoreDrill.schedule", label: "restore-drill of database app", expression: "cron(0 3 1 1,4,7,10 ? *)", intervalSeconds: 92 * 86400, watch: undefined, severity: "P1" };
    return { d, job };
  };
  const line = (d: ReturnType<typeof drill>["d"], key: string) =>
    evaluatePromises(d, FROM).promises.filter((i) => i.key === key && /stops/.test(i.promise)).map((i) => `${i.status} ${i.figure}${i.detail ? ` (${i.detail})` : ""}`);

  it("is paged when it stops while a stopped watcher pages on its own at the job's severity or higher (its overdue alarm hears nothing from a stopped watcher)", () => {
    const { d, job } = drill();
    d.jobs.push({ ...job, overdueWatch: { toleranceSeconds: 7200, delaySeconds: 7200, watcher: { window: { period: 3600, evaluationPeriods: 2 }, severity: "P1" } } });
    expect(line(d, job.key)).toEqual(["held paged within 2212 h (+ its run time) of its last run, by the overdue watch"]);
  });

  it("is unkept when the watcher has no missed-run alarm, or pages less urgently than the job", () => {
    const { d, job } = drill();
    d.jobs.push({ ...job, overdueWatch: { toleranceSeconds: 7200, delaySeconds: 7200 } });
    expect(line(d, job.key)).toEqual([
      "unkept paged within 2212 h of its last run while the overdue watcher runs; a stopped watcher pages nobody (its overdue alarm hears only from a running watcher (missing data is not breaching), and the watcher's own missed-run alarm is missing)",
    ]);
    d.jobs[d.jobs.length - 1].overdueWatch!.watcher = { window: { period: 3600, evaluationPeriods: 2 }, severity: "P3" };
    expect(line(d, job.key)).toEqual([
      "unkept paged within 2212 h of its last run while the overdue watcher runs; a stopped watcher pages P3 only (its overdue alarm hears only from a running watcher (missing data is not breaching), and the watcher's own missed-run alarm pages P3, less urgent than the job's P1)",
    ]);
  });

  it("the model gives every watched job of prod the watcher's missed-run alarm at the most urgent watched severity", () => {
    const r = regimeFromConfig(readStackConfig(join(__dirname, "..", "Pulumi.prod.yaml")).config, "maintenance-regime");
    const watched = declaredFromRegime(r).jobs.filter((j) => j.overdueWatch);
    // Hourly: 1 h + 1 h of retries + its 120 s run + 5 min until its success is seen = 127 min, in 5-minute periods.
    const hourly = { period: 300, evaluationPeriods: 26 };
    expect(watched.map((j) => [j.key, j.severity, j.overdueWatch!.watcher?.severity, j.overdueWatch!.watcher?.window])).toEqual([
      ["databases[app].restoreDrill.schedule", "P2", "P2", hourly],
      // Weekly: no metric alarm looks back 7 days plus the margins.
      ["databases[app].vacuum.schedule", "P2", "P2", hourly],
      ["databases[app].reindex.schedule", "P3", "P2", hourly],
      ["logs.hostGroups[app].schedule", "P2", "P2", hourly],
      ["reminders[maintenance-notice].schedule", "P3", "P2", hourly],
      ["reminders[access-review].schedule", "P3", "P2", hourly],
      ["reminders[penetration-test].schedule", "P3", "P2", hourly],
    ]);
  });
});

describe("a file backup on several hosts: its figure holds for each SSH host, and for the tagged instances together", () => {
  it("names whose last run it counts from: each of 2 SSH hosts; one SSH host by name; any tagged instance; both", () => {
    const hosts = [
      { host: "10.0.0.7", user: "deploy" },
      { host: "crm.example.com", user: "root", port: 2222 },
    ];
    const backup = (schedule: string) => [{ name: "config", paths: ["/opt/crm/.env"], schedule }];
    const r = validateRegime({
      ...regimeConfig(),
      logs: {
        hostGroups: [
          { name: "crm", sshHosts: hosts, sshPrivateKeyConfig: "k", fileBackups: backup("daily at 03:00") },
          { name: "one", sshHosts: hosts.slice(0, 1), sshPrivateKeyConfig: "k", fileBackups: backup("weekly on Sunday at 04:00") },
          { name: "web", target: { tagKey: "App", tagValue: "web" }, fileBackups: backup("daily at 03:00") },
          { name: "both", target: { tagKey: "App", tagValue: "both" }, sshHosts: hosts, sshPrivateKeyConfig: "k", fileBackups: backup("daily at 03:00") },
        ],
      },
    });
    const items = checkPromises(r, FROM).promises.filter((p) => /fileBackups\[config\]\.schedule$/.test(p.key) && p.promise.endsWith("paged when it stops"));
    expect(items.map((p) => `${p.status} ${p.key}: ${p.figure}`)).toEqual([
      "held logs.hostGroups[crm].fileBackups[config].schedule: paged within 26.1 h of its last run on each of its 2 SSH hosts",
      "held logs.hostGroups[one].fileBackups[config].schedule: paged within 171 h (+ its run time) of its last run on its SSH host 10.0.0.7, by the overdue watch",
      "held logs.hostGroups[web].fileBackups[config].schedule: paged within 26.1 h of its last run on any instance tagged App=web",
      "held logs.hostGroups[both].fileBackups[config].schedule: paged within 26.1 h of its last run on each of its 2 SSH hosts and on any instance tagged App=both",
    ]);
  });
});

describe("the fall-back hour runs once", () => {
  it("America/New_York daily at 01:30: one run on 2027-11-07, 25 h to the next, no gap of 48 h", () => {
    const runs = schedulerRuns({ expression: "cron(30 1 * * ? *)", timezone: "America/New_York" }, FROM.getTime(), YEAR_END);
    expect(runs.runs).toHaveLength(365);
    expect(runs.repeated.map((x) => `${x.date} ${x.time}`)).toEqual(["2027-11-07 01:30"]);
    expect(runs.skipped).toEqual([]);
    // The same instants as the calendar's nextRuns, in the zone.
    expect(runs.runs).toEqual(nextRuns({ expression: "cron(30 1 * * ? *)", timezone: "America/New_York" }, FROM, 365).map((d) => d.getTime()));
    expect(refusals(regime({ timezone: "America/New_York", backup: { schedule: "daily at 01:30" } }))).toEqual([]);
  });

  it("rpoHours 25 is broken by the 25 h of the fall-back day (plus the next backup's run), named with its date; a fixed offset keeps it", () => {
    expect(refusals(regime({ timezone: "America/New_York", backup: { schedule: "daily at 01:30", rpoHours: 25 } }))).toEqual([
      `databases[app].backup.schedule: "daily at 01:30" in America/New_York runs 25 h apart from 2027-11-07 (the clock falls back before the next run): 25 h between backups + up to 12 min to store the next + 5 min for the RPO alarm to see it > rpoHours 25; run it in a fixed-offset zone (Etc/GMT+5) or set rpoHours to at least 26`,
    ]);
    expect(refusals(regime({ timezone: "America/New_York", backup: { schedule: { at: "daily at 01:30", timezone: "Etc/GMT+5" }, rpoHours: 25 } }))).toEqual([]);
  });

  it("rpoHours 24 with daily backups is refused in any zone: data is safe only once the next backup is stored, and the RPO alarm sees it minutes later", () => {
    // The RPO alarm slides over the last 24 h: the next day's backup is stored 1.4 min after 01:30 and
    // seen up to 5 min later, so it would page P0 every day although every backup succeeds.
    expect(refusals(regime({ timezone: "UTC", backup: { schedule: "daily at 01:30", rpoHours: 24 } }))).toEqual([
      `databases[app].backup.schedule: "daily at 01:30" leaves 24 h between backups + up to 12 min to store the next + 5 min for the RPO alarm to see it (first 2026-11-23) > rpoHours 24: the RPO alarm pages P0 although every backup succeeds; back up at least every 23.7 h or set rpoHours to at least 25`,
    ]);
    // Twice a day keeps 24 h (12 h between backups).
    expect(refusals(regime({ timezone: "UTC", backup: { schedule: "cron(30 1,13 * * ? *)", rpoHours: 24 } }))).toEqual([]);
  });
});

describe("the RPO alarm pages before the newest backup's data is older than rpoHours", () => {
  it("its window, counted from the backup's start, and a minute of evaluation fit rpoHours: whole, fractional, up to 7 days", () => {
    for (const h of [1, 6.5, 23.99, 24, 24.02, 25, 25.5, 26, 48, 100.25, 167, 168]) {
      const w = rpoAlarmWindow(h);
      const seconds = w.period * w.evaluationPeriods;
      expect(alarmWindowProblem(w), `rpoHours ${h}`).toBeUndefined();
      expect(seconds + 60, `rpoHours ${h}`).toBeLessThanOrEqual(h * 3600);
      // Rounded down by under a minute per period, never more.
      expect(seconds + 60 + 60 * w.evaluationPeriods, `rpoHours ${h}`).toBeGreaterThan(h * 3600);
      expect(w.datapointsToAlarm).toBe(w.evaluationPeriods);
    }
    // 25.5 h pages at 25.5 h, not at the next whole hour.
    const half = checkPromises(regime({ timezone: "UTC", backup: { schedule: "daily at 01:30", rpoHours: 25.5 } }), FROM).promises.find((p) => p.key === "databases[app].backup.rpoHours")!;
    expect([half.status, half.figure]).toEqual(["held", "paged at most 25.5 h after the fault"]);
  });

  it("a span that fits rpoHours but not its alarm's window is refused, naming the window", () => {
    // 24 h + a 12-minute run + 5 min to be seen = 24 h 17 min < rpoHours 24.3 (24 h 18 min), but the
    // window is a minute short of it and whole minutes per period (24 h 16 min): it would page daily.
    expect(refusals(regime({ timezone: "UTC", backup: { schedule: "daily at 01:30", rpoHours: 24.3 } }))).toEqual([
      `databases[app].backup.schedule: "daily at 01:30" leaves 24 h between backups + up to 12 min to store the next + 5 min for the RPO alarm to see it (first 2026-11-23) > rpoHours 24.3 (its alarm's window: 24 h 16 min): the RPO alarm pages P0 although every backup succeeds; back up at least every 23.9 h or set rpoHours to at least 25`,
    ]);
    expect(refusals(regime({ timezone: "UTC", backup: { schedule: "daily at 01:30", rpoHours: 24.4 } }))).toEqual([]);
  });
});

describe("AWS limits that fail only at deploy", () => {
  it("rpoHours 200 is beyond what an alarm window may look back (7 days): the overdue watcher holds it, at P0, up to 2 h late; 168 stays a metric alarm", () => {
    expect(refusals(regime({ backup: { rpoHours: 200 } }))).toEqual([]);
    const held = checkPromises(regime({ backup: { rpoHours: 200 } }), FROM).promises.filter((p) => p.key === "databases[app].backup.rpoHours");
    expect(held.map((p) => [p.status, p.figure, p.value])).toEqual([["held", "paged at most 2 h after it is due (one overdue-watch interval + the alarm's period), by the overdue watch t-db-app-rpo-overdue-P0", 7200]]);
    const metric = checkPromises(regime({ backup: { rpoHours: 168 } }), FROM).promises.filter((p) => p.key === "databases[app].backup.rpoHours");
    expect(metric.map((p) => [p.status, p.figure])).toEqual([["held", "paged at most 167.9 h after the fault"]]);
    // Nothing is broken, so an acceptance of it is stale.
    expect(refusals(regime({ backup: { rpoHours: 200 }, acceptedRisks: [{ key: "databases[app].backup.rpoHours", reason: "we know" }] }))).toEqual([
      `acceptedRisks[0].key: "databases[app].backup.rpoHours" breaks no promise; remove the acceptance`,
    ]);
  });

  const endpoints = (n: number) => ({
    schedule: "every 1 minute",
    checks: Array.from({ length: n }, (_, i) => ({
      name: `service-${String(i).padStart(2, "0")}`,
      url: `https://service-${String(i).padStart(2, "0")}.example.com/api/v1/health/detailed`,
      maxResponseMs: 500,
      jsonField: { path: "status", equals: "ok" },
      minCertificateDays: 14,
    })),
  });

  it("20 or 60 endpoints keep the health-check environment within Lambda's 4 KB: the endpoint list travels in the bundle", () => {
    for (const n of [10, 20, 60]) {
      const report = checkPromises(regime({ endpoints: endpoints(n) }), FROM);
      expect(report.refusals).toEqual([]);
      const env = report.promises.find((p) => p.key === "endpoints.checks" && p.figure.endsWith("bytes of 4096"))!;
      expect(env.status).toBe("held");
      expect(Number(/^(\d+) bytes/.exec(env.figure)![1])).toBeLessThan(4096);
    }
  });

  /** A restore drill on Lambda (1 + 2 checks x 5 + 2 = 13 min) with two checks of `sqlBytes` of SQL each. */
  const drill = (sqlBytes: number) =>
    validateRegime({
      name: "t",
      timezone: "UTC",
      alerting: ALERTING,
      databases: [
        {
          ...APP_DATABASE,
          backup: { schedule: "daily at 02:00" },
          restoreDrill: {
            schedule: "monthly on day 1 at 05:00",
            rtoMinutes: 2,
            checks: ["orders", "invoices"].map((t) => {
              const head = `select count(*) from ${t} where status in (`;
              const statuses = Array.from({ length: sqlBytes }, (_, i) => `'s${i}'`).join(", ");
              return { name: t, sql: `${head}${statuses}`.slice(0, sqlBytes - 1) + ")", minRows: 1 };
            }),
          },
        },
      ],
    });

  it("a restore drill on Lambda whose CHECKS pass 4 KB is refused before pulumi up, with the key and the remedy; fewer checks pass", () => {
    const [line, ...rest] = refusals(drill(2000));
    expect(rest).toEqual([]);
    expect(line).toMatch(/^databases\[app\]\.restoreDrill\.checks: function t-db-app-restore-drill's environment is \d+ bytes \(CHECKS the largest\) > Lambda's 4096: AWS refuses it at deploy; list fewer checks or shorter SQL \(they travel as JSON in CHECKS\), or set restoreDrill\.runner: fargate$/);
    const ok = checkPromises(drill(1500), FROM);
    expect(ok.refusals).toEqual([]);
    const env = ok.promises.find((p) => p.key === "databases[app].restoreDrill.checks")!;
    expect(env).toMatchObject({ status: "held", kind: "limit" });
    expect(env.value).toBeLessThan(4096);
    // The same drill on Fargate has no 4 KB environment: nothing to check.
    const fargate = drill(2000);
    fargate.databases[0].restoreDrill!.runner = "fargate";
    expect(checkPromises(fargate, FROM).refusals).toEqual([]);
  });

  it("the program stops with that line before registering any resource (the plan's resource audit never runs)", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const YAML = (await import("yaml")).default;
    const file = join(mkdtempSync(join(tmpdir(), "promises-")), "Pulumi.t.yaml");
    const ns = "maintenance-regime";
    const db = drill(2000).databases[0];
    const config = {
      id: "app",
      secretArn: db.secretArn,
      network: db.network,
      backup: { schedule: "daily at 02:00" },
      restoreDrill: { schedule: "monthly on day 1 at 05:00", rtoMinutes: 2, checks: db.restoreDrill!.checks.map((c) => ({ name: c.name, sql: c.sql, minRows: 1 })) },
    };
    writeFileSync(file, YAML.stringify({ config: { [`${ns}:name`]: "t", [`${ns}:alerting`]: ALERTING, [`${ns}:timezone`]: "UTC", [`${ns}:databases`]: [config] } }));
    await expect(runPlan({ configFile: file, from: FROM })).rejects.toThrow(/^promise check: databases\[app\]\.restoreDrill\.checks: function t-db-app-restore-drill's environment is \d+ bytes/);
  });

  it("the plan's audit refuses any registered resource AWS would refuse: a name over 64 characters, an environment over 4 KB, an alarm window", () => {
    const long = "t-db-app-" + "x".repeat(60);
    const lines = auditResources([
      { type: "aws:lambda/function:Function", name: long, custom: true, parent: "", inputs: { name: long, environment: { variables: { A: "1" } }, tags: { Database: "app", Task: "backup" } } },
      { type: "aws:iam/role:Role", name: `${long}-role`, custom: true, parent: "", inputs: { name: `${long}-role`, tags: {} } },
      { type: "aws:lambda/function:Function", name: "t-x", custom: true, parent: "", inputs: { name: "t-x", environment: { variables: { CHECKS: "y".repeat(4100) } }, tags: { Database: "app" } } },
      { type: "aws:cloudwatch/metricAlarm:MetricAlarm", name: "t-a", custom: true, parent: "", inputs: { name: "t-a", period: 300, evaluationPeriods: 300, tags: {} } },
      { type: "aws:cloudwatch/metricAlarm:MetricAlarm", name: "t-b", custom: true, parent: "", inputs: { name: "t-b", period: 45, evaluationPeriods: 1, tags: {} } },
    ]);
    expect(lines).toEqual([
      `databases[app]: Lambda function name "${long}" has 69 characters > 64: AWS refuses it at deploy`,
      `resource ${long}-role: IAM role name "${long}-role" has 74 characters > 64: AWS refuses it at deploy`,
      "databases[app]: function t-x's environment is 4106 bytes > Lambda's 4096: AWS refuses it at deploy",
      "resource t-a: alarm t-a has a window of 300 s x 300 periods = 90000 s > CloudWatch's 86,400 s (1 day) for a period under an hour: CloudWatch refuses it at deploy",
      "resource t-b: alarm t-b has a window of period 45 s is not 10, 20, 30 or a multiple of 60: CloudWatch refuses it at deploy",
    ]);
  });
});

describe("a check is seen when its run ends: the down promise counts the run, and refuses a run longer than the periods it counts", () => {
  const slowapi = { name: "slowapi", url: "https://app.example.com/health", timeoutMs: 60_000, maxResponseMs: 59_999, failuresBeforeAlarm: 1 };
  const promise = (checks: unknown[], name: string) => checkPromises(regime({ endpoints: { schedule: "every 1 minute", checks } }), FROM).promises.filter((p) => p.key === `endpoints.checks[${name}].failuresBeforeAlarm`);

  it("every minute, failuresBeforeAlarm 1, timeoutMs 60000: refused, a healthy answer after 50-60 s would page P0; the figure includes the 90 s run", () => {
    const [late, page] = promise([slowapi], "slowapi");
    expect([late.status, late.kind, late.effect, late.remedy]).toEqual([
      "broken",
      "config",
      "a healthy answer near its timeout (every endpoint's Healthy is written when the run ends, up to 90 s after its scheduled time: slowapi's timeoutMs 60000 + 30 s to start) is written after CloudWatch evaluated the periods the alarm counts, and a period without a check counts as a failed one: P0 page for an endpoint that answered",
      "set timeoutMs of slowapi to at most 29000 (the run then ends within the 60 s the alarm counts), or raise failuresBeforeAlarm to 2",
    ]);
    expect([page.promise, page.status]).toEqual(["P0 page when slowapi is down for 1 checks (1 min), within 4.5 min of the fault", "held"]);
  });

  it("the same check with failuresBeforeAlarm 2, or timeoutMs 29000, holds; another endpoint's long timeout makes the whole run long", () => {
    expect(promise([{ ...slowapi, failuresBeforeAlarm: 2 }], "slowapi").map((p) => p.status)).toEqual(["held"]);
    expect(promise([{ ...slowapi, timeoutMs: 29_000, maxResponseMs: 20_000 }], "slowapi").map((p) => [p.status, p.promise])).toEqual([["held", "P0 page when slowapi is down for 1 checks (1 min), within 4 min of the fault"]]);
    const fast = { name: "fast", url: "https://app.example.com/ping", timeoutMs: 1000, failuresBeforeAlarm: 1 };
    expect(promise([fast, { ...slowapi, failuresBeforeAlarm: 5 }], "fast").map((p) => [p.status, p.remedy])).toEqual([
      ["broken", "set timeoutMs of slowapi to at most 29000 (the run then ends within the 60 s the alarm counts), or raise failuresBeforeAlarm to 2"],
      ["held", undefined],
    ]);
  });
});

describe("endpoint checks on a schedule with gaps", () => {
  const checks = [{ name: "api", url: "https://a.example.com/health" }];
  const down = (schedule: string) => checkPromises(regime({ timezone: "America/New_York", endpoints: { schedule, checks } }), FROM).promises.find((p) => p.key === "endpoints.checks[api].failuresBeforeAlarm")!;

  it("working hours every 5 minutes: paged within 16.7 min of the fault while checks run (the last failing check's run of up to 40 s included), not after the weekend", () => {
    const p = down("cron(*/5 8-18 ? * MON-FRI *)");
    expect([p.promise, p.figure, p.value, p.status]).toEqual([
      "P0 page when api is down for 2 checks (10 min), within 16.7 min of the fault",
      "paged at most 16.7 min after the fault while checks run (checks run cron(*/5 8-18 ? * MON-FRI *), America/New_York; while they stop, the hours and days the schedule leaves out or a clock change, the alarm keeps its state)",
      1000,
      "held",
    ]);
  });

  it("every minute: 5 checks within 7.7 min (a check seen when its run ends, up to 40 s after its scheduled time)", () => {
    const p = down("every 1 minute");
    expect([p.promise, p.figure, p.value]).toEqual(["P0 page when api is down for 5 checks (5 min), within 7.7 min of the fault", "paged at most 7.7 min after the fault", 460]);
  });
});

describe("endpoint checks unevenly spaced while they run: the time to the page counts the longest gap, and the schedule is refused", () => {
  const checks = [{ name: "api", url: "https://a.example.com/health" }];
  const report = (schedule: string, acceptedRisks?: unknown) => checkPromises(regime({ endpoints: { schedule, checks }, acceptedRisks }), FROM);
  const down = (schedule: string) => report(schedule, [{ key: "endpoints.schedule", reason: "checks on the hour" }]).promises.find((p) => p.key === "endpoints.checks[api].failuresBeforeAlarm")!;
  const line = (schedule: string, short: string, long: string) =>
    `endpoints.schedule: ${schedule} runs the checks unevenly, ${short} and up to ${long} apart: the down alarms' periods are the shortest gap (${short}), so the periods inside a longer gap hold no check, and CloudWatch counts an alarm's last data points only within an evaluation range a few periods longer than its window: failing checks ${long} apart may not count together (a page later than promised) and one failed check followed by empty periods may page alone; space the checks evenly while they run (rate(5 minutes), or a step that divides the hour or day: cron(0/5 * * * ? *)), or accept the risk in acceptedRisks (key endpoints.schedule)`;

  it("cron(0,5): a fault at :06 is seen at :00 and :05 of the next hour: within 66.7 min, not 16.7; refused, one line naming endpoints.schedule", () => {
    expect(report("cron(0,5 * * * ? *)").refusals).toEqual([line("cron(0,5 * * * ? *)", "5 min", "55 min")]);
    const p = down("cron(0,5 * * * ? *)");
    // 55 + 5 min to the second failing check, its 5-minute period, a minute of evaluation, 40 s of run.
    expect([p.promise, p.figure, p.value, p.status]).toEqual(["P0 page when api is down for 2 checks (60 min), within 66.7 min of the fault", "paged at most 66.7 min after the fault", 4000, "held"]);
    expect(report("cron(0,5 * * * ? *)", [{ key: "endpoints.schedule", reason: "checks on the hour" }]).refusals).toEqual([]);
    // Evenly spaced checks keep their figure and are not refused: every 5 minutes, every hour.
    const even = (schedule: string) => report(schedule).promises.find((x) => x.key === "endpoints.checks[api].failuresBeforeAlarm")!;
    expect([even("rate(5 minutes)").promise, even("rate(5 minutes)").value, even("hourly").value]).toEqual(["P0 page when api is down for 2 checks (10 min), within 16.7 min of the fault", 1000, 3 * 3600 + 100]);
    expect([...report("rate(5 minutes)").refusals, ...report("cron(0/5 * * * ? *)").refusals]).toEqual([]);
  });

  it("cron(0,45) and cron(0/45): checks 45 and 15 min apart in 15-minute periods: within 76.7 min, not 46.7", () => {
    for (const schedule of ["cron(0,45 * * * ? *)", "cron(0/45 * * * ? *)"]) {
      expect(report(schedule).refusals).toEqual([line(schedule, "15 min", "45 min")]);
      const p = down(schedule);
      expect([p.promise, p.figure, p.value]).toEqual(["P0 page when api is down for 2 checks (60 min), within 76.7 min of the fault", "paged at most 76.7 min after the fault", 4600]);
    }
  });

  it("the burn alarms count the checks a window really holds: 2 an hour on cron(0,5), not 12", () => {
    const r = checkPromises(regime({ endpoints: { schedule: "cron(0,5 * * * ? *)", checks: [{ ...checks[0], uptimeTargetPercent: 99.5 }] }, acceptedRisks: [{ key: "endpoints.schedule", reason: "checks on the hour" }] }), FROM);
    expect(r.promises.filter((p) => p.key === "endpoints.checks[api].uptimeTargetPercent").map((p) => p.figure)).toEqual([
      "paged on a single failed check (1 failed of 2 checks in 60 min and 1 failed of 1 check in 5 min)",
      "paged on a single failed check (1 failed of 12 checks in 6 h and 1 failed of 2 checks in 30 min)",
    ]);
    // 48 checks a day: one failed check spends 30 min of the budget, more than 99.95 % leaves (21.6 min).
    const strict = checkPromises(regime({ endpoints: { schedule: "cron(0,5 * * * ? *)", checks: [{ ...checks[0], uptimeTargetPercent: 99.95 }] }, acceptedRisks: [{ key: "endpoints.schedule", reason: "checks on the hour" }] }), FROM);
    expect(strict.promises.filter((p) => p.status === "broken").map((p) => [p.key, p.figure])).toEqual([["endpoints.checks[api].uptimeTargetPercent", "21.6 min of downtime in 30 days < one check interval (30 min)"]]);
  });
});

describe("a Redis stream queue: an entry read and never acknowledged pages at the queue's severity", () => {
  const queues = [
    { name: "events", maxLength: 1000, severity: "P1" },
    { name: "jobs", maxLength: 10, maxPendingIdleMinutes: 240 },
    { name: "celery", maxLength: 1000, maxPendingIdleMinutes: 0 },
  ];
  const report = (schedule: string) => checkPromises(validateRegime({ ...regimeConfig(), redis: [{ id: "broker", url: "redis://r.internal:6379", schedule, queues }] }), FROM).promises.filter((p) => p.key.endsWith(".maxPendingIdleMinutes"));

  it("every 15 minutes: the default 60 min and 4 h each have their line, within a run, the alarm's period and a minute; 0 has none", () => {
    expect(report("every 15 minutes").map((p) => [p.key, p.promise, p.figure, p.status])).toEqual([
      ["redis[broker].queues[events].maxPendingIdleMinutes", "P1 page when a stream entry of queue events stays unacknowledged (read, no XACK) longer than 60 min, within 31 min of that, whatever the backlog", "paged at most 31 min after the fault", "held"],
      ["redis[broker].queues[jobs].maxPendingIdleMinutes", "P2 page when a stream entry of queue jobs stays unacknowledged (read, no XACK) longer than 4 h, within 31 min of that, whatever the backlog", "paged at most 31 min after the fault", "held"],
    ]);
  });

  it("hourly: the figure grows with the run interval", () => {
    expect(report("every 1 hour").map((p) => [p.value, p.figure])).toEqual([
      [7260, "paged at most 2 h after the fault"],
      [7260, "paged at most 2 h after the fault"],
    ]);
  });
});

describe("maintenance windows and mutes delay the pages they hold back", () => {
  const withMutes = (over: Record<string, unknown>) =>
    validateRegime({
      name: "t",
      timezone: "America/New_York",
      alerting: ALERTING,
      databases: [
        {
          ...APP_DATABASE,
          backup: { schedule: { at: "daily at 02:00", timezone: "Etc/GMT+5" } },
        },
      ],
      endpoints: { checks: [{ name: "api", url: "https://a.example.com/health" }] },
      ...over,
    });
  const REFERENCE = new Date("2026-12-01T00:00:00Z");
  const report = (over: Record<string, unknown>) => checkPromises(withMutes(over), REFERENCE);
  const down = (over: Record<string, unknown>) => report(over).promises.find((p) => p.key === "endpoints.checks[api].failuresBeforeAlarm")!;

  it("a daily window of 1439 min over P0 and P1 is refused on its key, with the figure and what keeps the promise (on the 23-hour spring-forward day two windows overlap: 46 h 59 min muted)", () => {
    const over = { maintenanceWindows: [{ name: "always", schedule: "daily at 00:00", durationMinutes: 1439, severities: ["P0", "P1"] }] };
    expect(down(over).figure).toBe("paged at most 7.7 min after the fault, or up to 46 h 59 min later inside maintenance window always");
    expect(report(over).refusals).toEqual([
      "maintenanceWindows[0]: maintenance window always mutes t-db-app-rpo-P0 for up to 46 h 59 min: a fault inside it pages P0 up to 73 h after it, more than 12 h later than the promised 26 h; maintenance window always mutes t-endpoint-api-down-P0 for up to 46 h 59 min: a fault inside it pages P0 up to 47.1 h after it, more than 12 h later than the promised 7.7 min; shorten it to at most 12 h or drop P0 from its severities",
    ]);
  });

  it("two daily 11-hour windows over P0, each within 12 h, overlap into 16 h 30 min muted: refused on the first's key, naming both", () => {
    const over = {
      maintenanceWindows: [
        { name: "nightly", schedule: "daily at 01:30", durationMinutes: 660, severities: ["P0"] },
        { name: "daytime", schedule: "daily at 06:00", durationMinutes: 660, severities: ["P0"] },
      ],
    };
    expect(down(over).figure).toBe("paged at most 7.7 min after the fault, or up to 16 h 30 min later inside maintenance window nightly and maintenance window daytime together");
    const lines = report(over).refusals;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^maintenanceWindows\[0\]: maintenance window nightly and maintenance window daytime together mutes t-db-app-rpo-P0 for up to 16 h 30 min/);
    // Each alone holds: 11 h is within the 12-hour allowance.
    expect(report({ maintenanceWindows: [over.maintenanceWindows[0]] }).refusals).toEqual([]);
  });

  it("a mute of P0 for 14 days is refused; named in acceptedRisks it passes, reported as accepted", () => {
    const mutes = [{ severities: ["P0"], until: "2026-12-15T00:00Z", reason: "migration" }];
    expect(down({ mutes }).figure).toBe("paged at most 7.7 min after the fault, or up to 14 d later inside mute until 2026-12-15T00:00Z");
    expect(report({ mutes }).refusals).toHaveLength(1);
    expect(report({ mutes }).refusals[0]).toMatch(/^mutes\[0\]: mute until 2026-12-15T00:00Z mutes t-db-app-rpo-P0 for up to 14 d: .*; shorten it to at most 12 h or drop P0 from its severities$/);
    const accepted = report({ mutes, acceptedRisks: [{ key: "mutes[0]", reason: "the migration takes two weeks; watched by hand" }] });
    expect(accepted.refusals).toEqual([]);
    expect(accepted.promises.filter((p) => p.key === "mutes[0]").map((p) => p.status)).toEqual(["accepted", "accepted"]);
  });

  it("a 2-hour weekly window over the endpoint checks is held, and its figure says how much later a page may come", () => {
    const over = { maintenanceWindows: [{ name: "deploys", schedule: "weekly on Sunday at 02:00", durationMinutes: 120, components: ["t-health"] }] };
    expect(report(over).refusals).toEqual([]);
    expect([down(over).figure, down(over).status]).toEqual(["paged at most 7.7 min after the fault, or up to 2 h later inside maintenance window deploys", "held"]);
    // The RPO alarm is not in the window: its figure is unchanged.
    expect(report(over).promises.find((p) => p.key === "databases[app].backup.rpoHours")!.figure).not.toContain("window");
  });

  it("a mute over by the reference date holds nothing back", () => {
    expect(down({ mutes: [{ severities: ["P0"], from: "2026-11-01T00:00Z", until: "2026-11-14T00:00Z", reason: "past" }] }).figure).toBe("paged at most 7.7 min after the fault");
  });
});

describe("a paused job and the promises that depend on it", () => {
  const status = (r: ReturnType<typeof regime>, key: string) => checkPromises(r, FROM).promises.filter((p) => p.key === key).map((p) => [p.status, p.figure]);

  it("a paused backup: its RPO alarm and its verify's age are paused, with the figures that apply, not held", () => {
    const r = regime({ backup: { paused: true } });
    expect(status(r, "databases[app].backup.schedule")).toEqual([["paused", "paused"]]);
    expect(status(r, "databases[app].backup.rpoHours")).toEqual([["paused", "no page while paused (the alarm's actions are off)"]]);
    expect(status(r, "databases[app].verify.maxAgeHours")).toEqual([["paused", "no backup while paused: the verify fails once the newest backup is older than 26 h"]]);
    // The verify itself still runs and is watched.
    expect(status(r, "databases[app].verify.schedule")).toEqual([["held", "paged within 25.4 h of its last run"]]);
    expect(checkPromises(r, FROM).refusals).toEqual([]);
  });

  it("a paused 02:00 New York backup: no verify break for 2027-03-14 from its disabled schedule, and its acceptance is kept for when it resumes", () => {
    const r = regime({ timezone: "America/New_York", backup: { paused: true }, acceptedRisks: [{ key: "databases[app].backup.schedule", reason: "one short night a year" }] });
    const report = checkPromises(r, FROM);
    expect(report.refusals).toEqual([]);
    expect(report.promises.filter((p) => p.status === "broken" || p.firstBreak)).toEqual([]);
    expect(status(r, "databases[app].verify.maxAgeHours")).toEqual([["paused", "no backup while paused: the verify fails once the newest backup is older than 26 h"]]);
  });

  it("a paused verify: its age promise is paused; paused endpoint checks: their down alarms' promises are paused", () => {
    expect(status(regime({ verify: { paused: true } }), "databases[app].verify.maxAgeHours")).toEqual([["paused", "no verify while paused"]]);
    const r = regime({ endpoints: { paused: true, checks: [{ name: "api", url: "https://a.example.com/health" }] } });
    expect(status(r, "endpoints.checks[api].failuresBeforeAlarm")).toEqual([["paused", "no page while paused (the alarm's actions are off)"]]);
  });
});

describe("every severity the regime pages reaches someone (alerting.<P>)", () => {
  // One database (backup P1, its RPO P0), endpoint api (down P0), a monthly reminder (P3, a plain-text checklist).
  const paged = { endpoints: { checks: [{ name: "api", url: "https://app.example.com/health" }] }, reminders: [{ name: "review", schedule: "monthly on day 1 at 09:00", checklist: ["Review access"] }] };
  const SLACK = { slack: [{ workspaceId: "T0123456", channelId: "C0123456" }] };
  // The regime has an overdue watcher (the monthly reminder): it checks each held severity's topic after deploy.
  const checked = (told: string) => `; delivery checked hourly after deploy; while none delivers (unconfirmed, unsubscribed, opted out), its unreachable alarm pages ${told}`;
  const P0_LINE =
    "alerting.P0: P0 is paged by 2 sources (databases[app].backup.rpoHours, endpoints.checks[api]) but alerting.P0 has no subscriber: every P0 page goes to a topic nobody hears; add an email, sms, https, slack or teams subscriber under alerting.P0, or accept the risk in acceptedRisks (key alerting.P0)";
  const cases: { name: string; alerting: unknown; acceptedRisks?: unknown; refusals: (string | RegExp)[]; figures: string[] }[] = [
    {
      name: "no alerting at all: every paged severity is refused on its own key",
      alerting: {},
      refusals: [P0_LINE, /^alerting\.P1: P1 is paged by \d+ sources \(databases\[app\]\.backup, /, /^alerting\.P2: /, /^alerting\.P3: .*reminders\[review\]/],
      figures: ["broken alerting.P0: no subscriber", "broken alerting.P1: no subscriber", "broken alerting.P2: no subscriber", "broken alerting.P3: no subscriber"],
    },
    {
      name: "P0 empty, P1 to P3 set: only P0 is refused",
      alerting: { ...ALERTING, P0: {} },
      refusals: [P0_LINE],
      // P0 has no subscriber: an unreachable P1 pages P2 and P3.
      figures: [
        "broken alerting.P0: no subscriber",
        `held alerting.P1: 1 subscription (email p1@example.com)${checked("P2, P3")}`,
        `held alerting.P2: 1 subscription (email p2@example.com)${checked("P1, P3")}`,
        `held alerting.P3: 1 subscription (email p3@example.com)${checked("P1, P2")}`,
      ],
    },
    {
      name: "only a Slack channel on every severity: alarms reach it, the reminder's plain-text checklist on P3 does not",
      alerting: { P0: SLACK, P1: SLACK, P2: SLACK, P3: SLACK },
      refusals: [
        "alerting.P3: reminders[review] sends its checklist to P3 as plain text, which AWS Chatbot does not deliver, and alerting.P3 has only chat channels: the reminder reaches nobody; add an email, sms or https subscriber under alerting.P3, or accept the risk in acceptedRisks (key alerting.P3)",
      ],
      figures: [
        `held alerting.P0: 1 subscription (slack C0123456)${checked("P1, P2, P3")}`,
        `held alerting.P1: 1 subscription (slack C0123456)${checked("P0, P2, P3")}`,
        `held alerting.P2: 1 subscription (slack C0123456)${checked("P0, P1, P3")}`,
        "broken alerting.P3: 1 subscription (slack C0123456), chat only",
      ],
    },
    {
      name: "P0 empty and accepted in acceptedRisks: it passes, reported accepted",
      alerting: { ...ALERTING, P0: {} },
      acceptedRisks: [{ key: "alerting.P0", reason: "staging: nobody is on call" }],
      refusals: [],
      figures: [
        "accepted alerting.P0: no subscriber",
        `held alerting.P1: 1 subscription (email p1@example.com)${checked("P2, P3")}`,
        `held alerting.P2: 1 subscription (email p2@example.com)${checked("P1, P3")}`,
        `held alerting.P3: 1 subscription (email p3@example.com)${checked("P1, P2")}`,
      ],
    },
    {
      name: "a webhook and an SMS count; an https subscriber is named by its host, not its path",
      alerting: { ...ALERTING, P0: { sms: ["+15555550100"], https: ["https://events.example.com/integration/secret-token/enqueue"] } },
      refusals: [],
      figures: [
        `held alerting.P0: 2 subscriptions (sms +15555550100, https events.example.com)${checked("P1, P2, P3")}`,
        `held alerting.P1: 1 subscription (email p1@example.com)${checked("P0, P2, P3")}`,
        `held alerting.P2: 1 subscription (email p2@example.com)${checked("P0, P1, P3")}`,
        `held alerting.P3: 1 subscription (email p3@example.com)${checked("P0, P1, P2")}`,
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const report = checkPromises(regime({ ...paged, alerting: c.alerting, acceptedRisks: c.acceptedRisks }), FROM);
      expect(figures(report.promises.filter((p) => p.key.startsWith("alerting.")))).toEqual(c.figures);
      expect(report.refusals).toHaveLength(c.refusals.length);
      c.refusals.forEach((r, i) => (typeof r === "string" ? expect(report.refusals[i]).toBe(r) : expect(report.refusals[i]).toMatch(r)));
    });
  }

  it("a severity nothing pages needs no subscriber and gets no line; accepting it is refused as stale", () => {
    // Hosts page P2 (warning) and P1 (critical) only.
    const hosts = (alerting: unknown, acceptedRisks?: unknown) =>
      checkPromises(validateRegime({ name: "t", alerting, hosts: [{ name: "web", instanceId: "i-0123456789abcdef0" }], ...(acceptedRisks ? { acceptedRisks } : {}) }), FROM);
    const r = hosts({ P1: ALERTING.P1, P2: ALERTING.P2 });
    expect([figures(r.promises.filter((p) => p.key.startsWith("alerting."))), r.refusals]).toEqual([["held alerting.P1: 1 subscription (email p1@example.com)", "held alerting.P2: 1 subscription (email p2@example.com)"], []]);
    expect(hosts({ P1: ALERTING.P1, P2: ALERTING.P2 }, [{ key: "alerting.P0", reason: "r" }]).refusals).toEqual(['acceptedRisks[0].key: "alerting.P0" breaks no promise; remove the acceptance']);
  });

  it("a host whose status check pages P0 needs a P0 subscriber, and the refusal names the check", () => {
    const r = checkPromises(
      validateRegime({ name: "t", alerting: { P1: ALERTING.P1, P2: ALERTING.P2 }, hosts: [{ name: "web", instanceId: "i-0123456789abcdef0", statusCheck: { severity: "P0" } }] }),
      FROM,
    );
    expect(r.refusals).toHaveLength(1);
    expect(r.refusals[0]).toMatch(/^alerting\.P0: P0 is paged by 1 source \(hosts\[web\]\.statusCheck\)/);
  });

  it("the program refuses prod without its alerting section before anything is created: one line a severity", async () => {
    const { mkdtempSync, writeFileSync, readFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const YAML = (await import("yaml")).default;
    const doc = YAML.parse(readFileSync(join(__dirname, "..", "Pulumi.prod.yaml"), "utf8"));
    delete doc.config["maintenance-regime:alerting"];
    const file = join(mkdtempSync(join(tmpdir(), "promises-")), "Pulumi.prod.yaml");
    writeFileSync(file, YAML.stringify(doc));
    const err = await runPlan({ configFile: file, from: FROM }).then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(err?.split("\n").map((l) => l.split(":").slice(0, 2).join(":"))).toEqual(["promise check: alerting.P0", "promise check: alerting.P1", "promise check: alerting.P2", "promise check: alerting.P3"]);
    expect(err).toContain("P0 is paged by 2 sources (databases[app].backup.rpoHours, endpoints.checks[api]) but alerting.P0 has no subscriber");
  }, 120_000);
});

describe("acceptedRisks", () => {
  it("an accepted broken promise passes, reported as accepted", () => {
    const r = regime({
      timezone: "America/New_York",
      acceptedRisks: [
        { key: "databases[app].backup.schedule", reason: "the 02:00 slot is contractual; one missing backup a year is accepted" },
        { key: "databases[app].verify.maxAgeHours", reason: "follows from the above" },
      ],
    });
    const report = checkPromises(r, FROM);
    expect(report.refusals).toEqual([]);
    expect(report.promises.filter((p) => p.status === "accepted").map((p) => `${p.key}: ${p.figure} (${p.firstBreak})`)).toEqual([
      "databases[app].backup.schedule: up to 47.2 h of data (47 h between backups + up to 12 min to store one) (2027-03-14)",
      "databases[app].verify.maxAgeHours: newest backup at most 27 h old when it runs, counted from its start (2027-03-14)",
      // The skipped run was that Sunday's weekly backup: one more effect of the accepted schedule.
      "databases[app].backup.schedule: none in the week from 2027-03-14 (2027-03-14)",
      "databases[app].backup.schedule: skips 2027-03-14 02:00 (2027-03-14)",
      "databases[app].backup.schedule: paged within 26.4 h of its last run (2027-03-14)",
    ]);
  });

  it("an acceptance naming a key that breaks nothing is refused", () => {
    expect(refusals(regime({ acceptedRisks: [{ key: "databases[app].backup.schedule", reason: "old" }] }))).toEqual([
      `acceptedRisks[0].key: "databases[app].backup.schedule" breaks no promise; remove the acceptance`,
    ]);
    expect(refusals(regime({ acceptedRisks: [{ key: "databases[nope].backup.schedule", reason: "typo" }] }))).toEqual([
      `acceptedRisks[0].key: "databases[nope].backup.schedule" breaks no promise; remove the acceptance`,
    ]);
  });

  it("accepting the skipped 02:00 does not hide an RPO the schedule breaks every day: a break on good days cannot be accepted", () => {
    const accepted = [{ key: "databases[app].backup.schedule", reason: "one skipped backup a year is accepted" }];
    // rpoHours 26: only the spring-forward Sunday breaks it; the acceptance covers that.
    expect(refusals(regime({ timezone: "America/New_York", acceptedRisks: accepted, verify: { maxAgeHours: 48 } }))).toEqual([]);
    // rpoHours 20: every day's 24 h between backups breaks it too (the RPO alarm would page P0 daily).
    expect(refusals(regime({ timezone: "America/New_York", backup: { rpoHours: 20 }, acceptedRisks: accepted, verify: { maxAgeHours: 48 } }))).toEqual([
      `databases[app].backup.schedule: "daily at 02:00" leaves 24 h between backups + up to 12 min to store the next + 5 min for the RPO alarm to see it 364 times in 12 months > rpoHours 20: the RPO alarm pages P0 although every backup succeeds (acceptedRisks cannot accept a break that comes on good days); back up at least every 19.7 h or set rpoHours to at least 25`,
    ]);
    const r = checkPromises(regime({ timezone: "America/New_York", backup: { rpoHours: 20 }, acceptedRisks: accepted, verify: { maxAgeHours: 48 } }), FROM).promises.filter((p) => p.key === "databases[app].backup.schedule" && /data lost/.test(p.promise));
    expect(r.map((p) => [p.status, p.recurring ?? 0])).toEqual([["accepted", 0], ["broken", 364]]);
  });

  it("accepting maxAgeHours does not hide a verify that fails every day: only the daylight-saving day is acceptable", () => {
    const accepted = [{ key: "databases[app].verify.maxAgeHours", reason: "the spring-forward day" }];
    // The verify at 01:30 New York reads the backup of 02:00 EST the day before: 23.5 h old on every
    // winter day > 23 (22.5 h in summer, when that backup runs at 03:00 EDT).
    const lines = refusals(regime({ timezone: "America/New_York", backup: { schedule: { at: "daily at 02:00", timezone: "Etc/GMT+5" } }, verify: { schedule: "daily at 01:30", maxAgeHours: 23 }, acceptedRisks: accepted }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^databases\[app\]\.verify\.maxAgeHours: .* fails without a fault \(127 verifies in 12 months, first 2026-11-23\) \(acceptedRisks cannot accept a break that comes on good days\)/);
  });

  it("an acceptance without a reason is a config error naming the key", () => {
    expect(() => regime({ acceptedRisks: [{ key: "databases[app].backup.schedule", reason: "" }] })).toThrow("acceptedRisks[0].reason: must say why the risk is accepted");
  });
});

const STACKS = [
  ["prod", join(__dirname, "..", "Pulumi.prod.yaml")],
  ...["bigshot", "boardroom-ai", "fitnesscrm", "iswitch-roofs-crm", "neff-paving"].map((s) => [s, join(__dirname, "..", "examples", s, `Pulumi.${s}.yaml`)]),
] as const;

/** `status key: figure` of every promise. */
function figures(items: { key: string; figure: string; status: string }[]): string[] {
  return items.map((p) => `${p.status} ${p.key}: ${p.figure}`);
}

/**
 * `<severity> <config section>` of each page of the model: the top-level key of its source, the RDS and
 * application alarms under `hosts` (one component holds them), the watcher's under `name` (plan/config-keys.ts).
 */
function pagedSeverities(pages: DeclaredPage[]): string[] {
  const section = (source: string) => (source === "the overdue watcher" ? "name" : /^applications\[|\.rdsInstanceId$/.test(source) ? "hosts" : /^[a-zA-Z]+/.exec(source)![0]);
  return [...new Set(pages.map((p) => `${p.severity} ${section(p.source)}${p.via === "message" ? " message" : ""}`))].sort();
}

/** Config section of an alarm by the resource part of its name (`<regime>-<resource>-<metric>-<severity>`, components/alarms.ts alarmName). */
const ALARM_SECTIONS: [RegExp, string][] = [
  [/^db-/, "databases"],
  [/^redis-/, "redis"],
  [/^(endpoint|health)-/, "endpoints"],
  [/^(host|app|rds)-/, "hosts"],
  [/^logs-/, "logs"],
  [/^reminders?-/, "reminders"],
  [/^overdue-watch-/, "name"],
  // The overdue watcher's subscription check: an alert topic none of whose subscriptions delivers.
  [/^alerts-P\d-unreachable-/, "name"],
];

/** The same of the recorded resources: every alarm that notifies (its Severity tag, its name's section) and every reminder's message. */
function recordedPagedSeverities(resources: RecordedResource[], regime: ReturnType<typeof regimeFromConfig>): string[] {
  const out = new Set<string>();
  for (const r of resources) {
    if (r.type !== "aws:cloudwatch/metricAlarm:MetricAlarm" && r.type !== "aws:cloudwatch/compositeAlarm:CompositeAlarm") continue;
    const actions = r.inputs.alarmActions as unknown[] | undefined;
    if (!actions?.length) continue;
    const resource = String(r.inputs.name ?? r.inputs.alarmName).slice(regime.name.length + 1);
    const section = ALARM_SECTIONS.find(([re]) => re.test(resource))?.[1] ?? `unknown alarm ${resource}`;
    // The severities whose topics it publishes to (an unreachable alarm publishes to others than its own).
    const topics = actions.map((t) => /-alerts-(P\d)$/.exec(String(t))?.[1]);
    for (const sev of topics.every(Boolean) ? topics : [(r.inputs.tags as Record<string, string>).Severity]) out.add(`${sev} ${section}`);
  }
  // A reminder's schedule publishes its checklist to its severity's topic.
  for (const m of regime.reminders) out.add(`${m.severity} reminders message`);
  return [...out].sort();
}

/** The model the check reads is what the program provisions. */
function modelMatches(file: string, resources: RecordedResource[], bundled: Map<string, Record<string, string>>): void {
      const of = (type: string) => resources.filter((r) => r.type === type).map((r) => r.inputs as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
      const regime = regimeFromConfig(readStackConfig(file).config, "maintenance-regime");
      const d = declaredFromRegime(regime);
      // The watcher's job list: in its environment, or in its bundle's settings file when it passes the environment's budget.
      const watchedJobs = (): string => {
        const watcher = of("aws:lambda/function:Function").find((f) => f.name === `${regime.name}-overdue-watch`)!;
        return watcher.environment.variables.WATCHED_JOBS ?? bundled.get(watcher.name)!.WATCHED_JOBS;
      };
      const scheduled = new Set(of("aws:scheduler/schedule:Schedule").map((s) => `${s.scheduleExpression} ${s.scheduleExpressionTimezone}`));
      const associations = new Set(of("aws:ssm/association:Association").map((s) => `${s.scheduleExpression} UTC`));
      for (const j of d.jobs) expect(scheduled.has(`${j.expression} ${j.timezone}`) || associations.has(`${j.expression} ${j.timezone}`), j.key).toBe(true);
      // The counts judged against AWS's limits are the recorded collections' own: lifecycle rules, schedule groups.
      const rulesOf = (suffix: string) => (resources.find((r) => r.type === "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration" && r.name.endsWith(suffix))?.inputs.rules as unknown[] | undefined)?.length;
      const count = (key: string, limit: string) => d.counts?.find((c) => c.key === key && c.limit === limit)?.figure;
      expect([count("databases", "lifecycleRules"), count("logs.hostGroups", "lifecycleRules"), count("reminders", "scheduleGroups") ?? 0]).toEqual([
        rulesOf("-backups-lifecycle"),
        rulesOf("-archive-lifecycle"),
        of("aws:scheduler/scheduleGroup:ScheduleGroup").length,
      ]);
      // The archive writer policy the model measures is the recorded one, with the bucket's real name in place of the plan's.
      const writer = of("aws:iam/policy:Policy").find((p) => String(p.name).endsWith("-log-archive-writer"));
      const measured = count("logs.hostGroups", "managedPolicy");
      if (writer) expect(measured).toBe(String(writer.policy).replace(/arn:aws:s3:::[a-z0-9.-]+/g, (a) => a.padEnd(13 + `${regime.name}-log-archive-`.slice(0, 37).length + 26, "x")).replace(/\s/g, "").length);
      else expect(measured).toBeUndefined();
      // The backup vault's abort rule is the one the model judges each backup's slowest run against.
      const vaultRules = of("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").find((l) => l.rules.some((r: { id: string }) => r.id === "whole-bucket-housekeeping"))?.rules;
      for (const db of d.databases) {
        expect(vaultRules?.find((r: { abortIncompleteMultipartUpload?: unknown }) => r.abortIncompleteMultipartUpload)?.abortIncompleteMultipartUpload, db.key).toEqual({ daysAfterInitiation: db.abortIncompleteUploadDays });
        // Each tier's rule as the retention promises read it: its id, prefix, days, old versions' days and status.
        for (const t of db.retention) {
          const rule = vaultRules?.find((r: { id: string }) => r.id === t.rule);
          expect({ prefix: rule?.filter.prefix, days: rule?.expiration.days, noncurrent: rule?.noncurrentVersionExpiration.noncurrentDays, status: rule?.status }, `${db.key} ${t.tier}`).toEqual({
            prefix: t.prefix,
            days: t.expireDays,
            noncurrent: t.noncurrentDays,
            status: t.status,
          });
        }
      }
      const alarms = new Map(of("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => [a.name as string, a]));
      for (const a of d.alarms) {
        const rec = alarms.get(a.name);
        expect(rec, a.name).toBeDefined();
        // A metric-math alarm (a Lambda job's invocations minus errors) carries its period on its metrics.
        const period = rec!.period ?? rec!.metricQueries?.find((q: { metric?: { period: number } }) => q.metric)?.metric.period;
        expect({ period, evaluationPeriods: rec!.evaluationPeriods, datapointsToAlarm: rec!.datapointsToAlarm }, a.name).toEqual({ datapointsToAlarm: undefined, ...a.window });
      }
      // A job the overdue watcher watches: the watcher's own missed-run alarm, at the severity and window the model states.
      for (const j of d.jobs.filter((x) => x.overdueWatch?.watcher)) {
        const w = j.overdueWatch!.watcher!;
        const rec = alarms.get(`${regime.name}-overdue-watch-missed-run-${w.severity}`);
        const period = rec?.metricQueries?.find((q: { metric?: { period: number } }) => q.metric)?.metric.period ?? rec?.period;
        expect({ period, evaluationPeriods: rec?.evaluationPeriods, missing: rec?.treatMissingData }, j.key).toEqual({ ...w.window, missing: "breaching" });
      }
      for (const j of d.jobs.filter((x) => x.key.includes(".fileBackups["))) {
        const m = /hostGroups\[(.+)\]\.fileBackups\[(.+)\]/.exec(j.key)!;
        // The tagged instances' alarm and each SSH host's own, all on the window the model states.
        const g = regime.logs.hostGroups.find((x) => x.name === m[1])!;
        const prefixes = [...(g.target ? [`${regime.name}-logs-${m[1]}-backup-${m[2]}-missed-run-`] : []), ...g.sshHosts.map((h) => `${regime.name}-${fileBackupHostAlarmResource(regime.name, m[1], m[2], h.host)}-missed-run-`)];
        for (const prefix of prefixes) {
          const rec = [...alarms.values()].find((a) => String(a.name).startsWith(prefix));
          const period = rec?.metricQueries?.find((q: { metric?: { period: number } }) => q.metric)?.metric.period ?? rec?.period;
          expect({ period, evaluationPeriods: rec?.evaluationPeriods }, `${j.key} ${prefix}`).toEqual({ period: j.watch!.period, evaluationPeriods: j.watch!.evaluationPeriods });
        }
      }
      // A reminder the model watches has its missed-run alarm on its own schedule group's InvocationAttemptCount; the others have none.
      for (const j of d.jobs.filter((x) => x.key.startsWith("reminders["))) {
        const name = /^reminders\[(.+)\]/.exec(j.key)![1];
        const rec = alarms.get(`${regime.name}-reminder-${name}-missed-run-${j.severity}`);
        const schedule = of("aws:scheduler/schedule:Schedule").find((x) => x.name === `${regime.name}-reminders-${name}`.slice(0, 64));
        if (!j.watch) {
          expect(rec, j.key).toBeUndefined();
          // Too sparse for an alarm: the overdue watcher reads its own schedule group's history and pages at its severity.
          const overdue = alarms.get(`${regime.name}-reminder-${name}-overdue-${j.severity}`);
          expect(overdue !== undefined, j.key).toBe(j.overdueWatch !== undefined);
          if (!j.overdueWatch) continue;
          const watched = JSON.parse(watchedJobs()) as { job: string; toleranceSeconds: number; history?: { scheduleGroup: string } }[];
          const w = watched.find((x) => x.job === `reminder/${name}`);
          expect({ group: w?.history?.scheduleGroup, toleranceSeconds: w?.toleranceSeconds }, j.key).toEqual({ group: schedule?.groupName, toleranceSeconds: j.overdueWatch.toleranceSeconds });
          expect(overdue!.dimensions.Job, j.key).toBe(`reminder/${name}`);
          continue;
        }
        // Gated on the reminder's watch start: the metric is in the alarm's metric queries.
        const metric = rec?.metricQueries?.find((q: { metric?: unknown }) => q.metric)?.metric;
        expect({ namespace: metric?.namespace, metricName: metric?.metricName, period: metric?.period, evaluationPeriods: rec?.evaluationPeriods, treatMissingData: rec?.treatMissingData }, j.key).toEqual({
          namespace: "AWS/Scheduler",
          metricName: "InvocationAttemptCount",
          ...j.watch,
          treatMissingData: "breaching",
        });
        expect(schedule?.groupName, j.key).toBe(metric!.dimensions.ScheduleGroup);
      }
      // A host group's configuration associations the model watches: the overdue watcher follows each on the model's schedule and tolerance, an overdue alarm each at the model's severity.
      for (const j of d.jobs.filter((x) => /^logs\.hostGroups\[[^\]]+\]\.schedule$/.test(x.key) && x.overdueWatch)) {
        const group = /^logs\.hostGroups\[(.+)\]/.exec(j.key)![1];
        const watched = (JSON.parse(watchedJobs()) as { job: string; expression: string; timezone: string; toleranceSeconds: number; association?: { id: string } }[]).filter(
          (w) => w.association && /^association\/[^/]+\/(logrotate|cloudwatch-agent)$/.test(w.job) && w.job.split("/")[1] === group,
        );
        expect(watched.length, j.key).toBeGreaterThan(0);
        for (const w of watched) {
          expect([w.expression, w.timezone, w.toleranceSeconds], j.key).toEqual([j.expression, j.timezone, j.overdueWatch!.toleranceSeconds]);
          expect(alarms.get(`${regime.name}-logs-${group}-${w.job.split("/")[2]}-association-overdue-${j.severity}`)?.dimensions.Job, j.key).toBe(w.job);
        }
      }
      // A host group's associations: a failed run matches its EventBridge rule, delivered to the rule's queue, whose Invocations the alarm watches.
      for (const a of d.alarms.filter((x) => x.key.startsWith("logs.hostGroups["))) {
        const rec = alarms.get(a.name)!;
        const rule = of("aws:cloudwatch/eventRule:EventRule").find((x) => x.name === rec.dimensions.RuleName);
        expect(rec.namespace, a.key).toBe("AWS/Events");
        expect(rec.metricName, a.key).toBe("Invocations");
        expect(of("aws:cloudwatch/eventTarget:EventTarget").filter((t) => t.rule === rule?.name), a.key).toHaveLength(1);
        const pattern = JSON.parse(rule?.eventPattern ?? "{}");
        expect(pattern, a.key).toMatchObject({ source: ["aws.ssm"], "detail-type": ["EC2 State Manager Instance Association State Change"], detail: { status: ["Failed"] } });
        const ids = pattern.detail["association-id"] as unknown[];
        const group = /^logs\.hostGroups\[(.+)\]/.exec(a.key)![1];
        expect(ids.length, a.key).toBe(of("aws:ssm/association:Association").filter((x) => String(x.associationName).startsWith(`${regime.name}-${group}-`)).length);
      }
      expect(pagedSeverities(d.paging!.pages), file).toEqual(recordedPagedSeverities(resources, regime));
      const functions = new Map(of("aws:lambda/function:Function").map((f) => [f.name as string, f.environment?.variables as Record<string, string>]));
      for (const f of d.functions) {
        const rec = functions.get(f.name);
        expect(rec, f.key).toBeDefined();
        // The bucket name is an output at deploy: the model counts it at its longest.
        const known = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).map(([k, v]) => [k, /_BUCKET$/.test(k) ? "(bucket)" : v]));
        expect(known(rec!), f.key).toEqual(known(f.environment));
        expect(environmentBytes(f.environment)).toBeGreaterThanOrEqual(environmentBytes(rec!));
      }
}

describe("prod and every example keep their promises, with these figures", () => {
  const expected: Record<string, string[]> = {
    prod: [
      "held databases[app].backup.schedule: up to 24.2 h of data (24 h between backups + up to 12 min to store one)",
      "held databases[app].backup.runner: expected 7.1 min (tasks/catalogue.ts, the cost estimate's rate) on Lambda, 12 min allowed (its duration alarm's threshold)",
      "held databases[app].backup.runner: slowest run 12 min (its limit) < 1 day, the earliest the backup vault aborts an unfinished upload",
      "held databases[app].verify.maxAgeHours: newest backup at most 4 h old when it runs, counted from its start",
      "held databases[app].restoreDrill.rtoMinutes: the drill runs until done (Fargate)",
      "held databases[app].backup.retention.daily: 30 days from the backup's start (S3 dates an upload in parts by its start), rounded up to the next midnight UTC (30 to 31 days), then 7 more as an old version",
      "held databases[app].backup.retention.weekly: 90 days from the backup's start (S3 dates an upload in parts by its start), rounded up to the next midnight UTC (90 to 91 days), then 7 more as an old version",
      "held databases[app].backup.retention.monthly: 365 days from the backup's start (S3 dates an upload in parts by its start), rounded up to the next midnight UTC (365 to 366 days), then 7 more as an old version",
      'held databases[app].backup.retention.weekly: "daily at 02:00" writes a backup kept 90 days or more in every week (from Sunday)',
      'held databases[app].backup.retention.monthly: "daily at 02:00" writes a backup kept 365 days or more in every month',
      "held databases[app].backup.retention.daily: at least 712.8 h of overlap (the next is uploaded at most 24.2 h after a backup starts)",
      "held logs.hostGroups[app].logSets[app].keep: 30 days on the host (rotate 30 x daily; maxage 30 removes none sooner); each rotated file 90 days in the log archive from its upload (archive.expireDays; S3 rounds up to the next midnight UTC)",
      "held logs.hostGroups[app].logSets[nginx].keep: 30 days on the host (rotate 30 x daily; maxage 30 removes none sooner)",
      "held databases[app].backup.schedule: paged within 25.4 h of its last run",
      "held databases[app].verify.schedule: paged within 26.4 h of its last run",
      "held databases[app].restoreDrill.schedule: paged within 2212 h (+ its run time) of its last run, by the overdue watch",
      "held databases[app].vacuum.schedule: paged within 172 h (+ its run time) of its last run, by the overdue watch",
      "held databases[app].reindex.schedule: paged within 844 h (+ its run time) of its last run, by the overdue watch",
      "held databases[app].purge.schedule: paged within 26.4 h of its last run",
      "held databases[app].health.schedule: paged within 31 min of its last run",
      "held endpoints.schedule: paged within 9 min of its last run",
      "held logs.hostGroups[app].schedule: paged within 27 h of its last run, by the overdue watch",
      "held reminders[maintenance-notice].schedule: paged within 844 h of its last run, by the overdue watch",
      "held reminders[access-review].schedule: paged within 2212 h of its last run, by the overdue watch",
      "held reminders[penetration-test].schedule: paged within 8788 h of its last run, by the overdue watch",
      "held databases[app].backup.rpoHours: paged at most 26 h after the fault",
      "held endpoints.checks[api].failuresBeforeAlarm: paged at most 7.7 min after the fault",
      "held endpoints.checks[web].failuresBeforeAlarm: paged at most 7.7 min after the fault",
      "held logs.hostGroups[app].schedule: paged at most 6 min after the fault",
      "held hosts[app-1].statusCheck: paged at most 3 min after the fault while it sends status checks",
      "held hosts[app-1].statusCheck: paged at most 2 min after the fault of instance i-0a1b2c3d4e5f60004, from deploy on",
      "held hosts[app-1].instanceId: paged at most 21 min after the fault (its last status check); pulumi preview and up refuse an id of no instance or a terminated one before deploy, the offline plan cannot look it up",
      "held alerting.P0: 2 subscriptions (email oncall@example.com, sms +15555550100); delivery checked hourly after deploy; while none delivers (unconfirmed, unsubscribed, opted out), its unreachable alarm pages P1, P2, P3",
      "held alerting.P1: 1 subscription (email oncall@example.com); delivery checked hourly after deploy; while none delivers (unconfirmed, unsubscribed, opted out), its unreachable alarm pages P0, P2, P3",
      "held alerting.P2: 1 subscription (email devops@example.com); delivery checked hourly after deploy; while none delivers (unconfirmed, unsubscribed, opted out), its unreachable alarm pages P0, P1, P3",
      "held alerting.P3: 1 subscription (email devops@example.com); delivery checked hourly after deploy; while none delivers (unconfirmed, unsubscribed, opted out), its unreachable alarm pages P0, P1, P2",
      "held databases[app].backup: 344 bytes of 4096",
      "held databases[app].verify: 300 bytes of 4096",
      "held endpoints.checks: 445 bytes of 4096",
      "held databases: 9 rules of 1000",
      "held logs.hostGroups: 4 rules of 1000",
      "held logs.hostGroups: 185 characters of 6144",
      "held reminders: 3 schedule groups of 500",
      "held databases: daily/ 30 days, weekly/ 90 days, monthly/ 365 days, drills/ 365 days (the longest configured), then 7 more as an old version",
      "held logs.hostGroups: any other key 90 days (the longest configured), then 1 more as an old version",
    ],
  };
  for (const [stack, file] of STACKS) {
    it(`${stack}: no broken promise; every declared schedule, RPO alarm, endpoint alarm and file-backup alarm is a recorded resource's`, async () => {
      const { plan, resources } = await runPlan({ configFile: file, from: FROM });
      modelMatches(file, resources, await bundledSettingsByFunction(resources));
      const items = plan.promises!.items;
      expect(items.filter((p) => p.status === "broken" || p.status === "accepted")).toEqual([]);
      expect(items.length).toBeGreaterThan(5);
      if (expected[stack]) expect(figures(items)).toEqual(expected[stack]);
      else expect(figures(items)).toMatchSnapshot();
    });
  }
});

describe("the pull-request plan diff shows promises that change", () => {
  it("a backup moved to 02:00 New York time: the RPO figure and status change, the rest is not listed", async () => {
    const { diffPlans, EMPTY_PLAN } = await import("../plan/diff");
    const { planPromises } = await import("../plan/promises");
    const plan = (r: ReturnType<typeof regime>) => ({ ...EMPTY_PLAN, project: "maintenance-regime", stack: "t", promises: planPromises(checkPromises(r, FROM)) });
    const base = plan(regime({ timezone: "America/New_York", backup: { schedule: { at: "daily at 02:00", timezone: "Etc/GMT+5" } } }));
    const head = plan(regime({ timezone: "America/New_York", acceptedRisks: [{ key: "databases[app].backup.schedule", reason: "r" }, { key: "databases[app].verify.maxAgeHours", reason: "r" }] }));
    const md = diffPlans(base, head);
    const section = md.slice(md.indexOf("### Promises"), md.indexOf("### Estimated monthly cost"));
    expect(section).toContain("| `databases[app].backup.schedule` | at most 26 h of data lost (rpoHours) | up to 24.2 h of data (24 h between backups + up to 12 min to store one) (held) | up to 47.2 h of data (47 h between backups + up to 12 min to store one) (accepted, first 2027-03-14) |");
    expect(section).toContain("| `databases[app].verify.maxAgeHours` | the verify finds a backup at most 26 h old (maxAgeHours) | newest backup at most 4 h old when it runs, counted from its start (held) | newest backup at most 27 h old when it runs, counted from its start (accepted, first 2027-03-14) |");
    // The skipped Sunday was the week's weekly backup: that hole is listed; the lifecycle's days are not.
    expect(section).toContain("| `databases[app].backup.schedule` | a weekly restore point kept 90 days in every week (from Sunday) (retention.weekly) | — | none in the week from 2027-03-14 (accepted, first 2027-03-14) |");
    expect(section).not.toContain("backups kept 30 days");
    expect(diffPlans(base, base)).toContain("**No change to the regime**");
  });
});

describe("the program refuses a broken promise before anything is created", () => {
  it("npm run plan on a 02:00 New York backup exits 1 with one line per broken promise and prints no plan", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { spawnSync } = await import("node:child_process");
    const YAML = (await import("yaml")).default;
    const dir = mkdtempSync(join(tmpdir(), "promises-"));
    const file = join(dir, "Pulumi.ny.yaml");
    const ns = "maintenance-regime";
    writeFileSync(
      file,
      YAML.stringify({
        config: {
          [`${ns}:name`]: "ny",
          [`${ns}:alerting`]: ALERTING,
          [`${ns}:timezone`]: "America/New_York",
          [`${ns}:databases`]: [
            {
              ...APP_DATABASE,
              backup: { schedule: "daily at 02:00" },
            },
          ],
        },
      }),
    );
    const run = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "..", "plan", "cli.ts"), "--config", file, "--from", "2026-11-23"], { encoding: "utf8", cwd: join(__dirname, "..") });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n")).toEqual([
      `error: promise check: databases[app].backup.schedule: "daily at 02:00" in America/New_York does not run on 2027-03-14 (02:00 does not exist that day): 47 h between backups + up to 12 min to store the next + 5 min for the RPO alarm to see it > rpoHours 26; no backup kept 90 days in the week from 2027-03-14: the weekly tier has a hole; its missed-run alarm (26.3 h, sliding) pages P1 on 2027-03-14 although every scheduled run succeeds (runs 47 h apart, a run may take 15 min and its success 5 min to be seen); run it at a local time that exists every day (not 02:00-02:59) or in a fixed-offset zone (Etc/GMT+5), or set rpoHours to at least 48`,
      "error: promise check: databases[app].verify.maxAgeHours: the verify on 2027-03-14 finds the newest backup 27 h old > maxAgeHours 26 and fails without a fault; keep the backup running every day or set maxAgeHours to at least 27",
    ]);
  }, 180_000);
});
