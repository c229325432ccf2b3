/**
 * The Pulumi program: the stack's config becomes one validated regime (regime/schema.ts), which the
 * MaintenanceRegime component provisions. Config errors stop the run before anything is provisioned,
 * every problem on its own line naming the key; so does each broken promise (components/promises.ts).
 * Outputs keep stable names other stacks can read (README "Outputs").
 */
import * as pulumi from "@pulumi/pulumi";
import { bundleZipTasks, taskArchive } from "./build/bundle";
import { checkPromises, cpuMsSince, PROMISE_LINE_PREFIX, promiseCheckContext } from "./components/promises";
import { MaintenanceRegime, type TaskArchives } from "./components/regime";
import { regimeFromConfig, RegimeConfigError } from "./regime/load";

export = async () => {
  const project = pulumi.getProject();
  let regime;
  try {
    regime = regimeFromConfig(pulumi.runtime.allConfig(), project);
  } catch (err) {
    // RunError: Pulumi prints the message as it is (every line), without a stack trace.
    if (err instanceof RegimeConfigError) throw new pulumi.RunError(err.lines.map((l) => `config error: ${l}`).join("\n"));
    throw err;
  }

  // Promises (RPO, verify age, retention, watched jobs, AWS limits) over the next 12 months, before
  // anything is created: every broken one is a line, and any line stops the run.
  // The run's reference date: the promise check's, and where maintenance windows' occurrences start.
  const check = promiseCheckContext();
  check.report = undefined;
  check.cpuMs = undefined;
  const now = new Date();
  const reference = check.from ?? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  if (!check.skip) {
    const started = process.cpuUsage();
    const report = checkPromises(regime, reference);
    check.cpuMs = cpuMsSince(started);
    check.report = report;
    if (report.refusals.length > 0) throw new pulumi.RunError(report.refusals.map((l) => PROMISE_LINE_PREFIX + l).join("\n"));
  }

  // Private keys of SSH-delivered log host groups come from secret config only.
  const config = new pulumi.Config(project);
  const sshPrivateKeys: Record<string, pulumi.Output<string>> = {};
  for (const g of regime.logs.hostGroups) {
    if (g.sshPrivateKeyConfig) sshPrivateKeys[g.sshPrivateKeyConfig] = config.requireSecret(g.sshPrivateKeyConfig);
  }

  const bundles = await bundleZipTasks();
  const archives = {} as TaskArchives;
  for (const b of bundles) archives[b.task as keyof TaskArchives] = taskArchive(b);
  let r: MaintenanceRegime;
  try {
    r = new MaintenanceRegime(regime.name, { regime, archives, sshPrivateKeys, reference });
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
