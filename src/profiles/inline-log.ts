import type { EventRow } from './rpc';

// The inline form of a profile's event log (event-log.ts): a JSON array of rows in the meta row's
// `log_json`, read through a CTE named like the table, and the writer that folds a transaction's
// events into the caller's meta write or moves the log to the table past the cap.

/**
 * Most bytes of JSON a profile's log takes inline in its meta row. Past it the log moves to the
 * `event_log` table (a row per event) for good: the meta row is rewritten by every apply, so it
 * stays small; a sparse visitor's few events never need the table.
 */
export const INLINE_LOG_BYTES = 48 * 1024;

/** The inline log as the table's rows (same columns, same types), for the readers' SQL. */
export const INLINE_ROWS = `SELECT j.value ->> 0 AS message_id, j.value ->> 1 AS ts, j.value ->> 2 AS type,
  j.value ->> 3 AS name, j.value ->> 4 AS source_id, j.value ->> 5 AS body FROM meta, json_each(meta.log_json) j`;
/** A row of the inline log, as `json_group_array` builds it back in SQL. */
export const ROW_JSON = 'json_array(message_id, ts, type, name, source_id, body)';

/** The meta column a log change sets, for the caller's meta write (part of `MetaPatch`, store.ts). */
export type LogPatch = { log_json?: string | null };

const utf8 = new TextEncoder();
/**
 * A row of the inline log. Its text as SQLite keeps a bound JS string (a lone surrogate becomes
 * U+FFFD), so an inline log holds what the table would and its ids compare equal to the table's.
 */
const inlineRow = (e: EventRow) =>
  JSON.stringify([
    e.messageId.toWellFormed(),
    e.ts,
    e.type.toWellFormed(),
    e.name.toWellFormed(),
    e.sourceId.toWellFormed(),
    e.body.toWellFormed(),
  ]);

/** What a `LogWriter` needs of the log it writes (`EventLog`). */
export interface LogTarget {
  /** Whether a messageId left the log within the dedupe window. */
  left(messageId: string): boolean;
  /** The messageIds of an inline log's JSON: the caller's to change. */
  idsOf(json: string): Set<string>;
  /** Hands back the messageIds of the JSON a transaction wrote (or left), for the next `idsOf`. */
  remember(json: string, ids: Set<string>): void;
  /** A row into the table; false when its key was there. */
  insertRow(e: EventRow): boolean;
  /** A run's rows into the table in one statement; per event whether it was new. */
  insertAll(events: readonly EventRow[]): boolean[];
  /** Moves an inline log (a JSON array of rows) to the table, once, for good. */
  spill(json: string): void;
}

/**
 * The events one transaction adds to a log. Inline, they wait in memory (a duplicate within the
 * transaction is refused as one in the log is) and `patch()` hands the caller the log's new JSON
 * for its one meta write, or, when that would pass `INLINE_LOG_BYTES`, moves the whole log to the
 * table (once: a row per event and the table's creation) and patches the column to NULL. In
 * table mode each insert is a row and `patch()` is empty. Call `patch()` once, and write it.
 */
export class LogWriter {
  private readonly pending: string[] = [];
  /** The inline log's messageIds and this transaction's, read once on the first insert. */
  private ids: Set<string> | undefined;

  constructor(
    private readonly log: LogTarget,
    private readonly json: string | null,
  ) {}

  /**
   * Adds a run's events, answering per event whether it was new (a messageId twice in the run is
   * new only the first time, as one insert after another would have it). In table mode all of
   * them in one statement (`EventLog.insertAll`).
   */
  insertAll(events: readonly EventRow[]): boolean[] {
    if (this.json === null) return this.log.insertAll(events);
    return events.map((e) => this.insert(e));
  }

  /** Adds an event unless it was applied before; false when it was (the dedupe). */
  insert(e: EventRow): boolean {
    if (this.json === null) return !this.log.left(e.messageId) && this.log.insertRow(e);
    this.ids ??= this.log.idsOf(this.json);
    const id = e.messageId.toWellFormed();
    if (this.ids.has(id) || this.log.left(e.messageId)) return false;
    this.ids.add(id);
    this.pending.push(inlineRow(e));
    return true;
  }

  patch(): LogPatch {
    if (this.json === null) return {};
    if (!this.pending.length) {
      if (this.ids) this.log.remember(this.json, this.ids);
      return {};
    }
    const rows = this.pending.join(',');
    const json = this.json === '[]' ? `[${rows}]` : `${this.json.slice(0, -1)},${rows}]`;
    // Bytes are at least the characters and at most three times them (the encode only in between).
    const fits =
      json.length <= INLINE_LOG_BYTES &&
      (json.length * 3 <= INLINE_LOG_BYTES || utf8.encode(json).length <= INLINE_LOG_BYTES);
    if (fits) {
      this.log.remember(json, this.ids as Set<string>); // an insert read them
      return { log_json: json };
    }
    this.log.spill(json);
    return { log_json: null };
  }
}
