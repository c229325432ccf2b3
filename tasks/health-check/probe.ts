/**
 * One probe of an endpoint: its own connection (node:net, or node:tls with the peer certificates read
 * from the socket so an expired or self-signed chain still reports its days left), trust checked
 * here, one request, and at most maxBodyBytes of decoded body. What it found is judged by
 * conditions.ts.
 */
import * as http from "node:http";
import * as net from "node:net";
import { pipeline, type Readable } from "node:stream";
import * as tls from "node:tls";
import { oneLine } from "../lib/runtime";
import { contentDecoders } from "./body-decoding";
import type { Endpoint } from "./settings";

/** A certificate of the chain the server presented, as reported: the one that expires first. */
export interface ChainCertificate {
  /** Subject common name (else organization, else the whole subject). */
  subject: string;
  /** Its place in the chain: the server's own certificate, a CA between, or the self-signed anchor. */
  role: "leaf" | "intermediate" | "root";
  /** notAfter, ISO 8601 UTC. */
  notAfter: string;
}

const DAY_MS = 86_400_000;

/** What one probe found; judged by evaluate (conditions.ts). */
export interface Probe {
  status: number | null;
  responseTimeMs: number | null;
  certificateDaysLeft?: number;
  certificateExpiresFirst?: ChainCertificate;
  /** Certificates in the chain, for the warning line. */
  chainLength?: number;
  /** Decoded body, at most maxBodyBytes. */
  body: Buffer;
  /** The body was cut at the cap. */
  truncated: boolean;
  /** Why the body could not be read as a client reads it (content coding); body conditions fail with it. */
  bodyError?: string;
  contentType?: string;
  /** Location header of a redirect. */
  location?: string;
  /** Why no (complete) response: connection error, timeout, trust. */
  errors: string[];
}

/** The check's own headers, with the endpoint's added (theirs win for user-agent, accept and accept-encoding). */
function requestHeaders(url: URL, extra: Record<string, string>): Record<string, string> {
  const own: Record<string, string> = {
    host: url.host,
    "user-agent": "maintenance-regime-health-check",
    accept: "*/*",
    "accept-encoding": "gzip, deflate, br",
    connection: "close",
  };
  for (const name of Object.keys(extra)) delete own[name.toLowerCase()];
  return { ...own, ...extra };
}

function commonName(c: tls.PeerCertificate): string {
  const pick = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const subject = (c.subject ?? {}) as unknown as Record<string, string | string[] | undefined>;
  return pick(subject.CN) ?? pick(subject.O) ?? (Object.entries(subject).map(([k, v]) => `${k}=${String(v)}`).join(", ") || "(no subject)");
}

/**
 * The certificates of the chain as node:tls links it from the peer (getPeerCertificate(true)): the
 * leaf, then each issuer among the certificates the server sent, then the trust anchor when the
 * store holds it; stops where a certificate is its own issuer or repeats.
 */
