/**
 * The health-check task against servers started here on 127.0.0.1: plain HTTP endpoints (ok, 500,
 * never answering, a 50 MB body, JSON and text bodies) and HTTPS servers with self-signed
 * certificates made by the openssl command line (one expired three days ago, one expiring in five
 * days). The command line runs once as a child process.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkAll, healthCheckCli, healthCheckSettings, healthCheckTask, type EndpointInput, type HealthCheckResult } from "../tasks/health-check";
import { parseSettings, runTask, TaskError } from "../tasks/lib/runtime";

const HUGE_BYTES = 50 * 1024 * 1024;
let base = "";
let hugeWritten = 0;
let hugeClosedEarly = false;
const hanging = new Set<http.ServerResponse>();
const servers: (http.Server | https.Server)[] = [];
let dir = "";
let expired: { url: string; ca: string };
let soon: { url: string; ca: string };

function listen(server: http.Server | https.Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  switch (req.url) {
    case "/ok":
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ status: "ok", checks: { db: { state: "up" } }, items: [{ id: 7 }] }));
      return;
    case "/down":
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ status: "degraded", checks: { db: { state: "down" } } }));
      return;
    case "/fail":
      res.statusCode = 500;
      res.end("internal error");
      return;
    case "/text":
      res.end("service is alive and well");
      return;
    case "/hang":
      hanging.add(res); // never answers
      return;
    case "/huge": {
      // 50 MB streamed with back-pressure: how much leaves the server shows how much the client took.
      res.setHeader("content-length", String(HUGE_BYTES));
      const chunk = Buffer.alloc(64 * 1024, "x");
      const pump = () => {
        while (hugeWritten < HUGE_BYTES && !res.destroyed) {
          hugeWritten += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        if (!res.destroyed) res.end();
      };
      res.on("close", () => {
        hugeClosedEarly = hugeWritten < HUGE_BYTES || !res.writableFinished;
      });
      pump();
      return;
    }
    default:
      res.statusCode = 404;
      res.end();
  }
}

/** Self-signed certificate for 127.0.0.1 valid from `start` to `end` (openssl ca -selfsign sets exact dates). */
function certificate(name: string, start: Date, end: Date): { key: string; cert: string } {
  const d = path.join(dir, name);
  execFileSync("mkdir", ["-p", path.join(d, "db")]);
  writeFileSync(path.join(d, "db", "index.txt"), "");
  writeFileSync(path.join(d, "db", "serial"), "01\n");
  writeFileSync(
    path.join(d, "ca.cnf"),
    ["[ca]", "default_ca = c", "[c]", "database = db/index.txt", "new_certs_dir = db", "serial = db/serial", "default_md = sha256", "policy = p", "copy_extensions = copy", "unique_subject = no", "[p]", "commonName = supplied", ""].join("\n"),
  );
  const asn1 = (t: Date) => t.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: d, stdio: "pipe" });
  run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-out", "req.csr"]);
  run(["ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "key.pem", "-in", "req.csr", "-startdate", asn1(start), "-enddate", asn1(end), "-out", "cert.pem"]);
  return { key: readFileSync(path.join(d, "key.pem"), "utf8"), cert: readFileSync(path.join(d, "cert.pem"), "utf8") };
}

async function tlsServer(name: string, start: Date, end: Date): Promise<{ url: string; ca: string }> {
  const { key, cert } = certificate(name, start, end);
  const port = await listen(https.createServer({ key, cert }, route));
  return { url: `https://127.0.0.1:${port}/ok`, ca: cert };
}

const DAY = 86_400_000;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "health-check-"));
  base = `http://127.0.0.1:${await listen(http.createServer(route))}`;
  const now = Date.now();
  expired = await tlsServer("expired", new Date(now - 30 * DAY), new Date(now - 3 * DAY));
  soon = await tlsServer("soon", new Date(now - DAY), new Date(now + 5 * DAY));
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
  rmSync(dir, { recursive: true, force: true });
});

const settingsOf = (endpoints: EndpointInput[], extra: Record<string, string> = {}) => parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify(endpoints), ...extra });
const check = (endpoints: EndpointInput[]) => checkAll(settingsOf(endpoints), new AbortController().signal);

