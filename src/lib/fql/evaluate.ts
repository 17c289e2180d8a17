import type { FqlFunction, FqlNode } from './ast';
import { globMatch } from './glob';

/** A value during evaluation: JSON, with missing fields read as `null` (as Segment's FQL does). */
type Value = unknown;

const encoder = new TextEncoder();
const TRUE_WORDS = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

/**
 * Evaluates a parsed FQL tree against an event. Never throws: a type mismatch makes a comparison
 * false and a function return its documented null default; the result is true only for literal `true`.
 */
export function evaluateFql(node: FqlNode, event: unknown): boolean {
  return value(node, event) === true;
}

/** Evaluates an FQL expression to its value (not only true/false), e.g. `lowercase(properties.email)`. */
export function evaluateFqlValue(node: FqlNode, event: unknown): unknown {
  return value(node, event);
}

function value(node: FqlNode, event: unknown): Value {
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'path':
      return resolvePath(event, node.path);
    case 'list':
      return node.items.map((item) => value(item, event));
    case 'not':
      return value(node.operand, event) !== true;
    case 'logical':
      if (node.op === 'and') return value(node.left, event) === true && value(node.right, event) === true;
      return value(node.left, event) === true || value(node.right, event) === true;
    case 'in': {
      const needle = value(node.left, event);
      const list = value(node.right, event);
      return Array.isArray(list) && list.some((item) => equal(item, needle));
    }
    case 'compare': {
      const a = value(node.left, event);
      const b = value(node.right, event);
      if (node.op === '=') return equal(a, b);
      if (node.op === '!=') return !equal(a, b);
      if (typeof a !== 'number' || typeof b !== 'number') return false;
      if (node.op === '<') return a < b;
      if (node.op === '<=') return a <= b;
      if (node.op === '>') return a > b;
      return a >= b;
    }
    case 'call':
      return call(
        node.name,
        node.args.map((arg) => value(arg, event)),
      );
  }
}

/** Reads a dot path from a JSON value; own properties only, numeric segments index arrays, missing is null. */
export function resolvePath(root: unknown, path: readonly string[]): Value {
  let cur: unknown = root;
  for (const key of path) {
    if (Array.isArray(cur)) {
      cur = /^(0|[1-9][0-9]*)$/.test(key) ? cur[Number(key)] : undefined;
    } else if (typeof cur === 'object' && cur !== null && Object.hasOwn(cur, key)) {
      cur = (cur as Record<string, unknown>)[key];
    } else {
      return null;
    }
    if (cur === undefined) return null;
  }
  return cur === undefined ? null : cur;
}

/** FQL equality: same type and strictly equal; lists and objects compare by content. */
export function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  const ka = Object.keys(a);
  const rb = b as Record<string, unknown>;
  return (
    ka.length === Object.keys(b).length &&
    ka.every((k) => Object.hasOwn(rb, k) && equal((a as Record<string, unknown>)[k], rb[k]))
  );
}

/** FQL's type names: string, number, bool, list, null (and object for JSON objects). */
export function fqlTypeOf(v: Value): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string' || typeof v === 'number') return typeof v;
  return 'object';
}

const mapString = (v: Value, fn: (s: string) => string): Value => (typeof v === 'string' ? fn(v) : null);

function call(name: FqlFunction, args: Value[]): Value {
  const [a, b] = args;
  switch (name) {
    case 'contains':
      return typeof a === 'string' && typeof b === 'string' && a.includes(b);
    case 'match':
      return typeof a === 'string' && typeof b === 'string' && globMatch(a, b);
    case 'length':
      if (a === null) return 0;
      if (typeof a === 'string') return encoder.encode(a).length; // bytes, as Segment documents
      return Array.isArray(a) ? a.length : null;
    case 'lowercase':
      return mapString(a, (s) => s.toLowerCase());
    case 'uppercase':
      return mapString(a, (s) => s.toUpperCase());
    case 'snakecase':
      return mapString(a, (s) => s.replace(/ /g, '_'));
    case 'kebabcase':
      return mapString(a, (s) => s.replace(/ /g, '-'));
    case 'titlecase':
      return mapString(a, (s) => s.replace(/(^|\s)(\S)/gu, (_, sp: string, ch: string) => sp + ch.toUpperCase()));
    case 'typeof':
      return fqlTypeOf(a);
    case 'bool':
      return toBool(a);
    case 'string':
      return typeof a === 'string' ? a : JSON.stringify(a ?? null);
    case 'number':
      return toNumber(a);
  }
}

function toBool(v: Value): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return TRUE_WORDS.has(v); // Go's strconv.ParseBool spellings
  if (Array.isArray(v)) return v.length > 0;
  return false;
}

function toNumber(v: Value): number | null {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string' || v.trim() === '') return null;
  const n = Number(v.trim());
  return Number.isFinite(n) ? n : null;
}
