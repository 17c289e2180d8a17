import { describe, expect, it } from 'vitest';
import {
  buildRollups,
  canonical,
  dimsOf,
  eventKey,
  MAX_DIMS_BYTES,
  MAX_ROW_BYTES,
  MAX_TIMES,
  MAX_VARIANTS,
  mergeVariants,
  OVERFLOW_DIMS,
  type Variant,
  variantSize,
} from './rollup';

const at = (ms: number) => new Date(Date.parse('2026-01-01T10:00:00Z') + ms).toISOString();

describe('rollups of one batch', () => {
  it('shares a row per profile, event, hour and source, a variant per dimensions; counts every event in volume', () => {
    const e = (ms: number, props: Record<string, unknown>, profileId?: string) => ({
      sourceId: 's',
      profileId,
      event: { type: 'track', event: 'Viewed', timestamp: at(ms), properties: props, context: { ip: `10.0.0.${ms}` } },
    });
    const { volume, rollup } = buildRollups([
      e(1, { a: 1, b: 2 }, 'p1'),
      e(2, { b: 2, a: 1 }, 'p1'), // same dimensions in another key order, another ip
      e(3, { a: 2 }, 'p1'),
      e(3_600_000, { a: 1, b: 2 }, 'p1'), // next hour
      e(4, { a: 1 }), // no profile: volume only
    ]);
    expect(
      rollup.map((r) => [r.hour % 24, r.count, r.variants.map(([d, n, t]) => [JSON.parse(d), n, t.length])]),
    ).toEqual([
      [
        10,
        3,
        [
          [{ properties: { a: 1, b: 2 }, context: {} }, 2, 2],
          [{ properties: { a: 2 }, context: {} }, 1, 1],
        ],
      ],
      [11, 1, [[{ properties: { a: 1, b: 2 }, context: {} }, 1, 1]]],
    ]);
    expect(volume.reduce((n, v) => n + v.count, 0)).toBe(5);
  });

  it('keeps at most MAX_TIMES timestamps while counting on', () => {
    const many = Array.from({ length: MAX_TIMES + 5 }, (_, i) => ({
      sourceId: 's',
      profileId: 'p',
      event: { type: 'track', event: 'Tick', timestamp: at(i) },
    }));
    const [row] = buildRollups(many).rollup;
    expect(row.count).toBe(MAX_TIMES + 5);
    expect(row.variants).toHaveLength(1);
    expect(row.variants[0][1]).toBe(MAX_TIMES + 5);
    expect(row.variants[0][2]).toHaveLength(MAX_TIMES);
  });

  it('bounds dimensions and drops per-request context fields', () => {
    const dims = JSON.parse(
      dimsOf({ type: 'track', properties: { x: 1 }, context: { ip: '1.2.3.4', userAgent: 'UA', locale: 'fr' } }),
    );
    expect(dims).toEqual({ properties: { x: 1 }, context: { locale: 'fr' } });
    const big = dimsOf({ type: 'track', properties: { blob: 'x'.repeat(10_000), n: 1, nested: { a: 1 } } });
    expect(big.length).toBeLessThanOrEqual(MAX_DIMS_BYTES);
    expect(canonical({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
    expect(eventKey({ type: 'page' })).toBe('$page');
  });
});

describe('variants of a row', () => {
  const track = (i: number, sku: string) => ({
    sourceId: 's',
    profileId: 'p',
    event: { type: 'track', event: 'Viewed', timestamp: at(i), properties: { sku, price: 19.99 } },
  });

  it("writes one row for one user's 20 tracks of unique skus, a variant each", () => {
    const { rollup } = buildRollups(Array.from({ length: 20 }, (_, j) => track(j, `sku-${j}`)));
    expect(rollup).toHaveLength(1);
    expect(rollup[0].count).toBe(20);
    expect(rollup[0].variants.map(([d]) => JSON.parse(d).properties.sku)).toEqual(
      Array.from({ length: 20 }, (_, j) => `sku-${j}`),
    );
  });

  it('merges stored and batch variants: equal dims summed, times appended to MAX_TIMES, new ones after', () => {
    const a: Variant[] = [
      ['{"a":1}', 3, [1, 2, 3]],
      ['{"b":1}', MAX_TIMES, Array.from({ length: MAX_TIMES }, (_, i) => 100 + i)],
    ];
    const b: Variant[] = [
      ['{"c":1}', 1, [7]],
      ['{"b":1}', 2, [8, 9]],
      ['{"a":1}', 1, [4]],
    ];
    const merged = mergeVariants([a, b]);
    expect(merged.map(([d, n]) => [d, n])).toEqual([
      ['{"a":1}', 4],
      ['{"b":1}', MAX_TIMES + 2],
      ['{"c":1}', 1],
    ]);
    expect(merged[0][2]).toEqual([1, 2, 3, 4]);
    expect(merged[1][2]).toEqual(a[1][2]);
    // Inputs are not changed.
    expect(a[0][2]).toEqual([1, 2, 3]);
  });

  it('collapses variants past the byte cap into one overflow variant, last, counts exact', () => {
    const blob = (i: number) => `{"properties":{"x":"${String(i).padStart(3000, '0')}"}}`;
    const per = variantSize(blob(0), 1);
    const fit = Math.floor(MAX_ROW_BYTES / per);
    const one = (i: number): Variant => [blob(i), 2, [i, i + 1]];
    const first = mergeVariants([Array.from({ length: fit + 10 }, (_, i): Variant => [blob(i), 1, [i]])]);
    expect(first).toHaveLength(fit + 1);
    expect(first.at(-1)).toEqual([OVERFLOW_DIMS, 10, Array.from({ length: 10 }, (_, i) => fit + i)]);
    // A later batch: a stored variant grows, a new one goes to overflow, whose times keep their order.
    const second = mergeVariants([first, [one(0), one(fit + 50)]]);
    const total = (vs: Variant[]) => vs.reduce((n, v) => n + v[1], 0);
    expect(total(second)).toBe(fit + 10 + 4);
    expect(second.at(-1)?.[0]).toBe(OVERFLOW_DIMS);
    expect(second.filter(([d]) => d === OVERFLOW_DIMS)).toHaveLength(1);
    const bytes = second.slice(0, -1).reduce((n, [d, , t]) => n + variantSize(d, t.length), 0);
    expect(bytes).toBeLessThanOrEqual(MAX_ROW_BYTES);
    expect(JSON.stringify(second).length).toBeLessThan(2_000_000 / 4);
  });

  it('keeps at most MAX_VARIANTS distinct dimensions a row, the rest in the overflow variant', () => {
    const small = Array.from({ length: MAX_VARIANTS + 30 }, (_, i): Variant => [`{"properties":{"i":${i}}}`, 1, [i]]);
    const merged = mergeVariants([small.slice(0, 60), small.slice(60)]);
    expect(merged).toHaveLength(MAX_VARIANTS + 1);
    expect(merged.slice(0, MAX_VARIANTS).map(([d]) => d)).toEqual(small.slice(0, MAX_VARIANTS).map(([d]) => d));
    expect(merged.at(-1)).toEqual([OVERFLOW_DIMS, 30, Array.from({ length: 30 }, (_, i) => MAX_VARIANTS + i)]);
  });
});
