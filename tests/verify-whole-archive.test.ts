/**
 * verify-backup reads the whole archive, not only its table of contents: a dump whose last data
 * block is missing (its manifest and SHA-256 match what was stored, its table of contents lists
 * fine) fails verification and is recorded as failed; a whole dump passes.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupTask } from "../tasks/backup";
import { runTask } from "../tasks/lib/runtime";
import { verifyBackupTask, type VerifyResult } from "../tasks/verify-backup";
import { adminQuery, createTestDatabase } from "./helpers/pg";
import { restoreBucket, type TestDb } from "./helpers/restore";
import type { TestS3 } from "./helpers/s3";
import { failure } from "./helpers/task-failure";

let s3: TestS3;
let env: Record<string, string | undefined>;
let db: TestDb;
const dir = mkdtempSync(path.join(tmpdir(), "vwa-"));

beforeAll(async () => {
  ({ s3, env } = await restoreBucket());
  db = await createTestDatabase("vwa");
  await adminQuery("CREATE TABLE orders (id int, note text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 20000) g", [], db.name);
});
afterAll(async () => {
  await db?.drop();
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("verify-backup", () => {
  it("passes a whole dump, saying what it read", async () => {
    await runTask(backupTask, { ...env, DATABASE_URL: db.url, COMPRESSION: "gzip:1" });
    const r = (await runTask(verifyBackupTask, { ...env, DATABASE_URL: db.url })) as VerifyResult;
    const check = r.databases[0].checks.find((c) => c.name === "pg_restore")!;
    expect(check).toMatchObject({ ok: true, detail: expect.stringMatching(/^pg_restore read the whole archive \(\d+ entries created or loaded/) });
  }, 60_000);

  it("fails a dump whose table of contents lists but whose last data block is missing, and records it failed", async () => {
    // pg_dump's output less its last 200 bytes, exit 0: the stored object and its manifest agree.
    const cut = path.join(dir, "pg_dump");
    writeFileSync(cut, `#!/bin/sh\nif [ "$1" = "--version" ]; then exec pg_dump --version; fi\npg_dump "$@" > ${dir}/full.dump || exit $?\nhead -c $(( $(wc -c < ${dir}/full.dump) - 200 )) ${dir}/full.dump\n`);
    chmodSync(cut, 0o755);
    await new Promise((r) => setTimeout(r, 1100));
    await runTask(backupTask, { ...env, DATABASE_URL: db.url, COMPRESSION: "gzip:1", PG_DUMP_PATH: cut });
    const err = await failure(runTask(verifyBackupTask, { ...env, DATABASE_URL: db.url }));
    expect(err.message).toMatch(/pg_restore: pg_restore reading the whole archive exited with 1: pg_restore: error: could not read from input file: end of file/);
    expect((err.result as VerifyResult).databases[0].recordKey).toMatch(/-failed\.json$/);
  }, 60_000);
});
