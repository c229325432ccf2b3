/** Policy documents the components write: a wildcard inside a resource name is refused before it reaches AWS. */
import { describe, expect, it } from "vitest";
import { ARN_FORMS, arnProblem, SECRET_ARN } from "../regime/arn";
import { databaseTargetSchema } from "../tasks/lib/db";
import { setupMocks, waitFor } from "./helpers/pulumi-mocks";

setupMocks();

describe("policyJson", () => {
  it("writes exact resources, key prefixes and log streams", async () => {
    const { policyJson } = await import("../components/iam");
    const doc = JSON.parse(
      await waitFor(
        policyJson([
          { Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: ["arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf"] },
          { Effect: "Allow", Action: ["s3:PutObject"], Resource: ["arn:aws:s3:::backups/daily/app/*"] },
          { Effect: "Allow", Action: ["logs:PutLogEvents"], Resource: ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:*"] },
          { Effect: "Allow", Action: ["cloudwatch:DescribeAlarms"], Resource: ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:prod-*"] },
        ]),
      ),
    );
    expect(doc.Statement).toHaveLength(4);
  });

  it.each([
    ["a secret of any name", "arn:aws:secretsmanager:us-east-1:123456789012:secret:*"],
    ["a database user of any name", "arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABC/*"],
    ["a ? inside a name", "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-??????"],
    ["a wildcard before the trailing /*", "arn:aws:s3:::backups/*/app/*"],
    ["a trailing :* outside a log group", "arn:aws:sns:us-east-1:123456789012:alerts:*"],
    ["a log group of any name", "arn:aws:logs:us-east-1:123456789012:log-group:*:*"],
    ["an alarm of any name", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"],
    ["alarms by a prefix that is not a whole name part", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:prod*"],
    ["objects of one name under a prefix that holds a wildcard", "arn:aws:s3:::backups/r*s/*/watching-since.json"],
    ["objects whose name holds a wildcard", "arn:aws:s3:::backups/runs/*/*.json"],
    ["objects of one name at any depth of the whole bucket", "arn:aws:s3:::backups/*/*"],
  ])("refuses %s", async (_label, resource) => {
    const { resourceWildcardProblem } = await import("../components/iam");
    expect(resourceWildcardProblem(resource)).toBe(`"${resource}" holds an IAM wildcard (* or ?) inside a name: it would grant every match`);
  });

  it.each([
    ["objects under one prefix", "arn:aws:s3:::backups/runs/app/*"],
    ["objects of one name at any depth under one prefix", "arn:aws:s3:::backups/runs/*/watching-since.json"],
  ])("accepts %s", async (_label, resource) => {
    const { resourceWildcardProblem } = await import("../components/iam");
    expect(resourceWildcardProblem(resource)).toBeUndefined();
  });
});

describe("the ARN forms config values are checked against", () => {
  const forms = { kms: ARN_FORMS.kmsKey, sns: ARN_FORMS.snsTopic, secret: ARN_FORMS.secretsManagerSecret };
  it.each([
    ["kms", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", undefined],
    ["kms", "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab", undefined],
    ["kms", "arn:aws:kms:us-east-1:123456789012:alias/backups", "must be the full ARN of a KMS key (arn:aws:kms:<region>:<account>:key/<key id>)"],
    ["kms", "arn:aws:kms:us-east-1:123456789012:key/*", 'must name one KMS key: "*" and "?" are IAM wildcards and would grant every match'],
    ["sns", "arn:aws:sns:us-east-1:123456789012:alerts.fifo", undefined],
    ["sns", "arn:aws:sns:us-east-1:123456789012:alerts/p0", "must be the full ARN of a SNS topic (arn:aws:sns:<region>:<account>:<topic name>)"],
    ["sns", "arn:aws:sqs:us-east-1:123456789012:alerts", "must be the full ARN of a SNS topic (arn:aws:sns:<region>:<account>:<topic name>), not an ARN of sqs"],
    ["secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf", undefined],
    ["secret", "arn:partition:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf", "must be the full ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf)"],
  ] as const)("%s %s", (form, value, expected) => {
    expect(arnProblem(value, forms[form])).toBe(expected);
  });
});

describe("one Secrets Manager ARN form for the config and the tasks", () => {
  const secret = ARN_FORMS.secretsManagerSecret;
  it.each([
    // What the config accepts, a task accepts.
    ["arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app-AbCdEf", undefined, true],
    ["arn:aws:secretsmanager:eu-central-1:123456789012:secret:a_b+c=d.e@f-123456", undefined, true],
    // Another partition: a task run by hand there reads it; the config refuses it (the program's policies are partition aws).
    [
      "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:a_b+c=d.e@f-123456",
      "is in partition aws-cn, but the program provisions in partition aws (its policies name arn:aws:... ARNs): the tasks' roles could never read it; use a Secrets Manager secret of partition aws",
      true,
    ],
    // A partial ARN (no 6-character suffix): GetSecretValue finds the secret, a person may type it; IAM grants need the full one.
    ["arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app", `must be the full ARN of a Secrets Manager secret (${secret.shape}), with the 6-character suffix`, true],
    // Neither takes a malformed one.
    ["arn:aws:secretsmanager:us-east-1:12345:secret:app-AbCdEf", `must be the full ARN of a Secrets Manager secret (${secret.shape}): "12345" is not a 12-digit account id`, false],
    ["arn:aws:secretsmanager:local:123456789012:secret:app-AbCdEf", `must be the full ARN of a Secrets Manager secret (${secret.shape}): "local" is not a region`, false],
    ["arn:aws:s3:::bucket", `must be the full ARN of a Secrets Manager secret (${secret.shape}), not an ARN of s3`, false],
  ] as const)("%s", (arn, configProblem, taskAccepts) => {
    expect(arnProblem(arn, secret)).toBe(configProblem);
    expect(SECRET_ARN.test(arn)).toBe(taskAccepts);
    const target = databaseTargetSchema.safeParse({ id: "app", secretArn: arn });
    expect(target.success ? undefined : target.error.issues[0].message).toBe(taskAccepts ? undefined : "must be the ARN of a Secrets Manager secret");
  });
});
