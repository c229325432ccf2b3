/**
 * Whether each paged severity's SNS topic has a subscription that delivers, read after deploy by the
 * overdue watcher on every run (tasks/overdue-watch.ts). The stack declares subscriptions
 * (`alerting.<P>`), and Pulumi's state keeps listing them whatever becomes of them in SNS:
 *
 * - an email or https subscription is `PendingConfirmation` until the recipient confirms it, and
 *   "Amazon SNS automatically deletes unconfirmed subscriptions after 48 hours"
 *   (https://docs.aws.amazon.com/sns/latest/dg/sns-delete-subscription-topic.html);
 * - every SNS email carries an unsubscribe link: one click by anyone who receives it deletes the
 *   subscription;
 * - an SMS number that replied STOP is opted out (CheckIfPhoneNumberIsOptedOut), and while the
 *   account's SMS is in the sandbox (GetSMSSandboxAccountStatus) only verified sandbox destinations
 *   receive anything (ListSMSSandboxPhoneNumbers, Status "Verified");
 * - a self-hosted chat webhook given as https never confirms.
 *
 * In each case every alarm of that severity keeps "paging" into a topic nobody hears. A subscription
 * delivers when it is confirmed (its SubscriptionArn is an ARN, not "PendingConfirmation" nor
 * "Deleted") and, for SMS, its number is not opted out and, while the account is in the SMS sandbox,
 * is a verified sandbox destination. A subscription made outside the program (another stack's pager)
 * counts like a declared one. What each severity's topic really has is logged on one line, and
 * `Unreachable` = 1 (dimension Severity) is sent while none delivers (only then: tasks/lib/metrics.ts
 * onlyBreaching), read by an alarm that pages the other severities (components/subscription-watch.ts).
 */
import {
  CheckIfPhoneNumberIsOptedOutCommand,
  GetSMSSandboxAccountStatusCommand,
  ListSMSSandboxPhoneNumbersCommand,
  ListSubscriptionsByTopicCommand,
  SNSClient,
} from "@aws-sdk/client-sns";
import { z } from "zod";
import { subscriberLabel } from "../../regime/paging-promises";
import { SEVERITIES, type Severity } from "../../regime/severity";
import { MetricUnit, recordMetric, type TaskContext } from "./runtime";
import { taskClientConfig } from "./s3";

/** One checked severity as the component writes it into ALERT_TOPICS (components/subscription-watch.ts alertTopicsSetting). */
export const alertTopicSchema = z
  .object({
    severity: z.enum(SEVERITIES),
    topicArn: z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/, "must be the ARN of an SNS topic"),
    /** The subscribers the stack declares for it, by subscriberLabel (`email ops@example.com`, `https events.pagerduty.com`): one absent from the topic is named missing. */
    declared: z.array(z.string().min(1)),
  })
  .strict();
export type AlertTopic = z.infer<typeof alertTopicSchema>;

/** The subscription-check setting of the watcher: the topics of the severities it checks, at most one each. */
export const alertTopicsSetting = z.array(alertTopicSchema).refine((l) => new Set(l.map((t) => t.severity)).size === l.length, { message: "lists a severity twice" });

/**
 * The SNS client of a task: region and credentials as s3Client takes them, and AWS_ENDPOINT_URL_SNS /
 * AWS_ENDPOINT_URL (passed explicitly so a value given on the command line counts too) for a local server.
 */
export function snsClient(env: Record<string, string | undefined>): SNSClient {
  return new SNSClient(taskClientConfig(env, "SNS"));
}

/** One subscription of a topic as ListSubscriptionsByTopic gives it. */
export interface TopicSubscription {
  protocol: string;
  endpoint: string;
  /** The subscription's ARN, or "PendingConfirmation" / "Deleted". */
  subscriptionArn: string;
}

