import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetBreakers } from '../src/delivery/breaker';
import { consumeDelivery } from '../src/delivery/consumer';
import { consumeDeliveryDlq } from '../src/delivery/dlq';
import type { DeliveryAttempts, DeliveryMessage } from '../src/delivery/messages';
import type { EnrichedEvent } from '../src/ingest/spec';
import { batchOf, fakeDeps, resultOf, retriedEvents, retryBatchOf, retryDelays } from './kit/delivery';
import { env, makeDestination, makeSource, trackEvent } from './kit/workers';

// Packed delivery messages: a Profile's outbox flush sends its events as one `events` message;
// the consumer still routes, sends, retries, dead-letters and records each event on its own.
const ok = () => new Response('{"ok":true}', { status: 200 });
let sourceId: string;
let good: { id: string };
let bad: { id: string };

beforeAll(async () => {
  sourceId = (await makeSource('delivery-packed')).id;
  good = await makeDestination({
    type: 'webhook',
    name: 'Packed good',
    sourceIds: [sourceId],
    settings: { url: 'https://pgood.example/hook' },
  });
  bad = await makeDestination({
    type: 'webhook',
    name: 'Packed flaky',
    sourceIds: [sourceId],
    settings: { url: 'https://pbad.example/hook' },
  });
});
beforeEach(() => resetBreakers());

const packed = (events: EnrichedEvent[]): DeliveryMessage => ({
  kind: 'events',
  events: events.map((event) => ({ kind: 'event', sourceId, event })),
});
/** A vendor that refuses the events whose messageId is in `refused` (one event per request). */
const refusing = (refused: Set<string>) => async (req: Request) => {
  const body = (await req.json()) as { messageId: string };
  return refused.has(body.messageId) ? new Response('busy', { status: 503 }) : ok();
};
const sentTo = (calls: { url: string; body: unknown }[], host: string) =>
  calls.filter((c) => new URL(c.url).host === host).map((c) => (c.body as { messageId: string }).messageId);

