-- The usage meter (src/usage/): billable units per hour, stage, source, unit and detail, added
-- up from each isolate's counters in one statement per flush (never a write per event).
CREATE TABLE usage_counters (
  hour INTEGER NOT NULL,
  stage TEXT NOT NULL,
  source TEXT NOT NULL,
  unit TEXT NOT NULL,
  detail TEXT NOT NULL,
  n REAL NOT NULL,
  PRIMARY KEY (hour, stage, source, unit, detail)
) WITHOUT ROWID;

-- Delivery receipts aggregated per consumer batch: one row per destination, minute the events
-- were received and batch, holding the delivered messageIds (JSON). A redelivered event is looked
-- up by its destination and receivedAt minute. Replaces one row (plus its index rows) per event
-- per destination in delivery_receipts, which is still read until its rows age out.
CREATE TABLE delivery_receipt_sets (
  destination_id TEXT NOT NULL,
  minute INTEGER NOT NULL,
  batch TEXT NOT NULL,
  message_ids TEXT NOT NULL,
  delivered_at INTEGER NOT NULL,
  PRIMARY KEY (destination_id, minute, batch)
) WITHOUT ROWID;
