import { pickMostFrequent, UNIQUE_LIST_LIMIT } from '../../audiences/aggregate';
import {
  type AggregateSpec,
  emptyState,
  foldState,
  parseSpecKey,
  type RawEvent,
  type RunningState,
  specMatches,
  specValue,
} from '../../audiences/specs';
import { valueKey } from '../../audiences/values';
import { EventLog } from '../event-log';
import type { Sql } from '../sql-meter';
import { ProfileTables } from '../tables';

/**
 * The Profile object's aggregate tables (a step of `PROFILE_SCHEMA`):
 * - `engage_specs`: per aggregate spec (see specs.ts), the running all-time state as JSON;
 * - `engage_spec_values`: its value frequencies (value specs only), at most VALUE_CAP distinct values;
 * - `engage_window_counts`: per (spec, window), the count of match rows in (lo, hi] at the last
 *   evaluation, moved forward by the rows that entered or left since (window-results.ts);
 * - `engage_matches`: one small row per matching event (its value, no body), kept while a window
 *   can read it (`keep_ms` of the spec), while the event lies in the future (`folded` = 0: not yet
 *   in the state), and as long as the dedupe set remembers its messageId (so a merge can tell an
 *   event counted on both sides). Windowed results are SQL aggregates over these rows.
 */
export const AGGREGATE_PROFILE_SCHEMA = `
  CREATE TABLE engage_specs (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
    keep_ms INTEGER NOT NULL, state TEXT NOT NULL);
  CREATE TABLE engage_spec_values (spec INTEGER NOT NULL, vkey TEXT NOT NULL, n INTEGER NOT NULL,
    first_ts INTEGER NOT NULL, first_id TEXT NOT NULL, PRIMARY KEY (spec, vkey)) WITHOUT ROWID;
  CREATE TABLE engage_matches (spec INTEGER NOT NULL, message_id TEXT NOT NULL, ts INTEGER NOT NULL, value TEXT,
    num REAL, at INTEGER NOT NULL, folded INTEGER NOT NULL, src TEXT NOT NULL DEFAULT '',
    dup INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (spec, message_id)) WITHOUT ROWID;
  CREATE INDEX engage_matches_ts ON engage_matches (spec, ts, message_id);
  CREATE INDEX engage_matches_due ON engage_matches (spec, ts) WHERE folded = 0;
  CREATE TABLE engage_window_counts (spec INTEGER NOT NULL, window_ms INTEGER NOT NULL, lo INTEGER NOT NULL,
    hi INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (spec, window_ms)) WITHOUT ROWID;`;

/** Distinct values a value spec tracks; beyond, new values are not counted (documented in README). */
export const VALUE_CAP = 1000;
/** Events parsed per query while back-filling a new spec from the log: bounds memory, not work. */
const BACKFILL_PAGE = 200;

/** One spec as stored. */
export interface SpecRow {
  id: number;
  spec: AggregateSpec;
  state: RunningState;
}

/** An event being folded in: its messageId, log timestamp and JSON (with `timestamp` as ms). */
export interface FoldEvent {
  messageId: string;
  ts: number;
  raw: RawEvent;
}

/**
 * SQL of the aggregate tables; synchronous, runs inside the apply (or alarm, or merge) transaction.
 * Each table is created on its first write (tables.ts) and reads empty before.
 */
export class AggregateStore {
  private readonly tables: ProfileTables;

  constructor(
    private readonly sql: Sql,
    private readonly noteParsed: (bytes: number) => void = () => {},
    /** Told of every new match row (the incremental window counts). */
    private readonly onMatch: (spec: number, ts: number) => void = () => {},
    /** The profile's event log, read to back-fill a new spec. */
    private readonly log: EventLog = new EventLog(sql),
  ) {
    this.tables = new ProfileTables(sql);
  }

  specs(): Map<string, SpecRow> {
    const rows = this.tables.rows<{ id: number; key: string; keep_ms: number; state: string }>(
      'engage_specs',
      'SELECT id, key, keep_ms, state FROM engage_specs',
    );
    return new Map(
      rows.map((r) => [r.key, { id: r.id, spec: parseSpecKey(r.key, r.keep_ms), state: JSON.parse(r.state) }]),
    );
  }

