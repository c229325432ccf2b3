/**
 * Pulumi mocks for the offline plan: every resource the program registers is recorded with its
 * inputs, and given deterministic ids and ARNs, so the plan is the same on any machine.
 */
import * as pulumi from "@pulumi/pulumi";
import { WATCH_START_TYPE, watchStartAfterUp, type WatchStartState } from "../components/watch-start";

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";

export interface RecordedResource {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
  /** Name of the parent resource (a component), "" at the top. */
  parent: string;
}

/** `urn:pulumi:stack::project::a$b$type::name` -> name. */
/** The creation date the plan gives every resource AWS stamps with one (a schedule group): a fixed time, so plans compare. */
const MOCK_CREATION_DATE = "2026-01-01T00:00:00Z";

function nameOfUrn(urn: string): string {
  return urn ? urn.slice(urn.lastIndexOf("::") + 2) : "";
}

function service(type: string): string {
  // "aws:s3/bucketV2:BucketV2" -> "s3"
  const m = /^aws:([a-z0-9]+)\//i.exec(type);
  return m ? m[1].toLowerCase() : "unknown";
}

function fakeArn(type: string, name: string, inputs: Record<string, unknown>): string {
  const svc = service(type);
  const n = String(inputs.name ?? inputs.functionName ?? name);
  switch (svc) {
    case "s3":
      return `arn:aws:s3:::${inputs.bucket ?? n}`;
    case "iam":
      return `arn:aws:iam::${ACCOUNT}:${type.includes("Policy") ? "policy" : "role"}/${n}`;
    case "sns":
    case "sqs":
      return `arn:aws:${svc}:${REGION}:${ACCOUNT}:${n}`;
    case "lambda":
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${n}`;
    case "kms":
      return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${n}`;
    case "cloudwatch":
      return type.includes("LogGroup") ? `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${n}` : `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${n}`;
    case "ecs":
      return `arn:aws:ecs:${REGION}:${ACCOUNT}:${type.includes("TaskDefinition") ? "task-definition" : "cluster"}/${n}`;
    default:
      return `arn:aws:${svc}:${REGION}:${ACCOUNT}:${n}`;
  }
}

type RegisterCallback = (err: unknown, response?: { toString(): string }) => void;

interface MonitorLike {
  registerResource(req: { getType(): string; getName(): string; getParent(): string }, callback: RegisterCallback): unknown;
}

/**
 * What a registration response prints as. The runtime writes every response into a debug log line
 * (`resp: ${innerResponse}`) before it knows whether debug logging is on; protobuf's own toString
 * renders the whole resource state (a Lambda's bundled code included), which was most of a large
 * plan's CPU time and memory.
 */
function terseResponse(this: { getUrn?(): string }): string {
  return `RegisterResourceResponse(${this.getUrn?.() ?? ""})`;
}

/** A resource's declaration stack, as the plan registers it: none (no source position either). */
function noStackTrace(): unknown[] {
  return [];
}

interface DebuggableModule {
  debugPromiseLeaks: boolean;
  debuggablePromise<T>(p: Promise<T>, ctx: unknown): Promise<T>;
}
const FRAMELESS = Symbol("frameless debuggable promises");

/**
 * Pulumi's runtime stamps each of its promises with the stack it was made from (`new Error().stack`,
 * runtime/debuggable.js), which it prints only for promises still unsettled at exit, and only when
 * PULUMI_DEBUG_PROMISE_LEAKS is set. Rendering those stacks (through the TypeScript sources' source
 * maps) was most of the plan's own CPU: 1.3 s of a prod plan's 2.1 s under tsx, 5 s of 6 s under the
 * test runner's source maps. The offline plan stamps them without frames; which promises are
 * tracked, and the leak report itself, are unchanged. With PULUMI_DEBUG_PROMISE_LEAKS set the
 * stacks stay whole.
 */
function framelessDebuggablePromises(): void {
  const debuggable = require("@pulumi/pulumi/runtime/debuggable") as DebuggableModule & { [FRAMELESS]?: true };
  if (debuggable.debugPromiseLeaks || debuggable[FRAMELESS]) return;
  const stamp = debuggable.debuggablePromise;
  debuggable.debuggablePromise = <T>(p: Promise<T>, ctx: unknown): Promise<T> => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return stamp(p, ctx);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
  debuggable[FRAMELESS] = true;
}

/** Installs recording mocks; returns the list that fills as resources are registered. */
/**
 * `stackOutputs`: outputs other stacks are expected to have (organization/project/stack -> name ->
 * value), served to StackReferences, which cannot be read without the Pulumi service.
 */
