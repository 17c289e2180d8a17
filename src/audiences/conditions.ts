import { z } from 'zod';
import { FqlError, parseFql } from '../lib/fql';
import { isObject } from '../lib/json';
import { parseWindow } from './window';

/** Comparison operators for event counts, e.g. `{ ">=": 2 }`. */
export const COUNT_OPS = ['=', '!=', '>', '>=', '<', '<='] as const;
export type CountOp = (typeof COUNT_OPS)[number];
/** Operators of trait and computed-trait conditions. */
export const TRAIT_OPS = ['=', '!=', '>', '>=', '<', '<=', 'contains', 'starts_with', 'exists', 'in'] as const;
export type TraitOp = (typeof TRAIT_OPS)[number];

export interface EventCondition {
  event: string;
  where?: string;
  count?: Partial<Record<CountOp, number>>;
  within?: string;
}
export interface TraitCondition {
  trait: string;
  op: TraitOp;
  value?: unknown;
}
export interface ComputedCondition {
  computed: string;
  op: TraitOp;
  value?: unknown;
}
/** A node of an audience definition tree. */
export type Condition =
  | { and: Condition[] }
  | { or: Condition[] }
  | { not: Condition }
  | EventCondition
  | TraitCondition
  | ComputedCondition
  | { audience: string };

/** One problem in a definition; `path` locates the offending node, e.g. `["definition","and",1,"count"]`. */
export interface DefinitionIssue {
  path: (string | number)[];
  message: string;
}

export const MAX_CONDITIONS = 50;
const MAX_DEPTH = 10;
const KINDS = ['and', 'or', 'not', 'event', 'trait', 'computed', 'audience'] as const;

/** An FQL string, checked by parsing it; the issue names the FQL error position. */
export const FqlString = z
  .string()
  .max(2000)
  .superRefine((src, ctx) => {
    try {
      parseFql(src);
    } catch (e) {
      if (!(e instanceof FqlError)) throw e;
      ctx.addIssue({ code: 'custom', message: `invalid FQL: ${e.message}` });
    }
  })
  .describe('A Filter Query Language expression over the event, e.g. "properties.total > 50"');

/** A time window such as "30d", "12h", "15m", "2w". */
export const Window = z
  .string()
  .refine((w) => parseWindow(w) !== null, 'must be a window like "30d", "12h", "15m" or "2w" (at most 10 years)')
  .describe('Look-back window, e.g. "30d"');

const Count = z.record(z.string(), z.number()).superRefine((obj, ctx) => {
  const keys = Object.keys(obj);
  const op = keys[0] as CountOp;
  if (keys.length !== 1 || !COUNT_OPS.includes(op)) {
    ctx.addIssue({
      code: 'custom',
      message: `must have exactly one operator of ${COUNT_OPS.join(' ')}, e.g. {">=": 2}`,
    });
  } else if (!Number.isInteger(obj[op]) || obj[op]! < 0) {
    ctx.addIssue({ code: 'custom', message: 'the count must be a non-negative integer', path: [op] });
  }
});

const Name = z.string().trim().min(1).max(200);
const SCHEMAS = {
  event: z.strictObject({
    event: Name,
    where: FqlString.optional(),
    count: Count.optional(),
    within: Window.optional(),
  }),
  trait: z.strictObject({ trait: Name, op: z.enum(TRAIT_OPS), value: z.unknown().optional() }),
  computed: z.strictObject({ computed: Name, op: z.enum(TRAIT_OPS), value: z.unknown().optional() }),
  audience: z.strictObject({ audience: Name }),
};

/** Validates an audience definition tree, collecting every issue with the path of its node. */
export function checkCondition(value: unknown, path: (string | number)[], issues: DefinitionIssue[]): void {
  let count = 0;
  const fail = (at: (string | number)[], message: string) => {
    issues.push({ path: at, message });
  };
  const visit = (node: unknown, at: (string | number)[], depth: number): void => {
    if (++count === MAX_CONDITIONS + 1) fail(at, `a definition has at most ${MAX_CONDITIONS} conditions`);
    if (depth > MAX_DEPTH) {
      fail(at, `conditions nest at most ${MAX_DEPTH} deep`);
      return;
    }
    if (!isObject(node)) {
      fail(at, 'must be a condition object');
      return;
    }
    const kinds = KINDS.filter((k) => k in node);
    if (kinds.length !== 1) {
      const found = kinds.length
        ? `found ${kinds.join(' and ')}`
        : `found keys ${Object.keys(node).join(', ') || 'none'}`;
      fail(at, `a condition has exactly one of ${KINDS.join(', ')}; ${found}`);
      return;
    }
    const kind = kinds[0];
    if (kind === 'and' || kind === 'or' || kind === 'not') {
      if (Object.keys(node).length !== 1) fail(at, `"${kind}" takes no other keys`);
      if (kind === 'not') {
        visit(node.not, [...at, 'not'], depth + 1);
        return;
      }
      const list = node[kind];
      if (!Array.isArray(list) || list.length === 0) {
        fail([...at, kind], 'must be a non-empty list of conditions');
        return;
      }
      for (const [i, child] of list.entries()) visit(child, [...at, kind, i], depth + 1);
      return;
    }
    const parsed = SCHEMAS[kind].safeParse(node);
    if (!parsed.success) {
      for (const i of parsed.error.issues) fail([...at, ...(i.path as (string | number)[])], i.message);
    } else if (kind === 'trait' || kind === 'computed') {
      checkOperand(parsed.data as TraitCondition, at, issues);
    }
  };
  visit(value, path, 0);
}

function checkOperand(c: { op: TraitOp; value?: unknown }, at: (string | number)[], issues: DefinitionIssue[]): void {
  const where = [...at, 'value'];
  if (c.op === 'exists') {
    if (c.value !== undefined) issues.push({ path: where, message: '"exists" takes no value' });
  } else if (c.value === undefined) {
    issues.push({ path: where, message: `"${c.op}" needs a value` });
  } else if (c.op === 'in' && !Array.isArray(c.value)) {
    issues.push({ path: where, message: '"in" needs a list of values' });
  } else if (['>', '>=', '<', '<='].includes(c.op) && typeof c.value !== 'number') {
    issues.push({ path: where, message: `"${c.op}" compares numbers; value must be a number` });
  } else if (c.op === 'starts_with' && typeof c.value !== 'string') {
    issues.push({ path: where, message: '"starts_with" needs a string value' });
  }
}

/** Renders an issue path the way people read it: `definition.and[1].count`. */
export function formatPath(path: readonly (string | number)[]): string {
  return path.reduce<string>((s, p) => {
    if (typeof p === 'number') return `${s}[${p}]`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) return `${s}[${JSON.stringify(p)}]`;
    return s ? `${s}.${p}` : p;
  }, '');
}

/** Calls `fn` on every node of a (valid) tree, depth first, with its path. */
export function walkCondition(
  node: Condition,
  fn: (node: Condition, path: (string | number)[]) => void,
  path: (string | number)[] = ['definition'],
): void {
  fn(node, path);
  if ('and' in node) for (const [i, c] of node.and.entries()) walkCondition(c, fn, [...path, 'and', i]);
  else if ('or' in node) for (const [i, c] of node.or.entries()) walkCondition(c, fn, [...path, 'or', i]);
  else if ('not' in node) walkCondition(node.not, fn, [...path, 'not']);
}
