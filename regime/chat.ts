/**
 * Chat channels that hear a severity: Slack channels and Microsoft Teams channels reached through AWS
 * Chatbot, which subscribes to the severity's SNS topic and turns each CloudWatch alarm notification
 * into a chat message. Their ids are checked here, and a chat service's incoming-webhook URL given as
 * an `https` subscription is recognised: SNS posts its own JSON envelope and first a subscription
 * confirmation to an HTTPS endpoint, which a chat webhook neither confirms nor shows, so nothing would
 * ever arrive.
 *
 * Id shapes (AWS Chatbot API, CreateSlackChannelConfiguration and CreateMicrosoftTeamsChannelConfiguration):
 * a Slack workspace (team) id is `T` and upper-case letters and digits (T07EA123LEP); a channel id is
 * `C` (public) or `G` (private) and the same characters (C07EZ1ABC23); the Teams team id and tenant id
 * are GUIDs; the Teams channel id is the one in the channel's link, `19:<id>@thread.tacv2` (also as
 * copied from the link, URL-encoded: `19%3a<id>%40thread.tacv2`).
 */
import { z } from "zod";

export const SLACK_WORKSPACE_ID = /^T[A-Z0-9]{6,20}$/;
export const SLACK_CHANNEL_ID = /^[CG][A-Z0-9]{6,20}$/;
export const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const TEAMS_CHANNEL_ID = /^19(:|%3[aA])[A-Za-z0-9_-]{1,200}(@|%40)thread\.(tacv2|skype)$/;

export interface SlackChannel {
  /** Slack workspace id as the AWS Chatbot console shows it after the workspace was authorised (T…). */
  workspaceId: string;
  /** Slack channel id (C… public, G… private; the channel's details show it). */
  channelId: string;
}

export interface TeamsChannel {
  /** Microsoft Teams team id (a GUID, `groupId` in the channel's link). */
  teamId: string;
  /** Teams channel id from the channel's link (19:…@thread.tacv2). */
  channelId: string;
  /** Microsoft Entra tenant id (a GUID, `tenantId` in the channel's link). */
  tenantId: string;
}

export const slackChannelSchema = z
  .object({
    workspaceId: z
      .string()
      .regex(SLACK_WORKSPACE_ID, "must be a Slack workspace id like T07EA123LEP (T and capital letters or digits; the AWS Chatbot console shows it once the workspace is authorised)")
      .describe("Slack workspace id (T…), authorised once in the AWS Chatbot console"),
    channelId: z
      .string()
      .regex(SLACK_CHANNEL_ID, "must be a Slack channel id like C07EZ1ABC23 (C for a public channel, G for a private one; not the #name)")
      .describe("Slack channel id (C… public, G… private; invite @aws to a private channel)"),
  })
  .strict();

export const teamsChannelSchema = z
  .object({
    teamId: z.string().regex(GUID, "must be a Microsoft Teams team id, a GUID like 74361522-da01-538d-aa2e-ac7918c6bb92 (groupId in the channel's link)").describe("Teams team id (GUID; groupId in the channel's link)"),
    channelId: z
      .string()
      .regex(TEAMS_CHANNEL_ID, "must be a Microsoft Teams channel id like 19:abc123@thread.tacv2 (from the channel's link)")
      .describe("Teams channel id from the channel's link (19:…@thread.tacv2)"),
    tenantId: z.string().regex(GUID, "must be a Microsoft Entra tenant id, a GUID (tenantId in the channel's link)").describe("Microsoft Entra tenant id (GUID; tenantId in the channel's link)"),
  })
  .strict();

export type ChatWebhookService = "Slack" | "GovSlack" | "Microsoft Teams" | "Microsoft Teams Workflows" | "Google Chat" | "Discord";

