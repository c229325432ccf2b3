/**
 * The backup task alone in its own process, for bench/backup.ts: runs it with the environment it
 * was given and reports on stderr its own peak RSS, bytes written to local disk, and CPU seconds
 * of itself and of its reaped children (pg_dump) from /proc/self.
 */
import { readFileSync } from "node:fs";
import { backupTask } from "../tasks/backup";
import { runTask } from "../tasks/lib/runtime";
import { procCpu } from "./proc";

function procFigures(): { peakRssBytes: number; writeBytes: number; cpuSeconds: number; childCpuSeconds: number } {
  const status = readFileSync("/proc/self/status", "utf8");
  const io = readFileSync("/proc/self/io", "utf8");
  const usage = process.resourceUsage();
  return {
    peakRssBytes: Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024,
    writeBytes: Number(/^write_bytes:\s+(\d+)/m.exec(io)![1]),
    cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    childCpuSeconds: procCpu("self")!.children,
  };
}

runTask(backupTask, process.env).then(
  (result) => {
    process.stderr.write(`BENCH ${JSON.stringify({ ok: true, result, ...procFigures() })}\n`);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`BENCH ${JSON.stringify({ ok: false, error: String(err?.message ?? err), ...procFigures() })}\n`);
    process.exit(1);
  },
);
