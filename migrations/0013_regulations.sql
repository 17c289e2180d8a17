-- Regulations (Segment's Public API shapes): suppression and deletion requests, run in stages by
-- the `work` queue. `stages` is the JSON progress per stage.
CREATE TABLE regulations (
  id TEXT PRIMARY KEY,
  regulation_type TEXT NOT NULL,
  subject_type TEXT NOT NULL,
  subject_ids TEXT NOT NULL,
  status TEXT NOT NULL,
  stages TEXT NOT NULL,
  created_by TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX regulations_created ON regulations (created_at);

-- Identifier keys (`kind:value`) whose events are dropped at ingest: every identifier of the
-- subject's profile(s), under the regulation that suppressed them (UNSUPPRESS lifts them together).
CREATE TABLE suppressions (
  key TEXT PRIMARY KEY,
  regulation_id TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX suppressions_regulation ON suppressions (regulation_id);

-- Bumped on every change to `suppressions`: the edge reloads its cached set only when it moved.
CREATE TABLE privacy_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  revision INTEGER NOT NULL
);
INSERT INTO privacy_meta (id, revision) VALUES (1, 0);

-- Events dropped at ingest because their person is suppressed, per source and day.
CREATE TABLE suppressed_events (
  source_id TEXT NOT NULL,
  day TEXT NOT NULL,
  events INTEGER NOT NULL,
  PRIMARY KEY (source_id, day)
);

-- Scratch space for scrubbing after a deletion: filler rows written and deleted again so SQLite
-- checkpoints its WAL and reuses free pages, overwriting the bytes the deleted rows left behind.
CREATE TABLE privacy_scrub (
  n INTEGER PRIMARY KEY,
  fill BLOB NOT NULL
);

-- The resolved subject of a running regulation (profiles and every identifier key), written once
-- by its `resolve` stage and scrubbed when the run ends: it names the person.
CREATE TABLE regulation_subjects (
  regulation_id TEXT PRIMARY KEY,
  subjects TEXT NOT NULL
);
