import { describe, expect, it } from 'vitest';
import { ApiError } from '../lib/errors';
import { collect, mergeBatchFields } from './collect';
import { LIMITS } from './spec';

const facts = { receivedAt: new Date('2026-06-01T12:00:00.000Z') };

/** JSON text of an object nested `n` levels deep, parsed as a client's body would be. */
const deep = (n: number) => JSON.parse(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);

describe('mergeBatchFields', () => {
  it('merges batch context/integrations under item values and fills sentAt', () => {
    const merged = mergeBatchFields(
      { type: 'track', context: { page: { path: '/x' } }, integrations: { A: true } },
      {
        context: { library: { name: 'l' }, page: { path: '/batch' } },
        integrations: { All: false, A: false },
        sentAt: 'S',
      },
    );
    expect(merged).toEqual({
      type: 'track',
      context: { library: { name: 'l' }, page: { path: '/x' } },
      integrations: { All: false, A: true },
      sentAt: 'S',
    });
  });

  it('merges context deeply: an item context.device keeps the batch device fields it does not set', () => {
    const merged = mergeBatchFields(
      { type: 'track', context: { device: { id: 'item-device' }, app: { build: '7' } } },
      { context: { device: { id: 'batch-device', manufacturer: 'Apple', model: 'iPhone' }, app: { name: 'Shop' } } },
    );
    expect(merged.context).toEqual({
      device: { id: 'item-device', manufacturer: 'Apple', model: 'iPhone' },
      app: { name: 'Shop', build: '7' },
    });
  });
});

describe('collect', () => {
  it('drops writeKey from the stored event and forces the route type', () => {
    const r = collect([{ writeKey: 'wk', type: 'identify', event: 'E', userId: 'u' }], facts, { forcedType: 'track' });
    expect(r.rejected).toEqual([]);
    expect(r.accepted[0].type).toBe('track');
    expect('writeKey' in r.accepted[0]).toBe(false);
  });

  it('rejects an item nested deeper than 64 levels (65 refused, 64 kept), in any field, and keeps the others', () => {
    const items = [
      { type: 'track', event: 'Ok', userId: 'u' },
      { type: 'track', event: 'Deep', userId: 'u', properties: deep(2500) },
      { type: 'identify', userId: 'u', traits: deep(65) },
      { type: 'track', event: 'Deep', userId: 'u', anyField: JSON.parse(`${'['.repeat(10_000)}${']'.repeat(10_000)}`) },
      { type: 'track', event: 'Ok', userId: 'u', properties: deep(64) },
    ];
    const r = collect(items, facts);
    expect(r.accepted.map((e) => e.type)).toEqual(['track', 'track']);
    expect(r.rejected).toEqual([
      { index: 1, code: 'nesting_too_deep', message: 'properties: nested deeper than 64 levels' },
      { index: 2, code: 'nesting_too_deep', message: 'traits: nested deeper than 64 levels' },
      { index: 3, code: 'nesting_too_deep', message: 'anyField: nested deeper than 64 levels' },
    ]);
    // The debugger entry of a refused item must itself survive structured clone and JSON.
    const shown = r.debug.filter((d) => d.status === 'rejected').map((d) => d.event);
    expect(() => structuredClone(shown)).not.toThrow();
    expect(shown[0]).toEqual({
      type: 'track',
      event: 'Deep',
      userId: 'u',
      properties: '[omitted: cannot be serialised]',
    });
  });

  it('rejects numbers out of float64 range instead of storing null', () => {
    const r = collect([JSON.parse('{"type":"track","event":"E","userId":"u","properties":{"n":1e400}}')], facts);
    expect(r.rejected).toEqual([{ index: 0, code: 'invalid_number', message: expect.stringContaining('properties') }]);
  });

  it('refuses the whole request when batch-level context is too deep', () => {
    expect(() =>
      collect([{ type: 'track', event: 'E', userId: 'u' }], facts, { batch: { context: deep(65) } }),
    ).toThrow(ApiError);
    const ok = collect([{ type: 'track', event: 'E', userId: 'u' }], facts, { batch: { context: deep(64) } });
    expect(ok.accepted).toHaveLength(1);
  });

  it('counts expanded bytes and refuses a batch whose context copies exceed 4× the body limit', () => {
    const context = { blob: 'x'.repeat(20 * 1024) };
    const items = (n: number) => Array.from({ length: n }, () => ({ type: 'track', event: 'E', userId: 'u' }));
    const fits = collect(items(90), facts, { batch: { context } });
    expect(fits.accepted).toHaveLength(90);
    expect(fits.expandedBytes).toBeGreaterThan(90 * 20 * 1024);
    expect(fits.expandedBytes).toBeLessThanOrEqual(LIMITS.expandedBytes);
    let error: unknown;
    try {
      collect(items(150), facts, { batch: { context } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('normalises timestamp, originalTimestamp and sentAt to UTC with Z', () => {
    const r = collect(
      [
        {
          type: 'track',
          event: 'E',
          userId: 'u',
          timestamp: '2026-06-01T14:00:00+02:00',
          originalTimestamp: '2026-06-01T09:00:00-0300',
          sentAt: '2026-06-01',
        },
      ],
      facts,
    );
    expect(r.accepted[0]).toMatchObject({
      originalTimestamp: '2026-06-01T12:00:00.000Z',
      sentAt: '2026-06-01T00:00:00.000Z',
    });
  });
});
