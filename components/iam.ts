/**
 * IAM policy statements as the components pass them around: actions always a list, resources always
 * concrete ARNs (Outputs allowed), conditions optional. `policyJson` resolves them into the policy
 * document string an `aws.iam.RolePolicy` takes, without a data-source call (the offline plan has none).
 */
import * as pulumi from "@pulumi/pulumi";
import { IAM_WILDCARD } from "../regime/arn";

export interface IamStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string[];
  Resource: pulumi.Input<pulumi.Input<string>[]>;
  Condition?: pulumi.Input<Record<string, Record<string, pulumi.Input<string | string[]>>>>;
}

/**
 * Where a `*` may stand in a Resource the components write: `*` alone (actions AWS authorises only on
 * `*`; ScheduledTask checks which), or one trailing `/*` of an S3 object ARN (objects under a key
 * prefix) or `:*` of a log group ARN (its streams) after a name free of wildcards, or one trailing `*`
 * of a CloudWatch alarm ARN after a name prefix ending in `-` (the alarms of one regime, all named
 * `<regime>-…`), or one `*` for whole key parts of an S3 object ARN followed by a slash and one
 * object name free of wildcards (the objects of that name at any depth under the prefix before it:
 * `runs/*` + `/watching-since.json`). `?` may stand nowhere: IAM reads both as wildcards ("IAM JSON
 * policy elements: Resource").
 */
export function resourceWildcardProblem(resource: string): string | undefined {
  if (resource === "*") return undefined;
  const named = /^(arn:aws[a-z-]*:s3:::[^/]+\/(?:.*\/)?)\*\/([^/*?]+)$/.exec(resource);
  if (named) return IAM_WILDCARD.test(named[1]) ? `"${resource}" holds an IAM wildcard (* or ?) inside a name: it would grant every match` : undefined;
  const objects = /^arn:aws[a-z-]*:s3:::[^/]+\/(.*\/)?\*$/.test(resource);
  const streams = /^arn:aws[a-z-]*:logs:[^:]*:\d{12}:log-group:.+:\*$/.test(resource);
  const alarms = /^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:[A-Za-z0-9_.-]+-\*$/.test(resource);
  const name = objects || streams ? resource.slice(0, -2) : alarms ? resource.slice(0, -1) : resource;
  return IAM_WILDCARD.test(name) ? `"${resource}" holds an IAM wildcard (* or ?) inside a name: it would grant every match` : undefined;
}

/**
 * The policy document JSON of `statements` (Version 2012-10-17). Throws when an Allow statement's
 * resource carries a wildcard inside a name (`resourceWildcardProblem`): config is checked before, this
 * keeps any other path from widening a grant.
 */
export function policyJson(statements: pulumi.Input<IamStatement>[]): pulumi.Output<string> {
  return pulumi
    .all(statements.map((s) => pulumi.output(s)))
    .apply((resolved) => {
      resolved.forEach((s, i) => {
        if (s.Effect !== "Allow") return;
        for (const r of s.Resource as string[]) {
          const problem = resourceWildcardProblem(r);
          if (problem) throw new Error(`policy statement ${i} (${s.Action.join(", ")}): ${problem}`);
        }
      });
      return JSON.stringify({ Version: "2012-10-17", Statement: resolved });
    });
}

/** Trust policy letting one AWS service assume a role, optionally only on behalf of this account. */
export function assumeRolePolicy(service: string, sourceAccount?: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.output(sourceAccount).apply((account) =>
    JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: service },
          Action: "sts:AssumeRole",
          ...(account ? { Condition: { StringEquals: { "aws:SourceAccount": account } } } : {}),
        },
      ],
    }),
  );
}
