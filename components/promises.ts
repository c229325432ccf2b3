/**
 * What the program will provision for each promise of a regime, as regime/promises.ts's `Declared`
 * model, built from the validated regime with the functions the components themselves use
 * (`databaseSchedules` and `runsOnFargate`, `missedRunWindow`, `rpoAlarmWindow`, `endpointsSetting`,
 * `tierRules`, `physicalName`), before any resource exists. `checkPromises` is what index.ts runs
 * before the MaintenanceRegime is created and what the offline plan reports.
 *
 * Names need no check here: the components shorten every Lambda, role and schedule name to its limit
 * (`physicalName`). The environments of the database tasks (a drill's CHECKS, a purge's rules) are
 * checked only by the offline plan's audit of the recorded resources (plan/promises.ts), not yet
 * before `pulumi up`.
 *
 * Two figures are not yet exported by their components and are restated here, each pinned by a test
 * against the recorded resources (tests/promises.test.ts, "the model is what is provisioned"): the
 * endpoint down alarm's period (components/health-checks.ts) and the file-backup alarm's hour of
 * slack (components/logs.ts).
 */
import { alarmName } from "./alarms";
import { tierRules } from "./backup-vault";
import { rpoAlarmWindow, type DbTaskName } from "./database";
import { endpointsSetting } from "./health-checks";
import { physicalName } from "./naming";
import { REDIS_TASK } from "./redis";
import { databaseSchedules } from "./regime";
import { OVERDUE_TOLERANCE_MARGIN_SECONDS, WATCHER_DELAY_SECONDS } from "./overdue-watch";
import { jobMissedRunWindow, missedRunWindow, splitSettings } from "./scheduled-task";
import { TIERS } from "../tasks/lib/tiers";
import { failuresBeforeDown } from "../regime/endpoints";
import { databaseRunners } from "../regime/runners";
import { fileBackupSchedule } from "../regime/file-backups";
import { resolveSchedule } from "../regime/load";
import { evaluatePromises, type Declared, type DeclaredJob, type PromiseReport } from "../regime/promises";
import type { Schedule } from "../regime/schedule";
import type { Regime, ScheduleInput } from "../regime/schema";
import { TASK_CATALOGUE } from "../tasks/catalogue";
import { METRICS_NAMESPACE_DEFAULT } from "../tasks/lib/runtime";

const WEEK_SECONDS = 7 * 86400;
/** components/logs.ts: a file backup's missed-run alarm allows an hour more than its interval, at most 7 days. */
const FILE_BACKUP_SLACK_SECONDS = 3600;

const textOf = (input: ScheduleInput) => (typeof input === "string" ? input : input.at);

function job(key: string, label: string, input: ScheduleInput, s: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">, severity?: string, watch = jobMissedRunWindow(s.intervalSeconds)): DeclaredJob {
  return {
    key,
    label,
    text: textOf(input),
    expression: s.expression,
    timezone: s.timezone,
    intervalSeconds: s.intervalSeconds,
    watch,
    unwatchedBecause: watch ? undefined : `it runs ${Math.round(s.intervalSeconds / 86400)} days apart and a CloudWatch alarm looks back at most 7 days`,
    severity,
  };
}

