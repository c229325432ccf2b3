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
import { stackWords } from "./stack-name";
import { isCatchAll, keptFor, type KeptFor } from "../regime/retention";
import { fileBackupDocumentName, fileBackupScriptPath } from "../regime/file-backups";
import type { PlanLifecycleRule } from "./config-keys";

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
 * expires it, read from the plans' promises: the head's catch-all promise of its collection
 * (regime/promises.ts leftoverPromise), or, when the head has no such bucket any more, the base's. The
 * reading for plans without `lifecycle` (older ones); plans with it are compared prefix by prefix
 * (lifecycleChanges, removedStores).
 */
export function removedByPromises(base: Plan, head: Plan): { item: string; line: string }[] {
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
      if (headKeys.some((k) => within(k, item))) continue;
      if (!s.stores(baseItems.filter((p) => within(p.key, item)))) continue;
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
  return out;
}

/** `key` is `item` or one of its keys (`databases[app].backup` of `databases[app]`, not `databases[app2]`). */
const within = (key: string, item: string) => key === item || key.startsWith(`${item}.`);

/** The config item a rule's key belongs to: `databases[<id>]`, `logs.hostGroups[<g>].logSets[<s>]`, `logs.hostGroups[<g>].fileBackups[<f>]`. */
const itemOf = (key: string): string | undefined => /^(databases\[[^\]]+\]|logs\.hostGroups\[[^\]]+\]\.(?:logSets|fileBackups)\[[^\]]+\])/.exec(key)?.[1];

/** What data a rule's config key holds, for a line of the diff. */
function dataOf(key: string, prefix: string): string {
  if (key === "databases") return prefix.startsWith("drills/") ? "the restore-drill records of databases no longer configured (if any are stored)" : "the backups of databases no longer configured (if any are stored)";
  if (key === "logs.hostGroups") return prefix === "" ? "the archives of log sets no longer configured (if any are stored)" : "the archives of file backups no longer configured (if any are stored)";
  if (key.endsWith(".archive")) return "its archived logs";
  if (key.includes(".fileBackups[")) return "its archives";
  const tier = /\.backup\.retention\.(\w+)$/.exec(key)?.[1];
  if (tier) return `its ${tier} backups`;
  if (key.startsWith("databases[")) return "its restore-drill records";
  return "what it kept";
}

/** What S3 keeps of one stored-data prefix of a bucket in the base and in the head (lifecycleChanges). */
export interface PrefixChange {
  /** The bucket's lifecycle configuration (its Pulumi resource name). */
  resource: string;
  /** The key prefix of a base rule: the data stored under it and under no longer prefix of a rule ("" for the whole bucket). */
  prefix: string;
  /** The base rule of that prefix. */
  rule: PlanLifecycleRule;
  /** Its config key (plan/config-keys.ts lifecycleOf), else `rule <id> of <resource>`. */
  key: string;
  /**
   * What happened to the rule: `removed` (no head rule has its prefix any more), `moved` (its key's rule
   * has another prefix in the head), `resumed` (Disabled in the base, Enabled in the head), `changed`
   * (the same prefix, other days, or other rules matching it).
   */
  cause: "removed" | "moved" | "resumed" | "changed";
  /** The config item gone from the head with a removed rule (`databases[app]`), when the whole item went. */
  removedItem?: string;
  /** The head prefix of a moved rule. */
  movedTo?: string;
  /** Days readable and days as an old version of what is stored under `prefix`, by S3's selection (regime/retention.ts keptFor); undefined: no expiry. */
  before: KeptFor;
  after: KeptFor;
  /** Fewer days readable or as an old version in the head (no expiry counts as more than any days): S3's first lifecycle run after `pulumi up` deletes what is older. */
  sooner: boolean;
  /** The config key of the bucket's noncurrent days (`backupVault.noncurrentDays`), when it has one. */
  noncurrentKey?: string;
}

/** `a` days is fewer than `b` days (undefined: no expiry). */
const fewer = (a: number | undefined, b: number | undefined) => a !== undefined && (b === undefined || a < b);

