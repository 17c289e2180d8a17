/*
 * One event's resolution, drawn once because the code doubles back by design. Each arrow is an
 * RPC; any refusal (moved, busy, conflict, lost) sends the resolver back to the first one.
 *
 *  Resolver              Index                Loser profile           Survivor profile
 *     │── lookupKeys ───────▶│ key → owner
 *     │── describe / settle each owner, following `moved` pointers to the live profile
 *     │   planResolution (resolve.ts): the smallest id survives, the other owners are losers
 *     │── mergeInto ────────────────────────────────▶│ pending: frozen, its alarm retries
 *     │                      │                       │── absorb(head, page 1) ──▶│ limits checked
 *     │                      │                       │◀── historyPage(next) … ───│ pulls the rest
 *     │                      │                       │ tombstone (merged_into)   │
 *     │── apply(events, keys) ────────────────────────────────────────────────────▶│
 *     │                      │◀── claimKeys(new) / repointKeys(inherited) ─────────│ then commits
 *     │── flush: repointKeys ▶│ entries seen pointing at tombstones
 *
 * The index is read first and written last: a key is a profile's only once the index says so
 * (claim), and entries left pointing at a tombstone are repointed lazily.
 */

import type { OutboundEvent } from '../delivery/messages';
import type { IngestMessage } from '../ingest/spec';
import { IngestPii } from '../privacy/pii-guard';
import type { MergeRecord } from '../profiles/directory';
import { isOf, mintProfileId, profileStub } from '../profiles/protocol';
import type { ApplyInput, ApplyResult, LinkRow, ProfileSnapshot } from '../profiles/rpc';
import { type Collection, extractIdentifiers, keyOf, previousIdOf } from './identifiers';
import { IndexClient, Reservations } from './index-client';
import { repointKeys } from './index-do';
import { holder, remember } from './isolate-caches';
import { liveOwners, mergeAll, type Repoint, ResolveError } from './owners';
import { capIdentifiers, planResolution } from './resolve';
import { type LimitSpec, limitSpec, type Rules, usable } from './settings';
import { recordResolution } from './stats';

/** Where one event landed. */
export interface Outcome {
  /** User profile, or undefined when no identifier of the event was usable. */
  profileId?: string;
  accountId?: string;
  snapshots: ProfileSnapshot[];
  merges: MergeRecord[];
  /** With `handOver`: this event's deliveries, for the caller to send before it acks. */
  outbound: OutboundEvent[];
  /** The outcomes of the followers (`ingest`) applied in the same call, in order; absent if none were. */
  followed?: Outcome[];
}

/** How the caller takes the events' deliveries (see `ApplyInput.handOver`). */
export interface HandOver {
  /** MessageIds of this batch that the queue delivered before (see `ApplyInput.again`). */
  again: ReadonlySet<string>;
}

export { ResolveError } from './owners';

const MAX_ATTEMPTS = 30;
/** Most events applied to one profile in one call. */
const RUN_EVENTS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backoff = (attempt: number) => sleep(Math.min(250, 2 ** Math.min(attempt, 8)) * (0.5 + Math.random()));

/**
 * Resolves events to profiles (DESIGN.md §3) and applies them. The Profile objects enforce limits
 * and the index arbitrates ownership, so whatever this planner saw may be stale: any refusal
 * (moved, busy, conflict, lost) makes it look again. Without limit conflicts every step only ever
 * unions profiles that an event links, which is why the final partition is union-find's.
 */
export class Resolver {
  private readonly spec: LimitSpec;
  /** Index entries seen pointing at merged profiles, repointed in one go by `flush()`. */
  private readonly repoints = new Map<string, Repoint>();
  /** Lookup-and-claim, gathered per shard over the groups this batch resolves at once. */
  private readonly index: IndexClient;

  constructor(
    private readonly env: Env,
    private readonly rules: Rules,
    /** Blind index keys and sealed events of this batch (PII protection); none by default. */
    private readonly pii: IngestPii = IngestPii.none,
    /** Deliveries come back in each outcome instead of each profile's outbox; outbox by default. */
    private readonly handOver?: HandOver,
  ) {
    this.spec = limitSpec(rules);
    this.index = new IndexClient(env);
  }