/** The `Declared` model of a validated regime (see the module comment). */
export function declaredFromRegime(r: Regime): Declared {
  const d: Declared = { databases: [], jobs: [], alarms: [], functions: [], names: [] };
  for (const db of r.databases) {
    const key = `databases[${db.id}]`;
    const schedules = databaseSchedules(db, r.timezone);
    const jobs: Partial<Record<DbTaskName, DeclaredJob>> = {};
    for (const [task, s] of Object.entries(schedules) as [DbTaskName, Schedule][]) {
      // The config section of the task (tasks/catalogue.ts): `databases[app].<section>.schedule`.
      const name = TASK_CATALOGUE[task].database.section;
      const section = db[name]!;
      jobs[task] = job(`${key}.${name}.schedule`, `${task} of database ${db.id}`, section.schedule, s, section.severity);
      // Too sparse for a metric alarm: components/database.ts hands the job to the overdue watcher.
      if (!jobMissedRunWindow(s.intervalSeconds)) jobs[task]!.overdueWatch = { toleranceSeconds: OVERDUE_TOLERANCE_MARGIN_SECONDS, delaySeconds: WATCHER_DELAY_SECONDS };
      d.jobs.push(jobs[task]!);
    }
    const archive = r.backupVault.archiveAfterDays ? { archive: { afterDays: r.backupVault.archiveAfterDays } } : {};
    d.databases.push({
      id: db.id,
      key,
      backup: jobs.backup!,
      rpoHours: db.backup.rpoHours,
      verify: jobs["verify-backup"] ? { ...jobs["verify-backup"], maxAgeHours: db.verify.maxAgeHours } : undefined,
      drill: jobs["restore-drill"] && db.restoreDrill ? { job: jobs["restore-drill"], rtoMinutes: db.restoreDrill.rtoMinutes, runner: databaseRunners(db, key).drill ?? "lambda" } : undefined,
      retention: tierRules(db.id, db.backup.retention, archive).map((rule, i) => {
        const tier = TIERS[i];
        return { tier, promisedDays: db.backup.retention[tier], expireDays: rule.expireDays, noncurrentDays: r.backupVault.noncurrentDays };
      }),
    });
    d.alarms.push({
      key: `${key}.backup.rpoHours`,
      name: alarmName(r.name, { resource: `db-${db.id}`, metric: "rpo", severity: "P0" }),
      window: rpoAlarmWindow(db.backup.rpoHours),
      checkIntervalSeconds: 0,
      promiseText: `P0 page when no backup for ${db.backup.rpoHours} h`,
      setting: `rpoHours ${db.backup.rpoHours}`,
      remedy: "set rpoHours to at most 168",
    });
  }

  for (const x of r.redis) {
    const s = resolveSchedule(x.schedule, r.timezone);
    d.jobs.push(job(`redis[${x.id}].schedule`, `${REDIS_TASK} of ${x.id}`, x.schedule, s, x.severity));
  }

  if (r.endpoints) {
    const s = resolveSchedule(r.endpoints.schedule, r.timezone);
    d.jobs.push(job("endpoints.schedule", "endpoint checks", r.endpoints.schedule, s, "P1"));
    // components/health-checks.ts: one period per check interval, whole minutes, 1 minute to 1 day.
    const period = Math.max(60, Math.min(86400, Math.round(s.intervalSeconds / 60) * 60));
    for (const e of r.endpoints.checks) {
      const failures = failuresBeforeDown(e.failuresBeforeAlarm, period);
      d.alarms.push({
        key: `endpoints.checks[${e.name}].failuresBeforeAlarm`,
        name: alarmName(r.name, { resource: `endpoint-${e.name}`, metric: "down", severity: e.severity }),
        window: { period, evaluationPeriods: failures, datapointsToAlarm: failures },
        checkIntervalSeconds: s.intervalSeconds,
        promisedSeconds: failures * s.intervalSeconds,
        promiseText: `${e.severity} page when ${e.name} is down for ${failures} checks (${Math.round((failures * s.intervalSeconds) / 60)} min)`,
        setting: `failuresBeforeAlarm ${failures}`,
        remedy: "check more often or lower failuresBeforeAlarm",
      });
    }
    const fn = physicalName(`${r.name}-health-task`, 64);
    d.functions.push({
      key: "endpoints.checks",
      name: fn,
      // What the function's environment keeps: settings over the budget travel in its bundle (splitSettings).
      environment: splitSettings({ TASK: "health-check", REGIME_NAME: r.name, METRICS_NAMESPACE: METRICS_NAMESPACE_DEFAULT, ENDPOINTS: endpointsSetting(r.endpoints.checks) }).environment as Record<string, string>,
    });
  }

  for (const g of r.logs.hostGroups) {
    for (const b of g.fileBackups) {
      const s = fileBackupSchedule(b.schedule, r.timezone);
      const sched = { expression: s.expression, timezone: "UTC", intervalSeconds: s.intervalSeconds };
      d.jobs.push(
        job(`logs.hostGroups[${g.name}].fileBackups[${b.name}].schedule`, `file backup ${g.name}/${b.name}`, b.schedule, sched, b.severity, missedRunWindow(Math.min(s.intervalSeconds + FILE_BACKUP_SLACK_SECONDS, WEEK_SECONDS))),
      );
    }
  }

  for (const m of r.reminders) {
    const s = resolveSchedule(m.schedule, r.timezone);
    const j = job(`reminders[${m.name}].schedule`, `reminder ${m.name}`, m.schedule, s, m.severity, undefined);
    j.unwatchedBecause = "a reminder that could not be delivered pages P2 (dead-letter alarm); one the Scheduler never starts is not noticed";
    d.jobs.push(j);
  }
  return d;
}

/**
 * The promises of a validated regime over the 12 months after `from`, with `acceptedRisks` applied;
 * `refusals` holds one line per broken promise and stale acceptance (empty: the run may go on).
 */
export function checkPromises(r: Regime, from: Date): PromiseReport {
  return evaluatePromises(declaredFromRegime(r), from, r.acceptedRisks ?? []);
}

const CONTEXT = Symbol.for("maintenance-regime.promise-check");

/**
 * Shared by the program and the offline plan that runs it: the plan sets `from` (its reference date)
 * and may set `skip` (to measure the plan without the check); the program leaves its report here.
 * Kept on globalThis so the plan and the program share it however the program module was loaded.
 */
export interface PromiseCheckContext {
  from?: Date;
  skip?: boolean;
  report?: PromiseReport;
}

export function promiseCheckContext(): PromiseCheckContext {
  const g = globalThis as unknown as Record<symbol, PromiseCheckContext>;
  return (g[CONTEXT] ??= {});
}

/** Prefix of each line of a refused run. */
export const PROMISE_LINE_PREFIX = "promise check: ";
