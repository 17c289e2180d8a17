import { describe, expect, it } from 'vitest';
import { ShardBatch } from './shard-batch';

type W = { key: string; claimFor?: string };

function fakeIndex(shards = 4) {
  const calls: { shard: number; keys: string[] }[] = [];
  const owners = new Map<string, string>();
  const batch = new ShardBatch<W, string>(
    (key) => key.length % shards,
    async (shard, wants) => {
      calls.push({ shard, keys: wants.map((w) => w.key) });
      const out: Record<string, string> = {};
      for (const w of wants) {
        if (!owners.has(w.key) && w.claimFor) owners.set(w.key, w.claimFor);
        const o = owners.get(w.key);
        if (o) out[w.key] = o;
      }
      return out;
    },
  );
  return { batch, calls };
}

describe('ShardBatch', () => {
  it('sends the requests of one turn as one call per shard, each caller getting its own keys', async () => {
    const { batch, calls } = fakeIndex();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => batch.get([{ key: `a${'x'.repeat(i)}`, claimFor: `p${i}` }, { key: 'zz' }])),
    );
    expect(calls.length).toBeLessThanOrEqual(4);
    expect(calls.flatMap((c) => c.keys)).toHaveLength(20);
    answers.forEach((a, i) => {
      expect(a[`a${'x'.repeat(i)}`]).toBe(`p${i}`);
      expect(Object.keys(a)).toHaveLength(1); // 'zz' is owned by nobody
    });
  });

  it('a key wanted twice in one call goes to the first claimer', async () => {
    const { batch } = fakeIndex();
    const [a, b] = await Promise.all([
      batch.get([{ key: 'k', claimFor: 'p1' }]),
      batch.get([{ key: 'k', claimFor: 'p2' }]),
    ]);
    expect(a.k).toBe('p1');
    expect(b.k).toBe('p1');
  });

  it('a later turn makes new calls; a failing shard fails only its callers', async () => {
    let fail = true;
    const batch = new ShardBatch<W, string>(
      (key) => (key.startsWith('bad') ? 1 : 0),
      async (shard, wants) => {
        if (shard === 1 && fail) throw new Error('shard down');
        return Object.fromEntries(wants.map((w) => [w.key, 'p']));
      },
    );
    const [good, bad] = await Promise.allSettled([batch.get([{ key: 'ok' }]), batch.get([{ key: 'bad1' }])]);
    expect(good.status).toBe('fulfilled');
    expect(bad.status).toBe('rejected');
    fail = false;
    expect(await batch.get([{ key: 'bad2' }])).toEqual({ bad2: 'p' });
    expect(await batch.get([])).toEqual({});
  });
});
