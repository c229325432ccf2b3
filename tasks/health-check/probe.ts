/**
 * One request of a check: its own connection (node:net, or node:tls with the peer certificates read
 * from the socket so an expired or self-signed chain still reports its days left), trust checked
 * here, HTTP/2 or HTTP/1.1 as the server chooses through ALPN, one request, and as much decoded body
 * as the conditions need. Redirects are followed by redirects.ts; what was found is judged by
 * conditions.ts.
 */
import * as dns from "node:dns";
import * as http from "node:http";
import * as http2 from "node:http2";
import { X509Certificate } from "node:crypto";
import * as net from "node:net";
import { pipeline, type Readable } from "node:stream";
import * as tls from "node:tls";
import { TextDecoder } from "node:util";
import { oneLine } from "../lib/runtime";
import { contentDecoders, textDecoderFor } from "./body-decoding";

/** A certificate of the chain clients validate, as reported: the one that expires first. */
export interface ChainCertificate {
  /** Subject common name (else organization, else the whole subject). */
  subject: string;
  /** Its place in the chain: the server's own certificate, a CA between, or the trusted anchor. */
  role: "leaf" | "intermediate" | "root";
  /** notAfter, ISO 8601 UTC. */
  notAfter: string;
  /** The host (URL host, with its port when not the default) of the connection whose chain holds it: after redirects, the hop it came from. */
  host: string;
}

const DAY_MS = 86_400_000;

/**
 * How much of the body the conditions need: none (a status-only check: judged at the status and the
 * connection closed, the body neither read nor decoded), until a text is found (bodyContains), or all
 * of it (jsonField: a JSON document is judged whole).
 */
export type BodyNeed = { kind: "none" } | { kind: "contains"; text: string } | { kind: "json" };

/** What one request found; judged by evaluate (conditions.ts). */
export interface Probe {
  status: number | null;
  /** Milliseconds from the check's start to the answer the conditions need: the headers for a status-only check, else the headers and the body the conditions read. */
  responseTimeMs: number | null;
  certificateDaysLeft?: number;
  certificateExpiresFirst?: ChainCertificate;
  /** Certificates compared for certificateDaysLeft (after redirects, those of every https hop), for the warning line. */
  chainLength?: number;
  /** HTTP version of the response: "h2" when the server chose it through ALPN (https), else "http/1.1". */
  protocol?: "h2" | "http/1.1";
  /** Decoded body, at most maxBodyBytes. */
  body: Buffer;
  /** The body was cut at the cap (maxBodyBytes). */
  truncated: boolean;
  /** Why the body could not be read as a client reads it (a corrupt content coding); body conditions fail with it. */
  bodyError?: string;
  /** How the body was read when not as labelled (an unknown content coding passed through), for a body condition's failure line. */
  bodyNote?: string;
  contentType?: string;
  /** Location header of a redirect, its bytes read as UTF-8 when they are valid UTF-8 (else as Latin-1). */
  location?: string;
  /** Set-Cookie headers of the answer, as sent. */
  setCookies?: string[];
  /** The request stopped at the headers because the caller follows this redirect. */
  redirected?: boolean;
  /** Why no (complete) response: connection error, timeout, trust. */
  errors: string[];
}

/** One request: where, how, and what to read of the answer. */
export interface ProbeRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** Extra trusted CA certificate(s), PEM. */
  ca?: string;
  insecure: boolean;
  /** The check's timeout, for the failure line. */
  timeoutMs: number;
  /** performance.now() when the check began (the first request of a redirect chain). */
  started: number;
  /** performance.now() by which the whole check must be answered. */
  deadline: number;
  need: BodyNeed;
  maxBodyBytes: number;
  /** True for a response the caller follows (a redirect): the request ends at its headers. */
  stopAtHeaders?: (status: number, location: string | undefined) => boolean;
  /** A request after redirects: a trust failure names the URL's host (`certificate of host:port not trusted: ...`). */
  nameHost?: boolean;
}

