-- Messages no consumer could handle are recorded, never dropped (issue 16, issue 8 §6).
-- ingest_failures also keeps messages recorded straight from the ingest consumer (poison: a body
-- that cannot be read or handled) and says why; `replayable` is 0 when the body is not an ingest
-- message at all (unreadable, or the wrong shape), and then `body` holds what could be saved of it.
ALTER TABLE ingest_failures ADD COLUMN queue TEXT NOT NULL DEFAULT 'tessera-ingest-dlq';
ALTER TABLE ingest_failures ADD COLUMN error TEXT;
ALTER TABLE ingest_failures ADD COLUMN replayable INTEGER NOT NULL DEFAULT 1;

-- Dead letters of the `work` queue (audience membership changes, back-fill pages): kept until replayed.
CREATE TABLE work_failures (
  message_id TEXT PRIMARY KEY,
  queue TEXT NOT NULL,
  type TEXT,
  body TEXT,
  replayable INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT,
  failed_at TEXT NOT NULL
);
CREATE INDEX work_failures_failed_at ON work_failures (failed_at);
