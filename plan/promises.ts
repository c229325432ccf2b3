/**
 * The plan's Promises section: each promise of the regime with its real figure, held or broken (and
 * the first date it breaks), as computed by regime/promises.ts when the program ran; plus an audit of
 * every resource the program registered under mocks against the AWS limits that fail only at deploy
 * (alarm windows, Lambda environment size, names), which also covers settings the regime model does
 * not restate (a restore drill's CHECKS, a purge's rules).
 */
import type { RecordedResource } from "./mocks";
import { alarmWindowProblem, environmentBytes, LAMBDA_ENVIRONMENT_MAX_BYTES, nameProblem, promiseDetail, type PromiseReport, type PromiseResult } from "../regime/promises";

export interface PlanPromise {
  key: string;
  promise: string;
  figure: string;
  value?: number;
  status: PromiseResult["status"];
  kind: PromiseResult["kind"];
  firstBreak?: string;
  detail?: string;
}

export interface PlanPromises {
  /** Start and end of the 12 months the figures cover. */
  from: string;
  to: string;
  items: PlanPromise[];
}

export function planPromises(report: PromiseReport): PlanPromises {
  return {
    from: report.from,
    to: report.to,
    items: report.promises.map((p) => ({
      key: p.key,
      promise: p.promise,
      figure: p.figure,
      ...(p.value !== undefined ? { value: p.value } : {}),
      status: p.status,
      kind: p.kind,
      ...(p.firstBreak ? { firstBreak: p.firstBreak } : {}),
      ...(promiseDetail(p) ? { detail: promiseDetail(p) } : {}),
    })),
  };
}

type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The config key a recorded resource carries, from its tags (Database, Task), else the resource. */
export function keyOf(r: RecordedResource): string {
  const tags = ((r.inputs as Inputs).tags ?? {}) as Record<string, string>;
  if (tags.Database) return `databases[${tags.Database}]`;
  if (tags.Task === "health-check") return "endpoints";
  return `resource ${r.name}`;
}

/** Refusal lines for every recorded resource AWS would refuse at deploy. */
export function auditResources(resources: RecordedResource[]): string[] {
  const out: string[] = [];
  for (const r of resources) {
    const i = r.inputs as Inputs;
    if (r.type === "aws:cloudwatch/metricAlarm:MetricAlarm") {
      const period = i.period ?? (i.metricQueries ?? []).find((q: Inputs) => q.metric)?.metric?.period;
      const problem = period === undefined ? undefined : alarmWindowProblem({ period, evaluationPeriods: i.evaluationPeriods ?? 1, datapointsToAlarm: i.datapointsToAlarm });
      if (problem) out.push(`${keyOf(r)}: alarm ${i.name ?? r.name} has a window of ${problem}: CloudWatch refuses it at deploy`);
    }
    if (r.type === "aws:lambda/function:Function") {
      const env = (i.environment?.variables ?? {}) as Record<string, unknown>;
      const plain = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v ?? "")]));
      const bytes = environmentBytes(plain);
      if (bytes > LAMBDA_ENVIRONMENT_MAX_BYTES) out.push(`${keyOf(r)}: function ${i.name ?? r.name}'s environment is ${bytes} bytes > Lambda's 4096: AWS refuses it at deploy`);
      const problem = typeof i.name === "string" ? nameProblem("Lambda function", i.name) : undefined;
      if (problem) out.push(`${keyOf(r)}: ${problem}: AWS refuses it at deploy`);
    }
    if (r.type === "aws:iam/role:Role" && typeof i.name === "string") {
      const problem = nameProblem("IAM role", i.name);
      if (problem) out.push(`${keyOf(r)}: ${problem}: AWS refuses it at deploy`);
    }
    if (r.type === "aws:scheduler/schedule:Schedule" && typeof i.name === "string") {
      const problem = nameProblem("Scheduler schedule", i.name);
      if (problem) out.push(`${keyOf(r)}: ${problem}: AWS refuses it at deploy`);
    }
    if (/^aws:s3\/bucket(V2)?:Bucket(V2)?$/.test(r.type)) {
      if (typeof i.bucket === "string" && nameProblem("S3 bucket", i.bucket)) out.push(`${keyOf(r)}: ${nameProblem("S3 bucket", i.bucket)}: AWS refuses it at deploy`);
      if (typeof i.bucketPrefix === "string" && nameProblem("S3 bucket prefix", i.bucketPrefix)) out.push(`${keyOf(r)}: ${nameProblem("S3 bucket prefix", i.bucketPrefix)}: AWS refuses it at deploy`);
    }
  }
  return out;
}

const MARK: Record<PromiseResult["status"], string> = { held: "held", broken: "BROKEN", accepted: "accepted", unkept: "unkept by the program", paused: "paused" };

/** The section as text, one promise a line: key, promise, figure, status (and date, detail). */
export function formatPromises(p: PlanPromises): string[] {
  const out: string[] = [];
  out.push(`Promises (${p.from.slice(0, 10)} to ${p.to.slice(0, 10)}, EventBridge Scheduler's daylight-saving rules, CloudWatch's alarm evaluation)`);
  const counts = (s: PromiseResult["status"]) => p.items.filter((x) => x.status === s).length;
  out.push(`  ${counts("held")} held, ${counts("broken")} broken, ${counts("accepted")} accepted, ${counts("unkept")} unkept by the program${counts("paused") ? `, ${counts("paused")} paused` : ""}`);
  for (const x of p.items) {
    out.push(`  [${MARK[x.status]}] ${x.key}: ${x.promise}: ${x.figure}${x.firstBreak ? ` (first ${x.firstBreak})` : ""}`);
    if (x.detail && x.status !== "held") out.push(`      ${x.detail}`);
  }
  return out;
}

export interface PromiseChange {
  key: string;
  promise: string;
  before?: PlanPromise;
  after?: PlanPromise;
}

/** Promises added, removed, or whose figure or status differs between two plans (by key and promise). */
export function promiseChanges(base: PlanPromises | undefined, head: PlanPromises | undefined): PromiseChange[] {
  const id = (p: PlanPromise) => `${p.key}\u0000${p.promise}`;
  const b = new Map((base?.items ?? []).map((p) => [id(p), p]));
  const h = new Map((head?.items ?? []).map((p) => [id(p), p]));
  const keys = [...new Set([...b.keys(), ...h.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return keys
    .map((k) => ({ before: b.get(k), after: h.get(k) }))
    .filter(({ before, after }) => !before || !after || before.figure !== after.figure || before.status !== after.status)
    .map(({ before, after }) => ({ key: (after ?? before)!.key, promise: (after ?? before)!.promise, before, after }));
}

const cellOf = (p?: PlanPromise) => (p ? `${p.figure} (${MARK[p.status]}${p.firstBreak ? `, first ${p.firstBreak}` : ""})` : "—");

/** The diff's Promises section: a table of the promises that change. */
export function promiseSection(changes: PromiseChange[], table: (header: string[], rows: string[][]) => string[], code: (s: string) => string): string[] {
  const weaker = changes.filter((c) => c.after && c.after.status !== "held" && c.before?.status !== c.after.status).length;
  return [
    "### Promises",
    "",
    `${changes.length} promise${changes.length === 1 ? "" : "s"} changed${weaker ? `, ${weaker} no longer held` : ""}.`,
    "",
    ...table(
      ["Key", "Promise", "Before", "After"],
      changes.map((c) => [code(c.key), c.promise, cellOf(c.before), cellOf(c.after)]),
    ),
  ];
}
