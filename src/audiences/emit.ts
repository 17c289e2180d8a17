import type { EnrichedEvent } from '../ingest/spec';
import type { Change } from './evaluate';

/** Who the profile is, as destinations match users: Engage sends userId, anonymousId and email. */
export interface EmitIdentity {
  userId?: string | null;
  anonymousId?: string | null;
  email?: string | null;
}

export interface EmitOptions {
  /** Engage space id; Segment sends it as both `namespace` and `space_id`. */
  spaceId: string;
  /** Unique, stable per change (e.g. the outbox row id) so a retried delivery dedupes; prefixed `personas_`. */
  id: string;
  /** When the change happened (epoch ms): the applied event's time or the alarm's. */
  at: number;
}

/** The `context.personas` block Segment Engage adds to every audience and computed-trait event. */
export function personasContext(change: Pick<Change, 'kind' | 'id' | 'key'>, spaceId: string) {
  return {
    computation_class: change.kind === 'audience' ? 'audience' : 'trait',
    computation_id: change.id,
    computation_key: change.key,
    namespace: spaceId,
    space_id: spaceId,
  };
}

/**
 * Turns a membership or value change into the event Segment Engage sends: `identify` with trait
 * `<key>: value`, or `track` "Audience Entered"/"Audience Exited" (audiences) / "Trait Computed"
 * (computed traits) with the key and value in properties.
 */
export function changeToEvent(change: Change, who: EmitIdentity, opts: EmitOptions): EnrichedEvent {
  const time = new Date(opts.at).toISOString();
  // Absent ids stay `undefined`, so they vanish when the event is serialised.
  const ids = { userId: who.userId || undefined, anonymousId: who.anonymousId || undefined };
  if (!ids.userId && !ids.anonymousId) throw new Error('A profile event needs a userId or an anonymousId');
  const email = who.email ? { email: who.email } : {};
  const context: Record<string, unknown> = {
    library: { name: 'unknown', version: 'unknown' },
    personas: personasContext(change, opts.spaceId),
  };
  const base = {
    ...ids,
    messageId: `personas_${opts.id}`,
    timestamp: time,
    originalTimestamp: time,
    receivedAt: time,
    integrations: {},
  };
  if (change.emit === 'identify') {
    return { ...base, type: 'identify', traits: { [change.key]: change.value, ...email }, context };
  }
  if (who.email) context.traits = { email: who.email };
  if (change.kind === 'audience') {
    const entered = change.value === true;
    const properties = { audience_key: change.key, [change.key]: entered };
    return { ...base, type: 'track', event: entered ? 'Audience Entered' : 'Audience Exited', properties, context };
  }
  const properties = { trait_key: change.key, [change.key]: change.value };
  return { ...base, type: 'track', event: 'Trait Computed', properties, context };
}
