/**
 * Offline plan scaling: plan time and resource count of one regime with 1, 10 and 50 databases and
 * endpoint sets (each database with backup, verification, drill, vacuum, reindex, purge and health;
 * each endpoint set an https check with response-time and certificate conditions), each size run in a
 * fresh process (median of --runs). Baseline of the same run: the time to start the program and plan
 * an empty regime (alert routing only), which every size pays once.
 * Target: the time per resource stays flat as the regime grows (ratio 50 vs 1 near 1).
 * Each size is also planned without the promise check (--no-promise-check): the check (12 months of
 * every schedule, alarm windows, environments) should add at most 10 % to the plan.
 * Endpoint sets stop at 20: the health-check function carries every endpoint in its environment,
 * and 25 of these overflow Lambda's 4 KB (the promise check refuses that regime).
 *
 *   npx tsx bench/plan.ts [--sizes 1,10,50] [--runs 3]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import YAML from "yaml";

const ROOT = path.resolve(__dirname, "..");
const NS = "maintenance-regime";

/** Endpoints whose settings fit the health-check function's 4 KB environment. */
const MAX_ENDPOINTS = 20;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** A stack file with `n` databases and `n` endpoints (0: alert routing only). */
export function regimeOfSize(n: number): Record<string, unknown> {
  const databases = Array.from({ length: n }, (_, i) => ({
    id: `db${i}`,
    majorVersion: 15 + (i % 2),
    secretArn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:db${i}-AbCdEf`,
    network: { subnetIds: ["subnet-0a1b2c3d4e5f60001"], securityGroupIds: ["sg-0a1b2c3d4e5f60003"] },
    restoreDrill: { checks: [{ sql: "SELECT count(*) FROM customers", minRows: 1 }] },
    vacuum: {},
    reindex: {},
    purge: { rules: [{ table: "audit_logs", olderThanDays: 90 }] },
    health: {},
  }));
  const checks = Array.from({ length: Math.min(n, MAX_ENDPOINTS) }, (_, i) => ({ name: `site${i}`, url: `https://site${i}.example.com/health`, maxResponseMs: 500, minCertificateDays: 14 }));
  return {
    config: {
      "aws:region": "us-east-1",
      [`${NS}:name`]: "bench",
      [`${NS}:dashboard`]: n > 0,
      [`${NS}:alerting`]: { P0: { email: ["oncall@example.com"] } },
      ...(n > 0 ? { [`${NS}:databases`]: databases, [`${NS}:endpoints`]: { schedule: "every 1 minute", checks } } : {}),
    },
  };
}

function planOnce(file: string, promises = true): { ms: number; resources: number } {
  const started = process.hrtime.bigint();
  const args = ["--import", "tsx", path.join(ROOT, "plan/cli.ts"), "--config", file, "--json", "--from", "2026-11-23", ...(promises ? [] : ["--no-promise-check"])];
  const run = spawnSync(process.execPath, args, {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0) throw new Error(`plan of ${file} failed: ${run.stderr.trim().split("\n")[0]}`);
  return { ms, resources: (JSON.parse(run.stdout) as { resourceCount: number }).resourceCount };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(): void {
  const sizes = arg("sizes", "1,10,50").split(",").map(Number);
  const runs = Number(arg("runs", "3"));
  const dir = mkdtempSync(path.join(tmpdir(), "bench-plan-"));
  const measure = (n: number) => {
    const file = path.join(dir, `Pulumi.size${n}.yaml`);
    writeFileSync(file, YAML.stringify(regimeOfSize(n)));
    // Alternate with and without the check so load on the machine falls on both alike.
    const samples = Array.from({ length: runs }, () => ({ with: planOnce(file), without: planOnce(file, false) }));
    return { n, resources: samples[0].with.resources, ms: median(samples.map((s) => s.with.ms)), msWithout: median(samples.map((s) => s.without.ms)) };
  };
  const base = measure(0);
  console.log(`baseline: empty regime (alert routing only): ${base.resources} resources, ${base.ms.toFixed(0)} ms (process start, bundles, program load)`);
  console.log("size  resources  plan ms  ms/resource (after baseline)  without promise check ms  check adds");
  const rows = sizes.map(measure);
  for (const r of rows) {
    const per = (r.ms - base.ms) / (r.resources - base.resources);
    const adds = ((r.ms - r.msWithout) / r.msWithout) * 100;
    console.log(
      `${String(r.n).padStart(4)}  ${String(r.resources).padStart(9)}  ${r.ms.toFixed(0).padStart(7)}  ${per.toFixed(2).padStart(29)}  ${r.msWithout.toFixed(0).padStart(25)}  ${adds.toFixed(1).padStart(8)} %`,
    );
  }
  const first = rows[0];
  const last = rows[rows.length - 1];
  const perFirst = (first.ms - base.ms) / (first.resources - base.resources);
  const perLast = (last.ms - base.ms) / (last.resources - base.resources);
  console.log(`time per resource, ${last.n} vs ${first.n}: ${(perLast / perFirst).toFixed(2)}x (target: flat, near 1)`);
  console.log(`promise check at size ${last.n}: ${last.ms.toFixed(0)} ms with, ${last.msWithout.toFixed(0)} ms without: adds ${(((last.ms - last.msWithout) / last.msWithout) * 100).toFixed(1)} % (target: at most 10 %)`);
}

if (require.main === module) main();
