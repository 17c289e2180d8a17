-- Functions (src/functions/): customers' code, versioned; instances bind a function to a source or
-- a destination with setting values. Secret setting values live in their own column, never returned.
CREATE TABLE functions (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('source', 'insert', 'destination')),
  latest_version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE function_versions (
  function_id TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  code TEXT NOT NULL,
  settings TEXT NOT NULL,       -- JSON: the declared settings [{ name, type, required, secret }]
  created_at TEXT NOT NULL,
  PRIMARY KEY (function_id, version)
);

CREATE TABLE function_instances (
  id TEXT PRIMARY KEY,
  function_id TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
  version INTEGER,              -- NULL: follows the function's latest version
  source_id TEXT,
  destination_id TEXT,
  settings TEXT NOT NULL,       -- JSON: non-secret values
  secret_settings TEXT NOT NULL, -- JSON: secret values, never returned by the API
  enabled INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX function_instances_function ON function_instances (function_id);
CREATE INDEX function_instances_source ON function_instances (source_id);
CREATE INDEX function_instances_destination ON function_instances (destination_id);

-- The last invocations per instance (a bounded ring, trimmed on each write) and running counts.
CREATE TABLE function_invocations (
  id TEXT PRIMARY KEY,
  instance_id TEXT NOT NULL,
  function_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  at TEXT NOT NULL,
  status TEXT NOT NULL,         -- ok | dropped | error
  duration_ms INTEGER NOT NULL,
  error TEXT,
  logs TEXT NOT NULL
);
CREATE INDEX function_invocations_instance ON function_invocations (instance_id, at);

CREATE TABLE function_instance_stats (
  instance_id TEXT PRIMARY KEY,
  invocations INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  last_error TEXT,
  last_error_at TEXT
);

-- Bumped on every function or instance change; isolates cache the instance list by it.
CREATE TABLE functions_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  revision INTEGER NOT NULL
);
INSERT INTO functions_meta (id, revision) VALUES (1, 0);
