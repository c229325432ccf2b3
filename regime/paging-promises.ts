/**
 * "Paged within N" promises hold only if a page reaches someone: every alarm and reminder publishes to
 * its severity's SNS topic (components/alarms.ts createAlarm, components/reminders.ts), and a topic
 * without a subscription delivers to nobody. One promise per severity the regime pages, `alerting.<P>`:
 * held with the subscriptions it has, broken (refused, acceptable through acceptedRisks) with none.
 *
 * What counts as a subscriber (regime/schema.ts `alerting.<P>`): an email address, an SMS number, an
 * https endpoint (a paging service, a relay), a Slack or Teams channel through AWS Chatbot. Chatbot
 * shows what CloudWatch alarms publish only: a reminder's checklist is plain text, which it does not
 * deliver ("Event Received is not supported", components/alerting.ts), so a severity that carries
 * reminders needs an email, SMS or https subscriber. The config has no external topic and no
 * escalation from one severity to another: each topic is heard by its own subscribers or by no one.
 *
 * A severity nothing pages gets no line: its topic is still created (other stacks may publish to it),
 * but no promise of this regime depends on who hears it.
 */
import type { PromiseResult } from "./promises";
import { SEVERITIES, type Severity } from "./severity";

/** One thing that publishes to a severity's topic: an alarm (seen by chat channels too) or a plain-text message (a reminder's checklist). */
export interface DeclaredPage {
  severity: Severity;
  /** The config key behind it: `databases[app].backup.rpoHours`, `reminders[access-review]`, or a part named in words ("the overdue watcher"). */
  source: string;
  via: "alarm" | "message";
}

/** Who hears one severity, as the config lists them. */
export interface DeclaredSubscribers {
  email: string[];
  sms: string[];
  https: string[];
  /** Chat channels through AWS Chatbot: `slack <channel id>`, `teams <channel id>`. */
  chat: string[];
}

/** How many sources a line names before "and N more". */
const NAMED = 4;

const listed = (items: string[]): string => (items.length <= NAMED ? items.join(", ") : `${items.slice(0, NAMED).join(", ")} and ${items.length - NAMED} more`);

/** `https://events.pagerduty.com/...` -> `https events.pagerduty.com`: the host is who hears it; a path may hold a token. */
function httpsLabel(url: string): string {
  try {
    return `https ${new URL(url).host}`;
  } catch {
    return "https endpoint";
  }
}

/**
 * The promise of each severity that `pages` holds, against its subscribers: held with the count and
 * who ("2 subscriptions (email ops@example.com, sms +15551234567)"); broken with none, or when a
 * reminder's plain-text message would reach only chat channels.
 */
export function pagingPromises(pages: DeclaredPage[], subscribers: Partial<Record<Severity, DeclaredSubscribers>>): PromiseResult[] {
  const out: PromiseResult[] = [];
  for (const sev of SEVERITIES) {
    const own = pages.filter((p) => p.severity === sev);
    if (own.length === 0) continue;
    const key = `alerting.${sev}`;
    const s = subscribers[sev] ?? { email: [], sms: [], https: [], chat: [] };
    const direct = [...s.email.map((e) => `email ${e}`), ...s.sms.map((n) => `sms ${n}`), ...s.https.map(httpsLabel)];
    const all = [...direct, ...s.chat];
    const sources = [...new Set(own.map((p) => p.source))];
    const messages = [...new Set(own.filter((p) => p.via === "message").map((p) => p.source))];
    const promise = `${sev} pages reach someone`;
    const figure = all.length === 0 ? "no subscriber" : `${all.length} ${all.length === 1 ? "subscription" : "subscriptions"} (${listed(all)})`;
    const pagedBy = `${sev} is paged by ${sources.length} ${sources.length === 1 ? "source" : "sources"} (${listed(sources)})`;
    if (all.length === 0) {
      out.push({
        key,
        promise,
        figure,
        value: 0,
        status: "broken",
        kind: "config",
        effect: `${pagedBy} but ${key} has no subscriber: every ${sev} page goes to a topic nobody hears`,
        remedy: `add an email, sms, https, slack or teams subscriber under ${key}, or accept the risk in acceptedRisks (key ${key})`,
      });
    } else if (direct.length === 0 && messages.length > 0) {
      out.push({
        key,
        promise,
        figure: `${figure}, chat only`,
        value: 0,
        status: "broken",
        kind: "config",
        effect: `${listed(messages)} ${messages.length === 1 ? "sends its" : "send their"} checklist to ${sev} as plain text, which AWS Chatbot does not deliver, and ${key} has only chat channels: the reminder reaches nobody`,
        remedy: `add an email, sms or https subscriber under ${key}, or accept the risk in acceptedRisks (key ${key})`,
      });
    } else {
      out.push({ key, promise, figure, value: all.length, status: "held", kind: "config" });
    }
  }
  return out;
}
