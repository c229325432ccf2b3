/**
 * `npm run docs [-- --check]`
 *
 * Generates, from the regime's zod schema (regime/schema.ts, via regimeJsonSchema()):
 *  - regime.schema.json: a JSON Schema of a whole stack file (Pulumi.<stack>.yaml) for editors; the YAML
 *    language server reads it from `# yaml-language-server: $schema=./regime.schema.json`;
 *  - README.md: the config reference table, between `<!-- config-reference:start -->` and
 *    `<!-- config-reference:end -->`; the rest of README.md is left as it is.
 * `--check` writes nothing and exits 1 with one line naming the stale files (CI runs it through the tests).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import YAML from "yaml";
import { regimeJsonSchema } from "../regime/load";

export const SCHEMA_FILE = "regime.schema.json";
export const README_FILE = "README.md";
export const START_MARKER = "<!-- config-reference:start -->";
export const END_MARKER = "<!-- config-reference:end -->";

export class ConfigReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigReferenceError";
  }
}

/** The subset of JSON Schema that zod emits and this generator reads. */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  pattern?: string;
  format?: string;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  [keyword: string]: unknown;
}

// ---------------------------------------------------------------- the stack file's JSON Schema

/** Keywords that mean the same in draft 2020-12 (what zod emits) and draft-07 (what the YAML language server reads). */
const DRAFT07_KEYWORDS = new Set([
  "$comment", "$ref", "$defs", "title", "description", "default", "examples", "readOnly", "writeOnly",
  "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
  "maxLength", "minLength", "pattern", "format", "contentEncoding", "contentMediaType",
  "items", "maxItems", "minItems", "uniqueItems", "contains",
  "properties", "patternProperties", "additionalProperties", "propertyNames", "required", "maxProperties", "minProperties",
  "anyOf", "oneOf", "allOf", "not", "if", "then", "else",
]);
/** Formats draft-07 defines; zod also writes its own (starts_with, ...) next to a pattern that says the same. */
export const DRAFT07_FORMATS = [
  "date-time", "date", "time", "email", "idn-email", "hostname", "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference",
  "iri", "iri-reference", "uri-template", "json-pointer", "relative-json-pointer", "regex",
];
const standardFormat = (node: JsonSchema) => node.format !== undefined && DRAFT07_FORMATS.includes(node.format);
const SUBSCHEMA = new Set(["items", "contains", "additionalProperties", "propertyNames", "not", "if", "then", "else"]);
const SUBSCHEMA_LISTS = new Set(["anyOf", "oneOf", "allOf"]);
const SUBSCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs"]);

/** The node with `fn` applied to each of its subschemas; `where` is the keyword path to it, `inUnion` tells an alternative. */
function mapSubschemas(node: JsonSchema, fn: (child: JsonSchema, where: string[], inUnion: boolean) => JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(node)) {
    if (SUBSCHEMA.has(k) && typeof v === "object" && v !== null && !Array.isArray(v)) out[k] = fn(v as JsonSchema, [k], false);
    else if (SUBSCHEMA_LISTS.has(k)) out[k] = (v as JsonSchema[]).map((c, i) => fn(c, [k, String(i)], true));
    else if (SUBSCHEMA_MAPS.has(k)) out[k] = Object.fromEntries(Object.entries(v as Record<string, JsonSchema>).map(([p, c]) => [p, fn(c, [k, p], false)]));
    else out[k] = v;
  }
  return out;
}

const SECRET_DEF = "pulumiSecret";
const SECRET_REF: JsonSchema = { $ref: `#/definitions/${SECRET_DEF}` };

/** A Pulumi secret as `pulumi config set --secret` writes it. */
const SECRET_SCHEMA: JsonSchema = {
  type: "object",
  description: "a Pulumi secret, written by `pulumi config set --secret` (add --path for a key inside a value)",
  properties: { secure: { type: "string", minLength: 1, description: "ciphertext of the secrets provider" } },
  required: ["secure"],
  additionalProperties: false,
};

