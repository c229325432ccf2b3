/** A stack file for the offline plan in a fresh temporary directory. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";

/** The project's config namespace. */
export const NS = "maintenance-regime";

/**
 * Writes `Pulumi.<stack>.yaml` holding `aws:region` us-east-1, `name` and `dashboard: false`, and each
 * key of `regime` under NS; returns its path.
 */
export function regimeStackFile(stack: string, name: string, regime: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), `${stack}-`)), `Pulumi.${stack}.yaml`);
  const config = { "aws:region": "us-east-1", [`${NS}:name`]: name, [`${NS}:dashboard`]: false, ...Object.fromEntries(Object.entries(regime).map(([k, v]) => [`${NS}:${k}`, v])) };
  writeFileSync(file, YAML.stringify({ config }));
  return file;
}
