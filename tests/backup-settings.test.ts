import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupTask } from "../tasks/backup";
import { parseSettings } from "../tasks/lib/runtime";
import { restoreDrillTask } from "../tasks/restore-drill";
import { verifyBackupTask } from "../tasks/verify-backup";
import { createTestDatabase } from "./helpers/pg";
import { startS3, type TestS3 } from "./helpers/s3";

const base = { BACKUP_BUCKET: "backups", DATABASE_URL: "postgres://postgres@127.0.0.1:5432/shop" };

function settingsError(schema: Parameters<typeof parseSettings>[0], env: Record<string, string | undefined>): string {
  try {
    parseSettings(schema, env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected the settings to be refused");
}

describe("settings are refused with one line naming the variable", () => {
  it("names a missing or malformed bucket", () => {
    expect(settingsError(backupTask.settings, { DATABASE_URL: base.DATABASE_URL })).toBe("invalid setting BACKUP_BUCKET: must name the S3 bucket of the backups");
    expect(settingsError(verifyBackupTask.settings, { ...base, BACKUP_BUCKET: "My_Bucket" })).toBe(
      "invalid setting BACKUP_BUCKET: must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)",
    );
  });

  it("names a malformed or missing database URL and a bad DATABASES entry", () => {
    expect(settingsError(backupTask.settings, { ...base, DATABASE_URL: "not a url" })).toBe(
      "invalid setting DATABASE_URL: must be a URL like postgres://user@host:5432/dbname",
    );
    expect(settingsError(backupTask.settings, { BACKUP_BUCKET: "backups" })).toBe("invalid setting DATABASE_URL: not set (or DATABASES for several databases)");
    expect(settingsError(restoreDrillTask.settings, { BACKUP_BUCKET: "backups", DATABASES: '[{"id":"Shop","url":"postgres://h/shop"}]' })).toBe(
      "invalid setting DATABASES[0].id: must be lowercase letters, digits, - or _",
    );
  });

  it("names negative or out-of-range numbers", () => {
    expect(settingsError(backupTask.settings, { ...base, MONTHLY_DAY: "-1" })).toBe("invalid setting MONTHLY_DAY: must be >= 1");
    expect(settingsError(backupTask.settings, { ...base, WEEKLY_DAY: "7" })).toBe("invalid setting WEEKLY_DAY: must be <= 6");
    expect(settingsError(verifyBackupTask.settings, { ...base, RPO_HOURS: "-24" })).toBe("invalid setting RPO_HOURS: must be >= 0.01");
    expect(settingsError(verifyBackupTask.settings, { ...base, MIN_SIZE_MB: "ten" })).toBe("invalid setting MIN_SIZE_MB: must be a number");
    expect(settingsError(restoreDrillTask.settings, { ...base, RTO_MINUTES: "-5" })).toBe("invalid setting RTO_MINUTES: must be >= 0.001");
    expect(settingsError(backupTask.settings, { ...base, TIMEZONE: "Mars/Olympus" })).toBe("invalid setting TIMEZONE: must be an IANA time zone like America/New_York");
  });

  it("names a bad restore check list", () => {
    expect(settingsError(restoreDrillTask.settings, { ...base, CHECKS: "[{" })).toBe("invalid setting CHECKS: must be valid JSON");
    expect(settingsError(restoreDrillTask.settings, { ...base, CHECKS: '[{"sql":"SELECT 1","minRows":-2}]' })).toBe("invalid setting CHECKS: 0.minRows: must be >= 0");
    expect(settingsError(restoreDrillTask.settings, { ...base, CHECKS: '[{"sql":"SELECT 1","maxRows":1.5}]' })).toBe("invalid setting CHECKS: 0.maxRows: must be a whole number");
    expect(settingsError(restoreDrillTask.settings, { ...base, CHECKS: '[{"sql":"SELECT 1"},{"sql":"SELECT 2","minRows":3,"maxRows":2}]' })).toBe(
      "invalid setting CHECKS: 1.minRows: minRows must be <= maxRows",
    );
    expect(settingsError(restoreDrillTask.settings, { ...base, CHECKS: '[{"sql":"SELECT 1","max":0}]' })).toBe('invalid setting CHECKS: 0: Unrecognized key: "max"');
  });

  it("reads restore checks with the bounds the stack file gives: minRows 1 when neither is set, the SQL as the name when none is", () => {
    const s = parseSettings(restoreDrillTask.settings, {
      ...base,
      CHECKS: JSON.stringify([
        { sql: "SELECT count(*) FROM leads" },
        { name: "no lead without temperature", sql: "SELECT id FROM leads WHERE temperature IS NULL", maxRows: 0 },
        { sql: "SELECT count(*) FROM users", minRows: 0, maxRows: 10 },
      ]),
    }) as { CHECKS: unknown[] };
    expect(s.CHECKS).toEqual([
      { name: "SELECT count(*) FROM leads", sql: "SELECT count(*) FROM leads", minRows: 1 },
      { name: "no lead without temperature", sql: "SELECT id FROM leads WHERE temperature IS NULL", minRows: undefined, maxRows: 0 },
      { name: "SELECT count(*) FROM users", sql: "SELECT count(*) FROM users", minRows: 0, maxRows: 10 },
    ]);
  });

  it("names a shrink limit outside 0-100 percent", () => {
    expect(settingsError(verifyBackupTask.settings, { ...base, MAX_SHRINK_PERCENT: "150" })).toBe("invalid setting MAX_SHRINK_PERCENT: must be <= 100");
    expect(settingsError(verifyBackupTask.settings, { ...base, MAX_SHRINK_PERCENT: "half" })).toBe("invalid setting MAX_SHRINK_PERCENT: must be a number");
    expect((parseSettings(verifyBackupTask.settings, base) as { MAX_SHRINK_PERCENT?: number }).MAX_SHRINK_PERCENT).toBeUndefined();
  });
});

describe("the command line", () => {
  let s3: TestS3;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    s3 = await startS3();
    db = await createTestDatabase("bkcli");
  });
  afterAll(async () => {
    await db?.drop();
    await s3?.stop();
  });

  const run = async (args: string[], extraEnv: Record<string, string>) => {
    try {
      const r = await promisify(execFile)("npx", ["tsx", "tasks/cli.ts", ...args], { env: { ...process.env, ...extraEnv }, cwd: process.cwd() });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const lastLine = (s: string) => JSON.parse(s.trim().split("\n").pop()!);

  it("backs up with --database-url and prints the result as the last stdout line", async () => {
    const { BACKUP_BUCKET, ...awsEnv } = s3.env;
    const r = await run(["backup", "--database-url", db.url, "--backup-bucket", BACKUP_BUCKET, "--backup-prefix", "cli/"], awsEnv);
    expect(r.code).toBe(0);
    const result = lastLine(r.stdout);
    expect(result.bucket).toBe("backups");
    expect(result.databases[0].ok).toBe(true);
    expect(result.databases[0].key).toMatch(new RegExp(`^cli/(daily|weekly|monthly)/${db.name}/\\d{8}T\\d{9}Z\\.dump$`));
    expect([...(await s3.snapshot()).keys()].sort()).toEqual([result.databases[0].key, result.databases[0].manifestKey].sort());
  });

  it("exits 2 with the variable named when a setting is bad", async () => {
    const r = await run(["backup", "--database-url", db.url], { ...s3.env, BACKUP_BUCKET: "" });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n").pop()).toBe("error: invalid setting BACKUP_BUCKET: must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)");
    expect(lastLine(r.stdout)).toEqual({ error: "invalid setting BACKUP_BUCKET: must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)" });
  });
});
