import { describe, expect, it } from 'vitest';
import { type StampedValue, stampTraits, wins } from './traits';

const v = (value: unknown, ts: number, messageId = `m${ts}`): StampedValue => ({ value, ts, messageId });

describe('traits: last-write-wins by event timestamp', () => {
  it('a later timestamp wins whatever the arrival order; ties go to the larger messageId', () => {
    expect(wins(v('new', 2), v('old', 1))).toBe(true);
    expect(wins(v('old', 1), v('new', 2))).toBe(false);
    expect(wins(v('b', 1, 'mb'), v('a', 1, 'ma'))).toBe(true);
    expect(wins(v('a', 1, 'ma'), v('b', 1, 'mb'))).toBe(false);
    expect(wins(v('x', 1), undefined)).toBe(true);
  });

  it('merging is order-independent (commutative, associative, idempotent)', () => {
    const updates: Record<string, StampedValue>[] = [
      { plan: v('free', 10), name: v('Ann', 5) },
      { plan: v('pro', 30) },
      { plan: v('team', 20), name: v('Anne', 40) },
      { name: v('A.', 40, 'm0') },
    ];
    // What `ProfileStore.applyTraits` does per key: the incoming value replaces the stored one
    // when it wins.
    const fold = (order: number[]) => {
      const state: Record<string, StampedValue> = {};
      for (const i of order) {
        for (const [key, s] of Object.entries(updates[i])) if (wins(s, state[key])) state[key] = s;
      }
      return Object.fromEntries(Object.entries(state).map(([k, s]) => [k, s.value]));
    };
    const expected = { plan: 'pro', name: 'Anne' };
    for (const order of [
      [0, 1, 2, 3],
      [3, 2, 1, 0],
      [2, 0, 3, 1],
      [1, 3, 0, 2, 2, 1],
    ]) {
      expect(fold(order)).toEqual(expected);
    }
  });

  it('stamps every defined top-level trait, keeping nulls', () => {
    expect(stampTraits({ a: 1, b: null, c: undefined }, { ts: 5, messageId: 'm' })).toEqual({
      a: { value: 1, ts: 5, messageId: 'm' },
      b: { value: null, ts: 5, messageId: 'm' },
    });
    expect(stampTraits(undefined, { ts: 1, messageId: 'm' })).toEqual({});
  });
});
