/** Building blocks shared by the regime's schemas (regime/schema.ts, regime/endpoints.ts). */
import { z } from "zod";
import { SEVERITIES } from "./severity";
import { isKnownTimezone, timezoneCaseProblem } from "./limits";
import { arnPattern, arnProblem, ARN_FORMS, type ArnForm } from "./arn";
import { policyTextProblem } from "./iam-text";

export const severity = z.enum(SEVERITIES, { message: `must be one of ${SEVERITIES.join(", ")}` });

export const id = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,23}$/, "must start with a letter and use only lowercase letters, digits and -, at most 24 characters");

export const timezone = z
  .string()
  .refine(isKnownTimezone, { message: "must be an IANA timezone such as America/New_York or UTC (EST/PST are not: they ignore daylight saving)" })
  .superRefine((tz, ctx) => {
    const problem = isKnownTimezone(tz) ? timezoneCaseProblem(tz) : undefined;
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/**
 * A schedule: a readable form ("daily at 02:00", "weekly on Wednesday at 03:00", "monthly on day 15",
 * "first Sunday of the month at 02:00", "last Friday", "every 5 minutes") or raw EventBridge
 * `cron(...)`/`rate(...)`, in the regime's timezone unless one is given.
 */
export const schedule = z.union([z.string().min(1, "must not be empty"), z.object({ at: z.string().min(1).describe("the schedule in the readable form or cron(...)/rate(...)"), timezone: timezone.optional().describe("IANA timezone of this schedule (America/New_York); overrides the regime's timezone, which applies when it is left out") }).strict()]);

/**
 * `paused: true` on a scheduled job: its EventBridge Scheduler schedule is created DISABLED, its
 * missed-run (or overdue) watch does not notify, and the plan and the promise check report it paused.
 */
export const paused = z
  .boolean()
  .optional()
  .describe("true: the job's schedule is disabled and its missed-run watch silent (its alarm sits OK) until it is set back; then it is watched afresh from the `pulumi up` that sets it back, and pages only if it misses its first run due after that (the plan lists it paused)");

// ---------------------------------------------------------------- values that end up in IAM policies

/** A config string that must be an ARN of `form` (see `arnProblem`); its JSON Schema carries the pattern. */
export const arnOf = (form: ArnForm) =>
  z
    .string()
    .superRefine((v, ctx) => {
      const problem = arnProblem(v, form);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .meta({ pattern: arnPattern(form) });

/** A Secrets Manager secret's full ARN: IAM grants match it exactly, so the 6-character suffix must be there. */
export const secretsManagerArn = arnOf(ARN_FORMS.secretsManagerSecret);

// ---------------------------------------------------------------- PostgreSQL and AWS names

/** PostgreSQL truncates identifiers to NAMEDATALEN - 1 = 63 bytes (PostgreSQL docs, "Identifiers and Key Words"). */
export const PG_IDENTIFIER_MAX_BYTES = 63;

const UNQUOTED_PART = /^[\p{L}_][\p{L}\p{N}_$]*$/u;

/**
 * Reads a PostgreSQL name as config writes it: one part (`column`) or, with `qualified`, `schema.name`.
 * Each part is an unquoted identifier (a letter or `_`, then letters, digits, `_`, `$`) or a quoted one
 * (`"Audit Log"`, `""` for a quote inside). Returns the literal parts (quotes removed) or a problem;
 * `;`, control characters, a `.` inside a quoted part, parts over 63 bytes and unquoted parts with
 * capitals (PostgreSQL would fold them: `Orders` is `orders`, `"Orders"` another table) are refused.
 */
export function pgNameParts(value: string, qualified: boolean): { parts: string[] } | { problem: string } {
  const what = qualified ? "table or schema.table" : "name";
  const form = `must be a PostgreSQL ${what}: letters, digits, _ and $ starting with a letter or _, or a "quoted name"; at most ${PG_IDENTIFIER_MAX_BYTES} bytes each`;
  if (value.includes(";")) return { problem: `${form} (no ;)` };
  if (/[\u0000-\u001f\u007f]/.test(value)) return { problem: `${form} (no control characters)` };
  const parts: string[] = [];
  let i = 0;
  while (i <= value.length) {
    let part: string;
    if (value[i] === '"') {
      let j = i + 1;
      part = "";
      for (;;) {
        if (j >= value.length) return { problem: `${form} (unterminated ")` };
        if (value[j] === '"') {
          if (value[j + 1] === '"') {
            part += '"';
            j += 2;
            continue;
          }
          break;
        }
        part += value[j++];
      }
      if (part === "") return { problem: `${form} (empty "")` };
      if (part.includes(".")) return { problem: `${form} (no . inside a quoted name)` };
      i = j + 1;
    } else {
      const dot = value.indexOf(".", i);
      const end = dot < 0 ? value.length : dot;
      part = value.slice(i, end);
      if (!UNQUOTED_PART.test(part)) return { problem: form };
      // PostgreSQL folds an unquoted name to lower case; the tasks quote what they get, so say which is meant.
      if (part !== part.toLowerCase()) return { problem: `${part} is read by PostgreSQL as ${part.toLowerCase()}: write ${part.toLowerCase()}, or "${part}" for a name created in quotes with capitals` };
      i = end;
    }
    if (Buffer.byteLength(part, "utf8") > PG_IDENTIFIER_MAX_BYTES) return { problem: `${form} ("${part.slice(0, 20)}..." is longer)` };
    parts.push(part);
    if (i >= value.length) break;
    if (value[i] !== ".") return { problem: form };
    i++;
    if (i >= value.length) return { problem: form };
  }
  if (parts.length > (qualified ? 2 : 1)) return { problem: form };
  return { parts };
}

/**
 * A PostgreSQL name in config, given to the tasks as the literal name (quotes removed): the tasks quote
 * it themselves (pg escapeIdentifier), so `"Audit Log"` and `public."Audit Log"` reach the right table.
 */
export const pgName = (qualified: boolean) =>
  z.string().transform((v, ctx) => {
    const r = pgNameParts(v, qualified);
    if ("problem" in r) {
      ctx.addIssue({ code: "custom", message: r.problem });
      return z.NEVER;
    }
    return r.parts.join(".");
  });

/**
 * A PostgreSQL role name as the user of `rds-db:connect` (`arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>`):
 * 1-63 bytes, letters, digits and `_ $ . -`, starting with a letter or `_`; never an IAM wildcard.
 */
export const pgRoleName = z
  .string()
  .regex(/^[\p{L}_][\p{L}\p{N}_$.-]*$/u, "must be a PostgreSQL role name (letters, digits, _ $ . -, starting with a letter or _); \"*\" and \"?\" are IAM wildcards")
  .refine((v) => Buffer.byteLength(v, "utf8") <= PG_IDENTIFIER_MAX_BYTES, `must be at most ${PG_IDENTIFIER_MAX_BYTES} bytes`)
  // It stands in the rds-db:connect grant of the tasks' roles.
  .superRefine((v, ctx) => {
    const problem = policyTextProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: `${problem}; the rds-db:connect grant names this user` });
  });

/** RDS DB instance identifier: 1-63 letters, digits or hyphens, starting with a letter, no trailing hyphen or two hyphens in a row (RDS CreateDBInstance, DBInstanceIdentifier). */
export const rdsInstanceIdentifier = z
  .string()
  .regex(/^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$/, "must be an RDS DB instance identifier: 1-63 letters, digits or hyphens, starting with a letter")
  .refine((v) => !v.endsWith("-"), "must be an RDS DB instance identifier: no trailing hyphen");

/**
 * Load balancer and target group names: 1-32 letters, digits and hyphens, not starting or ending with a
 * hyphen (Elastic Load Balancing CreateLoadBalancer / CreateTargetGroup, Name); a load balancer name
 * cannot start with `internal-`.
 */
const ELB_NAME = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?";
export const ALB_ARN_SUFFIX = new RegExp(`^app/(?!internal-)${ELB_NAME}/[0-9a-f]{16}$`);
export const TARGET_GROUP_ARN_SUFFIX = new RegExp(`^targetgroup/${ELB_NAME}/[0-9a-f]{16}$`);

// ---------------------------------------------------------------- lists of named items

/**
 * Refinement option: run even when other parts of the value already have issues, so one run of the
 * validation reports a duplicate beside a malformed neighbour (zod skips refinements otherwise).
 */
export const ALWAYS = { when: () => true } as const;

/**
 * Refinement option for a check across an object's own keys (`maxResponseMs` below `timeoutMs`): it
 * runs when the object is one and none of `keys` has a problem of its own, whatever is wrong with its
 * other keys (an unknown key, a bad name). zod runs such a check beside a key's own problem (a value
 * below its `min` does not stop it), so a bound read from a refused value would give a second line,
 * naming a bound that is itself refused: one mistake, one line (README, "every error is reported in
 * the same run"). The check reads only `keys`; it may take their values as valid.
 */
export function whenValid(...keys: readonly string[]): { when: (payload: z.core.ParsePayload) => boolean } {
  return {
    when: (payload) =>
      payload.value !== null &&
      typeof payload.value === "object" &&
      !payload.issues.some((i) => (i.path?.length ? keys.includes(String(i.path[0])) : i.code !== "unrecognized_keys")),
  };
}

/**
 * A refinement for a list whose items are named (`databases[].id`, `hosts[].name`): the second item
 * with a name already used is refused at `<basePath>[i].<field>` with `duplicate <what> "<name>"`.
 * `keyOf` normalises the name where two spellings mean one thing (`audit_logs` and `public.audit_logs`);
 * an item whose key is undefined is not compared. Used as `.superRefine(uniqueBy(...))` on the list,
 * or called from an enclosing object's refinement with the list's `basePath`.
 */
export function uniqueBy<T>(field: string, what: string, keyOf: (item: T) => string | undefined = (item) => (item as Record<string, unknown>)[field] as string | undefined) {
  return (items: T[], ctx: z.RefinementCtx, basePath: (string | number)[] = []): void => {
    if (!Array.isArray(items)) return;
    const seen = new Set<string>();
    items.forEach((item, i) => {
      // Also run beside other issues (ALWAYS): an item that is not an object or has no name yet is skipped.
      if (item === null || typeof item !== "object" || typeof (item as Record<string, unknown>)[field] !== "string") return;
      const key = keyOf(item);
      if (typeof key !== "string") return;
      if (seen.has(key)) {
        const shown = (item as Record<string, unknown>)[field] ?? key;
        ctx.addIssue({ code: "custom", path: [...basePath, i, field], message: `duplicate ${what} "${String(shown)}"` });
      }
      seen.add(key);
    });
  };
}

/** The same for a list of plain strings (emails, table names): the repeated entry is refused at `[i]`. */
export function uniqueValues(what: string, keyOf: (v: string) => string = (v) => v) {
  return (items: string[], ctx: z.RefinementCtx): void => {
    if (!Array.isArray(items)) return;
    const seen = new Set<string>();
    items.forEach((v, i) => {
      if (typeof v !== "string") return;
      const key = keyOf(v);
      if (seen.has(key)) ctx.addIssue({ code: "custom", path: [i], message: `duplicate ${what} "${v}"` });
      seen.add(key);
    });
  };
}
