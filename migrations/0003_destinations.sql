-- Destinations: where events go, with per-destination filters and consent categories.
CREATE TABLE destinations (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  -- JSON array of source ids ("*" = every source).
  source_ids TEXT NOT NULL DEFAULT '[]',
  -- JSON object validated by the destination type's settings schema.
  settings TEXT NOT NULL DEFAULT '{}',
  -- JSON array of { if, actions } destination filters.
  filters TEXT NOT NULL DEFAULT '[]',
  -- JSON array of consent categories; NULL = the destination type's default.
  consent_categories TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- One row per delivered (destination, messageId): a redelivered queue message or a duplicate
-- outbox send is never sent twice to a vendor that acknowledged it. Pruned after a few days.
CREATE TABLE delivery_receipts (
  key TEXT PRIMARY KEY,
  delivered_at INTEGER NOT NULL
);
CREATE INDEX delivery_receipts_at ON delivery_receipts (delivered_at);

-- Delivery health per destination and minute, added to in batches by the consumers.
CREATE TABLE delivery_stats (
  destination_id TEXT NOT NULL,
  minute INTEGER NOT NULL,
  delivered INTEGER NOT NULL DEFAULT 0,
  retried INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  filtered INTEGER NOT NULL DEFAULT 0,
  retry_started INTEGER NOT NULL DEFAULT 0,
  retry_resolved INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (destination_id, minute)
);

-- Event → destination latency histogram (log-scale bins) per destination and minute, for p95.
CREATE TABLE delivery_latency (
  destination_id TEXT NOT NULL,
  minute INTEGER NOT NULL,
  bin INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (destination_id, minute, bin)
);

-- Events a destination did not take: the dead-letter record, replayable.
CREATE TABLE delivery_failures (
  destination_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  source_id TEXT,
  event_type TEXT NOT NULL,
  event_name TEXT,
  event TEXT NOT NULL,
  status INTEGER,
  error TEXT NOT NULL,
  response TEXT,
  attempts INTEGER NOT NULL,
  first_attempt_at TEXT NOT NULL,
  failed_at TEXT NOT NULL,
  replayed_at TEXT,
  replay_count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (destination_id, message_id)
);
CREATE INDEX delivery_failures_recent ON delivery_failures (destination_id, failed_at);
