/**
 * What a change does to the regime, from two offline plans (`npm run plan -- --json`): resources
 * added and removed per component, schedules, alarms, promises whose figure or status changes,
 * outputs and the monthly cost, as GitHub
 * Markdown for a pull-request comment or a job summary.
 *
 * `npx tsx plan/diff.ts BASE.json HEAD.json [--svg-link URL] [--base-optional] [--max-chars N]`
 *
 * --base-optional: a missing BASE file is a base commit that gave no offline plan (everything is new).
 * --max-chars N: cut the Markdown at a line boundary to at most N characters (a PR comment holds 65,536).
 */
import * as fs from "node:fs";
import { promiseChanges, promiseSection, type PlanPromise } from "./promises";
import { LEFTOVER_PROMISE } from "../regime/promises";
import { IN_THE_LOG_ARCHIVE } from "../regime/log-retention";
import type { Plan } from "./run";
import { isCatchAll, keptFor } from "../regime/retention";

type Resource = Plan["components"][number]["resources"][number];
type Schedule = Plan["calendar"][number];
type Alarm = Plan["alarms"][number];

export interface DiffOptions {
  /** Where the head's calendar picture can be seen (an artifact or run URL). */
  svgLink?: string;
  /** The base commit had no offline plan: `base` is empty and the diff says so. */
  baseMissing?: boolean;
}

/** Code-unit order: the same on every machine whatever its locale. */
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Inline code; a backtick inside would end the span, so it is replaced. */
const code = (s: string) => "`" + s.replace(/`/g, "'") + "`";

/** A table cell: pipes and line breaks would break the row. */
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

const cents = (n: number) => Math.round(n * 100);
const usd = (c: number) => `$${(c / 100).toFixed(2)}`;
const signedUsd = (c: number) => (c > 0 ? `+${usd(c)}` : c < 0 ? `-${usd(-c)}` : "±$0.00");
const signed = (n: number) => (n > 0 ? `+${n}` : n < 0 ? `-${-n}` : "±0");

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => " --- ").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)];
}

/** Entries of `base` and `head` by key: only in base, only in head, in both (sorted by key). */
function match<T>(base: T[], head: T[], key: (x: T) => string) {
  const b = new Map(base.map((x) => [key(x), x]));
  const h = new Map(head.map((x) => [key(x), x]));
  const keys = [...new Set([...b.keys(), ...h.keys()])].sort(byString);
  return {
    removed: keys.filter((k) => !h.has(k)).map((k) => b.get(k)!),
    added: keys.filter((k) => !b.has(k)).map((k) => h.get(k)!),
    both: keys.filter((k) => b.has(k) && h.has(k)).map((k) => [b.get(k)!, h.get(k)!] as [T, T]),
  };
}

const resourceKey = (r: Resource) => `${r.type}\u0000${r.name}`;

interface ComponentChange {
  component: string;
  type: string;
  status: "new" | "removed" | "changed";
  added: Resource[];
  removed: Resource[];
}

function componentChanges(base: Plan, head: Plan): ComponentChange[] {
  const m = match(base.components, head.components, (c) => c.component);
  const out: ComponentChange[] = [
    ...m.added.map((c) => ({ component: c.component, type: c.type, status: "new" as const, added: c.resources, removed: [] })),
    ...m.removed.map((c) => ({ component: c.component, type: c.type, status: "removed" as const, added: [], removed: c.resources })),
    ...m.both.map(([b, h]) => {
      const r = match(b.resources, h.resources, resourceKey);
      return { component: h.component, type: h.type, status: "changed" as const, added: r.added, removed: r.removed };
    }),
  ].filter((c) => c.added.length + c.removed.length > 0 || c.status !== "changed");
  for (const c of out) for (const list of [c.added, c.removed]) list.sort((x, y) => byString(resourceKey(x), resourceKey(y)));
  return out.sort((a, b) => byString(a.component, b.component));
}

const ALARM_FIELDS: [keyof Alarm, string][] = [
  ["severity", "severity"],
  ["condition", "condition"],
  ["pages", "pages"],
  ["metric", "metric"],
  ["treatMissingData", "missing data"],
];

