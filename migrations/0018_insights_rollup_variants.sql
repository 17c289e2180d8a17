-- Insights rollups: one row per event, hour, profile and source, its distinct dimensions inside
-- (src/insights/rollup.ts), so an ingest batch writes one row per profile and event name an hour
-- however many property values (a sku, an order id) its events carry. 0016 keyed a row by the
-- dimensions too: one D1 row written per event as soon as a property was unique.
--
-- variants = JSON array of [dims, count, times]: dims = canonical JSON { properties, context } of
-- the events (a string), count = how many, times = the first 200 timestamps (ms). Past 100
-- variants or about 200,000 bytes of them a row's further variants collapse into one overflow variant, dims
-- '{"$overflow":true}', last: counts and times stay, their dimensions are lost. count = sum of
-- the variants' counts. The consumer merges a batch into a row in its upsert (src/insights/record.ts).
ALTER TABLE insights_rollup RENAME TO insights_rollup_0016;

CREATE TABLE insights_rollup (
  event TEXT NOT NULL,
  hour INTEGER NOT NULL,
  profile_id TEXT NOT NULL,
  source_id TEXT NOT NULL,
  count INTEGER NOT NULL,
  variants TEXT NOT NULL,
  PRIMARY KEY (event, hour, profile_id, source_id)
) WITHOUT ROWID;

-- Every 0016 row becomes a variant of its (event, hour, profile, source) row, in dims_hash order,
-- under the same caps as the consumer's merge (100 variants, size = dims bytes + 14 a timestamp + 8): the
-- variants past it are one overflow variant with their counts summed and their first 200 times.
INSERT INTO insights_rollup (event, hour, profile_id, source_id, count, variants)
WITH m AS (
  SELECT event, hour, profile_id, source_id, dims, count, times,
    ROW_NUMBER() OVER w AS pos,
    SUM(length(CAST(dims AS BLOB)) + 14 * json_array_length(times) + 8) OVER w AS used
  FROM insights_rollup_0016
  WINDOW w AS (PARTITION BY event, hour, profile_id, source_id ORDER BY dims_hash)
),
k AS (
  SELECT event, hour, profile_id, source_id, count, times, pos,
    CASE WHEN used <= 200000 AND pos <= 100 THEN dims ELSE '{"$overflow":true}' END AS o
  FROM m
),
r AS (
  SELECT k.event, k.hour, k.profile_id, k.source_id, e.value AS t,
    ROW_NUMBER() OVER (PARTITION BY k.event, k.hour, k.profile_id, k.source_id ORDER BY k.pos, e.key) AS i
  FROM k, json_each(k.times) e WHERE k.o = '{"$overflow":true}'
),
ot AS (
  SELECT event, hour, profile_id, source_id, json_group_array(t ORDER BY i) AS times FROM r WHERE i <= 200
  GROUP BY event, hour, profile_id, source_id
),
v AS (
  SELECT event, hour, profile_id, source_id, o, MIN(pos) AS pos, SUM(count) AS n, MIN(times) AS times FROM k
  WHERE o <> '{"$overflow":true}' GROUP BY event, hour, profile_id, source_id, o
  UNION ALL
  SELECT k.event, k.hour, k.profile_id, k.source_id, k.o, 9e18, SUM(k.count), ot.times
  FROM k JOIN ot USING (event, hour, profile_id, source_id) WHERE k.o = '{"$overflow":true}'
  GROUP BY k.event, k.hour, k.profile_id, k.source_id
)
SELECT event, hour, profile_id, source_id, SUM(n),
  json_group_array(json_array(o, n, json(times)) ORDER BY pos)
FROM v GROUP BY event, hour, profile_id, source_id;

DROP TABLE insights_rollup_0016;
