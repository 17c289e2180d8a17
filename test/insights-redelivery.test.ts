// A queue redelivery must not count an event twice in the insights rollups: the same ingest batch
// delivered again through the real consumer leaves volume, rollups and query answers unchanged,
// and a later batch that mixes redelivered events with new ones counts only the new ones.
import { describe, expect, it } from 'vitest';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';
import { consumeDirectly } from './identity-model';
import { ADMIN, env, makeSource, SELF, uniq } from './kit/workers';

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

async function numbers(sourceId: string) {
  const volume = await env.DB.prepare('SELECT COALESCE(SUM(count), 0) AS n FROM insights_volume WHERE source_id = ?')
    .bind(sourceId)
    .first<{ n: number }>();
  const rollup = await env.DB.prepare(
    'SELECT COALESCE(SUM(count), 0) AS n, COALESCE(SUM(json_array_length(times)), 0) AS times FROM insights_rollup WHERE source_id = ?',
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

describe('insights rollups under redelivery', { timeout: 60_000 }, () => {
  it('counts a redelivered batch once, and only the new events of a mixed one', async () => {
    const { id: sourceId } = await makeSource('insights-redelivery');
    const user = uniq('user');
    const batch = [
      msg(sourceId, T0 + 1000, { type: 'track', event: 'Viewed', userId: user, properties: { plan: 'pro' } }),
      msg(sourceId, T0 + 2000, { type: 'track', event: 'Viewed', userId: user, properties: { plan: 'pro' } }),
      msg(sourceId, T0 + 3000, { type: 'track', event: 'Bought', userId: user }),
      msg(sourceId, T0 + 4000, { type: 'track', event: 'Viewed', anonymousId: uniq('anon') }),
    ];
    expect(await consumeDirectly(batch)).toEqual([]);
    const first = await numbers(sourceId);
    expect(first).toEqual({ volume: 4, rollup: 4, times: 4, viewed: 3 });

    // The queue delivers the same messages again (an ack lost, a consumer that timed out).
    expect(await consumeDirectly(batch, 2)).toEqual([]);
    expect(await numbers(sourceId)).toEqual(first);

    // Redelivered events mixed with a new one in another batch: only the new one counts.
    const extra = msg(sourceId, T0 + 5000, { type: 'track', event: 'Viewed', userId: user });
    expect(await consumeDirectly([batch[1], extra, batch[3]], 3)).toEqual([]);
    expect(await numbers(sourceId)).toEqual({ volume: 5, rollup: 5, times: 5, viewed: 4 });

    // The same messageId twice within one batch (a client retry) counts once too.
    const twice = msg(sourceId, T0 + 6000, { type: 'track', event: 'Viewed', userId: user });
    expect(await consumeDirectly([twice, twice])).toEqual([]);
    expect((await numbers(sourceId)).viewed).toBe(5);

    // One key row per counted event.
    const keys = await env.DB.prepare('SELECT COUNT(*) AS n FROM insights_seen').first<{ n: number }>();
    expect(keys?.n).toBeGreaterThanOrEqual(6);
  });
});