/**
 * Response header bytes accepted (the status line and every field): 256 KiB, what Chromium accepts
 * (net::HttpStreamParser kMaxHeaderBufSize); curl accepts about 100 KB (CURL_MAX_HTTP_HEADER), node
 * 16 KiB by default. Long Content-Security-Policy headers and many Set-Cookie fields behind SSO or a
 * CDN pass 16 KiB.
 */
export const MAX_HEADER_BYTES = 256 * 1024;
/** Header fields of one HTTP/2 answer accepted (node's default maxHeaderListPairs is 128). */
const MAX_HEADER_FIELDS = 2000;

/** The failure line of answer headers over MAX_HEADER_BYTES. */
const HEADERS_TOO_LARGE = `response headers over ${MAX_HEADER_BYTES / 1024} KB (the most browsers accept)`;

/** True for HTTP/1.1 parse errors of headers over the parser's limit. */
function headerOverflow(err: unknown): boolean {
  return (err as { code?: string }).code === "HPE_HEADER_OVERFLOW";
}

/**
 * A header value as node gives it (each byte one Latin-1 character) read as UTF-8 when its bytes are
 * valid UTF-8, as curl and browsers read a Location holding raw UTF-8 (`/café` unencoded); else as is.
 */
export function utf8HeaderValue(value: string): string {
  if (!/[\x80-\xff]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(value, "latin1"));
  } catch {
    return value;
  }
}

/** Host names that are loopback whatever the resolver says (RFC 6761 6.3), as curl resolves them itself. */
const LOOPBACK_NAME = /^(localhost|.+\.localhost)\.?$/i;

/**
 * Name resolution for a connection: every address of the name (dns.lookup with all), tried in turn
 * by node's autoSelectFamily (RFC 8305 Happy Eyeballs), as curl tries each; `localhost` is ::1 and
 * 127.0.0.1 whatever /etc/hosts says, as curl (7.78+) and browsers resolve it, so a service listening
 * on one loopback family only is reached.
 */
const lookupAll: net.LookupFunction = (hostname, options, callback) => {
  if (LOOPBACK_NAME.test(hostname)) {
    const all = [
      { address: "::1", family: 6 },
      { address: "127.0.0.1", family: 4 },
    ].filter((a) => !options.family || a.family === options.family);
    if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, all);
    return callback(null, all[0].address, all[0].family);
  }
  (dns.lookup as (name: string, o: dns.LookupOptions, cb: typeof callback) => void)(hostname, options, callback);
};

/** The connection failure line: each address tried when several were (autoSelectFamily's AggregateError). */
function connectionError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) return [...new Set(err.errors.map((e) => oneLine(e)))].join("; ");
  return oneLine(err);
}

/** The check's own headers, with the endpoint's added (theirs win for user-agent, accept and accept-encoding). */
function requestHeaders(url: URL, extra: Record<string, string>, h2: boolean): Record<string, string> {
  const own: Record<string, string> = {
    "user-agent": "maintenance-regime-health-check",
    accept: "*/*",
    "accept-encoding": "gzip, deflate, br",
  };
  for (const name of Object.keys(extra)) delete own[name.toLowerCase()];
  // HTTP/2 names the host in :authority and has no connection header (RFC 9113 8.2.2).
  return h2 ? { ...own, ...extra } : { host: url.host, ...own, ...extra, connection: "close" };
}

function commonName(c: tls.PeerCertificate | X509Certificate): string {
  if (c instanceof X509Certificate) {
    const field = (k: string) => c.subject.split("\n").find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
    return field("CN") ?? field("O") ?? (c.subject.replace(/\n/g, ", ") || "(no subject)");
  }
  const pick = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const subject = (c.subject ?? {}) as unknown as Record<string, string | string[] | undefined>;
  return pick(subject.CN) ?? pick(subject.O) ?? (Object.entries(subject).map(([k, v]) => `${k}=${String(v)}`).join(", ") || "(no subject)");
}

