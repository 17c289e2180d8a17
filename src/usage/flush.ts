import { type UsageRow, usage } from './counters';
import { MeteredD1 } from './d1';
import { countsByHour } from './hours';

const DEFAULT_FLUSH_SECONDS = 60;
let lastFlush = 0;
let inFlight: Promise<void> | undefined;

/**
 * The upsert of one flush: an hour's row is created, or its `counts` replaced by the sum, key by
 * key, of what it held and what this flush adds, inside the one statement. D1 runs statements one
 * at a time, so flushes of concurrent isolates each see the other's sum and add up exactly.
 *
 * Why one row per hour holding JSON, not one row per counter (dozens per flush, each billed as a
 * written row) nor an append-only row per flush summed at read time (also one row per flush, but
 * a range would read one row per flush of every isolate, growing with traffic and time): a flush
 * writes one row per hour it spans (one, or two across the hour), and a report reads one row per
 * hour of its range (at most 400 × 24). The row holds one key per stage, unit and detail the code
 * counts (a few hundred) plus one per source that sent events that hour, far below D1's 2 MB row.
 */
const UPSERT = `INSERT INTO usage_hours (hour, counts)
  SELECT key, value FROM json_each(?) WHERE true
  ON CONFLICT (hour) DO UPDATE SET counts = (
    SELECT json_group_object(key, n) FROM (
      SELECT key, sum(value) AS n FROM (
        SELECT key, value FROM json_each(usage_hours.counts)
        UNION ALL
        SELECT key, value FROM json_each(excluded.counts)
      ) GROUP BY key
    )
  )`;

/** Adds counters to D1 in one statement: one row written per hour they span. */
export function writeUsage(d1: D1Database | MeteredD1, rows: readonly UsageRow[]): Promise<D1Result> {
  return d1
    .prepare(UPSERT)
    .bind(JSON.stringify(countsByHour(rows)))
    .run();
}

/**
 * Writes the isolate's counters to D1 (`writeUsage`). The meter's own row is counted under the
 * stage `meter`. A failed write puts the counters back for the next flush. Resolves whether the
 * counters are written (true with nothing to write), so `POST /api/usage/flush` can say so.
 */
export async function flushUsage(d1: D1Database): Promise<boolean> {
  if (inFlight) await inFlight;
  if (!usage.size) return true;
  const rows = usage.drain();
  const raw = d1 instanceof MeteredD1 ? d1.inner : d1;
  const run = writeUsage(new MeteredD1(raw, 'meter'), rows).then(
    () => true,
    (err) => {
      usage.restore(rows);
      console.warn('usage meter flush failed; kept for the next one', err);
      return false;
    },
  );
  inFlight = run.then(() => undefined);
  try {
    return await run;
  } finally {
    inFlight = undefined;
  }
}

/** Seconds between flushes of one isolate (`USAGE_FLUSH_SECONDS`, default 60; 0 flushes at every chance). */
export function flushSeconds(env: { USAGE_FLUSH_SECONDS?: string }): number {
  const n = Number(env.USAGE_FLUSH_SECONDS ?? DEFAULT_FLUSH_SECONDS);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_FLUSH_SECONDS;
}

/**
 * Flushes when the last flush of this isolate is older than the interval. `keepAlive` is the
 * entry point's `waitUntil`, so the write never holds up an answer or a batch.
 */
export function maybeFlush(
  env: { DB: D1Database; USAGE_FLUSH_SECONDS?: string },
  keepAlive: (p: Promise<unknown>) => void,
  now = Date.now(),
): void {
  if (!usage.size || inFlight || now - lastFlush < flushSeconds(env) * 1000) return;
  lastFlush = now;
  keepAlive(flushUsage(env.DB));
}
