/**
 * jsonField paths: keys joined by dots (`checks.db.state`, `items.0.status`), and a key holding a dot
 * or a bracket in brackets as a JSON string, the way JavaScript and jq write it
 * (`checks["db.primary"].state`); `[0]` is an array index like `.0`.
 */

/** What a path must look like, for the refusal lines. */
export const JSON_PATH_FORM = 'a dotted path like status or checks.db.state; a key with a dot goes in brackets: checks["db.primary"]';

/** The keys of `path` in order, or undefined when it is not a path of that form. */
export function jsonPathKeys(path: string): string[] | undefined {
  const keys: string[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === "[") {
      const m = /^\[(\d+|"(?:[^"\\]|\\.)*")\]/.exec(path.slice(i));
      if (!m) return undefined;
      try {
        keys.push(m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1]);
      } catch {
        return undefined;
      }
      i += m[0].length;
    } else {
      if (keys.length > 0) {
        if (path[i] !== ".") return undefined;
        i++;
      }
      const m = /^[^.[\]"]+/.exec(path.slice(i));
      if (!m) return undefined;
      keys.push(m[0]);
      i += m[0].length;
    }
  }
  return keys.length ? keys : undefined;
}

/** Why `path` is not a jsonField path, or undefined. */
export function jsonPathProblem(path: string): string | undefined {
  return jsonPathKeys(path) ? undefined : `must be ${JSON_PATH_FORM}`;
}