/**
 * `watchStarts`: the jobs' WatchStart states (components/watch-start.ts) by resource name: `prior`,
 * what a previous `pulumi up` left (the provider's create for a name not in it), and `after`, filled
 * with what this run leaves.
 */
export function installPlanMocks(
  project: string,
  stack: string,
  stackOutputs: Record<string, Record<string, unknown>> = {},
  watchStarts: { prior: Record<string, WatchStartState>; after: Record<string, WatchStartState> } = { prior: {}, after: {} },
): RecordedResource[] {
  const recorded: RecordedResource[] = [];
  const parents = new Map<string, string>();
  pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } | Promise<{ id: string; state: Record<string, unknown> }> {
        // A dynamic resource's inputs carry its serialized provider (`__provider`): code, not what the plan shows.
        const { __provider: _provider, ...inputs } = args.inputs as Record<string, unknown>;
        recorded.push({ type: args.type, name: args.name, custom: args.custom ?? true, inputs, parent: parents.get(`${args.type}::${args.name}`) ?? "" });
        // A job's watch start (components/watch-start.ts): the provider's own create, or diff and update from the state a previous up left.
        if (args.type === WATCH_START_TYPE)
          return watchStartAfterUp(watchStarts.prior[args.name], { paused: inputs.paused === true }).then((state) => {
            watchStarts.after[args.name] = state;
            return { id: `${args.name}-id`, state: { ...state } };
          });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "pulumi:pulumi:StackReference") {
          const ref = String(args.inputs.name ?? args.name);
          return { id: ref, state: { name: ref, outputs: stackOutputs[ref] ?? {} } };
        }
        state.arn ??= fakeArn(args.type, args.name, args.inputs);
        if (args.type.startsWith("aws:s3/")) state.bucket ??= args.name;
        if (args.type.startsWith("aws:ecr/repository")) state.repositoryUrl = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${args.inputs.name ?? args.name}`;
        if (args.type.startsWith("docker:")) state.repoDigest = `${args.name}@sha256:${"0".repeat(64)}`;
        // AWS assigns an association its id; the plan shows where it is used (an association-failure rule's pattern).
        if (args.type === "aws:ssm/association:Association") state.associationId ??= `${args.name}-id`;
        // AWS stamps a schedule group with its creation; the overdue watcher takes it as a reminder's watch start.
        if (args.type === "aws:scheduler/scheduleGroup:ScheduleGroup") state.creationDate ??= MOCK_CREATION_DATE;
        // AWS stamps an SSM document with its creation, and the date stamp of an SSH group's file backup prints it: a weekly file backup's watch start.
        if (args.type === "aws:ssm/document:Document") state.createdDate ??= MOCK_CREATION_DATE;
        if (args.type === "command:local:Command") state.stdout ??= `${MOCK_CREATION_DATE}\n`;
        // IAM stamps a role with its creation: a scheduled task's watch start (its missed-run alarm's gate, the overdue watcher's `since`).
        if (args.type === "aws:iam/role:Role") state.createDate ??= MOCK_CREATION_DATE;
        state.name ??= args.name;
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        switch (args.token) {
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/plan`, userId: "plan" };
          case "aws:index/getRegion:getRegion":
            return { name: REGION, region: REGION, id: REGION };
          case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return { userName: "AWS", password: "offline-plan", authorizationToken: "", proxyEndpoint: `https://${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com` };
          case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com" };
          default:
            throw new Error(`offline plan: no mock for data source ${args.token}`);
        }
      },
    },
    project,
    stack,
    true,
  );
  // Where each resource was declared (its source position and stack) is for the Pulumi service's
  // console; the offline plan never shows it. Pulumi reads it from a full stack trace rendered as
  // text for every resource (Resource.stackTrace: Error.stackTraceLimit lifted to Infinity), about
  // 8 % of a 50-database plan's CPU and a few KB of garbage per resource. `pulumi up` keeps it.
  (pulumi.Resource as unknown as { stackTrace(skip: number): unknown[] }).stackTrace = noStackTrace;
  framelessDebuggablePromises();
  // The mock monitor does not tell newResource the parent; read it from the registration request.
  const monitor = (pulumi.runtime as unknown as { getMonitor(): MonitorLike }).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    parents.set(`${req.getType()}::${req.getName()}`, nameOfUrn(req.getParent()));
    return register(req, (err, response) => {
      if (response) response.toString = terseResponse;
      callback(err, response);
    });
  };
  return recorded;
}
