/**
 * The backup task alone in its own process, for bench/backup.ts: runs it with the environment it
 * was given and reports its own peak RSS and bytes written to local disk (/proc/self) on stderr.
 */
import { readFileSync } from "node:fs";
import { backupTask } from "../tasks/backup";
import { runTask } from "../tasks/lib/runtime";

function procFigures(): { peakRssBytes: number; writeBytes: number } {
  const status = readFileSync("/proc/self/status", "utf8");
  const io = readFileSync("/proc/self/io", "utf8");
  return {
    peakRssBytes: Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024,
    writeBytes: Number(/^write_bytes:\s+(\d+)/m.exec(io)![1]),
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
