/**
 * One offline plan in a process of its own, for bench/plan.ts: runs `plan/cli.ts` of the checkout at
 * <root> (this one, or an exported baseline revision) with the given plan arguments, prints what the
 * plan prints, and writes this process's figures as JSON to <stats file> when it exits:
 *   { cpuMs, childCpuMs, maxRssKb, promiseCheckCpuMs }
 * cpuMs: user + system CPU of this process (process.cpuUsage), ms. childCpuMs: CPU of the processes it
 * still runs at exit (esbuild's service), read from /proc/<pid>/stat, ms; absent where /proc is not. maxRssKb:
 * peak resident set size of this process, KB (process.resourceUsage). promiseCheckCpuMs: CPU the promise
 * check took inside this plan, ms, as the program and the plan measure it (components/promises.ts
 * `PromiseCheckContext.cpuMs`); absent when the check was skipped or the checkout does not measure it.
 *
 *   node --import tsx bench/plan-child.ts <root> <stats file> [plan arguments]
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

/** Where the program and the plan leave the promise check's figures (components/promises.ts). */
const PROMISE_CHECK = Symbol.for("maintenance-regime.promise-check");

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux builds). */
const USER_HZ = 100;

/** CPU ms of this process's live child processes (user + system), or undefined without /proc. */
function childCpuMs(): number | undefined {
  try {
    let ticks = 0;
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue; // ended since the listing
      }
      // After the parenthesised command: state, ppid, ...; utime and stime are fields 14 and 15 of the line.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === process.pid) ticks += Number(fields[11]) + Number(fields[12]);
    }
    return (ticks * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

async function run(): Promise<void> {
  const [root, statsFile, ...args] = process.argv.slice(2);
  if (!root || !statsFile) {
    process.stderr.write("usage: plan-child.ts <root> <stats file> [plan arguments]\n");
    process.exit(2);
  }
  process.on("exit", () => {
    const cpu = process.cpuUsage();
    const check = (globalThis as unknown as Record<symbol, { cpuMs?: number } | undefined>)[PROMISE_CHECK];
    writeFileSync(
      statsFile,
      JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, childCpuMs: childCpuMs(), maxRssKb: process.resourceUsage().maxRSS, promiseCheckCpuMs: check?.cpuMs }),
    );
  });
  const mod = (await import(pathToFileURL(path.join(root, "plan/cli.ts")).href)) as { main?: (argv: string[]) => Promise<number>; default?: { main: (argv: string[]) => Promise<number> } };
  const main = mod.main ?? mod.default?.main;
  if (!main) throw new Error(`${root}/plan/cli.ts exports no main`);
  const code = await main(args);
  process.stdout.write("", () => process.exit(code));
}

void run();