describe("HTTP conditions", () => {
  it("a 200 is healthy and a 500 fails the default status condition", async () => {
    const { results } = await check([{ name: "api", url: `${base}/ok` }, { url: `${base}/fail` }]);
    expect(results[0]).toMatchObject({ name: "api", url: `${base}/ok`, healthy: true, status: 200, failures: [] });
    expect(results[0].responseTimeMs).toBeGreaterThanOrEqual(0);
    expect(results[0].responseTimeMs).toBeLessThan(1000);
    expect(results[0]).not.toHaveProperty("certificateDaysLeft");
    expect(results[1]).toMatchObject({ name: `${base}/fail`, healthy: false, status: 500, failures: ["status 500 != 200"] });
  });

  it("status lists and ranges", async () => {
    const { results } = await check([
      { name: "list", url: `${base}/fail`, conditions: { status: [200, "5xx"] } },
      { name: "range", url: `${base}/fail`, conditions: { status: "200-299" } },
      { url: `${base}/missing`, conditions: { status: [200, 204] } },
    ]);
    expect(results.map((r) => r.failures)).toEqual([[], ["status 500 != 200-299"], ["status 404 not in [200, 204]"]]);
  });

  it("a server that never answers times out within the timeout and a little slack", async () => {
    const started = Date.now();
    const { results } = await check([{ url: `${base}/hang`, timeoutMs: 400 }]);
    const elapsed = Date.now() - started;
    expect(results[0]).toEqual({
      name: `${base}/hang`,
      url: `${base}/hang`,
      healthy: false,
      status: null,
      responseTimeMs: null,
      failures: ["timed out after 400 ms waiting for the response"],
    });
    expect(elapsed).toBeGreaterThanOrEqual(395);
    expect(elapsed).toBeLessThan(400 + 250);
  });

  it("a refused connection is unhealthy with the reason", async () => {
    const closed = http.createServer();
    const port = await new Promise<number>((r) => closed.listen(0, "127.0.0.1", () => r((closed.address() as AddressInfo).port)));
    await new Promise((r) => closed.close(r));
    const { results } = await check([{ url: `http://127.0.0.1:${port}/` }]);
    expect(results[0].healthy).toBe(false);
    expect(results[0].failures).toEqual([`connection failed: connect ECONNREFUSED 127.0.0.1:${port}`]);
  });

  it("reads at most 64 KiB of a 50 MB body and closes the connection", async () => {
    hugeWritten = 0;
    const { results } = await check([{ url: `${base}/huge`, conditions: { bodyContains: "y" } }]);
    expect(results[0]).toMatchObject({ status: 200, healthy: false, failures: [`body (first 65536 bytes) does not contain "y"`] });
    // The server stops when the client has gone: what it wrote is the socket buffers, not the 50 MB.
    await new Promise((r) => setTimeout(r, 100));
    expect(hugeClosedEarly).toBe(true);
    expect(hugeWritten).toBeLessThan(HUGE_BYTES / 5);
  });

  it("bodyContains and jsonField", async () => {
    const { results } = await check([
      { name: "c0", url: `${base}/text`, conditions: { bodyContains: "alive" } },
      { name: "c1", url: `${base}/text`, conditions: { bodyContains: "dead" } },
      { name: "c2", url: `${base}/ok`, conditions: { jsonField: { path: "status", equals: "ok" } } },
      { name: "c3", url: `${base}/ok`, conditions: { jsonField: { path: "items.0.id", equals: 7 } } },
      { name: "c4", url: `${base}/down`, conditions: { jsonField: { path: "checks.db.state", equals: "up" } } },
      { name: "c5", url: `${base}/ok`, conditions: { jsonField: { path: "checks.cache", equals: "up" } } },
      { name: "c6", url: `${base}/text`, conditions: { jsonField: { path: "status", equals: "ok" } } },
    ]);
    expect(results.map((r) => r.failures)).toEqual([
      [],
      [`body does not contain "dead"`],
      [],
      [],
      [`json checks.db.state "down" != "up"`],
      [`json checks.cache missing (wanted "up")`],
      [`body is not JSON (wanted status == "ok")`],
    ]);
  });

  it("responseTimeMs is a maximum", async () => {
    const { results } = await check([{ url: `${base}/ok`, conditions: { responseTimeMs: 5000 } }, { url: `${base}/hang`, timeoutMs: 300, conditions: { responseTimeMs: 100 } }]);
    expect(results[0].healthy).toBe(true);
    expect(results[1].failures).toEqual(["timed out after 300 ms waiting for the response"]);
  });
});

