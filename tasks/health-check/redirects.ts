/**
 * A check's requests as a browser or `curl -L` makes them: a redirect (301, 302, 303, 307, 308 with
 * a Location) is followed to any http(s) URL, at most MAX_REDIRECTS times within the endpoint's one
 * timeout, and the final answer is judged. Not followed: with `followRedirects: false`, or when the
 * status condition accepts the redirect's own status (a check of the redirect itself).
 */
import { CookieJar } from "tough-cookie";
import { redactUrl } from "../lib/url-credentials";
import { statusMatches } from "./conditions";
import { storeCookie } from "./cookie-limits";
import { probe, type BodyNeed, type Probe } from "./probe";
import type { Endpoint } from "./settings";

/** Redirects followed at most; browsers stop at 20 (Chromium, Firefox), curl -L at 50; a health URL needs few. */
export const MAX_REDIRECTS = 10;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Credential headers by name: what curl -L (7.83+) and browsers (Fetch 4.4) drop on a redirect to another origin. */
const CREDENTIAL_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);

/**
 * The endpoint's headers for a request to `url`: all of them on its own origin; elsewhere all but the
 * credentials (Authorization, Cookie, Proxy-Authorization, and every header from headersSecretArn,
 * `secretNames`, lower case). Another origin includes http -> https of the same host, where curl
 * 7.83+ (CVE-2022-27776: scheme or port changed) drops them too. `cookies`: the run's own cookies,
 * added to the Cookie header.
 */
function headersFor(url: URL, origin: string, headers: Record<string, string>, secretNames: ReadonlySet<string>, cookies: string | undefined): Record<string, string> {
  const kept = url.origin === origin ? { ...headers } : Object.fromEntries(Object.entries(headers).filter(([n]) => !CREDENTIAL_HEADERS.has(n.toLowerCase()) && !secretNames.has(n.toLowerCase())));
  if (cookies === undefined) return kept;
  const given = Object.keys(kept).find((n) => n.toLowerCase() === "cookie");
  if (given === undefined) return { ...kept, cookie: cookies };
  return { ...kept, [given]: `${kept[given]}; ${cookies}` };
}

/** What the conditions need of the body. */
function bodyNeed(e: Endpoint): BodyNeed {
  if (e.conditions.jsonField) return { kind: "json" };
  if (e.conditions.bodyContains !== undefined) return { kind: "contains", text: e.conditions.bodyContains };
  return { kind: "none" };
}

/**
 * The final answer of a check, with the URLs it was redirected through (credentials redacted). Its
 * certificate fields are the check's, not only the final answer's: certificateDaysLeft the lowest
 * over every https hop followed, certificateExpiresFirst that hop's certificate (its `host` naming
 * the hop), chainLength the certificates compared over all of them.
 */
export interface ChainProbe extends Probe {
  /** Each URL a redirect led to, in order; empty when the first answer was judged. */
  redirects: string[];
}

/**
 * Requests `e.url` and follows its redirects. The certificate reported is the one expiring first
 * over every https connection the check made: a client following the redirects validates each
 * hop's chain (apex -> www, an application -> its sign-on or CDN host), so the days left are the
 * lowest of those hops' (each hop's whole chain, as probe computes it), and certificateExpiresFirst
 * names that certificate and its hop's host; on a tie the earlier hop is named. A hop over plain
 * http has no certificate and changes nothing (an https -> http downgrade keeps the https hop's
 * days). A hop whose TLS fails (an expired intermediate, another host name) counts with the days
 * read from its chain, and its failure line names its host (`certificate of host:port not trusted:
 * ...`) besides the chain of redirects. The endpoint's credentials go only to its
 * own origin, its other headers everywhere (headersFor), as curl -L and browsers send them. Cookies
 * the answers set are kept for the run in a jar of its own (tough-cookie's RFC 6265 CookieJar, which
 * decides which URLs each is sent to: domain, path, expiry, public suffixes; Secure ones over https
 * and to loopback hosts, as browsers and curl 7.79+ send them) and sent along, HttpOnly ones
 * included; oversized cookies are ignored and the excess beyond a browser's count evicted (storeCookie). A loop (the same URL requested again with the same cookies), more than MAX_REDIRECTS
 * redirects or a Location that is no http(s) URL is a failure naming the chain. `secretNames`: the
 * names (lower case) of headers read from headersSecretArn, credentials all.
 */
