import type { ComputedTraitType } from './definitions';
import { valueKey } from './values';

/** A unique_list keeps at most this many values (the first seen). */
export const UNIQUE_LIST_LIMIT = 1000;

/** The value of a computed trait over no events; a profile starts from it, so no change is sent for it. */
export function emptyValue(type: ComputedTraitType): unknown {
  if (type === 'count' || type === 'unique_count') return 0;
  if (type === 'unique_list') return [];
  return null;
}

/**
 * Aggregates the non-null property values of the matching events (oldest first). sum/avg/min/max
 * use numbers only; most_frequent needs a value seen twice and breaks ties alphabetically (Segment's rule).
 */
export function aggregate(type: Exclude<ComputedTraitType, 'count'>, values: unknown[]): unknown {
  switch (type) {
    case 'sum':
    case 'avg':
    case 'min':
    case 'max': {
      const nums = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (nums.length === 0) return null;
      if (type === 'min') return Math.min(...nums);
      if (type === 'max') return Math.max(...nums);
      const sum = nums.reduce((a, b) => a + b, 0);
      return type === 'sum' ? sum : sum / nums.length;
    }
    case 'first':
      return values[0] ?? null;
    case 'last':
      return values.at(-1) ?? null;
    case 'most_frequent':
      return mostFrequent(values);
    case 'unique_list':
      return [...unique(values).values()].slice(0, UNIQUE_LIST_LIMIT);
    case 'unique_count':
      return unique(values).size;
  }
}

function unique(values: unknown[]): Map<string, unknown> {
  const seen = new Map<string, unknown>();
  for (const v of values) {
    const k = valueKey(v);
    if (!seen.has(k)) seen.set(k, v);
  }
  return seen;
}

/** Orders values for Segment's alphabetical tie-break: strings by themselves, others by their JSON. */
export function tieBreakKey(v: unknown): string {
  return typeof v === 'string' ? v : valueKey(v);
}

function mostFrequent(values: unknown[]): unknown {
  const counts = new Map<string, { value: unknown; n: number }>();
  for (const v of values) {
    const k = valueKey(v);
    const c = counts.get(k);
    if (c) c.n++;
    else counts.set(k, { value: v, n: 1 });
  }
  return pickMostFrequent(counts.values());
}

/** The most frequent of distinct values with their counts: seen at least twice, ties alphabetically. */
export function pickMostFrequent(entries: Iterable<{ value: unknown; n: number }>): unknown {
  let best: { value: unknown; n: number; key: string } | null = null;
  for (const c of entries) {
    if (c.n < 2) continue;
    const key = valueKey(c.value);
    const order = best ? compareTie(c.value, key, best.value, best.key) : -1;
    if (!best || c.n > best.n || (c.n === best.n && order < 0)) best = { ...c, key };
  }
  return best ? best.value : null;
}

function compareTie(a: unknown, aKey: string, b: unknown, bKey: string): number {
  const x = tieBreakKey(a);
  const y = tieBreakKey(b);
  if (x !== y) return x < y ? -1 : 1;
  return aKey < bKey ? -1 : aKey > bKey ? 1 : 0;
}
