import { pickMostFrequent, UNIQUE_LIST_LIMIT } from '../../audiences/aggregate';
import type { Sql } from '../sql-meter';
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
  constructor(private readonly sql: Sql) {}

  /** Events of a spec in (now - windowMs, now]. */
  count(row: SpecRow, windowMs: number, now: number): number {
    const lo = now - windowMs;
    const cur = this.sql
      .exec<{ lo: number; hi: number; n: number }>(
        'SELECT lo, hi, n FROM engage_window_counts WHERE spec = ? AND window_ms = ?',
        row.id,
        windowMs,
      )
      .toArray()[0];
    let n: number;
    if (cur && cur.lo === lo && cur.hi === now) return cur.n;
    if (cur && lo >= cur.lo && now >= cur.hi && lo < cur.hi) {
      n = cur.n - this.rows(row, cur.lo, lo) + this.rows(row, cur.hi, now);
    } else {
      n = this.rows(row, lo, now); // first time, a clock going back, or a jump past the window
    }
    this.sql.exec(
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
    this.sql.exec('UPDATE engage_window_counts SET n = n + 1 WHERE spec = ? AND lo < ? AND ? <= hi', spec, ts, ts);
  }

  /** Forgets every stored count (after rows were written without `onMatch`). */
  invalidate(): void {
    this.sql.exec('DELETE FROM engage_window_counts');
  }

  /** Per spec id, the earliest event still waiting for its time (one query over the partial index). */
  nextFuture(): Map<number, number> {
    const rows = this.sql
      .exec<{ spec: number; ts: number }>(
        'SELECT spec, min(ts) AS ts FROM engage_matches WHERE folded = 0 GROUP BY spec',
      )
      .toArray();
    return new Map(rows.map((r) => [r.spec, r.ts]));
  }

  private rows(row: SpecRow, lo: number, hi: number): number {
    if (hi <= lo) return 0;
    return this.sql
      .exec<Counts>('SELECT count(*) AS n FROM engage_matches WHERE spec = ? AND ts > ? AND ts <= ?', row.id, lo, hi)
      .one().n;
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
        const r = this.sql
          .exec<{ c: number; s: number | null; mn: number | null; mx: number | null }>(
            `SELECT count(num) AS c, sum(num) AS s, min(num) AS mn, max(num) AS mx ${range}`,
            ...args,
          )
          .one();
        if (!r.c) return null;
        return type === 'sum' ? r.s : type === 'avg' ? (r.s ?? 0) / r.c : type === 'min' ? r.mn : r.mx;
      }
      case 'first':
      case 'last': {
        const dir = type === 'first' ? 'ASC' : 'DESC';
        const r = this.sql
          .exec<{ value: string }>(
            `SELECT value ${range} AND value IS NOT NULL ORDER BY ts ${dir}, message_id ${dir} LIMIT 1`,
            ...args,
          )
          .toArray()[0];
        return r ? JSON.parse(r.value) : null;
      }
      case 'unique_count':
        return this.sql.exec<{ n: number }>(`SELECT count(DISTINCT value) AS n ${range}`, ...args).one().n;
      case 'unique_list':
        return this.sql
          .exec<{ value: string }>(
            `SELECT value FROM (SELECT value, ts, message_id,
               row_number() OVER (PARTITION BY value ORDER BY ts, message_id) AS nth ${range} AND value IS NOT NULL)
             WHERE nth = 1 ORDER BY ts, message_id LIMIT ?`,
            ...args,
            UNIQUE_LIST_LIMIT,
          )
          .toArray()
          .map((r) => JSON.parse(r.value));
      default: {
        const cursor = this.sql.exec<{ value: string; n: number }>(
          `SELECT value, count(*) AS n ${range} AND value IS NOT NULL GROUP BY value HAVING n >= 2 ORDER BY n DESC`,
          ...args,
        );
        return pickMostFrequent(topCounts(cursor, (r) => ({ value: JSON.parse(r.value), n: r.n })));
      }
    }
  }

  /** The earliest match time in (lo, hi] (index lookups: one row). */
  firstIn(row: SpecRow, lo: number, hi = Number.MAX_SAFE_INTEGER): number | null {
    return this.sql
      .exec<{ ts: number | null }>(
        'SELECT min(ts) AS ts FROM engage_matches WHERE spec = ? AND ts > ? AND ts <= ?',
        row.id,
        lo,
        hi,
      )
      .one().ts;
  }
}
