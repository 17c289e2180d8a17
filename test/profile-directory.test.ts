import { describe, expect, it } from 'vitest';
import type { EnrichedEvent } from '../src/ingest/spec';
import { DIRECTORY_TRAITS, DirectoryBatch } from '../src/profiles/directory';
import type { ProfileSnapshot } from '../src/profiles/rpc';
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

describe('profile directory rows written', () => {
  it('a new profile costs two rows (its row and the recency index), a merge record one', async () => {
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
    const merged = await env.DB.prepare(
      'INSERT INTO profile_merges (loser, survivor, reason, merged_at) VALUES (?, ?, ?, ?)',
    )
      .bind(uniq('loser'), id, 'test', at)
      .run();
    expect(merged.meta.rows_written).toBe(2); // the row and the survivor index (before: 3)
  });
});
