/**
 * Container output into log groups under Pulumi's mocks: the compose `logging:` blocks and `docker
 * run` flags rendered for a host group's services and named containers (parsed back as YAML), the log
 * groups with their retention, a metric filter and alarm on a container's group, and dockerd's writer
 * policy (checked with the IAM policy simulator: its groups' streams only). Config refusals: a service
 * in two groups, a container with both or neither of service and name, bad names. And the check the
 * hosts run (with a stand-in docker on PATH): a container that does not log to its group fails the run.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { expectLeastPrivilege, unexplainedWildcards } from "./helpers/iam";
import { MOCK_ACCOUNT, MOCK_REGION, mockTopics, settle, setupMocks, waitFor, type MockResource } from "./helpers/pulumi-mocks";
import { parseLogs, type LogsInput } from "../regime/logs";

const { resources } = setupMocks();

const LOGS: LogsInput = {
  hostGroups: [
    {
      name: "shop",
      target: { tagKey: "App", tagValue: "shop" },
      docker: { maxSize: "50m", maxFile: 5 },
      logGroups: [
        {
          id: "backend",
          name: "/shop/backend",
          format: "json",
          retentionDays: 90,
          containers: [{ service: "backend" }, { service: "celery" }],
          errors: { threshold: 5, periodMinutes: 5, severity: "P1" },
          patterns: [{ name: "payment-failed", pattern: '{ $.event = "payment_failed" }', severity: "P0" }],
        },
        {
          id: "frontend",
          name: "/shop/frontend",
          containers: [{ name: "shop-frontend" }],
          timestampFormat: "%Y-%m-%d %H:%M:%S",
          multiLineStartPattern: "{timestamp_format}",
          errors: {},
        },
        { id: "nginx", name: "/shop/nginx", files: ["/var/log/nginx/access.log"], http5xx: {} },
      ],
    },
  ],
};

const byType = (t: string): MockResource[] => resources.filter((r) => r.type === t);
let logging: string;
let policyArn: string;

beforeAll(async () => {
  const { LogRotation } = await import("../components/logs");
  const c = new LogRotation("logs", { regime: "shop", logs: parseLogs(LOGS), defaultRetentionDays: 30, alarmTopics: mockTopics("shop") });
  logging = await waitFor(c.containerLogging.shop);
  policyArn = await waitFor(c.containerLogWriterPolicyArns.shop);
  await settle();
});

describe("container output through Docker's awslogs driver", () => {
  it("renders a compose override with each service's logging block, and docker run flags for a named container", () => {
    const text = logging;
    const options = {
      "awslogs-region": MOCK_REGION,
      "awslogs-group": "/shop/backend",
      "awslogs-create-group": "false",
      tag: "{{.Name}}/{{.ID}}",
      mode: "non-blocking",
      "max-buffer-size": "4m",
    };
    expect(parse(text)).toEqual({
      services: {
        backend: { logging: { driver: "awslogs", options } },
        celery: { logging: { driver: "awslogs", options } },
      },
    });
    // The named container takes the frontend group's multi-line rule: a line starting with a timestamp starts an event.
    expect(text).toContain(
      "# docker run --name shop-frontend --log-driver awslogs --log-opt awslogs-region='us-east-1' --log-opt awslogs-group='/shop/frontend' --log-opt awslogs-create-group='false' --log-opt tag='{{.Name}}/{{.ID}}' --log-opt mode='non-blocking' --log-opt max-buffer-size='4m' --log-opt awslogs-datetime-format='%Y-%m-%d %H:%M:%S' ...",
    );
  });

  it("creates each container's log group with its retention; the driver creates none", () => {
    const groups = byType("aws:cloudwatch/logGroup:LogGroup").map((g) => [g.inputs.name, g.inputs.retentionInDays]);
    expect(groups).toEqual([
      ["/shop/backend", 90],
      ["/shop/frontend", 30],
      ["/shop/nginx", 30],
    ]);
  });

  it("the container's group gets the log group's filters and alarms: the app's own JSON fields match, as Docker writes its lines unchanged", () => {
    const filters = byType("aws:cloudwatch/logMetricFilter:LogMetricFilter").filter((f) => f.inputs.logGroupName === "/shop/backend");
    expect(filters.map((f) => [f.inputs.name, f.inputs.pattern])).toEqual([
      ["shop-shop-backend-errors", expect.stringContaining('($.level = "error")')],
      ["shop-shop-backend-payment-failed", '{ $.event = "payment_failed" }'],
    ]);
    const alarm = byType("aws:cloudwatch/metricAlarm:MetricAlarm").find((a) => a.inputs.name === "shop-logs-shop-backend-payment-failed-P0")!;
    expect(alarm.inputs).toMatchObject({ namespace: "shop/Logs", metricName: "shop-backend-payment-failed", threshold: 1, period: 300, alarmActions: [mockTopics("shop").P0] });
  });

  it("dockerd's writer policy reaches exactly the streams of the groups its containers ship to", async () => {
    const policy = byType("aws:iam/policy:Policy").find((p) => p.inputs.name === "shop-shop-container-log-writer")!;
    expect(policyArn).toBe(`arn:aws:iam::${MOCK_ACCOUNT}:policy/shop-shop-container-log-writer`);
    const doc = JSON.parse(policy.inputs.policy);
    expectLeastPrivilege(doc, "container log writer");
    const group = (n: string) => `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:${n}`;
    expect(doc.Statement).toEqual([
      { Sid: "WriteContainerOutput", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${group("/shop/backend")}:*`, `${group("/shop/frontend")}:*`] },
    ]);
    expect(unexplainedWildcards([policy])).toEqual([]);
    const decide = async (action: string, resource: string) => {
      const r = await runSimulation(
        {
          request: { principal: `arn:aws:sts::${MOCK_ACCOUNT}:assumed-role/shop-host/i-0abc`, action, resource: { resource, accountId: MOCK_ACCOUNT }, contextVariables: {} },
          identityPolicies: [{ name: "writer", policy: doc }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
      if (r.resultType === "error") throw new Error(JSON.stringify(r.errors));
      return r.overallResult;
    };
    const stream = (n: string) => `${group(n)}:log-stream:shop-backend-1/0123abcd`;
    expect(await decide("logs:PutLogEvents", stream("/shop/backend"))).toBe("Allowed");
    expect(await decide("logs:CreateLogStream", stream("/shop/frontend"))).toBe("Allowed");
    expect(await decide("logs:PutLogEvents", stream("/shop/nginx"))).toBe("ImplicitlyDenied");
    expect(await decide("logs:CreateLogGroup", group("/shop/other"))).toBe("ImplicitlyDenied");
    expect(await decide("logs:DeleteLogGroup", group("/shop/backend"))).toBe("ImplicitlyDenied");
    expect(await decide("logs:GetLogEvents", stream("/shop/backend"))).toBe("ImplicitlyDenied");
  });

  it("a host group that ships no container has no writer policy and no compose block", async () => {
    const { LogRotation } = await import("../components/logs");
    const c = new LogRotation("plain", {
      regime: "plain",
      logs: parseLogs({ hostGroups: [{ name: "web", target: { tagKey: "App", tagValue: "web" }, logGroups: [{ id: "app", name: "/plain/app", files: ["/var/log/app.log"] }] }] }),
      defaultRetentionDays: 30,
      alarmTopics: mockTopics("plain"),
    });
    expect(c.containerLogging).toEqual({});
    expect(c.containerLogWriterPolicyArns).toEqual({});
  });
});

describe("the hosts check that each declared container logs to its group (stand-in docker on PATH)", () => {

  /** A docker answering `ps -q --filter label=...service=X` and `inspect` from files under $DOCKER_STATE. */
  const STAND_IN = [
    "#!/bin/bash",
    'S="$DOCKER_STATE"',
    'if [ "$1" = ps ]; then svc="${4#label=com.docker.compose.service=}"; cat "$S/ps-$svc" 2>/dev/null; exit 0; fi',
    'if [ "$1" = inspect ] && [ "$2" = --type ]; then [ -f "$S/config-$4" ]; exit; fi',
    'if [ "$1" = inspect ]; then id="$4"; [ -f "$S/config-$id" ] || exit 1',
    '  case "$3" in *.Name*) cat "$S/name-$id" ;; *) cat "$S/config-$id" ;; esac; exit 0; fi',
    "exit 2",
  ].join("\n");

  const run = async (state: Record<string, string>) => {
    const { renderInstallScript } = await import("../regime/logrotate");
    const work = mkdtempSync(join(tmpdir(), "container-check-"));
    const bin = join(work, "bin");
    const dockerState = join(work, "state");
    mkdirSync(bin);
    mkdirSync(dockerState);
    writeFileSync(join(bin, "docker"), STAND_IN, { mode: 0o755 });
    for (const [f, v] of Object.entries(state)) writeFileSync(join(dockerState, f), v);
    const script = renderInstallScript({
      regime: "shop",
      group: "shop",
      configs: {},
      containers: [
        { service: "backend", logGroup: "/shop/backend" },
        { name: "shop-frontend", logGroup: "/shop/frontend" },
      ],
    });
    return spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, REGIME_ETC: join(work, "etc"), DOCKER_STATE: dockerState } });
  };

  it("passes when every container logs through awslogs to its group", async () => {
    const r = await run({ "ps-backend": "aaa\nbbb\n", "config-aaa": "awslogs /shop/backend", "name-aaa": "/shop-backend-1", "config-bbb": "awslogs /shop/backend", "name-bbb": "/shop-backend-2", "config-shop-frontend": "awslogs /shop/frontend" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("container shop-backend-2 of service backend logs to /shop/backend");
    expect(r.status).toBe(0);
  });

  it("fails, naming the container, when a deploy dropped the logging block; a stopped service is only a warning", async () => {
    const r = await run({ "ps-backend": "aaa\n", "config-aaa": "json-file ", "name-aaa": "/shop-backend-1", "config-shop-frontend": "awslogs /other" });
    expect(r.stderr.split("\n").filter(Boolean)).toEqual([
      "error: container shop-backend-1 of service backend logs to json-file, not awslogs to /shop/backend: add its logging block from the containerLogging output and recreate it (docker compose up -d)",
      "error: container shop-frontend logs to awslogs /other, not awslogs to /shop/frontend: add its logging block from the containerLogging output and recreate it (docker compose up -d)",
    ]);
    expect(r.status).toBe(1);
    const stopped = await run({ "config-shop-frontend": "awslogs /shop/frontend" });
    expect(stopped.stderr).toBe("warning: no running container of service backend\n");
    expect(stopped.status).toBe(0);
  });
});

