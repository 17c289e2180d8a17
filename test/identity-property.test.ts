import { describe, expect, it } from 'vitest';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';
import { consumeDirectly, generate, type ModelEvent, observe, prng, unionFind } from './identity-model';
import { makeSource, sendBatch } from './kit/workers';

/**
 * The identity property test (DESIGN.md §3): thousands of events over many people, sent shuffled
 * and concurrently with duplicates, half through the Tracking API (and so the real queue), half
 * as concurrent queue batches handed straight to the worker, so consumers really race.
 */

// The default limits.
const LIMITS: Record<string, number> = { user_id: 1, email: 5, anonymous_id: 50, 'ios.id': 5 };

function enriched(e: ModelEvent['body']): EnrichedEvent {
  const ts = e.timestamp as string;
  return {
    ...e,
    receivedAt: ts,
    originalTimestamp: ts,
    context: (e.context as Record<string, unknown>) ?? {},
  } as EnrichedEvent;
}

async function sendAll(seed: number, writeKey: string, sourceId: string, events: ModelEvent[]) {
  const r = prng(seed * 7 + 1);
  const stream = [...events, ...events.filter(() => r.next() < 0.1)]; // ~10% duplicates
  r.shuffle(stream);
  const chunks: ModelEvent[][] = [];
  for (let i = 0; i < stream.length; ) {
    const n = 1 + r.int(40);
    chunks.push(stream.slice(i, i + n));
    i += n;
  }
  let next = 0;
  const lane = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++];
      if (r.next() < 0.5) {
        await sendBatch(
          writeKey,
          chunk.map((e) => e.body),
        );
      } else {
        let pending: IngestMessage[] = chunk.map((e) => ({ sourceId, event: enriched(e.body) }));
        for (let attempt = 1; pending.length; attempt++) {
          if (attempt > 10) throw new Error('messages kept being retried');
          pending = await consumeDirectly(pending, attempt); // a retried message is redelivered
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
}

/** Waits until every distinct event is on some live profile, then returns the observation. */
async function settled(prefix: string, events: ModelEvent[]) {
  const expected = events.length;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const known = events.flatMap((e) => e.keys);
    const seen = await observe(prefix, known).catch(() => undefined);
    const count = seen ? [...seen.live.values()].reduce((n, p) => n + p.messageIds.length, 0) : 0;
    // Observe once more: the read that saw the last event land began before it landed.
    if (seen && count >= expected) return observe(prefix, known);
    if (Date.now() > deadline) {
      // Name what is missing (with the profiles its identifiers lead to), so a failure can be chased.
      const have = new Set(seen ? [...seen.live.values()].flatMap((p) => p.messageIds) : []);
      const missing = events
        .filter((e) => !have.has(e.body.messageId))
        .map((e) => ({ ...e, owners: e.keys.map((k) => seen?.indexRoot.get(k)) }));
      throw new Error(`only ${count} of ${expected} events landed; missing ${JSON.stringify(missing).slice(0, 2000)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The invariants that hold whatever the order and whatever the conflicts. */
function checkInvariants(obs: Awaited<ReturnType<typeof observe>>, events: ModelEvent[]) {
  const owner = new Map<string, string>();
  for (const [id, p] of obs.live) {
    const kinds = new Map<string, number>();
    for (const key of p.identifiers) {
      expect(owner.get(key), `${key} on two live profiles`).toBeUndefined();
      owner.set(key, id);
      expect(obs.indexRoot.get(key), `index disagrees on ${key}`).toBe(id);
      const kind = key.slice(0, key.indexOf(':'));
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    for (const [kind, n] of kinds) expect(n, `${id} holds ${n} ${kind}`).toBeLessThanOrEqual(LIMITS[kind]);
  }
  for (const key of obs.indexRoot.keys()) expect(owner.has(key), `${key} is on no live profile`).toBe(true);
  const holder = new Map<string, string>();
  for (const [id, p] of obs.live) {
    for (const m of p.messageIds) {
      expect(holder.get(m), `${m} on two profiles`).toBeUndefined();
      holder.set(m, id);
    }
  }
  for (const e of events) {
    const id = holder.get(e.body.messageId);
    expect(id, `${e.body.messageId} was lost`).toBeDefined();
    // The event lands on a profile holding at least one of its identifiers (the others may be dropped).
    expect(e.keys.some((k) => owner.get(k) === id)).toBe(true);
  }
  expect(holder.size).toBe(events.length);
  return { owner, holder };
}

describe('identity resolution: property test', () => {
  for (const seed of [1, 2, 3]) {
    it(`no limit conflicts: the partition equals union-find (seed ${seed})`, async () => {
      const { id: sourceId, writeKey } = await makeSource();
      const { prefix, events } = generate(seed, { people: 40, events: 400, shared: false });
      await sendAll(seed, writeKey, sourceId, events);
      const obs = await settled(prefix, events);
      const { owner, holder } = checkInvariants(obs, events);
      const uf = unionFind(events);
      const profileOfRoot = new Map<string, string>();
      for (const [key, root] of uf) {
        const id = owner.get(key)!;
        expect(profileOfRoot.get(root) ?? id, `${key} split from its component`).toBe(id);
        profileOfRoot.set(root, id);
      }
      expect(new Set(profileOfRoot.values()).size, 'components merged together').toBe(new Set(uf.values()).size);
      expect(obs.live.size).toBe(profileOfRoot.size);
      for (const e of events) expect(holder.get(e.body.messageId)).toBe(owner.get(e.keys[0]));
    }, 120_000);
  }

  for (const seed of [11, 12]) {
    it(`shared devices and browsers: every invariant holds (seed ${seed})`, async () => {
      const { id: sourceId, writeKey } = await makeSource();
      const { prefix, events } = generate(seed, { people: 40, events: 400, shared: true });
      await sendAll(seed, writeKey, sourceId, events);
      const obs = await settled(prefix, events);
      checkInvariants(obs, events);
      const users = [...obs.live.values()].map((p) => p.identifiers.filter((k) => k.startsWith('user_id:')).length);
      expect(Math.max(...users)).toBe(1);
    }, 120_000);
  }
});
