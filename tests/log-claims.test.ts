import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logPathsOverlap, normaliseLogPath, segmentsOverlap } from "../regime/glob-overlap";
import { parseLogs, type HostGroupInput, type LogSetInput, type LogsInput } from "../regime/logs";
import { validateRegime } from "../regime/load";

const LOGROTATE = "/usr/sbin/logrotate";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "log-claims-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const set = (name: string, paths: string[], extra: Partial<LogSetInput> = {}): LogSetInput => ({ name, paths, frequency: "daily", keep: 7, copytruncate: true, ...extra });

/** One host group on Role=api with the given log sets. */
function group(logSets: LogSetInput[], extra: Partial<HostGroupInput> = {}): HostGroupInput {
  return { name: "api", target: { tagKey: "Role", tagValue: "api" }, logSets, ...extra } as HostGroupInput;
}

function refusal(logs: LogsInput): string | undefined {
  try {
    validateRegime({ name: "prod", logs });
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

describe("no file is claimed by two log sets of the hosts: refused with both keys", () => {
  it("a glob and a literal path naming one of its files (the reported case)", () => {
    const logs = { hostGroups: [group([set("app", ["/app/logs/*.log"]), set("api", ["/app/logs/api.log"])])] };
    expect(refusal(logs)).toBe(
      "logs.hostGroups[0].logSets[1].paths[0]: /app/logs/api.log is also rotated by logs.hostGroups[0].logSets[0].paths[0] (/app/logs/*.log); logrotate skips a config that claims a file twice",
    );
    // parseLogs (the logs object alone) names the keys without the logs. prefix.
    expect(() => parseLogs(logs)).toThrow(
      new Error("hostGroups[0].logSets[1].paths[0]: /app/logs/api.log is also rotated by hostGroups[0].logSets[0].paths[0] (/app/logs/*.log); logrotate skips a config that claims a file twice"),
    );
  });

  const cases: [string, LogsInput, string][] = [
    [
      "identical paths",
      { hostGroups: [group([set("a", ["/var/log/x/*.log"]), set("b", ["/var/log/y/*.log", "/var/log/x/*.log"])])] },
      "logs.hostGroups[0].logSets[1].paths[1]: /var/log/x/*.log is also rotated by logs.hostGroups[0].logSets[0].paths[0] (/var/log/x/*.log); logrotate skips a config that claims a file twice",
    ],
    [
      "two globs that can both match one name",
      { hostGroups: [group([set("a", ["/app/logs/*.log"]), set("b", ["/app/logs/api*.log"])])] },
      "logs.hostGroups[0].logSets[1].paths[0]: /app/logs/api*.log is also rotated by logs.hostGroups[0].logSets[0].paths[0] (/app/logs/*.log); logrotate skips a config that claims a file twice",
    ],
    [
      "a glob in a directory segment",
      { hostGroups: [group([set("a", ["/srv/*/logs/app.log"]), set("b", ["/srv/shop/logs/[a-c]pp.log"])])] },
      "logs.hostGroups[0].logSets[1].paths[0]: /srv/shop/logs/[a-c]pp.log is also rotated by logs.hostGroups[0].logSets[0].paths[0] (/srv/*/logs/app.log); logrotate skips a config that claims a file twice",
    ],
    [
      "a relative path under appRoot and the same file absolute",
      { hostGroups: [group([set("a", ["logs/*.jsonl"]), set("b", ["/home/app/boardroom/logs/worker.jsonl"])], { appRoot: "/home/app/boardroom" })] },
      "logs.hostGroups[0].logSets[1].paths[0]: /home/app/boardroom/logs/worker.jsonl is also rotated by logs.hostGroups[0].logSets[0].paths[0] (/home/app/boardroom/logs/*.jsonl); logrotate skips a config that claims a file twice",
    ],
    [
      "paths differing only by // and ./",
      { hostGroups: [group([set("a", ["/app/logs/api.log"]), set("b", ["/app//logs/./api.log"])])] },
      "logs.hostGroups[0].logSets[1].paths[0]: /app//logs/./api.log is also rotated by logs.hostGroups[0].logSets[0].paths[0] (/app/logs/api.log); logrotate skips a config that claims a file twice",
    ],
    [
      "two paths of one log set",
      { hostGroups: [group([set("a", ["/app/logs/*.log", "/app/logs/error.log"])])] },
      "logs.hostGroups[0].logSets[0].paths[1]: /app/logs/error.log is also rotated by logs.hostGroups[0].logSets[0].paths[0] (/app/logs/*.log); logrotate skips a config that claims a file twice",
    ],
    [
      "two host groups on the same tagged instances",
      {
        hostGroups: [
          group([set("nginx", ["/var/log/nginx/*.log"])], { name: "web" }),
          group([set("edge", ["/var/log/nginx/access.log"])], { name: "edge" }),
        ],
      },
      "logs.hostGroups[1].logSets[0].paths[0]: /var/log/nginx/access.log is also rotated by logs.hostGroups[0].logSets[0].paths[0] (/var/log/nginx/*.log) on the same hosts (instances tagged Role=api); logrotate skips a config that claims a file twice",
    ],
    [
      "two host groups reaching one SSH host",
      {
        hostGroups: [
          { name: "a", sshHosts: [{ host: "10.0.0.5", user: "deploy" }], sshPrivateKeyConfig: "k", logSets: [set("one", ["/opt/app/logs/*.log"])] },
          { name: "b", sshHosts: [{ host: "10.0.0.6", user: "deploy" }, { host: "10.0.0.5", user: "root" }], sshPrivateKeyConfig: "k", logSets: [set("two", ["/opt/app/logs/?rror.log"])] },
        ],
      },
      "logs.hostGroups[1].logSets[0].paths[0]: /opt/app/logs/?rror.log is also rotated by logs.hostGroups[0].logSets[0].paths[0] (/opt/app/logs/*.log) on the same hosts (10.0.0.5:22); logrotate skips a config that claims a file twice",
    ],
    [
      "two host groups on the same hosts with a log set of one name (one /etc/logrotate.d file)",
      {
        hostGroups: [group([set("app", ["/a/*.log"])], { name: "web" }), group([set("app", ["/b/*.log"])], { name: "edge" })],
      },
      "logs.hostGroups[1].logSets[0].name: /etc/logrotate.d/app is also written by logs.hostGroups[0].logSets[0] on the same hosts (instances tagged Role=api): rename one log set",
    ],
  ];
  for (const [what, logs, message] of cases) it(what, () => expect(refusal(logs)).toBe(message));

  it("accepts paths no file can match twice: disjoint globs, hidden files, other depths, other hosts", () => {
    const logs: LogsInput = {
      hostGroups: [
        group([
          set("a", ["/app/logs/[a-c]*.log", "/app/logs/.*.log"]),
          set("b", ["/app/logs/d*.log", "/app/logs/*.jsonl", "/app/logs/*/x.log"]),
          set("c", ["/app/logs/*.log.txt", "/app/logs/[!a-d]*.log"]),
        ]),
        group([set("d", ["/app/logs/*.log"])], { name: "other", target: { tagKey: "Role", tagValue: "worker" } }),
      ],
    };
    expect(refusal(logs)).toBeUndefined();
  });
});

describe("glob overlap, decided exactly", () => {
  const pairs: [string, string, boolean][] = [
    ["*.log", "api*", true],
    ["*.log", "api.log", true],
    ["[a-c]*.log", "d*.log", false],
    ["[!a]*", "a*", false],
    ["[^a]*", "ab", false],
    ["*.log", ".*.log", false], // a hidden file is never matched by *
    ["*.log", ".log", false], // nor by a * matching nothing before the .
    ["*.l", ".*", false],
    ["?pi.log", ".pi.log", false],
    ["[.]pi.log", ".pi.log", false],
    [".*", ".hidden", true],
    ["*a*b*", "*b*a*", true],
    ["a*", "*b", true],
    ["a?", "?", false],
    ["a*", "b*", false],
    ["*", "x", true],
    ["\\*.log", "a.log", false], // an escaped * is the character *
    ["\\*.log", "?.log", true],
    ["[[:digit:]]*.log", "1.log", true],
    ["[[:digit:]]*.log", "a*.log", false],
    ["[]a]", "]", true],
    ["[a-", "[a-", true], // no closing ]: the [ is itself
    ["app-[0-9][0-9].log", "app-1?.log", true],
    ["app-[0-9][0-9].log", "app-1.log", false],
  ];
  for (const [a, b, want] of pairs) it(`${a} and ${b}: ${want ? "overlap" : "disjoint"}`, () => {
    expect(segmentsOverlap(a, b)).toBe(want);
    expect(segmentsOverlap(b, a)).toBe(want);
  });

  it("compares paths segment by segment after normalising // and ./", () => {
    expect(normaliseLogPath("/app//logs/./api.log")).toBe("/app/logs/api.log");
    expect(logPathsOverlap("/app/*/api.log", "/app/logs/*.log")).toBe(true);
    expect(logPathsOverlap("/app/*.log", "/app/logs/api.log")).toBe(false); // * never matches /
    expect(logPathsOverlap("/app/logs/*.log", "/app/logs/old/*.log")).toBe(false);
  });

  it("agrees with the real logrotate on every pair of a pattern list, over every file name up to 5 characters of a . l", () => {
    // Files named by every string of a, l and . up to 5 characters (363 files).
    const dir = join(work, "names");
    mkdirSync(dir);
    let names = [""];
    const all: string[] = [];
    for (let len = 1; len <= 5; len++) {
      names = names.flatMap((n) => ["a", "l", "."].map((c) => n + c));
      all.push(...names.filter((n) => n !== "." && n !== ".." && !/^\.{1,2}$/.test(n)));
    }
    for (const n of all) writeFileSync(join(dir, n), "x\n");
    const patterns = ["*", "a*", "*a", "*l*", ".*", "?", "??", "[al]*", "[!a]*", "a?l", "*.l", ".a*", "[.]*", "l*a", "*a*l*", "\\a*"];
    const mismatches: string[] = [];
    let checked = 0;
    for (let i = 0; i < patterns.length; i++) {
      for (let j = i + 1; j < patterns.length; j++) {
        const conf = join(work, `pair-${i}-${j}.conf`);
        const entry = (p: string) => `"${dir}/${p}" {\n    rotate 1\n    missingok\n}\n`;
        writeFileSync(conf, entry(patterns[i]) + entry(patterns[j]));
        const r = spawnSync(LOGROTATE, ["-d", "-s", join(work, "state"), conf], { encoding: "utf8" });
        const real = /duplicate log entry/.test(r.stderr);
        if (real !== logPathsOverlap(`${dir}/${patterns[i]}`, `${dir}/${patterns[j]}`)) mismatches.push(`${patterns[i]} / ${patterns[j]}: logrotate ${real}`);
        checked++;
      }
    }
    expect(checked).toBe(120);
    expect(mismatches).toEqual([]);
  });
});
