-- The usage meter in one row per hour (src/usage/flush.ts): `counts` is a JSON object of counter
-- key (a JSON array [stage, source, unit, detail]) → n, merged into by each flush's upsert in SQL,
-- so a flush writes one row per hour it spans instead of one per counter (dozens), and concurrent
-- isolates' flushes add up (D1 runs one statement at a time). Replaces usage_counters, whose rows
-- are folded in here (same keys the flush writes, built with json_array) and then deleted.
--
-- usage_counters is emptied, not dropped: an isolate still running the previous version during
-- the deploy keeps flushing into it (a dropped table would fail those flushes, and the counters
-- they kept in memory would be lost when the deploy replaces the isolate). GET /api/usage adds
-- what it holds to usage_hours, so those late rows count once. The copy and the delete run in this
-- one file, which wrangler applies as one D1 request (a batch locally, one query remotely) and D1
-- runs requests one at a time, so no flush lands in between: every usage_counters row was either
-- copied and deleted here or written afterwards, counted once either way, never lost.
CREATE TABLE usage_hours (
  hour INTEGER PRIMARY KEY,
  counts TEXT NOT NULL
);

INSERT INTO usage_hours (hour, counts)
SELECT hour, json_group_object(json_array(stage, source, unit, detail), n)
FROM usage_counters
GROUP BY hour;

DELETE FROM usage_counters;
