import { createHash, randomBytes } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLogs, type HostGroup } from "../regime/logs";
import {
  FILE_BACKUP_TIMEOUT_SECONDS,
  fileBackupCronPath,
  fileBackupSchedule,
  fileBackupScriptPath,
  renderCronFile,
  renderFileBackupInstallScript,
  renderFileBackupScript,
} from "../regime/file-backups";
import { managedMarker } from "../regime/logrotate";

const BUCKET = "prod-log-archive-1234";
const REGION = "us-east-1";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "file-backup-test-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A stand-in aws CLI on PATH that behaves as S3 does for the calls the backup script makes, and logs
 * each call in `calls` (`s3api <operation> <key>[ part <n>][ --if-none-match *]`, or the arguments of
 * other commands): `create-multipart-upload` prints an upload id; `upload-part` keeps the body and
 * prints its ETag; `complete-multipart-upload` joins the parts listed (each ETag must be its part's)
 * into `objects/<bucket/key with / as %>` and, with `--if-none-match '*'`, refuses an existing key
 * with PreconditionFailed; `abort-multipart-upload` drops the parts; `put-object` stores its body
 * under the same rule. An object exists only once its upload completed, as in S3. `FAIL_PART=1`
 * makes every upload-part fail; `SLOW_PART=<s>` makes each take that many seconds (a stalled network).
 */
function standIn(name: string): { bin: string; calls: string; objects: string; uploads: string; dir: string } {
  const dir = join(work, name);
  const bin = join(dir, "bin");
  const objects = join(dir, "objects");
  const uploads = join(dir, "uploads");
  mkdirSync(bin, { recursive: true });
  mkdirSync(objects);
  mkdirSync(uploads);
  const calls = join(dir, "calls");
  writeFileSync(
    join(bin, "aws"),
    [
      "#!/bin/bash",
      'if [ "$1" != s3api ]; then echo "$*" >> ' + calls + "; exit 0; fi",
      'op="$2"; shift 2',
      'while [ $# -gt 0 ]; do case "$1" in --bucket) b="$2";; --key) k="$2";; --upload-id) id="$2";; --part-number) n="$2";; --body) body="$2";; --multipart-upload) mpu="${2#file://}";; --if-none-match) inm="$2";; *) shift; continue;; esac; shift 2; done',
      `echo "s3api $op $k\${n:+ part $n}\${inm:+ --if-none-match $inm}" >> ${calls}`,
      `obj="${objects}/$(printf %s "$b/$k" | tr / %)"`,
      'precondition() { if [ "$inm" = "*" ] && [ -e "$obj" ]; then echo "An error occurred (PreconditionFailed) when calling the $1 operation: At least one of the pre-conditions you specified did not hold" >&2; exit 254; fi; }',
      'case "$op" in',
      `  create-multipart-upload) id="up$$"; mkdir -p "${uploads}/$id"; echo "$id";;`,
      '  upload-part)',
      '    if [ -n "${SLOW_PART:-}" ]; then sleep "$SLOW_PART"; fi',
      '    if [ "${FAIL_PART:-}" = 1 ]; then echo "An error occurred (AccessDenied) when calling the UploadPart operation: Access Denied" >&2; exit 254; fi',
      `    cp "$body" "${uploads}/$id/$n"; echo "\\"$(md5sum < "$body" | cut -c1-32)\\"";;`,
      '  complete-multipart-upload)',
      "    precondition CompleteMultipartUpload",
      `    python3 -c 'import json,sys,hashlib,os
parts=json.load(open(sys.argv[1]))["Parts"]
d=sys.argv[2]
assert [p["PartNumber"] for p in parts]==list(range(1,len(parts)+1)), "parts out of order"
out=open(sys.argv[3]+".tmp","wb")
for p in parts:
  data=open(os.path.join(d,str(p["PartNumber"])),"rb").read()
  assert p["ETag"]=="\\""+hashlib.md5(data).hexdigest()+"\\"", "bad ETag"
  out.write(data)
out.close(); os.rename(sys.argv[3]+".tmp",sys.argv[3])' "$mpu" "${uploads}/$id" "$obj" || exit 255`,
      `    rm -rf "${uploads}/$id";;`,
      `  abort-multipart-upload) rm -rf "${uploads}/$id";;`,
      '  put-object) precondition PutObject; cp "$body" "$obj";;',
      "esac",
      "",
    ].join("\n"),
  );
  chmodSync(join(bin, "aws"), 0o755);
  return { bin, calls, objects, uploads, dir };
}

/** A Boardroom-like application directory (seed 002: .env.production, docker-compose.yml, logs/, uploads/). */
function appDir(name: string): string {
  const root = join(work, name, "boardroom");
  mkdirSync(join(root, "logs"), { recursive: true });
  mkdirSync(join(root, "uploads", "cache"), { recursive: true });
  writeFileSync(join(root, ".env.production"), "DATABASE_URL=postgres://app@db/app\n");
  writeFileSync(join(root, "docker-compose.yml"), "services:\n  app:\n    image: boardroom\n");
  writeFileSync(join(root, "logs", "app.jsonl"), '{"level":"info"}\n');
  writeFileSync(join(root, "uploads", "minutes.pdf"), "%PDF-1.7 minutes\n");
  writeFileSync(join(root, "uploads", "draft.tmp"), "scratch\n");
  writeFileSync(join(root, "uploads", "cache", "thumb.png"), "png\n");
  return root;
}

function group(appRoot: string, paths: string[], exclude: string[] = []): HostGroup {
  return parseLogs({
    hostGroups: [{ name: "boardroom", target: { tagKey: "App", tagValue: "boardroom" }, appRoot, fileBackups: [{ name: "app-files", paths, exclude }] }],
  }).hostGroups[0];
}

function run(script: string, bin: string, env: Record<string, string> = {}) {
  // --norc: with stdin a socket and SHLVL below 2, Debian's bash reads ~/.bashrc (its remote-shell rule),
  // whose PATH changes would put a real aws CLI before the stand-in in `bin`.
  return spawnSync("bash", ["--norc", "-c", script], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, REGIME_HOSTNAME: "app-1", REGIME_STAMP: "20261129T030000Z", ...env },
  });
}

