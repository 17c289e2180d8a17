export { INLINE_LOG_BYTES, type LogPatch, LogWriter } from './inline-log';

import { INLINE_ROWS, type LogPatch, type LogTarget, LogWriter, ROW_JSON } from './inline-log';
import { readMeta, writeMeta } from './meta-row';
import type { EventQuery, EventRow, HistoryChunk, HistoryCursor, HistoryPage } from './rpc';
import type { Sql } from './sql-meter';
import { ProfileTables } from './tables';

/** Event history kept per profile (DESIGN.md §3) and how long applied messageIds are remembered. */
export const RETENTION = { maxAgeMs: 90 * 86_400_000, maxEvents: 10_000, seenMs: 14 * 86_400_000 };
export type Retention = typeof RETENTION;

/**
 * The retention of this deployment: `PROFILE_EVENT_RETENTION_DAYS` / `_COUNT` vars (wrangler.toml).
 * Deployment-wide vars rather than a per-workspace setting: retention is a storage-cost choice of
 * whoever runs the Worker, and the alarm reads it without a D1 query. Unset or invalid: the default.
 */
export function retentionFrom(vars: { PROFILE_EVENT_RETENTION_DAYS?: string; PROFILE_EVENT_RETENTION_COUNT?: string }) {
  const positive = (v: string | undefined) => {
    const n = Number(v);
    return v !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
  };
  const days = positive(vars.PROFILE_EVENT_RETENTION_DAYS);
  const count = positive(vars.PROFILE_EVENT_RETENTION_COUNT);
  return {
    ...RETENTION,
    maxAgeMs: days === undefined ? RETENTION.maxAgeMs : days * 86_400_000,
    maxEvents: count === undefined ? RETENTION.maxEvents : Math.floor(count),
  };
}

// Pages stay far below the RPC size limit: at most 500 events of at most 32 KB each.
const EVENTS_PAGE = 500;
const SEEN_PAGE = 5000;
/** JSON characters of events per insert statement: a statement's text and values stay far below SQLite's 2 MB. */
const INSERT_CHUNK_CHARS = 512 * 1024;

type StoredEvent = { message_id: string; ts: number; type: string; name: string; source_id: string; body: string };
const toRow = (r: StoredEvent): EventRow => ({
  messageId: r.message_id,
  ts: r.ts,
  type: r.type,
  name: r.name,
  sourceId: r.source_id,
  body: r.body,
});

/**
 * A profile's event log, keyed by messageId, and its dedupe set. The log is inline in the meta
 * row (`log_json`, a JSON array of rows) while it is small, so an apply's events cost no row of
 * their own (they go in its one meta write) and a new profile no table; past `INLINE_LOG_BYTES`,
 * and for objects older than schema step 7 (`log_json` NULL), it is the `event_log` table (one row
 * per event, no secondary index). Readers see one relation either way: in inline mode their SQL
 * reads a CTE named `event_log` over the JSON. The log's key dedupes what it keeps; `seen`
 * remembers only what left the log (pruned, kept longer than the queue can redeliver), so a replay
 * changes nothing even after the log was trimmed. Readers by time (the timeline, merges' pages,
 * engage back-fills, retention) scan the log, which retention bounds (10k events by default):
 * reads cost a thousandth of writes. `seen` is created the first time retention (or a merge) moves
 * messageIds into it (tables.ts). Writes go through a `LogWriter`, whose `patch()` the caller
 * folds into its one meta write. Synchronous.
 */
export class EventLog implements LogTarget {
  private readonly tables: ProfileTables;
  /** The inline log's JSON its last writer left, with its messageIds (`idsOf`). */
  private written: { json: string; ids: Set<string> } | undefined;

  constructor(private readonly sql: Sql) {
    this.tables = new ProfileTables(sql);
  }

  /** The inline log's JSON, or null when the log is the table. */
  private inlineJson(): string | null {
    return readMeta(this.sql, 'log_json').log_json;
  }

