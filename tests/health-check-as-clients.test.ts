/**
 * The check does what a client does, against servers on 127.0.0.1: it follows redirects as a browser
 * and curl -L do (a loop, too many, or a redirect to an error stay down), speaks HTTP/2 to a server
 * that offers nothing else, reads a JSON document whole up to MAX_BODY_BYTES (one beyond it is
 * reported as too large, not as "not JSON"), judges a status-only check without waiting for a body
 * that never ends, and counts certificate days on the chain a client validates up to its trusted
 * root (an expired cross-signed copy of the root sent beside it plays no part), with openssl-made
 * chains.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { endpointsSetting } from "../components/health-checks";
import { endpointSchema } from "../regime/endpoints";
import { checkAll } from "../tasks/health-check/check";
import { healthCheckCli } from "../tasks/health-check/cli";
import { healthCheckSettings, type EndpointInput } from "../tasks/health-check/settings";
import { parseSettings } from "../tasks/lib/runtime";
import { issue, type Issued } from "./helpers/tls-chain";

const DAY = 86_400_000;
const servers: (http.Server | https.Server | http2.Http2SecureServer | net.Server)[] = [];
const streams = new Set<http.ServerResponse>();
let dir = "";
let base = "";
let other = "";
let h2Url = "";
let crossUrl = "";
let crossExpiredIntUrl = "";
let rootA: Issued;
/** Intermediate-as-anchor servers and certificates (root A -> intermediate I -> leaf). */
const partial: Record<string, string> = {};
let interI: Issued;
let interOther: Issued;
let interExpiredCert = "";
let raw = "";
/** Answers written byte for byte, by path: what curl and browsers accept though node's strict parser does not. */
const RAW: Record<string, string> = {
  "/bare-lf": "HTTP/1.1 200 OK\nContent-Length: 2\nConnection: close\n\nok",
  "/control-char": "HTTP/1.1 200 OK\r\nX-Build: a\x01b\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
  "/garbage": "this is not HTTP\r\n\r\n",
};
const seen: { path: string; method: string; authorization?: string }[] = [];
/** When the server saw the connection of an endless body closed, by path (ms since the epoch). */
const closedAt: Record<string, number> = {};

