import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { migrateSqlite } from '../src/lib/do-schema';
import { EventLog } from '../src/profiles/event-log';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import { PROFILE_FRESH, PROFILE_SCHEMA, ProfileStore } from '../src/profiles/store';
import { LAZY_TABLES, type LazyTable, ProfileTables, reloadTables } from '../src/profiles/tables';
import type { TestProfile } from './kit/test-profile';
import { define, ingestMessage, profileObject, tablesOf, uniq } from './kit/workers';

// A new profile creates only the tables its first apply writes; the rest (links, merges, the
// dedupe set past the log, the engage tables) on first write (src/profiles/tables.ts).
const limits = limitSpec(compileRules(defaultSettings()));
const message = (event: Record<string, unknown>): IngestMessage =>
  ingestMessage(event, { messageId: uniq('m'), sourceId: 'src_lazy' });
const FRESH = ['meta'];

/** Rows written by each statement of `statements` run one at a time (each cursor's own count). */
const rowsOf = (sql: SqlStorage, statements: string[]) => statements.reduce((n, s) => n + sql.exec(s).rowsWritten, 0);
const split = (code: string) =>
  code
    .split(/;\s*(?=CREATE|INSERT)/)
    .map((s) => s.trim().replace(/;$/, ''))
    .filter(Boolean);

function newProfile() {
  const id = mintProfileId('users');
  const stub = profileStub(env, id);
  const apply = (
    keys: string[],
    messages: IngestMessage[],
    extra: { links?: unknown[]; emit?: boolean; handOver?: boolean } = {},
  ) =>
    stub.apply({ profileId: id, collection: 'users', keys, messages, limits, emit: false, ...extra } as Parameters<
      typeof stub.apply
    >[0]);
  return { id, stub, apply, raw: profileObject(id) };
}

