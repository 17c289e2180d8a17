import { describe, expect, it } from 'vitest';
import { compileDefinitions, eventQuery } from './compile';
import { Audience, ComputedTrait } from './definitions';
import { evaluateProfile, type SnapshotEvent } from './evaluate';

const DAY = 86_400_000;
const NOW = Date.parse('2026-03-01T00:00:00Z');
const at = (daysAgo: number) => new Date(NOW - daysAgo * DAY).toISOString();
const order = (daysAgo: number, total: number, extra: Record<string, unknown> = {}): SnapshotEvent => ({
  type: 'track',
  event: 'Order Completed',
  timestamp: at(daysAgo),
  properties: { total, ...extra },
});

function set(traits: unknown[], audiences: unknown[]) {
  return compileDefinitions({
    revision: 3,
    computedTraits: traits.map((t, i) => ({ id: `tra_${i}`, version: 1, definition: ComputedTrait.parse(t) })),
    audiences: audiences.map((a, i) => ({ id: `aud_${i}`, version: 2, definition: Audience.parse(a) })),
  });
}
const trait = (key: string, type: string, more: Record<string, unknown> = {}) => ({
  key,
  name: key,
  type,
  event: 'Order Completed',
  ...more,
});

describe('evaluateProfile', () => {
  const big = {
    key: 'big_spender',
    name: 'Big spender',
    emit: 'track',
    destinationIds: ['d1'],
    definition: { event: 'Order Completed', where: 'properties.total > 50', count: { '>=': 2 }, within: '30d' },
  };

  it('enters on the qualifying event and exits exactly when it ages out, announcing that instant', () => {
    const s = set([], [big]);
    const events = [order(29, 60), order(10, 70), order(5, 20)];
    const now = evaluateProfile(s, { traits: {}, events }, NOW);
    expect(now.audiences).toEqual({ big_spender: true });
    expect(now.changes).toEqual([
      {
        kind: 'audience',
        key: 'big_spender',
        id: 'aud_0',
        version: 2,
        previous: false,
        value: true,
        emit: 'track',
        destinationIds: ['d1'],
      },
    ]);
    const exitAt = Date.parse(at(29)) + 30 * DAY;
    expect(now.nextChangeAt).toBe(exitAt);
    const stored = { traits: {}, events, audiences: now.audiences };
    expect(evaluateProfile(s, stored, exitAt - 1).changes).toEqual([]);
    const later = evaluateProfile(s, stored, exitAt);
    expect(later.audiences.big_spender).toBe(false);
    expect(later.changes[0]).toMatchObject({ previous: true, value: false });
  });

  it('computes every computed-trait type over the window', () => {
    const s = set(
      [
        trait('n', 'count', { within: '7d' }),
        trait('total', 'sum', { property: 'properties.total' }),
        trait('mean', 'avg', { property: 'properties.total' }),
        trait('lo', 'min', { property: 'properties.total' }),
        trait('hi', 'max', { property: 'properties.total' }),
        trait('first_cat', 'first', { property: 'properties.cat' }),
        trait('last_cat', 'last', { property: 'properties.cat' }),
        trait('fav', 'most_frequent', { property: 'properties.cat' }),
        trait('cats', 'unique_list', { property: 'properties.cat' }),
        trait('ncats', 'unique_count', { property: 'properties.cat' }),
        trait('none', 'max', { property: 'properties.missing' }),
      ],
      [],
    );
    const events = [
      order(1, 10, { cat: 'shoes' }),
      order(20, 30, { cat: 'hats' }),
      order(3, 'n/a' as never, { cat: 'hats' }),
      order(2, 20, { cat: 'shoes' }),
      order(40, 5, { cat: 'bags' }),
      { type: 'track', event: 'Other', timestamp: at(1), properties: { total: 1000, cat: 'x' } },
    ];
    expect(evaluateProfile(s, { traits: {}, events }, NOW).computed).toEqual({
      n: 3,
      total: 65,
      mean: 65 / 4,
      lo: 5,
      hi: 30,
      first_cat: 'bags',
      last_cat: 'shoes',
      fav: 'hats', // hats and shoes are tied at 2: the first alphabetically wins
      cats: ['bags', 'hats', 'shoes'],
      ncats: 3,
      none: null,
    });
  });

  it('most_frequent needs a value seen twice', () => {
    const s = set([trait('fav', 'most_frequent', { property: 'properties.cat' })], []);
    const events = [order(1, 1, { cat: 'a' }), order(2, 1, { cat: 'b' })];
    expect(evaluateProfile(s, { traits: {}, events }, NOW).computed.fav).toBeNull();
  });

  it('counts future-dated events only once their time comes', () => {
    const s = set([trait('n', 'count')], []);
    const events = [order(-1, 1)];
    const r = evaluateProfile(s, { traits: {}, events }, NOW);
    expect(r.computed.n).toBe(0);
    expect(r.nextChangeAt).toBe(NOW + DAY);
    expect(evaluateProfile(s, { traits: {}, events }, NOW + DAY).computed.n).toBe(1);
  });

  it('evaluates traits, computed traits and referenced audiences in dependency order', () => {
    const s = set(
      [trait('orders', 'count')],
      [
        {
          key: 'vip',
          name: 'VIP',
          definition: { and: [{ audience: 'pro' }, { computed: 'orders', op: '>=', value: 2 }] },
        },
        { key: 'pro', name: 'Pro', definition: { trait: 'plan', op: 'in', value: ['pro', 'team'] } },
        { key: 'not_vip', name: 'Not VIP', definition: { not: { audience: 'vip' } } },
      ],
    );
    const r = evaluateProfile(s, { traits: { plan: 'pro' }, events: [order(1, 1), order(2, 1)] }, NOW);
    expect(r.audiences).toEqual({ pro: true, vip: true, not_vip: false });
    expect(r.nextChangeAt).toBeNull();
    expect(r.changes.map((c) => c.key)).toEqual(['orders', 'pro', 'vip']); // dependency order
  });

  it('sends no change for a profile that has nothing yet', () => {
    const s = set([trait('orders', 'count'), trait('cats', 'unique_list', { property: 'properties.cat' })], [big]);
    expect(evaluateProfile(s, { traits: {}, events: [] }, NOW).changes).toEqual([]);
  });

  it('tells the Profile DO which events to read', () => {
    expect(eventQuery(set([trait('n', 'count', { within: '7d' })], [big]), NOW)).toEqual({
      names: ['Order Completed'],
      since: NOW - 30 * DAY,
    });
    expect(eventQuery(set([trait('n', 'count')], []), NOW)).toEqual({ names: ['Order Completed'], since: null });
    expect(eventQuery(set([{ ...trait('n', 'count'), event: '*' }], []), NOW).names).toBe('all');
  });
});
