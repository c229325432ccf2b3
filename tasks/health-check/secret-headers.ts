/**
 * Request headers from a Secrets Manager secret (`headersSecretArn`): the SecretString is a JSON object
 * of header name to value ({"Authorization": "Bearer ..."}), read when a run first needs it and kept
 * for the life of the process (a Lambda cold start), so values never travel in environment variables.
 * Messages never quote the secret's text.
 */
import { oneLine } from "../lib/runtime";
import { headersProblem } from "./headers";

/** The secret's region, from its ARN. */
function secretRegion(arn: string): string {
  return arn.split(":")[3];
}

/** A Secrets Manager secret ARN, as the settings and the command line accept it. */
export const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

/** Header sets read from Secrets Manager in this process (a Lambda cold start), by secret ARN. */
const secretHeaders = new Map<string, Promise<Record<string, string>>>();
/** One Secrets Manager client per region, created when first needed. */
const secretClients = new Map<string, Promise<import("@aws-sdk/client-secrets-manager").SecretsManagerClient>>();

async function secretsClient(region: string) {
  let client = secretClients.get(region);
  if (!client) {
    // Loaded only when a secret is configured: the SDK costs nothing to the other checks.
    client = import("@aws-sdk/client-secrets-manager").then(
      (sdk) => new sdk.SecretsManagerClient({ region, maxAttempts: 2, requestHandler: { connectionTimeout: 3000, requestTimeout: 5000 } }),
    );
    secretClients.set(region, client);
  }
  return client;
}

/** Parses a SecretString into headers; the message never quotes the secret's text. */
export function parseSecretHeaders(text: string | undefined): Record<string, string> {
  if (text === undefined) throw new Error("the secret has no SecretString (binary secrets are not read)");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('SecretString is not JSON; it must be an object of header name to value, like {"Authorization": "Bearer ..."}');
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error('SecretString must be a JSON object of header name to value, like {"Authorization": "Bearer ..."}');
  }
  if (Object.keys(doc).length === 0) throw new Error("SecretString holds no headers");
  const problem = headersProblem(doc as Record<string, unknown>);
  if (problem) throw new Error(problem.message);
  return doc as Record<string, string>;
}

/**
 * The headers of a secret: fetched once per process and shared by every endpoint naming it. A failed
 * fetch is not kept, so the next run tries again.
 */
export function loadSecretHeaders(arn: string, signal?: AbortSignal): Promise<Record<string, string>> {
  let pending = secretHeaders.get(arn);
  if (!pending) {
    pending = (async () => {
      const sdk = await import("@aws-sdk/client-secrets-manager");
      const client = await secretsClient(secretRegion(arn));
      let out: import("@aws-sdk/client-secrets-manager").GetSecretValueCommandOutput;
      try {
        out = await client.send(new sdk.GetSecretValueCommand({ SecretId: arn }), { abortSignal: signal });
      } catch (err) {
        const name = err instanceof Error && err.name && err.name !== "Error" ? `${err.name}: ` : "";
        throw new Error(`GetSecretValue failed: ${name}${oneLine(err)}`);
      }
      return parseSecretHeaders(out.SecretString);
    })();
    secretHeaders.set(arn, pending);
    pending.catch(() => secretHeaders.delete(arn));
  }
  return pending;
}

/** The outcome of reading a secret's headers: the headers, or the one-line reason they cannot be used. */
export type SecretHeadersOutcome = { headers: Record<string, string> } | { error: string };

/** loadSecretHeaders as an outcome: a failed read is a reason, never a rejection. */
export function readSecretHeaders(arn: string, signal: AbortSignal): Promise<SecretHeadersOutcome> {
  return loadSecretHeaders(arn, signal).then(
    (headers) => ({ headers }),
    (err: unknown) => ({ error: oneLine(err) }),
  );
}
