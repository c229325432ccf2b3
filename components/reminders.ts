/**
 * Human steps as scheduled reminders: the guides hold tasks no machine can do (penetration tests,
 * access reviews, telling users 48 hours before a maintenance window). Each becomes an EventBridge
 * Scheduler schedule that publishes its checklist to the severity's SNS topic, in its own timezone.
 * No function runs: Scheduler publishes to SNS directly.
 *
 * Watched: a reminder that could not be published lands in the dead-letter queue and pages P2
 * (`<regime>-reminders-undelivered-P2`), the only alarm that sees it (the missed-run alarm below
 * counts invocation attempts, a failed publish among them); the queue is the reminders' alone, so
 * no task's failed run keeps that alarm in ALARM (components/scheduled-task.ts, at its queue). A reminder the Scheduler never starts (schedule disabled or
 * deleted, the Scheduler failing) is noticed from the Scheduler's own free metric
 * `AWS/Scheduler InvocationAttemptCount`, which CloudWatch keeps per schedule group: each reminder
 * whose interval a metric alarm can see (at most 7 days apart) gets a schedule group of its own and a
 * missed-run alarm `<regime>-reminder-<name>-missed-run-<severity>` over the same jitter-tolerant
 * window as a task's (jobMissedRunWindow), paging at the reminder's severity. Monthly and quarterly
 * reminders are further apart than an alarm can look back: each gets a schedule group of its own too,
 * and is handed to the overdue watcher (`watchedJobs`), which reads that group's InvocationAttemptCount
 * history (1-hour data points, kept 455 days) and pages `<regime>-reminder-<name>-overdue-<severity>`
 * when the start its schedule expected is more than an hour late. A reminder that has never started
 * is measured from its schedule group's creation date (handed to the watcher as `since`), so the
 * watcher needs no backup vault for reminders and watches them in a regime without databases too.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createAlarm, watchGate, type AlertTopics, type Severity } from "./alarms";
import { jobWatchStart } from "./watch-start";
import { physicalName } from "./naming";
import { recordSchedule } from "./plan-record";
import { historyLookbackSeconds, OVERDUE_TOLERANCE_MARGIN_SECONDS, type WatchedJobSpec } from "./overdue-watch";
import { jobMissedRunWindow, missedRunTimeToPageSeconds, noSuccessWithin } from "./scheduled-task";
import type { Regime } from "../regime/schema";

export interface ReminderSpec {
  name: string;
  /** EventBridge expression, `cron(...)` or `rate(...)`. */
  expression: string;
  timezone: string;
  /** Readable schedule, for the message. */
  description: string;
  /** Longest wall-clock interval between two runs (regime/schedule.ts): decides whether a missed-run alarm can watch it. */
  intervalSeconds: number;
  severity: Severity;
  checklist: string[];
  /** `paused: true`: the schedule is created DISABLED and sends nothing until it is resumed. */
  paused?: boolean;
}

/** The spec of a reminder of the validated regime, its schedule as the config loader resolved it. */
export function reminderSpec(m: Regime["reminders"][number]): ReminderSpec {
  const { expression, timezone, description, intervalSeconds } = m.schedule;
  return { name: m.name, expression, timezone, description, intervalSeconds, severity: m.severity, checklist: m.checklist, paused: m.paused };
}

export interface RemindersArgs {
  regime: string;
  reminders: ReminderSpec[];
  alarmTopics: AlertTopics;
  /** KMS key of the alert topics: Scheduler needs it to publish to encrypted topics. */
  topicKeyArn: pulumi.Input<string>;
  tags?: Record<string, string>;
}

/** Resource part of a reminder's missed-run alarm name: `<regime>-reminder-<name>-missed-run-<severity>`. */
export function reminderAlarmResource(name: string): string {
  return `reminder-${name}`;
}

/** The reminder's own schedule group: its InvocationAttemptCount is the reminder's alone. */
export function reminderScheduleGroup(component: string, name: string): string {
  return physicalName(`${component}-${name}`, 64);
}

/**
 * A reminder's missed-run alarm window (jobMissedRunWindow), or undefined when it is too sparse for
 * one (the overdue watcher watches it). Its success is the Scheduler's invocation attempt, counted
 * when the attempt starts: no run time to allow for.
 */
export function reminderMissedRunWindow(r: Pick<ReminderSpec, "expression" | "timezone" | "intervalSeconds">): { period: number; evaluationPeriods: number } | undefined {
  return jobMissedRunWindow({ schedule: r, longestRunSeconds: 0 });
}

/**
 * The overdue watcher's job for a reminder too sparse for a missed-run alarm, or undefined for one an
 * alarm watches and for a paused one. Job `reminder/<name>`; its last run is the newest hour with an
 * invocation attempt of its schedule group, read back over its longest interval plus the tolerance
 * (an hour: an attempt is counted when the Scheduler starts it, retries aside) and one more hour for
 * the hour-aligned data points, at most 455 days; its watch start is `since`, its schedule group's
 * creation date (ISO 8601, the group's `creationDate`).
 */
