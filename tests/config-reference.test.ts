/**
 * The config reference as CI checks it: regime.schema.json and README.md's table are what `npm run docs`
 * generates from the regime schema now; the JSON Schema, read by a real validator (Ajv, draft-07 like the
 * YAML language server), takes the production stack file and refuses what the program refuses; the
 * table's defaults are the program's defaults.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { z } from "zod";
import { ConfigReferenceError, DRAFT07_FORMATS, END_MARKER, generate, referenceRows, run, stackFileSchema, START_MARKER, type JsonSchema } from "../plan/config-reference";
import { regimeFromConfig, validateRegime } from "../regime/load";
import { REGIME_KEYS, type ConfigSchedule } from "../regime/schema";

const ROOT = join(__dirname, "..");
const NS = "maintenance-regime";
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");
const fresh = generate(ROOT);

function between(readme: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  expect(start, "start marker").toBeGreaterThanOrEqual(0);
  expect(end, "end marker").toBeGreaterThan(start);
  return readme.slice(start + START_MARKER.length + 1, end);
}

/** A scratch repository root with what the generator reads: Pulumi.yaml and package.json. */
function scratchRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), "config-reference-"));
  writeFileSync(join(dir, "Pulumi.yaml"), read("Pulumi.yaml"));
  writeFileSync(join(dir, "package.json"), read("package.json"));
  return dir;
}

describe("the checked-in files are current", () => {
  it("regime.schema.json is byte for byte a fresh generation", () => {
    expect(read("regime.schema.json")).toBe(fresh.schemaJson);
  });

  it("README.md's config reference section is a fresh generation", () => {
    expect(between(read("README.md"))).toBe(fresh.section);
  });

  it("`tsx plan/config-reference.ts --check` passes here, and refuses an unknown option in one line", () => {
    const ok = spawnSync("npx", ["tsx", "plan/config-reference.ts", "--check"], { cwd: ROOT, encoding: "utf8" });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toBe("regime.schema.json and README.md are current\n");
    const bad = spawnSync("npx", ["tsx", "plan/config-reference.ts", "--chek"], { cwd: ROOT, encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr.split("\n").filter((l) => l && !l.startsWith("npm warn"))).toEqual(["--chek: unknown option; options: --check"]);
  });
});

describe("generation into README.md", () => {
  const readme = (table: string) =>
    `# maintenance-regime\n\nIntro written by hand.\n\n## Config reference\n\n${START_MARKER}\n${table}${END_MARKER}\n\n## Outputs\n\nMore prose | with a pipe.\n`;

  it("--check names the stale file and exits 1; a run rewrites only what stands between the markers", () => {
    const dir = scratchRoot();
    writeFileSync(join(dir, "regime.schema.json"), fresh.schemaJson);
    writeFileSync(join(dir, "README.md"), readme("| old table |\n"));
    expect(run(["--check"], dir)).toEqual({ code: 1, line: "out of date: README.md; run npm run docs" });
    expect(readFileSync(join(dir, "README.md"), "utf8")).toBe(readme("| old table |\n"));

    expect(run([], dir)).toMatchObject({ code: 0, line: expect.stringMatching(/^wrote README\.md; \d+ keys, \d+ without a description$/) });
    expect(readFileSync(join(dir, "README.md"), "utf8")).toBe(readme(fresh.section));
    expect(run(["--check"], dir)).toEqual({ code: 0, line: "regime.schema.json and README.md are current" });

    writeFileSync(join(dir, "regime.schema.json"), fresh.schemaJson.replace('"default": "UTC"', '"default": "EST"'));
    expect(run(["--check"], dir)).toEqual({ code: 1, line: "out of date: regime.schema.json; run npm run docs" });
  });

  it("refuses a README.md without the markers in one line, and writes nothing", () => {
    const dir = scratchRoot();
    writeFileSync(join(dir, "README.md"), "# maintenance-regime\n\nNo markers here.\n");
    for (const argv of [[], ["--check"]]) {
      let message = "";
      try {
        run(argv, dir);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigReferenceError);
        message = (err as Error).message;
      }
      expect(message).toBe(`README.md: needs one ${START_MARKER} line and after it one ${END_MARKER} line around the config reference`);
    }
    expect(readFileSync(join(dir, "README.md"), "utf8")).toBe("# maintenance-regime\n\nNo markers here.\n");
    expect(() => readFileSync(join(dir, "regime.schema.json"))).toThrow(/ENOENT/);
  });

  it("creates a missing README.md with the heading, the project's line and the section", () => {
    const dir = scratchRoot();
    expect(run(["--check"], dir)).toEqual({ code: 1, line: "out of date: regime.schema.json (missing), README.md (missing); run npm run docs" });
    run([], dir);
    const description = (JSON.parse(read("package.json")) as { description: string }).description;
    expect(readFileSync(join(dir, "README.md"), "utf8")).toBe(
      `# maintenance-regime\n\n${description}\n\n## Config reference\n\n${START_MARKER}\n${fresh.section}${END_MARKER}\n`,
    );
    expect(readFileSync(join(dir, "regime.schema.json"), "utf8")).toBe(fresh.schemaJson);
  });
});

