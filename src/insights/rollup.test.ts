import { describe, expect, it } from 'vitest';
import { buildRollups, canonical, dimsOf, eventKey, MAX_DIMS_BYTES, MAX_TIMES } from './rollup';

const at = (ms: number) => new Date(Date.parse('2026-01-01T10:00:00Z') + ms).toISOString();

describe('rollups of one batch', () => {
  it('shares a row per profile, event, hour, source and dimensions; counts every event in volume', () => {
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
    expect(rollup.map((r) => [r.hour % 24, r.count, r.times.length])).toEqual([
      [10, 2, 2],
      [10, 1, 1],
      [11, 1, 1],
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
    expect(row.times).toHaveLength(MAX_TIMES);
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
