/**
 * Request headers from a Secrets Manager secret (`headersSecretArn`): the SecretString is a JSON object
 * of header name to value ({"Authorization": "Bearer ..."}), read when a run first needs it and kept
 * for the life of the process (a Lambda cold start), so values never travel in environment variables.
 * Messages never quote the secret's text.
 */
import { oneLine } from "../lib/runtime";
import { readSecretString } from "../lib/secrets";
import { headersProblem } from "./headers";

/** Header sets read from Secrets Manager in this process (a Lambda cold start), by secret ARN. */
const secretHeaders = new Map<string, Promise<Record<string, string>>>();

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
      let text: string | undefined;
      try {
        text = await readSecretString(arn, signal);
      } catch (err) {
        const name = err instanceof Error && err.name && err.name !== "Error" ? `${err.name}: ` : "";
        throw new Error(`GetSecretValue failed: ${name}${oneLine(err)}`);
      }
      return parseSecretHeaders(text);
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
