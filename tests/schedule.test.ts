import { timezone as regimeSchemaTimezone } from "../regime/primitives";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { formatLocal, isSchedule, nextRuns, parseSchedule, scheduleSchema, ScheduleError } from "../regime/schedule";

const NY = "America/New_York";
const DAY = 86_400;

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const runs = (text: string, tz: string, from: string, n: number) => iso(nextRuns(parseSchedule(text, tz), new Date(from), n));
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ScheduleError);
    return (err as Error).message;
  }
  throw new Error("expected an error");
};

describe("readable forms", () => {
  // text -> [expression, description, intervalSeconds]
  const table: [string, string, string, number][] = [
    ["daily at 02:00", "cron(0 2 * * ? *)", "daily at 02:00", DAY],
    ["Daily at 2 AM", "cron(0 2 * * ? *)", "daily at 02:00", DAY],
    ["Daily at 2:00 AM", "cron(0 2 * * ? *)", "daily at 02:00", DAY],
    ["daily at 11:45 pm", "cron(45 23 * * ? *)", "daily at 23:45", DAY],
    ["daily at noon", "cron(0 12 * * ? *)", "daily at 12:00", DAY],
    ["every day at 03:30", "cron(30 3 * * ? *)", "daily at 03:30", DAY],
    ["weekly on Wednesday at 03:00", "cron(0 3 ? * WED *)", "weekly on Wednesday at 03:00", 7 * DAY],
    ["every Sunday at 02:00", "cron(0 2 ? * SUN *)", "weekly on Sunday at 02:00", 7 * DAY],
    ["every Monday", "cron(0 0 ? * MON *)", "weekly on Monday at 00:00", 7 * DAY],
    ["every Monday and Thursday at 01:15", "cron(15 1 ? * MON,THU *)", "weekly on Monday and Thursday at 01:15", 4 * DAY],
    ["weekdays at 08:00", "cron(0 8 ? * MON-FRI *)", "weekdays at 08:00", 3 * DAY],
    ["monthly on day 15", "cron(0 0 15 * ? *)", "monthly on day 15 at 00:00", 31 * DAY],
    ["monthly on day 15 at 03:30", "cron(30 3 15 * ? *)", "monthly on day 15 at 03:30", 31 * DAY],
    ["monthly on the last day at 23:00", "cron(0 23 L * ? *)", "monthly on the last day at 23:00", 31 * DAY],
    ["first Sunday of the month at 02:00", "cron(0 2 ? * 1#1 *)", "first Sunday of the month at 02:00", 35 * DAY],
    ["First Sunday of each month at 2:00 AM", "cron(0 2 ? * 1#1 *)", "first Sunday of the month at 02:00", 35 * DAY],
    ["second Tuesday of the month at 09:00", "cron(0 9 ? * 3#2 *)", "second Tuesday of the month at 09:00", 35 * DAY],
    ["last Friday", "cron(0 0 ? * 6L *)", "last Friday of the month at 00:00", 35 * DAY],
    ["last Friday of the month at 22:00", "cron(0 22 ? * 6L *)", "last Friday of the month at 22:00", 35 * DAY],
    ["hourly", "cron(0 * * * ? *)", "hourly", 3600],
    ["every hour at :05", "cron(5 * * * ? *)", "every hour at :05", 3600],
    ["every 5 minutes", "rate(5 minutes)", "every 5 minutes", 300],
    ["every 15 minutes", "rate(15 minutes)", "every 15 minutes", 900],
    ["every 1 minute", "rate(1 minute)", "every minute", 60],
    ["every 6 hours", "rate(6 hours)", "every 6 hours", 6 * 3600],
    ["quarterly on day 1 at 03:00", "cron(0 3 1 1,4,7,10 ? *)", "quarterly on day 1 at 03:00", 92 * DAY],
  ];
  it.each(table)("%s -> %s", (text, expression, description, intervalSeconds) => {
    expect(parseSchedule(text, NY)).toEqual({ expression, timezone: NY, description, intervalSeconds });
  });

  it("refuses what it cannot read, with examples", () => {
    expect(errorOf(() => parseSchedule("every blue moon", "UTC"))).toBe(
      'unknown schedule "every blue moon"; examples: "daily at 02:00", "weekly on Wednesday at 03:00", "cron(0 2 * * ? *)"',
    );
    expect(errorOf(() => parseSchedule("daily at 25:00", "UTC"))).toBe("hour 25 out of range 0-23");
    expect(errorOf(() => parseSchedule("daily at 02:61", "UTC"))).toBe("minute 61 out of range 0-59");
    expect(errorOf(() => parseSchedule("daily at 13 PM", "UTC"))).toBe("hour 13 out of range 1-12 with AM/PM");
    expect(errorOf(() => parseSchedule("daily at 2", "UTC"))).toBe('time "2": write it as HH:MM (02:00, 14:30) or with AM/PM (2 AM)');
    expect(errorOf(() => parseSchedule("monthly on day 31", "UTC"))).toBe(
      '"monthly on day 31": day 31 does not exist in every month (it would skip those months); use "monthly on the last day" or a day up to 28',
    );
    expect(errorOf(() => parseSchedule("every 5 minutes at 02:00", "UTC"))).toBe('"every 5 minutes at 02:00": "every 5 minutes" takes no "at" time');
    expect(errorOf(() => parseSchedule("  ", "UTC"))).toMatch(/^schedule must not be empty; examples: /);
  });

  it("refuses a timezone abbreviation written into the text, as the guides do", () => {
    expect(errorOf(() => parseSchedule("Daily at 2:00 AM EST", "UTC"))).toBe(
      '"Daily at 2:00 AM EST": "EST" is not an IANA timezone; drop it from the schedule and set timezone America/New_York',
    );
  });
});

