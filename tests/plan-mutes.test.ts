/**
 * The text plan's mute-rule section: a rule that mutes P0 alarms names them, since a P0 that goes into
 * ALARM inside the window pages only when it ends, and not at all if it clears inside it (CloudWatch
 * user guide, "How alarm mute rules work").
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runPlan } from "../plan/run";
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
    expect(lines[at + 1]).toBe("    mutes P0: shop-db-app-rpo-P0 (one that goes into ALARM inside the window pages when it ends, if still in ALARM; a fault that clears inside it never pages)");
    expect(lines[at + 2]).toBe("  shop-mw-cpu: cron(0 5 * * *) UTC for PT30M, 1 alarms");
  });
});

describe("plan: a window that runs into its next start on the Scheduler's calendar", () => {
  it("daily at 03:00 New York for 1400 min is refused with the spring-forward date (two starts 1380 min apart)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mw-"));
    const file = join(dir, "Pulumi.mw.yaml");
    writeFileSync(
      file,
      [
        "config:",
        "  maintenance-regime:name: mw",
        "  maintenance-regime:timezone: America/New_York",
        "  maintenance-regime:endpoints:",
        "    checks:",
        "      - name: api",
        "        url: https://a.example.com/health",
        "  maintenance-regime:maintenanceWindows:",
        "    - name: nightly",
        "      schedule: daily at 03:00",
        "      durationMinutes: 1400",
        "      severities: [P3]",
        "",
      ].join("\n"),
    );
    await expect(runPlan({ configFile: file, from: new Date("2026-12-01T00:00:00Z") })).rejects.toThrow(
      'maintenanceWindows[0].durationMinutes: 1400 min is longer than the 1380 min between the starts on 2027-03-13 and 2027-03-14 of "daily at 03:00" in America/New_York (the clock changes between them): a window must end before the next one starts',
    );
  }, 300_000);
});

describe("plan: the cost after the always-free allowances", () => {
  it("is given with and without backup storage, which no always-free allowance covers", () => {
    const withCost = {
      ...plan,
      cost: {
        monthlyTotal: 19.37,
        monthlyBeforeStorage: 17.53,
        components: [],
        assumptions: [],
        freeTier: { monthlyAfterFreeTier: 11.42, items: [{ what: "CloudWatch: 10 of 83 alarm metrics", monthlyUsd: 1 }] },
      },
    } as unknown as Plan;
    const lines = formatPlan(withCost).split("\n");
    expect(lines).toContain("Estimated monthly cost: $19.37 (us-east-1 list prices, $17.53 before backup storage)");
    expect(lines).toContain("  after the always-free allowances (per account; this regime alone in it): $11.42 a month ($9.58 before backup storage)");
  });
});
