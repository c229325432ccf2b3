/**
 * A file backup's archives against its schedule: the newest archive must still be readable when the
 * next run's is uploaded (the longest gap between two runs of the next 12 months, from the regime's
 * calendar, plus the run limit, against retentionDays counted from the archive's start and rounded up
 * to the next midnight UTC), the same promise a database's backups keep. Each config is refused with
 * `logs.hostGroups[<g>].fileBackups[<name>].retentionDays`, the figure, the date and the smallest
 * retentionDays that holds; that value is accepted.
 */
import { describe, expect, it } from "vitest";
import { ALERTING } from "./helpers/alerting";
import { checkPromises } from "../components/promises";
import { validateRegime } from "../regime/load";
import { newestKeptUntilNext } from "../regime/retention-promises";
import { schedulerRuns } from "../regime/scheduler-time";

const FROM = new Date("2026-12-01T00:00:00Z");
const KEY = "logs.hostGroups[app].fileBackups[uploads].retentionDays";

function regime(at: string, retentionDays: number, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) {
  return validateRegime({
    name: "rt",
    timezone: "America/New_York",
    alerting: ALERTING,
    logs: {
      hostGroups: [{ name: "app", target: { tagKey: "Role", tagValue: "app" }, fileBackups: [{ name: "uploads", paths: ["/srv/uploads"], schedule: { at, timezone: "UTC" }, retentionDays, ...extra }] }],
    },
    ...top,
  });
}
const report = (at: string, days: number, extra?: Record<string, unknown>, top?: Record<string, unknown>) => checkPromises(regime(at, days, extra, top), FROM);
const newest = (at: string, days: number, extra?: Record<string, unknown>) =>
  report(at, days, extra).promises.find((p) => p.key === KEY && p.promise === "the newest archive is kept until the next one is uploaded")!;

