/**
 * One rule for a schedule as written: a string and `{ at }` without a timezone are both in the
 * regime's timezone (file backups too); and the cost's count of runs is the Scheduler's calendar's
 * (regime/scheduler-time.ts schedulerRuns), not one run per longest interval.
 */
import { describe, expect, it } from "vitest";
import { validateRegime } from "../regime/load";
import { schedulerRuns } from "../regime/scheduler-time";
import { runPlan } from "../plan/run";
import { refusal } from "./helpers/refusal";
import { regimeStackFile } from "./helpers/stack-file";

const FROM = new Date("2026-12-01T00:00:00Z");

describe("a schedule object that names no timezone", () => {
  it("is in the regime's timezone, as the same string is", () => {
    const r = validateRegime({
      name: "t",
      timezone: "America/New_York",
      reminders: [
        { name: "object", schedule: { at: "daily at 09:00" }, checklist: ["x"] },
        { name: "string", schedule: "daily at 09:00", checklist: ["x"] },
        { name: "own", schedule: { at: "daily at 09:00", timezone: "Europe/Berlin" }, checklist: ["x"] },
      ],
    });
    expect(r.reminders.map((m) => [m.name, m.schedule.expression, m.schedule.timezone, m.schedule.text])).toEqual([
      ["object", "cron(0 9 * * ? *)", "America/New_York", "daily at 09:00"],
      ["string", "cron(0 9 * * ? *)", "America/New_York", "daily at 09:00"],
      ["own", "cron(0 9 * * ? *)", "Europe/Berlin", "daily at 09:00"],
    ]);
  });

  it("a file backup's { at } in a regime outside UTC is refused as its string is: the hosts run it in UTC", () => {
    const group = (schedule: unknown) => ({
      name: "t",
      timezone: "Europe/Berlin",
      logs: { hostGroups: [{ name: "web", target: { tagKey: "App", tagValue: "web" }, fileBackups: [{ name: "uploads", paths: ["/srv/uploads"], schedule }] }] },
    });
    const fromString = refusal(group("daily at 03:00"));
    expect(fromString).toContain('logs.hostGroups[0].fileBackups[0].schedule: "daily at 03:00" is in Europe/Berlin, but State Manager and cron run file backups in UTC');
    expect(refusal(group({ at: "daily at 03:00" }))).toBe(fromString);
  });
});

describe("the cost counts the runs the Scheduler makes", () => {
  it("cron(0/59 * * * ? *) runs at :00 and :59, 1,440 times in 30 days; a working-hours cron every 5 minutes 2,640 times", async () => {
    const hourly2 = { expression: "cron(0/59 * * * ? *)", timezone: "UTC" };
    const working = { expression: "cron(0/5 8-17 ? * MON-FRI *)", timezone: "UTC" };
    const end = FROM.getTime() + 30 * 86_400_000;
    expect(schedulerRuns(hourly2, FROM.getTime(), end).runs.length).toBe(1440);
    // 22 weekdays from Tuesday 2026-12-01 to 2026-12-30, 10 hours of 12 checks each.
    expect(schedulerRuns(working, FROM.getTime(), end).runs.length).toBe(2640);

    const file = regimeStackFile("cr", "cr", {
      databases: [{ id: "app", secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf", health: { schedule: hourly2.expression } }],
      endpoints: { schedule: working.expression, checks: [{ name: "api", url: "https://api.example.com/health" }] },
    });
    const { plan } = await runPlan({ configFile: file, from: FROM });
    const items = plan.cost.components.flatMap((c) => c.items.map((i) => i.what)).filter((w) => /^scheduler cr-(db-app-db-health|health)\b/.test(w));
    expect(items.sort()).toEqual(["scheduler cr-db-app-db-health (1440 runs)", "scheduler cr-health-task (2640 runs)"]);
  }, 120_000);
});
