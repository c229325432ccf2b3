/**
 * Where a secret named in config lives against where the stack runs: another partition is refused
 * where the config is read (the program's policies are partition aws), every key at once; another
 * account is refused when the program runs (STS GetCallerIdentity, the plan's mocks: 123456789012),
 * saying what a cross-account read would need; another region of the same account is provisioned
 * (the tasks read a secret in its own region: tests/db-secret.test.ts).
 */
import { describe, expect, it } from "vitest";
import { runPlan } from "../plan/run";
import { ACCOUNT } from "../plan/mocks";
import { secretArnFields, validateRegime } from "../regime/load";
import { refusal } from "./helpers/refusal";
import { regimeStackFile } from "./helpers/stack-file";

const FROM = new Date("2026-12-01T00:00:00Z");
const arn = (partition: string, region: string, account: string, name = "app") => `arn:${partition}:secretsmanager:${region}:${account}:secret:${name}-AbCdEf`;

/** A regime reading `secret` for its database, its Redis password and its endpoint's headers. */
function regimeWith(secret: string) {
  return {
    name: "sp",
    databases: [{ id: "app", secretArn: secret }],
    redis: [{ id: "cache", url: "redis://cache.internal:6379", passwordSecretArn: secret }],
    endpoints: { checks: [{ name: "api", url: "https://api.example.com/health", headersSecretArn: secret }] },
  };
}

function stackFile(secret: string): string {
  const { name, ...rest } = regimeWith(secret);
  return regimeStackFile("sp", name, rest);
}

describe("a secret of another partition", () => {
  for (const [partition, region] of [
    ["aws-cn", "cn-north-1"],
    ["aws-us-gov", "us-gov-west-1"],
  ]) {
    it(`${partition}: every key naming it is refused in one run`, () => {
      const why = `is in partition ${partition}, but the program provisions in partition aws (its policies name arn:aws:... ARNs): the tasks' roles could never read it; use a Secrets Manager secret of partition aws`;
      expect(refusal(regimeWith(arn(partition, region, ACCOUNT))).split("\n")).toEqual([`databases[0].secretArn: ${why}`, `redis[0].passwordSecretArn: ${why}`, `endpoints.checks[0].headersSecretArn: ${why}`]);
    });
  }
});

describe("a secret of another account", () => {
  it("is refused by the program, naming each key and what a cross-account read needs", async () => {
    const other = "210987654321";
    const why = `the secret is in account ${other}, not the stack's ${ACCOUNT}: the program grants its roles secretsmanager:GetSecretValue only, and another account's secret is readable only with a resource policy naming the role and a customer-managed KMS key whose key policy lets the role decrypt (no kms:Decrypt on another account's key is granted); copy the secret into account ${ACCOUNT}`;
    await expect(runPlan({ configFile: stackFile(arn("aws", "us-east-1", other)), from: FROM })).rejects.toThrow(
      [`config error: databases[0].secretArn: ${why}`, `config error: redis[0].passwordSecretArn: ${why}`, `config error: endpoints.checks[0].headersSecretArn: ${why}`].join("\n"),
    );
  }, 120_000);

  it("every secret ARN field is found with its key path, a malformed one left to the schema", () => {
    const good = arn("aws", "us-east-1", ACCOUNT);
    expect(secretArnFields({ databases: [{ id: "a", secretArn: good }, { id: "b", secretArn: "not-an-arn" }], endpoints: { checks: [{ headersSecretArn: good }] } })).toEqual([
      { path: ["databases", 0, "secretArn"], arn: good },
      { path: ["endpoints", "checks", 0, "headersSecretArn"], arn: good },
    ]);
  });
});

describe("a secret another AWS service manages", () => {
  it("RDS's master user secret (rds!db-<uuid>, rds!cluster-<uuid>) is taken in every key and planned, its task roles granted that secret", async () => {
    for (const name of ["rds!db-0d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "rds!cluster-0d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"]) {
      expect(() => validateRegime(regimeWith(arn("aws", "us-east-1", ACCOUNT, name)))).not.toThrow();
    }
    const secret = arn("aws", "us-east-1", ACCOUNT, "rds!db-0d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b");
    const plan = await runPlan({ configFile: stackFile(secret), from: FROM });
    expect(JSON.stringify(plan.resources ?? plan)).toContain(secret);
  }, 120_000);

  it("a ! anywhere but after the managing service's name is refused, naming each key", () => {
    expect(refusal(regimeWith(arn("aws", "us-east-1", ACCOUNT, "prod/app!db"))).split("\n").map((l) => l.split(":")[0])).toEqual(["databases[0].secretArn", "redis[0].passwordSecretArn", "endpoints.checks[0].headersSecretArn"]);
  });
});
