/**
 * A small evaluator of CloudWatch metric math and of a metric alarm over it, for tests that judge the
 * alarms the components produce over synthetic data points (no CloudWatch is reachable offline).
 *
 * What it covers, and where each rule comes from (CloudWatch user guide, "Using metric math",
 * awsdocs/amazon-cloudwatch-user-guide doc_source/using-metric-math.md):
 * - numbers, metric ids, `+ - * /`, unary `-`: "Missing values in a time series are treated as 0"
 *   (two series: the union of their timestamps); a division by zero drops the point.
 * - comparisons `< > <= >= == !=`: a series against a number gives 1 or 0 per data point; two
 *   series treat a missing value in one of them as 0.
 * - `FILL(ts, n)`: "Fills the missing values of a time series": every period of the range holds a
 *   value, `n` where the metric has none. The guide does not say what it gives for a series with no
 *   data at all; here it fills that too (the gated alarms keep treatMissingData "breaching", which
 *   judges such periods the same way if CloudWatch leaves them empty: components/alarms.ts watchGate).
 * - `EPOCH(ts)`: "take the period and range of the time series and return a new non-sparse time
 *   series where each value is based on its timestamp": the period's start in seconds, every period.
 * - `IF(cond, a, b)` ("Using IF expressions"): per data point of `cond`, `a` where it is not 0 (a
 *   series without that point gives 0), `b` where it is 0 (a series without that point, or no `b`,
 *   drops the point); a numeric `cond` picks `a` or `b` whole.
 * Anything else (AND/OR, other functions) throws: a test must not pass on a guess.
 *
 * The alarm (`evaluateAlarm`) is evaluated as the repository models CloudWatch's default sliding
 * window (regime/promises.ts, "CloudWatch model"): at instant `at` the last `evaluationPeriods`
 * periods, each [at - k x period, at - (k - 1) x period); each metric's value in a period is its
 * statistic over the data points stamped inside it (none: missing); the expression is evaluated over
 * those periods; a missing result counts per treatMissingData; ALARM when at least datapointsToAlarm
 * periods breach.
 */

/** Period start (seconds since the epoch) -> value. */
export type Series = Map<number, number>;
type Value = number | Series;

type Token = { kind: "num"; value: number } | { kind: "id"; name: string } | { kind: "op"; op: string };

