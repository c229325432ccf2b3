/**
 * The plan's Promises section: each promise of the regime with its real figure, held or broken (and
 * the first date it breaks), as computed by regime/promises.ts when the program ran; plus an audit of
 * every resource the program registered under mocks against the AWS limits that fail only at deploy
 * (alarm windows, Lambda environment size, names, and the size and count limits of every document and
 * collection: regime/limits.ts DEPLOY_LIMITS), which also covers settings the regime model does not
 * restate (a restore drill's CHECKS, a purge's rules, a role's policies).
 */
import { configKeys } from "./config-keys";
import type { RecordedResource } from "./mocks";
import { alarmWindowProblem, environmentBytes, LAMBDA_ENVIRONMENT_MAX_BYTES, nameProblem, promiseDetail, type PromiseReport, type PromiseResult } from "../regime/promises";
import { BUCKET_PREFIX_SUFFIX_CHARS, DEPLOY_LIMITS, documentSize, limitProblem, type DeployLimitId } from "../regime/limits";

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

/** The config key and words of a bucket's documents: the backup vault's grow with the databases, the log archive's with the host groups. */
function bucketOwner(r: RecordedResource, keyOf: (r: RecordedResource) => string): { key: string; bucket: string; remedy: string } {
  if (/-backups-[a-z-]+$/.test(r.name)) return { key: "databases", bucket: "the backup vault", remedy: "split the databases over two regimes" };
  if (/-archive-[a-z-]+$/.test(r.name)) return { key: "logs.hostGroups", bucket: "the log archive", remedy: "archive fewer log sets in one regime" };
  return { key: keyOf(r), bucket: `bucket ${r.name}`, remedy: "declare fewer items" };
}

/**
 * The length of each recorded bucket's real name, by the name the plan's mocks put in its ARN (its
 * resource name): a bucket prefix (at most 37 characters) gets S3's unique suffix up to the
 * 63-character limit, so prefix + 26 (BUCKET_PREFIX_SUFFIX_CHARS); a bucket named outright keeps its
 * name; 63 where neither is known.
 */
function bucketNameLengths(resources: RecordedResource[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of resources) {
    if (!/^aws:s3\/bucket(V2)?:Bucket(V2)?$/.test(r.type)) continue;
    const i = r.inputs as Inputs;
    const mocked = String(i.bucket ?? i.name ?? r.name);
    out.set(mocked, typeof i.bucket === "string" ? i.bucket.length : typeof i.bucketPrefix === "string" ? Math.min(63, i.bucketPrefix.length + BUCKET_PREFIX_SUFFIX_CHARS) : 63);
  }
  return out;
}

/** A recorded document as AWS receives it: every bucket ARN with the bucket's real name at its longest (bucketNameLengths). */
function withRealBucketNames(doc: string, lengths: Map<string, number>): string {
  return doc.replace(/arn:aws:s3:::([a-z0-9.-]+)/g, (m, b: string) => {
    const n = lengths.get(b) ?? 63;
    return b.length < n ? `arn:aws:s3:::${b}${"x".repeat(n - b.length)}` : m;
  });
}

const text = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v ?? ""));

/**
 * Refusal lines for the documents and collections of the recorded resources over their AWS size and
 * count limits (regime/limits.ts DEPLOY_LIMITS), one line per document: bucket policies and lifecycle
 * rules, key, topic and queue policies, a role's inline policies together, managed and trust policies,
 * schedule groups of the account, an alarm's metric queries, a composite alarm's rule, the metric and
 * subscription filters of a log group, a dashboard's widgets, SSM documents. A quota named in `accepted` (acceptedRisks keys)
 * is left out.
 */
