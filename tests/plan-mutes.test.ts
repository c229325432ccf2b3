/**
 * The text plan's mute-rule section: a rule that mutes P0 alarms names them, since a P0 that goes into
 * ALARM inside the window never pages (CloudWatch runs alarm actions on state changes only).
 */
import { describe, expect, it } from "vitest";
import { formatPlan } from "../plan/cli";
import type { AlarmEntry, Plan } from "../plan/run";

const alarm = (name: string, severity: string): AlarmEntry => ({ name, severity, metric: "m", condition: "< 1 over 24 h", treatMissingData: "breaching", pages: `shop-alerts-${severity}`, description: "" });

const plan = {
  project: "maintenance-regime",
  stack: "shop",
  configFile: "Pulumi.shop.yaml",
  from: "2026-11-30T00:00:00.000Z",
  resourceCount: 3,
  components: [],
  calendar: [],
  alarms: [alarm("shop-db-app-rpo-P0", "P0"), alarm("shop-endpoint-api-down-P0", "P0"), alarm("shop-host-web-cpu-P1", "P1")],
  muteRules: [
    { name: "shop-mw-nightly", component: "shop-mutes", expression: "cron(0 4 * * *)", timezone: "America/New_York", duration: "PT30M", description: "", alarms: ["shop-db-app-rpo-P0", "shop-host-web-cpu-P1"] },
    { name: "shop-mw-cpu", component: "shop-mutes", expression: "cron(0 5 * * *)", timezone: "UTC", duration: "PT30M", description: "", alarms: ["shop-host-web-cpu-P1"] },
  ],
  cost: { monthlyTotal: 0, components: [], assumptions: [] },
  outputs: {},
} as unknown as Plan;

describe("plan: mute rules", () => {
  it("names the P0 alarms a rule mutes, and says nothing more for a rule without one", () => {
    const lines = formatPlan(plan).split("\n");
    const at = lines.indexOf("  shop-mw-nightly: cron(0 4 * * *) America/New_York for PT30M, 2 alarms");
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toBe("    mutes P0: shop-db-app-rpo-P0 (one that goes into ALARM inside the window pages nobody, then or later while it stays in ALARM: CloudWatch runs alarm actions on state changes only)");
    expect(lines[at + 2]).toBe("  shop-mw-cpu: cron(0 5 * * *) UTC for PT30M, 1 alarms");
  });
});