const jsonPointer = (at: string[]) => (at.length ? "/" + at.join("/") : "(root)");

const admitsString = (node: JsonSchema) => node.type === "string" || (Array.isArray(node.type) && node.type.includes("string"));

/**
 * Rewrites zod's draft 2020-12 output for draft-07 readers, and lets every string value be a Pulumi
 * secret: Pulumi decrypts `secure:` values (also nested ones, set with --path) before the program reads
 * them. A keyword that draft-07 reads differently is refused, so a new zod feature cannot silently
 * produce a schema editors misread.
 */
function toStackFileNode(node: JsonSchema, at: string[], inUnion = false): JsonSchema {
  const kept: JsonSchema = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "$schema" && at.length === 0) continue;
    if (!DRAFT07_KEYWORDS.has(k)) {
      throw new ConfigReferenceError(`regime JSON Schema: keyword ${k} at ${jsonPointer(at)} has no draft-07 equivalent that editors read; teach plan/config-reference.ts about it`);
    }
    if (k === "$defs") continue; // hoisted into the stack file's definitions by stackFileSchema
    if (k === "format" && !standardFormat(node)) {
      if (node.pattern === undefined) throw new ConfigReferenceError(`regime JSON Schema: format ${String(v)} at ${jsonPointer(at)} is not a draft-07 format and comes without a pattern`);
      continue;
    }
    if (k === "items" && Array.isArray(v)) throw new ConfigReferenceError(`regime JSON Schema: tuple items at ${jsonPointer(at)} read differently in draft-07`);
    if (k === "$ref") {
      const ref = String(v);
      if (!ref.startsWith("#/$defs/")) throw new ConfigReferenceError(`regime JSON Schema: $ref ${ref} at ${jsonPointer(at)} is not a #/$defs/ reference`);
      kept.$ref = `#/definitions/regime.${ref.slice("#/$defs/".length)}`;
    } else {
      kept[k] = v;
    }
  }
  const out = mapSubschemas(kept, (child, where, alternative) => toStackFileNode(child, [...at, ...where], alternative));
  if (out.anyOf && out.anyOf.some(admitsString)) out.anyOf = [...out.anyOf, SECRET_REF];
  else if (admitsString(out) && !inUnion) return wrapWithSecret(out);
  return out;
}

/** `{ anyOf: [node, secret] }`, with the annotations editors show on hover kept on the outside. */
function wrapWithSecret(node: JsonSchema, ...more: JsonSchema[]): JsonSchema {
  const { description, default: dflt, ...rest } = node;
  const wrapped: JsonSchema = {};
  if (description !== undefined) wrapped.description = description;
  if (dflt !== undefined) wrapped.default = dflt;
  const alternatives = rest.anyOf && Object.keys(rest).length === 1 ? rest.anyOf.filter((a) => a !== SECRET_REF) : [rest];
  wrapped.anyOf = [...alternatives, ...more, SECRET_REF];
  return wrapped;
}

function jsonTypes(node: JsonSchema): Set<string> {
  const types = new Set<string>();
  if (Array.isArray(node.type)) node.type.forEach((t) => types.add(t));
  else if (node.type) types.add(node.type);
  for (const alt of node.anyOf ?? []) jsonTypes(alt).forEach((t) => types.add(t));
  return types;
}

/**
 * `pulumi config set ns:key value` stores the value as text ("30", "true", '[{"id": ...}]'); the regime
 * loader (regimeFromConfig) reads such text as JSON, so a top-level value may take that form too.
 */