function listen(server: http.Server | https.Server | http2.Http2SecureServer | net.Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

/** A Spring Boot actuator style health document of `components` disks: about 128 bytes each. */
function healthDocument(components: number): string {
  const c: Record<string, unknown> = {};
  for (let i = 0; i < components; i++) c[`disk-${i}`] = { status: "UP", details: { total: 1e12, free: 5e11, threshold: 10485760, path: `/data/volume/${i}` } };
  return JSON.stringify({ status: "UP", components: c });
}
const BIG_JSON = healthDocument(1500);
const HUGE_JSON = healthDocument(24_000);

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  seen.push({ path: req.url ?? "", method: req.method ?? "", authorization: req.headers.authorization });
  const redirect = (status: number, to: string) => {
    res.writeHead(status, { location: to });
    res.end();
  };
  const url = req.url ?? "";
  const hops = /^\/hops\/(\d+)$/.exec(url);
  if (hops) return Number(hops[1]) > 0 ? redirect(302, `/hops/${Number(hops[1]) - 1}`) : void res.end("ok");
  switch (url) {
    case "/health":
      return redirect(301, "/health/"); // Django APPEND_SLASH
    case "/health/":
      return void res.end("status ok");
    case "/loop-a":
      return redirect(302, "/loop-b");
    case "/loop-b":
      return redirect(302, "/loop-a");
    case "/to-error":
      return redirect(302, "/error");
    case "/error":
      res.writeHead(500);
      return void res.end("internal error");
    case "/away":
      return redirect(302, `${other}/whoami`);
    case "/here":
      return redirect(302, "/whoami");
    case "/whoami":
      return void res.end("ok");
    case "/post":
      return redirect(303, "/method");
    case "/method":
      return void res.end(req.method);
    case "/sse":
    case "/sse-ok": {
      // Server-sent events: 200, then a body that never ends.
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(url === "/sse-ok" ? "data: status ok\n\n" : "data: hello\n\n");
      streams.add(res);
      const t = setInterval(() => res.write("data: tick\n\n"), 100);
      res.on("close", () => (clearInterval(t), (closedAt[url] = Date.now())));
      return;
    }
    case "/sse-gzip": {
      // The same, gzip-coded: each event flushed through the compressor.
      res.writeHead(200, { "content-type": "text/event-stream", "content-encoding": "gzip" });
      const z = zlib.createGzip();
      z.pipe(res);
      z.write("data: hello\n\n");
      z.flush();
      streams.add(res);
      const t = setInterval(() => (z.write("data: tick\n\n"), z.flush()), 100);
      res.on("close", () => (clearInterval(t), (closedAt[url] = Date.now())));
      return;
    }
    case "/trickle": {
      // A JSON document that never completes: a byte every 100 ms.
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"status": "UP", "pad": "');
      streams.add(res);
      const t = setInterval(() => res.write("x"), 100);
      res.on("close", () => (clearInterval(t), (closedAt[url] = Date.now())));
      return;
    }
    case "/flood": {
      // An endless body as fast as the client reads it.
      res.writeHead(200, { "content-type": "text/plain" });
      const chunk = Buffer.alloc(16 * 1024, "x");
      let open = true;
      res.on("close", () => ((open = false), (closedAt[url] = Date.now())));
      const pump = () => {
        while (open && res.write(chunk));
        if (open) res.once("drain", pump);
      };
      pump();
      return;
    }
    case "/big-json":
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(BIG_JSON);
    case "/huge-json":
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(HUGE_JSON);
    default:
      res.writeHead(404);
      res.end();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "health-clients-"));
  base = `http://127.0.0.1:${await listen(http.createServer(route))}`;
  other = `http://127.0.0.1:${await listen(http.createServer(route))}`;

  const now = Date.now();
  const at = (days: number) => new Date(now + days * DAY);
  // Let's Encrypt's old pattern: the trusted root A, and a copy of A cross-signed by an old root B,
  // expired, that the server still sends after the intermediate.
  rootA = issue(path.join(dir, "root-a"), { cn: "Root A", start: at(-400), end: at(3650), ca: true });
  const rootB = issue(path.join(dir, "root-b"), { cn: "Old Root B", start: at(-4000), end: at(3650), ca: true });
  const crossA = issue(path.join(dir, "cross-a"), { cn: "Root A", start: at(-1000), end: at(-700), ca: true, issuer: rootB, key: rootA.key });
  const inter = issue(path.join(dir, "inter"), { cn: "Intermediate I", start: at(-10), end: at(1000), ca: true, issuer: rootA });
  const leaf = issue(path.join(dir, "leaf"), { cn: "127.0.0.1", start: at(-1), end: at(90), ca: false, issuer: inter });
  const interExpired = issue(path.join(dir, "inter-expired"), { cn: "Expired Intermediate", start: at(-400), end: at(-2), ca: true, issuer: rootA });
  const leafOfExpired = issue(path.join(dir, "leaf-expired-int"), { cn: "127.0.0.1", start: at(-1), end: at(90), ca: false, issuer: interExpired });

  const rawServer = net.createServer((s) => {
    s.on("error", () => {});
    s.once("data", (d) => s.end(RAW[d.toString().split(" ")[1]] ?? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
  });
  raw = `http://127.0.0.1:${await listen(rawServer)}`;

  crossUrl = `https://127.0.0.1:${await listen(https.createServer({ key: leaf.key, cert: leaf.cert + inter.cert + crossA.cert }, route))}/health/`;
  crossExpiredIntUrl = `https://127.0.0.1:${await listen(https.createServer({ key: leafOfExpired.key, cert: leafOfExpired.cert + interExpired.cert + crossA.cert }, route))}/health/`;

  // HTTP/2 only: a client that offers just http/1.1 in ALPN is refused (no_application_protocol).
  const h2 = http2.createSecureServer({ key: leaf.key, cert: leaf.cert + inter.cert, allowHTTP1: false });
  h2.on("stream", (s, headers) => {
    if (headers[":path"] === "/moved") return s.respond({ ":status": 308, location: "/health" });
    s.respond({ ":status": 200, "content-type": "application/json", "content-encoding": "gzip" });
    s.end(zlib.gzipSync(JSON.stringify({ status: "UP", protocol: "h2" })));
  });
  h2Url = `https://127.0.0.1:${await listen(h2)}`;

  // An endpoint whose ca holds the intermediate that signed its leaf, not the root above it.
  interI = inter;
  interOther = issue(path.join(dir, "inter-other"), { cn: "Other Intermediate", start: at(-10), end: at(1000), ca: true, issuer: rootA });
  interExpiredCert = interExpired.cert;
  const leafExpired = issue(path.join(dir, "leaf-expired"), { cn: "127.0.0.1", start: at(-100), end: at(-3), ca: false, issuer: inter });
  const leafOtherHost = issue(path.join(dir, "leaf-other-host"), { cn: "other.example", start: at(-1), end: at(90), ca: false, issuer: inter, san: "DNS:other.example" });
  const serve = async (key: string, cert: string) => `https://127.0.0.1:${await listen(https.createServer({ key, cert }, route))}/health/`;
  partial.withIntermediate = await serve(leaf.key, leaf.cert + inter.cert);
  partial.leafOnly = await serve(leaf.key, leaf.cert);
  partial.expiredLeaf = await serve(leafExpired.key, leafExpired.cert + inter.cert);
  partial.otherHost = await serve(leafOtherHost.key, leafOtherHost.cert + inter.cert);
  partial.expiredIntermediate = await serve(leafOfExpired.key, leafOfExpired.cert + interExpired.cert);
}, 60_000);

