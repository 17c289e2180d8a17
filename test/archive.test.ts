// The archive through the running Worker: events sent to the Tracking API land in R2 as Parquet,
// once each, with every column right; a redelivered archive batch adds nothing; retention and
// subject erasure rewrite only what they must.
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { eraseSubjects } from '../src/archive/erase';
import { applyRetention, pruneBatches } from '../src/archive/retention';
import type { EnrichedEvent } from '../src/ingest/spec';
import { openDeep } from '../src/privacy/pii';
import { piiKeyring } from '../src/privacy/pii-guard';
import { listArchive, readArchive, runArchiveBatch } from './kit/archive';
import { ADMIN, basic, makeSource, post, SELF } from './kit/workers';

const N = 60;
const at = (ms: number) => new Date(Date.UTC(2026, 10, 3, 10, 0, 0) + ms).toISOString();

function sent(i: number): Record<string, unknown> {
  const base = {
    messageId: `arch-${i}`,
    userId: `user-${i % 7}`,
    anonymousId: `anon-${i}`,
    timestamp: at(i * 1000),
    context: { library: { name: 'archive-test', version: '1' }, page: { path: `/x/${i}` } },
  };
  if (i % 10 === 0) return { ...base, type: 'identify', traits: { plan: `p${i}`, n: i } };
  if (i % 10 === 1) return { ...base, type: 'page', name: `Page ${i % 3}`, properties: { path: `/p/${i}` } };
  if (i % 10 === 2) return { ...base, type: 'group', groupId: `g-${i}`, traits: { name: 'Acme' } };
  return {
    ...base,
    type: 'track',
    event: `Event ${i % 4}`,
    properties: { i, price: i / 4, tags: ['a', 'ü€'], nested: { deep: { ok: i % 2 === 0 } } },
    integrations: { All: true, Mixpanel: false },
  };
}

