/**
 * Validation of a stack's regime config: the one place where config becomes a typed Regime.
 * Every problem is reported at once, one line each naming the key path
 * (`databases[0].backup.retention.daily: must be >= 1`).
 */
import { z } from "zod";
import { parseSchedule, ScheduleError, writtenSchedule, yearBoundProblem } from "./schedule";
import { REGIME_KEYS, regimeSchema, type ConfigSchedule, type ParsedRegime, type Regime, type ScheduleInput } from "./schema";
import { resolveLogs } from "./logs";
import { arnProblem, ARN_FORMS, secretAccountProblem } from "./arn";
import { databaseRunners } from "./runners";
import { muteSchedule, windowProblem } from "./maintenance-windows";
import { configErrorMap, continuePastIntegers } from "./primitives";

// A non-integer must not stop the checks across items and keys (duplicates, overlaps): every problem in one run.
continuePastIntegers(regimeSchema);

/**
 * A refused regime config: `lines` holds every problem found, one line each naming its key path
 * (`databases[0].backup.retention.daily: must be >= 1`); `message` is those lines joined by newlines.
 */
export class RegimeConfigError extends Error {
  readonly lines: string[];
  constructor(lines: string | string[]) {
    const list = typeof lines === "string" ? [lines] : lines;
    super(list.join("\n"));
    this.name = "RegimeConfigError";
    this.lines = list;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/**
 * The object schema's keys at a config path (`["databases", 0, "backup"]` -> rpoHours, schedule, ...),
 * through arrays, optional/default/nullable wrappers, pipes and unions; empty when the path leads
 * to no object.
 */
export function knownKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  const visit = (s: z.core.$ZodType, rest: readonly PropertyKey[], depth: number): void => {
    if (depth > 64) return;
    const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
    switch (def.type) {
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "readonly":
      case "catch":
      case "nonoptional":
        return visit(def.innerType as z.core.$ZodType, rest, depth + 1);
      case "pipe":
        return visit(def.in as z.core.$ZodType, rest, depth + 1);
      case "lazy":
        return visit((def.getter as () => z.core.$ZodType)(), rest, depth + 1);
      case "union":
        for (const o of def.options as z.core.$ZodType[]) visit(o, rest, depth + 1);
        return;
      case "array":
        if (rest.length && typeof rest[0] === "number") visit(def.element as z.core.$ZodType, rest.slice(1), depth + 1);
        return;
      case "object": {
        const shape = def.shape as Record<string, z.core.$ZodType>;
        if (rest.length === 0) for (const k of Object.keys(shape)) keys.add(k);
        else if (typeof rest[0] === "string" && shape[rest[0]]) visit(shape[rest[0]], rest.slice(1), depth + 1);
        return;
      }
    }
  };
  visit(schema, path, 0);
  return [...keys];
}

/** The issue's line and the path it names (a union reports the branch that got furthest). */
function issueOf(issue: z.core.$ZodIssue): { path: PropertyKey[]; line: string } {
  const path = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(regimeSchema, issue.path);
    const named = issue.keys.map((k) => {
      // Short keys are codes (P0..P3), where a near spelling is another code, not a typo.
      const near = k.length >= 4 ? closest(k, known) : undefined;
      return near ? `${k} (did you mean ${near}?)` : k;
    });
    return { path: issue.path, line: `${path ? path + ": " : ""}unknown key${issue.keys.length > 1 ? "s" : ""} ${named.join(", ")}` };
  }
  if (issue.code === "invalid_union" && "errors" in issue && issue.errors.length) {
    // Report the branch that got furthest: its first issue, with the full path.
    const best = issue.errors.map((e) => e[0]).filter(Boolean).sort((a, b) => b.path.length - a.path.length)[0];
    if (best) return issueOf({ ...best, path: [...issue.path, ...best.path] } as z.core.$ZodIssue);
  }
  // YAML `~` or `null` (and a Pulumi value "null"): say so instead of "expected string, received null".
  // Parsed with reportInput: an issue whose input is undefined is a key that was left out.
  if (issue.code === "invalid_type" && "input" in issue && issue.input === undefined) {
    return { path: issue.path, line: `${path || "config"}: missing; this key is required` };
  }
  if (issue.code === "invalid_type" && issue.input === null) {
    return { path: issue.path, line: `${path || "config"}: is null (empty); give it a value or remove the key` };
  }
  return { path: issue.path, line: `${path || "config"}: ${issue.message}` };
}

