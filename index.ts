/**
 * The Pulumi program: the stack's config becomes one validated regime (regime/schema.ts), which the
 * MaintenanceRegime component provisions. Config errors stop the run with one line naming the key.
 * Outputs keep stable names other stacks can read (README "Outputs").
 */
import * as pulumi from "@pulumi/pulumi";
import { bundleZipTasks, taskArchive } from "./build/bundle";
import { MaintenanceRegime, type TaskArchives } from "./components/regime";
import { regimeFromConfig, RegimeConfigError } from "./regime/load";

export = async () => {
  const project = pulumi.getProject();
  let regime;
  try {
    regime = regimeFromConfig(pulumi.runtime.allConfig(), project);
  } catch (err) {
    if (err instanceof RegimeConfigError) throw new pulumi.RunError(`config error: ${err.message}`);
    throw err;
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
  const r = new MaintenanceRegime(regime.name, { regime, archives, sshPrivateKeys });
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
    dashboardName: o.dashboardName,
    logrotateConfigs: o.logrotateConfigs,
    dockerDaemonJson: o.dockerDaemonJson,
    logArchiveBucketName: o.logArchiveBucketName,
    cloudwatchAgentConfig: o.cloudwatchAgentConfig,
    cloudwatchAgentLogConfigs: o.cloudwatchAgentLogConfigs,
    fileBackupWriterPolicyArns: o.fileBackupWriterPolicyArns,
    bundleSha256: Object.fromEntries(bundles.map((b) => [b.task, b.sha256])),
  };
};