describe("raw EventBridge expressions", () => {
  it.each([
    ["cron(0 2 * * ? *)", "daily at 02:00", DAY],
    ["cron(0   2 * *  ? *)", "daily at 02:00", DAY],
    ["cron(30 3 ? * WED *)", "weekly on Wednesday at 03:30", 7 * DAY],
    ["cron(0 22 ? * 6L *)", "last Friday of the month at 22:00", 35 * DAY],
    ["cron(0 2 ? * 1#1 *)", "first Sunday of the month at 02:00", 35 * DAY],
    ["cron(0/5 * * * ? *)", "every 5 minutes", 300],
    ["cron(0 8 ? * 2-6 *)", "weekdays at 08:00", 3 * DAY],
    ["cron(0 3 1 JAN,APR,JUL,OCT ? *)", "quarterly on day 1 at 03:00", 92 * DAY],
    ["cron(0 9,17 ? * MON-FRI *)", "cron(0 9,17 ? * MON-FRI *)", 64 * 3600],
    ["cron(0 4 15W * ? *)", "cron(0 4 15W * ? *)", 32 * DAY], // 14th (15th a Saturday) to 15th of a 31-day month later
  ])("accepts %s", (text, description, intervalSeconds) => {
    const s = parseSchedule(text, "UTC");
    expect(s.expression).toBe(text.replace(/\s+/g, " ").replace("( ", "("));
    expect(s.description).toBe(description);
    expect(s.intervalSeconds).toBe(intervalSeconds);
  });

  it("describes a step by its real times when it does not divide the hour or the day: the plan, reminders and runbooks show when it runs", () => {
    const described = (text: string) => parseSchedule(text, "UTC").description;
    // 0/45 runs at :00 and :45 (45 and 15 minutes apart), 0/7 leaves 4 minutes from :56 to :00.
    expect(described("cron(0/45 * * * ? *)")).toBe("at :00 and :45 every hour");
    expect(described("cron(0/7 * * * ? *)")).toBe("at :00, :07, :14, :21, :28, :35, :42, :49 and :56 every hour");
    expect(described("cron(0/15 * * * ? *)")).toBe("every 15 minutes");
    // Hours 0/5: 00:00 to 20:00, then 4 hours to the next midnight.
    expect(described("cron(0 0/5 * * ? *)")).toBe("daily at 00:00, 05:00, 10:00, 15:00 and 20:00");
    expect(described("cron(30 */6 * * ? *)")).toBe("every 6 hours at :30");
  });

  it("normalizes rate units to EventBridge's singular/plural rule", () => {
    expect(parseSchedule("rate(1 hours)", "UTC")).toEqual({ expression: "rate(1 hour)", timezone: "UTC", description: "every hour", intervalSeconds: 3600 });
    expect(parseSchedule("rate(5 minute)", "UTC").expression).toBe("rate(5 minutes)");
    expect(parseSchedule("rate(2 days)", "UTC").intervalSeconds).toBe(2 * DAY);
  });

  it.each([
    ["cron(0 2 * * 1 *)", "cron(0 2 * * 1 *): day-of-month and day-of-week cannot both be set; use ? in one"],
    ["cron(0 2 ? * ? *)", "cron(0 2 ? * ? *): day-of-month and day-of-week cannot both be ?; set one of them"],
    ["cron(0 25 * * ? *)", "cron(0 25 * * ? *): hour 25 out of range 0-23"],
    ["cron(60 2 * * ? *)", "cron(60 2 * * ? *): minute 60 out of range 0-59"],
    ["cron(0 2 32 * ? *)", "cron(0 2 32 * ? *): day-of-month 32 out of range 1-31"],
    ["cron(0 2 ? * 0 *)", "cron(0 2 ? * 0 *): day-of-week 0 out of range 1-7 (1 = SUN .. 7 = SAT)"],
    ["cron(0 2 ? 13 MON *)", "cron(0 2 ? 13 MON *): month 13 out of range 1-12"],
    ["cron(0 2 ? * 1#6 *)", "cron(0 2 ? * 1#6 *): day-of-week \"1#6\": the number after # must be 1-5 (1#1 = first Sunday)"],
    ["cron(0 2 ? * FUN *)", 'cron(0 2 ? * FUN *): day-of-week "FUN" is not a number or one of SUN,MON,TUE,WED,THU,FRI,SAT'],
    [
      "cron(0 2 * * *)",
      "cron(0 2 * * *): expected 6 fields (minute hour day-of-month month day-of-week year), got 5; EventBridge cron has a year field: add * at the end and ? in day-of-month or day-of-week",
    ],
    ["cron(0 2 1 1 ? 2020)", "cron(0 2 1 1 ? 2020): never runs (no matching day in 2024-2051)"],
    ["cron(0 2 1 1 ? 2030)", "cron(0 2 1 1 ? 2030): runs only once; a maintenance schedule must repeat"],
    ["rate(0 minutes)", "rate(0 minutes): the rate must be at least 1"],
    ["rate(5 weeks)", "rate(5 weeks): expected rate(<number> minutes|hours|days), e.g. rate(5 minutes)"],
    ["cron(0 2 * * ? *", '"cron(0 2 * * ? *": missing closing parenthesis'],
  ])("refuses %s", (text, message) => {
    expect(errorOf(() => parseSchedule(text, "UTC"))).toBe(message);
  });
});