export function reminderWatchedJob(component: string, r: ReminderSpec, since?: pulumi.Input<string>): WatchedJobSpec | undefined {
  if (reminderMissedRunWindow(r) || r.paused) return undefined;
  return {
    job: `reminder/${r.name}`,
    resource: reminderAlarmResource(r.name),
    since,
    expression: r.expression,
    timezone: r.timezone,
    toleranceSeconds: OVERDUE_TOLERANCE_MARGIN_SECONDS,
    history: {
      scheduleGroup: reminderScheduleGroup(component, r.name),
      lookbackSeconds: historyLookbackSeconds(r.intervalSeconds, OVERDUE_TOLERANCE_MARGIN_SECONDS),
    },
    severity: r.severity,
    description: `reminder ${r.name} (${r.description})`,
    byHand: "check that its schedule exists and is enabled in its group, and do the checklist by hand.",
  };
}

/** Severity of the alarm on the reminders' dead-letter queue (a checklist that could not be published). */
export const REMINDER_UNDELIVERED_SEVERITY: Severity = "P2";

/** The message a reminder sends: what to do, as a checklist. */
export function reminderMessage(regime: string, r: ReminderSpec): string {
  return [`[${r.severity}] ${regime}: ${r.name} is due (${r.description}).`, "", ...r.checklist.map((s) => `[ ] ${s}`)].join("\n");
}

export class Reminders extends pulumi.ComponentResource {
  public readonly scheduleNames: pulumi.Output<string[]>;
  /** The reminders too sparse for a missed-run alarm, for the overdue watcher (reminderWatchedJob). */
  public readonly watchedJobs: WatchedJobSpec[];

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

    const watchStarts: Record<string, pulumi.Output<string>> = {};
    const schedules = args.reminders.map((r) => {
      const window = reminderMissedRunWindow(r);
      // A group of its own gives the reminder its own InvocationAttemptCount (dimension ScheduleGroup):
      // the missed-run alarm's metric, or the overdue watcher's history for a sparse one.
      const group = new aws.scheduler.ScheduleGroup(`${name}-${r.name}`, { name: reminderScheduleGroup(name, r.name), tags }, { parent: this });
      // Its watch start: the group's creation, or the `pulumi up` that last resumed the reminder (jobWatchStart).
      const since = jobWatchStart(`${name}-${r.name}`, { created: group.creationDate, paused: r.paused, what: `reminders[${r.name}]` }, { parent: this });
      watchStarts[r.name] = since;
      const scheduleName = `${name}-${r.name}`.slice(0, 64);
      const schedule = new aws.scheduler.Schedule(
          `${name}-${r.name}`,
          {
            name: scheduleName,
            groupName: group.name,
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
        );
      const { expression, timezone, description, intervalSeconds } = r;
      recordSchedule({ name: scheduleName, kind: "reminder", schedule: { expression, timezone, description, intervalSeconds }, configKey: `reminders[${r.name}].schedule`, paused: r.paused === true });
      if (window) {
        createAlarm(
          args.regime,
          {
            resource: reminderAlarmResource(r.name),
            metric: "missed-run",
            severity: r.severity,
            runbook: `The reminder ${r.name} (${r.description}) was not started by EventBridge Scheduler in ${Math.round((window.period * window.evaluationPeriods) / 60)} minutes (pages at most ${Math.round(missedRunTimeToPageSeconds(window) / 60)} minutes after its last start). Check that the schedule exists and is enabled in its group, do the checklist by hand, and check the Scheduler's health in the region.`,
            treatMissingData: "breaching",
            paused: r.paused,
            args: {
              // Gated on the reminder's watch start, its schedule group's creation or its last resume
              // (watchGate): a new or resumed reminder does not page before its first start was due; a
              // paused one's alarm sits OK.
              metricQueries: watchGate({
                metrics: [{ id: "starts", metric: { namespace: "AWS/Scheduler", metricName: "InvocationAttemptCount", dimensions: { ScheduleGroup: group.name }, stat: "Sum", period: window.period } }],
                since,
                paused: r.paused,
                label: "starts (1 before the watch start)",
                what: `reminders[${r.name}] missed-run alarm`,
              }),
              ...noSuccessWithin(window),
            },
          },
          args.alarmTopics,
          { parent: this },
          tags,
        );
      }
      return schedule;
    });

    createAlarm(
      args.regime,
      {
        resource: "reminders",
        metric: "undelivered",
        severity: REMINDER_UNDELIVERED_SEVERITY,
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

    this.watchedJobs = args.reminders.flatMap((r) => reminderWatchedJob(name, r, watchStarts[r.name]) ?? []);
    this.scheduleNames = pulumi.all(schedules.map((s) => s.name));
    this.registerOutputs({ scheduleNames: this.scheduleNames });
  }
}
