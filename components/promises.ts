/**
 * What the program will provision for each promise of a regime, as regime/promises.ts's `Declared`
 * model, built from the validated regime with the functions the components themselves use
 * (`databaseSchedules` and `runsOnFargate`, `missedRunWindow`, `rpoAlarmWindow`, `endpointsSetting`,
 * `databaseTierRules`, `physicalName`), before any resource exists. `checkPromises` is what index.ts runs
 * before the MaintenanceRegime is created and what the offline plan reports.
 *
 * Names need no check here: the components shorten every Lambda, role and schedule name to its limit
 * (`physicalName`). Lambda environments are checked before `pulumi up` for the functions whose
 * settings can grow: the endpoint checks (after splitSettings) and the database tasks that run from
 * the container image on Lambda (a drill's CHECKS: `imageTaskSettings`); zip tasks move large
 * settings (a purge's rules) into their bundle.
 *
 * The endpoint down alarm's period comes from regime/endpoints.ts (`downAlarmPeriodSeconds`), as the
 * component's does; a test pins the model against the recorded resources (tests/promises.test.ts,
 * "the model is what is provisioned").
 */
import { BUCKET_PREFIX_SUFFIX_CHARS, DEPLOY_LIMITS, documentSize, LAMBDA_MAX_TIMEOUT_SECONDS, METRIC_HOURLY } from "../regime/limits";
import { alarmName } from "./alarms";
import { databaseTierRules, databaseVaultRules, vaultLifecycleRules } from "./backup-vault";
import { DRILLS_FOLDER, drillRecordKey } from "../tasks/lib/drill-record";
import { ARCHIVE_NONCURRENT_DAYS, archiveBucketPrefix, archiveRuleId, archiveLifecycleRules, archiveRetention, archiveWriterPolicy } from "./log-archive";
import { databaseSchedules, DB_HEALTH_WARNING_SEVERITY, dbTaskMissedRunWindow, dbTaskTimeoutSeconds, imageTaskSettings, rpoAlarmResource, runMarkerSettings, writesRunMarkers, type DbTaskName } from "./database";
import { BURN_ALERTS, burnAlarmFailures, endpointsSetting, errorBudgetMinutes, HEALTH_CHECK_START_MARGIN_SECONDS, healthCheckFunctionName, healthCheckMissedRunSeverity, healthCheckTimeoutSeconds, healthCheckWatchedJob } from "./health-checks";
import { ASSOCIATION_FAILURE_SEVERITY, ASSOCIATION_FAILURE_WINDOW, associationAlarmResource, hostGroupAssociations } from "./association-failures";
import { HOST_SILENT_WINDOW, HOST_STOPPED_WINDOW, hostSilentAlarm, STATUS_CHECK_PERIOD_SECONDS, statusCheckAlarm } from "./host-alarms";
import { fileBackupMissedRunWindow, fileBackupWatchedJob } from "./file-backups";
import { FILE_BACKUP_ROOT, FILE_BACKUP_TIMEOUT_SECONDS, fileBackupPrefix } from "../regime/file-backups";
import { physicalName } from "./naming";
import { queueAlarmMetrics, REDIS_TASK, REDIS_TASK_TIMEOUT_SECONDS, REDIS_WARNING_SEVERITY, redisAlarmPeriodSeconds, redisWatchedJob } from "./redis";
import { REMINDER_UNDELIVERED_SEVERITY, reminderMissedRunWindow, reminderSpec, reminderWatchedJob } from "./reminders";
import { OVERDUE_TOLERANCE_MARGIN_SECONDS, WATCHER_DELAY_SECONDS, WATCHER_MISSED_RUN_WINDOW, watcherSeverity, type WatchedJobSpec } from "./overdue-watch";
import { jobMissedRunWindow, splitSettings, taskOwnSettings } from "./scheduled-task";
import { backupKeys, TIERS } from "../tasks/lib/tiers";
import { checkGaps, checksHaveGaps, checksInWindow, checkStepSeconds, checksSparserThanPeriod, checksStop, downAlarmPeriodSeconds, downAlarmWindow, longestFailingSpanSeconds, unevenChecksProblem } from "../regime/endpoints";
import { backupRunFigure, databaseRunners, vaultAbortIncompleteUploadDays } from "../regime/runners";
import { muteTime } from "../regime/maintenance-windows";
import { logSetRetention } from "../regime/log-retention";
import { ALARM_EVALUATION_SECONDS, evaluatePromises, rpoAlarmWindow, rpoWatchedByOverdueWatcher, type Declared, type DeclaredHistory, type DeclaredJob, type PromiseReport } from "../regime/promises";
import { formatDuration } from "../regime/scheduler-time";
import type { Schedule } from "../regime/schedule";
import type { ConfigSchedule, Regime } from "../regime/schema";
import { lowerSeverity, type Severity } from "../regime/severity";
import { checkedSeverities, unreachablePages, type DeclaredPage, type DeclaredSubscribers } from "../regime/paging-promises";

/** The overdue watcher as a source of pages: its own alarms and the subscription check's. */
const WATCHER_SOURCE = "the overdue watcher";
import { CRIT, WARN } from "./host-alarms";
import { COUNT_METRICS } from "./log-groups";
import type { HostGroup as HostGroupConfig } from "../regime/logs";
import { TASK_CATALOGUE } from "../tasks/catalogue";
import { METRIC_STAMP_MAX_AGE_SECONDS } from "../tasks/lib/runtime";


/** The backup vault's bucket name, unknown before deploy, at its longest (S3: 63 characters). */
const BUCKET_NAME_STAND_IN = "b".repeat(63);

