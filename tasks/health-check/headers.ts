/**
 * Request headers an endpoint check may send: the name and value rules of node's HTTP client and
 * RFC 9110, and the headers the check sets itself. Messages never quote a header's value.
 */

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
