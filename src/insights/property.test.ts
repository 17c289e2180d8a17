import { describe, expect, it } from 'vitest';
import { prng, type Rng } from '../lib/prng';
import { funnel, retention, trends, unifier } from './compute';
import { FunnelQuery, RetentionQuery, TrendsQuery } from './queries';
import { type RawEvent, referenceFunnel, referenceRetention, referenceTrends, referenceUsers } from './reference';
import { buildRollups, OVERFLOW_DIMS, type RollupRow, type StoredRollup, storeRollups, variantRows } from './rollup';

const T0 = Date.parse('2026-03-02T00:00:00.000Z'); // a Monday
const DAY = 86_400_000;
const NAMES = ['Viewed', 'Added', 'Bought'];
const WHERES = [undefined, 'properties.total > 20', "properties.plan = 'pro'", "context.locale = 'fr'"];
const BREAKDOWNS = [undefined, 'properties.plan', 'context.locale', 'properties.total'];

function randomEvents(r: Rng, profiles: string[]): RawEvent[] {
  const used = new Set<number>();
  return Array.from({ length: r.int(20, 160) }, () => {
    let t = T0 + r.int(0, 20 * DAY);
    while (used.has(t)) t++;
    used.add(t);
    const page = r.chance(0.15);
    const properties: Record<string, unknown> = {};
    if (r.chance(0.8)) properties.total = r.pick([5, 10, 25, 50]);
    if (r.chance(0.7)) properties.plan = r.pick(['pro', 'free']);
    return {
      t,
      profileId: r.pick(profiles),
      sourceId: r.pick(['s1', 's2']),
      type: page ? 'page' : 'track',
      event: page ? undefined : r.pick(NAMES),
      properties,
      context: r.chance(0.6) ? { locale: r.pick(['fr', 'en']), ip: `10.0.0.${r.int(1, 9)}` } : {},
    };
  });
}

/** Merges between profiles still live at the time, the larger id into the smaller, as identity does. */
function randomMerges(r: Rng, profiles: string[]): [string, string][] {
  const pointer = new Map<string, string>();
  const live = () => profiles.filter((p) => !pointer.has(p));
  for (let i = r.int(0, 5); i > 0; i--) {
    const l = live();
    if (l.length < 2) break;
    const a = r.pick(l);
    const b = r.pick(l.filter((p) => p !== a));
    const [survivor, loser] = a < b ? [a, b] : [b, a];
    pointer.set(loser, survivor);
  }
  return [...pointer.entries()];
}

/** Rollup rows as D1 keeps them after several batches (merged as record.ts's upsert merges), flattened. */
function rollupsOf(r: Rng, events: RawEvent[], maxBytes?: number): RollupRow[] {
  const rows = new Map<string, StoredRollup>();
  let at = 0;
  while (at < events.length) {
    const size = r.int(1, 40);
    const batch = events.slice(at, at + size).map((e) => ({
      sourceId: e.sourceId,
      profileId: e.profileId,
      event: { ...e, timestamp: new Date(e.t).toISOString() },
    }));
    at += size;
    storeRollups(rows, buildRollups(batch, maxBytes).rollup, maxBytes);
  }
  return variantRows([...rows.values()]);
}

const range = (r: Rng) => {
  const from = T0 + r.int(-2, 8) * DAY + r.pick([0, 0, 3_600_000 * 5 + 1234]);
  const to = from + r.int(1, 16) * DAY + r.pick([0, 1_800_000]);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
};

const median = (xs: number[]) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function world(seed: number) {
  const r = prng(seed);
  const profiles = Array.from({ length: r.int(2, 14) }, (_, i) => `p${String(i).padStart(2, '0')}`);
  const events = randomEvents(r, profiles);
  const merges = randomMerges(r, profiles);
  return { r, events, merges, rows: rollupsOf(r, events) };
}