/**
 * Every subscription of `topicArn`, all pages (ListSubscriptionsByTopic answers 100 at a time with a
 * NextToken: https://docs.aws.amazon.com/sns/latest/api/API_ListSubscriptionsByTopic.html); undefined
 * when the topic does not exist (NotFound: deleted outside the program, so nobody hears it). Throws
 * one line naming the topic when SNS refuses otherwise (AuthorizationError: the role).
 */
export async function topicSubscriptions(sns: SNSClient, topicArn: string): Promise<TopicSubscription[] | undefined> {
  const out: TopicSubscription[] = [];
  let token: string | undefined;
  do {
    let page;
    try {
      page = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token }));
    } catch (e) {
      if ((e as { name?: string }).name === "NotFoundException" || (e as { name?: string }).name === "NotFound") return undefined;
      throw new Error(`ListSubscriptionsByTopic ${topicArn}: ${(e as Error).name}: ${(e as Error).message}`);
    }
    for (const s of page.Subscriptions ?? []) out.push({ protocol: s.Protocol ?? "", endpoint: s.Endpoint ?? "", subscriptionArn: s.SubscriptionArn ?? "" });
    token = page.NextToken || undefined;
  } while (token);
  return out;
}

/** What the account's SMS settings say of some phone numbers: in the sandbox (and which are verified destinations), which opted out. */
export interface SmsState {
  sandbox: boolean;
  /** Verified sandbox destinations (E.164); empty outside the sandbox. */
  verified: Set<string>;
  optedOut: Set<string>;
}

/**
 * The SMS state of `numbers` (E.164): the account's sandbox status (GetSMSSandboxAccountStatus), in
 * the sandbox its verified destinations (ListSMSSandboxPhoneNumbers, all pages), and each number's
 * opt-out (CheckIfPhoneNumberIsOptedOut, one call a number: a few numbers, where
 * ListPhoneNumbersOptedOut would page through every number that ever replied STOP to the account).
 * IAM authorises these only on "*" (Service Authorization Reference, Amazon SNS: no resource type).
 */
export async function smsState(sns: SNSClient, numbers: string[]): Promise<SmsState> {
  const status = await sns.send(new GetSMSSandboxAccountStatusCommand({}));
  const verified = new Set<string>();
  if (status.IsInSandbox) {
    let token: string | undefined;
    do {
      const page = await sns.send(new ListSMSSandboxPhoneNumbersCommand({ NextToken: token }));
      for (const p of page.PhoneNumbers ?? []) if (p.Status === "Verified" && p.PhoneNumber) verified.add(p.PhoneNumber);
      token = page.NextToken || undefined;
    } while (token);
  }
  const optedOut = new Set<string>();
  for (const n of new Set(numbers)) if ((await sns.send(new CheckIfPhoneNumberIsOptedOutCommand({ phoneNumber: n }))).isOptedOut) optedOut.add(n);
  return { sandbox: status.IsInSandbox === true, verified, optedOut };
}

/** Why a listed subscription does not deliver, or undefined when it does. */
export function notDelivering(s: TopicSubscription, sms: SmsState | undefined): "pending confirmation" | "deleted" | "opted out" | "not a verified sandbox number" | undefined {
  if (s.subscriptionArn === "PendingConfirmation") return "pending confirmation";
  if (!s.subscriptionArn.startsWith("arn:")) return "deleted";
  if (s.protocol === "sms" && sms) {
    if (sms.optedOut.has(s.endpoint)) return "opted out";
    if (sms.sandbox && !sms.verified.has(s.endpoint)) return "not a verified sandbox number";
  }
  return undefined;
}

/** What one severity's topic really has. */
export interface SeverityDelivery {
  severity: Severity;
  topicArn: string;
  /** The topic no longer exists. */
  topicGone?: true;
  /** Subscriptions that deliver, by subscriberLabel. */
  delivering: string[];
  /** Subscriptions listed that do not, with why: `email ops@example.com (pending confirmation)`. */
  notDelivering: string[];
  /** Declared subscribers the topic does not list at all (deleted: unconfirmed after 48 h, unsubscribed). */
  missing: string[];
  /** No subscription delivers: its pages reach nobody. */
  unreachable: boolean;
}

