/**
 * Alert routing: one SNS topic per severity (P0 critical: service down, data loss .. P3 info), each
 * encrypted with one customer-managed KMS key (rotation on), and the people or systems that hear each
 * severity by email, SMS or HTTPS, and the Slack and Microsoft Teams channels that hear it through AWS
 * Chatbot (one channel configuration per channel, with a role that can only read alarms). CloudWatch alarms publish to the topics directly: the topic policy
 * lets cloudwatch.amazonaws.com publish on behalf of this account only, and the key policy lets it use
 * the key (an alarm cannot publish to an encrypted topic otherwise; it fails without a trace).
 * EventBridge Scheduler and Lambda publish through their IAM roles; the key policy's account statement
 * delegates key use to IAM, so those roles need kms:GenerateDataKey/kms:Decrypt on `kmsKeyArn`.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SEVERITIES, type AlertTopics, type Severity } from "./alarms";
import { physicalName, shortHash } from "./naming";
import type { Regime } from "../regime/schema";
import { alarmArn, IAM_WILDCARD } from "../regime/arn";
import { ownLogGroupName } from "../regime/own-log-groups";
import { assumeRolePolicy, policyJson, type IamStatement } from "./iam";
import { GUID, SLACK_CHANNEL_ID, SLACK_WORKSPACE_ID, TEAMS_CHANNEL_ID, chatWebhookProblem, slackChannelKey, teamsChannelKey, type SlackChannel, type TeamsChannel } from "../regime/chat";

/**
 * Who hears one severity, as the config gives it (regime/schema.ts `alerting.<severity>`): email
 * addresses (each confirms the subscription from the message SNS sends), E.164 phone numbers
 * (+15551234567), https endpoints (paging services, relays; they confirm the subscription; chat webhooks
 * are refused), Slack and Microsoft Teams channels reached through AWS Chatbot.
 */
export type AlertChannels = Partial<Regime["alerting"][Severity]>;

export interface AlertRoutingArgs {
  /** Who hears each severity. A severity without channels still gets its topic (other stacks may subscribe). */
  channels: Partial<Record<Severity, AlertChannels>>;
  /**
   * Prefix of the names of the alarms that publish to the topics (`<regime>-`, see `alarmName`): the
   * chat channels' role may describe only those alarms. Default: the component's name and `-`.
   */
  alarmNamePrefix?: string;
  /** Retention of the log groups AWS Chatbot writes its delivery errors to (one of CloudWatch's values); default 30. */
  logRetentionDays?: number;
  /** Days KMS waits before deleting the key once it is removed from the program (7..30). */
  keyDeletionWindowDays?: number;
  tags?: Record<string, string>;
}

