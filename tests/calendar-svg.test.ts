import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { escapeXml, kindColor, renderCalendarSvg, type CalendarInput } from "../plan/calendar-svg";
import { calendarAlarms, planCalendarSvg } from "../plan/calendar";
import type { JobKind } from "../components/plan-record";
import { parseSchedule } from "../regime/schedule";
import { renderSvgToPng } from "./helpers/render-svg";

const NY = "America/New_York";
const job = (name: string, kind: string, text: string, tz = NY) => ({ name, kind, schedule: parseSchedule(text, tz) });

// Week of Mon 2025-03-03: Sunday 2025-03-09 is New York's spring-forward day.
const input: CalendarInput = {
  title: "crm-prod",
  reference: new Date("2025-03-05T15:00:00Z"),
  timezone: NY,
  jobs: [
    job("backup-orders", "backup", "daily at 02:00"),
    job("verify-orders", "verify", "daily at 06:00"),
    job("vacuum-orders", "vacuum", "weekly on Wednesday at 03:00"),
    job("reindex-orders", "reindex", "monthly on day 1 at 04:00"),
    job("purge <audit> & co", "purge", "daily at 03:30"),
    job("endpoints", "health", "every 5 minutes"),
    job("restore-drill", "drill", "quarterly on day 1 at 03:00"),
    job("maintenance-window", "reminder", "first Sunday of the month at 02:00"),
    job("eu-backup", "backup", "daily at 02:00", "Europe/Berlin"),
  ],
  alarms: [
    { name: "cpu-high", threshold: "CPU > 80 % for 5 min", severity: "P2" },
    { name: "backup-missing", threshold: "no successful backup in 26 h", severity: "P0" },
    { name: "latency", threshold: "p95 < 500 ms & \"ok\"", severity: "P1" },
  ],
};

const svg = renderCalendarSvg(input);
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute });

/** Every <text> element's content (entities decoded), in document order. */
function texts(xml: string): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if (k === "text") for (const t of v as unknown[]) out.push(typeof t === "object" ? String((t as Record<string, unknown>)["#text"]) : String(t));
      else walk(v);
    }
  };
  walk(parser.parse(xml));
  return out;
}

describe("calendar svg", () => {
  it("is well-formed XML with an svg root", () => {
    expect(XMLValidator.validate(svg)).toBe(true);
    const doc = parser.parse(svg);
    expect(doc.svg[0]["@xmlns"]).toBe("http://www.w3.org/2000/svg");
  });

  it("is byte-identical for the same input", () => {
    expect(renderCalendarSvg(input)).toBe(svg);
    expect(renderCalendarSvg({ ...input, jobs: [...input.jobs].reverse(), alarms: [...input.alarms].reverse() })).toBe(svg);
  });

  it("shows every job at its local time, every alarm threshold and severity", () => {
    const all = texts(svg);
    // Daily New York backups on Mon..Sat; the 02:00 of Sunday 2025-03-09 does not exist there and is skipped.
    expect(all.filter((t) => t === "02:00 backup-orders")).toHaveLength(6);
    // Berlin's 02:00 is drawn at 02:00 too (each job in its own timezone), all seven days.
    expect(all.filter((t) => t === "02:00 eu-backup")).toHaveLength(7);
    expect(all.filter((t) => t === "03:00 vacuum-orders")).toHaveLength(1);
    expect(all.filter((t) => t === "06:00 verify-orders")).toHaveLength(7);
    expect(all.filter((t) => t.startsWith("03:30 purge <audit> & co") || t.startsWith("03:30 purge <audit>"))).toHaveLength(7);
    // The every-5-minutes job is one band, not 2016 boxes.
    expect(all).toContain("endpoints: every 5 min, all week");
    expect(all.filter((t) => t.includes("endpoints"))).toHaveLength(1);
    for (const a of input.alarms) {
      expect(all).toContain(a.threshold);
      expect(all).toContain(a.name);
      expect(all).toContain(a.severity);
    }
    expect(all).toContain("DST");
  });

  it("marks monthly and quarterly jobs on the 35-day strip", () => {
    const all = texts(svg);
    for (const name of ["reindex-orders", "restore-drill", "maintenance-window"]) expect(all).toContain(name);
    // 2025-04-01 04:00 reindex, 03:00 drill; first Sundays 2025-04-06 at 02:00 (2025-03-02 is before the strip).
    const marks = [...svg.matchAll(/<title>([^<]+: \d{4}-\d\d-\d\d \d\d:\d\d [^<]+)<\/title>/g)].map((m) => m[1]);
    expect(marks).toEqual([
      "maintenance-window: 2025-04-06 02:00 America/New_York",
      "reindex-orders: 2025-04-01 04:00 America/New_York",
      "restore-drill: 2025-04-01 03:00 America/New_York",
    ]);
    expect(svg).toContain("<title>maintenance-window: 2025-04-06 02:00 America/New_York</title>");
    expect(svg).toContain("<title>restore-drill: 2025-04-01 03:00 America/New_York</title>");
    expect(all).toContain("Next 35 days from Wed 2025-03-05: monthly and quarterly jobs");
  });

  it("escapes < & > and quotes in names and thresholds", () => {
    expect(svg).toContain("purge &lt;audit&gt; &amp; co");
    expect(svg).not.toContain("purge <audit>");
    expect(svg).toContain("p95 &lt; 500 ms &amp; &quot;ok&quot;");
    expect(escapeXml(`a<b>&"c'\u0001`)).toBe("a&lt;b&gt;&amp;&quot;c&apos;");
  });

  it("draws an empty regime", () => {
    const empty = renderCalendarSvg({ jobs: [], alarms: [], reference: new Date("2025-01-01T00:00:00Z") });
    expect(XMLValidator.validate(empty)).toBe(true);
    expect(texts(empty)).toEqual(expect.arrayContaining(["Maintenance calendar", "no alarms", "no monthly or quarterly jobs"]));
  });
});

