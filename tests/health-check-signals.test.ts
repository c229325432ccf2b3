/**
 * Down versus the two signals, against servers on 127.0.0.1: a slow answer and a certificate near
 * expiry are reported (warnings, ResponseTime, CertificateDaysLeft) and never make an endpoint
 * unhealthy, never lower the Healthy metric the down and error-budget alarms read, and never fail the
 * run; days left are the earliest expiry of the certificate chain (root CA, intermediate, leaf made by
 * openssl), whatever the order the server sends it in. CertificateDaysLeft is sampled: a healthy value
 * goes out in the first run of each UTC day, one below the endpoint's minimum on every run.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { healthCheckTask } from "../tasks/health-check";
import { checkAll, type HealthCheckResult } from "../tasks/health-check/check";
import { healthCheckSettings, type EndpointInput } from "../tasks/health-check/settings";
import { parseSettings, runTask, TaskError } from "../tasks/lib/runtime";
import { captureEmf, type EmfLine } from "./helpers/emf";
import { issue, type Issued } from "./helpers/tls-chain";

const DAY = 86_400_000;
const SLOW_MS = 400;
const servers: (http.Server | https.Server)[] = [];
let dir = "";
let base = "";
let root: Issued;
let rootShort: Issued;
/** Servers by what they send: leaf + intermediate (3 days), leaf + root + intermediate, an expired intermediate, ... */
const tlsUrl: Record<string, string> = {};

function listen(server: http.Server | https.Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  const reply = (status: number) => {
    res.statusCode = status;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ status: status === 200 ? "ok" : "failing" }));
  };
  if (req.url === "/slow") setTimeout(() => reply(200), SLOW_MS);
  else if (req.url === "/slow-fail") setTimeout(() => reply(503), SLOW_MS);
  else reply(req.url === "/ok" ? 200 : 404);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "health-signals-"));
  base = `http://127.0.0.1:${await listen(http.createServer(route))}`;
  const now = Date.now();
  const at = (days: number) => new Date(now + days * DAY);
  root = issue(path.join(dir, "root"), { cn: "Test Root CA", start: at(-10), end: at(3650), ca: true });
  const inter = issue(path.join(dir, "inter"), { cn: "Test Intermediate CA", start: at(-10), end: at(3), ca: true, issuer: root });
  const leaf = issue(path.join(dir, "leaf"), { cn: "127.0.0.1", start: at(-1), end: at(300), ca: false, issuer: inter });
  const interExpired = issue(path.join(dir, "inter-expired"), { cn: "Expired Intermediate CA", start: at(-400), end: at(-2), ca: true, issuer: root });
  const leafOfExpired = issue(path.join(dir, "leaf-expired-int"), { cn: "127.0.0.1", start: at(-1), end: at(300), ca: false, issuer: interExpired });
  const interLong = issue(path.join(dir, "inter-long"), { cn: "Long Intermediate CA", start: at(-10), end: at(1000), ca: true, issuer: root });
  const leafSoon = issue(path.join(dir, "leaf-soon"), { cn: "127.0.0.1", start: at(-1), end: at(9), ca: false, issuer: interLong });
  // A private root that itself runs out in 10 days: the anchor of the chain counts too.
  rootShort = issue(path.join(dir, "root-short"), { cn: "Short Root CA", start: at(-10), end: at(10), ca: true });
  const interUnderShort = issue(path.join(dir, "inter-under-short"), { cn: "Intermediate Under Short Root", start: at(-10), end: at(500), ca: true, issuer: rootShort });
  const leafUnderShort = issue(path.join(dir, "leaf-under-short"), { cn: "127.0.0.1", start: at(-1), end: at(300), ca: false, issuer: interUnderShort });

  const serve = async (name: string, key: string, chain: string[]) => {
    const port = await listen(https.createServer({ key, cert: chain.join("") }, route));
    tlsUrl[name] = `https://127.0.0.1:${port}/ok`;
  };
  await serve("leaf+intermediate", leaf.key, [leaf.cert, inter.cert]);
  await serve("leaf+root+intermediate", leaf.key, [leaf.cert, root.cert, inter.cert]);
  await serve("leaf+intermediate+root", leaf.key, [leaf.cert, inter.cert, root.cert]);
  await serve("expired intermediate", leafOfExpired.key, [leafOfExpired.cert, interExpired.cert]);
  await serve("leaf first to expire", leafSoon.key, [leafSoon.cert, interLong.cert]);
  await serve("short root", leafUnderShort.key, [leafUnderShort.cert, interUnderShort.cert]);
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
  rmSync(dir, { recursive: true, force: true });
});

