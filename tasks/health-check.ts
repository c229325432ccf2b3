/**
 * Endpoint health checks in the manner of Gatus: each endpoint has a few small conditions instead of
 * code, and every endpoint of the list is checked concurrently (CONCURRENCY at a time) within its own
 * timeout.
 *
 * ENDPOINTS is a JSON list:
 *   [{ "name": "api", "url": "https://api.example.com/health", "method": "GET", "timeoutMs": 10000,
 *      "insecure": false, "ca": "-----BEGIN CERTIFICATE-----...",
 *      "headersSecretArn": "arn:aws:secretsmanager:...:secret:api-health-AbCdEf",
 *      "headers": { "Authorization": "Bearer ..." },   // command line only: refused in Lambda
 *      "conditions": {
 *        "status": 200,                      // or [200, 204], "2xx", "200-299", or a list of those
 *        "bodyContains": "ok",               // within the first MAX_BODY_BYTES of the decoded body
 *        "jsonField": { "path": "status", "equals": "ok" },   // dotted path, `items.0.state` indexes arrays
 *        "responseTimeMs": 500,              // slow above this (headers and capped body included)
 *        "certificateDaysLeft": 14           // expiring below this, https only
 *      } }]
 * Conditions default to { "status": 200 }.
 *
 * Two kinds of condition. Availability: the endpoint answered (connection, trust, no timeout) and
 * the answer is right (status, bodyContains, jsonField). An endpoint failing one of these is
 * unhealthy: `healthy` false, its reasons in `failures`, the Healthy metric 0 (the down alarm and the
 * error-budget burn alarms read it), and the run fails. Signals: a response slower than
 * responseTimeMs, a certificate of the chain with fewer than certificateDaysLeft days left. They are
 * reported in `warnings` and through their own metrics (ResponseTime, CertificateDaysLeft) whose
 * alarms page their own severities; they never lower Healthy and never fail the run, so a slow or
 * expiring endpoint is neither "down" nor a failed run (exit 0, no Lambda error).
 *
 * TLS: the connection is opened with node:tls and the peer certificates are read from that socket, so
 * their days left are known even when one is expired or self-signed. Days left are those of the
 * certificate of the chain that expires first (`certificateExpiresFirst` names it): the leaf, the
 * intermediates the server sends (linked by issuer, in any order they are sent) and the root that
 * anchors them (sent, or from the trust store). Trust is then checked here (chain against the system
 * roots or `ca`, and the host name): an untrusted certificate, an expired one anywhere in the chain
 * included, is a failure and no request is sent over the connection, unless `insecure` is true
 * (days left are still reported then).
 *
 * The body is read as an HTTP client reads it: the request offers `Accept-Encoding: gzip, deflate,
 * br`, and the content codings of Content-Encoding (gzip and x-gzip, deflate zlib-wrapped or raw, br,
 * identity; stacked ones such as `gzip, br` undone in reverse order) are decoded with node:zlib
 * streams; the text is decoded with TextDecoder from the byte-order mark, else the Content-Type
 * charset (an unknown label is ignored, as browsers do), else UTF-8. At most MAX_BODY_BYTES (64 KiB) of decoded body are read, then the connection
 * is closed: the decoders run under back-pressure, so a huge, endless or decompression-bomb body
 * costs no more than that. A body that cannot be decoded (unknown content coding, corrupt data) is a
 * wrong answer, body conditions or not: no client could read it. Each
 * endpoint has one connection of its own (no keep-alive), so the response time includes DNS, TCP and
 * TLS set-up, as a user's first request would.
 *
 * Request headers: `headersSecretArn` names a Secrets Manager secret whose SecretString is a JSON
 * object of header name to value ({"Authorization": "Bearer ..."}). It is read with GetSecretValue
 * when a run first needs it and kept for the life of the process (a Lambda cold start): values
 * never travel in environment variables, and the function's role may read exactly those secrets.
 * `headers` gives them inline for a local run (`--header "Name: value"`); in Lambda inline headers
 * are refused. When a secret cannot be read or has a bad shape, its endpoints are unhealthy with the
 * reason and no request is sent. Header values never appear in results, logs or errors.
 *
 * Credentials in URLs: a user name or password in a URL (`https://admin:pw@host/`) is refused, and in
 * Lambda so is a credential-like query parameter (`?token=`, `api_key=`): both would sit in the
 * environment; give them as a header. Everything the task prints (result, failure line, logs, the
 * Endpoint dimension when the name defaults to the URL, a redirect's Location) has URLs redacted
 * (tasks/lib/url-credentials.ts).
 *
 * Metrics (Endpoint dimension, published at once): Healthy (0/1, availability only), ResponseTime
 * (ms, when a response arrived), CertificateDaysLeft (https, the chain's earliest expiry).
 */
