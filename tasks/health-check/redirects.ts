/**
 * A check's requests as a browser or `curl -L` makes them: a redirect (301, 302, 303, 307, 308 with
 * a Location) is followed to any http(s) URL, at most MAX_REDIRECTS times within the endpoint's one
 * timeout, and the final answer is judged. Not followed: with `followRedirects: false`, or when the
 * status condition accepts the redirect's own status (a check of the redirect itself).
 */
import { redactUrl } from "../lib/url-credentials";
import { statusMatches } from "./conditions";
import { probe, type BodyNeed, type Probe } from "./probe";
import type { Endpoint } from "./settings";

/** Redirects followed at most; browsers stop at 20 (Chromium, Firefox), curl -L at 50; a health URL needs few. */
export const MAX_REDIRECTS = 10;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** What the conditions need of the body. */
function bodyNeed(e: Endpoint): BodyNeed {
  if (e.conditions.jsonField) return { kind: "json" };
  if (e.conditions.bodyContains !== undefined) return { kind: "contains", text: e.conditions.bodyContains };
  return { kind: "none" };
}

/** The final answer of a check, with the URLs it was redirected through (credentials redacted). */
export interface ChainProbe extends Probe {
  /** Each URL a redirect led to, in order; empty when the first answer was judged. */
  redirects: string[];
}

/**
 * Requests `e.url` and follows its redirects. The certificate reported is the first https
 * connection's (the endpoint's own URL when it is https). The endpoint's headers go only to its own
 * origin: a redirect to another origin is requested without them, as browsers and curl drop
 * Authorization there. A loop, more than MAX_REDIRECTS redirects or a Location that is no http(s)
 * URL is a failure naming the chain.
 */
export async function probeFollowingRedirects(e: Endpoint, maxBodyBytes: number, signal: AbortSignal, headers: Record<string, string>): Promise<ChainProbe> {
  const started = performance.now();
  const deadline = started + e.timeoutMs;
  const origin = new URL(e.url).origin;
  const need = bodyNeed(e);
  const wanted = Array.isArray(e.conditions.status) ? e.conditions.status : [e.conditions.status];
  const follows = (status: number, location: string | undefined) =>
    e.followRedirects && REDIRECT_STATUSES.has(status) && location !== undefined && !wanted.some((w) => statusMatches(status, w));
  let url = e.url;
  let method = e.method;
  const seen = new Set([new URL(url).href]);
  const redirects: string[] = [];
  let certificate: Pick<Probe, "certificateDaysLeft" | "certificateExpiresFirst" | "chainLength"> | undefined;
  for (;;) {
    const sameOrigin = new URL(url).origin === origin;
    const p = await probe(
      { url, method, headers: sameOrigin ? headers : {}, ca: e.ca, insecure: e.insecure, timeoutMs: e.timeoutMs, started, deadline, need, maxBodyBytes, stopAtHeaders: follows },
      signal,
    );
    if (p.certificateDaysLeft !== undefined) certificate ??= { certificateDaysLeft: p.certificateDaysLeft, certificateExpiresFirst: p.certificateExpiresFirst, chainLength: p.chainLength };
    const result: ChainProbe = { ...p, ...certificate, redirects };
    const chainText = () => [e.url, ...redirects].map(redactUrl).join(" -> ");
    // A failure after redirects names where it happened.
    if (!p.redirected) return redirects.length ? { ...result, errors: p.errors.map((err) => `${err} (after redirects: ${chainText()})`) } : result;
    let next: URL;
    try {
      next = new URL(p.location as string, url);
    } catch {
      return { ...result, errors: [`status ${p.status}: redirect to a Location that is not a URL, after ${chainText()}`] };
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      return { ...result, errors: [`status ${p.status}: redirect to a ${next.protocol} URL, not http(s), after ${chainText()}`] };
    }
    if (seen.has(next.href)) {
      redirects.push(next.href);
      return { ...result, redirects, errors: [`redirect loop: ${chainText()}`] };
    }
    if (redirects.length >= MAX_REDIRECTS) {
      return { ...result, errors: [`more than ${MAX_REDIRECTS} redirects: ${chainText()} -> ${redactUrl(next.href)}`] };
    }
    seen.add(next.href);
    redirects.push(next.href);
    // RFC 9110 15.4: a 303 is fetched with GET; so are 301 and 302 after a POST, as every client does.
    if (p.status === 303 || ((p.status === 301 || p.status === 302) && method === "POST")) method = "GET";
    url = next.href;
  }
}