/**
 * The config items whose stored data a bucket keeps (a database's backups, a file backup's archives, an
 * archived log set's rotated files) in base but not in head (removed or renamed), each with what now
 * expires it: the head's catch-all promise of its collection (regime/promises.ts leftoverPromise), or,
 * when the head has no such bucket any more, the base's (the lifecycle configuration stays on the
 * bucket). Found by the config keys of the base's promises.
 */
export function removedStores(base: Plan, head: Plan): { item: string; line: string }[] {
  const baseItems = base.promises?.items ?? [];
  const headKeys = (head.promises?.items ?? []).map((p) => p.key);
  const stores = [
    { pattern: /^databases\[[^\]]+\]/, family: "databases", data: "its backups", stores: () => true },
    { pattern: /^logs\.hostGroups\[[^\]]+\]\.fileBackups\[[^\]]+\]/, family: "logs.hostGroups", data: "its archives", stores: () => true },
    { pattern: /^logs\.hostGroups\[[^\]]+\]\.logSets\[[^\]]+\]/, family: "logs.hostGroups", data: "its archived logs", stores: (ps: PlanPromise[]) => ps.some((p) => p.figure.includes(IN_THE_LOG_ARCHIVE)) },
  ];
  const catchAll = (plan: Plan, family: string) => plan.promises?.items.find((p) => p.key === family && p.promise.endsWith(LEFTOVER_PROMISE));
  const out: { item: string; line: string }[] = [];
  for (const s of stores) {
    const items = [...new Set(baseItems.map((p) => s.pattern.exec(p.key)?.[0]).filter((k): k is string => k !== undefined))].sort(byString);
    for (const item of items) {
      if (headKeys.some((k) => k === item || k.startsWith(`${item}.`))) continue;
      if (!s.stores(baseItems.filter((p) => p.key === item || p.key.startsWith(`${item}.`)))) continue;
      const now = catchAll(head, s.family);
      const before = catchAll(base, s.family);
      const line = now
        ? `${code(item)} removed: ${s.data} expire by the catch-all rules (${now.figure})`
        : before
          ? `${code(item)} removed, and its bucket leaves the program: ${s.data} expire by the catch-all rules its lifecycle configuration keeps on the bucket (${before.figure})`
          : `${code(item)} removed: no lifecycle rule of this plan expires ${s.data}; they are kept and billed until removed by hand`;
      out.push({ item, line });
    }
  }
  const named = out.map((o) => o.item);
  for (const lost of lostPrefixes(base, head)) {
    if (named.some((i) => lost.item === i || lost.item.startsWith(`${i}.`))) continue;
    out.push(lost);
  }
  return out.sort((a, b) => byString(a.item, b.item));
}

/** What data a rule's config key holds, for a line of the diff. */
function dataOf(key: string | undefined): string {
  if (!key) return "what it kept";
  if (key.endsWith(".archive")) return "its archived logs";
  if (key.includes(".fileBackups[")) return "its archives";
  const tier = /\.backup\.retention\.(\w+)$/.exec(key)?.[1];
  if (tier) return `its ${tier} backups`;
  if (key.startsWith("databases[")) return "its restore-drill records";
  return "what it kept";
}

/**
 * The prefixes of a bucket that had a lifecycle rule with days in the base and have none in the head
 * while the bucket stays in the program: what is stored under them now expires by whatever rules of
 * the head match (the catch-alls), found by S3's selection (regime/retention.ts keptFor: the shortest
 * of the enabled matching rules). Covers what a removed config item cannot show: a log set that stops
 * archiving, a changed `archive.prefix`, a database that drops a tier. Each line names the config key
 * (plan/config-keys.ts lifecycleOf) and the days before and after, and says so when data is deleted
 * sooner than before. Plans without `lifecycle` (older ones) give none.
 */
