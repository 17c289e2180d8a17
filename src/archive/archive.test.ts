import { describe, expect, it } from 'vitest';
import type { EnrichedEvent } from '../ingest/spec';
import { bloomMayHave, bloomOf } from './bloom';
import { pack } from './feed';
import { filesOf } from './files';
import { isObjectKey, objectKey, partitionOf } from './keys';
import { selectEvents } from './replay-plan';
import { decodeParquet, encodeParquet, toEvent, toRow } from './schema';

const event = (i: number, extra: Record<string, unknown> = {}): EnrichedEvent =>
  ({
    type: 'track',
    event: `Event ${i % 3}`,
    messageId: `m-${i}`,
    userId: `u-${i % 5}`,
    anonymousId: `a-${i}`,
    timestamp: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, i)).toISOString(),
    originalTimestamp: new Date(Date.UTC(2026, 0, 2, 3, 4, 4, i)).toISOString(),
    sentAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 6, i)).toISOString(),
    receivedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 7, i)).toISOString(),
    properties: { i, nested: { ok: true }, list: [1, 'two'], text: 'é€😀' },
    context: { library: { name: 'test' } },
    integrations: { All: true },
    ...extra,
  }) as unknown as EnrichedEvent;

describe('archive rows and files', () => {
  it('round-trips every column through Parquet', async () => {
    const rows = [
      toRow('src_1', event(1), 'prof_1'),
      toRow('src_1', event(2, { type: 'identify', event: undefined, traits: { a: 1 } })),
    ];
    const back = await decodeParquet(encodeParquet(rows));
    expect(back).toEqual(rows);
    expect(back[0].timestamp).toEqual(new Date('2026-01-02T03:04:05.001Z'));
    expect(back[1]).toMatchObject({ type: 'identify', event: null, traits: '{"a":1}', profile_id: null });
  });

  it('turns a row back into the Segment event it came from', () => {
    const e = event(7);
    expect(toEvent(toRow('src_1', e))).toEqual(e);
  });

  it('makes one file per source and hour, keeps an event once, and names it from the batch', async () => {
    const late = event(9, { receivedAt: '2026-01-02T04:00:00.000Z' });
    const events = [event(1), event(2), event(1), late].map((e) => ({ sourceId: 'src_1', event: e }));
    const files = await filesOf([...events, { sourceId: 'src_2', event: event(3) }], ['q1', 'q2']);
    expect(files.map((f) => [f.entry.key.split('/').slice(0, 4).join('/'), f.entry.rows])).toEqual([
      ['events/source_id=src_1/date=2026-01-02/hour=03', 2],
      ['events/source_id=src_1/date=2026-01-02/hour=04', 1],
      ['events/source_id=src_2/date=2026-01-02/hour=03', 1],
    ]);
    for (const f of files) expect(isObjectKey(f.entry.key)).toBe(true);
    const again = await filesOf(events.reverse(), ['q2', 'q1']);
    expect(again.map((f) => f.entry.key).sort()).toEqual(
      files
        .slice(0, 2)
        .map((f) => f.entry.key)
        .sort(),
    );
    const other = await filesOf(events, ['q1', 'q3']);
    expect(other[0].entry.key).not.toBe(files[0].entry.key);
  });

  it('keys are time-ordered ULIDs under the Hive partition', async () => {
    const p = partitionOf('src_x', new Date('2026-03-04T05:06:07Z'));
    const a = await objectKey(p, Date.parse('2026-03-04T05:06:07Z'), ['a']);
    const b = await objectKey(p, Date.parse('2026-03-04T05:06:08Z'), ['a']);
    expect(a.startsWith('events/source_id=src_x/date=2026-03-04/hour=05/')).toBe(true);
    expect(a < b).toBe(true);
  });
});

describe('subject Bloom filter', () => {
  it('never misses an id it holds and rarely claims one it does not', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `u:user-${i}`);
    const f = bloomOf(ids);
    for (const id of ids) expect(bloomMayHave(f, [id])).toBe(true);
    const falsePositives = Array.from({ length: 5000 }, (_, i) => `u:other-${i}`).filter((id) => bloomMayHave(f, [id]));
    expect(falsePositives.length).toBeLessThan(150);
  });
});

describe('archive lane packing', () => {
  it('packs events into messages under the queue limit, in order, none lost', () => {
    const events = Array.from({ length: 400 }, (_, i) => ({
      sourceId: 's',
      event: event(i, { properties: { pad: 'x'.repeat(900) } }),
    }));
    const packs = pack(events);
    expect(packs.length).toBeGreaterThan(2);
    expect(packs.flat()).toEqual(events);
    for (const p of packs)
      expect(new TextEncoder().encode(JSON.stringify({ kind: 'archive', events: p })).length).toBeLessThan(110 * 1024);
  });
});

describe('replay selection', () => {
  const rows = Array.from({ length: 9 }, (_, i) => toRow('src_1', event(i)));
  const sel = { sourceId: 'src_1', from: rows[2].received_at.toISOString(), to: rows[7].received_at.toISOString() };
  it('takes the received-time range, inclusive, marks each event as a replay and keeps its messageId', () => {
    const got = selectEvents(rows, { ...sel, eventNames: null, filter: null });
    expect(got.map((e) => e.messageId)).toEqual(['m-2', 'm-3', 'm-4', 'm-5', 'm-6', 'm-7']);
    expect(got.every((e) => e.context.replay === true && e.context.library !== undefined)).toBe(true);
  });
  it('narrows by event name and FQL', () => {
    expect(selectEvents(rows, { ...sel, eventNames: ['Event 1'], filter: null }).map((e) => e.messageId)).toEqual([
      'm-4',
      'm-7',
    ]);
    expect(
      selectEvents(rows, { ...sel, eventNames: null, filter: 'properties.i > 5' }).map((e) => e.messageId),
    ).toEqual(['m-6', 'm-7']);
    expect(selectEvents(rows, { ...sel, sourceId: 'other', eventNames: null, filter: null })).toEqual([]);
  });
});
