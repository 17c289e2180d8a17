import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { type DeliveryMessage, outboundEventsOf } from '../src/delivery/messages';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { EventLog } from '../src/profiles/event-log';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import type { TestProfile } from './kit/test-profile';
import { env, ingestMessage, profileObject, uniq } from './kit/workers';

// What an apply costs in SQLite rows written (Cloudflare bills each row, index entries and deletes
// included), measured by the Profile's own meter over its transaction (the cursors' rowsWritten).
const limits = limitSpec(compileRules(defaultSettings()));
const message = (event: Record<string, unknown>): IngestMessage =>
  ingestMessage(event, { messageId: uniq('m'), sourceId: 'src_rows' });

describe("a known user's apply", () => {
  it('writes its events in its one meta write (inline log), one outbox row; the flush deletes one row', async () => {
    const id = mintProfileId('users');
    const stub = profileStub(env, id);
    const raw = profileObject(id);
    const userId = uniq('u');
    const keys = [`user_id:${userId}`];
    const sent: DeliveryMessage[] = [];
    await runInDurableObject(raw, (instance) => {
      (instance as TestProfile).hooks.send = async (m) => {
        sent.push(...m);
      };
    });
    const apply = (messages: IngestMessage[]) =>
      stub.apply({ profileId: id, collection: 'users', keys, messages, limits, emit: true });
    expect(await apply([message({ type: 'identify', userId, traits: { plan: 'pro' } })])).toMatchObject({
      applied: 1,
    });
    await expect.poll(() => sent.length).toBe(1);
    sent.length = 0;

    const tracks = Array.from({ length: 20 }, (_, i) =>
      message({ type: 'track', userId, event: 'Product Viewed', properties: { i } }),
    );
    expect(await apply(tracks)).toMatchObject({ status: 'ok', applied: 20 });
    const cost = await runInDurableObject(raw, (instance) => (instance as TestProfile).lastApplyCost);
    // 1 outbox row, 1 meta update holding the 20 events in its inline log (before: a log row
    // each, 22 in all; before that 3 + 2 per event in the log and dedupe set, 2 per event in the
    // outbox, 1 per event on meta, 2 more meta writes).
    expect(cost?.rowsWritten).toBe(2);
    // The flush: one packed queue message for the 20 deliveries.
    await expect.poll(() => sent.length).toBe(1);
    expect(outboundEventsOf(sent[0]).map((o) => o.event.messageId)).toEqual(tracks.map((t) => t.event.messageId));
    await expect
      .poll(() =>
        runInDurableObject(
          raw,
          (_i, state) => state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM outbox').one().n,
        ),
      )
      .toBe(0);

    // A redelivered batch is a no-op, and writes nothing.
    expect(await apply(tracks)).toMatchObject({ status: 'ok', applied: 0, duplicates: 20 });
    const again = await runInDurableObject(raw, (instance) => (instance as TestProfile).lastApplyCost);
    expect(again?.rowsWritten).toBe(0);
    const read = await stub.read({ messageIds: true });
    if (read.status !== 'live') throw new Error(read.status);
    expect(read.meta.event_count).toBe(21);
    expect(read.messageIds).toHaveLength(21);

    // A log in its table (past the inline cap, or an older object): a row per event on top.
    await runInDurableObject(raw, (i) => new EventLog((i as TestProfile).meter).moveToTable());
    const more = Array.from({ length: 20 }, (_, i) =>
      message({ type: 'track', userId, event: 'Product Viewed', properties: { i } }),
    );
    expect(await apply(more)).toMatchObject({ status: 'ok', applied: 20 });
    const tabled = await runInDurableObject(raw, (instance) => (instance as TestProfile).lastApplyCost);
    expect(tabled?.rowsWritten).toBe(20 + 2);
  });
});

describe("a known user's run of events", () => {
  it.each(['inline', 'table'] as const)(
    'is logged in one statement, however many events it holds; a messageId twice in it counts once (%s log)',
    async (mode) => {
      const id = mintProfileId('users');
      const stub = profileStub(env, id);
      const raw = profileObject(id);
      const userId = uniq('u');
      const keys = [`user_id:${userId}`];
      const apply = (messages: IngestMessage[]) =>
        stub.apply({ profileId: id, collection: 'users', keys, messages, limits, emit: true, handOver: true });
      const cost = () => runInDurableObject(raw, (instance) => (instance as TestProfile).lastApplyCost);
      const statements = () => runInDurableObject(raw, (instance) => (instance as TestProfile).statementsRun);
      const track = (i: number) => message({ type: 'track', userId, event: 'Product Viewed', properties: { i } });
      expect(await apply([message({ type: 'identify', userId, traits: { plan: 'pro' } })])).toMatchObject({
        applied: 1,
      });
      if (mode === 'table') await runInDurableObject(raw, (i) => new EventLog((i as TestProfile).meter).moveToTable());

      const before = await statements();
      expect(await apply([track(0)])).toMatchObject({ status: 'ok', applied: 1 });
      const one = await cost();
      const whole = (await statements()) - before;
      const run = Array.from({ length: 20 }, (_, i) => track(i + 1));
      expect(await apply(run)).toMatchObject({ status: 'ok', applied: 20 });
      const twenty = await cost();
      // The whole call, one track of a known user: the meta row is read once and kept until a
      // write (SqlMeter.memo) for every step that looks at it (the redirect check, the identifiers,
      // the log's place, the traits, the alarm's check). Inline: the previous apply's answer is
      // still the row, so no read, and the log's messageIds are those its writer left (no
      // json_each): the meta write, and the answer's snapshot read again after it. The table
      // (moved by the test, so the kept row is forgotten): the meta read, the log insert, the meta
      // write, the snapshot. Before: 8 for both (11 before that).
      expect(whole).toBe(mode === 'inline' ? 2 : 4);
      // Every statement is a call into SQLite: a run's log rows go in one, so 20 events cost the
      // statements of one (one each before: 19 more).
      expect(twenty?.statements).toBe(one?.statements);
      // Rows: inline, the events are in the one meta write; in the table, a row each.
      expect(one?.rowsWritten).toBe(mode === 'inline' ? 1 : 2);
      expect(twenty?.rowsWritten).toBe(mode === 'inline' ? 1 : 21);

      // Within one run, the second copy of a messageId is a duplicate, as it is across runs.
      const dup = track(99);
      const res = await apply([dup, track(100), dup, run[3]]);
      expect(res).toMatchObject({ status: 'ok', applied: 2, duplicates: 2 });
      if (res.status !== 'ok') throw new Error(res.status);
      expect(res.outbound?.map((o) => o?.event.messageId ?? null)).toEqual([
        dup.event.messageId,
        expect.any(String),
        null,
        null,
      ]);
      const read = await stub.read({ messageIds: true });
      if (read.status !== 'live') throw new Error(read.status);
      expect(read.meta.event_count).toBe(24);
      expect(read.messageIds).toHaveLength(24);
    },
  );
});