const check = (endpoints: EndpointInput[]) => checkAll(parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify(endpoints) }), new AbortController().signal);

/** Runs the task as Lambda does and returns its result, the error it threw (if any) and its EMF lines. */
async function runWithMetrics(endpoints: EndpointInput[]): Promise<{ result: HealthCheckResult; error?: TaskError; emf: EmfLine[] }> {
  let result: HealthCheckResult | undefined;
  let error: TaskError | undefined;
  const emf = await captureEmf(() =>
    runTask(healthCheckTask, { ENDPOINTS: JSON.stringify(endpoints), POWERTOOLS_DEV: "false" }).then(
      (r) => void (result = r),
      (err: unknown) => {
        if (!(err instanceof TaskError)) throw err;
        error = err;
        result = err.result as HealthCheckResult;
      },
    ),
  );
  return { result: result!, error, emf };
}

/** The value of one metric of one endpoint in the EMF lines. */
const metricOf = (emf: EmfLine[], endpoint: string, name: string) =>
  emf.filter((m) => m.Endpoint === endpoint && m._aws.CloudWatchMetrics[0].Metrics[0].Name === name).map((m) => m[name] as number);

describe("a slow endpoint is not down", () => {
  it("answers slower than responseTimeMs: healthy, Healthy metric 1, ResponseTime shows the time, the run succeeds", async () => {
    const { result, error, emf } = await runWithMetrics([
      { name: "slow", url: `${base}/slow`, conditions: { responseTimeMs: 100, jsonField: { path: "status", equals: "ok" } } },
      { name: "fast", url: `${base}/ok`, conditions: { responseTimeMs: 5000 } },
    ]);
    expect(error).toBeUndefined();
    const [slow, fast] = result.results;
    expect(slow).toMatchObject({ name: "slow", healthy: true, status: 200, failures: [] });
    expect(slow.responseTimeMs).toBeGreaterThanOrEqual(SLOW_MS - 5);
    expect(slow.warnings).toEqual([`response time ${slow.responseTimeMs} ms > 100 ms`]);
    expect(fast).toMatchObject({ healthy: true, failures: [], warnings: [] });
    // The down alarm and the error-budget alarms read Healthy: it stays 1.
    expect(metricOf(emf, "slow", "Healthy")).toEqual([1]);
    expect(metricOf(emf, "slow", "ResponseTime")).toEqual([slow.responseTimeMs]);
    expect(metricOf(emf, "fast", "Healthy")).toEqual([1]);
  });

  it("slow and wrong: down for the status alone, the slowness a warning beside it", async () => {
    const { result, error, emf } = await runWithMetrics([{ name: "slow-fail", url: `${base}/slow-fail`, conditions: { responseTimeMs: 100 } }]);
    expect(result.results[0]).toMatchObject({ healthy: false, status: 503, failures: ["status 503 != 200"] });
    expect(result.results[0].warnings).toEqual([expect.stringMatching(/^response time \d+ ms > 100 ms$/)]);
    expect(error?.message).toBe("health-check failed: 1 of 1 endpoints unhealthy: slow-fail (status 503 != 200)");
    expect(metricOf(emf, "slow-fail", "Healthy")).toEqual([0]);
  });

  it("a timeout is down: no answer at all", async () => {
    const { results } = await check([{ url: `${base}/slow`, timeoutMs: 150, conditions: { responseTimeMs: 100 } }]);
    expect(results[0]).toMatchObject({ healthy: false, status: null, responseTimeMs: null, failures: ["timed out after 150 ms waiting for the response"], warnings: [] });
  });

  it("the command line exits 0 for a slow endpoint, with the warning in the result and no error line", async () => {
    const tsx = path.resolve(__dirname, "..", "node_modules", ".bin", "tsx");
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(tsx, ["tasks/cli.ts", "health-check", "--url", `${base}/slow`, "--max-response-ms", "100"], { cwd: path.resolve(__dirname, "..") }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
      ),
    );
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as HealthCheckResult;
    expect(result.results[0]).toMatchObject({ healthy: true, failures: [] });
    expect(result.results[0].warnings).toEqual([expect.stringMatching(/^response time \d+ ms > 100 ms$/)]);
    expect(run.stderr).not.toMatch(/^error:/m);
    expect(run.stderr).toContain("endpoint degraded");
  });
});

