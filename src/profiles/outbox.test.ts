import { describe, expect, it } from 'vitest';
import { type DeliveryMessage, outboundEventsOf } from '../delivery/messages';
import { OutboxSender } from './outbox';
import type { ProfileStore } from './store';

/** An in-memory outbox with the two methods the sender uses. */
function memoryStore() {
  let rows: { seq: number; body: DeliveryMessage }[] = [];
  let seq = 0;
  const store = {
    outbox: (limit: number) => rows.slice(0, limit),
    deleteOutbox: (upTo: number) => {
      rows = rows.filter((r) => r.seq > upTo);
    },
  } as unknown as ProfileStore;
  const add = (id: string) =>
    rows.push({ seq: ++seq, body: { kind: 'event', event: { messageId: id } } as DeliveryMessage });
  return { store, add, pending: () => rows.length };
}

describe('OutboxSender', () => {
  it('keeps sending after a flush of an empty outbox (regression: a settled flush stuck forever)', async () => {
    const { store, add, pending } = memoryStore();
    const sent: string[] = [];
    const sender = new OutboxSender(store, async (msgs) => {
      for (const m of msgs) for (const o of outboundEventsOf(m)) sent.push(o.event.messageId);
    });
    await sender.flush(); // empty: finishes without awaiting anything
    add('a');
    await sender.flush();
    expect(sent).toEqual(['a']);
    expect(pending()).toBe(0);
  });

  it('leaves rows for the alarm when the queue refuses, and sends them on the next flush', async () => {
    const { store, add, pending } = memoryStore();
    let up = false;
    const sent: string[] = [];
    const sender = new OutboxSender(store, async (msgs) => {
      if (!up) throw new Error('queue down');
      for (const m of msgs) for (const o of outboundEventsOf(m)) sent.push(o.event.messageId);
    });
    add('a');
    add('b');
    await expect(sender.flush()).rejects.toThrow('queue down');
    expect(pending()).toBe(2);
    up = true;
    await sender.flush();
    expect(sent).toEqual(['a', 'b']);
  });

  it('sends the events of several rows as one packed message', async () => {
    const { store, add } = memoryStore();
    const sent: DeliveryMessage[] = [];
    const sender = new OutboxSender(store, async (msgs) => {
      sent.push(...msgs);
    });
    for (const id of ['a', 'b', 'c']) add(id);
    await sender.flush();
    expect(sent).toHaveLength(1);
    expect(sent[0].kind).toBe('events');
    expect(outboundEventsOf(sent[0]).map((o) => o.event.messageId)).toEqual(['a', 'b', 'c']);
  });
});