type ChainEntry = { subject: string; role: ChainCertificate["role"]; notAfter: number };

/**
 * The certificates as node:tls links them from the peer (getPeerCertificate(true)): the leaf, then
 * each issuer among the certificates the server sent, then the anchor when the store holds it;
 * stops where a certificate is its own issuer or repeats. Used for a chain no trusted root anchors.
 */
export function certificateChain(leaf: tls.DetailedPeerCertificate | undefined): ChainEntry[] {
  const out: ChainEntry[] = [];
  for (const [i, cur] of linkedCertificates(leaf).entries()) {
    const issuer: tls.DetailedPeerCertificate | undefined = cur.issuerCertificate;
    // A chain the server left incomplete ends without an issuer: that last one is not a root.
    const selfIssued = issuer !== undefined && (issuer === cur || issuer.fingerprint256 === cur.fingerprint256);
    out.push({ subject: commonName(cur), role: i === 0 ? "leaf" : selfIssued ? "root" : "intermediate", notAfter: Date.parse(cur.valid_to) });
  }
  return out;
}

/** The peer's certificates along node's issuer links, each once, at most 32. */
function linkedCertificates(leaf: tls.DetailedPeerCertificate | undefined): tls.DetailedPeerCertificate[] {
  const out: tls.DetailedPeerCertificate[] = [];
  const seen = new Set<string>();
  let cur = leaf;
  while (cur && cur.raw && !seen.has(cur.fingerprint256) && out.length < 32) {
    seen.add(cur.fingerprint256);
    out.push(cur);
    cur = cur.issuerCertificate;
  }
  return out;
}

let bundledRoots: X509Certificate[] | undefined;

/** The certificates of PEM text (several in a row), those that parse. */
function pemCertificates(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const block of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    try {
      out.push(new X509Certificate(block));
    } catch {
      /* not a certificate: the TLS connection reports what it makes of it */
    }
  }
  return out;
}

/** The trust store the connection verifies against: node's bundled roots (tls.rootCertificates) and the endpoint's ca. */
function trustStore(ca: string | undefined): X509Certificate[] {
  bundledRoots ??= tls.rootCertificates.flatMap(pemCertificates);
  return ca ? [...pemCertificates(ca), ...bundledRoots] : bundledRoots;
}

/** `issuer` issued `cert`: names (and key identifiers) match and its key verifies the signature. */
function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * The chain a client validates, leaf first, up to a trusted anchor, built as OpenSSL builds it
 * (crypto/x509/x509_vfy.c, build_chain with X509_V_FLAG_TRUSTED_FIRST, its default): at each
 * certificate, a trusted issuer first (the trust store: X509_STORE_CTX_get1_issuer), else one of the
 * certificates the server sent, in the order sent (find_issuer); among several that could issue it
 * (a re-issued root: same subject and key, new dates; an intermediate cross-signed by two roots; an
 * old and a renewed copy of an intermediate) the first that is valid at that moment, else the one
 * expiring last. No step is revisited: an intermediate that is itself valid is taken even when its
 * root has expired, and the chain then fails (CERT_HAS_EXPIRED). It stops at the first certificate
 * that is itself trusted, so certificates sent beyond it play no part.
 *
 * The chain returned is the one in use just before the endpoint stops validating: the chain is
 * built again at each moment a certificate involved starts or stops being valid, and the last one
 * that still validates is kept. So a renewed intermediate sent after an old one counts (the old one
 * expires, the client takes the renewal), and a cross-signed copy sent first whose root runs out
 * soon counts with that root's date (the client never switches to the other root). A chain that
 * does not validate now is returned as built now (its expired certificate named). When OpenSSL's
 * order finds no trusted anchor, the anchored path through the sent certificates that expires last
 * is given instead (for the days of a chain the client refuses); undefined when there is none.
 *
 * `sent`: the peer's certificates, leaf first; `trusted`: the trust store; `now`: ms since the epoch.
 */