export async function probeFollowingRedirects(
  e: Endpoint,
  maxBodyBytes: number,
  signal: AbortSignal,
  headers: Record<string, string>,
  secretNames: ReadonlySet<string> = new Set(),
): Promise<ChainProbe> {
  const started = performance.now();
  const deadline = started + e.timeoutMs;
  const origin = new URL(e.url).origin;
  const need = bodyNeed(e);
  const wanted = Array.isArray(e.conditions.status) ? e.conditions.status : [e.conditions.status];
  const follows = (status: number, location: string | undefined) =>
    e.followRedirects && REDIRECT_STATUSES.has(status) && location !== undefined && !wanted.some((w) => statusMatches(status, w));
  let url = e.url;
  let method = e.method;
  const jar = new CookieJar();
  /** The Cookie header value of the jar for `u`, undefined when no cookie applies. */
  const cookiesFor = (u: URL) => jar.getCookieStringSync(u.href) || undefined;
  // A request repeats when its URL and the cookies it carries do: a redirect that set a cookie and
  // points back to the same URL is the next step of a session bootstrap, not a loop.
  const requestKey = (u: URL) => `${u.href}\n${cookiesFor(u) ?? ""}`;
  const seen = new Set([requestKey(new URL(url))]);
  const redirects: string[] = [];
  // The certificate expiring first over the https hops so far, and how many certificates were compared.
  let first: Pick<Probe, "certificateDaysLeft" | "certificateExpiresFirst"> | undefined;
  let compared = 0;
  for (;;) {
    const target = new URL(url);
    const p = await probe(
      {
        url,
        method,
        headers: headersFor(target, origin, headers, secretNames, cookiesFor(target)),
        ca: e.ca,
        insecure: e.insecure,
        timeoutMs: e.timeoutMs,
        started,
        deadline,
        need,
        maxBodyBytes,
        stopAtHeaders: follows,
        nameHost: redirects.length > 0,
      },
      signal,
    );
    if (p.certificateDaysLeft !== undefined) {
      compared += p.chainLength ?? 1;
      if (first?.certificateDaysLeft === undefined || p.certificateDaysLeft < first.certificateDaysLeft) {
        first = { certificateDaysLeft: p.certificateDaysLeft, certificateExpiresFirst: p.certificateExpiresFirst };
      }
    }
    const result: ChainProbe = { ...p, ...first, ...(compared ? { chainLength: compared } : {}), redirects };
    const chainText = () => [e.url, ...redirects].map(redactUrl).join(" -> ");
    // Kept as a browser keeps them (storeCookie): one that cannot apply to the URL or is oversized is ignored, the excess evicted.
    for (const line of p.setCookies ?? []) await storeCookie(jar, line, target.href);
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
    if (seen.has(requestKey(next))) {
      redirects.push(next.href);
      return { ...result, redirects, errors: [`redirect loop: ${chainText()}`] };
    }
    if (redirects.length >= MAX_REDIRECTS) {
      return { ...result, errors: [`more than ${MAX_REDIRECTS} redirects: ${chainText()} -> ${redactUrl(next.href)}`] };
    }
    seen.add(requestKey(next));
    redirects.push(next.href);
    // RFC 9110 15.4: a 303 is fetched with GET; so are 301 and 302 after a POST, as every client does.
    if (p.status === 303 || ((p.status === 301 || p.status === 302) && method === "POST")) method = "GET";
    url = next.href;
  }
}
