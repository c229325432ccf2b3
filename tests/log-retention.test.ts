/**
 * A log set's retention promise: logrotate removes a rotated file once it has been rotated `keep`
 * times, whatever `maxage` says, so a log set keeps the smaller of keep x its period and maxAgeDays
 * on the host (and its archive's days in the log archive). The figures, the refusal of a maxAgeDays
 * that keep cannot hold, its acceptance, the rendered header, and the behaviour itself with the real
 * logrotate on temporary files.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { ALERTING } from "./helpers/alerting";
import { checkPromises } from "../components/promises";
import { validateRegime } from "../regime/load";
import { parseLogs, type LogSetInput } from "../regime/logs";
import { logrotateErrors, renderLogrotateConfig } from "../regime/logrotate";

const LOGROTATE = "/usr/sbin/logrotate";
const FROM = new Date("2026-11-23T00:00:00Z");
const DAY_MS = 86_400_000;

/** A log set named `name` on /var/log/<name>/*.log, copied and truncated. */
const set = (name: string, extra: Partial<LogSetInput>): LogSetInput => ({ name, paths: [`/var/log/${name}/*.log`], frequency: "daily", copytruncate: true, ...extra }) as LogSetInput;

/** A regime with one host group, web, holding `sets`. */
function regimeConfig(sets: LogSetInput[], acceptedRisks?: { key: string; reason: string }[]) {
  return { name: "t", alerting: ALERTING, logs: { hostGroups: [{ name: "web", target: { tagKey: "Role", tagValue: "web" }, logSets: sets }] }, ...(acceptedRisks ? { acceptedRisks } : {}) };
}

function logPromises(sets: LogSetInput[], acceptedRisks?: { key: string; reason: string }[]) {
  const report = checkPromises(validateRegime(regimeConfig(sets, acceptedRisks)), FROM);
  return { report, items: report.promises.filter((p) => p.key.startsWith("logs.hostGroups[web].logSets[")) };
}

