import { describe, expect, it } from 'vitest';
import type { UsageRow } from './counters';
import { counterKey, countsByHour, sumsFromKeys } from './hours';

const row = (hour: number, stage: string, unit: UsageRow['unit'], n: number, detail = '', source = '*'): UsageRow => ({
  hour,
  stage,
  source,
  unit,
  detail,
  n,
});

describe('usage hours', () => {
  it('groups a flush by hour, one key per counter, and decodes the keys back', () => {
    const rows = [
      row(7, 'ingest', 'events', 3, '', 'src|1'),
      row(7, 'ingest', 'queue.ops', 2, 'tessera-ingest'),
      row(8, 'ingest', 'queue.ops', 5, 'tessera-ingest'),
      row(7, 'Profile', 'do.rows_written', 4, 'Profile alarm'),
    ];
    const byHour = countsByHour(rows);
    expect(Object.keys(byHour).sort()).toEqual(['7', '8']);
    expect(Object.keys(byHour['7'])).toHaveLength(3);
    expect(byHour['8'][counterKey(rows[2])]).toBe(5);
    const decoded = sumsFromKeys(
      Object.values(byHour).flatMap((counts) => Object.entries(counts).map(([key, n]) => ({ key, n }))),
    );
    expect(decoded.sort((a, b) => a.n - b.n)).toEqual(rows.map(({ hour: _, ...r }) => r).sort((a, b) => a.n - b.n));
  });

  it('keeps separators inside names apart (a key is a JSON array)', () => {
    const a = counterKey({ stage: 'a,b', source: '*', unit: 'events', detail: '' });
    const b = counterKey({ stage: 'a', source: 'b,*', unit: 'events', detail: '' });
    expect(a).not.toBe(b);
    // The migration builds keys with SQLite's json_array: the same text as JSON.stringify.
    expect(counterKey({ stage: 'ingest', source: '*', unit: 'events', detail: '' })).toBe('["ingest","*","events",""]');
  });

  it('adds duplicates within a flush and leaves out keys that do not decode', () => {
    expect(countsByHour([row(1, 's', 'd1.queries', 1), row(1, 's', 'd1.queries', 2)])).toEqual({
      '1': { '["s","*","d1.queries",""]': 3 },
    });
    expect(
      sumsFromKeys([
        { key: 'nope', n: 1 },
        { key: '["a","b"]', n: 1 },
        { key: '[1,2,3,4]', n: 1 },
      ]),
    ).toEqual([]);
  });
});
