/**
 * Endpoint health checks: one function checks every endpoint of the regime concurrently on a
 * schedule (the guides' `curl -f .../health` every hour, `openssl s_client` for the certificate),
 * emits Healthy / ResponseTime / CertificateDaysLeft per endpoint, and an alarm per endpoint and
 * condition pages its severity (down: `severity`, slow: `slowSeverity`, certificate:
 * `certificateSeverity`). About $0.75 a month per endpoint, against $52 for a CloudWatch Synthetics
 * canary at the same rate. Request headers come from Secrets Manager at run time
 * (`headersSecretArn`): the function's role may read exactly those secrets, and no header value
 * passes through Pulumi.
 */
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, type AlertTopics } from "./alarms";
import type { IamStatement } from "./iam";
import { ScheduledTask } from "./scheduled-task";
import type { Schedule } from "../regime/schedule";
import type { EndpointConfig } from "../regime/schema";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";

export interface HealthChecksArgs {
  regime: string;
  endpoints: EndpointConfig[];
  schedule: Schedule;
  archive: pulumi.asset.Archive;
  alarmTopics: AlertTopics;
  logRetentionDays: number;
  tags?: Record<string, string>;
}

/** The ENDPOINTS setting of the health-check task, from the regime's endpoint list. */
export function endpointsSetting(endpoints: EndpointConfig[]): string {
  return JSON.stringify(
    endpoints.map((e) => ({
      name: e.name,
      url: e.url,
      method: e.method,
      timeoutMs: e.timeoutMs,
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

/** The secrets the health-check function may read: exactly the endpoints' header secrets, once each. */
export function headerSecretStatements(endpoints: EndpointConfig[]): IamStatement[] {
  const arns = [...new Set(endpoints.flatMap((e) => (e.headersSecretArn ? [e.headersSecretArn] : [])))].sort();
  return arns.length ? [{ Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: arns }] : [];
}

export class HealthChecks extends pulumi.ComponentResource {
  public readonly task: ScheduledTask;
  public readonly alarmNames: pulumi.Output<string[]>;

  constructor(name: string, args: HealthChecksArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:health:HealthChecks", name, {}, opts);
    const timeout = Math.max(...args.endpoints.map((e) => e.timeoutMs));
    this.task = new ScheduledTask(
      `${name}-task`,
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
        },
        schedule: { expression: args.schedule.expression, timezone: args.schedule.timezone },
        expectedIntervalSeconds: args.schedule.intervalSeconds,
        timeoutSeconds: Math.min(900, Math.ceil(timeout / 1000) + 30),
        memoryMb: 256,
        policyStatements: headerSecretStatements(args.endpoints),
        logRetentionDays: args.logRetentionDays,
        alarmTopics: args.alarmTopics,
        // An unhealthy endpoint makes the run fail; the per-endpoint alarms below page for that.
        // The task's own error alarm is then informational.
        severity: "P3",
        tags: args.tags,
      },
      { parent: this },
    );

    const period = Math.max(60, Math.min(86400, Math.round(args.schedule.intervalSeconds / 60) * 60));
    const alarms = args.endpoints.flatMap((e) => {
      const dims = { service: args.regime, Task: "health-check", Endpoint: e.name };
      const list = [
        createAlarm(
          args.regime,
          {
            resource: `endpoint-${e.name}`,
            metric: "down",
            severity: e.severity,
            runbook: `${e.url} failed its health conditions ${e.failuresBeforeAlarm} checks in a row. Check the service logs and container status (docker ps, docker logs), restart it if needed, roll back if a deploy caused it.`,
            treatMissingData: "breaching",
            args: {
              namespace: METRICS_NAMESPACE_DEFAULT,
              metricName: "Healthy",
              dimensions: dims,
              statistic: "Minimum",
              period,
              evaluationPeriods: e.failuresBeforeAlarm,
              datapointsToAlarm: e.failuresBeforeAlarm,
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
              runbook: `${e.url} answered slower than ${e.maxResponseMs} ms on average over ${e.failuresBeforeAlarm} checks. Check slow queries, CPU and memory of the host.`,
              treatMissingData: "notBreaching",
              args: {
                namespace: METRICS_NAMESPACE_DEFAULT,
                metricName: "ResponseTime",
                dimensions: dims,
                statistic: "Average",
                period,
                evaluationPeriods: e.failuresBeforeAlarm,
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
              runbook: `The TLS certificate of ${e.url} expires in fewer than ${e.minCertificateDays} days. Renew it (certbot renew --nginx, or check ACM auto-renewal and DNS validation) and reload the web server.`,
              treatMissingData: "missing",
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
    this.alarmNames = pulumi.all(alarms.map((a) => a.name));
    this.registerOutputs({ alarmNames: this.alarmNames });
  }
}