export function validatedChain(sent: X509Certificate[], trusted: X509Certificate[], now = Date.now()): ChainEntry[] | undefined {
  const leaf = sent[0];
  if (!leaf) return undefined;
  const trustedPrints = new Set(trusted.map((t) => t.fingerprint256));
  const from = (c: X509Certificate) => Date.parse(c.validFrom);
  const to = (c: X509Certificate) => Date.parse(c.validTo);
  const validAt = (c: X509Certificate, t: number) => from(c) <= t && to(c) > t;
  // Signature checks are the cost: one per pair, whatever the number of moments tried.
  const issued = new Map<string, boolean>();
  const issuedByOnce = (cert: X509Certificate, issuer: X509Certificate) => {
    const k = `${cert.fingerprint256}/${issuer.fingerprint256}`;
    if (!issued.has(k)) issued.set(k, issuedBy(cert, issuer));
    return issued.get(k)!;
  };
  const pick = (candidates: X509Certificate[], t: number) => candidates.find((c) => validAt(c, t)) ?? candidates.reduce((a, b) => (to(b) > to(a) ? b : a));
  const build = (t: number): X509Certificate[] | undefined => {
    const path = [leaf];
    while (path.length <= 16) {
      const cur = path[path.length - 1];
      if (trustedPrints.has(cur.fingerprint256)) return path;
      const anchors = trusted.filter((a) => issuedByOnce(cur, a));
      if (anchors.length) return [...path, pick(anchors, t)];
      const next = sent.filter((n) => !path.some((p) => p.fingerprint256 === n.fingerprint256) && issuedByOnce(cur, n));
      if (next.length === 0) return undefined;
      path.push(pick(next, t));
    }
    return undefined;
  };
  const entries = (path: X509Certificate[]): ChainEntry[] =>
    path.map((c, i) => ({
      subject: commonName(c),
      role: i === 0 ? ("leaf" as const) : i === path.length - 1 ? ("root" as const) : ("intermediate" as const),
      notAfter: to(c),
    }));

  let chain = build(now);
  if (!chain) {
    const refused = anchoredPathExpiringLast(leaf, sent, trusted, trustedPrints, issuedByOnce, validAt, now);
    return refused && entries(refused);
  }
  if (!chain.every((c) => validAt(c, now))) return entries(chain);
  const moments = [...new Set([...sent, ...trusted].flatMap((c) => [from(c), to(c)]).filter((t) => t > now))].sort((a, b) => a - b);
  for (const t of moments) {
    const next = build(t);
    if (!next || !next.every((c) => validAt(c, t))) break;
    chain = next;
  }
  return entries(chain);
}

/** Partial paths explored before the best one found so far is taken: bounds a pathological chain (many copies issuing each other). */
const MAX_STEPS = 1000;

/**
 * For a chain OpenSSL's order leaves without a trusted anchor (validatedChain): of every path from
 * the leaf through the sent certificates to a trusted one, the one valid now that expires last, else
 * the one expiring last, so the days reported are those of the nearest chain the client could have
 * validated. Bounded by MAX_STEPS partial paths.
 */
function anchoredPathExpiringLast(
  leaf: X509Certificate,
  sent: X509Certificate[],
  trusted: X509Certificate[],
  trustedPrints: Set<string>,
  issued: (cert: X509Certificate, issuer: X509Certificate) => boolean,
  validAt: (c: X509Certificate, t: number) => boolean,
  now: number,
): X509Certificate[] | undefined {
  let best: { path: X509Certificate[]; valid: boolean; expires: number } | undefined;
  let steps = 0;
  const consider = (path: X509Certificate[]) => {
    const valid = path.every((c) => validAt(c, now));
    const expires = Math.min(...path.map((c) => Date.parse(c.validTo)));
    if (!best || (valid && !best.valid) || (valid === best.valid && expires > best.expires)) best = { path, valid, expires };
  };
  const extend = (path: X509Certificate[]) => {
    const cur = path[path.length - 1];
    if (++steps > MAX_STEPS || path.length > 16) return;
    if (trustedPrints.has(cur.fingerprint256)) return consider(path);
    const anchors = trusted.filter((t) => issued(cur, t));
    if (anchors.length) return anchors.forEach((a) => consider([...path, a]));
    for (const next of sent) {
      if (!path.some((p) => p.fingerprint256 === next.fingerprint256) && issued(cur, next)) extend([...path, next]);
    }
  };
  extend([leaf]);
  return best?.path;
}