const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true, formats: Object.fromEntries(DRAFT07_FORMATS.map((f) => [f, true])) });

describe("regime.schema.json, read by Ajv", () => {
  const validate = ajv.compile(JSON.parse(read("regime.schema.json")));
  const prod = () => YAML.parse(read("Pulumi.prod.yaml")) as { config: Record<string, any>; [key: string]: unknown };
  const errors = () => (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}${e.params && "additionalProperty" in e.params ? ` ${e.params.additionalProperty}` : ""}`);
  const loaderRefusal = (config: Record<string, unknown>) => {
    try {
      regimeFromConfig(config, NS);
    } catch (err) {
      return (err as Error).message;
    }
    return "accepted";
  };

  it("is a draft-07 schema (what the YAML language server reads)", () => {
    expect(JSON.parse(read("regime.schema.json")).$schema).toBe("http://json-schema.org/draft-07/schema#");
  });

  it("accepts Pulumi.prod.yaml, as the program does", () => {
    const stack = prod();
    expect(validate(stack), errors().join("\n")).toBe(true);
    expect(regimeFromConfig(stack.config, NS).name).toBe("prod");
  });

  it("refuses a typo'd top-level key, as the program does", () => {
    const stack = prod();
    stack.config[`${NS}:databse`] = stack.config[`${NS}:databases`];
    expect(validate(stack)).toBe(false);
    // another key of the namespace can only be an SSH key secret a log host group names
    expect(errors()).toContain(`/config/${NS}:databse must be object`);
    expect(loaderRefusal(stack.config)).toMatch(/^maintenance-regime:databse: unknown config key/);
  });

  it("refuses a typo'd nested key, as the program does", () => {
    const stack = prod();
    stack.config[`${NS}:databases`][0].bakup = { schedule: "daily at 02:00" };
    expect(validate(stack)).toBe(false);
    expect(errors()).toContain(`/config/${NS}:databases/0 must NOT have additional properties bakup`);
    expect(loaderRefusal(stack.config)).toBe("databases[0]: unknown key bakup (did you mean backup?)");
  });

  it("refuses a wrong type, as the program does", () => {
    const stack = prod();
    stack.config[`${NS}:databases`][0].backup.retention.daily = "thirty";
    expect(validate(stack)).toBe(false);
    expect(errors()).toContain(`/config/${NS}:databases/0/backup/retention/daily must be integer`);
    expect(loaderRefusal(stack.config)).toMatch(/^databases\[0\]\.backup\.retention\.daily: /);

    const flag = prod();
    flag.config[`${NS}:dashboard`] = "yes";
    expect(validate(flag)).toBe(false);
    expect(loaderRefusal(flag.config)).toMatch(/^dashboard: /);
  });

  it("refuses a key without a namespace, an unknown top-level key and a non-string aws:region", () => {
    for (const [change, error] of [
      [(s: any) => (s.config.region = "us-east-1"), "/config must NOT have additional properties region"],
      [(s: any) => (s.confg = {}), " must NOT have additional properties confg"],
      [(s: any) => (s.config["aws:region"] = 1), "/config/aws:region must be string"],
    ] as const) {
      const stack = prod();
      change(stack);
      expect(validate(stack)).toBe(false);
      expect(errors()).toContain(error);
    }
  });

  it("accepts what Pulumi writes: other namespaces, values as text, and secrets at the top or inside a value", () => {
    const stack = prod();
    stack.secretsprovider = "awskms://alias/pulumi";
    stack.config["aws:defaultTags"] = { tags: { team: "ops" } };
    stack.config[`${NS}:logRetentionDays`] = "90"; // pulumi config set maintenance-regime:logRetentionDays 90
    stack.config[`${NS}:dashboard`] = "false";
    stack.config[`${NS}:hosts`] = JSON.stringify(stack.config[`${NS}:hosts`]);
    expect(validate(stack), errors().join("\n")).toBe(true);
    const regime = regimeFromConfig(stack.config, NS);
    expect([regime.logRetentionDays, regime.dashboard, regime.hosts[0].name]).toEqual([90, false, "app-1"]);

    const secret = prod();
    secret.config[`${NS}:alerting`].P0.https = [{ secure: "v1:c2VjcmV0" }]; // pulumi config set --secret --path
    secret.config[`${NS}:endpoints`] = { secure: "v1:ZW5kcG9pbnRz" }; // pulumi config set --secret
    expect(validate(secret), errors().join("\n")).toBe(true);

    const sshKey = prod();
    sshKey.config[`${NS}:logs`].hostGroups[0].sshHosts = [{ host: "10.0.1.5", user: "deploy" }];
    sshKey.config[`${NS}:logs`].hostGroups[0].sshPrivateKeyConfig = "webSshKey";
    sshKey.config[`${NS}:webSshKey`] = { secure: "v1:LS0tLS1CRUdJTg==" }; // pulumi config set --secret webSshKey < id_ed25519
    expect(validate(sshKey), errors().join("\n")).toBe(true);
    sshKey.config[`${NS}:webSshKey`] = "-----BEGIN OPENSSH PRIVATE KEY-----";
    expect(validate(sshKey)).toBe(false);
    expect(errors()).toContain(`/config/${NS}:webSshKey must be object`);

    const notAString = prod();
    notAString.config[`${NS}:databases`][0].backup.retention.daily = { secure: "v1:MzA=" };
    expect(validate(notAString)).toBe(false);
  });
});

describe("the table", () => {
  const rows = new Map(
    between(read("README.md"))
      .split("\n")
      .filter((l) => l.startsWith("| `"))
      .map((l) => {
        const cells = l.slice(2, -2).split(/ (?<!\\)\| /).map((c) => c.replace(/\\\|/g, "|"));
        return [cells[0].replace(/^`|`$/g, ""), { type: cells[1], default: cells[2], allowed: cells[3], description: cells[4] }] as const;
      }),
  );

  it("has a row per top-level key and for nested keys, with type, default, range and description", () => {
    for (const k of REGIME_KEYS) expect(rows.has(k), k).toBe(true);
    expect(rows.get("databases[].backup.retention.daily")).toEqual({ type: "integer", default: "`30`", allowed: "≥ 1", description: "days a daily backup is kept" });
    expect(rows.get("timezone")).toMatchObject({ type: "string", default: "`UTC`", description: "IANA timezone of every schedule that names none" });
    expect(rows.get("name")).toMatchObject({ default: "**required**", allowed: "pattern `^[a-z][a-z0-9-]{0,23}$`" });
    expect(rows.get("databases[].backup.monthlyOnDay")).toMatchObject({ default: "`1`", allowed: "1 to 28" });
    expect(rows.get("databases[].vacuum.minDeadPercent")?.allowed).toBe("> 0, ≤ 100");
    expect(rows.get("databases[].backup.weeklyOn")?.allowed).toBe("one of `Sunday`, `Monday`, `Tuesday`, `Wednesday`, `Thursday`, `Friday`, `Saturday`");
    expect(rows.get("databases[].backup.compression")?.allowed).toBe("pattern `^(none|gzip(:[1-9])?|lz4(:[1-9])?|zstd(:([1-9]|1[0-9]|2[0-2]))?|[0-9])$`");
    expect(rows.get("endpoints.checks")).toMatchObject({ type: "array of object", default: "**required**", allowed: "≥ 1 items" });
  });

  it("lists a union's alternatives and the keys of each", () => {
    expect(rows.get("databases[].backup.schedule")).toMatchObject({ type: "string | object", default: "`daily at 02:00`", allowed: "1: string, not empty; 2: object with `at`, `timezone`" });
    expect(rows.get("databases[].backup.schedule.at")?.description).toBe("(alternative 2 of `databases[].backup.schedule`) the schedule in the readable form or cron(...)/rate(...)");
    expect(rows.get("endpoints.checks[].status")).toMatchObject({ type: "integer | array of integer", allowed: "1: integer, 100 to 599; 2: array of integer, ≥ 1 items, each: 100 to 599" });
    expect(rows.get("databases[].network.stack")).toMatchObject({ default: "**required**", description: "(alternative 2 of `databases[].network`) the other stack, as organization/project/stack" });
  });

  it("shows the program's own defaults", () => {
    // A regime that names only what is required: every other key takes its default.
    const bare = validateRegime({ name: "x" }) as unknown as Record<string, unknown>;
    const withDatabase = validateRegime({ name: "x", databases: [{ id: "app", secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf" }] });
    const checked: string[] = [];
    for (const [path, row] of rows) {
      if (!/^`[^`]+`$/.test(row.default)) continue;
      const [root, key] = path.startsWith("databases[].backup.") || path.startsWith("databases[].verify.") ? [withDatabase.databases[0], path.slice("databases[].".length)] : [bare, path];
      if (key.includes("[]")) continue;
      const keys = key.split(".");
      const parent = keys.slice(0, -1).reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], root);
      if (parent === undefined) continue; // under an optional key the bare regime leaves out (endpoints, ...)
      const loaded = (parent as Record<string, unknown>)[keys[keys.length - 1]];
      // A schedule is loaded resolved; its default is the text it was resolved from.
      const value = keys[keys.length - 1] === "schedule" ? (loaded as ConfigSchedule).text : loaded;
      expect(row.default, path).toBe(`\`${typeof value === "string" ? value : JSON.stringify(value)}\``);
      checked.push(path);
    }
    expect(checked).toEqual(expect.arrayContaining(["timezone", "logRetentionDays", "databases", "dashboard", "databases[].backup.retention.daily", "databases[].verify.minSizeMb"]));
  });

  it("tells how to point an editor at the schema", () => {
    expect(between(read("README.md"))).toContain("`# yaml-language-server: $schema=./regime.schema.json`");
  });
});

describe("schema shapes the regime does not use yet", () => {
  it("follows a schema zod writes once under $defs, in the table and in the stack file schema", () => {
    const limits = z.object({ x: z.number().int().min(1).default(1).describe("a limit") }).strict();
    const json = z.toJSONSchema(z.object({ a: limits, b: z.array(limits).default([]) }).strict(), { io: "input", reused: "ref" }) as JsonSchema;
    expect(Object.keys(json.$defs ?? {}).length).toBeGreaterThan(0);

    const rows = referenceRows(json).map((r) => [r.path, r.type, r.default, r.allowed, r.description]);
    expect(rows).toEqual([
      ["a", "object", "**required**", "", ""],
      ["a.x", "integer", "`1`", "≥ 1", "a limit"],
      ["b", "array of object", "`[]`", "", ""],
      ["b[].x", "integer", "`1`", "≥ 1", "a limit"],
    ]);

    const validate = ajv.compile(stackFileSchema("demo", json));
    expect(validate({ config: { "demo:a": { x: 2 }, "demo:b": [{ x: 3 }] } }), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ config: { "demo:a": { x: 2 }, "demo:b": [{ y: 3 }] } })).toBe(false);
  });

  it("refuses in one line a keyword draft-07 editors would read differently", () => {
    const json = z.toJSONSchema(z.object({ pair: z.tuple([z.string(), z.number()]) }), { io: "input" }) as JsonSchema;
    expect(() => stackFileSchema("demo", json)).toThrow(
      new ConfigReferenceError("regime JSON Schema: keyword prefixItems at /properties/pair has no draft-07 equivalent that editors read; teach plan/config-reference.ts about it"),
    );
  });
});
