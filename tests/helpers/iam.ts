/**
 * Least-privilege checks on IAM policy documents as a reviewer reads them: every statement names its
 * actions (no `*`, no `service:*`, no NotAction) and its resources (no `*`, except for the actions AWS
 * authorises only on `*`), and no task may delete backups or loosen the bucket that keeps them.
 */
import { expect } from "vitest";

export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** Actions AWS authorises only on `*` (the resource does not exist yet, or the action has no resource type). */
export const STAR_RESOURCE_ACTIONS = new Set([
  "ec2:CreateNetworkInterface",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeSubnets",
  "ec2:DeleteNetworkInterface",
  "ec2:AssignPrivateIpAddresses",
  "ec2:UnassignPrivateIpAddresses",
  "ecr:GetAuthorizationToken",
  // Metric reads behind an alarm's chart (chat channels): no resource type in the Service Authorization Reference.
  "cloudwatch:GetMetricWidgetImage",
  "cloudwatch:GetMetricData",
  "cloudwatch:GetMetricStatistics",
  "cloudwatch:ListMetrics",
  "cloudwatch:DescribeAlarmsForMetric",
  // SNS SMS settings the subscription check reads: no resource type in the Service Authorization Reference.
  "sns:GetSMSSandboxAccountStatus",
  "sns:ListSMSSandboxPhoneNumbers",
  "sns:CheckIfPhoneNumberIsOptedOut",
]);

/** Never granted to a task role. */
export const FORBIDDEN = [/^s3:DeleteObject/i, /^s3:PutBucketPolicy$/i, /^s3:PutLifecycleConfiguration$/i, /^s3:\*$/i, /^\*$/];

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Parses a policy document (string or object) and returns its statements as a list. */
export function statementsOf(policy: unknown): Statement[] {
  const doc = typeof policy === "string" ? JSON.parse(policy) : policy;
  expect(doc, "policy document").toBeTypeOf("object");
  expect((doc as { Version?: string }).Version, "policy Version").toBe("2012-10-17");
  const st = (doc as { Statement: Statement | Statement[] }).Statement;
  return Array.isArray(st) ? st : [st];
}

/** All actions an identity policy allows. */
export function allowedActions(policy: unknown): string[] {
  return statementsOf(policy)
    .filter((s) => s.Effect === "Allow")
    .flatMap((s) => list(s.Action));
}

/**
 * Asserts an identity policy (role inline policy) is least-privilege; returns its statements.
 * `label` names the policy in failure messages.
 */
export function expectLeastPrivilege(policy: unknown, label: string): Statement[] {
  const statements = statementsOf(policy);
  expect(statements.length, `${label}: statements`).toBeGreaterThan(0);
  statements.forEach((s, i) => {
    const at = `${label} statement ${i}`;
    expect(s.NotAction, `${at}: NotAction`).toBeUndefined();
    expect(s.NotResource, `${at}: NotResource`).toBeUndefined();
    const actions = list(s.Action);
    expect(actions.length, `${at}: actions`).toBeGreaterThan(0);
    for (const a of actions) {
      expect(a === "*" || a.endsWith(":*"), `${at}: wildcard action ${a}`).toBe(false);
      if (s.Effect === "Allow") expect(FORBIDDEN.some((re) => re.test(a)), `${at}: forbidden action ${a}`).toBe(false);
    }
    const resources = list(s.Resource);
    expect(resources.length, `${at}: resources`).toBeGreaterThan(0);
    for (const r of resources) {
      if (r === "*") {
        const notRequired = actions.filter((a) => !STAR_RESOURCE_ACTIONS.has(a));
        expect(notRequired, `${at}: "*" resource for actions AWS does not require it for`).toEqual([]);
      } else {
        expect(r, `${at}: resource`).toMatch(/^arn:aws:[a-z0-9-]+:/);
      }
    }
  });
  return statements;
}

/**
 * The only places a `*` may stand in a Resource or a condition value of a policy the program declares,
 * each because AWS requires it; `?` may stand nowhere. Everything else a policy names comes from config
 * or from a resource the program created, and names exactly one thing.
 */
