// A queue redelivery must not count an event twice in the insights rollups. Queues keep a
// message's id across redeliveries, and the consumer keeps one row per queue message (the indexes
// of its events counted): the same batch delivered again through the real consumer leaves volume,
// rollups and query answers unchanged; a client's re-send of a consumed event (same messageId, a
// new message) counts nothing; a packed message redelivered counts nothing twice; an event
// whose directory write fails is counted only once it succeeds, in the message it is re-sent in.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { consumeIngest } from '../src/ingest/consumer';
import type { PackedIngest } from '../src/ingest/packed';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';
import { usage } from '../src/usage/counters';
import { MeteredD1 } from '../src/usage/d1';
import { ADMIN, env, eventually, makeSource, SELF, uniq } from './kit/workers';

const T0 = Date.parse('2026-06-01T10:00:00.000Z');

function msg(sourceId: string, at: number, event: Record<string, unknown>): IngestMessage {
  const ts = new Date(at).toISOString();
  // receivedAt is set at the edge when the event arrives: now, whatever the event's own timestamp.
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

interface Queued {
  id: string;
  sentAt: Date;
  body: IngestMessage | PackedIngest;
}

/** A queue message as the queue keeps it: the same id and timestamp on every delivery. */
const queued = (body: IngestMessage | PackedIngest): Queued => ({ id: uniq('q'), sentAt: new Date(), body });

/** One delivery of these messages to the real consumer; what it acked and retried. */
async function deliver(messages: Queued[], attempts = 1, e: Cloudflare.Env = env) {
  const batch = createMessageBatch<IngestMessage>(
    'tessera-ingest',
    messages.map((m) => ({ id: m.id, timestamp: m.sentAt, attempts, body: m.body as IngestMessage })),
  );
  await consumeIngest(batch, e);
  const result = await getQueueResult(batch, createExecutionContext());
  return { acked: [...result.explicitAcks].sort(), retried: result.retryMessages.map((r) => r.msgId) };
}

const ids = (messages: Queued[]) => messages.map((m) => m.id).sort();

async function numbers(sourceId: string) {
  const volume = await env.DB.prepare('SELECT COALESCE(SUM(count), 0) AS n FROM insights_volume WHERE source_id = ?')
    .bind(sourceId)
    .first<{ n: number }>();
  const rollup = await env.DB.prepare(
    `SELECT COALESCE(SUM(v.value ->> 1), 0) AS n, COALESCE(SUM(json_array_length(v.value -> 2)), 0) AS times
     FROM insights_rollup r, json_each(r.variants) v WHERE r.source_id = ?`,
  )
    .bind(sourceId)
    .first<{ n: number; times: number }>();
  const res = await SELF.fetch('http://tessera.test/api/insights/trends', {
    method: 'POST',
    headers: ADMIN,
    body: JSON.stringify({
      event: 'Viewed',
      interval: 'day',
      measure: 'events',
      sourceId,
      from: new Date(T0 - 3_600_000).toISOString(),
      to: new Date(T0 + 86_400_000).toISOString(),
    }),
  });
  const trends = (await res.json()) as { series: { points: { value: number }[] }[] };
  const viewed = trends.series.reduce((n, s) => n + s.points.reduce((m, p) => m + p.value, 0), 0);
  return { volume: volume?.n, rollup: rollup?.n, times: rollup?.times, viewed };
}

const seenRow = (id: string) =>
  env.DB.prepare('SELECT counted FROM insights_seen WHERE message_id = ?').bind(id).first<{ counted: string }>();

/** D1 rows written under a meter stage of its own (the usage meter's counters of this isolate). */
function rowsWritten(stage: string): number {
  const rows = usage.drain();
  usage.restore(rows);
  return rows.filter((r) => r.stage === stage && r.unit === 'd1.rows_written').reduce((n, r) => n + r.n, 0);
}

describe('insights rollups under redelivery', { timeout: 60_000 }, () => {
  it('counts a redelivered batch once, and only the new events of a mixed one', async () => {
    const { id: sourceId } = await makeSource('insights-redelivery');
    const user = uniq('user');
    const batch = [
      msg(sourceId, T0 + 1000, { type: 'track', event: 'Viewed', userId: user, properties: { plan: 'pro' } }),
      msg(sourceId, T0 + 2000, { type: 'track', event: 'Viewed', userId: user, properties: { plan: 'pro' } }),
      msg(sourceId, T0 + 3000, { type: 'track', event: 'Bought', userId: user }),
      msg(sourceId, T0 + 4000, { type: 'track', event: 'Viewed', anonymousId: uniq('anon') }),
    ].map(queued);
    expect((await deliver(batch)).acked).toEqual(ids(batch));
    const first = await numbers(sourceId);
    expect(first).toEqual({ volume: 4, rollup: 4, times: 4, viewed: 3 });

    // The queue delivers the same messages again (an ack lost, a consumer that timed out).
    expect((await deliver(batch, 2)).acked).toEqual(ids(batch));
    expect(await numbers(sourceId)).toEqual(first);

    // Redelivered messages mixed with a new one in another batch: only the new one counts.
    const extra = queued(msg(sourceId, T0 + 5000, { type: 'track', event: 'Viewed', userId: user }));
    await deliver([batch[1], extra, batch[3]], 3);
    expect(await numbers(sourceId)).toEqual({ volume: 5, rollup: 5, times: 5, viewed: 4 });

    // The same messageId twice within one batch (a client retry: two queue messages) counts once.
    const twice = msg(sourceId, T0 + 6000, { type: 'track', event: 'Viewed', userId: user });
    const copies = [queued(twice), queued(twice)];
    await deliver(copies);
    expect((await numbers(sourceId)).viewed).toBe(5);
    // One row per queue message; the duplicate's is there too, so its redelivery counts nothing.
    for (const m of [...batch, extra, ...copies]) expect(await seenRow(m.id)).toEqual({ counted: '[0]' });
    await deliver([copies[1]], 2);
    expect((await numbers(sourceId)).viewed).toBe(5);

    // A client re-sends an event in a new request, after the first had been consumed: a new queue
    // message, in a batch of its own. Its profile had logged it; it counts nothing, and neither
    // does that message redelivered (its row records the event as handled).
    const resent = msg(sourceId, T0 + 7000, {
      type: 'track',
      event: 'Viewed',
      userId: user,
      properties: { plan: 'pro' },
    });
    await deliver([queued(resent)]);
    expect(await numbers(sourceId)).toEqual({ volume: 7, rollup: 7, times: 7, viewed: 6 });
    const again = queued(resent);
    expect((await deliver([again])).acked).toEqual([again.id]);
    expect(await seenRow(again.id)).toEqual({ counted: '[0]' });
    await deliver([again], 2);
    expect(await numbers(sourceId)).toEqual({ volume: 7, rollup: 7, times: 7, viewed: 6 });
  });

  it('counts a packed message redelivered (same id) once, and writes ≤ 0.2 D1 rows per event', async () => {
    const { id: sourceId } = await makeSource('insights-packed');
    const user = uniq('known');
    // A known user: the first track lists the profile; the directory then has nothing to write.
    await deliver([queued(msg(sourceId, T0, { type: 'track', event: 'Warm', userId: user }))]);
    const pack = queued({
      packed: Array.from({ length: 20 }, (_, i) =>
        msg(sourceId, T0 + 1000 * (i + 1), { type: 'track', event: 'Viewed', userId: user, properties: { p: 1 } }),
      ),
    });
    const stage = uniq('insights-cost');
    const metered = { ...env, DB: new MeteredD1(env.DB, stage) as unknown as D1Database };
    expect((await deliver([pack], 1, metered)).acked).toEqual([pack.id]);
    // Each row written is billed: a volume row, a rollup row and the message's one row, for 20 events.
    const written = rowsWritten(stage);
    expect(written).toBeGreaterThan(0);
    expect(written / 20).toBeLessThanOrEqual(0.2);
    expect(await numbers(sourceId)).toEqual({ volume: 21, rollup: 21, times: 21, viewed: 20 });
    expect(await seenRow(pack.id)).toEqual({ counted: JSON.stringify([...Array(20).keys()]) });

    // Redelivered twice, alone and with a new message: nothing of the pack counts again.
    expect((await deliver([pack], 2, metered)).acked).toEqual([pack.id]);
    expect(rowsWritten(stage)).toBe(written); // a redelivery finds everything counted: no write
    const extra = queued(msg(sourceId, T0 + 30_000, { type: 'track', event: 'Viewed', userId: user }));
    await deliver([pack, extra], 3);
    expect(await numbers(sourceId)).toEqual({ volume: 22, rollup: 22, times: 22, viewed: 21 });
  });

  it('counts the siblings of an event whose directory write fails once, and that event once it succeeds', async () => {
    const { id: sourceId } = await makeSource('insights-directory-fault');
    const known = uniq('known');
    const failing = uniq('dirfault');
    await deliver([queued(msg(sourceId, T0, { type: 'track', event: 'Warm', userId: known }))]);
    // A real fault in the real D1: the directory refuses this one profile's row (full and lean).
    const trigger = `insights_test_${failing.replace(/\W/g, '_')}`;
    await env.DB.exec(
      `CREATE TRIGGER ${trigger} BEFORE INSERT ON profile_directory WHEN NEW.identifiers LIKE '%${failing}%' BEGIN SELECT RAISE(ABORT, 'injected directory fault'); END`,
    );
    const pack = queued({
      packed: [
        msg(sourceId, T0 + 1000, { type: 'track', event: 'Viewed', userId: known }),
        msg(sourceId, T0 + 2000, { type: 'track', event: 'Viewed', userId: failing }),
        msg(sourceId, T0 + 3000, { type: 'track', event: 'Viewed', userId: known }),
      ],
    });
    let outcome: Awaited<ReturnType<typeof deliver>>;
    try {
      outcome = await deliver([pack]);
    } finally {
      await env.DB.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
    }
    // The pack is acked once its failed event is on the queue again, as a message of its own.
    expect(outcome).toEqual({ acked: [pack.id], retried: [] });
    expect((await numbers(sourceId)).viewed).toBe(2);
    // Its row holds the siblings counted and the event handed over to the new message.
    expect(await seenRow(pack.id)).toEqual({ counted: '[0,1,2]' });

    // The queue delivers the re-sent event (a new message id); now its directory write succeeds.
    await eventually(async () => ((await numbers(sourceId)).viewed === 3 ? true : undefined), 30_000);
    // The original pack delivered again (its ack lost) counts nothing: not even the re-sent event.
    await deliver([pack], 2);
    await new Promise((r) => setTimeout(r, 500));
    expect(await numbers(sourceId)).toEqual({ volume: 4, rollup: 4, times: 4, viewed: 3 });
  });
});
