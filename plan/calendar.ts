/**
 * The plan's maintenance calendar as a picture: every schedule of the plan on a week grid in its own
 * local time, monthly and quarterly jobs on a 35-day strip, the alarms' thresholds beside it.
 */
import { renderCalendarSvg, type CalendarAlarm } from "./calendar-svg";
import type { Plan } from "./run";
import type { PlanRecord } from "../components/plan-record";

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

/**
 * The plan's calendar picture: each schedule the program recorded where it created it
 * (`record`: runPlan's, components/plan-record.ts) in its kind and as the config resolved it, in the
 * plan's calendar order; the alarms beside it.
 */
export function planCalendarSvg(plan: Plan, record: Pick<PlanRecord, "schedules">): string {
  return renderCalendarSvg({
    title: `${plan.project} / ${plan.stack}`,
    // A paused job's schedule is disabled: it runs at none of its times.
    jobs: plan.calendar
      .filter((c) => !c.paused)
      .map((c) => {
        const s = record.schedules[c.schedule];
        if (!s) throw new Error(`calendar: schedule ${c.schedule} has no record (components/plan-record.ts recordSchedule)`);
        return { name: s.name, kind: s.kind, schedule: s.schedule };
      }),
    alarms: calendarAlarms(plan),
    reference: new Date(plan.from),
  });
}
