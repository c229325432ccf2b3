/**
 * Offline plan scaling: plan time, CPU, memory and resource count of regimes of growing size, each
 * planned in a fresh process (bench/plan-child.ts; median of --runs), with where the CPU time goes.
 *
 * Regimes:
 * - `db N` (--sizes): N databases and N endpoint sets (each database with backup, verification, drill,
 *   vacuum, reindex, purge and health; each endpoint set an https check with response-time and
 *   certificate conditions). Endpoint sets stop at 20: the health-check function carries every
 *   endpoint in its environment, and 25 of these overflow Lambda's 4 KB (the promise check refuses that).
 * - `hosts N` (--hosts): N EC2 hosts with CPU, memory and disk alarms.
 * - `reminders N` (--reminders): N reminders on 48 different schedules (daily, weekdays, weekly,
 *   monthly at 12 hours of the day).
 * Baseline of the same run: the empty regime (alert routing only), which every size pays once
 * (process start, bundles, program load); time per resource is counted after it.
 *
 * Figures per regime: resources; wall s (process start to exit); CPU s of the plan process (user +
 * system) and of esbuild's service (the bundles, on the other core); ms of plan CPU per resource after
 * the empty regime; peak RSS; the top 3 self-time sites of a CPU profile (node --cpu-prof) of that run,
 * garbage collection included, idle excluded. The machine may be shared: CPU time is the steadier figure.
 * `db` sizes are also planned without the promise check (--no-promise-check) to show what the check adds;
 * as two processes differ by more than the check costs, the check is also timed inside each plan
 * (promise check: X ms of Y ms CPU), medians over the runs.
 *
 * Targets (plan time at scale): the 50-database regime in at most 15 s (goal 8 s) with the time per
 * resource flat or falling from 10 to 50; 3,000 hosts and 1,500 reminders each in at most 60 s.
 *
 * --baseline REV plans every regime also with the program of git revision REV (exported with
 * `git archive` into a temporary directory that uses this checkout's node_modules), alternating runs,
 * so both figures come from the same machine load. Each checkout's plan runs with the V8 heap flags of
 * its own `npm run plan` script (heapFlags). --timeout S stops a plan after S seconds (default 300).
 *
 *   npm run bench -- plan [--sizes 1,10,50] [--hosts 3000] [--reminders 1500] [--runs 3] [--baseline REV] [--timeout S]
 *
 * A recorded run with its baseline, and where the profiles showed the time going: bench/results/plan.md.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { DEPLOY_LIMITS } from "../regime/limits";

const ROOT = path.resolve(__dirname, "..");
const NS = "maintenance-regime";

/** Endpoints whose settings fit the health-check function's 4 KB environment. */
const MAX_ENDPOINTS = 20;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const numbers = (s: string) => (s ? s.split(",").map(Number).filter((n) => Number.isInteger(n) && n >= 0) : []);

/** Config every bench regime shares: alert routing only, someone on each severity (a paged severity without a subscriber is refused). */
function baseConfig(): Record<string, unknown> {
  return {
    "aws:region": "us-east-1",
    [`${NS}:name`]: "bench",
    [`${NS}:alerting`]: { P0: { email: ["oncall@example.com"] }, P1: { email: ["oncall@example.com"] }, P2: { email: ["devops@example.com"] }, P3: { email: ["devops@example.com"] } },
  };
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
      ...baseConfig(),
      [`${NS}:dashboard`]: n > 0,
      ...(n > 0 ? { [`${NS}:databases`]: databases, [`${NS}:endpoints`]: { schedule: "every 1 minute", checks } } : {}),
    },
  };
}

/** A stack file with `n` EC2 hosts, each with the default CPU, memory and disk alarms. */
export function regimeOfHosts(n: number): Record<string, unknown> {
  const hosts = Array.from({ length: n }, (_, i) => ({ name: `host${i}`, instanceId: `i-${i.toString(16).padStart(17, "0")}` }));
  return { config: { ...baseConfig(), [`${NS}:hosts`]: hosts } };
}

/**
 * A stack file with `n` reminders on 48 schedules (4 kinds at 12 hours of the day). Each reminder has a
 * schedule group of its own; past EventBridge Scheduler's default quota of 500 groups the regime
 * accepts that promise (as a user would after raising the quota), so the plan is measured, not refused.
 */
