/**
 * What the program tells the offline plan that runs it (plan/run.ts), beside the resources and inputs
 * the mocks record: facts the resources do not carry, recorded where the program has them. Under
 * `pulumi up` nobody reads it. Kept on globalThis, like the promise check's context, so the plan and
 * the program share it however the program module was loaded.
 */

/** What the program recorded in one run. */
export interface PlanRecord {
  /** Database id -> `sizeGb` of its config (GB): the cost estimate's dump and restore times and backup storage. */
  databaseSizesGb: Record<string, number>;
  /** Custom metrics the hosts send once per run of a schedule (a file backup's success), with that schedule: the cost estimate bills the hours of those runs. */
  hostMetricRuns: HostMetricRuns[];
}

/** A custom metric written by hosts at each run of a schedule (namespace, name, dimensions) and the schedule (EventBridge cron form with its timezone). */
export interface HostMetricRuns {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  expression: string;
  timezone: string;
}

const RECORD = Symbol.for("maintenance-regime.plan-record");

/** The record of the program's current run (an empty one before the program has run). */
export function planRecord(): PlanRecord {
  const g = globalThis as unknown as Record<symbol, PlanRecord>;
  return (g[RECORD] ??= emptyRecord());
}

/** Starts a new record: the program calls it once per run, before it records anything. */
export function resetPlanRecord(): PlanRecord {
  const g = globalThis as unknown as Record<symbol, PlanRecord>;
  return (g[RECORD] = emptyRecord());
}

function emptyRecord(): PlanRecord {
  return { databaseSizesGb: {}, hostMetricRuns: [] };
}