import { getMaxListeners, setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { Duplex, pipeline, type Readable } from "node:stream";
import * as tls from "node:tls";
import { TextDecoder } from "node:util";
import * as zlib from "node:zlib";
import { z } from "zod";
import { defineTask, envInt, MetricUnit, oneLine, recordMetric, TaskError, type TaskContext } from "./lib/runtime";
import { redactText, redactUrl, urlCredentialProblem } from "./lib/url-credentials";

// ---------------------------------------------------------------- headers

/** HTTP header field name: an RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by the check itself: the connection is its own and the request has no body. */
const RESERVED_HEADERS = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer"]);

/** Why a header cannot be sent, or undefined; never quotes the value. */
export function headerProblem(name: string, value: unknown): string | undefined {
  if (!HEADER_NAME.test(name)) return `header name ${JSON.stringify(name)} is not a valid HTTP field name`;
  if (RESERVED_HEADERS.has(name.toLowerCase())) return `header ${name} is set by the check and cannot be given`;
  if (typeof value !== "string") return `header ${name}: value must be a string`;
  if (/[\r\n]/.test(value)) return `header ${name}: value must not contain CR or LF`;
  // What node's http client accepts in a field value: tab, visible ASCII, space and obs-text.
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) return `header ${name}: value must not contain control or non-Latin-1 characters`;
  return undefined;
}

/** Checks a header object (name -> value) as a whole: each header, and no name twice in another case. */
export function headersProblem(headers: Record<string, unknown>): { name?: string; message: string } | undefined {
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const problem = headerProblem(name, value);
    if (problem) return { name, message: problem };
    const lower = name.toLowerCase();
    if (seen.has(lower)) return { name, message: `header ${name} is given twice (names are case-insensitive)` };
    seen.add(lower);
  }
  return undefined;
}

/** The secret's region, from its ARN. */
function secretRegion(arn: string): string {
  return arn.split(":")[3];
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

/** Header sets read from Secrets Manager in this process (a Lambda cold start), by secret ARN. */
const secretHeaders = new Map<string, Promise<Record<string, string>>>();
/** One Secrets Manager client per region, created when first needed. */
const secretClients = new Map<string, Promise<import("@aws-sdk/client-secrets-manager").SecretsManagerClient>>();

async function secretsClient(region: string) {
  let client = secretClients.get(region);
  if (!client) {
    // Loaded only when a secret is configured: the SDK costs nothing to the other checks.
    client = import("@aws-sdk/client-secrets-manager").then(
      (sdk) => new sdk.SecretsManagerClient({ region, maxAttempts: 2, requestHandler: { connectionTimeout: 3000, requestTimeout: 5000 } }),
    );
    secretClients.set(region, client);
  }
  return client;
}

/** Parses a SecretString into headers; the message never quotes the secret's text. */
export function parseSecretHeaders(text: string | undefined): Record<string, string> {
  if (text === undefined) throw new Error("the secret has no SecretString (binary secrets are not read)");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('SecretString is not JSON; it must be an object of header name to value, like {"Authorization": "Bearer ..."}');
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error('SecretString must be a JSON object of header name to value, like {"Authorization": "Bearer ..."}');
  }
  if (Object.keys(doc).length === 0) throw new Error("SecretString holds no headers");
  const problem = headersProblem(doc as Record<string, unknown>);
  if (problem) throw new Error(problem.message);
  return doc as Record<string, string>;
}

/**
 * The headers of a secret: fetched once per process and shared by every endpoint naming it. A failed
 * fetch is not kept, so the next run tries again.
 */
export function loadSecretHeaders(arn: string, signal?: AbortSignal): Promise<Record<string, string>> {
  let pending = secretHeaders.get(arn);
  if (!pending) {
    pending = (async () => {
      const sdk = await import("@aws-sdk/client-secrets-manager");
      const client = await secretsClient(secretRegion(arn));
      let out: import("@aws-sdk/client-secrets-manager").GetSecretValueCommandOutput;
      try {
        out = await client.send(new sdk.GetSecretValueCommand({ SecretId: arn }), { abortSignal: signal });
      } catch (err) {
        const name = err instanceof Error && err.name && err.name !== "Error" ? `${err.name}: ` : "";
        throw new Error(`GetSecretValue failed: ${name}${oneLine(err)}`);
      }
      return parseSecretHeaders(out.SecretString);
    })();
    secretHeaders.set(arn, pending);
    pending.catch(() => secretHeaders.delete(arn));
  }
  return pending;
}

// ---------------------------------------------------------------- settings

const statusCode = z.number().int().min(100, "must be an HTTP status 100..599").max(599, "must be an HTTP status 100..599");
/** "2xx" or "200-299". */
const statusRange = z
  .string()
  .regex(/^([1-5]xx|[1-5]\d\d-[1-5]\d\d)$/, 'must be a status, a range like "2xx" or "200-299", or a list of those')
  .refine((s) => !s.includes("-") || Number(s.slice(0, 3)) <= Number(s.slice(4)), "range start must not exceed its end");