  /** The usable identifier keys of an event for one collection, in reading order, capped (alias aside). */
  plainKeys(event: IngestMessage['event'], collection: Collection): string[] {
    return capIdentifiers(
      usable(this.rules, extractIdentifiers(event, collection)).map(keyOf).map(this.pii.key),
      this.rules,
    ).kept;
  }

  /** The usable identifier keys of an event, with an alias's previousId typed by the index. */
  async keysOf(event: IngestMessage['event'], collection: Collection): Promise<string[]> {
    const keys = this.plainKeys(event, collection);
    const prev = collection === 'users' ? previousIdOf(event) : undefined;
    if (prev !== undefined && !this.rules.isBlocked(prev)) {
      // previousId is a userId or an anonymousId: whichever the index knows, else an anonymousId.
      const asUser = `user_id:${prev}`;
      const found = await this.index.resolve([asUser]);
      const key = found[asUser] ? asUser : `anonymous_id:${prev}`;
      if (!keys.includes(key)) keys.push(key);
    }
    return capIdentifiers(keys, this.rules).kept;
  }

  /**
   * Resolves a group of events in order. Consecutive events whose identifiers a known profile
   * already holds are applied to it in one call (one transaction), which is most of the traffic
   * of a known user; anything else goes through `ingest`. Returns one outcome or error per event.
   */
  async ingestAll(msgs: IngestMessage[]): Promise<(Outcome | Error)[]> {
    const results: (Outcome | Error)[] = [];
    let run: { profile: string; idx: number[]; keys: Set<string> } | undefined;
    /** Resolves event i, with the events after it that its profile will hold (a new user's tracks); returns the next index. */
    const single = async (i: number, followers: number[] = []) => {
      const t0 = performance.now();
      const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));
      let out = await this.ingest(
        msgs[i],
        followers.map((j) => msgs[j]),
      ).catch(asError);
      // One bad follower (an event the RPC cannot carry) fails the shared apply: the event goes
      // alone, as before, and the followers after it, so only the bad one fails.
      if (out instanceof Error && followers.length) out = await this.ingest(msgs[i]).catch(asError);
      const along = out instanceof Error ? [] : (out.followed ?? []);
      if (!(out instanceof Error)) recordResolution(performance.now() - t0, 1 + along.length, out.merges.length);
      results[i] = out;
      along.forEach((o, k) => {
        results[followers[k]] = o;
      });
      return i + 1 + along.length;
    };
    const flushRun = async () => {
      const r = run;
      run = undefined;
      if (!r) return;
      const t0 = performance.now();
      const res = await profileStub(this.env, r.profile).apply({
        profileId: r.profile,
        collection: 'users',
        keys: [...r.keys],
        identifierValues: this.pii.values([...r.keys]),
        messages: r.idx.map((i) => this.pii.message(msgs[i])),
        links: [],
        limits: this.spec,
        emit: true,
        ...this.handOverOf(r.idx.map((i) => msgs[i])),
      });
      if (res.status !== 'ok') {
        for (const i of r.idx) await single(i);
        return;
      }
      recordResolution(performance.now() - t0, r.idx.length);
      r.idx.forEach((i, at) => {
        const sent = res.outbound?.[at];
        results[i] = { profileId: r.profile, snapshots: [], merges: [], outbound: sent ? [sent] : [] };
      });
      (results[r.idx[r.idx.length - 1]] as Outcome).snapshots.push(res.snapshot);
    };
    const keysAt = (i: number) => {
      const e = msgs[i].event;
      return e.type === 'group' || e.type === 'alias' ? [] : this.plainKeys(e, 'users');
    };
    for (let i = 0; i < msgs.length; ) {
      const keys = keysAt(i);
      const known = keys.length ? holder.get(keys[0]) : undefined;
      const fits = known !== undefined && keys.every((k) => holder.get(k) === known);
      if (fits && run?.profile === known && run.idx.length < RUN_EVENTS) {
        run.idx.push(i);
      } else {
        await flushRun();
        if (fits) run = { profile: known, idx: [i], keys: new Set(keys) };
        else {
          i = await single(i, keys.length ? this.followersOf(keys, i, keysAt, msgs.length) : []);
          continue;
        }
      }
      for (const k of keys) run?.keys.add(k);
      i++;
    }
    await flushRun();
    return results;
  }

  /**
   * The events right after `i` whose every identifier is one of `keys` (up to a run's length):
   * wherever event i lands, its profile then holds them all, so they can go in the same apply,
   * one Profile call and transaction where a new user's identify and tracks took two.
   */
  private followersOf(keys: string[], i: number, keysAt: (j: number) => string[], end: number): number[] {
    const out: number[] = [];
    for (let j = i + 1; j < end && out.length < RUN_EVENTS - 1; j++) {
      const own = keysAt(j);
      if (!own.length || !own.every((k) => keys.includes(k))) break;
      out.push(j);
    }
    return out;
  }

  /**
   * Resolves one event and applies it to its user profile (and account profile, for group calls).
   * `followers` (user events only, each with identifiers among this event's) join its apply when
   * the profile it lands on holds all their identifiers; otherwise the caller resolves them next.
   */
  async ingest(msg: IngestMessage, followers: IngestMessage[] = []): Promise<Outcome> {
    const out: Outcome = { snapshots: [], merges: [], outbound: [] };
    const e = msg.event;
    const userKeys = await this.keysOf(e, 'users');
    const accountKeys = e.type === 'group' ? await this.keysOf(e, 'accounts') : [];
    const at = e.timestamp;
    const userLinks: LinkRow[] = accountKeys
      .filter((k) => k.startsWith('group_id:'))
      .map((key) => ({ collection: 'accounts', key, source_id: msg.sourceId, created_at: at }));
    if (userKeys.length) {
      const along = accountKeys.length ? [] : followers;
      out.profileId = await this.resolveAndApply('users', userKeys, msg, userLinks, true, out, along);
    }
    if (accountKeys.length) {
      const links: LinkRow[] = userKeys
        .filter((k) => k.startsWith('user_id:') || k.startsWith('anonymous_id:'))
        .map((key) => ({ collection: 'users', key, source_id: msg.sourceId, created_at: at }));
      out.accountId = await this.resolveAndApply('accounts', accountKeys, msg, links, !out.profileId, out);
    }
    return out;
  }

  /** The apply fields that hand these messages' deliveries back (none without `handOver`). */
  private handOverOf(msgs: IngestMessage[]): Pick<ApplyInput, 'handOver' | 'again'> {
    if (!this.handOver) return {};
    const again = msgs.map((m) => m.event.messageId).filter((id) => this.handOver?.again.has(id));
    return again.length ? { handOver: true, again } : { handOver: true };
  }

  /** Repoints index entries that were seen pointing at merged profiles. */
  async flush(): Promise<void> {
    const moves = [...this.repoints.values()];
    this.repoints.clear();
    if (moves.length) await repointKeys(this.env, moves);
  }

  private async resolveAndApply(
    collection: Collection,
    keys: string[],
    msg: IngestMessage,
    links: LinkRow[],
    emit: boolean,
    out: Outcome,
    followers: IngestMessage[] = [],
  ): Promise<string | undefined> {
    // The followers join the apply only if the keys it lands with include all of theirs.
    let along: IngestMessage[] = [];
    const input = (profileId: string, ids: string[], reserved: string[] = []): ApplyInput => {
      along = followers.filter((f) => this.plainKeys(f.event, collection).every((k) => ids.includes(k)));
      if (along.length < followers.length) along = [];
      const all = [msg, ...along];
      return {
        profileId,
        collection,
        keys: ids,
        reserved,
        identifierValues: this.pii.values(ids),
        messages: all.map((m) => this.pii.message(m)),
        links,
        limits: this.spec,
        emit,
        ...this.handOverOf(all),
      };
    };
    const applied = (target: string, res: Extract<ApplyResult, { status: 'ok' }>) => {
      out.snapshots.push(res.snapshot);
      const sent = res.outbound?.[0];
      if (sent) out.outbound.push(sent);
      if (along.length) {
        out.followed = along.map((_, k) => {
          const mine = res.outbound?.[k + 1];
          return { profileId: target, snapshots: [], merges: [], outbound: mine ? [mine] : [] };
        });
      }
      for (const k of res.snapshot.identifiers) remember(holder, k, target);
      return target;
    };
    // Fast path: a profile already known to hold every identifier of the event.
    const known = holder.get(keys[0]);
    if (known && keys.every((k) => holder.get(k) === known)) {
      const res = await profileStub(this.env, known).apply(input(known, keys));
      if (res.status === 'ok') return applied(known, res);
      for (const k of keys) holder.delete(k);
    }
    const held = new Reservations();
    try {
      return await this.resolveLoop(collection, keys, msg, out, held, input, applied);
    } finally {
      // Landed: the profile holds its keys. Otherwise what this event reserved goes back.
      await held.releaseAll(this.index, Date.now()).catch((err) => console.warn('releasing reservations failed', err));
    }
  }

  private async resolveLoop(
    collection: Collection,
    keys: string[],
    msg: IngestMessage,
    out: Outcome,
    held: Reservations,
    input: (profileId: string, ids: string[], reserved?: string[]) => ApplyInput,
    applied: (target: string, res: Extract<ApplyResult, { status: 'ok' }>) => string,
  ): Promise<string | undefined> {
    const dropped = new Set<string>();
    // Absent keys are claimed in the same call that looks the others up, for a new id: a new
    // user's keys are then its own at once. Never for an existing profile, which the Profile
    // API or a deletion could meanwhile find by a key that is not its own yet.
    const claimFor = mintProfileId(collection);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let ids = keys.filter((k) => !dropped.has(k));
      if (!ids.length) return undefined;
      const seen = await liveOwners(this.env, this.index, ids, claimFor, held, this.repoints);
      if (!seen) {
        // Waiting on another event's reservation (or a merge): give ours back first, or two
        // events each holding a key the other needs would wait on each other.
        await held.releaseAll(this.index, Date.now());
        await backoff(attempt);
        continue;
      }
      // A key held in the other collection (a custom kind used for users and accounts) is unusable.
      const foreign = ids.filter((k) => seen.owners[k] !== undefined && !isOf(collection, seen.owners[k]));
      if (foreign.length) {
        for (const k of foreign) dropped.add(k);
        continue;
      }
      let plan = planResolution({ identifiers: ids, ...seen }, this.rules, this.spec);
      // A drop only shrinks the set, and the owners just read still describe what is left: plan
      // again at once, without a lookup and without spending an attempt (attempts are for races).
      while (plan.kind === 'drop') {
        const key = plan.key;
        dropped.add(key);
        ids = ids.filter((k) => k !== key);
        if (!ids.length) return undefined;
        plan = planResolution({ identifiers: ids, ...seen }, this.rules, this.spec);
      }
      const target = plan.target ?? claimFor;
      // A merge can take a while: the keys go back meanwhile, and the target claims them itself.
      if (plan.losers.length) await held.releaseAll(this.index, Date.now());
      if (!(await mergeAll(this.env, this.spec, { target, losers: plan.losers, ids, owners: seen.owners }, msg, out))) {
        await backoff(attempt);
        continue;
      }
      // Reservations go to the target (or back, for keys dropped) by compare-and-set, just before
      // its apply: a lookup finds the target by a key it does not hold yet only that briefly.
      const moves = held.moves(ids, target, Date.now());
      if (moves.length) held.moved(moves, await this.index.transfer(moves));
      const res = await profileStub(this.env, target).apply(input(target, ids, held.of(target, Date.now())));
      if (res.status === 'ok') {
        held.clear();
        return applied(target, res);
      }
      if (res.status === 'busy') await profileStub(this.env, target).settle(target);
      if (res.status === 'busy' || res.status === 'lost') await backoff(attempt);
    }
    throw new ResolveError(`identity resolution of ${msg.event.messageId} did not settle`);
  }
}
