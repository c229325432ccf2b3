/**
 * A stack file's SQL condition (a purge rule's `where`) must stay one boolean expression inside the
 * parentheses it is put in: no `;` (a second statement), no comment (`--`, `/*`) that could hide the
 * rest of the statement, no `$` (parameters, dollar quoting), and every parenthesis, quote and
 * double-quoted identifier closed. Quoted text ('...', E'...', "...") may hold any of these.
 * The database then checks that the expression is valid and boolean (see tasks/purge.ts).
 */

/** Why `sql` is not a single expression, or undefined when it is. */
export function sqlExpressionProblem(sql: string): string | undefined {
  if (!sql.trim()) return "must be an SQL condition, not empty";
  let depth = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === "'" || c === '"') {
      // E'...' allows backslash escapes; '' and "" are the doubled quote.
      const escapes = c === "'" && i > 0 && /[eE]/.test(sql[i - 1]) && (i < 2 || !/[\w$]/.test(sql[i - 2]));
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) return c === "'" ? "has an unterminated string literal (')" : 'has an unterminated quoted identifier (")';
        if (escapes && sql[j] === "\\") {
          j += 2;
          continue;
        }
        if (sql[j] === c) {
          if (sql[j + 1] === c) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      i = j + 1;
      continue;
    }
    if (c === ";") return "must be a single SQL expression (no ;)";
    if (c === "-" && next === "-") return "must not contain a comment (--)";
    if (c === "/" && next === "*") return "must not contain a comment (/*)";
    if (c === "$") return "must not contain $ (parameters or dollar quoting)";
    if (c === "(") depth++;
    if (c === ")" && --depth < 0) return "has a ) without its (";
    i++;
  }
  if (depth > 0) return `has ${depth} unclosed (`;
  return undefined;
}
