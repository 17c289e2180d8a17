import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { EventLog, INLINE_LOG_BYTES } from '../src/profiles/event-log';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import { ProfileTables } from '../src/profiles/tables';
import type { TestProfile } from './kit/test-profile';
import { ingestMessage, profileObject, uniq } from './kit/workers';

// A profile's event log inline in its meta row (src/profiles/event-log.ts) until it outgrows
// INLINE_LOG_BYTES: the same reads as the `event_log` table, the same dedupe, in no row of its own.
const limits = limitSpec(compileRules(defaultSettings()));

function newProfile() {
  const id = mintProfileId('users');
  const stub = profileStub(env, id);
  const key = `anonymous_id:${uniq('a')}`;
  const apply = (messages: IngestMessage[]) =>
    stub.apply({ profileId: id, collection: 'users', keys: [key], messages, limits, emit: false });
  return { id, stub, apply, raw: profileObject(id) };
}

const at = (ms: number) => new Date(Date.UTC(2026, 10, 1) + ms).toISOString();
const event = (name: string, ms: number, messageId = uniq('m'), pad = 0) =>
  ingestMessage(
    { type: 'track', event: name, timestamp: at(ms), properties: pad ? { pad: 'x'.repeat(pad) } : { ms } },
    { messageId, sourceId: 'src_inline_log' },
  );

/** Where the profile's log is, its rows written by the last apply, and every read of the log. */
const inspect = (p: ReturnType<typeof newProfile>) =>
  runInDurableObject(p.raw, (instance, state) => {
    const sql = state.storage.sql;
    const log = new EventLog(sql);
    const json = sql.exec<{ j: string | null }>('SELECT log_json AS j FROM meta').one().j;
    const first = log.page({ limit: 1000, asc: true })[0];
    return {
      inline: json !== null,
      table: new ProfileTables(sql).has('event_log'),
      cost: (instance as TestProfile).lastApplyCost?.rowsWritten,
      count: sql.exec<{ n: number }>('SELECT event_count AS n FROM meta').one().n,
      reads: {
        ids: log.messageIds(),
        desc: log.page({ limit: 4, asc: false }).map((e) => [e.messageId, e.ts, e.name]),
        asc: log.page({ limit: 3, asc: true, after: first && { ts: first.ts, messageId: first.messageId } }),
        window: log
          .page({ limit: 100, asc: false, start: Date.parse(at(2)), end: Date.parse(at(6)) })
          .map((e) => e.messageId),
        named: log.page({ limit: 100, asc: false, include: ['B'] }).map((e) => e.messageId),
        unnamed: log.page({ limit: 100, asc: false, exclude: ['B'] }).map((e) => e.messageId),
        bodies: log
          .bodiesAfter({ ts: 0, id: '' }, ['A'], 100)
          .map((r) => [r.message_id, r.ts, JSON.parse(r.body).event]),
        history: log.historyPage().chunk.events.map((e) => e.messageId),
      },
    };
  });

