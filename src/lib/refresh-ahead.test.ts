import { describe, expect, it } from 'vitest';
import { RefreshAheadCache } from './refresh-ahead';

/** A load whose answers the test releases by hand, counting calls. */
function gatedLoad() {
  const pending: ((v: number) => void)[] = [];
  const failures: ((e: Error) => void)[] = [];
  let calls = 0;
  return {
    load: () =>
      new Promise<number>((resolve, reject) => {
        calls++;
        pending.push(resolve);
        failures.push(reject);
      }),
    release: (v: number) => {
      failures.shift();
      pending.shift()?.(v);
    },
    fail: (e: Error) => {
      pending.shift();
      failures.shift()?.(e);
    },
    get calls() {
      return calls;
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('RefreshAheadCache', () => {
  it('awaits a missing entry once for concurrent readers, then serves it without loading', async () => {
    const cache = new RefreshAheadCache<string, number>({ ttlMs: 1000 });
    const g = gatedLoad();
    const a = cache.get('k', { load: g.load, now: 0 });
    const b = cache.get('k', { load: g.load, now: 10 });
    await tick();
    expect(g.calls).toBe(1);
    g.release(1);
    expect(await a).toBe(1);
    expect(await b).toBe(1);
    expect(await cache.get('k', { load: g.load, now: 499 })).toBe(1);
    expect(g.calls).toBe(1);
  });

  it('past half the TTL serves the cached value and reloads once in the background, kept alive', async () => {
    const cache = new RefreshAheadCache<string, number>({ ttlMs: 1000 });
    const g = gatedLoad();
    const first = cache.get('k', { load: g.load, now: 0 });
    await tick();
    g.release(1);
    await first;
    const kept: Promise<unknown>[] = [];
    const keepAlive = (p: Promise<unknown>) => kept.push(p);
    expect(await cache.get('k', { load: g.load, now: 500, keepAlive })).toBe(1);
    expect(await cache.get('k', { load: g.load, now: 600, keepAlive })).toBe(1);
    await tick();
    expect(g.calls).toBe(2); // one background reload for both reads
    expect(kept).toHaveLength(1);
    g.release(2);
    await kept[0];
    // The new value's age counts from when its load began (500): fresh until 1000, expired at 1500.
    expect(await cache.get('k', { load: g.load, now: 999 })).toBe(2);
    expect(g.calls).toBe(2);
  });

  it('never serves a value at or past the TTL: the read awaits the reload', async () => {
    const cache = new RefreshAheadCache<string, number>({ ttlMs: 1000 });
    const g = gatedLoad();
    const first = cache.get('k', { load: g.load, now: 0 });
    await tick();
    g.release(1);
    await first;
    let settled = false;
    const late = cache.get('k', { load: g.load, now: 1000 }).then((v) => {
      settled = true;
      return v;
    });
    await tick();
    expect(settled).toBe(false);
    g.release(7);
    expect(await late).toBe(7);
  });

  it('an expired read joins a background reload already under way instead of starting another', async () => {
    const cache = new RefreshAheadCache<string, number>({ ttlMs: 1000 });
    const g = gatedLoad();
    const first = cache.get('k', { load: g.load, now: 0 });
    await tick();
    g.release(1);
    await first;
    expect(await cache.get('k', { load: g.load, now: 900 })).toBe(1); // starts the reload
    const expired = cache.get('k', { load: g.load, now: 1100 });
    await tick();
    expect(g.calls).toBe(2);
    g.release(3);
    expect(await expired).toBe(3);
  });

  it('a failed background reload keeps the entry until its hard expiry and reports the error', async () => {
    const cache = new RefreshAheadCache<string, number>({ ttlMs: 1000 });
    const g = gatedLoad();
    const first = cache.get('k', { load: g.load, now: 0 });
    await tick();
    g.release(1);
    await first;
    const errors: unknown[] = [];
    const kept: Promise<unknown>[] = [];
    const ctx = {
      load: g.load,
      keepAlive: (p: Promise<unknown>) => kept.push(p),
      onError: (e: unknown) => errors.push(e),
    };
    expect(await cache.get('k', { ...ctx, now: 600 })).toBe(1);
    await tick();
    g.fail(new Error('d1 down'));
    await kept[0];
    expect(errors).toHaveLength(1);
    expect(await cache.get('k', { ...ctx, now: 700 })).toBe(1); // retried in the background again
    await tick();
    expect(g.calls).toBe(3);
  });

  it('an awaited load that fails rejects its readers and caches nothing', async () => {
    const cache = new RefreshAheadCache<string, number>({ ttlMs: 1000 });
    const g = gatedLoad();
    const a = cache.get('k', { load: g.load, now: 0 });
    await tick();
    g.fail(new Error('nope'));
    await expect(a).rejects.toThrow('nope');
    expect(cache.peek('k')).toBeUndefined();
  });

  it('forget applies at once, and a load begun before it cannot put the old value back', async () => {
    const cache = new RefreshAheadCache<string, number>({ ttlMs: 1000 });
    const g = gatedLoad();
    const first = cache.get('k', { load: g.load, now: 0 });
    await tick();
    g.release(1);
    await first;
    const kept: Promise<unknown>[] = [];
    await cache.get('k', { load: g.load, now: 600, keepAlive: (p) => kept.push(p) }); // reload under way
    cache.forget('k');
    const after = cache.get('k', { load: g.load, now: 610 });
    await tick();
    expect(g.calls).toBe(3); // the read after forget does not join the earlier reload
    g.release(1); // the earlier reload answers with what it read before the change…
    await kept[0];
    g.release(2);
    expect(await after).toBe(2); // …and the read after the change gets the new value
    expect(await cache.get('k', { load: g.load, now: 620 })).toBe(2);
  });

  it('keys are independent, and passing maxKeys starts over', async () => {
    const cache = new RefreshAheadCache<string, number>({ ttlMs: 1000, maxKeys: 2 });
    const load = async () => 1;
    await cache.get('a', { load, now: 0 });
    await cache.get('b', { load, now: 0 });
    expect(cache.peek('a')).toBe(1);
    await cache.get('c', { load, now: 0 });
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('c')).toBe(1);
  });

  it('hands the previous value to the load (to compare revisions)', async () => {
    const cache = new RefreshAheadCache<string, { rev: number }>({ ttlMs: 1000 });
    const seen: ({ rev: number } | undefined)[] = [];
    const load = async (prev: { rev: number } | undefined) => {
      seen.push(prev);
      return prev ?? { rev: 1 };
    };
    const v1 = await cache.get('', { load, now: 0 });
    const kept: Promise<unknown>[] = [];
    await cache.get('', { load, now: 500, keepAlive: (p) => kept.push(p) });
    await kept[0];
    expect(seen).toEqual([undefined, v1]);
    expect(await cache.get('', { load, now: 999 })).toBe(v1);
  });
});

describe('RefreshAheadCache without keepAlive, and loads that never answer', () => {
  it('without keepAlive serves the entry until the TTL and reloads only then', async () => {
    const cache = new RefreshAheadCache<string, number>({ ttlMs: 1000 });
    let calls = 0;
    const load = async () => ++calls;
    await cache.get('k', { load, now: 0 });
    expect(await cache.get('k', { load, now: 900 })).toBe(1);
    await tick();
    expect(calls).toBe(1);
    expect(await cache.get('k', { load, now: 1000 })).toBe(2);
  });

  it('a load under way for longer than the TTL is not joined', async () => {
    const cache = new RefreshAheadCache<string, number>({ ttlMs: 1000 });
    const hung = new Promise<number>(() => {});
    void cache.get('k', { load: () => hung, now: 0 });
    expect(await cache.get('k', { load: async () => 5, now: 1000 })).toBe(5);
  });
});