export function lostPrefixes(base: Plan, head: Plan): { item: string; line: string }[] {
  const out: { item: string; line: string }[] = [];
  for (const b of base.lifecycle ?? []) {
    const h = (head.lifecycle ?? []).find((x) => x.resource === b.resource);
    // The bucket leaves the program: its lifecycle configuration stays on it unchanged (retainOnDelete).
    if (!h) continue;
    const headPrefixes = new Set(h.rules.map((r) => r.filter?.prefix ?? ""));
    for (const rule of b.rules) {
      const prefix = rule.filter?.prefix ?? "";
      if (prefix === "" || headPrefixes.has(prefix)) continue;
      const was = keptFor(b.rules, prefix).readableDays;
      const now = keptFor(h.rules, prefix);
      const moved = rule.key ? h.rules.find((r) => r.key === rule.key) : undefined;
      const item = rule.key ?? `rule ${rule.id} of ${b.resource}`;
      const what = moved ? `${code(item)}: prefix ${code(prefix)} changed to ${code(moved.filter?.prefix ?? "")}` : `${code(item)} removed`;
      const by = now.rules.every(isCatchAll) ? "the catch-all rules" : `rules ${now.rules.join(", ")}`;
      const data = `${dataOf(rule.key)} under ${code(prefix)}`;
      const line =
        now.readableDays === undefined
          ? `${what}: no enabled lifecycle rule expires ${data} any more (was ${was} days); they are kept and billed until removed by hand`
          : `${what}: ${data} now expire by ${by} (${now.readableDays} days, was ${was})` +
            (was !== undefined && now.readableDays < was ? `. **Deleted sooner than before**: what is older than ${now.readableDays} days goes on S3's first lifecycle run after \`pulumi up\`` : "");
      out.push({ item, line });
    }
  }
  return out;
}

/** Components listing more resources than this fold them under a <details> toggle. */
const FOLD_AT = 15;

