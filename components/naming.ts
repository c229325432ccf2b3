/**
 * Physical names of AWS resources, derived from the component name. AWS caps many names (Lambda
 * functions and IAM roles at 64 characters, S3 bucket prefixes at 37); a name that is too long keeps
 * its readable start and ends with a short hash of the whole name, so it stays unique and stable.
 */
import { createHash } from "node:crypto";

export function shortHash(text: string, length = 8): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** `name` if it fits in `max` characters, else its start plus `-<8 hex>` of the full name. */
export function physicalName(name: string, max: number): string {
  if (name.length <= max) return name;
  return `${name.slice(0, max - 9).replace(/-+$/, "")}-${shortHash(name)}`;
}

/** The part of a component name after the regime prefix: `prod-db-crm-backup` -> `db-crm-backup`. */
export function withoutPrefix(name: string, prefix: string): string {
  return name.startsWith(`${prefix}-`) ? name.slice(prefix.length + 1) : name;
}
