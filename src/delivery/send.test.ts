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

describe('the fresh lane’s deadline', () => {
  const run = async (fail: (n: number) => boolean, deadlineIn: number) => {
    const d = dest();
    const items: Work[] = Array.from({ length: 12 }, (_, i) => ({
      dest: d,
      event: { ...EVENTS.track, messageId: `d-${i}` },
    }));
    let n = 0;
    const started = Date.now();
    await deliverTo(d, items, {
      config: { ...config, freshBudgetMs: 200 },
      now: Date.now,
      deadline: started + deadlineIn,
      fetch: async () => {
        const mine = n++;
        await new Promise((r) => setTimeout(r, 10));
        return new Response('no', { status: fail(mine) ? 500 : 200 });
      },
    });
    return items.map((i) => i.outcome?.kind);
  };

  it('lets a destination whose requests all answered well finish its batch; one that failed hops', async () => {
    // 12 requests of 10 ms, 6 at a time, against a deadline 15 ms away: a clean run goes on.
    expect(await run(() => false, 15)).toEqual(Array(12).fill('delivered'));
    // The first request fails: past the deadline, what is left hops to the retry lane.
    const outcomes = await run((k) => k === 0, 15);
    expect(outcomes.filter((o) => o === 'retry').length).toBeGreaterThan(1);
    expect(outcomes).toContain('delivered');
  });
});
