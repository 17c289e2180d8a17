import type { OutboundEvent } from '../delivery/messages';
import type { Collection } from '../identity/identifiers';
import type { EnrichedEvent } from '../ingest/spec';
import { withProfileConsent } from '../privacy/consent';
import { emptyValue } from './aggregate';
import type { AggregateStore, FoldEvent, SpecRow } from './aggregate-store';
import type { DefinitionSet } from './compile';
import { changeToEvent, personasContext } from './emit';
import { type Change, evaluateWith, type Facts } from './evaluate';
import { type EngageStore, MAX_LINKED_USERS, type ProfileIdentity } from './profile-store';
import { countSpecKey, planSpecs, stateResult, traitSpecKey } from './specs';
import type { WindowResults } from './window-results';

/** Engage space id sent in `context.personas`: one deployment is one space (the Profile API's `default`). */
export const SPACE_ID = 'default';

export interface HookInput {
  profileId: string;
  collection: Collection;
  /** Evaluation instant (epoch ms): the apply's, or the alarm's. */
  now: number;
  /** Writes one outbox row (same transaction). */
  enqueue(message: OutboundEvent): void;
}

export interface HookResult {
  changes: Change[];
  /** Outbox rows written. */
  outbound: number;
  nextChangeAt: number | null;
}

/**
 * Re-evaluates every computed trait and audience of one profile; call it inside the transaction
 * that applied its events (`applied`, folded into the running aggregates here, so a rollback undoes
 * both). Never reads event bodies: all-time results come from the aggregates, windowed ones from
 * SQL over the window's match rows. Stores the new values, writes one outbox row per change and
 * destination set, and one membership row per audience change (drained to D1 later). Returns when a
 * window edge can next change a result (the profile's alarm).
 */
export function evaluateInTransaction(
  store: EngageStore,
  { aggregates, windows }: { aggregates: AggregateStore; windows: WindowResults },
  set: DefinitionSet,
  input: HookInput,
  applied: readonly FoldEvent[] = [],
): HookResult {
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
  const traits = store.traits();
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
    who ??= store.identity(traits);
    const id = `${change.id}_${input.profileId}_${seq}`;
    for (const made of engageEvents(change, who, input.collection, { spaceId: SPACE_ID, id, at: now })) {
      const event = withProfileConsent(made, traits); // withheld categories keep it from destinations
      input.enqueue({ kind: 'event', profileId: input.profileId, event, destinationIds: change.destinationIds });
      outbound++;
    }
  }
  store.setState({ revision: set.revision, nextChangeAt: result.nextChangeAt, stale: false });
  return { changes: result.changes, outbound, nextChangeAt: result.nextChangeAt };
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

/**
 * The events destinations receive for one change. A user profile: one `identify` or `track`, as
 * Segment Engage sends it (none when the profile has neither userId nor anonymousId). An account:
 * per linked user, a `group` call with trait `<key>` (identify mode) or the `track` event with
 * `context.groupId`, since Segment sends account-level results as group calls for its users.
 */
export function engageEvents(
  change: Change,
  who: ProfileIdentity,
  collection: Collection,
  opts: { spaceId: string; id: string; at: number },
): EnrichedEvent[] {
  if (collection === 'users') {
    if (!who.userId && !who.anonymousId) return [];
    return [changeToEvent(change, who, opts)];
  }
  if (!who.groupId) return [];
  const out: EnrichedEvent[] = [];
  for (const [i, key] of who.linkedUsers.slice(0, MAX_LINKED_USERS).entries()) {
    const user = key.startsWith('user_id:')
      ? { userId: key.slice('user_id:'.length) }
      : key.startsWith('anonymous_id:')
        ? { anonymousId: key.slice('anonymous_id:'.length) }
        : undefined;
    if (!user) continue;
    const event = changeToEvent(change, user, { ...opts, id: `${opts.id}_${i}` });
    if (event.type === 'identify') {
      const { traits: _traits, ...rest } = event;
      out.push({
        ...rest,
        type: 'group',
        groupId: who.groupId,
        traits: { [change.key]: change.value },
        context: { ...event.context, personas: personasContext(change, opts.spaceId) },
      } as EnrichedEvent);
    } else {
      out.push({ ...event, context: { ...event.context, groupId: who.groupId } } as EnrichedEvent);
    }
  }
  return out;
}
