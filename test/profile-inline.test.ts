import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import { ProfileStore } from '../src/profiles/store';
import { reloadTables } from '../src/profiles/tables';
import { INLINE_TRAITS_BYTES } from '../src/profiles/trait-store';
import type { TestProfile } from './kit/test-profile';
import { env, ingestMessage, profileObject, uniq } from './kit/workers';

// A profile's traits live in its meta row (src/profiles/trait-store.ts) until they outgrow
// INLINE_TRAITS_BYTES, then in the `traits` table for good; last-write-wins holds either way. The
// profiles merged into it too (merged-store.ts). Objects older than schema step 6 keep both in
// their tables (the columns are NULL there).
const limits = limitSpec(compileRules(defaultSettings()));
const identify = (userId: string, traits: Record<string, unknown>, timestamp: string): IngestMessage =>
  ingestMessage({ type: 'identify', userId, traits, timestamp }, { messageId: uniq('m'), sourceId: 'src_traits' });

function newProfile(kind = 'user_id') {
  const id = mintProfileId('users');
  const stub = profileStub(env, id);
  const userId = uniq('u');
  const apply = (messages: IngestMessage[]) =>
    stub.apply({ profileId: id, collection: 'users', keys: [`${kind}:${userId}`], messages, limits, emit: false });
  return { id, stub, userId, apply, raw: profileObject(id) };
}

const tableRows = (sql: SqlStorage, table: string) =>
  sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = ?", table).one().n
    ? sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n
    : undefined;

const stored = (p: ReturnType<typeof newProfile>) =>
  runInDurableObject(p.raw, (instance, state) => {
    const sql = state.storage.sql;
    return {
      merges: new ProfileStore(sql).mergedFrom(),
      mergeTable: tableRows(sql, 'merged_from'),
      inline: sql.exec<{ j: string | null }>('SELECT traits_json AS j FROM meta').one().j,
      table: sql
        .exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = 'traits'")
        .one().n
        ? sql
            .exec<{ key: string }>('SELECT key FROM traits ORDER BY key')
            .toArray()
            .map((r) => r.key)
        : undefined,
      traits: new ProfileStore(sql).traits(),
      cost: (instance as TestProfile).lastApplyCost,
    };
  });