describe('tables created on first use', () => {
  // First in the file: no audience is defined yet (the definitions revision is 0), so the apply
  // writes no engage state.
  it("a new user's first identify writes 1 row and creates no table; its layout costs 2 rows, not 40", async () => {
    const p = newProfile();
    const userId = uniq('u');
    const anon = uniq('a');
    const email = `${userId}@example.com`;
    const keys = [`user_id:${userId}`, `anonymous_id:${anon}`, `email:${email}`];
    const identify = message({ type: 'identify', userId, anonymousId: anon, traits: { email, name: 'Ada' } });
    // As the ingest consumer applies it: the deliveries come back (no outbox row, no outbox table).
    expect(await p.apply(keys, [identify], { emit: true, handOver: true })).toMatchObject({
      status: 'ok',
      applied: 1,
      outbound: [expect.objectContaining({ kind: 'event' })],
    });
    const seen = await runInDurableObject(p.raw, (instance, state) => ({
      cost: (instance as TestProfile).lastApplyCost,
      tables: tablesOf(state.storage.sql),
      logged: new EventLog(state.storage.sql).messageIds().length,
      traits: new ProfileStore(state.storage.sql).traits(),
      identifiers: new ProfileStore(state.storage.sql).identifierKeys(),
      metaRows: state.storage.sql.exec('SELECT count(*) AS n FROM meta').one().n,
    }));
    // One meta write (the id, the three identifiers, both traits, the event in the inline log and
    // the counters together), which inserts the meta row: the layout wrote none. Before: 2 (and a
    // log row), 6 before that, 9 before that.
    expect(seen.cost?.rowsWritten).toBe(1);
    expect(seen.metaRows).toBe(1);
    expect(seen.tables).toEqual(FRESH);
    expect(seen.logged).toBe(1);
    expect(seen.traits).toEqual({ email, name: 'Ada' });
    expect(seen.identifiers).toEqual([...keys].sort());

    // The layout itself, statement by statement on bare storage (a multi-statement exec's cursor
    // reports its last statement only): 2 rows per CREATE TABLE, and no meta row (the first apply
    // inserts it, above; before, the layout inserted it and the apply updated it: 3 rows, not 2).
    // The schema version is meta's too (no `_schema` table: 3 rows fewer). Every lazy table costs
    // the same when it is created later as it did up front: nothing is paid twice, and a profile
    // that never uses one never pays it.
    const probe = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('rows')));
    const rows = await runInDurableObject(probe, (_i, state) => {
      const sql = state.storage.sql;
      const fresh = rowsOf(sql, split(PROFILE_FRESH.script));
      const lazy = Object.values(LAZY_TABLES).reduce((n, code) => n + rowsOf(sql, split(code)), 0);
      return { fresh, lazy };
    });
    // Every table and index of a layout (as `steps` leave it), each created by a statement of its own.
    const layoutRows = async (steps: string[]) => {
      const stepped = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('rows')));
      const layout = await runInDurableObject(stepped, (_i, state) => {
        migrateSqlite(state.storage.sql, steps);
        return state.storage.sql
          .exec<{ type: string; sql: string }>(
            "SELECT type, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT IN ('_schema', 'sqlite_sequence')",
          )
          .toArray()
          .sort((x, y) => (x.type === y.type ? 0 : x.type === 'table' ? -1 : 1))
          .map((r) => r.sql);
      });
      const clean = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('rows')));
      return runInDurableObject(clean, (_i, state) => rowsOf(state.storage.sql, layout));
    };
    expect(rows.fresh).toBe(2);
    // Lazily created or not, all tables together cost what the latest layout does.
    expect(rows.fresh + rows.lazy).toBe(await layoutRows(PROFILE_SCHEMA));
    // What a new object created before (version 4, every table up front): 35 rows, + the meta and
    // engage_state rows and the version table's 3: 40, against 2 now.
    expect(await layoutRows(PROFILE_SCHEMA.slice(0, 4))).toBe(35);
    expect(rows.lazy).toBeGreaterThan(rows.fresh);
  });

  it('links, merges, the dedupe set and the engage tables work when first used', async () => {
    const a = newProfile();
    const b = newProfile();
    const [small, large] = [a, b].sort((x, y) => (x.id < y.id ? -1 : 1));
    const ka = `user_id:${uniq('u')}`;
    const kb = `anonymous_id:${uniq('a')}`;
    const account = `group_id:${uniq('g')}`;
    const now = new Date().toISOString();
    await small.apply([ka], [message({ type: 'track', event: 'First' })], {
      links: [{ collection: 'accounts', key: account, source_id: 'src_lazy', created_at: now }],
    });
    const first = message({ type: 'track', event: 'Old' });
    const second = message({ type: 'track', event: 'Other' });
    await large.apply([kb], [first, second]);
    const sr = await small.stub.read({ links: true, merges: true });
    expect(sr.status === 'live' && sr.links?.map((l) => l.key)).toEqual([account]);
    expect(sr.status === 'live' && sr.merges).toEqual([]);

    // The dedupe set: retention moves one of the two events out of the log into `seen`.
    const kept = await runInDurableObject(large.raw, (instance, state) => {
      const log = new EventLog((instance as TestProfile).meter); // the object's meter: it keeps the meta row
      expect(tablesOf(state.storage.sql)).not.toContain('seen');
      log.prune(Date.now(), { maxAgeMs: 365 * 86_400_000, maxEvents: 1, seenMs: 86_400_000 });
      expect(tablesOf(state.storage.sql)).toContain('seen');
      return log.messageIds();
    });
    expect(kept).toHaveLength(1);
    const evicted = [first, second].find((m) => !kept.includes(m.event.messageId));
    if (!evicted) throw new Error('retention kept both events');
    expect(await large.apply([kb], [evicted])).toMatchObject({ applied: 0, duplicates: 1 });

    // Merges: the survivor takes the loser's dedupe set and records it in `merged_from`.
    expect(
      await large.stub.mergeInto({ profileId: large.id, survivorId: small.id, reason: 'lazy', limits }),
    ).toMatchObject({ status: 'merged', into: small.id });
    const merged = await small.stub.read({ merges: true, identifiers: true });
    if (merged.status !== 'live') throw new Error(merged.status);
    expect(merged.merges).toMatchObject([{ profile_id: large.id, reason: 'lazy', complete: 1 }]);
    expect(merged.identifiers?.map((i) => i.key).sort()).toEqual([ka, kb].sort());
    expect(await small.apply([kb], [first, second])).toMatchObject({ applied: 0, duplicates: 2 });

    // The engage tables: an audience and a windowed computed trait are evaluated in the apply.
    await define('audiences', {
      key: `lazy_buyers_${uniq('k')}`.replace(/-/g, '_'),
      definition: { event: 'Bought', within: '1d' },
    });
    const traitKey = `lazy_count_${uniq('k')}`.replace(/-/g, '_');
    await define('computed-traits', { key: traitKey, type: 'count', event: 'Bought', within: '7d' });
    const skusKey = `lazy_skus_${uniq('k')}`.replace(/-/g, '_');
    await define('computed-traits', { key: skusKey, type: 'unique_list', event: 'Bought', property: 'properties.sku' });
    const c = newProfile();
    await c.apply([`user_id:${uniq('u')}`], [message({ type: 'track', event: 'Bought', properties: { sku: 'a' } })]);
    await c.apply([], [message({ type: 'track', event: 'Bought', properties: { sku: 'b' } })]);
    const values = await c.stub.audienceValues();
    if (values.status !== 'live') throw new Error(values.status);
    expect(values.values.find((v) => v.key === traitKey)?.value).toBe(2);
    expect(values.values.find((v) => v.key === skusKey)?.value).toEqual(['a', 'b']);
    expect(values.values.some((v) => v.kind === 'audience' && v.value === true)).toBe(true);
    const tables = await runInDurableObject(c.raw, (_i, state) => tablesOf(state.storage.sql));
    for (const t of Object.keys(LAZY_TABLES).filter((t) => t.startsWith('engage_'))) expect(tables).toContain(t);
    expect(await runDurableObjectAlarm(c.raw)).toBe(true); // window edges and retention run on them
  });

  it('a creation a rolled-back savepoint undid is noticed by the next statement, read or write', async () => {
    const p = newProfile();
    await p.apply([`user_id:${uniq('u')}`], [message({ type: 'track', event: 'X' })]);
    await runInDurableObject(p.raw, (_i, state) => {
      const sql = state.storage.sql;
      const tables = new ProfileTables(sql);
      const store = new ProfileStore(sql);
      expect(tables.has('links')).toBe(false);
      const row = { collection: 'accounts' as const, key: 'group_id:g1', source_id: null, created_at: '2026-01-01' };
      expect(() =>
        state.storage.transactionSync(() => {
          store.addLinks([row]); // creates `links` inside the transaction…
          throw new Error('rolled back'); // …which takes the creation with it
        }),
      ).toThrow('rolled back');
      expect(tables.has('links')).toBe(true); // the cache still believes it
      expect(tablesOf(sql)).not.toContain('links');
      expect(store.links()).toEqual([]); // a read answers empty and forgets it
      expect(tables.has('links')).toBe(false);
      store.addLinks([row]); // a write creates it again
      expect(tables.has('links')).toBe(true);
    });
    await runInDurableObject(p.raw, (_i, state) => {
      const sql = state.storage.sql;
      const store = new ProfileStore(sql);
      expect(store.links().map((l) => l.key)).toEqual(['group_id:g1']);
      // A write meeting the missing table creates it again.
      sql.exec('DROP TABLE links');
      store.addLinks([{ collection: 'accounts', key: 'group_id:g3', source_id: null, created_at: '2026-01-02' }]);
      expect(store.links().map((l) => l.key)).toEqual(['group_id:g3']);
      reloadTables(sql);
      const known = (Object.keys(LAZY_TABLES) as LazyTable[]).filter((t) => new ProfileTables(sql).has(t));
      expect(known).toContain('links');
      expect(known).not.toContain('merged_from');
    });
  });
});
