import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { ALARM_DELAY_MS } from '../src/profiles/alarm';
import { EventLog } from '../src/profiles/event-log';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import { SqlMeter } from '../src/profiles/sql-meter';
import { ProfileStore } from '../src/profiles/store';
import { LAZY_TABLES, ProfileTables } from '../src/profiles/tables';
import type { TestProfile } from './kit/test-profile';
import { ingestMessage, profileObject, tablesOf, uniq } from './kit/workers';

// A merged-away profile (its tombstone) drops what it held instead of deleting it row by row:
// Cloudflare bills a DELETE a row per row removed and a DROP none. And its merge arms no alarm of
// its own when one is already set (the resolver's retried queue message finishes an interrupted
// merge; the alarm is the backstop).
const limits = limitSpec(compileRules(defaultSettings()));
const message = (event: Record<string, unknown>): IngestMessage =>
  ingestMessage(event, { messageId: uniq('m'), sourceId: 'src_tomb' });

function newProfile(id = mintProfileId('users')) {
  const stub = profileStub(env, id);
  const apply = (keys: string[], messages: IngestMessage[]) =>
    stub.apply({ profileId: id, collection: 'users', keys, messages, limits, emit: false });
  return { id, stub, apply, raw: profileObject(id) };
}

/** Two fresh profiles, the first with the smaller id (the survivor of a merge between them). */
function twoProfiles() {
  const [small, large] = [mintProfileId('users'), mintProfileId('users')].sort();
  return [newProfile(small), newProfile(large)] as const;
}

const tracks = (n: number) => Array.from({ length: n }, (_, i) => message({ type: 'track', event: `E${i}` }));

describe('a tombstone drops what it held', () => {
  it('a DROP is billed no row however many it held, a DELETE one per row', async () => {
    await runInDurableObject(profileObject(uniq('scratch')), (_i, state) => {
      const sql = state.storage.sql;
      const rows = (q: string) => sql.exec(q).rowsWritten;
      rows('CREATE TABLE a (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID');
      rows('CREATE TABLE b (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID');
      const fill = "SELECT 'k' || value, 'v' FROM json_each('[1,2,3,4,5,6,7,8,9,10,11,12]')";
      expect(rows(`INSERT INTO a ${fill}`)).toBe(12);
      expect(rows(`INSERT INTO b ${fill}`)).toBe(12);
      expect(rows('DELETE FROM a')).toBe(12);
      expect(rows('DROP TABLE b')).toBe(0);
    });
  });

  /** Tombstones `p` as a merge does, with its rows written and what is left. */
  const tombstone = (p: ReturnType<typeof newProfile>, before?: (sql: SqlStorage) => void) =>
    runInDurableObject(p.raw, (_i, state) => {
      const sql = state.storage.sql;
      before?.(sql);
      const meter = new SqlMeter(sql);
      const { cost } = meter.measure(() =>
        state.storage.transactionSync(() => new ProfileStore(meter).tombstone('use_survivor', 't')),
      );
      return {
        rows: cost.rowsWritten,
        tables: tablesOf(sql),
        logged: new EventLog(sql).messageIds().length,
        meta: new ProfileStore(sql).meta(),
      };
    });

  it('a profile whose log is in its table (it outgrew the meta row) and lazy tables: one row, the meta write', async () => {
    const p = newProfile();
    // 40 events of 2 KB: past the inline log's cap, so in the event_log table (a row each).
    const big = tracks(40).map((m) => ({ ...m, event: { ...m.event, properties: { pad: 'x'.repeat(2000) } } }));
    await p.apply([`anonymous_id:${uniq('a')}`], big);
    const seen = await tombstone(p, (sql) => {
      expect(tablesOf(sql)).toContain('event_log');
      // Lazy tables with rows, as an older or larger profile has them (links, merged-in profiles).
      const tables = new ProfileTables(sql);
      tables.write('links', "INSERT INTO links VALUES ('accounts', 'group_id:g1', NULL, 't')");
      tables.write('merged_from', "INSERT INTO merged_from VALUES ('use_x', 'r', 't', 1)");
    });
    // DELETEs were 40 + 1 + 1 more.
    expect(seen.rows).toBe(1);
    expect(seen.logged).toBe(0);
    expect(seen.tables).toEqual(['meta']);
    expect(seen.meta).toMatchObject({ merged_into: 'use_survivor', event_count: 0 });
  });

  it('an inline log goes in the same meta write', async () => {
    const p = newProfile();
    await p.apply([`anonymous_id:${uniq('a')}`], tracks(12));
    const seen = await tombstone(p);
    expect(seen).toMatchObject({ rows: 1, logged: 0, tables: ['meta'] });
  });
});

describe("a merge's alarm", () => {
  it('a loser whose retention alarm is set merges without moving it; its tables are gone, its alarm runs later', async () => {
    const [a, d] = twoProfiles();
    const ad = `anonymous_id:${uniq('a')}`;
    await a.apply([`user_id:${uniq('u')}`], tracks(1));
    await d.apply([ad], tracks(12));
    const alarmBefore = await runInDurableObject(d.raw, (_i, state) => state.storage.getAlarm());
    expect(alarmBefore).toBeGreaterThan(Date.now() + 86_400_000); // retention, days away
    expect(await d.stub.mergeInto({ profileId: d.id, survivorId: a.id, reason: 'test', limits })).toMatchObject({
      status: 'merged',
      into: a.id,
    });
    const after = await runInDurableObject(d.raw, (_i, state) => ({
      alarm: state.storage.getAlarm(),
      tables: tablesOf(state.storage.sql),
      logged: new EventLog(state.storage.sql).messageIds().length,
    }));
    expect(await after.alarm).toBe(alarmBefore);
    expect(after.logged).toBe(0);
    expect(after.tables.filter((t) => t in LAZY_TABLES && t !== 'engage_state')).toEqual([]);
    const survivor = await a.stub.read({ messageIds: true });
    expect(survivor.status === 'live' && survivor.messageIds?.length).toBe(13);
    // The retention alarm, when it fires, finds a tombstone and nothing owed.
    expect(await runDurableObjectAlarm(d.raw)).toBe(true);
    expect(await d.stub.describe(d.id)).toEqual({ status: 'moved', to: a.id });
    expect(await runInDurableObject(d.raw, (_i, state) => state.storage.getAlarm())).toBeNull();
  });

  it('a merge left pending while the loser lives (survivor unreachable) arms the 30 s retry', async () => {
    const [a, d] = twoProfiles();
    await a.apply([`user_id:${uniq('u')}`], tracks(1));
    await d.apply([`anonymous_id:${uniq('a')}`], tracks(3));
    await runInDurableObject(a.raw, (instance) => {
      (instance as TestProfile).hooks.beforeAbsorb = async () => {
        throw new Error('survivor unreachable');
      };
    });
    const started = Date.now();
    expect(await d.stub.mergeInto({ profileId: d.id, survivorId: a.id, reason: 'test', limits })).toEqual({
      status: 'busy',
      absorbed: true,
    });
    const alarm = await runInDurableObject(d.raw, (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThanOrEqual(started + ALARM_DELAY_MS - 1000);
    expect(alarm).toBeLessThanOrEqual(Date.now() + ALARM_DELAY_MS);
    await runInDurableObject(a.raw, (instance) => {
      delete (instance as TestProfile).hooks.beforeAbsorb;
    });
    expect(await runDurableObjectAlarm(d.raw)).toBe(true);
    expect(await d.stub.describe(d.id)).toEqual({ status: 'moved', to: a.id });
  });
});
