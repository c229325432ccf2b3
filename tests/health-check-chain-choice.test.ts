/**
 * Certificate days left when more than one certificate could issue the same one, against HTTPS
 * servers on 127.0.0.1 with openssl-made chains: a root re-issued with the same subject and key
 * beside its expired predecessor in the endpoint's ca bundle (in either order), an intermediate
 * cross-signed by an expired and a valid root, and two copies of an intermediate (same subject and
 * key) sent by the server, the old one first (running out soon, or expired), and an intermediate
 * cross-signed by a root that runs out soon, that copy sent first. The days left are those of the
 * chain the client keeps using until it stops validating, built in OpenSSL's order at each moment a
 * certificate starts or stops being valid; with only the expired root in the bundle the connection
 * is not trusted and reported so.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkAll } from "../tasks/health-check/check";
import { healthCheckSettings, type EndpointInput } from "../tasks/health-check/settings";
import { parseSettings } from "../tasks/lib/runtime";
import { issue, type Issued } from "./helpers/tls-chain";

const DAY = 86_400_000;
const servers: https.Server[] = [];
let dir = "";
let rootOld: Issued;
let rootNew: Issued;
let crossOld: Issued;
let crossNew: Issued;
const url: Record<string, string> = {};

function listen(server: https.Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

const route = (_req: http.IncomingMessage, res: http.ServerResponse) => void res.end("ok");

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "health-chain-choice-"));
  const now = Date.now();
  const at = (days: number) => new Date(now + days * DAY);
  const serve = async (key: string, chain: string[]) => `https://127.0.0.1:${await listen(https.createServer({ key, cert: chain.join("") }, route))}/`;

  // A root re-issued: the same subject and key, new dates. The leaf outlives the new root, so the
  // days left are the root's own.
  rootOld = issue(path.join(dir, "root-old"), { cn: "Root R", start: at(-4000), end: at(-5), ca: true });
  rootNew = issue(path.join(dir, "root-new"), { cn: "Root R", start: at(-30), end: at(400), ca: true, key: rootOld.key });
  const leaf = issue(path.join(dir, "leaf"), { cn: "127.0.0.1", start: at(-1), end: at(800), ca: false, issuer: rootNew });
  url.reissued = await serve(leaf.key, [leaf.cert]);

  // An intermediate cross-signed by two roots: "Old Root X" expired 3 days ago, "New Root Y" valid for 500 days.
  crossOld = issue(path.join(dir, "cross-old"), { cn: "Old Root X", start: at(-4000), end: at(-3), ca: true });
  crossNew = issue(path.join(dir, "cross-new"), { cn: "New Root Y", start: at(-100), end: at(500), ca: true });
  // The copy the old root signed ran out with it.
  const interByOld = issue(path.join(dir, "inter-x"), { cn: "Intermediate C", start: at(-1000), end: at(-3), ca: true, issuer: crossOld });
  const interByNew = issue(path.join(dir, "inter-y"), { cn: "Intermediate C", start: at(-10), end: at(1000), ca: true, issuer: crossNew, key: interByOld.key });
  const leafC = issue(path.join(dir, "leaf-c"), { cn: "127.0.0.1", start: at(-1), end: at(800), ca: false, issuer: interByNew });
  url.crossOldFirst = await serve(leafC.key, [leafC.cert, interByOld.cert, interByNew.cert]);
  url.crossNewFirst = await serve(leafC.key, [leafC.cert, interByNew.cert, interByOld.cert]);

  // Two copies of one intermediate (same subject and key), both valid: one runs out in 20 days, its
  // renewal in 700.
  const rootS = issue(path.join(dir, "root-s"), { cn: "Root S", start: at(-100), end: at(3650), ca: true });
  const interShort = issue(path.join(dir, "inter-short"), { cn: "Intermediate S", start: at(-300), end: at(20), ca: true, issuer: rootS });
  const interLong = issue(path.join(dir, "inter-long"), { cn: "Intermediate S", start: at(-5), end: at(700), ca: true, issuer: rootS, key: interShort.key });
  const leafS = issue(path.join(dir, "leaf-s"), { cn: "127.0.0.1", start: at(-1), end: at(800), ca: false, issuer: interLong });
  url.twoIntermediates = await serve(leafS.key, [leafS.cert, interShort.cert, interLong.cert]);
  // The same with the old copy already expired and still sent first.
  const interGone = issue(path.join(dir, "inter-gone"), { cn: "Intermediate S", start: at(-400), end: at(-1), ca: true, issuer: rootS, key: interShort.key });
  url.expiredCopyFirst = await serve(leafS.key, [leafS.cert, interGone.cert, interLong.cert]);
  url.rootS = rootS.cert;

  // An intermediate cross-signed (same subject and key): the copy by Root A, which runs out in 5 days
  // (or ran out yesterday) but outlives it itself, sent before the copy by Root B (10 years). OpenSSL
  // takes the first sent issuer that is valid, the A copy, and then Root A.
  for (const [tag, aEnd] of [["soon", 5], ["gone", -1]] as const) {
    const rootA = issue(path.join(dir, `cross-a-${tag}`), { cn: `Root A ${tag}`, start: at(-3000), end: at(aEnd), ca: true });
    const rootB = issue(path.join(dir, `cross-b-${tag}`), { cn: `Root B ${tag}`, start: at(-100), end: at(3650), ca: true });
    const byA = issue(path.join(dir, `inter-a-${tag}`), { cn: `Intermediate I ${tag}`, start: at(-500), end: at(700), ca: true, issuer: rootA });
    const byB = issue(path.join(dir, `inter-b-${tag}`), { cn: `Intermediate I ${tag}`, start: at(-50), end: at(1500), ca: true, issuer: rootB, key: byA.key });
    const leafI = issue(path.join(dir, `leaf-i-${tag}`), { cn: "127.0.0.1", start: at(-1), end: at(300), ca: false, issuer: byB });
    url[`${tag}-a-first`] = await serve(leafI.key, [leafI.cert, byA.cert, byB.cert]);
    url[`${tag}-b-first`] = await serve(leafI.key, [leafI.cert, byB.cert, byA.cert]);
    url[`${tag}-ca`] = rootA.cert + rootB.cert;
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(() => r(undefined))))));
  rmSync(dir, { recursive: true, force: true });
});

const check = (endpoints: EndpointInput[]) =>
  checkAll(parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify(endpoints) }), new AbortController().signal).then((r) => r.results);

describe("a root re-issued with the same subject and key, beside its expired predecessor in ca", () => {
  it("bundle [expired, renewed] and [renewed, expired]: trusted, days left the renewed root's 400, no warning; only the expired root: down, its -5 days reported", async () => {
    const results = await check([
      { name: "expired-first", url: url.reissued, ca: rootOld.cert + rootNew.cert, conditions: { certificateDaysLeft: 14 } },
      { name: "renewed-first", url: url.reissued, ca: rootNew.cert + rootOld.cert, conditions: { certificateDaysLeft: 14 } },
      { name: "expired-only", url: url.reissued, ca: rootOld.cert, conditions: { certificateDaysLeft: 14 } },
    ]);
    for (const r of results.slice(0, 2)) {
      expect(r).toMatchObject({ healthy: true, status: 200, failures: [], warnings: [], certificateDaysLeft: 400, certificateExpiresFirst: { subject: "Root R", role: "root" } });
    }
    // TLS itself fails: no request is sent, and the certificate that made it fail is named.
    expect(results[2]).toMatchObject({ healthy: false, status: null, certificateDaysLeft: -5, certificateExpiresFirst: { subject: "Root R", role: "root" } });
    expect(results[2].failures).toEqual(['certificate not trusted: CERT_HAS_EXPIRED (no request sent; "insecure": true accepts it)']);
  });
});

describe("an intermediate cross-signed by an expired and a valid root, both in ca", () => {
  it("either copy sent first: trusted (OpenSSL takes the valid copy), days left the valid root's 500; only the expired root in ca: down, -3 days reported", async () => {
    const ca = crossOld.cert + crossNew.cert;
    const results = await check([
      { name: "old-first", url: url.crossOldFirst, ca, conditions: { certificateDaysLeft: 14 } },
      { name: "new-first", url: url.crossNewFirst, ca, conditions: { certificateDaysLeft: 14 } },
      { name: "expired-only", url: url.crossOldFirst, ca: crossOld.cert },
    ]);
    for (const r of results.slice(0, 2)) {
      expect(r).toMatchObject({ healthy: true, status: 200, failures: [], warnings: [], certificateDaysLeft: 500, certificateExpiresFirst: { subject: "New Root Y", role: "root" } });
    }
    // OpenSSL takes the valid copy and finds no root for it; the only anchored path runs through the expired ones.
    expect(results[2]).toMatchObject({ healthy: false, status: null, certificateDaysLeft: -3 });
    expect(results[2].failures).toEqual(['certificate not trusted: UNABLE_TO_GET_ISSUER_CERT_LOCALLY (no request sent; "insecure": true accepts it)']);
  });
});

describe("two copies of one intermediate (same subject and key) sent, the old one first", () => {
  it("one runs out in 20 days, its renewal in 700: days left 700 (the renewal is taken once the old one expires), no warning under a 30-day minimum", async () => {
    const [r] = await check([{ url: url.twoIntermediates, ca: url.rootS, conditions: { certificateDaysLeft: 30 } }]);
    expect(r).toMatchObject({ healthy: true, failures: [], warnings: [], certificateDaysLeft: 700, certificateExpiresFirst: { subject: "Intermediate S", role: "intermediate" } });
  });

  it("the old copy expired yesterday: trusted (OpenSSL takes the valid copy), days left 700, no expiry page", async () => {
    const [r] = await check([{ url: url.expiredCopyFirst, ca: url.rootS, conditions: { certificateDaysLeft: 30 } }]);
    expect(r).toMatchObject({ healthy: true, status: 200, failures: [], warnings: [], certificateDaysLeft: 700, certificateExpiresFirst: { subject: "Intermediate S", role: "intermediate" } });
  });
});

describe("an intermediate cross-signed by a root that runs out soon and one that does not, the copy by the first sent first", () => {
  it("Root A runs out in 5 days: days left 5, naming Root A, and the 14-day warning now (the client keeps the A copy and fails with Root A); the B copy sent first: the leaf's 300", async () => {
    const results = await check([
      { name: "a-first", url: url["soon-a-first"], ca: url["soon-ca"], conditions: { certificateDaysLeft: 14 } },
      { name: "b-first", url: url["soon-b-first"], ca: url["soon-ca"], conditions: { certificateDaysLeft: 14 } },
    ]);
    expect(results[0]).toMatchObject({ healthy: true, status: 200, certificateDaysLeft: 5, certificateExpiresFirst: { subject: "Root A soon", role: "root" } });
    expect(results[0].warnings.join(" ")).toMatch(/^certificate days left 5 < 14: root "Root A soon"/);
    expect(results[1]).toMatchObject({ healthy: true, status: 200, warnings: [], certificateDaysLeft: 300, certificateExpiresFirst: { subject: "127.0.0.1", role: "leaf" } });
  });

  it("Root A ran out yesterday: the A copy sent first is refused by the client, and the days left name Root A, not the leaf", async () => {
    const results = await check([
      { name: "a-first", url: url["gone-a-first"], ca: url["gone-ca"], conditions: { certificateDaysLeft: 14 } },
      { name: "b-first", url: url["gone-b-first"], ca: url["gone-ca"], conditions: { certificateDaysLeft: 14 } },
    ]);
    expect(results[0]).toMatchObject({ healthy: false, status: null, certificateDaysLeft: -1, certificateExpiresFirst: { subject: "Root A gone", role: "root" } });
    expect(results[0].failures).toEqual(['certificate not trusted: CERT_HAS_EXPIRED (no request sent; "insecure": true accepts it)']);
    expect(results[1]).toMatchObject({ healthy: true, status: 200, certificateDaysLeft: 300 });
  });
});