function textForm(node: JsonSchema): JsonSchema | undefined {
  const types = jsonTypes(node);
  if (types.has("string")) return undefined;
  const forms: string[] = [];
  if (types.has("number") || types.has("integer")) forms.push("-?\\d+(\\.\\d+)?");
  if (types.has("boolean")) forms.push("true|false");
  if (types.has("array")) forms.push("\\[[\\s\\S]*");
  if (types.has("object")) forms.push("\\{[\\s\\S]*");
  if (!forms.length) return undefined;
  return {
    type: "string",
    pattern: `^\\s*(${forms.join("|")})\\s*$`,
    description: "the value as text, as `pulumi config set` stores it",
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The JSON Schema of a whole stack file whose project (and so config namespace) is `namespace`. */
export function stackFileSchema(namespace: string, regime: JsonSchema = regimeJsonSchema() as JsonSchema): JsonSchema {
  if (regime.type !== "object" || !regime.properties) throw new ConfigReferenceError("regime JSON Schema: the root is not an object with properties");
  const definitions: Record<string, JsonSchema> = { [SECRET_DEF]: SECRET_SCHEMA };
  for (const [name, def] of Object.entries(regime.$defs ?? {})) definitions[`regime.${name}`] = toStackFileNode(def, ["$defs", name]);

  const regimeKeys: Record<string, JsonSchema> = {};
  for (const [key, prop] of Object.entries(regime.properties)) {
    const node = toStackFileNode(prop, ["properties", key], true);
    const text = textForm(node);
    regimeKeys[`${namespace}:${key}`] = wrapWithSecret(node, ...(text ? [text] : []));
  }
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $comment: "Generated by `npm run docs` (plan/config-reference.ts) from regime/schema.ts; do not edit by hand.",
    title: `Pulumi.<stack>.yaml of ${namespace}`,
    description: `A stack settings file of the ${namespace} Pulumi project: the maintenance regime as ${namespace}:<key> config keys (README.md, Config reference).`,
    type: "object",
    properties: {
      config: {
        type: "object",
        description: `Stack configuration: the regime's ${namespace}:<key> keys and other namespaces' keys (aws:region, ...)`,
        properties: {
          "aws:region": { type: "string", minLength: 1, description: "AWS region of the stack's resources (aws provider)" },
          ...regimeKeys,
        },
        patternProperties: {
          // Any other key of the regime's namespace is a secret a log host group names in
          // sshPrivateKeyConfig (the program refuses one that no group names).
          [`^${escapeRegExp(namespace)}:(?!(?:${Object.keys(regime.properties).map(escapeRegExp).join("|")})$)[A-Za-z][\\w.-]*$`]: {
            allOf: [SECRET_REF],
            description: "a secret config key named by logs.hostGroups[].sshPrivateKeyConfig: the SSH private key of that group's hosts (`pulumi config set --secret <key> < key.pem`)",
          },
          [`^(?!${escapeRegExp(namespace)}:|aws:region$)[^:\\s]+:\\S+$`]: {
            description: "a key of another namespace (a provider's, such as aws:profile): not checked here",
          },
        },
        additionalProperties: false,
        required: (regime.required ?? []).map((k) => `${namespace}:${k}`),
      },
      secretsprovider: { type: "string", description: "secrets provider of the stack's secret config values" },
      encryptedkey: { type: "string", description: "KMS-encrypted data key (cloud secrets providers)" },
      encryptionsalt: { type: "string", description: "encryption salt (passphrase secrets provider)" },
      environment: { description: "Pulumi ESC environments the stack imports" },
    },
    required: ["config"],
    additionalProperties: false,
    definitions,
  };
}

/** The Pulumi project name, which is the namespace of the regime's config keys. */
export function projectNamespace(root: string): string {
  const file = path.join(root, "Pulumi.yaml");
  let name: unknown;
  try {
    name = (YAML.parse(fs.readFileSync(file, "utf8")) as { name?: unknown } | null)?.name;
  } catch (err) {
    throw new ConfigReferenceError(`Pulumi.yaml: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  }
  if (typeof name !== "string" || !/^[\w.-]+$/.test(name)) throw new ConfigReferenceError("Pulumi.yaml: name: must be the project name");
  return name;
}

// ---------------------------------------------------------------- the reference table

export interface ReferenceRow {
  /** `databases[].backup.retention.daily`: `[]` stands for each item of a list. */
  path: string;
  type: string;
  default: string;
  allowed: string;
  description: string;
  /** The schema's own description (the table's may carry an "alternative N" note). */
  described: boolean;
}

const SAFE = Number.MAX_SAFE_INTEGER;

function code(value: string): string {
  const longest = Math.max(0, ...(value.match(/`+/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(longest + 1);
  const pad = value.startsWith("`") || value.endsWith("`") ? " " : "";
  return `${fence}${pad}${value}${pad}${fence}`;
}

const literal = (v: unknown) => code(typeof v === "string" ? v : JSON.stringify(v));

/** The schema with each `#/$defs/` reference replaced by what it names; a reference back into itself keeps only its type. */
function inlineRefs(node: JsonSchema, root: JsonSchema, stack: string[] = []): JsonSchema {
  if (node.$ref === undefined) return mapSubschemas(node, (child) => inlineRefs(child, root, stack));
  const { $ref: ref, ...rest } = node;
  const target = ref.startsWith("#/$defs/") ? root.$defs?.[ref.slice("#/$defs/".length)] : undefined;
  if (!target) throw new ConfigReferenceError(`regime JSON Schema: cannot resolve $ref ${ref}`);
  if (stack.includes(ref)) return { type: target.type, description: target.description ?? "the same shape as the key it is under", ...rest };
  return { ...inlineRefs(target, root, [...stack, ref]), ...rest };
}

function typeText(node: JsonSchema): string {
  if (node.anyOf || node.oneOf) return [...new Set((node.anyOf ?? node.oneOf)!.map(typeText))].join(" | ");
  if (Array.isArray(node.type)) return node.type.join(" | ");
  if (node.type === "array") return node.items ? `array of ${typeText(node.items).split(" | ").join(" or ")}` : "array";
  if (node.type) return node.type;
  if (node.const !== undefined) return typeof node.const;
  if (node.enum) return [...new Set(node.enum.map((v) => typeof v))].join(" | ");
  return "any";
}

function rangeText(min: number | undefined, exMin: number | undefined, max: number | undefined, exMax: number | undefined, unit = ""): string {
  const lo = min !== undefined && min > -SAFE ? min : undefined;
  const hi = max !== undefined && max < SAFE ? max : undefined;
  if (lo !== undefined && hi !== undefined && exMin === undefined && exMax === undefined) return `${unit}${lo} to ${hi}`;
  const parts: string[] = [];
  if (exMin !== undefined) parts.push(`> ${exMin}`);
  else if (lo !== undefined) parts.push(`≥ ${lo}`);
  if (exMax !== undefined) parts.push(`< ${exMax}`);
  else if (hi !== undefined) parts.push(`≤ ${hi}`);
  return parts.length ? unit + parts.join(", ") : "";
}

/** Allowed values and ranges of one value (not of its keys: they have rows of their own). */
function allowedText(node: JsonSchema): string {
  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives) {
    return alternatives
      .map((alt, i) => {
        const keys = alt.type === "object" && alt.properties ? ` with ${Object.keys(alt.properties).map(code).join(", ")}` : "";
        const own = allowedText(alt);
        const about = alt.description ? ` — ${alt.description}` : "";
        return `${i + 1}: ${typeText(alt)}${keys}${own ? `, ${own}` : ""}${about}`;
      })
      .join("; ");
  }
  const parts: string[] = [];
  if (node.const !== undefined) parts.push(`only ${literal(node.const)}`);
  if (node.enum) parts.push(`one of ${node.enum.map(literal).join(", ")}`);
  const range = rangeText(node.minimum, node.exclusiveMinimum, node.maximum, node.exclusiveMaximum);
  if (range) parts.push(range);
  if (node.multipleOf !== undefined) parts.push(`multiple of ${node.multipleOf}`);
  const length = rangeText(node.minLength, undefined, node.maxLength, undefined, "length ");
  if (length && !(node.minLength === 1 && node.maxLength === undefined)) parts.push(length);
  else if (length) parts.push("not empty");
  if (standardFormat(node)) parts.push(`format ${node.format}`);
  else if (node.pattern) parts.push(`pattern ${code(node.pattern)}`);
  if (node.type === "array") {
    const count = rangeText(node.minItems, undefined, node.maxItems, undefined);
    if (count) parts.push(`${count} items`);
    if (node.uniqueItems) parts.push("unique items");
    const item = node.items && !(node.items.type === "object" && node.items.properties) ? allowedText(node.items) : "";
    if (item) parts.push(`each: ${item}`);
  }
  return parts.join(", ");
}

/** The object built from the defaults of an object's keys, or undefined when it is not an object. */
function keyDefaults(node: JsonSchema): Record<string, unknown> | undefined {
  if (node.type !== "object" || !node.properties) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node.properties)) {
    if (v.default !== undefined) out[k] = v.default;
  }
  return out;
}

