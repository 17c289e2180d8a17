// The insights rollups write one D1 row per (event, hour, profile, source) per batch, however many
// distinct property values its events carry: one user's 20 tracks of unique skus through the real
// consumer are one row, and the queries still answer per sku. The upsert's SQL merge equals the
// pure `mergeVariants` on real D1 (past the row cap too, and under concurrent batches), and
// migration 0018 turns 0016's rows (one per dimensions) into the same variants.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { consumeIngest } from '../src/ingest/consumer';
import type { PackedIngest } from '../src/ingest/packed';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';
import { rollupStatements } from '../src/insights/record';
import {
  buildRollups,
  MAX_ROW_BYTES,
  MAX_VARIANTS,
  mergeVariants,
  OVERFLOW_DIMS,
  type RollupInput,
  type StoredRollup,
  storeRollups,
  type Variant,
} from '../src/insights/rollup';
import { prng } from '../src/lib/prng';
import { eraseD1 } from '../src/privacy/erase';
import { usage } from '../src/usage/counters';
import { MeteredD1 } from '../src/usage/d1';
import { ADMIN, env, makeSource, SELF, uniq } from './kit/workers';

const T0 = Date.parse('2026-07-06T10:00:00.000Z');
const HOUR = 3_600_000;

function msg(sourceId: string, at: number, event: Record<string, unknown>): IngestMessage {
  const ts = new Date(at).toISOString();
  return {
    sourceId,
    event: {
      messageId: uniq('m'),
      timestamp: ts,
      receivedAt: new Date().toISOString(),
      originalTimestamp: ts,
      context: {},
      ...event,
    } as EnrichedEvent,
  };
}

/** One delivery of these queue messages to the real consumer; the ids it acked. */
async function deliver(messages: { id: string; body: IngestMessage | PackedIngest }[], e: Cloudflare.Env = env) {
  const batch = createMessageBatch<IngestMessage>(
    'tessera-ingest',
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: 1, body: m.body as IngestMessage })),
  );
  await consumeIngest(batch, e);
  return [...(await getQueueResult(batch, createExecutionContext())).explicitAcks];
}

function rowsWritten(stage: string): number {
  const rows = usage.drain();
  usage.restore(rows);
  return rows.filter((r) => r.stage === stage && r.unit === 'd1.rows_written').reduce((n, r) => n + r.n, 0);
}

interface Stored {
  event: string;
  hour: number;
  profile_id: string;
  count: number;
  variants: string;
}

/** The stored rows of a source, variants parsed (read straight from the table). */
async function storedRows(sourceId: string) {
  const { results } = await env.DB.prepare(
    'SELECT event, hour, profile_id, count, variants FROM insights_rollup WHERE source_id = ? ORDER BY event, hour, profile_id',
  )
    .bind(sourceId)
    .all<Stored>();
  return results.map((r) => ({ ...r, variants: JSON.parse(r.variants) as Variant[] }));
}