export const ALLOWED_WILDCARDS: { why: string; test: (where: WildcardSite) => boolean }[] = [
  {
    why: 'Resource "*" for actions AWS authorises only on "*" (no resource type, or the resource does not exist yet)',
    test: (w) => w.kind === "resource" && w.value === "*" && w.effect === "Allow" && w.actions.every((a) => STAR_RESOURCE_ACTIONS.has(a) || a === "cloudwatch:PutMetricData"),
  },
  {
    why: 'Resource "*" in a KMS key policy: there it means "this key" (KMS Developer Guide, "Key policies")',
    test: (w) => w.kind === "resource" && w.value === "*" && w.policyType === "aws:kms/key:Key",
  },
  {
    why: "objects under one key prefix: S3 object ARNs name keys, a prefix grant ends in /* (the prefix itself is the regime's)",
    test: (w) => w.kind === "resource" && /^arn:aws:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/([A-Za-z0-9._-]+\/)*\*$/.test(w.value),
  },
  {
    why: "objects of one name at any depth under one key prefix (the overdue watcher's watch-start records, runs/*/watching-since.json): narrower than the prefix's /*",
    test: (w) => w.kind === "resource" && /^arn:aws:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/([A-Za-z0-9._-]+\/)*\*\/[A-Za-z0-9._-]+$/.test(w.value) && !/[*?]/.test(w.value.split("*/").pop()!),
  },
  {
    why: "the log streams of one log group (logs:CreateLogStream and PutLogEvents act on streams)",
    test: (w) => w.kind === "resource" && /^arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:[^*?]+:\*$/.test(w.value),
  },
  {
    why: "the alarms of one regime (named <regime>-...): what a chat channel may describe",
    test: (w) =>
      w.kind === "resource" &&
      /^arn:aws:cloudwatch:[a-z0-9-]+:\d{12}:alarm:[a-z][a-z0-9-]*-\*$/.test(w.value) &&
      w.actions.every((a) => a === "cloudwatch:DescribeAlarms" || a === "cloudwatch:DescribeAlarmHistory"),
  },
  {
    why: "s3:prefix of ListBucket: the listing is limited to keys under one prefix",
    test: (w) => w.kind === "condition" && w.operator === "StringLike" && w.key === "s3:prefix" && /^([A-Za-z0-9._-]+\/)+\*$/.test(w.value),
  },
  {
    why: "a Deny statement: a wider match only takes more away",
    test: (w) => w.effect === "Deny" && !w.value.includes("?"),
  },
];

export interface WildcardSite {
  policyType: string;
  effect: "Allow" | "Deny";
  actions: string[];
  kind: "resource" | "condition";
  operator?: string;
  key?: string;
  value: string;
}

/**
 * Every `*` or `?` in the Resource and condition values of every policy document among the recorded
 * resources (role and managed policies, bucket, topic and key policies) that no ALLOWED_WILDCARDS entry
 * explains, as `<resource name>: <value> (<actions>)`; empty when there is none.
 */
export function unexplainedWildcards(resources: { type: string; name: string; inputs: Record<string, unknown> }[]): string[] {
  const found: string[] = [];
  for (const r of resources) {
    for (const value of Object.values(r.inputs)) {
      if (typeof value !== "string" || !value.includes('"Statement"')) continue;
      for (const s of statementsOf(value)) {
        const base = { policyType: r.type, effect: s.Effect, actions: list(s.Action) };
        const sites: WildcardSite[] = list(s.Resource).map((v) => ({ ...base, kind: "resource" as const, value: v }));
        for (const [operator, pairs] of Object.entries(s.Condition ?? {})) {
          for (const [key, vals] of Object.entries(pairs)) for (const v of list(vals)) sites.push({ ...base, kind: "condition", operator, key, value: String(v) });
        }
        for (const w of sites) {
          if (!/[*?]/.test(w.value)) continue;
          if (!ALLOWED_WILDCARDS.some((a) => a.test(w))) found.push(`${r.name}: ${w.kind === "condition" ? `${w.operator} ${w.key} ` : ""}${w.value} (${w.actions.join(", ")})`);
        }
      }
    }
  }
  return found;
}
