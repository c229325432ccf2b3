/**
 * An AWS JSON-protocol endpoint on 127.0.0.1 on a free port, the transport of the SSM and CloudWatch
 * stand-ins: the SDK POSTs a JSON body to `/` with `X-Amz-Target: <service prefix>.<Operation>`, and
 * the answer is JSON of `application/x-amz-json-<version>`; an error is HTTP 400 with `__type` and
 * `message`. Each target in `handlers` answers its parsed request body; any other method or target is
 * `invalidAction` (HTTP 400, "not served here: POST <target>").
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** An answer: HTTP status (default 200) and the JSON body. */
export interface JsonReply {
  status?: number;
  json: unknown;
}

/** An AWS error answer: HTTP 400 with its `__type` and message. */
export function awsError(type: string, message: string): JsonReply {
  return { status: 400, json: { __type: type, message } };
}

export interface JsonProtocolServer {
  /** `http://127.0.0.1:<port>`: the AWS_ENDPOINT_URL_<SERVICE> of the SDK. */
  endpoint: string;
  stop(): Promise<void>;
}

export async function startJsonProtocolServer(opts: {
  /** AWS JSON protocol version: "1.0" (CloudWatch) or "1.1" (SSM). */
  version: "1.0" | "1.1";
  /** `__type` of the answer to a method or target not in `handlers`. */
  invalidAction: string;
  /** X-Amz-Target -> what answers its parsed request body. */
  handlers: Record<string, (body: any) => JsonReply>; // eslint-disable-line @typescript-eslint/no-explicit-any
}): Promise<JsonProtocolServer> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const handler = req.method === "POST" ? opts.handlers[target] : undefined;
      const reply = handler ? handler(JSON.parse(body)) : awsError(opts.invalidAction, `not served here: ${req.method} ${target}`);
      res.writeHead(reply.status ?? 200, { "content-type": `application/x-amz-json-${opts.version}` });
      res.end(JSON.stringify(reply.json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
