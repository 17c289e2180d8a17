/**
 * A per-isolate cache that revalidates ahead of expiry, so a hot path never waits on a reload:
 * an entry younger than `refreshAfterMs` is served as is; between that and `ttlMs` it is still
 * served, and one background load per key (single flight) is handed to `keepAlive` (the request's
 * `waitUntil`); only a missing or expired entry is awaited. `ttlMs` stays the hard bound: no
 * value older than it is ever returned, and a value's age counts from when its load began.
 *
 * Pure: time comes in as `now`, loading is the caller's function. Locally one thread runs the
 * Worker, its consumers and D1, so an awaited read waits behind the pipeline's work; this keeps
 * that wait to the first request of an isolate and to one after an idle spell.
 */
export interface RefreshAheadOptions {
  /** Hard expiry: an older entry is never served; the next read awaits a fresh load. */
  ttlMs: number;
  /** Age from which a read starts a background reload (default: half of `ttlMs`). */
  refreshAfterMs?: number;
  /** Most keys kept; past it the cache starts over (a bound on memory, not an eviction policy). */
  maxKeys?: number;
}

/** What a read needs besides the key: the load, the clock, and where to park a background reload. */
export interface ReadContext<V> {
  load: (previous: V | undefined) => Promise<V>;
  now?: number;
  /**
   * Keeps a background reload alive past the answer (`ctx.waitUntil`). Without one there is no
   * background reload (the runtime may drop I/O left behind by a finished request, and a reload
   * that never settles must not be joined): the entry is served until its TTL, then awaited.
   */
  keepAlive?: (p: Promise<unknown>) => void;
  /** Called with a background reload's error (the entry stays until its hard expiry). */
  onError?: (err: unknown) => void;
}

interface Entry<V> {
  value: V;
  /** When the load that produced `value` began. */
  at: number;
}

export class RefreshAheadCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  /** Loads under way, with when they began: one older than the TTL is never joined (it may hang). */
  private readonly loading = new Map<K, { run: Promise<V>; at: number }>();
  /** Bumped by `forget`/`clear`: a load begun before cannot put what it read back. */
  private generation = 0;
  readonly ttlMs: number;
  readonly refreshAfterMs: number;
  private readonly maxKeys: number;

  constructor(opts: RefreshAheadOptions) {
    this.ttlMs = opts.ttlMs;
    this.refreshAfterMs = Math.min(opts.refreshAfterMs ?? opts.ttlMs / 2, opts.ttlMs);
    this.maxKeys = opts.maxKeys ?? 10_000;
  }

  /** The value for `key`: cached when younger than the TTL (reloading in the background past half of it), else loaded. */
  async get(key: K, ctx: ReadContext<V>): Promise<V> {
    const now = ctx.now ?? Date.now();
    const hit = this.entries.get(key);
    const age = hit ? now - hit.at : Number.POSITIVE_INFINITY;
    if (hit && age < this.ttlMs) {
      if (age >= this.refreshAfterMs && ctx.keepAlive && !this.underWay(key, now)) {
        const p = this.start(key, hit.value, ctx, now).catch((err) => {
          (ctx.onError ?? defaultOnError)(err);
        });
        ctx.keepAlive(p);
      }
      return hit.value;
    }
    return this.underWay(key, now) ?? this.start(key, hit?.value, ctx, now);
  }

  private underWay(key: K, now: number): Promise<V> | undefined {
    const l = this.loading.get(key);
    return l && now - l.at < this.ttlMs ? l.run : undefined;
  }

  /** The cached value whatever its age (for tests and diagnostics), or undefined. */
  peek(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Drops keys (after a change made in this isolate, so it applies here at once). */
  forget(...keys: K[]): void {
    this.generation++;
    for (const k of keys) {
      this.entries.delete(k);
      this.loading.delete(k);
    }
  }

  /** Drops every key. */
  clear(): void {
    this.generation++;
    this.entries.clear();
    this.loading.clear();
  }

  private start(key: K, previous: V | undefined, ctx: ReadContext<V>, now: number): Promise<V> {
    const generation = this.generation;
    const run: Promise<V> = Promise.resolve()
      .then(() => ctx.load(previous))
      .then((value) => {
        if (generation === this.generation) {
          if (!this.entries.has(key) && this.entries.size >= this.maxKeys) this.entries.clear();
          this.entries.set(key, { value, at: now });
        }
        return value;
      })
      .finally(() => {
        if (this.loading.get(key)?.run === run) this.loading.delete(key);
      });
    this.loading.set(key, { run, at: now });
    return run;
  }
}

const defaultOnError = (err: unknown) => console.warn('background cache refresh failed; kept until expiry', err);
