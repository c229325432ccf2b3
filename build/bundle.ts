/**
 * Deterministic Lambda bundles of the zip-packaged tasks (those that need no PostgreSQL client
 * binaries; backup, verify-backup and restore-drill run in the container image instead).
 *
 * esbuild, in-process, from a generated entry per task (lambda-<task>.ts, which exists only in the build):
 *   import { vacuumTask } from "./tasks/maintenance"; import { makeHandler } from "./tasks/handler";
 *   export const handler = makeHandler(vacuumTask);
 * All tasks asked for at once are one build with an entry point each and no code splitting: every
 * output is a whole bundle, the bytes of that task built alone, and the sources they share (the AWS
 * SDK, pg, Powertools) are parsed once instead of once per task (the 8 zip tasks: 3.8 s instead of
 * 11.5 s for eight builds, on 2 cores).
 * The same source gives the same bytes on any machine:
 * - absWorkingDir is the repository root, so every path esbuild records is relative; minified output
 *   has no path comments, legal comments are dropped, no source map;
 * - the zip is written here (store method, fixed 1980-01-01 00:00 timestamps, mode 0644, one entry
 *   in a fixed order, no extra fields). Deflate is available, but node's zlib is Chromium's fork,
 *   whose compressed bytes differ between CPU features (SIMD hashing) and zlib releases: stored
 *   entries are identical everywhere; deflated ones only for the same node build and CPU family.
 *   Lambda's limits (50 MB zipped, 250 MB unzipped) leave room for a stored bundle of a few MB.
 *
 * The AWS SDK v3 is bundled, not left to the copy in the nodejs22.x runtime: the runtime's copy
 * changes version without notice, and the lockfile pins ours. It costs size (client-secrets-manager,
 * through tasks/lib/secrets.ts, for the tasks that read a secret; rds-signer for the database tasks)
 * and buys the same behaviour as the tests. Local task sources are treated as free of import side effects, so a
 * bundle holds only what its handler reaches (the registry of every task is not dragged in through
 * tasks/handler.ts).
 *
 * Pulumi: taskArchive() gives an AssetArchive with index.js as a StringAsset; the engine hashes the
 * asset contents, so deterministic code means no false diffs in previews.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import * as esbuild from "esbuild";
import * as pulumi from "@pulumi/pulumi";
import { RUN_MARKER_TASKS, TASK_CATALOGUE, TASK_NAMES, ZIP_TASKS, type TaskName } from "../tasks/catalogue";

export const REPO_ROOT = path.resolve(__dirname, "..");

/** Where each task's definition is exported (file under tasks/, export name): the task catalogue's `module`. */
export const TASK_MODULES: Readonly<Record<TaskName, { file: string; exportName: string }>> = Object.fromEntries(
  TASK_NAMES.map((t) => [t, TASK_CATALOGUE[t].module]),
) as Record<TaskName, { file: string; exportName: string }>;

/**
 * Tasks deployed as zip functions (no PostgreSQL client binaries needed), and the zip tasks whose
 * schedule may be sparser than a metric alarm can watch (monthly vacuum, quarterly reindex): their
 * handler records successful runs for the overdue watcher. Both from the task catalogue.
 */
export { RUN_MARKER_TASKS, ZIP_TASKS } from "../tasks/catalogue";

export interface Bundle {
  task: string;
  /** index.js: CommonJS, exports `handler`. */
  code: Buffer;
  /** Zip archive holding index.js only. */
  archive: Buffer;
  /** SHA-256 (hex) of the archive. */
  sha256: string;
  /** SHA-256 (hex) of index.js. */
  codeSha256: string;
  /** esbuild metafile: inputs (relative paths) and their bytes in the output. */
  metafile: esbuild.Metafile;
}

export interface BundleOptions {
  /** Zip method: "store" (default, identical bytes everywhere) or "deflate" (smaller). */
  compression?: "store" | "deflate";
  /** Repository root to build from (default: this checkout). */
  root?: string;
}

export function entrySource(task: string): string {
  const m = Object.hasOwn(TASK_MODULES, task) ? TASK_MODULES[task as TaskName] : undefined;
  if (!m) throw new Error(`task: unknown task "${task}"; one of ${Object.keys(TASK_MODULES).join(", ")}`);
  const marker = (RUN_MARKER_TASKS as readonly string[]).includes(task);
  return [
    `import { ${m.exportName} } from "./tasks/${m.file}";`,
    `import { makeHandler } from "./tasks/handler";`,
    ...(marker ? [`import { recordRunMarker } from "./tasks/lib/run-marker";`] : []),
    `export const handler = makeHandler(${m.exportName}${marker ? ", recordRunMarker" : ""});`,
    "",
  ].join("\n");
}

