import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/index';
import { type UsageRow, usage } from '../src/usage/counters';
import { flushUsage, writeUsage } from '../src/usage/flush';
import { LIST_PRICES_PER_MILLION } from '../src/usage/prices';
import './settle';
import {
  ADMIN,
  admin,
  basic,
  debuggerUntil,
  eventually,
  makeSource,
  post,
  profileObject,
  SELF,
  uniq,
} from './kit/workers';

interface Group {
  key: string;
  events: number;
  units: Record<string, number>;
  details: Record<string, Record<string, number>>;
  per1000Events: Record<string, number>;
  dollars: number;
}

interface Report {
  events: number;
  total: Group;
  groups: Group[];
}

async function usageNow(groupBy = 'stage'): Promise<Report> {
  const flushed = await SELF.fetch('http://x/api/usage/flush', { method: 'POST', headers: ADMIN });
  expect(flushed.status).toBe(204);
  const res = await SELF.fetch(`http://x/api/usage?groupBy=${groupBy}`, { headers: ADMIN });
  expect(res.status).toBe(200);
  return res.json();
}

/** What a workload added: every unit of `after` minus `before`, per stage and detail. */
function diff(before: Report, after: Report) {
  const stage = (r: Report, key: string) => r.groups.find((g) => g.key === key);
  const unit = (stageKey: string, u: string, detail?: string) => {
    const pick = (r: Report) => {
      const g = stage(r, stageKey);
      return (detail ? g?.details[u]?.[detail] : g?.units[u]) ?? 0;
    };
    return Math.round((pick(after) - pick(before)) * 100) / 100;
  };
  return { events: after.events - before.events, unit };
}

function profileIdOf(userId: string): Promise<string> {
  return eventually(
    async () => {
      const rows = (await admin<{ data: { id: string }[] }>(`/api/profiles?q=${encodeURIComponent(userId)}`)).data;
      return rows.length ? rows[0].id : undefined;
    },
    { interval: 20, message: 'profile listed' },
  );
}

/** The Profile object's own measure of its last apply (SqlMeter over the transaction), and its event count. */
const lastApply = (profileId: string) =>
  runInDurableObject(profileObject(profileId), (instance: Profile, state) => ({
    cost: instance.lastApplyCost,
    events: state.storage.sql.exec<{ n: number }>('SELECT event_count AS n FROM meta').one().n,
  }));

