import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { ALARM_DELAY_MS } from '../src/profiles/alarm';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import { SqlMeter } from '../src/profiles/sql-meter';
import { EVENT_LOG_CREATE_ROWS, EVENT_LOG_TABLE, ProfileStore } from '../src/profiles/store';
import { LAZY_TABLES, ProfileTables } from '../src/profiles/tables';
import type { TestProfile } from './kit/test-profile';
import { ingestMessage, profileObject, uniq } from './kit/workers';

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

const tablesOf = (sql: SqlStorage) =>
  sql
    .exec<{ name: string }>(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
    )
    .toArray()
    .map((r) => r.name)
    .filter((n) => n !== 'sqlite_sequence' && n !== '__miniflare_do_name')
    .sort();

const tracks = (n: number) => Array.from({ length: n }, (_, i) => message({ type: 'track', event: `E${i}` }));

describe('a tombstone drops what it held', () => {
  it('a DROP is billed no row however many it held, a DELETE one per row; the empty log costs its CREATE', async () => {
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
    // The event log's CREATE, as a tombstone runs it again (the constant the tombstone weighs).
    const p = newProfile();
    await p.apply([`anonymous_id:${uniq('a')}`], tracks(1));
    const created = await runInDurableObject(p.raw, (_i, state) => {
      const sql = state.storage.sql;
      sql.exec('DROP TABLE event_log');
      const meter = new SqlMeter(sql);
      return meter.measure(() => meter.exec(EVENT_LOG_TABLE)).cost.rowsWritten;
    });
    expect(created).toBe(EVENT_LOG_CREATE_ROWS);
  });

  it('tombstoning a profile of 40 events and lazy tables writes 3 rows (meta and the empty log), not 40 more', async () => {
    const p = newProfile();
    const key = `anonymous_id:${uniq('a')}`;
    await p.apply([key], tracks(40));
    const seen = await runInDurableObject(p.raw, (_i, state) => {
      const sql = state.storage.sql;
      // Lazy tables with rows, as an older or larger profile has them (links, merged-in profiles).
      const tables = new ProfileTables(sql);
      tables.write('links', "INSERT INTO links VALUES ('accounts', 'group_id:g1', NULL, 't')");
      tables.write('merged_from', "INSERT INTO merged_from VALUES ('use_x', 'r', 't', 1)");
      const meter = new SqlMeter(sql);
      const { cost } = meter.measure(() =>
        state.storage.transactionSync(() => new ProfileStore(meter).tombstone('use_survivor', 't')),
      );
      return {
        rows: cost.rowsWritten,
        tables: tablesOf(sql),
        logged: sql.exec<{ n: number }>('SELECT count(*) AS n FROM event_log').one().n,
        meta: new ProfileStore(sql).meta(),
      };
    });
    // Meta once, the log's CREATE; the DROPs nothing. DELETEs were 40 + 1 + 1 more.
    expect(seen.rows).toBe(1 + EVENT_LOG_CREATE_ROWS);
    expect(seen.logged).toBe(0);
    expect(seen.tables).toEqual(['event_log', 'meta']);
    expect(seen.meta).toMatchObject({ merged_into: 'use_survivor', event_count: 0 });
  });

  it('a small log is deleted (cheaper than its CREATE), and the profile keeps working as a tombstone', async () => {
    const p = newProfile();
    await p.apply([`anonymous_id:${uniq('a')}`], tracks(2));
    const rows = await runInDurableObject(p.raw, (_i, state) => {
      const meter = new SqlMeter(state.storage.sql);
      return meter.measure(() =>
        state.storage.transactionSync(() => new ProfileStore(meter).tombstone('use_survivor', 't')),
      ).cost.rowsWritten;
    });
    expect(rows).toBe(1 + 2);
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
      logged: state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM event_log').one().n,
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
