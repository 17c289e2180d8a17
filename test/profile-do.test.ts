import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { type DeliveryMessage, outboundEventsOf } from '../src/delivery/messages';
import { claimKeys, lookupKeys } from '../src/identity/index-do';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { EventLog } from '../src/profiles/event-log';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import type { ProfileRpc } from '../src/profiles/rpc';
import { ProfileStore } from '../src/profiles/store';
import type { ProfileHooks, TestProfile } from './kit/test-profile';
import { ingestMessage, profileObject, uniq } from './kit/workers';

const limits = limitSpec(compileRules(defaultSettings()));

const message = (event: Record<string, unknown>): IngestMessage =>
  ingestMessage(event, { messageId: uniq('m'), sourceId: 'src_test' });

/** A fresh profile and a helper applying messages to it. */
function newProfile(id = mintProfileId('users')) {
  const stub = profileStub(env, id);
  const apply = (keys: string[], messages: IngestMessage[], emit = false) =>
    stub.apply({ profileId: id, collection: 'users', keys, messages, limits, emit });
  return { id, stub, apply, raw: profileObject(id) };
}

/** Two fresh profiles, the first with the smaller id (ids minted in one millisecond are unordered). */
function twoProfiles() {
  const [small, large] = [mintProfileId('users'), mintProfileId('users')].sort();
  return [newProfile(small), newProfile(large)] as const;
}

const inside = <R>(
  p: ReturnType<typeof newProfile>,
  fn: (store: ProfileStore, log: EventLog, instance: TestProfile) => R,
) =>
  runInDurableObject(p.raw, (instance) => {
    const meter = (instance as TestProfile).meter; // writes through the object's own meter
    return fn(new ProfileStore(meter), new EventLog(meter), instance as TestProfile);
  });

/** Sets (or, with undefined, clears) one of the profile's test hooks (test/kit/test-profile.ts). */
const hook = <K extends keyof ProfileHooks>(p: ReturnType<typeof newProfile>, name: K, fn: ProfileHooks[K]) =>
  inside(p, (_s, _l, instance) => {
    if (fn) instance.hooks[name] = fn;
    else delete instance.hooks[name];
  });

/** Replaces the profile's delivery-queue seam (simulated outage or recorder). */
const setSend = (p: ReturnType<typeof newProfile>, send: ((m: DeliveryMessage[]) => Promise<void>) | undefined) =>
  hook(p, 'send', send);

async function messageIds(stub: ProfileRpc): Promise<string[]> {
  const r = await stub.read({ messageIds: true });
  if (r.status !== 'live') throw new Error(`profile is ${r.status}`);
  return r.messageIds ?? [];
}

