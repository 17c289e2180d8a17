// Insights end to end in workerd: events go through the real ingest consumer (identity, profiles,
// directory and rollups in D1), then the API answers trends, funnels and retention over unified
// profiles, so an anonymous visitor who logs in mid-funnel is one user.
import { describe, expect, it } from 'vitest';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';
import { consumeDirectly } from './identity-model';
import { ADMIN, env, makeSource, SELF, uniq } from './kit/workers';

const DAY = 86_400_000;
const T0 = Date.parse('2026-05-04T00:00:00.000Z'); // a Monday

function msg(sourceId: string, at: number, event: Record<string, unknown>): IngestMessage {
  const ts = new Date(at).toISOString();
  return {
    sourceId,
    event: {
      messageId: uniq('m'),
      timestamp: ts,
      receivedAt: ts,
      originalTimestamp: ts,
      context: {},
      ...event,
    } as EnrichedEvent,
  };
}

const ask = async <T>(path: string, body: unknown, headers: Record<string, string> = ADMIN) => {
  const res = await SELF.fetch(`http://tessera.test/api/insights/${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
};

describe('insights API over rollups', { timeout: 60_000 }, () => {
  it('counts a funnel begun anonymously and finished logged in as one user; trends and retention agree', async () => {
    const { id: sourceId } = await makeSource('insights');
    const anon = uniq('anon');
    const user = uniq('user');
    const other = uniq('other');
    const e = (at: number, x: Record<string, unknown>) => msg(sourceId, at, x);
    // Batch 1: an anonymous visitor views and adds to cart; another person only views.
    expect(
      await consumeDirectly([
        e(T0 + 1000, { type: 'track', event: 'Viewed', anonymousId: anon, properties: { plan: 'pro' } }),
        e(T0 + 2000, { type: 'track', event: 'Added', anonymousId: anon }),
        e(T0 + 3000, { type: 'track', event: 'Viewed', userId: other, properties: { plan: 'free' } }),
      ]),
    ).toEqual([]);
    // Batch 2: they log in (the anonymous profile merges into the known one), buy, and come back a day later.
    expect(
      await consumeDirectly([
        e(T0 + 60_000, { type: 'identify', userId: user, anonymousId: anon, traits: { plan: 'pro' } }),
        e(T0 + 120_000, { type: 'track', event: 'Bought', userId: user, properties: { total: 30 } }),
        e(T0 + DAY + 5000, { type: 'track', event: 'Viewed', userId: user, properties: { plan: 'pro' } }),
      ]),
    ).toEqual([]);
    const range = { from: new Date(T0).toISOString(), to: new Date(T0 + 7 * DAY).toISOString(), sourceId };

    const f = await ask<{ steps: { users: number; medianSecondsFromPrevious: number | null }[] }>('funnel', {
      steps: [{ event: 'Viewed' }, { event: 'Added' }, { event: 'Bought', where: 'properties.total > 10' }],
      within: '1d',
      ...range,
    });
    expect(f.status).toBe(200);
    expect(f.body.steps.map((s) => s.users)).toEqual([2, 1, 1]);
    expect(f.body.steps[2].medianSecondsFromPrevious).toBe(118);

    const t = await ask<{ series: { key: string; points: { t: string; value: number }[] }[] }>('trends', {
      event: 'Viewed',
      interval: 'day',
      measure: 'users',
      breakdown: 'properties.plan',
      ...range,
    });
    expect(t.status).toBe(200);
    const byKey = Object.fromEntries(t.body.series.map((s) => [s.key, s.points.slice(0, 2).map((p) => p.value)]));
    expect(byKey).toEqual({ pro: [1, 1], free: [1, 0] });

    const r = await ask<{
      cohorts: { start: string; users: number; returned: { interval: number; users: number }[] }[];
    }>('retention', { startEvent: 'Viewed', returnEvent: 'Viewed', interval: 'day', ...range });
    expect(r.body.cohorts[0]).toMatchObject({ start: new Date(T0).toISOString(), users: 2 });
    expect(r.body.cohorts[0].returned[0]).toEqual({ interval: 1, users: 1, share: 0.5 });

    // The rollups aggregated: one row per (event, hour, profile, source), not one per event.
    const rows = await env.DB.prepare('SELECT COUNT(*) AS n FROM insights_rollup WHERE source_id = ?')
      .bind(sourceId)
      .first<{ n: number }>();
    expect(rows?.n).toBe(6);
    const ov = await SELF.fetch('http://tessera.test/api/insights/overview?hours=168', { headers: ADMIN });
    expect(ov.status).toBe(200);
  });

  it('refuses malformed queries with a 400 that says why, and saves reports', async () => {
    const bad = await ask<{ error: { code: string; message: string } }>('trends', {
      event: 'x',
      from: '2026-01-02T00:00:00Z',
      to: '2026-01-01T00:00:00Z',
      interval: 'day',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('before');
    const fql = await ask<{ error: { message: string } }>('trends', {
      event: 'x',
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-02T00:00:00Z',
      interval: 'day',
      where: 'properties.a ==',
    });
    expect(fql.status).toBe(400);
    const query = { event: 'Viewed', from: '2026-01-01T00:00:00Z', to: '2026-01-08T00:00:00Z', interval: 'day' };
    const saved = await SELF.fetch('http://tessera.test/api/insights/reports', {
      method: 'POST',
      headers: ADMIN,
      body: JSON.stringify({ name: 'Views', kind: 'trends', query }),
    });
    expect(saved.status).toBe(201);
    const refused = await SELF.fetch('http://tessera.test/api/insights/reports', {
      method: 'POST',
      headers: ADMIN,
      body: JSON.stringify({ name: 'Bad', kind: 'funnel', query }),
    });
    expect(refused.status).toBe(400);
    const list = (await (await SELF.fetch('http://tessera.test/api/insights/reports', { headers: ADMIN })).json()) as {
      data: { name: string; dashboard: boolean }[];
    };
    expect(list.data.find((r) => r.name === 'Views')).toMatchObject({ dashboard: true });
  });
});