/**
 * The one comparison of the plans' lifecycle rules: for every prefix of a base rule with days in a
 * bucket that the head keeps (plan JSON `lifecycle`), what S3 keeps of the data stored under it in the
 * base and in the head (regime/retention.ts keptFor: the shortest of the enabled rules whose prefix it
 * starts with; a Disabled rule expires nothing), whatever made it change: the item removed or renamed
 * (its prefix falls to the catch-all rules), its prefix moved, its days cut or lengthened in place, a
 * catch-all's days, the noncurrent days, a paused rule enabled again. Returns the prefixes whose rule
 * went or whose days changed, in the base's order (bucket by bucket, rules as declared); `sooner`
 * marks those where data is deleted sooner than before.
 *
 * A bucket only in the base leaves the program with its lifecycle configuration unchanged
 * (retainOnDelete), so nothing of it is deleted sooner; a prefix only in the head held nothing of its
 * own before. Plans without `lifecycle` (older ones) give none.
 */
export function lifecycleChanges(base: Plan, head: Plan): PrefixChange[] {
  const out: PrefixChange[] = [];
  for (const b of base.lifecycle ?? []) {
    const h = (head.lifecycle ?? []).find((x) => x.resource === b.resource);
    if (!h) continue;
    const headKeys = [...h.rules.map((r) => r.key ?? ""), ...(head.promises?.items ?? []).map((p) => p.key)];
    const seen = new Set<string>();
    for (const rule of b.rules) {
      const prefix = rule.filter?.prefix ?? "";
      if (seen.has(prefix)) continue;
      seen.add(prefix);
      const same = h.rules.find((r) => (r.filter?.prefix ?? "") === prefix);
      const before = keptFor(b.rules, prefix);
      const after = keptFor(h.rules, prefix);
      if (same && before.readableDays === after.readableDays && before.noncurrentDays === after.noncurrentDays) continue;
      // A base plan older than the catch-alls' keys takes the head's key of the same rule.
      const key = rule.key ?? h.rules.find((r) => r.id === rule.id)?.key ?? `rule ${rule.id} of ${b.resource}`;
      const moved = !same && rule.key && !isCatchAll(rule.id) ? h.rules.find((r) => r.key === rule.key) : undefined;
      const item = itemOf(key);
      const cause = moved ? "moved" : !same ? "removed" : rule.status !== "Enabled" && same.status === "Enabled" ? "resumed" : "changed";
      out.push({
        resource: b.resource,
        prefix,
        rule,
        key,
        cause,
        ...(cause === "removed" && item && !headKeys.some((k) => within(k, item)) ? { removedItem: item } : {}),
        ...(moved ? { movedTo: moved.filter?.prefix ?? "" } : {}),
        before,
        after,
        sooner: fewer(after.readableDays, before.readableDays) || fewer(after.noncurrentDays, before.noncurrentDays),
        ...((h.noncurrentKey ?? b.noncurrentKey) ? { noncurrentKey: h.noncurrentKey ?? b.noncurrentKey } : {}),
      });
    }
  }
  return out;
}

/** `n days`, `1 day`, or `no expiry`. */
const daysText = (d: number | undefined) => (d === undefined ? "no expiry" : d === 1 ? "1 day" : `${d} days`);

/** `30 → 7 days`, `7 days` when unchanged, `no expiry → 7 days`. */
function span(before: number | undefined, after: number | undefined): string {
  if (before === after) return daysText(after);
  return before !== undefined && after !== undefined ? `${before} → ${after} days` : `${daysText(before)} → ${daysText(after)}`;
}

/** How long a prefix's data is kept as an old version, before → after (naming the noncurrent days' key when they changed). */
function oldVersionText(c: PrefixChange): string {
  const nb = c.before.noncurrentDays;
  const na = c.after.noncurrentDays;
  // The key is named when its days changed, not when a rule was enabled again (resumed, or a removed item's prefix now under an enabled catch-all).
  return `then ${span(nb, na)} more as an old version${nb !== undefined && na !== undefined && nb !== na && c.noncurrentKey ? ` (${code(c.noncurrentKey)})` : ""}`;
}

/** How long a prefix's data is kept, before → after: readable, then as an old version. */
const keptText = (c: PrefixChange) => `kept ${span(c.before.readableDays, c.after.readableDays)}, ${oldVersionText(c)}`;

/** `under \`daily/app/\``, or for the whole-bucket prefix "" `anywhere in the bucket`. */
const where = (prefix: string) => (prefix === "" ? "anywhere in the bucket" : `under ${code(prefix)}`);

