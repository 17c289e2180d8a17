// Section `functions` of `npm run bench`: ingest through a source with an insert function (run in
// its Worker Loader isolate for every event) against a source without one, in the same Tessera,
// rounds alternating; plus a cold load (new code: a new isolate) against a warm invocation, read
// from the test endpoint's durationMs.
import { adminPoster, compareWriteKeys, mean, startBenchTessera } from './bench.mjs';

const INSERT =
  'async function onTrack(event, settings) { event.properties = { ...event.properties, tag: settings.tag }; return event }';

export async function benchFunctions(ctx) {
  const { batch } = ctx.options;
  ctx.log('starting Tessera (wrangler dev, loopback) with two sources, one with an insert function…');
  const tessera = await startBenchTessera();
  try {
    const admin = adminPoster(tessera);
    const withFn = await admin('/api/sources', { name: 'With insert function' });
    const fn = await admin('/api/functions', {
      name: 'Bench tagger',
      kind: 'insert',
      code: INSERT,
      settings: [{ name: 'tag', type: 'string', required: true, secret: false }],
    });
    await admin(`/api/functions/${fn.id}/instances`, { sourceId: withFn.id, settings: { tag: 'bench' } });

    const cold = [];
    const warm = [];
    for (let i = 0; i < 5; i++) {
      const code = `${INSERT}\n// ${i} ${Date.now()}`;
      cold.push((await admin(`/api/functions/${fn.id}/test`, { code, settings: { tag: 'x' } })).durationMs);
      warm.push((await admin(`/api/functions/${fn.id}/test`, { code, settings: { tag: 'x' } })).durationMs);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    ctx.log(`  cold load + invocation: median ${median(cold)} ms; warm invocation: median ${median(warm)} ms (5 each)`);

    const results = await compareWriteKeys(ctx, tessera, [
      { name: 'none', writeKey: tessera.writeKey },
      { name: 'insert', writeKey: withFn.writeKey },
    ]);
    const ratio = mean(results.insert.eventsPerSecond) / mean(results.none.eventsPerSecond);
    const addedMsPerEvent = (mean(results.insert.p50Ms) - mean(results.none.p50Ms)) / batch;
    ctx.log(`  throughput ratio : ${ratio.toFixed(3)} (insert function / none)`);
    ctx.log(`  added p50 latency: ${addedMsPerEvent.toFixed(3)} ms per event (${batch}-event batches)`);
    return {
      noneEventsPerSecond: mean(results.none.eventsPerSecond),
      insertEventsPerSecond: mean(results.insert.eventsPerSecond),
      ratio,
      addedMsPerEvent,
      coldMs: median(cold),
      warmMs: median(warm),
    };
  } finally {
    await tessera.stop();
  }
}
