import { describe, expect, it } from 'vitest';
import { EVENTS } from '../destinations/test-events';
import { webhook } from '../destinations/webhook';
import type { DeliveryConfig } from './config';
import type { LiveDestination } from './routing';
import { deliverTo, type Work } from './send';

const config: DeliveryConfig = {
  backoffBaseSeconds: 2,
  backoffCapSeconds: 128,
  retryWindowSeconds: 60,
  timeoutMs: 5000,
  freshBudgetMs: 5000,
  allowLoopback: true,
  perDestinationConcurrency: 6,
};

let seq = 0;
const dest = (): LiveDestination => ({
  id: `send-test-${++seq}`,
  name: 'Hook',
  def: webhook,
  settings: { url: 'http://127.0.0.1:9/hook', batchSize: 1 },
  sourceIds: ['src1'],
  consentCategories: [],
  filters: [],
});

/** Delivers 24 events (one request each) and reports the most requests in flight at once. */
async function widest(sharing: number | undefined, perDestination = config.perDestinationConcurrency) {
  const d = dest();
  const items: Work[] = Array.from({ length: 24 }, (_, i) => ({
    dest: d,
    event: { ...EVENTS.track, messageId: `m-${i}` },
  }));
  let inFlight = 0;
  let most = 0;
  await deliverTo(d, items, {
    config: { ...config, perDestinationConcurrency: perDestination },
    now: Date.now,
    sharing,
    fetch: async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return new Response('ok');
    },
  });
  expect(items.every((i) => i.outcome?.kind === 'delivered')).toBe(true);
  return most;
}

describe('a destination’s share of the invocation’s connections', () => {
  it('uses all six alone, shares them with the batch’s other destinations, never more than its cap', async () => {
    expect(await widest(1)).toBe(6);
    expect(await widest(undefined)).toBe(6);
    expect(await widest(2)).toBe(3);
    expect(await widest(4)).toBe(1);
    expect(await widest(12)).toBe(1);
    expect(await widest(1, 2)).toBe(2);
  });
});
