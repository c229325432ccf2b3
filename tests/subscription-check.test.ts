/**
 * The overdue watcher's subscription check against an SNS endpoint speaking the SDK's Query protocol
 * (tests/helpers/sns.ts): what each severity's topic really has after deploy, the log line naming
 * what is pending, opted out or missing, and `Unreachable` sent for a severity none of whose
 * subscriptions delivers, never for one that is heard.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startCloudWatch, watchJobs, type TestCloudWatch } from "./helpers/cloudwatch";
import { captureEmf, captureJsonLines } from "./helpers/emf";
import { startSns, type TestSns } from "./helpers/sns";

const arn = (sev: string) => `arn:aws:sns:us-east-1:123456789012:rt-alerts-${sev}`;
const sub = (sev: string, n: number) => `${arn(sev)}:0000000${n}-0000-4000-8000-000000000000`;

/** A reminder watched from yesterday: on time, so the run is about the topics only. */
const onTime = {
  job: "reminder/access-review",
  expression: "cron(0 9 1 * ? *)",
  timezone: "UTC",
  toleranceSeconds: 3600,
  history: { scheduleGroup: "rt-reminders-access-review", lookbackSeconds: 40 * 86400 },
  since: "2027-03-10T00:00:00Z",
};
const AT = "2027-03-11T12:00:00Z";

const topicsSetting = (declared: Record<string, string[]>) => JSON.stringify(Object.entries(declared).map(([severity, d]) => ({ severity, topicArn: arn(severity), declared: d })));

let cw: TestCloudWatch;
let sns: TestSns;
beforeAll(async () => {
  cw = await startCloudWatch();
  sns = await startSns(2);
});
afterAll(async () => {
  await cw?.stop();
  await sns?.stop();
});
beforeEach(() => {
  sns.topics.clear();
  sns.requests.length = 0;
  sns.sms.sandbox = false;
  sns.sms.sandboxNumbers = [];
  sns.sms.optedOut.clear();
});

/** The JSON lines `run` writes to stdout (metrics, info) and stderr (warnings). */
async function captureLines(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const write = process.stderr.write.bind(process.stderr);
  const errs: string[] = [];
  process.stderr.write = ((chunk: string | Uint8Array) => (errs.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const out = await captureJsonLines(run);
    return [...out, ...errs.flatMap((l) => l.split("\n")).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>)];
  } finally {
    process.stderr.write = write;
  }
}

const watch = (declared: Record<string, string[]>) => watchJobs(cw, [onTime], AT, { ...sns.env, ALERT_TOPICS: topicsSetting(declared) });

