/**
 * Offline plan scaling: plan time and resource count of one regime with 1, 10 and 50 databases and
 * endpoint sets (each database with backup, verification, drill, vacuum, reindex, purge and health;
 * each endpoint set an https check with response-time and certificate conditions), each size run in a
 * fresh process (median of --runs). Baseline of the same run: the time to start the program and plan
 * an empty regime (alert routing only), which every size pays once.
 * Target: the time per resource stays flat as the regime grows (ratio 50 vs 1 near 1).
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
  const checks = Array.from({ length: n }, (_, i) => ({ name: `site${i}`, url: `https://site${i}.example.com/health`, maxResponseMs: 500, minCertificateDays: 14 }));
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

function planOnce(file: string): { ms: number; resources: number } {
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "plan/cli.ts"), "--config", file, "--json", "--from", "2026-11-23"], {
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
    const samples = Array.from({ length: runs }, () => planOnce(file));
    return { n, resources: samples[0].resources, ms: median(samples.map((s) => s.ms)) };
  };
  const base = measure(0);
  console.log(`baseline: empty regime (alert routing only): ${base.resources} resources, ${base.ms.toFixed(0)} ms (process start, bundles, program load)`);
  console.log("size  resources  plan ms  ms/resource (after baseline)");
  const rows = sizes.map(measure);
  for (const r of rows) {
    const per = (r.ms - base.ms) / (r.resources - base.resources);
    console.log(`${String(r.n).padStart(4)}  ${String(r.resources).padStart(9)}  ${r.ms.toFixed(0).padStart(7)}  ${per.toFixed(2).padStart(11)}`);
  }
  const first = rows[0];
  const last = rows[rows.length - 1];
  const perFirst = (first.ms - base.ms) / (first.resources - base.resources);
  const perLast = (last.ms - base.ms) / (last.resources - base.resources);
  console.log(`time per resource, ${last.n} vs ${first.n}: ${(perLast / perFirst).toFixed(2)}x (target: flat, near 1)`);
}

if (require.main === module) main();
