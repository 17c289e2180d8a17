import { type DeliveryError, RetryableError } from '../destinations/errors';
import { runDestinationInserts } from '../functions/delivery-inserts';
import { jsonBytes } from '../lib/json';
import { QUEUES, sendMessages } from '../lib/queue';
import { openBodies } from '../privacy/pii-guard';
import { planRetry } from './backoff';
import { deliveryConfig } from './config';
import { DeliveryLog } from './log';
import {
  type AttemptEntry,
  type DeliveryAttempt,
  type DeliveryAttempts,
  type DeliveryFailure,
  type DeliveryMessage,
  type OutboundEvent,
  packBodies,
} from './messages';
import { resolvedProblem } from './resolve';
import { type LiveDestination, route } from './routing';
import { deliverTo, type SendDeps, type Work } from './send';
import { startStallMeter } from './stall';
import { deliveredKeys, loadLiveDestinations, receiptKey } from './store';
import { readBody, type UnhandledMessage, unhandled } from './unhandled';

/** Everything the consumer touches outside D1; tests inject a fetch, a clock and capture sends. */
export interface ConsumerDeps extends SendDeps {
  random: () => number;
  /** Sends per-destination retries to the retry queue. */
  enqueue(messages: MessageSendRequest<DeliveryAttempt | DeliveryAttempts>[]): Promise<void>;
  /** Sends failures to the dead-letter queue, whose consumer records them. */
  deadLetter(failures: DeliveryFailure[]): Promise<void>;
}

