/**
 * Lambda bundles: the same source gives the same bytes (also when built from another directory),
 * the code holds no path of this machine, the zip reads back with fixed dates and modes in an
 * independent reader (Python's zipfile), and the bundled health-check handler runs in a plain node
 * process against a server started here.
 */
import { execFile, execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleTask, bundleZipTasks, entrySource, REPO_ROOT, taskArchive, zipArchive, ZIP_TASKS, type Bundle } from "../build/bundle";

let dir = "";
let server: http.Server;
let base = "";
let healthCheck: Bundle;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "bundle-test-"));
  server = http.createServer((req, res) => {
    if (req.url === "/fail") res.statusCode = 503;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ status: req.url === "/fail" ? "down" : "ok" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  healthCheck = await bundleTask("health-check");
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("determinism", () => {
  it("two builds of the same source are byte-identical", async () => {
    const again = await bundleTask("health-check");
    expect(again.sha256).toBe(healthCheck.sha256);
    expect(again.code.equals(healthCheck.code)).toBe(true);
    expect(again.archive.equals(healthCheck.archive)).toBe(true);
    const [a, b] = [await bundleTask("vacuum"), await bundleTask("vacuum")];
    expect(a.sha256).toBe(b.sha256);
  });

  it("every zip task built at once gets the bytes of its build alone", async () => {
    const all = await bundleZipTasks();
    expect(all.map((b) => b.task)).toEqual([...ZIP_TASKS]);
    expect(all.find((b) => b.task === "health-check")!.archive.equals(healthCheck.archive)).toBe(true);
    for (const task of ["overdue-watch", "purge"]) expect(all.find((b) => b.task === task)!.sha256).toBe((await bundleTask(task)).sha256);
  });

  it("a checkout in another directory gives the same archive", async () => {
    const copy = path.join(dir, "elsewhere", "checkout");
    cpSync(path.join(REPO_ROOT, "tasks"), path.join(copy, "tasks"), { recursive: true });
    // What the task image copies too (image/Dockerfile): overdue-watch reads schedules with regime/schedule.ts.
    cpSync(path.join(REPO_ROOT, "regime"), path.join(copy, "regime"), { recursive: true });
    cpSync(path.join(REPO_ROOT, "package.json"), path.join(copy, "package.json"));
    cpSync(path.join(REPO_ROOT, "tsconfig.json"), path.join(copy, "tsconfig.json"));
    symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(copy, "node_modules"));
    const there = await bundleTask("health-check", { root: copy });
    expect(there.sha256).toBe(healthCheck.sha256);
  });

  it("the code holds no absolute path of this machine", async () => {
    for (const b of [healthCheck, await bundleTask("db-health")]) {
      const text = b.code.toString("utf8");
      expect(text.includes(REPO_ROOT)).toBe(false);
      expect(text.includes("/work/")).toBe(false);
      expect(text.includes("/root/")).toBe(false);
      expect(text.includes(tmpdir() + "/")).toBe(false);
      expect(Object.keys(b.metafile.inputs).every((p) => !path.isAbsolute(p))).toBe(true);
    }
  });

  it("a bundle holds only what its handler reaches", async () => {
    const used = (b: Bundle) =>
      Object.entries(Object.values(b.metafile.outputs)[0].inputs)
        .filter(([, v]) => v.bytesInOutput > 0)
        .map(([k]) => k);
    const hc = used(healthCheck);
    expect(hc).toContain("tasks/health-check.ts");
    // Secrets Manager only (request headers from a secret), loaded when an endpoint names one.
    expect(hc.some((p) => p.includes("@aws-sdk/client-secrets-manager/"))).toBe(true);
    expect(hc.some((p) => p.includes("@aws-sdk/client-s3") || p.includes("@aws-sdk/rds-signer") || p.includes("node_modules/pg/") || p.startsWith("tasks/backup"))).toBe(false);
    const vacuum = used(await bundleTask("vacuum"));
    expect(vacuum).toContain("tasks/maintenance.ts");
    expect(vacuum.some((p) => p.includes("node_modules/pg/"))).toBe(true);
    expect(vacuum.some((p) => p.startsWith("tasks/health-check") || p.startsWith("tasks/backup"))).toBe(false);
    // The purge rule is defined once for the config and the task (regime/purge-rule.ts): the task takes it without Pulumi or the config schema.
    const purge = used(await bundleTask("purge"));
    expect(purge).toContain("regime/purge-rule.ts");
    expect(purge.some((p) => p.includes("@pulumi/") || p === "regime/schema.ts")).toBe(false);
    const redis = used(await bundleTask("redis-health"));
    expect(redis).toContain("tasks/redis-health.ts");
    expect(redis.some((p) => p.includes("node_modules/@redis/client/"))).toBe(true);
    expect(redis.some((p) => p.includes("node_modules/pg/") || p.includes("@aws-sdk/client-s3") || p.startsWith("tasks/health-check") || p.startsWith("tasks/db-health"))).toBe(false);
  });
});

describe("zip", () => {
  const readBack = (file: string) =>
    JSON.parse(
      execFileSync("python3", [
        "-c",
        "import zipfile,json,sys\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps([[i.filename,list(i.date_time),i.external_attr>>16,i.compress_type,len(z.read(i))] for i in z.infolist()]))",
        file,
      ]).toString(),
    ) as [string, number[], number, number, number][];

  /** index.js as unzip reads it; the bundle is over execFileSync's default 1 MiB of output. */
  const unzipped = (file: string) => execFileSync("unzip", ["-p", file, "index.js"], { maxBuffer: 64 * 1024 * 1024 });

  it("one entry index.js dated 1980-01-01 with mode 0644, stored", () => {
    const file = path.join(dir, "health-check.zip");
    writeFileSync(file, healthCheck.archive);
    expect(readBack(file)).toEqual([["index.js", [1980, 1, 1, 0, 0, 0], 0o100644, 0, healthCheck.code.length]]);
    expect(unzipped(file).equals(healthCheck.code)).toBe(true);
  });

  it("deflate reads back to the same bytes", () => {
    const file = path.join(dir, "deflated.zip");
    const zip = zipArchive([{ name: "index.js", data: healthCheck.code }, { name: "lib/a.txt", data: Buffer.from("abc") }], "deflate");
    writeFileSync(file, zip);
    expect(zip.length).toBeLessThan(healthCheck.code.length / 2);
    expect(readBack(file)).toEqual([
      ["index.js", [1980, 1, 1, 0, 0, 0], 0o100644, 8, healthCheck.code.length],
      ["lib/a.txt", [1980, 1, 1, 0, 0, 0], 0o100644, 8, 3],
    ]);
    expect(unzipped(file).equals(healthCheck.code)).toBe(true);
  });

  it("refuses absolute or escaping entry names", () => {
    expect(() => zipArchive([{ name: "/etc/x", data: Buffer.alloc(1) }])).toThrow('zip entry "/etc/x": must be a relative path');
    expect(() => zipArchive([{ name: "a/../../x", data: Buffer.alloc(1) }])).toThrow('zip entry "a/../../x": must be a relative path');
  });
});

describe("the bundled handler", () => {
  const runHandler = (code: Buffer, env: Record<string, string>) => {
    const fnDir = mkdtempSync(path.join(dir, "fn-"));
    writeFileSync(path.join(fnDir, "index.js"), code);
    const script = `require(${JSON.stringify(path.join(fnDir, "index.js"))}).handler().then(
      (r) => process.stdout.write("\\nRESULT " + JSON.stringify(r) + "\\n"),
      (e) => { process.stdout.write("\\nERROR " + JSON.stringify({ message: e.message, result: e.result }) + "\\n"); process.exitCode = 1; });`;
    return new Promise<{ code: number; line: string }>((resolve) => {
      // A clean environment: no tsx, no repository modules on the path, only what the function gets.
      execFile(process.execPath, ["-e", script], { cwd: fnDir, env: { PATH: process.env.PATH ?? "", ...env } }, (err, stdout) => {
        const line = stdout.split("\n").find((l) => l.startsWith("RESULT ") || l.startsWith("ERROR ")) ?? stdout;
        resolve({ code: err ? Number(err.code) : 0, line });
      });
    });
  };

  it("returns the health-check result", async () => {
    const out = await runHandler(healthCheck.code, {
      ENDPOINTS: JSON.stringify([{ name: "api", url: `${base}/ok`, conditions: { jsonField: { path: "status", equals: "ok" } } }]),
      REGIME_NAME: "test",
    });
    expect(out.code).toBe(0);
    const result = JSON.parse(out.line.slice("RESULT ".length));
    expect(result.results).toHaveLength(1);
    expect(result.results[0]).toMatchObject({ name: "api", url: `${base}/ok`, healthy: true, status: 200, failures: [] });
  });

  it("throws with the result when an endpoint is unhealthy, and names a bad setting", async () => {
    const failed = await runHandler(healthCheck.code, { ENDPOINTS: JSON.stringify([{ name: "api", url: `${base}/fail` }]) });
    expect(failed.code).toBe(1);
    const err = JSON.parse(failed.line.slice("ERROR ".length));
    expect(err.message).toBe("health-check failed: 1 of 1 endpoints unhealthy: api (status 503 != 200)");
    expect(err.result.results[0]).toMatchObject({ name: "api", healthy: false, status: 503, failures: ["status 503 != 200"] });

    const bad = await runHandler(healthCheck.code, { ENDPOINTS: JSON.stringify([{ url: "localhost" }]) });
    expect(JSON.parse(bad.line.slice("ERROR ".length)).message).toBe("invalid setting ENDPOINTS[0].url: must be an http(s) URL");
  });
});

describe("entry and Pulumi asset", () => {
  it("the generated entry imports the task and makeHandler", () => {
    // Database tasks, which may run monthly, record their successes for the overdue watcher; health-check does not.
    expect(entrySource("db-health")).toBe(
      'import { dbHealthTask } from "./tasks/db-health";\nimport { makeHandler } from "./tasks/handler";\nimport { recordRunMarker } from "./tasks/lib/run-marker";\nexport const handler = makeHandler(dbHealthTask, recordRunMarker);\n',
    );
    expect(entrySource("health-check")).toBe(
      'import { healthCheckTask } from "./tasks/health-check";\nimport { makeHandler } from "./tasks/handler";\nexport const handler = makeHandler(healthCheckTask);\n',
    );
    expect(() => entrySource("nope")).toThrow('task: unknown task "nope"');
  });

  it("taskArchive holds index.js as a string asset of the code", async () => {
    const archive = taskArchive(healthCheck);
    const assets = (await archive.assets) as Record<string, { text: Promise<string> }>;
    expect(Object.keys(assets)).toEqual(["index.js"]);
    expect(await assets["index.js"].text).toBe(healthCheck.code.toString("utf8"));
  });
});
