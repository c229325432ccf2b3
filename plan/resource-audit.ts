/**
 * Deploy-time refusals the regime model cannot see one resource at a time, found over every resource
 * the program registered under mocks: two resources of one type with the same physical name (AWS
 * creates the first and refuses the second), and policy documents holding characters IAM refuses.
 * Each line names the config key (plan/config-keys.ts) of the resources concerned, their names after it.
 */
import type { RecordedResource } from "./mocks";
import { configKeys } from "./config-keys";
import { policyTextProblem } from "../regime/iam-text";

type Inputs = Record<string, unknown>;

/**
 * Where a type's physical name is not its `name` input, or is unique only inside something else.
 * `name`: the input holding the name; `scope`: inputs that, with the name, identify it (a metric
 * filter's name is unique per log group, a schedule's per schedule group, an inline policy's per role);
 * `skip`: types whose name AWS does not hold unique (a task definition family takes revisions, an
 * association's `name` is the document it runs).
 */
const IDENTITY: Record<string, { name?: string; scope?: string[]; caseless?: boolean; skip?: boolean }> = {
  "aws:ssm/association:Association": { name: "associationName" },
  "aws:s3/bucket:Bucket": { name: "bucket" },
  "aws:s3/bucketV2:BucketV2": { name: "bucket" },
  "aws:cloudwatch/dashboard:Dashboard": { name: "dashboardName" },
  "aws:cloudwatch/compositeAlarm:CompositeAlarm": { name: "alarmName" },
  "aws:cloudwatch/logMetricFilter:LogMetricFilter": { scope: ["logGroupName"] },
  "aws:cloudwatch/eventRule:EventRule": { scope: ["eventBusName"] },
  "aws:scheduler/schedule:Schedule": { scope: ["groupName"] },
  "aws:iam/rolePolicy:RolePolicy": { scope: ["role"], caseless: true },
  "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration": { name: "configurationName" },
  "aws:chatbot/teamsChannelConfiguration:TeamsChannelConfiguration": { name: "configurationName" },
  "aws:ecs/taskDefinition:TaskDefinition": { skip: true },
};

/**
 * The identity AWS holds unique for a recorded resource: type, region (an input `region` places a
 * resource outside the stack's), scope and name; undefined when it has no fixed physical name.
 * IAM names are unique regardless of case (IAM User Guide, "IAM and AWS STS quotas": "names are not
 * distinguished by case").
 */
function physicalIdentity(r: RecordedResource): { id: string; name: string } | undefined {
  if (!r.type.startsWith("aws:")) return undefined;
  const spec = IDENTITY[r.type] ?? {};
  if (spec.skip) return undefined;
  const i = r.inputs as Inputs;
  const name = i[spec.name ?? "name"];
  if (typeof name !== "string" || name === "") return undefined;
  const caseless = spec.caseless ?? r.type.startsWith("aws:iam/");
  const scope = (spec.scope ?? []).map((k) => String(i[k] ?? ""));
  return { id: [r.type, String(i.region ?? ""), ...scope, caseless ? name.toLowerCase() : name].join("\u0000"), name };
}

/** One line per physical name that two or more recorded resources of one type share. */
export function duplicatePhysicalNames(resources: RecordedResource[]): string[] {
  const byId = new Map<string, { name: string; resources: RecordedResource[] }>();
  for (const r of resources) {
    const p = physicalIdentity(r);
    if (!p) continue;
    const entry = byId.get(p.id) ?? { name: p.name, resources: [] };
    entry.resources.push(r);
    byId.set(p.id, entry);
  }
  const out: string[] = [];
  const keyOfResource = configKeys(resources);
  for (const { name, resources: same } of byId.values()) {
    if (same.length < 2) continue;
    const keys = [...new Set(same.map(keyOfResource))];
    out.push(`${keys.join(" and ")}: ${same.length} resources of type ${same[0].type} are named ${name} (${same.map((r) => r.name).join(", ")}): AWS creates the first and refuses the next at deploy; rename one`);
  }
  return out;
}

/** Every string (keys and values) of a parsed JSON document. */
function stringsOf(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(stringsOf);
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => [k, ...stringsOf(x)]);
  return [];
}

/**
 * One line per policy document (any string input holding a `Statement`: role trust and inline
 * policies, managed policies, bucket, key, topic and queue policies) with characters IAM refuses.
 */
export function policyCharacterProblems(resources: RecordedResource[]): string[] {
  const out: string[] = [];
  const keyOfResource = configKeys(resources);
  for (const r of resources) {
    for (const [input, value] of Object.entries(r.inputs)) {
      if (typeof value !== "string" || !value.includes('"Statement"')) continue;
      let doc: unknown;
      try {
        doc = JSON.parse(value);
      } catch {
        continue;
      }
      const problem = policyTextProblem(stringsOf(doc).join(""));
      if (problem) out.push(`${keyOfResource(r)}: the ${input} of ${r.type} ${r.name} ${problem}: AWS refuses it at deploy`);
    }
  }
  return out;
}

/** Refusal lines for every recorded resource AWS would refuse because of another one or of its policy's characters. */
export function auditNamesAndPolicies(resources: RecordedResource[]): string[] {
  return [...duplicatePhysicalNames(resources), ...policyCharacterProblems(resources)];
}
