/**
 * The offline plan: runs the Pulumi program in this process under mocks with a stack's config and
 * describes what `pulumi up` would provision — resources by component, the maintenance calendar,
 * the alarms and where they page, and an estimated monthly cost. No credentials, no Pulumi CLI.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { nextRuns, formatLocal, type Schedule } from "../regime/schedule";
import { bundledSettingsByFunction, estimateCost, type CostEstimate } from "./cost";
import { installPlanMocks, type RecordedResource } from "./mocks";
import type { WatchStartState } from "../components/watch-start";
import { auditResources, planPromises, type PlanPromises } from "./promises";
import { auditNamesAndPolicies } from "./resource-audit";
import { cpuMsSince, promiseCheckContext } from "../components/promises";
import { planRecord, type PlanRecord, type ScheduleRecord } from "../components/plan-record";
import { lifecycleOf, type PlanLifecycle } from "./config-keys";
import { stackOfConfigFile } from "./stack-name";

export const PROJECT = "maintenance-regime";

export interface PlanOptions {
  /** Stack name; its config is Pulumi.<stack>.yaml in `root`. */
  stack?: string;
  /** A stack config file to use instead (same shape as Pulumi.<stack>.yaml). */
  configFile?: string;
  /** Reference instant for the calendar's next runs. */
  from: Date;
  root?: string;
  /** false: plan without the promise check (to measure what it costs); default true. */
  promises?: boolean;
  /**
   * The jobs' WatchStart states (components/watch-start.ts) a previous `pulumi up` of the stack left,
   * by resource name (`watchStarts` of an earlier runPlan): the plan is then of the stack's next up,
   * and a job resumed since gets its resume stamped. Default: none, the stack's first up.
   */
  watchStarts?: Record<string, WatchStartState>;
}

export interface CalendarEntry {
  schedule: string;
  component: string;
  expression: string;
  timezone: string;
  next: string[];
  /** Set when the schedule is disabled (`paused: true`): `next` are the runs it would make. */
  paused?: true;
}

/** One alarm mute rule: a maintenance window (one rule per occurrence where no cron says it) or a one-off mute. */
export interface MuteRuleEntry {
  name: string;
  component: string;
  /** `cron(<5 fields>)` (recurring) or `at(yyyy-MM-ddThh:mm)` (once), in `timezone`. */
  expression: string;
  timezone: string;
  /** ISO 8601: PT2H. */
  duration: string;
  description: string;
  alarms: string[];
}

export interface AlarmEntry {
  name: string;
  severity: string;
  metric: string;
  condition: string;
  treatMissingData: string;
  pages: string;
  description: string;
}

export interface ComponentGroup {
  component: string;
  type: string;
  resources: { type: string; name: string }[];
}

export interface Plan {
  project: string;
  /** The stack planned: `--stack`, or <stack> of a config file named Pulumi.<stack>.yaml; else the config file's name (`unnamedStack`). */
  stack: string;
  /** True when the config file is not named Pulumi.<stack>.yaml, so no stack name is known: `stack` is the file's name. */
  unnamedStack?: true;
  configFile: string;
  from: string;
  resourceCount: number;
  components: ComponentGroup[];
  calendar: CalendarEntry[];
  alarms: AlarmEntry[];
  /** Alarm mute rules (maintenance windows and mutes); absent when the regime declares none. */
  muteRules?: MuteRuleEntry[];
  cost: CostEstimate;
  /** Each promise with its figure over the 12 months after `from` (regime/promises.ts); absent when not checked. */
  promises?: PlanPromises;
  /** Where each database's tasks take the name of the database they connect to (databaseConnections); absent when the regime has no databases. */
  databases?: PlanDatabase[];
  /** The lifecycle rules with days of each bucket, with the config key behind each prefix (plan/config-keys.ts lifecycleOf); absent in older plans. */
  lifecycle?: PlanLifecycle[];
  outputs: Record<string, unknown>;
}

export class PlanError extends Error {}

/** One database of the plan: the PostgreSQL database its tasks connect to, as far as the offline plan knows it. */
export interface PlanDatabase {
  id: string;
  /** The database name, or null: the secret's dbname, read by each run (the plan cannot read the secret). */
  databaseName: string | null;
  /** The config key the name comes from, or for null the one that would name it. */
  key: string;
}