  /** Runs a reader's SQL over `event_log`: the table, or the inline rows under that name. */
  private read<T extends Record<string, SqlStorageValue>>(query: string, ...args: unknown[]): T[] {
    if (this.inlineJson() === null) return this.tables.rows<T>('event_log', query, ...args);
    return this.sql.exec<T>(`WITH event_log AS (${INLINE_ROWS}) ${query}`, ...args).toArray();
  }

  /** Whether a messageId was applied: in the log, or left it within the dedupe window. */
  seen(messageId: string): boolean {
    return this.logged(messageId) || this.wasSeen(messageId);
  }

  private logged(messageId: string): boolean {
    return this.read('SELECT 1 FROM event_log WHERE message_id = ?', messageId).length > 0;
  }

  /** Whether a messageId left the log within the dedupe window. */
  private wasSeen(messageId: string): boolean {
    return this.tables.rows('seen', 'SELECT 1 FROM seen WHERE message_id = ?', messageId).length > 0;
  }

  markSeen(messageId: string, at: number): void {
    this.tables.write('seen', 'INSERT INTO seen (message_id, at) VALUES (?, ?) ON CONFLICT DO NOTHING', messageId, at);
  }

  /** Adds events of one transaction; its `patch()` goes into the caller's meta write. */
  writer(): LogWriter {
    return new LogWriter(this, this.inlineJson());
  }

  /** (LogWriter) Whether a messageId left the log within the dedupe window. */
  left(messageId: string): boolean {
    return this.wasSeen(messageId);
  }

  /**
   * (LogWriter) The messageIds of an inline log's JSON. Those of the JSON the last transaction
   * wrote are handed back by its writer (`remember`): the next apply of a known profile reads the
   * log's JSON it wrote, and takes them instead of listing the log with json_each (4 % of the
   * known-users pipeline's CPU). Kept by content, so a rolled-back write only misses.
   */
  idsOf(json: string): Set<string> {
    const kept = this.written;
    this.written = undefined; // the writer changes the set: it is its own now
    if (kept?.json === json) return kept.ids;
    const rows = this.sql.exec<{ id: string }>('SELECT value ->> 0 AS id FROM json_each(?)', json).toArray();
    return new Set(rows.map((r) => r.id));
  }

  /** (LogWriter) The messageIds of the log's JSON as a transaction wrote or left it. */
  remember(json: string, ids: Set<string>): void {
    this.written = { json, ids };
  }

  /** (LogWriter) A row into the table; false when its key was there. */
  insertRow(e: EventRow): boolean {
    const { rowsWritten } = this.tables.write(
      'event_log',
      'INSERT INTO event_log (message_id, ts, type, name, source_id, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      e.messageId,
      e.ts,
      e.type,
      e.name,
      e.sourceId,
      e.body,
    );
    return rowsWritten > 0;
  }

  /** (LogWriter) Moves an inline log (a JSON array of rows) to the table, once, for good. */
  spill(json: string): void {
    this.tables.write(
      'event_log',
      `INSERT INTO event_log (message_id, ts, type, name, source_id, body)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?)
       WHERE true ON CONFLICT DO NOTHING`,
      json,
    );
  }

  /** Moves an inline log to the table now (as its writer does past the cap): tests, and tools. */
  moveToTable(): void {
    const json = this.inlineJson();
    if (json === null) return;
    this.spill(json);
    writeMeta(this.sql, { log_json: null });
  }

