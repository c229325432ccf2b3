/**
 * Maintenance windows and mutes without Pulumi: the mute-rule schedule of each readable form (the
 * five-field cron where it says exactly the same starts, one at() per occurrence where it cannot),
 * durations, the window-longer-than-its-interval refusal and the other config refusals.
 */
import { describe, expect, it } from "vitest";
import { regimeProblems } from "../regime/load";
import { chunks, isoDuration, muteCron, muteSchedule, windowProblem, windowSchedules } from "../regime/maintenance-windows";
import { cronWallTimes, nextRuns, parseSchedule } from "../regime/schedule";

const DAY = 86_400_000;
const DOW = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/**
 * Wall-clock starts of a five-field mute cron (only `*`, `-`, `,` and names, as the API documents)
 * in [from, to), read as plain cron: a test oracle independent of regime/schedule.ts.
 */
function fiveFieldStarts(expr: string, from: number, to: number): number[] {
  const [mi, ho, dm, mo, dw] = /^cron\((.*)\)$/.exec(expr)![1].split(" ");
  const set = (f: string, min: number, max: number, names?: string[]) => {
    if (f === "*") return (v: number) => v >= min && v <= max;
    const ok = new Set<number>();
    for (const part of f.split(",")) {
      const [a, b] = part.split("-").map((x) => (names?.includes(x) ? names.indexOf(x) : Number(x)));
      for (let v = a; v <= (b ?? a); v++) ok.add(v);
    }
    return (v: number) => ok.has(v);
  };
  const [m, h, d, M, w] = [set(mi, 0, 59), set(ho, 0, 23), set(dm, 1, 31), set(mo, 1, 12), set(dw, 0, 6, DOW)];
  // Plain cron: with one of day-of-month and day-of-week "*", the other decides (no OR question).
  expect(dm === "*" || dw === "*", `${expr} restricts both day fields`).toBe(true);
  const out: number[] = [];
  for (let day = from; day < to; day += DAY) {
    const t = new Date(day);
    if (!d(t.getUTCDate()) || !M(t.getUTCMonth() + 1) || !w(t.getUTCDay())) continue;
    for (let hh = 0; hh < 24; hh++) for (let mm = 0; mm < 60; mm++) if (h(hh) && m(mm)) out.push(day + (hh * 60 + mm) * 60_000);
  }
  return out;
}

