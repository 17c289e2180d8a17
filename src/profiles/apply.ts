import type { OutboundEvent } from '../delivery/messages';
import type { Collection } from '../identity/identifiers';
import type { IngestMessage } from '../ingest/spec';
import { isObject } from '../lib/json';
import { consentTrait } from '../privacy/consent';
import type { EventRow } from './rpc';
import { type StampedValue, stampTraits } from './traits';

/** What applying one event to a profile changes. */
export interface Effects {
  event: EventRow;
  traits: Record<string, StampedValue>;
  /** Delivery message for the outbox; absent when the profile must not emit one (accounts). */
  outbound?: OutboundEvent;
}

/** Event timestamp in ms; falls back to `receivedAt` when the timestamp cannot be read. */
export function eventTime(msg: IngestMessage): number {
  const ts = Date.parse(msg.event.timestamp);
  return Number.isNaN(ts) ? Date.parse(msg.event.receivedAt) || Date.now() : ts;
}

/** Name of an event as listed by the Profile API's `include` / `exclude`. */
export function listedEventName(msg: IngestMessage): string {
  const e = msg.event;
  if (e.type === 'track') return e.event;
  if ((e.type === 'page' || e.type === 'screen') && e.name) return e.name;
  return e.type;
}

/**
 * The pure part of `Profile.apply`: the log row, the traits (identify on users, group on accounts)
 * and the delivery message of one event.
 */
export function effectsOf(msg: IngestMessage, profileId: string, collection: Collection, emit: boolean): Effects {
  const e = msg.event;
  const ts = eventTime(msg);
  const traitSource =
    (collection === 'users' && e.type === 'identify') || (collection === 'accounts' && e.type === 'group')
      ? e.traits
      : undefined;
  return {
    event: {
      messageId: e.messageId,
      ts,
      type: e.type,
      name: listedEventName(msg),
      sourceId: msg.sourceId,
      body: JSON.stringify(e),
    },
    traits: stampTraits(
      // Consent preferences are a trait of their own (src/privacy/consent.ts), users only.
      { ...(isObject(traitSource) ? traitSource : {}), ...(collection === 'users' ? consentTrait(e) : undefined) },
      { ts, messageId: e.messageId, sourceId: msg.sourceId },
    ),
    outbound: emit ? { kind: 'event', sourceId: msg.sourceId, profileId, event: e } : undefined,
  };
}