describe('insights equal a brute-force reference over raw events', () => {
  it.each(Array.from({ length: 60 }, (_, i) => i + 1))('trends, seed %i', (seed) => {
    const { r, events, merges, rows } = world(seed);
    for (let n = 0; n < 6; n++) {
      const q = TrendsQuery.parse({
        event: r.pick([...NAMES, '$page']),
        ...range(r),
        interval: r.pick(['hour', 'day', 'week']),
        measure: r.pick(['events', 'users']),
        breakdown: r.pick(BREAKDOWNS),
        where: r.pick(WHERES),
        sourceId: r.pick([undefined, 's1']),
      });
      const got = trends(rows, q, unifier(new Map(merges)));
      const want = referenceTrends(events, q, referenceUsers(merges));
      const nonZero = (points: { value: number }[]) => points.some((p) => p.value > 0);
      const gotMap = new Map(got.series.filter((s) => nonZero(s.points)).map((s) => [s.key, s.points]));
      expect(gotMap, JSON.stringify(q)).toEqual(new Map([...want].filter(([, p]) => nonZero(p))));
    }
  });

  it.each(Array.from({ length: 60 }, (_, i) => i + 1))('funnels, seed %i', (seed) => {
    const { r, events, merges, rows } = world(seed);
    for (let n = 0; n < 6; n++) {
      const q = FunnelQuery.parse({
        steps: Array.from({ length: r.int(2, 4) }, () => ({ event: r.pick(NAMES), where: r.pick(WHERES) })),
        within: r.pick(['1h', '2d', '7d', '30m']),
        ...range(r),
        breakdown: r.pick(BREAKDOWNS),
      });
      const got = funnel(rows, q, unifier(new Map(merges)));
      const want = referenceFunnel(events, q, referenceUsers(merges));
      const stepsOf = (chains: number[][]) =>
        q.steps.map((_, i) => ({
          users: chains.filter((c) => c.length > i).length,
          median: i ? median(chains.filter((c) => c.length > i).map((c) => (c[i] - c[i - 1]) / 1000)) : null,
        }));
      const simple = (steps: { users: number; medianSecondsFromPrevious: number | null }[]) =>
        steps.map((s) => ({ users: s.users, median: s.medianSecondsFromPrevious }));
      expect(simple(got.steps), JSON.stringify(q)).toEqual(stepsOf(want.map((w) => w.times)));
      if (q.breakdown) {
        const keys = [...new Set(want.map((w) => w.key))];
        const byKey = new Map(got.breakdowns?.map((b) => [b.key, simple(b.steps)]));
        expect(byKey).toEqual(
          new Map(keys.map((k) => [k, stepsOf(want.filter((w) => w.key === k).map((w) => w.times))])),
        );
      }
    }
  });

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('retention, seed %i', (seed) => {
    const { r, events, merges, rows } = world(seed);
    for (let n = 0; n < 4; n++) {
      const q = RetentionQuery.parse({
        startEvent: r.pick(NAMES),
        returnEvent: r.pick([...NAMES, '$page']),
        interval: r.pick(['day', 'week']),
        ...range(r),
      });
      const got = retention(rows, q, unifier(new Map(merges)));
      const want = referenceRetention(events, q, referenceUsers(merges));
      expect(
        got.cohorts.map((c) => [c.start, c.users]),
        JSON.stringify(q),
      ).toEqual(
        [...want.entries()].sort((a, b) => a[0] - b[0]).map(([c, v]) => [new Date(c).toISOString(), v.users.size]),
      );
      for (const c of got.cohorts) {
        const w = want.get(Date.parse(c.start))!;
        for (const k of c.returned) expect(k.users).toBe(w.returned.get(k.interval)?.size ?? 0);
        expect(Math.max(0, ...w.returned.keys())).toBeLessThanOrEqual(c.returned.length);
      }
    }
  });

  // Past a row's byte cap variants lose their dimensions (one overflow variant), never counts or
  // times: with a cap of about two variants a row, everything not filtered or broken down by a
  // property stays exact.
  it.each(Array.from({ length: 30 }, (_, i) => i + 1))('counts past the row cap, seed %i', (seed) => {
    const r = prng(seed);
    const profiles = Array.from({ length: r.int(2, 6) }, (_, i) => `p${i}`);
    // Six hours of events (distinct times), so rows of an hour hold several variants.
    const used = new Set<number>();
    const events = randomEvents(r, profiles).map((e) => {
      let t = T0 + DAY + ((e.t - T0) % (6 * 3_600_000));
      while (used.has(t)) t++;
      used.add(t);
      return { ...e, t };
    });
    const merges = randomMerges(r, profiles);
    const rows = rollupsOf(r, events, 100);
    expect(rows.some((x) => x.dims === OVERFLOW_DIMS)).toBe(true);
    for (let n = 0; n < 4; n++) {
      const t = TrendsQuery.parse({
        event: r.pick([...NAMES, '$page']),
        ...range(r),
        interval: r.pick(['hour', 'day', 'week']),
        measure: r.pick(['events', 'users']),
      });
      const nonZero = (points: { value: number }[]) => points.some((p) => p.value > 0);
      const got = trends(rows, t, unifier(new Map(merges))).series.filter((x) => nonZero(x.points));
      const want = [...referenceTrends(events, t, referenceUsers(merges))].filter(([, p]) => nonZero(p));
      expect(new Map(got.map((x) => [x.key, x.points])), JSON.stringify(t)).toEqual(new Map(want));
      const f = FunnelQuery.parse({
        steps: Array.from({ length: r.int(2, 3) }, () => ({ event: r.pick(NAMES) })),
        within: r.pick(['1h', '2d', '7d']),
        ...range(r),
      });
      const chains = referenceFunnel(events, f, referenceUsers(merges));
      expect(
        funnel(rows, f, unifier(new Map(merges))).steps.map((x) => x.users),
        JSON.stringify(f),
      ).toEqual(f.steps.map((_, i) => chains.filter((w) => w.times.length > i).length));
      const q = RetentionQuery.parse({
        startEvent: r.pick(NAMES),
        returnEvent: r.pick(NAMES),
        interval: r.pick(['day', 'week']),
        ...range(r),
      });
      const ret = referenceRetention(events, q, referenceUsers(merges));
      expect(retention(rows, q, unifier(new Map(merges))).cohorts.map((c) => [c.start, c.users])).toEqual(
        [...ret.entries()].sort((a, b) => a[0] - b[0]).map(([c, v]) => [new Date(c).toISOString(), v.users.size]),
      );
    }
  });

  it('counts one user for a funnel begun anonymously and finished after a merge with the known profile', () => {
    const t = T0 + DAY;
    const anon = 'p9-anon';
    const known = 'p1-known';
    const events: RawEvent[] = [
      { t, profileId: anon, sourceId: 's', type: 'track', event: 'Viewed' },
      { t: t + 60_000, profileId: anon, sourceId: 's', type: 'track', event: 'Added' },
      // identify: the anonymous profile is merged into the known one; the purchase lands there.
      { t: t + 120_000, profileId: known, sourceId: 's', type: 'track', event: 'Bought' },
    ];
    const rows = variantRows(
      buildRollups(
        events.map((e) => ({
          sourceId: e.sourceId,
          profileId: e.profileId,
          event: { ...e, timestamp: new Date(e.t).toISOString() },
        })),
      ).rollup,
    );
    const q = FunnelQuery.parse({
      steps: [{ event: 'Viewed' }, { event: 'Added' }, { event: 'Bought' }],
      from: new Date(T0).toISOString(),
      to: new Date(T0 + 3 * DAY).toISOString(),
    });
    const merged = funnel(rows, q, unifier(new Map([[anon, known]])));
    expect(merged.steps.map((s) => s.users)).toEqual([1, 1, 1]);
    expect(merged.steps[2].medianSecondsFromPrevious).toBe(60);
    // Without the merge they are two people, and nobody completes the funnel.
    expect(funnel(rows, q, unifier(new Map())).steps.map((s) => s.users)).toEqual([1, 1, 0]);
  });
});
