import { buildRollups, MAX_TIMES, type RollupInput, type RollupRow, type VolumeRow } from './rollup';
import { type SeenKey, seenStatements, unseen } from './seen';

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

const ROLLUP_SQL = `INSERT INTO insights_rollup (event, hour, profile_id, source_id, dims_hash, dims, count, times)
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value -> 7
  FROM json_each(?1) WHERE true
  ON CONFLICT DO UPDATE SET count = count + excluded.count,
    times = CASE WHEN json_array_length(times) >= ${MAX_TIMES} THEN times ELSE (
      SELECT json_group_array(t) FROM (
        SELECT value AS t FROM json_each(insights_rollup.times)
        UNION ALL SELECT value FROM json_each(excluded.times) LIMIT ${MAX_TIMES})) END`;

/** The statements that add one batch's rollups (exported for the benchmark and tests). */
export function rollupStatements(d1: D1Database, volume: VolumeRow[], rollup: RollupRow[]): D1PreparedStatement[] {
  return [
    ...chunks(volume, (v) => [v.minute, v.sourceId, v.type, v.event, v.count]).map((p) =>
      d1.prepare(VOLUME_SQL).bind(p),
    ),
    ...chunks(rollup, (r) => [r.event, r.hour, r.profileId, r.sourceId, r.dimsHash, r.dims, r.count, r.times]).map(
      (p) => d1.prepare(ROLLUP_SQL).bind(p),
    ),
  ];
}

const seenChunks = (keys: SeenKey[]) => chunks(keys, (k) => [k.day, k.key]);

/** One attempt: read which events were counted, then keys and rollups in one transaction. */
async function recordOnce(env: Cloudflare.Env, inputs: readonly RollupInput[]): Promise<void> {
  const { fresh, keys } = await unseen(env.DB, inputs, seenChunks);
  if (!fresh.length) return;
  const { volume, rollup } = buildRollups(fresh);
  const statements = [...seenStatements(env.DB, keys, seenChunks(keys)), ...rollupStatements(env.DB, volume, rollup)];
  await env.DB.batch(statements);
}

/**
 * Adds one ingest batch's applied events to the insights rollups, in one D1 `batch()` (a key
 * lookup, then about three statements per queue batch), counting each event once: an event whose
 * key `seen.ts` holds was counted by an earlier delivery and is left out. A transaction that fails
 * because a concurrent delivery stored a key first is tried once more. Insights are a derived view:
 * a failure is logged and the batch goes on (its events are then missing from charts, never from
 * profiles or destinations).
 */
export async function recordRollups(env: Cloudflare.Env, inputs: readonly RollupInput[]): Promise<void> {
  if (!inputs.length) return;
  for (let attempt = 1; ; attempt++) {
    try {
      await recordOnce(env, inputs);
      return;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (attempt < 2 && /UNIQUE constraint/i.test(message)) continue;
      console.error('insights rollups not recorded', message);
      return;
    }
  }
}
