import type { IngestMessage } from '../ingest/spec';
import { followMerges } from '../lib/merge-pointers';
import type { MergeRecord } from '../profiles/directory';
import { profileStub } from '../profiles/protocol';
import type { Describe, ProfileSnapshot } from '../profiles/rpc';
import { type IndexClient, RESERVE_HOLD_MS, type Reservations } from './index-client';
import type { Entry } from './index-do';
import { movedTo, remember } from './isolate-caches';
import type { ProfileView } from './resolve';
import type { LimitSpec } from './settings';

/**
 * The resolver's two steps that talk to profiles before an apply (resolver.ts draws the whole
 * sequence): who lives behind the keys an event brings, following merge pointers, and the merges
 * of the owners a plan gives up into its target.
 */

/** Raised when resolution keeps racing; the queue message is retried later. */
export class ResolveError extends Error {}

/** An index entry seen pointing at a merged profile, to repoint once the batch is done. */
export type Repoint = { key: string; from: string; to: string };

/**
 * Live owners of the keys and what they hold, claiming the absent ones for `claimFor` in the
 * same call: those (and earlier ones of this event) are `held`, not owners, so the plan sees
 * exactly what a plain lookup would have. Undefined while an owner is mid-merge, or holds a key
 * it was only just given (someone's reservation: left to its maker for RESERVE_HOLD_MS).
 */
export async function liveOwners(
  env: Env,
  index: IndexClient,
  keys: string[],
  claimFor: string,
  held: Reservations,
  repoints: Map<string, Repoint>,
): Promise<{ owners: Record<string, string>; profiles: Record<string, ProfileView> } | undefined> {
  const entries = await index.resolve(keys, claimFor);
  const now = Date.now();
  const seen: Record<string, Entry> = {};
  for (const key of keys) {
    const e = entries[key];
    if (!e) continue;
    const mine = e.claimed && e.profile === claimFor ? held.add(key, e, now) : held.owns(key, e, now);
    if (!mine) seen[key] = e;
  }
  const distinct = [...new Set(Object.values(seen).map((e) => e.profile))];
  const live = await Promise.all(distinct.map((id) => follow(env, id)));
  if (live.some((v) => v === undefined)) return undefined;
  const rootOf = new Map(distinct.map((id, i) => [id, live[i]!]));
  const owners: Record<string, string> = {};
  const profiles: Record<string, ProfileView> = {};
  for (const [key, { profile: id, at }] of Object.entries(seen)) {
    const root = rootOf.get(id)!;
    if (root.id === id && !root.identifiers.includes(key) && now - at < RESERVE_HOLD_MS) return undefined;
    owners[key] = root.id;
    profiles[root.id] = root;
    if (root.id !== id) repoints.set(key, { key, from: id, to: root.id });
  }
  return { owners, profiles };
}

/** Follows forward pointers to the live profile; undefined if one is mid-merge. */
function follow(env: Env, start: string): Promise<ProfileView | undefined> {
  return followMerges<ProfileView | undefined>(
    start,
    async (id) => {
      const cached = movedTo.get(id);
      if (cached) return { next: cached };
      const stub = profileStub(env, id);
      let d: Describe = await stub.describe(id);
      if (d.status === 'busy') d = await stub.settle(id);
      if (d.status === 'live') return { done: d };
      if (d.status === 'busy') return { done: undefined };
      remember(movedTo, id, d.to);
      return { next: d.to };
    },
    () => {
      throw new ResolveError(`forward pointers from ${start} are too long`);
    },
  );
}

/** Merges `plan.losers` into `plan.target`; false when one of them refused (plan again). */
export async function mergeAll(
  env: Env,
  limits: LimitSpec,
  plan: { target: string; losers: string[]; ids: string[]; owners: Record<string, string> },
  msg: IngestMessage,
  out: { snapshots: ProfileSnapshot[]; merges: MergeRecord[] },
): Promise<boolean> {
  const { target, ids, owners } = plan;
  for (const loser of plan.losers) {
    const via = (p: string) => ids.filter((k) => owners[k] === p).join(', ');
    const reason = `${msg.event.type} ${msg.event.messageId} linked ${via(loser)} (${loser}) with ${via(target)}`;
    const res = await profileStub(env, loser).mergeInto({ profileId: loser, survivorId: target, reason, limits });
    if (res.status !== 'merged') {
      if (res.status === 'busy') await profileStub(env, loser).settle(loser);
      return false;
    }
    remember(movedTo, loser, res.into);
    out.snapshots.push(res.snapshot);
    out.merges.push({ loser, survivor: res.into, reason, mergedAt: new Date().toISOString() });
  }
  return true;
}