function defaultText(node: JsonSchema, required: boolean): string {
  if (node.default !== undefined) {
    const fromKeys = keyDefaults(node);
    if (fromKeys && Object.keys(fromKeys).length && isDeepStrictEqual(fromKeys, node.default)) return "its keys' defaults";
    return literal(node.default);
  }
  return required ? "**required**" : "";
}

/** Where the keys of a value are: its own (an object) or its items' (`[]` per list level). */
function keysOf(node: JsonSchema, at: string): { obj: JsonSchema; at: string } | undefined {
  if (node.type === "object" && node.properties) return { obj: node, at };
  if (node.type === "array" && node.items) return keysOf(node.items, `${at}[]`);
  return undefined;
}

/** One row per key, depth first in the schema's order; lists as `[]`, union alternatives' keys noted. */
export function referenceRows(regimeSchema: JsonSchema = regimeJsonSchema() as JsonSchema): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const children = (obj: JsonSchema, at: string, note: string) => {
    for (const [key, node] of Object.entries(obj.properties ?? {})) {
      const path = at ? `${at}.${key}` : key;
      const description = (node.description ?? "").replace(/\s+/g, " ").trim();
      rows.push({
        path,
        type: typeText(node),
        default: defaultText(node, (obj.required ?? []).includes(key)),
        allowed: allowedText(node),
        description: [note, description].filter(Boolean).join(" "),
        described: description !== "",
      });
      const alternatives = node.anyOf ?? node.oneOf;
      const parts = alternatives ? alternatives.map((alt, i) => [alt, `(alternative ${i + 1} of ${code(path)})`] as const) : [[node, note] as const];
      for (const [value, why] of parts) {
        const keys = keysOf(value, path);
        if (keys) children(keys.obj, keys.at, why);
      }
    }
  };
  const regime = inlineRefs(regimeSchema, regimeSchema);
  if (regime.type !== "object" || !regime.properties) throw new ConfigReferenceError("regime JSON Schema: the root is not an object with properties");
  children(regime, "", "");
  return rows;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function referenceTable(rows: ReferenceRow[]): string {
  const lines = ["| Key | Type | Default | Allowed | Description |", "| --- | --- | --- | --- | --- |"];
  for (const r of rows) lines.push(`| ${code(r.path)} | ${cell(r.type)} | ${cell(r.default)} | ${cell(r.allowed)} | ${cell(r.description)} |`);
  return lines.join("\n");
}