/** When the leftover promises' example keys were written (any date: the rules match keys by prefix only). */
const LEFTOVER_PROBE_DATE = new Date("2026-12-01T02:00:00Z");

/** The first of `removed`, `removed-1`, ... that `taken` refuses: a valid name no config item has. */
function unusedName(taken: (name: string) => boolean): string {
  for (let i = 0; ; i++) {
    const name = i === 0 ? "removed" : `removed-${i}`;
    if (!taken(name)) return name;
  }
}



/**
 * A scheduled job of the model. `longestRunSeconds`: its longest successful run (its timeout), 0 for
 * a job whose success is its start; `watch`: its missed-run alarm window, by default the one
 * ScheduledTask gives a task with that timeout (jobMissedRunWindow).
 */
function job(
  key: string,
  label: string,
  text: string,
  s: Pick<Schedule, "expression" | "timezone" | "intervalSeconds">,
  severity: string | undefined,
  longestRunSeconds: number,
  paused?: boolean,
  watch = jobMissedRunWindow({ schedule: s, longestRunSeconds }),
): DeclaredJob {
  return {
    ...(paused ? { paused } : {}),
    key,
    label,
    text,
    expression: s.expression,
    timezone: s.timezone,
    intervalSeconds: s.intervalSeconds,
    watch,
    longestRunSeconds,
    unwatchedBecause: watch ? undefined : `it runs ${formatDuration(s.intervalSeconds)} apart and a CloudWatch alarm looks back at most 7 days (with the Scheduler's retries, its run and the time its success takes to be seen)`,
    severity,
  };
}

/**
 * Worst-case seconds from an endpoint going down to its down alarm's page: up to one check interval
 * until the first failing check, `failures` periods of `periodSeconds` filled with failures, and
 * CloudWatch's evaluation, once a minute for periods of a minute or more ("Using Amazon CloudWatch
 * alarms": an alarm with a 10 or 30 s period is evaluated every 10 s, others every minute). One
 * check a minute and 5 failures: 60 + 300 + 60 = 420 s (7 min).
 */
export function endpointTimeToPageSeconds(failures: number, checkIntervalSeconds: number, periodSeconds: number): number {
  return checkIntervalSeconds + failures * periodSeconds + ALARM_EVALUATION_SECONDS;
}

/**
 * Whose last run a file backup's figure counts from (components/file-backups.ts): each SSH host's own
 * (its Host dimension, its own missed-run alarm or overdue job), and the tagged instances' together
 * (one metric without Host: the figure holds for the last run on any of them).
 */
export function fileBackupLastRunOn(g: Pick<HostGroupConfig, "sshHosts" | "target">): string {
  const n = g.sshHosts.length;
  const ssh = n === 1 ? `on its SSH host ${g.sshHosts[0].host}` : n > 1 ? `on each of its ${n} SSH hosts` : undefined;
  const tagged = g.target ? `on any instance tagged ${g.target.tagKey}=${g.target.tagValue}` : undefined;
  return [ssh, tagged].filter(Boolean).join(" and ");
}

/**
 * The metric history the overdue watcher reads a job's last run from (its `history`), as the promise
 * engine judges it against CloudWatch's retention; undefined for a job it reads elsewhere (run
 * markers, State Manager).
 */
export function declaredHistory(j: Pick<WatchedJobSpec, "history" | "toleranceSeconds">, intervalSeconds: number): DeclaredHistory | undefined {
  if (!j.history) return undefined;
  const of = j.history.scheduleGroup
    ? `its schedule group's AWS/Scheduler InvocationAttemptCount history`
    : `the history of ${j.history.metric!.namespace} ${j.history.metric!.name}`;
  return { of, keptSeconds: METRIC_HOURLY.retentionSeconds, neededSeconds: intervalSeconds + j.toleranceSeconds + METRIC_HOURLY.periodSeconds };
}

