/**
 * Endpoint health checks: one function checks every endpoint of the regime concurrently on a
 * schedule (the guides' `curl -f .../health` every hour, `openssl s_client` for the certificate),
 * emits Healthy / ResponseTime / CertificateDaysLeft per endpoint, and an alarm per endpoint and
 * signal pages its severity. Down (`severity`, P0 by default) reads Healthy alone: 0 only when the
 * endpoint is unreachable, untrusted, times out or answers wrong (status, body, JSON field). Slow
 * (`slowSeverity`) reads ResponseTime against maxResponseMs and certificate (`certificateSeverity`)
 * reads CertificateDaysLeft (the earliest expiry of the chain) against minCertificateDays; a slow
 * answer or an expiring certificate never lowers Healthy, so it neither pages "down" nor spends the
 * error budget. About $0.75 a month per endpoint, against $52 for a CloudWatch Synthetics
 * canary at the same rate. Request headers come from Secrets Manager at run time
 * (`headersSecretArn`): the function's role may read exactly those secrets, and no header value
 * passes through Pulumi.
 *
 * Uptime targets (`uptimeTargetPercent`, seeds 000 and 004): availability is 100 * healthy checks /
 * all checks, from the Healthy metric the task already writes (1 or 0 per endpoint and check, so
 * its Average over a window, Sum / SampleCount, is the share of healthy checks). Error-budget burn alarms follow the multiwindow, multi-burn-rate pattern of the
 * SRE workbook: "fast" when both the last hour and the last 5 minutes burn the 30-day budget at 14.4x
 * or more (2 % of the budget in an hour; pages `uptimeSeverity`), "slow" when both the last 6 hours
 * and the last 30 minutes burn it at 6x or more (5 % in 6 hours; one severity lower). CloudWatch needs
 * every metric of a metric-math alarm at one period, so each window is a metric-math alarm of its own
 * (period = window, one evaluation period; CloudWatch's default sliding evaluation window makes it a
 * rolling window: the last hour, the last 5 minutes) and a composite alarm ANDs the two windows of a
 * pair. Only the composite alarm notifies (the short window alone trips on a single failed check);
 * each window alarm names it in its PartOf tag.
 */
import { LAMBDA_MAX_TIMEOUT_SECONDS } from "../regime/limits";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { alarmName, PAUSED_NOTE, createAlarm, watchGate, type AlertTopics, type Severity } from "./alarms";
import type { IamStatement } from "./iam";
import type { TaskEnvironment } from "./task-settings";
import { jobMissedRunWindow, missedRunCountsInvocations, missedRunJobOf, ScheduledTask } from "./scheduled-task";
import { lambdaTaskWatchedJob, type WatchedJobSpec } from "./overdue-watch";
import { physicalName, withoutPrefix } from "./naming";
import type { Schedule } from "../regime/schedule";
import type { EndpointConfig } from "../regime/schema";
import { checksHaveGaps, checksInWindow, checksSparserThanPeriod, checksStop, downAlarmPeriodSeconds, downAlarmWindow, longestFailingSpanSeconds } from "../regime/endpoints";
import { lowerSeverity, mostUrgent } from "../regime/severity";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";
import { TASK_CATALOGUE } from "../tasks/catalogue";
import { urlCredentialProblem } from "../tasks/lib/url-credentials";

export interface HealthChecksArgs {
  regime: string;
  endpoints: EndpointConfig[];
  schedule: Schedule;
  archive: pulumi.asset.Archive;
  alarmTopics: AlertTopics;
  logRetentionDays: number;
  tags?: Record<string, string>;
  /**
   * `endpoints.paused`: the checks' schedule is disabled, and the alarms that page on missing checks
   * (down, error budget) have their actions off; the rest see no data and stay quiet by themselves.
   */
  paused?: boolean;
}

/**
 * Refuses an endpoint URL carrying credentials (user:password@, ?token=): it would reach the
 * function's environment and the alarm descriptions SNS sends. The config schema refuses them
 * first; this guards every other way an EndpointConfig is built. The error names the key path,
 * never the URL.
 */