describe('usage meter', () => {
  it("counts a known user's tracks as the pipeline's own instruments count them", { timeout: 30_000 }, async () => {
    const source = await makeSource('Meter');
    const userId = uniq('meter-user');
    const auth = { authorization: basic(source.writeKey) };
    expect((await post('/v1/identify', { userId, traits: { plan: 'pro' } }, auth)).status).toBe(200);
    const profileId = await profileIdOf(userId);
    await new Promise((r) => setTimeout(r, 300)); // the identify's batch settles (acks, directory)
    await debuggerUntil(source.id, (entries) => entries.length === 1); // and the tap holds its entry

    const before = await usageNow();
    const N = 5;
    let rowsWritten = 0;
    let rowsRead = 0;
    for (let i = 1; i <= N; i++) {
      // One request at a time, each waited for, so the profile's last-apply measure sees every apply.
      expect((await post('/v1/track', { userId, event: 'Metered', properties: { i } }, auth)).status).toBe(200);
      const seen = await eventually(
        async () => {
          const s = await lastApply(profileId);
          return s.events >= i + 1 ? s : undefined;
        },
        { interval: 20, message: `apply ${i} seen by the profile` },
      );
      expect(seen.events).toBe(i + 1);
      rowsWritten += seen.cost?.rowsWritten ?? 0;
      rowsRead += seen.cost?.rowsRead ?? 0;
    }
    await debuggerUntil(source.id, (entries) => entries.filter((e) => e.event.event === 'Metered').length === N);
    await new Promise((r) => setTimeout(r, 300));
    const after = await usageNow();
    const d = diff(before, after);

    expect(d.events).toBe(N);
    // The Tracking API: one invocation per request; each event one message on the ingest queue.
    expect(d.unit('ingest', 'worker.invocations', 'fetch')).toBe(N);
    expect(d.unit('ingest', 'queue.messages', 'tessera-ingest')).toBe(N);
    // Every message written was read once and deleted once by the consumer (nothing retried).
    expect(d.unit('ingest', 'queue.ops', 'tessera-ingest')).toBe(N);
    expect(d.unit('ingest-consumer', 'queue.ops', 'tessera-ingest')).toBe(2 * N);
    expect(d.unit('ingest-consumer', 'worker.invocations')).toBeGreaterThanOrEqual(1);
    // The Profile object: one apply request per event, and exactly the rows its own meter measured
    // for those applies' transactions: it hands the deliveries back, so no outbox row is written
    // or deleted, and no retry alarm is armed.
    const profileRequests = d.unit('ingest-consumer', 'do.requests', 'Profile');
    expect(profileRequests).toBe(N);
    expect(d.unit('Profile', 'do.rows_written', 'Profile')).toBe(rowsWritten);
    const alarm = await runInDurableObject(profileObject(profileId), (_i: Profile, state) => state.storage.getAlarm());
    expect(alarm === null || alarm > Date.now() + 86_400_000).toBe(true); // retention only, days away
    // The consumer sends each batch's deliveries as one message (each track is its own batch here).
    expect(d.unit('ingest-consumer', 'queue.messages', 'tessera-delivery')).toBe(N);
    expect(d.unit('Profile', 'queue.messages', 'tessera-delivery')).toBe(0);
    expect(d.unit('Profile', 'do.rows_read', 'Profile')).toBeGreaterThanOrEqual(rowsRead);
    // Tracks change nothing the directory lists (identifiers, traits), so the directory writes no D1
    // row; the insights rollups write one volume row and one rollup row per queue batch (each track
    // is its own batch here; a batch writes one rollup row per profile, event and hour), and one row per
    // queue message that keeps a redelivery from counting it again (src/insights/seen.ts): each
    // track here is its own message, so 3 rows an event (a 20-event /v1/batch shares one row).
    expect(d.unit('ingest-consumer', 'd1.rows_written')).toBe(3 * N);
    // The debugger tap: the isolate hands entries over at most every TAP_HANDOVER_MS, one request
    // and one row (the ring) per handover, never more than one per Tracking API request; looking
    // writes nothing.
    const handovers = d.unit('ingest', 'do.requests', 'LiveTap');
    expect(handovers).toBeGreaterThanOrEqual(1);
    expect(handovers).toBeLessThanOrEqual(N);
    expect(d.unit('admin', 'do.requests', 'LiveTap')).toBeGreaterThanOrEqual(1);
    expect(d.unit('LiveTap', 'do.rows_written', 'LiveTap')).toBe(handovers);
    // The meter's own cost: every flush in between is one query writing one row (two if it spans
    // an hour), however many counters it carried.
    const flushes = d.unit('meter', 'd1.queries');
    expect(flushes).toBeGreaterThanOrEqual(1);
    expect(d.unit('meter', 'd1.rows_written')).toBeGreaterThanOrEqual(flushes);
    expect(d.unit('meter', 'd1.rows_written')).toBeLessThanOrEqual(flushes + 1);
  });

  it('prices what it counted and answers 4xx to a bad range', async () => {
    const report = await usageNow();
    expect(report.total.dollars).toBeGreaterThanOrEqual(0);
    const bad = await SELF.fetch('http://x/api/usage?from=yesterday', { headers: ADMIN });
    expect(bad.status).toBe(400);
    const group = await SELF.fetch('http://x/api/usage?groupBy=planet', { headers: ADMIN });
    expect(group.status).toBe(400);
    const bySource = await usageNow('source');
    expect(bySource.groups.every((g) => typeof g.key === 'string')).toBe(true);
  });
});

const HOUR = 3_600_000;

/** Counters of a made-up flush in `hour`: `stages` stages × every unit below × two details, and events per source. */
function flushRows(hour: number, seed: number, stages: string[], sources: string[]): UsageRow[] {
  const rows: UsageRow[] = [];
  for (const stage of stages)
    for (const unit of ['do.requests', 'd1.rows_written', 'queue.ops'] as const)
      for (const detail of ['', 'Profile'])
        rows.push({ hour, stage, source: '*', unit, detail, n: seed + rows.length });
  sources.forEach((source, i) => {
    rows.push({ hour, stage: 'ingest', source, unit: 'events', detail: '', n: 10 * seed + i });
  });
  return rows;
}

/** The report over [from, to) hours, as the API answers it. */
async function usageOver(fromHour: number, toHour: number, groupBy = 'stage'): Promise<Report> {
  const res = await SELF.fetch(`http://x/api/usage?from=${fromHour * HOUR}&to=${toHour * HOUR}&groupBy=${groupBy}`, {
    headers: ADMIN,
  });
  expect(res.status).toBe(200);
  return res.json();
}

