import { usage } from './counters';
import { MeteredD1 } from './d1';

const DEFAULT_FLUSH_SECONDS = 60;
let lastFlush = 0;
let inFlight: Promise<void> | undefined;

/**
 * Writes the isolate's counters to D1 in one statement (one row per hour, stage, source, unit and
 * detail, added to what is there). The meter's own rows are counted under the stage `meter`.
 * A failed write puts the counters back for the next flush.
 */
export async function flushUsage(d1: D1Database): Promise<void> {
  if (inFlight) await inFlight;
  if (!usage.size) return;
  const rows = usage.drain();
  const raw = d1 instanceof MeteredD1 ? d1.inner : d1;
  const meter = new MeteredD1(raw, 'meter');
  const run = meter
    .prepare(
      `INSERT INTO usage_counters (hour, stage, source, unit, detail, n)
       SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
              json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]')
       FROM json_each(?) WHERE true
       ON CONFLICT (hour, stage, source, unit, detail) DO UPDATE SET n = n + excluded.n`,
    )
    .bind(JSON.stringify(rows.map((r) => [r.hour, r.stage, r.source, r.unit, r.detail, r.n])))
    .run()
    .then(
      () => undefined,
      (err) => {
        usage.restore(rows);
        console.warn('usage meter flush failed; kept for the next one', err);
      },
    );
  inFlight = run;
  try {
    await run;
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
