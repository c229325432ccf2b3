/**
 * IAM policy statements as the components pass them around: actions always a list, resources always
 * concrete ARNs (Outputs allowed), conditions optional. `policyJson` resolves them into the policy
 * document string an `aws.iam.RolePolicy` takes, without a data-source call (the offline plan has none).
 */
import * as pulumi from "@pulumi/pulumi";

export interface IamStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string[];
  Resource: pulumi.Input<pulumi.Input<string>[]>;
  Condition?: pulumi.Input<Record<string, Record<string, pulumi.Input<string | string[]>>>>;
}

export function policyJson(statements: pulumi.Input<IamStatement>[]): pulumi.Output<string> {
  return pulumi
    .all(statements.map((s) => pulumi.output(s)))
    .apply((resolved) => JSON.stringify({ Version: "2012-10-17", Statement: resolved }));
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
