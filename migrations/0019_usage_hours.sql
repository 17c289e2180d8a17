-- The usage meter in one row per hour (src/usage/flush.ts): `counts` is a JSON object of counter
-- key (a JSON array [stage, source, unit, detail]) → n, merged into by each flush's upsert in SQL,
-- so a flush writes one row per hour it spans instead of one per counter (dozens), and concurrent
-- isolates' flushes add up (D1 runs one statement at a time). Replaces usage_counters, whose rows
-- are folded in here (same keys the flush writes, built with json_array) before it is dropped.
-- An isolate still running the previous version when this runs fails its flushes from then on
-- (its counters kept in memory, lost when the deploy replaces it): at most a minute of counts.
CREATE TABLE usage_hours (
  hour INTEGER PRIMARY KEY,
  counts TEXT NOT NULL
);

INSERT INTO usage_hours (hour, counts)
SELECT hour, json_group_object(json_array(stage, source, unit, detail), n)
FROM usage_counters
GROUP BY hour;

DROP TABLE usage_counters;
