-- Identity resolution settings of the workspace (one row, id 'default'): JSON IdentitySettings.
CREATE TABLE identity_settings (
  id TEXT PRIMARY KEY,
  settings TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- The profile directory: the latest snapshot of every profile, written in batches by the ingest
-- consumer (never once per event). A row only moves forward: a snapshot with a lower version
-- than the stored one is ignored. Merged profiles keep a row with merged_into set.
CREATE TABLE profile_directory (
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
);
CREATE INDEX profile_directory_recent ON profile_directory (collection, updated_at DESC, id);

-- Merge history: which profile was merged into which, when and why.
CREATE TABLE profile_merges (
  loser TEXT PRIMARY KEY,
  survivor TEXT NOT NULL,
  reason TEXT NOT NULL,
  merged_at TEXT NOT NULL
);
CREATE INDEX profile_merges_survivor ON profile_merges (survivor);
