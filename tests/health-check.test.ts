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
import { healthCheckTask } from "../tasks/health-check";
import { checkAll, type HealthCheckResult } from "../tasks/health-check/check";
import { healthCheckCli } from "../tasks/health-check/cli";
import { healthCheckSettings, type EndpointInput } from "../tasks/health-check/settings";
import { parseSettings, runTask, TaskError } from "../tasks/lib/runtime";
import { captureEmf } from "./helpers/emf";
import { setSdkEnv, startSecretsManager, type SecretsManagerStandIn } from "./helpers/secrets-manager";

const HUGE_BYTES = 50 * 1024 * 1024;
const TOKEN = "s3cr3t-token-value";
const secureSeen: { authorization?: string; agent?: string; extra?: string | string[] }[] = [];
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
    case "/secure":
      // BigShot's detailed health: 401 without the bearer token.
      secureSeen.push({ authorization: req.headers.authorization, agent: req.headers["user-agent"], extra: req.headers["x-extra"] });
      res.statusCode = req.headers.authorization === `Bearer ${TOKEN}` ? 200 : 401;
      res.end(res.statusCode === 200 ? '{"status":"ok"}' : "unauthorized");
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
      warnings: [],
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

  it("reads at most MAX_BODY_BYTES (2 MiB) of a 50 MB body and closes the connection", async () => {
    hugeWritten = 0;
    const { results } = await check([{ url: `${base}/huge`, conditions: { bodyContains: "y" } }]);
    expect(results[0]).toMatchObject({ status: 200, healthy: false, failures: [`body (first 2097152 bytes: MAX_BODY_BYTES reached) does not contain "y"`] });
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
  it("an expired certificate is untrusted (down) and reported with its days left, trusted through ca", async () => {
    const { results } = await check([{ name: "expired", url: expired.url, ca: expired.ca, conditions: { certificateDaysLeft: 14 } }]);
    expect(results[0]).toMatchObject({ healthy: false, status: null, certificateDaysLeft: -3 });
    // Down because no client can connect; the days are the certificate signal, reported apart.
    expect(results[0].failures).toEqual(['certificate not trusted: CERT_HAS_EXPIRED (no request sent; "insecure": true accepts it)']);
    expect(results[0].warnings).toEqual(['certificate expired 3 days ago (days left -3 < 14): leaf "127.0.0.1"']);
  });

  it("insecure accepts the expired certificate for the request: available, the days left a warning", async () => {
    const { results } = await check([{ url: expired.url, insecure: true, conditions: { certificateDaysLeft: 14 } }]);
    expect(results[0]).toMatchObject({ healthy: true, status: 200, certificateDaysLeft: -3, failures: [], warnings: ['certificate expired 3 days ago (days left -3 < 14): leaf "127.0.0.1"'] });
  });

  it("a certificate expiring in 5 days is a warning under a 14-day minimum and nothing under a 3-day one; both stay available", async () => {
    const { results } = await check([
      { name: "strict", url: soon.url, ca: soon.ca, conditions: { certificateDaysLeft: 14 } },
      { name: "lenient", url: soon.url, ca: soon.ca, conditions: { certificateDaysLeft: 3, jsonField: { path: "status", equals: "ok" } } },
    ]);
    expect(results[0]).toMatchObject({ healthy: true, status: 200, certificateDaysLeft: 5, failures: [], warnings: ['certificate days left 5 < 14: leaf "127.0.0.1"'] });
    expect(results[0].certificateExpiresFirst).toMatchObject({ subject: "127.0.0.1", role: "leaf" });
    expect(results[1]).toMatchObject({ healthy: true, status: 200, certificateDaysLeft: 5, failures: [], warnings: [] });
  });

  it("a self-signed certificate without ca is untrusted: no request is sent", async () => {
    const { results } = await check([{ url: soon.url }]);
    expect(results[0]).toMatchObject({ healthy: false, status: null, certificateDaysLeft: 5 });
    expect(results[0].failures).toEqual(['certificate not trusted: DEPTH_ZERO_SELF_SIGNED_CERT (no request sent; "insecure": true accepts it)']);
  });
});