describe("mute-rule schedules of the readable forms", () => {
  const from = Date.UTC(2027, 0, 1);
  const to = Date.UTC(2029, 0, 1);
  it.each([
    ["daily at 02:00", "cron(0 2 * * *)"],
    ["weekly on Sunday at 03:00", "cron(0 3 * * SUN)"],
    ["weekly on Monday and Thursday at 22:30", "cron(30 22 * * MON,THU)"],
    ["weekdays at 01:00", "cron(0 1 * * MON-FRI)"],
    ["weekends at 06:00", "cron(0 6 * * SUN,SAT)"],
    ["monthly on day 1 at 09:00", "cron(0 9 1 * *)"],
    ["quarterly on day 15 at 10:00", "cron(0 10 15 1,4,7,10 *)"],
    ["every hour at :05", "cron(5 * * * *)"],
    ["cron(0 2 ? * 2-6 *)", "cron(0 2 * * MON-FRI)"],
  ])("%s -> %s, starting exactly when the schedule does over two years", (text, expected) => {
    const s = parseSchedule(text, "America/New_York");
    const cron = muteCron(s.expression);
    expect(cron).toBe(expected);
    expect(fiveFieldStarts(cron!, from, to)).toEqual(cronWallTimes(s.expression, from, to));
  });

  it.each(["first Sunday of the month at 02:00", "last Friday of the month at 23:00", "monthly on the last day at 01:00", "cron(0/30 2 * * ? *)", "cron(0 2 ? * 1#1 2027)", "cron(0 2 15W * ? *)"])(
    "%s has no mute-rule cron (no #, L, W, / or year in the API's syntax, and no day-of-month AND day-of-week)",
    (text) => expect(muteCron(parseSchedule(text, "UTC").expression)).toBeUndefined(),
  );

  it("first Sunday 02:00-04:00 New York: one at() per first Sunday of the next 12 months, 2 h each, nothing else", () => {
    const s = parseSchedule("first Sunday of the month at 02:00", "America/New_York");
    const list = windowSchedules(s, 120, new Date("2026-12-01T00:00:00Z"));
    expect(list.map((x) => x.expression)).toEqual([
      "at(2026-12-06T02:00)",
      "at(2027-01-03T02:00)",
      "at(2027-02-07T02:00)",
      "at(2027-03-07T02:00)",
      "at(2027-04-04T02:00)",
      "at(2027-05-02T02:00)",
      "at(2027-06-06T02:00)",
      "at(2027-07-04T02:00)",
      "at(2027-08-01T02:00)",
      "at(2027-09-05T02:00)",
      "at(2027-10-03T02:00)",
      "at(2027-11-07T02:00)",
    ]);
    for (const x of list) {
      expect(x).toMatchObject({ timezone: "America/New_York", duration: "PT2H" });
      // Each one is a Sunday among the first seven days, 02:00 on the New York clock.
      const [, y, m, d] = /^at\((\d{4})-(\d\d)-(\d\d)T02:00\)$/.exec(x.expression)!.map(Number);
      expect(new Date(Date.UTC(y, m - 1, d)).getUTCDay()).toBe(0);
      expect(d).toBeLessThanOrEqual(7);
    }
    // The muted time is exactly the 12 windows: 24 h in a year.
    expect(list.length * 120).toBe(24 * 60);
  });

  it("a window running at the reference date is kept; one over by then is not", () => {
    const s = parseSchedule("first Sunday of the month at 02:00", "America/New_York");
    // 2026-12-06 02:00 EST is 07:00Z: at 08:00Z the window runs until 09:00Z.
    expect(windowSchedules(s, 120, new Date("2026-12-06T08:00:00Z"))[0].expression).toBe("at(2026-12-06T02:00)");
    expect(windowSchedules(s, 120, new Date("2026-12-06T09:00:00Z"))[0].expression).toBe("at(2027-01-03T02:00)");
  });

  it("a recurring window is one cron rule in its timezone", () => {
    expect(windowSchedules(parseSchedule("daily at 02:00", "Europe/Berlin"), 90, new Date("2026-12-01T00:00:00Z"))).toEqual([
      { expression: "cron(0 2 * * *)", timezone: "Europe/Berlin", duration: "PT1H30M" },
    ]);
  });

  it("durations in ISO 8601 as the API takes them", () => {
    expect([1, 60, 120, 90, 1440, 2190, 21600].map(isoDuration)).toEqual(["PT1M", "PT1H", "PT2H", "PT1H30M", "P1D", "P1DT12H30M", "P15D"]);
  });

  it("splits alarm lists at 100", () => {
    const names = Array.from({ length: 230 }, (_, i) => `a${i}`);
    expect(chunks(names).map((c) => c.length)).toEqual([100, 100, 30]);
    expect(chunks(names).flat()).toEqual(names);
  });
});

describe("a window on the spring-forward Sunday", () => {
  it("is kept, from the instant its skipped start would have been, not dropped for the year", () => {
    // 2027-03-14 is the second Sunday of March and New York's spring-forward day: 02:00-02:59 do not exist.
    const s = parseSchedule("second Sunday of the month at 02:30", "America/New_York");
    const rules = windowSchedules(s, 60, new Date("2027-01-01T00:00:00Z"));
    expect(rules.slice(0, 4).map((r) => [r.expression, r.start?.toISOString()])).toEqual([
      ["at(2027-01-10T02:30)", "2027-01-10T07:30:00.000Z"],
      ["at(2027-02-14T02:30)", "2027-02-14T07:30:00.000Z"],
      ["at(2027-03-14T03:30)", "2027-03-14T07:30:00.000Z"],
      ["at(2027-04-11T02:30)", "2027-04-11T06:30:00.000Z"],
    ]);
    expect(rules).toHaveLength(12);
  });
});

