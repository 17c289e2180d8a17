import { describe, expect, it } from 'vitest';
import { ComputedTrait } from '../audiences/definitions';
import { buildRollups, type RollupRow, variantRows } from './rollup';
import { messageKey } from './seen';
import { previewTrait } from './trait-preview';

const T = Date.parse('2026-12-01T10:00:00Z');
const track = (profileId: string, at: number, properties: Record<string, unknown>) => ({
  sourceId: 'src',
  profileId,
  event: { type: 'track', event: 'Bought', messageId: `m${at}`, timestamp: new Date(at).toISOString(), properties },
});

describe('computed-trait preview from rollups', () => {
  const { rollup } = buildRollups([
    track('use_a', T, { total: 30 }),
    track('use_a', T + 1000, { total: 30 }),
    track('use_b', T + 2000, { total: 5 }),
    track('use_c', T + 3000, { total: 12 }),
  ]);
  const rows: RollupRow[] = variantRows(rollup);

  it('sums a property per unified profile, with where', () => {
    const trait = ComputedTrait.parse({
      key: 'spent',
      name: 'Spent',
      type: 'sum',
      event: 'Bought',
      property: 'properties.total',
      where: 'properties.total > 10',
    });
    // use_c was merged into use_a: their events are one profile's.
    const unify = (id: string) => (id === 'use_c' ? 'use_a' : id);
    const r = previewTrait(trait, rows, unify, T + 60_000);
    expect(r.matchingProfiles).toBe(2);
    expect(r.profiles).toEqual([
      { profileId: 'use_a', events: 3, value: 72 },
      { profileId: 'use_b', events: 1, value: null }, // no matching event: no value, as on profiles
    ]);
  });

  it('counts and takes the last value', () => {
    const count = ComputedTrait.parse({ key: 'n', name: 'N', type: 'count', event: 'Bought' });
    const last = ComputedTrait.parse({
      key: 'l',
      name: 'L',
      type: 'last',
      event: 'Bought',
      property: 'properties.total',
    });
    const id = (x: string) => x;
    expect(previewTrait(count, rows, id, T + 60_000).profiles.map((p) => p.value)).toEqual([2, 1, 1]);
    expect(previewTrait(last, rows, id, T + 60_000).profiles.map((p) => p.value)).toEqual([30, 5, 12]);
  });
});

describe('redelivery keys', () => {
  it('are one per queue message, by the day the queue accepted it', () => {
    const sentAt = Date.parse('2026-12-02T01:00:00Z');
    const origin = { id: 'q1', index: 3, sentAt };
    expect(messageKey(origin)).toEqual({ day: Math.floor(sentAt / 86_400_000), id: 'q1' });
    // Every part of one message has the same key: the row holds which indexes were counted.
    expect(messageKey({ ...origin, index: 0 })).toEqual(messageKey(origin));
    expect(messageKey({ ...origin, sentAt: Number.NaN })).toBeNull();
    expect(messageKey(undefined)).toBeNull();
  });
});
