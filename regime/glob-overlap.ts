/**
 * Whether two log paths can name the same file, decided the way logrotate expands them: glob(3)
 * without flags, so `*`, `?` and `[...]` match within one path segment (never `/`), `\` escapes the
 * next character, and a name's leading `.` is matched only by a literal `.` starting the pattern (a
 * hidden file is not matched by `*`, `?`, a bracket expression, nor by `*.log`).
 *
 * Two paths overlap when they have as many segments and, segment by segment, some name matches both
 * patterns. Each segment pair is decided exactly by searching the product of the two patterns'
 * automata over character sets (ranges of code points), so `*.log` and `api*` overlap (`api.log`),
 * `[a-c]*.log` and `d*.log` do not, and `.*.log` and `*.log` do not (a hidden file is never `*`).
 */

/** Sorted, disjoint, inclusive code point ranges. */
type Ranges = [number, number][];

const SLASH = 0x2f;
const DOT = 0x2e;
/** Every character a file name may hold: no NUL, no `/`. */
const NAME_CHARS: Ranges = [
  [1, SLASH - 1],
  [SLASH + 1, 0x10ffff],
];

function normalise(r: Ranges): Ranges {
  const sorted = r.filter(([lo, hi]) => lo <= hi).sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function intersect(a: Ranges, b: Ranges): Ranges {
  const out: Ranges = [];
  for (const [alo, ahi] of a) for (const [blo, bhi] of b) if (Math.max(alo, blo) <= Math.min(ahi, bhi)) out.push([Math.max(alo, blo), Math.min(ahi, bhi)]);
  return normalise(out);
}

function subtract(a: Ranges, b: Ranges): Ranges {
  let out = a;
  for (const [blo, bhi] of b) {
    out = out.flatMap(([lo, hi]): Ranges => {
      if (bhi < lo || blo > hi) return [[lo, hi]];
      const parts: Ranges = [];
      if (lo < blo) parts.push([lo, blo - 1]);
      if (bhi < hi) parts.push([bhi + 1, hi]);
      return parts;
    });
  }
  return out;
}

/** One token of a segment pattern: `*`, or one character from `set` (`literal` when written as itself). */
type Token = { star: true } | { star: false; set: Ranges; literal: boolean };

const cp = (s: string) => s.codePointAt(0)!;
const span = (a: string, b: string): [number, number] => [cp(a), cp(b)];

/** POSIX character classes, as the C locale defines them. */
const CLASSES: Record<string, Ranges> = {
  alpha: [span("A", "Z"), span("a", "z")],
  digit: [span("0", "9")],
  alnum: [span("0", "9"), span("A", "Z"), span("a", "z")],
  upper: [span("A", "Z")],
  lower: [span("a", "z")],
  space: [[9, 13], [32, 32]],
  blank: [[9, 9], [32, 32]],
  punct: [[33, 47], [58, 64], [91, 96], [123, 126]],
  xdigit: [span("0", "9"), span("A", "F"), span("a", "f")],
  cntrl: [[0, 31], [127, 127]],
  print: [[32, 126]],
  graph: [[33, 126]],
};

/**
 * A bracket expression starting at `[` (index `start`): its set and the index after its `]`, or
 * undefined when it does not close (glob then reads the `[` as itself).
 */
function bracket(chars: string[], start: number): { set: Ranges; next: number } | undefined {
  let i = start + 1;
  let negated = false;
  if (chars[i] === "!" || chars[i] === "^") {
    negated = true;
    i++;
  }
  const members: Ranges = [];
  let first = true;
  while (i < chars.length) {
    const c = chars[i];
    if (c === "]" && !first) {
      const set = normalise(members);
      return { set: negated ? subtract(NAME_CHARS, set) : intersect(NAME_CHARS, set), next: i + 1 };
    }
    first = false;
    if (c === "[" && (chars[i + 1] === ":" || chars[i + 1] === "=" || chars[i + 1] === ".")) {
      const kind = chars[i + 1];
      let end = i + 2;
      while (end + 1 < chars.length && !(chars[end] === kind && chars[end + 1] === "]")) end++;
      if (end + 1 < chars.length) {
        const name = chars.slice(i + 2, end).join("");
        if (kind === ":") {
          if (!CLASSES[name]) return undefined;
          members.push(...CLASSES[name]);
        } else if (name.length > 0) members.push([cp(name), cp(name)]);
        i = end + 2;
        continue;
      }
    }
    let lo = c;
    if (c === "\\" && i + 1 < chars.length) lo = chars[++i];
    if (chars[i + 1] === "-" && i + 2 < chars.length && chars[i + 2] !== "]") {
      let hi = chars[i + 2];
      i += 2;
      if (hi === "\\" && i + 1 < chars.length) hi = chars[++i];
      members.push([cp(lo), cp(hi)]);
    } else members.push([cp(lo), cp(lo)]);
    i++;
  }
  return undefined;
}

/** The tokens of one path segment written as a glob(3) pattern. */
export function segmentTokens(segment: string): Token[] {
  const chars = [...segment];
  const out: Token[] = [];
  for (let i = 0; i < chars.length; ) {
    const c = chars[i];
    if (c === "*") {
      if (!(out.length && out[out.length - 1].star)) out.push({ star: true });
      i++;
    } else if (c === "?") {
      out.push({ star: false, set: NAME_CHARS, literal: false });
      i++;
    } else if (c === "[" && bracket(chars, i)) {
      const b = bracket(chars, i)!;
      out.push({ star: false, set: b.set, literal: false });
      i = b.next;
    } else {
      const lit = c === "\\" && i + 1 < chars.length ? chars[++i] : c;
      out.push({ star: false, set: [[cp(lit), cp(lit)]], literal: true });
      i++;
    }
  }
  return out;
}

/**
 * Characters the token at `index` can match, `atStart` when nothing of the name is matched yet: a
 * leading `.` only by a literal `.` that starts the pattern (glibc fails `*.log` on `.log` at once:
 * a star that would match nothing before the `.` does not count).
 */
function tokenChars(tokens: Token[], index: number, atStart: boolean): Ranges {
  const t = tokens[index];
  const set = t.star ? NAME_CHARS : t.set;
  const literalFirst = index === 0 && !t.star && t.literal;
  return atStart && !literalFirst ? subtract(set, [[DOT, DOT]]) : set;
}

/** Whether some non-empty file name matches both segment patterns. */
export function segmentsOverlap(a: string, b: string): boolean {
  const ta = segmentTokens(a);
  const tb = segmentTokens(b);
  const seen = new Set<string>();
  const stack: [number, number, boolean][] = [[0, 0, true]];
  while (stack.length) {
    const [i, j, atStart] = stack.pop()!;
    const key = `${i},${j},${atStart}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (i === ta.length && j === tb.length && !atStart) return true;
    // A star may match nothing.
    if (i < ta.length && ta[i].star) stack.push([i + 1, j, atStart]);
    if (j < tb.length && tb[j].star) stack.push([i, j + 1, atStart]);
    if (i === ta.length || j === tb.length) continue;
    // Both consume one character they can agree on; a star stays where it is.
    if (intersect(tokenChars(ta, i, atStart), tokenChars(tb, j, atStart)).length > 0) {
      stack.push([ta[i].star ? i : i + 1, tb[j].star ? j : j + 1, false]);
    }
  }
  return false;
}

/**
 * An absolute path as one file is named: repeated `/` collapsed, `.` segments dropped, no trailing
 * `/` (`/app//logs/./api.log` is `/app/logs/api.log`). `..` segments are refused by the schema before.
 */
export function normaliseLogPath(path: string): string {
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  return `/${segments.join("/")}`;
}

/** Whether some file is matched by both absolute log paths (globs allowed); see the module comment. */
export function logPathsOverlap(a: string, b: string): boolean {
  const sa = normaliseLogPath(a).split("/").slice(1);
  const sb = normaliseLogPath(b).split("/").slice(1);
  if (sa.length !== sb.length) return false;
  return sa.every((s, k) => segmentsOverlap(s, sb[k]));
}
