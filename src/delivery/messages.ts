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

/** Every message the `delivery` and `delivery-retry` queues carry. */
export type DeliveryMessage = OutboundEvent | DeliveryAttempt;

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