/** Production dependencies of the consumer. */
export function consumerDeps(env: Cloudflare.Env): ConsumerDeps {
  const send = sendMessages;
  const config = deliveryConfig(env);
  return {
    config,
    resolve: config.allowLoopback ? undefined : (url) => resolvedProblem(url, { allowLoopback: false }),
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

/** The items of one outbound event: one per destination it is routed to. */
function fanOut(
  msg: Message<DeliveryMessage>,
  body: OutboundEvent,
  dests: LiveDestination[],
  log: DeliveryLog,
  now: number,
) {
  const items: Item[] = [];
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
  return items;
}

/** The item of one attempt entry for `dest`, or none when the destination is gone. */
function attemptItem(msg: Message<DeliveryMessage>, entry: AttemptEntry, dest: LiveDestination | undefined): Item[] {
  if (!entry?.event || Number.isNaN(Date.parse(entry.firstAttemptAt))) {
    throw new TypeError('a malformed attempt (destinationId, event and firstAttemptAt are required)');
  }
  // Deleted or disabled since: Segment drops what a disabled destination would have received.
  if (!dest) return [];
  return [
    {
      msg,
      dest,
      event: entry.event,
      sourceId: entry.sourceId,
      firstAttemptAt: Date.parse(entry.firstAttemptAt),
      attempts: (Number(entry.priorAttempts) || 0) + msg.attempts,
      fanOut: false,
      replay: entry.replay,
    },
  ];
}

/** One message's items (a packed message: each of its events, routed on its own), or why it could not be read or routed. */
function expandOne(
  msg: Message<DeliveryMessage>,
  body: DeliveryMessage,
  byId: Map<string, LiveDestination>,
  log: DeliveryLog,
  now: number,
) {
  const dests = [...byId.values()];
  if (body.kind === 'event') return fanOut(msg, body, dests, log, now);
  if (body.kind === 'events') {
    if (!Array.isArray(body.events)) throw new TypeError('a malformed packed message (events must be a list)');
    return body.events.flatMap((e) => fanOut(msg, e, dests, log, now));
  }
  if (body.kind === 'attempt') {
    if (typeof body.destinationId !== 'string') throw new TypeError('a malformed attempt (destinationId is required)');
    return attemptItem(msg, body, byId.get(body.destinationId));
  }
  if (body.kind === 'attempts') {
    if (typeof body.destinationId !== 'string' || !Array.isArray(body.attempts)) {
      throw new TypeError('a malformed packed attempt (destinationId and attempts are required)');
    }
    const dest = byId.get(body.destinationId);
    return body.attempts.flatMap((entry) => attemptItem(msg, entry, dest));
  }
  // Never acknowledged unseen: a message of another kind is recorded like an unreadable one.
  throw new TypeError(`not a delivery message (kind ${JSON.stringify((body as { kind?: unknown }).kind)})`);
}

/**
 * Turns queue messages into items: fan-out for `event`, one item per `attempt`. Each message is
 * read and routed in its own `try`: one that cannot be (unreadable body, a filter that throws)
 * is set aside to be recorded, never failing the others.
 */
function expand(
  batch: MessageBatch<DeliveryMessage>,
  dests: LiveDestination[],
  log: DeliveryLog,
  now: number,
  opened?: Map<string, DeliveryMessage>,
) {
  const byId = new Map(dests.map((d) => [d.id, d]));
  const items: Item[] = [];
  const bad = new Map<Message<DeliveryMessage>, UnhandledMessage>();
  for (const msg of batch.messages) {
    const body = opened?.get(msg.id);
    const read = body ? ({ ok: true, body } as const) : readBody(msg);
    if (!read.ok) {
      bad.set(msg, unhandled(msg, batch.queue, read.error, now));
      continue;
    }
    try {
      items.push(...expandOne(msg, read.body, byId, log, now));
    } catch (err) {
      bad.set(msg, unhandled(msg, batch.queue, err, now, { value: read.body }));
    }
  }
  return { items, bad };
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
export const RETRY_QUEUE = QUEUES.deliveryRetry;

/**
 * Fresh budgets of thread stall (`stall.ts`) a batch's deadline and requests are excused at most:
 * the thread held every destination alike meanwhile, so excusing it lets no vendor delay another;
 * the bound only keeps the lane's hold finite (a batch of the pipeline bench's new-user round stalled past 2 s).
 */
const STALL_BUDGETS = 8;

/** Delay of a hop from the fresh lane to the retry lane. */
const HOP_SECONDS = 1;

/**
 * Hands messages to a queue; when the batch send fails, sends them one by one, so a message that
 * cannot be sent holds only its own queue message. Returns the items whose message did not go.
 */
async function handOver<T>(pairs: [Item[], T][], send: (messages: T[]) => Promise<void>): Promise<Set<Item>> {
  const failed = new Set<Item>();
  if (!pairs.length) return failed;
  try {
    await send(pairs.map(([, m]) => m));
  } catch (err) {
    console.error('delivery: a queue send failed; sending its messages one by one', err);
    await Promise.all(
      pairs.map(async ([list, m]) => {
        try {
          await send([m]);
        } catch {
          for (const i of list) failed.add(i);
        }
      }),
    );
  }
  return failed;
}

/** Whether the retry lane retries this attempt message in place: every event it carries retries. */
function retriesInPlace(mine: Item[], retries: Map<Item, number>): boolean {
  return mine.length > 0 && !mine[0].fanOut && mine.every((i) => retries.has(i));
}

/**
 * The retry-lane messages for items to send again: per destination, packed up to the queue's
 * message size (a lone event travels as a single `attempt`), each delayed by the longest delay its
 * events were planned (Retry-After and backoff are never cut short).
 */
function retryMessages(list: [Item, number][]): [Item[], MessageSendRequest<DeliveryAttempt | DeliveryAttempts>][] {
  const byDest = new Map<string, [Item, number][]>();
  for (const pair of list) byDest.set(pair[0].dest.id, [...(byDest.get(pair[0].dest.id) ?? []), pair]);
  const entry = (i: Item): AttemptEntry => ({
    sourceId: i.sourceId,
    event: i.event,
    firstAttemptAt: new Date(i.firstAttemptAt).toISOString(),
    priorAttempts: i.attempts,
    ...(i.replay ? { replay: true } : {}),
  });
  const out: [Item[], MessageSendRequest<DeliveryAttempt | DeliveryAttempts>][] = [];
  for (const [destinationId, pairs] of byDest) {
    const packs = packBodies(
      pairs,
      ([i]) => jsonBytes(i.event) + 200,
      (pack) => pack,
    );
    for (const pack of packs) {
      const items = pack.map(([i]) => i);
      const delaySeconds = Math.max(...pack.map(([, d]) => d));
      const body: DeliveryAttempt | DeliveryAttempts =
        items.length === 1
          ? { kind: 'attempt', destinationId, ...entry(items[0]) }
          : { kind: 'attempts', destinationId, attempts: items.map(entry) };
      out.push([items, { body, delaySeconds, contentType: 'json' }]);
    }
  }
  return out;
}

/**
 * The consumer of `delivery` (fresh lane) and `delivery-retry` (retry lane). Each `event` is
 * fanned out to its destinations and tried at once; a destination that does not take it gets its
 * own `attempt` message on the retry queue, so one failing vendor never delays another. The queue
 * hands the lane its next batch only once this one returns, so in the fresh lane every request
 * shares one deadline (`freshBudgetMs`, on a clock that leaves out the thread's stalls, `stall.ts`):
 * a slow or hanging vendor's requests are cut there and hop to the retry lane, which waits the
 * full timeout. Order per batch: send, record receipts,
 * counters and unreadable messages (one D1 batch), enqueue retries and dead letters, then ack or
 * retry each message on its own.
 */
export async function consumeDelivery(
  batch: MessageBatch<DeliveryMessage>,
  env: Cloudflare.Env,
  given: ConsumerDeps = consumerDeps(env),
): Promise<void> {
  const lane = given.lane ?? (batch.queue === RETRY_QUEUE ? 'retry' : 'fresh');
  const started = given.now();
  const log = new DeliveryLog(started);
  const dests = await loadLiveDestinations(env);
  // Profiles store PII sealed (outbox included): filters and vendors get the values as sent.
  const { items, bad } = expand(batch, dests, log, started, await openBodies(env, batch.messages));
  for (const u of bad.values()) log.unhandled(u);

  const done = await deliveredKeys(
    env.DB,
    items.map((i) => ({ destinationId: i.dest.id, messageId: i.event.messageId, receivedAt: i.event.receivedAt })),
  ).catch(() => new Set<string>());
  for (const i of items) {
    if (done.has(receiptKey(i.dest.id, i.event.messageId))) i.outcome = { kind: 'skipped', why: 'already delivered' };
  }
  // Destination insert functions, where the destination's transformations and filters left off.
  for (const i of await runDestinationInserts(
    env,
    items.filter((i) => i.fanOut && !i.outcome),
  )) {
    i.outcome = { kind: 'skipped', why: 'dropped by an insert function' };
    log.filtered(i.dest.id);
  }
  const pending = new Map<LiveDestination, Item[]>();
  for (const i of items) if (!i.outcome) pending.set(i.dest, [...(pending.get(i.dest) ?? []), i]);
  // The fresh lane's budget counts from the first request.
  const deadline = lane === 'fresh' ? given.now() + given.config.freshBudgetMs : given.deadline;
  // The fresh lane's clock leaves out the thread's stalls, up to a bound: a batch holds the lane
  // about 1 + CLEAN_GRACE_BUDGETS + STALL_BUDGETS budgets at most, however busy the thread.
  const meter =
    lane === 'fresh' && pending.size
      ? startStallMeter(given.now, STALL_BUDGETS * given.config.freshBudgetMs)
      : undefined;
  const deps: ConsumerDeps = { ...given, lane, deadline, sharing: pending.size, stalled: meter?.stalled };
  try {
    await Promise.all(
      [...pending].map(([dest, list]) =>
        deliverTo(dest, list, deps).catch((err) => {
          // Unexpected: whatever has no outcome yet is tried again, the other destinations go on.
          const error = new RetryableError(`Delivery failed unexpectedly: ${err instanceof Error ? err.message : err}`);
          for (const i of list) i.outcome ??= { kind: 'retry', error };
        }),
      ),
    );
  } finally {
    meter?.stop();
  }

  const now = deps.now();
  const retries = new Map<Item, number>();
  const failures = new Map<Item, DeliveryFailure>();
  for (const i of items) {
    const o = i.outcome;
    if (o?.kind === 'delivered')
      log.delivered(i.dest.id, i.event, o.at - Date.parse(i.event.receivedAt), i.attempts, i.replay);
    else if (o?.kind === 'failed') failures.set(i, failureOf(i, o.error, undefined, now));
    else if (o?.kind === 'retry') {
      const plan = planRetry({
        attempts: i.attempts,
        firstAttemptAt: i.firstAttemptAt,
        now,
        retryAfterMs: o.deferred ? undefined : o.error.retryAfterMs,
        minDelayMs: o.deferred ? o.error.retryAfterMs : undefined,
        hopSeconds: o.hop ? HOP_SECONDS : undefined,
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
  const logged = await log.flush(env.DB).then(
    () => true,
    (err) => {
      console.error('delivery log write failed', err);
      return false;
    },
  );

  const owned = new Map<Message<DeliveryMessage>, Item[]>();
  for (const i of items) owned.set(i.msg, [...(owned.get(i.msg) ?? []), i]);
  // New retry-lane messages: every fan-out retry, and the retries of an attempt message some of
  // whose events went through (only the failed ones travel on; the message itself is acked).
  const again: [Item, number][] = [];
  for (const [i, delaySeconds] of retries) {
    if (i.fanOut || !retriesInPlace(owned.get(i.msg) ?? [], retries)) again.push([i, delaySeconds]);
  }
  const [notRetried, notDeadLettered] = await Promise.all([
    handOver(retryMessages(again), deps.enqueue),
    handOver(
      [...failures].map(([i, f]) => [[i], f] as [Item[], DeliveryFailure]),
      deps.deadLetter,
    ),
  ]);
  // A failure the DLQ would not take (e.g. an event it cannot serialise) is recorded here directly.
  if (notDeadLettered.size) {
    const direct = new DeliveryLog(now);
    for (const i of notDeadLettered) direct.failed(failures.get(i) as DeliveryFailure);
    await direct.flush(env.DB).then(
      () => notDeadLettered.clear(),
      (err) => console.error('delivery: could not record failures directly either', err),
    );
  }

  for (const msg of batch.messages) {
    // An unreadable message is acknowledged once recorded; until then the queue keeps it.
    if (bad.has(msg)) {
      if (logged) msg.ack();
      else msg.retry({ delaySeconds: 5 });
      continue;
    }
    const mine = owned.get(msg) ?? [];
    if (mine.some((i) => notRetried.has(i) || notDeadLettered.has(i))) msg.retry({ delaySeconds: 5 });
    else if (retriesInPlace(mine, retries))
      msg.retry({ delaySeconds: Math.max(...mine.map((i) => retries.get(i) ?? 0)) });
    else msg.ack();
  }
}
