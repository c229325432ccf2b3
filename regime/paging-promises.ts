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
 *
 * The config only declares subscribers; after `pulumi up` a declared one can stop delivering while
 * Pulumi's state still lists it: an email or https subscription unconfirmed after 48 hours is deleted
 * by SNS, one click on an email's unsubscribe link deletes it, an SMS number that replied STOP is
 * opted out, and one not verified while the account's SMS is in the sandbox receives nothing. So the
 * overdue watcher lists each checked severity's subscriptions every hour (tasks/lib/subscription-check.ts)
 * and, while none delivers, pages the other severities (components/subscription-watch.ts).
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
function httpsLabel(url: string, protocol = "https"): string {
  try {
    return `${protocol} ${new URL(url).host}`;
  } catch {
    return `${protocol} endpoint`;
  }
}

/**
 * How the plan and the subscription check name one subscriber: `email ops@example.com`,
 * `sms +15551234567`, `https events.pagerduty.com` (an http(s) endpoint by its host only: its path may
 * hold a token), any other protocol as `<protocol> <endpoint>` (`sqs arn:aws:sqs:...`).
 */
export function subscriberLabel(protocol: string, endpoint: string): string {
  return protocol === "https" || protocol === "http" ? httpsLabel(endpoint, protocol) : `${protocol} ${endpoint}`;
}

/** The declared subscribers of one severity by subscriberLabel (chat channels are not listed: AWS Chatbot subscribes one endpoint for all of them). */
export function declaredLabels(s: DeclaredSubscribers | undefined): string[] {
  return s ? [...s.email.map((e) => subscriberLabel("email", e)), ...s.sms.map((n) => subscriberLabel("sms", n)), ...s.https.map((u) => subscriberLabel("https", u))] : [];
}

const hasSubscriber = (s: DeclaredSubscribers | undefined): boolean => !!s && s.email.length + s.sms.length + s.https.length + s.chat.length > 0;

/**
 * The severities whose delivery the overdue watcher checks after deploy (tasks/lib/subscription-check.ts):
 * those something pages that declare a subscriber. A paged severity with none is already this
 * promise's broken line (or an accepted risk): checking it would repeat that every hour.
 */
export function checkedSeverities(pages: DeclaredPage[], subscribers: Partial<Record<Severity, DeclaredSubscribers>>): Severity[] {
  return SEVERITIES.filter((sev) => pages.some((p) => p.severity === sev) && hasSubscriber(subscribers[sev]));
}

/**
 * The severities told when `severity`'s topic has no subscription that delivers: every other severity
 * that declares a subscriber, most urgent first, so that whoever still hears something hears this.
 * Empty when no other severity has one (the alarm then only shows in the console and on the dashboard).
 */
export function unreachableNotifies(severity: Severity, subscribers: Partial<Record<Severity, DeclaredSubscribers>>): Severity[] {
  return SEVERITIES.filter((s) => s !== severity && hasSubscriber(subscribers[s]));
}

/** What the check's unreachable alarms publish to, as pages of `source` (the overdue watcher runs the check): one per checked severity and severity it notifies. */
export function unreachablePages(checked: readonly Severity[], subscribers: Partial<Record<Severity, DeclaredSubscribers>>, source: string): DeclaredPage[] {
  return checked.flatMap((sev) => unreachableNotifies(sev, subscribers).map((severity) => ({ severity, source, via: "alarm" as const })));
}

/** What the promise line says of the hourly delivery check of a severity's topic (checkedSeverities). */
function deliveryCheck(severity: Severity, subscribers: Partial<Record<Severity, DeclaredSubscribers>>): string {
  const told = unreachableNotifies(severity, subscribers);
  const who = told.length > 0 ? `its unreachable alarm pages ${told.join(", ")}` : "its unreachable alarm has no other severity with a subscriber to page";
  return `delivery checked hourly after deploy; while none delivers (unconfirmed, unsubscribed, opted out), ${who}`;
}

/**
 * The promise of each severity that `pages` holds, against its subscribers: held with the count and
 * who ("2 subscriptions (email ops@example.com, sms +15551234567)"); broken with none, or when a
 * reminder's plain-text message would reach only chat channels. `checked`: the severities whose
 * topic the overdue watcher checks hourly after deploy (checkedSeverities; a declared subscription
 * can stop delivering unseen: unconfirmed, unsubscribed, opted out); their line says who is paged
 * when none of its subscriptions delivers.
 */
export function pagingPromises(pages: DeclaredPage[], subscribers: Partial<Record<Severity, DeclaredSubscribers>>, checked: readonly Severity[] = []): PromiseResult[] {
  const out: PromiseResult[] = [];
  for (const sev of SEVERITIES) {
    const own = pages.filter((p) => p.severity === sev);
    if (own.length === 0) continue;
    const key = `alerting.${sev}`;
    const s = subscribers[sev] ?? { email: [], sms: [], https: [], chat: [] };
    const direct = declaredLabels(s);
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
      out.push({ key, promise, figure: checked.includes(sev) ? `${figure}; ${deliveryCheck(sev, subscribers)}` : figure, value: all.length, status: "held", kind: "config" });
    }
  }
  return out;
}
