import { describe, expect, it } from 'vitest';
import { statementsOf } from './do-schema';
import { fnv1a32 } from './hash';
import { valueAtPath } from './json';
import { chainEnd, followMerges, type MergeHop } from './merge-pointers';
import { forEachLimited } from './pool';
import { chunkForQueue } from './queue';

describe('chunkForQueue', () => {
  it('keeps chunks within 100 messages and the byte budget, in order', () => {
    const msgs = Array.from({ length: 250 }, (_, i) => ({ i, pad: 'x'.repeat(i % 7 === 0 ? 20_000 : 10) }));
    const chunks = chunkForQueue(msgs);
    expect(chunks.flat()).toEqual(msgs);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(100);
      expect(JSON.stringify(c).length).toBeLessThan(256 * 1024);
    }
  });

  it('counts UTF-8 bytes, not UTF-16 units: multibyte text still fits the 256 KB queue limit', () => {
    const msgs = Array.from({ length: 15 }, (_, i) => ({ i, text: '€'.repeat(10_000) }));
    const chunks = chunkForQueue(msgs);
    expect(chunks.flat()).toEqual(msgs);
    for (const c of chunks) expect(new TextEncoder().encode(JSON.stringify(c)).length).toBeLessThan(256 * 1024);
  });
});

describe('chunkForQueue limits', () => {
  it('chunks by count alone when bytes are not measured', () => {
    const chunks = chunkForQueue([1, 2, 3, 4, 5], { maxMessages: 2, maxBytes: Number.POSITIVE_INFINITY });
    expect(chunks).toEqual([[1, 2], [3, 4], [5]]);
  });
});

describe('fnv1a32', () => {
  it('matches the published FNV-1a test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});

describe('valueAtPath', () => {
  it('reads through plain objects only', () => {
    expect(valueAtPath({ a: { b: 1 } }, 'a.b')).toBe(1);
    expect(valueAtPath({ a: [{ b: 1 }] }, 'a.0.b')).toBeUndefined();
    expect(valueAtPath({ a: 'x' }, 'a.b')).toBeUndefined();
  });
});

describe('forEachLimited', () => {
  it('visits every item once with at most `limit` in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimited([...Array(20).keys()], 3, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      seen.push(i);
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(peak).toBe(3);
  });
});

describe('merge pointers', () => {
  it('follows a chain to its end and gives up on a loop', async () => {
    const merges = new Map([
      ['a', 'b'],
      ['b', 'c'],
    ]);
    expect(chainEnd(merges, 'a')).toBe('c');
    expect(chainEnd(merges, 'z')).toBe('z');
    const step = async (id: string): Promise<MergeHop<string>> => {
      const next = merges.get(id);
      return next ? { next } : { done: id };
    };
    expect(await followMerges('a', step, () => 'too long')).toBe('c');
    const loop = async (id: string): Promise<MergeHop<string>> => ({ next: id === 'x' ? 'y' : 'x' });
    expect(await followMerges('x', loop, () => 'too long')).toBe('too long');
  });
});

describe('statementsOf', () => {
  it('splits a schema script at semicolons outside quotes', () => {
    expect(
      statementsOf(`CREATE TABLE a (x TEXT DEFAULT ';');
        INSERT INTO a VALUES ('it''s; fine');  ;
        CREATE INDEX "odd;name" ON a (x)`),
    ).toEqual([
      "CREATE TABLE a (x TEXT DEFAULT ';')",
      "INSERT INTO a VALUES ('it''s; fine')",
      'CREATE INDEX "odd;name" ON a (x)',
    ]);
    expect(statementsOf('  ;  ')).toEqual([]);
  });
});
