/**
 * The body read as an HTTP client reads it, against a server on 127.0.0.1 that compresses with
 * node:zlib: gzip (asked for, and sent although not asked for), deflate zlib-wrapped and raw, br,
 * stacked codings, an unknown coding, a corrupt one, a decompression bomb that must stop at the byte
 * bound, and text in ISO-8859-1, UTF-16 with a byte-order mark and UTF-8 behind a BOM.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentDecoders, decodeBody } from "../tasks/health-check/body-decoding";
import { checkAll } from "../tasks/health-check/check";
import { healthCheckSettings, type EndpointInput } from "../tasks/health-check/settings";
import { parseSettings } from "../tasks/lib/runtime";

const JSON_OK = JSON.stringify({ status: "ok", service: "api", checks: { db: "up" } });
/** One gzip member of 10 MiB of zeros (about 10 KB); the same member repeated is still one valid gzip body. */
const BOMB_MEMBER = zlib.gzipSync(Buffer.alloc(10 * 1024 * 1024), { level: 9 });
const BOMB_MEMBERS = 5000; // 50 GiB decoded, about 50 MB on the wire
let bombWritten = 0;
let bombClosedEarly = false;
const seenAcceptEncoding: (string | undefined)[] = [];
let base = "";
let server: http.Server;

function send(res: http.ServerResponse, headers: Record<string, string>, body: Buffer): void {
  res.writeHead(200, { "content-length": String(body.length), ...headers });
  res.end(body);
}

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  seenAcceptEncoding.push(req.headers["accept-encoding"]);
  const json = { "content-type": "application/json" };
  const text = Buffer.from(JSON_OK);
  switch (req.url) {
    case "/gzip":
      // Compresses only when asked, as a well-behaved server does.
      if (String(req.headers["accept-encoding"]).includes("gzip")) return send(res, { ...json, "content-encoding": "gzip" }, zlib.gzipSync(text));
      return send(res, json, text);
    case "/gzip-always":
      return send(res, { ...json, "content-encoding": "gzip" }, zlib.gzipSync(text));
    case "/x-gzip":
      return send(res, { ...json, "content-encoding": "x-gzip" }, zlib.gzipSync(text));
    case "/deflate":
      return send(res, { ...json, "content-encoding": "deflate" }, zlib.deflateSync(text));
    case "/deflate-raw":
      return send(res, { ...json, "content-encoding": "deflate" }, zlib.deflateRawSync(text));
    case "/br":
      return send(res, { ...json, "content-encoding": "br" }, zlib.brotliCompressSync(text));
    case "/gzip-br":
      // Applied in the order listed: gzip first, then br.
      return send(res, { ...json, "content-encoding": "gzip, br" }, zlib.brotliCompressSync(zlib.gzipSync(text)));
    case "/deflate-identity-gzip":
      return send(res, { ...json, "content-encoding": "Deflate, identity,GZIP" }, zlib.gzipSync(zlib.deflateRawSync(text)));
    case "/zstd":
      return send(res, { ...json, "content-encoding": "zstd" }, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]));
    case "/utf8-coding":
      // PHP's header("Content-Encoding: UTF-8"): the body is plain JSON.
      return send(res, { ...json, "content-encoding": "UTF-8" }, text);
    case "/corrupt-gzip":
      return send(res, { ...json, "content-encoding": "gzip" }, Buffer.concat([zlib.gzipSync(text).subarray(0, 12), Buffer.from("not deflate data at all")]));
    case "/empty-gzip":
      res.writeHead(204, { "content-encoding": "gzip" });
      return void res.end();
    case "/latin1":
      return send(res, { "content-type": "text/plain; charset=ISO-8859-1" }, Buffer.from("Statut: opérationnel, café prêt", "latin1"));
    case "/latin1-gzip":
      return send(res, { "content-type": "text/plain;charset=\"iso-8859-1\"", "content-encoding": "gzip" }, zlib.gzipSync(Buffer.from("Statut: opérationnel", "latin1")));
    case "/utf16le-bom":
      return send(res, { "content-type": "application/json; charset=utf-16le" }, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON_OK, "utf16le")]));
    case "/utf16le-bom-no-charset":
      return send(res, json, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON_OK, "utf16le")]));
    case "/utf16be-bom": {
      const le = Buffer.from(JSON_OK, "utf16le");
      return send(res, json, Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(le).swap16()]));
    }
    case "/utf8-bom":
      return send(res, { "content-type": "application/json; charset=utf-8" }, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]));
    case "/unknown-charset":
      return send(res, { "content-type": "text/plain; charset=x-klingon" }, Buffer.from("ok"));
    case "/bomb": {
      res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" });
      let sent = 0;
      const pump = () => {
        while (sent < BOMB_MEMBERS && !res.destroyed) {
          sent++;
          bombWritten += BOMB_MEMBER.length;
          if (!res.write(BOMB_MEMBER)) return void res.once("drain", pump);
        }
        if (!res.destroyed) res.end();
      };
      res.on("close", () => (bombClosedEarly = sent < BOMB_MEMBERS || !res.writableFinished));
      return pump();
    }
    default:
      res.statusCode = 404;
      res.end();
  }
}

