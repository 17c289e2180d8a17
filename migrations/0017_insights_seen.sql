-- Which events of each ingest queue message the insights rollups have counted, so a redelivered
-- message counts nothing twice. One row per queue message, not per event (a packed message holds
-- many): day = Unix days of the message's queue timestamp (when the queue accepted it, the same on
-- every redelivery); message_id = the queue's id, kept across redeliveries; counted = JSON array of
-- the indexes of its events counted so far. Rows expire after a week (src/insights/seen.ts): the
-- primary key's day prefix makes both the lookup and the expiry index-only, no second index.
CREATE TABLE insights_seen (
  day INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  counted TEXT NOT NULL,
  PRIMARY KEY (day, message_id)
) WITHOUT ROWID;
