/**
 * Validation of a stack's regime config: the one place where config becomes a typed Regime.
 * Every error is one line naming the key path (`databases[0].backup.retention.daily: must be >= 1`).
 */
import { z } from "zod";
import { parseSchedule, type Schedule } from "./schedule";
import { REGIME_KEYS, regimeSchema, type Regime, type ScheduleInput } from "./schema";
import { checkFileBackupSchedules } from "./logs";
import { checkDatabaseRunners } from "./runners";

export class RegimeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegimeConfigError";
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

function issueLine(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.join(", ");
    return `${path ? path + ": " : ""}unknown key${issue.keys.length > 1 ? "s" : ""} ${keys}`;
  }
  if (issue.code === "invalid_union" && "errors" in issue && issue.errors.length) {
    // Report the branch that got furthest: its first issue, with the full path.
    const best = issue.errors.map((e) => e[0]).filter(Boolean).sort((a, b) => b.path.length - a.path.length)[0];
    if (best) return issueLine({ ...best, path: [...issue.path, ...best.path] } as z.core.$ZodIssue);
  }
  return `${path || "config"}: ${issue.message}`;
}

/** Resolves a schedule as written in config, with the regime's timezone as default. */
export function resolveSchedule(input: ScheduleInput, defaultTimezone: string): Schedule {
  return typeof input === "string" ? parseSchedule(input, defaultTimezone) : parseSchedule(input.at, input.timezone);
}

/** Every `schedule` field in the parsed regime, with its key path. */
export function scheduleFields(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; input: ScheduleInput }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => scheduleFields(v, [...path, i]));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) =>
    k === "schedule" && (typeof v === "string" || (typeof v === "object" && v !== null && "at" in v))
      ? [{ path: [...path, k], input: v as ScheduleInput }]
      : scheduleFields(v, [...path, k]),
  );
}

/** Validates a regime object; throws RegimeConfigError with one line on the first problem. */
export function validateRegime(raw: unknown): Regime {
  const parsed = regimeSchema.safeParse(raw);
  if (!parsed.success) throw new RegimeConfigError(issueLine(parsed.error.issues[0]));
  const regime = parsed.data;
  for (const f of scheduleFields(regime)) {
    try {
      resolveSchedule(f.input, regime.timezone);
    } catch (err) {
      throw new RegimeConfigError(`${formatPath(f.path)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  try {
    checkFileBackupSchedules(regime.logs, regime.timezone, "logs.");
    checkDatabaseRunners(regime.databases);
  } catch (err) {
    throw new RegimeConfigError(err instanceof Error ? err.message : String(err));
  }
  return regime;
}

/**
 * Builds the regime from a stack's config values: `{ "<project>:databases": [...], ... }` where values
 * are objects or the JSON strings Pulumi stores. Keys of other namespaces (aws:region) are ignored;
 * an unknown key of the project's own namespace is an error, so a typo cannot pass silently.
 */
export function regimeFromConfig(config: Record<string, unknown>, namespace: string): Regime {
  const raw: Record<string, unknown> = {};
  const others: string[] = [];
  for (const [fullKey, value] of Object.entries(config)) {
    const [ns, ...rest] = fullKey.split(":");
    if (ns !== namespace) continue;
    const key = rest.join(":");
    if ((REGIME_KEYS as string[]).includes(key)) raw[key] = typeof value === "string" ? parseMaybeJson(value) : value;
    else others.push(key);
  }
  // Besides the regime's keys, only the secrets the regime names (SSH private keys) may be set.
  const secrets = new Set(secretKeysNamed(raw.logs));
  const unknown = others.find((k) => !secrets.has(k));
  if (unknown !== undefined) {
    throw new RegimeConfigError(`${namespace}:${unknown}: unknown config key; known keys: ${REGIME_KEYS.join(", ")}`);
  }
  return validateRegime(raw);
}

/** Config keys named by `logs.hostGroups[].sshPrivateKeyConfig`, read before validation. */
function secretKeysNamed(logs: unknown): string[] {
  const groups = (logs as { hostGroups?: unknown } | undefined)?.hostGroups;
  if (!Array.isArray(groups)) return [];
  return groups.map((g) => (g as { sshPrivateKeyConfig?: unknown })?.sshPrivateKeyConfig).filter((k): k is string => typeof k === "string");
}

function parseMaybeJson(s: string): unknown {
  const t = s.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return JSON.parse(t);
    } catch {
      return s;
    }
  }
  if (t === "true" || t === "false") return t === "true";
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return s;
}

/** The JSON Schema of one stack's regime config (for editors and the generated README table). */
export function regimeJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(regimeSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}
