/** A TCP port on 127.0.0.1 nobody listens on right now (the OS picks it; closed again before it is returned). */
import * as net from "node:net";

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Resolves once 127.0.0.1:`port` accepts a TCP connection (a server just spawned has started),
 * trying every 100 ms; rejects after `timeoutMs`. A client connected only then needs one connect:
 * a Redis client whose first connect failed keeps its socket and refuses a second ("Socket already
 * opened").
 */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => (s.destroy(), resolve(false)));
    });
    if (up) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
