/**
 * The plan's maintenance calendar as a picture: every schedule of the plan on a week grid in its own
 * local time, monthly and quarterly jobs on a 35-day strip, the alarms' thresholds beside it.
 */
import { parseSchedule } from "../regime/schedule";
import { renderCalendarSvg, type CalendarAlarm, type CalendarJob } from "./calendar-svg";
import type { Plan } from "./run";
import { TASK_CATALOGUE, TASK_NAMES, type TaskEntry, type TaskKind } from "../tasks/catalogue";

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A task's schedule ends in its name (`prod-db-app-verify-backup`) or in the catalogue's
 * `scheduleSuffix` (`prod-health-task`). One alternation, so the longest name wins: the leftmost
 * match starts at `-verify-backup` before `-backup`.
 */
const TASK_SUFFIXES = new Map<string, TaskKind>();
for (const t of TASK_NAMES) {
  const s = (TASK_CATALOGUE[t] as TaskEntry).scheduled;
  if (!s) continue;
  TASK_SUFFIXES.set(t, s.kind);
  if (s.scheduleSuffix) TASK_SUFFIXES.set(s.scheduleSuffix, s.kind);
}
const TASK_SCHEDULE = new RegExp(`-(${[...TASK_SUFFIXES.keys()].map(escapeRe).join("|")})$`);

/** What a schedule's name says besides a task: reminders and file backups first, whatever words their names hold. */
const KINDS: [RegExp, CalendarJob["kind"]][] = [
  [/-reminders-/, "reminder"],
  [/-file-backup-/, "file backup"],
];
const HOST_KINDS: [RegExp, CalendarJob["kind"]][] = [
  [/-logrotate/, "logrotate"],
  [/-cloudwatch-logs/, "log shipping"],
];

/** The kind of job a schedule runs, from its name (`prod-db-app-backup` -> backup, `prod-reminders-x` -> reminder). */
export function jobKind(schedule: string): CalendarJob["kind"] {
  const named = KINDS.find(([re]) => re.test(schedule))?.[1];
  if (named) return named;
  const task = TASK_SCHEDULE.exec(schedule)?.[1];
  if (task) return TASK_SUFFIXES.get(task)!;
  return HOST_KINDS.find(([re]) => re.test(schedule))?.[1] ?? "other";
}

/** Alarms every scheduled task gets; the picture counts them instead of listing each. */
const TASK_ALARM = /-(errors|duration|dead-letters|missed-run|undelivered|overdue)-P[0-3]$/;

/** Threshold alarms (what the guides watch) one by one, the per-task alarms as one summary line. */
export function calendarAlarms(plan: Plan): CalendarAlarm[] {
  // Alarms that only feed a composite alarm notify nobody: the composite stands for them.
  const feedsComposite = (a: Plan["alarms"][number]) => String(a.pages ?? "").startsWith("(nobody; part of ");
  const byName = new Map(plan.alarms.map((a) => [a.name, a]));
  const alarms = plan.alarms.filter((a) => !feedsComposite(a));
  const watched = alarms.filter((a) => !TASK_ALARM.test(a.name));
  const task = alarms.length - watched.length;
  const metric = (m: string) => (m.startsWith("expression ") ? "percent" : m.slice(m.lastIndexOf("/") + 1));
  const threshold = (a: Plan["alarms"][number]): string => {
    if (a.metric !== "composite") return `${metric(a.metric)} ${a.condition}`;
    const parts = [...a.condition.matchAll(/ALARM\("([^"]+)"\)/g)].map((m) => byName.get(m[1])).filter((c) => c !== undefined);
    return parts.length ? parts.map((c) => `${metric(c.metric)} ${c.condition}`).join(" and ") : a.condition;
  };
  const list = watched.map((a) => ({ name: a.name, threshold: threshold(a), severity: a.severity }));
  if (task > 0) list.push({ name: `${task} task alarm${task === 1 ? "" : "s"}`, threshold: "failed runs, runs near their timeout, missed or overdue runs, dead letters", severity: "P1-P3" });
  return list;
}

export function planCalendarSvg(plan: Plan): string {
  return renderCalendarSvg({
    title: `${plan.project} / ${plan.stack}`,
    // A paused job's schedule is disabled: it runs at none of its times.
    jobs: plan.calendar.filter((c) => !c.paused).map((c) => ({ name: c.schedule, kind: jobKind(c.schedule), schedule: parseSchedule(c.expression, c.timezone) })),
    alarms: calendarAlarms(plan),
    reference: new Date(plan.from),
  });
}
