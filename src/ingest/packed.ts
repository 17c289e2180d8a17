import { jsonBytes } from '../lib/json';
import type { QueueMessageLike, QueueOrigin } from '../lib/queue-bodies';
import type { IngestMessage } from './spec';

/**
 * Several events of one request in one `ingest` queue message. Queues bill every message written,
 * read and deleted per 64 KB, so a request's events travel packed up to `PACK_BYTES` (the queue
 * takes 128 KB a message). `priorAttempts` carries the attempts of events sent again without
 * the siblings that succeeded (see `Packs.finish`).
 */
export interface PackedIngest {
  packed: unknown[];
  priorAttempts?: number;
}

/** A packed body's events with headroom under the queue's 128 KB per message. */
export const PACK_BYTES = 120 * 1024;
/** Attempts after which an event goes to the dead-letter queue (wrangler.toml `max_retries` of tessera-ingest). */
export const INGEST_MAX_RETRIES = 100;

export const isPacked = (body: unknown): body is PackedIngest =>
  typeof body === 'object' && body !== null && Array.isArray((body as PackedIngest).packed);

/** Queue bodies for these events: consecutive events packed up to `PACK_BYTES`; a lone event travels as itself. */
export function packIngest(messages: IngestMessage[], limit = PACK_BYTES): (IngestMessage | PackedIngest)[] {
  const bodies: (IngestMessage | PackedIngest)[] = [];
  let current: IngestMessage[] = [];
  let bytes = 0;
  const close = () => {
    if (current.length === 1) bodies.push(current[0]);
    else if (current.length) bodies.push({ packed: current });
    current = [];
    bytes = 0;
  };
  for (const m of messages) {
    const size = jsonBytes(m) + 1;
    if (current.length && bytes + size > limit) close();
    current.push(m);
    bytes += size;
  }
  close();
  return bodies;
}

/** A queue message as Queues hands it over: `timestamp` is when the queue accepted it. */
type Delivered = QueueMessageLike & { readonly timestamp?: Date };

const originOf = (msg: Delivered, index: number): QueueOrigin => ({
  id: msg.id,
  index,
  sentAt: msg.timestamp instanceof Date ? msg.timestamp.getTime() : Number.NaN,
});

/** The message with its body already read (or its read error), settled through the message itself. */
const asRead = (msg: Delivered, body: () => unknown): QueueMessageLike => ({
  id: msg.id,
  attempts: msg.attempts,
  origin: originOf(msg, 0),
  get body() {
    return body();
  },
  ack: () => msg.ack(),
  retry: (options) => msg.retry(options),
});

interface Pack {
  msg: Delivered;
  body: PackedIngest;
  acked: Set<number>;
  retried: Map<number, number>;
}

/** Where `finish` sends events of a pack that must go again (the queue itself) or to its dead letters. */
export interface PackSends {
  again(body: PackedIngest, delaySeconds: number): Promise<unknown>;
  deadLetter?(body: unknown): Promise<unknown>;
  /** The events at `indexes` of the message `origin` now travel elsewhere (before it is acked). */
  handedOver?(origin: QueueOrigin, indexes: number[]): Promise<unknown>;
}

/**
 * Turns packed queue messages into one message-like part per event, so every event is handled,
 * recorded or retried on its own as before; `finish` then settles each real message: acked when
 * each of its events was, retried when each was, and otherwise acked once the events to retry are
 * on the queue again as a message of their own (their attempts carried), so a failing event never
 * takes its siblings along, into the dead letters or anywhere. Redelivery is safe: events dedupe
 * by messageId.
 */
export class Packs {
  private readonly packs: Pack[] = [];

  expand<M extends Delivered>(messages: readonly M[]): QueueMessageLike[] {
    const out: QueueMessageLike[] = [];
    for (const msg of messages) {
      // Each body is read once (workerd deserialises it on read); what the read gave is handed on.
      let body: unknown;
      try {
        body = msg.body;
      } catch (err) {
        out.push(
          asRead(msg, () => {
            throw err;
          }),
        );
        continue;
      }
      if (!isPacked(body) || body.packed.length === 0) {
        out.push(asRead(msg, () => body));
        continue;
      }
      const pack: Pack = { msg, body, acked: new Set(), retried: new Map() };
      this.packs.push(pack);
      const attempts = msg.attempts + (Number(body.priorAttempts) || 0);
      body.packed.forEach((event, i) => {
        out.push({
          id: `${msg.id}#${i}`,
          attempts,
          body: event,
          origin: originOf(msg, i),
          ack: () => {
            if (!pack.retried.has(i)) pack.acked.add(i);
          },
          retry: (options) => {
            pack.acked.delete(i);
            pack.retried.set(i, options?.delaySeconds ?? 0);
          },
        });
      });
    }
    return out;
  }

  /** Settles every packed message (after the consumer acked or retried each part). */
  async finish(sends: PackSends): Promise<void> {
    await Promise.all(this.packs.map((p) => this.settle(p, sends)));
  }

  private async settle(p: Pack, sends: PackSends): Promise<void> {
    const delay = Math.max(0, ...p.retried.values());
    // A part neither acked nor retried counts as done, as an unsettled message is acked implicitly.
    if (!p.retried.size) return p.msg.ack();
    if (p.retried.size === p.body.packed.length) return p.msg.retry({ delaySeconds: delay });
    const prior = p.msg.attempts + (Number(p.body.priorAttempts) || 0);
    const again = [...p.retried.keys()].map((i) => p.body.packed[i]);
    try {
      if (prior >= INGEST_MAX_RETRIES && sends.deadLetter) {
        for (const event of again) await sends.deadLetter(event);
      } else {
        await sends.again({ packed: again, priorAttempts: prior }, delay);
      }
      // If this ack were lost, a redelivery must not count these events again (src/insights/seen.ts).
      await sends.handedOver?.(originOf(p.msg, 0), [...p.retried.keys()]).catch((err) => {
        console.error('could not record the events handed over to a new message', err);
      });
      p.msg.ack();
    } catch (err) {
      console.error('could not send the failed events of a packed message again; retrying it whole', err);
      p.msg.retry({ delaySeconds: delay });
    }
  }
}
