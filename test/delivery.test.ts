import { createMessageBatch } from 'cloudflare:test';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetBreakers } from '../src/delivery/breaker';
import { consumeDelivery } from '../src/delivery/consumer';
import { consumeDeliveryDlq, DLQ_MAX_RETRIES, LAST_RESORT_PREFIX } from '../src/delivery/dlq';
import type { DeadLetterMessage, DeliveryAttempt } from '../src/delivery/messages';
import { batchOf, CONFIG, fakeDeps, hang, resultOf, retriedEvents, retryBatchOf, retryDelays } from './kit/delivery';
import { admin, env, makeDestination, makeSource, trackEvent } from './kit/workers';

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
    // One receipt row per destination for the batch, naming the event.
    const receipts = await env.DB.prepare(
      'SELECT destination_id AS id FROM delivery_receipt_sets, json_each(message_ids) WHERE value = ?',
    )
      .bind(event.messageId)
      .all<{ id: string }>();
    expect(receipts.results.map((r) => r.id).sort()).toEqual([bad.id, good.id].sort());
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
    // One retry-lane message for the destination's twelve events.
    expect(retries).toHaveLength(1);
    expect(retriedEvents(retries)).toHaveLength(12);
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

  it('the fresh lane waits on a hanging sibling no longer than its budget; the retry lane takes it', async () => {
    // A production-like timeout and a short fresh-lane budget: today the batch lasted the timeout.
    const config = { ...CONFIG, timeoutMs: 5_000, freshBudgetMs: 200 };
    const { deps, calls, retries } = fakeDeps({ 'good.example': ok, 'bad.example': hang }, config);
    const events = Array.from({ length: 3 }, () => trackEvent());
    const started = Date.now();
    const batch = batchOf(events.map((event) => ({ kind: 'event' as const, sourceId, event })));
    await consumeDelivery(batch, env, deps);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(calls.filter((c) => c.url.includes('good.example'))).toHaveLength(3);
    // The cut requests hop to the retry lane within a second, counted as one attempt.
    expect(retriedEvents(retries).map((r) => [r.destinationId, r.priorAttempts, r.delaySeconds])).toEqual(
      events.map(() => [bad.id, 1, 1]),
    );
    expect((await resultOf(batch)).explicitAcks).toHaveLength(3);

    // Suspect now: one request at a time, still cut at the budget; after three slow batches in a
    // row it is degraded and the fresh lane does not wait on it at all.
    const badCalls = () => calls.filter((c) => c.url.includes('bad.example')).length;
    for (let n = 0; n < 2; n++) {
      const again = Date.now();
      await consumeDelivery(batchOf([1, 2].map(() => ({ kind: 'event', sourceId, event: trackEvent() }))), env, deps);
      expect(Date.now() - again).toBeLessThan(1_000);
    }
    expect(badCalls()).toBe(3 + 2);
    const again = Date.now();
    await consumeDelivery(batchOf([{ kind: 'event', sourceId, event: trackEvent() }]), env, deps);
    expect(Date.now() - again).toBeLessThan(150);
    expect(badCalls()).toBe(5);
    expect(retriedEvents(retries)).toHaveLength(3 + 4 + 1);
  });

  it('the retry lane gives a slow vendor the full timeout', async () => {
    const config = { ...CONFIG, timeoutMs: 2_000, freshBudgetMs: 150 };
    const slow = (req: Request) =>
      new Promise<Response>((resolve, reject) => {
        setTimeout(() => resolve(ok()), 500);
        req.signal.addEventListener('abort', () => reject(req.signal.reason));
      });
    const { deps, retries, calls } = fakeDeps({ 'good.example': ok, 'bad.example': slow }, config);
    await consumeDelivery(batchOf([{ kind: 'event', sourceId, event: trackEvent() }]), env, deps);
    expect(retries).toHaveLength(1);
    const later = retryBatchOf([retries[0].body]);
    await consumeDelivery(later, env, deps);
    expect((await resultOf(later)).explicitAcks).toEqual([later.messages[0].id]);
    expect(calls.filter((c) => c.url.includes('bad.example'))).toHaveLength(2);
  });

  it('records and acks a message it cannot read or route; the rest of the batch is delivered', async () => {
    const good1 = trackEvent();
    const good2 = trackEvent();
    const { deps, calls } = fakeDeps({ 'good.example': ok, 'bad.example': ok });
    const batch = batchOf([
      { kind: 'event', sourceId, event: good1 },
      // Readable but not an event: routing it throws.
      { kind: 'event', sourceId, event: null as unknown as ReturnType<typeof trackEvent> },
      { kind: 'event', sourceId, event: good2 },
      { kind: 'event', sourceId, event: trackEvent() },
      { kind: 'attempt', destinationId: bad.id } as unknown as DeliveryAttempt,
      { kind: 'other' } as unknown as DeliveryAttempt,
    ]);
    // The runtime failing to deserialise a body (as with a body nested thousands of levels deep).
    Object.defineProperty(batch.messages[3], 'body', {
      get() {
        throw new RangeError('Maximum call stack size exceeded');
      },
    });
    await consumeDelivery(batch, env, deps);
    const sent = calls.map((c) => (c.body as { messageId: string }).messageId);
    expect(sent.filter((id) => id === good1.messageId)).toHaveLength(2);
    expect(sent.filter((id) => id === good2.messageId)).toHaveLength(2);
    expect((await resultOf(batch)).explicitAcks).toHaveLength(6);
    const rows = await env.DB.prepare(
      "SELECT message_id, event_type, error FROM delivery_failures WHERE destination_id = '*' AND message_id IN (?, ?, ?, ?)",
    )
      .bind(...[1, 3, 4, 5].map((n) => `queue:${batch.messages[n].id}`))
      .all<{ message_id: string; event_type: string; error: string }>();
    const byId = new Map(rows.results.map((r) => [r.message_id, r]));
    expect(byId.get(`queue:${batch.messages[1].id}`)).toMatchObject({ event_type: 'event' });
    expect(byId.get(`queue:${batch.messages[3].id}`)?.event_type).toBe('unreadable');
    expect(byId.get(`queue:${batch.messages[3].id}`)?.error).toMatch(/RangeError/);
    expect(byId.get(`queue:${batch.messages[4].id}`)?.error).toMatch(/malformed attempt/);
    expect(byId.get(`queue:${batch.messages[5].id}`)?.event_type).toBe('other');
  });

  it('an event that cannot be serialised fails on its own; its batch mates are delivered', async () => {
    // A BigInt survives the queue's structured clone but not JSON, like a body nested too deep.
    const poison = trackEvent({ properties: { n: 10n } });
    const fine = trackEvent();
    const { deps, calls, deadLetters } = fakeDeps({ 'good.example': ok, 'bad.example': ok });
    const batch = batchOf([
      { kind: 'event', sourceId, event: poison },
      { kind: 'event', sourceId, event: fine },
    ]);
    await consumeDelivery(batch, env, deps);
    expect(calls.map((c) => (c.body as { messageId: string }).messageId)).toEqual([fine.messageId, fine.messageId]);
    expect(deadLetters.map((f) => [f.event.messageId, f.error])).toEqual([
      [poison.messageId, expect.stringMatching(/cannot be serialised/)],
      [poison.messageId, expect.stringMatching(/cannot be serialised/)],
    ]);
    expect((await resultOf(batch)).explicitAcks).toHaveLength(2);
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
    const health = await admin<{ totals: { delivered: number; filtered: number } }>(
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
    expect((await resultOf(batch)).explicitAcks.sort()).toEqual(['d1', 'd2']);
    const list = await admin<{
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
    const health = await admin<{ totals: { failed: number } }>(`/api/destinations/${bad.id}/health`);
    expect(health.totals.failed).toBeGreaterThanOrEqual(2);
  });

  it('records every message on its own: a malformed, unreadable or foreign one never holds the others', async () => {
    const good = trackEvent();
    const failure = (event: unknown): DeadLetterMessage =>
      ({
        kind: 'failed',
        destinationId: bad.id,
        sourceId,
        event,
        attempts: 2,
        firstAttemptAt: new Date().toISOString(),
        failedAt: new Date().toISOString(),
        error: 'The vendor answered 500',
      }) as DeadLetterMessage;
    const batch = createMessageBatch<DeadLetterMessage>('tessera-delivery-dlq', [
      { id: 'p-good', timestamp: new Date(), attempts: 1, body: failure(good) },
      // No type, no messageId: its row breaks the NOT NULL columns.
      { id: 'p-malformed', timestamp: new Date(), attempts: 1, body: failure({ properties: {} }) },
      { id: 'p-foreign', timestamp: new Date(), attempts: 1, body: { kind: 'x' } as unknown as DeadLetterMessage },
      { id: 'p-unreadable', timestamp: new Date(), attempts: 1, body: failure(trackEvent()) },
    ]);
    Object.defineProperty(batch.messages[3], 'body', {
      get() {
        throw new RangeError('Maximum call stack size exceeded');
      },
    });
    await consumeDeliveryDlq(batch, env);
    const result = await resultOf(batch);
    expect(result.explicitAcks.sort()).toEqual(['p-foreign', 'p-good', 'p-malformed', 'p-unreadable']);
    expect(result.retryMessages).toEqual([]);
    const list = await admin<{ data: { messageId: string }[] }>(`/api/destinations/${bad.id}/failures`);
    expect(list.data.map((f) => f.messageId)).toContain(good.messageId);
    const rows = await env.DB.prepare(
      "SELECT message_id, event_type, event FROM delivery_failures WHERE destination_id = '*' AND message_id LIKE 'queue:p-%' ORDER BY message_id",
    ).all<{ message_id: string; event_type: string; event: string }>();
    expect(rows.results.map((r) => [r.message_id, r.event_type])).toEqual([
      ['queue:p-foreign', 'x'],
      ['queue:p-malformed', 'failed'],
      ['queue:p-unreadable', 'unreadable'],
    ]);
    // What could be read is kept, for a person to re-send.
    expect(JSON.parse(rows.results[1].event)).toMatchObject({ kind: 'failed', destinationId: bad.id });
  });

  it('retries while D1 refuses, and keeps the raw body in R2 on the last attempt', async () => {
    const down = {
      ...env,
      DB: new Proxy(env.DB, {
        get(target, prop) {
          if (prop === 'batch') return () => Promise.reject(new Error('D1 is unavailable'));
          const value = Reflect.get(target, prop);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }),
    } as Cloudflare.Env;
    const event = trackEvent();
    const body = attempt(event);
    const early = createMessageBatch<DeadLetterMessage>('tessera-delivery-dlq', [
      { id: 'r-early', timestamp: new Date(), attempts: 1, body },
    ]);
    await consumeDeliveryDlq(early, down);
    expect((await resultOf(early)).retryMessages).toEqual([expect.objectContaining({ msgId: 'r-early' })]);

    const last = createMessageBatch<DeadLetterMessage>('tessera-delivery-dlq', [
      { id: 'r-last', timestamp: new Date(), attempts: DLQ_MAX_RETRIES + 1, body },
    ]);
    await consumeDeliveryDlq(last, down);
    expect((await resultOf(last)).explicitAcks).toEqual(['r-last']);
    const listed = await env.ARCHIVE.list({ prefix: LAST_RESORT_PREFIX });
    const key = listed.objects.map((o) => o.key).find((k) => k.endsWith('/r-last.json'));
    expect(key).toBeDefined();
    const kept = JSON.parse((await (await env.ARCHIVE.get(key as string))?.text()) ?? '{}');
    expect(kept).toMatchObject({ id: 'r-last', key: event.messageId, attempts: DLQ_MAX_RETRIES + 1 });
    expect(JSON.parse(kept.body)).toEqual(body);
  });
});
