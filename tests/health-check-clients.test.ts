/**
 * Answers curl and browsers accept are accepted, against servers on 127.0.0.1 and ::1: headers over
 * node's 16 KiB, raw UTF-8 in a Location, non-credential headers kept across origins, a cookie set
 * on a redirect to the same URL, `localhost` served on ::1 only, a JSON key with a dot; and the
 * command line refuses what the stack config refuses.
 */
import * as http from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { endpointSchema } from "../regime/endpoints";
import { checkAll } from "../tasks/health-check/check";
import { healthCheckCli } from "../tasks/health-check/cli";
import { healthCheckSettings, type EndpointInput } from "../tasks/health-check/settings";
import { parseSettings } from "../tasks/lib/runtime";

const servers: net.Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

function listen(server: net.Server, host = "127.0.0.1"): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as AddressInfo).port)));
}
/** A server answering every request with `doc` as application/json. */
const jsonServer = (doc: string) =>
  http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(doc);
  });
const check = async (endpoints: EndpointInput[]) =>
  (await checkAll(parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify(endpoints) }), new AbortController().signal)).results;

describe("headers over node's 16 KiB", () => {
  it("a 26 KB Content-Security-Policy and 150 KB of Set-Cookie are available; over 256 KB is down, saying so", async () => {
    const port = await listen(
      http.createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
        if (req.url === "/csp") res.setHeader("content-security-policy", "default-src " + "https://a.example.com ".repeat(1200));
        if (req.url === "/cookies") res.setHeader("set-cookie", Array.from({ length: 150 }, (_, i) => `c${i}=${"x".repeat(1000)}`));
        if (req.url === "/huge") res.setHeader("x-huge", "y".repeat(300 * 1024));
        res.end("ok");
      }),
    );
    const [csp, cookies, huge] = await check(["/csp", "/cookies", "/huge"].map((p) => ({ name: p, url: `http://127.0.0.1:${port}${p}` })));
    expect(csp).toMatchObject({ healthy: true, status: 200 });
    expect(cookies).toMatchObject({ healthy: true, status: 200 });
    expect(huge).toMatchObject({ healthy: false, status: null, failures: ["response headers over 256 KB (the most browsers accept)"] });
  });
});

describe("redirects as curl -L and browsers follow them", () => {
  it("a Location of raw UTF-8 bytes (/café) is read as UTF-8: /caf%C3%A9/status", async () => {
    const port = await listen(
      net.createServer((c) =>
        c.once("data", (d) => {
          const path = d.toString("latin1").split(" ")[1];
          if (path === "/health") c.end(Buffer.concat([Buffer.from("HTTP/1.1 302 Found\r\nLocation: /caf"), Buffer.from("é"), Buffer.from("/status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")]));
          else if (path === "/caf%C3%A9/status") c.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
          else c.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }),
      ),
    );
    const [r] = await check([{ url: `http://127.0.0.1:${port}/health` }]);
    expect(r).toMatchObject({ healthy: true, status: 200, redirects: [`http://127.0.0.1:${port}/caf%C3%A9/status`] });
  });

  it("to another origin, Accept and X-Api-Version go along; Authorization, Cookie and Proxy-Authorization do not", async () => {
    const got: http.IncomingHttpHeaders[] = [];
    const server = http.createServer((req, res) => {
      if (req.url === "/health") {
        res.writeHead(308, { location: `http://localhost:${port}/v2/health` });
        return res.end();
      }
      got.push(req.headers);
      if (!req.headers.accept?.includes("application/json")) return void res.writeHead(406).end();
      res.setHeader("content-type", "application/json");
      res.end('{"status":"ok"}');
    });
    const port = await listen(server);
    const headers = { Accept: "application/json", "X-Api-Version": "2", Authorization: "Bearer t0ken", Cookie: "sid=1", "Proxy-Authorization": "Basic eA==" };
    const [r] = await check([{ url: `http://127.0.0.1:${port}/health`, headers, conditions: { jsonField: { path: "status", equals: "ok" } } }]);
    expect(r).toMatchObject({ healthy: true, status: 200 });
    expect(got[0]).toMatchObject({ accept: "application/json", "x-api-version": "2" });
    expect([got[0].authorization, got[0].cookie, got[0]["proxy-authorization"]]).toEqual([undefined, undefined, undefined]);
  });

  it("Set-Cookie then a redirect to the same URL (a session bootstrap) is answered; a redirect to itself without a cookie is still a loop", async () => {
    const server = http.createServer((req, res) => {
      if (req.url === "/loop") return void res.writeHead(302, { location: "/loop" }).end();
      if (!req.headers.cookie?.includes("s=1")) return void res.writeHead(302, { "set-cookie": "s=1; Path=/; HttpOnly", location: "/health" }).end();
      res.end(`cookie ${req.headers.cookie}`);
    });
    const port = await listen(server);
    const [boot, loop] = await check([
      { name: "boot", url: `http://127.0.0.1:${port}/health`, headers: { Cookie: "given=1" }, conditions: { bodyContains: "cookie given=1; s=1" } },
      { name: "loop", url: `http://127.0.0.1:${port}/loop` },
    ]);
    expect(boot).toMatchObject({ healthy: true, status: 200, failures: [] });
    expect(loop).toMatchObject({ healthy: false, failures: [`redirect loop: http://127.0.0.1:${port}/loop -> http://127.0.0.1:${port}/loop`] });
  });

  it("a session cookie marked Secure, set over http on 127.0.0.1 or localhost, is sent back as browsers and curl 7.79+ send it to loopback; one for a path elsewhere is not", async () => {
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith("/other")) return void res.end(`cookie ${req.headers.cookie ?? "none"}`);
      if (req.headers.cookie !== "s=1") return void res.writeHead(302, { "set-cookie": ["s=1; Path=/app; Secure; HttpOnly; SameSite=Strict", "o=1; Path=/elsewhere"], location: req.url }).end();
      res.writeHead(302, { location: "/other" }).end();
    });
    const port = await listen(server);
    const results = await check(["127.0.0.1", "localhost"].map((host) => ({ name: host, url: `http://${host}:${port}/app/health`, conditions: { bodyContains: "cookie none" } })));
    expect(results.map((r) => [r.name, r.healthy, r.redirects, r.failures])).toEqual(
      ["127.0.0.1", "localhost"].map((host) => [host, true, [`http://${host}:${port}/app/health`, `http://${host}:${port}/other`], []]),
    );
  });
});