describe("timezones", () => {
  it("refuses a name in another case than the tz database's (this runtime reads any case; the name is provisioned as written), naming the spelling", () => {
    expect(errorOf(() => parseSchedule("daily at 02:00", "america/new_york"))).toBe('timezone "america/new_york": IANA timezone names are case-sensitive; write America/New_York');
    expect(errorOf(() => parseSchedule("daily at 02:00", "EUROPE/BERLIN"))).toBe('timezone "EUROPE/BERLIN": IANA timezone names are case-sensitive; write Europe/Berlin');
    // A link whose case is wrong resolves to another name: the capitals rule still refuses it.
    expect(errorOf(() => parseSchedule("daily at 02:00", "us/eastern"))).toMatch(/^timezone "us\/eastern": IANA timezone names are case-sensitive, each part starting with a capital/);
    for (const tz of ["US/Eastern", "Asia/Kolkata", "Etc/GMT+5", "America/Argentina/Buenos_Aires", "America/Port_of_Spain", "Australia/Lord_Howe"]) expect(parseSchedule("daily at 02:00", tz).timezone).toBe(tz);
    const r = regimeSchemaTimezone.safeParse("america/new_york");
    expect(r.error!.issues.map((i) => i.message)).toEqual(['"america/new_york": IANA timezone names are case-sensitive; write America/New_York']);
  });
  it("accepts IANA names", () => {
    expect(parseSchedule("daily at 02:00", "Europe/Berlin").timezone).toBe("Europe/Berlin");
    expect(parseSchedule("daily at 02:00", "UTC").timezone).toBe("UTC");
  });
  it("refuses EST with the New York hint, and unknown zones", () => {
    expect(errorOf(() => parseSchedule("daily at 02:00", "EST"))).toBe(
      'timezone "EST" is an abbreviation, not an IANA timezone; use America/New_York (it follows daylight saving as the local clock does)',
    );
    expect(errorOf(() => parseSchedule("daily at 02:00", "PST"))).toMatch(/use America\/Los_Angeles/);
    expect(errorOf(() => parseSchedule("daily at 02:00", "Mars/Olympus"))).toBe(
      'unknown timezone "Mars/Olympus"; use an IANA timezone such as America/New_York, Europe/Berlin or UTC',
    );
  });
});