describe("a window longer than its interval", () => {
  it("is refused against the shortest time between two starts, not the longest", () => {
    expect(windowProblem(parseSchedule("daily at 02:00", "UTC"), 1439)).toBeUndefined();
    // As long as its interval: the next window starts as this one ends, and the alarms never page.
    expect(windowProblem(parseSchedule("daily at 02:00", "UTC"), 1440)?.message).toBe('1440 min is as long as the 1440 min between two starts of "daily at 02:00": the alarms would be muted without a break; a window must end before the next one starts');
    expect(windowProblem(parseSchedule("daily at 02:00", "UTC"), 1500)?.message).toBe('1500 min is longer than the 1440 min between two starts of "daily at 02:00": a window must end before the next one starts');
    // Friday to Monday is 72 h, Monday to Tuesday 24 h.
    expect(windowProblem(parseSchedule("weekdays at 22:00", "UTC"), 25 * 60)?.key).toBe("durationMinutes");
    // Monday to Thursday is 3 days, Thursday to Monday 4.
    expect(windowProblem(parseSchedule("weekly on Monday and Thursday at 22:30", "UTC"), 3 * 1440 - 1)).toBeUndefined();
    expect(windowProblem(parseSchedule("weekly on Monday and Thursday at 22:30", "UTC"), 3 * 1440)?.key).toBe("durationMinutes");
    expect(windowProblem(parseSchedule("every 6 hours", "UTC"), 60)?.key).toBe("schedule");
  });

  it("counts the 23-hour day of the Scheduler's calendar: daily at 03:00 in New York starts 1380 min apart on 2027-03-13", () => {
    const s = parseSchedule("daily at 03:00", "America/New_York");
    const from = new Date("2026-12-01T00:00:00Z");
    expect(windowProblem(s, 1400, from)).toEqual({
      key: "durationMinutes",
      message: '1400 min is longer than the 1380 min between the starts on 2027-03-13 and 2027-03-14 of "daily at 03:00" in America/New_York (the clock changes between them): a window must end before the next one starts',
    });
    expect(windowProblem(s, 1380, from)?.message).toMatch(/^1380 min is as long as the 1380 min between the starts on 2027-03-13 and 2027-03-14/);
    expect(windowProblem(s, 1379, from)).toBeUndefined();
    // A fixed-offset zone has no 23-hour day.
    expect(windowProblem(parseSchedule("daily at 03:00", "Etc/GMT+5"), 1400, from)).toBeUndefined();
    // The loader, without a reference date, refuses 1440 on the wall clock already.
    expect(windowProblem(s, 1440)?.message).toBe('1440 min is as long as the 1440 min between two starts of "daily at 03:00": the alarms would be muted without a break; a window must end before the next one starts');
  });
});

describe("one-off mutes", () => {
  const reference = new Date("2026-12-01T00:00:00Z");
  it("start at from (or the reference date) and last until the end, then are gone", () => {
    expect(muteSchedule({ from: "2026-12-24T13:00-05:00", until: "2026-12-26T09:00-05:00" }, reference)).toMatchObject({ expression: "at(2026-12-24T18:00)", timezone: "UTC", duration: "P1DT20H" });
    expect(muteSchedule({ until: "2026-12-01T06:30Z" }, reference)).toMatchObject({ expression: "at(2026-12-01T00:00)", duration: "PT6H30M" });
    expect(muteSchedule({ until: "2026-11-30T23:59Z" }, reference)).toBeUndefined();
    expect(muteSchedule({ until: "2026-12-20T00:00Z" }, reference)).toEqual({ problem: "is 19 days after the run's reference date 2026-12-01T00:00:00.000Z: CloudWatch mutes at most 15 days (P15D); set a later from, or shorten it" });
  });
});

