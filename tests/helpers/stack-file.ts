/** A stack file for the offline plan in a fresh temporary directory. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { ALERTING } from "./alerting";

/** The project's config namespace. */
export const NS = "maintenance-regime";

/**
 * Writes `Pulumi.<stack>.yaml` holding `aws:region` us-east-1, `name`, `dashboard: false`, someone on
 * each severity (ALERTING; a key `alerting` of `regime` replaces it), and each key of `regime` under
 * NS; returns its path.
 */
export function regimeStackFile(stack: string, name: string, regime: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), `${stack}-`)), `Pulumi.${stack}.yaml`);
  const config = { "aws:region": "us-east-1", [`${NS}:name`]: name, [`${NS}:dashboard`]: false, [`${NS}:alerting`]: ALERTING, ...Object.fromEntries(Object.entries(regime).map(([k, v]) => [`${NS}:${k}`, v])) };
  writeFileSync(file, YAML.stringify({ config }));
  return file;
}
