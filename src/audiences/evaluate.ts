import { evaluateFql, resolvePath } from '../lib/fql/evaluate';
import { aggregate, emptyValue } from './aggregate';
import type { CompiledCondition, CompiledTrait, DefinitionSet, EventMatcher } from './compile';
import { applyOp, applySealedOp, readTrait } from './ops';
import { valueKey } from './values';
import { toMillis } from './window';

/** One event from the profile's log; `where` FQL sees all of it. Timestamps are ISO strings or epoch ms. */
export interface SnapshotEvent {
  type?: string;
  event?: string;
  timestamp: string | number;
  properties?: Record<string, unknown>;
  [field: string]: unknown;
}

/** What the Profile DO hands in: current traits, its (relevant) events, and the last results it stored. */
export interface AudienceSnapshot {
  traits: Record<string, unknown>;
  events: readonly SnapshotEvent[];
  /** Computed-trait values from the previous evaluation (absent key = never computed). */
  computed?: Record<string, unknown>;
  /** Audience membership from the previous evaluation (absent key = not a member). */
  audiences?: Record<string, boolean>;
}

/** A value that changed since the previous evaluation: it becomes one outbound event per destination. */
export interface Change {
  kind: 'audience' | 'computed_trait';
  key: string;
  id: string;
  version: number;
  previous: unknown;
  value: unknown;
  /** How and where to send it: copied from the definition so an outbox row needs nothing else. */
  emit: 'identify' | 'track';
  destinationIds: string[];
}

export interface Evaluation {
  computed: Record<string, unknown>;
  audiences: Record<string, boolean>;
  changes: Change[];
  /** Earliest instant (epoch ms, > now) at which a window edge could change a result; null if none. */
  nextChangeAt: number | null;
}

interface TimedEvent {
  ms: number;
  raw: SnapshotEvent;
}

/**
 * What evaluation asks of a profile's history: a computed trait's value over its window, and how
 * many events match a condition's matcher in its window. The Profile object answers from its
 * running aggregates and match rows (`profiles/engage/aggregate-store.ts`); `evaluateProfile` from a list of events.
 */
export interface Facts {
  trait(t: CompiledTrait): unknown;
  count(matcher: EventMatcher, windowMs: number | null): number;
}

/** Evaluates every computed trait and audience for one profile at `now` (pure; same input, same output). */
export function evaluateProfile(set: DefinitionSet, snapshot: AudienceSnapshot, now: number): Evaluation {
  const events = snapshot.events
    .map((raw, i) => ({ ms: toMillis(raw.timestamp), raw, i }))
    .filter((e): e is TimedEvent & { i: number } => e.ms !== null)
    .sort((a, b) => a.ms - b.ms || a.i - b.i);
  const matched = new Map<EventMatcher, TimedEvent[]>();
  const matching = (m: EventMatcher) => {
    let list = matched.get(m);
    if (!list) {
      list = events.filter(
        (e) => (m.name === '*' || e.raw.event === m.name) && (!m.where || evaluateFql(m.where, e.raw)),
      );
      matched.set(m, list);
    }
    return list;
  };
  const inWindow = (m: EventMatcher, windowMs: number | null) => {
    const list = matching(m);
    return list.slice(windowMs === null ? 0 : upperBound(list, now - windowMs), upperBound(list, now));
  };
  const facts: Facts = {
    trait: (t) => computeTrait(t, inWindow(t.matcher, t.windowMs)),
    count: (m, windowMs) => inWindow(m, windowMs).length,
  };

  let nextChangeAt: number | null = null;
  const consider = (t: number | undefined) => {
    if (t !== undefined && t > now && (nextChangeAt === null || t < nextChangeAt)) nextChangeAt = t;
  };
  for (const { matcher, windowMs } of set.windows) {
    const list = matching(matcher);
    consider(list[upperBound(list, now)]?.ms); // the next event to come into effect
    if (windowMs !== null) {
      const oldest = list[upperBound(list, now - windowMs)];
      if (oldest && oldest.ms <= now) consider(oldest.ms + windowMs); // the next one to age out
    }
  }
  return { ...evaluateWith(set, snapshot, facts), nextChangeAt };
}

/** Computed traits, then audiences (in dependency order), and what changed against the stored results. */
export function evaluateWith(
  set: DefinitionSet,
  prior: Omit<AudienceSnapshot, 'events'>,
  facts: Facts,
): Omit<Evaluation, 'nextChangeAt'> {
  const computed: Record<string, unknown> = {};
  for (const t of set.computedTraits) computed[t.definition.key] = facts.trait(t);

  const audiences: Record<string, boolean> = {};
  const test = (c: CompiledCondition): boolean => {
    switch (c.kind) {
      case 'and':
        return c.children.every(test);
      case 'or':
        return c.children.some(test);
      case 'not':
        return !test(c.child);
      case 'audience':
        return audiences[c.key] === true;
      case 'trait':
        if (c.sealed) return applySealedOp(c.op, readTrait(prior.traits, c.name), c.value);
        return applyOp(c.op, readTrait(prior.traits, c.name), c.value);
      case 'computed':
        return applyOp(c.op, computed[c.key] ?? null, c.value);
      case 'event':
        return applyOp(c.op, facts.count(c.matcher, c.windowMs), c.count);
    }
  };
  for (const a of set.audiences) audiences[a.definition.key] = test(a.root);
  return { computed, audiences, changes: diff(set, prior, computed, audiences) };
}

function computeTrait(t: CompiledTrait, events: TimedEvent[]): unknown {
  if (t.definition.type === 'count') return events.length;
  const values: unknown[] = [];
  for (const e of events) {
    const v = resolvePath(e.raw, t.property!);
    if (v !== null) values.push(v);
  }
  return aggregate(t.definition.type, values);
}

// Index of the first event with ms > t (events are sorted by ms).
function upperBound(list: TimedEvent[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].ms <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function diff(
  set: DefinitionSet,
  snapshot: Omit<AudienceSnapshot, 'events'>,
  computed: Record<string, unknown>,
  audiences: Record<string, boolean>,
): Change[] {
  const changes: Change[] = [];
  for (const t of set.computedTraits) {
    const key = t.definition.key;
    const before = snapshot.computed && Object.hasOwn(snapshot.computed, key) ? snapshot.computed[key] : undefined;
    const previous = before === undefined ? emptyValue(t.definition.type) : before;
    if (valueKey(previous) !== valueKey(computed[key])) {
      const { emit, destinationIds } = t.definition;
      changes.push({
        kind: 'computed_trait',
        key,
        id: t.id,
        version: t.version,
        previous,
        value: computed[key],
        emit,
        destinationIds,
      });
    }
  }
  for (const a of set.audiences) {
    const key = a.definition.key;
    const previous = snapshot.audiences?.[key] === true;
    if (previous !== audiences[key]) {
      const { emit, destinationIds } = a.definition;
      changes.push({
        kind: 'audience',
        key,
        id: a.id,
        version: a.version,
        previous,
        value: audiences[key],
        emit,
        destinationIds,
      });
    }
  }
  return changes;
}