export function certificateChain(leaf: tls.DetailedPeerCertificate | undefined): { subject: string; role: ChainCertificate["role"]; notAfter: number }[] {
  const out: { subject: string; role: ChainCertificate["role"]; notAfter: number }[] = [];
  const seen = new Set<string>();
  let cur: tls.DetailedPeerCertificate | undefined = leaf;
  while (cur && cur.raw && !seen.has(cur.fingerprint256) && out.length < 32) {
    seen.add(cur.fingerprint256);
    const issuer: tls.DetailedPeerCertificate | undefined = cur.issuerCertificate;
    // A chain the server left incomplete ends without an issuer: that last one is not a root.
    const selfIssued = issuer !== undefined && (issuer === cur || issuer.fingerprint256 === cur.fingerprint256);
    out.push({ subject: commonName(cur), role: out.length === 0 ? "leaf" : selfIssued ? "root" : "intermediate", notAfter: Date.parse(cur.valid_to) });
    cur = issuer;
  }
  return out;
}
/** Opens the connection, checks the certificates, sends one request and reads at most maxBodyBytes of decoded body. */
export function probe(e: Endpoint, maxBodyBytes: number, outer: AbortSignal, headers: Record<string, string> = {}): Promise<Probe> {
  const url = new URL(e.url);
  const https = url.protocol === "https:";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (https ? 443 : 80));
  const started = performance.now();
  const out: Probe = { status: null, responseTimeMs: null, body: Buffer.alloc(0), truncated: false, errors: [] };

  return new Promise<Probe>((resolve) => {
    let phase = "connecting";
    let done = false;
    let socket: net.Socket | undefined;
    let bodyStream: Readable | undefined;
    const chunks: Buffer[] = [];
    let received = 0;

    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      outer.removeEventListener("abort", onAbort);
      if (error) out.errors.push(error);
      out.body = Buffer.concat(chunks, Math.min(received, maxBodyBytes)).subarray(0, maxBodyBytes);
      bodyStream?.destroy();
      socket?.destroy();
      resolve(out);
    };
    const timer = setTimeout(() => finish(`timed out after ${e.timeoutMs} ms ${phase}`), e.timeoutMs);
    const onAbort = () => finish("check aborted");
    if (outer.aborted) return onAbort();
    outer.addEventListener("abort", onAbort, { once: true });

    const request = () => {
      phase = "waiting for the response";
      const req = http.request({
        method: e.method,
        host,
        port,
        path: `${url.pathname}${url.search}`,
        headers: requestHeaders(url, headers),
        createConnection: () => socket,
      });
      req.on("error", (err) => finish(`request failed: ${oneLine(err)}`));
      req.on("response", (res) => {
        out.status = res.statusCode ?? null;
        out.contentType = res.headers["content-type"];
        if (res.headers.location !== undefined) out.location = res.headers.location;
        phase = "reading the body";
        const complete = () => {
          out.responseTimeMs = Math.round(performance.now() - started);
          finish();
        };
        // Response errors (reset, cut off) are reported as such; a decoding error as an unreadable body.
        res.on("error", (err) => finish(`response failed: ${oneLine(err)}`));
        const coding = res.headers["content-encoding"];
        // HEAD, 204 and 304 carry no body, whatever Content-Encoding says.
        const bodyless = e.method === "HEAD" || res.statusCode === 204 || res.statusCode === 304;
        const chain = bodyless ? { decoders: [] } : contentDecoders(coding);
        let body: Readable = res;
        if ("error" in chain) {
          // A body this check cannot decode is not read at all.
          out.bodyError = chain.error;
          return complete();
        } else if (chain.decoders.length) {
          for (const d of chain.decoders) d.on("error", (err) => (out.bodyError ??= `Content-Encoding ${JSON.stringify(coding)} could not be decoded (${d.coding}): ${oneLine(err)}`));
          body = pipeline([res, ...chain.decoders], (err) => {
            if (done || !err) return;
            if (out.bodyError !== undefined) complete();
            else finish(`response failed: ${oneLine(err)}`);
          }) as unknown as Readable;
        }
        bodyStream = body;
        body.on("data", (chunk: Buffer) => {
          if (done || out.bodyError !== undefined) return;
          chunks.push(chunk);
          received += chunk.length;
          if (received > maxBodyBytes) {
            // Enough: close the connection (and stop the decoders) instead of reading the rest.
            out.truncated = true;
            complete();
          }
        });
        body.on("end", complete);
      });
      req.end();
    };

    if (https) {
      socket = tls.connect({
        host,
        port,
        servername: net.isIP(host) ? undefined : host,
        ca: e.ca ? [...tls.rootCertificates, e.ca] : undefined,
        // Trust is decided below, after the certificates were read: an expired certificate must be
        // reported as such, not as a failed connection.
        rejectUnauthorized: false,
        ALPNProtocols: ["http/1.1"],
      });
      socket.once("secureConnect", () => {
        const t = socket as tls.TLSSocket;
        const leaf = t.getPeerCertificate(true);
        const chain = certificateChain(leaf).filter((c) => Number.isFinite(c.notAfter));
        if (chain.length) {
          const first = chain.reduce((a, b) => (b.notAfter < a.notAfter ? b : a));
          out.certificateDaysLeft = Math.round(((first.notAfter - Date.now()) / DAY_MS) * 10) / 10;
          out.certificateExpiresFirst = { subject: first.subject, role: first.role, notAfter: new Date(first.notAfter).toISOString() };
          out.chainLength = chain.length;
        } else out.errors.push("no peer certificate");
        let trust: string | undefined;
        if (!t.authorized) trust = `certificate not trusted: ${oneLine(t.authorizationError ?? "unknown reason")}`;
        else if (leaf && Object.keys(leaf).length) {
          const mismatch = tls.checkServerIdentity(host, leaf);
          if (mismatch) trust = `certificate not trusted: ${oneLine(mismatch)}`;
        }
        if (trust && !e.insecure) return finish(`${trust} (no request sent; "insecure": true accepts it)`);
        request();
      });
    } else {
      socket = net.connect({ host, port });
      socket.once("connect", request);
    }
    socket.on("error", (err) => finish(`connection failed: ${oneLine(err)}`));
  });
}