/** The `Declared` model of a validated regime (see the module comment). */
export function declaredFromRegime(r: Regime): Declared {
  const d: Declared = { databases: [], jobs: [], alarms: [], functions: [], names: [] };
  for (const db of r.databases) {
    const key = `databases[${db.id}]`;
    const schedules = databaseSchedules(db);
    const runners = databaseRunners(db, key);
    const backupRun = backupRunFigure(db.sizeGb, runners.backup);
    const jobs: Partial<Record<DbTaskName, DeclaredJob>> = {};
    for (const [task, s] of Object.entries(schedules) as [DbTaskName, ConfigSchedule][]) {
      // The config section of the task (tasks/catalogue.ts): `databases[app].<section>.schedule`.
      const name = TASK_CATALOGUE[task].database.section;
      const section = db[name]!;
      jobs[task] = job(`${key}.${name}.schedule`, `${task} of database ${db.id}`, s.text, s, section.severity, dbTaskTimeoutSeconds(task, db, runners), section.paused, dbTaskMissedRunWindow(task, db, runners, s));
      // Too sparse for a metric alarm: components/database.ts hands the job to the overdue watcher.
      if (!jobs[task]!.watch) jobs[task]!.overdueWatch = { toleranceSeconds: OVERDUE_TOLERANCE_MARGIN_SECONDS, delaySeconds: WATCHER_DELAY_SECONDS };
      d.jobs.push(jobs[task]!);
    }
    // The backup task's own tier settings (components/database.ts imageTaskSettings: WEEKLY_DAY, MONTHLY_DAY, TIMEZONE).
    const backupSettings = imageTaskSettings(db, schedules, BUCKET_NAME_STAND_IN).backup as Record<string, string>;
    d.databases.push({
      id: db.id,
      key,
      backup: jobs.backup!,
      rpoHours: db.backup.rpoHours,
      verify: jobs["verify-backup"] ? { ...jobs["verify-backup"], maxAgeHours: db.verify.maxAgeHours } : undefined,
      drill: jobs["restore-drill"] && db.restoreDrill ? { job: jobs["restore-drill"], rtoMinutes: db.restoreDrill.rtoMinutes, runner: databaseRunners(db, key).drill ?? "lambda" } : undefined,
      // components/regime.ts gives the vault these rules: a paused backup's are Disabled.
      retention: databaseTierRules(db, r.backupVault).map((rule, i) => {
        const tier = TIERS[i];
        return { tier, promisedDays: db.backup.retention[tier], expireDays: rule.expireDays, noncurrentDays: r.backupVault.noncurrentDays, rule: rule.id, prefix: rule.prefix, status: rule.status ?? "Enabled" };
      }),
      tiers: { weeklyDay: Number(backupSettings.WEEKLY_DAY), monthlyDay: Number(backupSettings.MONTHLY_DAY), timeZone: backupSettings.TIMEZONE },
      backupRun: { sizeGb: db.sizeGb, ...backupRun },
      // components/regime.ts: the vault's one abort rule follows the slowest backup of all the databases.
      abortIncompleteUploadDays: vaultAbortIncompleteUploadDays(r.databases),
    });
    // The image tasks on Lambda: nothing but the 4 KB environment carries their settings (a drill's
    // CHECKS grow with the checks listed). Zip tasks (vacuum, reindex, purge, db-health) move settings
    // over the budget into their bundle (splitSettings), and Fargate's container environment has no
    // such limit. The bucket name is an output at deploy: counted here at its longest (63).
    const settings = imageTaskSettings(db, schedules, BUCKET_NAME_STAND_IN);
    const onLambda: [DbTaskName, string][] = [
      ...(runners.backup === "lambda" ? ([["backup", `${key}.backup`], ["verify-backup", `${key}.verify`]] as [DbTaskName, string][]) : []),
      ...(runners.drill === "lambda" && jobs["restore-drill"] ? ([["restore-drill", `${key}.restoreDrill.checks`]] as [DbTaskName, string][]) : []),
    ];
    for (const [task, fnKey] of onLambda) {
      const sparse = writesRunMarkers(task, db, runners, schedules[task]!, jobs[task]!.paused === true);
      d.functions.push({
        key: fnKey,
        name: physicalName(`${r.name}-db-${db.id}-${task}`, 64),
        environment: {
          ...(settings[task as keyof typeof settings] as Record<string, string>),
          ...(sparse ? (runMarkerSettings(db.id, task, BUCKET_NAME_STAND_IN) as Record<string, string>) : {}),
          ...taskOwnSettings({ taskName: task, regime: r.name, instance: db.id, runner: "lambda", schedule: schedules[task]!, timeoutSeconds: dbTaskTimeoutSeconds(task, db, runners) }),
        },
        remedy: task === "restore-drill" ? "list fewer checks or shorter SQL (they travel as JSON in CHECKS), or set restoreDrill.runner: fargate" : undefined,
      });
    }
    // components/database.ts: an RPO over 7 days is no metric alarm's but the overdue watcher's, which
    // pages P0 (its alarm period an hour) once the newest run marker is older than rpoHours.
    const rpoWatched = rpoWatchedByOverdueWatcher(db.backup.rpoHours);
    d.alarms.push({
      key: `${key}.backup.rpoHours`,
      name: alarmName(r.name, { resource: rpoAlarmResource(db.id, rpoWatched), metric: rpoWatched ? "overdue" : "rpo", severity: "P0" }),
      window: rpoWatched ? { period: 3600, evaluationPeriods: 1 } : rpoAlarmWindow(db.backup.rpoHours),
      checkIntervalSeconds: 0,
      promiseText: `P0 page once the newest backup is older than ${db.backup.rpoHours} h (its data, from the backup's start)`,
      // The backup stamps its success with its start: the alarm's window is the data's age at the page.
      // A run longer than a success may be stamped back (tasks/lib/runtime.ts) is counted from that stamp.
      ...(rpoWatched
        ? {}
        : { promisedSeconds: Math.round(db.backup.rpoHours * 3600), lagSeconds: Math.max(0, Math.round(backupRun.slowestSeconds ?? 0) - METRIC_STAMP_MAX_AGE_SECONDS) }),
      severity: "P0",
      components: [rpoWatched ? `${r.name}-overdue` : `${r.name}-db-${db.id}`],
      // components/database.ts: a paused backup's RPO alarm evaluates with its actions off.
      pausedWith: jobs.backup!.key,
      setting: `rpoHours ${db.backup.rpoHours}`,
      ...(rpoWatched ? { overdueWatch: { delaySeconds: WATCHER_DELAY_SECONDS } } : {}),
    });
  }

  for (const x of r.redis) {
    const s = x.schedule;
    const j = job(`redis[${x.id}].schedule`, `${REDIS_TASK} of ${x.id}`, s.text, s, x.severity, REDIS_TASK_TIMEOUT_SECONDS, x.paused);
    // Weekly: components/redis.ts hands it to the overdue watcher, which reads its function's Invocations history.
    const w = redisWatchedJob(`${r.name}-redis-${x.id}`, r.name, x);
    if (w) j.overdueWatch = { toleranceSeconds: w.toleranceSeconds, delaySeconds: WATCHER_DELAY_SECONDS, startOnly: true, history: declaredHistory(w, s.intervalSeconds) };
    d.jobs.push(j);
    // components/redis.ts: a stream entry left unacknowledged past maxPendingIdleMinutes pages at the
    // queue's severity, seen by the next run (up to the longest gap between runs), then the alarm's
    // one period and a minute of evaluation.
    const idleParts = queueAlarmMetrics(x.queues.map((q) => q.name)).pendingIdleParts;
    const period = redisAlarmPeriodSeconds(s);
    x.queues.forEach((q, i) => {
      if (q.maxPendingIdleMinutes <= 0) return;
      const toPage = s.intervalSeconds + period + ALARM_EVALUATION_SECONDS;
      d.alarms.push({
        key: `redis[${x.id}].queues[${q.name}].maxPendingIdleMinutes`,
        name: alarmName(r.name, { resource: `redis-${x.id}`, metric: idleParts[i], severity: q.severity }),
        window: { period, evaluationPeriods: 1 },
        checkIntervalSeconds: s.intervalSeconds,
        promisedSeconds: toPage,
        promiseText: `${q.severity} page when a stream entry of queue ${q.name} stays unacknowledged (read, no XACK) longer than ${formatDuration(q.maxPendingIdleMinutes * 60)}, within ${formatDuration(toPage)} of that, whatever the backlog`,
        severity: q.severity,
        components: [`${r.name}-redis-${x.id}`],
        setting: `maxPendingIdleMinutes ${q.maxPendingIdleMinutes}`,
      });
    });
  }

  if (r.endpoints) {
    const s = r.endpoints.schedule;
    const checker = job("endpoints.schedule", "endpoint checks", s.text, s, healthCheckMissedRunSeverity(s, r.endpoints.checks), healthCheckTimeoutSeconds(r.endpoints.checks), r.endpoints.paused);
    // Weekly: components/health-checks.ts hands the checker to the overdue watcher (its function's runs; its tolerance holds its run).
    const w = healthCheckWatchedJob(`${r.name}-health`, { regime: r.name, schedule: s, endpoints: r.endpoints.checks, paused: r.endpoints.paused });
    if (w) checker.overdueWatch = { toleranceSeconds: w.toleranceSeconds, delaySeconds: WATCHER_DELAY_SECONDS, startOnly: true, history: declaredHistory(w, s.intervalSeconds) };
    d.jobs.push(checker);
    // components/health-checks.ts: one period per check while the checks run, whole minutes, 1 minute to 1 day.
    const period = downAlarmPeriodSeconds(s);
    const step = checkStepSeconds(s);
    const gapped = checksHaveGaps(s);
    // The figures count the real gaps while the checks run (the longest before the failing checks);
    // where the schedule stops (working hours' nights, a clock change) they hold while checks run.
    const stops = checksStop(s);
    const uneven = unevenChecksProblem(s);
    for (const e of r.endpoints.checks) {
      const w = downAlarmWindow(e.failuresBeforeAlarm, s);
      const failures = w.failures;
      // The failing check is seen when its run ends, up to the checker's timeout after its scheduled time (its Healthy is stamped in that time's period).
      const run = healthCheckTimeoutSeconds(r.endpoints.checks);
      const toPage = w.spanSeconds + ALARM_EVALUATION_SECONDS + run;
      const slowest = r.endpoints.checks.reduce((a, b) => (b.timeoutMs > a.timeoutMs ? b : a));
      const counted = period * w.datapointsToAlarm;
      const timeoutFits = (counted - HEALTH_CHECK_START_MARGIN_SECONDS - 1) * 1000;
      d.alarms.push({
        key: `endpoints.checks[${e.name}].failuresBeforeAlarm`,
        name: alarmName(r.name, { resource: `endpoint-${e.name}`, metric: "down", severity: e.severity }),
        window: { period, evaluationPeriods: w.evaluationPeriods, datapointsToAlarm: w.datapointsToAlarm },
        checkIntervalSeconds: checksSparserThanPeriod(s) ? step : checkGaps(s).runningSeconds,
        spanSeconds: w.spanSeconds,
        ...(uneven ? { unevenChecks: { key: "endpoints.schedule", schedule: s.text, ...uneven } } : {}),
        severity: e.severity,
        components: [`${r.name}-health`],
        // components/health-checks.ts: paused checks turn the down alarms' actions off.
        pausedWith: "endpoints.schedule",
        ...(stops ? { whileActive: `while checks run (checks run ${s.text}, ${s.timezone}; while they stop, the hours and days the schedule leaves out or a clock change, the alarm keeps its state)` } : {}),
        // The down alarm's figure, stated whole: the fault is seen at the next check (up to the longest
        // gap while checks run), the failing checks follow at their real gaps and the last fills its
        // period (downAlarmWindow's spanSeconds), and CloudWatch evaluates the alarm
        // once a minute (ALARM_EVALUATION_SECONDS). Fewer datapoints would page sooner but on fewer
        // failed checks than failuresBeforeAlarm says; the promise states the real time instead.
        seenAfterRun: {
          seconds: run,
          missingBreaches: !gapped,
          cause: `every endpoint's Healthy is written when the run ends, up to ${run} s after its scheduled time: ${slowest.name}'s timeoutMs ${slowest.timeoutMs} + ${HEALTH_CHECK_START_MARGIN_SECONDS} s to start`,
          remedy:
            timeoutFits >= 100
              ? `set timeoutMs of ${slowest.name} to at most ${timeoutFits} (the run then ends within the ${counted} s the alarm counts), or raise failuresBeforeAlarm to ${Math.floor(run / period) + 1}`
              : `raise failuresBeforeAlarm to ${Math.floor(run / period) + 1}, or check less often`,
        },
        promisedSeconds: toPage,
        promiseText: `${e.severity} page when ${e.name} is down for ${failures} checks (${Math.round((checksSparserThanPeriod(s) ? failures * s.intervalSeconds : longestFailingSpanSeconds(s, failures)) / 60)} min), within ${formatDuration(toPage)} of the fault`,
        setting: `failuresBeforeAlarm ${failures}`,
        remedy: "check more often or lower failuresBeforeAlarm",
      });
      if (e.uptimeTargetPercent !== undefined) {
        // components/health-checks.ts budgetAlarms: the fast and slow burn pairs, from the same windows and thresholds.
        const target = e.uptimeTargetPercent;
        (d.uptimes ??= []).push({
          key: `endpoints.checks[${e.name}].uptimeTargetPercent`,
          endpoint: e.name,
          targetPercent: target,
          budgetMinutes: errorBudgetMinutes(target),
          // What one check stands for: its step, or on checks unevenly spaced the day's time per check (cron(0,5): 30 min, not 5).
          checkStepSeconds: uneven ? Math.round(86400 / checksInWindow(s, 86400)) : step,
          pairs: BURN_ALERTS.map((b) => ({ name: b.name, burnRate: b.burnRate, severity: b.name === "fast" ? e.uptimeSeverity : lowerSeverity(e.uptimeSeverity), windows: burnAlarmFailures(target, b, period, (w) => checksInWindow(s, w)) })),
          ...(r.endpoints.paused ? { paused: true } : {}),
        });
      }
    }
    const fn = physicalName(healthCheckFunctionName(r.name), 64);
    d.functions.push({
      key: "endpoints.checks",
      name: fn,
      // What the function's environment keeps: settings over the budget travel in its bundle (splitSettings).
      environment: splitSettings({
        ENDPOINTS: endpointsSetting(r.endpoints.checks),
        ...taskOwnSettings({
          taskName: "health-check",
          regime: r.name,
          runner: "lambda",
          schedule: s,
          timeoutSeconds: healthCheckTimeoutSeconds(r.endpoints.checks),
        }),
      }).environment as Record<string, string>,
    });
  }

  // The log sets' retention: the rotate count and maxage regime/logrotate.ts renders, and the log archive's expiry.
  d.logSets = r.logs.hostGroups.flatMap((g) =>
    g.logSets.map((s) => ({ key: `logs.hostGroups[${g.name}].logSets[${s.name}]`, name: s.name, frequency: s.frequency, retention: logSetRetention(s) })),
  );

  const archiveRules = archiveRetention(r.logs.hostGroups);
  for (const g of r.logs.hostGroups) {
    for (const b of g.fileBackups) {
      const s = b.schedule;
      const sched = { expression: s.expression, timezone: "UTC", intervalSeconds: s.intervalSeconds };
      const j = job(`logs.hostGroups[${g.name}].fileBackups[${b.name}].schedule`, `file backup ${g.name}/${b.name}`, s.text, sched, b.severity, FILE_BACKUP_TIMEOUT_SECONDS, b.paused, fileBackupMissedRunWindow(s));
      // Weekly: components/file-backups.ts hands it to the overdue watcher, which reads its success metric's history.
      const watchedBackup = fileBackupWatchedJob(r.name, g, b, s);
      if (watchedBackup) j.overdueWatch = { toleranceSeconds: OVERDUE_TOLERANCE_MARGIN_SECONDS, delaySeconds: WATCHER_DELAY_SECONDS, history: declaredHistory(watchedBackup, s.intervalSeconds) };
      j.lastRunOn = fileBackupLastRunOn(g);
      d.jobs.push(j);
      // components/log-archive.ts: the prefix's rule expires its archives after retentionDays, Disabled while paused.
      const prefix = fileBackupPrefix(g.name, b.name);
      const rule = archiveRules.find((x) => x.prefix === prefix)!;
      (d.fileBackups ??= []).push({
        key: `logs.hostGroups[${g.name}].fileBackups[${b.name}]`,
        job: j,
        retentionDays: rule.expireDays,
        noncurrentDays: ARCHIVE_NONCURRENT_DAYS,
        rule: archiveRuleId(prefix),
        prefix,
        ...(b.paused ? { paused: true } : {}),
      });
    }
  }

  // State Manager associations (logrotate, CloudWatch agent config, file backups) of tagged host
  // groups: a failed run on an instance pages through components/association-failures.ts's alarm;
  // one that stops running is seen by the overdue watcher, which reads its last run from State
  // Manager every hour (components/association-watch.ts), from its scheduled start (startOnly). The
  // file backups' own missed-run alarm or overdue watch, above, sees theirs stop; the configuration
  // associations are modelled here, at the host group's schedule.
  for (const g of r.logs.hostGroups) {
    const kinds = hostGroupAssociations(g);
    if (kinds.length === 0) continue;
    const key = `logs.hostGroups[${g.name}].schedule`;
    const configs = kinds.filter((k) => !k.startsWith("file-backup"));
    // State Manager runs its cron in UTC; a 5-field SSM cron the Scheduler grammar does not read is
    // not followed by the watcher (components/association-watch.ts), and is left to the alarm below.
    const s = configs.length > 0 ? g.schedule.scheduler : undefined;
    if (s) {
      const j = job(key, `${configs.join(" and ")} association of host group ${g.name}`, g.schedule.expression, s, ASSOCIATION_FAILURE_SEVERITY, 0);
      j.watch = undefined;
      j.overdueWatch = { toleranceSeconds: OVERDUE_TOLERANCE_MARGIN_SECONDS, delaySeconds: WATCHER_DELAY_SECONDS, startOnly: true };
      d.jobs.push(j);
    }
    d.alarms.push({
      key,
      name: alarmName(r.name, { resource: associationAlarmResource(g.name), metric: "failed", severity: ASSOCIATION_FAILURE_SEVERITY }),
      window: { ...ASSOCIATION_FAILURE_WINDOW },
      checkIntervalSeconds: 0,
      severity: ASSOCIATION_FAILURE_SEVERITY,
      components: [`${r.name}-logs`],
      promiseText: `${ASSOCIATION_FAILURE_SEVERITY} page when an association of host group ${g.name} (${kinds.join(", ")}) fails on an instance`,
    });
  }

  // components/host-alarms.ts: a host that fails a status check, one that stops or is terminated
  // (its state-change event through an EventBridge rule of its own), and one that sends no status
  // checks at all (a wrong or replaced instance id, a host stopped before the rule existed).
  for (const h of r.hosts) {
    const a = statusCheckAlarm(h);
    const key = `hosts[${h.name}].statusCheck`;
    d.alarms.push({
      key,
      name: alarmName(r.name, a),
      window: { period: STATUS_CHECK_PERIOD_SECONDS, evaluationPeriods: h.statusCheck.minutes },
      checkIntervalSeconds: 0,
      severity: h.statusCheck.severity,
      components: [`${r.name}-monitoring`],
      promiseText: `${h.statusCheck.severity} page when host ${h.name} fails an EC2 status check for ${h.statusCheck.minutes} min`,
      whileActive: "while it sends status checks",
    });
    d.alarms.push({
      key,
      name: alarmName(r.name, { resource: `host-${h.name}`, metric: "stopped", severity: h.statusCheck.severity }),
      window: { ...HOST_STOPPED_WINDOW },
      checkIntervalSeconds: 0,
      severity: h.statusCheck.severity,
      components: [`${r.name}-monitoring`],
      promiseText: `${h.statusCheck.severity} page when host ${h.name} stops or is terminated`,
      whileActive: `of instance ${h.instanceId}, from deploy on`,
    });
    d.alarms.push({
      key: `hosts[${h.name}].instanceId`,
      name: alarmName(r.name, hostSilentAlarm(h)),
      window: { ...HOST_SILENT_WINDOW },
      // The fault (the host's last data point) may open a period that then counts as reported.
      spanSeconds: HOST_SILENT_WINDOW.period * (HOST_SILENT_WINDOW.evaluationPeriods + 1),
      checkIntervalSeconds: 0,
      severity: h.statusCheck.severity,
      components: [`${r.name}-monitoring`],
      promiseText: `${h.statusCheck.severity} page when host ${h.name} sends no EC2 status checks for ${(HOST_SILENT_WINDOW.period * HOST_SILENT_WINDOW.evaluationPeriods) / 60} min (stopped, terminated, replaced, or an instance id of no instance)`,
      whileActive: "(its last status check); pulumi preview and up refuse an id of no instance or a terminated one before deploy, the offline plan cannot look it up",
    });
  }

  for (const m of r.reminders) {
    // components/reminders.ts: a missed-run alarm on the Scheduler's InvocationAttemptCount of the
    // reminder's own schedule group when a metric alarm can see its interval; otherwise the overdue
    // watcher reads that metric's history (with or without a backup vault: its watch start is its
    // schedule group's creation date).
    const s = m.schedule;
    const j = job(`reminders[${m.name}].schedule`, `reminder ${m.name}`, s.text, s, m.severity, 0, m.paused, reminderMissedRunWindow(s));
    const watched = reminderWatchedJob(`${r.name}-reminders`, reminderSpec(m));
    if (watched) j.overdueWatch = { toleranceSeconds: watched.toleranceSeconds, delaySeconds: WATCHER_DELAY_SECONDS, startOnly: true, history: declaredHistory(watched, s.intervalSeconds) };
    d.jobs.push(j);
  }

  // The overdue watcher (components/regime.ts) watches every job above that is not paused, and every
  // RPO over 7 days (P0; a paused one keeps its alarm with the actions off); when it stops, its own
  // missed-run alarm pages at the most urgent of their severities.
  const watched = d.jobs.filter((j) => j.overdueWatch && !j.watch && !j.paused);
  const rpoWatches = d.alarms.filter((a) => a.overdueWatch);
  let watcher: Severity | undefined;
  if (watched.length + rpoWatches.length > 0) {
    const severity = watcherSeverity([...watched.map((j) => ({ severity: (j.severity ?? "P3") as Severity })), ...rpoWatches.map(() => ({ severity: "P0" as Severity }))]);
    watcher = severity;
    for (const x of [...watched.map((j) => j.overdueWatch!), ...rpoWatches.map((a) => a.overdueWatch!)]) x.watcher = { window: WATCHER_MISSED_RUN_WINDOW, severity };
  }
  // The watcher checks each paged severity's subscriptions after deploy; a severity none of whose
  // subscriptions delivers pages the others (components/subscription-watch.ts).
  const pages = declaredPages(r, watcher);
  const subscribers = declaredSubscribers(r);
  const checked = watcher ? checkedSeverities(pages, subscribers) : [];
  d.paging = { pages: [...pages, ...unreachablePages(checked, subscribers, WATCHER_SOURCE)], subscribers, checked };
  // Collections that grow with the config, counted by the functions the components build them with.
  d.counts = [];
  d.leftovers = [];
  if (r.databases.length > 0) {
    const vaultRules = vaultLifecycleRules(r.databases.flatMap((db) => databaseVaultRules(db, r.backupVault)), r.backupVault.noncurrentDays, 1);
    d.counts.push({
      key: "databases",
      what: "the backup vault's lifecycle rules (4 a database: 3 tiers and its drill records; 1 a root for databases no longer configured; 1 for the whole bucket)",
      limit: "lifecycleRules",
      figure: vaultRules.length,
      remedy: "split the databases over two regimes (248 databases fit one)",
    });
    // A database id no database has: its backups and drill records are what a removed database left.
    const gone = unusedName((id) => r.databases.some((db) => db.id === id));
    d.leftovers.push({
      key: "databases",
      what: "backups of a database",
      rules: vaultRules,
      probes: [
        ...TIERS.map((tier) => ({ root: `${tier}/`, key: backupKeys("", tier, gone, LEFTOVER_PROBE_DATE).dump })),
        { root: DRILLS_FOLDER, key: drillRecordKey({ database: gone, outcome: "passed", drillStartedAt: LEFTOVER_PROBE_DATE.toISOString() }) },
      ],
      pausedBy: r.databases.filter((db) => db.backup.paused).map((db) => `databases[${db.id}].backup.paused`),
    });
  }
  const archived = archiveRetention(r.logs.hostGroups);
  if (archived.length > 0) {
    const archiveRules = archiveLifecycleRules(archived, 1);
    d.counts.push({
      key: "logs.hostGroups",
      what: "the log archive's lifecycle rules (1 an archived log set or file backup, 1 or 2 for those no longer configured, 2 for the whole bucket)",
      limit: "lifecycleRules",
      figure: archiveRules.length,
      remedy: "archive fewer log sets or back up fewer file sets in one regime",
    });
    // Keys under no configured prefix: what a removed log set or file backup left.
    const covered = (key: string) => archived.some((a) => key.startsWith(a.prefix));
    const fileBackups = archived.filter((a) => a.prefix.startsWith(FILE_BACKUP_ROOT));
    d.leftovers.push({
      key: "logs.hostGroups",
      what: "archives of a log set or file backup",
      rules: archiveRules,
      probes: [
        { root: "any other key", key: `${unusedName((n) => covered(`${n}/`))}/log/host-1/var/log/app.log-20261201.gz` },
        ...(fileBackups.length > 0 ? [{ root: FILE_BACKUP_ROOT, key: `${fileBackupPrefix(unusedName((n) => covered(fileBackupPrefix(n, "files"))), "files")}host-1/20261201T030000Z.tar.gz` }] : []),
      ],
      pausedBy: r.logs.hostGroups.flatMap((g) => g.fileBackups.filter((b) => b.paused).map((b) => `logs.hostGroups[${g.name}].fileBackups[${b.name}].paused`)),
    });
  }
  if (r.logs.hostGroups.some((g) => g.logSets.some((s) => s.archive))) {
    // The archive bucket's name is S3's at deploy: its prefix and the unique suffix.
    const prefix = archiveBucketPrefix(r.name);
    const arn = `arn:aws:s3:::${prefix.padEnd(Math.min(63, prefix.length + BUCKET_PREFIX_SUFFIX_CHARS), "x")}`;
    d.counts.push({
      key: "logs.hostGroups",
      what: "the log archive's writer policy (one ARN an archived log set)",
      limit: "managedPolicy",
      figure: documentSize(archiveWriterPolicy(arn, r.logs.hostGroups), DEPLOY_LIMITS.managedPolicy.measure),
      remedy: "archive fewer log sets in one regime (one ARN each)",
    });
  }
  if (r.reminders.length > 0) {
    // components/reminders.ts: a schedule group of its own for each reminder. The quota is the account's
    // (per Region): other stacks' groups count too.
    // One group a reminder is what gives each its own metric (AWS/Scheduler's metrics have no schedule
    // dimension): shared groups would lose the per-reminder watch, so the quota is raised, not worked around.
    d.counts.push({ key: "reminders", what: "the reminders' schedule groups (one each)", limit: "scheduleGroups", figure: r.reminders.length, remedy: "declare fewer reminders, or raise the quota" });
  }

  // Maintenance windows and mutes (components/mute-rules.ts provisions them; regime/maintenance-windows.ts
  // reads their times): how long each holds back the pages of the alarms it selects, and when.
  const mute = (key: string, label: string, selects: { alarms: string[]; severities: string[]; components: string[] }, when: { durationSeconds: number; schedule: { expression: string; timezone: string } } | { from?: number; until: number }) => ({
    key,
    label,
    alarms: selects.alarms,
    severities: selects.severities,
    components: selects.components,
    ...when,
  });
  d.mutes = [
    ...r.maintenanceWindows.map((w, i) =>
      mute(`maintenanceWindows[${i}]`, `maintenance window ${w.name}`, w, { durationSeconds: w.durationMinutes * 60, schedule: { expression: w.schedule.expression, timezone: w.schedule.timezone } }),
    ),
    ...r.mutes.map((m, i) =>
      mute(`mutes[${i}]`, `mute until ${m.until}`, m, {
        from: m.from !== undefined ? (muteTime(m.from) as { at: Date }).at.getTime() : undefined,
        until: (muteTime(m.until) as { at: Date }).at.getTime(),
      }),
    ),
  ];
  return d;
}