describe("config refusals, one line each naming the key", () => {
  const base = { name: "mw", timezone: "America/New_York" };
  it("every problem of windows and mutes", () => {
    const { lines, regime } = regimeProblems({
      ...base,
      maintenanceWindows: [
        { name: "nightly", schedule: "daily at 02:00", durationMinutes: 1500, severities: ["P3"] },
        { name: "bad", schedule: "first Sunday of the month at 02:00", durationMinutes: 120, severities: ["P5"] },
        { name: "empty", schedule: "weekly on Sunday at 01:00", durationMinutes: 60 },
        { name: "often", schedule: "every 10 minutes", durationMinutes: 5, severities: ["P2"] },
        { name: "nightly", schedule: "daily at 03:00", durationMinutes: 30, severities: ["P3"] },
      ],
      mutes: [
        { severities: ["P2"], until: "2026-12-24 18:00", reason: "upgrade" },
        { severities: ["P2"], from: "2026-12-24T18:00Z", until: "2026-12-24T17:00Z", reason: "upgrade" },
        { severities: ["P2"], from: "2026-12-01T00:00Z", until: "2027-01-01T00:00Z", reason: "holidays" },
        { severities: ["P2"], until: "2026-02-30T10:00Z", reason: "x" },
        { components: ["mw-health"], until: "2026-12-24T18:00Z" },
        { severities: ["P2"], from: "2026-12-24", until: "2026-12-26T09:00-05:00", reason: "holiday" },
      ],
    });
    expect(regime).toBeUndefined();
    // The windows' schedules and durations are judged beside the other problems: all in one run.
    expect(lines).toEqual([
      'maintenanceWindows[0].durationMinutes: 1500 min is longer than the 1440 min between two starts of "daily at 02:00": a window must end before the next one starts',
      "maintenanceWindows[1].severities[0]: must be one of P0, P1, P2, P3",
      "maintenanceWindows[2].alarms: must name what it mutes: alarms, severities or components",
      'maintenanceWindows[3].schedule: "every 10 minutes" has no time of day: a maintenance window starts at one (daily at 02:00, first Sunday of the month at 02:00)',
      'maintenanceWindows[4].name: duplicate maintenance window "nightly"',
      "mutes[0].until: must be an ISO time to the minute with its offset, like 2026-12-24T18:00Z or 2026-12-24T13:00-05:00 (a mute starts and ends on a whole minute)",
      "mutes[1].until: must be after from (2026-12-24T18:00Z)",
      "mutes[2].until: is 31 days after from: CloudWatch mutes at most 15 days (P15D); split it or shorten it",
      'mutes[3].until: "2026-02-30T10:00Z" is not a time that exists',
      "mutes[4].reason: missing; this key is required",
      'mutes[5].from: "2026-12-24" is a date without a time of day and offset; give both, like 2026-12-24T00:00:00-05:00 or 2026-12-24T00:00:00Z, so the time read is the one you mean',
    ]);
  });

  it("a window longer than its interval, and one without a time of day", () => {
    const { lines } = regimeProblems({
      ...base,
      maintenanceWindows: [
        { name: "nightly", schedule: "daily at 02:00", durationMinutes: 1500, severities: ["P3"] },
        { name: "often", schedule: "every 10 minutes", durationMinutes: 5, severities: ["P2"] },
        { name: "planned", schedule: { at: "first Sunday of the month at 02:00", timezone: "America/Chicago" }, durationMinutes: 120, severities: ["P2"] },
      ],
    });
    expect(lines).toEqual([
      'maintenanceWindows[0].durationMinutes: 1500 min is longer than the 1440 min between two starts of "daily at 02:00": a window must end before the next one starts',
      'maintenanceWindows[1].schedule: "every 10 minutes" has no time of day: a maintenance window starts at one (daily at 02:00, first Sunday of the month at 02:00)',
    ]);
  });

  it("a required key left out is named as missing, not as zod's type message", () => {
    const { lines } = regimeProblems({
      ...base,
      maintenanceWindows: [{ name: "w", durationMinutes: 30, severities: ["P3"] }],
      mutes: [{ until: "2026-12-24T18:00Z", severities: ["P1"] }],
    });
    expect(lines).toEqual(["maintenanceWindows[0].schedule: missing; this key is required", "mutes[0].reason: missing; this key is required"]);
  });

  it("paused is a boolean on every scheduled job", () => {
    const { lines } = regimeProblems({ ...base, reminders: [{ name: "r", schedule: "daily at 09:00", checklist: ["x"], paused: "yes" }] });
    expect(lines).toEqual(['reminders[0].paused: must be true or false, not the string "yes"']);
  });
});

it("nextRuns agrees with the at() occurrences (one calendar for jobs and windows)", () => {
  const s = parseSchedule("last Friday of the month at 23:00", "Europe/London");
  const from = new Date("2026-12-01T00:00:00Z");
  expect(windowSchedules(s, 60, from).map((x) => x.start)).toEqual(nextRuns(s, new Date(from.getTime() - 3_600_000), 12));
});