describe("what a log set really keeps, in the plan's promises", () => {
  it("daily, weekly, monthly, with keep below and above maxAgeDays: the smaller of keep x period and maxAgeDays", () => {
    const { items } = logPromises([
      set("nginx", { keep: 14, maxAgeDays: 30 }),
      set("weekly", { frequency: "weekly", keep: 2, maxAgeDays: 90 }),
      set("monthly", { frequency: "monthly", keep: 3, maxAgeDays: 90 }),
      set("long", { keep: 45, maxAgeDays: 30 }),
      set("derived", { frequency: "weekly", maxAgeDays: 30 }),
      set("months", { frequency: "monthly", keep: 4, maxAgeDays: 90 }),
      set("plain", { frequency: "weekly", keep: 4 }),
    ]);
    expect(items.map((p) => `${p.status} ${p.key}: ${p.promise}: ${p.figure} = ${p.value}`)).toEqual([
      "broken logs.hostGroups[web].logSets[nginx].keep: log set nginx: rotated logs kept 30 days (maxAgeDays): 14 days on the host (rotate 14 x daily; maxage 30 removes none sooner) = 14",
      "broken logs.hostGroups[web].logSets[weekly].keep: log set weekly: rotated logs kept 90 days (maxAgeDays): 14 days on the host (rotate 2 x weekly; maxage 90 removes none sooner) = 14",
      // A month counts as its shortest, 28 days: 3 months may be 84 days (February and two of 28 to 31).
      "broken logs.hostGroups[web].logSets[monthly].keep: log set monthly: rotated logs kept 90 days (maxAgeDays): 84 days on the host (rotate 3 x monthly; maxage 90 removes none sooner) = 84",
      "held logs.hostGroups[web].logSets[long].keep: log set long: rotated logs kept 30 days (maxAgeDays): 30 days on the host (maxage 30; rotate 45 x daily would keep 45) = 30",
      // keep omitted: derived from maxAgeDays (rotate 5 weekly), which always holds it.
      "held logs.hostGroups[web].logSets[derived].keep: log set derived: rotated logs kept 30 days (maxAgeDays): 30 days on the host (maxage 30; rotate 5 x weekly would keep 35) = 30",
      "held logs.hostGroups[web].logSets[months].keep: log set months: rotated logs kept 90 days (maxAgeDays): 90 days on the host (maxage 90; rotate 4 x monthly would keep 112) = 90",
      "held logs.hostGroups[web].logSets[plain].keep: log set plain: rotated logs kept 4 weekly rotations (keep): 28 days on the host (rotate 4 x weekly) = 28",
    ]);
  });

  it("an archived log set keeps its lines in the log archive for archive.expireDays: that holds maxAgeDays when the host does not", () => {
    const { items } = logPromises([
      set("kept", { frequency: "weekly", keep: 2, maxAgeDays: 90, archive: { expireDays: 365 } }),
      set("short", { frequency: "weekly", keep: 2, maxAgeDays: 90, archive: { expireDays: 60 } }),
    ]);
    expect(items.map((p) => `${p.status} ${p.figure} = ${p.value}`)).toEqual([
      "held 14 days on the host (rotate 2 x weekly; maxage 90 removes none sooner); each rotated file 365 days in the log archive from its upload (archive.expireDays; S3 rounds up to the next midnight UTC) = 365",
      "broken 14 days on the host (rotate 2 x weekly; maxage 90 removes none sooner); each rotated file 60 days in the log archive from its upload (archive.expireDays; S3 rounds up to the next midnight UTC) = 60",
    ]);
  });

  it("an archived set with rotate 1 and delaycompress archives nothing: refused, whatever maxAgeDays says; keep 2 or no delaycompress archives", () => {
    const { report, items } = logPromises([
      set("starved", { keep: 1, delaycompress: true, archive: { expireDays: 90 } }),
      set("kept", { keep: 2, delaycompress: true, archive: { expireDays: 90 } }),
      set("prompt", { keep: 1, delaycompress: false, archive: { expireDays: 90 } }),
    ]);
    expect(items.map((p) => `${p.status} ${p.figure} = ${p.value}`)).toEqual([
      "broken 1 day on the host (rotate 1 x daily); nothing reaches the log archive (rotate 1 with delaycompress removes each rotated file before it is compressed, and only *.gz files are uploaded) = 1",
      "held 2 days on the host (rotate 2 x daily); each rotated file 90 days in the log archive from its upload (archive.expireDays; S3 rounds up to the next midnight UTC) = 90",
      "held 1 day on the host (rotate 1 x daily); each rotated file 90 days in the log archive from its upload (archive.expireDays; S3 rounds up to the next midnight UTC) = 90",
    ]);
    expect(report.refusals).toEqual([
      "logs.hostGroups[web].logSets[starved].keep: rotate 1 with delaycompress removes each rotated file at the next rotation, before it is compressed, and the archive uploads only *.gz files: nothing is archived; set keep to at least 2 or delaycompress: false",
    ]);
  });

  it("maxSize on a weekly set: a file past it at every daily run of logrotate uses its rotations up in keep days; the figure says so", () => {
    const { items } = logPromises([set("busy", { frequency: "weekly", keep: 4, maxSize: "100M" }), set("daily", { keep: 14, maxSize: "100M" })]);
    expect(items.map((p) => p.figure)).toEqual([
      "28 days on the host (rotate 4 x weekly), down to 4 days for a file that passes maxsize at every daily run of logrotate",
      // Rotated daily anyway: a daily run of logrotate rotates it no sooner.
      "14 days on the host (rotate 14 x daily)",
    ]);
  });
});

