/**
 * CloudWatch log groups of the host groups, with retention, metric filters for errors, HTTP 5xx,
 * 401/403, failed logins and each log group's own patterns, alarms on their counts, and the 5xx
 * error-rate alarms. Part of the logs component (components/logs.ts).
 */
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import { createAlarm, type Severity } from "./alarms";
import { CRIT, WARN } from "./host-alarms";
import { BUILT_IN_LOG_METRICS, type HostGroup, type LogGroupConfig } from "../regime/logs";
import type { LogsScope } from "./host-delivery";

/** Default CloudWatch Logs filter patterns, by log format. Text access logs: nginx/Apache combined. */
export const DEFAULT_PATTERNS = {
  text: {
    errors: "?ERROR ?Error ?error ?FATAL ?CRITICAL",
    http5xx: "[ip, ident, user, timestamp, request, status_code = 5*, bytes, ...]",
    authFailures: "[ip, ident, user, timestamp, request, status_code = 401 || status_code = 403, bytes, ...]",
    failedLogins: '?"Failed password" ?"authentication failure" ?"login failed" ?"Login failed" ?"invalid credentials"',
    requests: "[ip, ident, user, timestamp, request, status_code, bytes, ...]",
  },
  json: {
    errors: '{ ($.level = "error") || ($.level = "ERROR") || ($.level = "fatal") || ($.level = "FATAL") || ($.levelname = "ERROR") || ($.levelname = "CRITICAL") }',
    http5xx: "{ $.status >= 500 }",
    authFailures: "{ ($.status = 401) || ($.status = 403) }",
    failedLogins: '{ ($.event = "login_failed") || (($.event = "login") && ($.success IS FALSE)) }',
    requests: "{ $.status > 0 }",
  },
} as const;

type CountMetric = "errors" | "http5xx" | "authFailures" | "failedLogins";

export const COUNT_METRICS: { key: CountMetric; metric: string; what: string; runbook: string }[] = [
  { key: "errors", metric: BUILT_IN_LOG_METRICS.errors, what: "application errors", runbook: "Read the log group for the error lines and their stack traces; fix or open a ticket for recurring ones." },
  { key: "http5xx", metric: BUILT_IN_LOG_METRICS.http5xx, what: "HTTP 5xx responses", runbook: "Check the application's health and recent deploys; roll back if the errors started with a release." },
  { key: "authFailures", metric: BUILT_IN_LOG_METRICS.authFailures, what: "HTTP 401/403 responses", runbook: "Look for one source address or account probing endpoints; block it or rotate the exposed credentials." },
  { key: "failedLogins", metric: BUILT_IN_LOG_METRICS.failedLogins, what: "failed logins", runbook: "Look for brute force (one address, many accounts or one account, many tries); lock or rate-limit the source." },
];

/** The log groups created, by id and by host group. */
export interface HostLogGroups {
  /** Log group id (`<hostGroup>/<id>`) -> log group name. */
  names: Record<string, pulumi.Output<string>>;
  /** Host group -> its log groups, in the order of its `logGroups` (what the agent and container output depend on). */
  byHostGroup: Record<string, aws.cloudwatch.LogGroup[]>;
}

/** Creates every host group's log groups with their filters and alarms. */
export function createLogGroups(scope: LogsScope): HostLogGroups {
  const names: Record<string, pulumi.Output<string>> = {};
  const byHostGroup: Record<string, aws.cloudwatch.LogGroup[]> = {};
  for (const g of scope.args.logs.hostGroups) {
    byHostGroup[g.name] = g.logGroups.map((lg) => {
      const group = logGroup(scope, g, lg);
      names[`${g.name}/${lg.id}`] = group.name;
      return group;
    });
  }
  return { names, byHostGroup };
}

