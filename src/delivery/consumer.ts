import { chunkForQueue } from '../ingest/enqueue';
import { planRetry } from './backoff';
import { deliveryConfig } from './config';
import type { DeliveryError } from './errors';
import { DeliveryLog } from './log';
import type { DeliveryAttempt, DeliveryFailure, DeliveryMessage } from './messages';
import { type LiveDestination, route } from './routing';
import { deliverTo, type SendDeps, type Work } from './send';
import { deliveredKeys, loadLiveDestinations, receiptKey } from './store';

/** Everything the consumer touches outside D1; tests inject a fetch, a clock and capture sends. */
export interface ConsumerDeps extends SendDeps {
  random: () => number;
  /** Sends per-destination retries to the retry queue. */
  enqueue(messages: MessageSendRequest<DeliveryAttempt>[]): Promise<void>;
  /** Sends failures to the dead-letter queue, whose consumer records them. */
  deadLetter(failures: DeliveryFailure[]): Promise<void>;
}

/** Sends messages in `sendBatch`-sized chunks. */
export async function sendAll<T>(queue: Queue, messages: MessageSendRequest<T>[]): Promise<void> {
  for (const part of chunkForQueue(messages)) if (part.length) await queue.sendBatch(part);
}

/** Production dependencies of the consumer. */
export function consumerDeps(env: Cloudflare.Env): ConsumerDeps {
  const send = sendAll;
  return {
    config: deliveryConfig(env),
    fetch: (input, init) => fetch(input, init),
    now: Date.now,
    random: Math.random,
    enqueue: (messages) => send(env.DELIVERY_RETRY_QUEUE, messages),
    deadLetter: (failures) =>
      send(
        env.DELIVERY_DLQ,
        failures.map((body) => ({ body, contentType: 'json' as const })),
      ),
  };
}

/** One event for one destination inside this batch, tied to the queue message that carries it. */
interface Item extends Work {
  msg: Message<DeliveryMessage>;
  sourceId?: string;
  firstAttemptAt: number;
  /** Attempts including this one. */
  attempts: number;
  /** True when the queue message is a fan-out `event` (retries become new `attempt` messages). */
  fanOut: boolean;
  replay?: boolean;
}

/** Turns queue messages into items: fan-out for `event`, one item per `attempt`. */
function expand(batch: MessageBatch<DeliveryMessage>, dests: LiveDestination[], log: DeliveryLog, now: number): Item[] {
  const byId = new Map(dests.map((d) => [d.id, d]));
  const items: Item[] = [];
  for (const msg of batch.messages) {
    const body = msg.body;
    if (body.kind === 'event') {
      for (const r of route(body, dests)) {
        if ('dropped' in r) {
          if (r.dropped !== 'unsupported') log.filtered(r.dest.id);
          continue;
        }
        items.push({
          msg,
          dest: r.dest,
          event: r.event,
          sourceId: body.sourceId,
          firstAttemptAt: now,
          attempts: 1,
          fanOut: true,
        });
      }
    } else if (body.kind === 'attempt') {
      const dest = byId.get(body.destinationId);
      // Deleted or disabled since: Segment drops what a disabled destination would have received.
      if (!dest) continue;
      items.push({
        msg,
        dest,
        event: body.event,
        sourceId: body.sourceId,
        firstAttemptAt: Date.parse(body.firstAttemptAt),
        attempts: body.priorAttempts + msg.attempts,
        fanOut: false,
        replay: body.replay,
      });
    }
  }
  return items;
}

const failureOf = (item: Item, error: DeliveryError, reason: string | undefined, now: number): DeliveryFailure => ({
  kind: 'failed',
  destinationId: item.dest.id,
  sourceId: item.sourceId,
  event: item.event,
  attempts: item.attempts,
  firstAttemptAt: new Date(item.firstAttemptAt).toISOString(),
  failedAt: new Date(now).toISOString(),
  status: error.status,
  error: reason ? `${error.message} — ${reason}` : error.message,
  response: error.response,
});

/** The queue retries and replays travel on, consumed by this same code in the `retry` lane. */
export const RETRY_QUEUE = 'tessera-delivery-retry';

