import { emptyValue } from '../../audiences/aggregate';
import type { DefinitionSet } from '../../audiences/compile';
import { evaluateWith, type Facts } from '../../audiences/evaluate';
import { countSpecKey, planSpecs, stateResult, traitSpecKey } from '../../audiences/specs';
import type { Collection } from '../../identity/identifiers';
import { withProfileConsent } from '../../privacy/consent';
import type { ProfileStore } from '../store';
import type { AggregateStore, FoldEvent, SpecRow } from './aggregate-store';
import { engageEvents, identityOf, MAX_LINKED_USERS, type ProfileIdentity, SPACE_ID } from './engage-events';
import type { EngageStore } from './state-store';
import type { WindowResults } from './window-results';

/** The stores an evaluation reads and writes, all in the Profile object's SQLite. */
export interface EvaluationStores {
  /** Traits, identifiers and links are read here; outbox rows are written here. */
  profile: ProfileStore;
  engage: EngageStore;
  aggregates: AggregateStore;
  windows: WindowResults;
}

export interface EvaluationInput {
  profileId: string;
  collection: Collection;
  /** Evaluation instant (epoch ms): the apply's, or the alarm's. */
  now: number;
}

/** What an evaluation did, for the Profile object to act on after the commit. */
export interface Evaluation {
  /** It wrote outbox rows (destinations' audience and computed-trait events) to send. */
  outboxWritten: boolean;
  /** When a window edge can next change a result (epoch ms), or null. */
  nextChangeAt: number | null;
}

/**
 * Re-evaluates every computed trait and audience of one profile; call it inside the transaction
 * that applied its events (`applied`, folded into the running aggregates here, so a rollback undoes
 * both). Never reads event bodies: all-time results come from the aggregates, windowed ones from
 * SQL over the window's match rows. Stores the new values, writes one outbox row per change and
 * destination set, and one membership row per audience change (drained to D1 later).
 */
export function evaluateInTransaction(
  stores: EvaluationStores,
  set: DefinitionSet,
  input: EvaluationInput,
  applied: readonly FoldEvent[] = [],
): Evaluation {
  const { engage: store, aggregates, windows } = stores;
  const { now } = input;
  const plan = planSpecs(set);
  const specs = aggregates.sync(plan.specs, now);
  for (const e of applied) for (const row of specs.values()) aggregates.fold(row, e, now);
  aggregates.foldDue(specs, now);
  const stored = current(store, set);
  const computed: Record<string, unknown> = {};
  const audiences: Record<string, boolean> = {};
  for (const v of stored) {
    if (v.kind === 'audience') audiences[v.key] = v.value === true;
    else computed[v.key] = v.value;
  }
  const traits = stores.profile.traits();
  const result = {
    ...evaluateWith(set, { traits, computed, audiences }, aggregateFacts(aggregates, windows, specs, now)),
    nextChangeAt: nextChange(windows, specs, plan.windows, now),
  };

  let outbound = 0;
  let who: ProfileIdentity | undefined;
  for (const change of result.changes) {
    const seq = store.saveChange(change, now);
    if (change.kind === 'audience') store.addMembership(change.id, change.value === true, now);
    if (!change.destinationIds.length) continue;
    who ??= identityOf(stores.profile.personIdentifiers(), traits, stores.profile.linkedUserKeys(MAX_LINKED_USERS));
    const id = `${change.id}_${input.profileId}_${seq}`;
    for (const made of engageEvents(change, who, input.collection, { spaceId: SPACE_ID, id, at: now })) {
      const event = withProfileConsent(made, traits); // withheld categories keep it from destinations
      const message = {
        kind: 'event' as const,
        profileId: input.profileId,
        event,
        destinationIds: change.destinationIds,
      };
      stores.profile.enqueue(message, now);
      outbound++;
    }
  }
  store.setState({ revision: set.revision, nextChangeAt: result.nextChangeAt, stale: false });
  return { outboxWritten: outbound > 0, nextChangeAt: result.nextChangeAt };
}

/** Results read from the aggregates: all-time from the running state, windowed from the match rows. */
function aggregateFacts(
  aggregates: AggregateStore,
  windows: WindowResults,
  specs: Map<string, SpecRow>,
  now: number,
): Facts {
  return {
    trait(t) {
      const type = t.definition.type;
      const row = specs.get(traitSpecKey(t));
      if (!row) return emptyValue(type);
      if (t.windowMs !== null) return windows.windowResult(row, type, { lo: now - t.windowMs, hi: now });
      if (type === 'most_frequent' || type === 'unique_list' || type === 'unique_count')
        return aggregates.valuesResult(row, type);
      return stateResult(type, row.state);
    },
    count(matcher, windowMs) {
      const row = specs.get(countSpecKey(matcher));
      if (!row) return 0;
      return windowMs === null ? row.state.count : windows.count(row, windowMs, now);
    },
  };
}

/** The next instant a result can change: a future event coming into effect, or the oldest leaving a window. */
function nextChange(
  results: WindowResults,
  specs: Map<string, SpecRow>,
  windows: { key: string; windowMs: number | null }[],
  now: number,
): number | null {
  let next: number | null = null;
  const consider = (t: number | null) => {
    if (t !== null && t > now && (next === null || t < next)) next = t;
  };
  const future = results.nextFuture(); // events not yet in effect: one query for every spec
  for (const { key, windowMs } of windows) {
    const row = specs.get(key);
    if (!row) continue;
    consider(future.get(row.id) ?? null);
    if (windowMs !== null) {
      const oldest = results.firstIn(row, now - windowMs, now);
      if (oldest !== null) consider(oldest + windowMs);
    }
  }
  return next;
}

/**
 * The stored results of definitions that still exist (same key and id); results of deleted or
 * re-created definitions are dropped without any event, as Segment does for a deleted audience.
 */
function current(store: EngageStore, set: DefinitionSet) {
  const defined = new Map([...set.audiences, ...set.computedTraits].map((d) => [d.definition.key, d.id]));
  const stored = store.values();
  const stale = stored.filter((v) => defined.get(v.key) !== v.defId);
  if (stale.length) store.deleteValues(stale.map((v) => v.key));
  return stale.length ? stored.filter((v) => defined.get(v.key) === v.defId) : stored;
}
