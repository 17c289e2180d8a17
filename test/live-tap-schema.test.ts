// The debugger tap keeps its entries in one ring row (src/ingest/live-tap.ts): a tap written by
// the release that kept a row per entry is upgraded to it, keeping its newest 100 entries in order.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { TAP_SCHEMA, TAP_SIZE } from '../src/ingest/live-tap';
import { migrateSqlite } from '../src/lib/do-schema';
import { uniq } from './kit/workers';

describe('LiveTap schema', () => {
  it('moves the newest entries of the row-per-entry table into the ring, oldest first', async () => {
    const probe = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('tap')));
    const ring = await runInDurableObject(probe, (_i, state) => {
      const sql = state.storage.sql;
      migrateSqlite(sql, TAP_SCHEMA.slice(0, 1));
      for (let i = 0; i < 130; i++) sql.exec('INSERT INTO entries (entry) VALUES (?)', JSON.stringify({ i }));
      migrateSqlite(sql, TAP_SCHEMA);
      const tables = sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE name = 'entries'").toArray();
      return { tables, row: sql.exec<{ entries: string }>('SELECT entries FROM ring').toArray() };
    });
    expect(ring.tables).toEqual([]);
    expect(ring.row).toHaveLength(1);
    const list = JSON.parse(ring.row[0].entries) as { i: number }[];
    expect(list.map((e) => e.i)).toEqual(Array.from({ length: TAP_SIZE }, (_, k) => 30 + k));
  });

  it('a new tap starts with an empty ring', async () => {
    const probe = env.SCHEMA_PROBE.get(env.SCHEMA_PROBE.idFromName(uniq('tap-new')));
    const rows = await runInDurableObject(probe, (_i, state) => {
      migrateSqlite(state.storage.sql, TAP_SCHEMA);
      return state.storage.sql.exec<{ entries: string }>('SELECT entries FROM ring').toArray();
    });
    expect(rows).toEqual([{ entries: '[]' }]);
  });
});
