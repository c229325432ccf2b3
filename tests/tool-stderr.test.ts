/**
 * A PostgreSQL tool's stderr is split into lines once: the caller's line callback (verify-backup
 * counts pg_restore's --verbose entries with it) sees every line, also the many after the first
 * error, where the failure message stops collecting; and the message still names the first error.
 */
import { describe, expect, it } from "vitest";
import { startTool } from "../tasks/lib/pgtools";

/** Runs `script` with sh, its output sent to stderr, and collects the lines startTool hands over. */
async function stderrLines(script: string): Promise<{ lines: string[]; tail: string; code: number }> {
  const lines: string[] = [];
  const tool = startTool("sh", ["-c", `{ ${script}; } >&2`], { PATH: process.env.PATH }, "ignore", (l) => lines.push(l));
  const code = await tool.exited;
  return { lines, tail: tool.stderrTail(), code };
}

describe("startTool's stderr lines", () => {
  it("hands every line to the callback, the 200 after the first error and a last one without a newline, and the message names that first error", async () => {
    const { lines, tail, code } = await stderrLines(
      `echo "pg_restore: creating TABLE public.a"; echo "pg_restore: error: could not execute query: ERROR:  relation b does not exist"; ` +
        `i=0; while [ $i -lt 200 ]; do echo "pg_restore: processing item $i"; i=$((i+1)); done; printf "pg_restore: warning: errors ignored on restore: 1"`,
    );
    expect(code).toBe(0);
    expect(lines).toEqual([
      "pg_restore: creating TABLE public.a",
      "pg_restore: error: could not execute query: ERROR:  relation b does not exist",
      ...Array.from({ length: 200 }, (_, i) => `pg_restore: processing item ${i}`),
      "pg_restore: warning: errors ignored on restore: 1",
    ]);
    expect(tail).toMatch(/^pg_restore: error: could not execute query: ERROR:  relation b does not exist pg_restore: processing item 0 /);
  });

  it("joins lines that arrive split across reads: 20,000 lines of 100 characters (2 MB, many pipe reads) come back whole", async () => {
    const row = "x".repeat(93);
    const { lines } = await stderrLines(`i=0; while [ $i -lt 20000 ]; do printf "%06d ${row}\\n" $i; i=$((i+1)); done`);
    expect(lines.length).toBe(20_000);
    expect(lines.every((l, i) => l === `${String(i).padStart(6, "0")} ${row}`)).toBe(true);
  });
});
