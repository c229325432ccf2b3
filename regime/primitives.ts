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

/**
 * A check across the items of an object's lists (duplicates, overlaps, names two items share), run
 * beside other problems: `.superRefine(acrossValidItems(check), ALWAYS)`. `check` gets a copy of the
 * value in which each list item holding a problem of its own is left out: the innermost item on the
 * problem's key path becomes a hole at its index, so the paths `check` reports keep their indexes and
 * forEach, some and flatMap pass it by. The valid items are still compared with one another, and the
 * invalid one is reported on its own key only (one mistake, one line). `check` is not run when the
 * value is not an object, or a key outside every list item has a problem (`appRoot` refused: what it
 * would compare against is unknown). Unknown keys do not count. On such a copy, a check that cannot
 * read the holes (throws) is passed over; on a valid value its error propagates. With `reads`, only
 * problems under those keys count (a refused `frequency` does not stop a check that never reads it).
 */
export function acrossValidItems<T>(check: (value: T, ctx: z.RefinementCtx<T>) => void, reads?: readonly string[]) {
  return (value: T, ctx: z.RefinementCtx<T>): void => {
    if (value === null || typeof value !== "object") return;
    const problems = ctx.issues.filter((i) => i.code !== "unrecognized_keys" && (!reads || reads.includes(String(i.path?.[0]))));
    const holes: { list: unknown[]; index: number }[] = [];
    const view = problems.length ? (structuredClone(value) as T) : value;
    for (const issue of problems) {
      let at: unknown = view;
      let hole: { list: unknown[]; index: number } | undefined;
      for (const key of issue.path ?? []) {
        if (at === null || typeof at !== "object") break;
        if (Array.isArray(at) && typeof key === "number") hole = { list: at, index: key };
        at = (at as Record<PropertyKey, unknown>)[key as PropertyKey];
      }
      if (!hole) return;
      holes.push(hole);
    }
    for (const h of holes) delete h.list[h.index];
    if (holes.length === 0) return check(view, ctx);
    try {
      check(view, ctx);
    } catch {
      // The copy has holes the check does not expect: the items it could read were compared; the rest are reported on their own keys.
    }
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

// ---------------------------------------------------------------- every problem in one run

/**
 * Makes every whole-number check reachable from `schema` (`.int()`, at any depth) report its problem
 * like the other checks do, as one that lets the rest of the validation go on. zod marks a non-integer
 * as fatal (`continue: false`), and a fatal problem anywhere under a list or object stops every
 * refinement of it, even those told to run beside other issues (ALWAYS): `retention.daily: 7.5` would
 * hide `databases[1].id: duplicate database id "app"` until it is fixed. With this, such checks run;
 * the non-integer's own line stays the first of its key (later checks of the same key add nothing:
 * regime/load.ts keeps one line per key). Walks objects, lists, unions, pipes and wrappers; each check
 * is changed once. Returns `schema`.
 */
export function continuePastIntegers<S extends z.core.$ZodType>(schema: S): S {
  const seen = new Set<unknown>();
  const visit = (s: z.core.$ZodType | undefined): void => {
    if (!s || seen.has(s)) return;
    seen.add(s);
    const def = s._zod.def as unknown as Record<string, unknown>;
    for (const ch of (def.checks as z.core.$ZodCheck[] | undefined) ?? []) {
      const cdef = ch._zod.def as { check?: string; format?: string };
      if (cdef.check !== "number_format" || !cdef.format?.includes("int") || seen.has(ch)) continue;
      seen.add(ch);
      const check = ch._zod.check;
      ch._zod.check = (payload) => {
        const before = payload.issues.length;
        const result = check(payload);
        for (const issue of payload.issues.slice(before)) (issue as { continue?: boolean }).continue = true;
        return result;
      };
    }
    for (const key of ["innerType", "element", "in", "out", "left", "right", "keyType", "valueType", "catchall", "rest"]) visit(def[key] as z.core.$ZodType | undefined);
    for (const o of [...((def.options as z.core.$ZodType[] | undefined) ?? []), ...((def.items as z.core.$ZodType[] | undefined) ?? [])]) visit(o);
    if (def.shape) for (const v of Object.values(def.shape as Record<string, z.core.$ZodType>)) visit(v);
    if (typeof def.getter === "function") visit((def.getter as () => z.core.$ZodType)());
  };
  visit(schema);
  return schema;
}

/** How a config value reads in a message: `the number 5`, `the string "5"`, `a list`. */
function valueWords(input: unknown): string {
  if (typeof input === "string") return `the string ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}...` : input)}`;
  if (typeof input === "number") return `the number ${input}`;
  if (typeof input === "boolean") return String(input);
  if (Array.isArray(input)) return "a list";
  if (input !== null && typeof input === "object") return "a mapping (key: value)";
  return String(input);
}

/** What a zod type is called in a message (`must be a list`). */
const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping (key: value)",
  date: "a date",
};

/**
 * The regime's words for zod's own problems, for keys whose schema gives no message of its own
 * (those keep theirs): `must be a whole number`, `must be a number, not the string "5"`, `must be a
 * list, not a mapping (key: value)`, `must be one of lambda, fargate`, `must be >= 1`, `must not be
 * empty`. Passed as `error` where the config is parsed (regime/load.ts); the line names the key.
 * A key left out or null is worded there (`missing; this key is required`). Undefined: zod's text.
 */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  const input = issue.input;
  switch (issue.code) {
    case "invalid_type": {
      if (input === undefined) return "missing; this key is required";
      if (issue.expected === "int") return "must be a whole number";
      if (typeof input === "number" && !Number.isFinite(input)) return "must be a finite number";
      const want = TYPE_WORDS[issue.expected] ?? issue.expected;
      return `must be ${want}, not ${valueWords(input)}`;
    }
    case "invalid_value":
      return issue.values.length === 1 ? `must be ${String(issue.values[0])}` : `must be one of ${issue.values.map(String).join(", ")}`;
    case "too_small": {
      const n = String(issue.minimum);
      if (issue.origin === "string") return Number(issue.minimum) <= 1 ? "must not be empty" : `must be at least ${n} characters`;
      if (issue.origin === "array" || issue.origin === "set") return `must list at least ${n} ${Number(issue.minimum) === 1 ? "item" : "items"}`;
      return `must be ${issue.inclusive ? ">=" : ">"} ${n}`;
    }
    case "too_big": {
      const n = String(issue.maximum);
      if (issue.origin === "string") return `must be at most ${n} characters`;
      if (issue.origin === "array" || issue.origin === "set") return `must list at most ${n} items`;
      return `must be ${issue.inclusive ? "<=" : "<"} ${n}`;
    }
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    case "invalid_format": {
      const f = issue as z.core.$ZodIssueInvalidStringFormat & { prefix?: string; suffix?: string; includes?: string };
      if (f.format === "starts_with") return `must start with ${JSON.stringify(f.prefix)}`;
      if (f.format === "ends_with") return `must end with ${JSON.stringify(f.suffix)}`;
      if (f.format === "includes") return `must contain ${JSON.stringify(f.includes)}`;
      if (f.format === "regex") return `must match ${f.pattern}`;
      if (f.format === "email") return "must be an email address";
      if (f.format === "url") return "must be a URL";
      return `must be a valid ${f.format}`;
    }
    default:
      return undefined;
  }
};
