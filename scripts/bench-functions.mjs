// Section `functions` of `npm run bench`: ingest through a source with an insert function (run in
// its Worker Loader isolate for every event) against a source without one, in the same Tessera,
// rounds alternating; plus a cold load (new code: a new isolate) against a warm invocation, read
// from the test endpoint's durationMs.
import { acceptedEvents, batchBody, loadTest, startBenchTessera } from './bench.mjs';

const INSERT =
  'async function onTrack(event, settings) { event.properties = { ...event.properties, tag: settings.tag }; return event }';

export async function benchFunctions(ctx) {
  const { duration, warmup, concurrency, rounds, batch } = ctx.options;
  ctx.log('starting Tessera (wrangler dev, loopback) with two sources, one with an insert function…');
  const tessera = await startBenchTessera();
  try {
    const admin = (path, body) =>
      fetch(`${tessera.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tessera.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (r) => {
        if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
        return r.json();
      });
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

    const targets = [
      { name: 'none', writeKey: tessera.writeKey },
      { name: 'insert', writeKey: withFn.writeKey },
    ];
    const run = (target, durationMs) =>
      loadTest({
        url: `${tessera.url}/v1/batch`,
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${target.writeKey}:`).toString('base64')}`,
        },
        makeBody: (seq) => batchBody(batch, seq),
        countAccepted: acceptedEvents(batch),
        concurrency,
        durationMs,
      });
    for (const target of targets) await run(target, warmup * 1000);
    const results = { none: [], insert: [], p50: { none: [], insert: [] } };
    for (let r = 0; r < rounds; r++) {
      for (const target of r % 2 ? [...targets].reverse() : targets) {
        const res = await run(target, duration * 1000);
        results[target.name].push(res.eventsPerSecond);
        results.p50[target.name].push(res.p50Ms);
        ctx.log(
          `  round ${r + 1} ${target.name.padEnd(6)} ${Math.round(res.eventsPerSecond)} events/s  p50 ${res.p50Ms.toFixed(1)} ms`,
        );
      }
    }
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratio = mean(results.insert) / mean(results.none);
    const addedMsPerEvent = (mean(results.p50.insert) - mean(results.p50.none)) / batch;
    ctx.log(`  throughput ratio : ${ratio.toFixed(3)} (insert function / none)`);
    ctx.log(`  added p50 latency: ${addedMsPerEvent.toFixed(3)} ms per event (${batch}-event batches)`);
    return {
      noneEventsPerSecond: mean(results.none),
      insertEventsPerSecond: mean(results.insert),
      ratio,
      addedMsPerEvent,
      coldMs: median(cold),
      warmMs: median(warm),
    };
  } finally {
    await tessera.stop();
  }
}
