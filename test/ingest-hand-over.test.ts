// The ingest consumer sends a batch's deliveries itself (profiles hand them back instead of writing
// outbox rows): nothing is acked before its deliveries are on the `delivery` queue, a redelivered
// message gets its deliveries again although its profile already logged the events, and a
// client's re-send with the same messageId stays a dropped duplicate.
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { DeliveryMessage, OutboundEvent } from '../src/delivery/messages';
import { outboundEventsOf } from '../src/delivery/messages';
import { consumeIngest } from '../src/ingest/consumer';
import { enqueueIngest } from '../src/ingest/enqueue';
import type { IngestMessage } from '../src/ingest/spec';
import { ProfileStore } from '../src/profiles/store';
import { testBatch } from './kit/queue';
import { env, ingestMessage, makeSource, profileObject, uniq, waitForEvents } from './kit/workers';

/** A `delivery` queue that records what it is given, failing the first `failures` calls. */
function deliveryQueue(failures = 0) {
  const sent: DeliveryMessage[] = [];
  let calls = 0;
  const sendBatch = async (messages: Iterable<MessageSendRequest<DeliveryMessage>>) => {
    calls++;
    if (calls <= failures) throw new Error('delivery queue unavailable');
    for (const m of messages) sent.push(m.body);
  };
  const queue = {
    sendBatch,
    send: (body: DeliveryMessage) => sendBatch([{ body }]),
  } as unknown as Queue<DeliveryMessage>;
  return {
    queue,
    sent,
    events: (): OutboundEvent[] => sent.flatMap(outboundEventsOf),
    calls: () => calls,
  };
}

const track = (sourceId: string, userId: string) =>
  ingestMessage({ type: 'track', event: 'Handed over', userId }, { messageId: uniq('ho'), sourceId });

/** Consumes the bodies as one batch delivered `attempts` times, with this delivery queue. */
async function consume(bodies: unknown[], queue: Queue<DeliveryMessage>, attempts = 1) {
  const t = testBatch<IngestMessage>(
    'tessera-ingest',
    bodies.map((body) => ({ body: body as IngestMessage })),
    attempts,
  );
  await consumeIngest(t.batch, { ...env, DELIVERY_QUEUE: queue } as Cloudflare.Env);
  const result = await t.result();
  return { ids: t.ids, acked: [...result.explicitAcks], retried: result.retryMessages.map((r) => r.msgId) };
}

describe('ingest consumer: deliveries handed over', () => {
  it('sends a batch of several profiles as one delivery message, then acks', async () => {
    const source = await makeSource('Hand-over');
    const users = Array.from({ length: 4 }, () => uniq('ho-user'));
    const bodies = users.flatMap((u) => [track(source.id, u), track(source.id, u)]);
    const q = deliveryQueue();
    const r = await consume(bodies, q.queue);
    expect(r.retried).toEqual([]);
    expect(r.acked.sort()).toEqual([...r.ids].sort());
    // Four profiles, eight events: one packed message, each event once, with its profile.
    expect(q.sent).toHaveLength(1);
    expect(q.sent[0].kind).toBe('events');
    // Each event once; a profile's events in their order (profiles resolve in parallel).
    const sentIds = q.events().map((e) => e.event.messageId);
    expect([...sentIds].sort()).toEqual(bodies.map((b) => b.event.messageId).sort());
    for (const u of users) {
      const own = bodies.filter((b) => b.event.userId === u).map((b) => b.event.messageId);
      expect(sentIds.filter((id) => own.includes(id))).toEqual(own);
    }
    const profiles = new Set(q.events().map((e) => e.profileId));
    expect(profiles.size).toBe(users.length);
    // No profile kept an outbox row for them or armed the 30 s retry alarm.
    for (const profileId of profiles) {
      const state = await runInDurableObject(profileObject(profileId as string), (_i, s) => ({
        outbox: new ProfileStore(s.storage.sql).outboxSize(),
        alarm: s.storage.getAlarm(),
      }));
      expect(state.outbox).toBe(0);
      const alarm = await state.alarm;
      expect(alarm === null || alarm > Date.now() + 86_400_000).toBe(true);
    }
  });

  it('retries what it could not hand over; the redelivery hands the logged events over, a re-send does not', {
    timeout: 30_000,
  }, async () => {
    const source = await makeSource('Hand-over outage');
    const users = Array.from({ length: 3 }, () => uniq('ho-out'));
    const bodies = users.map((u) => track(source.id, u));

    // The queue is down: nothing acked, everything retried, yet the events are on their profiles.
    const down = deliveryQueue(Number.POSITIVE_INFINITY);
    const first = await consume(bodies, down.queue);
    expect(first.acked).toEqual([]);
    expect(first.retried.sort()).toEqual([...first.ids].sort());
    expect(down.sent).toEqual([]);
    for (const u of users) await waitForEvents(`user_id:${u}`, 1);

    // The queue redelivers (attempt 2): the profiles see duplicates and hand them over again.
    const up = deliveryQueue();
    const second = await consume(bodies, up.queue, 2);
    expect(second.retried).toEqual([]);
    expect(second.acked).toHaveLength(bodies.length);
    expect(
      up
        .events()
        .map((e) => e.event.messageId)
        .sort(),
    ).toEqual(bodies.map((b) => b.event.messageId).sort());
    for (const u of users) await waitForEvents(`user_id:${u}`, 1); // still one event each

    // A client sends the same messageIds again (a new queue message, attempt 1): dropped.
    const resent = deliveryQueue();
    const third = await consume(bodies, resent.queue);
    expect(third.acked).toHaveLength(bodies.length);
    expect(resent.events()).toEqual([]);
  });

  it('when the packed send fails, sends each message alone and retries only what still fails', async () => {
    const source = await makeSource('Hand-over partial');
    const bodies = Array.from({ length: 3 }, () => track(source.id, uniq('ho-part')));
    // The packed call fails, then the first message alone fails, the rest go through.
    const flaky = deliveryQueue(2);
    const r = await consume(bodies, flaky.queue);
    // Which message went first depends on the groups' order; exactly one failed and is retried.
    expect(r.retried).toHaveLength(1);
    expect([...r.acked, ...r.retried].sort()).toEqual([...r.ids].sort());
    const messageIdOf = (queueId: string) => bodies[r.ids.indexOf(queueId)].event.messageId;
    expect(
      flaky
        .events()
        .map((e) => e.event.messageId)
        .sort(),
    ).toEqual(r.acked.map(messageIdOf).sort());
  });

  it('a replayed dead letter counts as a redelivery: an event logged but never sent is handed over', async () => {
    const source = await makeSource('Hand-over replay');
    const bodies = Array.from({ length: 2 }, () => track(source.id, uniq('ho-replay')));
    const down = deliveryQueue(Number.POSITIVE_INFINITY);
    expect((await consume(bodies, down.queue)).acked).toEqual([]); // logged, not sent
    // What a replay of these (dead-lettered) events puts on the ingest queue: a fresh message.
    const queued: unknown[] = [];
    const ingest = { sendBatch: async (m: { body: unknown }[]) => queued.push(...m.map((x) => x.body)) };
    await enqueueIngest(ingest as unknown as Queue, bodies as IngestMessage[], { replay: true });
    const up = deliveryQueue();
    const r = await consume(queued, up.queue); // attempt 1 of the new message
    expect(r.retried).toEqual([]);
    expect(
      up
        .events()
        .map((e) => e.event.messageId)
        .sort(),
    ).toEqual(bodies.map((b) => b.event.messageId).sort());
  });
});
