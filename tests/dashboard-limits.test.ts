/**
 * The dashboard stays within what PutDashboard accepts: an alarm status widget lists 1-100 alarm ARNs
 * (CloudWatch API reference, Dashboard Body Structure), so a regime of three databases (124 alarms)
 * gets two alarm widgets, not one PutDashboard refuses at deploy; a graph holds at most 500 metrics, so
 * the per-task graphs of a large regime split the same way.
 */
import { describe, expect, it } from "vitest";
import { ALARM_WIDGET_MAX_ALARMS, dashboardBody, GRAPH_MAX_METRICS } from "../components/dashboard";

type Widget = { type: string; y: number; height: number; properties: { title: string; alarms?: string[] } };
const arns = (n: number) => Array.from({ length: n }, (_, i) => `arn:aws:cloudwatch:us-east-1:123456789012:alarm:prod-a${String(i).padStart(3, "0")}`);
const alarmWidgets = (alarms: string[]) =>
  (JSON.parse(dashboardBody("prod", "us-east-1", { databases: ["app"], endpoints: [], tasks: [] }, alarms)) as { widgets: Widget[] }).widgets.filter((w) => w.type === "alarm");

describe("the dashboard's alarm widgets", () => {
  it("250 alarms: three widgets of 100, 100 and 50, each alarm in exactly one, stacked above the rest", () => {
    const all = arns(250);
    const widgets = alarmWidgets([...all].reverse());
    expect(widgets.map((w) => [w.properties.title, w.properties.alarms!.length])).toEqual([
      ["prod: alarms (1 of 3)", 100],
      ["prod: alarms (2 of 3)", 100],
      ["prod: alarms (3 of 3)", 50],
    ]);
    expect(widgets.flatMap((w) => w.properties.alarms)).toEqual(all);
    expect(widgets.every((w) => w.properties.alarms!.length <= ALARM_WIDGET_MAX_ALARMS)).toBe(true);
    expect(widgets.map((w) => w.y)).toEqual([0, widgets[0].height, widgets[0].height + widgets[1].height]);
  });

  it("100 alarms: one widget with all of them; none: no alarm widget (an empty one is refused too)", () => {
    expect(alarmWidgets(arns(100)).map((w) => [w.properties.title, w.properties.alarms!.length])).toEqual([["prod: alarms", 100]]);
    expect(alarmWidgets([])).toEqual([]);
  });
});

describe("the dashboard's graphs", () => {
  it("a regime of 70 databases with 8 tasks each (560 task series): the task graphs split at 500 series, every series kept once", () => {
    const databases = Array.from({ length: 70 }, (_, i) => `db${i}`);
    const tasks = databases.flatMap((d) => ["backup", "verify-backup", "restore-drill", "vacuum", "analyze", "reindex", "purge", "db-health"].map((task) => ({ task, database: d, functionName: `prod-${d}-${task}` })));
    const widgets = (JSON.parse(dashboardBody("prod", "us-east-1", { databases, endpoints: [], tasks }, [])) as { widgets: (Widget & { properties: { metrics?: unknown[] } })[] }).widgets;
    const failed = widgets.filter((w) => w.properties.title.startsWith("Task runs failed"));
    expect(failed.map((w) => [w.properties.title, w.properties.metrics!.length])).toEqual([
      ["Task runs failed (1 of 2)", GRAPH_MAX_METRICS],
      ["Task runs failed (2 of 2)", 60],
    ]);
    expect(new Set(failed.flatMap((w) => w.properties.metrics!.map((m) => JSON.stringify(m)))).size).toBe(560);
    expect(widgets.every((w) => (w.properties.metrics ?? []).length <= GRAPH_MAX_METRICS)).toBe(true);
  });
});
