/**
 * Runs a task here with the same code Lambda runs: `npm run task -- <task> [--option value ...]`.
 * Progress and metrics go to stderr; the last line of stdout is one JSON result.
 * Exit codes: 0 success, 1 the task failed (or an endpoint is unhealthy), 2 bad usage or settings.
 */
import { findTask, tasks } from "./registry";
import { recordRunMarker } from "./lib/run-marker";
import { oneLine, optionsToEnv, runTask, TaskError } from "./lib/runtime";

export function parseArgs(argv: string[]): { task?: string; options: Record<string, string[]> } {
  const options: Record<string, string[]> = {};
  let task: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      let value: string;
      if (eq > 0) value = a.slice(eq + 1);
      else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) value = argv[++i];
      else value = "true";
      (options[key] ??= []).push(value);
    } else if (!task) task = a;
    else throw new Error(`argument "${a}": unexpected; options are written --name value`);
  }
  return { task, options };
}

export { optionsToEnv };

function usage(): string {
  return ["usage: npm run task -- <task> [--option value ...]", "tasks:", ...Object.entries(tasks).map(([n, t]) => `  ${n.padEnd(14)} ${t.description}`)].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  // Progress (logger) and metrics lines go to stderr so stdout carries only the result.
  process.env.POWERTOOLS_DEV = "true";
  const toStderr = (...args: unknown[]) => process.stderr.write(args.map(String).join(" ") + "\n");
  console.log = console.info = console.warn = console.debug = toStderr;

  let parsed: ReturnType<typeof parseArgs>;
  let task;
  try {
    parsed = parseArgs(argv);
    if (!parsed.task || parsed.options.help) {
      process.stderr.write(usage() + "\n");
      return parsed.options.help ? 0 : 2;
    }
    task = findTask(parsed.task);
  } catch (err) {
    process.stderr.write(`error: ${oneLine(err)}\n`);
    return 2;
  }
  let env: Record<string, string | undefined>;
  try {
    env = { ...process.env, ...(task.cli ? task.cli(parsed.options) : optionsToEnv(parsed.options)) };
  } catch (err) {
    process.stderr.write(`error: ${oneLine(err)}\n`);
    return 2;
  }
  const ac = new AbortController();
  process.once("SIGINT", () => ac.abort());
  process.once("SIGTERM", () => ac.abort());
  try {
    // Fargate runs this entry: a watched task records its success (RUN_MARKER_*; unset locally).
    // --scheduled-time given here is a rerun by hand; SCHEDULED_TIME from the environment a scheduled run's.
    const given = parsed.options["scheduled-time"] !== undefined ? "--scheduled-time" : "SCHEDULED_TIME";
    const result = await runTask(task, env, ac.signal, recordRunMarker, { scheduledTimeGiven: given });
    process.stdout.write(JSON.stringify(result) + "\n");
    return 0;
  } catch (err) {
    const msg = oneLine(err);
    process.stderr.write(`error: ${msg}\n`);
    const result = err instanceof TaskError && err.result !== undefined ? err.result : { error: msg };
    process.stdout.write(JSON.stringify(result) + "\n");
    return err instanceof TaskError && msg.startsWith("invalid setting") ? 2 : 1;
  }
}

if (require.main === module) {
  // Exit once stdout is flushed: a large result piped to another program would be cut off otherwise.
  main(process.argv.slice(2)).then((code) => process.stdout.write("", () => process.exit(code)));
}
