import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import {
  claimKeys,
  INDEX_SHARDS,
  indexShard,
  lookupKeys,
  releaseKeys,
  repointKeys,
  shardOf,
} from '../src/identity/index-do';
import { uniq } from './kit/workers';

describe('IdentityIndex', () => {
  it('spreads keys over every shard, stably', () => {
    const shards = new Set(Array.from({ length: 500 }, (_, i) => shardOf(`anonymous_id:${i}`)));
    expect(shards.size).toBe(INDEX_SHARDS);
    expect(shardOf('user_id:42')).toBe(shardOf('user_id:42'));
  });

  it('claimIfAbsent: concurrent claims of one key agree on a single owner', async () => {
    const key = `email:${uniq('race')}@x.io`;
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => claimKeys(env, [key], `use_${i}`)));
    const owners = new Set(answers.map((a) => a[key]));
    expect(owners.size).toBe(1);
    expect(await lookupKeys(env, [key])).toEqual({ [key]: [...owners][0] });
  });

  it('repoints and releases only with the expected current owner (compare-and-set)', async () => {
    const [k1, k2] = [`anonymous_id:${uniq('a')}`, `anonymous_id:${uniq('b')}`];
    await claimKeys(env, [k1, k2], 'use_B');
    await repointKeys(env, [
      { key: k1, from: 'use_B', to: 'use_A' },
      { key: k2, from: 'use_C', to: 'use_A' },
    ]);
    expect(await lookupKeys(env, [k1, k2])).toEqual({ [k1]: 'use_A', [k2]: 'use_B' });
    await releaseKeys(env, [k1, k2], 'use_B');
    expect(await lookupKeys(env, [k1, k2])).toEqual({ [k1]: 'use_A' });
    const shard = indexShard(env, shardOf(k1));
    expect((await shard.entries())[k1]).toBe('use_A');
  });

  it('claims, looks up and releases more keys in one shard call than SQLite binds parameters', async () => {
    const tag = uniq('many');
    // 2,000 keys spread over 16 shards: each shard gets about 125 of them.
    const keys = Array.from({ length: 2000 }, (_, i) => `crm_id:${tag}-${i}`);
    const perShard = Math.max(
      ...Array.from({ length: INDEX_SHARDS }, (_, s) => keys.filter((k) => shardOf(k) === s).length),
    );
    expect(perShard).toBeGreaterThan(100);
    const claimed = await claimKeys(env, keys, 'use_MANY');
    expect(Object.keys(claimed)).toHaveLength(2000);
    expect(new Set(Object.values(claimed))).toEqual(new Set(['use_MANY']));
    await claimKeys(env, [...keys, `crm_id:${tag}-new`], 'use_OTHER');
    const found = await lookupKeys(env, [...keys, `crm_id:${tag}-absent`]);
    expect(Object.keys(found)).toHaveLength(2000);
    expect(new Set(Object.values(found))).toEqual(new Set(['use_MANY']));
    await releaseKeys(env, keys, 'use_MANY');
    expect(await lookupKeys(env, keys)).toEqual({});
    expect(await lookupKeys(env, [`crm_id:${tag}-new`])).toEqual({ [`crm_id:${tag}-new`]: 'use_OTHER' });
  });
});
