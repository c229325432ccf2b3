/** CPU seconds of a Linux process from /proc/<pid>/stat, for the benchmarks. */
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux x86-64 and arm64, proc(5)). */
const USER_HZ = 100;

/**
 * `own`: user + system CPU seconds of the process; `children`: those of its children it has waited
 * for (cutime + cstime). Undefined when the process is gone or not readable.
 */
export function procCpu(pid: number | "self"): { own: number; children: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // After the ")" closing the command name comes field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return { own: (f[11] + f[12]) / USER_HZ, children: (f[13] + f[14]) / USER_HZ };
}
