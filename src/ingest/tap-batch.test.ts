import { describe, expect, it } from 'vitest';
import { TapBatch } from './tap-batch';

describe('TapBatch', () => {
  it('asks for one handover per gathering and hands every source its entries in order', () => {
    const b = new TapBatch<number>(100);
    expect(b.add('s1', [1, 2], 0, 500)).toBe(true);
    expect(b.add('s2', [3], 10, 500)).toBe(false);
    expect(b.add('s1', [4], 20, 500)).toBe(false);
    expect(b.take()).toEqual([
      ['s1', [1, 2, 4]],
      ['s2', [3]],
    ]);
    expect(b.take()).toEqual([]);
    expect(b.add('s1', [5], 30, 500)).toBe(true);
  });

  it('keeps the newest `cap` entries per source and ignores an empty request', () => {
    const b = new TapBatch<number>(3);
    expect(b.add('s', [], 0, 500)).toBe(false);
    b.add('s', [1, 2, 3], 0, 500);
    b.add('s', [4, 5], 1, 500);
    expect(b.take()).toEqual([['s', [3, 4, 5]]]);
  });

  it('asks again when a pending handover never ran', () => {
    const b = new TapBatch<number>(10);
    expect(b.add('s', [1], 0, 500)).toBe(true);
    expect(b.add('s', [2], 9_999, 500)).toBe(false);
    expect(b.add('s', [3], 10_000, 500)).toBe(true);
    expect(b.take()).toEqual([['s', [1, 2, 3]]]);
  });
});
