import type { DeliveryConfig } from './config';

/** Queues accept delays up to 12 hours. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

/**
 * Delay before retry number `attempt` (1 = after the first failure): exponential from the base,
 * capped, with jitter in [½, 1] of the step so retries of many events spread out; never sooner
 * than the vendor's `Retry-After`.
 */
export function backoffSeconds(
  attempt: number,
  config: Pick<DeliveryConfig, 'backoffBaseSeconds' | 'backoffCapSeconds'>,
  random: () => number,
  retryAfterMs?: number,
): number {
  const step = Math.min(config.backoffCapSeconds, config.backoffBaseSeconds * 2 ** Math.max(0, attempt - 1));
  const jittered = step * (0.5 + random() / 2);
  const floor = retryAfterMs === undefined ? 0 : retryAfterMs / 1000;
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, Math.ceil(Math.max(jittered, floor))));
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What to do with an event that failed retryably, given its retry window. */
export type RetryPlan = { retry: true; delaySeconds: number } | { retry: false; reason: string };

/**
 * Plans the next retry. Past the window (or when the vendor asks to wait beyond it) the event is
 * dead-lettered; a delay that would overshoot the window is shortened to one last try at its end.
 */
export function planRetry(opts: {
  attempts: number;
  firstAttemptAt: number;
  now: number;
  /** The vendor's `Retry-After`: honoured, or the event is dead-lettered if it ends past the window. */
  retryAfterMs?: number;
  /** Our own pause (the breaker): respected, but shortened to the window like any delay. */
  minDelayMs?: number;
  /** A hop from the fresh lane to the retry lane: this fixed delay instead of a backoff. */
  hopSeconds?: number;
  config: DeliveryConfig;
  random: () => number;
}): RetryPlan {
  const { attempts, firstAttemptAt, now, retryAfterMs, minDelayMs, hopSeconds, config, random } = opts;
  const remaining = Math.floor((firstAttemptAt + config.retryWindowSeconds * 1000 - now) / 1000);
  const w = config.retryWindowSeconds;
  const windowText = `${w >= 120 ? `${Math.round(w / 60)} min` : `${w} s`} retry window`;
  if (remaining < 1) return { retry: false, reason: `gave up after ${attempts} attempts over the ${windowText}` };
  if (retryAfterMs !== undefined && retryAfterMs / 1000 > remaining) {
    return {
      retry: false,
      reason: `the vendor asked to wait ${Math.ceil(retryAfterMs / 1000)} s, past the ${windowText}`,
    };
  }
  if (hopSeconds !== undefined) return { retry: true, delaySeconds: Math.max(1, Math.min(hopSeconds, remaining)) };
  const floor = Math.max(retryAfterMs ?? 0, minDelayMs ?? 0);
  const delay = backoffSeconds(attempts, config, random, floor || undefined);
  return { retry: true, delaySeconds: Math.min(delay, remaining) };
}