/**
 * Severities a scheduled task's alarms page (components/scheduled-task.ts): errors and dead letters at
 * its own, a run near its timeout one lower (lowerSeverity), a missed run (its missed-run alarm, or its
 * overdue alarm under the watcher) at `missedRun`, its own by default.
 */
function taskSeverities(severity: Severity, missedRun: Severity = severity): Severity[] {
  return [severity, lowerSeverity(severity), missedRun];
}

/**
 * What publishes to each severity's topic (regime/paging-promises.ts), one entry per config key and
 * severity, from the severities the components give their alarms: every task's (taskSeverities), the
 * RPO's P0, the warning levels (db-health, Redis: P2), the endpoints' down, slow, certificate and
 * error-budget alarms, hosts', applications' and RDS instances' warning (P2) and critical (P1)
 * levels, the log groups' count and error-rate alarms, the host groups' associations (P2) and file
 * backups, reminders (their checklist, a plain-text message, and their watch; the dead-letter alarm,
 * P2) and the overdue watcher (`watcher`: its severity, the most urgent it watches). A paused job's
 * alarms count: they page again once it is resumed. tests/promises.test.ts pins the severities
 * against the alarms the program registers.
 */
export function declaredPages(r: Regime, watcher?: Severity): DeclaredPage[] {
  const out = new Map<string, DeclaredPage>();
  const add = (source: string, severities: Severity[], via: DeclaredPage["via"] = "alarm") => {
    for (const severity of severities) out.set(`${source}\u0000${severity}\u0000${via}`, { source, severity, via });
  };
  for (const db of r.databases) {
    const key = `databases[${db.id}]`;
    for (const task of Object.keys(databaseSchedules(db)) as DbTaskName[]) {
      const section = TASK_CATALOGUE[task].database.section;
      add(`${key}.${section}`, taskSeverities(db[section]!.severity as Severity));
    }
    add(`${key}.backup.rpoHours`, ["P0"]);
    if (db.health) add(`${key}.health`, [DB_HEALTH_WARNING_SEVERITY]);
    if (db.rdsInstanceId) add(`${key}.rdsInstanceId`, [WARN, CRIT]);
  }
  for (const x of r.redis) {
    add(`redis[${x.id}]`, [...taskSeverities(x.severity), REDIS_WARNING_SEVERITY]);
    for (const q of x.queues) add(`redis[${x.id}].queues[${q.name}]`, [q.severity]);
  }
  if (r.endpoints) {
    // components/health-checks.ts: the checker's own alarms are P3; a stopped checker pages healthCheckMissedRunSeverity.
    add("endpoints.schedule", taskSeverities("P3", healthCheckMissedRunSeverity(r.endpoints.schedule, r.endpoints.checks)));
    for (const e of r.endpoints.checks) {
      add(`endpoints.checks[${e.name}]`, [
        e.severity,
        ...(e.maxResponseMs !== undefined ? [e.slowSeverity] : []),
        ...(e.minCertificateDays !== undefined ? [e.certificateSeverity] : []),
        ...(e.uptimeTargetPercent !== undefined ? [e.uptimeSeverity, lowerSeverity(e.uptimeSeverity)] : []),
      ]);
    }
  }
  for (const h of r.hosts) {
    add(`hosts[${h.name}]`, [WARN, CRIT]);
    // components/host-alarms.ts statusCheckAlarm, hostStoppedAlarm, hostSilentAlarm: a failed, stopped or silent host, at its own severity.
    add(`hosts[${h.name}].statusCheck`, [h.statusCheck.severity]);
  }
  for (const a of r.applications) add(`applications[${a.name}]`, [WARN, CRIT]);
  for (const g of r.logs.hostGroups) {
    const key = `logs.hostGroups[${g.name}]`;
    for (const lg of g.logGroups) {
      add(`${key}.logGroups[${lg.id}]`, [
        ...COUNT_METRICS.flatMap((m) => (lg[m.key] ? [lg[m.key]!.severity as Severity] : [])),
        ...lg.patterns.map((p) => p.severity as Severity),
        ...(lg.errorRate ? [WARN, CRIT] : []),
      ]);
    }
    if (hostGroupAssociations(g).length > 0) add(`${key}.schedule`, [ASSOCIATION_FAILURE_SEVERITY]);
    for (const b of g.fileBackups) add(`${key}.fileBackups[${b.name}]`, [b.severity as Severity]);
  }
  for (const m of r.reminders) {
    add(`reminders[${m.name}]`, [m.severity], "message");
    add(`reminders[${m.name}]`, [m.severity]);
  }
  if (r.reminders.length > 0) add("reminders", [REMINDER_UNDELIVERED_SEVERITY]);
  if (watcher) add(WATCHER_SOURCE, taskSeverities(watcher));
  return [...out.values()];
}