describe('packed delivery messages', () => {
  it('a partial vendor failure retries only the failed event; nothing is sent twice, redelivery included', async () => {
    const events = [trackEvent(), trackEvent(), trackEvent()];
    const refused = new Set([events[1].messageId]);
    const { deps, calls, retries } = fakeDeps({ 'pgood.example': ok, 'pbad.example': refusing(refused) });
    const batch = batchOf([packed(events)]);
    await consumeDelivery(batch, env, deps);
    const ids = events.map((e) => e.messageId);
    expect(sentTo(calls, 'pgood.example').sort()).toEqual([...ids].sort());
    expect(sentTo(calls, 'pbad.example').sort()).toEqual([...ids].sort());
    // Only the refused event for the refusing destination goes to the retry lane.
    expect(retriedEvents(retries).map((r) => [r.destinationId, r.event.messageId, r.priorAttempts])).toEqual([
      [bad.id, events[1].messageId, 1],
    ]);
    expect((await resultOf(batch)).explicitAcks).toEqual([batch.messages[0].id]);

    // The queue redelivers the packed message (at least once): what went through is not sent
    // again; the refused event is tried again (the vendor takes it now), once.
    refused.clear();
    const again = fakeDeps({ 'pgood.example': ok, 'pbad.example': refusing(refused) });
    await consumeDelivery(batchOf([packed(events)], 2), env, again.deps);
    expect(sentTo(again.calls, 'pgood.example')).toEqual([]);
    expect(sentTo(again.calls, 'pbad.example')).toEqual([events[1].messageId]);
    // Its retry-lane message arrives later and finds it delivered: no third send.
    const later = fakeDeps({ 'pgood.example': ok, 'pbad.example': ok });
    const lane = retryBatchOf(retries.map((r) => r.body));
    await consumeDelivery(lane, env, later.deps);
    expect(later.calls).toEqual([]);
    expect((await resultOf(lane)).explicitAcks).toEqual([lane.messages[0].id]);
  });

  it("one destination's failures go as one packed retry message, whatever the number of events", async () => {
    const events = Array.from({ length: 5 }, () => trackEvent());
    const { deps, retries } = fakeDeps({
      'pgood.example': ok,
      'pbad.example': () => new Response('', { status: 500 }),
    });
    await consumeDelivery(batchOf([packed(events.slice(0, 3)), packed(events.slice(3))]), env, deps);
    expect(retries).toHaveLength(1);
    const body = retries[0].body as DeliveryAttempts;
    expect(body).toMatchObject({ kind: 'attempts', destinationId: bad.id });
    expect(body.attempts.map((a) => a.event.messageId)).toEqual(events.map((e) => e.messageId));
  });

  it('the retry lane: a packed attempt retries in place when all fail, and sends on only the failed ones otherwise', async () => {
    const events = Array.from({ length: 3 }, () => trackEvent());
    const attempts: DeliveryAttempts = {
      kind: 'attempts',
      destinationId: bad.id,
      attempts: events.map((event) => ({
        sourceId,
        event,
        firstAttemptAt: new Date().toISOString(),
        priorAttempts: 1,
      })),
    };
    // All refused: the message itself is retried (no new message), with the backoff's delay.
    const down = fakeDeps({ 'pbad.example': () => new Response('', { status: 503 }) });
    const first = batchOf([attempts], 1);
    await consumeDelivery(first, env, { ...down.deps, lane: 'retry' });
    expect(down.retries).toEqual([]);
    expect((await resultOf(first)).retryMessages).toEqual([{ msgId: first.messages[0].id }]);
    expect(retryDelays.get(first.messages[0].id)).toBeGreaterThan(0);

    // One refused: the others are delivered, the refused one travels on alone, the message is acked.
    resetBreakers();
    const refused = new Set([events[2].messageId]);
    const partly = fakeDeps({ 'pbad.example': refusing(refused) });
    const second = batchOf([attempts], 2);
    await consumeDelivery(second, env, { ...partly.deps, lane: 'retry' });
    expect(sentTo(partly.calls, 'pbad.example').sort()).toEqual(events.map((e) => e.messageId).sort());
    expect(retriedEvents(partly.retries).map((r) => [r.event.messageId, r.priorAttempts])).toEqual([
      [events[2].messageId, 3],
    ]);
    expect((await resultOf(second)).explicitAcks).toEqual([second.messages[0].id]);

    // Redelivered anyway: the delivered two are skipped, only the refused one is tried.
    refused.clear();
    const healed = fakeDeps({ 'pbad.example': ok });
    await consumeDelivery(batchOf([attempts], 3), env, { ...healed.deps, lane: 'retry' });
    expect(sentTo(healed.calls, 'pbad.example')).toEqual([events[2].messageId]);
  });

  it('still takes the single messages sent before packing (in flight on deploy)', async () => {
    const event = trackEvent();
    const { deps, calls } = fakeDeps({ 'pgood.example': ok, 'pbad.example': ok });
    const batch = batchOf([{ kind: 'event', sourceId, event }]);
    await consumeDelivery(batch, env, deps);
    expect(calls).toHaveLength(2);
    expect((await resultOf(batch)).explicitAcks).toEqual([batch.messages[0].id]);
  });

  it('a packed message the queue gave up on is dead-lettered per event and destination', async () => {
    const events = [trackEvent(), trackEvent()];
    const dlq = retryBatchOf([packed(events)]);
    await consumeDeliveryDlq(dlq as never, env);
    const rows = await env.DB.prepare(
      'SELECT destination_id AS d, message_id AS m FROM delivery_failures WHERE message_id IN (?, ?)',
    )
      .bind(events[0].messageId, events[1].messageId)
      .all<{ d: string; m: string }>();
    expect(rows.results.map((r) => `${r.d}:${r.m}`).sort()).toEqual(
      events.flatMap((e) => [`${good.id}:${e.messageId}`, `${bad.id}:${e.messageId}`]).sort(),
    );
  });
});
