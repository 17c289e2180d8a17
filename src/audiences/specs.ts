import { type FqlNode, parseFql } from '../lib/fql';
import { evaluateFql, resolvePath } from '../lib/fql/evaluate';
import type { CompiledTrait, DefinitionSet, EventMatcher } from './compile';
import type { ComputedTraitType } from './definitions';

/**
 * Aggregate specs: what a Profile object keeps per definition input so that evaluation never
 * re-reads its event log. A spec is "events named N (or any) where W holds, and the value of
 * property P" — shared by every definition over the same input, and self-describing (its key
 * parses back into the matcher), so a merged-in profile's aggregates can be combined without the
 * definitions. Specs that need value frequencies (most_frequent, unique_*) are separate specs,
 * because a frequency table cannot be rebuilt later for events no longer in the log.
 */
export interface AggregateSpec {
  key: string;
  name: string;
  where: FqlNode | null;
  property: string[] | null;
  /** Keeps value frequencies (most_frequent, unique_list, unique_count). */
  values: boolean;
  /** Longest window any definition reads over it: its match rows are kept at least that long. */
  keepMs: number;
}

const VALUE_TYPES: ReadonlySet<ComputedTraitType> = new Set(['most_frequent', 'unique_list', 'unique_count']);

/** The key of a spec: `[name, where, property path, values]` as JSON. */
export function specKey(m: Pick<EventMatcher, 'name' | 'whereSource'>, property: string[] | null, values: boolean) {
  return JSON.stringify([m.name, m.whereSource, property, values ? 1 : 0]);
}

/** The spec a computed trait reads. */
export function traitSpecKey(t: CompiledTrait): string {
  return specKey(t.matcher, t.definition.type === 'count' ? null : t.property, VALUE_TYPES.has(t.definition.type));
}

/** The spec an event condition (a count of matching events) reads. */
export function countSpecKey(m: EventMatcher): string {
  return specKey(m, null, false);
}

/** Parses a spec key back (FQL parsed again); throws on a malformed key. */
export function parseSpecKey(key: string, keepMs = 0): AggregateSpec {
  const [name, whereSource, property, values] = JSON.parse(key) as [string, string | null, string[] | null, 0 | 1];
  return { key, name, where: whereSource ? parseFql(whereSource) : null, property, values: values === 1, keepMs };
}

/** Every spec the definitions read, with the longest window over each, and every (spec, window) pair. */
export function planSpecs(set: DefinitionSet): {
  specs: Map<string, AggregateSpec>;
  windows: { key: string; windowMs: number | null }[];
} {
  const specs = new Map<string, AggregateSpec>();
  const windows = new Map<string, { key: string; windowMs: number | null }>();
  const use = (key: string, windowMs: number | null) => {
    const spec = specs.get(key) ?? parseSpecKey(key);
    spec.keepMs = Math.max(spec.keepMs, windowMs ?? 0);
    specs.set(key, spec);
    windows.set(`${key}|${windowMs}`, { key, windowMs });
  };
  for (const t of set.computedTraits) use(traitSpecKey(t), t.windowMs);
  const visit = (c: import('./compile').CompiledCondition): void => {
    if (c.kind === 'and' || c.kind === 'or') c.children.forEach(visit);
    else if (c.kind === 'not') visit(c.child);
    else if (c.kind === 'event') use(countSpecKey(c.matcher), c.windowMs);
  };
  for (const a of set.audiences) visit(a.root);
  return { specs, windows: [...windows.values()] };
}

/** An event as evaluation sees it: the stored JSON with `timestamp` as epoch ms (the log's `ts`). */
export type RawEvent = Record<string, unknown>;

/** Whether an event counts for a spec. Named specs take track events only (the log's `name` of a track call). */
export function specMatches(spec: AggregateSpec, raw: RawEvent): boolean {
  if (spec.name !== '*' && (raw.type !== 'track' || raw.event !== spec.name)) return false;
  return !spec.where || evaluateFql(spec.where, raw);
}

/** The value a spec aggregates for an event (null when absent or when the spec only counts). */
export function specValue(spec: AggregateSpec, raw: RawEvent): unknown {
  if (!spec.property) return null;
  const v = resolvePath(raw, spec.property);
  return v === undefined ? null : v;
}

/** A point in the event order: (timestamp, messageId), as the log sorts. */
export interface Point {
  ts: number;
  id: string;
  value: unknown;
}
const before = (a: Point, b: Point) => a.ts < b.ts || (a.ts === b.ts && a.id < b.id);

/** The running aggregate of one spec over every event folded in so far (all time). */
export interface RunningState {
  count: number;
  /** Number of finite numeric values; sum, min and max are over those. */
  numCount: number;
  sum: number;
  min: number | null;
  max: number | null;
  first: Point | null;
  last: Point | null;
  /** Distinct values in the frequency table (values specs), and values not tracked past its cap. */
  distinct: number;
  overflow: number;
}

export const emptyState = (): RunningState => ({
  count: 0,
  numCount: 0,
  sum: 0,
  min: null,
  max: null,
  first: null,
  last: null,
  distinct: 0,
  overflow: 0,
});

/** Adds one matching event (`value` null when the property is absent). */
export function foldState(s: RunningState, p: Point): RunningState {
  const out = { ...s, count: s.count + 1 };
  if (p.value === null) return out;
  if (typeof p.value === 'number' && Number.isFinite(p.value)) {
    out.numCount++;
    out.sum += p.value;
    out.min = out.min === null ? p.value : Math.min(out.min, p.value);
    out.max = out.max === null ? p.value : Math.max(out.max, p.value);
  }
  if (!out.first || before(p, out.first)) out.first = p;
  if (!out.last || before(out.last, p)) out.last = p;
  return out;
}

/** The state over the union of two disjoint event sets (a merge). */
export function combineStates(a: RunningState, b: RunningState): RunningState {
  const pick = (x: Point | null, y: Point | null, first: boolean) => (!x ? y : !y ? x : before(x, y) === first ? x : y);
  const ext = (x: number | null, y: number | null, f: (a: number, b: number) => number) =>
    x === null ? y : y === null ? x : f(x, y);
  return {
    count: a.count + b.count,
    numCount: a.numCount + b.numCount,
    sum: a.sum + b.sum,
    min: ext(a.min, b.min, Math.min),
    max: ext(a.max, b.max, Math.max),
    first: pick(a.first, b.first, true),
    last: pick(a.last, b.last, false),
    distinct: a.distinct, // the frequency table's rows are combined (and counted) by the store
    overflow: a.overflow + b.overflow,
  };
}

/**
 * Takes out an event counted on both sides of a merge. min, max, first and last are unions, so a
 * double-counted event does not change them; only the additive parts are corrected.
 */
export function subtractState(s: RunningState, value: unknown): RunningState {
  const out = { ...s, count: s.count - 1 };
  if (typeof value === 'number' && Number.isFinite(value)) {
    out.numCount--;
    out.sum -= value;
  }
  return out;
}

/** A computed trait's all-time value from its running state (value kinds come from the frequency table). */
export function stateResult(
  type: Exclude<ComputedTraitType, 'most_frequent' | 'unique_list' | 'unique_count'>,
  s: RunningState,
): unknown {
  switch (type) {
    case 'count':
      return s.count;
    case 'sum':
      return s.numCount ? s.sum : null;
    case 'avg':
      return s.numCount ? s.sum / s.numCount : null;
    case 'min':
      return s.min;
    case 'max':
      return s.max;
    case 'first':
      return s.first?.value ?? null;
    case 'last':
      return s.last?.value ?? null;
  }
}
