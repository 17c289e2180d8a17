-- Accepted events whose ingest processing failed every retry (the ingest dead-letter queue).
-- Kept here, never dropped, until an operator replays them.
CREATE TABLE ingest_failures (
  message_id TEXT PRIMARY KEY,
  source_id TEXT NOT NULL,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  failed_at TEXT NOT NULL
);
CREATE INDEX ingest_failures_failed_at ON ingest_failures (failed_at);
