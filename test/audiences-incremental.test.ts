// In-profile evaluation that stays exact and bounded: 100+ event names in definitions, running
// aggregates beyond the event log's retention, bounded reads on a large profile.
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { parseSpecKey, specKey } from '../src/audiences/specs';
import { currentRevision } from '../src/audiences/store';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { AggregateStore } from '../src/profiles/engage/aggregate-store';
import { WindowResults } from '../src/profiles/engage/window-results';
import { EventLog } from '../src/profiles/event-log';
import type { Profile } from '../src/profiles/profile-do';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import type { TestProfile } from './kit/test-profile';
import { define, ingestMessage, profileObject, uniq } from './kit/workers';

const limits = limitSpec(compileRules(defaultSettings()));
const message = (event: Record<string, unknown>, at?: string): IngestMessage =>
  ingestMessage(event, { messageId: uniq('m'), sourceId: 'src_incr', at });

function newProfile(id = mintProfileId('users')) {
  const stub = profileStub(env, id);
  const key = `user_id:${uniq('u')}`;
  const apply = (messages: IngestMessage[]) =>
    stub.apply({ profileId: id, collection: 'users', keys: [key], messages, limits, emit: false });
  const values = async () => {
    const r = await stub.audienceValues();
    if (r.status !== 'live') throw new Error(`profile is ${r.status}`);
    return Object.fromEntries(r.values.map((v) => [v.key, v.value]));
  };
  return { id, stub, apply, values };
}

describe('in-profile evaluation', () => {
  it('works with more than 100 distinct event names in the definitions (one bound parameter per list)', async () => {
    // Three audiences of 34 event conditions each: 102 names, over DO SQLite's 100 bound parameters.
    const names = Array.from({ length: 102 }, (_, i) => `Wide Event ${i}`);
    for (let a = 0; a < 3; a++) {
      await define('audiences', {
        key: `wide_${a}`,
        definition: { or: names.slice(a * 34, a * 34 + 34).map((event) => ({ event })) },
      });
    }
    await define('computed-traits', { key: 'wide_last', type: 'count', event: 'Wide Event 101' });
    const p = newProfile();
    await p.apply([message({ type: 'track', event: 'Wide Event 101' })]);
    expect(await p.values()).toEqual({ wide_2: true, wide_last: 1 });
  });
});

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('all-time results beyond the event log', () => {
  it('an all-time count over imported history older than retention stays exact, and a back-fill agrees', async () => {
    await define('computed-traits', { key: 'imported_orders', type: 'count', event: 'Imported Order' });
    const p = newProfile();
    // Segment's /v1/import example is from 2012: two such events and one recent.
    await p.apply([
      message({ type: 'track', event: 'Imported Order' }, '2012-05-01T10:00:00.000Z'),
      message({ type: 'track', event: 'Imported Order' }, '2012-06-01T10:00:00.000Z'),
      message({ type: 'track', event: 'Imported Order' }, iso(Date.now() - DAY)),
    ]);
    expect((await p.values()).imported_orders).toBe(3);
    // The alarm applies retention (90 days by event timestamp): the 2012 events leave the log.
    expect(await runDurableObjectAlarm(profileObject(p.id))).toBe(true);
    const log = await p.stub.read({ messageIds: true });
    expect(log.status === 'live' && log.messageIds).toHaveLength(1);
    await p.apply([message({ type: 'track', event: 'Something Else' })]);
    expect((await p.values()).imported_orders).toBe(3);
    // A back-fill (what the work queue asks of each profile) of a new definition over the same input.
    await define('computed-traits', { key: 'imported_orders_too', type: 'count', event: 'Imported Order' });
    expect(await p.stub.refreshAudiences(await currentRevision(env.DB))).toBe('evaluated');
    expect(await p.values()).toMatchObject({ imported_orders: 3, imported_orders_too: 3 });
  });
});

