/** The Embedded Metric Format lines a task writes to stdout while it runs, as CloudWatch reads them. */

export type EmfLine = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } };

/**
 * Runs `run` with stdout captured (and still written through) and returns the EMF lines it wrote;
 * stdout is restored and an error of `run` rethrown after.
 */
export async function captureEmf(run: () => Promise<unknown>): Promise<EmfLine[]> {
  return (await captureJsonLines(run)).filter((l): l is EmfLine => "_aws" in l);
}

/** Every JSON line (EMF and structured log lines) a task writes to `stream` (stdout; the logger's warnings go to stderr) while `run` runs. */
export async function captureJsonLines(run: () => Promise<unknown>, stream: NodeJS.WriteStream = process.stdout): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const write = stream.write.bind(stream);
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(String(chunk));
    return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof stream.write;
  try {
    await run();
  } finally {
    stream.write = write;
  }
  return lines
    .flatMap((l) => l.split("\n"))
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
