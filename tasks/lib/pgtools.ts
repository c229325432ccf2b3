/**
 * The PostgreSQL client binaries (pg_dump, pg_restore, psql): which ones, which version, how they compress,
 * and running them as child processes with their stderr kept for a one-line failure reason.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { connect, type Connection } from "./db";
import { TaskError } from "./runtime";

const execFileP = promisify(execFile);

export type PgTool = "pg_dump" | "pg_restore" | "psql";

/** PG_DUMP_PATH / PG_RESTORE_PATH / PSQL_PATH win; else PG_BIN_DIR/<tool>; else the tool on PATH. */
export function toolPath(tool: PgTool, env: Record<string, string | undefined>): string {
  const explicit = { pg_dump: env.PG_DUMP_PATH, pg_restore: env.PG_RESTORE_PATH, psql: env.PSQL_PATH }[tool];
  if (explicit) return explicit;
  if (env.PG_BIN_DIR) return path.join(env.PG_BIN_DIR, tool);
  return tool;
}

export interface PgVersion {
  major: number;
  minor: number;
  text: string;
}

/** Parses "pg_dump (PostgreSQL) 15.20 (Debian ...)" or "16beta1" or a server's "15.4". */
export function parseVersion(output: string): PgVersion | undefined {
  const m = /(\d+)(?:\.(\d+))?(?:\.\d+)?(?:beta\d*|rc\d*|devel)?/.exec(output.replace(/^[^(]*\(PostgreSQL\)\s*/, ""));
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), text: m[0] };
}

export async function clientVersion(bin: string, env: Record<string, string | undefined>): Promise<PgVersion> {
  let out: string;
  try {
    out = (await execFileP(bin, ["--version"], { env: { PATH: env.PATH ?? process.env.PATH }, timeout: 10_000 })).stdout;
  } catch (err) {
    throw new TaskError(`${bin}: cannot run it (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); set PG_BIN_DIR or PG_DUMP_PATH`);
  }
  const v = parseVersion(out.trim());
  if (!v) throw new TaskError(`${bin} --version: unexpected output "${out.trim()}"`);
  return v;
}

export async function serverVersion(c: Connection): Promise<PgVersion> {
  const client = await connect(c);
  try {
    const r = await client.query<{ v: string; n: string }>("SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n");
    const num = Number(r.rows[0].n);
    return { major: Math.floor(num / 10000), minor: num % 10000, text: r.rows[0].v.split(" ")[0] };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The most-reported pitfall of dump tools: a client older than the server. Refuse before dumping. */
export function assertClientCanDump(client: PgVersion, server: PgVersion, databaseId: string, bin: string): void {
  if (client.major < server.major) {
    throw new TaskError(
      `database ${databaseId}: ${path.basename(bin)} ${client.text} is older than the server (PostgreSQL ${server.text}); install the PostgreSQL ${server.major} client and point PG_BIN_DIR or PG_DUMP_PATH at it`,
    );
  }
}

/**
 * COMPRESSION setting -> pg_dump arguments. Accepts none, 0-9, gzip[:N], lz4[:N], zstd[:N] and auto
 * (zstd:1 where the client has it, PostgreSQL 16+, else gzip level 1: compression is usually the
 * bottleneck of -Fc, low levels are the sweet spot). lz4/zstd asked of an older client fall back to
 * gzip level 1, reported in `note`.
 */
export function compressionArgs(setting: string, client: PgVersion): { args: string[]; effective: string; note?: string } {
  const s = setting.trim().toLowerCase();
  if (s === "auto") return client.major >= 16 ? { args: ["--compress=zstd:1"], effective: "zstd:1" } : { args: ["-Z", "1"], effective: "gzip:1" };
  if (s === "none" || s === "0") return { args: ["-Z", "0"], effective: "none" };
  if (/^[1-9]$/.test(s)) return { args: ["-Z", s], effective: `gzip:${s}` };
  const m = /^(gzip|lz4|zstd)(?::(\d+))?$/.exec(s);
  if (!m) throw new TaskError(`COMPRESSION: "${setting}" is not one of auto, none, 0-9, gzip[:1-9], lz4[:1-12], zstd[:1-22]`);
  const [, method, level] = m;
  if (client.major < 16) {
    if (method !== "gzip") {
      return { args: ["-Z", "1"], effective: "gzip:1", note: `pg_dump ${client.text} has no ${method} (PostgreSQL 16+); using gzip level 1` };
    }
    return { args: ["-Z", level ?? "1"], effective: `gzip:${level ?? "1"}` };
  }
  return { args: [`--compress=${method}${level ? `:${level}` : ""}`], effective: `${method}${level ? `:${level}` : ""}` };
}

/** A child process whose last stderr lines are kept for the failure message. */
export interface Tool {
  child: ChildProcess;
  /** Resolves with the exit code (signals map to 128+n) once the process has exited and its pipes closed. */
  exited: Promise<number>;
  stderrTail(): string;
}

/**
 * Starts `bin` with stdout piped and stderr read as UTF-8. Its stderr is split into lines once: each
 * line goes to `onStderrLine` (without its newline; a last line without one when the stream ends) and
 * from the first error on (ERROR_LINE) into the failure message, stderrTail. Without `onStderrLine`
 * the splitting stops once the first error and the FIRST_ERROR_LINES after it are held.
 */
export function startTool(bin: string, args: string[], env: NodeJS.ProcessEnv, stdin: "pipe" | "ignore" = "ignore", onStderrLine?: (line: string) => void): Tool {
  const child = spawn(bin, args, { env, stdio: [stdin, "pipe", "pipe"] });
  let tail = "";
  let partial = "";
  // The first error and the lines after it, kept as they arrive: a long run of later errors or
  // warnings (pg_restore without --exit-on-error) must not push the cause out of the tail.
  let firstError: string[] | undefined;
  const held = () => firstError !== undefined && firstError.length >= FIRST_ERROR_LINES;
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    tail = (tail + d).slice(-4000);
    if (!onStderrLine && held()) return;
    const lines = (partial + d).split("\n");
    partial = lines.pop()!;
    // A line is kept whole only for the callback; the tail needs its last 4000 characters at most.
    if (!onStderrLine) partial = partial.slice(-4000);
    for (const l of lines) {
      onStderrLine?.(l);
      if (held()) continue;
      const line = l.trim();
      if (!line) continue;
      if (!firstError) {
        if (ERROR_LINE.test(line)) firstError = [line];
      } else firstError.push(line);
    }
  });
  if (onStderrLine) child.stderr!.once("end", () => partial && onStderrLine(partial));
  const exited = new Promise<number>((resolve) => {
    child.once("error", (err) => {
      tail += `\n${err.message}`;
      resolve(127);
    });
    child.once("close", (code, signal) => resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1)));
  });
  const stderrTail = () => {
    const last = partial.slice(-4000).trim();
    if (firstError) return summarizeStderr(last && firstError.length < FIRST_ERROR_LINES ? [...firstError, last] : firstError);
    return summarizeStderr(tail.split("\n").map((l) => l.trim()).filter(Boolean));
  };
  return { child, exited, stderrTail };
}

