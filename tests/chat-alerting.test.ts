/**
 * Chat channels through AWS Chatbot under Pulumi's mocks: one channel configuration per channel with
 * the topics of every severity that lists it, one role that can only read alarms (checked with the IAM
 * policy simulator @cloud-copilot/iam-simulate), that role's policy as the guardrail; and the config
 * refusals: a chat service's webhook in `https`, ids of the wrong shape.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { expectLeastPrivilege, statementsOf } from "./helpers/iam";
import { MOCK_ACCOUNT, MOCK_REGION, setupMocks, waitFor, type MockResource } from "./helpers/pulumi-mocks";

const { resources } = setupMocks();

const SLACK_OPS = { workspaceId: "T07EA123LEP", channelId: "C07EZ1ABC23" };
const SLACK_DBA = { workspaceId: "T07EA123LEP", channelId: "G01PRIVATE9" };
const TEAMS = { teamId: "74361522-da01-538d-aa2e-ac7918c6bb92", channelId: "19:b6ef35dc342d56ba5654e6fc6d25a071@thread.tacv2", tenantId: "0b5a8f2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b" };
const TOPIC = (sev: string) => `arn:aws:sns:${MOCK_REGION}:${MOCK_ACCOUNT}:${sev}`;

const ofType = (type: string): MockResource[] => resources.filter((r) => r.type === type && r.name.startsWith("shop-alerts"));
let chatConfigurationNames: Record<string, string>;

beforeAll(async () => {
  const { AlertRouting } = await import("../components/alerting");
  const alerts = new AlertRouting("shop-alerts", {
    alarmNamePrefix: "shop-",
    // As the regime tags every resource, its alarms included (components/regime.ts).
    tags: { Regime: "shop" },
    channels: {
      P0: { slack: [SLACK_OPS, SLACK_DBA], teams: [TEAMS] },
      P1: { slack: [SLACK_OPS], email: ["ops@example.com"] },
      P3: { teams: [TEAMS] },
    },
  });
  chatConfigurationNames = await waitFor(
    (await import("@pulumi/pulumi")).all(alerts.chatConfigurationNames) as import("@pulumi/pulumi").Output<Record<string, string>>,
  );
  // Settle every policy and configuration input.
  await new Promise((r) => setTimeout(r, 50));
});

describe("Slack and Teams channels through AWS Chatbot", () => {
  it("one configuration per channel, subscribed to the topic of every severity that lists it", () => {
    const slack = ofType("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration");
    const teams = ofType("aws:chatbot/teamsChannelConfiguration:TeamsChannelConfiguration");
    expect(slack).toHaveLength(2);
    expect(teams).toHaveLength(1);
    const ops = slack.find((s) => s.inputs.slackChannelId === SLACK_OPS.channelId)!;
    // The stack is in us-east-1, where Chatbot's API does not answer: managed through us-east-2, topics stay where they are.
    expect(ops.inputs).toMatchObject({ slackTeamId: "T07EA123LEP", snsTopicArns: [TOPIC("shop-alerts-P0"), TOPIC("shop-alerts-P1")], loggingLevel: "ERROR", region: "us-east-2" });
    const dba = slack.find((s) => s.inputs.slackChannelId === SLACK_DBA.channelId)!;
    expect(dba.inputs.snsTopicArns).toEqual([TOPIC("shop-alerts-P0")]);
    expect(teams[0].inputs).toMatchObject({ teamId: TEAMS.teamId, tenantId: TEAMS.tenantId, channelId: TEAMS.channelId, snsTopicArns: [TOPIC("shop-alerts-P0"), TOPIC("shop-alerts-P3")] });
    // Configuration names are Chatbot's [A-Za-z0-9-_]{1,128} and stable per channel.
    for (const c of [...slack, ...teams]) expect(c.inputs.configurationName).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    expect(ops.inputs.configurationName).toContain("C07EZ1ABC23");
    expect(Object.keys(chatConfigurationNames).sort()).toEqual([
      "slack/T07EA123LEP/C07EZ1ABC23",
      "slack/T07EA123LEP/G01PRIVATE9",
      `teams/${TEAMS.tenantId}/${TEAMS.teamId}/${TEAMS.channelId}`,
    ]);
    // Email still goes through SNS; chat channels are not SNS subscriptions the regime makes.
    expect(ofType("aws:sns/topicSubscription:TopicSubscription").map((s) => s.inputs.protocol)).toEqual(["email"]);
  });

  it("Chatbot's log group of each configuration exists first in us-east-1, with retention (Chatbot would create it never expiring)", () => {
    const configs = [...ofType("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration"), ...ofType("aws:chatbot/teamsChannelConfiguration:TeamsChannelConfiguration")];
    const groups = ofType("aws:cloudwatch/logGroup:LogGroup").map((g) => g.inputs);
    expect(groups.map((g) => g.name).sort()).toEqual(configs.map((c) => `/aws/chatbot/${c.inputs.configurationName}`).sort());
    for (const g of groups) expect(g).toMatchObject({ region: "us-east-1", retentionInDays: 30 });
  });

  it("every configuration assumes one role trusted by chatbot.amazonaws.com, with the read-only policy also as its guardrail", () => {
    const role = ofType("aws:iam/role:Role");
    expect(role).toHaveLength(1);
    expect(JSON.parse(role[0].inputs.assumeRolePolicy).Statement).toEqual([{ Effect: "Allow", Principal: { Service: "chatbot.amazonaws.com" }, Action: "sts:AssumeRole" }]);
    const policy = ofType("aws:iam/policy:Policy");
    expect(policy).toHaveLength(1);
    const policyArn = `arn:aws:iam::${MOCK_ACCOUNT}:policy/${policy[0].inputs.name}`;
    expect(ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").map((a) => a.inputs)).toEqual([{ role: role[0].inputs.name, policyArn }]);
    const roleArn = `arn:aws:iam::${MOCK_ACCOUNT}:role/${role[0].inputs.name}`;
    for (const c of [...ofType("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration"), ...ofType("aws:chatbot/teamsChannelConfiguration:TeamsChannelConfiguration")]) {
      expect(c.inputs.iamRoleArn).toBe(roleArn);
      // Without a guardrail Chatbot applies AdministratorAccess to what channel members may run.
      expect(c.inputs.guardrailPolicyArns).toEqual([policyArn]);
    }
  });

  describe("the role's policy in the IAM policy simulator", () => {
    let policy: unknown;
    beforeAll(() => {
      policy = JSON.parse(ofType("aws:iam/policy:Policy")[0].inputs.policy);
    });
    // An alarm carries its regime's tag: the request context of an action on it holds aws:ResourceTag/Regime.
    const regimeOf = (resource: string): Record<string, string> => {
      const m = /:alarm:(shop-eu|shop|billing)-/.exec(resource);
      return m ? { "aws:ResourceTag/Regime": m[1] } : {};
    };
    const decide = async (action: string, resource: string, contextVariables: Record<string, string> = regimeOf(resource)) => {
      const r = await runSimulation(
        {
          request: { principal: `arn:aws:sts::${MOCK_ACCOUNT}:assumed-role/shop-alerts-chatbot/chatbot`, action, resource: { resource, accountId: MOCK_ACCOUNT }, contextVariables },
          identityPolicies: [{ name: "chat", policy: policy as never }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
      if (r.resultType === "error") throw new Error(JSON.stringify(r.errors));
      return r.overallResult;
    };
    const alarm = (name: string) => `arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:${name}`;

    it("grants on * only metric reads that have no resource type to narrow them to (iam-data, the Service Authorization Reference)", async () => {
      const { CHAT_METRIC_READ_ACTIONS } = await import("../components/alerting");
      const file = join(__dirname, "..", "node_modules", "@cloud-copilot", "iam-data", "data", "actions", "cloudwatch.json");
      const actions = JSON.parse(readFileSync(file, "utf8")) as Record<string, { resourceTypes?: { name: string; required?: boolean }[]; accessLevel: string }>;
      for (const a of CHAT_METRIC_READ_ACTIONS) {
        const spec = actions[a.split(":")[1].toLowerCase()];
        expect(spec, a).toBeDefined();
        expect(spec!.accessLevel, a).toMatch(/^(Read|List)$/);
        expect((spec!.resourceTypes ?? []).filter((t) => t.required), a).toEqual([]);
      }
      const star = statementsOf(policy).filter((s) => (s.Resource as string[]).includes("*"));
      expect(star.flatMap((s) => s.Action)).toEqual([...CHAT_METRIC_READ_ACTIONS]);
    });

    it("is least privilege by the checks every role of the program passes", () => {
      expectLeastPrivilege(policy, "chat role");
      expect(statementsOf(policy).flatMap((s) => s.Action)).not.toContain("cloudwatch:Get*");
    });

    it("reads the regime's alarms and charts their metrics", async () => {
      expect(await decide("cloudwatch:DescribeAlarms", alarm("shop-db-app-backup-errors-P1"))).toBe("Allowed");
      expect(await decide("cloudwatch:DescribeAlarmHistory", alarm("shop-db-app-backup-errors-P1"))).toBe("Allowed");
      expect(await decide("cloudwatch:GetMetricWidgetImage", "*")).toBe("Allowed");
      expect(await decide("cloudwatch:GetMetricData", "*")).toBe("Allowed");
    });

    it("cannot describe the alarms of a regime whose name starts with its own (shop-eu's shop-eu-db-app-backup-errors-P1), nor an untagged alarm named like its own", async () => {
      expect(await decide("cloudwatch:DescribeAlarms", alarm("shop-eu-db-app-backup-errors-P1"))).toBe("ImplicitlyDenied");
      expect(await decide("cloudwatch:DescribeAlarmHistory", alarm("shop-eu-db-app-backup-errors-P1"))).toBe("ImplicitlyDenied");
      expect(await decide("cloudwatch:DescribeAlarms", alarm("shop-db-app-backup-errors-P1"), {})).toBe("ImplicitlyDenied");
      expect(statementsOf(policy).find((s) => s.Sid === "DescribeTheRegimesAlarms")!.Condition).toEqual({ StringEquals: { "aws:ResourceTag/Regime": "shop" } });
    });

    it.each([
      ["cloudwatch:DeleteAlarms", alarm("shop-db-app-backup-errors-P1")],
      ["cloudwatch:PutMetricAlarm", alarm("shop-db-app-backup-errors-P1")],
      ["cloudwatch:DisableAlarmActions", alarm("shop-db-app-backup-errors-P1")],
      ["cloudwatch:SetAlarmState", alarm("shop-db-app-backup-errors-P1")],
      ["cloudwatch:DescribeAlarms", alarm("billing-total-P0")],
      ["cloudwatch:GetDashboard", `arn:aws:cloudwatch::${MOCK_ACCOUNT}:dashboard/shop`],
      ["ssm:GetParameter", `arn:aws:ssm:${MOCK_REGION}:${MOCK_ACCOUNT}:parameter/db-password`],
      ["ssm:SendCommand", `arn:aws:ec2:${MOCK_REGION}:${MOCK_ACCOUNT}:instance/i-0123456789abcdef0`],
      ["s3:GetObject", "arn:aws:s3:::shop-backups/daily/app/x.dump"],
      ["logs:GetLogEvents", `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:/shop/app:log-stream:x`],
      ["secretsmanager:GetSecretValue", `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:db-AbCdEf`],
      ["lambda:InvokeFunction", `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:shop-backup`],
    ])("refuses %s on %s", async (action, resource) => {
      expect(await decide(action, resource)).toBe("ImplicitlyDenied");
    });
  });

  it("manages configurations through the stack's region where Chatbot's API answers there, else us-east-2", async () => {
    const { chatbotApiRegion } = await import("../components/alerting");
    expect(["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"].map(chatbotApiRegion)).toEqual(["us-east-2", "us-west-2", "eu-west-1", "us-east-2", "ap-southeast-1"]);
  });

  it("a regime without chat channels has no Chatbot role or configuration", async () => {
    const { AlertRouting } = await import("../components/alerting");
    const before = resources.length;
    const bare = new AlertRouting("bare-alerts", { channels: { P0: { email: ["a@example.com"] } } });
    expect(bare.chatConfigurationNames).toEqual({});
    await new Promise((r) => setTimeout(r, 20));
    const added = resources.slice(before).map((r) => r.type);
    expect(added.filter((t) => t.startsWith("aws:chatbot/") || t.startsWith("aws:iam/"))).toEqual([]);
  });
});

describe("config refusals", () => {
  const problems = async (alerting: unknown) => {
    const { regimeProblems } = await import("../regime/load");
    return regimeProblems({ name: "shop", alerting }).lines;
  };

  it.each([
    ["a Slack incoming webhook", "https://hooks.slack.com/services/T000/B000/XXXX", "P1", "alerting.P1.https[0]: is a Slack incoming webhook: SNS posts its own JSON and a subscription confirmation to an https endpoint, so no alert would ever arrive; use alerting.P1.slack: [{ workspaceId: T…, channelId: C… }] (AWS Chatbot) instead"],
    ["a Teams connector webhook", "https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456", "P0", "alerting.P0.https[0]: is a Microsoft Teams webhook: SNS posts its own JSON and a subscription confirmation to an https endpoint, so no alert would ever arrive; use alerting.P0.teams: [{ teamId, channelId, tenantId }] (AWS Chatbot) instead"],
    ["an old Teams webhook", "https://outlook.office.com/webhook/abc/IncomingWebhook/def/ghi", "P2", "alerting.P2.https[0]: is a Microsoft Teams webhook: SNS posts its own JSON and a subscription confirmation to an https endpoint, so no alert would ever arrive; use alerting.P2.teams: [{ teamId, channelId, tenantId }] (AWS Chatbot) instead"],
    ["a Discord webhook with an API version in its path", "https://discordapp.com/api/v10/webhooks/123/abc", "P3", "alerting.P3.https[0]: is a Discord webhook: SNS posts its own JSON and a subscription confirmation to an https endpoint, so no alert would ever arrive, and AWS Chatbot has no Discord; subscribe a relay that reformats the alarm for Discord (its own https URL), or use alerting.P3.slack or alerting.P3.teams instead"],
    ["a Discord webhook", "https://discord.com/api/webhooks/123/abc", "P3", "alerting.P3.https[0]: is a Discord webhook: SNS posts its own JSON and a subscription confirmation to an https endpoint, so no alert would ever arrive, and AWS Chatbot has no Discord; subscribe a relay that reformats the alarm for Discord (its own https URL), or use alerting.P3.slack or alerting.P3.teams instead"],
    ["a Google Chat webhook", "https://chat.googleapis.com/v1/spaces/AAAAxyz/messages?key=k&token=t", "P0", "alerting.P0.https[0]: is a Google Chat webhook: SNS posts its own JSON and a subscription confirmation to an https endpoint, so no alert would ever arrive, and AWS Chatbot has no Google Chat; subscribe a relay that reformats the alarm for Google Chat (its own https URL), or use alerting.P0.slack or alerting.P0.teams instead"],
    ["a Teams Workflows webhook (Logic Apps host)", "https://prod-27.westus.logic.azure.com:443/workflows/abc123/triggers/manual/paths/invoke?api-version=2016-06-01&sp=x&sv=1.0&sig=y", "P1", "alerting.P1.https[0]: is a Microsoft Teams Workflows (Power Automate) webhook: SNS posts its own JSON and a subscription confirmation to an https endpoint, so no alert would ever arrive; use alerting.P1.teams: [{ teamId, channelId, tenantId }] (AWS Chatbot) instead"],
    ["a Teams Workflows webhook (Power Platform host)", "https://default0123abcd.45.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/abc123/triggers/manual/paths/invoke?api-version=1&sig=y", "P2", "alerting.P2.https[0]: is a Microsoft Teams Workflows (Power Automate) webhook: SNS posts its own JSON and a subscription confirmation to an https endpoint, so no alert would ever arrive; use alerting.P2.teams: [{ teamId, channelId, tenantId }] (AWS Chatbot) instead"],
    ["a GovSlack incoming webhook", "https://hooks.slack-gov.com/services/T000/B000/XXXX", "P2", "alerting.P2.https[0]: is a GovSlack incoming webhook: SNS posts its own JSON and a subscription confirmation to an https endpoint, so no alert would ever arrive, and AWS Chatbot's Slack is slack.com workspaces; subscribe a relay that reformats the alarm for GovSlack (its own https URL), or use alerting.P2.email instead"],
  ])("%s in https is refused with the key to use instead, without repeating the URL", async (_label, url, sev, line) => {
    const lines = await problems({ [sev]: { https: [url] } });
    expect(lines).toEqual([line]);
    expect(lines[0]).not.toContain(new URL(url).pathname);
  });

  it("a paging service's https endpoint is still accepted, and so is a Logic App that is not a workflow trigger path", async () => {
    expect(await problems({ P0: { https: ["https://events.pagerduty.com/integration/abc/enqueue", "https://api.opsgenie.com/v1/json/cloudwatch?apiKey=x", "https://relay.westus.logic.azure.com/sns"] } })).toEqual([]);
  });

  it("every bad id is named on its own line, next to the other problems", async () => {
    const lines = await problems({
      P0: { slack: [{ workspaceId: "acme", channelId: "#ops" }], email: ["nobody"] },
      P1: { teams: [{ teamId: "not-a-guid", channelId: "general", tenantId: TEAMS.tenantId }], https: ["https://hooks.slack.com/services/a/b/c"] },
      P2: { slack: [SLACK_OPS, { ...SLACK_OPS }] },
    });
    // In the order of the keys as written: slack before email, teams before https.
    expect(lines).toEqual([
      "alerting.P0.slack[0].workspaceId: must be a Slack workspace id like T07EA123LEP (T and capital letters or digits; the AWS Chatbot console shows it once the workspace is authorised)",
      "alerting.P0.slack[0].channelId: must be a Slack channel id like C07EZ1ABC23 (C for a public channel, G for a private one; not the #name)",
      "alerting.P0.email[0]: must be an email address",
      "alerting.P1.teams[0].teamId: must be a Microsoft Teams team id, a GUID like 74361522-da01-538d-aa2e-ac7918c6bb92 (groupId in the channel's link)",
      "alerting.P1.teams[0].channelId: must be a Microsoft Teams channel id like 19:abc123@thread.tacv2 (from the channel's link)",
      expect.stringMatching(/^alerting\.P1\.https\[0\]: is a Slack incoming webhook/),
      'alerting.P2.slack[1].channelId: duplicate Slack channel "C07EZ1ABC23"',
    ]);
  });

  it("valid Slack and Teams channels parse, the Teams channel id also as copied from the link", async () => {
    const { validateRegime } = await import("../regime/load");
    const r = validateRegime({ name: "shop", alerting: { P0: { slack: [SLACK_OPS], teams: [{ ...TEAMS, channelId: "19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2" }] } } });
    expect(r.alerting.P0.slack).toEqual([SLACK_OPS]);
    expect(r.alerting.P1).toEqual({ email: [], sms: [], https: [], slack: [], teams: [] });
  });

  it("the component refuses the same webhook when called directly", async () => {
    const { AlertRouting } = await import("../components/alerting");
    expect(() => new AlertRouting("x-alerts", { channels: { P1: { https: ["https://hooks.slack.com/services/a/b/c"] } } })).toThrow(/^channels\.P1\.https\[0\]: is a Slack incoming webhook: .* use channels\.P1\.slack/);
    expect(() => new AlertRouting("x-alerts", { channels: { P1: { slack: [{ workspaceId: "T07EA123LEP", channelId: "ops" }] } } })).toThrow('channels.P1.slack[0].channelId: "ops" is not a Slack channel id (C… or G…)');
  });
});