describe("cookies kept as a browser keeps them (Chromium: 4096 bytes of name and value, 180 per domain then the least recently used evicted down to 150)", () => {
  it("a 10 KB cookie and 500 more set across two redirects: the Cookie header sent stays under the server's 16 KB limit, with the newest cookies and without the oversized one", async () => {
    const server = http.createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
      const cookie = req.headers.cookie ?? "";
      // As nginx or node answer a request whose headers exceed their limit.
      if (cookie.length > 16 * 1024) return void res.writeHead(431).end(`Cookie header of ${cookie.length} bytes`);
      const batch = (from: number) => Array.from({ length: 250 }, (_, i) => `c${from + i}=${"v".repeat(50)}; Path=/`);
      if (req.url === "/login") return void res.writeHead(302, { "set-cookie": [`big=${"a".repeat(10_000)}; Path=/`, ...batch(0)], location: "/session" }).end();
      if (req.url === "/session") return void res.writeHead(302, { "set-cookie": batch(250), location: "/health" }).end();
      const names = cookie.split("; ").map((c) => c.split("=")[0]);
      res.end(`${names.length} cookies; big ${names.includes("big") ? "sent" : "not sent"}; c499 ${names.includes("c499") ? "sent" : "not sent"}; c0 ${names.includes("c0") ? "sent" : "not sent"}`);
    });
    const port = await listen(server);
    const [r] = await check([{ name: "login", url: `http://127.0.0.1:${port}/login`, conditions: { bodyContains: "159 cookies; big not sent; c499 sent; c0 not sent" } }]);
    expect(r).toMatchObject({ healthy: true, status: 200, failures: [] });
    // Each time a 181st is stored the 31 least recently used go: 157 left of the first 250, 159 after the next 250.
    expect(r.redirects).toEqual([`http://127.0.0.1:${port}/session`, `http://127.0.0.1:${port}/health`]);
  });

  it("a cookie of 4097 bytes of name and value is ignored, one of 4096 kept, as Chromium does", async () => {
    const server = http.createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
      if (req.url === "/login") return void res.writeHead(302, { "set-cookie": [`n=${"a".repeat(4095)}`, `no=${"b".repeat(4095)}`, "s=1"], location: "/health" }).end();
      res.end(`sent ${(req.headers.cookie ?? "").split("; ").map((c) => `${c.split("=")[0]}:${c.length - 1}`).join(" ")}`);
    });
    const port = await listen(server);
    const [r] = await check([{ name: "sizes", url: `http://localhost:${port}/login`, conditions: { bodyContains: "sent n:4096 s:2" } }]);
    expect(r).toMatchObject({ healthy: true, status: 200, failures: [] });
  });
});

