/**
 * Pulumi mocks for unit tests: every registered resource is recorded (type, name, inputs) and gets
 * deterministic ids, names and ARNs; an unknown data-source call throws instead of returning garbage.
 * Call `setupMocks()` before importing the module under test (use a dynamic import).
 */
import * as pulumi from "@pulumi/pulumi";
import { endpointsSchema } from "../../regime/endpoints";

export const MOCK_ACCOUNT = "123456789012";
export const MOCK_REGION = "us-east-1";

/** Alert topic ARNs per severity, as AlertRouting would name them for a regime called `regime`. */
export function mockTopics(regime: string): Record<"P0" | "P1" | "P2" | "P3", string> {
  const arn = (p: string) => `arn:aws:sns:${MOCK_REGION}:${MOCK_ACCOUNT}:${regime}-${p}`;
  return { P0: arn("P0"), P1: arn("P1"), P2: arn("P2"), P3: arn("P3") };
}

/** A one-file Lambda archive, for functions whose code the test does not look at. */
export const mockArchive = () => new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset("exports.handler=async()=>1") });

export interface MockResource {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, any>;
}

function mockArn(type: string, name: string, inputs: Record<string, any>): string {
  const svc = /^aws:([a-z0-9]+)\//i.exec(type)?.[1]?.toLowerCase() ?? "unknown";
  const n = String(inputs.name ?? name);
  if (svc === "s3") return `arn:aws:s3:::${inputs.bucket ?? name}`;
  if (svc === "iam") return `arn:aws:iam::${MOCK_ACCOUNT}:${type.includes("Policy") ? "policy" : "role"}/${n}`;
  if (type.includes("LogGroup")) return `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:${n}`;
  if (svc === "lambda") return `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:${n}`;
  if (svc === "kms") return `arn:aws:kms:${MOCK_REGION}:${MOCK_ACCOUNT}:key/${name}-id`;
  if (svc === "ecs") return `arn:aws:ecs:${MOCK_REGION}:${MOCK_ACCOUNT}:${type.includes("TaskDefinition") ? `task-definition/${inputs.family ?? n}:1` : `cluster/${n}`}`;
  if (svc === "cloudwatch" && type.includes("MetricAlarm")) return `arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:${n}`;
  if (svc === "scheduler") return `arn:aws:scheduler:${MOCK_REGION}:${MOCK_ACCOUNT}:schedule/default/${n}`;
  return `arn:aws:${svc}:${MOCK_REGION}:${MOCK_ACCOUNT}:${n}`;
}

/** The creation date a mocked schedule group, SSM document or IAM role reports (a watch start: WATCHED_JOBS, the gate of a missed-run alarm). */
export const MOCK_CREATION_DATE = "2026-01-01T00:00:00Z";

let current: MockResource[] = [];

/** Forgets every recorded resource (mocks stay installed): call between independent programs in one file. */
export function reset(): void {
  current.length = 0;
}

/** Installs the recording mocks; the returned array fills as resources are registered. */
export function setupMocks(
  opts: { project?: string; stack?: string; preview?: boolean; /** Data sources the test answers itself, by token (`aws:ec2/getInstances:getInstances`). */ calls?: Record<string, (inputs: Record<string, any>) => Record<string, any>> } = {},
): { resources: MockResource[] } {
  const resources: MockResource[] = [];
  current = resources;
  pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, any> } | Promise<{ id: string; state: Record<string, any> }> {
        resources.push({ type: args.type, name: args.name, custom: args.custom ?? true, inputs: args.inputs });
        // The only dynamic resource is a job's watch start; its module is imported here, after the mocks are set.
        if (args.type.startsWith("pulumi-nodejs:dynamic/"))
          return import("../../components/watch-start").then(async ({ WATCH_START_TYPE, watchStartAfterUp }) => {
            if (args.type !== WATCH_START_TYPE) throw new Error(`no mock for dynamic resource type ${args.type}`);
            // The provider's own create, as at the job's first `pulumi up` (plan/mocks.ts plans later ups).
            return { id: `${args.name}-id`, state: { ...(await watchStartAfterUp(undefined, { paused: args.inputs.paused === true })) } };
          });
        const state: Record<string, any> = { ...args.inputs };
        if (args.type.startsWith("aws:s3/bucket:")) state.bucket ??= `${args.inputs.bucketPrefix ?? ""}${args.name}`.slice(0, 63);
        state.name ??= args.name;
        if (args.type === "aws:kms/key:Key") state.keyId ??= `${args.name}-id`;
        state.arn ??= mockArn(args.type, args.name, state);
        if (args.type === "aws:ssm/document:Document") state.latestVersion ??= "1";
        if (args.type === "aws:ssm/association:Association") state.associationId ??= `${args.name}-id`;
        if (args.type === "aws:scheduler/scheduleGroup:ScheduleGroup") state.creationDate ??= MOCK_CREATION_DATE;
        // AWS stamps an SSM document with its creation, and the date stamp of an SSH group's file backup prints it: a weekly file backup's watch start.
        if (args.type === "aws:ssm/document:Document") state.createdDate ??= MOCK_CREATION_DATE;
        if (args.type === "command:local:Command") state.stdout ??= `${MOCK_CREATION_DATE}\n`;
        // IAM stamps a role with its creation: a scheduled task's watch start (its missed-run alarm's gate, the overdue watcher's `since`).
        if (args.type === "aws:iam/role:Role") state.createDate ??= MOCK_CREATION_DATE;
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        switch (args.token) {
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: MOCK_ACCOUNT, arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/test`, userId: "test" };
          case "aws:index/getRegion:getRegion":
            return { name: MOCK_REGION, region: MOCK_REGION, id: MOCK_REGION };
          case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com" };
          default:
            if (opts.calls?.[args.token]) return opts.calls[args.token](args.inputs);
            throw new Error(`no mock for call ${args.token}`);
        }
      },
    },
    opts.project ?? "maintenance-regime",
    opts.stack ?? "test",
    opts.preview ?? false,
  );
  return { resources };
}

/** The resolved value of an output (or plain input). */
export function waitFor<T>(value: pulumi.Input<T>): Promise<pulumi.Unwrap<T>> {
  return new Promise((resolve) => pulumi.output(value).apply((v) => resolve(v)));
}

/** Lets pending resource registrations settle so `resources` is complete. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** The inputs of the recorded metric alarm named `name`; fails the test naming it when none was registered. */
export function alarmInputs(resources: MockResource[], name: string): Record<string, any> {
  const a = resources.find((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && r.inputs.name === name);
  if (!a) throw new Error(`no metric alarm named ${name} was registered`);
  return a.inputs;
}

/**
 * An endpoint-checks component (components/health-checks.ts, imported by the caller after
 * setupMocks) for `checks` as a stack config writes them, on `schedule`, alarming to `topics`.
 */
export function endpointChecks(
  mod: typeof import("../../components/health-checks"),
  regime: string,
  schedule: import("../../components/health-checks").HealthChecksArgs["schedule"],
  checks: unknown[],
  topics: Record<"P0" | "P1" | "P2" | "P3", string>,
) {
  return new mod.HealthChecks(`${regime}-health`, { regime, endpoints: endpointsSchema.parse({ checks }).checks, schedule, archive: mockArchive(), alarmTopics: topics, logRetentionDays: 30 });
}