  /**
   * Brings the stored specs in line with what the definitions read: drops unused ones, creates new
   * ones and back-fills them from the retained event log (what "all time" can mean for a definition
   * over an input no earlier definition aggregated: see README, Retention).
   */
  sync(plan: Map<string, AggregateSpec>, now: number): Map<string, SpecRow> {
    const have = this.specs();
    for (const [key, row] of have) {
      if (plan.has(key)) continue;
      for (const t of ['engage_matches', 'engage_spec_values'] as const)
        this.tables.change(t, `DELETE FROM ${t} WHERE spec = ?`, row.id);
      this.sql.exec('DELETE FROM engage_specs WHERE id = ?', row.id);
      have.delete(key);
    }
    const fresh: AggregateSpec[] = [];
    for (const [key, spec] of plan) {
      const row = have.get(key);
      if (!row) fresh.push(spec);
      else if (row.spec.keepMs !== spec.keepMs) {
        this.sql.exec('UPDATE engage_specs SET keep_ms = ? WHERE id = ?', spec.keepMs, row.id);
        row.spec.keepMs = spec.keepMs;
      }
    }
    for (const row of this.create(fresh, now)) have.set(row.spec.key, row);
    return have;
  }

  /** Creates specs and folds in every matching event of the retained log: one pass, a page at a time. */
  create(specs: readonly AggregateSpec[], now: number): SpecRow[] {
    if (!specs.length) return [];
    const rows = specs.map((spec): SpecRow => {
      const state = emptyState();
      const { id } = this.tables
        .write<{ id: number }>(
          'engage_specs',
          'INSERT INTO engage_specs (key, keep_ms, state) VALUES (?, ?, ?) RETURNING id',
          spec.key,
          spec.keepMs,
          JSON.stringify(state),
        )
        .one();
      return { id, spec, state };
    });
    // Only the events some spec can match: named specs read track events of their names.
    const names = specs.some((s) => s.name === '*') ? null : [...new Set(specs.map((s) => s.name))];
    let after = { ts: Number.MIN_SAFE_INTEGER, id: '' };
    for (;;) {
      const page = this.log.bodiesAfter(after, names, BACKFILL_PAGE);
      for (const e of page) {
        this.noteParsed(e.body.length);
        const raw = { ...JSON.parse(e.body), timestamp: e.ts };
        for (const row of rows) this.fold(row, { messageId: e.message_id, ts: e.ts, raw }, now);
      }
      const last = page.at(-1);
      if (!last || page.length < BACKFILL_PAGE) return rows;
      after = { ts: last.ts, id: last.message_id };
    }
  }

