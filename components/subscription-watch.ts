/**
 * The delivery check of the alert topics after deploy: the overdue watcher (components/overdue-watch.ts)
 * lists, on every hourly run, the subscriptions of each paged severity's topic and counts those that
 * deliver (tasks/lib/subscription-check.ts). The stack only declares subscriptions: an email or https
 * one is deleted by SNS when unconfirmed after 48 hours, anyone who receives an email can unsubscribe
 * it, an SMS number can be opted out or be no verified destination of an account whose SMS is in the
 * sandbox; Pulumi's state lists them all the same.
 *
 * Checked: the severities something pages that declare a subscriber (regime/paging-promises.ts
 * checkedSeverities). While one has no subscription that delivers, the watcher sends `Unreachable` = 1
 * (dimension Severity, only then), and the alarm `<regime>-alerts-<P>-unreachable-<Q>` goes to ALARM.
 * Its actions publish to the topics of the OTHER severities that declare a subscriber
 * (unreachableNotifies), not to its own, which nobody hears; `<Q>` is the most urgent of them.
 *
 * One alarm per checked severity rather than one for all: an alarm's actions are fixed, and one alarm
 * for all would have to publish to every topic, the unreachable one included, and could not say in its
 * name and runbook which severity went silent. At most four alarms, $0.40 a month (CloudWatch
 * pricing: $0.10 per standard-resolution alarm metric, https://aws.amazon.com/cloudwatch/pricing/);
 * the metric is billed only for the hours it is sent. Missing data is not breaching: no data is a
 * reachable severity, and a watcher that stops pages through its own missed-run, errors and
 * dead-letter alarms.
 *
 * Worst-case time to page once the last delivering subscription is gone: one watcher interval (1 h)
 * plus the alarm's period (1 h), WATCHER_DELAY_SECONDS.
 */
import * as pulumi from "@pulumi/pulumi";
import type { AlarmSpec, AlertTopics } from "./alarms";
import type { IamStatement } from "./iam";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";
import { declaredLabels, unreachableNotifies, type DeclaredSubscribers } from "../regime/paging-promises";
import { mostUrgent, type Severity } from "../regime/severity";
import type { AlertTopic } from "../tasks/lib/subscription-check";

/** What the watcher checks: the severities (checkedSeverities) and who the config says hears each. */
export interface SubscriptionCheck {
  severities: Severity[];
  subscribers: Partial<Record<Severity, DeclaredSubscribers>>;
}

/**
 * SNS reads IAM authorises only on "*" (Service Authorization Reference, "Actions, resources, and
 * condition keys for Amazon SNS": no resource type): the account's SMS sandbox status, its sandbox
 * destinations, and whether a number opted out. Granted whenever the check runs: a subscription made
 * outside the program (another stack's pager by SMS) is judged like a declared one.
 */
export const SMS_READ_ACTIONS = ["sns:GetSMSSandboxAccountStatus", "sns:ListSMSSandboxPhoneNumbers", "sns:CheckIfPhoneNumberIsOptedOut"] as const;

/** The watcher's ALERT_TOPICS entries: each checked severity's topic and its declared subscribers by label. */
function alertTopicEntries(check: SubscriptionCheck, arns: Record<string, string>): AlertTopic[] {
  return check.severities.map((severity) => ({ severity, topicArn: arns[severity], declared: declaredLabels(check.subscribers[severity]) }));
}

/** ALERT_TOPICS of the overdue-watch task (tasks/lib/subscription-check.ts alertTopicSchema): JSON, an output of the topics' ARNs. */
export function alertTopicsSetting(check: SubscriptionCheck, topics: AlertTopics): pulumi.Output<string> {
  return pulumi.all(Object.fromEntries(check.severities.map((s) => [s, topics[s]]))).apply((arns) => JSON.stringify(alertTopicEntries(check, arns as Record<string, string>)));
}

/**
 * Bytes of ALERT_TOPICS at plan time (splitSettings), each topic ARN stood in for by one as long as
 * the alerting component makes it (`<regime>-alerts-<P>`, components/regime.ts) in a region of the
 * longest name (14 characters: ap-southeast-2).
 */
export function alertTopicsSettingBytes(check: SubscriptionCheck, regime: string): number {
  const arn = (sev: string) => `arn:aws:sns:ap-southeast-2:123456789012:${regime}-alerts-${sev}`;
  return Buffer.byteLength(JSON.stringify(alertTopicEntries(check, Object.fromEntries(check.severities.map((s) => [s, arn(s)])))));
}

/** The watcher's grants for the check: sns:ListSubscriptionsByTopic on exactly the checked topics, the SMS reads on "*" (SMS_READ_ACTIONS). */
export function subscriptionCheckStatements(check: SubscriptionCheck, topics: AlertTopics): IamStatement[] {
  if (check.severities.length === 0) return [];
  return [
    { Effect: "Allow", Action: ["sns:ListSubscriptionsByTopic"], Resource: check.severities.map((s) => topics[s]) },
    { Effect: "Allow", Action: [...SMS_READ_ACTIONS], Resource: ["*"] },
  ];
}

/** The runbook of a severity's unreachable alarm: what it means, where to read, what to do by hand. */
export function unreachableRunbook(severity: Severity): string {
  return (
    `No subscription of the ${severity} alert topic delivers: every ${severity} alarm pages nobody. Read the overdue-watch log ("${severity} pages reach nobody"): ` +
    `a pending email or https subscription needs its recipient to confirm (SNS deletes it unconfirmed after 48 h); a missing one (deleted, unsubscribed) comes back with pulumi refresh then pulumi up, which sends a new confirmation; ` +
    `an opted-out number needs aws sns opt-in-phone-number; a sandbox number needs verifying in the SNS SMS sandbox, or the account moved out of it.`
  );
}

/**
 * The unreachable alarm of each checked severity: `<regime>-alerts-<P>-unreachable-<Q>`, Unreachable
 * >= 1 in the hour (Maximum, 3,600 s, 1 period), missing data not breaching, its actions on the other
 * severities that declare a subscriber (none: no actions) and named for the most urgent of them.
 */
export function unreachableAlarmSpecs(regime: string, check: SubscriptionCheck): AlarmSpec[] {
  return check.severities.map((sev) => {
    const notify = unreachableNotifies(sev, check.subscribers);
    return {
      resource: `alerts-${sev}`,
      metric: "unreachable",
      severity: mostUrgent(notify) ?? sev,
      notify,
      runbook: unreachableRunbook(sev),
      treatMissingData: "notBreaching",
      args: {
        namespace: METRICS_NAMESPACE_DEFAULT,
        metricName: "Unreachable",
        dimensions: { service: regime, Task: "overdue-watch", Severity: sev },
        statistic: "Maximum",
        period: 3600,
        evaluationPeriods: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        threshold: 1,
      },
    };
  });
}