export function assertNoUrlCredentials(endpoints: Pick<EndpointConfig, "url">[]): void {
  endpoints.forEach((e, i) => {
    const problem = urlCredentialProblem(e.url, "put the credential in a Secrets Manager secret as a request header and set headersSecretArn");
    if (problem) throw new Error(`endpoints.checks[${i}].url: ${problem}`);
  });
}

/**
 * The ENDPOINTS setting of the health-check task, from the regime's endpoint list. maxResponseMs and
 * minCertificateDays travel as the task's responseTimeMs and certificateDaysLeft, which the task
 * reports as warnings, never as unavailability. minCertificateDays is also the certificate alarm's
 * threshold (LessThanThreshold): the task sends CertificateDaysLeft on every run below it and a
 * healthy value once a UTC day (sampled, tasks/lib/metrics.ts), so both read this one figure.
 */
export function endpointsSetting(endpoints: EndpointConfig[]): string {
  assertNoUrlCredentials(endpoints);
  return JSON.stringify(
    endpoints.map((e) => ({
      name: e.name,
      url: e.url,
      method: e.method,
      timeoutMs: e.timeoutMs,
      ...(e.followRedirects ? {} : { followRedirects: false }),
      // The secret's ARN only: the task reads the header values at run time.
      ...(e.headersSecretArn !== undefined ? { headersSecretArn: e.headersSecretArn } : {}),
      conditions: {
        status: e.status,
        ...(e.maxResponseMs !== undefined ? { responseTimeMs: e.maxResponseMs } : {}),
        ...(e.bodyContains !== undefined ? { bodyContains: e.bodyContains } : {}),
        ...(e.jsonField !== undefined ? { jsonField: e.jsonField } : {}),
        ...(e.minCertificateDays !== undefined ? { certificateDaysLeft: e.minCertificateDays } : {}),
      },
    })),
  );
}

/** The error budget's period: availability targets are over 30 days. */
export const UPTIME_PERIOD_DAYS = 30;

/** The burn-rate alarm pairs of the SRE workbook's multiwindow, multi-burn-rate alerts. */
export const BURN_ALERTS = [
  { name: "fast", burnRate: 14.4, longSeconds: 3600, shortSeconds: 300 },
  { name: "slow", burnRate: 6, longSeconds: 6 * 3600, shortSeconds: 1800 },
] as const;

/** Minutes of unavailability the target allows over the budget period: 99.9 % over 30 days is 43.2 minutes. */
export function errorBudgetMinutes(targetPercent: number, days = UPTIME_PERIOD_DAYS): number {
  return Number((((100 - targetPercent) / 100) * days * 24 * 60).toFixed(6));
}

/** Fraction of the budget a window burning at `burnRate` uses: 14.4x for 1 h of 30 days is 2 %. */
export function budgetSpent(burnRate: number, windowSeconds: number, days = UPTIME_PERIOD_DAYS): number {
  return Number(((burnRate * windowSeconds) / (days * 86400)).toFixed(6));
}

/**
 * Availability (percent) below which a window burns the budget faster than `burnRate` times the rate
 * that spends it exactly over the period: 100 - burnRate * (100 - target); 99.9 at 14.4x is 98.56.
 * Rounded to 6 decimals so 99.9's binary fraction does not leak into the threshold.
 */
export function burnThreshold(targetPercent: number, burnRate: number): number {
  return Number((100 - burnRate * (100 - targetPercent)).toFixed(6));
}

/**
 * A window's period: never shorter than the interval between checks (a 5-minute window of hourly
 * checks would be empty most of the time), a multiple of 60 seconds, at most a day (CloudWatch
 * limits period x evaluation periods to a day below an hour's period, to 7 days above; one
 * evaluation period here).
 */
export function burnWindowSeconds(nominalSeconds: number, checkPeriodSeconds: number): number {
  return Math.min(86400, Math.ceil(Math.max(nominalSeconds, checkPeriodSeconds) / 60) * 60);
}