/**
 * A line that states an error in the PostgreSQL tools' stderr: psql's `psql:<file>:<line>: ERROR:  ...`
 * and `FATAL:`, the server's `PANIC:`, and the client programs' own `pg_restore: error: ...` (lower case
 * since PostgreSQL 12). Matched case-sensitively per form, so a table or column named "error" in a
 * NOTICE does not count.
 */
const ERROR_LINE = /(?:^|\s|:)(?:ERROR|FATAL|PANIC):\s|\berror:\s/;
/** The lines kept from the first error on: the error, DETAIL/HINT/QUERY/CONTEXT/LINE and a few more. */
const FIRST_ERROR_LINES = 12;
/** Longest DETAIL or HINT line carried in the message; longer ones are left out, not cut. */
const DETAIL_MAX = 200;
/** Longest message. */
const MESSAGE_MAX = 600;

/**
 * One line for a failure message from stderr lines: the first error line in full (the cause, e.g.
 * `ERROR:  relation "allowed" does not exist`), then its DETAIL and HINT lines when each is at most
 * 200 characters, then the other lines (QUERY, CONTEXT, ...) while the message stays within 600
 * characters. Without an error line: the last three lines. Exported for tests.
 */
export function summarizeStderr(lines: string[]): string {
  const at = lines.findIndex((l) => ERROR_LINE.test(l));
  if (at < 0) {
    const text = lines.slice(-3).join(" ");
    return text.length > MESSAGE_MAX ? `...${text.slice(-MESSAGE_MAX)}` : text;
  }
  const [error, ...after] = lines.slice(at);
  const isNote = (l: string) => /^(?:\S+:\s*)?(?:DETAIL|HINT):\s/.test(l);
  const notes = after.filter((l) => isNote(l) && l.length <= DETAIL_MAX);
  const rest = after.filter((l) => !isNote(l));
  let text = error.length > MESSAGE_MAX ? `${error.slice(0, MESSAGE_MAX)}...` : error;
  for (const l of [...notes, ...rest]) {
    if (text.length + 1 + l.length > MESSAGE_MAX) continue;
    text += ` ${l}`;
  }
  return text;
}

function signalNumber(s: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 } as Record<string, number>)[s];
}