describe('Profile Durable Object', () => {
  it('an event whose apply was waiting while a merge took the profile lands on the survivor or is refused', async () => {
    // An apply awaits the audience definitions (a D1 read when the isolate's cache revalidates).
    // Hold it there; start merging the profile away and hold the survivor's absorb (the loser's
    // history is exported by then); let the apply go on, then the merge. The apply must not write
    // into the loser, whose exported history the survivor is taking.
    const [a, b] = twoProfiles();
    const [ua, ab] = [`user_id:${uniq('u')}`, `anonymous_id:${uniq('a')}`];
    await a.apply([ua], [message({ type: 'track', event: 'A' })]);
    await b.apply([ab], [message({ type: 'track', event: 'B' })]);
    // Plain flags polled with timers: a promise resolved across the test and an object would carry
    // one's I/O context into the other.
    const flags = { applyHeld: false, applyGo: false, absorbHeld: false, absorbGo: false };
    const tick = () => new Promise((r) => setTimeout(r, 5));
    const hold = async (held: 'applyHeld' | 'absorbHeld', go: 'applyGo' | 'absorbGo') => {
      flags[held] = true;
      while (!flags[go]) await tick();
    };
    await hook(b, 'beforeDefinitions', () => hold('applyHeld', 'applyGo'));
    await hook(a, 'beforeAbsorb', () => hold('absorbHeld', 'absorbGo'));
    try {
      const racer = message({ type: 'track', event: 'Racer' });
      const applying = b.apply([ab], [racer]);
      while (!flags.applyHeld) await tick();
      const merging = b.stub.mergeInto({ profileId: b.id, survivorId: a.id, reason: 'race', limits });
      while (!flags.absorbHeld) await tick();
      flags.applyGo = true;
      const applied = await applying;
      flags.absorbGo = true;
      expect(await merging).toMatchObject({ status: 'merged', into: a.id });
      expect(applied).toEqual({ status: 'busy' }); // the resolver retries it, and finds the survivor
      expect(await messageIds(a.stub)).not.toContain(racer.event.messageId);
    } finally {
      await hook(a, 'beforeAbsorb', undefined);
      await hook(b, 'beforeDefinitions', undefined);
    }
  });

  it('keeps the first and last message of the profile in its metadata, across runs and duplicates', async () => {
    const p = newProfile();
    const key = `user_id:${uniq('meta')}`;
    const [a, b, c] = [
      message({ type: 'track', event: 'A' }),
      message({ type: 'track', event: 'B' }),
      message({ type: 'track', event: 'C' }),
    ];
    const first = await p.apply([key], [a, b]);
    expect(first).toMatchObject({ status: 'ok', applied: 2 });
    const second = await p.apply([key], [b, c, a]);
    expect(second).toMatchObject({ status: 'ok', applied: 1, duplicates: 2 });
    const r = await p.stub.read({});
    if (r.status !== 'live') throw new Error(`profile is ${r.status}`);
    expect(r.meta).toMatchObject({
      first_message_id: a.event.messageId,
      first_source_id: 'src_test',
      last_message_id: c.event.messageId,
      last_source_id: 'src_test',
    });
  });

  it('applies an event once: a replayed messageId changes nothing', async () => {
    const p = newProfile();
    const u = uniq('u');
    const m = message({ type: 'identify', userId: u, traits: { plan: 'pro' } });
    const first = await p.apply([`user_id:${u}`], [m]);
    expect(first).toMatchObject({ status: 'ok', applied: 1, duplicates: 0 });
    const again = await p.apply([`user_id:${u}`], [m, m]);
    expect(again).toMatchObject({ status: 'ok', applied: 0, duplicates: 2 });
    expect(await messageIds(p.stub)).toEqual([m.event.messageId]);
    expect(await lookupKeys(env, [`user_id:${u}`])).toEqual({ [`user_id:${u}`]: p.id });
  });

  it('merges traits last-write-wins by event timestamp, not arrival', async () => {
    const p = newProfile();
    const key = `user_id:${uniq('u')}`;
    await p.apply(
      [key],
      [message({ type: 'identify', timestamp: new Date(Date.now() - 60_000).toISOString(), traits: { plan: 'pro' } })],
    );
    await p.apply(
      [key],
      [
        message({
          type: 'identify',
          timestamp: new Date(Date.now() - 120_000).toISOString(),
          traits: { plan: 'free', name: 'Ann' },
        }),
      ],
    );
    const r = await p.stub.read({ traits: true });
    expect(r.status === 'live' && Object.fromEntries((r.traits ?? []).map((t) => [t.key, t.value]))).toEqual({
      plan: 'pro',
      name: 'Ann',
    });
  });

  it('keeps the event log within its retention window, and still dedupes trimmed events', async () => {
    const p = newProfile();
    const key = `anonymous_id:${uniq('a')}`;
    const old = message({
      type: 'track',
      event: 'Old',
      timestamp: new Date(Date.now() - 100 * 86_400_000).toISOString(),
    });
    const recent = Array.from({ length: 5 }, (_, i) =>
      message({ type: 'track', event: `E${i}`, timestamp: new Date(Date.now() - (5 - i) * 1000).toISOString() }),
    );
    await p.apply([key], [old, ...recent]);
    expect(await messageIds(p.stub)).toHaveLength(6);
    expect(await runDurableObjectAlarm(p.raw)).toBe(true); // default window: 90 days
    expect(await messageIds(p.stub)).toHaveLength(5);
    const removed = await inside(p, (_s, log) =>
      log.prune(Date.now(), { maxAgeMs: 86_400_000, maxEvents: 3, seenMs: 86_400_000 }),
    );
    expect(removed).toBe(2);
    expect((await messageIds(p.stub)).sort()).toEqual(
      recent
        .slice(2)
        .map((m) => m.event.messageId)
        .sort(),
    );
    expect(await p.apply([key], [old, recent[0]])).toMatchObject({ applied: 0, duplicates: 2 });
  });

  it('writes an outbox row with the event and flushes it to the delivery queue', async () => {
    const p = newProfile();
    const sent: DeliveryMessage[] = [];
    await setSend(p, async (m) => {
      sent.push(...m);
    });
    const m = message({ type: 'track', event: 'Signed Up', userId: uniq('u') });
    await p.apply([`user_id:${m.event.userId}`], [m], true);
    await expect.poll(() => sent.length).toBe(1);
    expect(sent[0]).toEqual({ kind: 'event', sourceId: 'src_test', profileId: p.id, event: m.event });
    expect(await inside(p, (s) => s.outboxSize())).toBe(0);
    await setSend(p, undefined); // the real queue
    await p.apply([`user_id:${m.event.userId}`], [message({ type: 'track', event: 'Again' })], true);
    await expect.poll(() => inside(p, (s) => s.outboxSize())).toBe(0);
  });

  it('keeps unsent outbox rows through a queue outage and the alarm sends them', async () => {
    const p = newProfile();
    await setSend(p, async () => {
      throw new Error('queue unavailable');
    });
    const key = `anonymous_id:${uniq('a')}`;
    expect(
      await p.apply([key], [message({ type: 'track', event: 'A' }), message({ type: 'track', event: 'B' })], true),
    ).toMatchObject({
      status: 'ok',
      applied: 2,
    });
    await new Promise((r) => setTimeout(r, 50));
    // One outbox row for the apply, holding both deliveries.
    expect(await inside(p, (s) => s.outboxSize())).toBe(1);
    const sent: DeliveryMessage[] = [];
    await setSend(p, async (m) => {
      sent.push(...m);
    });
    expect(await runDurableObjectAlarm(p.raw)).toBe(true);
    expect(sent).toHaveLength(1); // one packed queue message
    expect(sent.flatMap(outboundEventsOf).map((m) => m.event.type === 'track' && m.event.event)).toEqual(['A', 'B']);
    expect(await inside(p, (s) => s.outboxSize())).toBe(0);
  });

  it('merges into a smaller id: the loser keeps a tombstone and answers "moved", messageIds follow', async () => {
    const [a, b] = twoProfiles();
    const [ua, ab] = [`user_id:${uniq('u')}`, `anonymous_id:${uniq('a')}`];
    await a.apply(
      [ua],
      [message({ type: 'identify', traits: { plan: 'pro' }, timestamp: new Date(Date.now() - 60_000).toISOString() })],
    );
    const bm = message({
      type: 'identify',
      traits: { plan: 'free', name: 'Bo' },
      timestamp: new Date(Date.now() - 120_000).toISOString(),
    });
    await b.apply([ab], [bm, message({ type: 'track', event: 'X' })]);
    const res = await b.stub.mergeInto({ profileId: b.id, survivorId: a.id, reason: 'test', limits });
    expect(res).toMatchObject({ status: 'merged', into: a.id, snapshot: { mergedInto: a.id, identifiers: [] } });
    expect(await b.stub.describe(b.id)).toEqual({ status: 'moved', to: a.id });
    expect(await b.apply([ab], [message({ type: 'track', event: 'Late' })])).toEqual({ status: 'moved', to: a.id });
    const r = await a.stub.read({ identifiers: true, traits: true, merges: true, messageIds: true });
    if (r.status !== 'live') throw new Error('survivor not live');
    expect((r.identifiers ?? []).map((i) => i.key).sort()).toEqual([ab, ua].sort());
    expect(Object.fromEntries((r.traits ?? []).map((t) => [t.key, t.value]))).toEqual({ plan: 'pro', name: 'Bo' });
    expect(r.merges).toMatchObject([{ profile_id: b.id, reason: 'test', complete: 1 }]);
    expect(r.messageIds).toHaveLength(3);
    // Dedupe follows the merge: the loser's events are known to the survivor.
    expect(await a.apply([ab], [bm])).toMatchObject({ applied: 0, duplicates: 1 });
    // Index entries still point at the loser; the survivor accepts them as its own.
    expect(await lookupKeys(env, [ab])).toEqual({ [ab]: b.id });
  });

  it('hands a long history over page by page when merging', async () => {
    const [a, b] = twoProfiles();
    await a.apply([`user_id:${uniq('u')}`], [message({ type: 'track', event: 'A' })]);
    const key = `anonymous_id:${uniq('a')}`;
    for (let i = 0; i < 6; i++) {
      await b.apply(
        [key],
        Array.from({ length: 200 }, (_, j) => message({ type: 'track', event: `E${i}.${j}` })),
      );
    }
    expect(await b.stub.mergeInto({ profileId: b.id, survivorId: a.id, reason: 'big', limits })).toMatchObject({
      status: 'merged',
    });
    const ids = await messageIds(a.stub);
    expect(ids).toHaveLength(1201);
    expect(await inside(a, (_s, log) => ids.every((id) => log.seen(id)))).toBe(true);
  });

  it('refuses merges that break a limit, the id order, or the merge cap', async () => {
    const [a, c] = twoProfiles();
    await a.apply([`user_id:${uniq('u')}`], [message({ type: 'track', event: 'A' })]);
    await c.apply([`user_id:${uniq('u')}`], [message({ type: 'track', event: 'C' })]);
    expect(await c.stub.mergeInto({ profileId: c.id, survivorId: a.id, reason: 't', limits })).toEqual({
      status: 'conflict',
      breaks: ['user_id'],
    });
    expect(await c.stub.describe(c.id)).toMatchObject({ status: 'live' });
    expect(await a.stub.mergeInto({ profileId: a.id, survivorId: c.id, reason: 't', limits })).toMatchObject({
      status: 'conflict',
      breaks: ['*order'],
    });
    const head = {
      meta: { id: c.id, collection: 'users' },
      identifiers: [],
      traits: [],
      links: [],
      mergedFrom: Array.from({ length: 100 }, (_, i) => ({
        profile_id: `use_x${i}`,
        reason: 'r',
        merged_at: 't',
        complete: 1,
      })),
    } as unknown as Parameters<ProfileRpc['absorb']>[0]['head'];
    const history = { chunk: { events: [], seen: [] } };
    expect(await a.stub.absorb({ survivorId: a.id, loserId: c.id, head, history, reason: 't', limits })).toEqual({
      status: 'conflict',
      breaks: ['*merges'],
    });
  });

  it('claims new identifiers in the index first: a key owned elsewhere is "lost", nothing is kept', async () => {
    const a = newProfile();
    const owned = `email:${uniq('e')}@x.io`;
    const fresh = `anonymous_id:${uniq('a')}`;
    await claimKeys(env, [owned], 'use_someone_else');
    expect(await a.apply([fresh, owned], [message({ type: 'track', event: 'E' })])).toEqual({
      status: 'lost',
      owners: { [owned]: 'use_someone_else' },
    });
    expect(await lookupKeys(env, [fresh])).toEqual({}); // released again
    expect(await a.stub.read({})).toEqual({ status: 'missing' });
    await a.apply([`user_id:${uniq('u')}`], [message({ type: 'track', event: 'E' })]);
    expect(await a.apply([`user_id:${uniq('u')}`], [message({ type: 'track', event: 'F' })])).toEqual({
      status: 'conflict',
      breaks: ['user_id'],
    });
  });

  it('finishes a merge interrupted midway when its alarm fires', async () => {
    const [a, d] = twoProfiles();
    const ad = `anonymous_id:${uniq('a')}`;
    await a.apply([`user_id:${uniq('u')}`], [message({ type: 'track', event: 'A' })]);
    await d.apply([ad], [message({ type: 'track', event: 'D' })]);
    // As if the object died right after freezing itself for the merge.
    await inside(d, (s) => s.setMeta({ pending: JSON.stringify({ to: a.id, reason: 'crash test', limits }) }));
    expect(await d.stub.describe(d.id)).toEqual({ status: 'busy' });
    await runInDurableObject(d.raw, (_i, state) => state.storage.setAlarm(Date.now() + 60_000));
    expect(await runDurableObjectAlarm(d.raw)).toBe(true);
    expect(await d.stub.describe(d.id)).toEqual({ status: 'moved', to: a.id });
    expect(await a.stub.describe(a.id)).toMatchObject({ status: 'live', merges: 1 });
    expect(await messageIds(a.stub)).toHaveLength(2);
  });
});
