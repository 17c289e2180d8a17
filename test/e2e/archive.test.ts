// The archive end to end against `wrangler dev`: events sent to the Tracking API land in R2 as
// Parquet files that DuckDB reads with the README's query (exact counts per event name), and a
// replay of a time range reaches a webhook receiver exactly once per event of that range, while a
// live event sent during the replay still arrives promptly.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receiver, startReceiver } from '../kit/receiver';
import { startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';

interface Listed {
  key: string;
  rows: number;
  from: string;
  to: string;
}

const NAMES = ['Signed Up', 'Order Completed', 'Product Viewed'];

describe('archive → DuckDB, and replay', () => {
  let t: Tessera;
  let receiver: Receiver;
  let dir: string;
  const batches: { ids: string[]; from: string; to: string }[] = [];
  const counts = new Map<string, number>();

  const send = async (events: Record<string, unknown>[]) => {
    const res = await fetch(`${t.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${t.writeKey}:`)}` },
      body: JSON.stringify({ batch: events }),
    });
    expect(res.status).toBe(200);
  };
  const list = async () => (await t.admin<{ data: Listed[] }>(`/api/archive?sourceId=${t.sourceId}&limit=1000`)).data;

  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTessera({ sourceName: 'archive e2e', vars: { DELIVERY_BACKOFF_BASE_SECONDS: '1' } });
    dir = await mkdtemp(join(tmpdir(), 'tessera-archive-'));
    // Three batches a little apart in time: the replay takes the middle one's range.
    for (let b = 0; b < 3; b++) {
      const from = new Date().toISOString();
      const events = Array.from({ length: 25 + b * 5 }, (_, i) => {
        const event = NAMES[(i * (b + 1)) % NAMES.length];
        counts.set(event, (counts.get(event) ?? 0) + 1);
        return { type: 'track', event, userId: `u-${b}-${i % 4}`, messageId: `e2e-${b}-${i}`, properties: { i } };
      });
      await send(events);
      await new Promise((r) => setTimeout(r, 50));
      batches.push({ ids: events.map((e) => e.messageId), from, to: new Date().toISOString() });
      await new Promise((r) => setTimeout(r, 1500));
    }
    const total = batches.reduce((n, b) => n + b.ids.length, 0);
    await eventually(async () => (await list()).reduce((n, o) => n + o.rows, 0) >= total, {
      timeout: 120_000,
      interval: 1000,
      message: `${total} archived rows`,
    });
  }, 180_000);
  afterAll(async () => {
    await t?.stop();
    await receiver?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("DuckDB reads the files with the README's query and counts every event name exactly", async () => {
    for (const o of await list()) {
      const res = await t.adminFetch(`/api/archive/objects/${o.key}`);
      expect(res.status).toBe(200);
      const path = join(dir, o.key);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, Buffer.from(await res.arrayBuffer()));
    }
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const reader = await con.runAndReadAll(
      `SELECT event, count(*) AS n, count(DISTINCT message_id) AS ids, min(source_id) AS source, min(typeof(received_at)) AS ts
       FROM read_parquet('${dir}/events/**/*.parquet', hive_partitioning = true) GROUP BY event ORDER BY event`,
    );
    const rows = reader.getRowObjectsJson() as { event: string; n: string; ids: string; source: string; ts: string }[];
    expect(Object.fromEntries(rows.map((r) => [r.event, Number(r.n)]))).toEqual(Object.fromEntries(counts));
    for (const r of rows) {
      expect(r.ids).toBe(r.n);
      expect(r.source).toBe(t.sourceId);
      expect(r.ts).toBe('TIMESTAMP WITH TIME ZONE');
    }
    const json = await con.runAndReadAll(
      `SELECT count(*) AS n FROM read_parquet('${dir}/events/**/*.parquet', hive_partitioning = true)
       WHERE json_extract(properties, '$.i')::INT = 3 AND date = strftime(received_at AT TIME ZONE 'UTC', '%Y-%m-%d')`,
    );
    expect(Number((json.getRowObjectsJson()[0] as { n: string }).n)).toBe(3);
    con.closeSync();
  });

  it('replays a time range to a webhook exactly once per event, while live traffic keeps flowing', async () => {
    const live = await t.admin<{ id: string }>('/api/destinations', {
      method: 'POST',
      body: { type: 'webhook', name: 'live', sourceIds: [t.sourceId], settings: { url: `${receiver.url}/live` } },
    });
    const target = await t.admin<{ id: string }>('/api/destinations', {
      method: 'POST',
      body: { type: 'webhook', name: 'replay target', sourceIds: [], settings: { url: `${receiver.url}/replay` } },
    });
    const range = batches[1];
    const replay = await t.admin<{ id: string; status: string; total: number }>('/api/replays', {
      method: 'POST',
      body: { sourceId: t.sourceId, from: range.from, to: range.to, destinationIds: [target.id] },
    });
    expect(replay.status).toBe('running');
    const liveSentAt = Date.now();
    await send([{ type: 'track', event: 'Live During Replay', userId: 'live-user', messageId: 'live-probe' }]);

    const done = await eventually(
      async () => {
        const r = await t.admin<{ status: string; sent: number; total: number; percent: number }>(
          `/api/replays/${replay.id}`,
        );
        return r.status === 'done' && r;
      },
      { timeout: 60_000, interval: 300, message: 'replay done' },
    );
    expect(done).toMatchObject({ sent: range.ids.length, percent: 100 });
    const wanted = new Set(range.ids);
    const replayed = await eventually(
      () => {
        const got = receiver.requests.filter((r) => r.path === '/replay');
        return got.length >= range.ids.length && got;
      },
      { timeout: 60_000, interval: 200, message: 'replayed events at the receiver' },
    );
    await new Promise((r) => setTimeout(r, 1500)); // anything extra would arrive by now
    const ids = receiver.requests
      .filter((r) => r.path === '/replay')
      .map((r) => (r.json as { messageId: string }).messageId);
    expect(ids.sort()).toEqual([...wanted].sort());
    expect(replayed.every((r) => (r.json as { context?: { replay?: boolean } }).context?.replay === true)).toBe(true);

    const probe = await eventually(
      () =>
        receiver.requests.find(
          (r) => r.path === '/live' && (r.json as { messageId?: string }).messageId === 'live-probe',
        ),
      { timeout: 15_000, message: 'live event during the replay' },
    );
    expect(probe.at - liveSentAt).toBeLessThan(5_000);
    expect(live.id).toBeTruthy();

    const cancel = await t.adminFetch(`/api/replays/${replay.id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(409);
  }, 150_000);
});