/** Which of the head's rules expire a prefix now. */
const expiredBy = (c: PrefixChange) => (c.after.rules.every(isCatchAll) ? "the catch-all rules" : `rules ${c.after.rules.map(code).join(", ")}`);

/** The change of a prefix's rule as a reviewer reads it: the config key (or the item removed) and what happened. */
function whatHappened(c: PrefixChange): string {
  const catchAll = isCatchAll(c.rule.id);
  const label = catchAll ? `${code(c.key)} catch-all rule ${code(c.rule.id)}` : code(c.key);
  switch (c.cause) {
    case "removed":
      return c.removedItem ? `${code(c.removedItem)} removed` : `${label} removed`;
    case "moved":
      return `${label}: prefix ${code(c.prefix)} changed to ${code(c.movedTo ?? "")}`;
    case "resumed":
      return `${label} resumes (${catchAll ? "" : `rule ${code(c.rule.id)} `}${c.rule.status} → Enabled)`;
    case "changed":
      return label;
  }
}

/** The data under a prefix, with its config key when the line names the item removed instead. */
const dataUnder = (c: PrefixChange) => `${dataOf(c.key, c.prefix)} ${where(c.prefix)}${c.removedItem && c.removedItem !== c.key ? ` (${code(c.key)})` : ""}`;

/**
 * How to back up by hand a backup that resumes, before S3's next lifecycle run expires what it kept:
 * a database's `runNow` command (README "On the bad day"), a file backup's association or SSH script.
 */
function byHand(c: PrefixChange, regime: string): string {
  const db = /^databases\[([^\]]+)\]\.backup\.retention\./.exec(c.key)?.[1];
  if (db) return `run the backup by hand as it resumes (\`pulumi stack output runNow --json | jq -r '."${db}/backup"' | sh\`)`;
  const file = /^logs\.hostGroups\[([^\]]+)\]\.fileBackups\[([^\]]+)\]$/.exec(c.key);
  if (file) return `run the file backup by hand as it resumes (apply its State Manager association ${code(fileBackupDocumentName(regime, file[1], file[2]))} now, or run ${code(fileBackupScriptPath(file[1], file[2]))} on each SSH host)`;
  return "";
}

/**
 * One line per stored-data prefix whose data S3 deletes sooner than before (lifecycleChanges
 * `sooner`): the config key (or the item removed), the data, the days readable and as an old version
 * before → after, and what S3's first lifecycle run after `pulumi up` deletes: what is older than the
 * new days, recoverable as an old version until the new noncurrent days end; with a cut of the
 * noncurrent days, the old versions older than them for good. A resumed rule says the run can come
 * before the first new backup, and how to run the backup by hand (`regime`: the regime's name, which
 * names a file backup's State Manager association).
 */
export function deletedSooner(changes: PrefixChange[], regime = "<regime>"): string[] {
  return changes
    .filter((c) => c.sooner)
    .map((c) => {
      const { readableDays: r, noncurrentDays: n } = c.after;
      const run = "S3's first lifecycle run after `pulumi up`";
      const goes: string[] = [];
      if (fewer(r, c.before.readableDays)) goes.push(`What is older than ${daysText(r)} goes on ${run}, ${n === undefined ? "then stays as an old version" : `unrecoverable ${daysText(n)} later`}`);
      if (fewer(n, c.before.noncurrentDays)) goes.push(goes.length > 0 ? `old versions older than ${daysText(n)} go for good on that run` : `Old versions (expired, deleted or replaced objects) older than ${daysText(n)} go for good on ${run}`);
      const moves = c.cause === "removed" || c.cause === "moved" ? ` now expire by ${expiredBy(c)}` : "";
      const hand = c.cause === "resumed" ? byHand(c, regime) : "";
      return `${whatHappened(c)}: ${dataUnder(c)}${moves}: ${keptText(c)}. ${goes.join("; ")}.${hand ? ` That run can come before the first new backup is uploaded: ${hand}.` : ""}`;
    });
}

/**
 * The stored data of removed config items, from the lifecycle comparison (lifecycleChanges): each item
 * removed (or rule lost, or prefix moved) whose data is not deleted sooner (those are in deletedSooner),
 * with what now expires it and the days before → after, one line per item; and each item of a bucket
 * that leaves the program, whose lifecycle configuration stays on it unchanged (retainOnDelete). Base
 * plans without `lifecycle` are read from their promises (removedByPromises).
 */