describe('the inline event log', () => {
  it('answers every read as the table does, dedupes alike, and costs one row per apply, not one per event', async () => {
    const inline = newProfile();
    const table = newProfile();
    // The same first event, then the other profile's log moved to its table.
    const ids = Array.from({ length: 8 }, () => uniq('m'));
    const batch1 = [event('A', 5, ids[0]), event('B', 1, ids[1]), event('A', 3, ids[2]), event('A', 3, ids[2])];
    const batch2 = [event('B', 7, ids[3]), event('A', 2, ids[4]), event('A', 5, ids[0]), event('C', 9, ids[5])];
    expect(await inline.apply(batch1)).toMatchObject({ applied: 3, duplicates: 1 });
    expect((await inspect(inline)).cost).toBe(1);
    await table.apply(batch1.slice(0, 1));
    await runInDurableObject(table.raw, (i) => new EventLog((i as TestProfile).meter).moveToTable());
    expect(await table.apply(batch1.slice(1))).toMatchObject({ applied: 2, duplicates: 1 });
    expect((await inspect(table)).cost).toBe(2 + 1); // a row per event, the meta write

    expect(await inline.apply(batch2)).toMatchObject({ applied: 3, duplicates: 1 });
    expect(await table.apply(batch2)).toMatchObject({ applied: 3, duplicates: 1 });
    const [a, b] = [await inspect(inline), await inspect(table)];
    expect(a).toMatchObject({ inline: true, table: false, cost: 1, count: 6 });
    expect(b).toMatchObject({ inline: false, table: true, cost: 3 + 1, count: 6 });
    expect(a.reads).toEqual(b.reads);
    expect(a.reads.ids).toHaveLength(6);
    expect(a.reads.named).toEqual([ids[3], ids[1]]);
    // A replay of the whole history changes nothing in either.
    expect(await inline.apply([...batch1, ...batch2])).toMatchObject({ applied: 0, duplicates: 8 });
  });

  it('dedupes a messageId with a lone surrogate as the table does (SQLite keeps it as U+FFFD)', async () => {
    const p = newProfile();
    const odd = `m-${uniq('x')}\ud800-end`;
    expect(await p.apply([event('A', 1, odd)])).toMatchObject({ applied: 1 });
    expect(await p.apply([event('A', 1, odd), event('A', 2, odd)])).toMatchObject({ applied: 0, duplicates: 2 });
    expect((await inspect(p)).reads.ids).toEqual([odd.toWellFormed()]);
  });

  it('moves to the table once it outgrows the cap, keeping every event once; later events cost a row each', async () => {
    const p = newProfile();
    const pad = 2000;
    const per = Math.ceil(INLINE_LOG_BYTES / (pad + 200));
    const first = Array.from({ length: per - 2 }, (_, i) => event('A', i, undefined, pad));
    await p.apply(first);
    expect(await inspect(p)).toMatchObject({ inline: true, table: false, cost: 1 });
    // The apply that passes the cap writes the whole log into the table (a row per event and the
    // table's creation) and NULL in meta, once.
    const passing = Array.from({ length: 4 }, (_, i) => event('A', per + i, undefined, pad));
    await p.apply([...passing, first[0]]);
    const spilled = await inspect(p);
    expect(spilled).toMatchObject({ inline: false, table: true, count: first.length + passing.length });
    expect(spilled.reads.ids).toHaveLength(first.length + passing.length);
    expect(spilled.cost).toBe(first.length + passing.length + 2 + 1);
    await p.apply([event('A', 10_000), first[1]]);
    expect(await inspect(p)).toMatchObject({ inline: false, cost: 1 + 1, count: first.length + passing.length + 1 });
  });

  it('retention prunes an inline log in one meta write, remembering what left it for the dedupe', async () => {
    const p = newProfile();
    const old = [event('A', 0), event('A', 1)];
    const recent = [event('B', 86_400_000 * 200), event('B', 86_400_000 * 200 + 1), event('B', 86_400_000 * 200 + 2)];
    await p.apply([...old, ...recent]);
    const now = Date.parse(at(86_400_000 * 200 + 10));
    const pruned = await runInDurableObject(p.raw, (i) => {
      const log = new EventLog((i as TestProfile).meter);
      const r = { maxAgeMs: 90 * 86_400_000, maxEvents: 2, seenMs: 14 * 86_400_000 };
      const removed = log.prune(now, r);
      return { removed, ids: log.messageIds(), seen: old.concat(recent).map((m) => log.seen(m.event.messageId)) };
    });
    // Two aged out, then one more beyond the newest two.
    expect(pruned.removed).toBe(3);
    expect(pruned.ids.sort()).toEqual([recent[1].event.messageId, recent[2].event.messageId].sort());
    expect(pruned.seen).toEqual([true, true, true, true, true]);
    expect(await inspect(p)).toMatchObject({ inline: true, count: 2 });
    expect(await p.apply([...old, ...recent])).toMatchObject({ applied: 0, duplicates: 5 });
  });
});