beforeAll(async () => {
  server = http.createServer(route);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const check = (endpoints: EndpointInput[]) => checkAll(parseSettings(healthCheckSettings, { ENDPOINTS: JSON.stringify(endpoints) }), new AbortController().signal);
const wantsOk = (path: string, extra: Partial<EndpointInput> = {}): EndpointInput => ({
  name: path.slice(1),
  url: `${base}${path}`,
  conditions: { jsonField: { path: "checks.db", equals: "up" }, bodyContains: '"status":"ok"' },
  ...extra,
});

describe("content codings", () => {
  it("gzip is asked for (Accept-Encoding: gzip, deflate, br) and decoded before bodyContains and jsonField", async () => {
    seenAcceptEncoding.length = 0;
    const { results } = await check([wantsOk("/gzip")]);
    expect(seenAcceptEncoding).toEqual(["gzip, deflate, br"]);
    expect(results[0]).toMatchObject({ healthy: true, status: 200, failures: [] });
  });

  it("a server that compresses although asked not to (Accept-Encoding: identity from the endpoint's headers) is decoded too", async () => {
    seenAcceptEncoding.length = 0;
    const { results } = await check([wantsOk("/gzip-always", { headers: { "Accept-Encoding": "identity" } }), wantsOk("/gzip", { name: "plain", headers: { "Accept-Encoding": "identity" } })]);
    expect(seenAcceptEncoding).toEqual(["identity", "identity"]);
    expect(results.map((r) => [r.name, r.healthy, r.failures])).toEqual([
      ["gzip-always", true, []],
      ["plain", true, []],
    ]);
  });

  it("x-gzip, deflate zlib-wrapped and raw, br, stacked gzip then br, and deflate-identity-gzip in mixed case", async () => {
    const { results } = await check(["/x-gzip", "/deflate", "/deflate-raw", "/br", "/gzip-br", "/deflate-identity-gzip"].map((p) => wantsOk(p)));
    expect(results.map((r) => [r.name, r.healthy, r.failures])).toEqual([
      ["x-gzip", true, []],
      ["deflate", true, []],
      ["deflate-raw", true, []],
      ["br", true, []],
      ["gzip-br", true, []],
      ["deflate-identity-gzip", true, []],
    ]);
  });

  it("an unknown coding passes through as sent, as browsers pass it: PHP's `UTF-8` body is judged; compressed bytes fail the body condition saying so", async () => {
    const { results } = await check([wantsOk("/utf8-coding"), wantsOk("/zstd")]);
    expect(results[0]).toMatchObject({ healthy: true, status: 200, failures: [] });
    expect(results[1]).toMatchObject({
      healthy: false,
      status: 200,
      failures: [
        'body does not contain "\\"status\\":\\"ok\\"" (Content-Encoding "zstd" is not one this check decodes (gzip, deflate, br): body read as sent, as browsers do)',
        'body is not JSON (wanted checks.db == "up") (Content-Encoding "zstd" is not one this check decodes (gzip, deflate, br): body read as sent, as browsers do)',
      ],
    });
  });

  it("a corrupt gzip body fails a condition that reads it; a status-only check decodes no body, so neither it nor an unknown coding fails one", async () => {
    const { results } = await check([
      wantsOk("/corrupt-gzip"),
      { name: "corrupt-status-only", url: `${base}/corrupt-gzip` },
      { name: "zstd-status-only", url: `${base}/zstd` },
      { name: "utf8-coding-status-only", url: `${base}/utf8-coding` },
    ]);
    expect(results[0]).toMatchObject({ healthy: false, status: 200 });
    expect(results[0].failures).toEqual([expect.stringMatching(/^body not readable: Content-Encoding "gzip" could not be decoded \(gzip\): /)]);
    expect(results.slice(1).map((r) => [r.name, r.healthy, r.status, r.failures])).toEqual([
      ["corrupt-status-only", true, 200, []],
      ["zstd-status-only", true, 200, []],
      ["utf8-coding-status-only", true, 200, []],
    ]);
  });

  it("an empty gzip response (204) and HEAD requests need no decoding, even of an unknown coding", async () => {
    const { results } = await check([
      { name: "empty", url: `${base}/empty-gzip`, conditions: { status: 204 } },
      { name: "head", url: `${base}/gzip`, method: "HEAD" },
      { name: "head-zstd", url: `${base}/zstd`, method: "HEAD" },
    ]);
    expect(results.map((r) => [r.name, r.healthy, r.status, r.failures])).toEqual([
      ["empty", true, 204, []],
      ["head", true, 200, []],
      ["head-zstd", true, 200, []],
    ]);
  });
});

describe("a decompression bomb stops at the byte bound", () => {
  it("50 GiB of zeros in 50 MB of gzip: 2 MiB (MAX_BODY_BYTES) decoded, the connection closed, the server stopped far short", async () => {
    bombWritten = 0;
    bombClosedEarly = false;
    const { results } = await check([{ name: "bomb", url: `${base}/bomb`, conditions: { bodyContains: "needle" } }]);
    expect(results[0]).toMatchObject({ healthy: false, status: 200, failures: ['body (first 2097152 bytes: MAX_BODY_BYTES reached) does not contain "needle"'] });
    await new Promise((r) => setTimeout(r, 100));
    expect(bombClosedEarly).toBe(true);
    // What left the server is socket buffers, not the 50 MB (let alone 50 GiB decoded).
    expect(bombWritten).toBeLessThan((BOMB_MEMBERS * BOMB_MEMBER.length) / 5);
  });

  it("a decoder fed one chunk that expands to 1 GiB produces only what is read: zlib waits, the chunk stays unconsumed", async () => {
    const chain = contentDecoders("gzip");
    const [decoder] = chain.decoders;
    const chunk = Buffer.concat(Array.from({ length: 100 }, () => BOMB_MEMBER)); // ~1 MB in, 1000 MiB out
    let consumed = false;
    decoder.write(chunk, () => (consumed = true));
    const read: Buffer[] = [];
    let total = 0;
    await new Promise<void>((resolve) => {
      const take = () => {
        let c: Buffer | null;
        while (total < 64 * 1024 && (c = decoder.read() as Buffer | null) !== null) {
          read.push(c);
          total += c.length;
        }
        if (total >= 64 * 1024) {
          decoder.off("readable", take);
          resolve();
        }
      };
      decoder.on("readable", take);
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(total).toBeGreaterThanOrEqual(64 * 1024);
    // Buffered but unread: bounded by the streams' high-water marks, not by the 1000 MiB.
    expect(decoder.readableLength).toBeLessThanOrEqual(64 * 1024);
    expect(consumed).toBe(false);
    decoder.destroy();
  });
});

describe("charsets and byte-order marks", () => {
  it("charset=iso-8859-1 (also quoted, also behind gzip) is decoded before bodyContains", async () => {
    const { results } = await check([
      { name: "latin1", url: `${base}/latin1`, conditions: { bodyContains: "opérationnel, café prêt" } },
      { name: "latin1-gzip", url: `${base}/latin1-gzip`, conditions: { bodyContains: "opérationnel" } },
    ]);
    expect(results.map((r) => [r.name, r.healthy, r.failures])).toEqual([
      ["latin1", true, []],
      ["latin1-gzip", true, []],
    ]);
  });

  it("UTF-16LE with a BOM (with or without charset), UTF-16BE with a BOM, and a UTF-8 BOM before JSON all pass jsonField", async () => {
    const { results } = await check(["/utf16le-bom", "/utf16le-bom-no-charset", "/utf16be-bom", "/utf8-bom"].map((p) => wantsOk(p)));
    expect(results.map((r) => [r.name, r.healthy, r.failures])).toEqual([
      ["utf16le-bom", true, []],
      ["utf16le-bom-no-charset", true, []],
      ["utf16be-bom", true, []],
      ["utf8-bom", true, []],
    ]);
  });

  it("an unknown charset label is ignored as browsers do (read as UTF-8): available when the text matches, named when it does not", async () => {
    const { results } = await check([
      { name: "klingon-ok", url: `${base}/unknown-charset`, conditions: { bodyContains: "ok" } },
      { name: "klingon-missing", url: `${base}/unknown-charset`, conditions: { bodyContains: "ready" } },
    ]);
    expect(results[0]).toMatchObject({ healthy: true, failures: [] });
    expect(results[1].failures).toEqual(['body does not contain "ready" (charset "x-klingon" of Content-Type is unknown: read as UTF-8)']);
  });

  it("decodeBody: the BOM wins over the charset and is removed; no charset means UTF-8", () => {
    const bomThenUtf8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("héllo")]);
    expect(decodeBody(bomThenUtf8, "text/plain; charset=iso-8859-1")).toEqual({ text: "héllo" });
    expect(decodeBody(Buffer.from("héllo"), undefined)).toEqual({ text: "héllo" });
    expect(decodeBody(Buffer.from("h\xe9llo", "latin1"), "text/html; Charset = latin1")).toEqual({ text: "héllo" });
    expect(decodeBody(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("ok", "utf16le")]), "text/plain; charset=x-unknown")).toEqual({ text: "ok" });
  });
});
