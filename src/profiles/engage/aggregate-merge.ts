import { combineStates, parseSpecKey, subtractState } from '../../audiences/specs';
import type { AggregatesExport, EventRow, MatchExport, SpecExport } from '../rpc';
import type { Sql } from '../sql-meter';
import { ProfileTables } from '../tables';
import type { AggregateStore } from './aggregate-store';

/** Where a transfer of match rows stands: the loser's last (spec id, messageId) sent. */
export interface MatchCursor {
  spec: number;
  id: string;
}

const MATCH_PAGE = 2000;

/**
 * Carrying running aggregates through a merge, exactly. The loser's states add to the survivor's;
 * an event counted on both sides (the same messageId applied to both before they merged) must not
 * count twice, so the loser also sends its match rows: a row the survivor already holds is marked
 * `dup` and its contribution is taken out once the whole history is in (`finish`), in the same
 * transaction that adds the loser's states, so results never show a half-merged sum.
 * A row re-sent by a retried absorb is recognised by `src` (the loser it came from) and ignored.
 * The loser's events that feed a spec it never had (a definition it had not evaluated yet) are
 * folded in from its log pages instead.
 */
export class AggregateMerge {
  private readonly tables: ProfileTables;

  constructor(
    private readonly sql: Sql,
    private readonly store: AggregateStore,
  ) {
    this.tables = new ProfileTables(sql);
  }

  /** What the loser hands over (its states and frequency tables; bounded by VALUE_CAP per spec). */
  exportSpecs(): AggregatesExport {
    const specs: SpecExport[] = [];
    for (const row of this.store.specs().values()) {
      const values = this.tables
        .rows<{ vkey: string; n: number; first_ts: number; first_id: string }>(
          'engage_spec_values',
          'SELECT vkey, n, first_ts, first_id FROM engage_spec_values WHERE spec = ?',
          row.id,
        )
        .map((v) => ({ vkey: v.vkey, n: v.n, firstTs: v.first_ts, firstId: v.first_id }));
      specs.push({ key: row.spec.key, keepMs: row.spec.keepMs, state: row.state, values });
    }
    return { specs };
  }

  /** One page of the loser's match rows. */
  matchPage(cursor?: MatchCursor): { rows: MatchExport[]; next?: MatchCursor } {
    const c = cursor ?? { spec: 0, id: '' };
    const rows = this.tables.rows<{
      spec: number;
      key: string;
      message_id: string;
      ts: number;
      value: string | null;
      num: number | null;
      at: number;
      folded: number;
    }>(
      // A match row names a spec, so `engage_specs` exists wherever `engage_matches` does.
      'engage_matches',
      `SELECT m.spec, s.key, m.message_id, m.ts, m.value, m.num, m.at, m.folded
         FROM engage_matches m JOIN engage_specs s ON s.id = m.spec
         WHERE (m.spec, m.message_id) > (?, ?) ORDER BY m.spec, m.message_id LIMIT ?`,
      c.spec,
      c.id,
      MATCH_PAGE,
    );
    const last = rows.at(-1);
    const out = rows.map((r) => ({
      key: r.key,
      messageId: r.message_id,
      ts: r.ts,
      value: r.value,
      num: r.num,
      at: r.at,
      folded: r.folded,
    }));
    return {
      rows: out,
      next: last && rows.length === MATCH_PAGE ? { spec: last.spec, id: last.message_id } : undefined,
    };
  }

  /** Before any of the loser's history arrives: the survivor creates the loser's specs from its own log. */
  start(exp: AggregatesExport | undefined, now: number): void {
    const mine = this.store.specs();
    const theirs = (exp?.specs ?? []).filter((s) => !mine.has(s.key));
    this.store.create(
      theirs.map((s) => parseSpecKey(s.key, s.keepMs)),
      now,
    );
  }

  /** One page of the loser's history: its match rows, and its events for specs it did not have. */
  page(
    loserId: string,
    exp: AggregatesExport | undefined,
    chunk: { events: EventRow[]; matches?: MatchExport[] },
    now: number,
  ): void {
    const mine = this.store.specs();
    for (const r of chunk.matches ?? []) {
      const row = mine.get(r.key);
      if (!row) continue; // a spec dropped meanwhile
      const cur = this.tables.rows<{ folded: number; src: string }>(
        'engage_matches',
        'SELECT folded, src FROM engage_matches WHERE spec = ? AND message_id = ?',
        row.id,
        r.messageId,
      )[0];
      if (!cur) {
        this.tables.write(
          'engage_matches',
          `INSERT INTO engage_matches (spec, message_id, ts, value, num, at, folded, src) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          row.id,
          r.messageId,
          r.ts,
          r.value,
          r.num,
          r.at,
          r.folded,
          loserId,
        );
      } else if (cur.src !== loserId) {
        // Counted here and (if folded there) in the loser's state: subtract one at `finish`.
        this.sql.exec(
          'UPDATE engage_matches SET folded = max(folded, ?), src = ?, dup = ? WHERE spec = ? AND message_id = ?',
          r.folded,
          loserId,
          cur.folded && r.folded ? 1 : 0,
          row.id,
          r.messageId,
        );
      }
    }
    const theirs = new Set((exp?.specs ?? []).map((s) => s.key));
    const missing = [...mine.values()].filter((row) => !theirs.has(row.spec.key));
    if (!missing.length) return;
    for (const e of chunk.events) {
      const raw = { ...JSON.parse(e.body), timestamp: e.ts };
      for (const row of missing) this.store.fold(row, { messageId: e.messageId, ts: e.ts, raw }, now);
    }
  }

  /** Once the whole history is in: adds the loser's states and frequencies, then takes out the doubles. */
  finish(loserId: string, exp: AggregatesExport | undefined): void {
    const mine = this.store.specs();
    const byId = new Map([...mine.values()].map((r) => [r.id, r]));
    for (const s of exp?.specs ?? []) {
      const row = mine.get(s.key);
      if (!row) continue;
      row.state = combineStates(row.state, s.state);
      if (row.spec.values) for (const v of s.values) this.store.addValue(row, v.vkey, v.firstTs, v.firstId, v.n);
    }
    const dups = this.tables.rows<{ spec: number; message_id: string; value: string | null }>(
      'engage_matches',
      'SELECT spec, message_id, value FROM engage_matches WHERE src = ? AND dup = 1',
      loserId,
    );
    for (const d of dups) {
      const row = byId.get(d.spec);
      if (!row) continue;
      const value = d.value === null ? null : JSON.parse(d.value);
      row.state = subtractState(row.state, value);
      if (row.spec.values && d.value !== null) this.store.addValue(row, d.value, Number.MAX_SAFE_INTEGER, '', -1);
    }
    if (dups.length) this.sql.exec('UPDATE engage_matches SET dup = 0 WHERE src = ? AND dup = 1', loserId);
    for (const s of exp?.specs ?? []) {
      const row = mine.get(s.key);
      if (row) this.store.saveState(row);
    }
    for (const row of mine.values()) if (dups.some((d) => d.spec === row.id)) this.store.saveState(row);
  }
}