  /**
   * Folds one event into a spec, at most once per messageId (the match row is the proof, so a
   * redelivery or a re-sent merge page changes nothing). A future event waits (folded = 0) until
   * `foldDue` reaches its time. Returns whether the event matched.
   */
  fold(row: SpecRow, e: FoldEvent, now: number, src = ''): boolean {
    if (!specMatches(row.spec, e.raw)) return false;
    const value = specValue(row.spec, e.raw);
    const vkey = value === null ? null : valueKey(value);
    const num = typeof value === 'number' && Number.isFinite(value) ? value : null;
    const due = e.ts <= now;
    const { rowsWritten } = this.tables.write(
      'engage_matches',
      `INSERT INTO engage_matches (spec, message_id, ts, value, num, at, folded, src) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
      row.id,
      e.messageId,
      e.ts,
      vkey,
      num,
      now,
      due ? 1 : 0,
      src,
    );
    if (rowsWritten > 0) this.onMatch(row.id, e.ts);
    if (rowsWritten > 0 && due) this.add(row, e.messageId, e.ts, vkey);
    return true;
  }

  /** Folds the waiting (future) events whose time has come. */
  foldDue(specs: Map<string, SpecRow>, now: number): void {
    const due = this.tables.rows<{ spec: number; message_id: string; ts: number; value: string | null }>(
      'engage_matches',
      'SELECT spec, message_id, ts, value FROM engage_matches WHERE folded = 0 AND ts <= ?',
      now,
    );
    if (!due.length) return;
    const byId = new Map([...specs.values()].map((r) => [r.id, r]));
    for (const m of due) {
      const row = byId.get(m.spec);
      if (row) this.add(row, m.message_id, m.ts, m.value);
      this.sql.exec('UPDATE engage_matches SET folded = 1 WHERE spec = ? AND message_id = ?', m.spec, m.message_id);
    }
  }

  private add(row: SpecRow, id: string, ts: number, vkey: string | null): void {
    row.state = foldState(row.state, { ts, id, value: vkey === null ? null : JSON.parse(vkey) });
    if (row.spec.values && vkey !== null) this.addValue(row, vkey, ts, id, 1);
    this.saveState(row);
  }

  /** Adds `n` (may be negative) occurrences of a value, keeping its first (ts, messageId). */
  addValue(row: SpecRow, vkey: string, ts: number, id: string, n: number): void {
    const cur = this.tables.rows<{ n: number; first_ts: number; first_id: string }>(
      'engage_spec_values',
      'SELECT n, first_ts, first_id FROM engage_spec_values WHERE spec = ? AND vkey = ?',
      row.id,
      vkey,
    )[0];
    if (cur) {
      const earlier = ts < cur.first_ts || (ts === cur.first_ts && id < cur.first_id);
      this.sql.exec(
        'UPDATE engage_spec_values SET n = n + ?, first_ts = ?, first_id = ? WHERE spec = ? AND vkey = ?',
        n,
        earlier ? ts : cur.first_ts,
        earlier ? id : cur.first_id,
        row.id,
        vkey,
      );
    } else if (n > 0 && row.state.distinct < VALUE_CAP) {
      this.tables.write(
        'engage_spec_values',
        'INSERT INTO engage_spec_values (spec, vkey, n, first_ts, first_id) VALUES (?, ?, ?, ?, ?)',
        row.id,
        vkey,
        n,
        ts,
        id,
      );
      row.state = { ...row.state, distinct: row.state.distinct + 1 };
    } else if (n > 0) {
      row.state = { ...row.state, overflow: row.state.overflow + n };
    }
  }

  saveState(row: SpecRow): void {
    this.sql.exec('UPDATE engage_specs SET state = ? WHERE id = ?', JSON.stringify(row.state), row.id);
  }

  /** All-time value-kind results from the frequency table (at most VALUE_CAP rows). */
  valuesResult(row: SpecRow, type: 'most_frequent' | 'unique_list' | 'unique_count'): unknown {
    if (type === 'unique_count') return row.state.distinct;
    if (type === 'unique_list') {
      return this.tables
        .rows<{ vkey: string }>(
          'engage_spec_values',
          'SELECT vkey FROM engage_spec_values WHERE spec = ? ORDER BY first_ts, first_id LIMIT ?',
          row.id,
          UNIQUE_LIST_LIMIT,
        )
        .map((r) => JSON.parse(r.vkey));
    }
    const cursor =
      this.tables.cursor<{ vkey: string; n: number }>(
        'engage_spec_values',
        'SELECT vkey, n FROM engage_spec_values WHERE spec = ? AND n >= 2 ORDER BY n DESC',
        row.id,
      ) ?? [];
    return pickMostFrequent(topCounts(cursor, (r) => ({ value: JSON.parse(r.vkey), n: r.n })));
  }

  /** Drops match rows no window, future fold or dedupe can need any more. */
  prune(now: number, dedupeMs: number): void {
    for (const row of this.specs().values()) {
      // Never a row a stored window count still includes (its lower edge may lag behind now).
      const lo =
        this.tables.rows<{ lo: number | null }>(
          'engage_window_counts',
          'SELECT min(lo) AS lo FROM engage_window_counts WHERE spec = ?',
          row.id,
        )[0]?.lo ?? null;
      this.tables.change(
        'engage_matches',
        'DELETE FROM engage_matches WHERE spec = ? AND ts <= ? AND folded = 1 AND at < ?',
        row.id,
        Math.min(now - row.spec.keepMs, lo ?? Number.MAX_SAFE_INTEGER),
        now - dedupeMs,
      );
    }
  }

  /** Forgets every aggregate (a profile merged away): the tables go, which costs no row per row held. */
  clear(): void {
    for (const t of ['engage_matches', 'engage_spec_values', 'engage_specs', 'engage_window_counts'] as const)
      this.tables.drop(t);
  }
}

/** The rows of a count-descending cursor that share the top count (reads no further). */
export function topCounts<R, T extends { n: number }>(cursor: Iterable<R>, map: (r: R) => T): T[] {
  const out: T[] = [];
  for (const r of cursor) {
    const x = map(r);
    if (out.length && x.n < out[0].n) break;
    out.push(x);
  }
  return out;
}