/** Repository sources (not node_modules) have no import side effects: unreached modules are dropped. */
const localSourcesPure: esbuild.Plugin = {
  name: "local-sources-pure",
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData === "pure" || args.importer.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: "pure" });
      if (r.errors.length > 0 || r.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      return { path: r.path, sideEffects: false };
    });
  },
};

/** The generated entry modules, lambda-<task>.ts in `root`: resolved and loaded from memory. */
function entries(root: string, tasks: readonly string[]): esbuild.Plugin {
  const byPath = new Map(tasks.map((t) => [path.join(root, entryFile(t)), t]));
  return {
    name: "task-entries",
    setup(build) {
      build.onResolve({ filter: /^lambda-[\w-]+\.ts$/ }, (args) => {
        const file = path.join(root, args.path);
        return args.kind === "entry-point" && byPath.has(file) ? { path: file } : undefined;
      });
      build.onLoad({ filter: /[\\/]lambda-[\w-]+\.ts$/ }, (args) => {
        const task = byPath.get(args.path);
        return task === undefined ? undefined : { contents: entrySource(task), resolveDir: root, loader: "ts" };
      });
    },
  };
}

const entryFile = (task: string) => `lambda-${task}.ts`;

function buildOptions(tasks: readonly string[], root: string): esbuild.BuildOptions & { write: false; metafile: true } {
  return {
    // Output <task>.js in `root` (never written): one entry point per task.
    entryPoints: Object.fromEntries(tasks.map((t) => [t, entryFile(t)])),
    absWorkingDir: root,
    outdir: root,
    bundle: true,
    splitting: false,
    write: false,
    metafile: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: true,
    keepNames: true,
    sourcemap: false,
    legalComments: "none",
    charset: "utf8",
    logLevel: "silent",
    // pg loads pg-native only when asked for (new pg.native); it is not installed.
    external: ["pg-native"],
  };
}

/**
 * Bundles of the given tasks from one esbuild build, in the order asked; each is what that task's
 * build alone gives (same code; the metafile's inputs those its entry reaches). Throws on an unknown task
 * (naming the known ones) and on a build error (esbuild's).
 */
export async function bundleTasks(tasks: readonly string[], opts: BundleOptions = {}): Promise<Bundle[]> {
  if (new Set(tasks).size !== tasks.length) throw new Error(`bundle: a task is named twice in ${tasks.join(", ")}`);
  for (const t of tasks) entrySource(t); // an unknown task: its error, before esbuild starts
  const root = opts.root ?? REPO_ROOT;
  const result = await esbuild.build({ ...buildOptions(tasks, root), plugins: [entries(root, tasks), localSourcesPure] });
  return tasks.map((task) => finish(task, result, opts));
}

/** Bundle one task. */
export async function bundleTask(task: string, opts: BundleOptions = {}): Promise<Bundle> {
  return (await bundleTasks([task], opts))[0];
}

/** The task's output of a (many-entry) build, with the part of the metafile its own build would have. */
function finish(task: string, result: esbuild.BuildResult<{ write: false; metafile: true }>, opts: BundleOptions): Bundle {
  if (result.errors.length > 0) throw new Error(`bundle ${task}: ${result.errors[0].text}`);
  const out = result.outputFiles.find((f) => path.basename(f.path) === `${task}.js`);
  const output = result.metafile.outputs[`${task}.js`];
  if (!out || !output) throw new Error(`bundle ${task}: esbuild produced no JavaScript`);
  const code = Buffer.from(out.contents);
  const archive = zipArchive([{ name: "index.js", data: code }], opts.compression ?? "store");
  return { task, code, archive, sha256: sha256(archive), codeSha256: sha256(code), metafile: ownMetafile(result.metafile, output) };
}

/** The inputs reachable from one output's entry (what its build alone reads), and that output as index.js. */
function ownMetafile(all: esbuild.Metafile, output: esbuild.Metafile["outputs"][string]): esbuild.Metafile {
  const reached = new Set<string>();
  const todo = output.entryPoint ? [output.entryPoint] : [];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (reached.has(file) || !all.inputs[file]) continue;
    reached.add(file);
    for (const i of all.inputs[file].imports) if (!i.external) todo.push(i.path);
  }
  const inputs = Object.fromEntries(Object.entries(all.inputs).filter(([file]) => reached.has(file)));
  return { inputs, outputs: { "index.js": output } };
}