export function regimeOfReminders(n: number): Record<string, unknown> {
  const kinds = ["daily", "weekdays", "weekly on Monday", "monthly on day 1"];
  const reminders = Array.from({ length: n }, (_, i) => ({
    name: `reminder${i}`,
    schedule: `${kinds[i % kinds.length]} at ${String(6 + (Math.floor(i / kinds.length) % 12)).padStart(2, "0")}:00`,
    checklist: [`Review item ${i}`, "Write down what was found"],
  }));
  const acceptedRisks = n > DEPLOY_LIMITS.scheduleGroups.value ? [{ key: "reminders", reason: `${n} schedule groups: the account's quota raised` }] : [];
  return { config: { ...baseConfig(), [`${NS}:reminders`]: reminders, ...(acceptedRisks.length ? { [`${NS}:acceptedRisks`]: acceptedRisks } : {}) } };
}

/** A plan that did not finish: killed at the timeout, or failed (out of memory, an error). */
interface Failure {
  failed: string;
}

interface Sample {
  wallMs: number;
  cpuMs: number;
  esbuildCpuMs?: number;
  maxRssMb: number;
  /** CPU the promise check took inside the plan, ms (bench/plan-child.ts); absent when skipped or not measured. */
  checkCpuMs?: number;
  resources: number;
  /** Top self-time sites of the run's CPU profile. */
  top: string;
}

/** Self time of a .cpuprofile by function and file; the `count` largest in % of busy time, idle and (program) left out. */
export function topSelfTime(file: string, root: string, count = 3): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const frames = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const f = frames.get(id)!;
    if (f.functionName === "(idle)") return;
    const us = p.timeDeltas[i] ?? 0;
    total += us;
    if (f.functionName === "(program)") return;
    const where = f.url
      .replace(/^file:\/\//, "")
      .replace(/^.*\/node_modules\//, "")
      .replace(`${root}/`, "");
    // Line numbers are left out: tsx-compiled sources report the line of the compiled output.
    const key = where ? `${f.functionName || "(anonymous)"} ${where}` : f.functionName;
    self.set(key, (self.get(key) ?? 0) + us);
  });
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([k, us]) => `${k} ${((us / total) * 100).toFixed(0)} %`)
    .join("; ");
}

/** The main thread's profile of a run (the one with the most busy samples). */
function mainProfile(dir: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  let best: string | undefined;
  let bestBusy = -1;
  for (const f of files) {
    const p = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as { nodes: { id: number; callFrame: { functionName: string } }[]; samples: number[] };
    const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
    const busy = p.samples.filter((s) => !idle.has(s)).length;
    if (busy > bestBusy) [best, bestBusy] = [path.join(dir, f), busy];
  }
  return best;
}

/**
 * The V8 heap flags (`--max-semi-space-size=N`, `--max-old-space-size=N`) of the checkout's own
 * `npm run plan` script (package.json), so each checkout is planned as its users plan it.
 */
export function heapFlags(root: string): string[] {
  try {
    const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { scripts?: Record<string, string> };
    return (pkg.scripts?.plan ?? "").split(/\s+/).filter((t) => /^--max-(semi|old)-space-size=\d+$/.test(t));
  } catch {
    return [];
  }
}

function planOnce(root: string, file: string, work: string, timeoutS: number, promises = true): Sample | Failure {
  const stats = path.join(work, "stats.json");
  const profiles = mkdtempSync(path.join(work, "prof-"));
  const args = [
    ...heapFlags(root),
    "--import",
    "tsx",
    "--cpu-prof",
    "--cpu-prof-dir",
    profiles,
    path.join(ROOT, "bench/plan-child.ts"),
    root,
    stats,
    "--config",
    file,
    "--json",
    "--from",
    "2026-11-23",
    ...(promises ? [] : ["--no-promise-check"]),
  ];
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", maxBuffer: 1024 * 1024 * 1024, timeout: timeoutS * 1000, killSignal: "SIGKILL" });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  try {
    if (run.signal === "SIGKILL") return { failed: `did not finish in ${timeoutS} s` };
    if (run.status !== 0) {
      const err = (run.stderr || String(run.error)).trim();
      return { failed: /heap out of memory/.test(err) ? `ran out of memory after ${s1(wallMs)} s` : `failed: ${err.split("\n")[0]}` };
    }
    const s = JSON.parse(readFileSync(stats, "utf8")) as { cpuMs: number; childCpuMs?: number; maxRssKb: number; promiseCheckCpuMs?: number };
    const prof = mainProfile(profiles);
    return {
      wallMs,
      cpuMs: s.cpuMs,
      esbuildCpuMs: s.childCpuMs,
      maxRssMb: s.maxRssKb / 1024,
      checkCpuMs: s.promiseCheckCpuMs,
      resources: (JSON.parse(run.stdout) as { resourceCount: number }).resourceCount,
      top: prof ? topSelfTime(prof, root) : "(no profile)",
    };
  } finally {
    rmSync(profiles, { recursive: true, force: true });
  }
}