  /**
   * Adds a run's events to the log in one statement per ~512 KB of events (where `insert` took
   * one each: every statement is a call into SQLite, and locally a traced span), skipping what
   * was applied before; answers per event whether it was new. A messageId twice in the run is new
   * only the first time, as one insert after another would have it.
   */
  insertAll(events: readonly EventRow[]): boolean[] {
    // Text as SQLite stores a bound JS string (a lone surrogate becomes U+FFFD), so the ids the
    // insert returns compare equal to these.
    const rows = events.map((e) => ({ ...e, messageId: e.messageId.toWellFormed() }));
    const seenBefore = this.wereSeen(rows.map((r) => r.messageId));
    const inserted = new Set<string>();
    let chunk: string[] = [];
    let size = 0;
    const flush = () => {
      if (!chunk.length) return;
      const cursor = this.tables.write<{ message_id: string }>(
        'event_log',
        `INSERT INTO event_log (message_id, ts, type, name, source_id, body)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?) WHERE true
         ON CONFLICT DO NOTHING RETURNING message_id`,
        `[${chunk.join(',')}]`,
      );
      for (const r of cursor) inserted.add(r.message_id);
      chunk = [];
      size = 0;
    };
    const queued = new Set<string>();
    for (const r of rows) {
      // What left the log is in `seen`; what is in it, its key refuses (not returned).
      if (seenBefore.has(r.messageId) || queued.has(r.messageId)) continue;
      queued.add(r.messageId);
      const json = JSON.stringify([
        r.messageId,
        r.ts,
        r.type.toWellFormed(),
        r.name.toWellFormed(),
        r.sourceId.toWellFormed(),
        r.body,
      ]);
      if (size + json.length > INSERT_CHUNK_CHARS) flush();
      chunk.push(json);
      size += json.length + 1;
    }
    flush();
    return rows.map((r) => inserted.delete(r.messageId));
  }

  /** Which of the messageIds left the log within the dedupe window (one read, none before `seen` exists). */
  private wereSeen(ids: string[]): Set<string> {
    if (!ids.length) return new Set();
    return new Set(
      this.tables
        .rows<{ message_id: string }>(
          'seen',
          'SELECT message_id FROM seen WHERE message_id IN (SELECT value FROM json_each(?))',
          JSON.stringify(ids),
        )
        .map((r) => r.message_id),
    );
  }

  /**
   * Applies the retention window: drops events older than `maxAgeMs` or beyond the newest
   * `maxEvents`, remembering their messageIds in `seen` for the dedupe window (from now: an old
   * timestamp may have arrived recently), then forgets what is past that window. Inline, the
   * log's JSON is written again without them (one meta write, however many left).
   */
  prune(now: number, r: Retention = RETENTION): number {
    const inline = this.inlineJson() !== null;
    const cte = inline ? `WITH event_log AS (${INLINE_ROWS}) ` : '';
    const logged = inline || this.tables.has('event_log');
    const aged = 'SELECT message_id FROM event_log WHERE ts < ?';
    const beyond = 'SELECT message_id FROM event_log ORDER BY ts DESC, message_id DESC LIMIT -1 OFFSET ?';
    let removed = 0;
    for (const [select, arg] of [
      [aged, now - r.maxAgeMs],
      [beyond, r.maxEvents],
    ] as const) {
      // Most alarms remove nothing: then `seen` is not created for it.
      if (!logged || !this.sql.exec(`${cte}SELECT 1 FROM (${select}) LIMIT 1`, arg).toArray().length) continue;
      this.tables.write(
        'seen',
        `${cte}INSERT INTO seen (message_id, at) SELECT message_id, ? FROM (${select}) WHERE true ON CONFLICT DO NOTHING`,
        now,
        arg,
      );
      if (inline) {
        const kept = this.sql
          .exec<{ j: string; n: number; left: number }>(
            `${cte}SELECT coalesce(json_group_array(${ROW_JSON}), '[]') AS j, count(*) AS n,
               (SELECT count(*) FROM event_log) AS left FROM event_log WHERE message_id NOT IN (${select})`,
            arg,
          )
          .one();
        removed += kept.left - kept.n;
        writeMeta(this.sql, { log_json: kept.j });
      } else removed += this.sql.exec(`DELETE FROM event_log WHERE message_id IN (${select})`, arg).rowsWritten;
    }
    this.tables.change('seen', 'DELETE FROM seen WHERE at < ?', now - r.seenMs);
    if (removed)
      writeMeta(this.sql, {
        event_count: this.sql.exec<{ n: number }>(`${cte}SELECT count(*) AS n FROM event_log`).one().n,
      });
    return removed;
  }