/**
 * What one burn alarm pair (BURN_ALERTS) of an endpoint really pages on, window by window: its length
 * (burnWindowSeconds of the check period, seconds), the most checks it holds (`checksIn(window)`:
 * regime/endpoints.ts checksInWindow, at least 1; the most give the most failures to page) and the failed checks among them that take its availability below burnThreshold, the smallest f
 * with 100 x (checks - f) / checks < threshold; Infinity when no number of failures does (a threshold
 * of 0 or less). 99.99 % at 14.4x: threshold 99.856 %; 60 one-minute checks an hour allow
 * 60 x 0.144 % = 0.09 failed checks, so 1 failure pages; 99.5 % allows 60 x 7.2 % = 4.32, so 5 do.
 * The pair's composite alarm pages once every window holds that many.
 */
export function burnAlarmFailures(
  targetPercent: number,
  burn: (typeof BURN_ALERTS)[number],
  checkPeriodSeconds: number,
  checksIn: (windowSeconds: number) => number,
): { windowSeconds: number; checks: number; failures: number }[] {
  const threshold = burnThreshold(targetPercent, burn.burnRate);
  const windows = [...new Set([burn.longSeconds, burn.shortSeconds].map((w) => burnWindowSeconds(w, checkPeriodSeconds)))];
  return windows.map((windowSeconds) => {
    const checks = Math.max(1, checksIn(windowSeconds));
    // Failures allowed without going below the threshold, rounded so 99.9's binary fraction does not tip it.
    const allowed = Math.floor(Number(((checks * (100 - threshold)) / 100).toFixed(9)));
    const failures = threshold <= 0 || allowed + 1 > checks ? Infinity : allowed + 1;
    return { windowSeconds, checks, failures };
  });
}

/** One severity lower, P3 at most: the slow burn is less urgent than the fast one (regime/severity.ts). */
export { lowerSeverity };

/** Endpoint name to uptime target, for the endpoints that have one (the dashboard's annotations). */
export function uptimeTargets(endpoints: Pick<EndpointConfig, "name" | "uptimeTargetPercent">[]): Record<string, number> {
  return Object.fromEntries(endpoints.flatMap((e) => (e.uptimeTargetPercent !== undefined ? [[e.name, e.uptimeTargetPercent]] : [])));
}

const windowLabel = (seconds: number) => (seconds % 3600 === 0 ? `${seconds / 3600}h` : `${seconds / 60}m`);

/** The secrets the health-check function may read: exactly the endpoints' header secrets, once each. */
export function headerSecretStatements(endpoints: EndpointConfig[]): IamStatement[] {
  const arns = [...new Set(endpoints.flatMap((e) => (e.headersSecretArn ? [e.headersSecretArn] : [])))].sort();
  return arns.length ? [{ Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: arns }] : [];
}

/**
 * The endpoint checks' ScheduledTask (its function and schedule) of `regime`: `<regime>-health-task`,
 * the suffix from the task catalogue (tasks/catalogue.ts scheduleSuffix); physicalName shortens it.
 */
export function healthCheckFunctionName(regime: string): string {
  return `${regime}-${TASK_CATALOGUE["health-check"].scheduled.scheduleSuffix}`;
}

/** Seconds the health-check function has besides its slowest endpoint's timeout: a cold start, reading a headers secret, writing the metrics (30). */
export const HEALTH_CHECK_START_MARGIN_SECONDS = 30;

/**
 * The health-check function's timeout, in seconds: the slowest endpoint's timeout plus
 * HEALTH_CHECK_START_MARGIN_SECONDS, at most Lambda's maximum. Every endpoint's metrics are written
 * when the run ends, so this is also how long after its scheduled time a check's Healthy may be seen.
 */
export function healthCheckTimeoutSeconds(endpoints: Pick<EndpointConfig, "timeoutMs">[]): number {
  return Math.min(LAMBDA_MAX_TIMEOUT_SECONDS, Math.ceil(Math.max(...endpoints.map((e) => e.timeoutMs)) / 1000) + HEALTH_CHECK_START_MARGIN_SECONDS);
}

