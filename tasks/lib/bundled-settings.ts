/**
 * Settings too large for Lambda's 4 KB environment arrive in `settings.json` beside the bundle's
 * index.js (components/scheduled-task.ts splitSettings): a JSON object of variable name to string
 * value, read once at cold start and validated by the task's own settings schema like any
 * environment variable. A variable set in the environment wins.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";

export const SETTINGS_FILE = "settings.json";

/** The settings file of the bundle in `dir` (default: LAMBDA_TASK_ROOT, else this bundle's directory); {} when there is none. */
export function readBundledSettings(dir = process.env.LAMBDA_TASK_ROOT ?? __dirname): Record<string, string> {
  const file = path.join(dir, SETTINGS_FILE);
  if (!existsSync(file)) return {};
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new Error(`${SETTINGS_FILE}: not valid JSON`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`${SETTINGS_FILE}: must be an object of setting name to text`);
  for (const [k, v] of Object.entries(value)) if (typeof v !== "string") throw new Error(`${SETTINGS_FILE}.${k}: must be text`);
  return value as Record<string, string>;
}
