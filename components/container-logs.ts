/**
 * Container output: docker-compose services and named containers ship into their log groups through
 * Docker's awslogs driver (see regime/container-logs.ts for why one driver per container). Part of the
 * logs component (components/logs.ts).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { renderContainerLogging } from "../regime/container-logs";
import type { HostGroup } from "../regime/logs";
import type { LogsScope } from "./host-delivery";
import { policyJson } from "./iam";

/** What the host groups that ship containers get. */
export interface ContainerLogs {
  /** Host group -> what to add to its compose file (services' `logging:`) and its `docker run` commands. */
  logging: Record<string, pulumi.Output<string>>;
  /** Host group -> IAM policy dockerd's credentials need to write its containers' output (logs:CreateLogStream, PutLogEvents). */
  writerPolicyArns: Record<string, pulumi.Output<string>>;
}

/**
 * For every host group with a log group that names containers: the logging settings and the writer
 * policy. `logGroupsOf`: host group -> its created log groups, in the order of its `logGroups`.
 * The region in the driver settings is `args.region`, else the provider's (looked up only when some group ships containers).
 */
export function containerLogs(scope: LogsScope, logGroupsOf: Record<string, aws.cloudwatch.LogGroup[]>): ContainerLogs {
  const out: ContainerLogs = { logging: {}, writerPolicyArns: {} };
  const shipsContainers = scope.args.logs.hostGroups.filter((g) => g.logGroups.some((lg) => lg.containers.length > 0));
  if (shipsContainers.length === 0) return out;
  const region = pulumi.output(scope.args.region ?? aws.getRegionOutput({}, { parent: scope.parent }).region);
  for (const g of shipsContainers) {
    out.logging[g.name] = region.apply((r) => renderContainerLogging(g, r)!);
    out.writerPolicyArns[g.name] = writerPolicy(scope, g, logGroupsOf[g.name]);
  }
  return out;
}

/**
 * The policy dockerd's credentials need to write a group's container output: logs:CreateLogStream and
 * logs:PutLogEvents on the streams of exactly the log groups that name containers (the groups exist
 * already, with their retention, so no CreateLogGroup). Returns its ARN.
 */
function writerPolicy(scope: LogsScope, g: HostGroup, logGroups: aws.cloudwatch.LogGroup[]): pulumi.Output<string> {
  const { name, args, tags } = scope;
  const arns = g.logGroups.flatMap((lg, i) => (lg.containers.length > 0 ? [pulumi.interpolate`${logGroups[i].arn}:*`] : []));
  const policy = new aws.iam.Policy(
    `${name}-${g.name}-container-log-writer`,
    {
      name: `${args.regime}-${g.name}-container-log-writer`,
      description: `Lets dockerd on the hosts of ${args.regime}/${g.name} write its containers' output to their log groups`,
      policy: policyJson([{ Sid: "WriteContainerOutput", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: arns }]),
      tags,
    },
    { parent: scope.parent },
  );
  return policy.arn;
}