describe("config refusals", () => {
  const group = (logGroups: unknown[]) => ({ hostGroups: [{ name: "shop", target: { tagKey: "App", tagValue: "shop" }, logGroups }] });
  it.each([
    [
      "a service in two log groups",
      group([
        { id: "a", name: "/a", containers: [{ service: "backend" }] },
        { id: "b", name: "/b", containers: [{ service: "worker" }, { service: "backend" }] },
      ]),
      "hostGroups[0].logGroups[1].containers[1]: service backend already ships to log group /a: Docker gives a container one log driver",
    ],
    ["both service and name", group([{ id: "a", name: "/a", containers: [{ service: "backend", name: "shop-backend" }] }]), "hostGroups[0].logGroups[0].containers[0].service: set exactly one of service or name"],
    ["containers on a group without hosts", { hostGroups: [{ name: "shop", logGroups: [{ id: "a", name: "/a", containers: [{ service: "x" }] }] }] }, "hostGroups[0].target: set target (tag) and/or sshHosts: the group has files to deliver"],
    ["neither service nor name", group([{ id: "a", name: "/a", containers: [{}] }]), "hostGroups[0].logGroups[0].containers[0].service: set exactly one of service or name"],
    ["a service name with a space", group([{ id: "a", name: "/a", containers: [{ service: "my backend" }] }]), "hostGroups[0].logGroups[0].containers[0].service: must be a docker-compose service name (letters, digits, _ . -)"],
    ["a multi-line rule with nothing shipped", group([{ id: "a", name: "/a", multiLineStartPattern: "^\\d" }]), "hostGroups[0].logGroups[0].multiLineStartPattern: needs files or containers: it applies to the lines shipped into the group"],
  ])("%s", (_label, input, line) => {
    expect(() => parseLogs(input)).toThrow(line);
  });

  it("the regime's loader names the full key path", async () => {
    const { regimeProblems } = await import("../regime/load");
    const { lines } = regimeProblems({ name: "shop", logs: group([{ id: "a", name: "/a", containers: [{ service: "x" }, { service: "x" }] }]) });
    expect(lines).toEqual(["logs.hostGroups[0].logGroups[0].containers[1]: service x already ships to log group /a: Docker gives a container one log driver"]);
  });
});