describe("nextRuns", () => {
  it("keeps 02:00 New York wall time across daylight saving: 07:00Z in winter, 06:00Z in summer", () => {
    expect(runs("daily at 02:00", NY, "2025-01-15T12:00:00Z", 2)).toEqual(["2025-01-16T07:00:00.000Z", "2025-01-17T07:00:00.000Z"]);
    expect(runs("daily at 02:00", NY, "2025-07-15T12:00:00Z", 2)).toEqual(["2025-07-16T06:00:00.000Z", "2025-07-17T06:00:00.000Z"]);
  });

  it("skips a time that does not exist on the spring-forward day (2025-03-09), as EventBridge Scheduler does", () => {
    expect(runs("daily at 02:00", NY, "2025-03-07T12:00:00Z", 3)).toEqual([
      "2025-03-08T07:00:00.000Z",
      "2025-03-10T06:00:00.000Z",
      "2025-03-11T06:00:00.000Z",
    ]);
    expect(runs("daily at 02:30", NY, "2025-03-08T12:00:00Z", 1)).toEqual(["2025-03-10T06:30:00.000Z"]);
    expect(runs("hourly", NY, "2025-03-09T05:30:00Z", 3)).toEqual(["2025-03-09T06:00:00.000Z", "2025-03-09T07:00:00.000Z", "2025-03-09T08:00:00.000Z"]);
    expect(runs("daily at 02:30", "Europe/Berlin", "2025-03-29T12:00:00Z", 2)).toEqual(["2025-03-31T00:30:00.000Z", "2025-04-01T00:30:00.000Z"]);
  });

  it("runs a repeated fall-back time (2025-11-02 01:30) once, at its first occurrence", () => {
    expect(runs("daily at 01:30", NY, "2025-11-01T12:00:00Z", 2)).toEqual(["2025-11-02T05:30:00.000Z", "2025-11-03T06:30:00.000Z"]);
    expect(runs("daily at 02:00", NY, "2025-10-31T12:00:00Z", 3)).toEqual([
      "2025-11-01T06:00:00.000Z",
      "2025-11-02T07:00:00.000Z",
      "2025-11-03T07:00:00.000Z",
    ]);
    // 01:00 EDT runs; 01:00 EST (06:00Z) is the same wall time again and does not.
    expect(runs("hourly", NY, "2025-11-02T04:30:00Z", 3)).toEqual(["2025-11-02T05:00:00.000Z", "2025-11-02T07:00:00.000Z", "2025-11-02T08:00:00.000Z"]);
  });

  it("finds the last Friday (6L) and the first Sunday (1#1) of each month", () => {
    expect(runs("cron(0 22 ? * 6L *)", "UTC", "2025-01-01T00:00:00Z", 6)).toEqual([
      "2025-01-31T22:00:00.000Z",
      "2025-02-28T22:00:00.000Z",
      "2025-03-28T22:00:00.000Z",
      "2025-04-25T22:00:00.000Z",
      "2025-05-30T22:00:00.000Z",
      "2025-06-27T22:00:00.000Z",
    ]);
    expect(runs("cron(0 2 ? * 1#1 *)", "UTC", "2025-01-01T00:00:00Z", 6)).toEqual([
      "2025-01-05T02:00:00.000Z",
      "2025-02-02T02:00:00.000Z",
      "2025-03-02T02:00:00.000Z",
      "2025-04-06T02:00:00.000Z",
      "2025-05-04T02:00:00.000Z",
      "2025-06-01T02:00:00.000Z",
    ]);
    // Seed 001's window, "first Sunday of each month, 2:00 AM" New York time.
    expect(runs("first Sunday of the month at 02:00", NY, "2025-02-15T00:00:00Z", 2)).toEqual(["2025-03-02T07:00:00.000Z", "2025-04-06T06:00:00.000Z"]);
  });

  it("handles last day of month, nearest weekday and quarterly", () => {
    expect(runs("cron(0 2 L * ? *)", "UTC", "2024-01-15T00:00:00Z", 3)).toEqual(["2024-01-31T02:00:00.000Z", "2024-02-29T02:00:00.000Z", "2024-03-31T02:00:00.000Z"]);
    // 2025-03-15 is a Saturday -> Friday 14th; 2025-06-15 a Sunday -> Monday 16th.
    expect(runs("cron(0 4 15W * ? *)", "UTC", "2025-03-01T00:00:00Z", 4)).toEqual([
      "2025-03-14T04:00:00.000Z",
      "2025-04-15T04:00:00.000Z",
      "2025-05-15T04:00:00.000Z",
      "2025-06-16T04:00:00.000Z",
    ]);
    expect(runs("quarterly on day 1 at 03:00", NY, "2025-02-10T00:00:00Z", 3)).toEqual(["2025-04-01T07:00:00.000Z", "2025-07-01T07:00:00.000Z", "2025-10-01T07:00:00.000Z"]);
  });

  it("runs rate schedules at fixed durations after the start, whatever the wall clock does", () => {
    expect(runs("every 15 minutes", NY, "2025-11-02T05:20:00Z", 3)).toEqual(["2025-11-02T05:35:00.000Z", "2025-11-02T05:50:00.000Z", "2025-11-02T06:05:00.000Z"]);
    expect(runs("rate(1 day)", NY, "2025-03-08T12:00:00Z", 2)).toEqual(["2025-03-09T12:00:00.000Z", "2025-03-10T12:00:00.000Z"]);
  });

  it("returns runs strictly after the start and stops when a year-bounded expression ends", () => {
    expect(runs("daily at 02:00", "UTC", "2025-01-01T02:00:00Z", 1)).toEqual(["2025-01-02T02:00:00.000Z"]);
    expect(runs("cron(0 2 1 1 ? 2030-2031)", "UTC", "2025-01-01T00:00:00Z", 5)).toEqual(["2030-01-01T02:00:00.000Z", "2031-01-01T02:00:00.000Z"]);
    expect(nextRuns(parseSchedule("daily at 02:00", "UTC"), new Date("2025-01-01T00:00:00Z"), 0)).toEqual([]);
  });

  it("accepts a schedule built from an expression alone (as the plan reads it back from resources)", () => {
    const s = { expression: "cron(0/30 * * * ? *)", timezone: "UTC", description: "", intervalSeconds: 0 };
    expect(iso(nextRuns(s, new Date("2025-01-01T00:10:00Z"), 2))).toEqual(["2025-01-01T00:30:00.000Z", "2025-01-01T01:00:00.000Z"]);
    const minutely = nextRuns({ ...s, expression: "cron(* * * * ? *)" }, new Date("2025-01-01T00:00:00Z"), 43_200);
    expect(minutely).toHaveLength(43_200);
    expect(minutely[43_199].toISOString()).toBe("2025-01-31T00:00:00.000Z");
  });
});

