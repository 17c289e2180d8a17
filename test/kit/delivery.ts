// Workers side of the kit: the delivery consumer's dependencies and queue batches.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import type { DeliveryConfig } from '../../src/delivery/config';
import type { ConsumerDeps } from '../../src/delivery/consumer';
import type { DeliveryAttempt, DeliveryAttempts, DeliveryFailure, DeliveryMessage } from '../../src/delivery/messages';

/** Test configuration: second-scale backoff, short timeout, loopback refused like production. */
export const CONFIG: DeliveryConfig = {
  backoffBaseSeconds: 2,
  backoffCapSeconds: 128,
  retryWindowSeconds: 60,
  timeoutMs: 300,
  freshBudgetMs: 1000,
  allowLoopback: false,
  perDestinationConcurrency: 3,
};

/** A vendor stand-in: answers by URL; records every request it got. */
export type Vendor = (req: Request) => Response | Promise<Response>;

/** Consumer dependencies with an in-worker "network" of vendors, capturing queue sends. */
export function fakeDeps(vendors: Record<string, Vendor>, config: DeliveryConfig = CONFIG) {
  const calls: { url: string; at: number; body: unknown }[] = [];
  const retries: MessageSendRequest<DeliveryAttempt | DeliveryAttempts>[] = [];
  const deadLetters: DeliveryFailure[] = [];
  const deps: ConsumerDeps = {
    config,
    now: Date.now,
    random: () => 0.5,
    fetch: async (input, init) => {
      const req = new Request(input, init);
      const host = new URL(req.url).host;
      const text = await req.clone().text();
      calls.push({ url: req.url, at: Date.now(), body: text ? JSON.parse(text) : undefined });
      const vendor = vendors[host];
      if (!vendor) throw new TypeError(`getaddrinfo ENOTFOUND ${host}`);
      return vendor(req);
    },
    enqueue: async (m) => {
      retries.push(...m);
    },
    deadLetter: async (f) => {
      deadLetters.push(...f);
    },
  };
  return { deps, calls, retries, deadLetters };
}

/** A vendor that never answers (until the request is aborted by the timeout). */
export const hang: Vendor = (req) =>
  new Promise((_resolve, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason)));

let seq = 0;
/** Delays asked for in `msg.retry({ delaySeconds })`, by message id (the test queue drops them). */
export const retryDelays = new Map<string, number | undefined>();

/** A delivery queue batch, as the queue would hand it to the consumer. */
export function batchOf(bodies: DeliveryMessage[], attempts = 1) {
  const batch = createMessageBatch<DeliveryMessage>(
    'tessera-delivery',
    bodies.map((body) => ({ id: `qm-${++seq}`, timestamp: new Date(), attempts, body })),
  );
  for (const msg of batch.messages) {
    const retry = msg.retry.bind(msg);
    msg.retry = (options?: QueueRetryOptions) => {
      retryDelays.set(msg.id, options?.delaySeconds);
      retry(options);
    };
  }
  return batch;
}

/** A batch of the retry queue. */
export function retryBatchOf(bodies: DeliveryMessage[], attempts = 1) {
  return createMessageBatch<DeliveryMessage>(
    'tessera-delivery-retry',
    bodies.map((body) => ({ id: `qr-${++seq}`, timestamp: new Date(), attempts, body })),
  );
}

/** Ack/retry decisions of a batch after the consumer ran. */
export const resultOf = (batch: MessageBatch) => getQueueResult(batch, createExecutionContext());

/** Each event the retry-lane messages carry (single or packed), with its message's delay. */
export function retriedEvents(retries: MessageSendRequest<DeliveryAttempt | DeliveryAttempts>[]) {
  return retries.flatMap(({ body, delaySeconds }) =>
    body.kind === 'attempts'
      ? body.attempts.map((a) => ({ ...a, destinationId: body.destinationId, delaySeconds }))
      : [{ ...body, delaySeconds }],
  );
}
