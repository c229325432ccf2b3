/**
 * The health-check command line (`npm run task -- health-check --url ...`): options turned into the
 * task's settings (ENDPOINTS, CONCURRENCY, MAX_BODY_BYTES), each refusal naming its option.
 */
import { readFileSync } from "node:fs";
import { oneLine, TaskError } from "../lib/runtime";
import { SECRET_ARN } from "../../regime/arn";
import { redactUrl } from "../lib/url-credentials";
import { headersProblem } from "./headers";
import { jsonPathProblem } from "./json-path";
import { DEFAULT_TIMEOUT_MS, slowAlarmProblem, statusCondition, urlProblem, type EndpointInput } from "./settings";

const CLI_OPTIONS = ["url", "name", "method", "timeout-ms", "max-response-ms", "min-cert-days", "status", "body-contains", "json-field", "insecure", "no-follow-redirects", "ca", "header", "headers-secret-arn", "concurrency", "max-body-bytes"];

function cliNumber(options: Record<string, string[]>, key: string, min: number): number | undefined {
  const v = options[key]?.at(-1);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < min) throw new TaskError(`--${key}: must be a whole number >= ${min}, got "${v}"`);
  return n;
}

/**
 * The value of `--json-field path=value`, compared strictly with the field as the config's typed
 * `equals` is: a number, true, false or null when the JSON literal reads back as written (`42`,
 * `1.5`, `true`); a quoted JSON string as that string; else the text as written, a string: `1.10`,
 * `1e3` or `007`, which a number would not keep as written, match the field "1.10", not 1.1.
 */
export function cliJsonValue(raw: string): string | number | boolean | null {
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v === "string") return v;
    if ((v === null || typeof v === "number" || typeof v === "boolean") && JSON.stringify(v) === raw.trim()) return v;
  } catch {
    /* a bare word is a string */
  }
  return raw;
}

/**
 * `--url A --url B [--name a --name b] [--timeout-ms N] [--max-response-ms N] [--min-cert-days N]
 * [--status 200|2xx|200,204] [--body-contains TEXT] [--json-field path=value] [--insecure]
 * [--no-follow-redirects] [--ca FILE]
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
  const slow = slowAlarmProblem(maxResponseMs, timeoutMs ?? DEFAULT_TIMEOUT_MS, timeoutMs === undefined ? "the default --timeout-ms" : "--timeout-ms");
  if (slow) throw new TaskError(`--max-response-ms: ${slow}`);
  const minCertDays = cliNumber(options, "min-cert-days", 0);
  const insecureRaw = options.insecure?.at(-1);
  if (insecureRaw !== undefined && !["true", "false"].includes(insecureRaw)) throw new TaskError(`--insecure: takes no value (or true/false), got "${insecureRaw}"`);
  const noFollowRaw = options["no-follow-redirects"]?.at(-1);
  if (noFollowRaw !== undefined && !["true", "false"].includes(noFollowRaw)) throw new TaskError(`--no-follow-redirects: takes no value (or true/false), got "${noFollowRaw}"`);
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
    const path = jf.slice(0, eq);
    const pathProblem = jsonPathProblem(path);
    if (pathProblem) throw new TaskError(`--json-field: path ${pathProblem}, got "${path}"`);
    jsonField = { path, equals: cliJsonValue(jf.slice(eq + 1)) };
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
    ...(noFollowRaw === "true" ? { followRedirects: false } : {}),
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
