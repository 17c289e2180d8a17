-- The profile directory and merge history keyed by their primary key alone (WITHOUT ROWID): a rowid
-- table with a TEXT primary key keeps the key in a second b-tree, so every new profile cost three
-- rows written (table, key index, recency index) and every merge record two. Now two and one.
-- The rows are copied once (each copied row is a billed write, once).
CREATE TABLE profile_directory_next (
  id TEXT PRIMARY KEY,
  collection TEXT NOT NULL,
  version INTEGER NOT NULL,
  merged_into TEXT,
  identifiers TEXT NOT NULL,
  traits TEXT NOT NULL,
  search TEXT NOT NULL,
  event_count INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  last_seen_at TEXT
) WITHOUT ROWID;
INSERT INTO profile_directory_next
  SELECT id, collection, version, merged_into, identifiers, traits, search, event_count, created_at, updated_at, last_seen_at
  FROM profile_directory;
DROP TABLE profile_directory;
ALTER TABLE profile_directory_next RENAME TO profile_directory;
CREATE INDEX profile_directory_recent ON profile_directory (collection, updated_at DESC, id);

CREATE TABLE profile_merges_next (
  loser TEXT PRIMARY KEY,
  survivor TEXT NOT NULL,
  reason TEXT NOT NULL,
  merged_at TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO profile_merges_next SELECT loser, survivor, reason, merged_at FROM profile_merges;
DROP TABLE profile_merges;
ALTER TABLE profile_merges_next RENAME TO profile_merges;
CREATE INDEX profile_merges_survivor ON profile_merges (survivor);
