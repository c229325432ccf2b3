/**
 * What the program tells the offline plan that runs it (plan/run.ts), beside the resources and inputs
 * the mocks record: facts the resources do not carry, recorded where the program has them. Under
 * `pulumi up` nobody reads it. Kept on globalThis, like the promise check's context, so the plan and
 * the program share it however the program module was loaded.
 */
import type { Schedule } from "../regime/schedule";
import type { TaskKind } from "../tasks/catalogue";

/** Kinds of job the calendar tells apart (plan/calendar-svg.ts colours them): the tasks' (tasks/catalogue.ts) and the jobs that run no task. */
export type JobKind = TaskKind | "reminder" | "logrotate" | "log shipping" | "file backup";

/**
 * One schedule the program created: an EventBridge Scheduler schedule, or a State Manager association
 * with a schedule (in UTC), recorded where it is created.
 */
export interface ScheduleRecord {
  /** Its name in AWS: the Scheduler schedule's `name`, the association's `associationName` (the plan calendar's `schedule`). */
  name: string;
  kind: JobKind;
  /** As the resource runs it (expression, timezone), with the readable description and the longest gap between runs (regime/schedule.ts). */
  schedule: Schedule;
  /** The config key that sets it (`databases[app].backup.schedule`); absent for a schedule the program sets itself (the overdue watcher's hourly one). */
  configKey?: string;
  /** `paused: true` in config: the schedule exists, disabled. */
  paused: boolean;
  /**
   * What a task's schedule starts (components/scheduled-task.ts): its Lambda function (`lambda`, the
   * function's name) or its Fargate task definition (`fargate`, the definition's family). Absent for a
   * schedule that starts no task (a reminder's, an association's).
   */
  starts?: { runner: "lambda" | "fargate"; name: string };
}

/** What the program recorded in one run. */
export interface PlanRecord {
  /** Database id -> `sizeGb` of its config (GB): the cost estimate's dump and restore times and backup storage. */
  databaseSizesGb: Record<string, number>;
  /** Every schedule the program created, by its name in AWS (ScheduleRecord.name): the plan's calendar, its picture and the cost estimate read them. */
  schedules: Record<string, ScheduleRecord>;
  /** Custom metrics the hosts send once per run of a schedule (a file backup's success), with that schedule: the cost estimate bills the hours of those runs. */
  hostMetricRuns: HostMetricRuns[];
}

/**
 * A custom metric written by hosts at each run of a schedule (namespace, name, dimensions: one per
 * dimension set, so each SSH host's file backup metric is one) and the schedule (EventBridge cron form
 * with its timezone and longest interval). `component`: the component whose jobs send it (the logs
 * component's name), where the cost estimate lists a metric no alarm reads (one the overdue watcher reads).
 */
export interface HostMetricRuns {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  schedule: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">;
  component?: string;
}

const RECORD = Symbol.for("maintenance-regime.plan-record");

/** The record of the program's current run (an empty one before the program has run). */
export function planRecord(): PlanRecord {
  const g = globalThis as unknown as Record<symbol, PlanRecord>;
  return (g[RECORD] ??= emptyPlanRecord());
}

/** Starts a new record: the program calls it once per run, before it records anything. */
export function resetPlanRecord(): PlanRecord {
  const g = globalThis as unknown as Record<symbol, PlanRecord>;
  return (g[RECORD] = emptyPlanRecord());
}

/** Records a schedule the program has just created (where it creates it). */
export function recordSchedule(s: ScheduleRecord): void {
  planRecord().schedules[s.name] = s;
}

/** A record with nothing in it. */
export function emptyPlanRecord(): PlanRecord {
  return { databaseSizesGb: {}, schedules: {}, hostMetricRuns: [] };
}
