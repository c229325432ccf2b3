/**
 * The HealthChecks component under Pulumi mocks: the function's role may read exactly the endpoints'
 * header secrets (and no secret when none is configured), no header value reaches the function's
 * environment, and the slow and certificate alarms page the severities the endpoints ask for.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MOCK_CREATION_DATE, mockArchive, mockTopics, settle, setupMocks, type MockResource } from "./helpers/pulumi-mocks";
import { gateOf } from "./helpers/metric-math";
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

describe("down watches availability only", () => {
  const alarmInputs = (name: string) => {
    const found = resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && r.name === name);
    expect(found, name).toHaveLength(1);
    return found[0].inputs;
  };
  /** What decides whether an alarm fires: its metric, statistic, comparison and threshold. */
  const condition = (a: Record<string, any>) => ({ // eslint-disable-line @typescript-eslint/no-explicit-any
    namespace: a.namespace,
    metricName: a.metricName,
    statistic: a.statistic,
    comparisonOperator: a.comparisonOperator,
    threshold: a.threshold,
    evaluationPeriods: a.evaluationPeriods,
    metricQueries: a.metricQueries,
  });

  it("the P0 down alarm reads Healthy alone, the same with or without maxResponseMs and minCertificateDays", () => {
    const withSignals = alarmInputs("shop-endpoint-detailed-down-P0");
    const without = alarmInputs("shop-endpoint-website-down-P0");
    // Healthy alone, gated on the checker's watch start (its role's mocked creation).
    expect(gateOf(withSignals)).toEqual({
      metrics: [{ id: "healthy", namespace: "MaintenanceRegime", metricName: "Healthy", dimensions: { service: "shop", Task: "health-check", Endpoint: "detailed" }, stat: "Minimum", period: 60 }],
      expression: `IF(EPOCH(healthy) < ${Date.parse(MOCK_CREATION_DATE) / 1000}, 1, FILL(healthy, 0))`,
    });
    expect([withSignals.comparisonOperator, withSignals.threshold, withSignals.evaluationPeriods]).toEqual(["LessThanThreshold", 1, 5]);
    // The same alarm without the signals, on its own endpoint.
    expect({ ...condition(without), metricQueries: undefined }).toEqual({ ...condition(withSignals), metricQueries: undefined });
    expect(gateOf(without)).toEqual({ ...gateOf(withSignals), metrics: [{ ...gateOf(withSignals).metrics[0], dimensions: { service: "shop", Task: "health-check", Endpoint: "website" } }] });
    expect(withSignals.alarmActions).toEqual([TOPICS.P0]);
    expect(String(withSignals.alarmDescription)).toMatch(/slowness and certificate age have their own alarms/);
  });

  it("slow reads ResponseTime against maxResponseMs and certificate reads CertificateDaysLeft against minCertificateDays, at their own severities", () => {
    const slow = alarmInputs("shop-endpoint-detailed-slow-P2");
    expect(condition(slow)).toMatchObject({ metricName: "ResponseTime", statistic: "Average", comparisonOperator: "GreaterThanThreshold", threshold: 500 });
    expect(slow.alarmActions).toEqual([TOPICS.P2]);
    const cert = alarmInputs("shop-endpoint-detailed-certificate-P1");
    expect(condition(cert)).toMatchObject({ metricName: "CertificateDaysLeft", statistic: "Minimum", comparisonOperator: "LessThanThreshold", threshold: 30 });
    expect(cert.alarmActions).toEqual([TOPICS.P1]);
    // Neither reads Healthy, and the down alarm reads neither of theirs.
    for (const a of [slow, cert]) expect(a.metricName).not.toBe("Healthy");
  });

  it("the task gets the limits as responseTimeMs and certificateDaysLeft, which it reports as warnings", () => {
    const endpoints = JSON.parse(lambdaEnv("shop-health").ENDPOINTS) as { name: string; conditions: Record<string, unknown> }[];
    expect(endpoints.find((e) => e.name === "detailed")!.conditions).toEqual({ status: 200, responseTimeMs: 500, certificateDaysLeft: 30 });
  });

  it("CertificateDaysLeft is sampled: the task learns its interval and samples against the alarm's own threshold; the alarm takes missing data as not breaching", () => {
    const env = lambdaEnv("shop-health");
    expect(env.SCHEDULE_INTERVAL_SECONDS).toBe("60");
    const cert = alarmInputs("shop-endpoint-detailed-certificate-P1");
    const endpoints = JSON.parse(env.ENDPOINTS) as { name: string; conditions: Record<string, unknown> }[];
    expect(endpoints.find((e) => e.name === "detailed")!.conditions.certificateDaysLeft).toBe(condition(cert).threshold);
    // No data is a healthy certificate between the daily samples; a stopped check pages through its missed-run alarm.
    expect(cert.treatMissingData).toBe("notBreaching");
  });

  it("a stopped checker pages through a missed-run alarm counting Lambda's invocations alone (one alarm metric); a failed run through the errors alarm, at the same severity", () => {
    const missed = alarmInputs("shop-health-task-missed-run-P3");
    const errors = alarmInputs("shop-health-task-errors-P3");
    // Every minute: a minute, a minute of delivery margin, the run's timeout and 5 minutes until it is
    // seen, in one-minute periods without an invocation, no data breaching.
    expect(missed).toMatchObject({ evaluationPeriods: 8, datapointsToAlarm: 8, comparisonOperator: "LessThanThreshold", threshold: 1, treatMissingData: "breaching" });
    // One metric (one alarm metric billed), gated on the checker's watch start.
    expect(gateOf(missed).metrics).toEqual([{ id: "invocations", namespace: "AWS/Lambda", metricName: "Invocations", dimensions: { FunctionName: "shop-health-task" }, stat: "Sum", period: 60 }]);
    expect(missed.alarmDescription).toContain("No run of the health-check task was started in 8 minutes");
    // The errors alarm sees every failed run: its period holds the function's timeout (the slowest endpoint's + 30 s) and 5 minutes until the failure is seen.
    expect(errors).toMatchObject({ namespace: "AWS/Lambda", metricName: "Errors", period: 360, alarmActions: missed.alarmActions });
    const fn = under("shop-health").find((r) => r.type === "aws:lambda/function:Function")!;
    expect(fn.inputs.timeout + 300).toBeLessThanOrEqual(360);
  });
});

