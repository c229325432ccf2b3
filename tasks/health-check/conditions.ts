/**
 * An endpoint's conditions judged against one probe: availability failures (connection, trust,
 * timeout, status, body, JSON field) and signal warnings (slow answer, certificate expiring).
 */
import { redactText, redactUrl } from "../lib/url-credentials";
import { decodeBody } from "./body-decoding";
import { jsonPathKeys } from "./json-path";
import type { ChainProbe } from "./redirects";
import type { Endpoint } from "./settings";

/** `status` is one a status condition accepts: a code, "2xx", or "200-299". */
export function statusMatches(status: number, cond: number | string): boolean {
  if (typeof cond === "number") return status === cond;
  if (cond.endsWith("xx")) return Math.floor(status / 100) === Number(cond[0]);
  const [lo, hi] = cond.split("-").map(Number);
  return status >= lo && status <= hi;
}

/** Follows a path (`checks.db.state`, `items.0.status`, `checks["db.primary"]`; json-path.ts) into parsed JSON. */
export function jsonPath(value: unknown, path: string): { found: boolean; value?: unknown } {
  let cur: unknown = value;
  for (const part of jsonPathKeys(path) ?? [path]) {
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
 * (connection, trust, timeout, redirects, status, body, JSON field), each a short line; the status
 * judged is the final answer's, after the redirects followed. `warnings`: a slow
 * answer (responseTimeMs) and a certificate of the chain expiring (certificateDaysLeft: the lowest
 * over every https hop followed, its hop's host named after redirects); these never count as failures.
 */
export function evaluate(e: Endpoint, p: ChainProbe): { failures: string[]; warnings: string[] } {
  const failures = [...p.errors];
  const warnings: string[] = [];
  const c = e.conditions;
  const days = p.certificateDaysLeft;
  if (c.certificateDaysLeft !== undefined && days !== undefined && days < c.certificateDaysLeft) {
    // After redirects the certificate may be any hop's: its host is named.
    const f = p.certificateExpiresFirst;
    const which = f ? `: ${f.role} ${JSON.stringify(f.subject)}${p.redirects.length ? ` of ${f.host}` : ""}${(p.chainLength ?? 1) > 1 ? " expires first" : ""}` : "";
    warnings.push(days < 0 ? `certificate expired ${-days} days ago (days left ${days} < ${c.certificateDaysLeft})${which}` : `certificate days left ${days} < ${c.certificateDaysLeft}${which}`);
  }
  if (p.status === null) return { failures, warnings };
  // A response cut off by a timeout or a reset: its status counts, its partial body does not.
  const bodyUsable = p.errors.length === 0;

  const wanted = Array.isArray(c.status) ? c.status : [c.status];
  // A redirect left unanswered (loop, too many, bad Location) is failed by its own line in errors.
  if (!p.redirected && !wanted.some((w) => statusMatches(p.status as number, w))) {
    const finalUrl = p.redirects.at(-1) ?? e.url;
    const redirect = p.status >= 300 && p.status < 400 && p.location ? ` (redirect to ${redirectTarget(p.location, finalUrl)}${e.followRedirects ? "" : ", not followed: followRedirects is false"})` : "";
    const after = p.redirects.length ? ` (after redirects: ${[e.url, ...p.redirects].map(redactUrl).join(" -> ")})` : "";
    failures.push((wanted.length === 1 ? `status ${p.status} != ${wanted[0]}` : `status ${p.status} not in [${wanted.join(", ")}]`) + redirect + after);
  }
  if (c.responseTimeMs !== undefined && p.responseTimeMs !== null && p.responseTimeMs > c.responseTimeMs) {
    warnings.push(`response time ${p.responseTimeMs} ms > ${c.responseTimeMs} ms`);
  }
  // A body no client can decode (a browser shows ERR_CONTENT_DECODING_FAILED) fails the conditions
  // that read it; a status-only check does not decode the body.
  if (bodyUsable && p.bodyError !== undefined) failures.push(`body not readable: ${p.bodyError}`);
  else if (bodyUsable && (c.bodyContains !== undefined || c.jsonField)) {
    const decoded = decodeBody(p.body, p.contentType);
    const scope = p.truncated ? `body (first ${p.body.length} bytes: MAX_BODY_BYTES reached)` : "body";
    const before = failures.length;
    if (c.bodyContains !== undefined && !decoded.text.includes(c.bodyContains)) failures.push(`${scope} does not contain ${JSON.stringify(c.bodyContains)}`);
    if (c.jsonField) {
      let doc: unknown;
      let parsed = true;
      try {
        if (!p.truncated) doc = JSON.parse(decoded.text);
      } catch {
        parsed = false;
      }
      const want = JSON.stringify(c.jsonField.equals);
      if (p.truncated) failures.push(`body larger than ${p.body.length} bytes (MAX_BODY_BYTES): ${c.jsonField.path} not read (wanted ${want})`);
      else if (!parsed) failures.push(`body is not JSON (wanted ${c.jsonField.path} == ${want})`);
      else {
        const r = jsonPath(doc, c.jsonField.path);
        if (!r.found) failures.push(`json ${c.jsonField.path} missing (wanted ${want})`);
        else if (r.value !== c.jsonField.equals) failures.push(`json ${c.jsonField.path} ${JSON.stringify(r.value)} != ${want}`);
      }
    }
    for (const note of [p.bodyNote, decoded.note]) if (note) for (let i = before; i < failures.length; i++) failures[i] += ` (${note})`;
  }
  return { failures, warnings };
}
