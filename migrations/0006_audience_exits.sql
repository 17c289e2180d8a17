-- The latest exit of each profile from each audience. Membership changes travel an unordered
-- queue: an entry older than the latest exit is stale and must not make the profile a member again.
CREATE TABLE audience_exits (
  audience_id TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  exited_at TEXT NOT NULL,
  PRIMARY KEY (audience_id, profile_id)
) WITHOUT ROWID;
