import { describe, expect, it } from 'vitest';
import { checkJson, deepMerge } from './json';

/** `{ a: { a: … 1 } }` n levels deep, built without recursion. */
function nested(n: number, wrap: (v: unknown) => unknown): unknown {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = wrap(v);
  return v;
}

describe('checkJson', () => {
  it('accepts 64 levels below the root and refuses 65, objects and arrays alike', () => {
    expect(checkJson({ properties: nested(64, (v) => ({ a: v })) }, 64)).toBeUndefined();
    expect(checkJson({ properties: nested(65, (v) => ({ a: v })) }, 64)).toMatchObject({
      code: 'nesting_too_deep',
      field: 'properties',
    });
    expect(checkJson({ traits: nested(65, (v) => [v]) }, 64)).toMatchObject({
      code: 'nesting_too_deep',
      field: 'traits',
    });
  });

  it('walks 100,000 levels without overflowing the stack', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}1${']'.repeat(100_000)}`);
    expect(checkJson({ anywhere: deep }, 64)?.code).toBe('nesting_too_deep');
    expect(checkJson({ anywhere: nested(100_000, (v) => ({ v })) }, 64)?.field).toBe('anywhere');
  });

  it('honours the depth the value sits at', () => {
    expect(
      checkJson(
        nested(65, (v) => ({ a: v })),
        64,
        1,
      )?.code,
    ).toBe('nesting_too_deep');
    expect(
      checkJson(
        nested(64, (v) => ({ a: v })),
        64,
        1,
      ),
    ).toBeUndefined();
  });

  it('refuses numbers JSON.parse turned into Infinity', () => {
    expect(checkJson(JSON.parse('{"properties":{"n":[1e400]}}'), 64)).toMatchObject({
      code: 'invalid_number',
      field: 'properties',
    });
    expect(checkJson(JSON.parse('{"n":-1e999}'), 64)).toMatchObject({ code: 'invalid_number', field: 'n' });
    expect(checkJson({ n: 1.7e308, z: -0 }, 64)).toBeUndefined();
  });

  it('repairs lone surrogates in values and keys to U+FFFD, in place', () => {
    const v = JSON.parse('{"event":"E\\ud83d","properties":{"\\udc00k":["x\\ud800"],"ok":"\\ud83d\\ude00"}}');
    expect(checkJson(v, 64)).toBeUndefined();
    expect(v).toEqual({ event: 'E\ufffd', properties: { '\ufffdk': ['x\ufffd'], ok: '😀' } });
  });
});

describe('deepMerge', () => {
  it('merges objects at every level, the second argument winning', () => {
    const batch = { library: { name: 'l', version: '1' }, device: { id: 'd', type: 'ios' }, locale: 'en' };
    const item = { device: { id: 'item-device' }, page: { path: '/x' }, locale: null };
    expect(deepMerge(batch, item)).toEqual({
      library: { name: 'l', version: '1' },
      device: { id: 'item-device', type: 'ios' },
      page: { path: '/x' },
      locale: null,
    });
    expect(batch.device).toEqual({ id: 'd', type: 'ios' });
  });

  it('a non-object value replaces an object and vice versa', () => {
    expect(deepMerge({ a: { b: 1 }, c: 1 }, { a: 'x', c: { d: 1 } })).toEqual({ a: 'x', c: { d: 1 } });
    expect(deepMerge({ a: [1, 2] }, { a: [3] })).toEqual({ a: [3] });
  });

  it('keeps `__proto__` keys as data, never as a prototype', () => {
    const merged = deepMerge({}, JSON.parse('{"__proto__":{"polluted":true}}'));
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.hasOwn(merged, '__proto__')).toBe(true);
    expect((merged as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('merges two 10,000-level trees without recursion', () => {
    const a = nested(10_000, (v) => ({ k: v, a: 1 })) as Record<string, unknown>;
    const b = nested(10_000, (v) => ({ k: v, b: 2 })) as Record<string, unknown>;
    const m = deepMerge(a, b);
    expect(m).toMatchObject({ a: 1, b: 2, k: { a: 1, b: 2 } });
  });
});
