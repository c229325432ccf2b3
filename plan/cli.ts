/**
 * `npm run plan [-- --stack NAME | --config FILE] [--json] [--from DATE] [--svg FILE] [--no-promise-check]`
 *
 * Prints the regime at a glance without a cloud account: resources by component, the maintenance
 * calendar, alarms and where they page, the promises with their figures, and an estimated monthly cost. `--json` prints the same as
 * JSON, byte-identical for the same config and reference date (`--from`, default: today 00:00 UTC).
 */
import * as fs from "node:fs";
import { formatPromises } from "./promises";
import { PlanError, runPlan, type Plan } from "./run";
import { stackWords } from "./stack-name";

export interface CliOptions {
  stack?: string;
  configFile?: string;
  json: boolean;
  from: Date;
  svg?: string;
  /** false (--no-promise-check): plan without the promise check, to measure its cost; `pulumi up` always checks. */
  promises: boolean;
}

export function parsePlanArgs(argv: string[], now = new Date()): CliOptions {
  const opts: CliOptions = { json: false, promises: true, from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new PlanError(`${a}: needs a value`);
      return v;
    };
    switch (a) {
      case "--stack":
        opts.stack = value();
        if (!/^[\w.-]+$/.test(opts.stack)) throw new PlanError(`--stack: "${opts.stack}" is not a stack name`);
        break;
      case "--config":
        opts.configFile = value();
        break;
      case "--json":
        opts.json = true;
        break;
      case "--no-promise-check":
        opts.promises = false;
        break;
      case "--svg":
        opts.svg = value();
        break;
      case "--from": {
        const v = value();
        const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
        if (Number.isNaN(d.getTime())) throw new PlanError(`--from: "${v}" is not a date (YYYY-MM-DD or ISO 8601)`);
        opts.from = d;
        break;
      }
      default:
        throw new PlanError(`${a}: unknown option; options: --stack NAME, --config FILE, --json, --from DATE, --svg FILE, --no-promise-check`);
    }
  }
  if (opts.stack && opts.configFile) throw new PlanError("--stack and --config: give one of them");
  return opts;
}

const usd = (n: number) => `$${n.toFixed(2)}`;