/** Resolves a schedule as written in config, with the regime's timezone as default; throws ScheduleError. */
function resolveSchedule(input: ScheduleInput, defaultTimezone: string): ConfigSchedule {
  const { text, timezone } = writtenSchedule(input, defaultTimezone);
  const s = parseSchedule(text, timezone);
  const ends = yearBoundProblem(s.expression);
  if (ends) throw new ScheduleError(ends);
  return { ...s, text };
}

/**
 * The regime with every schedule resolved, each in its own timezone or the regime's: the one place
 * schedules are resolved; every component reads these. Outside `logs` a schedule becomes a
 * ConfigSchedule; `logs` is resolved by resolveLogs (State Manager crons, file backups' UTC crons).
 * Throws as resolveLogs does (regimeProblems has already reported such a schedule).
 */
function withResolvedSchedules(parsed: ParsedRegime): Regime {
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === "schedule" && isScheduleInput(v) ? resolveSchedule(v, parsed.timezone) : resolve(v)]),
    );
  };
  const { logs, ...rest } = parsed;
  return { ...(resolve(rest) as Omit<Regime, "logs">), logs: resolveLogs(logs, parsed.timezone, "logs.") };
}

const isScheduleInput = (v: unknown): v is ScheduleInput =>
  typeof v === "string" || (typeof v === "object" && v !== null && "at" in v && typeof v.at === "string");

/** Every `schedule` field in the parsed regime, with its key path. */
export function scheduleFields(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; input: ScheduleInput }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => scheduleFields(v, [...path, i]));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) =>
    k === "schedule" && isScheduleInput(v)
      ? [{ path: [...path, k], input: v }]
      : scheduleFields(v, [...path, k]),
  );
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A window's or mute's names of alarms and components, as the config gives them (an invalid entry: undefined). */
export interface MuteTargets {
  /** `maintenanceWindows[0]`, `mutes[1]`. */
  key: string;
  alarms: (string | undefined)[];
  components: (string | undefined)[];
}

/** The regime's keys that create no alarm and no component: the parts whose problems leave the alarm catalogue whole. */
const MUTE_KEYS = ["maintenanceWindows", "mutes", "acceptedRisks"] as const;

/**
 * What loading a regime found. `lines`: every problem, one line each naming its key path (empty:
 * valid). `regime`: the regime, when valid. `withoutMutes`: when every problem lies in
 * maintenanceWindows, mutes or acceptedRisks (parts that create no alarm or component), the regime
 * with those lists empty: its alarms and components are the regime's, so the names a window or mute
 * gives can still be checked against them. `targets`: each window's and mute's names of alarms and
 * components (entries with a problem of their own left out), for that check.
 */
export interface RegimeProblems {
  lines: string[];
  regime?: Regime;
  withoutMutes?: Regime;
  targets: MuteTargets[];
}

/**
 * Every problem of a regime object, one line each naming its key path, in a stable order
 * (`sortConfigLines`): the schema's issues, schedules that do not resolve, file-backup schedules,
 * where each database's jobs run, and each maintenance window's schedule and duration. Every check runs on each part whose
 * own keys are valid, even where other parts are wrong, so one run shows all; a part with a problem is
 * not judged further (no follow-on lines). With `reference` (the run's reference date, 00:00 UTC of
 * `pulumi up`, the plan's --from), a window is also judged on EventBridge Scheduler's calendar over the
 * 12 months after it, and a mute without `from` against it (at most 15 days).
 */
