/**
 * An SNS endpoint on 127.0.0.1 on a free port, speaking the AWS Query protocol the SDK's SNSClient
 * uses: a form-encoded POST to `/` (`Action=<Operation>&Version=2010-03-31&...`), answered with XML
 * `<Operation>Response><Operation>Result>...` in the namespace http://sns.amazonaws.com/doc/2010-03-31/,
 * lists as `<member>` elements; an error is `<ErrorResponse><Error><Type/><Code/><Message/></Error>`
 * with its HTTP status. It serves what the subscription check reads: ListSubscriptionsByTopic (at
 * most `pageSize` a page, NextToken after), GetSMSSandboxAccountStatus, ListSMSSandboxPhoneNumbers
 * (paged the same way) and CheckIfPhoneNumberIsOptedOut; a topic it does not hold is NotFound (404).
 * Every request is kept (its parsed form) for assertions. AWS_ENDPOINT_URL_SNS points the SDK at it.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface SnsSubscription {
  protocol: string;
  endpoint: string;
  /** A subscription ARN, or "PendingConfirmation" / "Deleted". */
  subscriptionArn: string;
}

export interface TestSns {
  endpoint: string;
  env: Record<string, string>;
  /** Topic ARN -> its subscriptions; a topic absent here does not exist. */
  topics: Map<string, SnsSubscription[]>;
  sms: { sandbox: boolean; sandboxNumbers: { phoneNumber: string; status: "Pending" | "Verified" }[]; optedOut: Set<string> };
  /** Parsed form of each request received, in order. */
  requests: Record<string, string>[];
  stop(): Promise<void>;
}

const NS = "http://sns.amazonaws.com/doc/2010-03-31/";
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function answer(action: string, inner: string): string {
  return `<?xml version="1.0"?><${action}Response xmlns="${NS}"><${action}Result>${inner}</${action}Result><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></${action}Response>`;
}

function error(code: string, message: string): string {
  return `<?xml version="1.0"?><ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${esc(message)}</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`;
}

/** One page of `items` from the offset a NextToken carries. */
function page<T>(items: T[], token: string | undefined, size: number): { items: T[]; next?: string } {
  const from = token ? Number(token) : 0;
  return { items: items.slice(from, from + size), ...(from + size < items.length ? { next: String(from + size) } : {}) };
}

export async function startSns(pageSize = 100): Promise<TestSns> {
  const topics = new Map<string, SnsSubscription[]>();
  const sms: TestSns["sms"] = { sandbox: false, sandboxNumbers: [], optedOut: new Set() };
  const requests: Record<string, string>[] = [];
  const reply = (form: Record<string, string>): { status: number; xml: string } => {
    switch (form.Action) {
      case "ListSubscriptionsByTopic": {
        const subs = topics.get(form.TopicArn);
        if (!subs) return { status: 404, xml: error("NotFound", "Topic does not exist") };
        const p = page(subs, form.NextToken, pageSize);
        const members = p.items
          .map((s) => `<member><TopicArn>${esc(form.TopicArn)}</TopicArn><Protocol>${s.protocol}</Protocol><SubscriptionArn>${esc(s.subscriptionArn)}</SubscriptionArn><Owner>123456789012</Owner><Endpoint>${esc(s.endpoint)}</Endpoint></member>`)
          .join("");
        return { status: 200, xml: answer(form.Action, `<Subscriptions>${members}</Subscriptions>${p.next ? `<NextToken>${p.next}</NextToken>` : ""}`) };
      }
      case "GetSMSSandboxAccountStatus":
        return { status: 200, xml: answer(form.Action, `<IsInSandbox>${sms.sandbox}</IsInSandbox>`) };
      case "ListSMSSandboxPhoneNumbers": {
        const p = page(sms.sandboxNumbers, form.NextToken, pageSize);
        const members = p.items.map((n) => `<member><PhoneNumber>${esc(n.phoneNumber)}</PhoneNumber><Status>${n.status}</Status></member>`).join("");
        return { status: 200, xml: answer(form.Action, `<PhoneNumbers>${members}</PhoneNumbers>${p.next ? `<NextToken>${p.next}</NextToken>` : ""}`) };
      }
      case "CheckIfPhoneNumberIsOptedOut":
        return { status: 200, xml: answer(form.Action, `<isOptedOut>${sms.optedOut.has(form.phoneNumber)}</isOptedOut>`) };
      default:
        return { status: 400, xml: error("InvalidAction", `not served here: ${form.Action}`) };
    }
  };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const form = Object.fromEntries(new URLSearchParams(body));
      requests.push(form);
      const r = req.method === "POST" && String(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded") ? reply(form) : { status: 400, xml: error("InvalidAction", `not served here: ${req.method}`) };
      res.writeHead(r.status, { "content-type": "text/xml" });
      res.end(r.xml);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    env: { AWS_ENDPOINT_URL_SNS: endpoint },
    topics,
    sms,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
