import { type Collection, normalizeValue, parseKey } from '../identity/identifiers';
import { lookupKeys } from '../identity/index-do';
import { followMerges } from '../lib/merge-pointers';
import { indexKey, loadPii } from '../privacy/pii-guard';
import { isOf, isProfileId, profileStub } from './protocol';
import type { ReadQuery, ReadResult } from './rpc';

type Live = Extract<ReadResult, { status: 'live' }>;

/**
 * The profile id a reference names: a profile id (`use_…`, or `segment_id:use_…` as Segment
 * accepts) or an external id `kind:value` looked up in the index. Undefined when unknown.
 */
export async function findProfileId(env: Env, collection: Collection, ref: string): Promise<string | undefined> {
  const direct = ref.startsWith('segment_id:') ? ref.slice('segment_id:'.length) : ref;
  if (isProfileId(direct)) return isOf(collection, direct) ? direct : undefined;
  const id = parseKey(ref);
  if (!id) return undefined;
  const value = normalizeValue(id.kind, id.value);
  if (value === undefined) return undefined;
  // A PII kind (email, phone) is indexed by its blind index, never by the clear value.
  const key = await indexKey(await loadPii(env), id.kind, value);
  const owner = (await lookupKeys(env, [key]))[key];
  return owner && isOf(collection, owner) ? owner : undefined;
}

/** Reads a profile, following merges to the live one. Undefined when it does not exist. */
export async function readProfile(
  env: Env,
  id: string,
  q: ReadQuery,
): Promise<{ id: string; profile: Live } | undefined> {
  return followMerges<{ id: string; profile: Live } | undefined>(
    id,
    async (current) => {
      const res = await profileStub(env, current).read(q);
      if (res.status === 'live') return { done: { id: current, profile: res } };
      if (res.status === 'missing') return { done: undefined };
      return { next: res.to };
    },
    () => undefined,
  );
}