/** Who hears each severity (`alerting.<P>`): email, SMS, https, and the chat channels by their channel id. */
export function declaredSubscribers(r: Regime): Record<Severity, DeclaredSubscribers> {
  const of = (c: Regime["alerting"][Severity]): DeclaredSubscribers => ({
    email: c.email,
    sms: c.sms,
    https: c.https,
    chat: [...c.slack.map((x) => `slack ${x.channelId}`), ...c.teams.map((x) => `teams ${x.channelId}`)],
  });
  return { P0: of(r.alerting.P0), P1: of(r.alerting.P1), P2: of(r.alerting.P2), P3: of(r.alerting.P3) };
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
  /** The offline plan: no AWS to ask, so the program does not look up what only AWS knows (hosts' instance ids). */
  offline?: boolean;
  report?: PromiseReport;
  /**
   * CPU time the check took in this process, ms (process.cpuUsage, user + system): the program's
   * `checkPromises` plus, in the offline plan, its audit of the registered resources. Unset when
   * skipped. Read by the plan bench (bench/plan-child.ts) to state the check's share of a plan.
   */
  cpuMs?: number;
}

/** CPU ms (user + system) of this process since `start` (a process.cpuUsage() reading). */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

export function promiseCheckContext(): PromiseCheckContext {
  const g = globalThis as unknown as Record<symbol, PromiseCheckContext>;
  return (g[CONTEXT] ??= {});
}

/** Prefix of each line of a refused run. */
export const PROMISE_LINE_PREFIX = "promise check: ";
