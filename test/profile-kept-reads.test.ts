import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import { EventLog } from '../src/profiles/event-log';
import { writeMeta } from '../src/profiles/meta-row';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import type { EventRow } from '../src/profiles/rpc';
import { ProfileStore } from '../src/profiles/store';
import type { TestProfile } from './kit/test-profile';
import { env, ingestMessage, profileObject, uniq } from './kit/workers';

// The Profile object keeps what it read between writes: its meta row (SqlMeter.memo,
// src/profiles/sql-meter.ts), one read for every step of an apply that looks at it, and its inline
// log's messageIds (event-log.ts `idsOf`). Kept too long, either would answer what is no longer there: after a
// write, or after a transaction whose writes were rolled back.
const limits = limitSpec(compileRules(defaultSettings()));

describe("the Profile object's kept meta row", () => {
  it('is read once between writes, answers a write at once, and forgets what a rollback undid', async () => {
    const seen = await runInDurableObject(profileObject(mintProfileId('users')), (instance) => {
      const meter = (instance as TestProfile).meter;
      const store = new ProfileStore(meter);
      store.setMeta({ pending: 'p1' });
      const start = meter.executed;
      const twice = [store.meta().pending, store.meta().pending, store.identifierKeys().length];
      const readsForThree = meter.executed - start;
      // A caller changing what it was given changes nothing kept.
      const given = store.meta();
      given.pending = 'changed by a caller';

      store.setMeta({ pending: 'p2' });
      const afterWrite = store.meta().pending;

      const inside: unknown[] = [];
      let thrown = '';
      try {
        meter.transaction(() => {
          store.setMeta({ pending: 'p3' });
          inside.push(store.meta().pending); // kept, inside the transaction
          throw new Error('roll back');
        });
      } catch (err) {
        thrown = (err as Error).message;
      }
      const afterRollback = store.meta().pending;

      // A nested transaction is a savepoint: its rollback is forgotten as well, the outer one commits.
      meter.transaction(() => {
        try {
          meter.transaction(() => {
            store.setMeta({ pending: 'p4' });
            inside.push(store.meta().pending);
            throw new Error('inner');
          });
        } catch {}
        inside.push(store.meta().pending);
      });
      const afterSavepoint = store.meta().pending;
      store.setMeta({ pending: null });
      return { twice, readsForThree, afterWrite, inside, thrown, afterRollback, afterSavepoint };
    });
    expect(seen.twice).toEqual(['p1', 'p1', 0]);
    expect(seen.readsForThree).toBe(1);
    expect(seen.afterWrite).toBe('p2');
    expect(seen.thrown).toBe('roll back');
    expect(seen.inside).toEqual(['p3', 'p4', 'p2']);
    expect(seen.afterRollback).toBe('p2');
    expect(seen.afterSavepoint).toBe('p2');
  });

  it('is forgotten when a deletion regulation erases the object', async () => {
    const id = mintProfileId('users');
    const stub = profileStub(env, id);
    const userId = uniq('u');
    const message = ingestMessage(
      { type: 'identify', userId, traits: { plan: 'pro' } },
      { messageId: uniq('m'), sourceId: 'src_memo' },
    );
    const apply = () =>
      stub.apply({
        profileId: id,
        collection: 'users',
        keys: [`user_id:${userId}`],
        messages: [message],
        limits,
        emit: false,
      });
    expect(await apply()).toMatchObject({ status: 'ok', applied: 1 });
    // The apply's answer read the row after its write: it is kept now.
    expect(await stub.describe(id)).toMatchObject({ status: 'live', identifiers: [`user_id:${userId}`] });
    await stub.erase();
    expect(await stub.read({})).toEqual({ status: 'missing' });
    // Applied again from scratch: a fresh profile, not the erased one's count.
    expect(await apply()).toMatchObject({ status: 'ok', applied: 1 });
    const read = await stub.read({});
    if (read.status !== 'live') throw new Error(read.status);
    expect(read.meta.event_count).toBe(1);
  });
});

describe("the inline log's messageIds kept by its last writer", () => {
  const row = (messageId: string): EventRow => ({
    messageId,
    ts: 1,
    type: 'track',
    name: 'A',
    sourceId: 'src_kept',
    body: JSON.stringify({ messageId }),
  });

  it('dedupe the next transaction, and only while the log is what that writer wrote', async () => {
    const seen = await runInDurableObject(profileObject(mintProfileId('users')), (instance) => {
      const meter = (instance as TestProfile).meter;
      const log = new EventLog(meter);
      const commit = (ids: string[]) => {
        const w = log.writer();
        const fresh = w.insertAll(ids.map(row));
        writeMeta(meter, w.patch());
        return fresh;
      };
      const listed = () => meter.executed;
      const first = commit(['a', 'b']);
      const before = listed();
      const second = commit(['a', 'c']); // statements: the meta read, the write (no json_each)
      const secondStatements = listed() - before;
      // A writer whose patch is never written (its transaction rolled back): the next one reads
      // the log without 'd', so 'd' is new to it, not a duplicate of what was never stored.
      const lost = log.writer();
      const lostFresh = lost.insertAll([row('d')]);
      lost.patch();
      const third = commit(['d', 'b']);
      return { first, second, secondStatements, lostFresh, third, ids: log.messageIds().sort() };
    });
    expect(seen.first).toEqual([true, true]);
    expect(seen.second).toEqual([false, true]);
    expect(seen.secondStatements).toBe(2);
    expect(seen.lostFresh).toEqual([true]);
    expect(seen.third).toEqual([true, false]);
    expect(seen.ids).toEqual(['a', 'b', 'c', 'd']);
  });
});
