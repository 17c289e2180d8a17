/**
 * Identity resolution timings of this isolate: how long each event took from the start of its
 * resolution to being applied on its profile. Diagnostics for operators and `npm run bench`;
 * every isolate keeps its own (a local `wrangler dev` has one).
 */
const CAPACITY = 20_000;
const samples = new Float64Array(CAPACITY);
let recorded = 0;
let events = 0;
let merges = 0;
let since = new Date().toISOString();

/** Records the resolution latency of `count` events resolved together. */
export function recordResolution(ms: number, count = 1, merged = 0): void {
  for (let i = 0; i < count; i++) samples[recorded++ % CAPACITY] = ms;
  events += count;
  merges += merged;
}

const quantile = (sorted: Float64Array, q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;

/** Counters and latency percentiles over the last 20,000 events. */
export function resolutionStats() {
  const window = samples.slice(0, Math.min(recorded, CAPACITY)).sort();
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    since,
    events,
    merges,
    p50Ms: round(quantile(window, 0.5)),
    p95Ms: round(quantile(window, 0.95)),
    p99Ms: round(quantile(window, 0.99)),
  };
}

/** Starts counting afresh. */
export function resetResolutionStats(): void {
  recorded = 0;
  events = 0;
  merges = 0;
  since = new Date().toISOString();
}
