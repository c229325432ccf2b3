/**
 * `npm run bench -- <name> [options]` runs one benchmark; without a name, lists them. Each prints its
 * figures beside the baseline measured in the same run.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const BENCHES: Record<string, string> = {
  backup: "backup to S3 against pg_dump | gzip, pg_dump -Fc and pg_dump -Fc to /dev/null, with CPU per process (750 MB database; PostgreSQL on 127.0.0.1)",
  vacuum: "targeted vacuum against a blanket VACUUM ANALYZE (50 tables, 3 bloated)",
  "health-check": "200 endpoints, 10 % never answering, against one timeout",
  bundles: "Lambda bundle sizes and cold import times",
  cost: "monthly cost of prod and the examples before storage, list price and after the free tier, against the pre-change metric policy",
  plan: "offline plan time, CPU, peak memory and CPU profile for 1, 10 and 50 databases (and --hosts N, --reminders N), with and without the promise check; --baseline REV beside it",
};

const [name, ...rest] = process.argv.slice(2);
if (!name || !(name in BENCHES)) {
  if (name) console.error(`unknown benchmark "${name}"`);
  console.log("npm run bench -- <name> [options]");
  for (const [n, what] of Object.entries(BENCHES)) console.log(`  ${n.padEnd(13)} ${what}`);
  process.exit(name ? 2 : 0);
}
const run = spawnSync(process.execPath, ["--import", "tsx", path.join(__dirname, `${name}.ts`), ...rest], { stdio: "inherit" });
process.exit(run.status ?? 1);