describe('traits inline in the meta row', () => {
  it("an identify's traits cost no row of their own, and an older event does not overwrite a newer one", async () => {
    const p = newProfile();
    await p.apply([identify(p.userId, { plan: 'pro', name: 'Ada' }, '2026-03-01T00:00:00.000Z')]);
    // Arriving later, but stamped earlier: loses on `plan`, adds `city`.
    await p.apply([identify(p.userId, { plan: 'free', city: 'Paris' }, '2026-02-01T00:00:00.000Z')]);
    const s = await stored(p);
    expect(s.traits).toEqual({ plan: 'pro', name: 'Ada', city: 'Paris' });
    expect(s.table).toBeUndefined();
    expect(s.cost?.rowsWritten).toBe(1); // the one meta write (the event goes in its inline log)
    const read = await p.stub.read({ traits: true });
    expect(read.status === 'live' && read.traits?.map((t) => [t.key, t.value])).toEqual([
      ['city', 'Paris'],
      ['name', 'Ada'],
      ['plan', 'pro'],
    ]);
  });

  it('traits past the inline cap move to the table, whole, and keep last-write-wins there', async () => {
    const p = newProfile();
    const big = 'x'.repeat(Math.ceil(INLINE_TRAITS_BYTES / 3));
    await p.apply([identify(p.userId, { a: big, b: big, plan: 'pro' }, '2026-03-01T00:00:00.000Z')]);
    expect((await stored(p)).table).toBeUndefined(); // just under the cap
    await p.apply([identify(p.userId, { c: big }, '2026-03-02T00:00:00.000Z')]);
    const spilled = await stored(p);
    expect(spilled.inline).toBeNull();
    expect(spilled.table).toEqual(['a', 'b', 'c', 'plan']);
    expect(Object.keys(spilled.traits).sort()).toEqual(['a', 'b', 'c', 'plan']);
    // In the table: a newer value wins, an older one does not.
    await p.apply([identify(p.userId, { plan: 'team' }, '2026-03-03T00:00:00.000Z')]);
    await p.apply([identify(p.userId, { plan: 'free', c: 'small' }, '2026-03-01T12:00:00.000Z')]);
    const after = await stored(p);
    expect(after.traits.plan).toBe('team');
    expect(after.traits.c).toBe(big);
    expect(after.inline).toBeNull();
  });

  it("a merge takes the loser's traits, last-write-wins, into the survivor's inline traits", async () => {
    // One user and one anonymous visitor (two userIds would break the identity limits).
    const a = newProfile();
    const b = newProfile('anonymous_id');
    const [survivor, loser] = [a, b].sort((x, y) => (x.id < y.id ? -1 : 1));
    await survivor.apply([identify(survivor.userId, { plan: 'pro', seen: 1 }, '2026-03-02T00:00:00.000Z')]);
    await loser.apply([identify(loser.userId, { plan: 'free', city: 'Oslo' }, '2026-03-01T00:00:00.000Z')]);
    expect(
      await loser.stub.mergeInto({ profileId: loser.id, survivorId: survivor.id, reason: 'test', limits }),
    ).toMatchObject({ status: 'merged', into: survivor.id });
    const s = await stored(survivor);
    expect(s.traits).toEqual({ plan: 'pro', seen: 1, city: 'Oslo' });
    expect(s.table).toBeUndefined();
    const tomb = await stored(loser);
    expect(tomb.traits).toEqual({});
  });

  it("a survivor's merges cost no table; an older object's stay in theirs and take new ones there", async () => {
    const survivor = newProfile();
    const loser = newProfile('anonymous_id');
    const [s1, l1] = [survivor, loser].sort((x, y) => (x.id < y.id ? -1 : 1));
    await s1.apply([identify(s1.userId, { plan: 'pro' }, '2026-03-02T00:00:00.000Z')]);
    await l1.apply([identify(l1.userId, { city: 'Oslo' }, '2026-03-01T00:00:00.000Z')]);
    await l1.stub.mergeInto({ profileId: l1.id, survivorId: s1.id, reason: 'first', limits });
    const fresh = await stored(s1);
    expect(fresh.mergeTable).toBeUndefined();
    expect(fresh.merges).toMatchObject([{ profile_id: l1.id, reason: 'first', complete: 1 }]);
    // The absorb of a one-page history: one meta write (merges, traits, the inline log, counters).
    expect(fresh.cost?.rowsWritten).toBe(1);
    expect(await s1.stub.describe(s1.id)).toMatchObject({ status: 'live', merges: 1 });

    // As an object from before step 6 holds them: traits and merges in their tables.
    const old = newProfile();
    const other = newProfile('anonymous_id');
    const [s2, l2] = [old, other].sort((x, y) => (x.id < y.id ? -1 : 1));
    await s2.apply([identify(s2.userId, { plan: 'team' }, '2026-03-02T00:00:00.000Z')]);
    await runInDurableObject(s2.raw, (i) => {
      const sql = (i as TestProfile).meter; // writes through the object's own meter
      sql.exec(
        'CREATE TABLE IF NOT EXISTS merged_from (profile_id TEXT PRIMARY KEY, reason TEXT NOT NULL, merged_at TEXT NOT NULL, complete INTEGER NOT NULL) WITHOUT ROWID',
      );
      sql.exec("INSERT INTO merged_from VALUES ('usr_earlier', 'old', '2026-01-01T00:00:00.000Z', 1)");
      sql.exec(
        'CREATE TABLE IF NOT EXISTS traits (key TEXT PRIMARY KEY, value TEXT NOT NULL, ts INTEGER NOT NULL, message_id TEXT NOT NULL, source_id TEXT) WITHOUT ROWID',
      );
      sql.exec("INSERT INTO traits VALUES ('plan', '\"team\"', 1772409600000, 'm0', NULL)");
      sql.exec('UPDATE meta SET traits_json = NULL, merges_json = NULL');
      reloadTables(sql); // tables made behind the object's back
    });
    await s2.stub.settle(s2.id); // nothing pending: reads its state
    await l2.apply([identify(l2.userId, { city: 'Rome' }, '2026-03-01T00:00:00.000Z')]);
    await l2.stub.mergeInto({ profileId: l2.id, survivorId: s2.id, reason: 'second', limits });
    const older = await stored(s2);
    expect(older.mergeTable).toBe(2);
    expect(older.merges.map((m) => m.profile_id)).toEqual(['usr_earlier', l2.id]);
    expect(older.inline).toBeNull();
    expect(older.table).toEqual(['city', 'plan']);
    expect(older.traits).toEqual({ plan: 'team', city: 'Rome' });
  });
});
