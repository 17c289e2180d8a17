-- Write key rotation with a grace period: the previous key keeps working until it expires.
ALTER TABLE sources ADD COLUMN previous_write_key TEXT;
ALTER TABLE sources ADD COLUMN previous_key_expires_at TEXT;
CREATE UNIQUE INDEX sources_previous_write_key ON sources (previous_write_key);

-- The secret a customer's backend signs personalization tokens with (HMAC-SHA256). It must be
-- kept readable to verify signatures; the API shows it once, when it is created.
ALTER TABLE sources ADD COLUMN personalize_secret TEXT;
ALTER TABLE sources ADD COLUMN personalize_secret_created_at TEXT;

-- Requests whose write key is unknown, disabled or retired are answered 200 (an SDK must never
-- take its host down) and their events dropped; they are counted here per key and UTC day. The
-- key itself is never stored: its SHA-256 identifies the row, a short prefix is shown.
CREATE TABLE rejected_write_keys (
  key_hash TEXT NOT NULL,
  day TEXT NOT NULL,
  key_prefix TEXT NOT NULL,
  reason TEXT NOT NULL,
  source_id TEXT,
  requests INTEGER NOT NULL,
  events INTEGER NOT NULL,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  last_user_agent TEXT,
  PRIMARY KEY (key_hash, day)
);
CREATE INDEX rejected_write_keys_day ON rejected_write_keys (day);
