import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/index';
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

interface Report {
  events: number;
  total: { units: Record<string, number>; details: Record<string, Record<string, number>>; dollars: number };
  groups: { key: string; units: Record<string, number>; details: Record<string, Record<string, number>> }[];
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