const statusCondition = z.union([statusCode, statusRange, z.array(z.union([statusCode, statusRange])).min(1, "must list at least one status")]);

export const conditionsSchema = z
  .object({
    status: statusCondition.default(200),
    responseTimeMs: z.number().int().positive("must be > 0").optional(),
    bodyContains: z.string().min(1, "must not be empty").optional(),
    jsonField: z
      .object({ path: z.string().regex(/^[^.]+(\.[^.]+)*$/, "must be a dotted path like status or checks.db.state"), equals: z.union([z.string(), z.number(), z.boolean(), z.null()]) })
      .strict()
      .optional(),
    certificateDaysLeft: z.number().min(0, "must be >= 0").optional(),
  })
  .strict();

/** Where a credential goes instead of the URL. */
const URL_CREDENTIAL_HINT = "give the credential as a request header: headersSecretArn (or headers, --header, on the command line)";

/**
 * Why `u` cannot be checked, or undefined: not an http(s) URL, or a user name or password in it.
 * Never quotes the URL. Credential query parameters are allowed here (a local run) and refused in
 * Lambda by the settings.
 */
export function urlProblem(u: string, hint = URL_CREDENTIAL_HINT): string | undefined {
  let protocol: string;
  try {
    protocol = new URL(u).protocol;
  } catch {
    return urlCredentialProblem(u, hint) ?? "must be an http(s) URL";
  }
  if (protocol !== "http:" && protocol !== "https:") return urlCredentialProblem(u, hint) ?? "must be an http(s) URL";
  const problem = urlCredentialProblem(u, hint);
  return problem?.startsWith("must not carry") ? problem : undefined;
}

export const endpointSchema = z
  .object({
    name: z.string().min(1).max(255).optional(),
    url: z.string().superRefine((u, ctx) => {
      const problem = urlProblem(u);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    method: z.enum(["GET", "HEAD", "POST"]).default("GET"),
    timeoutMs: z.number().int("must be a whole number").positive("must be > 0").max(900_000, "must be <= 900000").default(10_000),
    /** Accept a certificate that does not verify (self-signed, expired, other host); days left are still checked. */
    insecure: z.boolean().default(false),
    /** Extra trusted CA certificate(s), PEM, for private CAs and self-signed certificates. */
    ca: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "must be PEM certificate text" }).optional(),
    /** Secrets Manager secret whose SecretString is a JSON object of header name to value, read at run time. */
    headersSecretArn: z.string().regex(SECRET_ARN, "must be the ARN of a Secrets Manager secret").optional(),
    /** Request headers given inline (command line); refused in Lambda, where they would sit in the environment. */
    headers: z.record(z.string(), z.string({ message: "header values must be strings" })).optional(),
    conditions: conditionsSchema.default({ status: 200 }),
  })
  .strict()
  .superRefine((e, ctx) => {
    const problem = e.headers ? headersProblem(e.headers) : undefined;
    if (problem) ctx.addIssue({ code: "custom", path: ["headers", problem.name ?? ""], message: problem.message });
    if (e.conditions.certificateDaysLeft !== undefined && !e.url.startsWith("https:")) {
      ctx.addIssue({ code: "custom", path: ["conditions", "certificateDaysLeft"], message: "needs an https URL" });
    }
  });

export type EndpointInput = z.input<typeof endpointSchema>;
export type Endpoint = z.output<typeof endpointSchema>;

/** The endpoint's name: its own, or its URL with credentials redacted (it is the Endpoint dimension). */
export function endpointName(e: Pick<Endpoint, "name" | "url">): string {
  return e.name ?? redactUrl(e.url);
}

/** `ENDPOINTS[0].url` from ["ENDPOINTS", 0, "url"]. */
function keyPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

