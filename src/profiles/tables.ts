import { execScript } from '../lib/do-schema';
import { type Sql, SqlMeter } from './sql-meter';

/**
 * The Profile object's tables that a new object does not create up front but on first write, so a
 * new profile pays only for the tables it uses: each CREATE writes billed rows (2 per table as
 * measured, 1 per index, more for AUTOINCREMENT or UNIQUE). Each entry is the latest layout of that table, as
 * `PROFILE_SCHEMA`'s steps leave it: test/profile-schema.test.ts holds a fresh object with every
 * lazy table created equal to one upgraded through every step. A later step that changes one of
 * these tables must first create it as the previous version had it (`CREATE TABLE IF NOT EXISTS`),
 * since a fresh object may not have it yet; and change its entry here.
 */
export const LAZY_TABLES = {
  // Since schema step 7, only for profiles whose log outgrew the meta row (event-log.ts) and
  // objects born before (created by step 4, so present there).
  event_log: `CREATE TABLE IF NOT EXISTS event_log (message_id TEXT PRIMARY KEY, ts INTEGER NOT NULL,
    type TEXT NOT NULL, name TEXT NOT NULL, source_id TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID`,
  // Written by audience evaluation and direct callers only: the ingest consumer takes an apply's
  // deliveries (`ApplyInput.handOver`). Quoted as SQLite writes a renamed table (schema step 4).
  outbox:
    'CREATE TABLE IF NOT EXISTS "outbox" (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL)',
  // Only for objects older than schema step 6 and profiles whose traits outgrew the meta row
  // (trait-store.ts); every other profile keeps them inline.
  traits: `CREATE TABLE IF NOT EXISTS traits (key TEXT PRIMARY KEY, value TEXT NOT NULL, ts INTEGER NOT NULL,
    message_id TEXT NOT NULL, source_id TEXT) WITHOUT ROWID`,
  seen: 'CREATE TABLE IF NOT EXISTS seen (message_id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID',
  links: `CREATE TABLE IF NOT EXISTS links (collection TEXT NOT NULL, key TEXT NOT NULL, source_id TEXT,
     created_at TEXT NOT NULL, PRIMARY KEY (collection, key)) WITHOUT ROWID`,
  merged_from: `CREATE TABLE IF NOT EXISTS merged_from (profile_id TEXT PRIMARY KEY, reason TEXT NOT NULL,
     merged_at TEXT NOT NULL, complete INTEGER NOT NULL) WITHOUT ROWID`,
  engage_values: `CREATE TABLE IF NOT EXISTS engage_values (key TEXT PRIMARY KEY, kind TEXT NOT NULL, def_id TEXT NOT NULL,
    version INTEGER NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID`,
  // Its one row is written with the first state worth keeping (EngageStore.setState), not here.
  engage_state: `CREATE TABLE IF NOT EXISTS engage_state (one INTEGER PRIMARY KEY CHECK (one = 1),
    revision INTEGER NOT NULL DEFAULT 0, next_change_at INTEGER, stale INTEGER NOT NULL DEFAULT 0)`,
  engage_membership: `CREATE TABLE IF NOT EXISTS engage_membership (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    audience_id TEXT NOT NULL, member INTEGER NOT NULL, at INTEGER NOT NULL)`,
  engage_specs: `CREATE TABLE IF NOT EXISTS engage_specs (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
    keep_ms INTEGER NOT NULL, state TEXT NOT NULL)`,
  engage_spec_values: `CREATE TABLE IF NOT EXISTS engage_spec_values (spec INTEGER NOT NULL, vkey TEXT NOT NULL,
    n INTEGER NOT NULL, first_ts INTEGER NOT NULL, first_id TEXT NOT NULL, PRIMARY KEY (spec, vkey)) WITHOUT ROWID`,
  engage_matches: `CREATE TABLE IF NOT EXISTS engage_matches (spec INTEGER NOT NULL, message_id TEXT NOT NULL,
    ts INTEGER NOT NULL, value TEXT, num REAL, at INTEGER NOT NULL, folded INTEGER NOT NULL, src TEXT NOT NULL DEFAULT '',
    dup INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (spec, message_id)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS engage_matches_ts ON engage_matches (spec, ts, message_id);
  CREATE INDEX IF NOT EXISTS engage_matches_due ON engage_matches (spec, ts) WHERE folded = 0`,
  engage_window_counts: `CREATE TABLE IF NOT EXISTS engage_window_counts (spec INTEGER NOT NULL, window_ms INTEGER NOT NULL,
    lo INTEGER NOT NULL, hi INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (spec, window_ms)) WITHOUT ROWID`,
} as const;

