/** Building blocks shared by the regime's schemas (regime/schema.ts, regime/endpoints.ts). */
import { z } from "zod";
import { SEVERITIES } from "../components/alarms";
import { isIanaTimezone } from "./limits";

export const severity = z.enum(SEVERITIES, { message: `must be one of ${SEVERITIES.join(", ")}` });

export const id = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,23}$/, "must start with a letter and use only lowercase letters, digits and -, at most 24 characters");

export const timezone = z.string().refine(isIanaTimezone, {
  message: "must be an IANA timezone such as America/New_York or UTC (EST/PST are not: they ignore daylight saving)",
});

/**
 * A schedule: a readable form ("daily at 02:00", "weekly on Wednesday at 03:00", "monthly on day 15",
 * "first Sunday of the month at 02:00", "last Friday", "every 5 minutes") or raw EventBridge
 * `cron(...)`/`rate(...)`, in the regime's timezone unless one is given.
 */
export const schedule = z.union([z.string().min(1, "must not be empty"), z.object({ at: z.string().min(1).describe("the schedule in the readable form or cron(...)/rate(...)"), timezone: timezone.describe("IANA timezone of this schedule (America/New_York); overrides the regime's timezone") }).strict()]);
