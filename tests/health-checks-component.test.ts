/**
 * The HealthChecks component under Pulumi mocks: the function's role may read exactly the endpoints'
 * header secrets (and no secret when none is configured), no header value reaches the function's
 * environment, and the slow and certificate alarms page the severities the endpoints ask for.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { mockArchive, mockTopics, settle, setupMocks, type MockResource } from "./helpers/pulumi-mocks";
import { expectLeastPrivilege, statementsOf } from "./helpers/iam";
import { endpointsSchema } from "../regime/endpoints";

const { resources } = setupMocks();

const TOPICS = mockTopics("shop");
const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/health-headers-AbCdEf";
const OTHER_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:status-token-Zz9Yx8";
const archive = mockArchive;

type Mod = typeof import("../components/health-checks");
let mod: Mod;

const under = (name: string): MockResource[] => resources.filter((r) => r.name === name || r.name.startsWith(`${name}-`));
/** The function's role policy (the other role policy is the scheduler's, which only invokes it). */
const roleStatements = (component: string) => {
  const policies = under(component).filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy");
  expect(policies.map((p) => p.name).sort()).toEqual([`${component}-task-role`, `${component}-task-scheduler`]);
  const scheduler = statementsOf(policies.find((p) => p.name.endsWith("-scheduler"))!.inputs.policy);
  expect(JSON.stringify(scheduler)).not.toContain("secretsmanager");
  return expectLeastPrivilege(policies.find((p) => p.name.endsWith("-task-role"))!.inputs.policy, `${component} role policy`);
};
const secretStatements = (component: string) => roleStatements(component).filter((s) => JSON.stringify(s.Action).includes("secretsmanager:"));
const lambdaEnv = (component: string): Record<string, string> => {
  const fns = under(component).filter((r) => r.type === "aws:lambda/function:Function");
  expect(fns).toHaveLength(1);
  return fns[0].inputs.environment.variables;
};

function build(regime: string, checks: unknown[]) {
  const endpoints = endpointsSchema.parse({ checks }).checks;
  return new mod.HealthChecks(`${regime}-health`, {
    regime,
    endpoints,
    schedule: { expression: "rate(1 minute)", timezone: "UTC", intervalSeconds: 60 } as never,
    archive: archive(),
    alarmTopics: TOPICS,
    logRetentionDays: 30,
  });
}

beforeAll(async () => {
  mod = await import("../components/health-checks");
  build("shop", [
    { name: "detailed", url: "https://shop.example.com/api/v1/health/detailed", headersSecretArn: SECRET, maxResponseMs: 500, slowSeverity: "P2", minCertificateDays: 30, certificateSeverity: "P1" },
    { name: "admin", url: "https://shop.example.com/admin/health", headersSecretArn: SECRET, maxResponseMs: 2000 },
    { name: "status", url: "https://status.example.com/api", headersSecretArn: OTHER_SECRET, minCertificateDays: 14 },
    { name: "website", url: "https://shop.example.com/" },
  ]);
  build("plain", [{ name: "website", url: "https://plain.example.com/", maxResponseMs: 3000, minCertificateDays: 30 }]);
  await settle();
});

describe("header secrets", () => {
  it("the role may read exactly the configured secrets, each once, and nothing else of Secrets Manager", () => {
    expect(roleStatements("shop-health").length).toBeGreaterThan(1);
    expect(secretStatements("shop-health")).toEqual([{ Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [SECRET, OTHER_SECRET].sort() }]);
  });

  it("no secret configured: the role has no Secrets Manager statement", () => {
    expect(secretStatements("plain-health")).toEqual([]);
    expect(roleStatements("plain-health").length).toBeGreaterThan(0);
  });

  it("the function's environment names the secret, never header values", () => {
    const env = lambdaEnv("shop-health");
    const endpoints = JSON.parse(env.ENDPOINTS) as Record<string, unknown>[];
    expect(endpoints.map((e) => [e.name, e.headersSecretArn ?? null])).toEqual([
      ["detailed", SECRET],
      ["admin", SECRET],
      ["status", OTHER_SECRET],
      ["website", null],
    ]);
    for (const e of endpoints) expect(e).not.toHaveProperty("headers");
    for (const [k, v] of Object.entries(env)) {
      expect(/authorization|bearer/i.test(v), `environment ${k}`).toBe(false);
    }
    expect(lambdaEnv("plain-health").ENDPOINTS).not.toContain("headersSecretArn");
  });

  it("the policy statements come from the endpoints alone", () => {
    const endpoints = endpointsSchema.parse({ checks: [{ name: "a", url: "https://a.example.com/", headersSecretArn: SECRET }, { name: "b", url: "https://b.example.com/" }] }).checks;
    expect(mod.headerSecretStatements(endpoints)).toEqual([{ Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [SECRET] }]);
    expect(mod.headerSecretStatements(endpoints.slice(1))).toEqual([]);
    expect(statementsOf(JSON.stringify({ Version: "2012-10-17", Statement: mod.headerSecretStatements(endpoints) }))).toHaveLength(1);
  });
});

describe("alarm severities", () => {
  /** The alarm of one endpoint and condition (its name ends in the severity it pages). */
  const alarm = (prefix: string) => {
    const found = resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && r.name.startsWith(`${prefix}-P`));
    expect(found, `alarm ${prefix}-P*`).toHaveLength(1);
    expect(found[0].inputs.name).toBe(found[0].name);
    return found[0].inputs;
  };
  const routed = (prefix: string) => {
    const a = alarm(prefix);
    return { actions: a.alarmActions, ok: a.okActions, tag: a.tags.Severity, prefix: String(a.alarmDescription).slice(0, 4), name: String(a.name).slice(-2) };
  };
  const at = (p: keyof typeof TOPICS) => ({ actions: [TOPICS[p]], ok: [TOPICS[p]], tag: p, prefix: `[${p}]`, name: p });

  it("slowSeverity and certificateSeverity route the slow and certificate alarms", () => {
    expect(routed("shop-endpoint-detailed-slow")).toEqual(at("P2"));
    expect(routed("shop-endpoint-detailed-certificate")).toEqual(at("P1"));
    expect(routed("shop-endpoint-detailed-down")).toEqual(at("P0"));
  });

  it("without them the slow alarm pages P3 and the certificate alarm P2, as before", () => {
    expect(routed("shop-endpoint-admin-slow")).toEqual(at("P3"));
    expect(routed("shop-endpoint-status-certificate")).toEqual(at("P2"));
    expect(routed("plain-endpoint-website-slow")).toEqual(at("P3"));
    expect(routed("plain-endpoint-website-certificate")).toEqual(at("P2"));
  });
});
