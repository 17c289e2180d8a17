// Section `governance` of `npm run bench`: ingest throughput of a source with a 50-rule tracking
// plan (Product Viewed planned, so every event is validated) against a source without one, in the
// same Tessera, rounds alternating so background load hits both alike. Issue 11's goal: ≥ 0.8.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { adminPoster, compareWriteKeys, mean, startBenchTessera } from './bench.mjs';
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
  const edge = await edgeFigures(plan().rules);
  ctx.log(
    `  edge CPU per 100-event batch: ${edge.noPlanMsPerBatch.toFixed(2)} ms without a plan, ` +
      `${edge.planMsPerBatch.toFixed(2)} ms with it; ratio ${edge.ratio.toFixed(3)} (in-process, steady)`,
  );
  ctx.log('starting Tessera (wrangler dev, loopback) with two sources, one with a 50-rule plan…');
  const tessera = await startBenchTessera();
  try {
    const admin = adminPoster(tessera);
    const governed = await admin('/api/sources', { name: 'Governed' });
    const created = await admin('/api/tracking-plans', plan());
    await admin(`/api/tracking-plans/${created.id}/sources`, { sourceId: governed.id });
    const results = await compareWriteKeys(ctx, tessera, [
      { name: 'none', writeKey: tessera.writeKey },
      { name: 'plan', writeKey: governed.writeKey },
    ]);
    const ratio = mean(results.plan.eventsPerSecond) / mean(results.none.eventsPerSecond);
    ctx.log(`  ratio          : ${ratio.toFixed(3)} (50-rule plan / no plan; goal ≥ 0.8)`);
    return {
      noPlanEventsPerSecond: mean(results.none.eventsPerSecond),
      planEventsPerSecond: mean(results.plan.eventsPerSecond),
      ratio,
      edge,
    };
  } finally {
    await tessera.stop();
  }
}
