import type { Meta } from './rpc';
import type { Sql } from './sql-meter';

// The meta row of a profile born with `PROFILE_FRESH` (schema.ts) is not written by its layout but
// by its first write (a row billed once, not twice): until then the table is empty, readers answer
// the row it would hold (`FRESH_META`, the columns' DEFAULTs there) and every write is an upsert
// (the inline log's CTE, inline-log.ts `INLINE_ROWS`, reads no row then: an empty log, as '[]').
// Objects born before hold their row from their first schema step; nothing changes for them.

/** The meta row's columns the stores read and write: `Meta` and the JSON columns. */
export type MetaRow = Meta & {
  identifiers_json: string;
  traits_json: string | null;
  merges_json: string | null;
  log_json: string | null;
};
type Column = keyof MetaRow;

/**
 * The meta row of a profile not written yet: the DEFAULTs of `PROFILE_FRESH`'s meta columns
 * (test/profile-schema.test.ts holds them equal). Its JSON columns are inline and empty.
 */
export const FRESH_META: Readonly<MetaRow> = {
  id: null,
  collection: null,
  merged_into: null,
  pending: null,
  version: 0,
  event_count: 0,
  created_at: null,
  updated_at: null,
  last_seen_at: null,
  first_message_id: null,
  first_source_id: null,
  last_message_id: null,
  last_source_id: null,
  identifiers_json: '{}',
  traits_json: '{}',
  merges_json: '[]',
  log_json: '[]',
};

/**
 * Columns of the meta row, or of `FRESH_META` while it is not written yet. One read; with a meter
 * that keeps reads (`SqlMeter.memo`), the whole row once until the next write.
 */
export function readMeta<K extends Column>(sql: Sql, ...columns: K[]): Pick<MetaRow, K> {
  const row = sql.memo
    ? sql.memo('meta', () => sql.exec<MetaRow & Record<string, SqlStorageValue>>('SELECT * FROM meta').toArray()[0])
    : sql
        .exec<Pick<MetaRow, K> & Record<string, SqlStorageValue>>(`SELECT ${columns.join(', ')} FROM meta`)
        .toArray()[0];
  const from: Pick<MetaRow, K> = row ?? FRESH_META;
  // A copy of the columns asked for: a kept row is shared.
  return Object.fromEntries(columns.map((c) => [c, from[c]])) as Pick<MetaRow, K>;
}

/**
 * Writes the meta row in one statement, one row either way: `set` on the row, which is inserted
 * (the other columns at their defaults) if the profile was not written yet; `add` adds to the
 * counters (to their defaults, in a new row).
 */
export function writeMeta(
  sql: Sql,
  set: Partial<MetaRow>,
  add: Partial<Record<'version' | 'event_count', number>> = {},
): void {
  const sets = Object.entries(set) as [Column, SqlStorageValue][];
  const adds = Object.entries(add) as [keyof typeof add, number][];
  if (!sets.length && !adds.length) return;
  const columns = [...sets.map(([k]) => k), ...adds.map(([k]) => k)];
  const updates = [...sets.map(([k]) => `${k} = excluded.${k}`), ...adds.map(([k]) => `${k} = ${k} + ?`)];
  sql.exec(
    `INSERT INTO meta (one, ${columns.join(', ')}) VALUES (1${', ?'.repeat(columns.length)})
     ON CONFLICT (one) DO UPDATE SET ${updates.join(', ')}`,
    ...sets.map(([, v]) => v),
    ...adds.map(([k, n]) => FRESH_META[k] + n),
    ...adds.map(([, n]) => n),
  );
}