describe("a maxAgeDays that keep cannot hold is refused in one line naming the key, the figures and the keep that would hold it", () => {
  it("the refusal lines", () => {
    const { report } = logPromises([
      set("nginx", { keep: 14, maxAgeDays: 30 }),
      set("weekly", { frequency: "weekly", keep: 2, maxAgeDays: 90 }),
      set("monthly", { frequency: "monthly", keep: 3, maxAgeDays: 90 }),
      set("short", { frequency: "weekly", keep: 2, maxAgeDays: 90, archive: { expireDays: 60 } }),
    ]);
    expect(report.refusals).toEqual([
      "logs.hostGroups[web].logSets[nginx].keep: rotate 14 x daily keeps rotated logs 14 days on the host < maxAgeDays 30: logrotate removes a file rotated 14 times already, whatever maxage says; set keep to at least 30",
      "logs.hostGroups[web].logSets[weekly].keep: rotate 2 x weekly keeps rotated logs 14 days on the host < maxAgeDays 90: logrotate removes a file rotated 2 times already, whatever maxage says; set keep to at least 13",
      "logs.hostGroups[web].logSets[monthly].keep: rotate 3 x monthly keeps rotated logs 84 days on the host < maxAgeDays 90: logrotate removes a file rotated 3 times already, whatever maxage says; set keep to at least 4",
      "logs.hostGroups[web].logSets[short].keep: rotate 2 x weekly keeps rotated logs 14 days on the host and the log archive 60 days < maxAgeDays 90: logrotate removes a file rotated 2 times already, whatever maxage says; set keep to at least 13 or archive.expireDays to at least 90",
    ]);
  });

  it("the remedy holds: each refused set with the keep its line names plans with its promise held", () => {
    const { report, items } = logPromises([
      set("nginx", { keep: 30, maxAgeDays: 30 }),
      set("weekly", { frequency: "weekly", keep: 13, maxAgeDays: 90 }),
      set("monthly", { frequency: "monthly", keep: 4, maxAgeDays: 90 }),
    ]);
    expect(report.refusals).toEqual([]);
    expect(items.map((p) => `${p.status} ${p.value}`)).toEqual(["held 30", "held 90", "held 90"]);
  });

  it("acceptedRisks naming the key lets it pass, reported as accepted; the acceptance is refused once keep holds maxAgeDays", () => {
    const accepted = [{ key: "logs.hostGroups[web].logSets[nginx].keep", reason: "the disk holds 14 days; older nginx logs are in CloudWatch" }];
    const { report, items } = logPromises([set("nginx", { keep: 14, maxAgeDays: 30 })], accepted);
    expect(report.refusals).toEqual([]);
    expect(items.map((p) => `${p.status} ${p.figure}`)).toEqual(["accepted 14 days on the host (rotate 14 x daily; maxage 30 removes none sooner)"]);
    expect(logPromises([set("nginx", { keep: 30, maxAgeDays: 30 })], accepted).report.refusals).toEqual([
      `acceptedRisks[0].key: "logs.hostGroups[web].logSets[nginx].keep" breaks no promise; remove the acceptance`,
    ]);
  });

  it("npm run plan on a stack whose nginx keeps 14 daily files against maxAgeDays 30 exits 1 with that one line and prints no plan", () => {
    const dir = mkdtempSync(join(tmpdir(), "log-retention-plan-"));
    try {
      const file = join(dir, "Pulumi.t.yaml");
      const ns = "maintenance-regime";
      const cfg = regimeConfig([set("nginx", { keep: 14, maxAgeDays: 30 })]);
      writeFileSync(file, YAML.stringify({ config: { [`${ns}:name`]: cfg.name, [`${ns}:alerting`]: cfg.alerting, [`${ns}:logs`]: cfg.logs } }));
      const run = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "..", "plan", "cli.ts"), "--config", file, "--from", "2026-11-23"], { encoding: "utf8", cwd: join(__dirname, "..") });
      expect(run.stdout).toBe("");
      expect(run.stderr.trimEnd().split("\n")).toEqual([
        "error: promise check: logs.hostGroups[web].logSets[nginx].keep: rotate 14 x daily keeps rotated logs 14 days on the host < maxAgeDays 30: logrotate removes a file rotated 14 times already, whatever maxage says; set keep to at least 30",
      ]);
      expect(run.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe("the rendered config's header states what it keeps, the promise's figure", () => {
  it("keep 14 daily against maxAgeDays 30 says 14 days, not 30; an archived set names the archive's days", () => {
    const header = (s: LogSetInput) => renderLogrotateConfig(parseLogs(regimeConfig([s]).logs).hostGroups[0].logSets[0], { regime: "t", group: "web", archiveBucket: "b" }).split("\n")[1];
    expect(header(set("nginx", { keep: 14, maxAgeDays: 30 }))).toBe("# Rotated logs kept: 14 days on the host (rotate 14 x daily; maxage 30 removes none sooner).");
    expect(header(set("app", { keep: 30, maxAgeDays: 30, archive: { expireDays: 90 } }))).toBe(
      "# Rotated logs kept: 30 days on the host (rotate 30 x daily; maxage 30 removes none sooner); each rotated file 90 days in the log archive from its upload (archive.expireDays; S3 rounds up to the next midnight UTC).",
    );
  });
});

describe("the real logrotate: rotate N removes files maxage would keep", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "log-retention-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /**
   * Rotates the log set's rendered config `runs` times with `logrotate -f` on a scratch directory, each
   * run a period after the last: before each run every rotated file's modification time is moved one
   * period back (logrotate's maxage reads it), and the log gets a line. Returns the rotated files left
   * and the age in days of the oldest.
   */
  function rotate(name: string, input: LogSetInput, runs: number, periodDays: number): { files: string[]; oldestDays: number } {
    const dir = join(work, name);
    mkdirSync(dir);
    const s = parseLogs(regimeConfig([{ ...input, paths: [`${dir}/*.log`] }]).logs).hostGroups[0].logSets[0];
    const conf = join(work, `${name}.conf`);
    writeFileSync(conf, renderLogrotateConfig(s, { regime: "t", group: "web", archiveBucket: "b" }));
    for (let run = 1; run <= runs; run++) {
      for (const f of readdirSync(dir).filter((f) => f !== "app.log")) {
        // A period and a minute per run, as a cron a little later each time: a file rotated maxAgeDays runs
        // ago is then past maxage whatever the sub-second timing (at exactly 30 days logrotate may keep it).
        const m = statSync(join(dir, f)).mtimeMs - periodDays * DAY_MS - 60_000;
        utimesSync(join(dir, f), m / 1000, m / 1000);
      }
      writeFileSync(join(dir, "app.log"), `run ${run}\n`);
      // dateext names to the second: one run a second, so no two rotations share a name.
      if (s.dateext) spawnSync("sleep", ["1"]);
      const r = spawnSync(LOGROTATE, ["-f", "-s", join(work, `${name}.state`), conf], { encoding: "utf8" });
      expect(logrotateErrors(r.stderr)).toEqual([]);
      expect(r.status).toBe(0);
    }
    const files = readdirSync(dir).filter((f) => f !== "app.log").sort();
    const oldestDays = Math.round(Math.max(...files.map((f) => Date.now() - statSync(join(dir, f)).mtimeMs)) / DAY_MS);
    return { files, oldestDays };
  }

  it("weekly, keep 2, maxAgeDays 90, rotated 4 times a week apart: 2 files are left, the oldest 7 days old (its lines 14): 2 weeks kept, not 90 days", () => {
    expect(rotate("weekly", set("weekly", { frequency: "weekly", keep: 2, maxAgeDays: 90 }), 4, 7)).toEqual({ files: ["app.log.1.gz", "app.log.2.gz"], oldestDays: 7 });
  });

  it("the same with dateext: logrotate counts the dated names and removes the oldest", () => {
    const { files, oldestDays } = rotate("dated", set("dated", { frequency: "weekly", keep: 2, maxAgeDays: 90, dateext: true }), 4, 7);
    expect(files).toHaveLength(2);
    expect(files.every((f) => /^app\.log-\d{8}-\d{6}\.gz$/.test(f))).toBe(true);
    expect(oldestDays).toBe(7);
  });

  it("rotate 1 with delaycompress, rotated 3 times: after each run (when the archive's upload looks) no *.gz is on the host; with keep 2 one is", () => {
    // The archive's own directives (dateext) without its upload script, which needs the aws CLI.
    const starved = rotate("starved", set("starved", { keep: 1, delaycompress: true, dateext: true }), 3, 1);
    expect(starved.files).toHaveLength(1);
    expect(starved.files[0]).toMatch(/^app\.log-\d{8}-\d{6}$/);
    const kept = rotate("kept", set("kept", { keep: 2, delaycompress: true, dateext: true }), 3, 1);
    expect(kept.files.map((f) => f.endsWith(".gz"))).toEqual([true, false]);
  });

  it("keep 13, the refusal's remedy, rotated 15 times: 13 files, the oldest 84 days old (its lines 91): maxAgeDays 90 holds", () => {
    const { files, oldestDays } = rotate("remedy", set("remedy", { frequency: "weekly", keep: 13, maxAgeDays: 90 }), 15, 7);
    expect(files).toEqual(Array.from({ length: 13 }, (_, i) => `app.log.${i + 1}.gz`).sort());
    expect(oldestDays).toBe(84);
  });

  it("keep above maxAgeDays: maxage removes first; daily keep 45, maxAgeDays 30, rotated 40 days: 30 files, the oldest 29 days old (its lines 30): 30 days kept, not 45", () => {
    const { files, oldestDays } = rotate("maxage", set("maxage", { keep: 45, maxAgeDays: 30 }), 40, 1);
    expect(files).toEqual(Array.from({ length: 30 }, (_, i) => `app.log.${i + 1}.gz`).sort());
    expect(oldestDays).toBe(29);
  });
});