describe("certificates", () => {
  it("an expired self-signed certificate is reported with its days left, trusted through ca", async () => {
    const { results } = await check([{ name: "expired", url: expired.url, ca: expired.ca, conditions: { certificateDaysLeft: 14 } }]);
    expect(results[0]).toMatchObject({ healthy: false, status: null, certificateDaysLeft: -3 });
    expect(results[0].failures).toEqual([
      "certificate expired 3 days ago (days left -3 < 14)",
      'certificate not trusted: CERT_HAS_EXPIRED (no request sent; "insecure": true accepts it)',
    ]);
  });

  it("insecure accepts the expired certificate for the request but still fails on days left", async () => {
    const { results } = await check([{ url: expired.url, insecure: true, conditions: { certificateDaysLeft: 14 } }]);
    expect(results[0]).toMatchObject({ healthy: false, status: 200, certificateDaysLeft: -3, failures: ["certificate expired 3 days ago (days left -3 < 14)"] });
  });

  it("a certificate expiring in 5 days fails a 14-day minimum and passes a 3-day one", async () => {
    const { results } = await check([
      { name: "strict", url: soon.url, ca: soon.ca, conditions: { certificateDaysLeft: 14 } },
      { name: "lenient", url: soon.url, ca: soon.ca, conditions: { certificateDaysLeft: 3, jsonField: { path: "status", equals: "ok" } } },
    ]);
    expect(results[0]).toMatchObject({ healthy: false, status: 200, certificateDaysLeft: 5, failures: ["certificate days left 5 < 14"] });
    expect(results[1]).toMatchObject({ healthy: true, status: 200, certificateDaysLeft: 5, failures: [] });
  });

  it("a self-signed certificate without ca is untrusted: no request is sent", async () => {
    const { results } = await check([{ url: soon.url }]);
    expect(results[0]).toMatchObject({ healthy: false, status: null, certificateDaysLeft: 5 });
    expect(results[0].failures).toEqual(['certificate not trusted: DEPTH_ZERO_SELF_SIGNED_CERT (no request sent; "insecure": true accepts it)']);
  });
});