  /** One page of events, newest first unless `asc`. */
  page(q: EventQuery): EventRow[] {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    const cond = (clause: string, ...values: SqlStorageValue[]) => {
      where.push(clause);
      args.push(...values);
    };
    if (q.after) {
      const op = q.asc ? '>' : '<';
      cond(`(ts, message_id) ${op} (?, ?)`, q.after.ts, q.after.messageId);
    }
    if (q.start !== undefined) cond('ts >= ?', q.start);
    if (q.end !== undefined) cond('ts < ?', q.end);
    // One JSON parameter per list: SQLite in a Durable Object binds at most 100 parameters.
    if (q.include?.length) cond('name IN (SELECT value FROM json_each(?))', JSON.stringify(q.include));
    if (q.exclude?.length) cond('name NOT IN (SELECT value FROM json_each(?))', JSON.stringify(q.exclude));
    const dir = q.asc ? 'ASC' : 'DESC';
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return this.read<StoredEvent>(
      `SELECT * FROM event_log ${filter} ORDER BY ts ${dir}, message_id ${dir} LIMIT ?`,
      ...args,
      q.limit,
    ).map(toRow);
  }

  /**
   * Events after (ts, messageId) in log order, with their JSON: the back-fill of a new audience
   * aggregate. With `names`, only track events of those names.
   */
  bodiesAfter(
    after: { ts: number; id: string },
    names: readonly string[] | null,
    limit: number,
  ): { message_id: string; ts: number; body: string }[] {
    return this.read<{ message_id: string; ts: number; body: string }>(
      `SELECT message_id, ts, body FROM event_log WHERE (ts, message_id) > (?, ?)
         ${names ? "AND type = 'track' AND name IN (SELECT value FROM json_each(?))" : ''}
         ORDER BY ts, message_id LIMIT ?`,
      after.ts,
      after.id,
      ...(names ? [JSON.stringify(names)] : []),
      limit,
    );
  }

  /**
   * One page of the log, then of the dedupe set, for the survivor of a merge to pull. A small
   * profile fits in one page (log and dedupe set together), so most merges need no extra call.
   */
  historyPage(cursor?: HistoryCursor): HistoryPage {
    const c = cursor ?? { phase: 'events', ts: Number.MIN_SAFE_INTEGER, id: '' };
    const chunk: HistoryChunk = { events: [], seen: [] };
    if (c.phase === 'events') {
      chunk.events = this.read<StoredEvent>(
        'SELECT * FROM event_log WHERE (ts, message_id) > (?, ?) ORDER BY ts, message_id LIMIT ?',
        c.ts,
        c.id,
        EVENTS_PAGE,
      ).map(toRow);
      const last = chunk.events.at(-1);
      if (last && chunk.events.length === EVENTS_PAGE) {
        return { chunk, next: { phase: 'events', ts: last.ts, id: last.messageId } };
      }
    }
    const after = c.phase === 'seen' ? c.id : '';
    chunk.seen = this.tables.rows<{ message_id: string; at: number }>(
      'seen',
      'SELECT message_id, at FROM seen WHERE message_id > ? ORDER BY message_id LIMIT ?',
      after,
      SEEN_PAGE,
    );
    const last = chunk.seen.at(-1);
    const more = last !== undefined && chunk.seen.length === SEEN_PAGE;
    return { chunk, next: more ? { phase: 'seen', ts: 0, id: last.message_id } : undefined };
  }

  /**
   * Takes in a page of a merged profile's log and dedupe set. Returns the events it kept and the
   * meta columns that changes, for the caller's one meta write (`bumpWith`).
   */
  importHistory(chunk: HistoryChunk): { added: number; patch: LogPatch } {
    const w = this.writer();
    let added = 0;
    for (const e of chunk.events) if (w.insert(e)) added++;
    for (const s of chunk.seen) this.markSeen(s.message_id, s.at);
    return { added, patch: w.patch() };
  }

  /** Every messageId in the log (diagnostics and tests). */
  messageIds(): string[] {
    return this.read<{ message_id: string }>('SELECT message_id FROM event_log ORDER BY message_id').map(
      (r) => r.message_id,
    );
  }
}
