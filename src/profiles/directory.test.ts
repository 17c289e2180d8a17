import { describe, expect, it } from 'vitest';
import { boundTraits, DIRECTORY_TRAITS, type TraitEntry } from './directory';

const entry = (key: string, value: unknown, ts: number): TraitEntry => ({ key, json: JSON.stringify(value), ts });
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).length;

describe('boundTraits', () => {
  it('keeps everything when under the caps', () => {
    expect(boundTraits([entry('b', 2, 1), entry('a', 'x', 2)])).toEqual({ a: 'x', b: 2 });
  });

  it('keeps at most 300 traits, the most recently updated', () => {
    const entries = Array.from({ length: 400 }, (_, i) => entry(`t${i}`, i, 1000 + i));
    const kept = boundTraits(entries);
    expect(Object.keys(kept)).toHaveLength(DIRECTORY_TRAITS.maxKeys);
    expect(kept.t399).toBe(399);
    expect(kept.t100).toBe(100);
    expect(kept.t99).toBeUndefined();
  });

  it('caps the JSON at 64 KB, newest first, skipping a value too big to fit', () => {
    const big = 'x'.repeat(30_000);
    const entries = [
      ...Array.from({ length: 80 }, (_, i) => entry(`k${String(i).padStart(2, '0')}`, big, i)),
      entry('huge', 'y'.repeat(100_000), 1000),
      entry('small-old', 1, -5),
    ];
    const kept = boundTraits(entries);
    expect(bytes(kept)).toBeLessThanOrEqual(DIRECTORY_TRAITS.maxBytes);
    // The huge one (newest) cannot fit and is skipped; the two newest big ones and the small one stay.
    expect(Object.keys(kept)).toEqual(['k78', 'k79', 'small-old']);
  });

  it('measures bytes, not characters', () => {
    const wide = '€'.repeat(15_000); // 45 KB in UTF-8
    expect(Object.keys(boundTraits([entry('a', wide, 2), entry('b', wide, 1)]))).toEqual(['a']);
  });
});