/** What the report must say, summed here from the rows themselves. */
function expected(rows: UsageRow[]) {
  const events = rows.filter((r) => r.unit === 'events').reduce((a, r) => a + r.n, 0);
  const stages = new Map<string, { units: Record<string, number>; details: Record<string, Record<string, number>> }>();
  for (const r of rows) {
    const g = stages.get(r.stage) ?? { units: {}, details: {} };
    stages.set(r.stage, g);
    if (r.unit === 'events') continue;
    g.units[r.unit] = (g.units[r.unit] ?? 0) + r.n;
    if (r.detail) {
      g.details[r.unit] ??= {};
      g.details[r.unit][r.detail] = (g.details[r.unit][r.detail] ?? 0) + r.n;
    }
  }
  return { events, stages };
}

const rowsInHours = async (from: number, to: number) =>
  (
    await env.DB.prepare('SELECT count(*) AS n FROM usage_hours WHERE hour >= ? AND hour < ?')
      .bind(from, to)
      .first<{ n: number }>()
  )?.n;

/**
 * The flush of the version before migration 0019, verbatim: what an isolate still running it
 * during the deploy writes, into usage_counters, after the migration ran.
 */
const oldFlush = (rows: UsageRow[]) =>
  env.DB.prepare(
    `INSERT INTO usage_counters (hour, stage, source, unit, detail, n)
       SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
              json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]')
       FROM json_each(?) WHERE true
       ON CONFLICT (hour, stage, source, unit, detail) DO UPDATE SET n = n + excluded.n`,
  )
    .bind(JSON.stringify(rows.map((r) => [r.hour, r.stage, r.source, r.unit, r.detail, r.n])))
    .run();

