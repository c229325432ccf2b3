/**
 * An SSM endpoint on 127.0.0.1 on a free port, speaking the AWS JSON 1.1 protocol the SDK's
 * SSMClient uses (POST /, `X-Amz-Target: AmazonSSM.<Operation>`, `application/x-amz-json-1.1`,
 * timestamps as epoch seconds). It answers DescribeAssociation by AssociationId from the
 * associations a test puts in (its creation date and, once it ran, its last execution dates), and
 * AssociationDoesNotExist (HTTP 400) for any other id, as State Manager does. Every request body is
 * kept for assertions. AWS_ENDPOINT_URL_SSM points the SDK at it.
 */
import { awsError, startJsonProtocolServer } from "./json-protocol";

export interface StoredAssociation {
  id: string;
  name?: string;
  scheduleExpression?: string;
  /** When the association was made (AssociationDescription.Date). */
  created: Date;
  /** When it last ran, whatever the outcome; unset: never ran. */
  lastExecution?: Date;
  lastSuccessfulExecution?: Date;
}

export interface TestSsm {
  endpoint: string;
  env: Record<string, string>;
  /** Adds or replaces associations. */
  put(...a: StoredAssociation[]): void;
  /** Removes an association, as `aws ssm delete-association` would. */
  remove(id: string): void;
  /** Parsed bodies of the requests received, with their operation, in order. */
  requests: { target: string; body: Record<string, unknown> }[];
  stop(): Promise<void>;
}

const seconds = (d?: Date) => (d ? d.getTime() / 1000 : undefined);

export async function startSsm(): Promise<TestSsm> {
  const associations = new Map<string, StoredAssociation>();
  const requests: TestSsm["requests"] = [];
  const { endpoint, stop } = await startJsonProtocolServer({
    version: "1.1",
    invalidAction: "InvalidAction",
    handlers: {
      "AmazonSSM.DescribeAssociation": (body: { AssociationId?: string }) => {
        requests.push({ target: "AmazonSSM.DescribeAssociation", body });
        const a = body.AssociationId ? associations.get(body.AssociationId) : undefined;
        if (!a) return awsError("AssociationDoesNotExist", "The specified association does not exist.");
        return {
          json: {
            AssociationDescription: {
              AssociationId: a.id,
              Name: a.name ?? "AWS-RunShellScript",
              ScheduleExpression: a.scheduleExpression,
              Date: seconds(a.created),
              LastUpdateAssociationDate: seconds(a.created),
              ...(a.lastExecution ? { LastExecutionDate: seconds(a.lastExecution) } : {}),
              ...(a.lastSuccessfulExecution ? { LastSuccessfulExecutionDate: seconds(a.lastSuccessfulExecution) } : {}),
              Overview: { Status: a.lastExecution ? "Success" : "Pending" },
            },
          },
        };
      },
    },
  });
  return {
    endpoint,
    env: { AWS_ENDPOINT_URL_SSM: endpoint },
    put: (...list) => list.forEach((a) => associations.set(a.id, a)),
    remove: (id) => void associations.delete(id),
    requests,
    stop,
  };
}
