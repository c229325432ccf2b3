/**
 * The overdue watcher reads a reminder's last run from its schedule group's AWS/Scheduler history, whose
 * 1-hour data points CloudWatch keeps 455 days. A reminder further apart than that (February 29,
 * every other year) would find no last run after 455 days and page on good days: the promise check
 * refuses it as an AWS limit, one line naming the key, the figure and the remedy. The watcher itself,
 * given such a job, shows the false page the refusal keeps from being deployed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPromises } from "../components/promises";
import { validateRegime } from "../regime/load";
import { historyLookbackSeconds } from "../components/overdue-watch";
import { startCloudWatch, watchJobs, type TestCloudWatch } from "./helpers/cloudwatch";

const FROM = new Date("2026-12-01T00:00:00Z");
const alerting = { P0: { email: ["a@example.com"] }, P1: { email: ["a@example.com"] }, P2: { email: ["a@example.com"] }, P3: { email: ["a@example.com"] } };
const report = (reminders: unknown[], extra: Record<string, unknown> = {}) => checkPromises(validateRegime({ name: "rt", timezone: "UTC", alerting, reminders, ...extra }), FROM);
const KEPT = "which CloudWatch keeps 455 d: once the last run is older than that it finds none and pages on good days; schedule it at most 454 days apart: yearly at most, on a date every year has (not February 29)";

describe("reminders further apart than the watcher's metric history are refused", () => {
  it("February 29 and every other year: one line each, naming the key and the interval", () => {
    const r = report([
      { name: "leap", schedule: "cron(0 9 29 2 ? *)", checklist: ["renew"] },
      { name: "biennial", schedule: "cron(0 9 1 1 ? 2027/2)", checklist: ["review"] },
    ]);
    expect(r.refusals).toEqual([
      `reminders[leap].schedule: "cron(0 9 29 2 ? *)" runs up to 1461 d apart, and the overdue watcher reads its last run from its schedule group's AWS/Scheduler InvocationAttemptCount history, ${KEPT}`,
      `reminders[biennial].schedule: "cron(0 9 1 1 ? 2027/2)" runs up to 731 d apart, and the overdue watcher reads its last run from its schedule group's AWS/Scheduler InvocationAttemptCount history, ${KEPT}`,
    ]);
    expect(r.promises.filter((p) => p.key.startsWith("reminders[")).map((p) => [p.status, p.kind])).toEqual([
      ["broken", "limit"],
      ["broken", "limit"],
    ]);
  });

  it("no acceptance keeps it: AWS keeps the history no longer", () => {
    const r = report([{ name: "leap", schedule: "cron(0 9 29 2 ? *)", checklist: ["renew"] }], { acceptedRisks: [{ key: "reminders[leap].schedule", reason: "we know" }] });
    expect(r.refusals).toContain('acceptedRisks[0].key: "reminders[leap].schedule" breaks an AWS limit, which no acceptance can keep (AWS refuses it at deploy)');
  });

  it("yearly (at most 366 days apart) is held, watched by the overdue watch; a paused one is not judged", () => {
    const r = report([
      { name: "yearly", schedule: "cron(0 9 1 3 ? *)", checklist: ["renew"] },
      { name: "leap", schedule: "cron(0 9 29 2 ? *)", checklist: ["renew"], paused: true },
    ]);
    expect(r.refusals).toEqual([]);
    expect(r.promises.find((p) => p.key === "reminders[yearly].schedule")).toMatchObject({ status: "held", figure: "paged within 8787 h of its last run, by the overdue watch" });
    expect(r.promises.find((p) => p.key === "reminders[leap].schedule")).toMatchObject({ status: "paused" });
  });
});

describe("the watcher, given a job further apart than its history reaches", () => {
  let cw: TestCloudWatch;
  beforeAll(async () => {
    cw = await startCloudWatch();
  }, 60_000);
  afterAll(async () => {
    await cw?.stop();
  });

  it("finds no last run 455 days on, falls back to its watch start and reports a reminder that ran on time as overdue", async () => {
    const group = "rt-reminders-biennial";
    cw.put({ namespace: "AWS/Scheduler", metricName: "InvocationAttemptCount", dimensions: { ScheduleGroup: group }, at: new Date("2027-01-01T09:00:02Z"), value: 1 });
    const job = {
      job: "reminder/biennial",
      expression: "cron(0 9 1 1 ? 2027/2)",
      timezone: "UTC",
      toleranceSeconds: 3600,
      since: "2026-12-01T00:00:00Z",
      history: { scheduleGroup: group, lookbackSeconds: historyLookbackSeconds(731 * 86400, 3600) },
    };
    const watch = (at: string) => watchJobs(cw, [job], at);
    // Within the 455 days: its last run is found, the next one (2029) is not due.
    expect((await watch("2028-03-01T00:00:00Z")).jobs[0]).toMatchObject({ lastSuccess: "2027-01-01T10:00:00.000Z", overdue: false });
    // Past them: the run of 2027 is out of reach, and the watch start makes 2027's run overdue.
    expect((await watch("2028-06-01T00:00:00Z")).jobs[0]).toMatchObject({ watchingSince: "2026-12-01T00:00:00.000Z", expectedBy: "2027-01-01T09:00:00.000Z", overdue: true });
  });
});
