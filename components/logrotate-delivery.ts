/**
 * Rotation delivery: each host group's logrotate configs (and Docker's daemon.json log options, and
 * the containers' awslogs settings) rendered from the regime and installed on its hosts, through an
 * SSM Command document and a State Manager association on the group's tag, and over SSH as root for
 * the group's SSH hosts. Part of the logs component (components/logs.ts).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { HostGroup } from "../regime/logs";
import { renderDaemonJson, renderHostGroupConfigs, renderInstallScript } from "../regime/logrotate";
import { groupRun, runOnSshHosts, ssmDocumentContent, type LogsScope } from "./host-delivery";
import { ASSOCIATION_FAILURE_SEVERITY } from "./association-failures";
import { associationWatchedJob } from "./association-watch";

/** What rotation delivery renders and where it put it. */
export interface RotationDelivery {
  /** Host group -> log set -> rendered logrotate config. */
  logrotateConfigs: pulumi.Output<Record<string, Record<string, string>>>;
  /** Host group -> daemon.json (groups with Docker options only). */
  daemonJson: Record<string, string>;
  /** Host group -> SSM document name (groups with an EC2 tag target). */
  ssmDocumentNames: Record<string, pulumi.Output<string>>;
}

/**
 * Renders every host group's logrotate configs (archiving to `archiveBucket` when given) and delivers
 * them to the groups that rotate logs, set Docker options or ship containers.
 */
export function deliverRotation(scope: LogsScope, archiveBucket: pulumi.Output<string> | undefined): RotationDelivery {
  const { args } = scope;
  const bucketInput: pulumi.Output<string> = archiveBucket ?? pulumi.output("");
  const configsByGroup: Record<string, pulumi.Output<Record<string, string>>> = {};
  const daemonJson: Record<string, string> = {};
  const ssmDocumentNames: Record<string, pulumi.Output<string>> = {};
  for (const g of args.logs.hostGroups) {
    const configs = bucketInput.apply((b) => renderHostGroupConfigs(g, { regime: args.regime, archiveBucket: b || undefined }));
    configsByGroup[g.name] = configs;
    if (g.docker) daemonJson[g.name] = renderDaemonJson(g.docker);
    const containers = g.logGroups.flatMap((lg) => lg.containers.map((c) => ({ ...c, logGroup: lg.name })));
    if (g.logSets.length === 0 && !g.docker && containers.length === 0) continue;
    const script = configs.apply((c) => renderInstallScript({ regime: args.regime, group: g.name, configs: c, docker: g.docker, containers }));
    if (g.target) ssmDocumentNames[g.name] = ssmDelivery(scope, g, script);
    // One remote command per SSH host: the same script through `bash -s` as root; re-run when it changes.
    if (g.sshHosts.length > 0) runOnSshHosts(scope, g, g.sshHosts, "ssh", script);
  }
  return { logrotateConfigs: pulumi.all(configsByGroup), daemonJson, ssmDocumentNames };
}

/** SSM Command document with the install script + State Manager association on the group's tag; returns the document's name. */
function ssmDelivery(scope: LogsScope, g: HostGroup, script: pulumi.Output<string>): pulumi.Output<string> {
  const { name, args, tags, parent } = scope;
  const docName = `${args.regime}-${g.name}-logrotate`;
  const doc = new aws.ssm.Document(
    `${name}-${g.name}-document`,
    {
      name: docName,
      documentType: "Command",
      documentFormat: "JSON",
      content: script.apply((s) => ssmDocumentContent(`Installs the logrotate configs of ${args.regime}/${g.name}`, s)),
      tags,
    },
    { parent },
  );
  scope.associations.track(
    g,
    new aws.ssm.Association(
      `${name}-${g.name}-association`,
      {
        name: doc.name,
        associationName: docName,
        documentVersion: doc.latestVersion,
        ...groupRun(g),
        tags,
      },
      { parent },
    ),
    {
      schedule: { name: docName, kind: "logrotate", runs: g.schedule, configKey: `logs.hostGroups[${g.name}].schedule` },
      watch: (id) => associationWatchedJob(g.name, "logrotate", g.schedule, ASSOCIATION_FAILURE_SEVERITY, id, "logrotate configs"),
    },
  );
  return doc.name;
}