describe('bounded evaluation on a large profile', () => {
  it('an apply on a profile of 10,000 large events reads a fixed budget of rows, parses no event, and is right', async () => {
    const p = newProfile();
    await p.apply([message({ type: 'track', event: 'Init', properties: { n: 0, cat: 'c0' } })]);
    const now = Date.now();
    // 10,000 events of about 28 KB, written in one statement inside the object (fast setup).
    await runInDurableObject(profileObject(p.id), (instance) => {
      const sql = (instance as TestProfile).meter; // writes through the object's own meter
      // In the log's table, as a log this large is (the inline log moves there past its cap).
      new EventLog(sql).moveToTable();
      sql.exec(
        `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)
         INSERT INTO event_log (message_id, ts, type, name, source_id, body)
         SELECT printf('big-%05d', i), ? - (i % 10) * 86400000 - i, 'track', 'Big', 'src_incr',
           json_object('type', 'track', 'event', 'Big', 'messageId', printf('big-%05d', i),
             'properties', json_object('n', i % 7, 'cat', 'c' || (i % 10), 'pad', hex(zeroblob(14000))))
         FROM n`,
        now,
      );
      sql.exec('UPDATE meta SET event_count = (SELECT count(*) FROM event_log)');
    });
    for (const body of [
      { key: 'big_all', type: 'count', event: '*' },
      { key: 'big_sum', type: 'sum', event: '*', property: 'properties.n' },
      { key: 'big_top', type: 'most_frequent', event: '*', property: 'properties.cat' },
      { key: 'big_cats', type: 'unique_count', event: '*', property: 'properties.cat' },
      { key: 'rare_7d', type: 'count', event: 'Rare', within: '7d' },
      { key: 'big_30d', type: 'count', event: 'Big', where: 'properties.n < 3', within: '30d' },
      {
        key: 'rare_max',
        type: 'max',
        event: 'Rare',
        property: 'properties.n',
        within: '30d',
        where: 'properties.n < 3',
      },
    ]) {
      await define('computed-traits', body);
    }
    await define('audiences', { key: 'big_fans', definition: { event: '*', count: { '>=': 10_000 } } });
    await define('audiences', { key: 'busy_30d', definition: { event: '*', within: '30d', count: { '>=': 10_000 } } });
    const cost = () =>
      runInDurableObject(profileObject(p.id), (instance: Profile) => {
        if (!instance.lastApplyCost) throw new Error('no apply measured');
        return instance.lastApplyCost;
      });

    // The first evaluation after the definitions appeared back-fills their aggregates from the log, once.
    let t = Date.now();
    await p.apply([message({ type: 'track', event: 'Big', properties: { n: 1, cat: 'c9' } })]);
    const backfill = { ...(await cost()), wallMs: Date.now() - t };
    expect(backfill.parsedBytes).toBeGreaterThan(10_000 * 28_000);

    // Every apply after that: bounded, whatever the history.
    t = Date.now();
    await p.apply([message({ type: 'track', event: 'Rare', properties: { n: 2, cat: 'c9' } })]);
    const steady = { ...(await cost()), wallMs: Date.now() - t };
    console.log('10k-event profile:', JSON.stringify({ backfill, steady }));
    expect(steady.rowsRead).toBeLessThan(1000);
    expect(steady.parsedBytes).toBe(0);

    let sum = 0;
    let small = 0;
    for (let i = 0; i < 10_000; i++) {
      sum += i % 7;
      if (i % 7 < 3) small++;
    }
    expect(await p.values()).toMatchObject({
      big_all: 10_003,
      big_sum: sum + 3,
      big_top: 'c9', // 1,002 times; c0 1,001 times
      big_cats: 10,
      rare_7d: 1,
      rare_max: 2,
      big_30d: small + 1,
      busy_30d: true,
      big_fans: true,
    });
  }, 120_000);
});

describe('incremental window counts', () => {
  it('equal a recount at every instant as events enter and leave windows, through pruning', async () => {
    const p = newProfile();
    await p.apply([message({ type: 'track', event: 'Init' })]);
    const base = Date.parse('2030-01-01T00:00:00.000Z');
    const HOUR = 3_600_000;
    const mismatches = await runInDurableObject(profileObject(p.id), (_i, state) => {
      const windows = new WindowResults(state.storage.sql);
      const store = new AggregateStore(state.storage.sql, undefined, (spec, ts) => windows.onMatch(spec, ts));
      const [row] = store.create(
        [parseSpecKey(specKey({ name: 'Tick', whereSource: null }, null, false), 6 * HOUR)],
        base,
      );
      // Events every 7 minutes over two days, some arriving late (timestamps in the past) or early.
      const events = Array.from({ length: 400 }, (_, i) => ({
        id: `t${String(i).padStart(4, '0')}`,
        ts: base + i * 7 * 60_000,
      }));
      const bad: string[] = [];
      let seed = 3;
      const rand = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      let next = 0;
      for (let now = base; now < base + 48 * HOUR; now += Math.floor(rand() * 40) * 60_000 + 1) {
        while (next < events.length && events[next].ts <= now + 30 * 60_000) {
          const e = events[next++];
          const arrivesAt = rand() < 0.2 ? e.ts - Math.floor(rand() * 2 * HOUR) : e.ts; // late or early
          store.fold(
            row,
            { messageId: e.id, ts: arrivesAt, raw: { type: 'track', event: 'Tick', timestamp: arrivesAt } },
            now,
          );
        }
        if (rand() < 0.1) store.prune(now, 0);
        for (const w of [HOUR, 6 * HOUR]) {
          const got = windows.count(row, w, now);
          const want = state.storage.sql
            .exec<{ n: number }>(
              'SELECT count(*) AS n FROM engage_matches WHERE spec = ? AND ts > ? AND ts <= ?',
              row.id,
              now - w,
              now,
            )
            .one().n;
          if (got !== want) bad.push(`${w / HOUR}h at +${(now - base) / 60_000}m: ${got} != ${want}`);
        }
      }
      return bad;
    });
    expect(mismatches).toEqual([]);
  });
});
