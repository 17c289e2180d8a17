import type { EnrichedEvent } from '../ingest/spec';

/**
 * What the Profile DO's outbox sends to the `delivery` queue: one resolved event, before
 * fan-out. The delivery consumer turns it into one message per destination, so each
 * destination retries on its own and a failing vendor never delays another.
 */
export interface OutboundEvent {
  kind: 'event';
  /** Source the event came from; destinations subscribe to sources. Absent for audience events. */
  sourceId?: string;
  /** Live profile the event landed on (after identity resolution). */
  profileId?: string;
  event: EnrichedEvent;
  /** Set for audience/computed-trait events: only these destinations receive it. */
  destinationIds?: string[];
}

/** Every message the `delivery` queue carries. The destinations work extends this union. */
export type DeliveryMessage = OutboundEvent;
