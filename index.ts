/**
 * The Pulumi program: the stack's config becomes one validated regime (regime/schema.ts), which the
 * MaintenanceRegime component provisions. Config errors stop the run before anything is provisioned,
 * every problem on its own line naming the key; so does each broken promise (components/promises.ts).
 * Outputs keep stable names other stacks can read (README "Outputs").
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { bundleZipTasks, taskArchive } from "./build/bundle";
import { checkPromises, cpuMsSince, PROMISE_LINE_PREFIX, promiseCheckContext } from "./components/promises";
import { MaintenanceRegime, type TaskArchives } from "./components/regime";
import { loadRegime, RegimeConfigError, sortConfigLines } from "./regime/load";
import { targetProblems } from "./components/mute-rules";
import { checkHostInstances } from "./components/host-instances";
import type { Regime } from "./regime/schema";

export = async () => {
  const project = pulumi.getProject();
  // The run's reference date: the promise check's, and where maintenance windows' occurrences start.
  const check = promiseCheckContext();
  check.report = undefined;
  check.cpuMs = undefined;
  const now = new Date();
  const reference = check.from ?? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  // The stack's account: a secret ARN of another account is refused with the config's errors.
  const account = (await aws.getCallerIdentity({})).accountId;
  const loaded = loadRegime(pulumi.runtime.allConfig(), project, reference, account);
  const regime = loaded.regime;
  // Each watched host's instance must exist and not be terminated (the offline plan has no AWS to ask).
  const hosts = (regime ?? loaded.withoutMutes)?.hosts ?? [];
  if (!check.offline && hosts.length > 0) {
    const found = await checkHostInstances(hosts);
    for (const w of found.warnings) pulumi.log.warn(w);
    loaded.lines = sortConfigLines([...loaded.lines, ...found.lines]);
  }

  // Promises (RPO, verify age, retention, watched jobs, AWS limits) over the next 12 months, before
  // anything is created: every broken one is a line, and any line stops the run. They need a valid
  // regime, so a config with errors is judged on its promises once those are fixed.
  let refusals: string[] = [];
  if (regime && !check.skip) {
    const started = process.cpuUsage();
    const report = checkPromises(regime, reference);
    check.cpuMs = cpuMsSince(started);
    check.report = report;
    refusals = report.refusals;
  }

  // Private keys of SSH-delivered log host groups come from secret config only.
  const config = new pulumi.Config(project);
  let bundles: Awaited<ReturnType<typeof bundleZipTasks>> = [];
  const build = async (r: Regime): Promise<MaintenanceRegime> => {
    const sshPrivateKeys: Record<string, pulumi.Output<string>> = {};
    for (const g of r.logs.hostGroups) {
      if (g.sshPrivateKeyConfig) sshPrivateKeys[g.sshPrivateKeyConfig] = config.requireSecret(g.sshPrivateKeyConfig);
    }
    bundles = await bundleZipTasks();
    const archives = {} as TaskArchives;
    for (const b of bundles) archives[b.task as keyof TaskArchives] = taskArchive(b);
    return MaintenanceRegime.create(r.name, { regime: r, archives, sshPrivateKeys, reference });
  };
  if (loaded.lines.length > 0 || refusals.length > 0) {
    // The alarms and components a window or mute names exist only once the regime is built. When
    // every part that makes them is valid, a preview (and the offline plan) builds the regime without
    // its windows and mutes, which creates nothing, so those names are refused in this run too; an
    // update run (pulumi up --skip-preview) provisions what it builds, so it refuses without them.
    const known = regime ?? loaded.withoutMutes;
    const lines = [...loaded.lines];
    if (known && pulumi.runtime.isDryRun() && loaded.targets.some((t) => t.alarms.length + t.components.length > 0)) {
      const { alarms, components } = (await build({ ...known, maintenanceWindows: [], mutes: [] })).alarmCatalog;
      lines.push(...loaded.targets.flatMap((t) => targetProblems(t, alarms, components)));
    }
    // RunError: Pulumi prints the message as it is (every line), without a stack trace.
    throw new pulumi.RunError([...sortConfigLines(lines).map((l) => `config error: ${l}`), ...refusals.map((l) => PROMISE_LINE_PREFIX + l)].join("\n"));
  }

  let r: MaintenanceRegime;
  try {
    r = await build(regime!);
  } catch (err) {
    // What only the built regime can tell: a mute naming an alarm or component it does not have.
    if (err instanceof RegimeConfigError) throw new pulumi.RunError(err.lines.map((l) => `config error: ${l}`).join("\n"));
    throw err;
  }
  const o = r.outputs;
  return {
    regimeName: o.regimeName,
    alertTopicArns: o.alertTopicArns,
    alertKmsKeyArn: o.alertKmsKeyArn,
    backupBucketName: o.backupBucketName,
    backupBucketArn: o.backupBucketArn,
    backupKmsKeyArn: o.backupKmsKeyArn,
    taskArns: o.taskArns,
    scheduleNames: o.scheduleNames,
    rpoAlarmNames: o.rpoAlarmNames,
    overdueAlarmNames: o.overdueAlarmNames,
    taskImageUris: o.taskImageUris,
    runNow: o.runNow,
    dashboardName: o.dashboardName,
    logrotateConfigs: o.logrotateConfigs,
    dockerDaemonJson: o.dockerDaemonJson,
    logArchiveBucketName: o.logArchiveBucketName,
    cloudwatchAgentConfig: o.cloudwatchAgentConfig,
    cloudwatchAgentLogConfigs: o.cloudwatchAgentLogConfigs,
    fileBackupWriterPolicyArns: o.fileBackupWriterPolicyArns,
    muteRules: o.muteRules,
    containerLogging: o.containerLogging,
    containerLogWriterPolicyArns: o.containerLogWriterPolicyArns,
    bundleSha256: Object.fromEntries(bundles.map((b) => [b.task, b.sha256])),
  };
};
