-- Events the insights rollups have counted, so a redelivered ingest message is not counted again.
-- day = Unix days of the event's receivedAt (set once at the edge, so a redelivery has the same);
-- key = 64-bit hash of source id and messageId. Rows expire after a week (src/insights/seen.ts):
-- the primary key's day prefix makes both the lookup and the expiry index-only, no second index.
CREATE TABLE insights_seen (
  day INTEGER NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (day, key)
) WITHOUT ROWID;