/**
 * The severity of the checker's missed-run alarm: where checks run without gaps, a checker that stops
 * leaves the down alarms without data, which they count as failed checks (each pages at its endpoint's
 * severity within its failures), so P3 says the rest; on a gapped schedule (working hours) the down
 * alarms ignore missing data and nothing else pages: the most urgent endpoint's down severity.
 */
export function healthCheckMissedRunSeverity(schedule: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">, endpoints: Pick<EndpointConfig, "severity">[]): Severity {
  if (!checksHaveGaps(schedule)) return "P3";
  return mostUrgent(endpoints.map((e) => e.severity)) ?? "P3";
}

/**
 * The overdue watcher's job for the endpoint checks of component `name` when they run further apart
 * than their missed-run alarm can look back (weekly), or undefined: its function's runs, or its
 * successful runs where the missed-run alarm counts those (a gapped schedule: a checker failing every
 * run must page at the endpoints' severity too), at the missed-run alarm's severity.
 */
export function healthCheckWatchedJob(name: string, args: Pick<HealthChecksArgs, "regime" | "schedule" | "endpoints" | "paused">, since?: pulumi.Input<string>): WatchedJobSpec | undefined {
  const timeoutSeconds = healthCheckTimeoutSeconds(args.endpoints);
  const severity = healthCheckMissedRunSeverity(args.schedule, args.endpoints);
  return lambdaTaskWatchedJob({
    resource: withoutPrefix(`${name}-task`, args.regime),
    functionName: physicalName(`${name}-task`, 64),
    since,
    schedule: args.schedule,
    timeoutSeconds,
    severity,
    countsRuns: missedRunCountsInvocations({ severity: "P3", missedRunSeverity: severity }),
    description: `endpoint checks of ${args.endpoints.length} endpoints`,
    window: jobMissedRunWindow(missedRunJobOf({ schedule: args.schedule, timeoutSeconds })),
    paused: args.paused,
  });
}

export class HealthChecks extends pulumi.ComponentResource {
  public readonly task: ScheduledTask;
  /** The checker for the overdue watcher when it runs further apart than a missed-run alarm sees (weekly): lambdaTaskWatchedJob. */
  public readonly watchedJobs: WatchedJobSpec[];
  public readonly alarmNames: pulumi.Output<string[]>;

