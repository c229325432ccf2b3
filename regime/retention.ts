/**
 * What an S3 lifecycle configuration really keeps of one object key, read from the rules as they are
 * declared (the BucketLifecycleConfiguration inputs), so a stated retention can be compared with it.
 *
 * S3's reading [S3 user guide, "Lifecycle configuration elements" and "How S3 handles conflicts"]:
 * a rule applies to keys starting with its filter prefix; when several enabled rules expire the same
 * object, the shortest period wins. In a versioned bucket, `expiration.days` turns the current version
 * into a noncurrent one (a delete marker on top) N days after it was written (rounded up to the next
 * midnight UTC), and `noncurrentVersionExpiration.noncurrentDays` removes a noncurrent version that
 * many days after it became noncurrent. A key that is never overwritten (write-once) is therefore
 * readable for `readableDays` and gone `noncurrentDays` later.
 */

/**
 * Id of a catch-all lifecycle rule, the one that expires what no configured name's rule covers (the
 * backup vault's tier roots, the log archive's whole bucket and files/): `catch-all.<name>`. The dot is
 * in no other rule's id (`<tier>-<db>`, `drills-<db>`, `expire-<prefix>`), so isCatchAll tells them apart.
 */
export function catchAllId(name: string): string {
  return `${CATCH_ALL_PREFIX}${name}`;
}
const CATCH_ALL_PREFIX = "catch-all.";
/** The rule id is a catch-all's (catchAllId). */
export const isCatchAll = (id: string): boolean => id.startsWith(CATCH_ALL_PREFIX);

/** The fields of a lifecycle rule this reading uses (the shape of `aws.s3.BucketLifecycleConfiguration` rules). */
export interface LifecycleRuleInput {
  id: string;
  status: string;
  filter?: { prefix?: string };
  expiration?: { days?: number; expiredObjectDeleteMarker?: boolean };
  noncurrentVersionExpiration?: { noncurrentDays?: number };
}

export interface KeptFor {
  /** Days the object stays the current, readable version; undefined: forever. */
  readableDays?: number;
  /** Days a version that became noncurrent (expired, deleted or replaced) is kept; undefined: forever. */
  noncurrentDays?: number;
  /** Ids of the enabled rules whose filter matches the key. */
  rules: string[];
}

/** What the rules keep of `key`: the shortest expiration and noncurrent expiration among the enabled rules matching it. */
export function keptFor(rules: readonly LifecycleRuleInput[], key: string): KeptFor {
  const matching = rules.filter((r) => r.status === "Enabled" && key.startsWith(r.filter?.prefix ?? ""));
  const min = (xs: (number | undefined)[]) => {
    const defined = xs.filter((x): x is number => x !== undefined);
    return defined.length > 0 ? Math.min(...defined) : undefined;
  };
  return {
    readableDays: min(matching.map((r) => r.expiration?.days)),
    noncurrentDays: min(matching.map((r) => r.noncurrentVersionExpiration?.noncurrentDays)),
    rules: matching.map((r) => r.id),
  };
}

const DAY_MS = 86_400_000;

/**
 * Until when (ms) an object written at `createdMs` (ms) stays readable under an expiration of `days`:
 * S3 "calculates the time by adding the number of days specified in the rule to the object creation
 * time and rounding the resulting time to the next day midnight UTC" (S3 user guide, "Lifecycle
 * configuration elements", Days). So a backup uploaded at 07:00 UTC with `days` 1 is readable until
 * midnight UTC two days later (41 h), one uploaded at 23:59 UTC only 24 h 1 min: `days` to `days` + 1
 * days. Taken at the start of that midnight: S3 removes expired objects asynchronously, possibly later,
 * but does not promise so.
 */
export function readableUntil(createdMs: number, days: number): number {
  if (!Number.isFinite(days)) return Infinity;
  return Math.ceil((createdMs + days * DAY_MS) / DAY_MS) * DAY_MS;
}
