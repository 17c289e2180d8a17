/** One pattern position that matches exactly one character (code point). */
type Single =
  | { kind: 'any' }
  | { kind: 'char'; code: number }
  | { kind: 'class'; negate: boolean; ranges: [number, number][] };

/** A run of single-character positions between stars, with what its search needs. */
interface Segment {
  items: Single[];
  /** KMP failure table when every item is a literal character. */
  failure?: Int32Array;
  /** Otherwise, Shift-And masks: positions of `?`, of each literal character, and the classes. */
  shift?: ShiftMasks;
}

interface ShiftMasks {
  any: Uint32Array;
  literal: Map<number, Uint32Array>;
  classes: number[];
}

/** A compiled glob: the segments between stars; `starred` false means the whole string is one segment. */
interface Compiled {
  segments: Segment[];
  starred: boolean;
}

const cache = new Map<string, Compiled | null>();
const CACHE_LIMIT = 500;

/**
 * Segment's glob `match()`: `*` any run (slashes too), `?` one character, `[abc]`, `[a-z]`, `[^a]`,
 * `\x` a literal x. The whole string must match; case-sensitive; a malformed pattern matches nothing.
 *
 * Linear, never backtracking: the pattern is cut at its stars into fixed-length segments; the
 * first and last are anchored at the ends of the string, each one between is matched at its
 * leftmost occurrence after the previous one (leftmost is always safe: it leaves the most string
 * for what follows). A literal segment is searched with KMP, O(n + k); one with `?` or classes
 * with bit-parallel Shift-And, O(n × ⌈k/32⌉). Searches continue where the last one ended, so the
 * string is read about once whatever the pattern.
 */
export function globMatch(str: string, pattern: string): boolean {
  let compiled = cache.get(pattern);
  if (compiled === undefined) {
    compiled = compile(pattern);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(pattern, compiled);
  }
  return (
    compiled !== null &&
    run(
      compiled,
      Array.from(str, (ch) => ch.codePointAt(0) ?? 0),
    )
  );
}

function run({ segments, starred }: Compiled, s: number[]): boolean {
  const first = segments[0];
  if (!starred) return s.length === first.items.length && matchesAt(first.items, s, 0);
  const last = segments[segments.length - 1];
  const end = s.length - last.items.length;
  if (end < first.items.length) return false;
  if (!matchesAt(first.items, s, 0) || !matchesAt(last.items, s, end)) return false;
  let pos = first.items.length;
  for (let i = 1; i < segments.length - 1; i++) {
    const at = find(segments[i], s, pos, end);
    if (at < 0) return false;
    pos = at + segments[i].items.length;
  }
  return true;
}

function matchesAt(items: Single[], s: number[], at: number): boolean {
  for (let i = 0; i < items.length; i++) if (!matchesOne(items[i], s[at + i])) return false;
  return true;
}

function matchesOne(t: Single, c: number): boolean {
  if (t.kind === 'any') return true;
  if (t.kind === 'char') return t.code === c;
  return t.ranges.some(([lo, hi]) => lo <= c && c <= hi) !== t.negate;
}

/** Leftmost start in [from, end - k] where the segment matches, or -1. */
function find(seg: Segment, s: number[], from: number, end: number): number {
  const k = seg.items.length;
  if (k === 0) return from;
  if (seg.failure) return findLiteral(seg.items, seg.failure, s, from, end);
  return findShiftAnd(seg.items, seg.shift ?? shiftMasks(seg.items), s, from, end);
}

function findLiteral(items: Single[], failure: Int32Array, s: number[], from: number, end: number): number {
  const code = (i: number) => (items[i] as { code: number }).code;
  let q = 0;
  for (let j = from; j < end; j++) {
    while (q > 0 && code(q) !== s[j]) q = failure[q - 1];
    if (code(q) === s[j]) q++;
    if (q === items.length) return j - q + 1;
  }
  return -1;
}