describe("rendering with resvg", () => {
  it("renders to a PNG of the SVG's size", () => {
    const { png, width, height } = renderSvgToPng(svg);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    const doc = parser.parse(svg);
    expect([width, height]).toEqual([Number(doc.svg[0]["@width"]), Number(doc.svg[0]["@height"])]);
    expect(png.readUInt32BE(16)).toBe(width);
    expect(png.readUInt32BE(20)).toBe(height);
    expect(png.length).toBeGreaterThan(10_000);
  });

  it("refuses a picture that is not well-formed SVG", () => {
    expect(() => renderSvgToPng(svg.slice(0, svg.length / 2))).toThrow();
  });
});

describe("the kind of each planned schedule, from the program's record", () => {
  it("draws each job in the kind recorded where its schedule was created, whatever words its name holds", () => {
    // Names the old name-reading would have drawn wrongly: a database called "reminders", a reminder
    // about file backups, a host group called "logrotate-archive".
    const recorded: [string, JobKind, string][] = [
      ["prod-db-reminders-backup", "backup", "daily at 02:00"],
      ["prod-db-app-verify-backup", "verify", "daily at 06:00"],
      ["prod-reminders-file-backup-review", "reminder", "weekly on Monday at 09:00"],
      ["prod-logrotate-archive-cloudwatch-logs-1486ddd1", "log shipping", "daily at 03:00"],
      ["prod-app-file-backup-config", "file backup", "daily at 04:00"],
    ];
    const schedules = Object.fromEntries(recorded.map(([name, kind, text]) => [name, { name, kind, schedule: parseSchedule(text, "UTC"), paused: false }]));
    const plan = {
      project: "maintenance-regime",
      stack: "prod",
      from: "2026-12-01T00:00:00.000Z",
      calendar: recorded.map(([name]) => ({ schedule: name })),
      alarms: [],
    } as unknown as Parameters<typeof planCalendarSvg>[0];
    const titles = [...planCalendarSvg(plan, { schedules }).matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]);
    for (const [name, kind] of recorded) expect(titles, name).toContain(`${name} (${kind}): ${schedules[name].schedule.description}, UTC`);
    expect(() => planCalendarSvg({ ...plan, calendar: [{ schedule: "prod-unrecorded" }] } as typeof plan, { schedules })).toThrow(
      "calendar: schedule prod-unrecorded has no record (components/plan-record.ts recordSchedule)",
    );
    expect(new Set(["backup", "log shipping", "file backup", "other"].map(kindColor)).size).toBe(4);
  });
});

describe("the alarms beside the calendar", () => {
  it("show a composite alarm with its windows' thresholds, and not the windows that notify nobody", () => {
    const alarm = (name: string, severity: string, metric: string, condition: string, pages: string) => ({ name, severity, metric, condition, pages, treatMissingData: "breaching", description: "" });
    const plan = {
      alarms: [
        alarm("r-endpoint-api-budget-fast-1h-P2", "P2", "expression 100 * healthy / checks [...]", "< 98.56 over 60 min", "(nobody; part of r-endpoint-api-budget-fast-P2)"),
        alarm("r-endpoint-api-budget-fast-5m-P2", "P2", "expression 100 * healthy / checks [...]", "< 98.56 over 300 s", "(nobody; part of r-endpoint-api-budget-fast-P2)"),
        alarm("r-endpoint-api-budget-fast-P2", "P2", "composite", 'ALARM("r-endpoint-api-budget-fast-1h-P2") AND ALARM("r-endpoint-api-budget-fast-5m-P2")', "r-alerts-P2"),
        alarm("r-host-app-cpu-P2", "P2", "AWS/EC2/CPUUtilization Average", "> 80 over 600 s", "r-alerts-P2"),
        alarm("r-db-app-backup-errors-P1", "P1", "AWS/Lambda/Errors Sum", ">= 1 over 300 s", "r-alerts-P1"),
      ],
    } as unknown as Parameters<typeof calendarAlarms>[0];
    expect(calendarAlarms(plan)).toEqual([
      { name: "r-endpoint-api-budget-fast-P2", threshold: "percent < 98.56 over 60 min and percent < 98.56 over 300 s", severity: "P2" },
      { name: "r-host-app-cpu-P2", threshold: "CPUUtilization Average > 80 over 600 s", severity: "P2" },
      { name: "1 task alarm", threshold: "failed runs, runs near their timeout, missed or overdue runs, dead letters", severity: "P1-P3" },
    ]);
  });
});
