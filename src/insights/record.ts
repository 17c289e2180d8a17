import {
  buildRollups,
  MAX_ROW_BYTES,
  MAX_TIMES,
  MAX_VARIANTS,
  OVERFLOW_DIMS,
  type StoredRollup,
  type VolumeRow,
} from './rollup';
import { type Countable, type SeenRow, seenStatements, unseen } from './seen';

/** JSON characters per statement parameter: D1 takes ~1 MB statements; rows are split well below. */
const CHUNK_CHARS = 400_000;

function chunks<T>(rows: T[], encode: (r: T) => unknown[]): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let size = 0;
  for (const r of rows) {
    const json = JSON.stringify(encode(r));
    if (size + json.length > CHUNK_CHARS && cur.length) {
      out.push(`[${cur.join(',')}]`);
      cur = [];
      size = 0;
    }
    cur.push(json);
    size += json.length + 1;
  }
  if (cur.length) out.push(`[${cur.join(',')}]`);
  return out;
}

// One statement per chunk: every row comes in one JSON parameter (SQLite binds ≤ 100 values).
const VOLUME_SQL = `INSERT INTO insights_volume (minute, source_id, type, event, count)
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?1) WHERE true
  ON CONFLICT DO UPDATE SET count = count + excluded.count`;

const OVF = `'${OVERFLOW_DIMS}'`;

/**
 * One row per (event, hour, profile, source); a conflict merges the batch's variants into the
 * stored ones inside the UPDATE itself (never read-modify-write, so concurrent consumers upserting
 * the same row both count), exactly as `mergeVariants` does (test/insights-rollup-rows.test.ts):
 *   v: every variant, stored then batch, by position;
 *   w: per dims (window): its first position gp, kept times k = min(MAX_TIMES, all);
 *   c: the running size and number of the non-overflow dims in order: a dims is kept while it
 *      fits in MAX_ROW_BYTES and MAX_VARIANTS, else it (and the stored overflow variant) goes to
 *      the overflow variant;
 *   e: each input variant's times, numbered per output variant in (gp, position, index) order;
 *   o: per output variant its count (each input's once) and first MAX_TIMES times; the result
 *      lists the kept variants in order, the overflow variant last.
 * Each step reads the one before it once and nothing joins two steps: the subquery is correlated
 * (it reads the row's columns), and SQLite would re-run a correlated step for every row it joins.
 */
const ROLLUP_SQL = `INSERT INTO insights_rollup (event, hour, profile_id, source_id, count, variants)
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value -> 5
  FROM json_each(?1) WHERE true
  ON CONFLICT DO UPDATE SET count = count + excluded.count, variants = (
    WITH v AS (
      SELECT key AS pos, value ->> 0 AS d, value ->> 1 AS n, value -> 2 AS t FROM json_each(insights_rollup.variants)
      UNION ALL
      SELECT 1000000000 + key, value ->> 0, value ->> 1, value -> 2 FROM json_each(excluded.variants)
    ),
    w AS (
      SELECT pos, d, n, t, MIN(pos) OVER byDims AS gp,
        MIN(${MAX_TIMES}, SUM(json_array_length(t)) OVER byDims) AS k
      FROM v WINDOW byDims AS (PARTITION BY d)
    ),
    c AS (
      SELECT pos, d, n, t, gp, SUM(CASE WHEN pos = gp AND d <> ${OVF}
        THEN length(CAST(d AS BLOB)) + 14 * k + 8 ELSE 0 END) OVER byOrder AS used,
        SUM(CASE WHEN pos = gp AND d <> ${OVF} THEN 1 ELSE 0 END) OVER byOrder AS nth
      FROM w WINDOW byOrder AS (ORDER BY gp, pos)
    ),
    k AS (
      SELECT CASE WHEN d <> ${OVF} AND used <= ${MAX_ROW_BYTES} AND nth <= ${MAX_VARIANTS} THEN d ELSE ${OVF} END AS o,
        pos, n, t, gp
      FROM c
    ),
    e AS (
      SELECT o, gp, CASE WHEN x.key IS NULL OR x.key = 0 THEN n ELSE 0 END AS n, x.value AS t,
        ROW_NUMBER() OVER (PARTITION BY o ORDER BY gp, pos, x.key) AS i
      FROM k LEFT JOIN json_each(k.t) x
    ),
    o AS (
      SELECT o, CASE WHEN o = ${OVF} THEN 9e18 ELSE MIN(gp) END AS pos, SUM(n) AS n,
        json_group_array(t ORDER BY i) FILTER (WHERE i <= ${MAX_TIMES} AND t IS NOT NULL) AS times
      FROM e GROUP BY o
    )
    SELECT json_group_array(json_array(o, n, json(times)) ORDER BY pos) FROM o)`;

/** The statements that add one batch's rollups (exported for the benchmark and tests). */
export function rollupStatements(d1: D1Database, volume: VolumeRow[], rollup: StoredRollup[]): D1PreparedStatement[] {
  return [
    ...chunks(volume, (v) => [v.minute, v.sourceId, v.type, v.event, v.count]).map((p) =>
      d1.prepare(VOLUME_SQL).bind(p),
    ),
    ...chunks(rollup, (r) => [r.event, r.hour, r.profileId, r.sourceId, r.count, r.variants]).map((p) =>
      d1.prepare(ROLLUP_SQL).bind(p),
    ),
  ];
}

const keyChunks = (keys: { day: number; id: string }[]) => chunks(keys, (k) => [k.day, k.id]);
const rowChunks = (rows: SeenRow[]) => chunks(rows, (r) => [r.day, r.id, r.counted]);

/** One attempt: read which events were counted, then message rows and rollups in one transaction. */
async function recordOnce(env: Cloudflare.Env, entries: readonly Countable[]): Promise<void> {
  const { fresh, rows } = await unseen(env.DB, entries, keyChunks);
  if (!fresh.length && !rows.length) return;
  const { volume, rollup } = buildRollups(fresh);
  const statements = [...seenStatements(env.DB, rows, rowChunks), ...rollupStatements(env.DB, volume, rollup)];
  await env.DB.batch(statements);
}

/**
 * Adds one ingest batch's acked events to the insights rollups, in one D1 `batch()` (a lookup of
 * the batch's message rows, then about four statements per queue batch), counting each event
 * once: an event whose index its queue message's row (`seen.ts`) holds was counted by an earlier
 * delivery and is left out. Pass only events settled for good in this delivery (acked, never
 * retried): a retried event is counted when a later delivery acks it. A transaction that fails
 * because a concurrent delivery stored first is tried once more. Insights are a derived view: a
 * failure is logged and the batch goes on (its events are then missing from charts, never from
 * profiles or destinations).
 */
export async function recordRollups(env: Cloudflare.Env, entries: readonly Countable[]): Promise<void> {
  if (!entries.length) return;
  for (let attempt = 1; ; attempt++) {
    try {
      await recordOnce(env, entries);
      return;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (attempt < 2 && /constraint/i.test(message)) continue;
      console.error('insights rollups not recorded', message);
      return;
    }
  }
}