describe('archive through the Worker', () => {
  it('holds exactly the N events sent, each column right, once each', async () => {
    const source = await makeSource('archive');
    const events = Array.from({ length: N }, (_, i) => sent(i));
    for (let i = 0; i < N; i += 20) {
      const res = await post(
        '/v1/batch',
        { batch: events.slice(i, i + 20) },
        { authorization: basic(source.writeKey) },
      );
      expect(res.status).toBe(200);
    }
    await vi.waitUntil(async () => (await listArchive(source.id)).reduce((n, o) => n + o.rows, 0) >= N, {
      timeout: 90_000,
      interval: 500,
    });
    const rows = await readArchive(source.id);
    expect(rows.map((r) => r.message_id).sort()).toEqual(events.map((e) => e.messageId).sort());
    for (const e of events) {
      const r = rows.find((x) => x.message_id === e.messageId);
      expect(r).toMatchObject({
        type: e.type,
        event: e.event ?? null,
        name: e.name ?? null,
        user_id: e.userId,
        anonymous_id: e.anonymousId,
        group_id: e.groupId ?? null,
        previous_id: null,
        source_id: source.id,
        properties: e.properties ? JSON.stringify(e.properties) : null,
        integrations: e.integrations ? JSON.stringify(e.integrations) : null,
      });
      expect(r?.timestamp).toEqual(new Date(e.timestamp as string));
      expect(r?.original_timestamp).toEqual(new Date(e.timestamp as string));
      expect(r?.received_at).toBeInstanceOf(Date);
      expect(r?.profile_id).toMatch(/.+/);
      expect(JSON.parse(r?.context ?? '{}')).toMatchObject(e.context as object);
      // PII trait values (a group's `name` is one by default) are sealed as profiles keep them.
      const traits = r?.traits ? JSON.parse(r.traits) : null;
      expect(await openDeep(await piiKeyring(env), traits)).toEqual(e.traits ?? null);
      if (e.type === 'group') expect(traits.name).toMatch(/^pii1\./);
    }
    // One profile per user: the same user's events carry the same profile_id.
    for (let u = 0; u < 7; u++) {
      const ids = new Set(rows.filter((r) => r.user_id === `user-${u}`).map((r) => r.profile_id));
      expect(ids.size).toBe(1);
    }
    // Files are partitioned by source and hour, never one per event.
    const listed = await listArchive(source.id);
    expect(listed.length).toBeLessThan(N / 5);
    for (const o of listed)
      expect(o.key).toMatch(new RegExp(`^events/source_id=${source.id}/date=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/`));
  }, 120_000);

  it('a redelivered archive batch adds no rows, and an unfinished attempt leaves no file behind', async () => {
    const source = await makeSource('redelivery');
    const ev = (i: number, hour = 10) =>
      ({
        sourceId: source.id,
        event: {
          type: 'track',
          event: 'Redelivered',
          messageId: `r-${i}`,
          userId: `u-${i}`,
          receivedAt: `2026-11-04T${hour}:00:0${i % 10}.000Z`,
          timestamp: `2026-11-04T${hour}:00:00.000Z`,
          originalTimestamp: `2026-11-04T${hour}:00:00.000Z`,
          context: {},
        } as unknown as EnrichedEvent,
      }) as const;
    const messages = [
      { id: `q-${source.id}-1`, events: [ev(1), ev(2), ev(3, 11)] },
      { id: `q-${source.id}-2`, events: [ev(4), ev(2)] },
    ];
    const first = await runArchiveBatch(messages);
    expect(first.explicitAcks.length).toBe(2);
    const once = await readArchive(source.id);
    expect(once.map((r) => r.message_id).sort()).toEqual(['r-1', 'r-2', 'r-3', 'r-4']);
    const keys = (await listArchive(source.id)).map((o) => o.key);
    expect(keys.length).toBe(2); // hours 10 and 11

    // Forced redelivery: the very same batch again, and each message alone.
    const again = await runArchiveBatch(messages);
    expect(again.explicitAcks.sort()).toEqual(messages.map((m) => m.id).sort());
    await runArchiveBatch([messages[1]]);
    expect((await readArchive(source.id)).length).toBe(4);
    expect((await listArchive(source.id)).map((o) => o.key)).toEqual(keys);

    // An attempt that put its file and crashed before the manifest: the next attempt, in another
    // batch composition, removes that file before writing its own.
    const crashed = { id: `q-${source.id}-3`, events: [ev(5), ev(6)] };
    const staleKey = `events/source_id=${source.id}/date=2026-11-04/hour=10/01KZZZZZZZZZZZZZZZZZZZZZZZ.parquet`;
    await env.ARCHIVE.put(staleKey, 'half-written');
    await env.DB.prepare(
      "INSERT INTO archive_batches (message_id, state, keys, created_at) VALUES (?, 'pending', ?, ?)",
    )
      .bind(crashed.id, JSON.stringify([staleKey]), new Date().toISOString())
      .run();
    await runArchiveBatch([crashed, { id: `q-${source.id}-4`, events: [ev(7)] }]);
    expect(await env.ARCHIVE.head(staleKey)).toBeNull();
    const rows = await readArchive(source.id);
    expect(rows.map((r) => r.message_id).sort()).toEqual(['r-1', 'r-2', 'r-3', 'r-4', 'r-5', 'r-6', 'r-7']);
    const inBucket = await env.ARCHIVE.list({ prefix: `events/source_id=${source.id}/` });
    expect(inBucket.objects.length).toBe((await listArchive(source.id)).length);
  }, 30_000);

  it('an event of a retried ingest message that an earlier attempt archived is not archived again', async () => {
    const source = await makeSource('ingest retry');
    const ev = (i: number) => ({
      sourceId: source.id,
      event: {
        type: 'track',
        event: 'Retried',
        messageId: `ir-${i}`,
        userId: 'u',
        receivedAt: `2026-11-06T08:00:0${i}.000Z`,
        timestamp: '2026-11-06T08:00:00.000Z',
        originalTimestamp: '2026-11-06T08:00:00.000Z',
        context: {},
      } as unknown as EnrichedEvent,
    });
    await runArchiveBatch([{ id: `ir-${source.id}-1`, events: [ev(1), ev(2)] }]);
    // The ingest message of ir-1 was retried (its directory write failed): it comes back marked.
    await runArchiveBatch([
      {
        id: `ir-${source.id}-2`,
        events: [
          { ...ev(1), redelivered: true },
          { ...ev(3), redelivered: true },
        ],
      },
    ]);
    const rows = await readArchive(source.id);
    expect(rows.map((r) => r.message_id).sort()).toEqual(['ir-1', 'ir-2', 'ir-3']);
  });

  it('lists by time range, downloads an object, and refuses keys that are not archive objects', async () => {
    const source = await makeSource('listing');
    const mk = (i: number, iso: string) => ({
      sourceId: source.id,
      event: {
        type: 'track',
        event: 'L',
        messageId: `l-${i}`,
        userId: 'x',
        receivedAt: iso,
        timestamp: iso,
        originalTimestamp: iso,
        context: {},
      } as unknown as EnrichedEvent,
    });
    await runArchiveBatch([
      { id: `l-${source.id}`, events: [mk(1, '2026-11-01T01:10:00.000Z'), mk(2, '2026-11-02T05:20:00.000Z')] },
    ]);
    const all = await listArchive(source.id);
    expect(all.map((o) => [o.rows, o.from, o.to])).toEqual([
      [1, '2026-11-01T01:10:00.000Z', '2026-11-01T01:10:00.000Z'],
      [1, '2026-11-02T05:20:00.000Z', '2026-11-02T05:20:00.000Z'],
    ]);
    expect(await listArchive(source.id, '&from=2026-11-02T00:00:00Z')).toEqual([all[1]]);
    expect(await listArchive(source.id, '&to=2026-11-01T23:00:00Z')).toEqual([all[0]]);
    const bad = await SELF.fetch('http://tessera.test/api/archive/objects/..%2Fsecret', { headers: ADMIN });
    expect(bad.status).toBe(400);
    const missing = await SELF.fetch(
      `http://tessera.test/api/archive/objects/events/source_id=${source.id}/date=2026-11-01/hour=01/01KZZZZZZZZZZZZZZZZZZZZZZZ.parquet`,
      { headers: ADMIN },
    );
    expect(missing.status).toBe(404);
    const badTime = await SELF.fetch(`http://tessera.test/api/archive?from=yesterday`, { headers: ADMIN });
    expect(badTime.status).toBe(400);
  }, 30_000);

  it('retention removes a source’s objects older than archiveRetentionDays, and only those', async () => {
    const source = await makeSource('retention');
    const other = await makeSource('kept');
    const now = Date.now();
    const mk = (sourceId: string, i: number, ageDays: number) => {
      const iso = new Date(now - ageDays * 86_400_000).toISOString();
      return {
        sourceId,
        event: {
          type: 'track',
          event: 'R',
          messageId: `t-${sourceId}-${i}`,
          userId: 'x',
          receivedAt: iso,
          timestamp: iso,
          originalTimestamp: iso,
          context: {},
        } as unknown as EnrichedEvent,
      };
    };
    await runArchiveBatch([
      { id: `t-${source.id}`, events: [mk(source.id, 1, 10), mk(source.id, 2, 1), mk(other.id, 3, 10)] },
    ]);
    const put = await SELF.fetch(`http://tessera.test/api/archive/settings/${source.id}`, {
      method: 'PUT',
      headers: ADMIN,
      body: JSON.stringify({ archiveRetentionDays: 5 }),
    });
    expect(put.status).toBe(200);
    const invalid = await SELF.fetch(`http://tessera.test/api/archive/settings/${source.id}`, {
      method: 'PUT',
      headers: ADMIN,
      body: JSON.stringify({ archiveRetentionDays: 0 }),
    });
    expect(invalid.status).toBe(400);
    const old = (await listArchive(source.id)).filter((o) => Date.parse(o.to) < now - 5 * 86_400_000);
    expect(old.length).toBe(1);
    expect(await applyRetention(env)).toBeGreaterThanOrEqual(1);
    expect((await listArchive(source.id)).map((o) => o.rows)).toEqual([1]);
    expect(await env.ARCHIVE.head(old[0].key)).toBeNull();
    expect((await listArchive(other.id)).length).toBe(1);
    await pruneBatches(env); // housekeeping runs clean
  }, 30_000);

  it('erasing a subject rewrites only the files that hold it, without its rows', async () => {
    const source = await makeSource('erase');
    const mk = (i: number, user: string, hour: number) => {
      const iso = `2026-11-05T${String(hour).padStart(2, '0')}:00:00.000Z`;
      return {
        sourceId: source.id,
        profileId: `prof-${user}`,
        event: {
          type: 'track',
          event: 'E',
          messageId: `e-${i}`,
          userId: user,
          anonymousId: `anon-${user}`,
          receivedAt: iso,
          timestamp: iso,
          originalTimestamp: iso,
          context: {},
        } as unknown as EnrichedEvent,
      };
    };
    const events = Array.from({ length: 48 }, (_, i) => mk(i, `eu-${i % 6}`, i % 12));
    await runArchiveBatch([{ id: `e-${source.id}`, events }]);
    expect((await listArchive(source.id)).length).toBe(12);
    // eu-0 appears only in hours 0 and 6.
    const result = await eraseSubjects(env, { userIds: ['eu-0'] });
    expect(result.rowsRemoved).toBe(8);
    expect(result.filesRewritten).toBe(2);
    expect(result.filesRead).toBeLessThan(12);
    let rows = await readArchive(source.id);
    expect(rows.length).toBe(40);
    expect(rows.some((r) => r.user_id === 'eu-0')).toBe(false);
    // By anonymous id and by profile id, too; a file left empty is deleted.
    await eraseSubjects(env, { anonymousIds: ['anon-eu-1'], profileIds: ['prof-eu-2'] });
    rows = await readArchive(source.id);
    expect(rows.length).toBe(24);
    expect(new Set(rows.map((r) => r.user_id))).toEqual(new Set(['eu-3', 'eu-4', 'eu-5']));
    expect((await eraseSubjects(env, { userIds: ['eu-0'] })).rowsRemoved).toBe(0);
  }, 60_000);
});
