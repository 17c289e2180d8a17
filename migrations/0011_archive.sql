-- The event archive in R2 (src/archive). One row per Parquet object: what `GET /api/archive`
-- lists, what retention deletes, and a Bloom filter of the subjects in it (erase.ts).
CREATE TABLE archive_objects (
  key TEXT PRIMARY KEY,
  source_id TEXT NOT NULL,
  rows INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  min_received_at TEXT NOT NULL,
  max_received_at TEXT NOT NULL,
  subjects TEXT NOT NULL,        -- base64 Bloom filter of u:/a:/p: ids (src/archive/bloom.ts)
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX archive_objects_source_time ON archive_objects (source_id, min_received_at);

-- Archive queue messages already written (one row per packed message, not per event): a
-- redelivered batch skips them. 'pending' rows name the objects an unfinished attempt may have
-- left in R2, which the next attempt deletes before writing. Pruned after 14 days (longer than a
-- queue keeps a message).
CREATE TABLE archive_batches (
  message_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,           -- 'pending' | 'written'
  keys TEXT NOT NULL,            -- JSON array of object keys
  created_at TEXT NOT NULL
) WITHOUT ROWID;

-- Per-source archive retention; no row (or NULL) keeps everything.
CREATE TABLE archive_settings (
  source_id TEXT PRIMARY KEY,
  retention_days INTEGER,
  updated_at TEXT NOT NULL
);

-- Replays of archived events to destinations (POST /api/replays).
CREATE TABLE archive_replays (
  id TEXT PRIMARY KEY,
  source_id TEXT NOT NULL,
  from_at TEXT NOT NULL,
  to_at TEXT NOT NULL,
  destination_ids TEXT NOT NULL, -- JSON array
  event_names TEXT,              -- JSON array or NULL (all)
  filter TEXT,                   -- FQL or NULL
  status TEXT NOT NULL,          -- 'running' | 'done' | 'cancelled' | 'failed'
  candidates INTEGER NOT NULL,   -- rows of the objects overlapping the range
  scanned INTEGER NOT NULL DEFAULT 0,
  sent INTEGER NOT NULL DEFAULT 0,
  skipped INTEGER NOT NULL DEFAULT 0,
  cursor TEXT,                   -- last object key done (objects go in key order)
  error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
