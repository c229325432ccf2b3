/**
 * A State Manager association's run history, for the overdue watcher: the association runs no code
 * of the regime's own (it runs an SSM document on the hosts), writes no run marker and publishes no
 * metric when it does not run, so its last run is what State Manager itself records.
 *
 * Read with SSM DescribeAssociation by AssociationId (AWS Systems Manager API reference,
 * "DescribeAssociation": `AssociationDescription.LastExecutionDate`, "the date on which the
 * association was last run"; `Date`, "the date when the association was made"). IAM authorises the
 * call on the association's ARN, `arn:aws:ssm:<region>:<account>:association/<id>` (Service
 * Authorization Reference, "Actions, resources, and condition keys for AWS Systems Manager").
 */
import { DescribeAssociationCommand, SSMClient } from "@aws-sdk/client-ssm";
import { taskClientConfig } from "./s3";

/**
 * The SSM client of a task: region and credentials as s3Client takes them, and
 * AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL (passed explicitly so a value given on the command line
 * counts too) for a local server.
 */
export function ssmClient(env: Record<string, string | undefined>): SSMClient {
  return new SSMClient(taskClientConfig(env, "SSM"));
}

/** What the watcher needs of an association: when it last ran (undefined: never) and when it was made; `gone` when it no longer exists. */
export type AssociationRuns = { gone: true } | { gone?: undefined; lastExecution?: Date; created: Date };

/**
 * The last run and the creation date of association `associationId`.
 *
 * The last run is `LastExecutionDate`, whatever the run's outcome, not `LastSuccessfulExecutionDate`:
 * the watcher's question is "did State Manager stop running it" (schedule deleted, targets gone,
 * agents dead). A run that fails already pages within minutes through the association-failure alarm
 * (components/association-failures.ts); judging by the last success would page a second time for the
 * same failure an interval later, and forever for a file backup whose one broken host of many marks
 * every run failed (maxErrors 100%).
 *
 * An association deleted outside the program (AssociationDoesNotExist) is `gone`: it runs no more,
 * which the watcher reports overdue rather than failing the run for every other job. Throws one line
 * naming the association when SSM refuses otherwise (AccessDenied: the role) or answers without a
 * creation date.
 */
export async function associationRuns(ssm: SSMClient, associationId: string): Promise<AssociationRuns> {
  let out;
  try {
    out = await ssm.send(new DescribeAssociationCommand({ AssociationId: associationId }));
  } catch (err) {
    const e = err as { name?: string; message?: string };
    if (e.name === "AssociationDoesNotExist") return { gone: true };
    throw new Error(`association ${associationId}: DescribeAssociation failed: ${e.name ?? "Error"}${e.message ? `: ${e.message}` : ""}`);
  }
  const d = out.AssociationDescription;
  if (!d?.Date) throw new Error(`association ${associationId}: DescribeAssociation answered without the association's creation date`);
  return { created: d.Date, ...(d.LastExecutionDate ? { lastExecution: d.LastExecutionDate } : {}) };
}
