/**
 * Per-destination circuit breaker, per isolate. Deliveries run in two lanes: `fresh` (events
 * fanned out for the first time) and `retry` (the retry queue). A destination that hangs is
 * *open* for a short, growing pause (no requests at all) and *degraded* for longer: its
 * fresh events skip the first lane and go straight to the retry lane, where probes decide when it
 * has recovered. So a hanging vendor never holds the lane healthy destinations are served from.
 * `Retry-After` pauses for exactly what the vendor asked. The breaker is an optimisation (each
 * isolate learns on its own); the fresh lane's deadline (`freshBudgetMs`) is the guarantee.
 */
interface State {
  failures: number;
  /** Answers in a row cut by the fresh lane's deadline. */
  slow: number;
  openUntil: number;
  degradedUntil: number;
  reason: string;
  /** The vendor's last real answer, so a failure recorded while paused still shows it. */
  last?: { status?: number; response?: string };
}

export type Lane = 'fresh' | 'retry';

const states = new Map<string, State>();
/** When each destination last answered well (in this isolate). */
const answered = new Map<string, number>();

/** How long a good answer keeps a destination trusted. */
const TRUST_MS = 5 * 60_000;

/** Longest pause, whatever the backoff base. */
const MAX_OPEN_MS = 5 * 60_000;

/** Cut answers in a row after which a slow vendor is served from the retry lane for a while. */
const SLOW_STREAK = 3;
const SLOW_DEGRADE_MS = 30_000;

/**
 * How long the destination should not be tried in this lane (0 = go ahead), and why. `degraded`:
 * not paused, only kept out of the fresh lane (its events hop to the retry lane at once). `last`:
 * the vendor's last real answer.
 */
export function pausedFor(
  destinationId: string,
  now: number,
  lane: Lane,
): { ms: number; reason: string; degraded?: boolean; last?: { status?: number; response?: string } } {
  const s = states.get(destinationId);
  if (!s) return { ms: 0, reason: '' };
  if (s.openUntil > now) return { ms: s.openUntil - now, reason: s.reason, last: s.last };
  // Degraded: fresh events take the retry lane (a short hop) rather than risk another hang here.
  if (lane === 'fresh' && s.degradedUntil > now) return { ms: 1000, reason: s.reason, degraded: true, last: s.last };
  return { ms: 0, reason: '' };
}

/** True while a destination has failed, been slow or is degraded: it gets one request at a time. */
export function isSuspect(destinationId: string, now: number): boolean {
  const s = states.get(destinationId);
  return !!s && (s.failures > 0 || s.slow > 0 || s.degradedUntil > now || s.openUntil > now);
}

/**
 * Trusted: answered well lately and not failed, slow or degraded since. The fresh lane gives a
 * trusted destination more time before cutting a request (a cut may double a delivery the vendor
 * took), and an unknown or suspect one only its short budget.
 */
export function isTrusted(destinationId: string, now: number): boolean {
  const at = answered.get(destinationId);
  return at !== undefined && now - at < TRUST_MS && !isSuspect(destinationId, now);
}

/** A request succeeded: no pause any more (a degraded destination stays in the retry lane a while). */
export function recordSuccess(destinationId: string, now = Date.now()): void {
  if (answered.size > 5000) answered.clear();
  answered.set(destinationId, now);
  const s = states.get(destinationId);
  if (!s) return;
  s.failures = 0;
  s.slow = 0;
  s.openUntil = 0;
  if (s.degradedUntil === 0) states.delete(destinationId);
}

/**
 * A request failed retryably. A hang (timeout) opens the breaker at once and degrades the
 * destination, since hangs are what hold a lane; a `slow` answer (cut by the fresh lane's
 * deadline, within the full timeout) is not a failure of the vendor: only three in a row degrade
 * it for a short while, so a cold connection does not send a healthy vendor to the retry lane;
 * resets and 5xx, which fail fast, open it after three in a row; `Retry-After` opens it for what
 * was asked.
 */
export function recordFailure(
  destinationId: string,
  now: number,
  failure: {
    kind: 'timeout' | 'slow' | 'network' | 'status';
    retryAfterMs?: number;
    message: string;
    status?: number;
    response?: string;
  },
  baseMs: number,
): void {
  const s = states.get(destinationId) ?? { failures: 0, slow: 0, openUntil: 0, degradedUntil: 0, reason: '' };
  states.set(destinationId, s);
  if (failure.kind === 'status') s.last = { status: failure.status, response: failure.response };
  if (failure.kind === 'slow') {
    if (++s.slow >= SLOW_STREAK) {
      s.degradedUntil = Math.max(s.degradedUntil, now + SLOW_DEGRADE_MS);
      s.reason = failure.message;
    }
    return;
  }
  // Requests that were in flight when the breaker opened do not escalate the pause again.
  if (s.openUntil > now && failure.retryAfterMs === undefined) return;
  s.failures++;
  let pause = 0;
  if (failure.retryAfterMs !== undefined) {
    pause = failure.retryAfterMs;
    s.degradedUntil = Math.max(s.degradedUntil, now + Math.min(pause, MAX_OPEN_MS));
  } else if (failure.kind === 'timeout') {
    pause = baseMs * 2 ** Math.min(s.failures - 1, 8);
    s.degradedUntil = Math.max(s.degradedUntil, now + Math.min(Math.max(20 * baseMs, 10_000), MAX_OPEN_MS));
  } else if (s.failures >= 3) pause = baseMs * 2 ** Math.min(s.failures - 3, 8);
  if (pause > 0) {
    s.openUntil = Math.max(s.openUntil, now + Math.min(pause, MAX_OPEN_MS));
    s.reason = failure.message;
  }
}

/** Forgets every breaker (tests). */
export function resetBreakers(): void {
  states.clear();
  answered.clear();
}