/**
 * The database each configured database's tasks connect to, from the stack's `databases` config (the
 * program has refused a malformed one): databases[].database or iamAuth.database, else (a secretArn
 * database without `database`) null, the secret's dbname that each run reads and refuses when absent.
 */
export function databaseConnections(config: Record<string, string>): PlanDatabase[] {
  let raw: unknown;
  try {
    raw = JSON.parse(config[`${PROJECT}:databases`] ?? "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  return (raw as { id?: unknown; database?: unknown; iamAuth?: { database?: unknown } }[])
    .filter((d) => d && typeof d.id === "string")
    .map((d) => {
      const id = d.id as string;
      if (d.iamAuth && typeof d.iamAuth.database === "string") return { id, databaseName: d.iamAuth.database, key: `databases[${id}].iamAuth.database` };
      return { id, databaseName: typeof d.database === "string" ? d.database : null, key: `databases[${id}].database` };
    });
}

/** The stack's `logs` config as given (JSON), or undefined; the program has already refused a malformed one. */
function logsConfig(config: Record<string, string>): Parameters<typeof lifecycleOf>[1] {
  const raw = config[`${PROJECT}:logs`];
  try {
    return raw ? JSON.parse(raw) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a stack file's `config:` map into Pulumi's flat config form; secure values become placeholders. */
export function readStackConfig(file: string): { config: Record<string, string>; secretKeys: string[] } {
  if (!fs.existsSync(file)) throw new PlanError(`${file}: no such stack config file`);
  let doc: unknown;
  try {
    doc = YAML.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new PlanError(`${file}: not valid YAML: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  }
  const raw = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new PlanError(`${file}: config must be a map`);
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    const key = k.includes(":") ? k : `${PROJECT}:${k}`;
    if (v && typeof v === "object" && !Array.isArray(v) && "secure" in v && Object.keys(v).length === 1) {
      config[key] = "[secret]";
      secretKeys.push(key);
    } else {
      config[key] = typeof v === "string" ? v : JSON.stringify(v);
    }
  }
  return { config, secretKeys };
}

/** Placeholder outputs of the stacks the config reads network placement from (offline: no Pulumi service). */
export function referencedStackOutputs(config: Record<string, string>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  let databases: unknown;
  try {
    databases = JSON.parse(config[`${PROJECT}:databases`] ?? "[]");
  } catch {
    return out;
  }
  if (!Array.isArray(databases)) return out;
  for (const db of databases as { network?: { stack?: unknown; subnetIdsOutput?: unknown; securityGroupIdsOutput?: unknown } }[]) {
    const n = db?.network;
    if (!n || typeof n.stack !== "string") continue;
    const o = (out[n.stack] ??= {});
    o[typeof n.subnetIdsOutput === "string" ? n.subnetIdsOutput : "privateSubnetIds"] = ["subnet-0offline0000000a", "subnet-0offline0000000b"];
    o[typeof n.securityGroupIdsOutput === "string" ? n.securityGroupIdsOutput : "databaseClientSecurityGroupIds"] = ["sg-0offline000000000"];
  }
  return out;
}

async function resolveOutputs(exported: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(exported).sort()) {
    const v = exported[key];
    if (key === "__esModule" || typeof v === "function" || v === undefined) continue;
    out[key] = await new Promise<unknown>((resolve) => (pulumi.output(v) as pulumi.Output<unknown>).apply((x) => resolve(x)));
  }
  return out;
}

/** Each resource under the component that registered it (its parent). */
export function groupByComponent(resources: RecordedResource[]): ComponentGroup[] {
  const groups = new Map<string, ComponentGroup>();
  for (const c of resources) {
    if (!c.custom && c.type !== "pulumi:pulumi:Stack") groups.set(c.name, { component: c.name, type: c.type, resources: [] });
  }
  const other: ComponentGroup = { component: "(top level)", type: "", resources: [] };
  for (const r of resources) {
    if (r.custom) (groups.get(r.parent) ?? other).resources.push({ type: r.type, name: r.name });
  }
  const list = [...groups.values(), ...(other.resources.length ? [other] : [])];
  for (const g of list) g.resources.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
  return list.sort((a, b) => a.component.localeCompare(b.component));
}

/** Resource name -> the first component (in plan order) holding a resource of that name. */
function componentsByResource(groups: ComponentGroup[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const g of groups) for (const r of g.resources) if (!out.has(r.name)) out.set(r.name, g.component);
  return out;
}

const COMPARISON: Record<string, string> = {
  GreaterThanThreshold: ">",
  GreaterThanOrEqualToThreshold: ">=",
  LessThanThreshold: "<",
  LessThanOrEqualToThreshold: "<=",
};

/** A composite alarm: its rule is the condition; missing data is its child alarms' business. */
function describeCompositeAlarm(r: RecordedResource, topicSeverity: Map<string, string>): AlarmEntry {
  const i = r.inputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const actions: string[] = i.alarmActions ?? [];
  return {
    name: String(i.alarmName ?? r.name),
    severity: actions.map((a) => topicSeverity.get(a)).find(Boolean) ?? String(i.tags?.Severity ?? "?"),
    metric: "composite",
    condition: String(i.alarmRule ?? "?"),
    treatMissingData: "(by its child alarms)",
    pages: i.actionsEnabled === false ? "(nobody; paused)" : actions.map((a) => a.split(":").pop()).join(", ") || "(nobody)",
    description: String(i.alarmDescription ?? ""),
  };
}

/** The metrics a metric-math alarm reads, by id: ` [healthy = ns/Healthy Sum, ...]`. */
function queryMetrics(queries: { id?: string; expression?: string; returnData?: boolean; metric?: { namespace?: string; metricName?: string; stat?: string } }[]): string {
  // The expressions the returned one reads (an availability window's gate: `100 * watched`), then the metrics.
  const steps = queries.filter((q) => q.expression && q.returnData === false).map((q) => `${q.id} = ${q.expression}`);
  const metrics = queries.filter((q) => q.metric).map((q) => `${q.id} = ${q.metric!.namespace}/${q.metric!.metricName} ${q.metric!.stat}`);
  return steps.length + metrics.length ? ` [${[...steps, ...metrics].join(", ")}]` : "";
}

/** Names of the alarms a composite alarm's rule reads, to the composite's name. */
function compositeParents(recorded: RecordedResource[]): Map<string, string> {
  const parents = new Map<string, string>();
  for (const r of recorded.filter((x) => x.type === "aws:cloudwatch/compositeAlarm:CompositeAlarm")) {
    for (const m of String(r.inputs.alarmRule ?? "").matchAll(/ALARM\("([^"]+)"\)/g)) parents.set(m[1], String(r.inputs.alarmName ?? r.name));
  }
  return parents;
}

function describeAlarm(r: RecordedResource, topicSeverity: Map<string, string>, composites = new Map<string, string>()): AlarmEntry {
  const i = r.inputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const metric = i.metricName
    ? `${i.namespace}/${i.metricName}${i.extendedStatistic ? ` ${i.extendedStatistic}` : i.statistic ? ` ${i.statistic}` : ""}`
    : `expression ${((i.metricQueries ?? []) as { expression?: string; returnData?: boolean }[]).find((q) => q.returnData)?.expression ?? "?"}${queryMetrics(i.metricQueries ?? [])}`;
  const period = i.period ?? (i.metricQueries ?? []).find((q: { metric?: { period?: number } }) => q.metric)?.metric?.period;
  const seconds = (period ?? 0) * (i.evaluationPeriods ?? 1);
  const window = seconds >= 86400 && seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds >= 3600 && seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
  const actions: string[] = i.alarmActions ?? [];
  return {
    name: String(i.name ?? r.name),
    severity: actions.map((a) => topicSeverity.get(a)).find(Boolean) ?? String(i.tags?.Severity ?? "?"),
    metric,
    condition: `${COMPARISON[i.comparisonOperator] ?? i.comparisonOperator} ${i.threshold} over ${window}`,
    treatMissingData: String(i.treatMissingData ?? "(unset)"),
    pages:
      i.actionsEnabled === false
        ? "(nobody; paused)"
        : actions.map((a) => a.split(":").pop()).join(", ") || (composites.has(String(i.name)) ? `(nobody; part of ${composites.get(String(i.name))})` : "(nobody)"),
    description: String(i.alarmDescription ?? ""),
  };
}

export async function buildPlan(opts: PlanOptions): Promise<Plan> {
  return (await runPlan(opts)).plan;
}

const SCHEDULE_TYPES = new Set(["aws:scheduler/schedule:Schedule", "aws:ssm/association:Association"]);

/** A schedule's name in AWS: an association's `name` is its document's; `associationName` tells two apart. */
function scheduleName(r: RecordedResource): string {
  return String(r.type === "aws:ssm/association:Association" ? (r.inputs.associationName ?? r.name) : (r.inputs.name ?? r.name));
}

/** Whether a registered resource runs on a schedule: a Scheduler schedule, or an association with a schedule. */
function isSchedule(r: RecordedResource): boolean {
  return SCHEDULE_TYPES.has(r.type) && r.inputs.scheduleExpression !== undefined;
}

/**
 * The program's record of a schedule it created (components/plan-record.ts), checked against the
 * resource: the same expression, timezone (an association's is UTC) and state. Throws a PlanError
 * naming the schedule (and its config key) when the program created it without recording it, or
 * recorded another.
 */
export function scheduleRecordOf(r: RecordedResource, record: PlanRecord): ScheduleRecord {
  const name = scheduleName(r);
  const s = record.schedules[name];
  if (!s) throw new PlanError(`schedule ${name}: created without a record (components/plan-record.ts recordSchedule)`);
  const created = { expression: String(r.inputs.scheduleExpression), timezone: String(r.inputs.scheduleExpressionTimezone ?? "UTC"), paused: r.inputs.state === "DISABLED" };
  const recorded = { expression: s.schedule.expression, timezone: s.schedule.timezone, paused: s.paused };
  if (JSON.stringify(created) !== JSON.stringify(recorded)) {
    throw new PlanError(`schedule ${name}${s.configKey ? ` (${s.configKey})` : ""}: recorded as ${JSON.stringify(recorded)}, created as ${JSON.stringify(created)}`);
  }
  return s;
}

/**
 * The plan, every resource the program registered with its inputs (for tests and tooling), and what
 * the program recorded beside them (components/plan-record.ts: the calendar picture reads its schedules).
 */
export async function runPlan(opts: PlanOptions): Promise<{ plan: Plan; resources: RecordedResource[]; record: PlanRecord; watchStarts: Record<string, WatchStartState> }> {
  const root = opts.root ?? path.resolve(__dirname, "..");
  // A config file Pulumi.<name>.yaml plans stack <name>, as Pulumi would name it; another file names no stack.
  const named = opts.stack ?? (opts.configFile ? stackOfConfigFile(opts.configFile) : "prod");
  const stack = named ?? path.basename(opts.configFile!);
  const configFile = opts.configFile ? path.resolve(opts.configFile) : path.join(root, `Pulumi.${stack}.yaml`);
  const { config, secretKeys } = readStackConfig(configFile);

  const watchStarts: Record<string, WatchStartState> = {};
  const recorded = installPlanMocks(PROJECT, stack, referencedStackOutputs(config), { prior: opts.watchStarts ?? {}, after: watchStarts });
  pulumi.runtime.setAllConfig(config, secretKeys);
  const check = promiseCheckContext();
  check.from = opts.from;
  check.skip = opts.promises === false;
  check.offline = true;
  const mod = (await import(pathToFileURL(path.join(root, "index.ts")).href)) as { default?: unknown };
  const program = (mod.default ?? mod) as (() => Promise<Record<string, unknown>>) | Record<string, unknown>;
  let exported: Record<string, unknown>;
  try {
    exported = typeof program === "function" ? await program() : program;
  } catch (err) {
    // pulumi.RunError: a message for the user, without a stack trace (config errors).
    throw new PlanError(err instanceof Error ? err.message : String(err));
  }
  const outputs = await resolveOutputs(exported);
  await pulumi.runtime.disconnect();
  const report = check.report;
  if (opts.promises !== false) {
    // What the regime model cannot see: every registered resource against AWS's deploy-time limits.
    const started = process.cpuUsage();
    // A quota the regime accepts (acceptedRisks) is the model's accepted promise: not refused again here.
    const refused = auditResources(recorded, new Set((report?.promises ?? []).filter((p) => p.status === "accepted").map((p) => p.key)));
    refused.push(...auditNamesAndPolicies(recorded));
    check.cpuMs = (check.cpuMs ?? 0) + cpuMsSince(started);
    if (refused.length > 0) throw new PlanError(refused.map((l) => `promise check: ${l}`).join("\n"));
  }

  const components = groupByComponent(recorded);
  const topicSeverity = new Map<string, string>();
  for (const r of recorded.filter((x) => x.type === "aws:sns/topic:Topic")) {
    const sev = (r.inputs.tags as Record<string, string> | undefined)?.Severity;
    if (sev) topicSeverity.set(`arn:aws:sns:us-east-1:123456789012:${r.inputs.name ?? r.name}`, sev);
  }

  const record = planRecord();
  const componentOf = componentsByResource(components);
  // Next runs by timezone and expression: many schedules of a regime share both.
  const nextOf = new Map<string, string[]>();
  const nextThree = (schedule: Schedule): string[] => {
    const key = `${schedule.timezone} ${schedule.expression}`;
    let next = nextOf.get(key);
    if (!next) nextOf.set(key, (next = nextRuns(schedule, opts.from, 3).map((d) => formatLocal(d, schedule.timezone))));
    return [...next];
  };
  // Scheduler schedules carry their timezone; State Manager associations run in UTC.
  const calendar: CalendarEntry[] = recorded
    .filter(isSchedule)
    .map((r) => {
      const s = scheduleRecordOf(r, record);
      return {
        schedule: s.name,
        component: componentOf.get(r.name) ?? "(top level)",
        expression: s.schedule.expression,
        timezone: s.schedule.timezone,
        next: nextThree(s.schedule),
        ...(s.paused ? { paused: true as const } : {}),
      };
    })
    .sort((a, b) => a.schedule.localeCompare(b.schedule));
  const created = new Set(calendar.map((c) => c.schedule));
  const unplanned = Object.keys(record.schedules).filter((n) => !created.has(n));
  if (unplanned.length) throw new PlanError(`schedules ${unplanned.join(", ")}: recorded, but no such resource was created`);

  const composites = compositeParents(recorded);
  const alarms = recorded
    .filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" || r.type === "aws:cloudwatch/compositeAlarm:CompositeAlarm")
    .map((r) => (r.type === "aws:cloudwatch/compositeAlarm:CompositeAlarm" ? describeCompositeAlarm(r, topicSeverity) : describeAlarm(r, topicSeverity, composites)))
    .sort((a, b) => a.severity.localeCompare(b.severity) || a.name.localeCompare(b.name));

  const muteRules: MuteRuleEntry[] = recorded
    .filter((r) => r.type === "aws:cloudwatch/alarmMuteRule:AlarmMuteRule")
    .map((r) => {
      const sched = (r.inputs.rule as { schedule: { expression: string; timezone?: string; duration: string } }).schedule;
      return {
        name: String(r.inputs.name ?? r.name),
        component: componentOf.get(r.name) ?? "(top level)",
        expression: sched.expression,
        timezone: sched.timezone ?? "UTC",
        duration: sched.duration,
        description: String(r.inputs.description ?? ""),
        alarms: [...((r.inputs.muteTargets as { alarmNames?: string[] } | undefined)?.alarmNames ?? [])],
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));

  const databases = databaseConnections(config);
  const plan: Plan = {
    project: PROJECT,
    stack,
    ...(named === undefined ? { unnamedStack: true as const } : {}),
    configFile: path.relative(root, configFile) || configFile,
    from: opts.from.toISOString(),
    resourceCount: recorded.filter((r) => r.custom).length,
    components,
    calendar,
    alarms,
    ...(muteRules.length ? { muteRules } : {}),
    cost: estimateCost(recorded, components, opts.from, record, await bundledSettingsByFunction(recorded)),
    ...(report ? { promises: planPromises(report) } : {}),
    ...(databases.length ? { databases } : {}),
    lifecycle: lifecycleOf(recorded, logsConfig(config)),
    outputs,
  };
  return { plan, resources: recorded, record, watchStarts };
}
