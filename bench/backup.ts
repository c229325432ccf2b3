/**
 * Backup benchmark: `npx tsx bench/backup.ts` (BENCH_MB=750 by default).
 *
 * Generates a database of BENCH_MB of realistic, not trivially compressible rows (names, prose-like
 * text, numbers, timestamps, JSON, base64 of random bytes) server-side, then measures end to end:
 *   - the backup task (pg_dump custom format streamed to an S3 server, s3rver on 127.0.0.1),
 *   - the guides' `pg_dump | gzip` pipeline (output counted, not stored),
 *   - `pg_dump -Fc` with its default compression.
 * Prints time, stored size, and for the task process its peak RSS and bytes written to local disk
 * (its own /proc/self/io; s3rver's own writes are the S3 server's, not the task's).
 * Targets: >= 1.5x faster than pg_dump|gzip, size <= 1.5x pg_dump -Fc, peak RSS <= 256 MB, 0 bytes to disk.
 * The database is dropped afterwards.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { buildSync } from "esbuild";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { adminQuery, adminUrl, ensurePostgres } from "../tests/helpers/pg";
import { startS3 } from "../tests/helpers/s3";

const MB = 1024 * 1024;
const targetMb = Number(process.env.BENCH_MB ?? 750);
if (!Number.isFinite(targetMb) || targetMb <= 0) {
  console.error("BENCH_MB: must be a positive number of megabytes");
  process.exit(2);
}

function sh(cmd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ seconds: number; stdout: string }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const c = spawn("bash", ["-o", "pipefail", "-c", cmd], { env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.on("close", (code) => (code === 0 ? resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, stdout: out.trim() }) : reject(new Error(`${cmd}: exit ${code}`))));
  });
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
  const db = `bench_backup_${randomBytes(3).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${db}`);
  const s3 = await startS3("bench");
  try {
    const t0 = Date.now();
    const dbSize = await generate(db);
    console.log(`database ${db}: ${(dbSize / MB).toFixed(0)} MB generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const pgEnv = { ...process.env, PGHOST: "127.0.0.1", PGPORT: "5432", PGUSER: "postgres", PGDATABASE: db };

    const gzip = await sh("pg_dump | gzip | wc -c", pgEnv);
    const fc = await sh("pg_dump -Fc | wc -c", pgEnv);

    // The task runs as Lambda runs it: one esbuild bundle (built before the clock starts).
    const bundleDir = mkdtempSync(path.join(tmpdir(), "bench-backup-"));
    const bundle = path.join(bundleDir, "backup-run.js");
    buildSync({ entryPoints: [path.join(__dirname, "backup-run.ts")], bundle: true, platform: "node", target: "node20", outfile: bundle, logLevel: "error" });
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [bundle], {
      env: { ...process.env, ...s3.env, DATABASE_URL: adminUrl(db), COMPRESSION: process.env.BENCH_COMPRESSION ?? "auto" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    await new Promise((r) => child.on("close", r));
    rmSync(bundleDir, { recursive: true, force: true });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const line = err.split("\n").find((l) => l.startsWith("BENCH "));
    if (!line) throw new Error(`backup task printed no figures: ${err.slice(-2000)}`);
    const task = JSON.parse(line.slice(6));
    if (!task.ok) throw new Error(`backup task failed: ${task.error}`);
    const ours = task.result.databases[0];

    const row = (name: string, s: number, bytes: number, extra = "") =>
      console.log(`${name.padEnd(28)} ${s.toFixed(1).padStart(7)} s ${(bytes / MB).toFixed(1).padStart(9)} MB ${extra}`);
    console.log(`\n${"".padEnd(28)} ${"time".padStart(9)} ${"stored".padStart(12)}`);
    row("pg_dump | gzip (baseline)", gzip.seconds, Number(gzip.stdout));
    row("pg_dump -Fc (baseline)", fc.seconds, Number(fc.stdout));
    row(`backup task (${ours.compression}) -> S3`, seconds, ours.sizeBytes, `peak RSS ${(task.peakRssBytes / MB).toFixed(0)} MB, local disk writes ${task.writeBytes} bytes`);
    const speedup = gzip.seconds / seconds;
    const sizeRatio = ours.sizeBytes / Number(fc.stdout);
    console.log(`\nspeed-up vs pg_dump|gzip: ${speedup.toFixed(2)}x (target >= 1.5x) ${speedup >= 1.5 ? "OK" : "MISSED"}`);
    console.log(`size vs pg_dump -Fc: ${sizeRatio.toFixed(2)}x (target <= 1.5x) ${sizeRatio <= 1.5 ? "OK" : "MISSED"}`);
    console.log(`peak RSS: ${(task.peakRssBytes / MB).toFixed(0)} MB (target <= 256 MB) ${task.peakRssBytes <= 256 * MB ? "OK" : "MISSED"}`);
    console.log(`local disk writes of the task process: ${task.writeBytes} bytes (target 0) ${task.writeBytes === 0 ? "OK" : "MISSED"}`);
  } finally {
    await s3.stop();
    await adminQuery(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
