import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import { EventLog } from '../src/profiles/event-log';
import { FRESH_META, writeMeta } from '../src/profiles/meta-row';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import { SqlMeter } from '../src/profiles/sql-meter';
import { ProfileStore } from '../src/profiles/store';
import { ADMIN, env, getJson, profileObject, SELF, tablesOf, userPath } from './kit/workers';

// A new Profile object's layout writes no meta row: its first write inserts it (billed once, not
// inserted by the layout and then updated; src/profiles/meta-row.ts). Until then every reader
// answers the row it would hold (`FRESH_META`), and every writer inserts it.
const limits = limitSpec(compileRules(defaultSettings()));

function unwritten(id = mintProfileId('users')) {
  return { id, stub: profileStub(env, id), raw: profileObject(id) };
}

/** The meta table's rows and the object's tables (read on its own storage, unmetered). */
const stored = (raw: DurableObjectStub) =>
  runInDurableObject(raw, (_i, state) => ({
    metaRows: state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM meta').one().n,
    tables: tablesOf(state.storage.sql),
  }));

describe('a profile not written yet', () => {
  it('answers the fresh row through every reader, RPC and API, and writes nothing', async () => {
    const p = unwritten();
    expect(await p.stub.describe(p.id)).toEqual({
      status: 'live',
      id: p.id,
      identifiers: [],
      merges: 0,
      addedAt: {},
    });
    expect(await p.stub.read({ identifiers: true, traits: true, links: true, merges: true, messageIds: true })).toEqual(
      {
        status: 'missing',
      },
    );
    expect(await p.stub.audienceValues()).toEqual({ status: 'missing' });
    // The Profile API and the directory's profile read by profile id: not found, as an unknown id.
    expect((await getJson(userPath(`segment_id:${p.id}`, 'traits'))).status).toBe(404);
    expect((await getJson(userPath(`segment_id:${p.id}`, 'metadata'))).status).toBe(404);
    expect((await SELF.fetch(`http://tessera.test/api/profiles/${p.id}`, { headers: ADMIN })).status).toBe(404);

    const seen = await runInDurableObject(p.raw, (_i, state) => {
      const sql = state.storage.sql;
      const store = new ProfileStore(sql);
      const log = new EventLog(sql);
      return {
        meta: store.meta(),
        snapshot: store.snapshot(),
        head: store.exportHead(),
        traits: store.traits(),
        events: log.page({ limit: 10, asc: false }),
        pruned: log.prune(Date.now()),
      };
    });
    const { identifiers_json, traits_json, merges_json, log_json, ...meta } = FRESH_META;
    expect(seen.meta).toEqual(meta);
    expect(seen.snapshot).toEqual({
      id: '',
      collection: 'users',
      version: 0,
      mergedInto: undefined,
      identifiers: [],
      traits: {},
      eventCount: 0,
      createdAt: '',
      updatedAt: '',
      lastSeenAt: undefined,
    });
    expect(seen.head).toEqual({ meta, identifiers: [], traits: [], links: [], mergedFrom: [] });
    expect(seen).toMatchObject({ traits: {}, events: [], pruned: 0 });
    expect(await stored(p.raw)).toEqual({ metaRows: 0, tables: ['meta'] });
  });

  it('is erased (a deletion regulation) without a row, and stays unwritten', async () => {
    const p = unwritten();
    expect(await p.stub.erase()).toEqual({ identifiers: [], mergedFrom: [] });
    expect(await p.stub.read({})).toEqual({ status: 'missing' });
    expect(await stored(p.raw)).toEqual({ metaRows: 0, tables: ['meta'] });
  });

  it("a tombstone inserts the meta row: 1 row written, as an existing row's update costs", async () => {
    const p = unwritten();
    const seen = await runInDurableObject(p.raw, (_i, state) => {
      const meter = new SqlMeter(state.storage.sql);
      const store = new ProfileStore(meter);
      const first = meter.measure(() =>
        state.storage.transactionSync(() => store.tombstone('use_survivor', '2026-01-01T00:00:00.000Z')),
      );
      const again = meter.measure(() => writeMeta(meter, { pending: null }, { version: 1 }));
      return {
        rows: [first.cost.rowsWritten, again.cost.rowsWritten],
        meta: store.meta(),
        traits: store.traits(),
        merges: store.mergedFrom(),
        logged: new EventLog(meter).messageIds(),
      };
    });
    expect(seen.rows).toEqual([1, 1]);
    expect(seen.meta).toMatchObject({ merged_into: 'use_survivor', version: 2, event_count: 0 });
    expect(seen).toMatchObject({ traits: {}, merges: [], logged: [] });
    expect(await p.stub.read({})).toEqual({ status: 'moved', to: 'use_survivor' });
    expect(await stored(p.raw)).toEqual({ metaRows: 1, tables: ['meta'] });
  });

  it('merges into another unwritten profile: the pending mark, the absorb and the tombstone write their rows', async () => {
    const [small, large] = [mintProfileId('users'), mintProfileId('users')].sort().map((id) => unwritten(id));
    expect(
      await large.stub.mergeInto({ profileId: large.id, survivorId: small.id, reason: 'unwritten', limits }),
    ).toMatchObject({ status: 'merged', into: small.id });
    expect(await large.stub.read({})).toEqual({ status: 'moved', to: small.id });
    const survivor = await small.stub.read({ merges: true });
    if (survivor.status !== 'live') throw new Error(survivor.status);
    expect(survivor.meta).toMatchObject({ id: small.id, version: 1, event_count: 0 });
    expect(survivor.merges).toMatchObject([{ profile_id: large.id, reason: 'unwritten', complete: 1 }]);
    for (const p of [small, large]) expect(await stored(p.raw)).toEqual({ metaRows: 1, tables: ['meta'] });
  });
});