describe("formatLocal", () => {
  it("shows the wall clock with its offset", () => {
    expect(formatLocal(new Date("2025-03-10T06:00:00Z"), NY)).toBe("Mon 2025-03-10 02:00 -04:00");
    expect(formatLocal(new Date("2025-01-16T07:00:00Z"), NY)).toBe("Thu 2025-01-16 02:00 -05:00");
    expect(formatLocal(new Date("2025-06-01T00:30:00Z"), "Asia/Kolkata")).toBe("Sun 2025-06-01 06:00 +05:30");
    expect(formatLocal(new Date("2025-06-01T00:30:00Z"), "UTC")).toBe("Sun 2025-06-01 00:30 +00:00");
  });
});

describe("zod schema", () => {
  const schema = z.object({ backup: z.object({ schedule: scheduleSchema(NY) }) });

  it("parses a string in the default timezone and an object with its own", () => {
    expect(schema.parse({ backup: { schedule: "Daily at 2 AM" } }).backup.schedule).toEqual({
      expression: "cron(0 2 * * ? *)",
      timezone: NY,
      description: "daily at 02:00",
      intervalSeconds: DAY,
    });
    expect(schema.parse({ backup: { schedule: { at: "daily at 02:00", timezone: "Europe/Berlin" } } }).backup.schedule.timezone).toBe("Europe/Berlin");
  });

  it("reports one issue with the key path and the parser's reason", () => {
    const r = schema.safeParse({ backup: { schedule: "every blue moon" } });
    expect(r.success).toBe(false);
    expect(r.error!.issues).toHaveLength(1);
    expect(r.error!.issues[0].path).toEqual(["backup", "schedule"]);
    expect(r.error!.issues[0].message).toBe(
      'unknown schedule "every blue moon"; examples: "daily at 02:00", "weekly on Wednesday at 03:00", "cron(0 2 * * ? *)"',
    );
    const tz = schema.safeParse({ backup: { schedule: { at: "daily at 02:00", timezone: "EST" } } });
    expect(tz.error!.issues[0].message).toMatch(/^timezone "EST" is an abbreviation/);
  });

  it("isSchedule answers for refinements", () => {
    expect(isSchedule("weekly on Wednesday at 03:00")).toBe(true);
    expect(isSchedule("cron(0 2 * * 1 *)")).toBe(false);
  });
});
