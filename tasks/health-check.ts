/**
 * Endpoint health checks in the manner of Gatus: each endpoint has a few small conditions instead of
 * code, and every endpoint of the list is checked concurrently (CONCURRENCY at a time) within its own
 * timeout.
 *
 * ENDPOINTS is a JSON list:
 *   [{ "name": "api", "url": "https://api.example.com/health", "method": "GET", "timeoutMs": 10000,
 *      "followRedirects": true,            // false: judge a redirect itself
 *      "insecure": false, "ca": "-----BEGIN CERTIFICATE-----...",
 *      "headersSecretArn": "arn:aws:secretsmanager:...:secret:api-health-AbCdEf",
 *      "headers": { "Authorization": "Bearer ..." },   // command line only: refused in Lambda
 *      "conditions": {
 *        "status": 200,                      // or [200, 204], "2xx", "200-299", or a list of those
 *        "bodyContains": "ok",               // within the first MAX_BODY_BYTES (2 MiB) of the decoded body
 *        "jsonField": { "path": "status", "equals": "ok" },   // dotted path, `items.0.state` indexes arrays
 *        "responseTimeMs": 500,              // slow above this (redirects and headers; the body a condition reads)
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
 * Redirects (301, 302, 303, 307, 308) are followed as browsers and `curl -L` follow them: to any
 * http(s) URL, at most 10 (redirects.ts), all within the endpoint's one timeout, and the final answer
 * is judged; the result lists the URLs in `redirects`. A 303, and a 301 or 302 after a POST, is
 * fetched with GET. The endpoint's headers go along; its credentials (Authorization, Cookie,
 * Proxy-Authorization, the secret's headers) to its own origin only, as curl -L and browsers send
 * them. Cookies the answers set are kept for the run as a browser keeps them (health-check/cookie-limits.ts) and sent along. A loop (the same URL with the
 * same cookies again), more than 10
 * redirects, or a Location that is no http(s) URL is a failure naming the chain; a redirect to an
 * error is judged by the error's status. `followRedirects: false`, or a status condition that
 * accepts the redirect's own status (`"status": 301`), judges the redirect itself.
 *
 * TLS: the connection is opened with node:tls, offering HTTP/2 and HTTP/1.1 through ALPN as browsers
 * and curl do, and speaks the one the server chooses (node:http2 for h2; `protocol` in the result).
 * The peer certificates are read from that socket, so their days left are known even when one is
 * expired or self-signed. Days left are those of the certificate that expires first
 * (`certificateExpiresFirst` names it) in the chain a client validates: from the leaf through the
 * intermediates the server sends (linked by issuer and signature, in any order they are sent) up to
 * the first certificate that is itself in the trust store (node's roots and `ca`) or issued by one
 * in it, that root included. A `ca` holding an intermediate (not its root) is such an anchor, as
 * curl takes it (OpenSSL's partial-chain flag, node:tls allowPartialTrustChain). Certificates sent beyond it play no part: an expired cross-signed copy
 * of the root (Let's Encrypt's old pattern) neither pages nor counts, as OpenSSL and curl ignore it.
 * Where several certificates could issue one (a root re-issued with the same subject and key beside
 * its expired predecessor in `ca`, in either order; an intermediate cross-signed by two roots; an old
 * and a renewed copy of an intermediate sent together), the path counted is one a client validates
 * now, the one expiring last among them, as OpenSSL prefers a currently valid issuer: an expired
 * copy the client passes over never pages.
 * A chain no trusted root anchors is reported as the server sent it. Trust is then checked here (chain against the system
 * roots or `ca`, and the host name): an untrusted certificate, an expired one anywhere in the chain
 * included, is a failure and no request is sent over the connection, unless `insecure` is true
 * (days left are still reported then).
 * Every https hop of a check counts: a client following redirects validates each hop's chain (apex
 * -> www, an application -> its sign-on or CDN host), so the days left are the lowest over those
 * chains and `certificateExpiresFirst.host` names the hop (URL host, port included) that sends the
 * certificate; after redirects the warning line says `... "subject" of host expires first` and a
 * trust failure `certificate of host not trusted: ...`. A plain http hop has no certificate: an
 * https -> http redirect keeps the https hop's days.
 *
 * The body is read as an HTTP client reads it: the request offers `Accept-Encoding: gzip, deflate,
 * br`, and the content codings of Content-Encoding (gzip and x-gzip, deflate zlib-wrapped or raw, br,
 * identity; stacked ones such as `gzip, br` undone in reverse order) are decoded with node:zlib
 * streams; the text is decoded with TextDecoder from the byte-order mark, else the Content-Type
 * charset (an unknown label is ignored, as browsers do), else UTF-8. The body is read as far as the
 * conditions need: `jsonField` reads the whole document, `bodyContains` stops once the text is
 * found, and a status-only check is judged at its status and its connection closed then (a body that
 * never ends, server-sent events or a long download, is not waited for; its response time is that
 * of its headers); a content-coded body is read to its first decoded bytes, only to find one no
 * client can decode. A body condition's read stops at MAX_BODY_BYTES ("MAX_BODY_BYTES reached") or
 * at the timeout (the failure says how many bytes came). At most MAX_BODY_BYTES (default 2 MiB, up to 16 MiB) of decoded body are
 * read, then the connection is closed: the decoders run under back-pressure, so a huge, endless or
 * decompression-bomb body costs no more than that. A JSON body larger than that is a failure saying
 * so, not "not JSON". A body that cannot be decoded (unknown content coding, corrupt data) is a
 * wrong answer, body conditions or not: no client could read it. HTTP/1.1 answers are parsed as
 * leniently as curl and browsers parse them (bare LF line ends, control characters in a header
 * value). Each endpoint has one connection of its own (no keep-alive), so the response time includes DNS, TCP and
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
 * (tasks/lib/url-credentials.ts). That includes the `redirects` list.
 *
 * Metrics (Endpoint dimension, published at once): Healthy (0/1, availability only), ResponseTime
 * (ms, when a response arrived), CertificateDaysLeft (https, the earliest expiry over the chains of
 * every https hop; its record carries certificateHost, certificateSubject and certificateRole). Healthy and
 * ResponseTime are stamped with the run's scheduled time, or its start when run by hand
 * (tasks/lib/metrics.ts ofRunPeriod): a check counts in the period the down alarm expects it in,
 * however long its answer took. Days left
 * move once a day, so CertificateDaysLeft is sampled: a value below the endpoint's
 * certificateDaysLeft condition (its alarm's threshold) is published on every run, a healthy one only
 * in the first run of each UTC day when SCHEDULE_INTERVAL_SECONDS says how often the task runs
 * (tasks/lib/metrics.ts); the other runs write it as a log line.
 *
 * The parts, under tasks/health-check/: settings.ts (ENDPOINTS and the conditions), headers.ts and
 * secret-headers.ts (request headers, inline or from a secret), redirects.ts (the requests of a
 * check, redirects followed), probe.ts (connection, TLS chain, one HTTP/1.1 or HTTP/2 request) with
 * body-decoding.ts, conditions.ts (the probe judged), check.ts (every endpoint,
 * concurrently) and cli.ts (the command line). This file is the task: metrics, logs, failure line.
 */
