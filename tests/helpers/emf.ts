/** The Embedded Metric Format lines a task writes to stdout while it runs, as CloudWatch reads them. */

export type EmfLine = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } };

/**
 * Runs `run` with stdout captured (and still written through) and returns the EMF lines it wrote;
 * stdout is restored and an error of `run` rethrown after.
 */
export async function captureEmf(run: () => Promise<unknown>): Promise<EmfLine[]> {
  return (await captureJsonLines(run)).filter((l): l is EmfLine => "_aws" in l);
}

/** Every JSON line (EMF and structured log lines) a task writes to stdout while `run` runs. */
export async function captureJsonLines(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(String(chunk));
    return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = write;
  }
  return lines
    .flatMap((l) => l.split("\n"))
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