export const healthCheckSettings = z
  .object({
    ENDPOINTS: z.string({ message: "required: a JSON list of endpoints (or --url on the command line)" }),
    CONCURRENCY: envInt(1, 1000).default(50),
    MAX_BODY_BYTES: envInt(0, 16 * 1024 * 1024).default(64 * 1024),
    AWS_LAMBDA_FUNCTION_NAME: z.string().optional(),
  })
  .transform((s, ctx) => {
    let raw: unknown;
    try {
      raw = JSON.parse(s.ENDPOINTS);
    } catch {
      ctx.addIssue({ code: "custom", path: ["ENDPOINTS"], message: "must be valid JSON" });
      return z.NEVER;
    }
    const parsed = z.array(endpointSchema).min(1, "must list at least one endpoint").safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      ctx.addIssue({ code: "custom", path: [keyPath(["ENDPOINTS", ...issue.path])], message: issue.message });
      return z.NEVER;
    }
    const names = new Set<string>();
    for (const [i, e] of parsed.data.entries()) {
      const name = endpointName(e);
      if (names.has(name)) {
        ctx.addIssue({ code: "custom", path: [keyPath(["ENDPOINTS", i, "name"])], message: `duplicate endpoint name "${name}"` });
        return z.NEVER;
      }
      names.add(name);
      if (s.AWS_LAMBDA_FUNCTION_NAME && e.headers) {
        ctx.addIssue({ code: "custom", path: [keyPath(["ENDPOINTS", i, "headers"])], message: "header values in an environment variable are refused in Lambda; use headersSecretArn" });
        return z.NEVER;
      }
      // A token in the query string sits in the function's environment like an inline header.
      const inUrl = s.AWS_LAMBDA_FUNCTION_NAME ? urlCredentialProblem(e.url, "in an environment variable it is refused in Lambda; use headersSecretArn") : undefined;
      if (inUrl) {
        ctx.addIssue({ code: "custom", path: [keyPath(["ENDPOINTS", i, "url"])], message: inUrl });
        return z.NEVER;
      }
    }
    return { endpoints: parsed.data, concurrency: s.CONCURRENCY, maxBodyBytes: s.MAX_BODY_BYTES };
  });
export type HealthCheckSettings = z.output<typeof healthCheckSettings>;

// ---------------------------------------------------------------- result

/** A certificate of the chain the server presented, as reported: the one that expires first. */
export interface ChainCertificate {
  /** Subject common name (else organization, else the whole subject). */
  subject: string;
  /** Its place in the chain: the server's own certificate, a CA between, or the self-signed anchor. */
  role: "leaf" | "intermediate" | "root";
  /** notAfter, ISO 8601 UTC. */
  notAfter: string;
}

export interface EndpointResult {
  name: string;
  /** The URL requested, user name, password and credential parameters redacted. */
  url: string;
  /**
   * Available: reachable, trusted, in time, and the answer right (status, bodyContains, jsonField).
   * The Healthy metric (down alarm, error budget); slowness and certificate age never make it false.
   */
  healthy: boolean;
  /** HTTP status, null when no response arrived. */
  status: number | null;
  /** Milliseconds until the body was read (up to the cap), null when no response arrived. */
  responseTimeMs: number | null;
  /** https: days until the earliest notAfter of the chain, one decimal; negative when expired. */
  certificateDaysLeft?: number;
  /** https: the certificate whose notAfter gives certificateDaysLeft. */
  certificateExpiresFirst?: ChainCertificate;
  /** Why the endpoint is not available, one short line each; empty when healthy. */
  failures: string[];
  /** Slow answer, certificate expiring: one line each. Reported and alarmed on, never a failure. */
  warnings: string[];
}

export interface HealthCheckResult {
  results: EndpointResult[];
}

// ---------------------------------------------------------------- the check

const DAY_MS = 86_400_000;

interface Probe {
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

/** Content codings decoded, by Content-Encoding token (RFC 9110 8.4.1; x-gzip is gzip). */
const CODINGS: Record<string, "gzip" | "deflate" | "br" | "identity"> = { gzip: "gzip", "x-gzip": "gzip", deflate: "deflate", br: "br", identity: "identity" };

/**
 * One content coding undone with node:zlib. The zlib stream is opened at the first byte (deflate:
 * zlib-wrapped when the first byte names method 8 and the header checksum holds, else raw deflate,
 * as servers send both), so an empty body needs none; its output is read under back-pressure, so a
 * small input that expands hugely stops when the reader stops.
 */
class ContentDecoder extends Duplex {
  #inner?: zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress;
  /** The reader asked for more (_read) and nothing was pushed past the high-water mark since. */
  #wanted = false;

  constructor(readonly coding: "gzip" | "deflate" | "br") {
    super();
  }

  #open(first: Buffer) {
    const zlibWrapped = (first[0] & 0x0f) === 8 && (first.length < 2 || ((first[0] << 8) | first[1]) % 31 === 0);
    const inner =
      this.coding === "gzip" ? zlib.createGunzip() : this.coding === "br" ? zlib.createBrotliDecompress() : zlibWrapped ? zlib.createInflate() : zlib.createInflateRaw();
    inner.on("readable", () => this.#pull());
    inner.on("end", () => this.push(null));
    inner.on("error", (err) => this.destroy(err));
    return inner;
  }

  /** Moves decoded bytes out only while the reader wants them; zlib stalls when its buffer is full. */
  #pull() {
    const inner = this.#inner;
    if (!inner) return;
    let chunk: Buffer | null;
    while (this.#wanted && (chunk = inner.read() as Buffer | null) !== null) this.#wanted = this.push(chunk);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void) {
    if (chunk.length === 0) return callback();
    this.#inner ??= this.#open(chunk);
    // Called back once zlib consumed the chunk, which waits while its output is not read.
    this.#inner.write(chunk, callback);
  }

