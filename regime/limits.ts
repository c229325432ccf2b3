/** AWS limits the regime must respect (see REFERENCE.md). One place, used by the schema and the components. */

/** The only values CloudWatch Logs accepts for a log group's retention. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/**
 * Share of a run's time limit past which its duration alarm pages, one severity lower than a failure
 * (components/scheduled-task.ts): 0.8, so a backup on Lambda pages at 720 s of its 900.
 */
export const NEAR_TIMEOUT_FRACTION = 0.8;

/**
 * Seconds a budgeted maintenance run (vacuum, analyze, reindex, purge) may take past its time budget:
 * each statement is stopped by statement_timeout at the budget's end, then the run's clean-up (an
 * index a stopped REINDEX CONCURRENTLY left invalid, the report) has this long, its statements
 * bounded the same way (tasks/lib/pgmaint.ts Budget). The one figure for "budget + margin".
 */
export const BUDGET_OVERRUN_SECONDS = 30;

/**
 * Longest time budget of a maintenance run on Lambda, seconds: a run that uses all of it ends by
 * budget + BUDGET_OVERRUN_SECONDS, at or under its duration alarm's line (NEAR_TIMEOUT_FRACTION of
 * Lambda's 900 s: 720 s), so a full budget, a healthy run, never pages: 690 (11.5 minutes).
 */
export const MAX_TIME_BUDGET_SECONDS = LAMBDA_MAX_TIMEOUT_SECONDS * NEAR_TIMEOUT_FRACTION - BUDGET_OVERRUN_SECONDS;
export const LAMBDA_MEMORY_MB = { min: 128, max: 10240 } as const;
export const NAME_MAX = 64;

/**
 * Characters the provider appends to a bucket prefix to make a bucket's name unique: a prefix takes at
 * most 37 characters and an S3 bucket name at most 63 (components/backup-vault.ts), so 26. A bucket
 * made from prefix p is named with p.length + 26 characters.
 */
export const BUCKET_PREFIX_SUFFIX_CHARS = 63 - 37;

/** Longest CloudWatch alarm name (PutMetricAlarm AlarmName: 1 to 255 characters); also the alarm's Pulumi resource name here. */
export const ALARM_NAME_MAX = 255;

/**
 * CloudWatch's retention of 1-hour metric data points: 455 days (15 months), the longest history a
 * metric read at a period of 3600 s reaches (GetMetricData, CloudWatch API Reference,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html:
 * "Data points with a period of 3600 seconds (1 hour) are available for 455 days (15 months)").
 */
export const METRIC_HOURLY = { periodSeconds: 3600, retentionSeconds: 455 * 86400 } as const;

/**
 * Why State Manager refuses an association cron (`expression`, 5 or 6 fields, as the config wrote it
 * in `text`) that names months, or undefined when its month field (the fourth) is `*`. AWS Systems
 * Manager user guide, "Reference: Cron and rate expressions for Systems Manager": State Manager does
 * not support specifying months in cron expressions for associations.
 */
export function stateManagerMonthsProblem(text: string, expression: string): string | undefined {
  const month = /^cron\((.*)\)$/i.exec(expression)?.[1].trim().split(/\s+/)[3];
  return month === undefined || month === "*" ? undefined : `"${text}" names months (${month}); State Manager association schedules cannot: use * in the month field`;
}

/** Answers of isKnownTimezone by name: a plan asks about the same few zones again and again. */
const knownTimezones = new Map<string, boolean>();

/** Whether this runtime (and so EventBridge Scheduler) knows the IANA timezone, in whatever case it is written. */
export function isKnownTimezone(tz: string): boolean {
  let known = knownTimezones.get(tz);
  if (known === undefined) knownTimezones.set(tz, (known = timezoneKnown(tz)));
  return known;
}

/** Whether an IANA timezone name is known and spelt as the tz database spells it (timezoneCaseProblem). */
export function isIanaTimezone(tz: string): boolean {
  return isKnownTimezone(tz) && timezoneCaseProblem(tz) === undefined;
}

/**
 * Why a known timezone name `tz` is not spelt as the tz database spells it, or undefined. Its names
 * are case-sensitive ("America/New_York") while this runtime's ICU reads any case, so a name in
 * another case would pass here and be provisioned as written: refused, naming the spelling. Every
 * part of a tz database name starts with a capital ("Etc/GMT+5", "US/Eastern").
 */
