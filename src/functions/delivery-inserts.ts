import type { Work } from '../delivery/send';
import { runInserts } from './insert';
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
  const config = await functionsConfig(env.DB);
  if (!config.insertsOfDestination.size) return [];
  const ran: Ran[] = [];
  const dropped: Work[] = [];
  await Promise.all(
    items.map(async (item) => {
      const chain = config.insertsOfDestination.get(item.dest.id);
      if (!chain) return;
      const out = await runInserts(env, chain, item.event);
      ran.push(...out.ran);
      if (out.event) item.event = out.event;
      else dropped.push(item);
    }),
  );
  await recordInvocations(env.DB, ran).catch((err) => console.warn('function invocations not recorded', err));
  return dropped;
}
