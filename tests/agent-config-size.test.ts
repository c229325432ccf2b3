/**
 * A tagged host group's CloudWatch agent config travels in an SSM parameter: Standard holds 4 KB,
 * Advanced 8 KB (SSM API Reference, PutParameter, Value). The config is stored as compact JSON,
 * Standard while it fits; a group whose config still exceeds 8 KB is refused on its key with how many
 * of its files would fit.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { runPlan } from "../plan/run";
import { validateRegime } from "../regime/load";
import { refusal } from "./helpers/refusal";
import { ALERTING } from "./helpers/alerting";
import { INSTANCE_STREAM, renderAgentLogsConfig } from "../regime/logs";

const NS = "maintenance-regime";
const FROM = new Date("2026-12-01T00:00:00Z");

/** The trial's shape: log groups of `perGroup` files each, with a timestamp format and a multi-line pattern. */
const logGroups = (groups: string[], perGroup: number) =>
  groups.map((id) => ({
    id,
    name: `/prod/${id}`,
    timestampFormat: "%Y-%m-%d %H:%M:%S",
    multiLineStartPattern: "{timestamp_format}",
    files: Array.from({ length: perGroup }, (_, i) => `/var/log/${id}/${id}-${i}.log`),
  }));
const regime = (groups: ReturnType<typeof logGroups>) => ({ name: "rt", alerting: ALERTING, logs: { hostGroups: [{ name: "app", target: { tagKey: "Role", tagValue: "app" }, logGroups: groups }] } });

/** The parameter value and tier a planned regime stores. */
async function planned(raw: ReturnType<typeof regime>): Promise<{ value: string; tier: string; cost: string }> {
  const file = join(mkdtempSync(join(tmpdir(), "agent-config-")), "Pulumi.rt.yaml");
  writeFileSync(file, YAML.stringify({ config: Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${NS}:${k}`, v])) }));
  const { plan, resources } = await runPlan({ configFile: file, from: FROM });
  const p = resources.find((r) => r.type === "aws:ssm/parameter:Parameter")!;
  return { value: String(p.inputs.insecureValue), tier: String(p.inputs.tier), cost: JSON.stringify(plan) };
}

describe("the agent config's SSM parameter", () => {
  it("the trial's 32 files (9.4 KB indented) plan: compact JSON, 6.4 KB, Advanced, priced at $0.05 a month", async () => {
    const p = await planned(regime(logGroups(["api", "worker", "scheduler", "billing"], 8)));
    expect(Buffer.byteLength(p.value)).toBe(6417);
    expect(p.value.split("\n")).toHaveLength(2);
    expect(JSON.parse(p.value).logs.logs_collected.files.collect_list).toHaveLength(32);
    expect(p.tier).toBe("Advanced");
    expect(p.cost).toContain("SSM advanced parameter AmazonCloudWatch-rt-app-logs");
  }, 120_000);

  it("a config that fits 4 KB compact stays Standard (free)", async () => {
    const p = await planned(regime(logGroups(["api", "worker"], 8)));
    expect(Buffer.byteLength(p.value)).toBeLessThanOrEqual(4096);
    expect(p.tier).toBe("Standard");
    expect(p.cost).not.toContain("SSM advanced parameter");
  }, 120_000);

  it("7.9 KB compact is accepted; one file more than 8 KB is refused on the group's key with how many files fit", () => {
    const near = regime([...logGroups(["api", "worker", "scheduler", "billing"], 8), ...logGroups(["mailer"], 8)]);
    const bytes = Buffer.byteLength(renderAgentLogsConfig(validateRegime(near).logs.hostGroups[0], INSTANCE_STREAM)!);
    expect(bytes).toBeGreaterThan(7900);
    expect(bytes).toBeLessThanOrEqual(8192);
    const over = regime([...logGroups(["api", "worker", "scheduler", "billing"], 8), ...logGroups(["mailer"], 9)]);
    expect(refusal(over)).toBe(
      "logs.hostGroups[0]: the CloudWatch agent config of host group app is 8199 bytes (compact JSON of its 41 files), over the 8192 an SSM parameter holds (Advanced tier): ship at most 40 files from this group (a glob ships every match in one entry), or move some log groups to another host group with the same target (each group's config is its own parameter, appended beside the others)",
    );
  });

  it("every group over 8 KB is refused, each on its own key", () => {
    const big = logGroups(["api", "worker", "scheduler", "billing", "mailer", "search"], 8);
    const raw = { name: "rt", logs: { hostGroups: ["app", "web"].map((name, i) => ({ name, target: { tagKey: "Role", tagValue: name }, logGroups: big.map((g) => ({ ...g, id: `${g.id}${i}`, name: `${g.name}/${name}` })) })) } };
    expect(refusal(raw).split("\n").map((l) => l.replace(/^config error: /, "").split(":")[0])).toEqual(["logs.hostGroups[0]", "logs.hostGroups[1]"]);
  });
});