export function diffPlans(base: Plan, head: Plan, opts: DiffOptions = {}): string {
  const components = componentChanges(base, head);
  const schedules = match(base.calendar, head.calendar, (s) => s.schedule);
  const schedulesChanged = schedules.both.filter(([b, h]) => b.expression !== h.expression || b.timezone !== h.timezone);
  const alarms = match(base.alarms, head.alarms, (a) => a.name);
  const alarmsChanged = alarms.both
    .map(([b, h]) => ({ name: h.name, fields: ALARM_FIELDS.filter(([f]) => b[f] !== h[f]).map(([f, label]) => ({ label, before: b[f], after: h[f] })) }))
    .filter((a) => a.fields.length > 0);
  const outputs = match(Object.keys(base.outputs ?? {}), Object.keys(head.outputs ?? {}), (k) => k);
  const costs = match(base.cost.components, head.cost.components, (c) => c.component);
  const costRows = [
    ...costs.removed.map((c) => ({ component: c.component, before: cents(c.monthlyUsd), after: 0, note: " (removed)" })),
    ...costs.added.map((c) => ({ component: c.component, before: 0, after: cents(c.monthlyUsd), note: " (new)" })),
    ...costs.both.map(([b, h]) => ({ component: h.component, before: cents(b.monthlyUsd), after: cents(h.monthlyUsd), note: "" })),
  ]
    .filter((r) => r.before !== r.after || r.note)
    .sort((a, b) => byString(a.component, b.component));
  const totalBefore = cents(base.cost.monthlyTotal);
  const totalAfter = cents(head.cost.monthlyTotal);
  const assumptionsChanged = JSON.stringify(base.cost.assumptions) !== JSON.stringify(head.cost.assumptions);
  const promises = promiseChanges(base.promises, head.promises);
  const removed = removedStores(base, head);

  const out: string[] = [];
  out.push(`## Offline plan: ${head.project} / ${head.stack}`);
  out.push("");
  const source =
    base.configFile === head.configFile && base.stack === head.stack
      ? `${code(head.configFile)}`
      : `base ${code(`${base.stack} (${base.configFile})`)}, head ${code(`${head.stack} (${head.configFile})`)}`;
  out.push(`Config ${source}; next runs counted from ${head.from}. Computed under mocks, without cloud credentials.`);
  if (opts.baseMissing) out.push("", "> The base commit gave no offline plan (it has none yet, or it failed): everything below is new.");
  if (base.from !== head.from && !opts.baseMissing) out.push("", `> The plans count next runs from different dates (base ${base.from}, head ${head.from}).`);
  if (opts.svgLink) out.push("", `[Maintenance calendar (SVG)](${opts.svgLink})`);
  out.push("");

  const unchanged =
    base.resourceCount === head.resourceCount &&
    components.length === 0 &&
    schedules.added.length + schedules.removed.length + schedulesChanged.length === 0 &&
    alarms.added.length + alarms.removed.length + alarmsChanged.length === 0 &&
    outputs.added.length + outputs.removed.length === 0 &&
    costRows.length === 0 &&
    totalBefore === totalAfter &&
    !assumptionsChanged &&
    promises.length === 0 &&
    removed.length === 0;
  if (unchanged) {
    out.push(`**No change to the regime**: ${head.resourceCount} resources, ${head.calendar.length} schedules, ${head.alarms.length} alarms, ${usd(totalAfter)} a month.`);
    return out.join("\n") + "\n";
  }

  out.push(
    [
      `**Resources** ${base.resourceCount} → ${head.resourceCount} (${signed(head.resourceCount - base.resourceCount)})`,
      `**Schedules** +${schedules.added.length} -${schedules.removed.length} ~${schedulesChanged.length}`,
      `**Alarms** +${alarms.added.length} -${alarms.removed.length} ~${alarmsChanged.length}`,
      `**Monthly cost** ${usd(totalBefore)} → ${usd(totalAfter)} (${signedUsd(totalAfter - totalBefore)})`,
    ].join(" · "),
  );

  if (components.length > 0) {
    out.push("", "### Resources by component");
    for (const c of components) {
      const status = c.status === "new" ? "new component" : c.status === "removed" ? "component removed" : "changed";
      const title = `${code(c.component)}${c.type ? ` (${c.type})` : ""}: ${status}, +${c.added.length} -${c.removed.length}`;
      const lines = ["```diff", ...c.removed.map((r) => `- ${r.type}  ${r.name}`), ...c.added.map((r) => `+ ${r.type}  ${r.name}`), "```"];
      if (c.added.length + c.removed.length > FOLD_AT) out.push("", "<details>", `<summary>${title.replace(/`/g, "")}</summary>`, "", ...lines, "", "</details>");
      else out.push("", `**${title}**`, "", ...lines);
    }
  }

  const nextRuns = (s: Schedule) => s.next.join(", ");
  if (schedules.added.length + schedules.removed.length + schedulesChanged.length > 0) {
    out.push("", "### Schedules");
    if (schedules.added.length > 0) {
      out.push("", "Added:", "", ...table(["Schedule", "Component", "Expression", "Timezone", "Next runs"], schedules.added.map((s) => [code(s.schedule), s.component, code(s.expression), s.timezone, nextRuns(s)])));
    }
    if (schedules.removed.length > 0) {
      out.push("", "Removed:", "", ...table(["Schedule", "Component", "Expression", "Timezone"], schedules.removed.map((s) => [code(s.schedule), s.component, code(s.expression), s.timezone])));
    }
    if (schedulesChanged.length > 0) {
      const rows = schedulesChanged.map(([b, h]) => {
        const what = [b.expression !== h.expression ? "expression" : "", b.timezone !== h.timezone ? "timezone" : ""].filter(Boolean).join(", ");
        return [code(h.schedule), what, `${code(b.expression)} ${b.timezone}`, `${code(h.expression)} ${h.timezone}`, `${nextRuns(b)} → ${nextRuns(h)}`];
      });
      out.push("", "Changed:", "", ...table(["Schedule", "Changed", "Before", "After", "Next runs (before → after)"], rows));
    }
  }

  if (alarms.added.length + alarms.removed.length + alarmsChanged.length > 0) {
    out.push("", "### Alarms");
    const row = (a: Alarm) => [a.severity, code(a.name), a.metric, code(a.condition), a.treatMissingData, a.pages];
    const header = ["Severity", "Alarm", "Metric", "Condition", "Missing data", "Pages"];
    if (alarms.added.length > 0) out.push("", "Added:", "", ...table(header, alarms.added.map(row)));
    if (alarms.removed.length > 0) out.push("", "Removed:", "", ...table(header, alarms.removed.map(row)));
    if (alarmsChanged.length > 0) {
      const rows = alarmsChanged.flatMap((a) => a.fields.map((f) => [code(a.name), f.label, f.before, f.after]));
      out.push("", "Changed:", "", ...table(["Alarm", "Changed", "Before", "After"], rows));
    }
  }

  if (removed.length > 0) out.push("", "### Stored data of removed config items", "", ...removed.map((r) => `- ${r.line}`));
  if (promises.length > 0) out.push("", ...promiseSection(promises, table, code));

  if (outputs.added.length + outputs.removed.length > 0) {
    out.push("", "### Stack outputs");
    if (outputs.removed.length > 0) out.push("", `Removed (stacks that read them break): ${outputs.removed.map(code).join(", ")}`);
    if (outputs.added.length > 0) out.push("", `Added: ${outputs.added.map(code).join(", ")}`);
  }

  out.push("", "### Estimated monthly cost");
  if (costRows.length > 0) {
    const rows = costRows.map((r) => [code(r.component) + r.note, usd(r.before), usd(r.after), signedUsd(r.after - r.before)]);
    rows.push(["**Total**", `**${usd(totalBefore)}**`, `**${usd(totalAfter)}**`, `**${signedUsd(totalAfter - totalBefore)}**`]);
    out.push("", ...table(["Component", "Before", "After", "Delta"], rows));
    const same = costs.both.filter(([b, h]) => cents(b.monthlyUsd) === cents(h.monthlyUsd)).length;
    if (same > 0) out.push("", `${same} other component${same === 1 ? "" : "s"} unchanged.`);
  } else {
    out.push("", `Unchanged: ${usd(totalAfter)} a month.`);
  }
  // List prices above; the always-free allowances apart (per account, so only a regime alone in it sees them all).
  const freeBefore = base.cost.freeTier?.monthlyAfterFreeTier;
  const freeAfter = head.cost.freeTier?.monthlyAfterFreeTier;
  if (freeAfter !== undefined) {
    out.push(
      "",
      `After the always-free allowances (this regime alone in its account): ${freeBefore !== undefined ? `${usd(cents(freeBefore))} → ` : ""}${usd(cents(freeAfter))} a month${freeBefore !== undefined ? ` (${signedUsd(cents(freeAfter) - cents(freeBefore))})` : ""}.`,
    );
  }
  if (assumptionsChanged) {
    const a = match(base.cost.assumptions, head.cost.assumptions, (x) => x);
    out.push("", "Cost assumptions changed:", "", "```diff", ...a.removed.map((x) => `- ${x}`), ...a.added.map((x) => `+ ${x}`), "```");
  }
  return out.join("\n") + "\n";
}

/** At most `max` characters, cut at a line boundary, outside any open code fence or <details>. */
export function truncateMarkdown(md: string, max: number, note = "The diff was cut here; the full diff is in the workflow run's summary."): string {
  if (md.length <= max) return md;
  const tail = `\n\n> ${note}\n`;
  const lines = md.split("\n");
  const kept: string[] = [];
  let size = 0;
  for (const line of lines) {
    if (size + line.length + 1 + tail.length + 40 > max) break;
    kept.push(line);
    size += line.length + 1;
  }
  const fences = kept.filter((l) => l.startsWith("```")).length;
  const open = kept.filter((l) => l === "<details>").length - kept.filter((l) => l === "</details>").length;
  return kept.join("\n") + (fences % 2 ? "\n```" : "") + (open > 0 ? "\n\n</details>" : "") + tail;
}

export const EMPTY_PLAN: Plan = {
  project: "",
  stack: "",
  configFile: "",
  from: "",
  resourceCount: 0,
  components: [],
  calendar: [],
  alarms: [],
  cost: { currency: "USD", monthlyTotal: 0, components: [], assumptions: [] },
  outputs: {},
};

export class DiffInputError extends Error {}

/** Reads a plan JSON file; throws one line naming the file (and the key) when it is not a plan. */
export function readPlan(file: string): Plan {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new DiffInputError(`${file}: no such file`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new DiffInputError(`${file}: not JSON (expected the output of npm run plan -- --json)`);
  }
  const p = doc as Record<string, unknown> | null;
  if (!p || typeof p !== "object" || Array.isArray(p)) throw new DiffInputError(`${file}: not a plan (expected a JSON object)`);
  const checks: [string, boolean][] = [
    ["project", typeof p.project === "string"],
    ["stack", typeof p.stack === "string"],
    ["resourceCount", typeof p.resourceCount === "number"],
    ["components", Array.isArray(p.components) && p.components.every((c) => Array.isArray(c?.resources))],
    ["calendar", Array.isArray(p.calendar) && p.calendar.every((s) => typeof s?.schedule === "string" && Array.isArray(s?.next))],
    ["alarms", Array.isArray(p.alarms) && p.alarms.every((a) => typeof a?.name === "string")],
    ["cost", typeof p.cost === "object" && p.cost !== null],
    ["cost.monthlyTotal", typeof (p.cost as Record<string, unknown> | null)?.monthlyTotal === "number"],
    ["cost.components", Array.isArray((p.cost as Record<string, unknown> | null)?.components)],
  ];
  const bad = checks.find(([, ok]) => !ok);
  if (bad) throw new DiffInputError(`${file}: not a plan (${bad[0]} missing or malformed)`);
  return { ...EMPTY_PLAN, ...(p as unknown as Plan), cost: { ...EMPTY_PLAN.cost, ...(p.cost as Plan["cost"]) }, outputs: (p.outputs as Plan["outputs"]) ?? {} };
}

const USAGE = "usage: tsx plan/diff.ts BASE.json HEAD.json [--svg-link URL] [--base-optional] [--max-chars N]";

export function main(argv: string[]): { code: number; stdout: string; stderr: string } {
  const files: string[] = [];
  let svgLink: string | undefined;
  let baseOptional = false;
  let maxChars: number | undefined;
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      const value = () => {
        const v = argv[++i];
        if (v === undefined || v.startsWith("--")) throw new DiffInputError(`${a}: needs a value`);
        return v;
      };
      if (a === "--svg-link") svgLink = value();
      else if (a === "--base-optional") baseOptional = true;
      else if (a === "--max-chars") {
        const v = value();
        maxChars = Number(v);
        if (!/^\d+$/.test(v) || maxChars < 200) throw new DiffInputError(`--max-chars: "${v}" is not a whole number of at least 200`);
      } else if (a.startsWith("--")) throw new DiffInputError(`${a}: unknown option; ${USAGE}`);
      else files.push(a);
    }
    if (files.length !== 2) throw new DiffInputError(`expected BASE.json and HEAD.json, got ${files.length} file argument(s); ${USAGE}`);
    const baseMissing = baseOptional && !fs.existsSync(files[0]);
    const base = baseMissing ? EMPTY_PLAN : readPlan(files[0]);
    const head = readPlan(files[1]);
    const md = diffPlans(baseMissing ? { ...EMPTY_PLAN, project: head.project, stack: head.stack, configFile: head.configFile, from: head.from } : base, head, { svgLink, baseMissing });
    return { code: 0, stdout: maxChars === undefined ? md : truncateMarkdown(md, maxChars), stderr: "" };
  } catch (err) {
    if (!(err instanceof DiffInputError)) throw err;
    return { code: 2, stdout: "", stderr: `error: ${err.message}\n` };
  }
}

if (require.main === module) {
  const r = main(process.argv.slice(2));
  process.stderr.write(r.stderr);
  process.stdout.write(r.stdout, () => process.exit(r.code));
}