/** The sample of median CPU time, or the first failure when any run did not finish. */
function median(xs: (Sample | Failure)[]): Sample | Failure {
  const failed = xs.find((x): x is Failure => "failed" in x);
  if (failed) return failed;
  return [...(xs as Sample[])].sort((a, b) => a.cpuMs - b.cpuMs)[Math.floor(xs.length / 2)];
}

const ok = (s: Sample | Failure | undefined): s is Sample => s !== undefined && !("failed" in s);

/** A checkout of git revision `rev` in a temporary directory, using this checkout's node_modules. */
function exportRevision(rev: string, work: string): string {
  const dir = path.join(work, `rev-${rev.replace(/[^\w.-]/g, "_")}`);
  mkdirSync(dir);
  const tar = execFileSync("git", ["-C", ROOT, "archive", "--format=tar", rev], { maxBuffer: 512 * 1024 * 1024 });
  execFileSync("tar", ["-x", "-C", dir], { input: tar });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
function middle(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Row {
  label: string;
  now: Sample | Failure;
  /** Every run of `now`: the promise check's share is the median over them (in-process, so free of the noise between processes). */
  nowRuns: (Sample | Failure)[];
  before?: Sample | Failure;
  withoutCheck?: Sample | Failure;
}

const s1 = (ms: number) => (ms / 1000).toFixed(1);

function line(label: string, s: Sample | Failure | undefined, base: Sample | Failure | undefined): string {
  if (!ok(s)) return `${label.padEnd(24)}  ${s?.failed ?? "not run"}`;
  const per = ok(base) && s.resources > base.resources ? ((s.cpuMs - base.cpuMs) / (s.resources - base.resources)).toFixed(2) : "-";
  return [
    label.padEnd(24),
    String(s.resources).padStart(9),
    s1(s.wallMs).padStart(7),
    s1(s.cpuMs).padStart(6),
    (s.esbuildCpuMs === undefined ? "-" : s1(s.esbuildCpuMs)).padStart(10),
    per.padStart(11),
    s.maxRssMb.toFixed(0).padStart(8),
    `  ${s.top}`,
  ].join("  ");
}

function main(): void {
  const sizes = numbers(arg("sizes", "1,10,50"));
  const hosts = numbers(arg("hosts", ""));
  const reminders = numbers(arg("reminders", ""));
  const runs = Number(arg("runs", "3"));
  const timeoutS = Number(arg("timeout", "300"));
  const baselineRev = arg("baseline", "");
  const work = mkdtempSync(path.join(tmpdir(), "bench-plan-"));
  try {
    const baseRoot = baselineRev ? exportRevision(baselineRev, work) : undefined;
    const regimes: { label: string; config: Record<string, unknown>; compareCheck: boolean }[] = [
      { label: "empty", config: regimeOfSize(0), compareCheck: false },
      ...sizes.map((n) => ({ label: `db ${n}`, config: regimeOfSize(n), compareCheck: true })),
      ...hosts.map((n) => ({ label: `hosts ${n}`, config: regimeOfHosts(n), compareCheck: false })),
      ...reminders.map((n) => ({ label: `reminders ${n}`, config: regimeOfReminders(n), compareCheck: false })),
    ];
    const rows: Row[] = [];
    for (const [i, r] of regimes.entries()) {
      const file = path.join(work, `Pulumi.bench${i}.yaml`);
      writeFileSync(file, YAML.stringify(r.config));
      // Alternate the variants within each round so load on the machine falls on all alike.
      const samples = Array.from({ length: runs }, () => ({
        now: planOnce(ROOT, file, work, timeoutS),
        before: baseRoot ? planOnce(baseRoot, file, work, timeoutS) : undefined,
        without: r.compareCheck ? planOnce(ROOT, file, work, timeoutS, false) : undefined,
      }));
      rows.push({
        label: r.label,
        now: median(samples.map((s) => s.now)),
        nowRuns: samples.map((s) => s.now),
        before: baseRoot ? median(samples.map((s) => s.before!)) : undefined,
        withoutCheck: r.compareCheck ? median(samples.map((s) => s.without!)) : undefined,
      });
      process.stderr.write(`planned ${r.label}\n`);
    }

    const head = ["regime".padEnd(24), "resources", "wall s", " CPU s", "esbuild s", "CPU ms/res", "peak MB", "  top self time (CPU profile)"].join("  ");
    const empty = rows[0];
    console.log(`plan of each regime in a fresh process, median of ${runs} run(s) by CPU time; CPU ms/res counted after the empty regime`);
    console.log(`V8 heap flags (each checkout's npm run plan): ${heapFlags(ROOT).join(" ") || "none"}${baseRoot ? `; before (${baselineRev}): ${heapFlags(baseRoot).join(" ") || "none"}` : ""}`);
    console.log(head);
    for (const r of rows) {
      console.log(line(r.label, r.now, empty.now));
      if (baselineRev) console.log(line(`  before (${baselineRev})`, r.before, empty.before));
    }

    const dbRows = rows.filter((r) => r.label.startsWith("db ") && ok(r.now));
    const perRes = (s: Sample | Failure | undefined, base: Sample | Failure | undefined) => (ok(s) && ok(base) ? (s.cpuMs - base.cpuMs) / (s.resources - base.resources) : NaN);
    if (dbRows.length >= 2) {
      const [first, last] = [dbRows[0], dbRows[dbRows.length - 1]];
      const ratio = perRes(last.now, empty.now) / perRes(first.now, empty.now);
      console.log(`CPU per resource, ${last.label} vs ${first.label}: ${ratio.toFixed(2)}x (target: flat or falling, at most 1)`);
      if (baselineRev) console.log(`  before (${baselineRev}): ${(perRes(last.before, empty.before) / perRes(first.before, empty.before)).toFixed(2)}x`);
    }
    for (const r of dbRows) {
      const [w, wo] = [r.now, r.withoutCheck];
      if (!ok(w) || !ok(wo)) continue;
      const adds = ((w.cpuMs - wo.cpuMs) / wo.cpuMs) * 100;
      console.log(`promise check at ${r.label}: ${s1(w.cpuMs)} s CPU with, ${s1(wo.cpuMs)} s without: adds ${adds.toFixed(1)} % (two processes: noisy)`);
    }
    // The check timed inside the plan it runs in: no second process, so no noise between processes.
    for (const r of dbRows) {
      const timed = r.nowRuns.filter((s): s is Sample => ok(s) && s.checkCpuMs !== undefined);
      if (timed.length === 0) continue;
      const check = middle(timed.map((s) => s.checkCpuMs!));
      const plan = middle(timed.map((s) => s.cpuMs));
      const shares = timed.map((s) => (s.checkCpuMs! / s.cpuMs) * 100);
      console.log(
        `promise check at ${r.label}: ${check.toFixed(0)} ms of ${plan.toFixed(0)} ms CPU (${((check / plan) * 100).toFixed(1)} %; runs ${shares.map((x) => x.toFixed(1)).join(", ")} %), timed in-process, median of ${timed.length} (target: at most 10 %)`,
      );
    }
    const targets: [string, number][] = [
      ["db 50", 15],
      ...hosts.filter((n) => n === 3000).map((n): [string, number] => [`hosts ${n}`, 60]),
      ...reminders.filter((n) => n === 1500).map((n): [string, number] => [`reminders ${n}`, 60]),
    ];
    for (const [label, limit] of targets) {
      const r = rows.find((x) => x.label === label);
      if (!r) continue;
      const fig = (s: Sample | Failure | undefined) => (ok(s) ? `${s1(s.wallMs)} s wall, ${s1(s.cpuMs)} s CPU, peak ${s.maxRssMb.toFixed(0)} MB` : (s?.failed ?? "not run"));
      console.log(`${label}: ${fig(r.now)} (target: at most ${limit} s)${baselineRev ? `; before: ${fig(r.before)}` : ""}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) main();
