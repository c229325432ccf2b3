/**
 * The plan's maintenance calendar as a picture: every schedule of the plan on a week grid in its own
 * local time, monthly and quarterly jobs on a 35-day strip, the alarms' thresholds beside it.
 */
import { renderCalendarSvg, type CalendarJob } from "./calendar-svg";
import type { Plan } from "./run";

const KINDS: [RegExp, CalendarJob["kind"]][] = [
  [/-verify-backup$/, "verify"],
  [/-restore-drill$/, "drill"],
  [/-backup$/, "backup"],
  [/-vacuum$/, "vacuum"],
  [/-analyze$/, "analyze"],
  [/-reindex$/, "reindex"],
  [/-purge$/, "purge"],
  [/-(db-health|health-task|health-check)$/, "health"],
  [/-logrotate/, "logrotate"],
];

/** The kind of job a schedule runs, from its name (`prod-db-app-backup` -> backup); reminders otherwise. */
export function jobKind(schedule: string): CalendarJob["kind"] {
  return KINDS.find(([re]) => re.test(schedule))?.[1] ?? "reminder";
}

export function planCalendarSvg(plan: Plan): string {
  return renderCalendarSvg({
    title: `${plan.project} / ${plan.stack}: maintenance calendar`,
    jobs: plan.calendar.map((c) => ({
      name: c.schedule,
      kind: jobKind(c.schedule),
      schedule: { expression: c.expression, timezone: c.timezone, description: c.expression, intervalSeconds: 0 },
    })),
    alarms: plan.alarms.map((a) => ({ name: a.name, threshold: `${a.metric.split("/").pop()} ${a.condition}`, severity: a.severity })),
    reference: new Date(plan.from),
  });
}
