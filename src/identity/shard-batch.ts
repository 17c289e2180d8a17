/**
 * Coalesces the index requests made while one turn of the event loop runs into one call per
 * shard. The ingest consumer resolves up to 16 groups at once, each asking for a few keys; sent
 * one by one, each new user costs a call per shard its identifiers fall in (about 2.8 for a
 * userId, an anonymousId and an email over 16 shards). Gathered, a batch of new users costs at
 * most one call per shard per round.
 */
export class ShardBatch<W extends { key: string }, E> {
  private pending = new Map<number, { wants: W[]; done: Promise<Record<string, E>>; settle: Settle<E> }>();
  private scheduled = false;

  constructor(
    private readonly shardOf: (key: string) => number,
    private readonly send: (shard: number, wants: W[]) => Promise<Record<string, E>>,
    /** When the gathered requests leave; the default waits for every ready task of this turn. */
    private readonly later: (fn: () => void) => void = (fn) => setTimeout(fn, 0),
  ) {}

  /** The entries of `wants`' keys (absent keys are absent), sent with whatever else is asked meanwhile. */
  async get(wants: W[]): Promise<Record<string, E>> {
    const waits = new Set<Promise<Record<string, E>>>();
    for (const w of wants) {
      const shard = this.shardOf(w.key);
      let p = this.pending.get(shard);
      if (!p) {
        let settle!: Settle<E>;
        const done = new Promise<Record<string, E>>((resolve, reject) => {
          settle = { resolve, reject };
        });
        p = { wants: [], done, settle };
        this.pending.set(shard, p);
      }
      p.wants.push(w);
      waits.add(p.done);
    }
    if (!this.scheduled && this.pending.size) {
      this.scheduled = true;
      this.later(() => this.flush());
    }
    const parts = await Promise.all(waits);
    const out: Record<string, E> = {};
    for (const part of parts) {
      for (const w of wants) if (Object.hasOwn(part, w.key)) out[w.key] = part[w.key];
    }
    return out;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    for (const [shard, p] of batch) {
      // One failed shard call fails only the requests that wanted a key of that shard.
      this.send(shard, p.wants).then(p.settle.resolve, p.settle.reject);
    }
  }
}

type Settle<E> = { resolve: (v: Record<string, E>) => void; reject: (err: unknown) => void };
