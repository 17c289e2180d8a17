/** Delivery tuning, read from vars so tests run the same code in seconds instead of hours. */
export interface DeliveryConfig {
  /** First retry delay; doubles per attempt (with jitter) up to `backoffCapSeconds`. */
  backoffBaseSeconds: number;
  backoffCapSeconds: number;
  /** How long an event keeps being retried before it is dead-lettered (Segment: about 4 h). */
  retryWindowSeconds: number;
  /** Per-request timeout (the retry lane waits this long for a vendor). */
  timeoutMs: number;
  /**
   * How long the fresh lane waits on a vendor: no request starts later than this into a batch,
   * and one still unanswered after it (four times it for a vendor that answered well lately) is
   * cut and hops to the retry lane. The queue hands the lane its next batch only when this one
   * returns, so every other destination's next events wait at most about this long for a slow
   * or hanging vendor.
   */
  freshBudgetMs: number;
  /** Loopback URLs are allowed only when running locally (`TESSERA_ENV=local`). */
  allowLoopback: boolean;
  /** Requests one destination may have in flight per consumer invocation (at most its share of the 6). */
  perDestinationConcurrency: number;
}

/** Connections a Worker invocation may have open at once. */
export const INVOCATION_CONNECTIONS = 6;

type DeliveryVars = {
  TESSERA_ENV?: string;
  DELIVERY_BACKOFF_BASE_SECONDS?: string;
  DELIVERY_RETRY_WINDOW_SECONDS?: string;
  DELIVERY_TIMEOUT_MS?: string;
  DELIVERY_FRESH_BUDGET_MS?: string;
};

function num(v: string | undefined, fallback: number, min: number): number {
  const n = Number(v);
  return Number.isFinite(n) && n >= min ? n : fallback;
}

/** The delivery configuration of an environment (defaults are production's). */
export function deliveryConfig(env: Cloudflare.Env): DeliveryConfig {
  const vars = env as unknown as DeliveryVars;
  const base = num(vars.DELIVERY_BACKOFF_BASE_SECONDS, 30, 0.1);
  return {
    backoffBaseSeconds: base,
    backoffCapSeconds: base * 64,
    retryWindowSeconds: num(vars.DELIVERY_RETRY_WINDOW_SECONDS, 4 * 3600, 1),
    timeoutMs: num(vars.DELIVERY_TIMEOUT_MS, 10_000, 100),
    // Healthy vendors answer well within it; a healthy destination's events then wait at most
    // this long behind a sibling that hangs (before the breaker moves that one out of the lane).
    freshBudgetMs: num(vars.DELIVERY_FRESH_BUDGET_MS, 500, 50),
    allowLoopback: vars.TESSERA_ENV === 'local',
    // Workers open at most 6 connections at once per invocation: a destination alone in its batch
    // may use them all, several share them (`deliverTo`).
    perDestinationConcurrency: INVOCATION_CONNECTIONS,
  };
}
