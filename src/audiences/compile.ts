import { type FqlNode, parseFql } from '../lib/fql';
import type { CountOp, TraitOp } from './conditions';
import { type Audience, type ComputedTrait, type Condition, propertyPath } from './definitions';
import { topoSortAudiences } from './graph';
import { sealedLiteral } from './ops';
import { parseWindow } from './window';

/** A definition as stored: its id (computation_id), version and validated body. */
export interface Stored<T> {
  id: string;
  version: number;
  definition: T;
}

/** "Events named `name` (or any, for `*`) for which `where` holds"; shared by identical conditions. */
export interface EventMatcher {
  index: number;
  name: string;
  where: FqlNode | null;
  /** The `where` FQL as written: with `name`, it identifies the matcher across objects (aggregate specs). */
  whereSource: string | null;
}

export type CompiledCondition =
  | { kind: 'and' | 'or'; children: CompiledCondition[] }
  | { kind: 'not'; child: CompiledCondition }
  | { kind: 'event'; matcher: EventMatcher; windowMs: number | null; op: CountOp; count: number }
  | { kind: 'trait'; name: string; op: TraitOp; value: unknown; sealed?: true }
  | { kind: 'computed'; key: string; op: TraitOp; value: unknown }
  | { kind: 'audience'; key: string };

export interface CompiledTrait extends Stored<ComputedTrait> {
  matcher: EventMatcher;
  windowMs: number | null;
  property: string[] | null;
}
export interface CompiledAudience extends Stored<Audience> {
  root: CompiledCondition;
}

/** Everything evaluation needs, compiled once per definitions revision and cached per isolate. */
export interface DefinitionSet {
  revision: number;
  computedTraits: CompiledTrait[];
  /** In dependency order: an audience comes after those it references. */
  audiences: CompiledAudience[];
  matchers: EventMatcher[];
  /** Every (matcher, window) pair whose edges can change a result; window null means all time. */
  windows: { matcher: EventMatcher; windowMs: number | null }[];
}

/** Compiles validated definitions: FQL parsed once, windows in ms, audiences topologically sorted. */
export function compileDefinitions(input: {
  revision: number;
  computedTraits: readonly Stored<ComputedTrait>[];
  audiences: readonly Stored<Audience>[];
}): DefinitionSet {
  const matchers = new Map<string, EventMatcher>();
  const windows = new Map<string, { matcher: EventMatcher; windowMs: number | null }>();
  const use = (name: string, where: string | undefined, within: string | undefined) => {
    const id = JSON.stringify([name, where ?? null]);
    let matcher = matchers.get(id);
    if (!matcher) {
      matcher = { index: matchers.size, name, where: where ? parseFql(where) : null, whereSource: where ?? null };
      matchers.set(id, matcher);
    }
    const windowMs = within === undefined ? null : parseWindow(within);
    windows.set(`${matcher.index}:${windowMs}`, { matcher, windowMs });
    return { matcher, windowMs };
  };

  const computedTraits = input.computedTraits.map((t): CompiledTrait => {
    const d = t.definition;
    return { ...t, ...use(d.event, d.where, d.within), property: d.property ? propertyPath(d.property) : null };
  });

  const compile = (c: Condition): CompiledCondition => {
    if ('and' in c) return { kind: 'and', children: c.and.map(compile) };
    if ('or' in c) return { kind: 'or', children: c.or.map(compile) };
    if ('not' in c) return { kind: 'not', child: compile(c.not) };
    if ('audience' in c) return { kind: 'audience', key: c.audience };
    if ('trait' in c) {
      // A literal sealed at save time (a PII trait) compiles to its equality tags.
      const tags = c.op === 'exists' ? null : sealedLiteral(c.op, c.value);
      if (tags !== null) return { kind: 'trait', name: c.trait, op: c.op, value: tags, sealed: true };
      return { kind: 'trait', name: c.trait, op: c.op, value: c.value };
    }
    if ('computed' in c) return { kind: 'computed', key: c.computed, op: c.op, value: c.value };
    const [op, count] = (Object.entries(c.count ?? { '>=': 1 })[0] ?? ['>=', 1]) as [CountOp, number];
    return { kind: 'event', ...use(c.event, c.where, c.within), op, count };
  };
  const nodes = input.audiences.map((stored) => ({
    key: stored.definition.key,
    definition: stored.definition.definition,
    stored,
  }));
  const audiences = topoSortAudiences(nodes).map(({ stored }) => ({
    ...stored,
    root: compile(stored.definition.definition),
  }));

  return {
    revision: input.revision,
    computedTraits,
    audiences,
    matchers: [...matchers.values()],
    windows: [...windows.values()],
  };
}

/** What the Profile DO should read from its event log: these event names (or all) since `since` (or ever). */
export function eventQuery(set: DefinitionSet, now: number): { names: string[] | 'all'; since: number | null } {
  const names = new Set(set.matchers.map((m) => m.name));
  let since: number | null = now;
  for (const w of set.windows) since = w.windowMs === null || since === null ? null : Math.min(since, now - w.windowMs);
  return { names: names.has('*') ? 'all' : [...names], since };
}