describe("the subscription check of each watcher run", () => {
  it("reports a severity whose subscriptions are pending, opted out or gone as unreachable and sends Unreachable for it alone", async () => {
    // P0: the email never confirmed, the number replied STOP, the pager's https subscription is gone.
    sns.topics.set(arn("P0"), [
      { protocol: "email", endpoint: "oncall@example.com", subscriptionArn: "PendingConfirmation" },
      { protocol: "sms", endpoint: "+15555550100", subscriptionArn: sub("P0", 1) },
    ]);
    sns.sms.optedOut.add("+15555550100");
    // P1: one confirmed email behind two pages of pending ones (2 a page): heard only if every page is read.
    sns.topics.set(arn("P1"), [
      { protocol: "email", endpoint: "a@example.com", subscriptionArn: "PendingConfirmation" },
      { protocol: "email", endpoint: "b@example.com", subscriptionArn: "PendingConfirmation" },
      { protocol: "email", endpoint: "c@example.com", subscriptionArn: "Deleted" },
      { protocol: "email", endpoint: "d@example.com", subscriptionArn: "PendingConfirmation" },
      { protocol: "email", endpoint: "oncall@example.com", subscriptionArn: sub("P1", 1) },
    ]);
    const declared = { P0: ["email oncall@example.com", "sms +15555550100", "https events.pagerduty.com"], P1: ["email oncall@example.com"] };
    let result: Awaited<ReturnType<typeof watch>> | undefined;
    const lines = await captureLines(async () => {
      result = await watchJobs(cw, [onTime], AT, { ...sns.env, ALERT_TOPICS: topicsSetting(declared), LOG_LEVEL: "INFO" });
    });
    expect(result!.delivery).toEqual([
      {
        severity: "P0",
        topicArn: arn("P0"),
        delivering: [],
        notDelivering: ["email oncall@example.com (pending confirmation)", "sms +15555550100 (opted out)"],
        missing: ["https events.pagerduty.com"],
        unreachable: true,
      },
      {
        severity: "P1",
        topicArn: arn("P1"),
        delivering: ["email oncall@example.com"],
        notDelivering: ["email a@example.com (pending confirmation)", "email b@example.com (pending confirmation)", "email c@example.com (deleted)", "email d@example.com (pending confirmation)"],
        missing: [],
        unreachable: false,
      },
    ]);
    // Every page of P1 was read (5 subscriptions, 2 a page).
    expect(sns.requests.filter((r) => r.Action === "ListSubscriptionsByTopic" && r.TopicArn === arn("P1")).map((r) => r.NextToken ?? "")).toEqual(["", "2", "4"]);
    // One line per severity, naming what is pending, opted out and missing.
    const messages = lines.map((l) => String(l.message ?? ""));
    expect(messages).toContain(
      "P0 pages reach nobody; not delivering: email oncall@example.com (pending confirmation), sms +15555550100 (opted out); missing (declared, not subscribed: unconfirmed after 48 h or unsubscribed): https events.pagerduty.com",
    );
    expect(messages.filter((m) => m.startsWith("P1 pages reach 1 subscription (email oncall@example.com)"))).toHaveLength(1);
    // The metric: sent for P0 only, with the dimensions its alarm reads.
    const emf = lines.filter((l) => "_aws" in l && "Unreachable" in l);
    expect(emf.map((l) => [l.Severity, l.Unreachable, l.Task, l.service])).toEqual([["P0", 1, "overdue-watch", "rt"]]);
  });

  it("an SMS number in an account whose SMS is in the sandbox delivers only once verified", async () => {
    sns.topics.set(arn("P2"), [{ protocol: "sms", endpoint: "+15555550102", subscriptionArn: sub("P2", 1) }]);
    sns.topics.set(arn("P3"), [{ protocol: "sms", endpoint: "+15555550103", subscriptionArn: sub("P3", 1) }]);
    sns.sms.sandbox = true;
    // Three sandbox numbers, 2 a page: the verified one is on the second page.
    sns.sms.sandboxNumbers = [
      { phoneNumber: "+15555550102", status: "Pending" },
      { phoneNumber: "+15555550199", status: "Verified" },
      { phoneNumber: "+15555550103", status: "Verified" },
    ];
    const declared = { P2: ["sms +15555550102"], P3: ["sms +15555550103"] };
    const emf = await captureEmf(async () => {
      const r = await watch(declared);
      expect(r.delivery!.map((d) => [d.severity, d.delivering, d.notDelivering, d.unreachable])).toEqual([
        ["P2", [], ["sms +15555550102 (not a verified sandbox number)"], true],
        ["P3", ["sms +15555550103"], [], false],
      ]);
    });
    expect(emf.filter((l) => "Unreachable" in l).map((l) => [l.Severity, l.Unreachable])).toEqual([["P2", 1]]);
    // Out of the sandbox the same number delivers, and nothing is sent.
    sns.sms.sandbox = false;
    const after = await captureEmf(async () => {
      expect((await watch(declared)).delivery!.every((d) => !d.unreachable)).toBe(true);
    });
    expect(after.filter((l) => "Unreachable" in l)).toEqual([]);
    expect(sns.requests.filter((r) => r.Action === "ListSMSSandboxPhoneNumbers")).toHaveLength(2);
  });

  it("a topic deleted outside the program is unreachable, and its declared subscribers are named missing", async () => {
    sns.topics.set(arn("P1"), [{ protocol: "https", endpoint: "https://events.pagerduty.com/integration/KEY/enqueue", subscriptionArn: sub("P1", 2) }]);
    const r = await watch({ P0: ["email oncall@example.com"], P1: ["https events.pagerduty.com"] });
    expect(r.delivery).toEqual([
      { severity: "P0", topicArn: arn("P0"), topicGone: true, delivering: [], notDelivering: [], missing: ["email oncall@example.com"], unreachable: true },
      // An https endpoint is named by its host: its path may hold a key.
      { severity: "P1", topicArn: arn("P1"), delivering: ["https events.pagerduty.com"], notDelivering: [], missing: [], unreachable: false },
    ]);
    // No SMS subscription: the SMS settings are not read.
    expect(sns.requests.map((q) => q.Action)).toEqual(["ListSubscriptionsByTopic", "ListSubscriptionsByTopic"]);
  });

  it("refuses a malformed ALERT_TOPICS naming the setting", async () => {
    await expect(watchJobs(cw, [onTime], AT, { ...sns.env, ALERT_TOPICS: JSON.stringify([{ severity: "P9", topicArn: arn("P0"), declared: [] }]) })).rejects.toThrow(/invalid setting ALERT_TOPICS: 0\.severity/);
  });
});
