/**
 * Health-check benchmark: 200 endpoints on 127.0.0.1 (one server in a child process, distinct paths),
 * every tenth never answering. Target: the whole run takes at most 1.2 x one timeout, because the
 * checks run concurrently (50 at a time) and the hanging ones time out together.
 * Baselines measured in the same run: a naive Promise.all over fetch with AbortSignal.timeout (no
 * bound, whole bodies read), and the same list checked one after another.
 *
 *   npx tsx bench/health-check.ts [--endpoints 200] [--timeout-ms 1000] [--no-sequential]
 */
import { spawn } from "node:child_process";
import { checkAll } from "../tasks/health-check/check";
import { healthCheckSettings } from "../tasks/health-check/settings";
import { parseSettings } from "../tasks/lib/runtime";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ENDPOINTS = arg("endpoints", 200);
const TIMEOUT_MS = arg("timeout-ms", 1000);
const SEQUENTIAL = !process.argv.includes("--no-sequential");

const SERVER = `
const http = require("node:http");
const s = http.createServer((req, res) => {
  const i = Number(req.url.split("/").pop());
  if (i % 10 === 9) return; // never answers
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ status: "ok", endpoint: i }));
});
s.keepAliveTimeout = 0;
s.listen(0, "127.0.0.1", () => process.stdout.write(String(s.address().port) + "\\n"));
`;

async function startServer(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  return { port, stop: () => child.kill() };
}

async function main(): Promise<void> {
  const server = await startServer();
  const urls = Array.from({ length: ENDPOINTS }, (_, i) => `http://127.0.0.1:${server.port}/e/${i}`);
  const settings = parseSettings(healthCheckSettings, {
    ENDPOINTS: JSON.stringify(urls.map((url, i) => ({ name: `e${i}`, url, timeoutMs: TIMEOUT_MS, conditions: { jsonField: { path: "status", equals: "ok" } } }))),
  });

  try {
    let t = performance.now();
    const { results } = await checkAll(settings, new AbortController().signal);
    const task = performance.now() - t;
    const healthy = results.filter((r) => r.healthy).length;
    const timedOut = results.filter((r) => r.failures.some((f) => f.startsWith("timed out"))).length;

    // Baseline 1: Promise.all over fetch, whole body, no concurrency bound.
    t = performance.now();
    const naive = await Promise.all(
      urls.map(async (u) => {
        try {
          const res = await fetch(u, { signal: AbortSignal.timeout(TIMEOUT_MS) });
          const body = await res.text();
          return res.status === 200 && JSON.parse(body).status === "ok";
        } catch {
          return false;
        }
      }),
    );
    const naiveMs = performance.now() - t;

    // Baseline 2: one after another (what a loop of `curl -f -m` does).
    let seqMs = NaN;
    if (SEQUENTIAL) {
      t = performance.now();
      for (const e of settings.endpoints) await checkAll({ ...settings, endpoints: [e] }, new AbortController().signal);
      seqMs = performance.now() - t;
    }

    const ratio = task / TIMEOUT_MS;
    const f = (ms: number) => `${ms.toFixed(0)} ms`;
    console.log(`endpoints               ${ENDPOINTS} (${ENDPOINTS / 10} never answer), concurrency ${settings.concurrency}`);
    console.log(`timeout                 ${f(TIMEOUT_MS)}`);
    console.log(`health-check task       ${f(task)}  healthy ${healthy}, timed out ${timedOut}`);
    console.log(`ratio to one timeout    ${ratio.toFixed(3)}  (target <= 1.2: ${ratio <= 1.2 ? "met" : "NOT met"})`);
    console.log(`baseline Promise.all+fetch ${f(naiveMs)}  healthy ${naive.filter(Boolean).length}  ratio ${(naiveMs / TIMEOUT_MS).toFixed(3)}`);
    if (SEQUENTIAL) console.log(`baseline sequential     ${f(seqMs)}  ratio ${(seqMs / TIMEOUT_MS).toFixed(3)}  (${(seqMs / task).toFixed(1)}x slower)`);
    if (ratio > 1.2) process.exitCode = 1;
  } finally {
    server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
