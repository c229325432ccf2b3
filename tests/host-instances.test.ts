/**
 * Before deploy, pulumi preview and up look each host's instance id up (EC2 DescribeInstances through
 * aws.ec2.getInstances): an id of no instance (a typo) or of a terminated one (a replaced host) is a
 * config error naming hosts[<index>].instanceId; a stopped one a warning; a running one passes. The
 * account here is a stand-in answering the data source the way EC2 does: the instances of the filter's
 * ids in the asked states, and nothing (no error) for an id it does not know. The offline plan asks
 * nothing and says so in the host's promise line.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { setupMocks } from "./helpers/pulumi-mocks";
import { runPlan } from "../plan/run";

/** The account's instances and their states; an id not here is unknown to EC2. */
const ACCOUNT: Record<string, string> = {
  "i-0123456789abcdef0": "running",
  "i-0aaaaaaaaaaaaaaa1": "terminated",
  "i-0bbbbbbbbbbbbbbb2": "stopped",
};
const asked: { ids: string[]; states: string[] }[] = [];
const { resources } = setupMocks({
  calls: {
    "aws:ec2/getInstances:getInstances": (inputs) => {
      const ids: string[] = inputs.filters.find((f: { name: string }) => f.name === "instance-id").values;
      const states: string[] = inputs.instanceStateNames ?? ["running"];
      asked.push({ ids, states });
      return { ids: ids.filter((id) => ACCOUNT[id] !== undefined && states.includes(ACCOUNT[id])), privateIps: [], publicIps: [], ipv6Addresses: [], region: "us-east-1" };
    },
  },
});

describe("hosts' instance ids at pulumi preview and up", () => {
  it("refuses an id EC2 does not know and a terminated one on hosts[<index>].instanceId, warns of a stopped one, passes a running one", async () => {
    const { checkHostInstances } = await import("../components/host-instances");
    const r = await checkHostInstances([
      { name: "app-1", instanceId: "i-0123456789abcdef0" },
      { name: "app-2", instanceId: "i-0123456789abcdef9" },
      { name: "old-web", instanceId: "i-0aaaaaaaaaaaaaaa1" },
      { name: "batch", instanceId: "i-0bbbbbbbbbbbbbbb2" },
    ]);
    expect(r.lines).toEqual([
      "hosts[1].instanceId: i-0123456789abcdef9 (host app-2) is no instance of this account in us-east-1, or a terminated one: its alarms would never see data; give the id of the instance that runs it now (aws ec2 describe-instances --instance-ids i-0123456789abcdef9)",
      "hosts[2].instanceId: i-0aaaaaaaaaaaaaaa1 (host old-web) is no instance of this account in us-east-1, or a terminated one: its alarms would never see data; give the id of the instance that runs it now (aws ec2 describe-instances --instance-ids i-0aaaaaaaaaaaaaaa1)",
    ]);
    expect(r.warnings).toEqual([
      "hosts[3].instanceId: i-0bbbbbbbbbbbbbbb2 (host batch) is stopped: it sends no data, and its not-reporting alarm pages once it has been silent for 15 min; start it, or take it out of hosts while it stays down",
    ]);
    // Every state but terminated, then the running ones: the provider's default would be running only.
    expect(asked.map((a) => a.states.join(",")).sort()).toEqual(["pending,running", "pending,running,stopping,stopped,shutting-down"]);
  });

  it("asks at most 200 ids a call, and nothing for a regime without hosts", async () => {
    const { checkHostInstances } = await import("../components/host-instances");
    asked.length = 0;
    expect(await checkHostInstances([])).toEqual({ lines: [], warnings: [] });
    expect(asked).toEqual([]);
    const many = Array.from({ length: 201 }, (_, i) => ({ name: `h-${i}`, instanceId: `i-${i.toString(16).padStart(17, "0")}` }));
    const r = await checkHostInstances(many);
    expect(r.lines).toHaveLength(201);
    expect(asked.map((a) => a.ids.length).sort()).toEqual([1, 1, 200, 200]);
  });
});

describe("the program (index.ts) at pulumi preview and up", () => {
  it("stops before anything is provisioned, the typo's line among the config errors, naming the key", async () => {
    pulumi.runtime.setAllConfig({
      "maintenance-regime:name": "prod",
      "maintenance-regime:hosts": JSON.stringify([
        { name: "app-1", instanceId: "i-0123456789abcdef0" },
        { name: "app-2", instanceId: "i-0123456789abcdef9" },
      ]),
    });
    const mod = (await import("../index")) as unknown as { default: () => Promise<unknown> };
    const program = mod.default ?? (mod as unknown as () => Promise<unknown>);
    await expect(program()).rejects.toThrow(
      "config error: hosts[1].instanceId: i-0123456789abcdef9 (host app-2) is no instance of this account in us-east-1, or a terminated one: its alarms would never see data; give the id of the instance that runs it now (aws ec2 describe-instances --instance-ids i-0123456789abcdef9)",
    );
    expect(resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm")).toEqual([]);
  });
});

describe("the offline plan", () => {
  it("does not look instance ids up, and its promise line says so", async () => {
    asked.length = 0;
    const { plan } = await runPlan({ stack: "prod", from: new Date("2026-12-01T00:00:00Z") });
    expect(asked).toEqual([]);
    const line = plan.promises!.items.find((p) => p.key.endsWith(".instanceId"));
    expect(line?.figure).toContain("the offline plan cannot look it up");
  });
});
