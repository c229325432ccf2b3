/**
 * How configuration reaches a host group's hosts, shared by the parts of the logs component
 * (components/logs.ts composes them): SSM Command documents and State Manager associations on the
 * group's EC2 tag, remote commands over SSH as root for the rest, and the scope every part creates its
 * resources in (all of them children of the one LogRotation component, so their URNs do not depend on
 * which file creates them).
 */
import { createHash } from "node:crypto";
import type * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { sshHostNamePart, type HostGroup } from "../regime/logs";
import type { LogsArgs } from "./logs";
import type { WatchedJobSpec } from "./overdue-watch";
import { recordSchedule, type JobKind } from "./plan-record";
import type { AssociationSchedule } from "../regime/logs";

/** What each part of the logs component creates its resources under. */
export interface LogsScope {
  /** The LogRotation component: parent of every resource. */
  parent: pulumi.ComponentResource;
  /** The component's name: prefix of every Pulumi resource name. */
  name: string;
  args: LogsArgs;
  /** The component's tags plus `Regime`. */
  tags: Record<string, string>;
  /** State Manager associations created so far, by host group (read by the association-failure watch). */
  associations: HostGroupAssociations;
}

/** Association ids of each host group, in creation order, and the overdue watcher's jobs for them. */
export class HostGroupAssociations {
  private readonly ids = new Map<string, pulumi.Output<string>[]>();
  private readonly watched: WatchedJobSpec[] = [];

  /**
   * Records an association of host group `g` and returns it: its schedule for the plan
   * (components/plan-record.ts; `schedule.runs` is the association's cron, resolved in UTC where the
   * config was loaded, as State Manager runs it), and, with `watch`, the overdue watcher's job for it
   * (components/association-watch.ts associationWatchedJob; undefined for a schedule the watcher cannot
   * follow). Without `watch` the watcher does not follow the association. Throws a line naming
   * `configKey` when the Scheduler grammar does not read the cron (a 5-field SSM cron).
   */
  track(
    g: HostGroup,
    a: aws.ssm.Association,
    job: { schedule: { name: string; kind: JobKind; runs: AssociationSchedule; configKey: string }; watch?: (id: pulumi.Output<string>) => WatchedJobSpec | undefined },
  ): aws.ssm.Association {
    const { name, kind, runs, configKey } = job.schedule;
    if (!runs.scheduler) throw new Error(`${configKey}: ${runs.problem}`);
    recordSchedule({ name, kind, schedule: runs.scheduler, configKey, paused: false });
    this.ids.set(g.name, [...(this.ids.get(g.name) ?? []), a.associationId]);
    const watched = job.watch?.(a.associationId);
    if (watched) this.watched.push(watched);
    return a;
  }

  /** The overdue watcher's jobs: every tracked association with a schedule it can follow, in creation order. */
  watchedJobs(): WatchedJobSpec[] {
    return [...this.watched];
  }

  /** The group's association ids; empty when it has none. */
  of(group: string): pulumi.Output<string>[] {
    return this.ids.get(group) ?? [];
  }
}

/** The State Manager targets of a host group: its instances with the group's tag. */
export function tagTargets(g: HostGroup): { key: string; values: string[] }[] {
  return [{ key: `tag:${g.target!.tagKey}`, values: [g.target!.tagValue] }];
}

/**
 * How a group's configuration associations (logrotate, CloudWatch agent) run: on its tag and its
 * schedule, a quarter of the instances at a time, stopping when a tenth of them fail.
 */
export function groupRun(g: HostGroup) {
  return {
    targets: tagTargets(g),
    scheduleExpression: g.schedule.expression,
    applyOnlyAtCronInterval: g.applyOnlyAtCronInterval,
    complianceSeverity: "MEDIUM",
    maxConcurrency: "25%",
    maxErrors: "10%",
  };
}

/** Runs the install script from stdin as root (directly, or through passwordless sudo). */
export const SSH_RUN_AS_ROOT = 'if [ "$(id -u)" -eq 0 ]; then bash -s; else sudo -n bash -s; fi';

/** The SSH private key a host group names in `sshPrivateKeyConfig`; throws a line naming the config key when none was given. */
export function sshKey(args: LogsArgs, g: HostGroup): pulumi.Input<string> {
  const keyName = g.sshPrivateKeyConfig!;
  const key = args.sshPrivateKeys?.[keyName];
  if (key === undefined) {
    throw new Error(`logs.hostGroups[${g.name}].sshPrivateKeyConfig: no secret given for config key ${keyName} (pulumi config set --secret ${keyName} < key)`);
  }
  return key;
}

/**
 * Runs a script as root (SSH_RUN_AS_ROOT) on `hosts` (SSH hosts of group `g`), one remote command per host
 * named `<component>-<group>-<what>-<host>` (regime/logs.ts sshHostNamePart), re-run when the script's
 * SHA-256 changes. `script` is the one script every host runs, or a function giving each host its own.
 * Returns the commands by configured host. Throws as sshKey does when the group's key is missing.
 */
export function runOnSshHosts(
  scope: LogsScope,
  g: HostGroup,
  hosts: HostGroup["sshHosts"],
  what: string,
  script: pulumi.Input<string> | ((h: HostGroup["sshHosts"][number]) => pulumi.Input<string>),
  opts: { dependsOn?: pulumi.Input<pulumi.Resource>[] } = {},
): Record<string, command.remote.Command> {
  const key = sshKey(scope.args, g);
  const out: Record<string, command.remote.Command> = {};
  for (const h of hosts) {
    const stdin = typeof script === "function" ? script(h) : script;
    out[h.host] = new command.remote.Command(
      `${scope.name}-${g.name}-${what}-${sshHostNamePart(h.host)}`,
      {
        connection: { host: h.host, user: h.user, port: h.port, privateKey: pulumi.secret(key) },
        create: SSH_RUN_AS_ROOT,
        stdin,
        triggers: [typeof stdin === "string" ? sha256(stdin) : pulumi.output(stdin).apply(sha256)],
      },
      { parent: scope.parent, ...opts },
    );
  }
  return out;
}

/** Hex SHA-256 of a script: the trigger that re-runs a remote command when its script changes. */
export function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/** SSM Command document (schema 2.2) running the script with aws:runShellScript, one line per entry. */
export function ssmDocumentContent(description: string, script: string, opts: { stepName?: string; timeoutSeconds?: number } = {}): string {
  return JSON.stringify(
    {
      schemaVersion: "2.2",
      description,
      mainSteps: [
        {
          action: "aws:runShellScript",
          name: opts.stepName ?? "installLogConfigs",
          precondition: { StringEquals: ["platformType", "Linux"] },
          inputs: { timeoutSeconds: String(opts.timeoutSeconds ?? 300), runCommand: script.split("\n") },
        },
      ],
    },
    null,
    2,
  );
}