function listTar(file: string): string[] {
  return execFileSync("tar", ["-tzf", file], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
}

const KEY = "files/boardroom/app-files/app-1/20261129T030000Z.tar.gz";
/** Where the stand-in keeps the object s3://<BUCKET>/<key>. */
const objectFile = (objects: string, key: string) => join(objects, `${BUCKET}/${key}`.replace(/\//g, "%"));

describe("the backup script, run for real with a stand-in aws CLI", () => {
  it("streams the paths into one SSE-KMS object, a sha256sum -c manifest beside it, then the success metric", () => {
    const root = appDir("ok");
    const aws = standIn("ok-aws");
    const g = group(root, [".env.production", "docker-compose.yml", "logs/", "uploads/"], ["*.tmp", "uploads/cache"]);
    const script = renderFileBackupScript({ regime: "prod", group: g, backup: g.fileBackups[0], bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" });
    const r = run(script, aws.bin);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(readdirSync(aws.objects).sort().map((f) => join(aws.objects, f))).toEqual([objectFile(aws.objects, KEY), objectFile(aws.objects, `${KEY}.sha256`)]);

    // The archive holds the files (relative to /), without the excluded ones.
    const archive = objectFile(aws.objects, KEY);
    const rel = root.slice(1);
    expect(listTar(archive)).toEqual(
      [`${rel}/.env.production`, `${rel}/docker-compose.yml`, `${rel}/logs/`, `${rel}/logs/app.jsonl`, `${rel}/uploads/`, `${rel}/uploads/minutes.pdf`].sort(),
    );
    const out = join(aws.dir, "extracted");
    mkdirSync(out);
    execFileSync("tar", ["-xzf", archive, "-C", out]);
    expect(readFileSync(join(out, rel, ".env.production"), "utf8")).toBe("DATABASE_URL=postgres://app@db/app\n");
    expect(readFileSync(join(out, rel, "uploads", "minutes.pdf"), "utf8")).toBe("%PDF-1.7 minutes\n");

    // The manifest checks the archive with sha256sum -c.
    const sum = createHash("sha256").update(readFileSync(archive)).digest("hex");
    expect(readFileSync(objectFile(aws.objects, `${KEY}.sha256`), "utf8")).toBe(`${sum}  20261129T030000Z.tar.gz\n`);
    const check = join(aws.dir, "check");
    mkdirSync(check);
    writeFileSync(join(check, "20261129T030000Z.tar.gz"), readFileSync(archive));
    writeFileSync(join(check, "m.sha256"), readFileSync(objectFile(aws.objects, `${KEY}.sha256`)));
    expect(spawnSync("sha256sum", ["-c", "m.sha256"], { cwd: check }).status).toBe(0);

    expect(readFileSync(aws.calls, "utf8").split("\n")).toEqual([
      `s3api create-multipart-upload ${KEY}`,
      `s3api upload-part ${KEY} part 1`,
      `s3api complete-multipart-upload ${KEY} --if-none-match *`,
      `s3api put-object ${KEY}.sha256 --if-none-match *`,
      `cloudwatch put-metric-data --region ${REGION} --namespace MaintenanceRegime --metric-name TaskSucceeded --unit Count --value 1 --dimensions service=prod,Task=file-backup,Instance=boardroom/app-files`,
      "",
    ]);
    expect(r.stdout).toBe(`backed up to s3://${BUCKET}/${KEY} (sha256 ${sum})\n`);
  });

  it("an SSH host's copy sends its success with Host=<the configured host>, whatever the machine calls itself; a failed run sends none", () => {
    const root = appDir("host");
    const aws = standIn("host-aws");
    const g = group(root, [".env.production"]);
    const script = renderFileBackupScript({ regime: "prod", group: g, backup: g.fileBackups[0], bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime", host: "10.0.0.7" });
    expect(script.split("\n")[1]).toBe("# File backup prod/boardroom/app-files on SSH host 10.0.0.7; generated by maintenance-regime. Do not edit: changes are overwritten on the next delivery.");
    const r = run(script, aws.bin, { REGIME_HOSTNAME: "ip-172-31-0-9" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(readFileSync(aws.calls, "utf8").split("\n").filter((l) => l.startsWith("cloudwatch"))).toEqual([
      `cloudwatch put-metric-data --region ${REGION} --namespace MaintenanceRegime --metric-name TaskSucceeded --unit Count --value 1 --dimensions service=prod,Task=file-backup,Instance=boardroom/app-files,Host=10.0.0.7`,
    ]);
    // The tagged instances' copy is unchanged: no Host, one metric for all of them.
    expect(renderFileBackupScript({ regime: "prod", group: g, backup: g.fileBackups[0], bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" })).toBe(
      script.replace(" on SSH host 10.0.0.7;", ";").replace(",Host=10.0.0.7'", "'"),
    );
    const broken = standIn("host-aws-broken");
    rmSync(join(root, ".env.production"));
    const failed = run(script, broken.bin, { REGIME_HOSTNAME: "ip-172-31-0-9" });
    expect(failed.status).toBe(1);
    expect(existsSync(broken.calls) ? readFileSync(broken.calls, "utf8") : "").not.toContain("put-metric-data");
  });

  it("a missing path fails the run, names the path and writes nothing (no object, no metric)", () => {
    const root = appDir("missing");
    const aws = standIn("missing-aws");
    const g = group(root, [".env.production", "docker-compose.yml", "uploads/", "/nonexistent/config.toml"]);
    const r = run(renderFileBackupScript({ regime: "prod", group: g, backup: g.fileBackups[0], bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" }), aws.bin);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "error: file backup prod/boardroom/app-files: /nonexistent/config.toml does not exist\nerror: file backup prod/boardroom/app-files: nothing uploaded\n",
    );
    expect(readdirSync(aws.objects)).toEqual([]);
    expect(existsSync(aws.calls)).toBe(false);
  });

  it("the SSH host's cron line stops a run stuck past the run limit: the upload is aborted, nothing stored, no success sent", () => {
    const root = appDir("stuck");
    const aws = standIn("stuck-aws");
    const g = group(root, ["docker-compose.yml"]);
    const scriptFile = join(aws.dir, "backup");
    writeFileSync(scriptFile, renderFileBackupScript({ regime: "prod", group: g, backup: g.fileBackups[0], bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" }), { mode: 0o755 });
    const cron = renderCronFile({ regime: "prod", group: "boardroom", name: "app-files", hostCron: "0 3 * * *", description: "daily at 03:00 UTC" });
    const command = /^0 3 \* \* \* root (.*) 2>&1 \| logger -t \S+$/m.exec(cron)![1];
    expect(command).toBe(`timeout --kill-after=60 ${FILE_BACKUP_TIMEOUT_SECONDS} ${fileBackupScriptPath("boardroom", "app-files")}`);
    // The same command with a 2-second limit, against an upload that stalls for 60 s.
    const started = Date.now();
    const r = run(command.replace(` ${FILE_BACKUP_TIMEOUT_SECONDS} `, " 2 ").replace(fileBackupScriptPath("boardroom", "app-files"), scriptFile), aws.bin, { SLOW_PART: "60" });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(r.status).toBe(124); // coreutils timeout: the command timed out
    expect(r.stderr).toContain(`error: file backup prod/boardroom/app-files: stopped by a signal (the run limit is ${FILE_BACKUP_TIMEOUT_SECONDS} s); upload aborted, nothing stored`);
    const calls = readFileSync(aws.calls, "utf8").split("\n").filter(Boolean);
    expect(calls).toContain(`s3api abort-multipart-upload ${KEY}`);
    expect(calls.filter((l) => l.startsWith("s3api complete") || l.startsWith("cloudwatch"))).toEqual([]);
    expect(readdirSync(aws.objects)).toEqual([]);
    expect(readdirSync(aws.uploads)).toEqual([]);
  });

  it("a large archive goes up in parts of REGIME_PART_BYTES, joined in order: the object is the archive", () => {
    const root = appDir("parts");
    writeFileSync(join(root, "uploads", "scan.bin"), randomBytes(20_000));
    const aws = standIn("parts-aws");
    const g = group(root, ["uploads/"]);
    const r = run(renderFileBackupScript({ regime: "prod", group: g, backup: g.fileBackups[0], bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" }), aws.bin, {
      REGIME_PART_BYTES: "4096",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const archive = objectFile(aws.objects, KEY);
    const parts = readFileSync(aws.calls, "utf8").split("\n").filter((l) => l.startsWith("s3api upload-part"));
    expect(parts.length).toBe(Math.ceil(statSync(archive).size / 4096));
    expect(parts.length).toBeGreaterThan(4);
    expect(listTar(archive)).toContain(`${root.slice(1)}/uploads/scan.bin`);
    const sum = createHash("sha256").update(readFileSync(archive)).digest("hex");
    expect(readFileSync(objectFile(aws.objects, `${KEY}.sha256`), "utf8")).toBe(`${sum}  20261129T030000Z.tar.gz\n`);
    expect(readdirSync(aws.uploads)).toEqual([]);
  });

  it("a backup never replaces another: a second run under the same key is refused by the conditional write, the first stays", () => {
    const root = appDir("twice");
    const aws = standIn("twice-aws");
    const g = group(root, ["docker-compose.yml"]);
    const script = renderFileBackupScript({ regime: "prod", group: g, backup: g.fileBackups[0], bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" });
    expect(run(script, aws.bin).status).toBe(0);
    const first = readFileSync(objectFile(aws.objects, KEY));
    writeFileSync(join(root, "docker-compose.yml"), "services: {}\n");
    const r = run(script, aws.bin);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "An error occurred (PreconditionFailed) when calling the CompleteMultipartUpload operation: At least one of the pre-conditions you specified did not hold\n" +
        `error: file backup prod/boardroom/app-files: upload to s3://${BUCKET}/${KEY} could not be completed (a backup under that key already exists?); nothing replaced\n`,
    );
    expect(readFileSync(objectFile(aws.objects, KEY))).toEqual(first);
    expect(readdirSync(aws.uploads)).toEqual([]);
    expect(readFileSync(aws.calls, "utf8").split("\n").filter((l) => l.startsWith("cloudwatch"))).toHaveLength(1);
  });

  it("tar failing part-way (an unreadable file) aborts the upload before it completes: no object, no metric", () => {
    const root = appDir("unreadable");
    const aws = standIn("unreadable-aws");
    const bin = join(aws.dir, "tarbin");
    mkdirSync(bin);
    const realTar = execFileSync("bash", ["-c", "command -v tar"], { encoding: "utf8" }).trim();
    // tar writes most of the stream, then fails as GNU tar does on an unreadable file (exit 2).
    writeFileSync(join(bin, "tar"), `#!/bin/bash\n"${realTar}" "$@"\necho "tar: ${root.slice(1)}/uploads/secret: Cannot open: Permission denied" >&2\nsleep 0.2\nexit 2\n`);
    chmodSync(join(bin, "tar"), 0o755);
    const g = group(root, [".env.production", "uploads/"]);
    const r = run(renderFileBackupScript({ regime: "prod", group: g, backup: g.fileBackups[0], bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" }), `${aws.bin}:${bin}`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Permission denied");
    expect(r.stderr).toContain("error: file backup prod/boardroom/app-files: tar failed (exit 2); nothing uploaded\n");
    expect(readdirSync(aws.objects)).toEqual([]);
    expect(readdirSync(aws.uploads)).toEqual([]);
    const calls = readFileSync(aws.calls, "utf8");
    expect(calls).toContain(`s3api abort-multipart-upload ${KEY}\n`);
    expect(calls).not.toContain("complete-multipart-upload");
    expect(calls).not.toContain("put-metric-data");
  });

  it("a failed upload fails the run without a manifest or metric", () => {
    const root = appDir("upload-fails");
    const aws = standIn("upload-fails-aws");
    const g = group(root, ["docker-compose.yml"]);
    const r = run(renderFileBackupScript({ regime: "prod", group: g, backup: g.fileBackups[0], bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" }), aws.bin, {
      FAIL_PART: "1",
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: file backup prod/boardroom/app-files: upload to s3://${BUCKET}/${KEY} failed; nothing stored\n`);
    expect(r.stderr).toContain("An error occurred (AccessDenied) when calling the UploadPart operation: Access Denied\n");
    expect(readdirSync(aws.objects)).toEqual([]);
    expect(readdirSync(aws.uploads)).toEqual([]);
    expect(readFileSync(aws.calls, "utf8").split("\n").filter(Boolean)).toEqual([
      `s3api create-multipart-upload ${KEY}`,
      `s3api upload-part ${KEY} part 1`,
      `s3api abort-multipart-upload ${KEY}`,
    ]);
  });

  it("fails with one line when the aws CLI is missing", () => {
    const root = appDir("no-aws");
    const g = group(root, ["docker-compose.yml"]);
    const script = renderFileBackupScript({ regime: "prod", group: g, backup: g.fileBackups[0], bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" });
    const r = spawnSync("/bin/bash", ["-c", script], { encoding: "utf8", env: { PATH: "/nonexistent", SHLVL: "1", HOME: "/nonexistent" } });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("error: file backup prod/boardroom/app-files: aws CLI not found\n");
  });
});

describe("SSH hosts: the install script puts the backup script and a cron file in place", () => {
  const iswitch = parseLogs({
    hostGroups: [
      {
        name: "iswitch-crm",
        sshHosts: [{ host: "10.0.0.7", user: "deploy" }],
        sshPrivateKeyConfig: "iswitchSshKey",
        appRoot: "/opt/iswitch-crm",
        fileBackups: [
          { name: "config", paths: [".env", "config.toml"] },
          { name: "uploads", paths: ["uploads/"], schedule: { at: "weekly on Sunday at 04:30", timezone: "UTC" }, retentionDays: 90 },
        ],
      },
    ],
  }).hostGroups[0];

  const render = (g: HostGroup) => {
    const backups: Record<string, { script: string; cron: string }> = {};
    for (const b of g.fileBackups) {
      const s = b.schedule;
      backups[b.name] = {
        script: renderFileBackupScript({ regime: "prod", group: g, backup: b, bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" }),
        cron: renderCronFile({ regime: "prod", group: g.name, name: b.name, hostCron: s.hostCron!, description: s.description }),
      };
    }
    return { backups, install: renderFileBackupInstallScript({ regime: "prod", group: g.name, backups }) };
  };

  it("cron lines at the UTC times, as root, output to syslog", () => {
    const { backups } = render(iswitch);
    expect(backups.config.cron).toBe(
      [
        "# File backup prod/iswitch-crm/config (daily at 03:00 UTC); generated by maintenance-regime.",
        "# managed-by: maintenance-regime prod/iswitch-crm",
        "SHELL=/bin/bash",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "CRON_TZ=UTC",
        "0 3 * * * root timeout --kill-after=60 3600 /usr/local/sbin/maintenance-regime-iswitch-crm-config-backup 2>&1 | logger -t maintenance-regime-iswitch-crm-config",
        "",
      ].join("\n"),
    );
    expect(backups.uploads.cron).toContain("\n30 4 * * 0 root timeout --kill-after=60 3600 /usr/local/sbin/maintenance-regime-iswitch-crm-uploads-backup ");
    expect(fileBackupCronPath("iswitch-crm", "config")).toBe("/etc/cron.d/maintenance-regime-iswitch-crm-config");
  });

  it("installs the script 0755 and the cron file 0644, replaces them on a re-run, removes a backup no longer declared", () => {
    const etc = join(work, "ssh-etc");
    const sbin = join(work, "ssh-sbin");
    const env = { ...process.env, REGIME_ETC: etc, REGIME_SBIN: sbin };
    mkdirSync(join(etc, "cron.d"), { recursive: true });
    // A cron file of another tool stays.
    writeFileSync(join(etc, "cron.d", "certbot"), "0 */12 * * * root certbot -q renew\n");
    const { backups, install } = render(iswitch);
    const r = spawnSync("bash", ["-c", install], { encoding: "utf8", env });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`installed ${etc}/cron.d/maintenance-regime-iswitch-crm-config and ${sbin}/maintenance-regime-iswitch-crm-config-backup\n`);
    expect(readdirSync(join(etc, "cron.d")).sort()).toEqual(["certbot", "maintenance-regime-iswitch-crm-config", "maintenance-regime-iswitch-crm-uploads"]);
    expect(readFileSync(join(sbin, "maintenance-regime-iswitch-crm-config-backup"), "utf8")).toBe(backups.config.script);
    expect(statSync(join(sbin, "maintenance-regime-iswitch-crm-config-backup")).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(etc, "cron.d", "maintenance-regime-iswitch-crm-uploads"), "utf8")).toBe(backups.uploads.cron);
    expect(statSync(join(etc, "cron.d", "maintenance-regime-iswitch-crm-uploads")).mode & 0o777).toBe(0o644);
    expect(fileBackupScriptPath("iswitch-crm", "config")).toBe("/usr/local/sbin/maintenance-regime-iswitch-crm-config-backup");

    // The uploads backup is dropped from the config: its cron file and script go, the other stays.
    const fewer = { ...iswitch, fileBackups: iswitch.fileBackups.filter((b) => b.name === "config") };
    const again = spawnSync("bash", ["-c", render(fewer).install], { encoding: "utf8", env });
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(`removed ${etc}/cron.d/maintenance-regime-iswitch-crm-uploads\n`);
    expect(readdirSync(join(etc, "cron.d")).sort()).toEqual(["certbot", "maintenance-regime-iswitch-crm-config"]);
    expect(readdirSync(sbin)).toEqual(["maintenance-regime-iswitch-crm-config-backup"]);
    expect(readFileSync(join(etc, "cron.d", "maintenance-regime-iswitch-crm-config"), "utf8")).toContain(managedMarker("prod", "iswitch-crm"));
  });

  it("backs up the guide's files (seed 000: .env, config.toml) under appRoot", () => {
    const root = join(work, "iswitch", "opt", "iswitch-crm");
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, ".env"), "SECRET_KEY=x\n");
    writeFileSync(join(root, "config.toml"), "[server]\nport = 8000\n");
    const g = { ...iswitch, appRoot: root };
    const aws = standIn("iswitch-aws");
    const b = g.fileBackups[0];
    const r = run(renderFileBackupScript({ regime: "prod", group: g, backup: b, bucket: BUCKET, region: REGION, namespace: "MaintenanceRegime" }), aws.bin);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const key = "files/iswitch-crm/config/app-1/20261129T030000Z.tar.gz";
    expect(listTar(objectFile(aws.objects, key))).toEqual([`${root.slice(1)}/.env`, `${root.slice(1)}/config.toml`]);
  });
});

describe("file backup schedules: UTC cron for State Manager, 5-field cron for SSH hosts", () => {
  it("converts the readable forms", () => {
    expect(fileBackupSchedule({ at: "daily at 03:00", timezone: "UTC" }, "America/New_York")).toEqual({
      expression: "cron(0 3 * * ? *)",
      hostCron: "0 3 * * *",
      hostCronProblem: undefined,
      description: "daily at 03:00 UTC",
      intervalSeconds: 86400,
    });
    expect(fileBackupSchedule("weekdays at 23:15", "UTC")).toMatchObject({ expression: "cron(15 23 ? * MON-FRI *)", hostCron: "15 23 * * 1-5" });
    expect(fileBackupSchedule("weekly on Sunday and Wednesday at 01:00", "Etc/UTC")).toMatchObject({ expression: "cron(0 1 ? * SUN,WED *)", hostCron: "0 1 * * 0,3" });
    expect(fileBackupSchedule("every hour at :15", "UTC")).toMatchObject({ expression: "cron(15 * * * ? *)", hostCron: "15 * * * *", intervalSeconds: 3600 });
    expect(fileBackupSchedule("cron(0 2 ? * 1-7 *)", "UTC")).toMatchObject({ hostCron: "0 2 * * 0-6" });
  });

  it("refuses what cannot run as asked, in one line", () => {
    expect(() => fileBackupSchedule("daily at 03:00", "America/New_York")).toThrow(
      '"daily at 03:00" is in America/New_York, but State Manager and cron run file backups in UTC (daylight saving would move a converted time); write it in UTC: { at: "daily at 03:00", timezone: UTC } with the UTC time',
    );
    expect(() => fileBackupSchedule("every 6 hours", "UTC")).toThrow('"every 6 hours" has no time of day; file backups run from a cron expression');
    expect(() => fileBackupSchedule("cron(*/10 * * * ? *)", "UTC")).toThrow("runs more often than every 30 minutes, State Manager's minimum");
    expect(() => fileBackupSchedule("monthly on day 1 at 03:00", "UTC")).toThrow("runs less often than weekly: a missed backup could not be alarmed");
    expect(() => fileBackupSchedule("cron(0 3 ? 1-6 MON *)", "UTC")).toThrow(
      '"cron(0 3 ? 1-6 MON *)" names months (1-6); State Manager association schedules cannot: use * in the month field',
    );
    const nth = fileBackupSchedule("cron(0 3 ? * 1#1,1#2,1#3,1#4,1#5 *)", "UTC");
    expect(nth.hostCron).toBeUndefined();
    expect(nth.hostCronProblem).toBe("cron cannot express 1#1,1#2,1#3,1#4,1#5 (last, nearest weekday or n-th weekday)");
  });
});
