import { FqlError } from './ast';

export type TokenKind = 'string' | 'number' | 'ident' | 'op' | '(' | ')' | '[' | ']' | ',' | 'eof';

/** One lexical token. `path` holds the unescaped dot-separated segments of an identifier. */
export interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
  value?: string | number;
  path?: string[];
}

// Field names may use a-z A-Z 0-9 _ - unescaped (Segment's rule); anything else needs a backslash.
const NAME_CHAR = /[A-Za-z0-9_-]/;
const NAME_START = /[A-Za-z_]/;
const DIGIT = /[0-9]/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' };

/** Splits an FQL source into tokens; throws FqlError pointing at the first character it cannot read. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']' || c === ',') {
      tokens.push({ kind: c, text: c, pos: i++ });
    } else if (c === "'" || c === '"') {
      i = readString(source, i, tokens);
    } else if (DIGIT.test(c) || (c === '-' && DIGIT.test(source[i + 1] ?? ''))) {
      i = readNumber(source, i, tokens);
    } else if (NAME_START.test(c) || c === '\\') {
      i = readIdent(source, i, tokens);
    } else {
      i = readOperator(source, i, tokens);
    }
  }
  tokens.push({ kind: 'eof', text: 'end of input', pos: source.length });
  return tokens;
}

function readOperator(source: string, start: number, tokens: Token[]): number {
  const two = source.slice(start, start + 2);
  if (two === '==') throw new FqlError("Unknown operator '=='; FQL uses '=' for equality", start);
  if (two === '&&') throw new FqlError("Unknown operator '&&'; use 'and'", start);
  if (two === '||') throw new FqlError("Unknown operator '||'; use 'or'", start);
  if (two === '!=' || two === '<=' || two === '>=') {
    tokens.push({ kind: 'op', text: two, pos: start });
    return start + 2;
  }
  const c = source[start];
  if (c === '=' || c === '<' || c === '>' || c === '!') {
    tokens.push({ kind: 'op', text: c, pos: start });
    return start + 1;
  }
  const hint = c === '.' ? '' : ' (escape it with a backslash inside a field name)';
  throw new FqlError(`Unexpected character '${c}'${hint}`, start);
}

function readString(source: string, start: number, tokens: Token[]): number {
  const quote = source[start];
  let i = start + 1;
  let out = '';
  while (i < source.length && source[i] !== quote) {
    if (source[i] === '\\') {
      const next = source[i + 1];
      if (next === undefined) break;
      if (next === 'u') {
        const hex = source.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new FqlError('Invalid \\u escape in string', i);
        out += String.fromCharCode(Number.parseInt(hex, 16));
        i += 6;
        continue;
      }
      out += ESCAPES[next] ?? next;
      i += 2;
      continue;
    }
    out += source[i++];
  }
  if (i >= source.length) throw new FqlError(`Unterminated string: missing closing ${quote}`, start);
  tokens.push({ kind: 'string', text: source.slice(start, i + 1), pos: start, value: out });
  return i + 1;
}

function readNumber(source: string, start: number, tokens: Token[]): number {
  const m = /^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(source.slice(start))!;
  const end = start + m[0].length;
  if (end < source.length && (NAME_CHAR.test(source[end]) || source[end] === '.')) {
    throw new FqlError(`Invalid number '${m[0]}${source[end]}'`, start);
  }
  tokens.push({ kind: 'number', text: m[0], pos: start, value: Number(m[0]) });
  return end;
}

function readIdent(source: string, start: number, tokens: Token[]): number {
  const path: string[] = [];
  let segment = '';
  let i = start;
  for (;;) {
    const c = source[i];
    if (c === '\\') {
      if (i + 1 >= source.length) throw new FqlError('Dangling backslash at end of field name', i);
      segment += source[i + 1];
      i += 2;
    } else if (c !== undefined && NAME_CHAR.test(c)) {
      segment += c;
      i++;
    } else if (c === '.') {
      if (segment === '') throw new FqlError('Empty field name in path', i);
      path.push(segment);
      segment = '';
      i++;
    } else {
      break;
    }
  }
  if (segment === '') {
    const c = source[i];
    if (c === undefined || /\s/.test(c)) throw new FqlError('Field path cannot end with "."', i - 1);
    throw new FqlError(`Unexpected character '${c}' in field path; escape it with a backslash`, i);
  }
  path.push(segment);
  tokens.push({ kind: 'ident', text: source.slice(start, i), pos: start, path });
  return i;
}
