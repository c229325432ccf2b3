/**
 * Credentials inside URLs: a user name and password (`https://admin:S3cret@app.example.com/`) and
 * credential-like query or fragment parameters (`?token=...`, `api_key=`, `X-Amz-Signature=`).
 * A URL of the config ends up in places that are not secret: a function's environment variables,
 * alarm descriptions that SNS mails out, the dashboard, task results and logs. The regime refuses
 * such URLs (regime/endpoints.ts) and the health-check task redacts them in everything it prints.
 *
 * Redaction keeps the URL readable: the whole userinfo becomes `***` (a token may stand in the user
 * name: `https://<token>@host/`), and the value of each credential parameter becomes `***`, the
 * other parameters left as written.
 */

/** What a redacted part is replaced with. */
export const REDACTED = "***";

/** Parameter names (lower case, without `-`, `_`, `.` and spaces) that are credentials themselves. */
const CREDENTIAL_NAMES = new Set(["key", "sig", "pwd", "pass", "auth", "jwt", "apikey"]);
/** Parts of a parameter name that make it a credential (access_token, client_secret, X-Amz-Signature, X-Amz-Credential). */
const CREDENTIAL_PARTS = ["token", "secret", "password", "passwd", "passphrase", "apikey", "accesskey", "privatekey", "signature", "credential", "sessionid", "authorization"];

/** Whether a query or fragment parameter of this name carries a credential (`token`, `api_key`, `X-Amz-Signature`). */
export function isCredentialParam(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_.\s]/g, "");
  return CREDENTIAL_NAMES.has(n) || CREDENTIAL_PARTS.some((p) => n.includes(p));
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return raw;
  }
}

/** The credential parameter names of a query or fragment (`?a=1&token=x` gives ["token"]), as written. */
function credentialParams(part: string): string[] {
  return part
    .replace(/^[?#]/, "")
    .split(/[&;]/)
    .filter((p) => p !== "")
    .map((p) => decodeName(p.split("=")[0]))
    .filter(isCredentialParam);
}

/** A query or fragment with the value of each credential parameter replaced by `***`. */
function redactParams(part: string): string {
  if (part.length <= 1) return part;
  const lead = part[0];
  const body = part
    .slice(1)
    .split(/([&;])/)
    .map((p) => {
      if (p === "&" || p === ";") return p;
      const eq = p.indexOf("=");
      const name = eq < 0 ? p : p.slice(0, eq);
      return isCredentialParam(decodeName(name)) && eq >= 0 ? `${name}=${REDACTED}` : p;
    })
    .join("");
  return lead + body;
}

/** `user:password@` at the start of a text that is not a URL with a host. */
const USERINFO_AT_START = /^[^\s/?#:]+:[^\s/?#@]*@/;

/**
 * Why this URL must not stand in config or an environment variable, or undefined. The reason never
 * quotes the URL nor a credential's value; `secretHint` tells where the credential goes instead
 * (headersSecretArn). Examples:
 *   "must not carry a user name or password (user:password@host): ..."
 *   'query parameter "token" carries a credential: ...'
 */
export function urlCredentialProblem(raw: string, secretHint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not a URL: the caller's own check reports it, without quoting the text.
    return /^[^\s/?#]*\/\/[^/?#\s]*@/.test(raw) || USERINFO_AT_START.test(raw) ? `must not carry a user name or password (user:password@host): ${secretHint}` : undefined;
  }
  if (url.username !== "" || url.password !== "" || (url.host === "" && USERINFO_AT_START.test(raw))) return `must not carry a user name or password (user:password@host): ${secretHint}`;
  const inQuery = credentialParams(url.search);
  if (inQuery.length) return `query parameter ${JSON.stringify(inQuery[0])} carries a credential: ${secretHint}`;
  const inFragment = credentialParams(url.hash);
  if (inFragment.length) return `fragment parameter ${JSON.stringify(inFragment[0])} carries a credential: ${secretHint}`;
  return undefined;
}

/**
 * The URL with its userinfo and credential parameter values replaced by `***`:
 * `https://admin:S3cret@app.example.com/health?token=abc&v=2` gives
 * `https://***@app.example.com/health?token=***&v=2`. Text that is not an absolute URL is returned
 * with anything shaped like `user:password@` redacted.
 */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return redactText(raw);
  }
  const userinfo = url.username !== "" || url.password !== "";
  // `admin:S3cret@host` parses as the scheme "admin:" with an opaque path: redact it as text.
  if (!userinfo && url.host === "") return redactText(raw);
  if (!userinfo && !credentialParams(url.search).length && !credentialParams(url.hash).length) return raw;
  // Rebuilt from the parsed URL: the text as written may hide userinfo behind backslashes or
  // missing slashes (https:\\admin:pw@host, https:admin:pw@host), which the parser still finds.
  const authority = url.protocol === "file:" || url.host !== "" || userinfo ? `//${userinfo ? `${REDACTED}@` : ""}${url.host}` : "";
  return `${url.protocol}${authority}${url.pathname}${redactParams(url.search)}${redactParams(url.hash)}`;
}

/** Absolute URLs inside free text (error messages, log lines). */
const URL_IN_TEXT = /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s"'<>`]+/g;
/** `user:password@` without a scheme in front (`admin:S3cret@app.example.com`). */
const USERINFO_IN_TEXT = /(^|[\s"'(<[=,])([^\s"'()<>[\]/@:=,]+:[^\s"'()<>[\]/@]*)@(?=[^\s@/]+)/g;

/**
 * Free text (a failure line, an error message that quotes a URL, a Location header) with every URL
 * in it redacted as redactUrl does, and any `user:password@` outside a URL replaced by `***@`.
 */
export function redactText(text: string): string {
  const urls = text.replace(URL_IN_TEXT, (u) => {
    // A sentence may end right after the URL: keep trailing punctuation out of it.
    const m = /^(.*?)([).,;:!?\]]*)$/.exec(u)!;
    return redactUrlOnly(m[1]) + m[2];
  });
  return urls.replace(USERINFO_IN_TEXT, (_all, lead: string) => `${lead}${REDACTED}@`);
}

function redactUrlOnly(u: string): string {
  try {
    new URL(u);
  } catch {
    return u.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#]*@/, `$1${REDACTED}@`);
  }
  return redactUrl(u);
}
