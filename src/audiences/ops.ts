import { equal } from '../lib/fql/evaluate';
import { tagOf } from '../privacy/pii';
import type { TraitOp } from './conditions';

/** Applies a trait/computed condition operator; types are strict as in FQL, missing values are null. */
export function applyOp(op: TraitOp, actual: unknown, expected: unknown): boolean {
  const a = actual ?? null;
  switch (op) {
    case '=':
      return equal(a, expected);
    case '!=':
      return !equal(a, expected);
    case '>':
    case '>=':
    case '<':
    case '<=':
      if (typeof a !== 'number' || typeof expected !== 'number') return false;
      return op === '>' ? a > expected : op === '>=' ? a >= expected : op === '<' ? a < expected : a <= expected;
    case 'contains':
      if (typeof a === 'string') return typeof expected === 'string' && a.includes(expected);
      return Array.isArray(a) && a.some((x) => equal(x, expected));
    case 'starts_with':
      return typeof a === 'string' && typeof expected === 'string' && a.startsWith(expected);
    case 'exists':
      return a !== null;
    case 'in':
      return Array.isArray(expected) && expected.some((x) => equal(x, a));
  }
}

/** Reads a trait by its exact key, or else as a dot path into nested objects. */
export function readTrait(traits: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(traits, name)) return traits[name] ?? null;
  let cur: unknown = traits;
  for (const part of name.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, part)) return null;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur ?? null;
}

/**
 * A condition on a sealed PII trait (README, Privacy): its literal was sealed with an equality tag
 * when the definition was saved, so the profile's sealed value is compared by tag, never opened.
 * `expected` is the literal's tag (`=`, `!=`) or list of tags (`in`); a value sealed without a tag
 * (written before tags existed) or stored in clear matches nothing. Other operators are refused
 * when such a definition is saved; `exists` is compiled as a plain condition.
 */
export function applySealedOp(op: TraitOp, actual: unknown, expected: unknown): boolean {
  const tag = tagOf(actual);
  switch (op) {
    case '=':
      return tag !== null && tag === expected;
    case '!=':
      return tag !== expected; // absent, untagged or clear: not shown equal
    case 'in':
      return tag !== null && Array.isArray(expected) && expected.includes(tag);
    default:
      return false;
  }
}

/** The tags a sealed literal compiles to (null when the literal is not sealed with tags). */
export function sealedLiteral(op: TraitOp, value: unknown): unknown {
  if (op === '=' || op === '!=') return tagOf(value);
  if (op !== 'in' || !Array.isArray(value) || !value.length) return null;
  const tags = value.map(tagOf);
  return tags.every((t) => t !== null) ? tags : null;
}