export function timezoneCaseProblem(tz: string): string | undefined {
  if (!caseProblems.has(tz)) caseProblems.set(tz, findCaseProblem(tz));
  return caseProblems.get(tz);
}

/** Answers of timezoneCaseProblem by name, as knownTimezones keeps isKnownTimezone's. */
const caseProblems = new Map<string, string | undefined>();

function findCaseProblem(tz: string): string | undefined {
  const resolved = new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone;
  if (resolved !== tz && resolved.toLowerCase() === tz.toLowerCase()) return `"${tz}": IANA timezone names are case-sensitive; write ${resolved}`;
  if (tz.split("/").some((part) => !/^[A-Z]/.test(part))) return `"${tz}": IANA timezone names are case-sensitive, each part starting with a capital (America/New_York, US/Eastern)`;
  return undefined;
}

function timezoneKnown(tz: string): boolean {
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)+$/.test(tz) && tz !== "UTC") return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * How AWS measures a document or collection against its limit: UTF-8 bytes, characters, characters
 * other than whitespace (IAM), or the number of items.
 */
export type LimitMeasure = "bytes" | "characters" | "characters without whitespace" | "items";

/** One size or count limit AWS applies at deploy to a document or collection the program provisions. */
export interface DeployLimit {
  /** What is limited, in the refusal line's words: "bucket policy", "lifecycle rules of a bucket". */
  what: string;
  value: number;
  /** Unit of `value` and of the figure: "bytes", "characters", "rules", "schedule groups". */
  unit: string;
  measure: LimitMeasure;
  /** A default quota the account owner can raise (Service Quotas); false: a hard limit. */
  quota: boolean;
  /** The AWS document that states it (short name for the line) and its address. */
  source: string;
  url: string;
}

/**
 * The size and count limits of every document and collection the program provisions that grows with
 * the config. The offline plan's audit (plan/promises.ts auditResources) applies each to the recorded
 * resources; the promise model (regime/promises.ts) applies those it can count from config alone.
 */