/** What stands between the markers: a note, how to reach the schema from an editor, the table. */
export function referenceSection(namespace: string, rows: ReferenceRow[]): string {
  return [
    "<!-- Generated by `npm run docs` (plan/config-reference.ts) from regime/schema.ts: edit the schema, not this section. -->",
    "",
    `Every top-level key below is a config key of the \`${namespace}\` namespace in \`Pulumi.<stack>.yaml\` (\`${namespace}:databases: [...]\`); ` +
      "`[]` stands for each item of a list, and where a string is expected a Pulumi secret (`secure: ...`) may stand instead.",
    `Editors with the YAML language server complete and check a stack file against [${SCHEMA_FILE}](${SCHEMA_FILE}) when its first line is \`# yaml-language-server: $schema=./${SCHEMA_FILE}\` (the path relative to the stack file).`,
    "",
    referenceTable(rows),
    "",
  ].join("\n");
}

// ---------------------------------------------------------------- README.md

/**
 * Replaces what stands between one `startMarker` and one `endMarker` after it, and only that; undefined
 * when the text does not hold exactly one of each in that order. Shared by every generated README section.
 */
export function spliceMarkedSection(text: string, startMarker: string, endMarker: string, section: string): string | undefined {
  const start = text.indexOf(startMarker);
  const end = text.indexOf(endMarker);
  if (start < 0 || end < 0 || end < start || text.indexOf(startMarker, start + 1) >= 0 || text.indexOf(endMarker, end + 1) >= 0) return undefined;
  return `${text.slice(0, start + startMarker.length)}\n${section}${text.slice(end)}`;
}