afterAll(async () => {
  for (const s of streams) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => ("closeAllConnections" in s && s.closeAllConnections(), s.close(() => r(undefined))))));
  rmSync(dir, { recursive: true, force: true });
});

const check = (endpoints: EndpointInput[], env: Record<string, string> = {}) =>
  checkAll(parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify(endpoints), ...env }), new AbortController().signal).then((r) => r.results);

describe("redirects are followed as a browser and curl -L follow them", () => {
  it("/health -> 301 /health/ -> 200: available, the chain reported", async () => {
    const [r] = await check([{ url: `${base}/health`, conditions: { bodyContains: "status ok" } }]);
    expect(r).toMatchObject({ healthy: true, status: 200, redirects: [`${base}/health/`], failures: [] });
  });

  it("followRedirects false judges the redirect itself; a status condition naming the 3xx stops there too", async () => {
    const [off, named] = await check([
      { name: "off", url: `${base}/health`, followRedirects: false },
      { name: "named", url: `${base}/health`, conditions: { status: 301 } },
    ]);
    expect(off).toMatchObject({ healthy: false, status: 301, failures: [`status 301 != 200 (redirect to ${base}/health/, not followed: followRedirects is false)`] });
    expect(named).toMatchObject({ healthy: true, status: 301, failures: [] });
    expect(named).not.toHaveProperty("redirects");
    expect(healthCheckCli({ url: [`${base}/health`], "no-follow-redirects": ["true"] }).ENDPOINTS).toContain('"followRedirects":false');
  });

  it("endpoints.checks[].followRedirects false in the stack config reaches the function: the 301 is judged; the default follows", async () => {
    const configs = [{ name: "no-follow", url: `${base}/health`, followRedirects: false }, { name: "follow", url: `${base}/health` }].map((c) => endpointSchema.parse(c));
    const results = await checkAll(parseSettings(healthCheckSettings, { ENDPOINTS: endpointsSetting(configs) }), new AbortController().signal).then((r) => r.results);
    expect(results.map((r) => [r.name, r.healthy, r.status])).toEqual([
      ["no-follow", false, 301],
      ["follow", true, 200],
    ]);
  });

  it("still down: a redirect loop, a redirect to a 500, and more than 10 redirects", async () => {
    const [loop, error, many, ten] = await check([
      { name: "loop", url: `${base}/loop-a` },
      { name: "error", url: `${base}/to-error` },
      { name: "many", url: `${base}/hops/11` },
      { name: "ten", url: `${base}/hops/10` },
    ]);
    expect(loop).toMatchObject({ healthy: false, status: 302, failures: [`redirect loop: ${base}/loop-a -> ${base}/loop-b -> ${base}/loop-a`] });
    expect(error).toMatchObject({ healthy: false, status: 500, failures: [`status 500 != 200 (after redirects: ${base}/to-error -> ${base}/error)`] });
    expect(many.healthy).toBe(false);
    expect(many.failures).toEqual([expect.stringMatching(/^more than 10 redirects: .*\/hops\/11 -> .*\/hops\/1 -> .*\/hops\/0$/)]);
    expect(ten).toMatchObject({ healthy: true, status: 200 });
  });

  it("the endpoint's headers go to its own origin only; a 303 after POST is fetched with GET", async () => {
    seen.length = 0;
    const headers = { Authorization: "Bearer t0ken" };
    const [away, here, post] = await check([
      { name: "away", url: `${base}/away`, headers },
      { name: "here", url: `${base}/here`, headers },
      { name: "post", url: `${base}/post`, method: "POST", conditions: { bodyContains: "GET" } },
    ]);
    expect([away.healthy, here.healthy, post.healthy]).toEqual([true, true, true]);
    const whoami = seen.filter((s) => s.path === "/whoami").map((s) => s.authorization ?? "none").sort();
    expect(whoami).toEqual(["Bearer t0ken", "none"]);
    expect(seen.find((s) => s.path === "/method")?.method).toBe("GET");
  });
});

