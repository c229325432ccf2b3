/**
 * Severities of the regime's pages, most urgent first: P0 critical (service down, data loss), P1 high,
 * P2 medium, P3 info. One SNS topic each (components/alerting.ts); the config, the alarms and the
 * tasks' watchers use this one list.
 */
export const SEVERITIES = ["P0", "P1", "P2", "P3"] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * One severity lower, P3 at most: a run close to its timeout (components/scheduled-task.ts) and the
 * slow error-budget burn (components/health-checks.ts) page one step below their job's severity.
 */
export function lowerSeverity(s: Severity): Severity {
  return SEVERITIES[Math.min(SEVERITIES.indexOf(s) + 1, SEVERITIES.length - 1)];
}

/** The most urgent of `list` (P0 before P1 ...), or undefined for an empty list. */
export function mostUrgent(list: readonly Severity[]): Severity | undefined {
  return SEVERITIES.find((s) => list.includes(s));
}
