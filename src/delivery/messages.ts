import type { EnrichedEvent } from '../ingest/spec';
import { jsonBytes } from '../lib/json';

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

/**
 * One event for one destination, after routing, filters and consent, on the `delivery-retry`
 * queue. Created when the first attempt during fan-out did not succeed (then retried with
 * `delaySeconds` by the queue) and by replays.
 */
export interface DeliveryAttempt {
  kind: 'attempt';
  destinationId: string;
  sourceId?: string;
  /** The event as this destination receives it (filters already applied). */
  event: EnrichedEvent;
  /** Start of the retry window (ISO): past `DELIVERY_RETRY_WINDOW_SECONDS` it is dead-lettered. */
  firstAttemptAt: string;
  /** Attempts made before this message existed (the queue counts the ones after). */
  priorAttempts: number;
  /** Set when a person asked to replay a failed event. */
  replay?: boolean;
}

/**
 * Several resolved events in one message: what a Profile's outbox flush sends (one message per
 * flush, for every destination, up to `PACK_BYTES`). The Profile does not know the destinations;
 * the consumer routes each event and retries each destination's share on its own, so one message
 * for all destinations keeps the isolation and costs the fewest queue operations.
 */
export interface OutboundEvents {
  kind: 'events';
  events: OutboundEvent[];
}

/** One event's retry state inside `DeliveryAttempts`. */
export type AttemptEntry = Omit<DeliveryAttempt, 'kind' | 'destinationId'>;

/**
 * Several events for one destination on the `delivery-retry` queue: the share of a batch that one
 * destination did not take. Each entry keeps its own retry window and attempts; entries that fail
 * again travel on without the ones that went through.
 */
export interface DeliveryAttempts {
  kind: 'attempts';
  destinationId: string;
  attempts: AttemptEntry[];
}

/** Every message the `delivery` and `delivery-retry` queues carry (single ones from before packing included). */
export type DeliveryMessage = OutboundEvent | OutboundEvents | DeliveryAttempt | DeliveryAttempts;

/** Headroom under the queue's 128 KB per message for a packed delivery body. */
export const DELIVERY_PACK_BYTES = 120 * 1024;

/**
 * Packs items into bodies of at most `limit` bytes (an item larger than that travels alone).
 * `size` is the item's serialised size; `make` builds the body of one pack.
 */
export function packBodies<T, B>(
  items: T[],
  size: (item: T) => number,
  make: (pack: T[]) => B,
  limit = DELIVERY_PACK_BYTES,
): B[] {
  const out: B[] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item) + 1;
    if (current.length && bytes + n > limit) {
      out.push(make(current));
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += n;
  }
  if (current.length) out.push(make(current));
  return out;
}

/** Why an event did not reach a destination: what the DLQ consumer writes to `delivery_failures`. */
export interface DeliveryFailure {
  kind: 'failed';
  destinationId: string;
  sourceId?: string;
  event: EnrichedEvent;
  attempts: number;
  firstAttemptAt: string;
  failedAt: string;
  /** HTTP status of the vendor's last answer, if it answered. */
  status?: number;
  /** What went wrong, in words that say what to do. */
  error: string;
  /** The vendor's last answer (truncated). */
  response?: string;
}

/**
 * What the `delivery-dlq` queue carries: failures the delivery consumer dead-lettered itself,
 * and delivery messages the queue gave up on after `max_retries` (the consumer kept failing).
 */
export type DeadLetterMessage = DeliveryFailure | DeliveryMessage;

/** The outbound events a message carries (none for an attempt). */
export function outboundEventsOf(body: DeliveryMessage): OutboundEvent[] {
  if (body.kind === 'event') return [body];
  if (body.kind === 'events') return body.events;
  return [];
}

/** Outbound events packed into as few bodies as `limit` allows; a lone event travels as itself. */
export function packOutbound(events: OutboundEvent[], limit = DELIVERY_PACK_BYTES): DeliveryMessage[] {
  return packBodies(
    events,
    (e) => jsonBytes(e),
    (pack): DeliveryMessage => (pack.length === 1 ? pack[0] : { kind: 'events', events: pack }),
    limit,
  );
}