export function removedStores(base: Plan, head: Plan, changes = lifecycleChanges(base, head)): { item: string; line: string }[] {
  if (!base.lifecycle || !head.lifecycle) return removedByPromises(base, head).sort((a, b) => byString(a.item, b.item));
  const groups = new Map<string, { head: string; by: string[]; parts: PrefixChange[] }>();
  for (const c of changes) {
    if (c.sooner || (c.cause !== "removed" && c.cause !== "moved")) continue;
    const head = c.removedItem ? `${code(c.removedItem)} removed` : whatHappened(c);
    const item = `${c.removedItem ?? c.key}\u0000${head}`;
    const by = c.after.readableDays === undefined ? "no enabled lifecycle rule expires it any more: kept and billed until removed by hand" : `now expires by ${expiredBy(c)}`;
    const g = groups.get(item) ?? { head, by: [], parts: [] };
    if (!g.by.includes(by)) g.by.push(by);
    g.parts.push(c);
    groups.set(item, g);
  }
  const out = [...groups].map(([item, g]) => {
    // The old versions' days once when the same for every prefix of the item.
    const old = [...new Set(g.parts.map(oldVersionText))];
    const parts = g.parts.map((c) => `${dataOf(c.key, c.prefix)} ${where(c.prefix)} ${span(c.before.readableDays, c.after.readableDays)}${old.length > 1 ? `, ${oldVersionText(c)}` : ""}`);
    return { item, line: `${g.head}: what it stored ${g.by.join("; ")} (${parts.join(", ")}${old.length === 1 ? `; ${old[0]}` : ""})` };
  });
  for (const b of base.lifecycle) {
    if (head.lifecycle.some((x) => x.resource === b.resource)) continue;
    const items = new Map<string, { prefix: string; key: string; kept: KeptFor }[]>();
    for (const rule of b.rules) {
      const item = rule.key && !isCatchAll(rule.id) ? itemOf(rule.key) : undefined;
      if (!item) continue;
      const prefix = rule.filter?.prefix ?? "";
      items.set(item, [...(items.get(item) ?? []), { prefix, key: rule.key!, kept: keptFor(b.rules, prefix) }]);
    }
    for (const [item, parts] of items) {
      const old = [...new Set(parts.map((p) => p.kept.noncurrentDays))];
      const kept = parts.map((p) => `${dataOf(p.key, p.prefix)} ${where(p.prefix)} ${daysText(p.kept.readableDays)}${old.length > 1 ? `, then ${daysText(p.kept.noncurrentDays)} more as an old version` : ""}`);
      out.push({
        item,
        line: `${code(item)} removed, and its bucket leaves the program: its lifecycle configuration stays on the bucket unchanged, so what it stored expires as before (${kept.join(", ")}${old.length === 1 ? `; then ${daysText(old[0])} more as an old version` : ""})`,
      });
    }
  }
  return out.sort((a, b) => byString(a.item, b.item));
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
  const changes = lifecycleChanges(base, head);
  const sooner = deletedSooner(changes, head.components.find((c) => c.type === "regime:index:MaintenanceRegime")?.component);
  const removed = removedStores(base, head, changes);

  const out: string[] = [];
  out.push(`## Offline plan: ${head.project} / ${stackWords(head)}`);
  out.push("");
  const source =
    base.configFile === head.configFile && base.stack === head.stack
      ? `${code(head.configFile)}`
      : `base ${code(`${stackWords(base)} (${base.configFile})`)}, head ${code(`${stackWords(head)} (${head.configFile})`)}`;
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
    removed.length === 0 &&
    sooner.length === 0;
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
      ...(sooner.length > 0 ? [`**Stored data deleted sooner** ${sooner.length} prefix${sooner.length === 1 ? "" : "es"}`] : []),
    ].join(" · "),
  );

  // First, where a reviewer looks first: what the first lifecycle run after `pulumi up` deletes.
  if (sooner.length > 0) {
    out.push(
      "",
      "### Stored data deleted sooner than before",
      "",
      "> [!CAUTION]",
      "> S3 applies a bucket's lifecycle rules to everything it holds: on its first lifecycle run after `pulumi up` (within about a day), what is older than the new days is deleted, recoverable as an old version only until its noncurrent days end.",
      "",
      ...sooner.map((l) => `- ${l}`),
    );
  }

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
