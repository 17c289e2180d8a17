import { createMessageBatch } from 'cloudflare:test';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetBreakers } from '../src/delivery/breaker';
import { consumeDelivery } from '../src/delivery/consumer';
import { consumeDeliveryDlq } from '../src/delivery/dlq';
import type { DeadLetterMessage, DeliveryAttempt } from '../src/delivery/messages';
import {
  adminGet,
  batchOf,
  CONFIG,
  env,
  fakeDeps,
  hang,
  makeDestination,
  resultOf,
  retryBatchOf,
  retryDelays,
  trackEvent,
} from './delivery-helpers';
import { makeSource } from './helpers';

const ok = () => new Response('{"ok":true}', { status: 200 });
let sourceId: string;
let good: { id: string };
let bad: { id: string };

beforeAll(async () => {
  sourceId = (await makeSource('delivery')).id;
  good = await makeDestination({
    type: 'webhook',
    name: 'Good',
    sourceIds: [sourceId],
    settings: { url: 'https://good.example/hook' },
  });
  bad = await makeDestination({
    type: 'webhook',
    name: 'Bad',
    sourceIds: [sourceId],
    settings: { url: 'https://bad.example/hook' },
  });
});
beforeEach(() => resetBreakers());

const attempt = (event = trackEvent(), over: Partial<DeliveryAttempt> = {}): DeliveryAttempt => ({
  kind: 'attempt',
  destinationId: bad.id,
  sourceId,
  event,
  firstAttemptAt: new Date().toISOString(),
  priorAttempts: 1,
  ...over,
});

describe('delivery consumer', () => {
  it('fans out: the healthy destination gets the event, the failing one gets its own retry', async () => {
    const event = trackEvent();
    const { deps, calls, retries } = fakeDeps({
      'good.example': ok,
      'bad.example': () => new Response('oops', { status: 503 }),
    });
    const batch = batchOf([{ kind: 'event', sourceId, event }]);
    await consumeDelivery(batch, env, deps);
    expect(calls.filter((c) => c.url.startsWith('https://good.example')).map((c) => c.body)).toEqual([event]);
    expect(retries).toHaveLength(1);
    expect(retries[0].body).toMatchObject({ kind: 'attempt', destinationId: bad.id, priorAttempts: 1, event });
    // Base 2 s, jitter at the midpoint: 1.5 s rounded up.
    expect(retries[0].delaySeconds).toBe(2);
    const result = await resultOf(batch);
    expect(result.explicitAcks).toEqual([batch.messages[0].id]);
    expect(result.retryMessages).toEqual([]);
  });

  it('retries an attempt on its own, exponentially, never sooner than Retry-After', async () => {
    const { deps } = fakeDeps({
      'bad.example': () => new Response('slow down', { status: 429, headers: { 'retry-after': '9' } }),
    });
    const batch = batchOf([attempt()], 1);
    await consumeDelivery(batch, env, deps);
    expect((await resultOf(batch)).retryMessages).toEqual([{ msgId: batch.messages[0].id }]);
    expect(retryDelays.get(batch.messages[0].id)).toBe(9);

    const { deps: deps5xx } = fakeDeps({ 'bad.example': () => new Response('', { status: 500 }) });
    const later = batchOf([attempt(trackEvent(), { priorAttempts: 1 })], 3);
    await consumeDelivery(later, env, deps5xx);
    // 4th attempt: 2 s × 2³ × 0.75 = 12 s.
    expect((await resultOf(later)).retryMessages).toEqual([{ msgId: later.messages[0].id }]);
    expect(retryDelays.get(later.messages[0].id)).toBe(12);
  });

  it("dead-letters permanent errors at once, with the vendor's answer", async () => {
    const event = trackEvent();
    const { deps, deadLetters, retries } = fakeDeps({
      'good.example': ok,
      'bad.example': () => new Response('{"error":"bad field"}', { status: 400 }),
    });
    const batch = batchOf([{ kind: 'event', sourceId, event }]);
    await consumeDelivery(batch, env, deps);
    expect(retries).toEqual([]);
    expect(deadLetters).toEqual([
      expect.objectContaining({
        kind: 'failed',
        destinationId: bad.id,
        status: 400,
        response: '{"error":"bad field"}',
        attempts: 1,
        event,
      }),
    ]);
    expect((await resultOf(batch)).explicitAcks).toHaveLength(1);
  });

  it('dead-letters once the retry window has passed', async () => {
    const { deps, deadLetters } = fakeDeps({ 'bad.example': () => new Response('', { status: 502 }) });
    const old = new Date(Date.now() - (CONFIG.retryWindowSeconds + 1) * 1000).toISOString();
    const batch = batchOf([attempt(trackEvent(), { firstAttemptAt: old })], 7);
    await consumeDelivery(batch, env, deps);
    expect(deadLetters[0]).toMatchObject({ status: 502, attempts: 8 });
    expect(deadLetters[0].error).toMatch(/gave up after 8 attempts/);
    expect((await resultOf(batch)).retryMessages).toEqual([]);
  });

  it('never sends again what a vendor acknowledged (redelivered or duplicated messages)', async () => {
    const event = trackEvent();
    const { deps, calls } = fakeDeps({ 'good.example': ok, 'bad.example': ok });
    await consumeDelivery(batchOf([{ kind: 'event', sourceId, event }]), env, deps);
    await consumeDelivery(batchOf([{ kind: 'event', sourceId, event }], 2), env, deps);
    await consumeDelivery(batchOf([attempt(event)]), env, deps);
    expect(calls.map((c) => new URL(c.url).host).sort()).toEqual(['bad.example', 'good.example']);
    const receipts = await env.DB.prepare('SELECT key FROM delivery_receipts WHERE key LIKE ?')
      .bind(`% ${event.messageId}`)
      .all<{ key: string }>();
    expect(receipts.results.map((r) => r.key).sort()).toEqual(
      [`${bad.id} ${event.messageId}`, `${good.id} ${event.messageId}`].sort(),
    );
  });

  it('pauses a hanging destination instead of waiting on each request; the healthy one is unaffected', async () => {
    const events = Array.from({ length: 12 }, () => trackEvent());
    const { deps, calls, retries } = fakeDeps({ 'good.example': ok, 'bad.example': hang });
    const started = Date.now();
    const batch = batchOf(events.map((event) => ({ kind: 'event' as const, sourceId, event })));
    await consumeDelivery(batch, env, deps);
    const elapsed = Date.now() - started;
    const goodCalls = calls.filter((c) => c.url.includes('good.example'));
    expect(goodCalls).toHaveLength(12);
    // Healthy requests do not queue behind the hanging ones.
    expect(Math.max(...goodCalls.map((c) => c.at)) - started).toBeLessThan(CONFIG.timeoutMs);
    // Only the first wave (3 in flight) waited for the timeout; the rest were deferred at once.
    expect(calls.filter((c) => c.url.includes('bad.example'))).toHaveLength(3);
    expect(elapsed).toBeLessThan(3 * CONFIG.timeoutMs);
    expect(retries).toHaveLength(12);
    expect((await resultOf(batch)).explicitAcks).toHaveLength(12);
  });

  it('after a hang, fresh events skip the vendor until a retry-lane probe finds it well again', async () => {
    const { deps, calls } = fakeDeps({ 'good.example': ok, 'bad.example': hang });
    await consumeDelivery(batchOf([{ kind: 'event', sourceId, event: trackEvent() }]), env, deps);
    expect(calls.filter((c) => c.url.includes('bad.example'))).toHaveLength(1);

    const healed = fakeDeps({ 'good.example': ok, 'bad.example': ok });
    const fresh = batchOf([{ kind: 'event', sourceId, event: trackEvent() }]);
    await consumeDelivery(fresh, env, healed.deps);
    // Degraded: the fresh lane does not try it, the event waits in the retry lane.
    expect(healed.calls.map((c) => new URL(c.url).host)).toEqual(['good.example']);
    expect(healed.retries).toHaveLength(1);

    // In the retry lane, once the pause (2 s base) is over, the probe goes out and succeeds.
    const later = { ...healed.deps, lane: 'retry' as const, now: () => Date.now() + 5_000 };
    await consumeDelivery(retryBatchOf([healed.retries[0].body]), env, later);
    expect(healed.calls.map((c) => new URL(c.url).host)).toEqual(['good.example', 'bad.example']);
  });

  it('counts filtered events and honours integrations and consent', async () => {
    const picky = await makeDestination({
      type: 'webhook',
      name: 'Picky',
      sourceIds: [sourceId],
      settings: { url: 'https://picky.example/x' },
      consentCategories: ['Marketing'],
      filters: [{ if: 'event = "Internal"', actions: [{ type: 'drop' }] }],
    });
    const { deps, calls } = fakeDeps({ 'good.example': ok, 'bad.example': ok, 'picky.example': ok });
    const bodies = [
      trackEvent({ event: 'Internal' }),
      trackEvent({ integrations: { All: false, Good: true } }),
      trackEvent({ context: { consent: { categoryPreferences: { Marketing: false } } } }),
      trackEvent({ context: { consent: { categoryPreferences: { Marketing: true } } } }),
    ].map((event) => ({ kind: 'event' as const, sourceId, event }));
    await consumeDelivery(batchOf(bodies), env, deps);
    expect(calls.filter((c) => c.url.includes('picky'))).toHaveLength(1);
    const health = await adminGet<{ totals: { delivered: number; filtered: number } }>(
      `/api/destinations/${picky.id}/health`,
    );
    expect(health.totals).toMatchObject({ delivered: 1, filtered: 3 });
  });
});

