import { type OutboundEvent, packOutbound } from '../delivery/messages';
import { sendJson } from '../lib/queue';
import { errorText, isPoison } from '../lib/queue-bodies';

/** A queue message of the ingest batch and the deliveries it owes before it may be acked. */
export interface Owed<I> {
  item: I;
  events: OutboundEvent[];
}

export interface HandOverResult<I> {
  /** Items whose deliveries are on the `delivery` queue (or that owed none): free to ack. */
  sent: I[];
  /** Items whose deliveries could not be sent: to retry (the queue redelivers them, `again`). */
  failed: I[];
  /** Items no retry can help (their deliveries cannot be sent at all): to record. */
  poison: { item: I; err: unknown }[];
}

/**
 * Sends a consumer batch's deliveries to the `delivery` queue, packed as full as a message allows
 * across every profile of the batch: one message for a batch of small events, where each
 * profile's outbox sent one message per apply (a message costs three billed operations). The
 * items are acked only afterwards, so an item whose deliveries did not go out is redelivered and
 * its profile hands the duplicates over again (`ApplyInput.again`). When the packed send fails,
 * each item's deliveries go alone, so only the items that cannot be sent are retried.
 */
export async function handOverDeliveries<I>(
  queue: Queue<unknown>,
  owed: readonly Owed<I>[],
): Promise<HandOverResult<I>> {
  const result: HandOverResult<I> = { sent: [], failed: [], poison: [] };
  const events = owed.flatMap((o) => o.events);
  if (!events.length) return { ...result, sent: owed.map((o) => o.item) };
  try {
    await sendJson(queue, packOutbound(events), { parallel: true });
    return { ...result, sent: owed.map((o) => o.item) };
  } catch (err) {
    console.error('delivery hand-over failed; sending message by message', errorText(err));
  }
  for (const o of owed) {
    try {
      if (o.events.length) await sendJson(queue, packOutbound(o.events));
      result.sent.push(o.item);
    } catch (err) {
      if (isPoison(err)) result.poison.push({ item: o.item, err });
      else {
        console.error('delivery hand-over failed; message will be retried', errorText(err));
        result.failed.push(o.item);
      }
    }
  }
  return result;
}