/**
 * The chat service whose incoming webhook `url` is, or undefined for any other URL. Known by host (and
 * path where the host serves more than webhooks): Slack `hooks.slack.com`, GovSlack
 * `hooks.slack-gov.com`, Teams connectors `*.webhook.office.com` and `outlook.office(365).com/webhook…`,
 * Teams Workflows (Power Automate, which replaces the retired connectors) `*.logic.azure.com/workflows/…`
 * and `*.environment.api.powerplatform.com/…/workflows/…`, Google Chat `chat.googleapis.com/v1/spaces/…`,
 * Discord `discord.com/api/webhooks/…`. Self-hosted chat (Mattermost, Rocket.Chat) has no host of its own
 * and is not told apart: it fails the same way, unseen here.
 */
export function chatWebhookService(url: string): ChatWebhookService | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const host = u.hostname.toLowerCase().replace(/\.$/, "");
  const path = u.pathname.toLowerCase();
  if (host === "hooks.slack.com") return "Slack";
  if (host === "hooks.slack-gov.com") return "GovSlack";
  if (host.endsWith(".logic.azure.com") && /^\/workflows\//.test(path)) return "Microsoft Teams Workflows";
  if (host.endsWith(".environment.api.powerplatform.com")) return "Microsoft Teams Workflows"; // /powerautomate/automations/direct/workflows/…
  if (host === "chat.googleapis.com" && /^\/v1\/spaces\//.test(path)) return "Google Chat";
  if (host === "webhook.office.com" || host.endsWith(".webhook.office.com")) return "Microsoft Teams";
  if ((host === "outlook.office.com" || host === "outlook.office365.com") && /^\/webhook(b2)?\//.test(path)) return "Microsoft Teams";
  if (/^(www\.|canary\.|ptb\.)?discord(app)?\.com$/.test(host) && /^\/api(\/v\d+)?\/webhooks\//.test(path)) return "Discord"; // /api/v10/webhooks/…: a versioned path, same webhook
  return undefined;
}

/**
 * Why `url` may not be an `https` subscription of severity key `at` (`alerting.P1`), or undefined. The
 * line names the key to use instead and never repeats the URL (a webhook URL is its own credential).
 */
export function chatWebhookProblem(url: string, at: string): string | undefined {
  const service = chatWebhookService(url);
  if (!service) return undefined;
  const never = "SNS posts its own JSON and a subscription confirmation to an https endpoint, so no alert would ever arrive";
  if (service === "Slack") return `is a Slack incoming webhook: ${never}; use ${at}.slack: [{ workspaceId: T…, channelId: C… }] (AWS Chatbot) instead`;
  if (service === "Microsoft Teams") return `is a Microsoft Teams webhook: ${never}; use ${at}.teams: [{ teamId, channelId, tenantId }] (AWS Chatbot) instead`;
  if (service === "Microsoft Teams Workflows") return `is a Microsoft Teams Workflows (Power Automate) webhook: ${never}; use ${at}.teams: [{ teamId, channelId, tenantId }] (AWS Chatbot) instead`;
  if (service === "GovSlack") return `is a GovSlack incoming webhook: ${never}, and AWS Chatbot's Slack is slack.com workspaces; subscribe a relay that reformats the alarm for GovSlack (its own https URL), or use ${at}.email instead`;
  if (service === "Google Chat") return `is a Google Chat webhook: ${never}, and AWS Chatbot has no Google Chat; subscribe a relay that reformats the alarm for Google Chat (its own https URL), or use ${at}.slack or ${at}.teams instead`;
  return `is a Discord webhook: ${never}, and AWS Chatbot has no Discord; subscribe a relay that reformats the alarm for Discord (its own https URL), or use ${at}.slack or ${at}.teams instead`;
}

/** One configuration per chat channel: the key two severities naming the same channel share. */
export function slackChannelKey(c: SlackChannel): string {
  return `${c.workspaceId}/${c.channelId}`;
}

export function teamsChannelKey(c: TeamsChannel): string {
  return `${c.tenantId.toLowerCase()}/${c.teamId.toLowerCase()}/${decodeURIComponent(c.channelId)}`;
}