function findShiftAnd(items: Single[], pre: ShiftMasks, s: number[], from: number, end: number): number {
  const k = items.length;
  const words = pre.any.length;
  // Mask of the positions a character may take, once per distinct character: `?` positions, its
  // literal positions (precomputed), then only the classes are evaluated.
  const masks = new Map<number, Uint32Array>();
  const maskOf = (c: number) => {
    let m = masks.get(c);
    if (!m) {
      m = pre.any.slice();
      const lit = pre.literal.get(c);
      if (lit) for (let w = 0; w < words; w++) m[w] |= lit[w];
      for (const i of pre.classes) if (matchesOne(items[i], c)) m[i >>> 5] |= 1 << (i & 31);
      masks.set(c, m);
    }
    return m;
  };
  const state = new Uint32Array(words);
  const top = (k - 1) >>> 5;
  const topBit = 1 << ((k - 1) & 31);
  for (let j = from; j < end; j++) {
    const m = maskOf(s[j]);
    // state = ((state << 1) | 1) & m, across words from the highest down.
    for (let w = words - 1; w > 0; w--) state[w] = ((state[w] << 1) | (state[w - 1] >>> 31)) & m[w];
    state[0] = ((state[0] << 1) | 1) & m[0];
    if (state[top] & topBit) return j - k + 1;
  }
  return -1;
}

function shiftMasks(items: Single[]): ShiftMasks {
  const words = (items.length + 31) >>> 5;
  const pre: ShiftMasks = { any: new Uint32Array(words), literal: new Map(), classes: [] };
  items.forEach((t, i) => {
    const bit = 1 << (i & 31);
    if (t.kind === 'any') pre.any[i >>> 5] |= bit;
    else if (t.kind === 'class') pre.classes.push(i);
    else {
      const m = pre.literal.get(t.code) ?? new Uint32Array(words);
      m[i >>> 5] |= bit;
      pre.literal.set(t.code, m);
    }
  });
  return pre;
}

function kmpFailure(items: Single[]): Int32Array {
  const code = (i: number) => (items[i] as { code: number }).code;
  const f = new Int32Array(items.length);
  let q = 0;
  for (let i = 1; i < items.length; i++) {
    while (q > 0 && code(q) !== code(i)) q = f[q - 1];
    if (code(q) === code(i)) q++;
    f[i] = q;
  }
  return f;
}

function compile(pattern: string): Compiled | null {
  const chars = Array.from(pattern);
  const runs: Single[][] = [[]];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') {
      // Consecutive stars are one star: an empty run between them changes nothing.
      if (runs[runs.length - 1].length > 0 || runs.length === 1) runs.push([]);
    } else if (c === '?') {
      runs[runs.length - 1].push({ kind: 'any' });
    } else if (c === '\\') {
      if (i + 1 >= chars.length) return null;
      runs[runs.length - 1].push({ kind: 'char', code: chars[++i].codePointAt(0) ?? 0 });
    } else if (c === '[') {
      const cls = readClass(chars, i);
      if (!cls) return null;
      runs[runs.length - 1].push(cls.token);
      i = cls.index;
    } else {
      runs[runs.length - 1].push({ kind: 'char', code: c.codePointAt(0) ?? 0 });
    }
  }
  const segments = runs.map((items): Segment => {
    const literal = items.every((t) => t.kind === 'char');
    return literal ? { items, failure: kmpFailure(items) } : { items, shift: shiftMasks(items) };
  });
  return { segments, starred: runs.length > 1 };
}

function readClass(chars: string[], open: number): { token: Single; index: number } | null {
  let i = open + 1;
  const negate = chars[i] === '^';
  if (negate) i++;
  const ranges: [number, number][] = [];
  while (i < chars.length && !(chars[i] === ']' && ranges.length > 0)) {
    const lo = readClassChar(chars, i);
    if (!lo) return null;
    i = lo.next;
    let hi = lo.code;
    if (chars[i] === '-') {
      const h = readClassChar(chars, i + 1);
      if (!h) return null;
      hi = h.code;
      i = h.next;
    }
    ranges.push([lo.code, hi]);
  }
  if (i >= chars.length) return null;
  return { token: { kind: 'class', negate, ranges }, index: i };
}

function readClassChar(chars: string[], i: number): { code: number; next: number } | null {
  const c = chars[i];
  if (c === undefined || c === '-' || c === ']') return null;
  if (c === '\\') return chars[i + 1] === undefined ? null : { code: chars[i + 1].codePointAt(0) ?? 0, next: i + 2 };
  return { code: c.codePointAt(0) ?? 0, next: i + 1 };
}
