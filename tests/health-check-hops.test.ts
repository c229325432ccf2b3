/**
 * Certificate days left over every https hop a check follows, against servers on 127.0.0.1 with
 * openssl-made chains under one root: an endpoint whose own leaf is valid for 365 days redirects to
 * a host whose leaf runs out in 5 (the warning, the result and the CertificateDaysLeft metric say 5
 * and name that host and leaf), through a middle hop that runs out first, on to plain http (no
 * certificate, the https hops' days kept), and to hosts whose TLS fails (an expired intermediate,
 * another host name): down, the failure and the days naming the hop's host.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { healthCheckTask } from "../tasks/health-check";
import { checkAll, type HealthCheckResult } from "../tasks/health-check/check";
import { healthCheckSettings, type EndpointInput } from "../tasks/health-check/settings";
import { parseSettings, runTask } from "../tasks/lib/runtime";
import { captureEmf } from "./helpers/emf";
import { issue, type Issued } from "./helpers/tls-chain";

const DAY = 86_400_000;
const servers: (http.Server | https.Server)[] = [];
let dir = "";
let root: Issued;
/** Origins by server: "a" (leaf 365 days), "b" (5), "m" (20), "c" (200), "x" (expired intermediate), "w" (another host name), "plain" (http). */
const origin: Record<string, string> = {};
/** Redirects by server origin and path: where each answers 301 to. */
const redirects: Record<string, string> = {};

function listen(server: http.Server | https.Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

/** Answers a redirect listed for this server and path, else 200 "ok". */
const route = (name: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
  const to = redirects[`${name} ${req.url}`];
  if (to) {
    res.writeHead(301, { location: to });
    return void res.end();
  }
  res.end("ok");
};

const hostOf = (name: string) => new URL(origin[name]).host;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "health-hops-"));
  const now = Date.now();
  const at = (days: number) => new Date(now + days * DAY);
  root = issue(path.join(dir, "root"), { cn: "Hops Root", start: at(-10), end: at(3650), ca: true });
  const leaf = (name: string, cn: string, days: number, issuer = root, san?: string) => issue(path.join(dir, name), { cn, start: at(-1), end: at(days), ca: false, issuer, san });
  const serveTls = async (name: string, key: string, chain: string[]) => {
    origin[name] = `https://127.0.0.1:${await listen(https.createServer({ key, cert: chain.join("") }, route(name)))}`;
  };
  for (const [name, cn, days] of [["a", "A leaf", 365], ["b", "B leaf", 5], ["m", "M leaf", 20], ["c", "C leaf", 200]] as const) {
    const l = leaf(name, cn, days);
    await serveTls(name, l.key, [l.cert]);
  }
  const interExpired = issue(path.join(dir, "inter-expired"), { cn: "Expired Intermediate", start: at(-400), end: at(-2), ca: true, issuer: root });
  const leafX = leaf("x", "X leaf", 300, interExpired);
  await serveTls("x", leafX.key, [leafX.cert, interExpired.cert]);
  const leafW = leaf("w", "W leaf", 300, root, "DNS:other.example");
  await serveTls("w", leafW.key, [leafW.cert]);
  origin.plain = `http://127.0.0.1:${await listen(http.createServer(route("plain")))}`;

  Object.assign(redirects, {
    "a /health": `${origin.b}/health`,
    "a /two": `${origin.m}/two`,
    "m /two": `${origin.c}/health`,
    "a /down": `${origin.b}/down`,
    "b /down": `${origin.plain}/health`,
    "a /expired": `${origin.x}/health`,
    "a /wrong-host": `${origin.w}/health`,
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
  rmSync(dir, { recursive: true, force: true });
});

const check = (endpoints: EndpointInput[]) =>
  checkAll(parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify(endpoints) }), new AbortController().signal).then((r) => r.results);