  override _final(callback: (err?: Error | null) => void) {
    if (this.#inner) this.#inner.end();
    else this.push(null);
    callback();
  }

  override _read() {
    this.#wanted = true;
    this.#pull();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void) {
    this.#inner?.destroy();
    callback(err);
  }
}

/**
 * The decoders of a Content-Encoding header, in the order to apply them (the reverse of the order
 * the codings were applied), or the reason it cannot be decoded.
 */
export function contentDecoders(contentEncoding: string | undefined): { decoders: ContentDecoder[] } | { error: string } {
  const tokens = (contentEncoding ?? "")
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== "");
  const decoders: ContentDecoder[] = [];
  for (const t of tokens.reverse()) {
    const coding = CODINGS[t];
    if (!coding) return { error: `Content-Encoding ${JSON.stringify(t)} is not supported (gzip, deflate, br)` };
    if (coding !== "identity") decoders.push(new ContentDecoder(coding));
  }
  return { decoders };
}

/**
 * The body as text, as a browser decodes it (WHATWG Encoding "decode"): a byte-order mark (UTF-8,
 * UTF-16LE, UTF-16BE) decides and is removed, else the charset of Content-Type, else UTF-8.
 * Malformed bytes become U+FFFD. A charset label TextDecoder does not know is ignored, as browsers
 * ignore it: the text is read as UTF-8 and `note` says so, for the failure line of a condition that
 * then fails (a health answer is mostly ASCII, which reads the same; a bogus label alone must not
 * page "down").
 */
export function decodeBody(body: Buffer, contentType: string | undefined): { text: string; note?: string } {
  let label = "utf-8";
  let note: string | undefined;
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) label = "utf-8";
  else if (body[0] === 0xff && body[1] === 0xfe) label = "utf-16le";
  else if (body[0] === 0xfe && body[1] === 0xff) label = "utf-16be";
  else {
    const m = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? "");
    const charset = (m?.[1] ?? m?.[2] ?? "").trim();
    if (charset) label = charset;
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label);
  } catch {
    note = `charset ${JSON.stringify(label)} of Content-Type is unknown: read as UTF-8`;
    decoder = new TextDecoder("utf-8");
  }
  return { text: decoder.decode(body), ...(note ? { note } : {}) };
}

