/**
 * The log groups the regime names for its own runners: a Lambda function's (`/aws/lambda/<function>`,
 * where Lambda writes whatever the function's settings say), a Fargate task's (`/ecs/<task>`, named in
 * its task definition) and an AWS Chatbot configuration's (`/aws/chatbot/<configuration>`, where
 * Chatbot writes its delivery errors). One place for these names: components/scheduled-task.ts and
 * components/alerting.ts create the groups with them, and the config refuses a host group's log group
 * inside them (regime/schema.ts), since CloudWatch Logs refuses a second group of one name
 * (CreateLogGroup: ResourceAlreadyExistsException).
 */

/** Who writes into a log group the regime makes for itself. */
export type OwnLogGroupKind = "lambda" | "fargate" | "chatbot";

export const OWN_LOG_GROUP_KINDS: readonly OwnLogGroupKind[] = ["lambda", "fargate", "chatbot"];

/** The log group of the regime's runner `physical` (a function name, a task's name, a Chatbot configuration name). */
export function ownLogGroupName(kind: OwnLogGroupKind, physical: string): string {
  switch (kind) {
    case "lambda":
      return `/aws/lambda/${physical}`;
    case "fargate":
      return `/ecs/${physical}`;
    case "chatbot":
      return `/aws/chatbot/${physical}`;
  }
}

/**
 * The starts of every log group name the regime `regimeName` makes for itself: each runner's physical
 * name starts with `<regime>-` (components/naming.ts physicalName keeps a name's start), so its group
 * starts with one of these (`/aws/lambda/prod-`, `/ecs/prod-`, `/aws/chatbot/prod-`).
 */
export function ownLogGroupPrefixes(regimeName: string): string[] {
  return OWN_LOG_GROUP_KINDS.map((k) => ownLogGroupName(k, `${regimeName}-`));
}