function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|==|!=|[-+*/<>(),]))/y;
  let i = 0;
  while (i < expr.length) {
    if (/^\s*$/.test(expr.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(expr);
    if (!m) throw new Error(`metric math: cannot read "${expr.slice(i)}"`);
    if (m[1] !== undefined) out.push({ kind: "num", value: Number(m[1]) });
    else if (m[2] !== undefined) out.push({ kind: "id", name: m[2] });
    else out.push({ kind: "op", op: m[3] });
    i = re.lastIndex;
  }
  return out;
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  "<": (a, b) => a < b,
  ">": (a, b) => a > b,
  "<=": (a, b) => a <= b,
  ">=": (a, b) => a >= b,
  "==": (a, b) => a === b,
  "!=": (a, b) => a !== b,
};
const ARITH: Record<string, (a: number, b: number) => number> = { "+": (a, b) => a + b, "-": (a, b) => a - b, "*": (a, b) => a * b, "/": (a, b) => a / b };

/** A binary operator over numbers and series, with the guide's rules for missing values. */
function binary(op: string, a: Value, b: Value): Value {
  const f = (x: number, y: number) => (op in COMPARE ? (COMPARE[op](x, y) ? 1 : 0) : ARITH[op](x, y));
  const keep = (out: Series, t: number, v: number) => Number.isFinite(v) && out.set(t, v);
  if (typeof a === "number" && typeof b === "number") return f(a, b);
  const out: Series = new Map();
  if (typeof a === "number") for (const [t, y] of b as Series) keep(out, t, f(a, y));
  else if (typeof b === "number") for (const [t, x] of a) keep(out, t, f(x, b));
  else for (const t of [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y)) keep(out, t, f(a.get(t) ?? 0, b.get(t) ?? 0));
  return out;
}

/**
 * The value of `expr` over the periods starting at `range` (seconds, ascending), each id read from
 * `series` (a metric's data points per period, or an earlier expression's result).
 */
export function evaluateExpression(expr: string, series: Record<string, Series>, range: number[], opts: { fillEmpty?: boolean } = {}): Value {
  const tokens = tokenize(expr);
  let i = 0;
  const peek = () => tokens[i];
  const isOp = (op: string) => peek()?.kind === "op" && (peek() as { op: string }).op === op;
  const expect = (op: string) => {
    if (!isOp(op)) throw new Error(`metric math: expected "${op}" in ${expr}`);
    i++;
  };
  const asSeries = (v: Value, fn: string): Series => {
    if (typeof v === "number") throw new Error(`metric math: ${fn} takes a time series in ${expr}`);
    return v;
  };
  const call = (fn: string, args: Value[]): Value => {
    if (fn === "FILL") {
      const [ts, filler] = [asSeries(args[0], fn), args[1]];
      if (typeof filler !== "number") throw new Error(`metric math: FILL with ${typeof filler} is not covered`);
      if (ts.size === 0 && opts.fillEmpty === false) return new Map();
      return new Map(range.map((t) => [t, ts.get(t) ?? filler]));
    }
    if (fn === "EPOCH") {
      asSeries(args[0], fn);
      return new Map(range.map((t) => [t, t]));
    }
    if (fn === "IF") {
      const [cond, a, b] = args;
      if (typeof cond === "number") return cond !== 0 ? a : (b ?? new Map());
      const out: Series = new Map();
      for (const [t, c] of cond) {
        if (c !== 0) out.set(t, typeof a === "number" ? a : (a.get(t) ?? 0));
        else if (typeof b === "number") out.set(t, b);
        else if (b !== undefined && b.has(t)) out.set(t, b.get(t)!);
      }
      return out;
    }
    throw new Error(`metric math: ${fn} is not covered`);
  };
  const primary = (): Value => {
    const t = tokens[i++];
    if (!t) throw new Error(`metric math: ${expr} ends early`);
    if (t.kind === "num") return t.value;
    if (t.kind === "op" && t.op === "(") {
      const v = comparison();
      expect(")");
      return v;
    }
    if (t.kind === "op" && t.op === "-") return binary("*", -1, primary());
    if (t.kind === "id" && isOp("(")) {
      i++;
      const args: Value[] = [];
      if (!isOp(")")) {
        args.push(comparison());
        while (isOp(",")) {
          i++;
          args.push(comparison());
        }
      }
      expect(")");
      return call(t.name, args);
    }
    if (t.kind === "id") {
      if (!(t.name in series)) throw new Error(`metric math: no series "${t.name}" for ${expr}`);
      return series[t.name];
    }
    throw new Error(`metric math: unexpected "${(t as { op: string }).op}" in ${expr}`);
  };
  const term = (): Value => {
    let v = primary();
    while (isOp("*") || isOp("/")) v = binary((tokens[i++] as { op: string }).op, v, primary());
    return v;
  };
  const sum = (): Value => {
    let v = term();
    while (isOp("+") || isOp("-")) v = binary((tokens[i++] as { op: string }).op, v, term());
    return v;
  };
  const comparison = (): Value => {
    let v = sum();
    while (peek()?.kind === "op" && (peek() as { op: string }).op in COMPARE) v = binary((tokens[i++] as { op: string }).op, v, sum());
    return v;
  };
  const v = comparison();
  if (i !== tokens.length) throw new Error(`metric math: unread rest in ${expr}`);
  return v;
}

/** A data point as a service sends it: the metric's name, its stamp (seconds) and value. */
export interface DataPoint {
  metricName: string;
  at: number;
  value: number;
}

type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function statistic(stat: string, values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  if (stat === "Sum") return values.reduce((a, b) => a + b, 0);
  if (stat === "Minimum") return Math.min(...values);
  if (stat === "Maximum") return Math.max(...values);
  if (stat === "Average") return values.reduce((a, b) => a + b, 0) / values.length;
  if (stat === "SampleCount") return values.length;
  throw new Error(`statistic ${stat} is not covered`);
}

const BREACHES: Record<string, (v: number, threshold: number) => boolean> = {
  LessThanThreshold: (v, t) => v < t,
  LessThanOrEqualToThreshold: (v, t) => v <= t,
  GreaterThanThreshold: (v, t) => v > t,
  GreaterThanOrEqualToThreshold: (v, t) => v >= t,
};

/**
 * The state a metric alarm (its recorded inputs: metricQueries or a single metric, evaluationPeriods,
 * datapointsToAlarm, comparisonOperator, threshold, treatMissingData) takes at instant `at`
 * (seconds) over `points`, with its state before (`previous`, for "ignore" and "missing"); with
 * `opts.fillEmpty` false, FILL of a series with no point at all gives none.
 */
export function evaluateAlarm(
  alarm: Inputs,
  points: DataPoint[],
  at: number,
  previous: "OK" | "ALARM" | "INSUFFICIENT_DATA" = "INSUFFICIENT_DATA",
  /** fillEmpty false: FILL of a series without any point gives none (what the guide leaves open). */
  opts: { fillEmpty?: boolean } = {},
): "OK" | "ALARM" | "INSUFFICIENT_DATA" {
  const queries: Inputs[] = alarm.metricQueries ?? [
    { id: "m", metric: { metricName: alarm.metricName, stat: alarm.statistic, period: alarm.period }, returnData: true },
    { id: "result", expression: "m", returnData: true },
  ];
  const period: number = queries.find((q) => q.metric)!.metric.period;
  const n: number = alarm.evaluationPeriods;
  const range = Array.from({ length: n }, (_, k) => at - (n - k) * period);
  const series: Record<string, Series> = {};
  for (const q of queries.filter((x) => x.metric)) {
    const s: Series = new Map();
    for (const t of range) {
      const v = statistic(q.metric.stat, points.filter((p) => p.metricName === q.metric.metricName && p.at >= t && p.at < t + period).map((p) => p.value));
      if (v !== undefined) s.set(t, v);
    }
    series[q.id] = s;
  }
  let result: Value | undefined;
  for (const q of queries.filter((x) => x.expression)) {
    result = evaluateExpression(q.expression, series, range, opts);
    series[q.id] = typeof result === "number" ? new Map(range.map((t) => [t, result as number])) : result;
  }
  const returned = queries.find((q) => q.returnData !== false && (q.expression || !alarm.metricQueries))!;
  const values = series[returned.id];
  const breach = BREACHES[alarm.comparisonOperator];
  if (!breach) throw new Error(`comparison ${alarm.comparisonOperator} is not covered`);
  let breaching = 0;
  let present = 0;
  for (const t of range) {
    const v = values.get(t);
    if (v === undefined) {
      if (alarm.treatMissingData === "breaching") breaching++;
      if (alarm.treatMissingData === "breaching" || alarm.treatMissingData === "notBreaching") present++;
      continue;
    }
    present++;
    if (breach(v, alarm.threshold)) breaching++;
  }
  if (present === 0) return alarm.treatMissingData === "missing" ? "INSUFFICIENT_DATA" : previous;
  return breaching >= (alarm.datapointsToAlarm ?? n) ? "ALARM" : "OK";
}

/**
 * The parts of an alarm gated on its watch start (components/alarms.ts watchGate), for assertions:
 * the metrics it reads (id, namespace, name, dimensions, statistic, period) and the gate's expression.
 */
export function gateOf(alarm: Inputs): { metrics: { id: string; namespace: string; metricName: string; dimensions: Record<string, string>; stat: string; period: number }[]; expression: string | undefined } {
  const queries: Inputs[] = alarm.metricQueries ?? [];
  return {
    metrics: queries.filter((q) => q.metric).map((q) => ({ id: q.id, namespace: q.metric.namespace, metricName: q.metric.metricName, dimensions: q.metric.dimensions, stat: q.metric.stat, period: q.metric.period })),
    expression: queries.find((q) => q.id === "watched")?.expression,
  };
}