export function auditLimits(resources: RecordedResource[], accepted: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const keyOf = configKeys(resources);
  const check = (id: DeployLimitId, figure: number, key: string, what: string, remedy: string) => {
    if (DEPLOY_LIMITS[id].quota && accepted.has(key)) return;
    const line = limitProblem(id, figure, key, what, remedy);
    if (line) out.push(line);
  };
  const buckets = bucketNameLengths(resources);
  const size = (id: DeployLimitId, doc: unknown) => documentSize(withRealBucketNames(text(doc), buckets), DEPLOY_LIMITS[id].measure);
  const roles = new Map(resources.filter((r) => r.type === "aws:iam/role:Role").map((r) => [`${r.name}-id`, r]));
  const inline = new Map<string, number>();
  /** The first inline policy of each role id: its key when the role itself was not recorded. */
  const firstPolicy = new Map<string, RecordedResource>();
  const filters = new Map<string, { metric: number; subscription: number; first: RecordedResource }>();
  let groups = 0;
  for (const r of resources) {
    const i = r.inputs as Inputs;
    switch (r.type) {
      case "aws:s3/bucketPolicy:BucketPolicy": {
        const o = bucketOwner(r, keyOf);
        check("bucketPolicy", size("bucketPolicy", i.policy), o.key, `${o.bucket}'s bucket policy`, o.remedy);
        break;
      }
      case "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": {
        const o = bucketOwner(r, keyOf);
        check("lifecycleRules", (i.rules ?? []).length, o.key, `${o.bucket}'s lifecycle configuration`, `${o.remedy} (the backup vault has 4 rules a database, 4 for databases no longer configured and 1 for the whole bucket)`);
        break;
      }
      case "aws:kms/key:Key":
        if (i.policy) check("keyPolicy", size("keyPolicy", i.policy), keyOf(r), `key ${r.name}'s policy`, "grant fewer principals");
        break;
      case "aws:sns/topicPolicy:TopicPolicy":
        check("topicPolicy", size("topicPolicy", i.policy), keyOf(r), `topic policy ${r.name}`, "grant fewer principals");
        break;
      case "aws:sqs/queuePolicy:QueuePolicy":
      case "aws:sqs/queue:Queue":
        if (i.policy) check("queuePolicy", size("queuePolicy", i.policy), keyOf(r), `queue policy ${r.name}`, "grant fewer principals");
        break;
      case "aws:iam/role:Role":
        check("trustPolicy", size("trustPolicy", i.assumeRolePolicy), keyOf(r), `role ${i.name ?? r.name}'s trust policy`, "trust fewer principals");
        for (const p of (i.inlinePolicies ?? []) as Inputs[]) inline.set(`${r.name}-id`, (inline.get(`${r.name}-id`) ?? 0) + size("roleInlinePolicies", p.policy));
        break;
      case "aws:iam/rolePolicy:RolePolicy":
        inline.set(String(i.role), (inline.get(String(i.role)) ?? 0) + size("roleInlinePolicies", i.policy));
        if (!firstPolicy.has(String(i.role))) firstPolicy.set(String(i.role), r);
        break;
      case "aws:iam/policy:Policy":
        check("managedPolicy", size("managedPolicy", i.policy), keyOf(r), `managed policy ${i.name ?? r.name}`, /-archive-writer$/.test(r.name) ? "archive fewer log sets in one regime (one ARN each)" : "grant on fewer resources");
        break;
      case "aws:scheduler/scheduleGroup:ScheduleGroup":
        groups++;
        break;
      case "aws:cloudwatch/metricAlarm:MetricAlarm":
        check("alarmMetrics", (i.metricQueries ?? []).length, keyOf(r), `alarm ${i.name ?? r.name}'s Metrics`, "combine fewer metrics in one alarm");
        break;
      case "aws:cloudwatch/compositeAlarm:CompositeAlarm":
        check("compositeRule", size("compositeRule", i.alarmRule), keyOf(r), `composite alarm ${i.alarmName ?? r.name}'s rule`, "combine fewer alarms in one composite alarm");
        break;
      case "aws:cloudwatch/logMetricFilter:LogMetricFilter":
      case "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": {
        const g = filters.get(String(i.logGroupName)) ?? { metric: 0, subscription: 0, first: r };
        if (r.type.endsWith("LogMetricFilter")) g.metric++;
        else g.subscription++;
        filters.set(String(i.logGroupName), g);
        break;
      }
      case "aws:cloudwatch/dashboard:Dashboard": {
        let widgets = 0;
        try {
          widgets = ((JSON.parse(text(i.dashboardBody)) as { widgets?: unknown[] }).widgets ?? []).length;
        } catch {
          break;
        }
        check("dashboardWidgets", widgets, keyOf(r), `dashboard ${i.dashboardName ?? r.name}'s widgets`, "split the databases, endpoints or hosts over two regimes, or set dashboard: false");
        break;
      }
      case "aws:ssm/document:Document":
        check("ssmDocument", size("ssmDocument", i.content), keyOf(r), `SSM document ${i.name ?? r.name}`, "deliver fewer or shorter files in one host group");
        break;
    }
  }
  for (const [id, chars] of inline) {
    const role = roles.get(id);
    const watcher = (role?.inputs.tags as Record<string, string> | undefined)?.Task === "overdue-watch";
    const remedy = watcher ? "fewer host groups with State Manager associations in one regime (the overdue watcher reads each association by its ARN)" : "grant on fewer resources";
    check("roleInlinePolicies", chars, keyOf(role ?? firstPolicy.get(id)!), `role ${role?.inputs.name ?? id}'s inline policies together`, remedy);
  }
  for (const [group, g] of filters) {
    check("metricFilters", g.metric, keyOf(g.first), `log group ${group}'s metric filters`, "derive fewer metrics from one log group");
    check("subscriptionFilters", g.subscription, keyOf(g.first), `log group ${group}'s subscription filters`, "subscribe fewer destinations to one log group");
  }
  check("scheduleGroups", groups, "reminders", "the count of schedule groups (one per reminder)", "declare fewer reminders, or raise the quota");
  return out;
}

/** Refusal lines for every recorded resource AWS would refuse at deploy (`accepted`: acceptedRisks keys, for quotas). */
export function auditResources(resources: RecordedResource[], accepted: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const keyOf = configKeys(resources);
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
  return [...out, ...auditLimits(resources, accepted)];
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
