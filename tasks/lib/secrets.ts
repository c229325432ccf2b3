/**
 * Reading a Secrets Manager secret, the one way every task does it: the database targets' RDS-shape
 * secrets (tasks/lib/db.ts), the Redis password (tasks/redis-health.ts) and the endpoints' header
 * secrets (tasks/health-check/secret-headers.ts). Each caller parses the SecretString into its own
 * shape and words its own errors; the values never travel in environment variables.
 */
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

/** The secret's region: the fourth field of its ARN; undefined when the ARN has none (the SDK's default region then). */
export function secretRegion(arn: string): string | undefined {
  return arn.split(":")[3] || undefined;
}

/** One client per region for the life of the process (a Lambda cold start), created when first needed. */
const clients = new Map<string | undefined, Promise<SecretsManagerClient>>();

function clientFor(region: string | undefined): Promise<SecretsManagerClient> {
  let client = clients.get(region);
  if (!client) {
    // Loaded only when a secret is read: the SDK costs nothing to a run that reads none.
    client = import("@aws-sdk/client-secrets-manager").then(
      (sdk) => new sdk.SecretsManagerClient({ region, maxAttempts: 2, requestHandler: { connectionTimeout: 3000, requestTimeout: 5000 } }),
    );
    clients.set(region, client);
  }
  return client;
}

/**
 * The SecretString of the secret `arn` (GetSecretValue, AWSCURRENT), or undefined for a binary
 * secret. Read in the secret's own region (from the ARN), at most 2 attempts, each with a 3 s
 * connection and a 5 s request timeout; `signal` aborts the call. Nothing is cached but the client.
 * Errors: the SDK's error as it is (its `name`, e.g. ResourceNotFoundException,
 * AccessDeniedException, TimeoutError), for the caller to put in its own one-line message; it never
 * holds the secret's value.
 */
export async function readSecretString(arn: string, signal?: AbortSignal): Promise<string | undefined> {
  const [sdk, client] = await Promise.all([import("@aws-sdk/client-secrets-manager"), clientFor(secretRegion(arn))]);
  const out = await client.send(new sdk.GetSecretValueCommand({ SecretId: arn }), { abortSignal: signal });
  return out.SecretString;
}
