import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import { migrateSqlite } from '../src/lib/do-schema';
import { FRESH_META, writeMeta } from '../src/profiles/meta-row';
import { PROFILE_FRESH, PROFILE_SCHEMA, ProfileStore } from '../src/profiles/store';
import { LAZY_TABLES, type LazyTable, ProfileTables, reloadTables } from '../src/profiles/tables';
import { TestProfile } from './kit/test-profile';
import { ingestMessage, uniq } from './kit/workers';

const limits = limitSpec(compileRules(defaultSettings()));
const schemaOf = (sql: SqlStorage) =>
  sql
    .exec<{ type: string; name: string; sql: string | null }>(
      "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .toArray();

/**
 * A Profile object written by an older release meets the current code: its storage, built to
 * version `from` of `PROFILE_SCHEMA` (with what that version could hold), is upgraded by the real
 * constructor to the latest version, keeps its data, and takes and reads events as a new one does.
 */
describe('Profile object schema', () => {
  const latest = PROFILE_SCHEMA.length;
  it("a new object's layout, once every table created on first use exists, equals what every step builds", async () => {
    const stepped = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('stepped')));
    const fresh = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('fresh')));
    const byName = (rows: ReturnType<typeof schemaOf>) => [...rows].sort((a, b) => a.name.localeCompare(b.name));
    const want = await runInDurableObject(stepped, (_i, state) => {
      migrateSqlite(state.storage.sql, PROFILE_SCHEMA);
      // The stepped object keeps its version in `_schema`; a fresh one in its meta row.
      return byName(schemaOf(state.storage.sql).filter((r) => r.name !== '_schema'));
    });
    const got = await runInDurableObject(fresh, (_i, state) => {
      const sql = state.storage.sql;
      migrateSqlite(sql, PROFILE_SCHEMA, PROFILE_FRESH);
      // Born with the fresh layout: no `_schema` table, and no meta row either (its first write
      // inserts it), so the version is the DEFAULT of the meta row's column.
      const meta = sql.exec('SELECT count(*) AS n FROM meta').one().n;
      const version = sql
        .exec<{ d: string }>("SELECT dflt_value AS d FROM pragma_table_info('meta') WHERE name = 'schema_version'")
        .one().d;
      // The row the first write inserts holds what `FRESH_META` (the readers' answer until then) says.
      const born = sql.exec('INSERT INTO meta (one) VALUES (1) RETURNING *').one();
      sql.exec('DELETE FROM meta');
      const before = schemaOf(sql).map((r) => r.name);
      reloadTables(sql);
      const tables = new ProfileTables(sql);
      for (const t of Object.keys(LAZY_TABLES) as LazyTable[]) tables.ensure(t);
      return { schema: byName(schemaOf(sql)), version, meta, born, before };
    });
    // Only what a new profile's first apply always writes, up front.
    expect(got.before.sort()).toEqual(['meta']);
    // `IF NOT EXISTS` is part of the text SQLite keeps: compare the layouts without it.
    const norm = (rows: ReturnType<typeof schemaOf>) =>
      rows.map((r) => ({
        ...r,
        sql:
          r.sql
            ?.replace(/ IF NOT EXISTS/g, '')
            .replace(/\s+/g, ' ')
            .trim() ?? null,
      }));
    // The one difference: the DEFAULTs a fresh meta row is born with, since the fresh layout leaves
    // the row to the first write. An upgraded object's row exists from step 1, so its columns'
    // DEFAULTs never apply (and NULL there means "in its own table", for its traits, merges, log).
    const bornDefaults = [
      [" traits_json TEXT DEFAULT '{}',", ' traits_json TEXT,'],
      [" merges_json TEXT DEFAULT '[]',", ' merges_json TEXT,'],
      [` schema_version INTEGER DEFAULT ${latest},`, ' schema_version INTEGER,'],
      [" log_json TEXT DEFAULT '[]')", ' log_json TEXT)'],
    ] as const;
    const born = norm(got.schema).map((r) => {
      if (r.name !== 'meta') return r;
      let sql = r.sql ?? '';
      for (const [dflt, stepped] of bornDefaults) {
        expect(sql).toContain(dflt);
        sql = sql.replace(dflt, stepped);
      }
      return { ...r, sql };
    });
    expect(born).toEqual(norm(want));
    expect(got).toMatchObject({ version: String(latest), meta: 0 });
    expect(got.born).toEqual({ one: 1, schema_version: latest, ...FRESH_META });
  });
  it('an object born with the fresh layout takes a later step and records it in its meta row', async () => {
    const probe = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('later')));
    const seen = await runInDurableObject(probe, (_i, state) => {
      const sql = state.storage.sql;
      migrateSqlite(sql, PROFILE_SCHEMA, PROFILE_FRESH);
      writeMeta(sql, { id: 'usr_kept' }); // its first write
      const later = [...PROFILE_SCHEMA, 'ALTER TABLE meta ADD COLUMN later TEXT'];
      migrateSqlite(sql, later, PROFILE_FRESH);
      migrateSqlite(sql, later, PROFILE_FRESH); // once only: a second start runs nothing
      return {
        meta: sql
          .exec<{ v: number; later: string | null; id: string }>('SELECT schema_version AS v, later, id FROM meta')
          .toArray(),
        tables: schemaOf(sql).map((r) => r.name),
      };
    });
    expect(seen.meta).toEqual([{ v: latest + 1, later: null, id: 'usr_kept' }]);
    expect(seen.tables).not.toContain('_schema');
  });
  it('a fresh-born object not written yet takes a later step: its row is written first, then versioned', async () => {
    const probe = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('later')));
    const seen = await runInDurableObject(probe, (_i, state) => {
      const sql = state.storage.sql;
      migrateSqlite(sql, PROFILE_SCHEMA, PROFILE_FRESH);
      const rows = () => sql.exec('SELECT count(*) AS n FROM meta').one().n;
      const empty = rows();
      migrateSqlite(sql, PROFILE_SCHEMA, PROFILE_FRESH); // a restart at the same version: nothing to write
      const restarted = rows();
      // The step's UPDATE needs the row, so it is inserted (with the defaults it is born with) first.
      const later = [...PROFILE_SCHEMA, "ALTER TABLE meta ADD COLUMN later TEXT; UPDATE meta SET later = 'set'"];
      migrateSqlite(sql, later, PROFILE_FRESH);
      migrateSqlite(sql, later, PROFILE_FRESH); // once only
      const store = new ProfileStore(sql);
      return {
        empty,
        restarted,
        meta: sql.exec('SELECT * FROM meta').toArray(),
        read: { meta: store.meta(), traits: store.traits(), merges: store.mergedFrom() },
        tables: schemaOf(sql).map((r) => r.name),
      };
    });
    expect(seen).toMatchObject({ empty: 0, restarted: 0 });
    expect(seen.meta).toEqual([{ one: 1, ...FRESH_META, schema_version: latest + 1, later: 'set' }]);
    expect(seen.read).toEqual({ meta: expect.objectContaining({ id: null, version: 0 }), traits: {}, merges: [] });
    expect(seen.tables).toEqual(['meta']);
  });
  it('an object whose versionAt row is missing and whose column has no DEFAULT refuses to guess its version', async () => {
    const probe = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('nodefault')));
    const error = await runInDurableObject(probe, (_i, state) => {
      const layout = {
        script: 'CREATE TABLE v (one INTEGER PRIMARY KEY, n INTEGER)',
        versionAt: { table: 'v', column: 'n' },
      };
      migrateSqlite(state.storage.sql, ['CREATE TABLE v (one INTEGER PRIMARY KEY, n INTEGER)'], layout);
      try {
        migrateSqlite(state.storage.sql, ['CREATE TABLE v (one INTEGER PRIMARY KEY, n INTEGER)', 'SELECT 1'], layout);
        return undefined;
      } catch (err) {
        return String(err);
      }
    });
    expect(error).toContain('schema version is unknown');
  });
  for (let from = 1; from < latest; from++) {
    it(`upgrades an object from version ${from} to ${latest}, keeping its identifiers, traits and events`, async () => {
      const probe = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('schema')));
      const fresh = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('fresh')));
      const expected = await runInDurableObject(fresh, (_i, state) => {
        migrateSqlite(state.storage.sql, PROFILE_SCHEMA);
        return schemaOf(state.storage.sql);
      });
      const profileId = `usr_${uniq('old')}`;
      const key = `user_id:${uniq('u')}`;
      const old = ingestMessage(
        { type: 'identify', userId: key.slice(8), traits: { plan: 'pro' } },
        { messageId: uniq('m'), sourceId: 'src_old' },
      );
      const next = ingestMessage(
        { type: 'track', event: 'After upgrade', userId: key.slice(8) },
        { messageId: uniq('m'), sourceId: 'src_old' },
      );

      await runInDurableObject(probe, async (_i, state) => {
        const sql = state.storage.sql;
        migrateSqlite(sql, PROFILE_SCHEMA.slice(0, from));
        // What an object of that version holds, written directly.
        const at = Date.parse(old.event.timestamp);
        sql.exec(
          `UPDATE meta SET id = ?, collection = 'users', version = 1, event_count = 1, created_at = ?, updated_at = ?,
             first_message_id = ?, first_source_id = 'src_old', last_message_id = ?, last_source_id = 'src_old'`,
          profileId,
          old.event.timestamp,
          old.event.timestamp,
          old.event.messageId,
          old.event.messageId,
        );
        if (from < 5)
          sql.exec(
            "INSERT INTO identifiers (key, kind, value, source_id, first_message_id, created_at) VALUES (?, 'user_id', ?, 'src_old', ?, ?)",
            key,
            key.slice(8),
            old.event.messageId,
            old.event.timestamp,
          );
        // Step 5 moved the identifiers into the meta row.
        else
          sql.exec(
            'UPDATE meta SET identifiers_json = ?',
            JSON.stringify({
              [key]: {
                kind: 'user_id',
                value: key.slice(8),
                source_id: 'src_old',
                first_message_id: old.event.messageId,
                created_at: old.event.timestamp,
              },
            }),
          );
        sql.exec(
          "INSERT INTO traits (key, value, ts, message_id, source_id) VALUES ('plan', '\"pro\"', ?, ?, 'src_old')",
          at,
          old.event.messageId,
        );
        sql.exec(
          // The log's table as that version named it (step 4 made `events` `event_log`).
          `INSERT INTO ${from >= 4 ? 'event_log' : 'events'} (message_id, ts, type, name, source_id, body)
           VALUES (?, ?, 'identify', '', 'src_old', ?)`,
          old.event.messageId,
          at,
          JSON.stringify(old.event),
        );
        sql.exec('INSERT INTO seen (message_id, at) VALUES (?, ?)', old.event.messageId, Date.now());
        expect(sql.exec<{ version: number }>('SELECT version FROM _schema').one().version).toBe(from);

        // The current class on that storage: its constructor migrates before anything else runs.
        const profile = new TestProfile(state, env);
        await state.blockConcurrencyWhile(async () => {}); // runs once the constructor's migration has
        expect(sql.exec<{ version: number }>('SELECT version FROM _schema').one().version).toBe(latest);
        expect(schemaOf(sql)).toEqual(expected);

        expect(profile.describe(profileId)).toMatchObject({ status: 'live' });
        const replay = await profile.apply({
          profileId,
          collection: 'users',
          keys: [key],
          messages: [old],
          limits,
          emit: false,
        });
        expect(replay).toMatchObject({ status: 'ok', applied: 0 }); // the old object's dedupe survived
        const applied = await profile.apply({
          profileId,
          collection: 'users',
          keys: [key],
          messages: [next],
          limits,
          emit: false,
        });
        expect(applied).toMatchObject({ status: 'ok', applied: 1 });

        const read = profile.read({ identifiers: true, traits: true, messageIds: true });
        if (read.status !== 'live') throw new Error(`profile is ${read.status}`);
        expect(read.identifiers?.map((r) => r.key)).toEqual([key]);
        expect(read.traits?.map((t) => [t.key, t.value])).toEqual([['plan', 'pro']]);
        expect(read.messageIds?.sort()).toEqual([old.event.messageId, next.event.messageId].sort());
        expect(read.meta).toMatchObject({ id: profileId, event_count: 2 });
        await state.storage.deleteAlarm(); // the probe has no alarm handler
      });
    });
  }
});