/** One log group with its retention, its count filters and alarms, and its error-rate alarms. */
function logGroup(scope: LogsScope, g: HostGroup, lg: LogGroupConfig): aws.cloudwatch.LogGroup {
  const { name, args, tags, parent } = scope;
  const base = `${name}-${g.name}-${lg.id}`;
  const group = new aws.cloudwatch.LogGroup(
    `${base}-log-group`,
    { name: lg.name, retentionInDays: lg.retentionDays ?? args.defaultRetentionDays, tags },
    { parent },
  );
  const namespace = `${args.regime}/Logs`;
  const resource = `logs-${g.name}-${lg.id}`;
  const patterns = DEFAULT_PATTERNS[lg.format];
  // No defaultValue: a filter with one sends a 0 in every hour its log group receives a line, and each
  // of those hours bills the metric ($0.30 / 720); without one it sends only when a line matches. The
  // count alarms take missing data as not breaching and their thresholds are at least 1, so a quiet
  // period judges the same as a 0; the error rate fills a quiet period's missing errors with 0.
  const filter = (metric: string, pattern: string): { metricName: string; resource: aws.cloudwatch.LogMetricFilter } => {
    const metricName = `${g.name}-${lg.id}-${metric}`;
    const resource = new aws.cloudwatch.LogMetricFilter(
      `${base}-${metric}-filter`,
      {
        name: `${args.regime}-${metricName}`,
        logGroupName: group.name,
        pattern,
        metricTransformation: { name: metricName, namespace, value: "1", unit: "Count" },
      },
      { parent },
    );
    return { metricName, resource };
  };

  /** A filter counting the pattern's lines and an alarm when `threshold` of them fall within `periodMinutes`. */
  const countAlarm = (metric: string, pattern: string, spec: { threshold: number; periodMinutes: number; severity: string }, runbook: string): void => {
    const f = filter(metric, pattern);
    createAlarm(
      args.regime,
      {
        resource,
        metric,
        severity: spec.severity as Severity,
        runbook,
        treatMissingData: "notBreaching",
        args: {
          namespace,
          metricName: f.metricName,
          statistic: "Sum",
          period: spec.periodMinutes * 60,
          evaluationPeriods: 1,
          threshold: spec.threshold,
          comparisonOperator: "GreaterThanOrEqualToThreshold",
        },
      },
      args.alarmTopics,
      { parent, dependsOn: [f.resource] },
      tags,
    );
  };

  const created: Partial<Record<CountMetric, string>> = {};
  for (const m of COUNT_METRICS) {
    const spec = lg[m.key];
    if (!spec) continue;
    const pattern = spec.pattern ?? patterns[m.key];
    created[m.key] = pattern;
    countAlarm(m.metric, pattern, spec, `${spec.threshold} or more ${m.what} in ${lg.name} within ${spec.periodMinutes} minutes. ${m.runbook}`);
  }

  // The log group's own patterns: same filter, metric and alarm naming as the built-in ones.
  for (const p of lg.patterns) {
    countAlarm(
      p.name,
      p.pattern,
      p,
      `${p.threshold} or more lines matching ${p.name} (${p.pattern}) in ${lg.name} within ${p.periodMinutes} minutes. ${
        p.description ?? "Read the matching lines in the log group and act on what they report."
      }`,
    );
  }

  if (lg.errorRate) {
    const r = lg.errorRate;
    const errorsPattern = r.errorsPattern ?? lg.http5xx?.pattern ?? patterns.http5xx;
    const requests = filter(BUILT_IN_LOG_METRICS.requests, r.requestsPattern ?? patterns.requests);
    // Reuse the 5xx filter when it counts the same lines; otherwise count them separately.
    const errorsMetric =
      created.http5xx === errorsPattern ? `${g.name}-${lg.id}-${BUILT_IN_LOG_METRICS.http5xx}` : filter(BUILT_IN_LOG_METRICS.rateErrors, errorsPattern).metricName;
    for (const [severity, percent] of [[WARN, r.warnPercent], [CRIT, r.critPercent]] as const) {
      createAlarm(
        args.regime,
        {
          resource,
          metric: BUILT_IN_LOG_METRICS.errorRate,
          severity,
          runbook: `More than ${percent} % of requests in ${lg.name} failed (5xx) over ${r.periodMinutes} minutes. Check the application's health and recent deploys; roll back if it started with a release.`,
          treatMissingData: "notBreaching",
          args: {
            evaluationPeriods: 1,
            threshold: percent,
            comparisonOperator: "GreaterThanThreshold",
            metricQueries: [
              { id: "errors", metric: { namespace, metricName: errorsMetric, period: r.periodMinutes * 60, stat: "Sum" }, returnData: false },
              { id: "requests", metric: { namespace, metricName: requests.metricName, period: r.periodMinutes * 60, stat: "Sum" }, returnData: false },
              { id: "rate", expression: "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)", label: "5xx percent of requests", returnData: true },
            ],
          },
        },
        args.alarmTopics,
        { parent, dependsOn: [requests.resource] },
        tags,
      );
    }
  }
  return group;
}