describe("HTTP/2", () => {
  it("a TLS server speaking only h2 is available (ALPN offers h2 and http/1.1), its gzip JSON judged, its redirect followed", async () => {
    const [r, moved] = await check([
      { name: "h2", url: `${h2Url}/health`, ca: rootA.cert, conditions: { jsonField: { path: "protocol", equals: "h2" }, certificateDaysLeft: 14 } },
      { name: "h2-moved", url: `${h2Url}/moved`, ca: rootA.cert },
    ]);
    expect(r).toMatchObject({ healthy: true, status: 200, protocol: "h2", certificateDaysLeft: 90, failures: [], warnings: [] });
    expect(moved).toMatchObject({ healthy: true, status: 200, protocol: "h2", redirects: [`${h2Url}/health`] });
  });
});

describe("the body is read as far as the conditions need", () => {
  it("a 190 KB JSON health document is judged whole", async () => {
    expect(BIG_JSON.length).toBeGreaterThan(180_000);
    const [r] = await check([{ url: `${base}/big-json`, conditions: { jsonField: { path: "status", equals: "UP" } } }]);
    expect(r).toMatchObject({ healthy: true, failures: [] });
  });

  it("a JSON document over MAX_BODY_BYTES is reported as too large, not as not JSON", async () => {
    expect(HUGE_JSON.length).toBeGreaterThan(2 * 1024 * 1024);
    const [r] = await check([{ url: `${base}/huge-json`, conditions: { jsonField: { path: "status", equals: "UP" } } }]);
    expect(r).toMatchObject({ healthy: false, failures: ['body larger than 2097152 bytes (MAX_BODY_BYTES): status not read (wanted "UP")'] });
  });

  it("a status-only check of a 200 whose body never ends is available, timed at its headers", async () => {
    const started = Date.now();
    const [r] = await check([{ url: `${base}/sse`, timeoutMs: 1000 }]);
    expect(r).toMatchObject({ healthy: true, status: 200, failures: [] });
    expect(r.responseTimeMs).toBeLessThan(500);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a status-only check of an endless body (plain or gzip) judges at the status and closes the connection, not at the timeout", async () => {
    for (const p of ["/sse", "/sse-gzip"]) delete closedAt[p];
    const started = Date.now();
    const results = await check([
      { name: "plain", url: `${base}/sse`, timeoutMs: 10_000 },
      { name: "gzip", url: `${base}/sse-gzip`, timeoutMs: 10_000 },
    ]);
    const took = Date.now() - started;
    expect(results.map((r) => [r.name, r.healthy, r.status, r.failures])).toEqual([
      ["plain", true, 200, []],
      ["gzip", true, 200, []],
    ]);
    for (const r of results) expect(r.responseTimeMs).toBeLessThan(500);
    expect(took).toBeLessThan(2000);
    // The server saw its connection closed by the check, not left open until a timeout.
    await new Promise((r) => setTimeout(r, 200));
    for (const p of ["/sse", "/sse-gzip"]) expect(closedAt[p] - started).toBeLessThan(2000);
  });

  it("a body condition on an endless body stops at MAX_BODY_BYTES or at the timeout, and the failure says which", async () => {
    const started = Date.now();
    const [contains, json, slow] = await check(
      [
        { name: "contains", url: `${base}/flood`, timeoutMs: 10_000, conditions: { bodyContains: "status ok" } },
        { name: "json", url: `${base}/flood`, timeoutMs: 10_000, conditions: { jsonField: { path: "status", equals: "UP" } } },
        { name: "slow", url: `${base}/trickle`, timeoutMs: 1000, conditions: { jsonField: { path: "status", equals: "UP" } } },
      ],
      { MAX_BODY_BYTES: "100000" },
    );
    expect(contains).toMatchObject({ healthy: false, status: 200, failures: ['body (first 100000 bytes: MAX_BODY_BYTES reached) does not contain "status ok"'] });
    expect(json).toMatchObject({ healthy: false, status: 200, failures: ['body larger than 100000 bytes (MAX_BODY_BYTES): status not read (wanted "UP")'] });
    expect(slow).toMatchObject({ healthy: false, status: 200 });
    expect(slow.failures).toEqual([expect.stringMatching(/^timed out after 1000 ms reading the body \(\d+ bytes read, MAX_BODY_BYTES 100000 not reached\)$/)]);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("bodyContains stops at the text found; a never-ending body without it still times out (down)", async () => {
    const started = Date.now();
    const [found, missing] = await check([
      { name: "found", url: `${base}/sse-ok`, timeoutMs: 2000, conditions: { bodyContains: "status ok" } },
      { name: "missing", url: `${base}/sse`, timeoutMs: 1000, conditions: { bodyContains: "status ok" } },
    ]);
    expect(found).toMatchObject({ healthy: true, failures: [] });
    expect(found.responseTimeMs).toBeLessThan(1000);
    expect(missing).toMatchObject({ healthy: false, failures: [expect.stringMatching(/^timed out after 1000 ms reading the body \(\d+ bytes read, MAX_BODY_BYTES 2097152 not reached\)$/)] });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe("a ca holding an intermediate (not its root) is a trust anchor, as curl takes it (OpenSSL X509_V_FLAG_PARTIAL_CHAIN)", () => {
  it("the leaf with or without the intermediate sent: trusted, available, days left the leaf's 90 with the intermediate as anchor", async () => {
    const results = await check([
      { name: "with-intermediate", url: partial.withIntermediate, ca: interI.cert, conditions: { certificateDaysLeft: 14 } },
      { name: "leaf-only", url: partial.leafOnly, ca: interI.cert, conditions: { certificateDaysLeft: 14 } },
    ]);
    for (const r of results) {
      expect(r).toMatchObject({ healthy: true, status: 200, failures: [], warnings: [], certificateDaysLeft: 90, certificateExpiresFirst: { subject: "127.0.0.1", role: "leaf" } });
    }
  });

  it("every other certificate failure still pages: an expired leaf, another host, an intermediate that did not sign the leaf, an expired intermediate as the anchor", async () => {
    const results = await check([
      { name: "expired-leaf", url: partial.expiredLeaf, ca: interI.cert },
      { name: "other-host", url: partial.otherHost, ca: interI.cert },
      { name: "untrusted", url: partial.withIntermediate, ca: interOther.cert },
      { name: "expired-anchor", url: partial.expiredIntermediate, ca: interExpiredCert },
    ]);
    expect(results.map((r) => [r.name, r.healthy, r.status, r.failures])).toEqual([
      ["expired-leaf", false, null, ['certificate not trusted: CERT_HAS_EXPIRED (no request sent; "insecure": true accepts it)']],
      ["other-host", false, null, ['certificate not trusted: ERR_TLS_CERT_ALTNAME_INVALID (no request sent; "insecure": true accepts it)']],
      ["untrusted", false, null, [expect.stringMatching(/^certificate not trusted: UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)? \(no request sent/)]],
      ["expired-anchor", false, null, ['certificate not trusted: CERT_HAS_EXPIRED (no request sent; "insecure": true accepts it)']],
    ]);
  });
});

describe("answers are parsed as leniently as curl and browsers parse them", () => {
  it("bare LF line ends and a control character in a header value are available; an answer that is not HTTP is down", async () => {
    const results = await check([{ url: `${raw}/bare-lf` }, { url: `${raw}/control-char` }, { url: `${raw}/garbage` }]);
    expect(results.map((r) => [r.healthy, r.status])).toEqual([
      [true, 200],
      [true, 200],
      [false, null],
    ]);
    expect(results[2].failures).toEqual([expect.stringMatching(/^request failed: Parse Error/)]);
  });
});

describe("certificate days left come from the chain a client validates", () => {
  it("leaf + intermediate + an expired cross-signed copy of the trusted root: trusted, days left the leaf's 90, no warning", async () => {
    const [r] = await check([{ url: crossUrl, ca: rootA.cert, conditions: { certificateDaysLeft: 14 } }]);
    expect(r).toMatchObject({ healthy: true, status: 200, certificateDaysLeft: 90, certificateExpiresFirst: { subject: "127.0.0.1", role: "leaf" }, warnings: [], failures: [] });
  });

  it("still alarms: an expired intermediate in the validated path, beside the same cross-signed root", async () => {
    const [r] = await check([{ url: crossExpiredIntUrl, ca: rootA.cert, conditions: { certificateDaysLeft: 14 } }]);
    expect(r).toMatchObject({ healthy: false, certificateDaysLeft: -2, certificateExpiresFirst: { subject: "Expired Intermediate", role: "intermediate" } });
    expect(r.failures).toEqual(['certificate not trusted: CERT_HAS_EXPIRED (no request sent; "insecure": true accepts it)']);
    expect(r.warnings).toEqual(['certificate expired 2 days ago (days left -2 < 14): intermediate "Expired Intermediate" expires first']);
  });
});
