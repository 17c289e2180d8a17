type GlobToken =
  | { kind: 'star' }
  | { kind: 'any' }
  | { kind: 'char'; char: string }
  | { kind: 'class'; negate: boolean; ranges: [string, string][] };

const cache = new Map<string, GlobToken[] | null>();
const CACHE_LIMIT = 500;

/**
 * Segment's glob `match()`: `*` any run (slashes too), `?` one character, `[abc]`, `[a-z]`, `[^a]`,
 * `\x` a literal x. The whole string must match; case-sensitive; a malformed pattern matches nothing.
 */
export function globMatch(str: string, pattern: string): boolean {
  let tokens = cache.get(pattern);
  if (tokens === undefined) {
    tokens = compile(pattern);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(pattern, tokens);
  }
  return tokens !== null && run(tokens, Array.from(str));
}

// Greedy matching that only ever backtracks to the last star: O(pattern × string), never exponential.
function run(tokens: GlobToken[], s: string[]): boolean {
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    const t = tokens[p];
    if (t?.kind === 'star') {
      starP = p++;
      starI = i;
    } else if (t && matchesOne(t, s[i])) {
      p++;
      i++;
    } else if (starP >= 0) {
      p = starP + 1;
      i = ++starI;
    } else {
      return false;
    }
  }
  while (tokens[p]?.kind === 'star') p++;
  return p === tokens.length;
}

function matchesOne(t: Exclude<GlobToken, { kind: 'star' }>, c: string): boolean {
  if (t.kind === 'any') return true;
  if (t.kind === 'char') return t.char === c;
  return t.ranges.some(([lo, hi]) => lo <= c && c <= hi) !== t.negate;
}

function compile(pattern: string): GlobToken[] | null {
  const chars = Array.from(pattern);
  const out: GlobToken[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') {
      if (out.at(-1)?.kind !== 'star') out.push({ kind: 'star' });
    } else if (c === '?') {
      out.push({ kind: 'any' });
    } else if (c === '\\') {
      if (i + 1 >= chars.length) return null;
      out.push({ kind: 'char', char: chars[++i] });
    } else if (c === '[') {
      const cls = readClass(chars, i);
      if (!cls) return null;
      out.push(cls.token);
      i = cls.index;
    } else {
      out.push({ kind: 'char', char: c });
    }
  }
  return out;
}

function readClass(chars: string[], open: number): { token: GlobToken; index: number } | null {
  let i = open + 1;
  const negate = chars[i] === '^';
  if (negate) i++;
  const ranges: [string, string][] = [];
  while (i < chars.length && !(chars[i] === ']' && ranges.length > 0)) {
    const lo = readClassChar(chars, i);
    if (!lo) return null;
    i = lo.next;
    let hi = lo.char;
    if (chars[i] === '-') {
      const h = readClassChar(chars, i + 1);
      if (!h) return null;
      hi = h.char;
      i = h.next;
    }
    ranges.push([lo.char, hi]);
  }
  if (i >= chars.length) return null;
  return { token: { kind: 'class', negate, ranges }, index: i };
}

function readClassChar(chars: string[], i: number): { char: string; next: number } | null {
  const c = chars[i];
  if (c === undefined || c === '-' || c === ']') return null;
  if (c === '\\') return chars[i + 1] === undefined ? null : { char: chars[i + 1], next: i + 2 };
  return { char: c, next: i + 1 };
}
