/**
 * Alert routing: one SNS topic per severity (P0 critical: service down, data loss .. P3 info), each
 * encrypted with one customer-managed KMS key (rotation on), and the people or systems that hear each
 * severity by email, SMS or HTTPS. CloudWatch alarms publish to the topics directly: the topic policy
 * lets cloudwatch.amazonaws.com publish on behalf of this account only, and the key policy lets it use
 * the key (an alarm cannot publish to an encrypted topic otherwise; it fails without a trace).
 * EventBridge Scheduler and Lambda publish through their IAM roles; the key policy's account statement
 * delegates key use to IAM, so those roles need kms:GenerateDataKey/kms:Decrypt on `kmsKeyArn`.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SEVERITIES, type AlertTopics, type Severity } from "./alarms";
import { physicalName, shortHash } from "./naming";

export interface AlertChannels {
  /** Email addresses; each must confirm the subscription from the message SNS sends. */
  email?: string[];
  /** Phone numbers in E.164 form (+15551234567). */
  sms?: string[];
  /** HTTPS endpoints (chat webhooks, paging services); they must confirm the subscription. */
  https?: string[];
}

export interface AlertRoutingArgs {
  /** Who hears each severity. A severity without channels still gets its topic (other stacks may subscribe). */
  channels: Partial<Record<Severity, AlertChannels>>;
  /** Days KMS waits before deleting the key once it is removed from the program (7..30). */
  keyDeletionWindowDays?: number;
  tags?: Record<string, string>;
}

export const SEVERITY_MEANING: Record<Severity, string> = {
  P0: "critical: service down or data at risk, act now",
  P1: "high: act within the hour",
  P2: "medium: act within the working day",
  P3: "info: review when convenient",
};

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const E164 = /^\+[1-9]\d{6,14}$/;

function validateChannels(channels: AlertRoutingArgs["channels"]): void {
  for (const [sev, c] of Object.entries(channels)) {
    if (!(SEVERITIES as readonly string[]).includes(sev)) throw new Error(`channels.${sev}: unknown severity, use one of ${SEVERITIES.join(", ")}`);
    (c?.email ?? []).forEach((e, i) => {
      if (!EMAIL.test(e)) throw new Error(`channels.${sev}.email[${i}]: "${e}" is not an email address`);
    });
    (c?.sms ?? []).forEach((p, i) => {
      if (!E164.test(p)) throw new Error(`channels.${sev}.sms[${i}]: "${p}" is not an E.164 phone number like +15551234567`);
    });
    (c?.https ?? []).forEach((u, i) => {
      let ok = false;
      try {
        ok = new URL(u).protocol === "https:";
      } catch {
        ok = false;
      }
      if (!ok) throw new Error(`channels.${sev}.https[${i}]: "${u}" is not an https URL`);
    });
  }
}

export class AlertRouting extends pulumi.ComponentResource {
  /** Topic ARN per severity, ready for createAlarm. */
  public readonly topics: AlertTopics;
  /** The same ARNs as one output (stack output `alertTopicArns`). */
  public readonly topicArns: pulumi.Output<Record<Severity, string>>;
  /** Key encrypting every topic; publishers through IAM roles need GenerateDataKey/Decrypt on it. */
  public readonly kmsKeyArn: pulumi.Output<string>;

  constructor(name: string, args: AlertRoutingArgs, opts?: pulumi.ComponentResourceOptions) {
    validateChannels(args.channels);
    const deletionWindow = args.keyDeletionWindowDays ?? 30;
    if (!Number.isInteger(deletionWindow) || deletionWindow < 7 || deletionWindow > 30) {
      throw new Error(`keyDeletionWindowDays: must be a whole number from 7 to 30, got ${deletionWindow}`);
    }
    super("regime:alerting:AlertRouting", name, {}, opts);
    const tags = args.tags ?? {};
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;

    // A key of its own ($1 a month), not the backup vault's: this key's policy lets CloudWatch (any
    // alarm of the account) generate and decrypt data keys with it, which SNS encryption needs (the
    // AWS-managed aws/sns key cannot be opened to CloudWatch). The vault's key names no service, so only
    // roles granted kms:Decrypt on it read backups; one shared key would extend that to CloudWatch and
    // tie the backups' key lifecycle (deletion window, rotation, grants) to the alert topics.
    const key = new aws.kms.Key(
      `${name}-topics`,
      {
        description: `${name}: encrypts the alert topics`,
        enableKeyRotation: true,
        deletionWindowInDays: deletionWindow,
        policy: account.apply((acct) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "AccountAdministersKeyThroughIam",
                Effect: "Allow",
                Principal: { AWS: `arn:aws:iam::${acct}:root` },
                Action: "kms:*",
                Resource: "*",
              },
              {
                Sid: "CloudWatchAlarmsPublishToEncryptedTopics",
                Effect: "Allow",
                Principal: { Service: "cloudwatch.amazonaws.com" },
                Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
                Resource: "*",
                Condition: { StringEquals: { "aws:SourceAccount": acct } },
              },
            ],
          }),
        ),
        tags,
      },
      { parent: this },
    );
    new aws.kms.Alias(`${name}-topics`, { name: `alias/${name}-topics`, targetKeyId: key.keyId }, { parent: this });

    const topics = {} as Record<Severity, aws.sns.Topic>;
    for (const sev of SEVERITIES) {
      const topic = new aws.sns.Topic(
        `${name}-${sev}`,
        {
          name: physicalName(`${name}-${sev}`, 256),
          displayName: `${sev} alerts`,
          kmsMasterKeyId: key.arn,
          tags: { ...tags, Severity: sev, Meaning: SEVERITY_MEANING[sev].split(":")[0] },
        },
        { parent: this },
      );
      topics[sev] = topic;
      new aws.sns.TopicPolicy(
        `${name}-${sev}`,
        {
          arn: topic.arn,
          policy: pulumi.all([topic.arn, account]).apply(([arn, acct]) =>
            JSON.stringify({
              Version: "2012-10-17",
              Statement: [
                {
                  Sid: "CloudWatchAlarmsOfThisAccountPublish",
                  Effect: "Allow",
                  Principal: { Service: "cloudwatch.amazonaws.com" },
                  Action: "sns:Publish",
                  Resource: arn,
                  Condition: { StringEquals: { "aws:SourceAccount": acct } },
                },
              ],
            }),
          ),
        },
        { parent: this },
      );

      const c = args.channels[sev] ?? {};
      const subscribe = (protocol: "email" | "sms" | "https", endpoint: string) =>
        new aws.sns.TopicSubscription(
          // Named by the endpoint, not its position: removing one address leaves the others subscribed.
          `${name}-${sev}-${protocol}-${shortHash(endpoint)}`,
          { topic: topic.arn, protocol, endpoint, ...(protocol === "https" ? { endpointAutoConfirms: false } : {}) },
          { parent: this },
        );
      for (const e of c.email ?? []) subscribe("email", e);
      for (const p of c.sms ?? []) subscribe("sms", p);
      for (const u of c.https ?? []) subscribe("https", u);
    }

    this.topics = { P0: topics.P0.arn, P1: topics.P1.arn, P2: topics.P2.arn, P3: topics.P3.arn };
    this.topicArns = pulumi.all(this.topics).apply((t) => t as Record<Severity, string>);
    this.kmsKeyArn = key.arn;
    this.registerOutputs({ topicArns: this.topicArns, kmsKeyArn: this.kmsKeyArn });
  }
}