describe("the task", () => {
  it("fails when an endpoint is unhealthy and emits EMF metrics per endpoint", async () => {
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(String(chunk));
      return write(chunk, ...(rest as []));
    }) as typeof process.stdout.write;
    let error: unknown;
    try {
      await runTask(healthCheckTask, {
        ENDPOINTS: JSON.stringify([
          { name: "api", url: `${base}/ok` },
          { name: "tls", url: soon.url, ca: soon.ca, conditions: { certificateDaysLeft: 14 } },
        ]),
        POWERTOOLS_DEV: "false",
      });
    } catch (err) {
      error = err;
    } finally {
      process.stdout.write = write;
    }
    expect(error).toBeInstanceOf(TaskError);
    const result = (error as TaskError).result as HealthCheckResult;
    expect(result.results.map((r) => [r.name, r.healthy])).toEqual([
      ["api", true],
      ["tls", false],
    ]);
    const emf = lines
      .flatMap((l) => l.split("\n"))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } });
    const perEndpoint = emf
      .filter((m) => m.Endpoint !== undefined)
      .map((m) => {
        const metric = m._aws.CloudWatchMetrics[0].Metrics[0].Name;
        return [m.Endpoint, metric, metric === "ResponseTime" ? "ms" : m[metric]];
      });
    expect(perEndpoint).toEqual([
      ["api", "Healthy", 1],
      ["api", "ResponseTime", "ms"],
      ["tls", "Healthy", 0],
      ["tls", "ResponseTime", "ms"],
      ["tls", "CertificateDaysLeft", 5],
    ]);
    const dims = emf.find((m) => m.Endpoint === "api")!._aws.CloudWatchMetrics[0].Dimensions[0];
    expect([...dims].sort()).toEqual(["Endpoint", "Task", "service"]);
  });

  it("bad settings name the key", () => {
    const bad = (endpoints: unknown) => {
      try {
        parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify(endpoints) });
        return "accepted";
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(bad([{ url: "ftp://example.com/" }])).toBe("invalid setting ENDPOINTS[0].url: must be an http(s) URL");
    expect(bad([{ url: `${base}/ok` }, { url: `${base}/ok`, timeoutMs: -5 }])).toBe("invalid setting ENDPOINTS[1].timeoutMs: must be > 0");
    expect(bad([{ url: `${base}/ok`, conditions: { certificateDaysLeft: 14 } }])).toBe("invalid setting ENDPOINTS[0].conditions.certificateDaysLeft: needs an https URL");
    expect(bad([{ url: `${base}/ok`, conditions: { statuss: 200 } }])).toBe('invalid setting ENDPOINTS[0].conditions: Unrecognized key: "statuss"');
    expect(bad([])).toBe("invalid setting ENDPOINTS: must list at least one endpoint");
    expect(bad([{ url: `${base}/a` }, { url: `${base}/a` }])).toBe(`invalid setting ENDPOINTS[1].name: duplicate endpoint name "${base}/a"`);
    expect(() => parseSettings(healthCheckSettings, { ENDPOINTS: "[{" })).toThrow("invalid setting ENDPOINTS: must be valid JSON");
    expect(() => parseSettings(healthCheckSettings, { ENDPOINTS: "[]".replace("[]", `[{"url":"${base}/ok"}]`), CONCURRENCY: "0" })).toThrow("invalid setting CONCURRENCY: must be >= 1");
  });

  it("command-line options become ENDPOINTS", () => {
    const env = healthCheckCli({ url: ["https://a.example/health", "http://b.example/"], "timeout-ms": ["2000"], "max-response-ms": ["500"], "min-cert-days": ["14"], insecure: ["true"] });
    expect(JSON.parse(env.ENDPOINTS)).toEqual([
      { url: "https://a.example/health", timeoutMs: 2000, insecure: true, conditions: { status: 200, responseTimeMs: 500, certificateDaysLeft: 14 } },
      { url: "http://b.example/", timeoutMs: 2000, insecure: true, conditions: { status: 200, responseTimeMs: 500 } },
    ]);
    expect(() => healthCheckCli({ url: ["not a url"] })).toThrow('--url: "not a url" must be an http(s) URL');
    expect(() => healthCheckCli({ url: ["http://a/"], "timeout-ms": ["-1"] })).toThrow('--timeout-ms: must be a whole number >= 1, got "-1"');
    expect(() => healthCheckCli({ "timeout-ms": ["5"] })).toThrow("--url: required (repeat it for several endpoints)");
    expect(() => healthCheckCli({ url: ["http://a/"], retries: ["3"] })).toThrow(/^--retries: unknown option/);
  });
});

describe("command line", () => {
  const tsx = path.resolve(__dirname, "..", "node_modules", ".bin", "tsx");
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(tsx, ["tasks/cli.ts", "health-check", ...args], { cwd: path.resolve(__dirname, "..") }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
      });
    });
  const lastLine = (s: string) => JSON.parse(s.trim().split("\n").at(-1)!);

  it("exits 0 when every endpoint is healthy, 1 when one is not, 2 on a bad URL", async () => {
    const [ok, bad, usage] = await Promise.all([
      cli(["--url", `${base}/ok`, "--url", `${base}/text`]),
      cli(["--url", `${base}/ok`, "--url", `${base}/fail`, "--timeout-ms", "2000"]),
      cli(["--url", "localhost:8080"]),
    ]);
    expect(ok.code).toBe(0);
    expect(lastLine(ok.stdout).results.map((r: { url: string; healthy: boolean }) => [r.url, r.healthy])).toEqual([
      [`${base}/ok`, true],
      [`${base}/text`, true],
    ]);
    expect(bad.code).toBe(1);
    expect(lastLine(bad.stdout).results[1]).toMatchObject({ url: `${base}/fail`, healthy: false, status: 500, failures: ["status 500 != 200"] });
    expect(bad.stderr.trim().split("\n").at(-1)).toBe(`error: health-check failed: 1 of 2 endpoints unhealthy: ${base}/fail (status 500 != 200)`);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split("\n").at(-1)).toBe('error: --url: "localhost:8080" must be an http(s) URL');
  });
});