import { defineTask, MetricUnit, recordMetric, type TaskContext } from "./lib/runtime";
import { redactText } from "./lib/url-credentials";
import { checkAll, type EndpointResult, type HealthCheckResult } from "./health-check/check";
import { healthCheckCli } from "./health-check/cli";
import { healthCheckSettings, type Endpoint } from "./health-check/settings";

/**
 * Healthy of every endpoint is a metric (the down and error-budget alarms read it). ResponseTime and
 * CertificateDaysLeft are metrics for an endpoint with that condition (its slow or certificate
 * alarm reads them, tasks/lib/metrics.ts) and log lines for the others.
 */
function emitMetrics(ctx: TaskContext, e: Endpoint, r: EndpointResult): void {
  const metric = (name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number, alarmed = true, breaching?: boolean, about: Record<string, string> = {}) =>
    alarmed ? recordMetric(ctx, name, unit, value, ["Endpoint", r.name], breaching, undefined, about) : ctx.log.info("metric", { metric: name, unit, value, Endpoint: r.name, ...about });
  metric("Healthy", MetricUnit.Count, r.healthy ? 1 : 0);
  if (r.responseTimeMs !== null) metric("ResponseTime", MetricUnit.Milliseconds, r.responseTimeMs, e.conditions.responseTimeMs !== undefined);
  // Sampled (tasks/lib/metrics.ts): fewer days left than the condition (the certificate alarm's threshold, LessThanThreshold) goes out every run.
  const minDays = e.conditions.certificateDaysLeft;
  // Which certificate the value is, and the hop (host) that sent it: after redirects it may not be the endpoint's own.
  const f = r.certificateExpiresFirst;
  const about: Record<string, string> = f ? { certificateHost: f.host, certificateSubject: f.subject, certificateRole: f.role } : {};
  if (r.certificateDaysLeft !== undefined) metric("CertificateDaysLeft", MetricUnit.Count, r.certificateDaysLeft, minDays !== undefined, minDays !== undefined && r.certificateDaysLeft < minDays, about);
}

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
