import type { Collection } from '../identity/identifiers';
import { ulid } from '../lib/ids';
import type { ProfileRpc } from './rpc';

/** Profile ids and the stub of one profile; the contract itself is `./rpc.ts`. */

/** Prefix of profile ids per collection, as Segment's `use_…` ids. */
const PREFIX: Record<Collection, string> = { users: 'use_', accounts: 'acc_' };

/** A new, time-ordered profile id: the smaller id survives a merge. */
export const mintProfileId = (collection: Collection) => PREFIX[collection] + ulid();

/** True when a profile id belongs to the collection. */
export const isOf = (collection: Collection, id: string) => id.startsWith(PREFIX[collection]);

/** True for strings shaped like a profile id. */
export const isProfileId = (s: string) => /^(use|acc)_[0-9A-HJKMNP-TV-Z]{26}$/.test(s);

/** The stub of one profile (`Env` types the namespace loosely; `Profile implements ProfileRpc`). */
export function profileStub(env: Env, id: string): ProfileRpc {
  return env.PROFILE.get(env.PROFILE.idFromName(id)) as unknown as ProfileRpc;
}
