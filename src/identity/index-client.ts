import { byShard, type Entry, indexShard, shardOf, type Transfer, type Want } from './index-do';
import { ShardBatch } from './shard-batch';

/**
 * How long the resolver relies on a reservation it made (a key claimed for a new profile id that
 * does not hold it yet): within this time it hands it to the profile; after it, only gives it back.
 */
export const RESERVE_TRUST_MS = 30_000;
/**
 * How long other resolvers wait on an entry whose live owner does not hold the key yet (someone's
 * reservation, or a profile mid-claim) before treating the owner as its holder. Longer than the
 * trust, so nobody adopts a reservation its maker may still hand over; after it, a reservation
 * whose maker died is used like any entry (the id it names holds nothing).
 */
export const RESERVE_HOLD_MS = 60_000;
/** The latest a maker gives a reservation back (well before others may adopt it). */
const RELEASE_BEFORE_MS = RESERVE_HOLD_MS - 10_000;

/** The index as the resolver uses it: lookup-and-claim gathered per shard over concurrent callers. */
export class IndexClient {
  private readonly batch: ShardBatch<Want, Entry>;

  constructor(private readonly env: Env) {
    this.batch = new ShardBatch(shardOf, (shard, wants) => indexShard(env, shard).resolve(wants));
  }

  /** Entries of the keys, claiming absent ones for `claimFor` (one call per shard per turn). */
  resolve(keys: string[], claimFor?: string): Promise<Record<string, Entry>> {
    return this.batch.get(keys.map((key) => ({ key, claimFor })));
  }

  /** Moves or releases reservations still as claimed; answers the keys that changed. */
  async transfer(moves: Transfer[]): Promise<Set<string>> {
    const byKey = new Map(moves.map((m) => [m.key, m]));
    const parts = await Promise.all(
      [...byShard(moves.map((m) => m.key))].map(([shard, keys]) =>
        indexShard(this.env, shard).transfer(keys.map((k) => byKey.get(k)!)),
      ),
    );
    return new Set(parts.flat());
  }
}

type Held = { profile: string; at: number; since: number };

/** The reservations one event holds while it resolves: key → the profile it was claimed for. */
export class Reservations {
  private readonly held = new Map<string, Held>();

  get size(): number {
    return this.held.size;
  }

  /** Records a key this event's call just claimed. */
  add(key: string, e: Entry, now: number): true {
    this.held.set(key, { profile: e.profile, at: e.at, since: now });
    return true;
  }

  /**
   * Whether `e` is this event's reservation to use (same owner and stamp, within the trust time).
   * One that is too old stays held, to be given back, but counts as someone's: the caller waits
   * and gives back what it holds (`releaseAll`), then claims afresh.
   */
  owns(key: string, e: Entry, now: number): boolean {
    const r = this.held.get(key);
    if (r && r.profile === e.profile && r.at === e.at) return now - r.since < RESERVE_TRUST_MS;
    this.held.delete(key);
    return false;
  }

  /** What to change so every held key of `ids` is `target`'s and no other key stays held. */
  moves(ids: string[], target: string, now: number): Transfer[] {
    const out: Transfer[] = [];
    for (const [key, r] of this.held) {
      const age = now - r.since;
      if (age >= RELEASE_BEFORE_MS) this.held.delete(key);
      else if (age >= RESERVE_TRUST_MS || !ids.includes(key)) out.push({ key, from: r.profile, at: r.at });
      else if (r.profile !== target) out.push({ key, from: r.profile, at: r.at, to: target });
    }
    return out;
  }

  /** Applies the outcome of `moves`: what moved is now the target's; the rest is no longer held. */
  moved(moves: Transfer[], done: Set<string>): void {
    for (const m of moves) {
      const r = this.held.get(m.key);
      if (r && done.has(m.key) && m.to !== undefined) r.profile = m.to;
      else this.held.delete(m.key);
    }
  }

  /** The held keys `target` may add without claiming them. */
  of(target: string, now: number): string[] {
    return [...this.held].filter(([, r]) => r.profile === target && now - r.since < RESERVE_TRUST_MS).map(([k]) => k);
  }

  /** Gives back (compare-and-set) what is still held; then holds nothing. */
  async releaseAll(index: IndexClient, now: number): Promise<void> {
    const moves = this.moves([], '', now);
    this.held.clear();
    if (moves.length) await index.transfer(moves);
  }

  /** The event landed: its profile holds the keys now. */
  clear(): void {
    this.held.clear();
  }
}
