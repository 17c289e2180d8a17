import { describe, expect, it } from 'vitest';
import { collect, mergeBatchFields } from './collect';
import { chunkForQueue } from './enqueue';

describe('mergeBatchFields', () => {
  it('merges batch context/integrations under item values and fills sentAt', () => {
    const merged = mergeBatchFields(
      { type: 'track', context: { page: { path: '/x' } }, integrations: { A: true } },
      {
        context: { library: { name: 'l' }, page: { path: '/batch' } },
        integrations: { All: false, A: false },
        sentAt: 'S',
      },
    );
    expect(merged).toEqual({
      type: 'track',
      context: { library: { name: 'l' }, page: { path: '/x' } },
      integrations: { All: false, A: true },
      sentAt: 'S',
    });
  });
});

describe('collect', () => {
  it('drops writeKey from the stored event and forces the route type', () => {
    const r = collect(
      [{ writeKey: 'wk', type: 'identify', event: 'E', userId: 'u' }],
      { receivedAt: new Date() },
      'track',
    );
    expect(r.rejected).toEqual([]);
    expect(r.accepted[0].type).toBe('track');
    expect('writeKey' in r.accepted[0]).toBe(false);
  });
});

describe('chunkForQueue', () => {
  it('keeps chunks within 100 messages and the byte budget, in order', () => {
    const msgs = Array.from({ length: 250 }, (_, i) => ({ i, pad: 'x'.repeat(i % 7 === 0 ? 20_000 : 10) }));
    const chunks = chunkForQueue(msgs);
    expect(chunks.flat()).toEqual(msgs);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(100);
      expect(JSON.stringify(c).length).toBeLessThan(256 * 1024);
    }
  });
});
