/**
 * The CloudWatch agent `logs` config that ships the hosts' files into their log groups: appended to
 * the agent's configuration through an SSM parameter and AmazonCloudWatch-ManageAgent for tagged
 * instances, over SSH for the rest. Delivered after the log groups exist, so the agent never creates
 * one without retention. Part of the logs component (components/logs.ts).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { INSTANCE_STREAM, renderAgentLogsConfig, sshStreamName, ssmParameterTier, type HostGroup } from "../regime/logs";
import { renderAgentScript } from "../regime/logrotate";
import { groupRun, runOnSshHosts, sha256, type LogsScope } from "./host-delivery";
import { ASSOCIATION_FAILURE_SEVERITY } from "./association-failures";
import { associationWatchedJob } from "./association-watch";

/** AWS-owned SSM document that installs, configures and restarts the CloudWatch agent. */
export const AGENT_DOCUMENT = "AmazonCloudWatch-ManageAgent";

/** SSM parameter of a host group's agent logs config; CloudWatchAgentServerPolicy reads only AmazonCloudWatch-*. */
export function agentParameterName(regime: string, group: string): string {
  return `AmazonCloudWatch-${regime}-${group}-logs`;
}

/** What the agent delivery rendered and where it put it. */
export interface LogAgent {
  /** CloudWatch agent logs config: `<hostGroup>` (tagged instances) and `<hostGroup>/<ssh host>` -> JSON. */
  configs: Record<string, string>;
  /** Host group -> SSM parameter holding its agent logs config (groups with a tag target and files). */
  parameterNames: Record<string, pulumi.Output<string>>;
}

/**
 * Delivers each host group's agent logs config (groups with files to ship) to its tagged instances
 * and SSH hosts. `logGroupsOf`: host group -> its created log groups, which the delivery waits for.
 */
export function deliverAgentConfigs(scope: LogsScope, logGroupsOf: Record<string, aws.cloudwatch.LogGroup[]>): LogAgent {
  const { args } = scope;
  const out: LogAgent = { configs: {}, parameterNames: {} };
  for (const g of args.logs.hostGroups) {
    if (g.target) {
      const config = renderAgentLogsConfig(g, INSTANCE_STREAM);
      if (config) {
        out.configs[g.name] = config;
        out.parameterNames[g.name] = agentSsmDelivery(scope, g, config, logGroupsOf[g.name]);
      }
    }
    for (const h of g.sshHosts) {
      const config = renderAgentLogsConfig(g, sshStreamName(h.host));
      if (!config) continue;
      out.configs[`${g.name}/${h.host}`] = config;
      const script = renderAgentScript({ regime: args.regime, group: g.name, config, mode: h.agentMode });
      runOnSshHosts(scope, g, [h], "cwagent-ssh", script, { dependsOn: logGroupsOf[g.name] });
    }
  }
  return out;
}

/**
 * The group's agent logs config in an SSM parameter (AmazonCloudWatch-*, which the managed policy
 * CloudWatchAgentServerPolicy lets instances read) and a State Manager association of the AWS-owned
 * AmazonCloudWatch-ManageAgent document that appends it to the agent's configuration on the group's
 * instances, on the group's schedule, restarting the agent. Returns the parameter's name.
 */
function agentSsmDelivery(scope: LogsScope, g: HostGroup, config: string, logGroups: aws.cloudwatch.LogGroup[]): pulumi.Output<string> {
  const { name, args, tags, parent } = scope;
  const parameter = new aws.ssm.Parameter(
    `${name}-${g.name}-cwagent-config`,
    {
      name: agentParameterName(args.regime, g.name),
      description: `CloudWatch agent logs config of ${args.regime}/${g.name}: the files shipped into its log groups`,
      type: "String",
      // Standard while the config fits its 4 KB; a config over Advanced's 8 KB is refused with the group's key (regime/logs.ts agentParameterProblem).
      tier: ssmParameterTier(config) ?? "Advanced",
      // Not a secret: plain, so a preview shows what changes in it.
      insecureValue: config,
      tags,
    },
    { parent, dependsOn: logGroups },
  );
  // The parameter keeps its name when the config changes; a name carrying the config's hash makes
  // the association change too, so with applyOnlyAtCronInterval: false it runs right after.
  const associationName = `${args.regime}-${g.name}-cloudwatch-logs-${sha256(config).slice(0, 8)}`;
  scope.associations.track(
    g,
    new aws.ssm.Association(
      `${name}-${g.name}-cwagent-association`,
      {
        name: AGENT_DOCUMENT,
        associationName,
        parameters: {
          action: "configure (append)",
          mode: "ec2",
          optionalConfigurationSource: "ssm",
          optionalConfigurationLocation: parameter.name,
          optionalRestart: "yes",
        },
        ...groupRun(g),
        tags,
      },
      { parent, dependsOn: [parameter] },
    ),
    {
      schedule: { name: associationName, kind: "log shipping", runs: g.schedule, configKey: `logs.hostGroups[${g.name}].schedule` },
      watch: (id) => associationWatchedJob(g.name, "cloudwatch-agent", g.schedule, ASSOCIATION_FAILURE_SEVERITY, id, "CloudWatch agent logs config"),
    },
  );
  return parameter.name;
}