/**
 * The consumer of `delivery` (fresh lane) and `delivery-retry` (retry lane). Each `event` is
 * fanned out to its destinations and tried at once; a destination that does not take it gets its
 * own `attempt` message on the retry queue, so one failing vendor never delays another. Order per
 * batch: send, record receipts and counters (one D1 batch), enqueue retries and dead letters,
 * then ack or retry each message on its own.
 */
export async function consumeDelivery(
  batch: MessageBatch<DeliveryMessage>,
  env: Cloudflare.Env,
  given: ConsumerDeps = consumerDeps(env),
): Promise<void> {
  const deps: ConsumerDeps = { ...given, lane: given.lane ?? (batch.queue === RETRY_QUEUE ? 'retry' : 'fresh') };
  const started = deps.now();
  const log = new DeliveryLog(started);
  const dests = await loadLiveDestinations(env.DB);
  const items = expand(batch, dests, log, started);

  const done = await deliveredKeys(
    env.DB,
    items.map((i) => receiptKey(i.dest.id, i.event.messageId)),
  ).catch(() => new Set<string>());
  for (const i of items) {
    if (done.has(receiptKey(i.dest.id, i.event.messageId))) i.outcome = { kind: 'skipped', why: 'already delivered' };
  }
  const pending = new Map<LiveDestination, Item[]>();
  for (const i of items) if (!i.outcome) pending.set(i.dest, [...(pending.get(i.dest) ?? []), i]);
  await Promise.all([...pending].map(([dest, list]) => deliverTo(dest, list, deps)));

  const now = deps.now();
  const retries = new Map<Item, number>();
  const failures = new Map<Item, DeliveryFailure>();
  for (const i of items) {
    const o = i.outcome;
    if (o?.kind === 'delivered')
      log.delivered(i.dest.id, i.event.messageId, o.at - Date.parse(i.event.receivedAt), i.attempts, i.replay);
    else if (o?.kind === 'failed') failures.set(i, failureOf(i, o.error, undefined, now));
    else if (o?.kind === 'retry') {
      const plan = planRetry({
        attempts: i.attempts,
        firstAttemptAt: i.firstAttemptAt,
        now,
        retryAfterMs: o.deferred ? undefined : o.error.retryAfterMs,
        minDelayMs: o.deferred ? o.error.retryAfterMs : undefined,
        config: deps.config,
        random: deps.random,
      });
      if (plan.retry) {
        retries.set(i, plan.delaySeconds);
        log.retried(i.dest.id, i.attempts);
      } else failures.set(i, failureOf(i, o.error, plan.reason, now));
    }
  }

  // Receipts before acks: a message redelivered after a crash finds what was already sent.
  await log.flush(env.DB).catch((err) => console.error('delivery log write failed', err));

  const fresh: MessageSendRequest<DeliveryAttempt>[] = [];
  for (const [i, delaySeconds] of retries) {
    if (!i.fanOut) continue;
    const body: DeliveryAttempt = {
      kind: 'attempt',
      destinationId: i.dest.id,
      sourceId: i.sourceId,
      event: i.event,
      firstAttemptAt: new Date(i.firstAttemptAt).toISOString(),
      priorAttempts: i.attempts,
    };
    fresh.push({ body, delaySeconds, contentType: 'json' });
  }
  let handedOver = true;
  try {
    await Promise.all([deps.enqueue(fresh), deps.deadLetter([...failures.values()])]);
  } catch (err) {
    console.error('delivery: could not enqueue retries or dead letters; the messages will be redelivered', err);
    handedOver = false;
  }

  const owned = new Map<Message<DeliveryMessage>, Item[]>();
  for (const i of items) owned.set(i.msg, [...(owned.get(i.msg) ?? []), i]);
  for (const msg of batch.messages) {
    const mine = owned.get(msg) ?? [];
    if (!handedOver && mine.some((i) => retries.has(i) || failures.has(i))) msg.retry({ delaySeconds: 5 });
    else if (msg.body.kind === 'attempt' && mine[0] && retries.has(mine[0]))
      msg.retry({ delaySeconds: retries.get(mine[0]) });
    else msg.ack();
  }
}