/**
 * The certificates the server sent, in the order it sent them (leaf first), each once, at most 32:
 * node gives the peer's X509Certificate with the rest of SSL_get_peer_cert_chain behind it as
 * issuerCertificate, one after another, unlinked (node's X509Certificate::GetPeerCert). Unlike
 * getPeerCertificate(true), which links each certificate to the first one in the list that names
 * its issuer and drops the others, this keeps every copy the server sent (a renewed intermediate
 * beside the old one), so the chain can be built as OpenSSL built it.
 */
function sentCertificates(t: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c: X509Certificate | undefined = t.getPeerX509Certificate(); c && !seen.has(c.fingerprint256) && out.length < 32; c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    out.push(c);
  }
  return out;
}

/** The certificates of the connection: the validated chain, else (untrusted) the sent one as linked. */
function peerChain(t: tls.TLSSocket, ca: string | undefined): ChainEntry[] {
  const leaf = t.getPeerCertificate(true);
  let sent: X509Certificate[] = [];
  try {
    sent = sentCertificates(t);
  } catch {
    /* a certificate node could not parse: the linked chain below */
  }
  return (validatedChain(sent, trustStore(ca)) ?? certificateChain(leaf)).filter((c) => Number.isFinite(c.notAfter));
}

/** Opens the connection, checks the certificates, sends one request and reads the body the conditions need. */
export function probe(r: ProbeRequest, outer: AbortSignal): Promise<Probe> {
  const url = new URL(r.url);
  const https = url.protocol === "https:";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (https ? 443 : 80));
  const out: Probe = { status: null, responseTimeMs: null, body: Buffer.alloc(0), truncated: false, errors: [] };
  const elapsed = () => Math.round(performance.now() - r.started);
  const cap = r.maxBodyBytes;

  return new Promise<Probe>((resolve) => {
    let phase = "connecting";
    let done = false;
    let socket: net.Socket | undefined;
    let session: http2.ClientHttp2Session | undefined;
    let bodyStream: Readable | undefined;
    let headersMs: number | null = null;
    const chunks: Buffer[] = [];
    let received = 0;

    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      outer.removeEventListener("abort", onAbort);
      if (error) out.errors.push(error);
      out.body = Buffer.concat(chunks, Math.min(received, cap)).subarray(0, cap);
      bodyStream?.destroy();
      session?.destroy();
      socket?.destroy();
      resolve(out);
    };
    const onTimeout = () => {
      // A status-only check has its answer with the headers (it never reads the body).
      if (phase === "reading the body" && r.need.kind === "none") {
        out.responseTimeMs = headersMs;
        return finish();
      }
      // Which bound stopped the body: the timeout, short of the cap (the cap itself ends the read as truncated).
      const read = phase === "reading the body" ? ` (${received} bytes read, MAX_BODY_BYTES ${cap} not reached)` : "";
      finish(`timed out after ${r.timeoutMs} ms ${phase}${read}`);
    };
    const timer = setTimeout(onTimeout, Math.max(0, r.deadline - performance.now()));
    const onAbort = () => finish("check aborted");
    if (outer.aborted) return onAbort();
    outer.addEventListener("abort", onAbort, { once: true });

    /** The response's status and headers arrived; reads its body as the conditions need. */
    const onResponse = (protocol: Probe["protocol"], status: number, headers: http.IncomingHttpHeaders, res: Readable) => {
      out.protocol = protocol;
      out.status = status;
      headersMs = elapsed();
      out.contentType = headers["content-type"];
      if (headers.location !== undefined) out.location = utf8HeaderValue(headers.location);
      const setCookie = headers["set-cookie"];
      if (setCookie !== undefined) out.setCookies = Array.isArray(setCookie) ? setCookie : [setCookie];
      if (r.stopAtHeaders?.(status, out.location)) {
        out.redirected = true;
        out.responseTimeMs = headersMs;
        return finish();
      }
      phase = "reading the body";
      // A status-only check is timed at its headers; a body condition when its body is read.
      const complete = () => {
        out.responseTimeMs = r.need.kind === "none" ? headersMs : elapsed();
        finish();
      };
      // Response errors (reset, cut off) are reported as such; a decoding error as an unreadable body.
      res.on("error", (err) => finish(`response failed: ${oneLine(err)}`));
      const coding = headers["content-encoding"];
      // HEAD, 204 and 304 carry no body, whatever Content-Encoding says; a status-only check reads
      // the body as sent (to its end, the cap or the timeout) and decodes none of it.
      const bodyless = r.method === "HEAD" || status === 204 || status === 304;
      const chain = bodyless || r.need.kind === "none" ? { decoders: [] } : contentDecoders(coding);
      if ("note" in chain && chain.note) out.bodyNote = chain.note;
      let body: Readable = res;
      if (chain.decoders.length) {
        for (const d of chain.decoders) d.on("error", (err) => (out.bodyError ??= `Content-Encoding ${JSON.stringify(coding)} could not be decoded (${d.coding}): ${oneLine(err)}`));
        body = pipeline([res, ...chain.decoders], (err) => {
          if (done || !err) return;
          if (out.bodyError !== undefined) complete();
          else finish(`response failed: ${oneLine(err)}`);
        }) as unknown as Readable;
      }
      bodyStream = body;
      // A status-only check has its answer: the connection is closed now, not at the body's end (a
      // body may never end: server-sent events, a long download); its coding is not undone (no
      // condition reads it).
      if (r.need.kind === "none" && !chain.decoders.length) return complete();
      // bodyContains: the text decoded as it arrives and searched in what is new (with the end of
      // what came before, for a text cut between chunks).
      let text: TextDecoder | undefined;
      let tail = "";
      const found = (wanted: string): boolean => {
        if (!text) {
          if (received < 3) return false; // the byte-order mark, if any, is not complete yet
          const head = Buffer.concat(chunks, received);
          text = textDecoderFor(head, out.contentType).decoder;
          tail = text.decode(head, { stream: true });
        } else tail += text.decode(chunks[chunks.length - 1], { stream: true });
        if (tail.includes(wanted)) return true;
        tail = tail.slice(-(wanted.length - 1) || tail.length);
        return false;
      };
      body.on("data", (chunk: Buffer) => {
        if (done || out.bodyError !== undefined) return;
        chunks.push(chunk);
        received += chunk.length;
        if (received > cap) {
          // Enough: close the connection (and stop the decoders) instead of reading the rest.
          out.truncated = true;
          return complete();
        }
        // bodyContains has its answer once the text is found, a status-only check once its coding
        // decoded: the rest is not read.
        if (r.need.kind === "none" || (r.need.kind === "contains" && found(r.need.text))) complete();
      });
      body.on("end", complete);
    };

    const requestH1 = () => {
      phase = "waiting for the response";
      const req = http.request({
        method: r.method,
        host,
        port,
        path: `${url.pathname}${url.search}`,
        headers: requestHeaders(url, r.headers, false),
        createConnection: () => socket,
        // Parse answers as leniently as curl and browsers do (bare LF line ends, control characters in
        // a header value): node's strict parser refuses them, and a server its users reach is not
        // down for that. One request per connection: nothing to smuggle.
        insecureHTTPParser: true,
        maxHeaderSize: MAX_HEADER_BYTES,
      });
      req.on("error", (err) => finish(headerOverflow(err) ? HEADERS_TOO_LARGE : `request failed: ${oneLine(err)}`));
      req.on("response", (res) => onResponse("http/1.1", res.statusCode ?? 0, res.headers, res));
      req.end();
    };

    const requestH2 = (t: tls.TLSSocket) => {
      phase = "waiting for the response";
      session = http2.connect(`https://${url.host}`, {
        createConnection: () => t,
        maxHeaderListPairs: MAX_HEADER_FIELDS,
        // Advertised to the server (SETTINGS_MAX_HEADER_LIST_SIZE) and enforced on its answer.
        settings: { maxHeaderListSize: MAX_HEADER_BYTES },
      });
      session.on("error", (err) => finish(`connection failed: ${oneLine(err)}`));
      const stream = session.request(
        { ":method": r.method, ":path": `${url.pathname}${url.search}`, ":authority": url.host, ...requestHeaders(url, r.headers, true) },
        { endStream: true },
      );
      stream.on("error", (err) => finish(`request failed: ${oneLine(err)}`));
      // Informational (1xx) headers arrive as "headers" events; "response" is the final answer.
      stream.on("response", (h) => onResponse("h2", Number(h[":status"]), h as http.IncomingHttpHeaders, stream));
    };

    if (https) {
      socket = tls.connect({
        host,
        port,
        lookup: lookupAll,
        // Passed on to the net.Socket under it (@types/node's ConnectionOptions lacks it).
        ...({ autoSelectFamily: true } as object),
        // SNI carries host names only (RFC 6066 3): none for an IP address.
        servername: net.isIP(host) ? undefined : host,
        ca: r.ca ? [...tls.rootCertificates, r.ca] : undefined,
        // A ca holding an intermediate (not its root) is a trust anchor, as curl takes it (OpenSSL
        // X509_V_FLAG_PARTIAL_CHAIN, which curl sets): the chain is verified up to it, with every
        // other check kept (each certificate's dates, the anchor's included; signatures; CA and
        // key-usage constraints; the host below). Node 20.18 / 22.9 and later.
        allowPartialTrustChain: true,
        // Trust is decided below, after the certificates were read: an expired certificate must be
        // reported as such, not as a failed connection.
        rejectUnauthorized: false,
        // As browsers and curl: HTTP/2 when the server chooses it, else HTTP/1.1.
        ALPNProtocols: ["h2", "http/1.1"],
      });
      socket.once("secureConnect", () => {
        const t = socket as tls.TLSSocket;
        const leaf = t.getPeerCertificate();
        const chain = peerChain(t, r.ca);
        if (chain.length) {
          const first = chain.reduce((a, b) => (b.notAfter < a.notAfter ? b : a));
          out.certificateDaysLeft = Math.round(((first.notAfter - Date.now()) / DAY_MS) * 10) / 10;
          out.certificateExpiresFirst = { subject: first.subject, role: first.role, notAfter: new Date(first.notAfter).toISOString(), host: url.host };
          out.chainLength = chain.length;
        } else out.errors.push("no peer certificate");
        let trust: string | undefined;
        const untrusted = `certificate ${r.nameHost ? `of ${url.host} ` : ""}not trusted`;
        if (!t.authorized) trust = `${untrusted}: ${oneLine(t.authorizationError ?? "unknown reason")}`;
        else if (leaf && Object.keys(leaf).length) {
          const mismatch = tls.checkServerIdentity(host, leaf);
          if (mismatch) trust = `${untrusted}: ${oneLine(mismatch)}`;
        }
        if (trust && !r.insecure) return finish(`${trust} (no request sent; "insecure": true accepts it)`);
        if (t.alpnProtocol === "h2") requestH2(t);
        else requestH1();
      });
    } else {
      socket = net.connect({ host, port, lookup: lookupAll, autoSelectFamily: true });
      socket.once("connect", requestH1);
    }
    socket.on("error", (err) => finish(`connection failed: ${connectionError(err)}`));
  });
}
