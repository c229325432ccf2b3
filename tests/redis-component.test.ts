/**
 * The RedisHealth component under Pulumi mocks: one scheduled redis-health function per Redis, in
 * the VPC the config names, whose role may read exactly its own password secret (none without one);
 * no password in the environment; a schedule with timezone, retries and a dead-letter queue; warning
 * alarms on memory and queue length with actions and explicit missing-data handling.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { mockArchive, mockTopics, settle, setupMocks, type MockResource } from "./helpers/pulumi-mocks";
import { expectLeastPrivilege } from "./helpers/iam";
import { redisSchema } from "../regime/schema";
import { parseSettings } from "../tasks/lib/runtime";
import { redisHealthSettings } from "../tasks/redis-health";

const { resources } = setupMocks();

const TOPICS = mockTopics("app");
const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bigshot/redis-auth-AbCdEf";
const archive = mockArchive;

type Mod = typeof import("../components/redis");
let mod: Mod;

const under = (name: string): MockResource[] => resources.filter((r) => r.name === name || r.name.startsWith(`${name}-`));
const one = (component: string, type: string) => {
  const found = under(component).filter((r) => r.type === type);
  expect(found, `${type} of ${component}`).toHaveLength(1);
  return found[0];
};

const SCHEDULE = { expression: "rate(15 minutes)", timezone: "Europe/Berlin", description: "every 15 minutes", intervalSeconds: 900, text: "every 15 minutes" };

function build(name: string, config: unknown, network?: { subnetIds: string[]; securityGroupIds: string[] }) {
  return new mod.RedisHealth(name, {
    regime: "app",
    redis: { ...redisSchema.parse(config), schedule: SCHEDULE },
    archive: archive(),
    network,
    alarmTopics: TOPICS,
    logRetentionDays: 30,
  });
}

beforeAll(async () => {
  mod = await import("../components/redis");
  build(
    "app-redis-broker",
    { id: "broker", url: "rediss://broker.abc.cache.amazonaws.com:6379/1", passwordSecretArn: SECRET, queues: [{ name: "celery", maxLength: 1000 }, { name: "emails", maxLength: 50, severity: "P1", maxPendingIdleMinutes: 0 }, { name: "events", maxLength: 500, severity: "P1", maxPendingIdleMinutes: 15 }], severity: "P1" },
    { subnetIds: ["subnet-0a1b"], securityGroupIds: ["sg-0c2d"] },
  );
  build("app-redis-cache", { id: "cache", url: "redis://cache.internal:6379", evictedKeysWarn: 1, minHitRatePercent: 80, severity: "P2" });
  await settle();
});

describe("RedisHealth", () => {
  it("one redis-health function per Redis, in the VPC when a network is given, settings the task reads back", () => {
    const fn = one("app-redis-broker", "aws:lambda/function:Function").inputs;
    expect(fn.vpcConfig).toEqual({ subnetIds: ["subnet-0a1b"], securityGroupIds: ["sg-0c2d"] });
    const env = fn.environment.variables as Record<string, string>;
    expect(env).toMatchObject({ TASK: "redis-health", METRICS_INSTANCE: "broker", REDIS_URL: "rediss://broker.abc.cache.amazonaws.com:6379/1", REDIS_PASSWORD_SECRET_ARN: SECRET, MEMORY_WARN_PERCENT: "80", MEMORY_CRIT_PERCENT: "90" });
    expect(Object.keys(env).filter((k) => /PASSWORD/.test(k))).toEqual(["REDIS_PASSWORD_SECRET_ARN"]);
    const s = parseSettings(redisHealthSettings, { ...env, AWS_LAMBDA_FUNCTION_NAME: "x" });
    expect(s.QUEUES).toEqual([
      { name: "celery", maxLength: 1000, severity: "P2", maxPendingIdleMinutes: 60 },
      { name: "emails", maxLength: 50, severity: "P1" },
      { name: "events", maxLength: 500, severity: "P1", maxPendingIdleMinutes: 15 },
    ]);
    const cache = one("app-redis-cache", "aws:lambda/function:Function").inputs;
    expect(cache.vpcConfig).toBeUndefined();
    expect(cache.environment.variables).toMatchObject({ EVICTED_KEYS_WARN: "1", MIN_HIT_RATE_PERCENT: "80" });
    expect(cache.environment.variables).not.toHaveProperty("REDIS_PASSWORD_SECRET_ARN");
  });

  it("the role may read exactly its own secret, and no secret without one", () => {
    const policyOf = (c: string) => under(c).find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === `${c}-redis-health-role`)!.inputs.policy;
    const broker = expectLeastPrivilege(policyOf("app-redis-broker"), "broker role policy");
    const secret = broker.filter((s) => JSON.stringify(s.Action).includes("secretsmanager:"));
    expect(secret).toEqual([{ Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [SECRET] }]);
    const cache = expectLeastPrivilege(policyOf("app-redis-cache"), "cache role policy");
    expect(JSON.stringify(cache)).not.toContain("secretsmanager");
  });

  it("the schedule has its timezone, flexible window off, retries and a dead-letter queue", () => {
    const s = one("app-redis-broker", "aws:scheduler/schedule:Schedule").inputs;
    expect([s.scheduleExpression, s.scheduleExpressionTimezone, s.flexibleTimeWindow.mode]).toEqual(["rate(15 minutes)", "Europe/Berlin", "OFF"]);
    expect(s.target.retryPolicy).toEqual({ maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 });
    expect(s.target.deadLetterConfig.arn).toMatch(/app-redis-broker-redis-health-dlq/);
  });

  it("memory, queue-length and unmeasurable-queue alarms page with actions and explicit missing data; the task's errors page the Redis' severity", () => {
    const alarms = under("app-redis-broker").filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm");
    const byName = Object.fromEntries(alarms.map((a) => [a.inputs.name as string, a.inputs]));
    expect(Object.keys(byName).sort()).toEqual([
      "app-redis-broker-memory-P2",
      "app-redis-broker-queue-celery-P2",
      "app-redis-broker-queue-celery-pending-idle-P2",
      "app-redis-broker-queue-celery-unmeasurable-P2",
      "app-redis-broker-queue-emails-P1",
      "app-redis-broker-queue-emails-unmeasurable-P1",
      "app-redis-broker-queue-events-P1",
      "app-redis-broker-queue-events-pending-idle-P1",
      "app-redis-broker-queue-events-unmeasurable-P1",
      "app-redis-broker-redis-health-dead-letters-P1",
      "app-redis-broker-redis-health-duration-P2",
      "app-redis-broker-redis-health-errors-P1",
      "app-redis-broker-redis-health-missed-run-P1",
    ]);
    for (const a of alarms) {
      expect(a.inputs.alarmActions.length, a.inputs.name).toBe(1);
      expect(a.inputs.okActions, a.inputs.name).toEqual(a.inputs.alarmActions);
      expect(["missing", "breaching", "notBreaching", "ignore"]).toContain(a.inputs.treatMissingData);
      expect(a.inputs.alarmDescription.length).toBeGreaterThan(40);
    }
    const memory = byName["app-redis-broker-memory-P2"];
    expect(memory).toMatchObject({
      namespace: "MaintenanceRegime",
      metricName: "MemoryPercent",
      dimensions: { service: "app", Task: "redis-health", Instance: "broker" },
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: 80,
      period: 900,
      treatMissingData: "notBreaching",
      alarmActions: [TOPICS.P2],
    });
    expect(byName["app-redis-broker-queue-celery-P2"]).toMatchObject({
      metricName: "QueueLength",
      dimensions: { service: "app", Task: "redis-health", Instance: "broker", Queue: "celery" },
      comparisonOperator: "GreaterThanThreshold",
      threshold: 1000,
      treatMissingData: "notBreaching",
      alarmActions: [TOPICS.P2],
    });
    expect(byName["app-redis-broker-queue-emails-P1"]).toMatchObject({ threshold: 50, alarmActions: [TOPICS.P1] });
    // A queue that cannot be measured pages at its own severity (P1 here, the Redis' too; P2 for celery), naming its config key.
    expect(byName["app-redis-broker-queue-celery-unmeasurable-P2"]).toMatchObject({
      metricName: "QueueUnmeasurable",
      dimensions: { service: "app", Task: "redis-health", Instance: "broker", Queue: "celery" },
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: 1,
      treatMissingData: "notBreaching",
      alarmActions: [TOPICS.P2],
    });
    expect(byName["app-redis-broker-queue-celery-unmeasurable-P2"].alarmDescription).toMatch(/^\[P2\] The queue "celery" \(redis\[broker\]\.queues\[0\]\) on Redis broker cannot be measured/);
    expect(byName["app-redis-broker-queue-emails-unmeasurable-P1"]).toMatchObject({ metricName: "QueueUnmeasurable", alarmActions: [TOPICS.P1] });
    expect(byName["app-redis-broker-redis-health-errors-P1"].alarmActions).toEqual([TOPICS.P1]);
    // A stream entry left unacknowledged past maxPendingIdleMinutes pages at the queue's severity
    // (default 60 min); 0 (emails) has no such alarm.
    expect(byName["app-redis-broker-queue-celery-pending-idle-P2"]).toMatchObject({
      metricName: "PendingIdleSeconds",
      dimensions: { service: "app", Task: "redis-health", Instance: "broker", Queue: "celery" },
      comparisonOperator: "GreaterThanThreshold",
      threshold: 3600,
      period: 900,
      evaluationPeriods: 1,
      treatMissingData: "notBreaching",
      alarmActions: [TOPICS.P2],
    });
    expect(byName["app-redis-broker-queue-events-pending-idle-P1"]).toMatchObject({ metricName: "PendingIdleSeconds", threshold: 900, alarmActions: [TOPICS.P1] });
    expect(byName["app-redis-broker-queue-events-pending-idle-P1"].alarmDescription).toMatch(/^\[P1\] A stream entry of the queue "events" \(redis\[broker\]\.queues\[2\]\) on Redis broker was read by a worker \(XREADGROUP\) and not acknowledged \(XACK\) for more than 15 min/);

    const cache = Object.fromEntries(under("app-redis-cache").filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => [a.inputs.name as string, a.inputs]));
    expect(cache["app-redis-cache-evictions-P2"]).toMatchObject({ metricName: "EvictedKeys", threshold: 1, comparisonOperator: "GreaterThanOrEqualToThreshold" });
    expect(cache["app-redis-cache-hit-rate-P2"]).toMatchObject({ metricName: "HitRatePercent", threshold: 80, comparisonOperator: "LessThanThreshold" });
    expect(cache["app-redis-cache-redis-health-errors-P2"].alarmActions).toEqual([TOPICS.P2]);
  });

  it("a queue named like another's pending-idle alarm keeps its own alarm names, and the earlier ones keep theirs", () => {
    expect(mod.queueAlarmMetrics(["celery", "celery pending idle"])).toEqual({
      parts: ["queue-celery", "queue-celery-pending-idle"],
      unmeasurableParts: ["queue-celery-unmeasurable", "queue-celery-pending-idle-unmeasurable"],
      pendingIdleParts: ["queue-celery-pending-idle-4", "queue-celery-pending-idle-pending-idle"],
    });
  });

  it("queue names become unique alarm-name parts", () => {
    expect(mod.queueAlarmParts(["celery", "a b", "a:b", "x".repeat(200)])).toEqual(["queue-celery", "queue-a-b", "queue-a-b-2", `queue-${"x".repeat(100)}`]);
  });
});
