/**
 * What a task's requests to the backup vault amount to: `vaultDecision`, the IAM simulator's verdict
 * (@cloud-copilot/iam-simulate) on one request of a role under its own policy and the vault's bucket
 * policy; and `startRecordingProxy`, an HTTP proxy on 127.0.0.1 in front of the S3-compatible server
 * that records each request (and can answer as S3 answers a conditional write to an existing key).
 */
import { runSimulation, type Simulation } from "@cloud-copilot/iam-simulate";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

const ACCOUNT = "123456789012";
export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

/**
 * The decision on `action` by a role with identity policy `policy` on object `key` of the bucket
 * (`key` undefined: the bucket itself, as s3:ListBucket is authorised), with the bucket's policy and
 * the request's context keys (aws:SecureTransport true unless given).
 */
export async function vaultDecision(policy: unknown, bucketPolicy: unknown, bucketArn: string, action: string, key: string | undefined, context: Record<string, string>): Promise<Decision> {
  const simulation: Simulation = {
    identityPolicies: [{ name: "task", policy: policy as Simulation["identityPolicies"][number]["policy"] }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: bucketPolicy as Simulation["resourcePolicy"],
    request: {
      action,
      principal: `arn:aws:iam::${ACCOUNT}:role/task`,
      resource: { accountId: ACCOUNT, resource: key === undefined ? bucketArn : `${bucketArn}/${key}` },
      contextVariables: { "aws:SecureTransport": "true", ...context },
    },
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === "error") throw new Error(JSON.stringify(result.errors));
  return result.overallResult as Decision;
}

export interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}
/**
 * An HTTP proxy on 127.0.0.1 in front of `port` that records each request's method, path and headers.
 * A request `refuse` picks is answered as S3 answers a conditional write to an existing key: 412
 * PreconditionFailed (s3rver does not do that itself).
 */
export async function startRecordingProxy(port: number): Promise<{ url: string; requests: Recorded[]; refuse: { when?: (r: Recorded) => boolean }; close: () => Promise<void> }> {
  const requests: Recorded[] = [];
  const refuse: { when?: (r: Recorded) => boolean } = {};
  const server = http.createServer((req, res) => {
    const recorded = { method: req.method!, path: req.url!, headers: req.headers };
    requests.push(recorded);
    if (refuse.when?.(recorded)) {
      req.resume();
      res.writeHead(412, { "content-type": "application/xml" });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>');
      return;
    }
    const headers = { ...req.headers };
    delete headers.expect; // the proxy already answered 100-continue to the client
    const upstream = http.request({ host: "127.0.0.1", port, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    upstream.on("error", (err) => res.destroy(err));
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    refuse,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

