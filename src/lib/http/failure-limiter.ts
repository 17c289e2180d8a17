/**
 * Counts failures per key in a sliding window; once `max` are reached the key is blocked until
 * its oldest failure leaves the window. Per isolate: it slows guessing without a D1 write per try.
 */
export class FailureLimiter {
  private readonly seen = new Map<string, number[]>();
  constructor(private readonly opts: { max: number; windowMs: number; maxKeys?: number }) {}

  /** Milliseconds until `key` may try again (0 when it may now). */
  blockedFor(key: string, now = Date.now()): number {
    const times = this.recent(key, now);
    return times.length >= this.opts.max ? times[0] + this.opts.windowMs - now : 0;
  }

  record(key: string, now = Date.now()): void {
    if (this.seen.size >= (this.opts.maxKeys ?? 10_000)) this.seen.clear();
    this.seen.set(key, [...this.recent(key, now), now]);
  }

  private recent(key: string, now: number): number[] {
    const times = (this.seen.get(key) ?? []).filter((t) => t > now - this.opts.windowMs);
    if (times.length) this.seen.set(key, times);
    else this.seen.delete(key);
    return times;
  }
}