  constructor(name: string, args: HealthChecksArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:health:HealthChecks", name, {}, opts);
    assertNoUrlCredentials(args.endpoints);
    this.task = new ScheduledTask(
      healthCheckFunctionName(args.regime),
      {
        regime: args.regime,
        taskName: "health-check",
        description: `health checks of ${args.endpoints.length} endpoints`,
        code: { kind: "zip", archive: args.archive, handler: "index.handler" },
        environment: {
          TASK: "health-check",
          REGIME_NAME: args.regime,
          METRICS_NAMESPACE: METRICS_NAMESPACE_DEFAULT,
          ENDPOINTS: endpointsSetting(args.endpoints),
        } satisfies TaskEnvironment<"health-check">,
        schedule: args.schedule,
        scheduleKey: "endpoints.schedule",
        paused: args.paused,
        timeoutSeconds: healthCheckTimeoutSeconds(args.endpoints),
        memoryMb: 256,
        policyStatements: headerSecretStatements(args.endpoints),
        logRetentionDays: args.logRetentionDays,
        alarmTopics: args.alarmTopics,
        // An unavailable endpoint makes the run fail; the per-endpoint down alarms below page for
        // that, so the task's own error alarm is informational. A slow answer or an expiring
        // certificate does not fail the run: the slow and certificate alarms page for those.
        severity: "P3",
        missedRunSeverity: healthCheckMissedRunSeverity(args.schedule, args.endpoints),
        tags: args.tags,
      },
      { parent: this },
    );

    this.watchedJobs = [healthCheckWatchedJob(name, args, this.task.watchStart)].flatMap((j) => (j ? [j] : []));

    // One period per check while the checks run (a working-hours schedule's 5-minute step, not its
    // weekend). Where the checks stop for hours (nights, weekends) a period without checks says
    // nothing about the endpoint: missing data is ignored there (the alarm keeps its state), and a
    // checker that stops is paged by its own missed-run alarm (ScheduledTask).
    // Checks further apart than a day (every 3 days, weekly) leave most one-day periods without a
    // check: they count as gapped too, and the window spans the checks it counts (downAlarmWindow).
    const period = downAlarmPeriodSeconds(args.schedule);
    const gapped = checksHaveGaps(args.schedule);
    const sparse = checksSparserThanPeriod(args.schedule);
    const missing = gapped ? "ignore" : "breaching";
    const stops = checksStop(args.schedule);
    // Checks unevenly spaced while they run (cron(0,5 * * * ? *)): the runbook names their times.
    const longestRunning = sparse ? 0 : longestFailingSpanSeconds(args.schedule, 1);
    const unevenSpacing = !sparse && longestRunning > period ? `checks ${period / 60} to ${longestRunning / 60} min apart` : undefined;
    const alarms = args.endpoints.flatMap((e) => {
      const w = downAlarmWindow(e.failuresBeforeAlarm, args.schedule);
      const failures = w.failures;
      // Minutes into an outage: from the failing checks' own span (the fault just before the first) to
      // the worst span (the fault just after a healthy check, the longest gaps while checks run).
      const [pageFrom, pageBy] = sparse
        ? [(failures - 1) * (args.schedule.intervalSeconds / 60), Math.round(w.spanSeconds / 60)]
        : [failures * (period / 60), Math.round(w.spanSeconds / 60)];
      const spacing = sparse ? `checks up to ${Math.round(args.schedule.intervalSeconds / 3600)} h apart` : unevenSpacing ?? `one check every ${period / 60} min`;
      const dims = { service: args.regime, Task: "health-check", Endpoint: e.name };
      const list = [
        createAlarm(
          args.regime,
          {
            resource: `endpoint-${e.name}`,
            metric: "down",
            severity: e.severity,
            runbook: `${e.url} was unavailable ${failures} checks in a row (${spacing}: pages ${pageFrom}-${pageBy} min into an outage${stops ? ` while checks run, ${args.schedule.expression}; outside them the alarm keeps its state` : ""}): unreachable, untrusted certificate, timed out, or a wrong answer (status after redirects, body, JSON field); slowness and certificate age have their own alarms. The health-check log's "endpoint unhealthy" lines give the reason. Check the service logs and container status (docker ps, docker logs), restart it if needed, roll back if a deploy caused it.`,
            treatMissingData: missing,
            paused: args.paused,
            args: {
              // Checks without gaps are gated on the checker's watch start (watchGate): a new
              // endpoint does not page before its first check, and a paused checker's alarm sits OK.
              // Gapped checks ignore missing data: no page at creation, no gate.
              ...(gapped
                ? { namespace: METRICS_NAMESPACE_DEFAULT, metricName: "Healthy", dimensions: dims, statistic: "Minimum", period }
                : {
                    metricQueries: watchGate({
                      metrics: [{ id: "healthy", metric: { namespace: METRICS_NAMESPACE_DEFAULT, metricName: "Healthy", dimensions: dims, stat: "Minimum", period } }],
                      since: this.task.watchStart,
                      paused: args.paused,
                      label: `${e.name} healthy (1 before the watch start)`,
                      what: `endpoints[${e.name}] down alarm`,
                    }),
                  }),
              evaluationPeriods: w.evaluationPeriods,
              datapointsToAlarm: w.datapointsToAlarm,
              comparisonOperator: "LessThanThreshold",
              threshold: 1,
            },
          },
          args.alarmTopics,
          { parent: this },
          args.tags,
        ),
      ];
      if (e.maxResponseMs !== undefined) {
        list.push(
          createAlarm(
            args.regime,
            {
              resource: `endpoint-${e.name}`,
              metric: "slow",
              severity: e.slowSeverity,
              runbook: `${e.url} answered slower than ${e.maxResponseMs} ms on average over ${failures} checks (it still answers: not down). Check slow queries, CPU and memory of the host.`,
              treatMissingData: "notBreaching",
              args: {
                namespace: METRICS_NAMESPACE_DEFAULT,
                metricName: "ResponseTime",
                dimensions: dims,
                statistic: "Average",
                period,
                // The down alarm's window: on sparse checks, the days that hold `failures` checks.
                evaluationPeriods: w.evaluationPeriods,
                datapointsToAlarm: w.datapointsToAlarm,
                comparisonOperator: "GreaterThanThreshold",
                threshold: e.maxResponseMs,
              },
            },
            args.alarmTopics,
            { parent: this },
            args.tags,
          ),
        );
      }
      if (e.minCertificateDays !== undefined) {
        list.push(
          createAlarm(
            args.regime,
            {
              resource: `endpoint-${e.name}`,
              metric: "certificate",
              severity: e.certificateSeverity,
              runbook: `A TLS certificate of ${e.url} or of an https host its redirects lead to (the leaf, an intermediate or the trusted root of the chain clients validate: the health-check log names it and its host) expires in fewer than ${e.minCertificateDays} days. Renew it, or install the CA's current intermediate (certbot renew --nginx, or check ACM auto-renewal and DNS validation), and reload the web server.`,
              // CertificateDaysLeft is sampled (a healthy value once a UTC day, a breaching one every
              // run): no data is a healthy certificate; a stopped health check pages through its missed-run alarm.
              treatMissingData: "notBreaching",
              args: {
                namespace: METRICS_NAMESPACE_DEFAULT,
                metricName: "CertificateDaysLeft",
                dimensions: dims,
                statistic: "Minimum",
                period: Math.max(period, 3600),
                evaluationPeriods: 1,
                comparisonOperator: "LessThanThreshold",
                threshold: e.minCertificateDays,
              },
            },
            args.alarmTopics,
            { parent: this },
            args.tags,
          ),
        );
      }
      return list;
    });
    const budgetAlarms = args.endpoints.flatMap((e) => (e.uptimeTargetPercent === undefined ? [] : this.budgetAlarms(args, e, period)));
    this.alarmNames = pulumi.all([...alarms.map((a) => a.name), ...budgetAlarms.map((a) => a.alarmName)]);
    this.registerOutputs({ alarmNames: this.alarmNames });
  }