/** Replaces the config reference between its markers, and only that. */
export function spliceReadme(readme: string, section: string): string {
  const out = spliceMarkedSection(readme, START_MARKER, END_MARKER, section);
  if (out === undefined) throw new ConfigReferenceError(`${README_FILE}: needs one ${START_MARKER} line and after it one ${END_MARKER} line around the config reference`);
  return out;
}

function newReadme(root: string, section: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { name?: string; description?: string };
  return spliceReadme(`# ${pkg.name ?? "maintenance-regime"}\n\n${pkg.description ?? ""}\n\n## Config reference\n\n${START_MARKER}\n${END_MARKER}\n`, section);
}

// ---------------------------------------------------------------- generation and CLI

export interface Generated {
  schemaJson: string;
  section: string;
  rows: ReferenceRow[];
}

export function generate(root: string): Generated {
  const namespace = projectNamespace(root);
  const regime = regimeJsonSchema() as JsonSchema;
  const rows = referenceRows(regime);
  return {
    schemaJson: JSON.stringify(stackFileSchema(namespace, regime), null, 2) + "\n",
    section: referenceSection(namespace, rows),
    rows,
  };
}

const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined);

/** Runs `config-reference [--check]` against the repository at `root`; returns the exit code and one line. */
export function run(argv: string[], root: string): { code: number; line: string } {
  for (const a of argv) if (a !== "--check") throw new ConfigReferenceError(`${a}: unknown option; options: --check`);
  const check = argv.includes("--check");
  const g = generate(root);
  const schemaPath = path.join(root, SCHEMA_FILE);
  const readmePath = path.join(root, README_FILE);
  const readme = read(readmePath);
  const wanted = new Map<string, string>([
    [SCHEMA_FILE, g.schemaJson],
    [README_FILE, readme === undefined ? newReadme(root, g.section) : spliceReadme(readme, g.section)],
  ]);
  const stale = [...wanted].filter(([file, text]) => read(path.join(root, file)) !== text).map(([file]) => file);
  const undescribed = g.rows.filter((r) => !r.described).length;
  if (check) {
    const named = stale.map((f) => (read(path.join(root, f)) === undefined ? `${f} (missing)` : f));
    if (stale.length) return { code: 1, line: `out of date: ${named.join(", ")}; run npm run docs` };
    return { code: 0, line: `${SCHEMA_FILE} and ${README_FILE} are current` };
  }
  for (const file of stale) fs.writeFileSync(file === SCHEMA_FILE ? schemaPath : readmePath, wanted.get(file)!);
  const what = stale.length ? `wrote ${stale.join(", ")}` : `${SCHEMA_FILE} and ${README_FILE} are current`;
  return { code: 0, line: `${what}; ${g.rows.length} keys, ${undescribed} without a description` };
}

if (require.main === module) {
  try {
    const { code, line } = run(process.argv.slice(2), path.join(__dirname, ".."));
    (code === 0 ? process.stdout : process.stderr).write(line + "\n");
    process.exitCode = code;
  } catch (err) {
    if (!(err instanceof ConfigReferenceError)) throw err;
    process.stderr.write(err.message + "\n");
    process.exitCode = 1;
  }
}