/** The last zip-task bundles of this process per root and compression, with the stamp of their inputs. */
const lastZipBundles = new Map<string, { stamp: string; bundles: Bundle[] }>();

/**
 * Size and modification time of every file the bundles were built from (their metafiles' inputs,
 * the generated entries aside); undefined when one cannot be read or changed after `since` (ms since
 * the epoch: the build's start), so a file edited while it was read is never taken as unchanged.
 */
function inputsStamp(root: string, bundles: readonly Bundle[], since: number): string | undefined {
  const files = new Set<string>();
  for (const b of bundles) for (const f of Object.keys(b.metafile.inputs)) if (f !== entryFile(b.task)) files.add(f);
  const lines: string[] = [];
  for (const f of [...files].sort()) {
    let st: fs.Stats;
    try {
      st = fs.statSync(path.resolve(root, f));
    } catch {
      return undefined;
    }
    if (st.mtimeMs >= since) return undefined;
    lines.push(`${f}\t${st.size}\t${st.mtimeMs}`);
  }
  return lines.join("\n");
}

/**
 * Every zip task, in the order of ZIP_TASKS, from one build. A process that plans several stacks
 * (`npm run docs`, the tests) builds them once: while every file the last bundles were built from
 * has the size and modification time it had then, those bundles are handed back (the same bytes a
 * new build would give); any change builds anew.
 */
export async function bundleZipTasks(opts: BundleOptions = {}): Promise<Bundle[]> {
  const key = `${path.resolve(opts.root ?? REPO_ROOT)}\0${opts.compression ?? "store"}`;
  const last = lastZipBundles.get(key);
  if (last && inputsStamp(opts.root ?? REPO_ROOT, last.bundles, Date.now() + 1) === last.stamp) return [...last.bundles];
  const started = Date.now();
  const bundles = await bundleTasks(ZIP_TASKS, opts);
  const stamp = inputsStamp(opts.root ?? REPO_ROOT, bundles, started);
  if (stamp === undefined) lastZipBundles.delete(key);
  else lastZipBundles.set(key, { stamp, bundles });
  return [...bundles];
}

/** The function code for Pulumi: index.js as a string asset (handler `index.handler`). */
export function taskArchive(bundle: Pick<Bundle, "code">): pulumi.asset.AssetArchive {
  return new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset(bundle.code.toString("utf8")) });
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

// ---------------------------------------------------------------- zip (PKWARE APPNOTE 6.3)

/** 1980-01-01 00:00:00 in MS-DOS date/time, the zip epoch. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const UNIX_FILE_0644 = 0o100644;

const crc32: (data: Buffer) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === "function"
    ? (data) => (zlib as unknown as { crc32(d: Buffer): number }).crc32(data)
    : (() => {
        const table = new Uint32Array(256);
        for (let n = 0; n < 256; n++) {
          let c = n;
          for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
          table[n] = c >>> 0;
        }
        return (data: Buffer) => {
          let c = 0xffffffff;
          for (const b of data) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
          return (c ^ 0xffffffff) >>> 0;
        };
      })();

/** A zip of the given files in the given order, with fixed timestamps and permissions. */
export function zipArchive(files: { name: string; data: Buffer }[], compression: "store" | "deflate" = "store"): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    if (f.name.startsWith("/") || f.name.includes("\\") || f.name.split("/").includes("..")) throw new Error(`zip entry "${f.name}": must be a relative path`);
    const name = Buffer.from(f.name, "utf8");
    const method = compression === "deflate" ? 8 : 0;
    const body = method === 8 ? zlib.deflateRawSync(f.data, { level: 9 }) : f.data;
    const crc = crc32(f.data);
    if (f.data.length >= 0xffffffff || offset >= 0xffffffff) throw new Error(`zip entry "${f.name}": too large for a zip without zip64`);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // no extra field
    parts.push(local, name, body);

    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0 (so the mode below is read)
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x0800, 8);
    entry.writeUInt16LE(method, 10);
    entry.writeUInt16LE(DOS_TIME, 12);
    entry.writeUInt16LE(DOS_DATE, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(body.length, 20);
    entry.writeUInt32LE(f.data.length, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt16LE(0, 30); // extra
    entry.writeUInt16LE(0, 32); // comment
    entry.writeUInt16LE(0, 34); // disk
    entry.writeUInt16LE(0, 36); // internal attributes
    entry.writeUInt32LE((UNIX_FILE_0644 << 16) >>> 0, 38);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, name);
    offset += local.length + name.length + body.length;
  }
  const dir = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...parts, dir, end]);
}
