-- Audiences and computed traits (issue 5). Both kinds share one key namespace because each key
-- becomes a trait on the profile. Every write bumps engage_meta.revision; isolates cache the
-- compiled definitions keyed by that number.
CREATE TABLE engage_definitions (
  id TEXT PRIMARY KEY,                 -- aud_… or tra_… (Segment's computation_id)
  kind TEXT NOT NULL CHECK (kind IN ('audience', 'computed_trait')),
  key TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,            -- 1, 2, … per definition
  revision INTEGER NOT NULL,           -- engage_meta.revision when this version was written
  body TEXT NOT NULL,                  -- the validated definition, JSON
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX engage_definitions_kind ON engage_definitions (kind, created_at);

-- Every version ever saved, so a change can be traced and a back-fill refers to what it computed.
CREATE TABLE engage_definition_versions (
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (id, version)
);

-- One row: the revision of the definition set as a whole.
CREATE TABLE engage_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  revision INTEGER NOT NULL
);
INSERT INTO engage_meta (id, revision) VALUES (1, 0);

-- Current members only (a row is deleted on exit); written in batches from profile outboxes.
CREATE TABLE audience_members (
  audience_id TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  entered_at TEXT NOT NULL,
  PRIMARY KEY (audience_id, profile_id)
) WITHOUT ROWID;

-- Size per UTC day: size at the last batch of that day, and how many entered and exited.
CREATE TABLE audience_size_history (
  audience_id TEXT NOT NULL,
  day TEXT NOT NULL,                   -- YYYY-MM-DD
  size INTEGER NOT NULL,
  entered INTEGER NOT NULL DEFAULT 0,
  exited INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (audience_id, day)
) WITHOUT ROWID;

-- Back-fill of one definition version over every existing profile, driven by the work queue.
CREATE TABLE engage_backfills (
  definition_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('computing', 'ready', 'failed')),
  total INTEGER,                       -- profiles to visit; null until counted
  processed INTEGER NOT NULL DEFAULT 0,
  cursor TEXT,                         -- last profile id visited
  error TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  PRIMARY KEY (definition_id, version)
);