describe("a redirect to a host whose certificate expires first", () => {
  it("A (365 days) -> B (5 days): days left 5 naming B's host and leaf in the result, the warning and the CertificateDaysLeft metric; B checked directly says the same", async () => {
    const endpoints: EndpointInput[] = [
      { name: "apex", url: `${origin.a}/health`, ca: root.cert, conditions: { certificateDaysLeft: 14 } },
      { name: "direct", url: `${origin.b}/health`, ca: root.cert, conditions: { certificateDaysLeft: 14 } },
    ];
    let result: HealthCheckResult | undefined;
    const emf = await captureEmf(async () => void (result = await runTask(healthCheckTask, { ENDPOINTS: JSON.stringify(endpoints), POWERTOOLS_DEV: "false" })));
    const [apex, direct] = result!.results;
    expect(apex).toMatchObject({
      healthy: true,
      status: 200,
      redirects: [`${origin.b}/health`],
      certificateDaysLeft: 5,
      certificateExpiresFirst: { subject: "B leaf", role: "leaf", host: hostOf("b") },
      failures: [],
    });
    expect(apex.warnings).toEqual([`certificate days left 5 < 14: leaf "B leaf" of ${hostOf("b")} expires first`]);
    expect(direct).toMatchObject({ healthy: true, certificateDaysLeft: 5, certificateExpiresFirst: { subject: "B leaf", host: hostOf("b") } });
    expect(direct.warnings).toEqual(['certificate days left 5 < 14: leaf "B leaf" expires first']);
    // The certificate alarm reads this value; the record names the certificate and the hop it came from.
    const days = emf.filter((m) => m.Endpoint === "apex" && m._aws.CloudWatchMetrics[0].Metrics[0].Name === "CertificateDaysLeft");
    expect(days.map((m) => [m.CertificateDaysLeft, m.certificateHost, m.certificateSubject, m.certificateRole])).toEqual([[5, hostOf("b"), "B leaf", "leaf"]]);
  });

  it("A (365) -> M (20) -> C (200): the middle hop's 20 days, naming M, under a 30-day minimum", async () => {
    const [r] = await check([{ url: `${origin.a}/two`, ca: root.cert, conditions: { certificateDaysLeft: 30 } }]);
    expect(r).toMatchObject({
      healthy: true,
      redirects: [`${origin.m}/two`, `${origin.c}/health`],
      certificateDaysLeft: 20,
      certificateExpiresFirst: { subject: "M leaf", role: "leaf", host: hostOf("m") },
    });
    expect(r.warnings).toEqual([`certificate days left 20 < 30: leaf "M leaf" of ${hostOf("m")} expires first`]);
  });

  it("A (365) -> B (5) -> plain http: the http hop has no certificate and keeps B's 5 days", async () => {
    const [r] = await check([{ url: `${origin.a}/down`, ca: root.cert, conditions: { certificateDaysLeft: 14 } }]);
    expect(r).toMatchObject({
      healthy: true,
      status: 200,
      redirects: [`${origin.b}/down`, `${origin.plain}/health`],
      certificateDaysLeft: 5,
      certificateExpiresFirst: { subject: "B leaf", host: hostOf("b") },
    });
    expect(r.warnings).toEqual([`certificate days left 5 < 14: leaf "B leaf" of ${hostOf("b")} expires first`]);
  });
});

describe("a redirect to a host whose TLS fails validation", () => {
  it("its chain holds an intermediate expired 2 days ago: down, the failure names its host, the days left are -2 naming the intermediate and the host", async () => {
    const [r] = await check([{ url: `${origin.a}/expired`, ca: root.cert, conditions: { certificateDaysLeft: 14 } }]);
    expect(r).toMatchObject({
      healthy: false,
      status: null,
      certificateDaysLeft: -2,
      certificateExpiresFirst: { subject: "Expired Intermediate", role: "intermediate", host: hostOf("x") },
    });
    expect(r.failures).toEqual([
      `certificate of ${hostOf("x")} not trusted: CERT_HAS_EXPIRED (no request sent; "insecure": true accepts it) (after redirects: ${origin.a}/expired -> ${origin.x}/health)`,
    ]);
    expect(r.warnings).toEqual([`certificate expired 2 days ago (days left -2 < 14): intermediate "Expired Intermediate" of ${hostOf("x")} expires first`]);
  });

  it("its leaf is for another host name: down, the failure names the host it was reached as", async () => {
    const [r] = await check([{ url: `${origin.a}/wrong-host`, ca: root.cert, conditions: { certificateDaysLeft: 14 } }]);
    expect(r).toMatchObject({ healthy: false, status: null, certificateDaysLeft: 300, certificateExpiresFirst: { subject: "W leaf", host: hostOf("w") }, warnings: [] });
    expect(r.failures).toEqual([
      `certificate of ${hostOf("w")} not trusted: ERR_TLS_CERT_ALTNAME_INVALID (no request sent; "insecure": true accepts it) (after redirects: ${origin.a}/wrong-host -> ${origin.w}/health)`,
    ]);
  });
});
