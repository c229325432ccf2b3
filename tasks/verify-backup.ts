/**
 * verify-backup: the newest backup of each database is recent (RPO), big enough, whole (SHA-256 of
 * the object equals the manifest's) and readable by pg_restore (the same stream fed to
 * `pg_restore --list`). Any failed check fails the run with one line per database.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { databaseMetric, failIfAny, MetricUnit, storageSettings, withTargets, type DatabaseOutcome } from "./lib/backup-common";
import type { DatabaseTarget } from "./lib/db";
import { startTool, toolPath } from "./lib/pgtools";
import { streamInto } from "./lib/restore-stream";
import { defineTask, envNumber, oneLine, type TaskContext } from "./lib/runtime";
import { newestManifest, openObject, s3Client } from "./lib/s3";

const settings = z
  .looseObject({
    ...storageSettings,
    RPO_HOURS: envNumber(0.01).default(26),
    MIN_SIZE_MB: envNumber(0).default(0.01),
    PG_BIN_DIR: z.string().optional(),
    PG_RESTORE_PATH: z.string().optional(),
  })
  .transform(withTargets);
type Settings = z.infer<typeof settings>;

export interface Check {
  name: "age" | "size" | "sha256" | "pg_restore";
  ok: boolean;
  detail: string;
}

export interface VerifyOutcome extends DatabaseOutcome {
  key?: string;
  ageHours?: number;
  sizeBytes?: number;
  tocEntries?: number;
  checks: Check[];
}

export interface VerifyResult {
  bucket: string;
  databases: VerifyOutcome[];
}

async function verifyOne(s: Settings, target: DatabaseTarget, s3: S3Client, ctx: TaskContext): Promise<VerifyOutcome> {
  const m = await newestManifest(s3, s.BACKUP_BUCKET, s.BACKUP_PREFIX, target.id);
  if (!m) {
    return { database: target.id, ok: false, error: `no backup under s3://${s.BACKUP_BUCKET}/${s.BACKUP_PREFIX}{daily,weekly,monthly}/${target.id}/`, checks: [] };
  }
  const checks: Check[] = [];
  const ageHours = (Date.now() - Date.parse(m.finishedAt)) / 3_600_000;
  checks.push({
    name: "age",
    ok: ageHours <= s.RPO_HOURS,
    detail: `newest backup is ${ageHours.toFixed(1)} h old (RPO_HOURS ${s.RPO_HOURS})`,
  });

  const { body, length } = await openObject(s3, s.BACKUP_BUCKET, m.key);
  const minBytes = Math.round(s.MIN_SIZE_MB * 1024 * 1024);
  checks.push({
    name: "size",
    ok: length === m.sizeBytes && length >= minBytes,
    detail:
      length !== m.sizeBytes
        ? `object holds ${length} bytes, manifest says ${m.sizeBytes}`
        : `${length} bytes (MIN_SIZE_MB ${s.MIN_SIZE_MB} = ${minBytes} bytes)`,
  });

  const list = startTool(toolPath("pg_restore", s.env), ["--list"], { PATH: s.env.PATH ?? process.env.PATH }, "pipe");
  let toc = "";
  list.child.stdout!.setEncoding("utf8").on("data", (d: string) => (toc += d));
  const streamed = await streamInto(body, list, ctx.signal);
  checks.push({
    name: "sha256",
    ok: streamed.sha256 === m.sha256 && streamed.bytes === m.sizeBytes,
    detail: streamed.sha256 === m.sha256 ? `sha256 ${m.sha256} matches the manifest` : `sha256 of the object is ${streamed.sha256}, manifest says ${m.sha256}`,
  });
  const tocEntries = toc.split("\n").filter((l) => /^\d+;/.test(l)).length;
  checks.push({
    name: "pg_restore",
    ok: streamed.exitCode === 0 && tocEntries > 0,
    detail:
      streamed.exitCode === 0
        ? `pg_restore --list read ${tocEntries} entries`
        : `pg_restore --list exited with ${streamed.exitCode}: ${list.stderrTail() || "no message"}`,
  });

  const failed = checks.filter((c) => !c.ok);
  databaseMetric(ctx, target.id, "BackupAgeHours", MetricUnit.NoUnit, Number(ageHours.toFixed(3)));
  return {
    database: target.id,
    ok: failed.length === 0,
    error: failed.length ? failed.map((c) => `${c.name}: ${c.detail}`).join(", ") : undefined,
    key: m.key,
    ageHours: Number(ageHours.toFixed(3)),
    sizeBytes: length,
    tocEntries,
    checks,
  };
}

export const verifyBackupTask = defineTask({
  name: "verify-backup",
  description: "check the newest backup of each database: age (RPO), size, SHA-256, pg_restore --list",
  settings,
  async run(s, ctx): Promise<VerifyResult> {
    const s3 = s3Client(s.env);
    const result: VerifyResult = { bucket: s.BACKUP_BUCKET, databases: [] };
    for (const target of s.targets) {
      let outcome: VerifyOutcome;
      try {
        outcome = await verifyOne(s, target, s3, ctx);
      } catch (err) {
        outcome = { database: target.id, ok: false, error: oneLine(err), checks: [] };
      }
      if (outcome.ok) ctx.log.info("backup verified", { ...outcome });
      else ctx.log.error("backup verification failed", { database: target.id, error: outcome.error });
      databaseMetric(ctx, target.id, "BackupVerified", MetricUnit.Count, outcome.ok ? 1 : 0);
      result.databases.push(outcome);
    }
    return failIfAny("verify-backup", result);
  },
});
