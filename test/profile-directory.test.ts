import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { consumeIngest } from '../src/ingest/consumer';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';
import { loadMerges } from '../src/insights/load';
import { DIRECTORY_TRAITS, DirectoryBatch } from '../src/profiles/directory';
import type { ProfileSnapshot } from '../src/profiles/rpc';
import { usage } from '../src/usage/counters';
import { MeteredD1 } from '../src/usage/d1';
import { consumeDirectly } from './identity-model';
import { env, getJson, makeSource, uniq, userPath } from './kit/workers';

const directoryRow = (id: string) =>
  env.DB.prepare('SELECT traits, event_count FROM profile_directory WHERE id = ?')
    .bind(id)
    .first<{ traits: string; event_count: number }>();

const snapshot = (id: string, traits: Record<string, unknown> = { n: 1 }): ProfileSnapshot => ({
  id,
  collection: 'users',
  version: 1,
  identifiers: [`user_id:${id}`],
  traits,
  eventCount: 1,
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
});

describe('profile directory bounds', { timeout: 60_000 }, () => {
  it('80 identifies of 30 KB traits give a bounded row; the Profile API still has every trait', async () => {
    const { id: sourceId } = await makeSource('directory bounds');
    const user = uniq('wide');
    const t0 = Date.now() - 3_600_000;
    const events = Array.from({ length: 80 }, (_, i) => {
      const at = new Date(t0 + i * 1000).toISOString();
      return {
        sourceId,
        event: {
          type: 'identify',
          userId: user,
          messageId: uniq('m'),
          timestamp: at,
          receivedAt: at,
          originalTimestamp: at,
          context: {},
          traits: { [`blob${String(i).padStart(2, '0')}`]: 'z'.repeat(30_000) },
        } as unknown as EnrichedEvent,
      };
    });
    expect(await consumeDirectly(events)).toEqual([]);
    const api = await getJson<{ traits: Record<string, unknown> }>(userPath(`user_id:${user}`, 'traits', '?limit=200'));
    expect(Object.keys(api.body.traits)).toHaveLength(80);
    const profileId = (
      await getJson<{ data: { related: { users: string } }[] }>(userPath(`user_id:${user}`, 'events', '?limit=1'))
    ).body.data[0].related.users;
    const row = await directoryRow(profileId);
    expect(row).not.toBeNull();
    expect(new TextEncoder().encode(row?.traits).length).toBeLessThanOrEqual(DIRECTORY_TRAITS.maxBytes);
    // The most recently set traits are the ones kept.
    expect(Object.keys(JSON.parse(row?.traits ?? '{}'))).toEqual(['blob78', 'blob79']);
  });

  it('one profile D1 refuses never fails the batch: every other row is written', async () => {
    const ids = Array.from({ length: 120 }, () => `use_${uniq('dir')}`);
    const batch = new DirectoryBatch();
    for (const id of ids) batch.add(snapshot(id));
    // A row D1 refuses however it is written (event_count is NOT NULL)...
    batch.add({ ...snapshot(ids[7]), version: 2, eventCount: Number.NaN });
    // ...and one too big for any row, as an unbounded snapshot would be.
    batch.add({ ...snapshot(ids[60]), version: 2, traits: { huge: 'h'.repeat(11_000_000), small: 1 } });
    await batch.flush(env.DB);
    const rows = await Promise.all(ids.map(directoryRow));
    expect(rows.filter((r) => r === null)).toHaveLength(1);
    expect(rows[7]).toBeNull();
    expect(JSON.parse(rows[60]?.traits ?? 'null')).toEqual({ small: 1 });
    expect(rows.filter((r) => r?.event_count === 1)).toHaveLength(119);
  });
});

/** D1 rows written under a meter stage of its own (this isolate's usage counters). */
function rowsWritten(stage: string): number {
  const rows = usage.drain();
  usage.restore(rows);
  return rows.filter((r) => r.stage === stage && r.unit === 'd1.rows_written').reduce((n, r) => n + r.n, 0);
}

const metered = (stage: string) => ({ ...env, DB: new MeteredD1(env.DB, stage) as unknown as D1Database });

/** One delivery of these events to the real ingest consumer, each its own queue message. */
async function deliver(events: Record<string, unknown>[], sourceId: string, e: Cloudflare.Env = env) {
  const at = new Date().toISOString();
  const batch = createMessageBatch<IngestMessage>(
    'tessera-ingest',
    events.map((event) => ({
      id: uniq('q'),
      timestamp: new Date(),
      attempts: 1,
      body: {
        sourceId,
        event: { messageId: uniq('m'), timestamp: at, receivedAt: at, originalTimestamp: at, context: {}, ...event },
      } as IngestMessage,
    })),
  );
  await consumeIngest(batch, e);
  return (await getQueueResult(batch, createExecutionContext())).explicitAcks.length;
}