describe('dead-letter consumer', () => {
  it('records failures with the vendor answer, and the API shows them with health counts', async () => {
    const event = trackEvent({ event: 'Order Completed' });
    const failure: DeadLetterMessage = {
      kind: 'failed',
      destinationId: bad.id,
      sourceId,
      event,
      attempts: 5,
      firstAttemptAt: new Date(Date.now() - 60_000).toISOString(),
      failedAt: new Date().toISOString(),
      status: 422,
      error: 'The vendor refused the request with 422',
      response: '{"error":"invalid"}',
    };
    const gaveUp: DeadLetterMessage = attempt(trackEvent());
    const batch = createMessageBatch<DeadLetterMessage>('tessera-delivery-dlq', [
      { id: 'd1', timestamp: new Date(), attempts: 1, body: failure },
      { id: 'd2', timestamp: new Date(), attempts: 101, body: gaveUp },
    ]);
    await consumeDeliveryDlq(batch, env);
    expect((await resultOf(batch)).ackAll).toBe(true);
    const list = await adminGet<{
      data: { messageId: string; status: number | null; response: string; error: string; attempts: number }[];
    }>(`/api/destinations/${bad.id}/failures`);
    const byId = new Map(list.data.map((f) => [f.messageId, f]));
    expect(byId.get(event.messageId)).toMatchObject({
      status: 422,
      response: '{"error":"invalid"}',
      attempts: 5,
      name: 'Order Completed',
    });
    expect(byId.get(gaveUp.event.messageId)?.error).toMatch(/max_retries/);
    const health = await adminGet<{ totals: { failed: number } }>(`/api/destinations/${bad.id}/health`);
    expect(health.totals.failed).toBeGreaterThanOrEqual(2);
  });
});
