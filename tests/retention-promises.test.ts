/**
 * Retention tiers judged against the backups the schedule really writes, and the verify's age and the
 * runner judged with the backup's own run time: each config below is refused with the key and the
 * figure, and the same config fixed is accepted.
 */
import { describe, expect, it } from "vitest";
import { ALERTING } from "./helpers/alerting";
import { checkPromises, declaredFromRegime } from "../components/promises";
import { validateRegime } from "../regime/load";
import { readableUntil } from "../regime/retention";
import { ratePhases } from "../regime/retention-promises";
import { databaseRunners, LAMBDA_BACKUP_LIMIT_GB, LAMBDA_BACKUP_MAX_SECONDS } from "../regime/runners";
import { backupRunSeconds } from "../tasks/catalogue";

const FROM = new Date("2026-12-01T00:00:00Z");
const NET = { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] };

function regime(db: Record<string, unknown>) {
  return validateRegime({
    name: "rt",
    timezone: "America/New_York",
    alerting: ALERTING,
    databases: [{ id: "app", secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-AbCdEf", network: NET, ...db }],
  });
}
const refusals = (db: Record<string, unknown>) => checkPromises(regime(db), FROM).refusals;
const promises = (db: Record<string, unknown>) => checkPromises(regime(db), FROM).promises;
const EST = (at: string) => ({ at, timezone: "Etc/GMT+5" });

describe("S3 lifecycle expiration: the days from the backup's start, rounded up to the next midnight UTC", () => {
  it("1 day keeps a backup uploaded at 07:00 UTC 41 h, one uploaded at 23:59 UTC 24 h 1 min", () => {
    expect((readableUntil(Date.UTC(2026, 11, 1, 7), 1) - Date.UTC(2026, 11, 1, 7)) / 3_600_000).toBe(41);
    expect((readableUntil(Date.UTC(2026, 11, 1, 23, 59), 1) - Date.UTC(2026, 11, 1, 23, 59)) / 60_000).toBe(24 * 60 + 1);
    expect(readableUntil(Date.UTC(2026, 11, 1, 0, 0), 30)).toBe(Date.UTC(2026, 11, 31));
  });

  it("the figure of each tier says so", () => {
    const daily = promises({ backup: { schedule: EST("daily at 02:00") } }).find((p) => p.key === "databases[app].backup.retention.daily")!;
    expect(daily.figure).toBe("30 days from the backup's start (S3 dates an upload in parts by its start), rounded up to the next midnight UTC (30 to 31 days), then 7 more as an old version");
  });
});

describe("a tier the schedule never feeds", () => {
  // ret1: weekly backups on Wednesday, weekly tier on Sunday (the default), monthly on the 1st; an RPO
  // of 169 h (a week + the next backup's run + 5 min), which the overdue watcher holds.
  const weekly = { schedule: EST("weekly on Wednesday at 03:00"), rpoHours: 169, retention: { daily: 30, weekly: 90, monthly: 365 } };
  const verify = { schedule: EST("weekly on Wednesday at 06:00"), maxAgeHours: 168 };

  it("weekly on Wednesday with weeklyOn Sunday: no weekly backup is ever written, a monthly one only when the 1st is a Wednesday", () => {
    expect(refusals({ backup: weekly, verify })).toEqual([
      'databases[app].backup.weeklyOn: "weekly on Wednesday at 03:00" writes no backup kept 90 days in the week from 2026-12-06 (no backup on Sunday that week): the weekly tier has a hole; set weeklyOn to Wednesday, a day "weekly on Wednesday at 03:00" backs up every week',
      'databases[app].backup.retention.monthly: "weekly on Wednesday at 03:00" writes no backup kept 365 days in the month from 2026-12-01 (no backup on day 1 that month): the monthly tier has a hole; "weekly on Wednesday at 03:00" backs up on no day of every month: back up every day',
    ]);
  });

  it("weeklyOn Wednesday feeds the weekly tier; the monthly one then needs daily backups or the weekly days", () => {
    expect(refusals({ backup: { ...weekly, weeklyOn: "Wednesday" }, verify })).toEqual([
      'databases[app].backup.retention.monthly: "weekly on Wednesday at 03:00" writes no backup kept 365 days in the month from 2026-12-01 (no backup on day 1 that month): the monthly tier has a hole; "weekly on Wednesday at 03:00" backs up on no day of every month: back up every day, or set retention.monthly to 90 (the weekly backups then stand for every month)',
    ]);
    // The tiers now hold, and so does the RPO.
    expect(refusals({ backup: { ...weekly, weeklyOn: "Wednesday", retention: { daily: 30, weekly: 90, monthly: 90 } }, verify })).toEqual([]);
    // 168 h, the most a metric alarm could see, is a week without the next backup's run: it would page every week.
    expect(refusals({ backup: { ...weekly, rpoHours: 168, weeklyOn: "Wednesday", retention: { daily: 30, weekly: 90, monthly: 90 } }, verify })).toEqual([
      'databases[app].backup.schedule: "weekly on Wednesday at 03:00" leaves 7 d between backups + up to 12 min to store the next + 5 min for the RPO alarm to see it (first 2026-12-02) > rpoHours 168: the RPO alarm pages P0 although every backup succeeds; back up at least every 167.6 h or set rpoHours to at least 169',
    ]);
    expect(refusals({ backup: { ...weekly, schedule: EST("daily at 03:00"), weeklyOn: "Wednesday" }, verify })).toEqual([]);
  });

  it("ret5: weekdays at 02:00: no weekly tier on Sunday, no monthly backup when the 1st is a weekend", () => {
    const backup = { schedule: EST("weekdays at 02:00"), rpoHours: 80, retention: { daily: 30, weekly: 90, monthly: 365 }, monthlyOnDay: 1 };
    expect(refusals({ backup, verify: { maxAgeHours: 80 } })).toEqual([
      'databases[app].backup.weeklyOn: "weekdays at 02:00" writes no backup kept 90 days in the week from 2026-12-06 (no backup on Sunday that week): the weekly tier has a hole; set weeklyOn to Monday, a day "weekdays at 02:00" backs up every week',
      'databases[app].backup.retention.monthly: "weekdays at 02:00" writes no backup kept 365 days in the month from 2027-05-01 (no backup on day 1 that month): the monthly tier has a hole; "weekdays at 02:00" backs up on no day of every month: back up every day',
    ]);
    const fixed = { ...backup, weeklyOn: "Monday", retention: { daily: 30, weekly: 90, monthly: 90 } };
    expect(refusals({ backup: fixed, verify: { maxAgeHours: 80 } })).toEqual([]);
    const monthly = promises({ backup: fixed, verify: { maxAgeHours: 80 } }).find((p) => p.promise.startsWith("a monthly restore point"))!;
    expect([monthly.status, monthly.figure]).toEqual(["held", '"weekdays at 02:00" writes a backup kept 90 days or more in every month']);
  });

  it("the first month without a monthly backup is named: May 2027, whose 1st is a Saturday (December to April start on weekdays)", () => {
    const r = promises({ backup: { schedule: EST("weekdays at 02:00"), rpoHours: 80, weeklyOn: "Monday" }, verify: { maxAgeHours: 80 } });
    expect(r.find((p) => p.status === "broken")).toMatchObject({ key: "databases[app].backup.retention.monthly", firstBreak: "2027-05-01" });
  });
});

describe("a higher tier kept shorter than a lower one", () => {
  it("ret2: daily 30, weekly 5, monthly 2: the Sunday and 1st-of-month backups vanish, holes in 30 days of daily restore points", () => {
    const backup = { schedule: EST("daily at 02:00"), retention: { daily: 30, weekly: 5, monthly: 2 } };
    expect(refusals({ backup })).toEqual([
      "databases[app].backup.retention.weekly: each Sunday's backup is written to the weekly tier only and gone after 5 days, a hole in the 30 days of daily restore points; set retention.weekly to at least 30",
      "databases[app].backup.retention.monthly: the backup of day 1 of each month is written to the monthly tier only and gone after 2 days, a hole in the 30 days of daily restore points; set retention.monthly to at least 30",
    ]);
    expect(promises({ backup }).find((p) => p.key === "databases[app].backup.retention.weekly" && p.status === "broken")).toMatchObject({ figure: "5 days < 30", firstBreak: "2026-12-06" });
    expect(refusals({ backup: { ...backup, retention: { daily: 30, weekly: 30, monthly: 30 } } })).toEqual([]);
  });

  it("weekly 400 over monthly 365: the week whose Sunday is the 1st keeps its backup 365 days; one line, on retention.monthly (no weekday would fix it)", () => {
    const backup = { schedule: EST("daily at 02:00"), retention: { daily: 30, weekly: 400, monthly: 365 } };
    expect(refusals({ backup })).toEqual([
      "databases[app].backup.retention.monthly: the backup of day 1 of each month is written to the monthly tier only and gone after 365 days, a hole in the 400 days of weekly restore points; set retention.monthly to at least 400",
    ]);
    expect(refusals({ backup: { ...backup, retention: { daily: 30, weekly: 400, monthly: 400 } } })).toEqual([]);
  });
});

describe("the newest backup expires before the next one exists", () => {
  it("ret3: every 48 hours kept 1 day: 24.2 h with no backup at all (its days count from its start, the next is there 48 h + its 12 min run later)", () => {
    const backup = { schedule: "every 48 hours", rpoHours: 49, retention: { daily: 1, weekly: 1, monthly: 1 } };
    expect(refusals({ backup, verify: { maxAgeHours: 49 } })).toEqual([
      "databases[app].backup.retention.daily: a daily backup is kept 1 day from its start (24 h when started just before midnight UTC, the lifecycle rounding up to midnight) and the next is uploaded 48.2 h after it started: 24.2 h with no backup at all; set retention.daily to at least 3 (the next is uploaded up to 48.2 h after a backup starts)",
    ]);
    // 2 days from its start end as the next backup starts: its 12 minutes find none.
    expect(refusals({ backup: { ...backup, retention: { daily: 2, weekly: 2, monthly: 2 } }, verify: { maxAgeHours: 49 } })).toHaveLength(1);
    expect(refusals({ backup: { ...backup, retention: { daily: 3, weekly: 3, monthly: 3 } }, verify: { maxAgeHours: 49 } })).toEqual([]);
  });

  it("a long dump's days count from its start, when its upload was opened: 900 GB daily on Fargate kept 1 day is gone 12.1 h before the next is surely there", () => {
    // 02:00 UTC start: readable until midnight UTC two days later; the next starts 24 h later and may take 34.1 h (its duration alarm's threshold).
    const backup = { schedule: { at: "daily at 02:00", timezone: "UTC" }, rpoHours: 60, retention: { daily: 1, weekly: 1, monthly: 1 } };
    expect(refusals({ sizeGb: 900, backup, verify: { maxAgeHours: 60 } })).toEqual([
      "databases[app].backup.retention.daily: the daily backup of 2026-11-30 is kept 1 day from its start (readable until 2026-12-02T00:00Z, the lifecycle rounding up to midnight UTC) and the next is uploaded 2026-12-02T12:08Z: 12.1 h with no backup at all; set retention.daily to at least 2 (the next is uploaded up to 58.1 h after a backup starts)",
    ]);
    // The smallest that holds: 2 days from 02:00, rounded up to midnight UTC, reach 70 h past the start.
    expect(refusals({ sizeGb: 900, backup: { ...backup, retention: { daily: 2, weekly: 2, monthly: 2 } }, verify: { maxAgeHours: 60 } })).toEqual([]);
  });

  it("a daily 02:00 backup kept 1 day overlaps the next by the lifecycle's rounding: 41 h readable, 24 h apart", () => {
    const r = promises({ backup: { schedule: EST("daily at 02:00"), retention: { daily: 1, weekly: 1, monthly: 1 } } });
    const p = r.find((x) => x.promise === "the newest backup is kept until the next one is uploaded")!;
    expect([p.status, p.figure]).toEqual(["held", "at least 16.8 h of overlap (the next is uploaded at most 24.2 h after a backup starts)"]);
  });
});

describe("a paused backup: its retention promises say what its Disabled lifecycle rules do", () => {
  const ret3 = { schedule: "every 48 hours", rpoHours: 49, retention: { daily: 1, weekly: 1, monthly: 1 } };

  it("ret3 paused: nothing expires while paused, so nothing is refused; the detail keeps the break resuming would bring, with its remedy", () => {
    const r = regime({ backup: { ...ret3, paused: true }, verify: { maxAgeHours: 49, paused: true } });
    expect(checkPromises(r, FROM).refusals).toEqual([]);
    const newest = checkPromises(r, FROM).promises.find((p) => p.promise === "the newest backup is kept until the next one is uploaded")!;
    expect([newest.key, newest.status, newest.figure]).toEqual(["databases[app].backup.retention.daily", "paused", "expiry suspended while paused: the newest backup is kept"]);
    expect(newest.detail).toContain(
      "resumed: a daily backup may be gone 24.2 h before the next one (breaks it: a daily backup is kept 1 day from its start (24 h when started just before midnight UTC, the lifecycle rounding up to midnight) and the next is uploaded 48.2 h after it started: 24.2 h with no backup at all; set retention.daily to at least 3 (the next is uploaded up to 48.2 h after a backup starts))",
    );
  });

  it("a model whose paused backup's rules still expire (what the program no longer provisions) is unkept, never held", async () => {
    const { evaluatePromises } = await import("../regime/promises");
    const d = declaredFromRegime(regime({ backup: { paused: true }, verify: { paused: true } }));
    const paused = evaluatePromises(d, FROM, []).promises.filter((p) => p.key.startsWith("databases[app].backup.retention."));
    expect(paused.map((p) => p.status)).toEqual(["paused", "paused", "paused", "paused", "paused", "paused"]);
    for (const t of d.databases[0].retention) t.status = "Enabled";
    const expiring = evaluatePromises(d, FROM, []).promises.filter((p) => p.key.startsWith("databases[app].backup.retention."));
    expect(expiring.map((p) => [p.status, p.kind])).toEqual(Array(6).fill(["unkept", "program"]));
    expect(expiring[0].figure).toBe("expired while paused: no new backup, and lifecycle rule daily-app expires the stored daily backups 30 to 31 days after their start and removes them 7 days later");
  });
});

describe("a backup counts once its slowest run is over, its age (the verify's, the RPO's) from its start", () => {
  it("500 GB at 12 MB/s takes 11.9 h (42,667 s), 9.9 GB 845 s", () => {
    expect(Math.round(backupRunSeconds(500))).toBe(42667);
    expect(Math.round(backupRunSeconds(9.9))).toBe(845);
    expect(declaredFromRegime(regime({ sizeGb: 500 })).databases[0].backupRun).toEqual({ runner: "fargate", sizeGb: 500, expectedSeconds: backupRunSeconds(500), slowestSeconds: 0.8 * Math.ceil(2 * backupRunSeconds(500)) });
  });

  it("a 1 GB backup at 02:00 and its verify at 02:05: a 12-minute run pages nobody, so the verify may read yesterday's backup; at 02:15 it holds", () => {
    const db = { sizeGb: 1, backup: { schedule: EST("daily at 02:00") }, verify: { schedule: EST("daily at 02:05"), maxAgeHours: 2 } };
    expect(refusals(db)).toEqual([
      "databases[app].verify.maxAgeHours: the verify on 2026-12-01 finds the newest backup 24.1 h old (the backup started before it may still be running: 1 GB takes 1.4 min at the catalogue's rate and up to 12 min before its duration alarm pages) > maxAgeHours 2 and fails without a fault (365 verifies in 12 months, first 2026-12-01); run the verify at least 12 min after the backup starts, keep the backup running every day or set maxAgeHours to at least 25",
    ]);
    expect(refusals({ ...db, verify: { schedule: EST("daily at 02:15"), maxAgeHours: 2 } })).toEqual([]);
  });

  it("a 300 GB backup every 4 hours is refused: each run (7.1 h) outlasts the gap to the next, two dumps at once; every 8 hours holds", () => {
    const db = { sizeGb: 300, backup: { schedule: "every 4 hours", rpoHours: 30 }, verify: { maxAgeHours: 48 } };
    expect(refusals(db)).toEqual([
      'databases[app].backup.schedule: "every 4 hours" starts a backup 4 h after the last, which is expected to take 7.1 h (300 GB at the catalogue\'s rate): two dumps of the database run at once; back up no more often than every 8 h',
    ]);
    expect(refusals({ ...db, backup: { schedule: "every 8 hours", rpoHours: 30 } })).toEqual([]);
  });

  it("a backup every 1 or 2 minutes (over 100,000 runs judged) is refused in one line, not a crash; every 3 minutes of 2 GB holds", () => {
    const db = (schedule: string) => ({ sizeGb: 2, backup: { schedule, rpoHours: 1 }, verify: { maxAgeHours: 2 } });
    expect(refusals(db("every 2 minutes"))).toEqual([
      'databases[app].backup.schedule: "every 2 minutes" starts a backup 2 min after the last, which is expected to take 2.9 min (2 GB at the catalogue\'s rate): two dumps of the database run at once; back up no more often than every 3 min',
    ]);
    expect(refusals(db("every 1 minute"))).toHaveLength(1);
    expect(refusals(db("every 3 minutes")).filter((l) => l.startsWith("databases[app].backup.schedule"))).toEqual([]);
  });

  it("a restore drill whose database is expected to restore slower than rtoMinutes is refused with the size, the figure and the first drill; a larger rtoMinutes holds", () => {
    const db = (sizeGb: number, rtoMinutes: number, runner?: string) => ({
      sizeGb,
      backup: { schedule: EST("daily at 02:00"), rpoHours: 48 },
      verify: { schedule: EST("daily at 20:00"), maxAgeHours: 48 },
      restoreDrill: { schedule: EST("quarterly on day 1 at 03:00"), rtoMinutes, ...(runner ? { runner } : {}) },
    });
    const drillLines = (d: Record<string, unknown>) => refusals(d).filter((l) => l.startsWith("databases[app].restoreDrill.rtoMinutes"));
    expect(drillLines(db(200, 30))).toEqual([
      "databases[app].restoreDrill.rtoMinutes: every restore drill from 2027-01-01 fails: a restore of 200 GB is expected to take 4.7 h at the catalogue's rate > rtoMinutes 30; set rtoMinutes to at least 285 (or sizeGb to the database's real size, if smaller)",
    ]);
    // On Lambda too: 8 GB takes 11.4 min, within Lambda's 15 but over an RTO of 5.
    expect(drillLines(db(8, 5, "lambda"))).toEqual([
      "databases[app].restoreDrill.rtoMinutes: every restore drill from 2027-01-01 fails: a restore of 8 GB is expected to take 11.4 min at the catalogue's rate > rtoMinutes 5; set rtoMinutes to at least 12 (or sizeGb to the database's real size, if smaller)",
    ]);
    expect(drillLines(db(200, 285))).toEqual([]);
    expect(promises(db(8, 12, "lambda")).find((p) => p.key === "databases[app].restoreDrill.rtoMinutes")).toMatchObject({ status: "held", figure: "the drill runs at most 15 min (Lambda)" });
  });

  it("the RPO alarm counts a dump longer than 2 h 50 min from 2 h 50 min before its end (a success stamped further back is seen hours late): 600 GB pages up to 20 h past rpoHours, reported unkept; 5 GB holds", async () => {
    const { rpoAlarmWindow } = await import("../regime/promises");
    const { METRIC_STAMP_MAX_AGE_SECONDS } = await import("../tasks/lib/runtime");
    const big = { sizeGb: 600, backup: { schedule: EST("daily at 02:00"), rpoHours: 47 }, verify: { schedule: EST("daily at 12:00"), maxAgeHours: 72 } };
    const slowest = declaredFromRegime(regime(big)).databases[0].backupRun!.slowestSeconds!;
    const w = rpoAlarmWindow(47);
    const alarm = promises(big).find((p) => p.key === "databases[app].backup.rpoHours")!;
    expect([alarm.status, alarm.value]).toEqual(["unkept", w.period * w.evaluationPeriods + 60 + Math.round(slowest) - METRIC_STAMP_MAX_AGE_SECONDS]);
    expect(alarm.detail).toMatch(/of a slowest run its success cannot be stamped back over/);
    expect(refusals(big)).toEqual([]);
    expect(promises({ sizeGb: 5 }).find((p) => p.key === "databases[app].backup.rpoHours")!.status).toBe("held");
  });

  it("900 GB daily against rpoHours 48: the remedy is a longer RPO, not backups more often than one takes (21.3 h expected, up to 34.1 h)", () => {
    const db = { sizeGb: 900, backup: { schedule: EST("daily at 02:00"), rpoHours: 48 }, verify: { schedule: EST("daily at 12:00"), maxAgeHours: 72 } };
    const rpo = refusals(db).filter((r) => r.includes("rpoHours 48"));
    expect(rpo).toEqual([
      'databases[app].backup.schedule: "daily at 02:00" leaves 24 h between backups + up to 34.1 h to store the next + 5 min for the RPO alarm to see it (first 2026-12-01) > rpoHours 48: the RPO alarm pages P0 although every backup succeeds; set rpoHours to at least 59',
    ]);
  });

  it("bigdb: the 06:00 verify may read the backup that started at 02:00 the day before (today's takes 11.9 h and may take 19 h): its data is 28 h old, refused at maxAgeHours 26", () => {
    const r = promises({ sizeGb: 500, backup: { schedule: EST("daily at 02:00") } });
    const v = r.find((p) => p.key === "databases[app].verify.maxAgeHours")!;
    expect([v.status, v.figure]).toEqual(["broken", "newest backup at most 28 h old when it runs, counted from its start (the backup started before it may still be running: 500 GB takes 11.9 h at the catalogue's rate and up to 19 h before its duration alarm pages)"]);
    const run = r.find((p) => p.key === "databases[app].backup.runner")!;
    expect([run.status, run.figure]).toEqual(["held", "expected 11.9 h (tasks/catalogue.ts, the cost estimate's rate) on Fargate, which has no time limit"]);
  });

  it("a 10:00 or 14:00 verify with maxAgeHours 20 may find the day-old backup (32 h, 36 h from its start): refused; 21:00, once today's is surely stored (19 h), holds at 19 h", () => {
    // rpoHours 44: data written just after 02:00 is safe once the next day's backup is stored, which
    // takes 11.9 h and may take 19 h before its duration alarm pages.
    const db = { sizeGb: 500, backup: { schedule: EST("daily at 02:00"), rpoHours: 44 }, verify: { schedule: EST("daily at 10:00"), maxAgeHours: 20 } };
    expect(refusals(db)).toEqual([
      "databases[app].verify.maxAgeHours: the verify on 2026-12-01 finds the newest backup 32 h old (the backup started before it may still be running: 500 GB takes 11.9 h at the catalogue's rate and up to 19 h before its duration alarm pages) > maxAgeHours 20 and fails without a fault (365 verifies in 12 months, first 2026-12-01); run the verify at least 19 h after the backup starts, keep the backup running every day or set maxAgeHours to at least 32",
    ]);
    // At 14:00 a backup slower than expected but within its duration alarm may still be running: refused too.
    expect(refusals({ ...db, verify: { schedule: EST("daily at 14:00"), maxAgeHours: 20 } })).toHaveLength(1);
    // At 21:00 it is surely stored (19 h after 02:00): its data is 19 h old, held.
    expect(refusals({ ...db, verify: { schedule: EST("daily at 21:00"), maxAgeHours: 20 } })).toEqual([]);
    const held = promises({ ...db, verify: { schedule: EST("daily at 21:00"), maxAgeHours: 20 } }).find((p) => p.key === "databases[app].verify.maxAgeHours")!;
    expect(held.figure).toBe("newest backup at most 19 h old when it runs, counted from its start");
  });
});

describe("the size-based cut-over to Fargate is the backup's duration alarm threshold", () => {
  it("720 s (80 % of Lambda's 900 s) at 12 MB/s: 8.4375 GB", () => {
    expect(LAMBDA_BACKUP_MAX_SECONDS).toBe(720);
    expect(LAMBDA_BACKUP_LIMIT_GB).toBe(8.4375);
    expect(databaseRunners(regime({ sizeGb: 8.4 }).databases[0], "databases[app]").backup).toBe("lambda");
    expect(databaseRunners(regime({ sizeGb: 8.5 }).databases[0], "databases[app]").backup).toBe("fargate");
  });

  it("bigdb2: 9.9 GB (845 s) runs on Fargate; the engine reports the run time against the runner's limit", () => {
    const r = promises({ sizeGb: 9.9, backup: { schedule: EST("daily at 02:00") } });
    expect(r.find((p) => p.key === "databases[app].backup.runner")).toMatchObject({ status: "held", value: 845, figure: "expected 14.1 min (tasks/catalogue.ts, the cost estimate's rate) on Fargate, which has no time limit" });
    const small = promises({ sizeGb: 5, backup: { schedule: EST("daily at 02:00") } }).find((p) => p.key === "databases[app].backup.runner")!;
    expect([small.value, small.figure]).toEqual([427, "expected 7.1 min (tasks/catalogue.ts, the cost estimate's rate) on Lambda, 12 min allowed (its duration alarm's threshold)"]);
  });

  it("an explicit lambda for 9.9 GB is refused with the figure", () => {
    expect(() => regime({ sizeGb: 9.9, backup: { schedule: EST("daily at 02:00"), runner: "lambda" } })).toThrow(
      "databases[0].backup.runner: lambda cannot dump 9.9 GB (sizeGb) in time: expected 845 s (9.9 GB at 12 MB/s) > 720 s, the duration alarm's threshold (80 % of Lambda's 900 s); use fargate or leave it unset",
    );
  });
});

describe("the backup's duration alarm on Fargate is measured against its expected run time", () => {
  it("twice the expected run time, at least 900 s: 9.9 GB pages past 1,352 s (not at 720 s every run), Lambda keeps 900 s", async () => {
    const { backupDurationReferenceSeconds } = await import("../regime/runners");
    expect(backupDurationReferenceSeconds(9.9, "fargate")).toBe(1690);
    expect(Math.floor(backupDurationReferenceSeconds(9.9, "fargate") * 1000 * 0.8)).toBe(1_352_000);
    expect(backupDurationReferenceSeconds(500, "fargate")).toBe(85_334);
    expect(backupDurationReferenceSeconds(1, "fargate")).toBe(900);
    expect(backupDurationReferenceSeconds(5, "lambda")).toBe(900);
  });
});

describe("a rate schedule's phase is unknown before deploy: promises that relate it to another schedule or to the calendar hold at every phase", () => {
  const UTC = (at: string) => ({ at, timezone: "UTC" });

  it("a rate(1 day) backup against a daily 06:00 verify with maxAgeHours 8: deployed at 07:00 the verify finds a 23 h old backup every day, refused; a cron backup is held", () => {
    expect(refusals({ backup: { schedule: UTC("rate(1 day)") }, verify: { schedule: UTC("daily at 06:00"), maxAgeHours: 8 } })).toEqual([
      'databases[app].verify.maxAgeHours: the backup\'s "rate(1 day)" runs at the time of day it is deployed, unknown before: a verify just before a backup is surely there finds the newest 24.2 h old > maxAgeHours 8 and fails without a fault, on every run for such a phase; run the backup on a cron schedule (e.g. "daily at 02:00"), whose time the verify can follow, or set maxAgeHours to at least 25',
    ]);
    expect(refusals({ backup: { schedule: UTC("daily at 02:00") }, verify: { schedule: UTC("daily at 06:00"), maxAgeHours: 8 } })).toEqual([]);
  });

  it("rate(12 hours) backups: the verify may come 12.2 h after the newest was surely there; maxAgeHours 8 refused, 13 held", () => {
    expect(refusals({ backup: { schedule: UTC("rate(12 hours)") }, verify: { schedule: UTC("daily at 06:00"), maxAgeHours: 8 } })).toEqual([
      expect.stringMatching(/^databases\[app\]\.verify\.maxAgeHours: the backup's "rate\(12 hours\)" .* finds the newest 12\.2 h old > maxAgeHours 8 .* or set maxAgeHours to at least 13$/),
    ]);
    expect(refusals({ backup: { schedule: UTC("rate(12 hours)") }, verify: { schedule: UTC("daily at 06:00"), maxAgeHours: 13 } })).toEqual([]);
  });

  it("a rate verify against a cron backup is judged at every phase too", () => {
    expect(refusals({ backup: { schedule: UTC("daily at 02:00") }, verify: { schedule: UTC("rate(1 day)"), maxAgeHours: 8 } })).toEqual([
      expect.stringMatching(/^databases\[app\]\.verify\.maxAgeHours: the verify's "rate\(1 day\)" runs at the time of day it is deployed, unknown before: .* 24\.2 h old > maxAgeHours 8 .*run the verify on a cron schedule/),
    ]);
  });

  it("tiers: rate(7 days) feeds the weekly tier only at 1 phase in 7, and rate(1 day) in New York skips a Sunday at spring forward when deployed near midnight; in UTC it feeds every week", () => {
    expect(refusals({ backup: { schedule: UTC("rate(7 days)"), rpoHours: 240, retention: { daily: 30, weekly: 90, monthly: 90 } }, verify: { maxAgeHours: 200 } })).toContain(
      'databases[app].backup.retention.weekly: "rate(7 days)" at some of the times of day it may run (it runs at the time it is deployed, unknown before) writes no backup kept 90 days in the week from 2026-12-06 (no backup on Sunday that week): the weekly tier has a hole; "rate(7 days)" backs up on no weekday every week: back up at least on one weekday every week, or set retention.weekly to 30 (the daily backups then stand for every week)',
    );
    expect(refusals({ backup: { schedule: { at: "rate(1 day)", timezone: "America/New_York" } } })).toEqual([
      'databases[app].backup.weeklyOn: "rate(1 day)" at some of the times of day it may run (it runs at the time it is deployed, unknown before) writes no backup kept 90 days in the week from 2027-03-14 (no backup on Sunday that week): the weekly tier has a hole; set weeklyOn to Monday, a day "rate(1 day)" backs up every week',
    ]);
    expect(refusals({ backup: { schedule: UTC("rate(1 day)") } })).toEqual([]);
  });

  it("the phases judged: one per stretch in which every run keeps its local day", () => {
    const from = Date.UTC(2026, 9, 1);
    const to = Date.UTC(2027, 11, 1);
    expect(ratePhases(86_400_000, "UTC", from, to)).toEqual([0]);
    expect(ratePhases(86_400_000, "America/New_York", from, to).map((p) => p / 3_600_000)).toEqual([0, 4, 5]);
    expect(ratePhases(7 * 86_400_000, "UTC", from, to)).toHaveLength(7);
    // 12 hours: every local day holds a run whatever the phase.
    expect(ratePhases(12 * 3_600_000, "America/New_York", from, to)).toEqual([0]);
  });
});
