/**
 * Before deploy, each watched host's instance id is looked up in the stack's account and region:
 * an id that names no instance (a typo of a real-looking id) or a terminated one (a host replaced
 * by a rebuild or an autoscaling group) is refused on `hosts[<index>].instanceId`, with the config's
 * other errors, by `pulumi preview` and `pulumi up`. A stopped one is a warning: its alarms cannot
 * see it until it runs, and its not-reporting alarm (components/host-alarms.ts hostSilentAlarm)
 * pages once it has been silent for 15 minutes. After deploy that alarm is what keeps watching: an
 * instance replaced later sends no status checks either.
 *
 * The lookup is `aws.ec2.getInstances` (EC2 DescribeInstances with an `instance-id` filter, which
 * returns the instances it finds and no error for the others; DescribeInstances cannot be scoped to
 * resources in IAM, so the deploying role needs `ec2:DescribeInstances` on `*`). EC2 lists a
 * terminated instance for about an hour after it ends (EC2 user guide, "Terminated instances":
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html), and not at all
 * after: both are refused the same way. The offline plan runs under Pulumi's mocks without AWS: it
 * does not look up and says so in the host's promise line.
 */
import * as aws from "@pulumi/aws";
import { HOST_SILENT_WINDOW } from "./host-alarms";

/** A watched host as the lookup needs it: its index in `hosts` (the config key), name and instance id. */
export interface HostInstance {
  index: number;
  name: string;
  instanceId: string;
}

/** What the account holds of the ids looked up: `present` in any state but terminated, `running` of those pending or running. */
export interface InstanceStates {
  present: ReadonlySet<string>;
  running: ReadonlySet<string>;
}

/** Minutes of silence after which a host's not-reporting alarm pages. */
const SILENT_MINUTES = (HOST_SILENT_WINDOW.period * HOST_SILENT_WINDOW.evaluationPeriods) / 60;

/** EC2 instance states other than `terminated` (EC2 user guide, "Amazon EC2 instance state changes"). */
export const PRESENT_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"] as const;
/** States in which an instance sends status checks. */
export const RUNNING_STATES = ["pending", "running"] as const;
/** Values of one DescribeInstances filter per request: EC2 takes up to 200 (EC2 API reference, "Filter"). */
export const FILTER_VALUES_PER_CALL = 200;

/** Ids of `ids` that EC2 lists in one of `states` (any number of ids: one call per FILTER_VALUES_PER_CALL). */
async function listed(ids: readonly string[], states: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < ids.length; i += FILTER_VALUES_PER_CALL) {
    const r = await aws.ec2.getInstances({ filters: [{ name: "instance-id", values: ids.slice(i, i + FILTER_VALUES_PER_CALL) }], instanceStateNames: [...states] });
    for (const id of r.ids) out.add(id);
  }
  return out;
}

/** Looks the ids up in the stack's account and region (two DescribeInstances calls per 200 ids). Errors: the provider's (no credentials, no `ec2:DescribeInstances`), as they are. */
export async function lookUpInstances(ids: readonly string[]): Promise<InstanceStates> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return { present: new Set(), running: new Set() };
  const [present, running] = await Promise.all([listed(unique, PRESENT_STATES), listed(unique, RUNNING_STATES)]);
  return { present, running };
}

/**
 * One config error per host whose instance id EC2 does not list or lists terminated, and one warning
 * per host whose instance is stopped (or stopping): `hosts[0].instanceId: ...` naming the host and the region.
 */
export function hostInstanceProblems(hosts: readonly HostInstance[], states: InstanceStates, region: string): { lines: string[]; warnings: string[] } {
  const lines: string[] = [];
  const warnings: string[] = [];
  for (const h of hosts) {
    const key = `hosts[${h.index}].instanceId`;
    if (!states.present.has(h.instanceId)) {
      lines.push(
        `${key}: ${h.instanceId} (host ${h.name}) is no instance of this account in ${region}, or a terminated one: its alarms would never see data; give the id of the instance that runs it now (aws ec2 describe-instances --instance-ids ${h.instanceId})`,
      );
    } else if (!states.running.has(h.instanceId)) {
      warnings.push(`${key}: ${h.instanceId} (host ${h.name}) is stopped: it sends no data, and its not-reporting alarm pages once it has been silent for ${SILENT_MINUTES} min; start it, or take it out of hosts while it stays down`);
    }
  }
  return { lines, warnings };
}

/** The lookup and its verdict for the regime's hosts, in the stack's region. */
export async function checkHostInstances(hosts: readonly { name: string; instanceId: string }[]): Promise<{ lines: string[]; warnings: string[] }> {
  if (hosts.length === 0) return { lines: [], warnings: [] };
  const [states, region] = await Promise.all([lookUpInstances(hosts.map((h) => h.instanceId)), aws.getRegion({})]);
  return hostInstanceProblems(
    hosts.map((h, index) => ({ index, name: h.name, instanceId: h.instanceId })),
    states,
    region.region,
  );
}
