/**
 * The overdue watch of State Manager associations: an association that stops running (its schedule
 * deleted, no instance left in its targets, the SSM agents dead) emits no event and no metric, so the
 * association-failure alarm (components/association-failures.ts) never sees it. Each scheduled
 * association of a host group (logrotate configs, the CloudWatch agent config, each file backup) is
 * handed to the overdue watcher (components/overdue-watch.ts), which reads its last run from State
 * Manager every hour (tasks/lib/association-history.ts) and pages
 * `<regime>-logs-<group>-<kind>-association-overdue-<severity>` when the run its schedule expected is
 * more than OVERDUE_TOLERANCE_MARGIN_SECONDS late. The configuration associations page at
 * ASSOCIATION_FAILURE_SEVERITY, a file backup's at the backup's own severity.
 *
 * State Manager runs an association's cron in UTC. A host group's schedule may be a 5-field cron that
 * the Scheduler grammar (regime/schedule.ts) does not read (regime/logs.ts associationSchedule, resolved
 * where the config is loaded): that association is left unwatched, and the promise check reports it
 * (components/promises.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Severity } from "./alarms";
import { OVERDUE_TOLERANCE_MARGIN_SECONDS, type WatchedJobSpec } from "./overdue-watch";
import type { AssociationSchedule } from "../regime/logs";

/** Resource part of an association's overdue alarm: `logs-<group>-<kind>-association`. */
export function associationWatchResource(group: string, kind: string): string {
  return `logs-${group}-${kind}-association`;
}

/** Job name of an association in the overdue watcher (the metric's Job dimension): `association/<group>/<kind>`. */
export function associationJob(group: string, kind: string): string {
  return `association/${group}/${kind}`;
}

/**
 * The watcher's job for association `associationId` of host group `group` (`kind`: `logrotate`,
 * `cloudwatch-agent` or `file-backup-<name>`) on `schedule` (its cron, run in UTC), paging at `severity`;
 * undefined when the cron is not one the watcher can follow (no `scheduler`: a 5-field SSM cron).
 */
export function associationWatchedJob(
  group: string,
  kind: string,
  schedule: AssociationSchedule,
  severity: Severity,
  associationId: pulumi.Input<string>,
  what: string,
): WatchedJobSpec | undefined {
  const s = schedule.scheduler;
  if (!s) return undefined;
  return {
    job: associationJob(group, kind),
    resource: associationWatchResource(group, kind),
    expression: s.expression,
    timezone: "UTC",
    toleranceSeconds: OVERDUE_TOLERANCE_MARGIN_SECONDS,
    association: { id: associationId },
    severity,
    description: `the State Manager association ${kind} of host group ${group} (${what}, ${s.description} UTC)`,
    byHand:
      "then in State Manager check that the association exists with its schedule, that its targets (the group's tag) match running instances, and that their SSM agents are online; apply it once by hand (Apply association now).",
  };
}
