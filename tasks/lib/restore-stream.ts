/**
 * Feeds a backup object from S3 into a pg_restore child's stdin while hashing every byte. pg_restore
 * may stop reading early (`--list` reads the table of contents only): the rest is still read and
 * hashed, so the checksum always covers the whole object.
 */
import { createHash } from "node:crypto";
import type { Readable, Writable } from "node:stream";
import type { Tool } from "./pgtools";

export interface Streamed {
  bytes: number;
  sha256: string;
  exitCode: number;
}

export async function streamInto(body: Readable, tool: Tool, signal?: AbortSignal): Promise<Streamed> {
  const stdin = tool.child.stdin as Writable;
  let open = true;
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      open = false;
      resolve();
    };
    stdin.once("error", done);
    stdin.once("close", done);
  });
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (signal?.aborted) throw new Error("stopped");
      hash.update(chunk);
      bytes += chunk.length;
      if (open && !stdin.write(chunk)) {
        await Promise.race([new Promise<void>((r) => stdin.once("drain", () => r())), closed]);
      }
    }
  } catch (err) {
    tool.child.kill("SIGKILL");
    throw err;
  } finally {
    if (open) stdin.end();
  }
  return { bytes, sha256: hash.digest("hex"), exitCode: await tool.exited };
}