describe("the usage meter's own writes", () => {
  // Hours of 1970, far from the hour the meter itself counts in now.
  const H = 100;

  it('writes one row per flush and hour, and concurrent flushes add up exactly', async () => {
    const stages = ['ingest', 'ingest-consumer', 'Profile', 'delivery-consumer', 'admin'];
    const first = flushRows(H, 1, stages, ['src-a', 'src-b']);
    expect(first.length).toBeGreaterThan(30);
    const written = await writeUsage(env.DB, first);
    expect(written.meta.rows_written).toBe(1);
    expect(await rowsInHours(H, H + 1)).toBe(1);

    // Two isolates flushing at once, with counters in common and their own.
    const a = flushRows(H, 2, stages, ['src-a', 'src-c']);
    const b = flushRows(H, 3, ['ingest', 'outbound'], ['src-b']);
    const both = await Promise.all([writeUsage(env.DB, a), writeUsage(env.DB, b)]);
    expect(both.map((r) => r.meta.rows_written)).toEqual([1, 1]);
    // A flush that spans an hour writes that hour's row too.
    const spanning = [...flushRows(H, 4, ['ingest'], []), ...flushRows(H + 1, 5, ['Profile'], ['src-a'])];
    expect((await writeUsage(env.DB, spanning)).meta.rows_written).toBe(2);
    expect(await rowsInHours(H, H + 2)).toBe(2);

    const all = [...first, ...a, ...b, ...spanning];
    const want = expected(all);
    const report = await usageOver(H, H + 2);
    expect(report.events).toBe(want.events);
    expect(report.groups.map((g) => g.key).sort()).toEqual([...want.stages.keys()].sort());
    for (const [stage, g] of want.stages) {
      const got = report.groups.find((x) => x.key === stage);
      expect({ stage, units: got?.units, details: got?.details }).toEqual({ stage, ...g });
      const perEvent = Object.fromEntries(
        Object.entries(g.units).map(([u, n]) => [u, Number(((n / want.events) * 1000).toFixed(2))]),
      );
      expect(got?.per1000Events).toEqual(perEvent);
      const dollars = Object.entries(g.units).reduce(
        (sum, [u, n]) => sum + (n * LIST_PRICES_PER_MILLION[u as keyof typeof LIST_PRICES_PER_MILLION]) / 1e6,
        0,
      );
      expect(got?.dollars).toBeCloseTo(dollars, 6);
    }
    // One hour alone holds only its own counters.
    expect((await usageOver(H + 1, H + 2)).events).toBe(expected(spanning.filter((r) => r.hour === H + 1)).events);
    // By source: each source's own events.
    const bySource = await usageOver(H, H + 2, 'source');
    for (const source of ['src-a', 'src-b', 'src-c'])
      expect(bySource.groups.find((g) => g.key === source)?.events).toBe(
        all.filter((r) => r.unit === 'events' && r.source === source).reduce((s, r) => s + r.n, 0),
      );
  });

  it('folds usage_counters in once at migration 0019, then counts what an old isolate writes there once', async () => {
    const fold = env.TEST_MIGRATIONS.find((m) => m.name.startsWith('0019_'));
    const copy = fold?.queries.filter((q) => !q.includes('CREATE TABLE'));
    expect(copy).toHaveLength(2); // the copy, then the delete
    expect(fold?.queries.some((q) => /DROP\s+TABLE/i.test(q))).toBe(false);
    const oldRows = async () =>
      (await env.DB.prepare('SELECT count(*) AS n FROM usage_counters').first<{ n: number }>())?.n;
    // usage_counters with rows in it, as the version before 0019 left it, then 0019's copy and
    // delete in one batch, as wrangler applies a migration file.
    const before = flushRows(H + 10, 7, ['ingest', 'Profile'], ['src-old']);
    await oldFlush(before);
    expect(await oldRows()).toBe(before.length);
    await env.DB.batch((copy ?? []).map((q) => env.DB.prepare(q)));
    expect(await rowsInHours(H + 10, H + 11)).toBe(1);
    expect(await oldRows()).toBe(0);

    // During the deploy: an isolate still on the old version flushes into usage_counters (one
    // hour of it in the range, one after it), a new one into usage_hours, under shared keys.
    const late = [
      ...flushRows(H + 10, 8, ['ingest', 'delivery-consumer'], ['src-old', 'src-late']),
      ...flushRows(H + 11, 9, ['Profile'], ['src-late']),
    ];
    const outside = flushRows(H + 12, 11, ['ingest'], ['src-late']);
    const fresh = flushRows(H + 10, 10, ['ingest', 'Profile'], ['src-old']);
    await oldFlush([...late, ...outside]);
    await writeUsage(env.DB, fresh);
    expect(await oldRows()).toBe(late.length + outside.length);
    expect(await rowsInHours(H + 10, H + 13)).toBe(1);

    // Every count exactly once: what was folded in, what the old isolate wrote late, the new flush.
    const all = [...before, ...late, ...fresh];
    const want = expected(all);
    const report = await usageOver(H + 10, H + 12);
    expect(report.events).toBe(want.events);
    expect(report.groups.map((g) => g.key).sort()).toEqual([...want.stages.keys()].sort());
    for (const [stage, g] of want.stages) {
      const got = report.groups.find((x) => x.key === stage);
      expect({ stage, units: got?.units, details: got?.details }).toEqual({ stage, ...g });
    }
    const bySource = await usageOver(H + 10, H + 12, 'source');
    for (const source of ['src-old', 'src-late'])
      expect(bySource.groups.find((g) => g.key === source)?.events).toBe(
        all.filter((r) => r.unit === 'events' && r.source === source).reduce((sum, r) => sum + r.n, 0),
      );
    // The range bounds usage_counters too: the hour after holds only the late rows written for it.
    expect((await usageOver(H + 12, H + 13)).events).toBe(expected(outside).events);
    expect((await usageOver(H + 11, H + 12)).events).toBe(expected(late.filter((r) => r.hour === H + 11)).events);
  });

  it('puts the counters back when the write fails', async () => {
    usage.add({ stage: 'meter-test', unit: 'd1.queries', detail: 'failing' }, 3);
    const failing = {
      prepare: () => ({ bind: () => ({ run: () => Promise.reject(new Error('D1 unavailable')) }) }),
    } as unknown as D1Database;
    expect(await flushUsage(failing)).toBe(false); // and says so (POST /api/usage/flush answers 503)
    const kept = usage.drain();
    usage.restore(kept);
    expect(kept.filter((r) => r.stage === 'meter-test')).toEqual([
      expect.objectContaining({ unit: 'd1.queries', detail: 'failing', n: 3 }),
    ]);
    // And the next flush that succeeds writes them.
    const hour = Math.floor(Date.now() / HOUR);
    expect(await flushUsage(env.DB)).toBe(true);
    const report = await usageOver(hour, hour + 1);
    expect(report.groups.find((g) => g.key === 'meter-test')?.details['d1.queries']?.failing).toBeGreaterThanOrEqual(3);
  });
});
