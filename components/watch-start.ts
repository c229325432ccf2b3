/**
 * A job's watch start: the time from which its missed-run alarm (components/alarms.ts watchGate)
 * and the overdue watcher (tasks/overdue-watch.ts `since`) expect its runs. Every job's watch start
 * is made here (jobWatchStart), for every kind of job: scheduled Lambda and Fargate tasks (their
 * task role's creation), reminders (their schedule group's), file backups (their SSM document's, or
 * the first install of an SSH host's cron), and what reads those (the RPO alarm, the overdue
 * watcher's `since`).
 *
 * It is the later of the job's creation date (stamped by AWS on a resource made with the job) and
 * the time of the `pulumi up` that last resumed it (`paused: true` set back to false or removed),
 * and PAUSED_WATCH_START while the job is paused. So a resumed job is watched afresh, as a new job
 * is: its alarm and the watcher page only if it misses its first due run after the resume (plus the
 * usual tolerance), not at once for the runs it skipped on purpose while paused.
 *
 * The resume time is kept by a Pulumi dynamic resource, `<job>-watch-start` (type
 * `pulumi-nodejs:dynamic/regime:WatchStart`), one per job, whose provider runs in the program's own
 * Node process under `pulumi up` (no provider plugin beyond the CLI's own `pulumi-nodejs`). Its
 * input is `paused`; its state keeps `resumedAt`, stamped with the clock of the update that changes
 * `paused` from true to false, and kept by every later update (and by `pulumi refresh`: read returns
 * the state as it is). Chosen over the other ways of getting a stamp:
 * - a resource made only while the job runs, whose creation AWS stamps (a schedule group per job,
 *   deleted on pause and created on resume): an AWS resource per job against account quotas (500
 *   schedule groups a Region, regime/limits.ts DEPLOY_LIMITS.scheduleGroups, which reminders
 *   already use one each; 1,000 IAM roles an account by default, IAM user guide "IAM and AWS STS
 *   quotas"), more API calls on every up, and a resource that can drift or be deleted outside the
 *   program;
 * - replacing a job's stamped resource on resume (replaceOnChanges on its task role or schedule
 *   group): replaces what the job runs with (its role, the schedules in its group) and needs a
 *   different trigger for each kind of job;
 * - a stamp taken when the program runs (new Date() in the program): changes on every up.
 * A dynamic resource costs nothing in AWS and counts against no quota. A job never paused gets its
 * WatchStart created without a stamp when this version is first deployed, so its watch start stays
 * its creation date: nothing changes for it. A job paused at that deploy gets a stamp when it is
 * resumed later. A job resumed by the very `pulumi up` that first deploys this version has no
 * earlier state to tell a resume from, and keeps its creation date as its watch start: deploy the
 * version first, then resume.
 */
import * as pulumi from "@pulumi/pulumi";
import { PAUSED_WATCH_START, watchStartSeconds } from "./alarms";

/** Inputs of a WatchStart resource. */
export interface WatchStartInputs {
  /** The job's `paused` in config. */
  paused: boolean;
}

/** State of a WatchStart resource: its inputs and, once the job has been resumed, when (ISO 8601, the clock of the `pulumi up` that resumed it; "" before). */
export interface WatchStartState extends WatchStartInputs {
  resumedAt: string;
}

/**
 * The WatchStart provider. Its functions are serialized into the resource's state and run by the
 * `pulumi-nodejs` dynamic provider: they reference nothing outside themselves but Date.
 * - create: no stamp (a job created, paused or not, is watched from its creation date);
 * - diff: an update when `paused` changes, none otherwise (a new version of this code changes nothing);
 * - update: stamps `resumedAt` with now when `paused` goes from true to false, keeps it otherwise;
 * - read (refresh): the state as it is.
 */
export const watchStartProvider = {
  async create(inputs: WatchStartInputs): Promise<{ id: string; outs: WatchStartState }> {
    return { id: `watch-start-${Date.now()}`, outs: { paused: inputs.paused === true, resumedAt: "" } };
  },
  async diff(_id: string, olds: WatchStartState, news: WatchStartInputs): Promise<{ changes: boolean }> {
    return { changes: (olds.paused === true) !== (news.paused === true) };
  },
  async update(_id: string, olds: WatchStartState, news: WatchStartInputs): Promise<{ outs: WatchStartState }> {
    const resumedAt = olds.paused === true && news.paused !== true ? new Date().toISOString() : (olds.resumedAt ?? "");
    return { outs: { paused: news.paused === true, resumedAt } };
  },
  async read(id: string, props: WatchStartState): Promise<{ id: string; props: WatchStartState }> {
    return { id, props };
  },
};

/**
 * The state the engine leaves a WatchStart in after one `pulumi up` with inputs `news`, from its
 * state before it (`olds`, none when the resource is new): create, or diff and update when diff
 * reports changes (else the state as it was). What the Pulumi mocks of the offline plan and the
 * tests give the resource, so that they run the provider's own code.
 */
export async function watchStartAfterUp(olds: WatchStartState | undefined, news: WatchStartInputs): Promise<WatchStartState> {
  const inputs = { paused: news.paused === true };
  if (!olds) return (await watchStartProvider.create(inputs)).outs;
  return (await watchStartProvider.diff("", olds, inputs)).changes ? (await watchStartProvider.update("", olds, inputs)).outs : olds;
}

/** Type token of a WatchStart resource (Pulumi dynamic resources are `pulumi-nodejs:dynamic/<module>:<type>`). */
export const WATCH_START_TYPE = "pulumi-nodejs:dynamic/regime:WatchStart";

class WatchStart extends pulumi.dynamic.Resource {
  declare public readonly resumedAt: pulumi.Output<string>;
  constructor(name: string, paused: boolean, opts: pulumi.CustomResourceOptions) {
    super(watchStartProvider, name, { paused, resumedAt: undefined }, opts, "regime", "WatchStart");
  }
}

/** The later of a creation date and a resume time (ISO 8601, as given; "" or undefined: never resumed). Throws naming `what` when either is no time. */
export function laterWatchStart(created: string, resumedAt: string | undefined, what: string): string {
  if (!resumedAt) return created;
  return watchStartSeconds(resumedAt, what) > watchStartSeconds(created, what) ? resumedAt : created;
}

/**
 * The watch start (ISO 8601) of the job `name` (the WatchStart resource is `<name>-watch-start`,
 * under `opts.parent`): PAUSED_WATCH_START while `paused`, else the later of `created` (the creation
 * date AWS stamped on a resource made with the job) and the time of the `pulumi up` that last
 * resumed it. `what` names the job in the error of a time that is none.
 */
export function jobWatchStart(name: string, a: { created: pulumi.Input<string>; paused?: boolean; what: string }, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
  const stamp = new WatchStart(`${name}-watch-start`, a.paused === true, opts);
  if (a.paused) return pulumi.output(PAUSED_WATCH_START);
  return pulumi.all([a.created, stamp.resumedAt]).apply(([created, resumedAt]) => laterWatchStart(created, resumedAt, a.what));
}