export function regimeProblems(raw: unknown, reference?: Date): RegimeProblems {
  const parsed = regimeSchema.safeParse(raw, { reportInput: true, error: configErrorMap });
  const rawIssues = parsed.success ? [] : parsed.error.issues;
  // One line per key path: the first problem of a key (warn 120 is over 100; that it is also over crit adds nothing).
  // An unknown key covers only itself: the object's other keys (its schedule, say) are still checked.
  const reported: string[] = [];
  const lines: string[] = [];
  for (const raw of rawIssues) {
    const i = issueOf(raw);
    const at = formatPath(i.path);
    const covers = raw.code === "unrecognized_keys" ? raw.keys.map((k) => formatPath([...raw.path, k])) : [at];
    if (covers.every((c) => reported.includes(c))) continue;
    reported.push(...covers);
    lines.push(i.line);
  }
  // A path is covered when a problem was reported at it, above it or inside it.
  const under = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`);
  const covered = (path: string) => reported.some((r) => under(path, r) || under(r, path));

  // Schedules as written (defaults are valid), in the regime's timezone when that one is valid.
  const rawObject = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  const tz = parsed.success ? parsed.data.timezone : typeof rawObject.timezone === "string" && !covered("timezone") ? rawObject.timezone : "UTC";
  const resolved = new Map<string, ConfigSchedule>();
  for (const f of scheduleFields(rawObject)) {
    const at = formatPath(f.path);
    if (covered(at)) continue;
    try {
      resolved.set(at, resolveSchedule(f.input, tz));
    } catch (err) {
      lines.push(`${at}: ${message(err)}`);
      reported.push(at);
    }
  }

  // File-backup schedules, one group and one backup at a time so every bad one is named; sparse
  // arrays keep each one's index in the path (forEach skips the holes).
  const logs = parsed.success ? { success: true as const, data: parsed.data.logs } : regimeSchema.shape.logs.safeParse(rawObject.logs);
  if (logs.success) {
    logs.data.hostGroups.forEach((g, i) =>
      g.fileBackups.forEach((b, j) => {
        const fileBackups: typeof g.fileBackups = [];
        fileBackups[j] = b;
        const hostGroups: (typeof g)[] = [];
        hostGroups[i] = { ...g, fileBackups };
        try {
          resolveLogs({ hostGroups }, tz, "logs.");
        } catch (err) {
          const line = message(err);
          if (!covered(line.slice(0, line.indexOf(": ")))) lines.push(line);
        }
      }),
    );
  }
  // Where each database's jobs run (Lambda or Fargate) against the promises they carry, one database at a time.
  // A database whose own keys are valid is checked even when other parts of the regime are not.
  const databases = parsed.success
    ? parsed.data.databases.map((db) => db as ParsedRegime["databases"][number] | undefined)
    : (Array.isArray(rawObject.databases) ? rawObject.databases : []).map((db, i) => {
        // Its unknown keys are already reported: judge the rest without them.
        const known = structuredClone(db) as unknown;
        for (const issue of rawIssues) {
          if (issue.code !== "unrecognized_keys" || issue.path[0] !== "databases" || issue.path[1] !== i) continue;
          let at = known as Record<PropertyKey, unknown> | undefined;
          for (const p of issue.path.slice(2)) at = at?.[p] as Record<PropertyKey, unknown> | undefined;
          if (at && typeof at === "object") for (const k of issue.keys) delete at[k];
        }
        const one = regimeSchema.shape.databases.safeParse([known]);
        return one.success ? one.data[0] : undefined;
      });
  databases.forEach((db, i) => {
    if (!db) return;
    try {
      databaseRunners(db, `databases[${i}]`);
    } catch (err) {
      const line = message(err);
      if (!covered(line.slice(0, line.indexOf(": ")))) lines.push(line);
    }
  });
  // Maintenance windows, each whose schedule resolved and whose duration is valid: it must start at a
  // time of day and end before its next start (on the Scheduler's calendar, with a reference date).
  const items = (key: string): unknown[] => (Array.isArray(rawObject[key]) ? (rawObject[key] as unknown[]) : []);
  items("maintenanceWindows").forEach((w, i) => {
    const at = `maintenanceWindows[${i}]`;
    const schedule = resolved.get(`${at}.schedule`);
    const minutes = (w as { durationMinutes?: unknown } | null)?.durationMinutes;
    if (!schedule || typeof minutes !== "number" || covered(`${at}.schedule`) || covered(`${at}.durationMinutes`)) return;
    const problem = windowProblem(schedule, minutes, reference);
    if (problem) {
      lines.push(`${at}.${problem.key}: ${problem.message}`);
      reported.push(`${at}.${problem.key}`);
    }
  });
  // Mutes without `from`: at most 15 days from the reference date to `until`.
  if (reference) {
    items("mutes").forEach((m, i) => {
      const at = `mutes[${i}]`;
      const { from, until } = (m ?? {}) as { from?: unknown; until?: unknown };
      if (typeof until !== "string" || (from !== undefined && typeof from !== "string") || covered(`${at}.until`) || covered(`${at}.from`)) return;
      const s = muteSchedule({ from: from as string | undefined, until }, reference);
      if (s && "problem" in s) {
        lines.push(`${at}.until: ${s.problem}`);
        reported.push(`${at}.until`);
      }
    });
  }
  // The names each window and mute gives, entries with a problem of their own left out.
  const names = (at: string, list: unknown) =>
    Array.isArray(list) && !covered(at) ? list.map((n, j) => (typeof n === "string" && !covered(`${at}[${j}]`) ? n : undefined)) : [];
  const targets = (["maintenanceWindows", "mutes"] as const).flatMap((key) =>
    items(key).map((x, i) => {
      const t = (x ?? {}) as { alarms?: unknown; components?: unknown };
      return { key: `${key}[${i}]`, alarms: names(`${key}[${i}].alarms`, t.alarms), components: names(`${key}[${i}].components`, t.components) };
    }),
  );

  if (parsed.success && lines.length === 0) return { lines, regime: withResolvedSchedules(parsed.data), targets };
  const onlyMutes = lines.every((l) => MUTE_KEYS.some((k) => /^[[.:]/.test(l.slice(k.length)) && l.startsWith(k)));
  if (!onlyMutes || raw === null || typeof raw !== "object") return { lines: sortConfigLines(lines, rawObject), targets };
  const rest = regimeProblems({ ...rawObject, ...Object.fromEntries(MUTE_KEYS.map((k) => [k, []])) });
  return { lines: sortConfigLines(lines, rawObject), withoutMutes: rest.regime, targets };
}

/**
 * The lines in a stable order that keeps each item's problems together: lines of keys outside the
 * regime (misspelled namespaces, unknown config keys) first, then by top-level key in the order a
 * stack file lists them, then by item index (`maintenanceWindows[0]` before `[1]`). With `raw`, the
 * regime as the stack file holds it, an item's lines follow the order of the keys they name in it
 * (`databases[0]: unknown key bakup` before `databases[0].backup.schedule` when bakup is written
 * first; a key the file does not hold, one reported missing, after those it holds); lines naming
 * the same key, and every line without `raw`, keep their order.
 */
export function sortConfigLines(lines: readonly string[], raw?: unknown): string[] {
  const rank = (line: string): [number, number] => {
    const m = /^([A-Za-z]+)(?:\[(\d+)\])?[.:[]/.exec(line);
    const top = m ? (REGIME_KEYS as string[]).indexOf(m[1]) : -1;
    if (!m || top < 0) return [-1, 0];
    return [top, m[2] === undefined ? -1 : Number(m[2])];
  };
  const place = (line: string) => (raw === undefined ? [] : filePlace(raw, linePath(line)));
  return lines
    .map((line, i) => ({ line, i, r: rank(line), p: place(line) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || comparePlaces(a.p, b.p) || a.i - b.i)
    .map((x) => x.line);
}

/**
 * The key path a problem line names (`databases[0].purge.rules[1].table: ...` -> databases, 0, purge,
 * rules, 1, table); for an unknown key, the key itself (`databases[0]: unknown key bakup` -> databases,
 * 0, bakup).
 */
function linePath(line: string): PropertyKey[] {
  const colon = line.indexOf(": ");
  if (colon < 0) return [];
  const path: PropertyKey[] = [];
  for (const m of line.slice(0, colon).matchAll(/\[(\d+)\]|([^.[\]]+)/g)) path.push(m[1] !== undefined ? Number(m[1]) : m[2]);
  const unknown = /^unknown keys? ([^\s,]+)/.exec(line.slice(colon + 2));
  return unknown ? [...path, unknown[1]] : path;
}

/** Where each step of `path` stands in `raw`: a key's index among its object's keys (those absent after them), an item's index. */
function filePlace(raw: unknown, path: readonly PropertyKey[]): number[] {
  const out: number[] = [];
  let at = raw;
  for (const p of path) {
    if (Array.isArray(at) && typeof p === "number") {
      out.push(p);
      at = at[p];
    } else if (at !== null && typeof at === "object" && !Array.isArray(at)) {
      const keys = Object.keys(at);
      const k = keys.indexOf(String(p));
      out.push(k < 0 ? keys.length : k);
      at = k < 0 ? undefined : (at as Record<string, unknown>)[String(p)];
    } else {
      out.push(Number.MAX_SAFE_INTEGER);
      at = undefined;
    }
  }
  return out;
}

/** Places in file order: step by step; a place before any of its own inner places (an item's line before its keys'). */
function comparePlaces(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Validates a regime object; throws RegimeConfigError with one line per problem (see `regimeProblems`). */
export function validateRegime(raw: unknown): Regime {
  const { lines, regime } = regimeProblems(raw);
  if (!regime) throw new RegimeConfigError(lines);
  return regime;
}

/** Provider keys spelled like a regime key: the AWS provider's own custom `endpoints` (aws:endpoints). */
const PROVIDER_KEYS = new Set(["aws:endpoints"]);

/** Levenshtein distance of two strings (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** The closest of `candidates` to `word` when it is a likely misspelling (at most 2 edits, or a third of its length). */
function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.c : undefined;
}

/**
 * Whether namespace `ns` is a misspelling of the project's `namespace`: a few edits apart
 * (`maintenance-regim`, `maintenance_regime`, `Maintenance-Regime`), or one spelled the same
 * without its punctuation.
 */
function looksLikeNamespace(ns: string, namespace: string): boolean {
  const plain = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
  return plain(ns) === plain(namespace) || editDistance(ns.toLowerCase(), namespace.toLowerCase()) <= Math.max(3, Math.floor(namespace.length / 5));
}

/**
 * Every Secrets Manager ARN field of the config as written (`secretArn`, `passwordSecretArn`,
 * `headersSecretArn`, any key ending in `SecretArn`) holding a well-formed ARN (arnProblem: a bad one
 * is the schema's to report), with its key path.
 */
export function secretArnFields(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; arn: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => secretArnFields(v, [...path, i]));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) =>
    /^(secretArn|\w+SecretArn)$/.test(k) && typeof v === "string"
      ? arnProblem(v, ARN_FORMS.secretsManagerSecret) === undefined
        ? [{ path: [...path, k], arn: v }]
        : []
      : secretArnFields(v, [...path, k]),
  );
}

/**
 * Reads the regime from a stack's config values: `{ "<project>:databases": [...], ... }` where values
 * are objects or the JSON strings Pulumi stores. Keys of other namespaces (aws:region) are left to
 * their providers, but not when they are the project's own keys under a misspelled or foreign
 * namespace (`maintenance-regim:name`, `app:databases`): those would be ignored silently, so they are
 * refused with "did you mean". An unknown key of the project's namespace is refused too. Returns every
 * problem (these and the regime's own, `regimeProblems`, with `reference`) in a stable order
 * (`sortConfigLines`); `regime` when there is none. With `account` (the stack's 12-digit account,
 * STS GetCallerIdentity), also refuses each secret ARN of another account (secretAccountProblem).
 */
export function loadRegime(config: Record<string, unknown>, namespace: string, reference?: Date, account?: string): RegimeProblems {
  const raw: Record<string, unknown> = {};
  const others: string[] = [];
  const lines: string[] = [];
  for (const [fullKey, value] of Object.entries(config)) {
    const colon = fullKey.indexOf(":");
    const ns = colon < 0 ? "" : fullKey.slice(0, colon);
    const key = colon < 0 ? fullKey : fullKey.slice(colon + 1);
    if (ns !== namespace) {
      const regimeKey = (REGIME_KEYS as string[]).includes(key);
      if (looksLikeNamespace(ns, namespace)) {
        lines.push(`${fullKey}: unknown namespace "${ns}"; did you mean ${namespace}:${key}?`);
      } else if (regimeKey && !PROVIDER_KEYS.has(fullKey)) {
        lines.push(`${fullKey}: "${key}" is a key of ${namespace}, not of ${ns || "an empty namespace"}; did you mean ${namespace}:${key}?`);
      }
      continue;
    }
    if ((REGIME_KEYS as string[]).includes(key)) raw[key] = typeof value === "string" ? parseMaybeJson(value) : value;
    else others.push(key);
  }
  // Besides the regime's keys, only the secrets the regime names (SSH private keys) may be set.
  const secrets = new Set(secretKeysNamed(raw.logs));
  for (const unknown of others.filter((k) => !secrets.has(k))) {
    const near = closest(unknown, REGIME_KEYS);
    lines.push(`${namespace}:${unknown}: unknown config key; ${near ? `did you mean ${namespace}:${near}? ` : ""}known keys: ${REGIME_KEYS.join(", ")}`);
  }
  const problems = regimeProblems(raw, reference);
  if (account !== undefined) {
    for (const f of secretArnFields(raw)) {
      const problem = secretAccountProblem(f.arn, account);
      if (problem) lines.push(`${formatPath(f.path)}: ${problem}`);
    }
  }
  // A key under another namespace may be a regime key the regime is missing: its alarms are not known.
  if (lines.length) return { lines: sortConfigLines([...lines, ...problems.lines], raw), targets: problems.targets };
  return { ...problems, lines: sortConfigLines(problems.lines, raw) };
}

/** The regime of a stack's config values (`loadRegime`); throws RegimeConfigError with every problem. */
export function regimeFromConfig(config: Record<string, unknown>, namespace: string, reference?: Date): Regime {
  const { lines, regime } = loadRegime(config, namespace, reference);
  if (!regime) throw new RegimeConfigError(lines);
  return regime;
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
  // YAML `~`/`null` as Pulumi stores it: no value, refused where one is required (never a name "null").
  if (t === "null" || t === "~") return null;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return s;
}

/** The JSON Schema of one stack's regime config (for editors and the generated README table). */
export function regimeJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(regimeSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}
