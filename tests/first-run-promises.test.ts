/**
 * A schedule whose first run comes long after the plan's start (the deploy, where every watch
 * starts): a cron whose year field starts in a later year, or one that never runs again. The plan's
 * promise line counts the stretch from the start to the first run and breaks when it is longer than
 * the job's watch or RPO allows; a schedule with no run left is refused with its key; an at() one-off
 * is refused as a maintenance schedule. Under the plan's Pulumi mocks, as a user reads the plan.
 */
import { describe, expect, it } from "vitest";
import { checkPromises } from "../components/promises";
import { validateRegime } from "../regime/load";
import { firstRunAfter, longestGap } from "../regime/scheduler-time";
import { runPlan } from "../plan/run";
import { formatPromises } from "../plan/promises";
import { refusal } from "./helpers/refusal";
import { regimeStackFile } from "./helpers/stack-file";
import { ALERTING } from "./helpers/alerting";

const FROM = new Date("2026-12-01T00:00:00Z");
const DATABASE = {
  id: "app",
  secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
  network: { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] },
};

/** A regime with one database (backup `backup`) and one reminder on `schedule`. */
function regime(schedule: string, backup = "daily at 03:00") {
  return validateRegime({ name: "t", timezone: "UTC", alerting: ALERTING, databases: [{ ...DATABASE, backup: { schedule: backup } }], reminders: [{ name: "pentest", schedule, severity: "P3", checklist: ["Commission the test"] }] });
}

function stackFile(reminderSchedule: string): string {
  return regimeStackFile("first", "fr", {
    databases: [{ id: "app", secretArn: DATABASE.secretArn, backup: { schedule: "daily at 03:00" } }],
    reminders: [{ name: "pentest", schedule: reminderSchedule, severity: "P3", checklist: ["Commission the test"] }],
  });
}

describe("the stretch from the plan's start to a schedule's first run", () => {
  it("a yearly reminder whose year field starts in 2040 is refused: nothing runs for 13 years; the same in every year is held", async () => {
    await expect(runPlan({ configFile: stackFile("cron(0 9 1 1 ? 2040/1)"), from: FROM })).rejects.toThrow(
      `promise check: reminders[pentest].schedule: "cron(0 9 1 1 ? 2040/1)" first runs 2040-01-01, 13 years after the plan's start (2026-12-01, the deploy): nothing runs and nothing pages until then, longer than the 8787 h its overdue watch allows between runs; write * in its year field (2040/1), so it runs from the deploy`,
    );
    // The same reminder in every year is held, and the plan's line counts from its last run.
    const { plan } = await runPlan({ configFile: stackFile("cron(0 9 1 1 ? *)"), from: FROM });
    const lines = formatPromises(plan.promises!).filter((l) => l.includes("reminders[pentest]"));
    expect(lines).toEqual(["  [held] reminders[pentest].schedule: reminder pentest: paged when it stops: paged within 8787 h of its last run, by the overdue watch"]);
  }, 120_000);

  it("a daily reminder from next year: its missed-run alarm, watching from the deploy, would page the next day; one from a past year is held", () => {
    const report = checkPromises(regime("cron(0 9 * * ? 2027/1)"), FROM);
    const line = report.promises.find((p) => p.key === "reminders[pentest].schedule")!;
    expect([line.status, line.figure, line.firstBreak]).toEqual(["broken", "first runs 2027-01-01: nothing runs for 31 days after the plan's start (2026-12-01)", "2026-12-02"]);
    expect(report.refusals).toEqual([
      `reminders[pentest].schedule: "cron(0 9 * * ? 2027/1)" first runs 2027-01-01, 31 days after the plan's start (2026-12-01, the deploy): its missed-run alarm, watching from the deploy, pages P3 on 2026-12-02 although no run was due (its window, 25.1 h, holds no success); write * in its year field (2027/1), so it runs from the deploy`,
    ]);
    // A year field that starts before the plan and repeats is held: its first run is as near as any.
    expect(checkPromises(regime("cron(0 9 1 1 ? 2020/1)", "cron(0 2 * * ? 2021/1)"), FROM).refusals).toEqual([]);
  });

  it("a backup from next year breaks the RPO: its alarm watches from the deploy", () => {
    const refusals = checkPromises(regime("monthly on day 1 at 09:00", "cron(0 2 * * ? 2027/1)"), FROM).refusals;
    expect(refusals[0]).toBe(
      `databases[app].backup.schedule: "cron(0 2 * * ? 2027/1)" first runs 2027-01-01, 31 days after the plan's start (2026-12-01, the deploy): 31 days from the plan's start to the first backup + up to 12 min to store the next + 5 min for the RPO alarm to see it > rpoHours 26: the RPO alarm, watching from the deploy, pages P0 on 2026-12-02 although no backup is due; its missed-run alarm, watching from the deploy, pages P1 on 2026-12-02 although no run was due (its window, 25.3 h, holds no success); write * in its year field (2027/1), so it runs from the deploy, or set rpoHours to at least 747`,
    );
  });

  it("a schedule with no run in the 28 years after the start is refused with its key", () => {
    expect(checkPromises(regime("cron(0 9 1 1 ? 2190/5)"), FROM).refusals).toEqual([
      `reminders[pentest].schedule: "cron(0 9 1 1 ? 2190/5)" names no run in the 28 years after the plan's start (2026-12-01): the reminder pentest never runs again; write * in its year field (2190/5), so it runs from the deploy`,
    ]);
  });

  it("an at() one-off is refused where it is written: it runs once", () => {
    expect(refusal({ name: "t", reminders: [{ name: "once", schedule: "at(2040-01-01T09:00)", checklist: ["x"] }] })).toContain(
      'reminders[0].schedule: "at(2040-01-01T09:00)" runs once (an at() one-off); a maintenance schedule must repeat: use a readable form, cron(...) or rate(...)',
    );
  });

  it("the longest gap counts from the start to a first run beyond the window, and is infinite with none", () => {
    const s = { expression: "cron(0 9 1 1 ? 2040/1)", timezone: "UTC" };
    const gap = longestGap(s, FROM.getTime(), Date.UTC(2027, 11, 1), 365 * 86400);
    expect(gap).toEqual({ seconds: (Date.UTC(2040, 0, 1, 9) - FROM.getTime()) / 1000, startsAt: FROM.getTime(), endsAt: Date.UTC(2040, 0, 1, 9), fromStart: true });
    expect(firstRunAfter({ expression: "cron(0 9 1 1 ? 2190/5)", timezone: "UTC" }, FROM.getTime())).toBeUndefined();
    expect(longestGap({ expression: "cron(0 9 1 1 ? 2190/5)", timezone: "UTC" }, FROM.getTime(), Date.UTC(2027, 11, 1), 5 * 365 * 86400).seconds).toBe(Infinity);
    // A run at the start itself is its first run.
    expect(firstRunAfter({ expression: "cron(0 0 * * ? *)", timezone: "UTC" }, FROM.getTime())).toBe(FROM.getTime());
  });
});