const ask = async <T>(path: string, body: unknown) => {
  const res = await SELF.fetch(`http://tessera.test/api/insights/${path}`, {
    method: 'POST',
    headers: ADMIN,
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
};
type Trends = { series: { key: string; points: { value: number }[] }[] };
const totals = (t: Trends) =>
  Object.fromEntries(t.series.map((s) => [s.key, s.points.reduce((n, p) => n + p.value, 0)]));

describe('insights rollup rows', { timeout: 90_000 }, () => {
  it("writes one rollup row for one user's 20 tracks of unique skus; queries still answer per sku", async () => {
    const { id: sourceId } = await makeSource('insights-rows');
    const user = uniq('known');
    // A known user first (the directory lists the profile), as in the cost bench's SDK batches.
    await deliver([{ id: uniq('q'), body: msg(sourceId, T0, { type: 'track', event: 'Warm', userId: user }) }]);
    const track = (at: number, j: number) =>
      msg(sourceId, at, {
        type: 'track',
        event: 'Product Viewed',
        userId: user,
        properties: { sku: `sku-${j}`, price: 19.99 },
      });
    const pack = {
      id: uniq('q'),
      body: { packed: Array.from({ length: 20 }, (_, j) => track(T0 + 1000 * (j + 1), j)) },
    };
    const stage = uniq('rows');
    const metered = { ...env, DB: new MeteredD1(env.DB, stage) as unknown as D1Database };
    expect(await deliver([pack], metered)).toEqual([pack.id]);
    // Every D1 row the consumer wrote for those 20 events: one volume row (one minute), one rollup
    // row, the queue message's redelivery row.
    expect(rowsWritten(stage)).toBe(3);
    const rows = (await storedRows(sourceId)).filter((r) => r.event === 'Product Viewed');
    expect(rows).toHaveLength(1);
    expect(rows[0].count).toBe(20);
    expect(rows[0].variants.map(([d, n, t]) => [JSON.parse(d).properties.sku, n, t.length])).toEqual(
      Array.from({ length: 20 }, (_, j) => [`sku-${j}`, 1, 1]),
    );

    const range = { from: new Date(T0 - HOUR).toISOString(), to: new Date(T0 + 2 * HOUR).toISOString(), sourceId };
    const bySku = await ask<Trends>('trends', {
      event: 'Product Viewed',
      interval: 'hour',
      breakdown: 'properties.sku',
      ...range,
    });
    expect(totals(bySku)).toEqual(Object.fromEntries(Array.from({ length: 20 }, (_, j) => [`sku-${j}`, 1])));
    const byPrice = await ask<Trends>('trends', {
      event: 'Product Viewed',
      interval: 'day',
      breakdown: 'properties.price',
      ...range,
    });
    expect(totals(byPrice)).toEqual({ '19.99': 20 });
    const one = await ask<Trends>('trends', {
      event: 'Product Viewed',
      interval: 'day',
      where: "properties.sku = 'sku-7'",
      ...range,
    });
    expect(totals(one)).toEqual({ all: 1 });
    const users = await ask<Trends>('trends', { event: 'Product Viewed', interval: 'day', measure: 'users', ...range });
    expect(totals(users)).toEqual({ all: 1 });
    const f = await ask<{ steps: { users: number }[] }>('funnel', {
      steps: [{ event: 'Warm' }, { event: 'Product Viewed', where: "properties.sku = 'sku-19'" }],
      ...range,
    });
    expect(f.steps.map((s) => s.users)).toEqual([1, 1]);

    // A later batch of the same hour: three skus seen before, two new ones. Still one row, merged.
    const more = [3, 4, 0, 20, 21].map((j, i) => ({ id: uniq('q'), body: track(T0 + 60_000 + i, j) }));
    expect((await deliver(more)).sort()).toEqual(more.map((m) => m.id).sort());
    const [row] = (await storedRows(sourceId)).filter((r) => r.event === 'Product Viewed');
    expect(row.count).toBe(25);
    expect(row.variants).toHaveLength(22);
    expect(row.variants.map(([d]) => JSON.parse(d).properties.sku).slice(-2)).toEqual(['sku-20', 'sku-21']);
    expect(row.variants[0]).toEqual([row.variants[0][0], 2, [T0 + 1000, T0 + 60_002]]);
    const after = await ask<Trends>('trends', {
      event: 'Product Viewed',
      interval: 'hour',
      breakdown: 'properties.sku',
      ...range,
    });
    expect(totals(after)['sku-0']).toBe(2);
    expect(Object.values(totals(after)).reduce((a, b) => a + b, 0)).toBe(25);

    // Erasure deletes the person's rollup rows, every variant with them (src/privacy/erase.ts).
    const erased = await eraseD1(env.DB, { profiles: [row.profile_id], keys: [] });
    expect(erased.done).toBeGreaterThanOrEqual(2);
    expect(await storedRows(sourceId)).toEqual([]);
  });

  it('merges batches in the upsert exactly as mergeVariants does, past the row cap and concurrently', async () => {
    const sourceId = uniq('merge-src');
    const r = prng(18);
    const profiles = [uniq('p'), uniq('p')];
    const big = (i: number) => `${i}:${'x'.repeat(3500)}`;
    let t = T0;
    // Most events on one profile: its A row passes the byte cap (~56 big variants), its B row the
    // variant cap (unique small ids); small repeated values are merged variants.
    const input = (): RollupInput => {
      t += r.int(1, 400);
      const event = r.chance(0.5) ? 'A' : 'B';
      const small = { plan: r.pick(['pro', 'free']), n: r.int(0, 3) };
      const odd = event === 'A' ? { blob: big(r.int(0, 10_000)) } : { id: r.int(0, 1_000_000) };
      return {
        sourceId,
        profileId: r.chance(0.8) ? profiles[0] : profiles[1],
        event: { type: 'track', event, timestamp: new Date(t).toISOString(), properties: r.chance(0.4) ? small : odd },
      };
    };
    const expected = new Map<string, StoredRollup>();
    let writtenRollupRows = 0;
    let keys = 0;
    for (let b = 0; b < 16; b++) {
      const { volume, rollup } = buildRollups(Array.from({ length: r.int(5, 40) }, input));
      storeRollups(expected, rollup);
      keys += rollup.length;
      const results = await env.DB.batch(rollupStatements(env.DB, volume, rollup));
      writtenRollupRows += results.at(-1)?.meta.rows_written ?? 0;
    }
    // One row written per (event, hour, profile, source) of each batch.
    expect(writtenRollupRows).toBe(keys);
    const got = await storedRows(sourceId);
    const want = [...expected.values()]
      .sort((a, b) =>
        a.event < b.event ? -1 : a.event > b.event ? 1 : a.hour - b.hour || (a.profileId < b.profileId ? -1 : 1),
      )
      .map((x) => ({ event: x.event, hour: x.hour, profile_id: x.profileId, count: x.count, variants: x.variants }));
    expect(got).toEqual(want);
    const overflowed = got.filter((x) => x.variants.at(-1)?.[0] === OVERFLOW_DIMS).map((x) => x.event);
    expect(overflowed).toEqual(expect.arrayContaining(['A', 'B']));
    expect(Math.max(...got.map((x) => x.variants.length))).toBe(MAX_VARIANTS + 1);
    for (const x of got) {
      expect(x.count).toBe(x.variants.reduce((n, v) => n + v[1], 0));
      expect(JSON.stringify(x.variants).length).toBeLessThan(2 * MAX_ROW_BYTES);
    }

    // Concurrent consumers upserting one row: each batch's merge is done by the UPDATE itself.
    const concurrent = Array.from({ length: 6 }, (_, b) =>
      buildRollups(
        Array.from({ length: 10 }, (_, i) => ({
          sourceId,
          profileId: 'p-concurrent',
          event: {
            type: 'track',
            event: 'C',
            timestamp: new Date(T0 + b * 10 + i).toISOString(),
            properties: { b, i: i % 4 },
          },
        })),
      ),
    );
    await Promise.all(concurrent.map(({ volume, rollup }) => env.DB.batch(rollupStatements(env.DB, volume, rollup))));
    const [c] = (await storedRows(sourceId)).filter((x) => x.event === 'C');
    expect(c.count).toBe(60);
    const flat = c.variants
      .map(([d, n, ts]) => [d, n, [...ts].sort((x, y) => x - y)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const alone = mergeVariants(concurrent.map((x) => x.rollup[0].variants))
      .map(([d, n, ts]) => [d, n, [...ts].sort((x, y) => x - y)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    expect(flat).toEqual(alone);
  });

  it('migration 0018 turns 0016 rows into variants of one row, capped as the consumer caps them', async () => {
    const table = uniq('t18').replace(/[^a-z0-9]/gi, '_');
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith('0018_'));
    expect(migration).toBeDefined();
    await env.DB.prepare(
      `CREATE TABLE ${table} (event TEXT NOT NULL, hour INTEGER NOT NULL, profile_id TEXT NOT NULL,
         source_id TEXT NOT NULL, dims_hash TEXT NOT NULL, dims TEXT NOT NULL, count INTEGER NOT NULL,
         times TEXT NOT NULL, PRIMARY KEY (event, hour, profile_id, source_id, dims_hash)) WITHOUT ROWID`,
    ).run();
    // Old rows: a small group, and a group of 70 big dimensions (past the cap: an overflow variant).
    const r = prng(16);
    const old: {
      event: string;
      hour: number;
      profile: string;
      hash: string;
      dims: string;
      count: number;
      times: number[];
    }[] = [];
    for (let i = 0; i < 3; i++) {
      old.push({
        event: 'A',
        hour: 10,
        profile: 'p1',
        hash: `h${i}`,
        dims: `{"properties":{"i":${i}}}`,
        count: 2 + i,
        times: [i, i + 1],
      });
    }
    for (let i = 0; i < 70; i++) {
      const times = Array.from({ length: r.int(1, 90) }, (_, k) => 1000 * i + k);
      const hash = r.int(0, 0xffffff).toString(16).padStart(6, '0') + i;
      old.push({
        event: 'B',
        hour: 11,
        profile: 'p2',
        hash,
        dims: `{"properties":{"x":"${hash}${'y'.repeat(3000)}"}}`,
        count: times.length + r.int(0, 3),
        times,
      });
    }
    for (let i = 0; i < 120; i++) {
      old.push({
        event: 'C',
        hour: 12,
        profile: 'p3',
        hash: `c${String(i).padStart(3, '0')}`,
        dims: `{"properties":{"id":${i}}}`,
        count: 1,
        times: [i],
      });
    }
    await env.DB.batch(
      old.map((o) =>
        env.DB.prepare(`INSERT INTO ${table} VALUES (?, ?, ?, 's', ?, ?, ?, ?)`).bind(
          o.event,
          o.hour,
          o.profile,
          o.hash,
          o.dims,
          o.count,
          JSON.stringify(o.times),
        ),
      ),
    );
    await env.DB.batch(migration!.queries.map((q) => env.DB.prepare(q.replace(/\binsights_rollup/g, table))));
    const { results } = await env.DB.prepare(
      `SELECT event, hour, profile_id, source_id, count, variants FROM ${table} ORDER BY event`,
    ).all<Stored & { source_id: string }>();
    const want = (event: string) => {
      const group = old.filter((o) => o.event === event).sort((a, b) => (a.hash < b.hash ? -1 : 1));
      return mergeVariants([group.map((o): Variant => [o.dims, o.count, o.times])]);
    };
    expect(results.map((x) => [x.event, x.hour, x.profile_id, x.source_id, x.count])).toEqual([
      ['A', 10, 'p1', 's', 9],
      ['B', 11, 'p2', 's', old.filter((o) => o.event === 'B').reduce((n, o) => n + o.count, 0)],
      ['C', 12, 'p3', 's', 120],
    ]);
    expect(JSON.parse(results[2].variants)).toEqual(want('C'));
    expect(JSON.parse(results[2].variants)).toHaveLength(MAX_VARIANTS + 1);
    expect(JSON.parse(results[0].variants)).toEqual(want('A'));
    const b = JSON.parse(results[1].variants) as Variant[];
    expect(b).toEqual(want('B'));
    expect(b.at(-1)?.[0]).toBe(OVERFLOW_DIMS);
    expect(b.length).toBeLessThan(70);
    // The old table is gone.
    const left = await env.DB.prepare('SELECT COUNT(*) AS n FROM sqlite_master WHERE name = ?')
      .bind(`${table}_0016`)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
    await env.DB.prepare(`DROP TABLE ${table}`).run();
  });
});
