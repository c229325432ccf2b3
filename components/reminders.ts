/**
 * Human steps as scheduled reminders: the guides hold tasks no machine can do (penetration tests,
 * access reviews, telling users 48 hours before a maintenance window). Each becomes an EventBridge
 * Scheduler schedule that publishes its checklist to the severity's SNS topic, in its own timezone.
 * No function runs: Scheduler publishes to SNS directly.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, type AlertTopics, type Severity } from "./alarms";

export interface ReminderSpec {
  name: string;
  /** EventBridge expression, `cron(...)` or `rate(...)`. */
  expression: string;
  timezone: string;
  /** Readable schedule, for the message. */
  description: string;
  severity: Severity;
  checklist: string[];
  /** `paused: true`: the schedule is created DISABLED and sends nothing until it is resumed. */
  paused?: boolean;
}

export interface RemindersArgs {
  regime: string;
  reminders: ReminderSpec[];
  alarmTopics: AlertTopics;
  /** KMS key of the alert topics: Scheduler needs it to publish to encrypted topics. */
  topicKeyArn: pulumi.Input<string>;
  tags?: Record<string, string>;
}

/** The message a reminder sends: what to do, as a checklist. */
export function reminderMessage(regime: string, r: ReminderSpec): string {
  return [`[${r.severity}] ${regime}: ${r.name} is due (${r.description}).`, "", ...r.checklist.map((s) => `[ ] ${s}`)].join("\n");
}

export class Reminders extends pulumi.ComponentResource {
  public readonly scheduleNames: pulumi.Output<string[]>;

  constructor(name: string, args: RemindersArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:reminders:Reminders", name, {}, opts);
    const tags = args.tags ?? {};
    const used = [...new Set(args.reminders.map((r) => r.severity))].sort();

    const dlq = new aws.sqs.Queue(`${name}-dlq`, { name: `${name}-dlq`, sqsManagedSseEnabled: true, messageRetentionSeconds: 1209600, tags }, { parent: this });

    const role = new aws.iam.Role(
      `${name}-scheduler`,
      {
        name: `${name}-scheduler`.slice(0, 64),
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { Service: "scheduler.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        tags,
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      `${name}-scheduler`,
      {
        role: role.id,
        policy: pulumi.all([pulumi.all(used.map((s) => args.alarmTopics[s])), args.topicKeyArn, dlq.arn]).apply(([topics, key, dlqArn]) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              { Effect: "Allow", Action: ["sns:Publish"], Resource: topics },
              { Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: [key] },
              { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [dlqArn] },
            ],
          }),
        ),
      },
      { parent: this },
    );

    const schedules = args.reminders.map(
      (r) =>
        new aws.scheduler.Schedule(
          `${name}-${r.name}`,
          {
            name: `${name}-${r.name}`.slice(0, 64),
            description: `Reminder: ${r.name} (${r.description})`,
            scheduleExpression: r.expression,
            scheduleExpressionTimezone: r.timezone,
            flexibleTimeWindow: { mode: "OFF" },
            ...(r.paused ? { state: "DISABLED" } : {}),
            target: {
              arn: args.alarmTopics[r.severity],
              roleArn: role.arn,
              input: reminderMessage(args.regime, r),
              retryPolicy: { maximumRetryAttempts: 10, maximumEventAgeInSeconds: 86400 },
              deadLetterConfig: { arn: dlq.arn },
            },
          },
          { parent: this },
        ),
    );

    createAlarm(
      args.regime,
      {
        resource: "reminders",
        metric: "undelivered",
        severity: "P2",
        runbook: "A reminder could not be published to its topic and sits in the dead-letter queue. Read the message there, do the checklist, and check the topic's key policy and the scheduler role.",
        treatMissingData: "notBreaching",
        args: {
          namespace: "AWS/SQS",
          metricName: "ApproximateNumberOfMessagesVisible",
          dimensions: { QueueName: dlq.name },
          statistic: "Maximum",
          period: 300,
          evaluationPeriods: 1,
          comparisonOperator: "GreaterThanThreshold",
          threshold: 0,
        },
      },
      args.alarmTopics,
      { parent: this },
      tags,
    );

    this.scheduleNames = pulumi.all(schedules.map((s) => s.name));
    this.registerOutputs({ scheduleNames: this.scheduleNames });
  }
}
