import { describe, expect, it } from 'vitest';
import { backoffSeconds, MAX_QUEUE_DELAY_SECONDS, parseRetryAfter, planRetry } from './backoff';
import type { DeliveryConfig } from './config';

const config: DeliveryConfig = {
  backoffBaseSeconds: 30,
  backoffCapSeconds: 30 * 64,
  retryWindowSeconds: 4 * 3600,
  timeoutMs: 10_000,
  freshBudgetMs: 500,
  allowLoopback: false,
  perDestinationConcurrency: 3,
};
const high = () => 0.999_999;
const low = () => 0;

describe('backoff', () => {
  it('doubles from the base, with jitter between half and all of the step, up to the cap', () => {
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, config, high))).toEqual([30, 60, 120, 240]);
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, config, low))).toEqual([15, 30, 60, 120]);
    expect(backoffSeconds(30, config, high)).toBe(1920);
    for (let i = 0; i < 50; i++) {
      const d = backoffSeconds(3, config, Math.random);
      expect(d).toBeGreaterThanOrEqual(60);
      expect(d).toBeLessThanOrEqual(120);
    }
  });

  it('never retries sooner than Retry-After, and never past the queue maximum', () => {
    expect(backoffSeconds(1, config, low, 90_000)).toBe(90);
    expect(backoffSeconds(1, config, low, 100 * 3600_000)).toBe(MAX_QUEUE_DELAY_SECONDS);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('keeps retrying for about 4 hours with production settings, then dead-letters', () => {
    let now = 0;
    let attempts = 1;
    for (;;) {
      const plan = planRetry({ attempts, firstAttemptAt: 0, now, config, random: Math.random });
      if (!plan.retry) {
        expect(plan.reason).toMatch(/gave up after \d+ attempts over the 240 min retry window/);
        break;
      }
      now += plan.delaySeconds * 1000;
      attempts++;
    }
    expect(now).toBe(4 * 3600_000);
    expect(attempts).toBeGreaterThanOrEqual(9);
    expect(attempts).toBeLessThanOrEqual(30);
  });

  it('shortens the last delay to the end of the window; dead-letters when Retry-After is past it', () => {
    const nearEnd = 4 * 3600_000 - 10_000;
    expect(planRetry({ attempts: 12, firstAttemptAt: 0, now: nearEnd, config, random: high })).toEqual({
      retry: true,
      delaySeconds: 10,
    });
    const plan = planRetry({
      attempts: 2,
      firstAttemptAt: 0,
      now: nearEnd,
      retryAfterMs: 60_000,
      config,
      random: high,
    });
    expect(plan).toMatchObject({ retry: false, reason: expect.stringContaining('asked to wait 60 s') });
  });
});

describe('breaker pauses', () => {
  it('delay a retry but never dead-letter it before the window ends', () => {
    const plan = planRetry({ attempts: 2, firstAttemptAt: 0, now: 0, minDelayMs: 10 * 3600_000, config, random: low });
    expect(plan).toEqual({ retry: true, delaySeconds: 4 * 3600 });
  });
});