/** Opens the connection, checks the certificates, sends one request and reads at most maxBodyBytes of decoded body. */
function probe(e: Endpoint, maxBodyBytes: number, outer: AbortSignal, headers: Record<string, string> = {}): Promise<Probe> {
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

function statusMatches(status: number, cond: number | string): boolean {
  if (typeof cond === "number") return status === cond;
  if (cond.endsWith("xx")) return Math.floor(status / 100) === Number(cond[0]);
  const [lo, hi] = cond.split("-").map(Number);
  return status >= lo && status <= hi;
}

/** Follows a dotted path (`checks.db.state`, `items.0.status`) into parsed JSON. */
export function jsonPath(value: unknown, path: string): { found: boolean; value?: unknown } {
  let cur: unknown = value;
  for (const part of path.split(".")) {
    if (cur !== null && typeof cur === "object" && Object.prototype.hasOwnProperty.call(cur, part)) cur = (cur as Record<string, unknown>)[part];
    else return { found: false };
  }
  return { found: true, value: cur };
}

/** A Location header made absolute against the URL requested, credentials redacted. */
function redirectTarget(location: string, requested: string): string {
  try {
    return redactUrl(new URL(location, requested).href);
  } catch {
    return redactText(location);
  }
}

/**
 * One probe judged against the endpoint's conditions. `failures`: why it is not available
 * (connection, trust, timeout, status, body, JSON field), each a short line. `warnings`: a slow
 * answer (responseTimeMs) and a certificate of the chain expiring (certificateDaysLeft); these never
 * count as failures.
 */
export function evaluate(e: Endpoint, p: Probe): { failures: string[]; warnings: string[] } {
  const failures = [...p.errors];
  const warnings: string[] = [];
  const c = e.conditions;
  const days = p.certificateDaysLeft;
  if (c.certificateDaysLeft !== undefined && days !== undefined && days < c.certificateDaysLeft) {
    const which = p.certificateExpiresFirst ? `: ${p.certificateExpiresFirst.role} ${JSON.stringify(p.certificateExpiresFirst.subject)}${(p.chainLength ?? 1) > 1 ? " expires first" : ""}` : "";
    warnings.push(days < 0 ? `certificate expired ${-days} days ago (days left ${days} < ${c.certificateDaysLeft})${which}` : `certificate days left ${days} < ${c.certificateDaysLeft}${which}`);
  }
  if (p.status === null) return { failures, warnings };
  // A response cut off by a timeout or a reset: its status counts, its partial body does not.
  const bodyUsable = p.errors.length === 0;

  const wanted = Array.isArray(c.status) ? c.status : [c.status];
  if (!wanted.some((w) => statusMatches(p.status as number, w))) {
    const redirect = p.status >= 300 && p.status < 400 && p.location ? ` (redirect to ${redirectTarget(p.location, e.url)})` : "";
    failures.push((wanted.length === 1 ? `status ${p.status} != ${wanted[0]}` : `status ${p.status} not in [${wanted.join(", ")}]`) + redirect);
  }
  if (c.responseTimeMs !== undefined && p.responseTimeMs !== null && p.responseTimeMs > c.responseTimeMs) {
    warnings.push(`response time ${p.responseTimeMs} ms > ${c.responseTimeMs} ms`);
  }
  // A body no client can decode (a browser shows ERR_CONTENT_DECODING_FAILED) is a wrong answer
  // even when no condition reads the body.
  if (bodyUsable && p.bodyError !== undefined) failures.push(`body not readable: ${p.bodyError}`);
  else if (bodyUsable && (c.bodyContains !== undefined || c.jsonField)) {
    const decoded = decodeBody(p.body, p.contentType);
    const scope = p.truncated ? `body (first ${p.body.length} bytes)` : "body";
    const before = failures.length;
    if (c.bodyContains !== undefined && !decoded.text.includes(c.bodyContains)) failures.push(`${scope} does not contain ${JSON.stringify(c.bodyContains)}`);
    if (c.jsonField) {
      let doc: unknown;
      let parsed = true;
      try {
        doc = JSON.parse(decoded.text);
      } catch {
        parsed = false;
      }
      const want = JSON.stringify(c.jsonField.equals);
      if (!parsed) failures.push(`${scope} is not JSON (wanted ${c.jsonField.path} == ${want})`);
      else {
        const r = jsonPath(doc, c.jsonField.path);
        if (!r.found) failures.push(`json ${c.jsonField.path} missing (wanted ${want})`);
        else if (r.value !== c.jsonField.equals) failures.push(`json ${c.jsonField.path} ${JSON.stringify(r.value)} != ${want}`);
      }
    }
    if (decoded.note) for (let i = before; i < failures.length; i++) failures[i] += ` (${decoded.note})`;
  }
  return { failures, warnings };
}

/**
 * Checks one endpoint. `secret` is the outcome of reading its headersSecretArn (checkAll reads each
 * secret once); without it the secret is read here. Every line of the result has URLs redacted.
 */
export async function checkEndpoint(
  e: Endpoint,
  maxBodyBytes = 64 * 1024,
  signal: AbortSignal = new AbortController().signal,
  secret?: { headers: Record<string, string> } | { error: string },
): Promise<EndpointResult> {
  const shown = { name: endpointName(e), url: redactUrl(e.url) };
  let headers: Record<string, string> = { ...(e.headers ?? {}) };
  if (e.headersSecretArn) {
    const got = secret ?? (await readSecret(e.headersSecretArn, signal));
    if ("error" in got) {
      return { ...shown, healthy: false, status: null, responseTimeMs: null, failures: [redactText(`headers secret ${e.headersSecretArn}: ${got.error} (no request sent)`)], warnings: [] };
    }
    // The secret's headers win over inline ones of the same name.
    const fromSecret = new Set(Object.keys(got.headers).map((n) => n.toLowerCase()));
    headers = Object.fromEntries(Object.entries(headers).filter(([n]) => !fromSecret.has(n.toLowerCase())));
    headers = { ...headers, ...got.headers };
  }
  const p = await probe(e, maxBodyBytes, signal, headers);
  const { failures, warnings } = evaluate(e, p);
  return {
    ...shown,
    healthy: failures.length === 0,
    status: p.status,
    responseTimeMs: p.responseTimeMs,
    ...(p.certificateDaysLeft !== undefined ? { certificateDaysLeft: p.certificateDaysLeft } : {}),
    ...(p.certificateExpiresFirst ? { certificateExpiresFirst: p.certificateExpiresFirst } : {}),
    failures: failures.map(redactText),
    warnings: warnings.map(redactText),
  };
}

/** Runs fn over items with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Healthy of every endpoint is a metric (the down and error-budget alarms read it). ResponseTime and
 * CertificateDaysLeft are metrics for an endpoint with that condition (its slow or certificate
 * alarm reads them, tasks/lib/metrics.ts) and log lines for the others.
 */
function emitMetrics(ctx: TaskContext, e: z.infer<typeof endpointSchema>, r: EndpointResult): void {
  const metric = (name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number, alarmed = true) =>
    alarmed ? recordMetric(ctx, name, unit, value, ["Endpoint", r.name]) : ctx.log.info("metric", { metric: name, unit, value, Endpoint: r.name });
  metric("Healthy", MetricUnit.Count, r.healthy ? 1 : 0);
  if (r.responseTimeMs !== null) metric("ResponseTime", MetricUnit.Milliseconds, r.responseTimeMs, e.conditions.responseTimeMs !== undefined);
  if (r.certificateDaysLeft !== undefined) metric("CertificateDaysLeft", MetricUnit.Count, r.certificateDaysLeft, e.conditions.certificateDaysLeft !== undefined);
}

function readSecret(arn: string, signal: AbortSignal): Promise<{ headers: Record<string, string> } | { error: string }> {
  return loadSecretHeaders(arn, signal).then(
    (headers) => ({ headers }),
    (err: unknown) => ({ error: oneLine(err) }),
  );
}

export async function checkAll(s: HealthCheckSettings, signal: AbortSignal): Promise<HealthCheckResult> {
  // Every check in flight listens for the task's abort: that many listeners are expected.
  setMaxListeners(Math.max(getMaxListeners(signal), s.concurrency + 10), signal);
  // Each secret once, before the checks: endpoints sharing one wait for the same read.
  const arns = [...new Set(s.endpoints.flatMap((e) => (e.headersSecretArn ? [e.headersSecretArn] : [])))];
  const secrets = new Map(await Promise.all(arns.map(async (arn) => [arn, await readSecret(arn, signal)] as const)));
  return {
    results: await mapLimit(s.endpoints, s.concurrency, (e) => checkEndpoint(e, s.maxBodyBytes, signal, e.headersSecretArn ? secrets.get(e.headersSecretArn) : undefined)),
  };
}

// ---------------------------------------------------------------- command line

const CLI_OPTIONS = ["url", "name", "method", "timeout-ms", "max-response-ms", "min-cert-days", "status", "body-contains", "json-field", "insecure", "ca", "header", "headers-secret-arn", "concurrency", "max-body-bytes"];

function cliNumber(options: Record<string, string[]>, key: string, min: number): number | undefined {
  const v = options[key]?.at(-1);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < min) throw new TaskError(`--${key}: must be a whole number >= ${min}, got "${v}"`);
  return n;
}

