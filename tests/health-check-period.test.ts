/**
 * A check's data points belong to the period of the run that took them: the down alarm counts one
 * Healthy per period and treats a period without one as a failed check, so a healthy answer that
 * takes most of its timeout (after a late delivery) must not land in the next minute. The task runs
 * against a server on 127.0.0.1 whose answer moves the clock on by 58 s (Date only is faked: the
 * request itself is real), and the EMF lines it prints are read as CloudWatch reads them.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { healthCheckTask } from "../tasks/health-check";
import { runTask } from "../tasks/lib/runtime";
import { captureEmf, type EmfLine } from "./helpers/emf";

/** How long the endpoint takes to answer, on the faked clock: most of a one-minute check's interval. */
const ANSWER_MS = 58_000;
let server: http.Server;
let base = "";

beforeAll(async () => {
  server = http.createServer((req, res) => {
    vi.setSystemTime(Date.now() + ANSWER_MS);
    res.statusCode = req.url === "/ok" ? 200 : 503;
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => (server.closeAllConnections(), server.close(r)));
});

afterEach(() => {
  vi.useRealTimers();
});

/** Runs the task with the clock at `startedAt` and the given environment; the EMF lines it printed and the clock when it ended. */
async function runAt(startedAt: string, env: Record<string, string>): Promise<{ emf: EmfLine[]; endedAt: number }> {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(startedAt));
  const endpoints = [
    { name: "api", url: `${base}/ok`, timeoutMs: 60_000, conditions: { status: 200, responseTimeMs: 59_999 } },
    { name: "down", url: `${base}/fail`, timeoutMs: 60_000 },
  ];
  const emf = await captureEmf(() => runTask(healthCheckTask, { ENDPOINTS: JSON.stringify(endpoints), POWERTOOLS_DEV: "false", LOG_LEVEL: "ERROR", ...env }).catch(() => undefined));
  return { emf, endedAt: Date.now() };
}

/** The time (ISO) and value of `metric` of `endpoint` in the EMF lines, as CloudWatch files them. */
function points(emf: EmfLine[], endpoint: string, metric: string): [string, number][] {
  return emf
    .filter((m) => m.Endpoint === endpoint && m._aws.CloudWatchMetrics[0].Metrics[0].Name === metric)
    .map((m) => [new Date((m._aws as unknown as { Timestamp: number }).Timestamp).toISOString(), m[metric] as number]);
}

describe("a check's Healthy is stamped in the period of its run", () => {
  it("scheduled 10:00, started 10:00:04, answered 58 s later each (10:01:02 on): Healthy and ResponseTime stamped 10:00, the minute the down alarm counts them in", async () => {
    const { emf, endedAt } = await runAt("2027-03-01T10:00:04Z", { SCHEDULED_TIME: "2027-03-01T10:00:00Z", SCHEDULE_INTERVAL_SECONDS: "60" });
    // The run really ended in a later minute than it was scheduled in.
    expect(endedAt).toBeGreaterThanOrEqual(Date.parse("2027-03-01T10:01:00Z"));
    expect(points(emf, "api", "Healthy")).toEqual([["2027-03-01T10:00:00.000Z", 1]]);
    expect(points(emf, "down", "Healthy")).toEqual([["2027-03-01T10:00:00.000Z", 0]]);
    expect(points(emf, "api", "ResponseTime").map(([at]) => at)).toEqual(["2027-03-01T10:00:00.000Z"]);
  });

  it("run by hand (no SCHEDULED_TIME) at 10:00:04: Healthy stamped with its start, not its end", async () => {
    const { emf, endedAt } = await runAt("2027-03-01T10:00:04Z", {});
    expect(endedAt).toBeGreaterThanOrEqual(Date.parse("2027-03-01T10:01:00Z"));
    expect(points(emf, "api", "Healthy")).toEqual([["2027-03-01T10:00:04.000Z", 1]]);
    expect(points(emf, "down", "Healthy")).toEqual([["2027-03-01T10:00:04.000Z", 0]]);
  });

  it("the run metrics still say when the run ended: TaskDuration and TaskFailed are not a check's data points", async () => {
    const { emf, endedAt } = await runAt("2027-03-01T10:00:04Z", { SCHEDULED_TIME: "2027-03-01T10:00:00Z" });
    const run = emf.filter((m) => m._aws.CloudWatchMetrics[0].Metrics.some((x) => x.Name === "TaskFailed"));
    expect(run.map((m) => (m._aws as unknown as { Timestamp: number }).Timestamp)).toEqual([endedAt]);
  });
});
