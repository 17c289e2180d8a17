import { readMeta } from './meta-row';
import type { MergedRow } from './rpc';
import type { Sql } from './sql-meter';
import type { ProfileTables } from './tables';

type Row = MergedRow & Record<string, SqlStorageValue>;
const byTimeThenId = (a: MergedRow, b: MergedRow) =>
  a.merged_at < b.merged_at ? -1 : a.merged_at > b.merged_at ? 1 : a.profile_id < b.profile_id ? -1 : 1;

/**
 * The profiles merged into this one: inline as one JSON column of the meta row (`merges_json`), so
 * a survivor's first merge costs no table and each merge no row of its own (merges per profile are
 * capped, `MAX_MERGES`, so the column stays small); or, when `merges_json` is NULL (objects created
 * before schema step 6), the `merged_from` table. Writes return the meta columns they change, for
 * the caller's one meta write; in table mode they write the table and return nothing.
 */
export class MergedFromStore {
  constructor(
    private readonly sql: Sql,
    private readonly tables: ProfileTables,
  ) {}

  private inline(): MergedRow[] | undefined {
    const j = readMeta(this.sql, 'merges_json').merges_json;
    return j === null ? undefined : (JSON.parse(j) as MergedRow[]);
  }

  /** Oldest first (then by id). */
  rows(): MergedRow[] {
    const inline = this.inline();
    if (inline) return [...inline].sort(byTimeThenId);
    return this.tables.rows<Row>('merged_from', 'SELECT * FROM merged_from ORDER BY merged_at, profile_id');
  }

  count(): number {
    const inline = this.inline();
    if (inline) return inline.length;
    return this.tables.rows<{ n: number }>('merged_from', 'SELECT count(*) AS n FROM merged_from')[0]?.n ?? 0;
  }

  /** Whether a profile was merged in: not at all, head only (history still arriving), or fully. */
  state(profileId: string): 'none' | 'partial' | 'complete' {
    const inline = this.inline();
    const row = inline
      ? inline.find((r) => r.profile_id === profileId)
      : this.tables.rows<{ complete: number }>(
          'merged_from',
          'SELECT complete FROM merged_from WHERE profile_id = ?',
          profileId,
        )[0];
    return !row ? 'none' : row.complete ? 'complete' : 'partial';
  }

  /** Adds the rows not held yet (one held keeps its first). */
  add(rows: MergedRow[]): { merges_json?: string } {
    const inline = this.inline();
    if (!inline) {
      for (const r of rows)
        this.tables.write(
          'merged_from',
          'INSERT INTO merged_from (profile_id, reason, merged_at, complete) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
          r.profile_id,
          r.reason,
          r.merged_at,
          r.complete,
        );
      return {};
    }
    const held = new Set(inline.map((r) => r.profile_id));
    const fresh = rows.filter((r) => !held.has(r.profile_id) && held.add(r.profile_id));
    return fresh.length ? { merges_json: JSON.stringify([...inline, ...fresh]) } : {};
  }

  /** Marks a merged profile's history as fully copied in. */
  complete(profileId: string): { merges_json?: string } {
    const inline = this.inline();
    if (!inline) {
      this.tables.change('merged_from', 'UPDATE merged_from SET complete = 1 WHERE profile_id = ?', profileId);
      return {};
    }
    return {
      merges_json: JSON.stringify(inline.map((r) => (r.profile_id === profileId ? { ...r, complete: 1 } : r))),
    };
  }
}