  /** The fast and slow error-budget burn alarms of one endpoint: a composite alarm per pair of windows. */
  private budgetAlarms(args: HealthChecksArgs, e: EndpointConfig, checkPeriod: number): aws.cloudwatch.CompositeAlarm[] {
    const target = e.uptimeTargetPercent!;
    const dims = { service: args.regime, Task: "health-check", Endpoint: e.name };
    const budget = errorBudgetMinutes(target);
    return BURN_ALERTS.map((b) => {
      const severity = b.name === "fast" ? e.uptimeSeverity : lowerSeverity(e.uptimeSeverity);
      const threshold = burnThreshold(target, b.burnRate);
      // Sparse checks can stretch both windows to the same length: then one window alarm is enough.
      const name = alarmName(args.regime, { resource: `endpoint-${e.name}`, metric: `budget-${b.name}`, severity });
      const pair = burnAlarmFailures(target, b, checkPeriod, (w) => checksInWindow(args.schedule, w));
      const windows = pair.map((w) => w.windowSeconds);
      const spent = Math.round(budgetSpent(b.burnRate, windows[0]) * 1000) / 10;
      const children = windows.map((w) => {
        const windowName = alarmName(args.regime, { resource: `endpoint-${e.name}`, metric: `budget-${b.name}-${windowLabel(w)}`, severity });
        return new aws.cloudwatch.MetricAlarm(
          windowName,
          {
            name: windowName,
            alarmDescription:
              `[${severity}] Part of ${name}: ${e.url} was available less than ${threshold} % of its checks over ${windowLabel(w)} (${b.burnRate}x the error-budget rate of ${target} % over ${UPTIME_PERIOD_DAYS} days). Notifies nobody by itself; the composite alarm does when both windows burn.`.slice(0, 1024),
            // Only the composite alarm notifies: the short window alone trips on a single failed
            // check, and both windows together are the signal (AWS: "create a composite alarm and
            // set up alerts only for the composite alarm").
            actionsEnabled: true,
            alarmActions: [],
            okActions: [],
            // Each check sends one Healthy value (1 or 0) per endpoint, so the share of healthy checks
            // is the metric's Average (CloudWatch: Sum / SampleCount) over the window: one alarm
            // metric ($0.10 a month) rather than the same metric read twice (Sum and SampleCount, $0.20).
            // Checks without gaps: the share is gated on the checker's watch start (watchGate: a window
            // before it counts as available), so a new endpoint does not burn its budget before its
            // first check; a window with no check at all is 0 % (FILL), as "breaching" treats it.
            metricQueries: checksHaveGaps(args.schedule)
              ? [
                  { id: "healthy", metric: { namespace: METRICS_NAMESPACE_DEFAULT, metricName: "Healthy", dimensions: dims, stat: "Average", period: w }, returnData: false },
                  { id: "availability", expression: "100 * healthy", label: `${e.name} availability % over ${windowLabel(w)}`, returnData: true },
                ]
              : watchGate({
                  metrics: [{ id: "healthy", metric: { namespace: METRICS_NAMESPACE_DEFAULT, metricName: "Healthy", dimensions: dims, stat: "Average", period: w } }],
                  since: this.task.watchStart,
                  paused: args.paused,
                  label: "share of healthy checks (1 before the watch start)",
                  what: `endpoints[${e.name}] budget alarm`,
                  returnData: false,
                }).apply((q) => [...q, { id: "availability", expression: "100 * watched", label: `${e.name} availability % over ${windowLabel(w)}`, returnData: true }]),
            evaluationPeriods: 1,
            datapointsToAlarm: 1,
            comparisonOperator: "LessThanThreshold",
            threshold,
            // A window without a single check says nothing good about the endpoint: the checker's
            // schedule or function is broken, or the endpoint hangs it. "notBreaching" would count
            // that silence as a healthy window (budget intact) and "missing"/"ignore" would leave
            // the window in INSUFFICIENT_DATA or its old state, where ALARM() in the composite rule
            // is false, so the budget could burn unseen. "breaching" treats a window with no
            // checks as unavailable, like the down alarm does. Windows that have some checks are
            // judged on the checks that ran.
            // Checks that stop on purpose (a working-hours schedule) leave windows without checks
            // every night: there the window keeps its state ("ignore") instead of burning the budget.
            treatMissingData: checksHaveGaps(args.schedule) ? "ignore" : "breaching",
            // The composite alarm that notifies for this window (tests and tools check it pages).
            tags: { ...args.tags, Severity: severity, PartOf: name },
          },
          { parent: this },
        );
      });
      const topic = args.alarmTopics[severity];
      return new aws.cloudwatch.CompositeAlarm(
        name,
        {
          alarmName: name,
          alarmRule: pulumi.all(children.map((c) => c.name)).apply((n) => n.map((x) => `ALARM("${x}")`).join(" AND ")),
          alarmDescription:
            `[${severity}]${args.paused ? ` ${PAUSED_NOTE}` : ""} ${e.url} is spending its ${target} % uptime budget (${budget} minutes of downtime in ${UPTIME_PERIOD_DAYS} days) at ${b.burnRate}x: availability below ${threshold} % over ${windows.length > 1 ? "both " : ""}${windows.map(windowLabel).join(" and ")}; at this rate ${spent} % of the month's budget goes every ${windowLabel(windows[0])}. It pages on ${pair.map((w) => `${w.failures} failed of ${w.checks} checks in ${windowLabel(w.windowSeconds)}`).join(" and ")}. Look at the endpoint's failed checks (task logs, "endpoint unhealthy"), the service logs and recent deploys; fix or roll back before the budget is gone.`.slice(0, 1024),
          actionsEnabled: !args.paused,
          alarmActions: [topic],
          okActions: [topic],
          tags: { ...args.tags, Severity: severity },
        },
        { parent: this },
      );
    });
  }
}
