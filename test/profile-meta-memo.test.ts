import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import { ProfileStore } from '../src/profiles/store';
import type { TestProfile } from './kit/test-profile';
import { env, ingestMessage, profileObject, uniq } from './kit/workers';

// The Profile object keeps its meta row between writes (SqlMeter.memo, src/profiles/sql-meter.ts):
// one read serves every step of an apply that looks at it. Kept too long, it would answer a row
// that is no longer there: after a write, or after a transaction whose writes were rolled back.
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
