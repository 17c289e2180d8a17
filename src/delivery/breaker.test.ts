import { beforeEach, describe, expect, it } from 'vitest';
import { isSuspect, isTrusted, pausedFor, recordFailure, recordSuccess, resetBreakers } from './breaker';

const slow = { kind: 'slow' as const, message: 'cut by the fresh lane' };
const base = 1000;

describe('circuit breaker', () => {
  beforeEach(() => resetBreakers());

  it('a slow answer degrades only after three batches in a row, never opens', () => {
    recordFailure('d', 0, slow, base);
    recordFailure('d', 1, slow, base);
    expect(pausedFor('d', 2, 'fresh')).toMatchObject({ ms: 0 });
    expect(isSuspect('d', 2)).toBe(true);
    recordFailure('d', 3, slow, base);
    expect(pausedFor('d', 4, 'fresh')).toMatchObject({ degraded: true });
    // The retry lane, with the full timeout, still sends.
    expect(pausedFor('d', 4, 'retry').ms).toBe(0);
    expect(pausedFor('d', 40_000, 'fresh').ms).toBe(0);
  });

  it('a success ends a slow streak; trust is earned by answering and lost by failing', () => {
    expect(isTrusted('d', 0)).toBe(false);
    recordFailure('d', 0, slow, base);
    recordFailure('d', 1, slow, base);
    recordSuccess('d', 2);
    recordFailure('d', 3, slow, base);
    expect(pausedFor('d', 4, 'fresh').ms).toBe(0);
    recordSuccess('d', 5);
    expect(isTrusted('d', 6)).toBe(true);
    recordFailure('d', 7, { kind: 'status', status: 503, response: 'down', message: 'answered 503' }, base);
    expect(isTrusted('d', 8)).toBe(false);
    expect(isTrusted('d', 8 + 6 * 60_000)).toBe(false);
  });

  it('keeps the last real answer for records made while paused', () => {
    for (let i = 0; i < 3; i++)
      recordFailure('d', i, { kind: 'status', status: 503, response: 'down', message: 'answered 503' }, base);
    expect(pausedFor('d', 10, 'retry')).toMatchObject({ last: { status: 503, response: 'down' } });
    expect(pausedFor('d', 10, 'retry').ms).toBeGreaterThan(0);
  });
});
