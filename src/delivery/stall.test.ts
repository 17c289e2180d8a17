import { describe, expect, it } from 'vitest';
import { startStallMeter } from './stall';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // the thread runs nothing else meanwhile
  }
}

describe('stall meter', () => {
  it('counts the time the thread was held, not the time it waited', async () => {
    const meter = startStallMeter(Date.now, 10_000);
    try {
      await sleep(100);
      const idle = meter.stalled();
      expect(idle).toBeLessThan(50);
      busy(300);
      // Read at once, before the overdue tick ran: it counts already.
      expect(meter.stalled() - idle).toBeGreaterThanOrEqual(250);
      await sleep(100);
      const after = meter.stalled();
      expect(after - idle).toBeGreaterThanOrEqual(250);
      expect(after - idle).toBeLessThan(400);
    } finally {
      meter.stop();
    }
  });

  it('never excuses more than its cap', async () => {
    const meter = startStallMeter(Date.now, 200);
    try {
      await sleep(20);
      busy(500);
      await sleep(20);
      expect(meter.stalled()).toBe(200);
    } finally {
      meter.stop();
    }
  });
});
