/**
 * Text IAM takes in a policy document, one place for the config (regime/primitives.ts pgRoleName) and
 * the plan's audit of every recorded policy (plan/resource-audit.ts). Kept apart from regime/arn.ts,
 * which task bundles take: a change here does not change their code.
 */
/**
 * What an IAM policy document may hold: tab, line feed, carriage return and U+0020 to U+00FF (IAM User
 * Guide, "IAM and AWS STS quotas", IAM name requirements; the PolicyDocument pattern
 * `[\u0009\u000A\u000D\u0020-\u00FF]+` of CreatePolicy and PutRolePolicy). A config value that lands
 * in a policy (a role, bucket, key, topic or queue policy) must keep to it, or AWS refuses the policy.
 */
const IAM_POLICY_OUTSIDE = /[^\t\n\r\u0020-\u00FF]/gu;

/** Why `text` cannot stand in an IAM policy document (the characters outside IAM's set, with their code points), or undefined. */
export function policyTextProblem(text: string): string | undefined {
  const bad = [...new Set(text.match(IAM_POLICY_OUTSIDE) ?? [])];
  if (bad.length === 0) return undefined;
  const shown = bad.slice(0, 5).map((c) => `"${c}" (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")})`);
  return `holds ${shown.join(", ")}${bad.length > 5 ? ` and ${bad.length - 5} more` : ""}, outside what IAM takes in a policy (tab, LF, CR and U+0020-U+00FF: Latin-1)`;
}