/** The verdict of one topic from what SNS lists (undefined: topic gone) and the SMS state of its numbers. */
export function judgeTopic(topic: AlertTopic, listed: TopicSubscription[] | undefined, sms: SmsState | undefined): SeverityDelivery {
  const subs = listed ?? [];
  const delivering: string[] = [];
  const failing: string[] = [];
  for (const s of subs) {
    const why = notDelivering(s, sms);
    if (why) failing.push(`${subscriberLabel(s.protocol, s.endpoint)} (${why})`);
    else delivering.push(subscriberLabel(s.protocol, s.endpoint));
  }
  const seen = new Set(subs.map((s) => subscriberLabel(s.protocol, s.endpoint)));
  return {
    severity: topic.severity,
    topicArn: topic.topicArn,
    ...(listed ? {} : { topicGone: true as const }),
    delivering,
    notDelivering: failing,
    missing: topic.declared.filter((d) => !seen.has(d)),
    unreachable: delivering.length === 0,
  };
}

/** The log line of one severity: how many deliver, which, and what is pending, opted out or missing. */
export function deliveryLine(d: SeverityDelivery): string {
  const head = d.unreachable ? `${d.severity} pages reach nobody` : `${d.severity} pages reach ${d.delivering.length} ${d.delivering.length === 1 ? "subscription" : "subscriptions"} (${d.delivering.join(", ")})`;
  const parts = [
    ...(d.topicGone ? [`topic ${d.topicArn} does not exist`] : []),
    ...(d.notDelivering.length ? [`not delivering: ${d.notDelivering.join(", ")}`] : []),
    ...(d.missing.length ? [`missing (declared, not subscribed: unconfirmed after 48 h or unsubscribed): ${d.missing.join(", ")}`] : []),
  ];
  return parts.length ? `${head}; ${parts.join("; ")}` : head;
}

/**
 * Reads every topic of `topics` (one after another: at most four) and the SMS state of their SMS
 * subscribers (only when one exists), and judges each. Throws one line naming the call that failed.
 */
export async function checkSubscriptions(sns: SNSClient, topics: AlertTopic[]): Promise<SeverityDelivery[]> {
  const listed: (TopicSubscription[] | undefined)[] = [];
  for (const t of topics) listed.push(await topicSubscriptions(sns, t.topicArn));
  const numbers = listed.flatMap((l) => (l ?? []).filter((s) => s.protocol === "sms" && s.subscriptionArn.startsWith("arn:")).map((s) => s.endpoint));
  let sms: SmsState | undefined;
  if (numbers.length > 0) {
    try {
      sms = await smsState(sns, numbers);
    } catch (e) {
      throw new Error(`SMS state of ${numbers.join(", ")}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
  return topics.map((t, i) => judgeTopic(t, listed[i], sms));
}

/**
 * The subscription check of one watcher run: every topic of `topics` judged, one log line per
 * severity (a warning while it is unreachable), and `Unreachable` = 1 (dimension Severity) for each
 * severity none of whose subscriptions delivers (nothing sent for one that is reachable).
 */
export async function reportDelivery(env: Record<string, string | undefined>, topics: AlertTopic[], ctx: TaskContext): Promise<SeverityDelivery[]> {
  const sns = snsClient(env);
  let out: SeverityDelivery[];
  try {
    out = await checkSubscriptions(sns, topics);
  } finally {
    sns.destroy();
  }
  for (const d of out) {
    recordMetric(ctx, "Unreachable", MetricUnit.Count, d.unreachable ? 1 : 0, ["Severity", d.severity], d.unreachable);
    if (d.unreachable || d.notDelivering.length || d.missing.length) ctx.log.warn(deliveryLine(d), { ...d });
    else ctx.log.info(deliveryLine(d), { ...d });
  }
  return out;
}
