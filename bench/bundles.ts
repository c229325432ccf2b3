/**
 * Lambda bundle figures: per zip task the bundle size (raw, zip stored, zip deflated), the build
 * time, and the cold import time in a fresh node process (median of 5). Baseline measured in the same
 * run: importing the unbundled TypeScript sources the same way through tsx (what `npm run task` does),
 * plus the start-up floor of node and of tsx alone.
 *
 *   npx tsx bench/bundles.ts [--runs 5]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { bundleTask, REPO_ROOT, TASK_MODULES, ZIP_TASKS, zipArchive } from "../build/bundle";

const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const TSX = path.join(REPO_ROOT, "node_modules", ".bin", "tsx");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Wall time of a fresh process running `code`, median of RUNS. */
function coldMs(cmd: string, code: string, cwd: string): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const r = spawnSync(cmd, ["-e", code], { cwd, stdio: ["ignore", "ignore", "pipe"] });
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`${cmd} -e ${code}: exit ${r.status}: ${r.stderr.toString().trim().split("\n").at(-1)}`);
  }
  return median(times);
}

const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const pad = (s: string, n: number) => s.padEnd(n);

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "bundle-bench-"));
  try {
    const nodeFloor = coldMs(process.execPath, "0", dir);
    const tsxFloor = coldMs(TSX, "0", REPO_ROOT);
    console.log(`runs per figure: ${RUNS} (median); node start-up ${nodeFloor.toFixed(0)} ms, tsx start-up ${tsxFloor.toFixed(0)} ms; (+N) = over that start-up`);
    console.log(
      [pad("task", 14), pad("build", 8), pad("raw", 10), pad("zip store", 11), pad("zip deflate", 12), pad("import bundle", 20), pad("import source (tsx)", 24), "speed-up"].join(""),
    );
    for (const task of ZIP_TASKS) {
      const t = performance.now();
      const b = await bundleTask(task);
      const buildMs = performance.now() - t;
      const deflated = zipArchive([{ name: "index.js", data: b.code }], "deflate");
      const fnDir = path.join(dir, task);
      spawnSync("mkdir", ["-p", fnDir]);
      writeFileSync(path.join(fnDir, "index.js"), b.code);
      const bundled = coldMs(process.execPath, `if (typeof require("./index.js").handler !== "function") process.exit(3)`, fnDir);
      const m = TASK_MODULES[task];
      const source = coldMs(
        TSX,
        `const { makeHandler } = require("./tasks/handler"); if (typeof makeHandler(require("./tasks/${m.file}").${m.exportName}) !== "function") process.exit(3)`,
        REPO_ROOT,
      );
      console.log(
        [
          pad(task, 14),
          pad(`${buildMs.toFixed(0)} ms`, 8),
          pad(kb(b.code.length), 10),
          pad(kb(b.archive.length), 11),
          pad(kb(deflated.length), 12),
          pad(`${bundled.toFixed(0)} ms (+${(bundled - nodeFloor).toFixed(0)})`, 20),
          pad(`${source.toFixed(0)} ms (+${(source - tsxFloor).toFixed(0)})`, 24),
          `${(source / bundled).toFixed(1)}x`,
        ].join(""),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