/** The tag every resource of a regime carries with the regime's name (components/regime.ts): the chat role reads only alarms carrying its own. */
export const REGIME_TAG = "Regime";

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
      const problem = chatWebhookProblem(u, `channels.${sev}`);
      if (problem) throw new Error(`channels.${sev}.https[${i}]: ${problem}`);
    });
    (c?.slack ?? []).forEach((s, i) => {
      if (!SLACK_WORKSPACE_ID.test(s.workspaceId)) throw new Error(`channels.${sev}.slack[${i}].workspaceId: "${s.workspaceId}" is not a Slack workspace id (T…)`);
      if (!SLACK_CHANNEL_ID.test(s.channelId)) throw new Error(`channels.${sev}.slack[${i}].channelId: "${s.channelId}" is not a Slack channel id (C… or G…)`);
    });
    (c?.teams ?? []).forEach((t, i) => {
      if (!GUID.test(t.teamId)) throw new Error(`channels.${sev}.teams[${i}].teamId: "${t.teamId}" is not a GUID`);
      if (!GUID.test(t.tenantId)) throw new Error(`channels.${sev}.teams[${i}].tenantId: "${t.tenantId}" is not a GUID`);
      if (!TEAMS_CHANNEL_ID.test(t.channelId)) throw new Error(`channels.${sev}.teams[${i}].channelId: "${t.channelId}" is not a Teams channel id (19:…@thread.tacv2)`);
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
  /** AWS Chatbot configuration name per chat channel (`slack/<workspace>/<channel>`, `teams/<tenant>/<team>/<channel>`). */
  public readonly chatConfigurationNames: Record<string, pulumi.Output<string>>;

  constructor(name: string, args: AlertRoutingArgs, opts?: pulumi.ComponentResourceOptions) {
    validateChannels(args.channels);
    const deletionWindow = args.keyDeletionWindowDays ?? 30;
    if (!Number.isInteger(deletionWindow) || deletionWindow < 7 || deletionWindow > 30) {
      throw new Error(`keyDeletionWindowDays: must be a whole number from 7 to 30, got ${deletionWindow}`);
    }
    super("regime:alerting:AlertRouting", name, {}, opts);
    const tags = args.tags ?? {};
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;

    // A key of its own ($1 a month), not the backup vault's. This key's policy lets CloudWatch (any
    // alarm of the account) generate and decrypt data keys with it, which SNS encryption needs (the
    // AWS-managed aws/sns key cannot be opened to CloudWatch), and the roles that publish to the topics
    // (the reminders' Scheduler role) hold kms:Decrypt on it through IAM. The vault's key names no
    // service, so only roles granted kms:Decrypt on it read backups.
    // One key for both was weighed and left: the CloudWatch statement could be narrowed with
    // kms:EncryptionContext:aws:sns:topicArn (SNS passes the topic ARN as encryption context) and the
    // backup readers with kms:EncryptionContext:aws:s3:arn (the bucket's ARN, with the S3 bucket key),
    // but the key policy delegates use to IAM (AccountAdministersKeyThroughIam), so every IAM grant on
    // the shared key, today's and any added later, would have to carry the right context condition, or
    // a Deny in the key policy would have to list every use: one grant without it and a publisher of
    // alerts decrypts backups. With two keys a grant on this one cannot read a backup whatever its
    // conditions. The backups' key must also outlive the topics' (backups are kept for their retention,
    // 365 days for prod's monthly tier; scheduling this key's deletion must not make them unreadable).
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

    this.chatConfigurationNames = this.chatChannels(name, args, topics, account, tags);

    this.topics = { P0: topics.P0.arn, P1: topics.P1.arn, P2: topics.P2.arn, P3: topics.P3.arn };
    this.topicArns = pulumi.all(this.topics).apply((t) => t as Record<Severity, string>);
    this.kmsKeyArn = key.arn;
    this.registerOutputs({ topicArns: this.topicArns, kmsKeyArn: this.kmsKeyArn, chatConfigurationNames: this.chatConfigurationNames });
  }

  /**
   * AWS Chatbot channel configurations: one per chat channel (Slack workspace + channel, Teams tenant +
   * team + channel), subscribed to the topic of every severity that lists the channel. One
   * configuration takes several topic ARNs, so a channel under P0 and P1 is one configuration with
   * both topics: adding or dropping a severity updates it in place (no second Chatbot subscription to
   * create or tear down), and a channel has one role and one guardrail whatever it hears.
   *
   * Every configuration assumes one role (trusted by chatbot.amazonaws.com) whose only policy lets it
   * read the regime's alarms and chart their metrics (`chatReadOnlyStatements`); the same policy is
   * the channel's guardrail, the ceiling of what channel members may run (Chatbot applies
   * AdministratorAccess when no guardrail is given). AWS's own template for notification-only
   * channels grants cloudwatch:Describe*, Get* and List*; those wildcards now also match e.g.
   * GetDashboard and GetSpaceCredentials, so the actions are listed instead.
   *
   * The configurations are managed through a region whose endpoint serves the Chatbot API
 * (`chatbotApiRegion`: the stack's, or us-east-2); without it a stack in us-east-1 could not create them.
 *
 * Chatbot shows what CloudWatch alarms publish; reminders and task messages published to a topic
   * as plain text reach email, SMS and https subscribers only (Chatbot reports "Event Received is not
   * supported" in its log group /aws/chatbot/<configuration> for them).
   */
  private chatChannels(
    name: string,
    args: AlertRoutingArgs,
    topics: Record<Severity, aws.sns.Topic>,
    account: pulumi.Output<string>,
    tags: Record<string, string>,
  ): Record<string, pulumi.Output<string>> {
    const slack = new Map<string, { channel: SlackChannel; severities: Severity[] }>();
    const teams = new Map<string, { channel: TeamsChannel; severities: Severity[] }>();
    for (const sev of SEVERITIES) {
      for (const c of args.channels[sev]?.slack ?? []) {
        const entry = slack.get(slackChannelKey(c)) ?? { channel: c, severities: [] };
        entry.severities.push(sev);
        slack.set(slackChannelKey(c), entry);
      }
      for (const c of args.channels[sev]?.teams ?? []) {
        const entry = teams.get(teamsChannelKey(c)) ?? { channel: c, severities: [] };
        entry.severities.push(sev);
        teams.set(teamsChannelKey(c), entry);
      }
    }
    const out: Record<string, pulumi.Output<string>> = {};
    if (slack.size === 0 && teams.size === 0) return out;

    const region = aws.getRegionOutput({}, { parent: this }).region;
    const policy = new aws.iam.Policy(
      `${name}-chat-read-alarms`,
      {
        name: physicalName(`${name}-chat-read-alarms`, 128),
        description: `AWS Chatbot channels of ${name}: read the alarms they post and chart their metrics, nothing else`,
        policy: policyJson(chatReadOnlyStatements(region, account, args.alarmNamePrefix ?? `${name}-`, tags[REGIME_TAG])),
        tags,
      },
      { parent: this },
    );
    const role = new aws.iam.Role(
      `${name}-chatbot`,
      {
        name: physicalName(`${name}-chatbot`, 64),
        description: `Assumed by AWS Chatbot for the chat channels of ${name}`,
        assumeRolePolicy: assumeRolePolicy("chatbot.amazonaws.com"),
        tags,
      },
      { parent: this },
    );
    const attachment = new aws.iam.RolePolicyAttachment(`${name}-chatbot-read-alarms`, { role: role.name, policyArn: policy.arn }, { parent: this });

    // Chatbot's API answers in four regions only; configurations are global and take topics of any region.
    const chatbotRegion = region.apply(chatbotApiRegion);
    const common = (severities: Severity[]) => ({
      region: chatbotRegion,
      iamRoleArn: role.arn,
      guardrailPolicyArns: [policy.arn],
      snsTopicArns: severities.map((s) => topics[s].arn),
      loggingLevel: "ERROR",
      userAuthorizationRequired: false,
      tags: { ...tags, Severities: severities.join(" ") },
    });
    for (const { channel, severities } of slack.values()) {
      // Named by the channel, never by its position: reordering the config replaces nothing.
      const configurationName = physicalName(`${name}-slack-${channel.workspaceId}-${channel.channelId}`, 128);
      this.chatbotLogGroup(name, configurationName, args, tags);
      const config = new aws.chatbot.SlackChannelConfiguration(
        `${name}-slack-${channel.workspaceId}-${channel.channelId}`,
        { configurationName, slackTeamId: channel.workspaceId, slackChannelId: channel.channelId, ...common(severities) },
        { parent: this, dependsOn: [attachment] },
      );
      out[`slack/${slackChannelKey(channel)}`] = config.configurationName;
    }
    for (const { channel, severities } of teams.values()) {
      const key = teamsChannelKey(channel);
      const configurationName = physicalName(`${name}-teams-${shortHash(key)}`, 128);
      this.chatbotLogGroup(name, configurationName, args, tags);
      const config = new aws.chatbot.TeamsChannelConfiguration(
        `${name}-teams-${shortHash(key)}`,
        { configurationName, teamId: channel.teamId, tenantId: channel.tenantId, channelId: channel.channelId, ...common(severities) },
        { parent: this, dependsOn: [attachment] },
      );
      out[`teams/${key}`] = config.configurationName;
    }
    return out;
  }

  /**
   * The log group Chatbot writes a configuration's delivery errors to, `/aws/chatbot/<configuration>` in
   * us-east-1, created first with the regime's retention: Chatbot would create it never expiring.
   */
  private chatbotLogGroup(name: string, configurationName: string, args: AlertRoutingArgs, tags: Record<string, string>): void {
    new aws.cloudwatch.LogGroup(
      `${name}-chatbot-log-${configurationName}`,
      { name: ownLogGroupName("chatbot", configurationName), region: CHATBOT_LOG_REGION, retentionInDays: args.logRetentionDays ?? 30, tags },
      { parent: this },
    );
  }
}

/** Where AWS Chatbot writes its logs, whatever region manages the configuration (AWS CDK aws-chatbot README, "Log Group"). */
export const CHATBOT_LOG_REGION = "us-east-1";

/**
 * What a chat channel's role may do: describe the alarms whose names start with `alarmNamePrefix` and
 * that carry the tag `Regime: <regime>` (every alarm the regime creates does), and read the metrics
 * behind them to draw the alarm's chart (GetMetricWidgetImage, GetMetricData, GetMetricStatistics,
 * ListMetrics, DescribeAlarmsForMetric: the Service Authorization Reference lists no resource type
 * they could be narrowed to, so `*`). Nothing can be changed, and nothing outside CloudWatch is readable.
 *
 * The name prefix alone cannot tell regimes apart: `prod-*` also matches the alarms of a regime
 * `prod-eu` in the same account. DescribeAlarms and DescribeAlarmHistory act on the `alarm` resource
 * type, which takes the condition key `aws:ResourceTag/${TagKey}` (Service Authorization Reference,
 * "Actions, resources, and condition keys for Amazon CloudWatch"), so the tag condition narrows the
 * grant to this regime's alarms. Without `regime` (a component used outside a regime) the prefix alone
 * applies. DescribeAlarms returns composite alarms only to a grant on `*` (CloudWatch API Reference,
 * DescribeAlarms): the channels show the composite's children, not the composite.
 */
export function chatReadOnlyStatements(region: pulumi.Input<string>, account: pulumi.Input<string>, alarmNamePrefix: string, regime?: string): IamStatement[] {
  if (IAM_WILDCARD.test(alarmNamePrefix)) throw new Error(`alarmNamePrefix: "${alarmNamePrefix}" must not hold * or ?`);
  if (regime !== undefined && IAM_WILDCARD.test(regime)) throw new Error(`regime: "${regime}" must not hold * or ?`);
  return [
    {
      Sid: "DescribeTheRegimesAlarms",
      Effect: "Allow",
      Action: ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
      Resource: [pulumi.all([region, account]).apply(([reg, acct]) => alarmArn(reg, acct, `${alarmNamePrefix}*`))],
      ...(regime !== undefined ? { Condition: { StringEquals: { [`aws:ResourceTag/${REGIME_TAG}`]: regime } } } : {}),
    },
    { Sid: "ChartTheirMetrics", Effect: "Allow", Action: [...CHAT_METRIC_READ_ACTIONS], Resource: ["*"] },
  ];
}

/**
 * Regions whose endpoint serves the AWS Chatbot API (AWS General Reference, "AWS Chatbot endpoints and
 * quotas": us-east-2, us-west-2, eu-west-1, ap-southeast-1). Configurations are global: they are
 * managed through one of these and subscribe to topics of any region.
 */
export const CHATBOT_API_REGIONS = ["us-east-2", "us-west-2", "eu-west-1", "ap-southeast-1"] as const;

/** The region to manage chat configurations through: the stack's when Chatbot answers there, else us-east-2 (where its console lives). */
export function chatbotApiRegion(stackRegion: string): string {
  return (CHATBOT_API_REGIONS as readonly string[]).includes(stackRegion) ? stackRegion : "us-east-2";
}

/** Metric reads a chat channel needs to draw an alarm's chart; AWS authorises them only on `*`. */
export const CHAT_METRIC_READ_ACTIONS = [
  "cloudwatch:GetMetricWidgetImage",
  "cloudwatch:GetMetricData",
  "cloudwatch:GetMetricStatistics",
  "cloudwatch:ListMetrics",
  "cloudwatch:DescribeAlarmsForMetric",
] as const;