export function formatPlan(p: Plan): string {
  const out: string[] = [];
  out.push(`Regime plan: ${p.project} / ${stackWords(p)}  (${p.configFile}, offline, ${p.resourceCount} resources)`);
  out.push("");
  out.push("Resources by component");
  for (const g of p.components) {
    const counts = new Map<string, number>();
    for (const r of g.resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    out.push(`  ${g.component}  [${g.type || "-"}]  ${g.resources.length} resources`);
    for (const [t, n] of [...counts].sort()) out.push(`      ${String(n).padStart(3)}  ${t}`);
  }
  out.push("");
  out.push(`Maintenance calendar (next runs after ${p.from}, each in its own timezone)`);
  for (const c of p.calendar) {
    out.push(`  ${c.schedule}`);
    out.push(`      ${c.expression}  ${c.timezone}`);
    out.push(c.paused ? `      paused (schedule disabled; would run: ${c.next.join(" | ")})` : `      next: ${c.next.join(" | ")}`);
  }
  out.push("");
  out.push("Alarms");
  for (const a of p.alarms) out.push(`  ${a.severity}  ${a.name}: ${a.metric} ${a.condition} (missing data: ${a.treatMissingData}) -> ${a.pages}`);
  out.push("");
  if (p.muteRules) {
    out.push("Alarm mute rules (maintenance windows and mutes: the alarms evaluate, their notifications are held)");
    const severity = new Map(p.alarms.map((a) => [a.name, a.severity]));
    for (const m of p.muteRules) {
      out.push(`  ${m.name}: ${m.expression} ${m.timezone} for ${m.duration}, ${m.alarms.length} alarms`);
      // A muted alarm pages when the window ends if it is still in ALARM; one back to OK by then never pages (CloudWatch user guide, "How alarm mute rules work").
      const p0 = m.alarms.filter((n) => severity.get(n) === "P0");
      if (p0.length) out.push(`    mutes P0: ${p0.join(", ")} (one that goes into ALARM inside the window pages when it ends, if still in ALARM; a fault that clears inside it never pages)`);
    }
    out.push("");
  }
  if (p.databases) {
    out.push("Databases the tasks connect to");
    for (const d of p.databases) {
      out.push(
        d.databaseName !== null
          ? `  ${d.id}: ${d.databaseName} (${d.key})`
          : `  ${d.id}: the secret's dbname, read by each run (${d.key} unset; a secret without dbname fails every run)`,
      );
    }
    out.push("");
  }
  if (p.promises) {
    out.push(...formatPromises(p.promises));
    out.push("");
  }
  const beforeStorage = p.cost.monthlyBeforeStorage !== undefined ? `, ${usd(p.cost.monthlyBeforeStorage)} before backup storage` : "";
  out.push(`Estimated monthly cost: ${usd(p.cost.monthlyTotal)} (us-east-1 list prices${beforeStorage})`);
  // Per signal: what each alarm, metric and function of a component costs, so a line of config has a price.
  for (const c of p.cost.components) {
    out.push(`  ${usd(c.monthlyUsd).padStart(9)}  ${c.component}`);
    for (const i of c.items) out.push(`  ${usd(i.monthlyUsd).padStart(15)}  ${i.what}`);
  }
  if (p.cost.freeTier) {
    // The same figure before storage, beside the list price's: the always-free allowances do not cover S3 storage.
    const freeBeforeStorage = p.cost.monthlyBeforeStorage !== undefined ? ` (${usd(Math.max(0, p.cost.freeTier.monthlyAfterFreeTier - (p.cost.monthlyTotal - p.cost.monthlyBeforeStorage)))} before backup storage)` : "";
    out.push(`  after the always-free allowances (per account; this regime alone in it): ${usd(p.cost.freeTier.monthlyAfterFreeTier)} a month${freeBeforeStorage}`);
    for (const i of p.cost.freeTier.items) out.push(`  ${usd(-i.monthlyUsd).padStart(15)}  ${i.what}`);
  }
  out.push("  assumptions:");
  for (const a of p.cost.assumptions) out.push(`    - ${a}`);
  return out.join("\n") + "\n";
}

export async function main(argv: string[]): Promise<number> {
  // Pulumi captures a stack trace for every promise it tracks, which is most of the plan's time.
  // Errors are printed as one line anyway; PLAN_DEBUG=1 keeps full, source-mapped traces.
  if (!process.env.PLAN_DEBUG) {
    process.setSourceMapsEnabled(false);
    Error.stackTraceLimit = 0;
  }
  let opts: CliOptions;
  try {
    opts = parsePlanArgs(argv);
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  try {
    const { plan, record } = await runPlan({ stack: opts.stack, configFile: opts.configFile, from: opts.from, promises: opts.promises });
    if (opts.svg) {
      const { planCalendarSvg } = await import("./calendar");
      fs.writeFileSync(opts.svg, planCalendarSvg(plan, record));
      process.stderr.write(`calendar written to ${opts.svg}\n`);
    }
    process.stdout.write(opts.json ? JSON.stringify(plan, null, 2) + "\n" : formatPlan(plan));
    return 0;
  } catch (err) {
    // One line per problem (a config with three errors, or three broken promises, prints three lines), each prefixed.
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(msg.split("\n").filter((l) => l.trim() !== "").map((l) => `error: ${l}\n`).join(""));
    return 1;
  }
}

if (require.main === module) {
  // Exit once stdout is flushed: a large plan piped to another program would be cut off otherwise.
  main(process.argv.slice(2)).then((code) => process.stdout.write("", () => process.exit(code)));
}
