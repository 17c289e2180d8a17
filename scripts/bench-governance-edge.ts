// In-process part of `npm run bench -- --only governance`: the edge's CPU for a 100-event batch
// (parse, validate, enrich) with the bench's 50-rule plan against none, alternating in one process.
// Bundled by esbuild at bench time (scripts/bench-governance.mjs), since it imports src/ directly.
import { compilePlan, govern } from '../src/governance/plan';
import { type Rule, SchemaSettings } from '../src/governance/rules';
import { collect } from '../src/ingest/collect';

export function edgeRatio(rules: Rule[], batches = 400, rounds = 5) {
  const plan = compilePlan('bench', rules);
  const settings = SchemaSettings.parse({});
  const now = new Date().toISOString();
  const body = () =>
    JSON.stringify({
      batch: Array.from({ length: 100 }, (_, i) => ({
        type: 'track',
        event: 'Product Viewed',
        userId: `bench-user-${i}`,
        messageId: `bench-${i}-${Math.random()}`,
        timestamp: now,
        properties: { product_id: `sku-${i}`, price: 19.99, currency: 'EUR', position: i },
        context: { library: { name: 'tessera-bench', version: '1' } },
      })),
    });
  const run = (withPlan: boolean) => {
    const started = performance.now();
    for (let k = 0; k < batches; k++) {
      const items = (JSON.parse(body()) as { batch: unknown[] }).batch;
      const { accepted } = collect(items, { receivedAt: new Date() }, {});
      if (withPlan) for (const e of accepted) govern(plan, settings, e as unknown as Record<string, unknown>);
    }
    return (performance.now() - started) / batches;
  };
  run(false);
  run(true);
  const none: number[] = [];
  const planned: number[] = [];
  for (let r = 0; r < rounds; r++) {
    none.push(run(false));
    planned.push(run(true));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { noPlanMsPerBatch: median(none), planMsPerBatch: median(planned), ratio: median(none) / median(planned) };
}
