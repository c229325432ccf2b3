/** How the offline plan names the stack it plans (plan/run.ts, its header in plan/cli.ts and plan/diff.ts). */
import * as path from "node:path";

/** The stack a config file is for by Pulumi's naming, Pulumi.<stack>.yaml (or .yml): `Pulumi.prod.yaml` -> prod; undefined for another name. */
export function stackOfConfigFile(file: string): string | undefined {
  return /^Pulumi\.([\w.-]+)\.ya?ml$/.exec(path.basename(file))?.[1];
}

/**
 * How a plan's headers name its stack: `prod`; for a config file not named Pulumi.<stack>.yaml
 * (`unnamedStack`, `stack` holding the file's name), `rpo.yaml (no stack: the file is not named Pulumi.<stack>.yaml)`.
 */
export function stackWords(p: { stack: string; unnamedStack?: true }): string {
  return p.unnamedStack ? `${p.stack} (no stack: the file is not named Pulumi.<stack>.yaml)` : p.stack;
}
