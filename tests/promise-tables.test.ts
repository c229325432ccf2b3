/**
 * The Promises tables as CI checks them: README.md's (the prod regime) and each example README's are
 * what `npm run docs` generates from the plan of their stack file now, from the fixed reference date;
 * a table left behind by a change of its stack file is named by `--check`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { PlanPromise } from "../plan/promises";
import { END_MARKER, generate, promiseRows, PromiseTablesError, run, START_MARKER, targets } from "../plan/promise-tables";

const ROOT = join(__dirname, "..");
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");
// Planning six stacks takes a while, the more so next to other test files.
const SLOW = 600_000;

let fresh: Map<string, string>;
beforeAll(async () => {
  fresh = await generate(ROOT);
}, SLOW);

function between(readme: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  expect(start, "start marker").toBeGreaterThanOrEqual(0);
  expect(end, "end marker").toBeGreaterThan(start);
  return readme.slice(start + START_MARKER.length + 1, end);
}

/** A scratch root with the prod stack file and a README whose Promises section is `section`. */
function scratchRoot(section: string): string {
  const dir = mkdtempSync(join(tmpdir(), "promise-tables-"));
  writeFileSync(join(dir, "Pulumi.prod.yaml"), read("Pulumi.prod.yaml"));
  writeFileSync(join(dir, "README.md"), readme(section));
  return dir;
}
const readme = (section: string) => `# maintenance-regime\n\n## Promises\n\nProse | with a pipe.\n\n${START_MARKER}\n${section}${END_MARKER}\n\nMore prose.\n`;

describe("the checked-in READMEs are current", () => {
  it("covers README.md and every example", () => {
    expect(targets(ROOT).map((t) => t.readme)).toEqual([
      "README.md",
      "examples/bigshot/README.md",
      "examples/boardroom-ai/README.md",
      "examples/fitnesscrm/README.md",
      "examples/iswitch-roofs-crm/README.md",
      "examples/neff-paving/README.md",
    ]);
  });

  it("each Promises section is a fresh generation", async () => {
    for (const t of targets(ROOT)) expect(between(read(t.readme)), t.readme).toBe(fresh.get(t.readme));
    await expect(run(["--check"], ROOT, fresh)).resolves.toEqual({ code: 0, line: "the Promises tables of 6 READMEs are current" });
  });

  it("shows the figures the program computes now", () => {
    const prod = fresh.get("README.md")!;
    expect(prod).toContain("| a restore within 60 min, proven by the drill (rtoMinutes) | `databases[app].restoreDrill.rtoMinutes` | the drill runs until done (Fargate) | held |");
    expect(prod).toContain("| backup of database app: paged when it stops | `databases[app].backup.schedule` | paged within 25.4 h of its last run | held |");
    expect(prod).toContain("| reminder access-review: paged when it stops | `reminders[access-review].schedule` | paged within 2212 h of its last run, by the overdue watch | held |");
    expect(prod).not.toContain("`reminders[*].schedule` | not watched");
    expect(prod).toContain("| Promise | Key | Figure (12 months from 2026-11-23) | Status |");
    expect(prod).not.toContain("(Lambda)");
  });

  it(
    "`tsx plan/promise-tables.ts --check` (npm run docs -- --check) passes here, and refuses an unknown option in one line",
    () => {
      const ok = spawnSync("npx", ["tsx", "plan/promise-tables.ts", "--check"], { cwd: ROOT, encoding: "utf8" });
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout).toBe("regime.schema.json and README.md are current\nthe Promises tables of 6 READMEs are current\n");
      const bad = spawnSync("npx", ["tsx", "plan/promise-tables.ts", "--chek"], { cwd: ROOT, encoding: "utf8" });
      expect(bad.status).toBe(1);
      expect(bad.stderr.split("\n").filter((l) => l && !l.startsWith("npm warn"))).toEqual(["--chek: unknown option; options: --check"]);
    },
    SLOW,
  );
});

