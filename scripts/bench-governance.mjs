// Section `governance` of `npm run bench`: ingest throughput of a source with a 50-rule tracking
// plan (Product Viewed planned, so every event is validated) against a source without one, in the
// same Tessera, rounds alternating so background load hits both alike. Issue 11's goal: ≥ 0.8.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { acceptedEvents, batchBody, loadTest, startBenchTessera } from './bench.mjs';
import { ROOT } from './local.mjs';

/** The edge's CPU per batch with and without the plan, in this process (scripts/bench-governance-edge.ts). */
async function edgeFigures(rules) {
  const dir = await mkdtemp(join(os.tmpdir(), 'tessera-bench-edge-'));
  try {
    const outfile = join(dir, 'edge.mjs');
    await build({
      entryPoints: [join(ROOT, 'scripts', 'bench-governance-edge.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile,
      logLevel: 'error',
    });
    const { edgeRatio } = await import(pathToFileURL(outfile).href);
    return edgeRatio(rules);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const RULES = 50;

function plan() {
  const rules = [];
  rules.push({
    type: 'TRACK',
    key: 'Product Viewed',
    jsonSchema: {
      type: 'object',
      properties: {
        properties: {
          type: 'object',
          required: ['product_id', 'price'],
          properties: {
            product_id: { type: 'string', pattern: '^sku-' },
            price: { type: 'number', minimum: 0 },
            currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
            position: { type: 'integer', minimum: 0 },
          },
        },
      },
    },
  });
  for (let i = rules.length; i < RULES - 1; i++) {
    rules.push({
      type: 'TRACK',
      key: `Planned Event ${i}`,
      jsonSchema: { type: 'object', properties: { properties: { type: 'object', required: ['id'] } } },
    });
  }
  rules.push({
    type: 'COMMON',
    jsonSchema: {
      type: 'object',
      properties: { context: { type: 'object', properties: { library: { type: 'object' } } } },
    },
  });
  return { name: 'Bench plan', rules };
}

export async function benchGovernance(ctx) {
  const { duration, warmup, concurrency, rounds, batch } = ctx.options;
  const edge = await edgeFigures(plan().rules);
  ctx.log(
    `  edge CPU per 100-event batch: ${edge.noPlanMsPerBatch.toFixed(2)} ms without a plan, ` +
      `${edge.planMsPerBatch.toFixed(2)} ms with it; ratio ${edge.ratio.toFixed(3)} (in-process, steady)`,
  );
  ctx.log('starting Tessera (wrangler dev, loopback) with two sources, one with a 50-rule plan…');
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
    const governed = await admin('/api/sources', { name: 'Governed' });
    const created = await admin('/api/tracking-plans', plan());
    await admin(`/api/tracking-plans/${created.id}/sources`, { sourceId: governed.id });
    const targets = [
      { name: 'none', writeKey: tessera.writeKey },
      { name: 'plan', writeKey: governed.writeKey },
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
    const results = { none: [], plan: [] };
    for (let r = 0; r < rounds; r++) {
      for (const target of r % 2 ? [...targets].reverse() : targets) {
        const res = await run(target, duration * 1000);
        results[target.name].push(res.eventsPerSecond);
        ctx.log(
          `  round ${r + 1} ${target.name.padEnd(5)} ${Math.round(res.eventsPerSecond)} events/s  p50 ${res.p50Ms.toFixed(1)} ms`,
        );
      }
    }
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratio = mean(results.plan) / mean(results.none);
    ctx.log(`  ratio          : ${ratio.toFixed(3)} (50-rule plan / no plan; goal ≥ 0.8)`);
    return { noPlanEventsPerSecond: mean(results.none), planEventsPerSecond: mean(results.plan), ratio, edge };
  } finally {
    await tessera.stop();
  }
}
