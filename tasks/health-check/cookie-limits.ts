/**
 * What a browser keeps of the cookies a server sets, so a check sends back the Cookie header a
 * browser would: a server that sets an oversized or excessive cookie by mistake still works for
 * browsers (they drop the excess), and a check that kept everything would be answered 400 or 431
 * (header too large) and report down where users are served.
 *
 * Limits are Chromium's (net/cookies: ParsedCookie kMaxCookieNamePlusValueSize, CookieMonster
 * kDomainMaxCookies/kDomainPurgeCookies, kMaxCookies/kPurgeCookies), above RFC 6265 section 6.1's
 * minimum capabilities (4096 bytes per cookie, 50 per domain, 3000 in all).
 */
import { Cookie, getPublicSuffix, type CookieJar } from "tough-cookie";

/** A cookie whose name and value together exceed this many bytes (UTF-8) is ignored: 4096. */
export const COOKIE_MAX_NAME_VALUE_BYTES = 4096;
/** Cookies kept per registrable domain (eTLD+1, or the host for an IP address or a single-label name): 180; beyond, the least recently used are evicted down to 150. */
export const COOKIES_PER_DOMAIN = { max: 180, purgeTo: 150 } as const;
/** Cookies kept in all: 3300; beyond, the least recently used are evicted down to 3000. */
export const COOKIES_TOTAL = { max: 3300, purgeTo: 3000 } as const;

/** The key cookies are counted under: the registrable domain of the cookie's domain, else the domain itself. */
function domainKey(c: Cookie): string {
  const domain = c.domain ?? "";
  try {
    return getPublicSuffix(domain, { allowSpecialUseDomain: true, ignoreError: true }) ?? domain;
  } catch {
    return domain;
  }
}

/** Least recently used first (tough-cookie updates lastAccessed when a cookie is sent), then oldest. */
function lastUsed(c: Cookie): number {
  const t = c.lastAccessed instanceof Date ? c.lastAccessed : c.creation instanceof Date ? c.creation : undefined;
  return t ? t.getTime() : 0;
}

async function evict(jar: CookieJar, cookies: Cookie[], count: number): Promise<void> {
  const oldest = [...cookies].sort((a, b) => lastUsed(a) - lastUsed(b) || (a.creationIndex ?? 0) - (b.creationIndex ?? 0)).slice(0, count);
  for (const c of oldest) await jar.store.removeCookie(c.domain, c.path, c.key);
}

/**
 * Stores the Set-Cookie `line` an answer from `url` carried into `jar` as a browser does: ignored
 * when it cannot apply to the URL (another domain, a public suffix, malformed; tough-cookie's rules)
 * or when its name and value exceed COOKIE_MAX_NAME_VALUE_BYTES; then, when its domain holds more
 * than COOKIES_PER_DOMAIN.max cookies or the jar more than COOKIES_TOTAL.max, the least recently
 * used are evicted down to the purge figure. Never throws.
 */
export async function storeCookie(jar: CookieJar, line: string, url: string): Promise<void> {
  const parsed = Cookie.parse(line);
  if (!parsed || Buffer.byteLength(parsed.key + parsed.value) > COOKIE_MAX_NAME_VALUE_BYTES) return;
  const stored = await jar.setCookie(line, url, { ignoreError: true });
  if (!stored) return;
  const all = await jar.store.getAllCookies();
  const key = domainKey(stored);
  const sameDomain = all.filter((c) => domainKey(c) === key);
  if (sameDomain.length > COOKIES_PER_DOMAIN.max) await evict(jar, sameDomain, sameDomain.length - COOKIES_PER_DOMAIN.purgeTo);
  else if (all.length > COOKIES_TOTAL.max) await evict(jar, all, all.length - COOKIES_TOTAL.purgeTo);
}