describe("generation into a README", () => {
  it("--check names a stale table and exits 1; a run rewrites only what stands between the markers", async () => {
    const dir = scratchRoot("| old table |\n");
    expect(await run(["--check"], dir, fresh)).toEqual({ code: 1, line: "out of date: README.md; run npm run docs" });
    expect(readFileSync(join(dir, "README.md"), "utf8")).toBe(readme("| old table |\n"));
    expect(await run([], dir, fresh)).toEqual({ code: 0, line: "wrote the Promises tables of README.md" });
    expect(readFileSync(join(dir, "README.md"), "utf8")).toBe(readme(fresh.get("README.md")!));
    expect(await run(["--check"], dir, fresh)).toEqual({ code: 0, line: "the Promises tables of 1 READMEs are current" });
  });

  it(
    "a table left as it was when its stack file changes is stale",
    async () => {
      const dir = scratchRoot(fresh.get("README.md")!);
      writeFileSync(join(dir, "Pulumi.prod.yaml"), read("Pulumi.prod.yaml").replace("rpoHours: 26", "rpoHours: 30"));
      expect(await run(["--check"], dir)).toEqual({ code: 1, line: "out of date: README.md; run npm run docs" });
      await run([], dir);
      const section = between(readFileSync(join(dir, "README.md"), "utf8"));
      expect(section).toContain("| at most 30 h of data lost (rpoHours) | `databases[app].backup.schedule` | up to 24.2 h of data (24 h between backups + up to 12 min to store one) | held |");
      expect(section).toContain("| P0 page once the newest backup is older than 30 h (its data, from the backup's start) |");
    },
    SLOW,
  );

  it("refuses a README without the markers in one line, and writes nothing", async () => {
    const dir = scratchRoot("");
    writeFileSync(join(dir, "README.md"), "# maintenance-regime\n\nNo markers here.\n");
    for (const argv of [[], ["--check"]]) {
      await expect(run(argv, dir, fresh)).rejects.toThrow(
        new PromiseTablesError(`README.md: needs one ${START_MARKER} line and after it one ${END_MARKER} line around the Promises table`),
      );
    }
    expect(readFileSync(join(dir, "README.md"), "utf8")).toBe("# maintenance-regime\n\nNo markers here.\n");
  });
});

describe("rows", () => {
  const reminder = (name: string, watched: boolean): PlanPromise =>
    watched
      ? { key: `reminders[${name}].schedule`, promise: `reminder ${name}: paged when it stops`, figure: "paged within 183 h of its last run", status: "held", kind: "config" }
      : { key: `reminders[${name}].schedule`, promise: `reminder ${name}: someone is paged when it stops`, figure: "not watched", status: "unkept", kind: "program" };

  it("collapses reminders with the same figure into one row, naming each key unless the row holds them all", () => {
    const backup: PlanPromise = { key: "databases[app].backup.schedule", promise: "at most 26 h of data lost (rpoHours)", figure: "47 h between backups", status: "broken", kind: "config", firstBreak: "2027-03-14" };
    const rows = promiseRows([backup, reminder("a", true), reminder("b", false), reminder("c", true), reminder("d", false)]);
    expect(rows).toEqual([
      { promise: "at most 26 h of data lost (rpoHours)", keys: ["databases[app].backup.schedule"], figure: "47 h between backups", status: "broken (first 2027-03-14)" },
      { promise: "2 reminders: paged when one stops", keys: ["reminders[a].schedule", "reminders[c].schedule"], figure: "paged within 183 h of its last run", status: "held" },
      { promise: "2 reminders: someone is paged when one stops", keys: ["reminders[b].schedule", "reminders[d].schedule"], figure: "not watched", status: "unkept by the program" },
    ]);
    expect(promiseRows([reminder("a", false), reminder("b", false)])).toEqual([
      { promise: "2 reminders: someone is paged when one stops", keys: ["reminders[*].schedule"], figure: "not watched", status: "unkept by the program" },
    ]);
    expect(promiseRows([reminder("a", true), reminder("b", false)]).map((r) => r.promise)).toEqual(["reminder a: paged when it stops", "reminder b: someone is paged when it stops"]);
  });
});
