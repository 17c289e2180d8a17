// Lookup and claim in one call per index shard (src/identity/index-do.ts `resolve`, gathered by
// src/identity/index-client.ts): ownership stays exact however many callers race for one key.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { IndexClient } from '../src/identity/index-client';
import { indexShard, shardOf } from '../src/identity/index-do';
import { Resolver } from '../src/identity/resolver';
import { loadRules } from '../src/identity/settings-store';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';
import { indexEntries, liveProfile, uniq } from './kit/workers';

function message(body: Record<string, unknown>): IngestMessage {
  const ts = new Date().toISOString();
  return {
    sourceId: 'src_batch_test',
    event: { messageId: uniq('m'), receivedAt: ts, timestamp: ts, originalTimestamp: ts, context: {}, ...body },
  } as IngestMessage & { event: EnrichedEvent };
}

describe('identity index: lookup and claim in one call per shard', () => {
  it('concurrent lookup-and-claims of the same keys agree on one owner per key, claimed once', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `user_id:${uniq(`race${i}`)}`);
    // 24 callers, each with its own gathering client, all claiming every key for themselves.
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, c) => new IndexClient(env).resolve(keys, `use_CALLER${c}`)),
    );
    for (const key of keys) {
      const owners = new Set(answers.map((a) => a[key].profile));
      expect(owners.size).toBe(1);
      const [owner] = owners;
      // Exactly one caller was told it claimed the key, and it is the owner.
      const claimers = answers.filter((a) => a[key].claimed).map((a) => a[key].profile);
      expect(claimers).toEqual([owner]);
      expect((await indexShard(env, shardOf(key)).lookup([key]))[key]).toBe(owner);
    }
  });

  it('a transfer is a compare-and-set on owner and stamp', async () => {
    const key = `email:${uniq('cas')}@example.com`;
    const client = new IndexClient(env);
    const mine = (await client.resolve([key], 'use_A'))[key];
    expect(mine.claimed).toBe(true);
    expect(await client.transfer([{ key, from: 'use_A', at: mine.at - 1, to: 'use_B' }])).toEqual(new Set());
    expect(await client.transfer([{ key, from: 'use_X', at: mine.at, to: 'use_B' }])).toEqual(new Set());
    expect(await client.transfer([{ key, from: 'use_A', at: mine.at, to: 'use_B' }])).toEqual(new Set([key]));
    expect((await client.resolve([key]))[key]).toMatchObject({ profile: 'use_B', at: mine.at });
    expect(await client.transfer([{ key, from: 'use_A', at: mine.at }])).toEqual(new Set()); // not A's any more
    expect(await client.transfer([{ key, from: 'use_B', at: mine.at }])).toEqual(new Set([key]));
    expect(await client.resolve([key])).toEqual({});
  });

  it('racing resolvers over shared new keys end on one profile holding every key the index gives it', async () => {
    const rules = await loadRules(env.DB);
    const tag = uniq('racers');
    const user = `${tag}-u`;
    const anons = Array.from({ length: 6 }, (_, i) => `${tag}-a${i}`);
    const email = `${tag}@example.com`;
    // Each resolver (a consumer batch of its own) sees a different event linking the same person.
    const events = anons.map((anonymousId, i) =>
      message(
        i % 2
          ? { type: 'identify', userId: user, anonymousId, traits: { email } }
          : { type: 'identify', anonymousId, traits: { email } },
      ),
    );
    const results = await Promise.all(events.map((m) => new Resolver(env, rules).ingestAll([m])));
    const landed = await Promise.all(results.map((r) => liveProfile((r[0] as { profileId: string }).profileId)));
    expect(new Set(landed).size).toBe(1);
    const entries = Object.entries(await indexEntries()).filter(([k]) => k.includes(tag));
    const keys = [`user_id:${user}`, `email:${email}`, ...anons.map((a) => `anonymous_id:${a}`)];
    expect(entries.map(([k]) => k).sort()).toEqual(keys.sort());
    // Every entry leads to that profile, and that profile holds every key (no reservation left over).
    const roots = await Promise.all(entries.map(([, p]) => liveProfile(p)));
    expect(new Set(roots)).toEqual(new Set([landed[0]]));
    const { profileStub } = await import('../src/profiles/protocol');
    const view = await profileStub(env, landed[0]).describe(landed[0]);
    expect(view.status === 'live' && [...view.identifiers].sort()).toEqual(keys.sort());
  });
});
