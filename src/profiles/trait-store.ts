import { readMeta } from './meta-row';
import type { TraitRow } from './rpc';
import type { Sql } from './sql-meter';
import type { ProfileTables } from './tables';
import { type StampedValue, wins } from './traits';

/**
 * Most bytes of JSON a profile's traits take inline in its meta row. Past it they move to the
 * `traits` table (a row each) for good: the meta row is rewritten by every apply and must stay
 * far below SQLite's 2 MB a row, and a profile with that many traits is rare.
 */
export const INLINE_TRAITS_BYTES = 128 * 1024;

/** One trait inline: its value and what decides last-write-wins. */
interface InlineTrait {
  value: unknown;
  ts: number;
  message_id: string;
  source_id: string | null;
}
type Inline = Record<string, InlineTrait>;

const utf8 = new TextEncoder();
const byteLength = (s: string) => (s.length * 3 <= INLINE_TRAITS_BYTES ? s.length : utf8.encode(s).length);

/**
 * A profile's traits: inline as one JSON column of the meta row (`traits_json`, key → value and
 * stamp), so an identify's traits cost no row of their own and a new profile no traits table; or,
 * when `traits_json` is NULL, one row each in the `traits` table (objects created before schema
 * step 6, and profiles whose traits outgrew `INLINE_TRAITS_BYTES`). Changes go through a
 * `TraitWriter`, whose `patch()` the caller folds into its one meta write.
 */
export class TraitStore {
  constructor(
    private readonly sql: Sql,
    private readonly tables: ProfileTables,
  ) {}

  /** The inline traits, or undefined when they live in the table. */
  inline(): Inline | undefined {
    return this.parse(readMeta(this.sql, 'traits_json').traits_json);
  }

  private parse(j: string | null): Inline | undefined {
    return j === null ? undefined : (JSON.parse(j) as Inline);
  }

  /** Every trait, by key; `traitsJson`: the meta row's column when the caller read it already. */
  rows(traitsJson?: string | null): TraitRow[] {
    const inline = traitsJson === undefined ? this.inline() : this.parse(traitsJson);
    if (!inline)
      return this.tables.rows<TraitRow & Record<string, SqlStorageValue>>(
        'traits',
        'SELECT * FROM traits ORDER BY key',
      );
    return Object.keys(inline)
      .sort()
      .map((key) => {
        const t = inline[key];
        return {
          key,
          value: JSON.stringify(t.value ?? null),
          ts: t.ts,
          message_id: t.message_id,
          source_id: t.source_id,
        };
      });
  }

  /** A writer for the traits of one transaction (read once, written once). */
  writer(): TraitWriter {
    return new TraitWriter(this.tables, this);
  }
}

/** Collects last-write-wins changes; `patch()` gives the meta columns to write with them. */
export class TraitWriter {
  private map: Inline | undefined | null = null; // null: not read yet; undefined: the table holds them
  private dirty = false;

  constructor(
    private readonly tables: ProfileTables,
    private readonly store: TraitStore,
  ) {}

  /** Takes each trait that wins last-write-wins against the stored one. */
  apply(stamped: Record<string, StampedValue>): void {
    if (!Object.keys(stamped).length) return;
    if (this.map === null) this.map = this.store.inline();
    const map = this.map;
    for (const [key, v] of Object.entries(stamped)) {
      if (!map) {
        this.writeRow(key, v);
        continue;
      }
      const cur = Object.hasOwn(map, key) ? map[key] : undefined;
      if (!wins(v, cur && { ts: cur.ts, messageId: cur.message_id })) continue;
      map[key] = { value: v.value ?? null, ts: v.ts, message_id: v.messageId, source_id: v.sourceId ?? null };
      this.dirty = true;
    }
  }

  /**
   * The meta columns the changes need: the inline JSON, or NULL once it outgrew the cap and its
   * traits were written to the table (here, inside the caller's transaction).
   */
  patch(): { traits_json?: string | null } {
    if (!this.dirty || !this.map) return {};
    const json = JSON.stringify(this.map);
    if (byteLength(json) <= INLINE_TRAITS_BYTES) return { traits_json: json };
    for (const [key, t] of Object.entries(this.map))
      this.writeRow(key, { value: t.value, ts: t.ts, messageId: t.message_id, sourceId: t.source_id ?? undefined });
    return { traits_json: null };
  }

  /** The table's last-write-wins: one read and at most one row per trait. */
  private writeRow(key: string, v: StampedValue): void {
    const cur = this.tables.rows<{ ts: number; message_id: string }>(
      'traits',
      'SELECT ts, message_id FROM traits WHERE key = ?',
      key,
    )[0];
    if (!wins(v, cur && { ts: cur.ts, messageId: cur.message_id })) return;
    this.tables.write(
      'traits',
      'INSERT OR REPLACE INTO traits (key, value, ts, message_id, source_id) VALUES (?, ?, ?, ?, ?)',
      key,
      JSON.stringify(v.value ?? null),
      v.ts,
      v.messageId,
      v.sourceId ?? null,
    );
  }
}
