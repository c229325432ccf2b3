import { describe, expect, it } from "vitest";
import { sqlExpressionProblem } from "../tasks/lib/sql-expression";

describe("a purge rule's where is one SQL expression", () => {
  it.each([
    "status = 'completed'",
    "status IN ('completed', 'cancelled') AND (retries > 3 OR error IS NOT NULL)",
    "note = 'it''s; done -- really /* yes */ (' AND \"odd;name\" = 1",
    "note = E'it\\'s; (done'",
    "\"we\"\"ird\" IS NULL",
    "id NOT IN (SELECT job_id FROM invoices WHERE paid)",
    "created_at::date < date '2020-01-01'",
  ])("accepts %s", (sql) => {
    expect(sqlExpressionProblem(sql)).toBeUndefined();
  });

  it.each([
    ["", "must be an SQL condition, not empty"],
    ["a = 1; DELETE FROM x", "must be a single SQL expression (no ;)"],
    ["a = 1 --", "must not contain a comment (--)"],
    ["a = 1 /* */", "must not contain a comment (/*)"],
    ["a = $1", "must not contain $ (parameters or dollar quoting)"],
    ["a = $$x$$", "must not contain $ (parameters or dollar quoting)"],
    ["a = 1) OR (b = 2", "has a ) without its ("],
    ["((a = 1)", "has 1 unclosed ("],
    ["a = 'x''", "has an unterminated string literal (')"],
    ["a = E'x\\'", "has an unterminated string literal (')"],
    ["\"a = 1", 'has an unterminated quoted identifier (")'],
    // Outside E'...' a backslash is plain text: the string closes at the next quote and the ; is outside it.
    ["type = 'a\\' OR true; --'", "must be a single SQL expression (no ;)"],
  ])("refuses %s", (sql, problem) => {
    expect(sqlExpressionProblem(sql)).toBe(problem);
  });
});
