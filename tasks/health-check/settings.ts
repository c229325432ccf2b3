/**
 * The settings of the health-check task: ENDPOINTS (a JSON list of endpoints with their conditions),
 * CONCURRENCY and MAX_BODY_BYTES, validated with the key path of the first problem
 * (`ENDPOINTS[0].conditions.status`). In Lambda, inline headers and credential-like query parameters
 * are refused: they would sit in the function's environment.
 */
import { z } from "zod";
import { envInt } from "../lib/runtime";
import { SECRET_ARN } from "../../regime/arn";
import { redactUrl, urlCredentialProblem } from "../lib/url-credentials";
import { headersProblem } from "./headers";
import { jsonPathProblem } from "./json-path";

const statusCode = z.number().int().min(100, "must be an HTTP status 100..599").max(599, "must be an HTTP status 100..599");
/** "2xx" or "200-299". */
const statusRange = z
  .string()
  .regex(/^([1-5]xx|[1-5]\d\d-[1-5]\d\d)$/, 'must be a status, a range like "2xx" or "200-299", or a list of those')
  .refine((s) => !s.includes("-") || Number(s.slice(0, 3)) <= Number(s.slice(4)), "range start must not exceed its end");
export const statusCondition = z.union([statusCode, statusRange, z.array(z.union([statusCode, statusRange])).min(1, "must list at least one status")]);

