import type { Work } from '../delivery/send';
import { runInsertsOver } from './insert';
import { type Ran, recordInvocations } from './invocations';
import { functionsConfig } from './store';

/**
 * Runs each destination's insert functions over its share of a delivery batch: after the
 * destination's transformations and filters, before its mapping (Segment's order). A changed
 * event replaces the item's event (retries then carry it, so a function runs once per event and
 * destination); returns the items an insert function dropped.
 */
export async function runDestinationInserts(env: Cloudflare.Env, items: Work[]): Promise<Work[]> {
  if (!items.length) return [];
  const config = await functionsConfig(env);
  if (!config.insertsOfDestination.size) return [];
  const byDest = new Map<string, Work[]>();
  for (const i of items) {
    if (config.insertsOfDestination.has(i.dest.id)) byDest.set(i.dest.id, [...(byDest.get(i.dest.id) ?? []), i]);
  }
  const ran: Ran[] = [];
  const dropped: Work[] = [];
  await Promise.all(
    [...byDest].map(async ([destId, list]) => {
      const out = await runInsertsOver(
        env,
        config.insertsOfDestination.get(destId),
        list.map((i) => i.event),
      );
      ran.push(...out.ran);
      list.forEach((item, n) => {
        const event = out.results[n];
        if (event) item.event = event;
        else dropped.push(item);
      });
    }),
  );
  await recordInvocations(env.DB, ran).catch((err) => console.warn('function invocations not recorded', err));
  return dropped;
}
