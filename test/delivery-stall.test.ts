import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetBreakers } from '../src/delivery/breaker';
import { consumeDelivery } from '../src/delivery/consumer';
import { batchOf, CONFIG, fakeDeps, resultOf, retriedEvents } from './kit/delivery';
import { env, makeDestination, makeSource, trackEvent } from './kit/workers';

// The fresh lane's budget is 200 ms: a request over 100 ms is slow, none starts after 200 ms
// unless every request of the destination in this batch was fast (then up to 800 ms).
const config = { ...CONFIG, timeoutMs: 2_000, freshBudgetMs: 200 };
const EVENTS = 20;
let sourceId: string;
let hook: { id: string };

beforeAll(async () => {
  sourceId = (await makeSource('delivery-stall')).id;
  hook = await makeDestination({
    type: 'webhook',
    name: 'Stall',
    sourceIds: [sourceId],
    settings: { url: 'https://stall.example/hook' },
  });
});
beforeEach(() => resetBreakers());

const answerIn = (ms: number) => () =>
  new Promise<Response>((resolve) => setTimeout(() => resolve(new Response('{"ok":true}')), ms));

/** Holds the thread for `ms`, as other work of the isolate does (locally: ingest and its objects). */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spinning: nothing else of this isolate runs meanwhile
  }
}

async function sendBatch(vendorMs: number, stallMs: number) {
  const { deps, calls, retries } = fakeDeps({ 'stall.example': answerIn(vendorMs) }, config);
  const batch = batchOf(
    Array.from({ length: EVENTS }, () => ({
      kind: 'event' as const,
      sourceId,
      event: trackEvent(),
      destinationIds: [hook.id],
    })),
  );
  // While the first requests are in flight, the thread is busy elsewhere for longer than the budget.
  if (stallMs) setTimeout(() => busy(stallMs), 5);
  const started = Date.now();
  await consumeDelivery(batch, env, deps);
  return { calls, retries, ms: Date.now() - started, acks: (await resultOf(batch)).explicitAcks };
}

describe('fresh lane and a busy thread', () => {
  it('a healthy vendor is not taken for slow while the thread was busy: no event hops', async () => {
    const { calls, retries, acks } = await sendBatch(20, 400);
    // Before: the first three requests "took" 400 ms, the destination lost its grace and the
    // other 17 events hopped to the retry lane (a second's delay and its batch wait).
    expect(retriedEvents(retries)).toEqual([]);
    expect(calls).toHaveLength(EVENTS);
    expect(acks).toHaveLength(EVENTS);
  });

  it('a vendor that is slow itself, on an idle thread, still hops past the deadline', async () => {
    const { calls, retries, ms } = await sendBatch(130, 0);
    expect(calls.length).toBeLessThan(EVENTS);
    expect(retriedEvents(retries).map((r) => [r.destinationId, r.delaySeconds])).toEqual(
      Array.from({ length: EVENTS - calls.length }, () => [hook.id, 1]),
    );
    // The lane is held about the budget plus one request, not the vendor's whole batch.
    expect(ms).toBeLessThan(700);
  });

  it('the excuse is bounded: a thread busy past eight budgets still sends the rest on', async () => {
    const { calls, retries, ms } = await sendBatch(20, 2_500);
    expect(calls.length + retriedEvents(retries).length).toBe(EVENTS);
    expect(retriedEvents(retries).length).toBeGreaterThan(0);
    expect(ms).toBeLessThan(3_500);
  });
});
