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
