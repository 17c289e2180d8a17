-- PII protection (src/privacy/): which trait keys are PII (encrypted at rest, masked without
-- pii:read). One row; absent means the defaults (src/privacy/pii-settings.ts).
CREATE TABLE privacy_settings (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pii_keys TEXT NOT NULL,       -- JSON array of trait keys
  updated_at TEXT NOT NULL
);

-- Per-source rate-limit tier of the collection routes (src/privacy/rate-limit.ts); absent = standard.
CREATE TABLE source_rate_limits (
  source_id TEXT PRIMARY KEY,
  tier TEXT NOT NULL,           -- strict | standard | high | off
  updated_at TEXT NOT NULL
);
