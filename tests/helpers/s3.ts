/**
 * An S3-compatible server (s3rver) on 127.0.0.1 on a free port, storing in a temporary directory,
 * with one bucket; the standard AWS_* variables point the SDK at it.
 */
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver");

export interface TestS3 {
  bucket: string;
  endpoint: string;
  port: number;
  /** The variables a task needs to reach this server. */
  env: Record<string, string>;
  client: S3Client;
  /** Every object: key -> ETag, for "earlier backups are untouched" checks. */
  snapshot(): Promise<Map<string, string>>;
  stop(): Promise<void>;
}

export async function startS3(bucket = "backups"): Promise<TestS3> {
  const directory = mkdtempSync(path.join(tmpdir(), "s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
  const { port } = (await server.run()) as net.AddressInfo;
  // The Date header from this process's clock, which a test may set (vi.setSystemTime), as s3rver's
  // check of a request's time reads it: Node's own header reads the real clock, and the SDK corrects
  // its signing clock by that header, so a request signed after it would be refused as skewed.
  (server.httpServer as import("node:http").Server).prependListener("request", (_req, res: import("node:http").ServerResponse) => res.setHeader("Date", new Date().toUTCString()));
  const endpoint = `http://127.0.0.1:${port}`;
  const env = {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    BACKUP_BUCKET: bucket,
  };
  const client = new S3Client({
    endpoint,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return {
    bucket,
    endpoint,
    port,
    env,
    client,
    async snapshot() {
      const out = new Map<string, string>();
      let token: string | undefined;
      do {
        const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        for (const o of r.Contents ?? []) out.set(o.Key!, `${o.ETag}:${o.Size}`);
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
    async stop() {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort` that, once `cutAfterBytes` request bytes went
 * through, destroys every connection and refuses new ones: the network dies mid-upload.
 */
export async function startCuttingProxy(targetPort: number, cutAfterBytes: number): Promise<{ port: number; cut: Promise<void>; close: () => Promise<void> }> {
  let forwarded = 0;
  let dead = false;
  const sockets = new Set<net.Socket>();
  let onCut!: () => void;
  const cut = new Promise<void>((r) => (onCut = r));
  const server = net.createServer((client) => {
    if (dead) return client.destroy();
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", kill).on("close", kill);
    upstream.on("error", kill).on("close", kill);
    upstream.pipe(client);
    client.on("data", (chunk: Buffer) => {
      if (dead) return;
      forwarded += chunk.length;
      if (forwarded >= cutAfterBytes) {
        dead = true;
        for (const s of sockets) s.destroy();
        server.close();
        onCut();
        return;
      }
      upstream.write(chunk);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    cut,
    close: () =>
      new Promise<void>((r) => {
        dead = true;
        for (const s of sockets) s.destroy();
        server.close(() => r());
        if (!server.listening) r();
      }),
  };
}
