-- Insights rollups, written by the ingest consumer once per queue batch (never once per event).

-- Volume per minute, source, type and event name: the overview's charts and top events.
-- minute = Unix minutes of the event's timestamp.
CREATE TABLE insights_volume (
  minute INTEGER NOT NULL,
  source_id TEXT NOT NULL,
  type TEXT NOT NULL,
  event TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (minute, source_id, type, event)
) WITHOUT ROWID;

-- Per hour, event, profile, source and distinct dimensions (the event's properties and the context
-- fields a breakdown or `where` can name, as canonical JSON): how often, and when (ms, at most
-- 200 timestamps a row). Users, funnels and retention read these; merges are resolved at query
-- time through profile_merges, so a merge never rewrites a rollup.
CREATE TABLE insights_rollup (
  event TEXT NOT NULL,
  hour INTEGER NOT NULL,
  profile_id TEXT NOT NULL,
  source_id TEXT NOT NULL,
  dims_hash TEXT NOT NULL,
  dims TEXT NOT NULL,
  count INTEGER NOT NULL,
  times TEXT NOT NULL,
  PRIMARY KEY (event, hour, profile_id, source_id, dims_hash)
) WITHOUT ROWID;

-- Saved reports (trends, funnel, retention) and whether they are on the dashboard.
CREATE TABLE insights_reports (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  query TEXT NOT NULL,
  dashboard INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
