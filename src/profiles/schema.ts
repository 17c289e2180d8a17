import type { FreshLayout } from '../lib/do-schema';
import { AGGREGATE_PROFILE_SCHEMA } from './engage/aggregate-store';
import { ENGAGE_PROFILE_SCHEMA } from './engage/state-store';

/** Versioned schema of a Profile object (one step per migration, see `migrateSqlite`). */
export const PROFILE_SCHEMA = [
  `CREATE TABLE meta (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT, collection TEXT, merged_into TEXT,
     pending TEXT, version INTEGER NOT NULL DEFAULT 0, event_count INTEGER NOT NULL DEFAULT 0,
     created_at TEXT, updated_at TEXT, last_seen_at TEXT, first_message_id TEXT, first_source_id TEXT,
     last_message_id TEXT, last_source_id TEXT);
   INSERT INTO meta (one) VALUES (1);
   CREATE TABLE identifiers (key TEXT PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL, source_id TEXT,
     first_message_id TEXT, created_at TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE traits (key TEXT PRIMARY KEY, value TEXT NOT NULL, ts INTEGER NOT NULL, message_id TEXT NOT NULL,
     source_id TEXT) WITHOUT ROWID;
   CREATE TABLE events (message_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,
     source_id TEXT NOT NULL, body TEXT NOT NULL);
   CREATE INDEX events_ts ON events (ts, message_id);
   CREATE TABLE seen (message_id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX seen_at ON seen (at);
   CREATE TABLE links (collection TEXT NOT NULL, key TEXT NOT NULL, source_id TEXT, created_at TEXT NOT NULL,
     PRIMARY KEY (collection, key)) WITHOUT ROWID;
   CREATE TABLE merged_from (profile_id TEXT PRIMARY KEY, reason TEXT NOT NULL, merged_at TEXT NOT NULL,
     complete INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, created_at INTEGER NOT NULL);`,
  ENGAGE_PROFILE_SCHEMA,
  AGGREGATE_PROFILE_SCHEMA,
  // One row per event instead of three (rowid table, its messageId index, the time index) plus
  // two for `seen`: the log keyed by messageId alone, and `seen` only for what left the log
  // (src/profiles/event-log.ts). Existing events are copied once; `seen` rows expire as before.
  // The outbox loses AUTOINCREMENT, whose sequence row cost a second write per outbox row: a
  // reused seq is harmless, since a flush deletes only the rows it read and sent.
  `CREATE TABLE event_log (message_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, type TEXT NOT NULL,
     name TEXT NOT NULL, source_id TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
   INSERT INTO event_log SELECT message_id, ts, type, name, source_id, body FROM events;
   DROP TABLE events;
   DROP INDEX seen_at;
   CREATE TABLE outbox_next (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
   INSERT INTO outbox_next SELECT seq, body, created_at FROM outbox;
   DROP TABLE outbox;
   ALTER TABLE outbox_next RENAME TO outbox;`,
  // A profile's identifiers in one JSON column of the meta row (key → the rest of its
  // `IdentifierRow`) instead of a row each: a new user's identify writes one row for its three
  // keys, not three, and no table. Identifiers are few per profile (the identity limits), so the
  // row stays small; readers parse it once per call (ProfileStore).
  `ALTER TABLE meta ADD COLUMN identifiers_json TEXT NOT NULL DEFAULT '{}';
   UPDATE meta SET identifiers_json = (SELECT coalesce(json_group_object(key, json_object('kind', kind,
     'value', value, 'source_id', source_id, 'first_message_id', first_message_id, 'created_at', created_at)), '{}')
     FROM identifiers);
   DROP TABLE identifiers;`,
  // Traits and merged-in profiles inline in the meta row too (trait-store.ts, merged-store.ts): an
  // identify's traits cost no row each, a new profile no traits table, a first merge no table. NULL
  // keeps an older object's where they are, in their tables. And the schema version in the meta row of an object born with `PROFILE_FRESH`, instead
  // of a `_schema` table of its own (3 rows); older objects keep theirs (`migrateSqlite`).
  `ALTER TABLE meta ADD COLUMN traits_json TEXT;
   ALTER TABLE meta ADD COLUMN merges_json TEXT;
   ALTER TABLE meta ADD COLUMN schema_version INTEGER;`,
  // A new profile's event log inline in the meta row too (event-log.ts), as a JSON array, until it
  // outgrows `INLINE_LOG_BYTES` and moves to the `event_log` table, which is then created (a lazy
  // table since this step: tables.ts). NULL keeps an older object's log in its table.
  `ALTER TABLE meta ADD COLUMN log_json TEXT;`,
];

/**
 * The layout a new object creates at once instead of running every step (see `migrateSqlite`):
 * only the table a new profile's first apply writes (meta, with its identifiers, traits, merges,
 * event log and schema version), 2 rows. Its one row is not inserted here but by the first write
 * (meta-row.ts: readers answer `FRESH_META` until then, writers upsert), so it is billed once, not
 * inserted and then updated; the DEFAULTs of its JSON columns and of `schema_version` are what
 * the row then holds (for objects born before, NULL there means "in its own table", and their
 * rows exist). Every other table of `PROFILE_SCHEMA`'s latest layout is created on first write
 * (tables.ts `LAZY_TABLES`); test/profile-schema.test.ts holds this plus every lazy table equal to
 * the upgraded layout, those DEFAULTs aside. A new step changes this (or a lazy table) too.
 */
export const PROFILE_FRESH: FreshLayout = {
  script: `CREATE TABLE meta (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT, collection TEXT, merged_into TEXT,
     pending TEXT, version INTEGER NOT NULL DEFAULT 0, event_count INTEGER NOT NULL DEFAULT 0,
     created_at TEXT, updated_at TEXT, last_seen_at TEXT, first_message_id TEXT, first_source_id TEXT,
     last_message_id TEXT, last_source_id TEXT, identifiers_json TEXT NOT NULL DEFAULT '{}',
     traits_json TEXT DEFAULT '{}', merges_json TEXT DEFAULT '[]', schema_version INTEGER DEFAULT ${PROFILE_SCHEMA.length},
     log_json TEXT DEFAULT '[]');`,
  versionAt: { table: 'meta', column: 'schema_version' },
};
