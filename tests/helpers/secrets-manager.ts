/**
 * A Secrets Manager stand-in on 127.0.0.1 that answers GetSecretValue from a table, as the AWS SDK
 * reaches it through AWS_ENDPOINT_URL_SECRETS_MANAGER; it records each call with the signing scope
 * (region/service) of its request.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface SecretsManagerCall {
  target: string;
  secretId: string;
  /** `<region>/<service>` of the request's SigV4 credential scope, or "unsigned". */
  scope: string;
}

export interface SecretsManagerStandIn {
  url: string;
  calls: SecretsManagerCall[];
  close(): Promise<void>;
}

export async function startSecretsManager(secrets: Record<string, string>): Promise<SecretsManagerStandIn> {
  const calls: SecretsManagerCall[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as { SecretId?: string };
      const scope = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/.exec(String(req.headers.authorization))?.slice(1).join("/") ?? "unsigned";
      calls.push({ target: String(req.headers["x-amz-target"]), secretId: body.SecretId ?? "", scope });
      res.setHeader("content-type", "application/x-amz-json-1.1");
      const value = body.SecretId ? secrets[body.SecretId] : undefined;
      if (req.headers["x-amz-target"] !== "secretsmanager.GetSecretValue" || value === undefined) {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." }));
        return;
      }
      res.end(JSON.stringify({ ARN: body.SecretId, Name: body.SecretId!.split(":").at(-1), SecretString: value, VersionId: "v1", VersionStages: ["AWSCURRENT"], CreatedDate: 1.7e9 }));
    });
  });
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
  return { url: `http://127.0.0.1:${port}`, calls, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * Sets these variables in this process (the SDK reads its endpoint and credentials there) and unsets
 * the session token and profile; returns what puts the environment back.
 */
export function setSdkEnv(env: Record<string, string>): () => void {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  for (const k of ["AWS_SESSION_TOKEN", "AWS_PROFILE"]) {
    saved[k] = process.env[k];
    delete process.env[k];
  }
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