/**
 * `--url A --url B [--name a --name b] [--timeout-ms N] [--max-response-ms N] [--min-cert-days N]
 * [--status 200|2xx|200,204] [--body-contains TEXT] [--json-field path=value] [--insecure] [--ca FILE]
 * [--header "Name: value" ...] [--headers-secret-arn ARN]`: the same conditions and headers for every
 * URL (--min-cert-days applies to the https ones).
 */
export function healthCheckCli(options: Record<string, string[]>): Record<string, string> {
  for (const k of Object.keys(options)) {
    if (!CLI_OPTIONS.includes(k)) throw new TaskError(`--${k}: unknown option; one of ${CLI_OPTIONS.map((o) => `--${o}`).join(", ")}`);
  }
  const urls = options.url ?? [];
  // No options at all: the endpoints come from the ENDPOINTS variable.
  if (Object.keys(options).length === 0) return {};
  if (urls.length === 0) throw new TaskError("--url: required (repeat it for several endpoints)");
  for (const u of urls) {
    // The refusal names the URL with its credentials redacted, never as given.
    const problem = urlProblem(u, 'give the credential as a request header: --header "Authorization: Basic ..." or --headers-secret-arn');
    if (problem) throw new TaskError(`--url: "${redactUrl(u)}" ${problem}`);
  }
  const names = options.name ?? [];
  if (names.length > 0 && names.length !== urls.length) throw new TaskError(`--name: give one per --url (${urls.length}), got ${names.length}`);
  const timeoutMs = cliNumber(options, "timeout-ms", 1);
  const maxResponseMs = cliNumber(options, "max-response-ms", 1);
  const minCertDays = cliNumber(options, "min-cert-days", 0);
  const insecureRaw = options.insecure?.at(-1);
  if (insecureRaw !== undefined && !["true", "false"].includes(insecureRaw)) throw new TaskError(`--insecure: takes no value (or true/false), got "${insecureRaw}"`);
  const method = options.method?.at(-1)?.toUpperCase();
  if (method !== undefined && !["GET", "HEAD", "POST"].includes(method)) throw new TaskError(`--method: must be GET, HEAD or POST, got "${method}"`);

  let status: number | string | (number | string)[] | undefined;
  const statusRaw = options.status?.at(-1);
  if (statusRaw !== undefined) {
    const parts = statusRaw.split(",").map((p) => (/^\d+$/.test(p.trim()) ? Number(p.trim()) : p.trim()));
    status = parts.length === 1 ? parts[0] : parts;
    if (!statusCondition.safeParse(status).success) throw new TaskError(`--status: must be a status, "2xx", "200-299" or a comma list, got "${statusRaw}"`);
  }
  let jsonField: { path: string; equals: string | number | boolean | null } | undefined;
  const jf = options["json-field"]?.at(-1);
  if (jf !== undefined) {
    const eq = jf.indexOf("=");
    if (eq <= 0) throw new TaskError(`--json-field: must be path=value (e.g. status=ok), got "${jf}"`);
    const rawValue = jf.slice(eq + 1);
    let equals: string | number | boolean | null = rawValue;
    try {
      const v = JSON.parse(rawValue);
      if (v === null || ["string", "number", "boolean"].includes(typeof v)) equals = v;
    } catch {
      /* a bare word is a string */
    }
    jsonField = { path: jf.slice(0, eq), equals };
  }
  let ca: string | undefined;
  const caFile = options.ca?.at(-1);
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, "utf8");
    } catch (err) {
      throw new TaskError(`--ca: cannot read ${caFile}: ${oneLine(err)}`);
    }
  }

  const headers: Record<string, string> = {};
  for (const h of options.header ?? []) {
    const colon = h.indexOf(":");
    if (colon <= 0) throw new TaskError(`--header: must be "Name: value" (e.g. "Authorization: Bearer ..."), got no name before a colon`);
    const name = h.slice(0, colon).trim();
    const value = h.slice(colon + 1).trim();
    const problem = headersProblem({ ...headers, [name]: value });
    if (problem) throw new TaskError(`--header: ${problem.message}`);
    headers[name] = value;
  }
  const secretArn = options["headers-secret-arn"]?.at(-1);
  if (secretArn !== undefined && !SECRET_ARN.test(secretArn)) throw new TaskError(`--headers-secret-arn: must be the ARN of a Secrets Manager secret, got "${secretArn}"`);

  const endpoints: EndpointInput[] = urls.map((url, i) => ({
    ...(names[i] ? { name: names[i] } : {}),
    url,
    ...(method ? { method: method as "GET" } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(insecureRaw === "true" ? { insecure: true } : {}),
    ...(ca ? { ca } : {}),
    ...(secretArn ? { headersSecretArn: secretArn } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
    conditions: {
      status: status ?? 200,
      ...(maxResponseMs !== undefined ? { responseTimeMs: maxResponseMs } : {}),
      ...(options["body-contains"] ? { bodyContains: options["body-contains"].at(-1) } : {}),
      ...(jsonField ? { jsonField } : {}),
      ...(minCertDays !== undefined && url.startsWith("https:") ? { certificateDaysLeft: minCertDays } : {}),
    },
  }));
  const env: Record<string, string> = { ENDPOINTS: JSON.stringify(endpoints) };
  const concurrency = cliNumber(options, "concurrency", 1);
  if (concurrency !== undefined) env.CONCURRENCY = String(concurrency);
  const maxBody = cliNumber(options, "max-body-bytes", 0);
  if (maxBody !== undefined) env.MAX_BODY_BYTES = String(maxBody);
  return env;
}

// ---------------------------------------------------------------- the task

/**
 * The health-check task. Exit status and the Lambda's error: the run fails (exit 1; in Lambda the
 * handler throws, counted by the function's error alarm, which pages P3 only) exactly when an endpoint
 * is unavailable, with the failure line `N of M endpoints unhealthy: name (first reason), ...`. A
 * slow answer or an expiring certificate leaves the run successful (exit 0): it is in the result's
 * `warnings` and a log line, and its own alarm pages its own severity from the ResponseTime and
 * CertificateDaysLeft metrics. Only availability lowers the Healthy metric the P0 down alarm and the
 * error-budget burn alarms read.
 */
export const healthCheckTask = defineTask({
  name: "health-check",
  description: "check HTTP(S) endpoints concurrently: availability (status, body, JSON field), response time and certificate chain expiry",
  settings: healthCheckSettings,
  async run(settings, ctx) {
    const result = await checkAll(settings, ctx.signal);
    for (const [i, r] of result.results.entries()) {
      emitMetrics(ctx, settings.endpoints[i], r);
      if (!r.healthy) ctx.log.warn("endpoint unhealthy", { endpoint: r.name, url: r.url, failures: r.failures, warnings: r.warnings });
      else if (r.warnings.length) ctx.log.warn("endpoint degraded", { endpoint: r.name, url: r.url, warnings: r.warnings });
    }
    const bad = result.results.filter((r) => !r.healthy);
    const degraded = result.results.filter((r) => r.healthy && r.warnings.length);
    ctx.log.info("health checks done", { endpoints: result.results.length, unhealthy: bad.length, degraded: degraded.length });
    return result;
  },
  failed: (result: HealthCheckResult) => {
    const bad = result.results.filter((r) => !r.healthy);
    if (bad.length === 0) return false;
    const shown = bad.slice(0, 3).map((r) => `${r.name} (${r.failures[0] ?? "unhealthy"})`);
    return redactText(`${bad.length} of ${result.results.length} endpoints unhealthy: ${shown.join(", ")}${bad.length > 3 ? ", ..." : ""}`);
  },
  cli: healthCheckCli,
});
