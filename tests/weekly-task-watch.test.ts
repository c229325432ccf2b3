/**
 * A weekly redis-health or endpoint check is further apart than a missed-run alarm looks back (7
 * days): the overdue watcher watches it from its function's AWS/Lambda Invocations history (less its
 * Errors for the gapped endpoint checks, whose missed-run alarm counts successes), with its role's
 * creation as watch start. A good week pages nobody; a checker that stops is overdue and pages.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPromises } from "../components/promises";
import { healthCheckWatchedJob } from "../components/health-checks";
import { redisWatchedJob } from "../components/redis";
import { validateRegime } from "../regime/load";
import { startCloudWatch, watchJobs, type TestCloudWatch } from "./helpers/cloudwatch";

const alerting = { P0: { email: ["a@example.com"] }, P1: { email: ["a@example.com"] }, P2: { email: ["a@example.com"] }, P3: { email: ["a@example.com"] } };
const r = validateRegime({
  name: "rt",
  timezone: "UTC",
  alerting,
  redis: [{ id: "cache", url: "redis://10.0.0.5:6379", schedule: "weekly on Monday at 03:00" }],
  endpoints: { schedule: "weekly on Monday at 09:00", checks: [{ name: "api", url: "https://app.example.com/health", failuresBeforeAlarm: 1 }] },
});

describe("the promise check", () => {
  it("both checkers are held, by the overdue watch, within 171 h of their last run", () => {
    const p = checkPromises(r, new Date("2026-12-01T00:00:00Z"));
    expect(p.refusals).toEqual([]);
    for (const key of ["redis[cache].schedule", "endpoints.schedule"]) {
      expect(p.promises.find((x) => x.key === key)).toMatchObject({ status: "held", figure: "paged within 171 h of its last run, by the overdue watch" });
    }
  });

  it("the jobs: Invocations of each function; the endpoint checks (P0, gapped) less their Errors", () => {
    const hc = healthCheckWatchedJob("rt-health", { regime: "rt", schedule: r.endpoints!.schedule, endpoints: r.endpoints!.checks })!;
    expect(hc).toMatchObject({ job: "task/health-task", resource: "health-task", severity: "P0", toleranceSeconds: 3640 });
    expect(hc.history).toMatchObject({ metric: { namespace: "AWS/Lambda", name: "Invocations", dimensions: { FunctionName: "rt-health-task" } }, failures: { name: "Errors" } });
    const rd = redisWatchedJob("rt-redis-cache", "rt", r.redis[0])!;
    expect(rd).toMatchObject({ job: "task/redis-cache-redis-health", severity: "P1" });
    expect(rd.history!.failures).toBeUndefined();
    // Paused: not watched.
    expect(redisWatchedJob("rt-redis-cache", "rt", { ...r.redis[0], paused: true })).toBeUndefined();
    // Daily: its missed-run alarm watches it.
    expect(redisWatchedJob("rt-redis-cache", "rt", { ...r.redis[0], schedule: validateRegime({ name: "x", redis: [{ id: "c", url: "redis://h:6379", schedule: "daily at 03:00" }] }).redis[0].schedule })).toBeUndefined();
  });
});

describe("the watcher reads the function's runs", () => {
  let cw: TestCloudWatch;
  beforeAll(async () => {
    cw = await startCloudWatch();
  }, 60_000);
  afterAll(async () => {
    await cw?.stop();
  });
  const hc = () => {
    const j = healthCheckWatchedJob("rt-health", { regime: "rt", schedule: r.endpoints!.schedule, endpoints: r.endpoints!.checks }, "2026-11-01T00:00:00Z")!;
    const { resource, severity, description, byHand, ...job } = j; // eslint-disable-line @typescript-eslint/no-unused-vars
    return job;
  };
  const watch = (at: string) => watchJobs(cw, [hc()], at);
  const put = (name: string, at: string) => cw.put({ namespace: "AWS/Lambda", metricName: name, dimensions: { FunctionName: "rt-health-task" }, at: new Date(at), value: 1 });

  it("a good week: on time; the week it stops: overdue once the run is past its tolerance", async () => {
    cw.clear();
    put("Invocations", "2027-01-04T09:00:01Z");
    put("Invocations", "2027-01-11T09:00:01Z");
    expect((await watch("2027-01-18T09:30:00Z")).jobs[0]).toMatchObject({ lastSuccess: "2027-01-11T10:00:00.000Z", overdue: false });
    // No run on the 18th: overdue after 09:00 + 1 h 40 s.
    expect((await watch("2027-01-18T10:30:00Z")).overdue).toEqual(["task/health-task"]);
  });

  it("a checker that fails every run is no success: overdue too (its missed-run alarm would count successes)", async () => {
    cw.clear();
    put("Invocations", "2027-01-04T09:00:01Z");
    put("Invocations", "2027-01-11T09:00:01Z");
    put("Errors", "2027-01-11T09:00:01Z");
    const v = (await watch("2027-01-11T10:30:00Z")).jobs[0];
    expect(v).toMatchObject({ lastSuccess: "2027-01-04T10:00:00.000Z", overdue: true });
  });
});
