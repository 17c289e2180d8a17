// In-process part of `npm run bench -- --only insights`: 100k generated events in sessions, cut
// into queue batches of 100 as the ingest consumer sees them, turned into rollup rows (CPU per
// event, rows written per event), then trends/funnel/retention computed over the stored rows.
// Bundled by esbuild at bench time (scripts/bench-insights.mjs), since it imports src/ directly.
import { funnel, retention, trends, unifier } from '../src/insights/compute';
import { FunnelQuery, RetentionQuery, TrendsQuery } from '../src/insights/queries';
import {
  buildRollups,
  type RollupInput,
  type RollupRow,
  type StoredRollup,
  storeRollups,
  variantRows,
} from '../src/insights/rollup';
import { prng } from '../src/lib/prng';

export const T0 = Date.parse('2026-01-05T00:00:00.000Z');
const DAY = 86_400_000;
const NAMES = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed', 'Signed In'];

/** `events` events from `profiles` people in sessions of a few events within minutes, over 28 days. */
export function generate(events = 100_000, profiles = 5_000): RollupInput[] {
  const r = prng(7);
  const out: RollupInput[] = [];
  while (out.length < events) {
    const profileId = `use_${String(r.int(0, profiles - 1)).padStart(6, '0')}`;
    let t = T0 + r.int(0, 28 * DAY);
    for (let i = r.int(1, 12); i > 0 && out.length < events; i--) {
      t += r.int(5_000, 300_000);
      const ts = new Date(t).toISOString();
      out.push({
        sourceId: r.pick(['src_web', 'src_ios']),
        profileId,
        event: {
          messageId: `m${out.length}`,
          type: 'track',
          event: NAMES[Math.min(NAMES.length - 1, Math.floor(r.next() * r.next() * NAMES.length * 1.3))],
          timestamp: ts,
          receivedAt: ts,
          properties: { plan: r.pick(['free', 'pro']), currency: 'EUR', price: r.pick([9.99, 19.99, 49]) },
          context: {
            library: { name: 'analytics.js', version: '5' },
            locale: r.pick(['en-US', 'fr-FR']),
            ip: '203.0.113.9',
          },
        },
      });
    }
  }
  // Live traffic reaches the consumer in arrival order: a queue batch holds events of the same moment.
  return out.sort((a, b) => Date.parse(a.event.timestamp ?? '') - Date.parse(b.event.timestamp ?? ''));
}

/**
 * Rollup rows per batch (what each queue batch writes) and the rows D1 ends up holding. Events
 * reach the queue packed `perMessage` to a message (a `/v1/batch` of 20), one redelivery row each.
 */
export function rollupFigures(inputs: RollupInput[], batchSize = 100, perMessage = 20) {
  const stored = new Map<string, StoredRollup>();
  let written = 0;
  let volumeWritten = 0;
  let keys = 0;
  // CPU of what the consumer runs (buildRollups), not of the in-memory stand-in for D1's merge.
  let cpuMs = 0;
  for (let at = 0; at < inputs.length; at += batchSize) {
    const batch = inputs.slice(at, at + batchSize);
    keys += Math.ceil(batch.length / perMessage);
    const started = performance.now();
    const { volume, rollup } = buildRollups(batch);
    cpuMs += performance.now() - started;
    written += rollup.length;
    volumeWritten += volume.length;
    storeRollups(stored, rollup);
  }
  return {
    /** The stored rows (what D1 holds), and their variants as queries read them. */
    stored: [...stored.values()],
    rows: variantRows([...stored.values()]),
    figures: {
      events: inputs.length,
      cpuMicrosPerEvent: Math.round((cpuMs * 1000 * 100) / inputs.length) / 100,
      rollupRowsWrittenPerEvent: Math.round((written / inputs.length) * 1000) / 1000,
      volumeRowsWrittenPerEvent: Math.round((volumeWritten / inputs.length) * 1000) / 1000,
      // seen.ts: one row per queue message inserted and deleted a week later (both rows written),
      // one primary-key lookup (row read) per message; D1 bills rows written at $1 per million.
      dedupeRowsWrittenPerEvent: Math.round(((2 * keys) / inputs.length) * 1000) / 1000,
      dedupeRowsReadPerEvent: Math.round((keys / inputs.length) * 1000) / 1000,
      statementsPerBatch: 4,
      storedRollupRows: stored.size,
    },
  };
}

export const QUERIES = {
  trends: {
    event: 'Product Viewed',
    interval: 'day',
    measure: 'users',
    breakdown: 'properties.plan',
    from: new Date(T0).toISOString(),
    to: new Date(T0 + 28 * DAY).toISOString(),
  },
  funnel: {
    steps: [{ event: 'Product Viewed' }, { event: 'Product Added' }, { event: 'Order Completed' }],
    within: '1d',
    from: new Date(T0).toISOString(),
    to: new Date(T0 + 28 * DAY).toISOString(),
  },
  retention: {
    startEvent: 'Product Viewed',
    returnEvent: 'Product Viewed',
    interval: 'week',
    from: new Date(T0).toISOString(),
    to: new Date(T0 + 28 * DAY).toISOString(),
  },
};

/** Median milliseconds of each query computed in process over `rows` (no D1 read). */
export function computeFigures(rows: RollupRow[], rounds = 5) {
  const unify = unifier(new Map());
  const time = (fn: () => unknown) => {
    const xs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const s = performance.now();
      fn();
      xs.push(performance.now() - s);
    }
    return Math.round([...xs].sort((a, b) => a - b)[Math.floor(rounds / 2)] * 10) / 10;
  };
  const t = TrendsQuery.parse(QUERIES.trends);
  const f = FunnelQuery.parse(QUERIES.funnel);
  const r = RetentionQuery.parse(QUERIES.retention);
  return {
    trendsMs: time(() => trends(rows, t, unify)),
    funnelMs: time(() => funnel(rows, f, unify)),
    retentionMs: time(() => retention(rows, r, unify)),
  };
}
