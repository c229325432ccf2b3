import { describe, expect, it } from "vitest";
import { regimeProblems } from "../regime/load";

/**
 * State Manager association crons cannot name months (AWS Systems Manager user guide, "Reference: Cron
 * and rate expressions for Systems Manager"): every association schedule key is refused at config load,
 * one line naming the key, before anything is planned.
 */
const alerting = { P0: { email: ["a@example.com"] }, P1: { email: ["a@example.com"] }, P2: { email: ["a@example.com"] }, P3: { email: ["a@example.com"] } };
const group = (extra: Record<string, unknown>) => ({
  name: "app",
  target: { tagKey: "Role", tagValue: "app" },
  logSets: [{ name: "app", paths: ["/var/log/app.log"], frequency: "daily", keep: 7, copytruncate: true }],
  ...extra,
});

describe("association schedules that name months are refused at config load", () => {
  it.each([
    ["quarterly, 6 fields", "cron(0 3 1 1,4,7,10 ? *)", "1,4,7,10"],
    ["one month by name", "cron(0 3 ? JAN MON *)", "JAN"],
    ["a month range, 5 fields", "cron(0 3 1 1-6 ?)", "1-6"],
    ["every other month", "cron(0 3 1 */2 ? *)", "*/2"],
  ])("host group schedule: %s", (_label, schedule, months) => {
    const { lines } = regimeProblems({ name: "rt", alerting, logs: { hostGroups: [group({ schedule })] } });
    expect(lines).toEqual([`logs.hostGroups[0].schedule: "${schedule}" names months (${months}); State Manager association schedules cannot: use * in the month field`]);
  });

  it("a file backup on tagged instances (its own association) is refused the same way", () => {
    const { lines } = regimeProblems({
      name: "rt",
      alerting,
      logs: { hostGroups: [group({ fileBackups: [{ name: "uploads", paths: ["/srv/uploads"], schedule: "cron(0 3 ? 1-6 MON *)" }] })] },
    });
    expect(lines).toEqual(['logs.hostGroups[0].fileBackups[0].schedule: "cron(0 3 ? 1-6 MON *)" names months (1-6); State Manager association schedules cannot: use * in the month field']);
  });

  it("every refused key is reported, not only the first", () => {
    const { lines } = regimeProblems({
      name: "rt",
      alerting,
      logs: { hostGroups: [group({ schedule: "cron(0 3 1 1 ? *)" }), group({ name: "web", target: { tagKey: "Role", tagValue: "web" }, logSets: [{ name: "web", paths: ["/var/log/web.log"], frequency: "daily", keep: 7, copytruncate: true }], schedule: "cron(0 4 1 7 ? *)" })] },
    });
    expect(lines).toEqual([
      'logs.hostGroups[0].schedule: "cron(0 3 1 1 ? *)" names months (1); State Manager association schedules cannot: use * in the month field',
      'logs.hostGroups[1].schedule: "cron(0 4 1 7 ? *)" names months (7); State Manager association schedules cannot: use * in the month field',
    ]);
  });

  it("a group of SSH hosts only has no association: its schedule is not State Manager's and may name months", () => {
    const ssh = { name: "legacy", sshHosts: [{ host: "10.0.0.7", user: "ops" }], sshPrivateKeyConfig: "legacyKey", logSets: [{ name: "app", paths: ["/var/log/app.log"], frequency: "daily", keep: 7, copytruncate: true }], schedule: "cron(0 3 ? JAN,JUL * *)" };
    expect(regimeProblems({ name: "rt", alerting, logs: { hostGroups: [ssh] } }).lines).toEqual([]);
  });

  it("every month (*) is taken", () => {
    for (const schedule of ["cron(0 3 ? * * *)", "cron(0 3 ? * SUN *)", "cron(0 3 1 * ? *)"]) {
      expect(regimeProblems({ name: "rt", alerting, logs: { hostGroups: [group({ schedule })] } }).lines).toEqual([]);
    }
  });
});
