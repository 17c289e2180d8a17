-- Tracking plans (Segment Protocols). Every write bumps governance_meta.revision; the ingest
-- Worker caches the whole governance configuration per isolate and reloads it when that moves.
CREATE TABLE tracking_plans (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT,
  rules TEXT NOT NULL,          -- JSON array of rules, validated on save
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- A source has at most one plan.
CREATE TABLE tracking_plan_sources (
  source_id TEXT PRIMARY KEY,
  plan_id TEXT NOT NULL REFERENCES tracking_plans (id) ON DELETE CASCADE
);
CREATE INDEX tracking_plan_sources_plan ON tracking_plan_sources (plan_id);

-- Segment's per-source schemaSettings (JSON, defaults filled in).
CREATE TABLE source_schema_settings (
  source_id TEXT PRIMARY KEY,
  settings TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE governance_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  revision INTEGER NOT NULL
);
INSERT INTO governance_meta (id, revision) VALUES (1, 0);

-- Violations grouped by source, event, field and type: counted per request in one batch.
CREATE TABLE violations (
  source_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  event_name TEXT NOT NULL,
  field TEXT NOT NULL,
  violation_type TEXT NOT NULL,
  plan_id TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  sample TEXT NOT NULL,         -- one example event (the latest), for the console
  PRIMARY KEY (source_id, event_name, event_type, field, violation_type)
);
CREATE INDEX violations_last_seen ON violations (source_id, last_seen);

-- The observed schema: every event name, property and trait key seen on a source, with the JSON
-- types seen. Accumulated per isolate and flushed in batches (counts are approximate).
CREATE TABLE observed_schema (
  source_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  event_name TEXT NOT NULL,
  field TEXT NOT NULL,          -- '' for the event itself, else e.g. 'properties.total'
  types TEXT NOT NULL,          -- JSON array of the JSON types seen
  count INTEGER NOT NULL,
  last_seen TEXT NOT NULL,
  PRIMARY KEY (source_id, event_type, event_name, field)
);

-- Transformations (Segment's shapes): source-scoped ones run at ingest after the plan,
-- destination-scoped ones in delivery before the destination's filters. `body` is the validated
-- document; applied in creation order.
CREATE TABLE transformations (
  id TEXT PRIMARY KEY,
  source_id TEXT NOT NULL,
  destination_id TEXT,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX transformations_source ON transformations (source_id, destination_id);