describe("certificate days left are the chain's earliest expiry", () => {
  const intermediate = { subject: "Test Intermediate CA", role: "intermediate" };

  it("leaf valid 300 days behind an intermediate expiring in 3: days left 3, the intermediate named, still available", async () => {
    const { result, error, emf } = await runWithMetrics([{ name: "chain", url: tlsUrl["leaf+intermediate"], ca: root.cert, conditions: { certificateDaysLeft: 14 } }]);
    expect(error).toBeUndefined();
    const r = result.results[0];
    expect(r).toMatchObject({ healthy: true, status: 200, certificateDaysLeft: 3, certificateExpiresFirst: intermediate, failures: [] });
    expect(r.warnings).toEqual(['certificate days left 3 < 14: intermediate "Test Intermediate CA" expires first']);
    expect(Date.parse(r.certificateExpiresFirst!.notAfter) - Date.now()).toBeLessThan(3 * DAY);
    // The certificate alarm reads CertificateDaysLeft; the down alarm's Healthy stays 1.
    expect(metricOf(emf, "chain", "CertificateDaysLeft")).toEqual([3]);
    expect(metricOf(emf, "chain", "Healthy")).toEqual([1]);
  });

  it("the same chain sent in another order (leaf, root, intermediate or leaf, intermediate, root) gives the same answer", async () => {
    const { results } = await check([
      { name: "root-in-the-middle", url: tlsUrl["leaf+root+intermediate"], ca: root.cert, conditions: { certificateDaysLeft: 14 } },
      { name: "root-last", url: tlsUrl["leaf+intermediate+root"], ca: root.cert, conditions: { certificateDaysLeft: 14 } },
    ]);
    for (const r of results) expect(r).toMatchObject({ healthy: true, certificateDaysLeft: 3, certificateExpiresFirst: intermediate, failures: [] });
  });

  it("without a minimum the days are still reported, and without trust (no ca) the endpoint is down yet the days are right", async () => {
    const { results } = await check([
      { name: "no-minimum", url: tlsUrl["leaf+intermediate"], ca: root.cert },
      { name: "untrusted", url: tlsUrl["leaf+intermediate"], conditions: { certificateDaysLeft: 14 } },
    ]);
    expect(results[0]).toMatchObject({ healthy: true, certificateDaysLeft: 3, certificateExpiresFirst: intermediate, warnings: [] });
    expect(results[1]).toMatchObject({ healthy: false, status: null, certificateDaysLeft: 3, certificateExpiresFirst: intermediate });
    expect(results[1].failures).toEqual(['certificate not trusted: UNABLE_TO_GET_ISSUER_CERT_LOCALLY (no request sent; "insecure": true accepts it)']);
  });

  it("an expired intermediate: negative days naming it, and untrusted (down) because clients refuse the chain", async () => {
    const { results } = await check([
      { name: "expired-int", url: tlsUrl["expired intermediate"], ca: root.cert, conditions: { certificateDaysLeft: 14 } },
      { name: "expired-int-insecure", url: tlsUrl["expired intermediate"], insecure: true, conditions: { certificateDaysLeft: 14 } },
    ]);
    expect(results[0]).toMatchObject({ healthy: false, status: null, certificateDaysLeft: -2, certificateExpiresFirst: { subject: "Expired Intermediate CA", role: "intermediate" } });
    expect(results[0].failures).toEqual(['certificate not trusted: CERT_HAS_EXPIRED (no request sent; "insecure": true accepts it)']);
    expect(results[0].warnings).toEqual(['certificate expired 2 days ago (days left -2 < 14): intermediate "Expired Intermediate CA" expires first']);
    // insecure: the request goes out, the expiry stays a warning
    expect(results[1]).toMatchObject({ healthy: true, status: 200, certificateDaysLeft: -2, failures: [] });
  });

  it("when the leaf expires first it is the one named", async () => {
    const { results } = await check([{ name: "leaf-soon", url: tlsUrl["leaf first to expire"], ca: root.cert, conditions: { certificateDaysLeft: 14 } }]);
    expect(results[0]).toMatchObject({ healthy: true, certificateDaysLeft: 9, certificateExpiresFirst: { subject: "127.0.0.1", role: "leaf" } });
    expect(results[0].warnings).toEqual(['certificate days left 9 < 14: leaf "127.0.0.1" expires first']);
  });

  it("a private root expiring in 10 days anchors the chain: it counts, named as the root", async () => {
    const { results } = await check([{ name: "short-root", url: tlsUrl["short root"], ca: rootShort.cert, conditions: { certificateDaysLeft: 14 } }]);
    expect(results[0]).toMatchObject({ healthy: true, certificateDaysLeft: 10, certificateExpiresFirst: { subject: "Short Root CA", role: "root" } });
  });
});