export type LazyTable = keyof typeof LAZY_TABLES;
const LAZY = new Set<string>(Object.keys(LAZY_TABLES));

/** Which lazy tables exist, per database: one sqlite_schema read per object start, then memory. */
const present = new WeakMap<object, Set<string>>();

/** The database `sql` runs on: a `SqlMeter` and its storage share one set of tables. */
const keyOf = (sql: Sql): object => (sql instanceof SqlMeter ? sql.storage : sql);

function load(sql: Sql): Set<string> {
  const names = sql
    .exec<{ name: string }>(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN (SELECT value FROM json_each(?))",
      JSON.stringify([...LAZY]),
    )
    .toArray()
    .map((r) => r.name);
  const set = new Set(names);
  present.set(keyOf(sql), set);
  return set;
}

/** Reads again which lazy tables exist: after a migration, `deleteAll`, or writes behind our back (tests). */
export function reloadTables(sql: Sql): void {
  load(sql);
}

/**
 * Access to the lazy tables of one Profile database. Reads of a table not created yet answer empty
 * without a query; a write creates it first (inside the caller's transaction, so it commits or
 * rolls back with the write). Presence is cached per database; should a rollback have undone a
 * creation the cache recorded (a failed savepoint), the first statement that meets the missing
 * table forgets it and retries: a read answers empty, a write creates the table again.
 */
export class ProfileTables {
  constructor(private readonly sql: Sql) {}

  private set(): Set<string> {
    return present.get(keyOf(this.sql)) ?? load(this.sql);
  }

  has(table: LazyTable): boolean {
    return this.set().has(table);
  }

  /** Creates `table` unless it exists. */
  ensure(table: LazyTable): void {
    const set = this.set();
    if (set.has(table)) return;
    execScript(this.sql, LAZY_TABLES[table]);
    set.add(table);
  }

  /** The rows of a read of `table`; none while it does not exist. */
  rows<T extends Record<string, SqlStorageValue>>(table: LazyTable, query: string, ...bindings: unknown[]): T[] {
    if (!this.has(table)) return [];
    try {
      return this.sql.exec<T>(query, ...bindings).toArray();
    } catch (err) {
      if (!this.forgot(err)) throw err;
      return [];
    }
  }

  /** A cursor over a read of `table` (for reads that stop early), or undefined while it does not exist. */
  cursor<T extends Record<string, SqlStorageValue>>(
    table: LazyTable,
    query: string,
    ...bindings: unknown[]
  ): SqlStorageCursor<T> | undefined {
    if (!this.has(table)) return undefined;
    try {
      return this.sql.exec<T>(query, ...bindings);
    } catch (err) {
      if (!this.forgot(err)) throw err;
      return undefined;
    }
  }

  /** A write to `table`, creating it first if need be. */
  write<T extends Record<string, SqlStorageValue>>(
    table: LazyTable,
    query: string,
    ...bindings: unknown[]
  ): SqlStorageCursor<T> {
    this.ensure(table);
    try {
      return this.sql.exec<T>(query, ...bindings);
    } catch (err) {
      const missing = this.forgot(err);
      if (!missing) throw err;
      this.ensure(missing);
      this.ensure(table);
      return this.sql.exec<T>(query, ...bindings);
    }
  }

  /** An update or delete of `table`, which has nothing to change while it does not exist; its rows written. */
  change(table: LazyTable, query: string, ...bindings: unknown[]): number {
    if (!this.has(table)) return 0;
    try {
      return this.sql.exec(query, ...bindings).rowsWritten;
    } catch (err) {
      if (!this.forgot(err)) throw err;
      return 0;
    }
  }

  /**
   * Drops `table` (with its indexes) if it exists: it is absent again, as in a new object, until a
   * write creates it. Billed as no row however many it held (a DELETE is billed one per row);
   * measured in test/profile-tombstone.test.ts. After a rollback of the caller's transaction,
   * `reloadTables` must learn that it exists again.
   */
  drop(table: LazyTable): void {
    if (!this.has(table)) return;
    this.sql.exec(`DROP TABLE IF EXISTS ${table}`);
    this.set().delete(table);
  }

  /** The lazy table `err` says is missing (then forgotten: the cache was wrong), if it says so. */
  private forgot(err: unknown): LazyTable | undefined {
    const missing = /no such table: (?:main\.)?"?(\w+)"?/.exec(err instanceof Error ? err.message : String(err))?.[1];
    if (!missing || !LAZY.has(missing)) return undefined;
    this.set().delete(missing);
    return missing as LazyTable;
  }
}
