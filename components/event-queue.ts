/**
 * An EventBridge rule whose matching events wait in an SQS queue of its own: what an alarm on the
 * rule's `Invocations` (AWS/Events, dimension RuleName; free) pages on, and what its runbook reads.
 * Used for the events that page without a metric of their own: a State Manager association that
 * fails on an instance (components/association-failures.ts) and a host that stops
 * (components/host-alarms.ts hostStoppedAlarm).
 *
 * Why a target and `Invocations`: the EventBridge user guide ("Monitoring Amazon EventBridge")
 * documents `Invocations` ("the number of times a target is invoked by a rule in response to an
 * event", dimensions None and RuleName, sent only when not zero; https://docs.aws.amazon.com/
 * eventbridge/latest/userguide/eb-monitoring.html) but says nothing of a rule without targets, and
 * older references list `MatchedEvents` without a RuleName dimension: a rule with no target may
 * publish no per-rule data point at all. The queue is the cheapest harmless target (free at this volume, no second page as the alert topic
 * would give) and its messages are the events' record, kept EVENT_QUEUE_RETENTION_SECONDS. SSE-SQS:
 * EventBridge can send to it without a key policy; the queue policy lets only this rule send.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Seconds an event stays in its queue: SQS's longest retention, 14 days (SQS developer guide, "Quotas"). */
export const EVENT_QUEUE_RETENTION_SECONDS = 14 * 86400;

export interface EventQueueArgs {
  /** Physical names of the rule (at most 64 characters) and of the queue (at most 80). */
  ruleName: string;
  queueName: string;
  description: string;
  /** The rule's event pattern (JSON). */
  eventPattern: pulumi.Input<string>;
  /** Sid of the queue policy's one statement. */
  sid: string;
  tags: Record<string, string>;
}

/**
 * Creates the rule, its queue, the queue's policy and the rule's target, all under the Pulumi name
 * `id`; returns the rule (its `name` is the alarm's RuleName dimension).
 */
export function eventQueue(id: string, a: EventQueueArgs, parent: pulumi.Resource): aws.cloudwatch.EventRule {
  const rule = new aws.cloudwatch.EventRule(id, { name: a.ruleName, description: a.description, eventPattern: a.eventPattern, tags: a.tags }, { parent });
  const queue = new aws.sqs.Queue(id, { name: a.queueName, sqsManagedSseEnabled: true, messageRetentionSeconds: EVENT_QUEUE_RETENTION_SECONDS, tags: a.tags }, { parent });
  new aws.sqs.QueuePolicy(
    id,
    {
      queueUrl: queue.url,
      policy: pulumi.all([queue.arn, rule.arn]).apply(([queueArn, ruleArn]) =>
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Sid: a.sid, Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sqs:SendMessage", Resource: queueArn, Condition: { ArnEquals: { "aws:SourceArn": ruleArn } } }],
        }),
      ),
    },
    { parent },
  );
  new aws.cloudwatch.EventTarget(id, { rule: rule.name, arn: queue.arn }, { parent });
  return rule;
}
