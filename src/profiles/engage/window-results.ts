import { pickMostFrequent, UNIQUE_LIST_LIMIT } from '../../audiences/aggregate';
import type { Sql } from '../sql-meter';
import { ProfileTables } from '../tables';
import { type SpecRow, topCounts } from './aggregate-store';

type Window = { lo: number; hi: number };
type Counts = { n: number };

/**
 * Windowed results, read from the match rows of the window only (SQL aggregates, never event
 * bodies). Counts — event conditions ("at least N times in 30 days") and count traits, the common
 * case — are incremental: the count over (lo, hi] of the last evaluation moves forward by the rows
 * that left the window and those that came into it, so an apply reads only what changed. New match
 * rows inside a stored window are added as they are written (`onMatch`); a merge, which writes rows
 * without folding, drops the stored counts (`invalidate`), and the next evaluation recounts once.
 */
export class WindowResults {
  private readonly tables: ProfileTables;

  /** Reads `engage_matches` (none yet: no rows) and keeps `engage_window_counts`, both created on first write. */
  constructor(sql: Sql) {
    this.tables = new ProfileTables(sql);
  }

  /** Events of a spec in (now - windowMs, now]. */
  count(row: SpecRow, windowMs: number, now: number): number {
    const lo = now - windowMs;
    const cur = this.tables.rows<{ lo: number; hi: number; n: number }>(
      'engage_window_counts',
      'SELECT lo, hi, n FROM engage_window_counts WHERE spec = ? AND window_ms = ?',
      row.id,
      windowMs,
    )[0];
    let n: number;
    if (cur && cur.lo === lo && cur.hi === now) return cur.n;
    if (cur && lo >= cur.lo && now >= cur.hi && lo < cur.hi) {
      n = cur.n - this.rows(row, cur.lo, lo) + this.rows(row, cur.hi, now);
    } else {
      n = this.rows(row, lo, now); // first time, a clock going back, or a jump past the window
    }
    this.tables.write(
      'engage_window_counts',
      `INSERT INTO engage_window_counts (spec, window_ms, lo, hi, n) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (spec, window_ms) DO UPDATE SET lo = excluded.lo, hi = excluded.hi, n = excluded.n`,
      row.id,
      windowMs,
      lo,
      now,
      n,
    );
    return n;
  }

  /** A match row was written: stored windows that cover its time count it now. */
  onMatch(spec: number, ts: number): void {
    this.tables.change(
      'engage_window_counts',
      'UPDATE engage_window_counts SET n = n + 1 WHERE spec = ? AND lo < ? AND ? <= hi',
      spec,
      ts,
      ts,
    );
  }

  /** Forgets every stored count (after rows were written without `onMatch`). */
  invalidate(): void {
    this.tables.change('engage_window_counts', 'DELETE FROM engage_window_counts');
  }

  /** Per spec id, the earliest event still waiting for its time (one query over the partial index). */
  nextFuture(): Map<number, number> {
    const rows = this.tables.rows<{ spec: number; ts: number }>(
      'engage_matches',
      'SELECT spec, min(ts) AS ts FROM engage_matches WHERE folded = 0 GROUP BY spec',
    );
    return new Map(rows.map((r) => [r.spec, r.ts]));
  }

  private rows(row: SpecRow, lo: number, hi: number): number {
    if (hi <= lo) return 0;
    return (
      this.tables.rows<Counts>(
        'engage_matches',
        'SELECT count(*) AS n FROM engage_matches WHERE spec = ? AND ts > ? AND ts <= ?',
        row.id,
        lo,
        hi,
      )[0]?.n ?? 0
    );
  }

  /** A computed trait's value over the window (lo, hi], aggregated in SQL over the match rows. */
  windowResult(row: SpecRow, type: string, w: Window): unknown {
    const range = 'FROM engage_matches WHERE spec = ? AND ts > ? AND ts <= ?';
    const args = [row.id, w.lo, w.hi];
    switch (type) {
      case 'count':
        return this.count(row, w.hi - w.lo, w.hi);
      case 'sum':
      case 'avg':
      case 'min':
      case 'max': {
        const r = this.tables.rows<{ c: number; s: number | null; mn: number | null; mx: number | null }>(
          'engage_matches',
          `SELECT count(num) AS c, sum(num) AS s, min(num) AS mn, max(num) AS mx ${range}`,
          ...args,
        )[0];
        if (!r?.c) return null;
        return type === 'sum' ? r.s : type === 'avg' ? (r.s ?? 0) / r.c : type === 'min' ? r.mn : r.mx;
      }
      case 'first':
      case 'last': {
        const dir = type === 'first' ? 'ASC' : 'DESC';
        const r = this.tables.rows<{ value: string }>(
          'engage_matches',
          `SELECT value ${range} AND value IS NOT NULL ORDER BY ts ${dir}, message_id ${dir} LIMIT 1`,
          ...args,
        )[0];
        return r ? JSON.parse(r.value) : null;
      }
      case 'unique_count':
        return (
          this.tables.rows<{ n: number }>('engage_matches', `SELECT count(DISTINCT value) AS n ${range}`, ...args)[0]
            ?.n ?? 0
        );
      case 'unique_list':
        return this.tables
          .rows<{ value: string }>(
            'engage_matches',
            `SELECT value FROM (SELECT value, ts, message_id,
               row_number() OVER (PARTITION BY value ORDER BY ts, message_id) AS nth ${range} AND value IS NOT NULL)
             WHERE nth = 1 ORDER BY ts, message_id LIMIT ?`,
            ...args,
            UNIQUE_LIST_LIMIT,
          )
          .map((r) => JSON.parse(r.value));
      default: {
        const cursor =
          this.tables.cursor<{ value: string; n: number }>(
            'engage_matches',
            `SELECT value, count(*) AS n ${range} AND value IS NOT NULL GROUP BY value HAVING n >= 2 ORDER BY n DESC`,
            ...args,
          ) ?? [];
        return pickMostFrequent(topCounts(cursor, (r) => ({ value: JSON.parse(r.value), n: r.n })));
      }
    }
  }

  /** The earliest match time in (lo, hi] (index lookups: one row). */
  firstIn(row: SpecRow, lo: number, hi = Number.MAX_SAFE_INTEGER): number | null {
    return (
      this.tables.rows<{ ts: number | null }>(
        'engage_matches',
        'SELECT min(ts) AS ts FROM engage_matches WHERE spec = ? AND ts > ? AND ts <= ?',
        row.id,
        lo,
        hi,
      )[0]?.ts ?? null
    );
  }
}