describe("credentials in endpoint URLs", () => {
  const PASSWORD = "S3cretPassw0rd";

  it("a URL with a password or a token that bypassed the schema is refused before any resource, naming the key and not the secret", () => {
    const before = resources.length;
    const attempt = (url: string) => {
      try {
        new mod.HealthChecks("leak-health", {
          regime: "leak",
          endpoints: [{ ...endpointsSchema.parse({ checks: [{ name: "ok", url: "https://ok.example.com/" }] }).checks[0], url }],
          schedule: { expression: "rate(1 minute)", timezone: "UTC", intervalSeconds: 60 } as never,
          archive: archive(),
          alarmTopics: TOPICS,
          logRetentionDays: 30,
        });
        return "built";
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(attempt(`https://admin:${PASSWORD}@app.example.com/health`)).toBe(
      "endpoints.checks[0].url: must not carry a user name or password (user:password@host): put the credential in a Secrets Manager secret as a request header and set headersSecretArn",
    );
    expect(attempt(`https://app.example.com/health?api_key=${PASSWORD}`)).toBe(
      'endpoints.checks[0].url: query parameter "api_key" carries a credential: put the credential in a Secrets Manager secret as a request header and set headersSecretArn',
    );
    expect(resources.slice(before).filter((r) => r.type !== "regime:health:HealthChecks")).toEqual([]);
    expect(JSON.stringify(resources)).not.toContain(PASSWORD);
  });

  it("no environment variable and no alarm description of the built regimes holds userinfo", () => {
    for (const r of resources) {
      const text = JSON.stringify([r.inputs.environment ?? null, r.inputs.alarmDescription ?? null]);
      expect(text, r.name).not.toMatch(/:\/\/[^/"@\s]*@/);
    }
  });
});