describe("the newest archive is kept until the next one is uploaded", () => {
  it.each([
    // Sunday 03:00 runs 168 h apart, each uploaded within its 1 h run limit: 169 h after the last started.
    ["weekly on Sunday at 03:00", 1, "refused", "2026-11-29", "readable until 2026-12-01T00:00Z", "124 h", 7],
    ["weekly on Sunday at 03:00", 6, "refused", "2026-11-29", "readable until 2026-12-06T00:00Z", "4 h", 7],
    // 7 days from Sunday 03:00 end the next Sunday at 03:00, rounded up to Monday 00:00: 20 h of overlap.
    ["weekly on Sunday at 03:00", 7, "held", "", "", "20 h", 0],
    ["weekly on Sunday at 03:00", 8, "held", "", "", "44 h", 0],
    // Daily at 02:00: 1 day from 02:00 rounds up to midnight two days later, 46 h, and the next is there in 25 h.
    ["daily at 02:00", 1, "held", "", "", "21 h", 0],
    // Daily at 23:30: 1 day rounds up by 30 min only, and the next run may take its hour: 30 min with none.
    ["daily at 23:30", 1, "refused", "2026-11-30", "readable until 2026-12-02T00:00Z", "30 min", 2],
    ["daily at 23:30", 2, "held", "", "", "23.5 h", 0],
    // Weekdays: Friday's archive must last over the weekend, 73 h until Monday's is uploaded.
    ["weekdays at 03:00", 2, "refused", "2026-12-04", "readable until 2026-12-07T00:00Z", "4 h", 3],
    ["weekdays at 03:00", 3, "held", "", "", "20 h", 0],
  ] as const)("%s with retentionDays %i: %s", (at, days, outcome, date, until, figure, smallest) => {
    const r = report(at, days);
    const p = newest(at, days);
    if (outcome === "held") {
      expect(r.refusals).toEqual([]);
      expect([p.status, p.figure.split(" of overlap")[0]]).toEqual(["held", `at least ${figure}`]);
      return;
    }
    expect(p).toMatchObject({ status: "broken", firstBreak: date, figure: `the archive of ${date} is gone ${figure} before the next one` });
    expect(r.refusals).toHaveLength(1);
    expect(r.refusals[0]).toMatch(new RegExp(`^${KEY.replace(/[[\].]/g, "\\$&")}: the archive of ${date} is kept ${days} days? from its start \\(${until}, the lifecycle rounding up to midnight UTC\\) and the next is uploaded \\S+Z: ${figure} with no archive at all; set retentionDays to at least ${smallest} `));
    // The smallest value named is held.
    expect(report(at, smallest).refusals).toEqual([]);
  });

  it("the trial's config: weekly on Sunday kept 1 day is refused in one line naming the key, the date and the remedy", () => {
    expect(report("weekly on Sunday at 03:00", 1).refusals).toEqual([
      `${KEY}: the archive of 2026-11-29 is kept 1 day from its start (readable until 2026-12-01T00:00Z, the lifecycle rounding up to midnight UTC) and the next is uploaded 2026-12-06T04:00Z: 124 h with no archive at all; set retentionDays to at least 7 (the next is uploaded up to 169 h after an archive starts)`,
    ]);
  });

  it("a break every week is no date's accident: acceptedRisks cannot accept it", () => {
    const r = report("weekly on Sunday at 03:00", 1, {}, { acceptedRisks: [{ key: KEY, reason: "uploads are re-creatable" }] });
    expect(r.refusals).toHaveLength(1);
    expect(r.refusals[0]).toContain("acceptedRisks cannot accept a break that comes on good days, 52 times in 12 months");
  });

  it("each file backup prints what S3 keeps: its days from the archive's start, rounded up to midnight UTC, then 1 day as an old version", () => {
    const lines = report("weekly on Sunday at 03:00", 8).promises.filter((p) => p.key === KEY).map((p) => `[${p.status}] ${p.promise}: ${p.figure}`);
    expect(lines).toEqual([
      "[held] archives kept 8 days: 8 days from the archive's start (S3 dates an upload in parts by its start), rounded up to the next midnight UTC (8 to 9 days), then 1 more as an old version",
      "[held] the newest archive is kept until the next one is uploaded: at least 44 h of overlap (the next is uploaded at most 169 h after an archive starts)",
    ]);
  });

  it("a paused file backup keeps every archive (its rule is Disabled): reported paused, with what resuming gives", () => {
    const ps = report("weekly on Sunday at 03:00", 1, { paused: true }).promises.filter((p) => p.key === KEY);
    expect(ps.map((p) => [p.status, p.figure])).toEqual([
      ["paused", "expiry suspended while paused: every archive kept, old versions too"],
      ["paused", "expiry suspended while paused: the newest archive is kept"],
    ]);
    expect(ps[1].detail).toMatch(/^logs\.hostGroups\[app\]\.fileBackups\[uploads\]\.paused is true: lifecycle rule expire-files-app-uploads is kept Disabled, so nothing under files\/app\/uploads\/ expires until it resumes; resumed: the archive of 2026-11-29 is gone 124 h before the next one \(breaks it from 2026-11-29: /);
    expect(report("weekly on Sunday at 03:00", 1, { paused: true }).refusals).toEqual([]);
  });
});

describe("the one judgement every replaced copy goes through (newestKeptUntilNext)", () => {
  // A monthly copy (no file backup runs monthly: the schedule refuses it, below) finds 31-day months
  // on the calendar: 30 days from the 1st at 03:00 end on the 31st, rounded up to midnight, before
  // the next is uploaded at 04:00 on the 1st.
  const monthly = (days: number) => {
    const start = FROM.getTime();
    const runs = schedulerRuns({ expression: "cron(0 3 1 * ? *)", timezone: "UTC" }, start - 62 * 86_400_000, Date.UTC(2027, 11, 1)).runs;
    return newestKeptUntilNext({
      variants: [runs.map((at) => ({ at, uploaded: at + 3_600_000 }))],
      start,
      rate: false,
      tz: "UTC",
      noun: "copy",
      days: () => days,
      name: () => "copy",
      setting: () => ({ key: "x.days", name: "days" }),
      heldKey: "x.days",
    })!;
  };
  it.each([
    [30, "broken", "the copy of 2026-12-01 is gone 4 h before the next one"],
    [31, "held", "at least 20 h of overlap (the next is uploaded at most 745 h after a copy starts)"],
    [32, "held", "at least 44 h of overlap (the next is uploaded at most 745 h after a copy starts)"],
  ] as const)("monthly on the 1st kept %i days: %s", (days, status, figure) => {
    expect([monthly(days).status, monthly(days).figure]).toEqual([status, figure]);
  });

  it("monthly kept 30 days: refused on the first 31-day month, every month of 31 days counted, the smallest that holds named", () => {
    expect(monthly(30)).toMatchObject({ key: "x.days", firstBreak: "2026-12-01", recurring: 7, remedy: "set days to at least 31 (the next is uploaded up to 745 h after a copy starts)" });
  });
});

describe("what no file backup can be", () => {
  it("less often than weekly (a monthly run) and outside UTC are refused by the schedule before any retention is judged", () => {
    expect(() => regime("monthly on day 1 at 03:00", 30)).toThrow(/fileBackups\[0\]\.schedule: .*runs less often than weekly/);
    expect(() =>
      validateRegime({
        name: "rt",
        timezone: "America/New_York",
        alerting: ALERTING,
        logs: { hostGroups: [{ name: "app", target: { tagKey: "Role", tagValue: "app" }, fileBackups: [{ name: "uploads", paths: ["/srv/uploads"], schedule: "weekly on Sunday at 03:00", retentionDays: 8 }] }] },
      }),
    ).toThrow(/is in America\/New_York, but State Manager and cron run file backups in UTC/);
  });
});