describe("CertificateDaysLeft is sampled: a healthy value once per UTC day, a breaching one every run", () => {
  afterEach(() => vi.useRealTimers());

  /** Runs the task as its Lambda does every minute (SCHEDULE_INTERVAL_SECONDS 60) with the clock at `at`; the EMF lines and the log lines it wrote. */
  async function runAt(at: number, endpoints: EndpointInput[]): Promise<EmfLine[]> {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(at);
    try {
      return await captureEmf(() => runTask(healthCheckTask, { ENDPOINTS: JSON.stringify(endpoints), SCHEDULE_INTERVAL_SECONDS: "60", LOG_LEVEL: "ERROR" }));
    } finally {
      vi.useRealTimers();
    }
  }

  it("over a day and the next morning: the certificate with 10 days left against a minimum of 7 is sent at the first run of each day; the one with 3 left against 14 at every run; Healthy every run", async () => {
    const midnight = Math.floor(Date.now() / DAY) * DAY;
    const endpoints: EndpointInput[] = [
      { name: "ok-cert", url: tlsUrl["short root"], ca: rootShort.cert, conditions: { certificateDaysLeft: 7 } },
      { name: "expiring", url: tlsUrl["leaf+intermediate"], ca: root.cert, conditions: { certificateDaysLeft: 14 } },
    ];
    const sent: string[] = [];
    // The first run of the day (00:00:20), the next minute's, one at noon, and the first of the next day.
    for (const at of [midnight + 20_000, midnight + 80_000, midnight + 12 * 3_600_000 + 20_000, midnight + DAY + 20_000]) {
      const emf = await runAt(at, endpoints);
      const hhmm = `${at >= midnight + DAY ? "+1d " : ""}${new Date(at).toISOString().slice(11, 16)}`;
      for (const name of ["ok-cert", "expiring"]) {
        sent.push(`${hhmm} ${name} Healthy ${metricOf(emf, name, "Healthy").length} CertificateDaysLeft ${metricOf(emf, name, "CertificateDaysLeft").length}`);
      }
    }
    expect(sent).toEqual([
      "00:00 ok-cert Healthy 1 CertificateDaysLeft 1",
      "00:00 expiring Healthy 1 CertificateDaysLeft 1",
      "00:01 ok-cert Healthy 1 CertificateDaysLeft 0",
      "00:01 expiring Healthy 1 CertificateDaysLeft 1",
      "12:00 ok-cert Healthy 1 CertificateDaysLeft 0",
      "12:00 expiring Healthy 1 CertificateDaysLeft 1",
      "+1d 00:00 ok-cert Healthy 1 CertificateDaysLeft 1",
      "+1d 00:00 expiring Healthy 1 CertificateDaysLeft 1",
    ]);
  });

  it("run by hand (no SCHEDULE_INTERVAL_SECONDS): every run sends it", async () => {
    const { emf } = await runWithMetrics([{ name: "ok-cert", url: tlsUrl["short root"], ca: rootShort.cert, conditions: { certificateDaysLeft: 7 } }]);
    expect(metricOf(emf, "ok-cert", "CertificateDaysLeft")).toEqual([10]);
  });
});