describe("the task", () => {
  it("fails when an endpoint is unavailable (not when a certificate expires soon) and emits EMF metrics per endpoint", async () => {
    let error: unknown;
    const emf = await captureEmf(() =>
      runTask(healthCheckTask, {
        ENDPOINTS: JSON.stringify([
          { name: "api", url: `${base}/ok` },
          { name: "tls", url: soon.url, ca: soon.ca, conditions: { certificateDaysLeft: 14 } },
          { name: "broken", url: `${base}/fail` },
        ]),
        POWERTOOLS_DEV: "false",
      }).catch((err: unknown) => {
        error = err;
      }),
    );
    expect(error).toBeInstanceOf(TaskError);
    const result = (error as TaskError).result as HealthCheckResult;
    expect(result.results.map((r) => [r.name, r.healthy])).toEqual([
      ["api", true],
      ["tls", true],
      ["broken", false],
    ]);
    expect((error as TaskError).message).toBe("health-check failed: 1 of 3 endpoints unhealthy: broken (status 500 != 200)");
    const perEndpoint = emf
      .filter((m) => m.Endpoint !== undefined)
      .map((m) => {
        const metric = m._aws.CloudWatchMetrics[0].Metrics[0].Name;
        return [m.Endpoint, metric, metric === "ResponseTime" ? "ms" : m[metric]];
      });
    // Healthy for every endpoint (the down alarm reads it); ResponseTime and CertificateDaysLeft only
    // where the endpoint has the condition its slow or certificate alarm watches.
    expect(perEndpoint).toEqual([
      ["api", "Healthy", 1],
      ["tls", "Healthy", 1],
      ["tls", "CertificateDaysLeft", 5],
      ["broken", "Healthy", 0],
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

/** `npm run task -- health-check ARGS` as a child process, with extra environment variables. */
const cli = (args: string[], env: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const tsx = path.resolve(__dirname, "..", "node_modules", ".bin", "tsx");
    execFile(tsx, ["tasks/cli.ts", "health-check", ...args], { cwd: path.resolve(__dirname, ".."), env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
const lastLine = (s: string) => JSON.parse(s.trim().split("\n").at(-1)!);

describe("request headers", () => {
  it("inline headers reach the server: 200 with the bearer token, 401 without", async () => {
    secureSeen.length = 0;
    const { results } = await check([
      { name: "with", url: `${base}/secure`, headers: { Authorization: `Bearer ${TOKEN}`, "User-Agent": "bigshot-probe" } },
      { name: "without", url: `${base}/secure` },
    ]);
    expect(results.map((r) => [r.name, r.status, r.healthy])).toEqual([
      ["with", 200, true],
      ["without", 401, false],
    ]);
    expect(results[1].failures).toEqual(["status 401 != 200"]);
    expect(secureSeen).toContainEqual({ authorization: `Bearer ${TOKEN}`, agent: "bigshot-probe", extra: undefined });
    expect(secureSeen).toContainEqual({ authorization: undefined, agent: "maintenance-regime-health-check", extra: undefined });
    // Header values are never part of the result.
    expect(JSON.stringify(results)).not.toContain(TOKEN);
  });

  it("--header is repeatable and applies to every --url; the command line exits 0 with it and 1 without", async () => {
    const env = healthCheckCli({ url: [`${base}/secure`, `${base}/ok`], header: [`Authorization: Bearer ${TOKEN}`, "X-Extra:  two words "] });
    expect(JSON.parse(env.ENDPOINTS).map((e: { headers: unknown }) => e.headers)).toEqual([
      { Authorization: `Bearer ${TOKEN}`, "X-Extra": "two words" },
      { Authorization: `Bearer ${TOKEN}`, "X-Extra": "two words" },
    ]);
    const [withHeader, without] = await Promise.all([
      cli(["--url", `${base}/secure`, "--header", `Authorization: Bearer ${TOKEN}`]),
      cli(["--url", `${base}/secure`, "--header", "Authorization: Bearer wrong"]),
    ]);
    expect(withHeader.code).toBe(0);
    expect(lastLine(withHeader.stdout).results[0]).toMatchObject({ url: `${base}/secure`, healthy: true, status: 200 });
    expect(without.code).toBe(1);
    expect(lastLine(without.stdout).results[0]).toMatchObject({ healthy: false, status: 401, failures: ["status 401 != 200"] });
    expect(withHeader.stdout + withHeader.stderr).not.toContain(TOKEN);
  });

  it("bad headers are refused with the key and never their value", () => {
    const bad = (headers: Record<string, unknown>, extra: Record<string, string> = {}) => {
      try {
        parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify([{ url: `${base}/secure`, headers }]), ...extra });
        return "accepted";
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(bad({ "X-Token": `${TOKEN}\r\nX-Injected: 1` })).toBe("invalid setting ENDPOINTS[0].headers.X-Token: header X-Token: value must not contain CR or LF");
    expect(bad({ "X-Token": `${TOKEN}\n` })).toBe("invalid setting ENDPOINTS[0].headers.X-Token: header X-Token: value must not contain CR or LF");
    expect(bad({ "X-Token": `a\u0000b` })).toBe("invalid setting ENDPOINTS[0].headers.X-Token: header X-Token: value must not contain control or non-Latin-1 characters");
    expect(bad({ "Bad Name": "x" })).toBe('invalid setting ENDPOINTS[0].headers.Bad Name: header name "Bad Name" is not a valid HTTP field name');
    expect(bad({ Host: "other.example" })).toBe("invalid setting ENDPOINTS[0].headers.Host: header Host is set by the check and cannot be given");
    expect(bad({ "x-a": "1", "X-A": "2" })).toBe("invalid setting ENDPOINTS[0].headers.X-A: header X-A is given twice (names are case-insensitive)");
    expect(bad({ "X-Num": 5 })).toBe("invalid setting ENDPOINTS[0].headers.X-Num: header values must be strings");
    // In Lambda the environment is no place for header values.
    expect(bad({ Authorization: `Bearer ${TOKEN}` }, { AWS_LAMBDA_FUNCTION_NAME: "shop-health-task" })).toBe(
      "invalid setting ENDPOINTS[0].headers: header values in an environment variable are refused in Lambda; use headersSecretArn",
    );
    expect(bad({ Authorization: `Bearer ${TOKEN}` })).toBe("accepted");
    expect(() => parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify([{ url: `${base}/secure`, headersSecretArn: "secret-name" }]) })).toThrow(
      "invalid setting ENDPOINTS[0].headersSecretArn: must be the ARN of a Secrets Manager secret",
    );

    expect(() => healthCheckCli({ url: [`${base}/secure`], header: ["Authorization Bearer x"] })).toThrow('--header: must be "Name: value"');
    expect(() => healthCheckCli({ url: [`${base}/secure`], header: [`X-Token: ${TOKEN}\r\nX-Injected: 1`] })).toThrow(/^--header: header X-Token: value must not contain CR or LF$/);
    expect(() => healthCheckCli({ url: [`${base}/secure`], header: ["Connection: keep-alive"] })).toThrow("--header: header Connection is set by the check and cannot be given");
    expect(() => healthCheckCli({ url: [`${base}/secure`], "headers-secret-arn": ["my-secret"] })).toThrow('--headers-secret-arn: must be the ARN of a Secrets Manager secret, got "my-secret"');
  });
});

/**
 * headersSecretArn against a Secrets Manager stand-in on 127.0.0.1 speaking the service's JSON
 * protocol; the SDK is pointed at it with AWS_ENDPOINT_URL_SECRETS_MANAGER, as a user would point it
 * at LocalStack.
 */
describe("headers from Secrets Manager", () => {
  const ARN = (region: string, name: string) => `arn:aws:secretsmanager:${region}:123456789012:secret:${name}`;
  const OK = ARN("us-east-1", "bigshot/health-AbCdEf");
  const OK_EU = ARN("eu-west-1", "bigshot/health-eu-GhIjKl");
  const NOT_JSON = ARN("us-east-1", "plain-text-MnOpQr");
  const CRLF = ARN("us-east-1", "crlf-StUvWx");
  const ARRAY = ARN("us-east-1", "array-YzAbCd");
  const MISSING = ARN("us-east-1", "missing-EfGhIj");
  const SECRETS: Record<string, string> = {
    [OK]: JSON.stringify({ Authorization: `Bearer ${TOKEN}`, "X-Extra": "from-secret" }),
    [OK_EU]: JSON.stringify({ Authorization: `Bearer ${TOKEN}` }),
    [NOT_JSON]: `Bearer ${TOKEN}`,
    [CRLF]: JSON.stringify({ Authorization: `Bearer ${TOKEN}\r\nX-Injected: 1` }),
    [ARRAY]: JSON.stringify([`Bearer ${TOKEN}`]),
  };
  let sm: SecretsManagerStandIn;
  let restoreEnv: () => void = () => undefined;
  const callsFor = (arn: string) => sm.calls.filter((c) => c.secretId === arn).length;
  const SDK_ENV = (): Record<string, string> => ({
    AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url,
    AWS_ACCESS_KEY_ID: "AKIDTESTHEALTHCHECK",
    AWS_SECRET_ACCESS_KEY: "test-secret-access-key",
    AWS_REGION: "us-east-1",
  });

  beforeAll(async () => {
    sm = await startSecretsManager(SECRETS);
    restoreEnv = setSdkEnv(SDK_ENV());
  });
  afterAll(async () => {
    restoreEnv();
    await sm?.close();
  });

  const runInLambda = async (endpoints: EndpointInput[]) => {
    try {
      return await runTask(healthCheckTask, { ENDPOINTS: JSON.stringify(endpoints), AWS_LAMBDA_FUNCTION_NAME: "bigshot-health-task", POWERTOOLS_DEV: "true" });
    } catch (err) {
      expect(err).toBeInstanceOf(TaskError);
      return (err as TaskError).result as HealthCheckResult;
    }
  };

  it("reads each secret once per process, sends its headers, and reports unreadable secrets without their text", async () => {
    secureSeen.length = 0;
    const endpoints: EndpointInput[] = [
      { name: "detailed", url: `${base}/secure`, headersSecretArn: OK },
      { name: "detailed-again", url: `${base}/secure`, headersSecretArn: OK },
      { name: "eu", url: `${base}/secure`, headersSecretArn: OK_EU },
      { name: "not-json", url: `${base}/secure`, headersSecretArn: NOT_JSON },
      { name: "crlf", url: `${base}/secure`, headersSecretArn: CRLF },
      { name: "array", url: `${base}/secure`, headersSecretArn: ARRAY },
      { name: "missing", url: `${base}/secure`, headersSecretArn: MISSING },
      { name: "public", url: `${base}/ok` },
    ];
    const first = await runInLambda(endpoints);
    const second = await runInLambda(endpoints);
    for (const run of [first, second]) {
      expect(run.results.map((r) => [r.name, r.healthy, r.status])).toEqual([
        ["detailed", true, 200],
        ["detailed-again", true, 200],
        ["eu", true, 200],
        ["not-json", false, null],
        ["crlf", false, null],
        ["array", false, null],
        ["missing", false, null],
        ["public", true, 200],
      ]);
      expect(run.results.find((r) => r.name === "not-json")!.failures).toEqual([
        `headers secret ${NOT_JSON}: SecretString is not JSON; it must be an object of header name to value, like {"Authorization": "Bearer ..."} (no request sent)`,
      ]);
      expect(run.results.find((r) => r.name === "crlf")!.failures).toEqual([`headers secret ${CRLF}: header Authorization: value must not contain CR or LF (no request sent)`]);
      expect(run.results.find((r) => r.name === "array")!.failures).toEqual([
        `headers secret ${ARRAY}: SecretString must be a JSON object of header name to value, like {"Authorization": "Bearer ..."} (no request sent)`,
      ]);
      expect(run.results.find((r) => r.name === "missing")!.failures).toEqual([
        `headers secret ${MISSING}: GetSecretValue failed: ResourceNotFoundException: Secrets Manager can't find the specified secret. (no request sent)`,
      ]);
      expect(JSON.stringify(run)).not.toContain(TOKEN);
    }
    // A good secret is kept for the life of the process (a Lambda cold start), shared by the
    // endpoints naming it; an unreadable or malformed one is read again next run, so a fix applies.
    expect([OK, OK_EU].map(callsFor)).toEqual([1, 1]);
    expect([NOT_JSON, CRLF, ARRAY, MISSING].map(callsFor)).toEqual([2, 2, 2, 2]);
    expect(sm.calls.every((c) => c.target === "secretsmanager.GetSecretValue")).toBe(true);
    // Signed for the secret's own region, taken from its ARN.
    expect(sm.calls.find((c) => c.secretId === OK)!.scope).toBe("us-east-1/secretsmanager");
    expect(sm.calls.find((c) => c.secretId === OK_EU)!.scope).toBe("eu-west-1/secretsmanager");
    // Only the three good endpoints reached the server in each run, each with the secret's headers.
    expect(secureSeen).toHaveLength(6);
    expect(secureSeen.filter((s) => s.extra === "from-secret")).toHaveLength(4);
    expect(secureSeen.every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it("the secret's headers win over inline ones of the same name", async () => {
    secureSeen.length = 0;
    const { results } = await check([{ url: `${base}/secure`, headersSecretArn: OK, headers: { authorization: "Bearer wrong", "X-Local": "1" } }]);
    expect(results[0]).toMatchObject({ healthy: true, status: 200 });
    expect(secureSeen).toEqual([{ authorization: `Bearer ${TOKEN}`, agent: "maintenance-regime-health-check", extra: "from-secret" }]);
  });

  it("--headers-secret-arn on the command line reads the same secret the function does", async () => {
    const [ok, missing] = await Promise.all([
      cli(["--url", `${base}/secure`, "--headers-secret-arn", OK], SDK_ENV()),
      cli(["--url", `${base}/secure`, "--headers-secret-arn", MISSING], SDK_ENV()),
    ]);
    expect(ok.code).toBe(0);
    expect(lastLine(ok.stdout).results[0]).toMatchObject({ healthy: true, status: 200 });
    expect(missing.code).toBe(1);
    expect(lastLine(missing.stdout).results[0].failures[0]).toMatch(/^headers secret .*: GetSecretValue failed: ResourceNotFoundException/);
    expect(ok.stdout + ok.stderr + missing.stdout + missing.stderr).not.toContain(TOKEN);
  });

  it("the bundled Lambda handler reads the secret through the bundled SDK", async () => {
    const { bundleTask } = await import("../build/bundle");
    const bundle = await bundleTask("health-check");
    const fnDir = mkdtempSync(path.join(dir, "fn-"));
    writeFileSync(path.join(fnDir, "index.js"), bundle.code);
    const script = `require("./index.js").handler().then(
      (r) => process.stdout.write("\\nRESULT " + JSON.stringify(r) + "\\n"),
      (e) => { process.stdout.write("\\nERROR " + JSON.stringify({ message: e.message, result: e.result }) + "\\n"); process.exitCode = 1; });`;
    const env = {
      PATH: process.env.PATH ?? "",
      ...SDK_ENV(),
      AWS_LAMBDA_FUNCTION_NAME: "bigshot-health-task",
      REGIME_NAME: "bigshot",
      ENDPOINTS: JSON.stringify([{ name: "detailed", url: `${base}/secure`, headersSecretArn: OK }]),
    };
    const line = await new Promise<string>((resolve) =>
      execFile(process.execPath, ["-e", script], { cwd: fnDir, env }, (_err, stdout) => resolve(stdout.split("\n").find((l) => /^(RESULT|ERROR) /.test(l)) ?? stdout)),
    );
    expect(line.startsWith("RESULT "), line).toBe(true);
    expect(JSON.parse(line.slice(7)).results[0]).toMatchObject({ name: "detailed", healthy: true, status: 200 });
  });
});
