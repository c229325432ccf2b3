/**
 * The cookies of one check run, kept across its redirects as a browser keeps them, so a server that
 * sets a session cookie and redirects back to the same URL (a session bootstrap) is answered. The
 * subset of RFC 6265 such a chain needs: name=value, Domain (host-only without it), Path (default
 * path of 5.1.4), Max-Age and Expires (removal and expiry), Secure (https only). SameSite and
 * HttpOnly do not change what one client sends along its own redirects. Nothing outlives the run.
 * (No cookie library is in the lock file; this subset is a few lines.)
 */

interface Cookie {
  name: string;
  value: string;
  /** Lower-case host name, without a leading dot. */
  domain: string;
  hostOnly: boolean;
  path: string;
  secure: boolean;
  /** Epoch ms, Infinity for a session cookie. */
  expires: number;
}

/** RFC 6265 5.1.4: the directory of the request path, "/" at the top. */
function defaultPath(pathname: string): string {
  if (!pathname.startsWith("/")) return "/";
  const last = pathname.lastIndexOf("/");
  return last <= 0 ? "/" : pathname.slice(0, last);
}

/** RFC 6265 5.1.3: host equals domain, or ends with "." + domain and is no IP address. */
function domainMatches(host: string, domain: string): boolean {
  return host === domain || (host.endsWith(`.${domain}`) && !/^[\d.]+$|:/.test(host));
}

/** RFC 6265 5.1.4. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  return requestPath === cookiePath || (requestPath.startsWith(cookiePath) && (cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/"));
}

export class CookieJar {
  #cookies: Cookie[] = [];

  /** Stores the Set-Cookie lines of an answer from `url`; a line that cannot apply to it is ignored, as browsers ignore it. */
  store(url: URL, setCookies: readonly string[], now = Date.now()): void {
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (!name) continue;
      const c: Cookie = { name, value, domain: host, hostOnly: true, path: defaultPath(url.pathname), secure: false, expires: Infinity };
      let maxAge: number | undefined;
      let ok = true;
      for (const attr of attrs) {
        const i = attr.indexOf("=");
        const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const v = i < 0 ? "" : attr.slice(i + 1).trim();
        if (key === "domain" && v) {
          const d = v.replace(/^\./, "").toLowerCase();
          if (!domainMatches(host, d)) ok = false;
          else if (d !== host) Object.assign(c, { domain: d, hostOnly: false });
          else c.hostOnly = false;
        } else if (key === "path" && v.startsWith("/")) c.path = v;
        else if (key === "secure") c.secure = true;
        else if (key === "max-age" && /^-?\d+$/.test(v)) maxAge = Number(v);
        else if (key === "expires" && maxAge === undefined) {
          const t = Date.parse(v);
          if (Number.isFinite(t)) c.expires = t;
        }
      }
      if (!ok || (c.secure && url.protocol !== "https:")) continue;
      if (maxAge !== undefined) c.expires = maxAge <= 0 ? -Infinity : now + maxAge * 1000;
      this.#cookies = this.#cookies.filter((o) => !(o.name === c.name && o.domain === c.domain && o.path === c.path));
      if (c.expires > now) this.#cookies.push(c);
    }
  }

  /** The Cookie header value for `url` (longer paths first, RFC 6265 5.4), or undefined when none applies. */
  header(url: URL, now = Date.now()): string | undefined {
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
    const sent = this.#cookies
      .filter((c) => c.expires > now && (c.hostOnly ? host === c.domain : domainMatches(host, c.domain)) && pathMatches(url.pathname, c.path) && (!c.secure || url.protocol === "https:"))
      .sort((a, b) => b.path.length - a.path.length);
    return sent.length ? sent.map((c) => `${c.name}=${c.value}`).join("; ") : undefined;
  }
}