describe("names and JSON paths as a user writes them", () => {
  it("localhost reaches a server listening on ::1 only (curl resolves localhost to ::1 and 127.0.0.1)", async () => {
    const port = await listen(http.createServer((req, res) => res.end("ok")), "::1");
    const [r] = await check([{ url: `http://localhost:${port}/` }]);
    expect(r).toMatchObject({ healthy: true, status: 200 });
  });

  it('checks["db.primary"] addresses a key holding a dot; a malformed path is refused naming the key, in the stack config and the task', async () => {
    const port = await listen(jsonServer('{"checks":{"db.primary":{"state":"up"}},"items":[{"s":"ok"}]}'));
    const url = `http://127.0.0.1:${port}/`;
    const results = await check([
      { name: "dot", url, conditions: { jsonField: { path: 'checks["db.primary"].state', equals: "up" } } },
      { name: "index", url, conditions: { jsonField: { path: "items[0].s", equals: "ok" } } },
      { name: "dotted", url, conditions: { jsonField: { path: "items.0.s", equals: "ok" } } },
    ]);
    expect(results.map((r) => [r.name, r.healthy, r.failures])).toEqual([
      ["dot", true, []],
      ["index", true, []],
      ["dotted", true, []],
    ]);
    const form = 'must be a dotted path like status or checks.db.state; a key with a dot goes in brackets: checks["db.primary"]';
    expect(() => parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify([{ url, conditions: { jsonField: { path: "checks[db.primary]", equals: "up" } } }]) })).toThrow(
      `ENDPOINTS[0].conditions.jsonField.path: ${form}`,
    );
    const parsed = endpointSchema.safeParse({ name: "api", url, jsonField: { path: "checks..db", equals: "up" } });
    expect(parsed.success ? [] : parsed.error.issues.map((i) => [i.path.join("."), i.message])).toEqual([["jsonField.path", form]]);
    expect(() => healthCheckCli({ url: [url], "json-field": ["a..b=1"] })).toThrow(`--json-field: path ${form}, got "a..b"`);
  });
});

describe("the command line refuses and types as the stack config", () => {
  it("--max-response-ms at or above the timeout is refused naming it, as endpoints.checks[].maxResponseMs is", () => {
    expect(() => healthCheckCli({ url: ["http://127.0.0.1/"], "max-response-ms": ["15000"] })).toThrow(
      "--max-response-ms: must be < the default --timeout-ms (10000): an answer slower than the timeout counts as down, so the slow alarm could never fire",
    );
    expect(() => healthCheckCli({ url: ["http://127.0.0.1/"], "max-response-ms": ["3000"], "timeout-ms": ["3000"] })).toThrow("--max-response-ms: must be < --timeout-ms (3000)");
    expect(() => parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify([{ url: "http://127.0.0.1/", conditions: { responseTimeMs: 15000 } }]) })).toThrow(
      "ENDPOINTS[0].conditions.responseTimeMs: must be < timeoutMs (10000)",
    );
    expect(healthCheckCli({ url: ["http://127.0.0.1/"], "max-response-ms": ["9999"] }).ENDPOINTS).toContain('"responseTimeMs":9999');
  });

  it("--json-field version=1.10 matches the string \"1.10\"; =1.1, =true and a quoted string keep their JSON types", async () => {
    const port = await listen(jsonServer('{"version":"1.10","n":1.1,"up":true,"e":"1e3"}'));
    const url = `http://127.0.0.1:${port}/`;
    const run = async (field: string) => {
      const env = healthCheckCli({ url: [url], "json-field": [field] });
      return (await checkAll(parseSettings(healthCheckSettings, env), new AbortController().signal)).results[0];
    };
    expect((await run("version=1.10")).failures).toEqual([]);
    expect((await run("n=1.1")).failures).toEqual([]);
    expect((await run("up=true")).failures).toEqual([]);
    expect((await run("e=1e3")).failures).toEqual([]);
    expect((await run('n="1.1"')).failures).toEqual(['json n 1.1 != "1.1"']);
  });
});