describe('profile directory rows written', { timeout: 60_000 }, () => {
  it('a new profile costs two rows (its row and the recency index)', async () => {
    const id = uniq('rows');
    const at = new Date().toISOString();
    const inserted = await env.DB.prepare(
      `INSERT INTO profile_directory (id, collection, version, identifiers, traits, search, created_at, updated_at)
       VALUES (?, 'users', 1, '[]', '{}', ?, ?, ?)`,
    )
      .bind(id, id, at, at)
      .run();
    // Before migration 0020 (a rowid table with a TEXT key): 3, the key's own index included.
    expect(inserted.meta.rows_written).toBe(2);
  });

  it("a merged loser's tombstone costs one row: it sets none of the recency index's columns", async () => {
    const id = `use_${uniq('loser')}`;
    const live = new DirectoryBatch();
    live.add(snapshot(id));
    await live.flush(env.DB);
    const stage = uniq('tombstone');
    const later = new Date(Date.now() + 60_000).toISOString();
    const dead = new DirectoryBatch();
    dead.add({ ...snapshot(id, {}), version: 2, identifiers: [], mergedInto: 'use_survivor', updatedAt: later });
    await dead.flush(metered(stage).DB);
    // Before: 2 (the row, and the recency index rewritten for updated_at and collection).
    expect(rowsWritten(stage)).toBe(1);
    const row = await env.DB.prepare('SELECT merged_into, version, traits FROM profile_directory WHERE id = ?')
      .bind(id)
      .first();
    expect(row).toEqual({ merged_into: 'use_survivor', version: 2, traits: '{}' });
    // An older live snapshot arriving late cannot bring the loser back.
    const stale = new DirectoryBatch();
    stale.add({ ...snapshot(id), version: 1, id });
    await stale.flush(env.DB);
    expect((await directoryRow(id))?.traits).toBe('{}');
  });

  it('a merge through the consumer writes 6 D1 rows, none in profile_merges; insights follow the tombstone', async () => {
    const { id: sourceId } = await makeSource('directory merge rows');
    const [anon, user] = [uniq('anon'), uniq('user')];
    expect(await deliver([{ type: 'track', event: 'Visited', anonymousId: anon }], sourceId)).toBe(1);
    expect(await deliver([{ type: 'track', event: 'Signed in', userId: user }], sourceId)).toBe(1);
    const stage = uniq('merge');
    expect(await deliver([{ type: 'identify', userId: user, anonymousId: anon }], sourceId, metered(stage))).toBe(1);
    // The survivor's row and its recency index (2), the loser's tombstone (1), the insights rollup,
    // volume and redelivery rows (3). Before: 9, with the tombstone's index rewrite and the
    // merge record's row and survivor index.
    expect(rowsWritten(stage)).toBe(6);
    const detail = await getJson<{ id: string; merges: { profileId: string }[] }>(`/api/profiles/user_id:${user}`);
    expect(detail.body.merges).toHaveLength(1);
    const loser = detail.body.merges[0].profileId;
    expect(await env.DB.prepare('SELECT 1 FROM profile_merges WHERE loser = ?').bind(loser).first()).toBeNull();
    expect(await loadMerges(env.DB, [loser])).toEqual(new Map([[loser, detail.body.id]]));
    // The directory lists the survivor only.
    const listed = await getJson<{ data: { id: string }[] }>(`/api/profiles?q=${encodeURIComponent(user)}`);
    expect(listed.body.data.map((d) => d.id)).toEqual([detail.body.id]);
  });
});

describe('migration 0021', () => {
  it('gives every loser recorded in profile_merges its directory pointer, and nothing else changes', async () => {
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith('0021_'));
    expect(migration).toBeDefined();
    const [stale, missing, account, done, live] = ['use_', 'use_', 'acc_', 'use_', 'use_'].map(
      (p) => `${p}${uniq('m21')}`,
    );
    const at = '2026-03-01T00:00:00.000Z';
    const row = env.DB.prepare(
      `INSERT INTO profile_directory (id, collection, version, merged_into, identifiers, traits, search, created_at, updated_at)
       VALUES (?, 'users', 3, ?, '[]', '{}', ?, ?, ?)`,
    );
    const merge = env.DB.prepare('INSERT INTO profile_merges (loser, survivor, reason, merged_at) VALUES (?, ?, ?, ?)');
    await env.DB.batch([
      row.bind(stale, null, stale, at, at), // a loser whose tombstone never reached the directory
      row.bind(done, live, done, at, at), // one that did
      row.bind(live, null, live, at, at), // a live profile nobody merged
      merge.bind(stale, live, 'r', at),
      merge.bind(missing, live, 'r', at), // a loser without any directory row
      merge.bind(account, `acc_${uniq('s')}`, 'r', at),
      merge.bind(done, live, 'r', at),
    ]);
    for (const q of migration?.queries ?? []) await env.DB.prepare(q).run();
    const merges = await loadMerges(env.DB, [stale, missing, account, done, live]);
    expect(merges.get(stale)).toBe(live);
    expect(merges.get(missing)).toBe(live);
    expect(merges.get(done)).toBe(live);
    expect(merges.has(account)).toBe(true);
    expect(merges.has(live)).toBe(false);
    const added = await env.DB.prepare('SELECT collection, version FROM profile_directory WHERE id = ?')
      .bind(account)
      .first();
    expect(added).toEqual({ collection: 'accounts', version: 0 });
    const listed = await getJson<{ data: { id: string }[] }>(`/api/profiles?q=${encodeURIComponent(live)}`);
    expect(listed.body.data.map((d) => d.id)).toEqual([live]);
  });
});
