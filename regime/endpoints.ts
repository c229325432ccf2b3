/** Endpoint health checks of the regime: `maintenance-regime:endpoints`. */
import { z } from "zod";
import { id, schedule, severity } from "./primitives";

const statusCondition = z.union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)]);

export const endpointSchema = z
  .object({
    name: id,
    url: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }),
    method: z.enum(["GET", "HEAD", "POST"]).default("GET"),
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
    status: statusCondition.default(200),
    maxResponseMs: z.number().int().min(1).optional().describe("seed 001: API response time > 500 ms"),
    bodyContains: z.string().optional(),
    jsonField: z.object({ path: z.string().min(1), equals: z.union([z.string(), z.number(), z.boolean()]) }).strict().optional(),
    minCertificateDays: z.number().int().min(1).optional().describe("for https: alarm when the certificate expires sooner"),
    severity: severity.default("P0"),
    failuresBeforeAlarm: z.number().int().min(1).max(60).default(5).describe("seed 000: service down > 5 minutes"),
  })
  .strict()
  .refine((e) => e.minCertificateDays === undefined || e.url.startsWith("https:"), { message: "needs an https URL", path: ["minCertificateDays"] });

export const endpointsSchema = z
  .object({
    schedule: schedule.default("every 1 minute"),
    checks: z.array(endpointSchema).min(1, "must list at least one endpoint"),
  })
  .strict()
  .refine((e) => new Set(e.checks.map((c) => c.name)).size === e.checks.length, { message: "endpoint names must be unique", path: ["checks"] });

export type EndpointConfig = z.output<typeof endpointSchema>;
