/**
 * Checking endpoints: each one probed and judged (with its secret's headers), every endpoint of the
 * list concurrently, CONCURRENCY at a time, each within its own timeout. Every line of a result has
 * URLs redacted.
 */
import { getMaxListeners, setMaxListeners } from "node:events";
import { mapLimit } from "../lib/map-limit";
import { redactText, redactUrl } from "../lib/url-credentials";
import { evaluate } from "./conditions";
import type { ChainCertificate } from "./probe";
import { probeFollowingRedirects } from "./redirects";
import { readSecretHeaders, type SecretHeadersOutcome } from "./secret-headers";
import { DEFAULT_MAX_BODY_BYTES, endpointName, type Endpoint, type HealthCheckSettings } from "./settings";

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
  /**
   * Milliseconds from the first request until the final answer was read as far as the conditions
   * need (its headers, and the body up to the cap or the text sought), null when no response arrived.
   */
  responseTimeMs: number | null;
  /** HTTP version of the final answer: "h2" when the server chose it through ALPN (https), else "http/1.1"; absent without a response. */
  protocol?: "h2" | "http/1.1";
  /** The URLs redirects led to, in order (credentials redacted); absent when none was followed. */
  redirects?: string[];
  /**
   * https: days until the earliest notAfter of the chains clients validate (leaf to trusted root),
   * the lowest over every https hop the check followed (redirects included; a plain http hop has
   * none), one decimal; negative when expired.
   */
  certificateDaysLeft?: number;
  /** https: the certificate whose notAfter gives certificateDaysLeft, with the host (URL host, port included when not the default) of the hop that sent it. */
  certificateExpiresFirst?: ChainCertificate;
  /** Why the endpoint is not available, one short line each; empty when healthy. */
  failures: string[];
  /** Slow answer, certificate expiring: one line each. Reported and alarmed on, never a failure. */
  warnings: string[];
}

export interface HealthCheckResult {
  results: EndpointResult[];
}

/**
 * Checks one endpoint. `secret` is the outcome of reading its headersSecretArn (checkAll reads each
 * secret once); without it the secret is read here. Every line of the result has URLs redacted.
 */
export async function checkEndpoint(
  e: Endpoint,
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
  signal: AbortSignal = new AbortController().signal,
  secret?: SecretHeadersOutcome,
): Promise<EndpointResult> {
  const shown = { name: endpointName(e), url: redactUrl(e.url) };
  let headers: Record<string, string> = { ...(e.headers ?? {}) };
  let secretNames = new Set<string>();
  if (e.headersSecretArn) {
    const got = secret ?? (await readSecretHeaders(e.headersSecretArn, signal));
    if ("error" in got) {
      return { ...shown, healthy: false, status: null, responseTimeMs: null, failures: [redactText(`headers secret ${e.headersSecretArn}: ${got.error} (no request sent)`)], warnings: [] };
    }
    // The secret's headers win over inline ones of the same name.
    const fromSecret = new Set(Object.keys(got.headers).map((n) => n.toLowerCase()));
    headers = Object.fromEntries(Object.entries(headers).filter(([n]) => !fromSecret.has(n.toLowerCase())));
    headers = { ...headers, ...got.headers };
    secretNames = fromSecret;
  }
  const p = await probeFollowingRedirects(e, maxBodyBytes, signal, headers, secretNames);
  const { failures, warnings } = evaluate(e, p);
  return {
    ...shown,
    healthy: failures.length === 0,
    status: p.status,
    responseTimeMs: p.responseTimeMs,
    ...(p.certificateDaysLeft !== undefined ? { certificateDaysLeft: p.certificateDaysLeft } : {}),
    ...(p.certificateExpiresFirst ? { certificateExpiresFirst: p.certificateExpiresFirst } : {}),
    ...(p.protocol ? { protocol: p.protocol } : {}),
    ...(p.redirects.length ? { redirects: p.redirects.map(redactUrl) } : {}),
    failures: failures.map(redactText),
    warnings: warnings.map(redactText),
  };
}

/** Checks every endpoint, CONCURRENCY at a time, after reading each headers secret once; results in the order of ENDPOINTS. */
export async function checkAll(s: HealthCheckSettings, signal: AbortSignal): Promise<HealthCheckResult> {
  // Every check in flight listens for the task's abort: that many listeners are expected.
  setMaxListeners(Math.max(getMaxListeners(signal), s.concurrency + 10), signal);
  // Each secret once, before the checks: endpoints sharing one wait for the same read.
  const arns = [...new Set(s.endpoints.flatMap((e) => (e.headersSecretArn ? [e.headersSecretArn] : [])))];
  const secrets = new Map(await Promise.all(arns.map(async (arn) => [arn, await readSecretHeaders(arn, signal)] as const)));
  return {
    results: await mapLimit(s.endpoints, s.concurrency, (e) => checkEndpoint(e, s.maxBodyBytes, signal, e.headersSecretArn ? secrets.get(e.headersSecretArn) : undefined)),
  };
}