export const DEPLOY_LIMITS = {
  /** S3 user guide, "Bucket policies and user policies": "Bucket policies are limited to 20 KB in size." */
  bucketPolicy: { what: "bucket policy", value: 20 * 1024, unit: "bytes", measure: "bytes", quota: false, source: "S3 user guide, bucket policies", url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-iam-policies.html" },
  /** S3 API reference, LifecycleConfiguration: "You can add as many as 1000 rules." */
  lifecycleRules: { what: "lifecycle configuration", value: 1000, unit: "rules", measure: "items", quota: false, source: "S3 API reference, LifecycleConfiguration", url: "https://docs.aws.amazon.com/AmazonS3/latest/API/API_LifecycleConfiguration.html" },
  /** KMS API reference, PutKeyPolicy: "The policy size limit is 32 KiB (32768 bytes)." */
  keyPolicy: { what: "key policy", value: 32768, unit: "bytes", measure: "bytes", quota: false, source: "KMS API reference, PutKeyPolicy", url: "https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html" },
  /** SNS developer guide, "Amazon SNS API permissions: Action and resource reference", policy quotas: 30 KB. */
  topicPolicy: { what: "topic policy", value: 30 * 1024, unit: "bytes", measure: "bytes", quota: false, source: "SNS developer guide, policy quotas", url: "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html" },
  /** SQS developer guide, "Amazon SQS policy quotas": 8,192 bytes. */
  queuePolicy: { what: "queue policy", value: 8192, unit: "bytes", measure: "bytes", quota: false, source: "SQS developer guide, policy quotas", url: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-policies.html" },
  /**
   * IAM user guide, "IAM and AWS STS quotas": the inline policies of a role total at most 10,240
   * characters; IAM does not count white space (GetAccountSummary: sizes "in non-whitespace characters").
   */
  roleInlinePolicies: { what: "inline policies of a role together", value: 10240, unit: "characters", measure: "characters without whitespace", quota: false, source: "IAM user guide, IAM and AWS STS quotas", url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html" },
  /** IAM user guide, "IAM and AWS STS quotas": a managed policy at most 6,144 characters without white space. */
  managedPolicy: { what: "managed policy", value: 6144, unit: "characters", measure: "characters without whitespace", quota: false, source: "IAM user guide, IAM and AWS STS quotas", url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html" },
  /** IAM user guide, "IAM and AWS STS quotas": a role trust policy at most 2,048 characters by default (AssumeRolePolicySizeQuota, raisable to 8,192). */
  trustPolicy: { what: "role trust policy", value: 2048, unit: "characters", measure: "characters without whitespace", quota: true, source: "IAM user guide, IAM and AWS STS quotas", url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html" },
  /** EventBridge Scheduler user guide, "Managing a schedule group": "You can create up to 500 schedule groups in your AWS account" (per Region; a Service Quotas quota). */
  scheduleGroups: { what: "schedule groups", value: 500, unit: "schedule groups", measure: "items", quota: true, source: "EventBridge Scheduler user guide, schedule groups", url: "https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-group.html" },
  /** CloudWatch API reference, MetricDataQuery: "A single PutMetricAlarm call can include up to 20 MetricDataQuery structures." */
  alarmMetrics: { what: "metric alarm's Metrics", value: 20, unit: "queries", measure: "items", quota: false, source: "CloudWatch API reference, MetricDataQuery", url: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html" },
  /** CloudWatch API reference, PutCompositeAlarm AlarmRule: "The maximum length is 10240 characters." */
  compositeRule: { what: "composite alarm rule", value: 10240, unit: "characters", measure: "characters", quota: false, source: "CloudWatch API reference, PutCompositeAlarm", url: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html" },
  /** CloudWatch Logs API reference, PutMetricFilter: "The maximum number of metric filters that can be associated with a log group is 100." */
  metricFilters: { what: "metric filters of a log group", value: 100, unit: "filters", measure: "items", quota: false, source: "CloudWatch Logs API reference, PutMetricFilter", url: "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html" },
  /** CloudWatch Logs API reference, PutSubscriptionFilter: "Each log group can have up to two subscription filters associated with it." */
  subscriptionFilters: { what: "subscription filters of a log group", value: 2, unit: "filters", measure: "items", quota: false, source: "CloudWatch Logs API reference, PutSubscriptionFilter", url: "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutSubscriptionFilter.html" },
  /**
   * CloudWatch API reference, "Dashboard Body Structure and Syntax": a DashboardBody "can include an
   * array of between 0 and 500 widget objects" (the CloudWatch service quotas page: "Up to 500 widgets
   * per dashboard"). The body's own size has no limit on either page, nor on PutDashboard's: not checked.
   */
  dashboardWidgets: { what: "dashboard's widgets", value: 500, unit: "widgets", measure: "items", quota: false, source: "CloudWatch API reference, Dashboard Body Structure", url: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html" },
  /** Systems Manager API reference, CreateDocument Content: "The content of the document must not exceed 64KB." */
  ssmDocument: { what: "SSM document", value: 64 * 1024, unit: "bytes", measure: "bytes", quota: false, source: "Systems Manager API reference, CreateDocument", url: "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html" },
} as const satisfies Record<string, DeployLimit>;

export type DeployLimitId = keyof typeof DEPLOY_LIMITS;

/** A document's size as `measure` counts it (bytes: UTF-8; IAM: characters other than white space). */
export function documentSize(text: string, measure: LimitMeasure): number {
  if (measure === "bytes") return Buffer.byteLength(text);
  if (measure === "characters without whitespace") return text.replace(/\s/g, "").length;
  return text.length;
}

/**
 * What is wrong with a figure over its limit, or undefined when it fits:
 * `<what> is <N> <unit> > <limit> (<source>): AWS refuses it at deploy`. A quota says how it is raised
 * and that acceptedRisks may then name `key`.
 */
export function limitExcess(id: DeployLimitId, figure: number, key: string, what: string): string | undefined {
  const l: DeployLimit = DEPLOY_LIMITS[id];
  if (figure <= l.value) return undefined;
  const refusal = l.quota ? `AWS refuses it at deploy unless the account's quota is raised (Service Quotas), and acceptedRisks names ${key} once it is` : "AWS refuses it at deploy";
  return `${what} is ${figure} ${l.unit} > ${l.value} (${l.source}${l.measure === "characters without whitespace" ? ", white space not counted" : ""}): ${refusal}`;
}

/** The refusal line of a figure over its limit (limitExcess), or undefined: `<key>: <excess>; <what would fit>`. */
export function limitProblem(id: DeployLimitId, figure: number, key: string, what: string, remedy: string): string | undefined {
  const excess = limitExcess(id, figure, key, what);
  return excess && `${key}: ${excess}; ${remedy}`;
}