export const conditionsSchema = z
  .object({
    status: statusCondition.default(200),
    responseTimeMs: z.number().int().positive("must be > 0").optional(),
    bodyContains: z.string().min(1, "must not be empty").optional(),
    jsonField: z
      .object({
        path: z.string().superRefine((p, ctx) => {
          const problem = jsonPathProblem(p);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
        equals: z.union([z.string(), z.number(), z.boolean(), z.null()]) })
      .strict()
      .optional(),
    certificateDaysLeft: z.number().min(0, "must be >= 0").optional(),
  })
  .strict();

/**
 * Why a slow threshold of `maxResponseMs` cannot work with a timeout of `timeoutMs`, or undefined: an
 * answer slower than the timeout counts as down, so a threshold at or above it never warns. The one
 * rule for the stack config (maxResponseMs), the task's ENDPOINTS (conditions.responseTimeMs) and the
 * command line (--max-response-ms); `timeoutName` names the timeout in the line.
 */
export function slowAlarmProblem(maxResponseMs: number | undefined, timeoutMs: number, timeoutName: string): string | undefined {
  if (maxResponseMs === undefined || maxResponseMs < timeoutMs) return undefined;
  return `must be < ${timeoutName} (${timeoutMs}): an answer slower than the timeout counts as down, so the slow alarm could never fire`;
}

/** Where a credential goes instead of the URL. */
const URL_CREDENTIAL_HINT = "give the credential as a request header: headersSecretArn (or headers, --header, on the command line)";

/**
 * Why `u` cannot be checked, or undefined: not an http(s) URL, or a user name or password in it.
 * Never quotes the URL. Credential query parameters are allowed here (a local run) and refused in
 * Lambda by the settings.
 */
export function urlProblem(u: string, hint = URL_CREDENTIAL_HINT): string | undefined {
  let protocol: string;
  try {
    protocol = new URL(u).protocol;
  } catch {
    return urlCredentialProblem(u, hint) ?? "must be an http(s) URL";
  }
  if (protocol !== "http:" && protocol !== "https:") return urlCredentialProblem(u, hint) ?? "must be an http(s) URL";
  const problem = urlCredentialProblem(u, hint);
  return problem?.startsWith("must not carry") ? problem : undefined;
}

/** An endpoint's timeout when none is given, ms. */
export const DEFAULT_TIMEOUT_MS = 10_000;

export const endpointSchema = z
  .object({
    name: z.string().min(1).max(255).optional(),
    url: z.string().superRefine((u, ctx) => {
      const problem = urlProblem(u);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    method: z.enum(["GET", "HEAD", "POST"]).default("GET"),
    timeoutMs: z.number().int("must be a whole number").positive("must be > 0").max(900_000, "must be <= 900000").default(DEFAULT_TIMEOUT_MS),
    /** Follow redirects (at most MAX_REDIRECTS) and judge the final answer, as browsers and curl -L do; false judges the redirect itself. */
    followRedirects: z.boolean().default(true),
    /** Accept a certificate that does not verify (self-signed, expired, other host); days left are still checked. */
    insecure: z.boolean().default(false),
    /** Extra trusted CA certificate(s), PEM, for private CAs and self-signed certificates; an intermediate given here is a trust anchor itself (as curl takes it), its root need not be. */
    ca: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "must be PEM certificate text" }).optional(),
    /** Secrets Manager secret whose SecretString is a JSON object of header name to value, read at run time. */
    headersSecretArn: z.string().regex(SECRET_ARN, "must be the ARN of a Secrets Manager secret").optional(),
    /** Request headers given inline (command line); refused in Lambda, where they would sit in the environment. */
    headers: z.record(z.string(), z.string({ message: "header values must be strings" })).optional(),
    conditions: conditionsSchema.default({ status: 200 }),
  })
  .strict()
  .superRefine((e, ctx) => {
    const problem = e.headers ? headersProblem(e.headers) : undefined;
    if (problem) ctx.addIssue({ code: "custom", path: ["headers", problem.name ?? ""], message: problem.message });
    const slow = slowAlarmProblem(e.conditions.responseTimeMs, e.timeoutMs, "timeoutMs");
    if (slow) ctx.addIssue({ code: "custom", path: ["conditions", "responseTimeMs"], message: slow });
    if (e.conditions.certificateDaysLeft !== undefined && !e.url.startsWith("https:")) {
      ctx.addIssue({ code: "custom", path: ["conditions", "certificateDaysLeft"], message: "needs an https URL" });
    }
  });

export type EndpointInput = z.input<typeof endpointSchema>;
export type Endpoint = z.output<typeof endpointSchema>;

/** The endpoint's name: its own, or its URL with credentials redacted (it is the Endpoint dimension). */
export function endpointName(e: Pick<Endpoint, "name" | "url">): string {
  return e.name ?? redactUrl(e.url);
}

/** `ENDPOINTS[0].url` from ["ENDPOINTS", 0, "url"]. */
function keyPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

/**
 * Decoded body bytes read at most by default (MAX_BODY_BYTES): a JSON health document is judged
 * whole, and Spring Boot actuator or similar documents of many components run to hundreds of KB;
 * 2 MiB at CONCURRENCY 50 holds 100 MB at worst in the function's 256 MB.
 */
export const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024;

export const healthCheckSettings = z
  .object({
    ENDPOINTS: z.string({ message: "required: a JSON list of endpoints (or --url on the command line)" }),
    CONCURRENCY: envInt(1, 1000).default(50),
    MAX_BODY_BYTES: envInt(0, 16 * 1024 * 1024).default(DEFAULT_MAX_BODY_BYTES),
    AWS_LAMBDA_FUNCTION_NAME: z.string().optional(),
  })
  .transform((s, ctx) => {
    let raw: unknown;
    try {
      raw = JSON.parse(s.ENDPOINTS);
    } catch {
      ctx.addIssue({ code: "custom", path: ["ENDPOINTS"], message: "must be valid JSON" });
      return z.NEVER;
    }
    const parsed = z.array(endpointSchema).min(1, "must list at least one endpoint").safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      ctx.addIssue({ code: "custom", path: [keyPath(["ENDPOINTS", ...issue.path])], message: issue.message });
      return z.NEVER;
    }
    const names = new Set<string>();
    for (const [i, e] of parsed.data.entries()) {
      const name = endpointName(e);
      if (names.has(name)) {
        ctx.addIssue({ code: "custom", path: [keyPath(["ENDPOINTS", i, "name"])], message: `duplicate endpoint name "${name}"` });
        return z.NEVER;
      }
      names.add(name);
      if (s.AWS_LAMBDA_FUNCTION_NAME && e.headers) {
        ctx.addIssue({ code: "custom", path: [keyPath(["ENDPOINTS", i, "headers"])], message: "header values in an environment variable are refused in Lambda; use headersSecretArn" });
        return z.NEVER;
      }
      // A token in the query string sits in the function's environment like an inline header.
      const inUrl = s.AWS_LAMBDA_FUNCTION_NAME ? urlCredentialProblem(e.url, "in an environment variable it is refused in Lambda; use headersSecretArn") : undefined;
      if (inUrl) {
        ctx.addIssue({ code: "custom", path: [keyPath(["ENDPOINTS", i, "url"])], message: inUrl });
        return z.NEVER;
      }
    }
    return { endpoints: parsed.data, concurrency: s.CONCURRENCY, maxBodyBytes: s.MAX_BODY_BYTES };
  });
export type HealthCheckSettings = z.output<typeof healthCheckSettings>;
