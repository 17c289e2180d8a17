import { env, SELF } from 'cloudflare:test';
import { vi } from 'vitest';
import { INDEX_SHARDS, indexShard } from '../src/identity/index-do';
import { profileStub } from '../src/profiles/protocol';
import { ADMIN, basic, makeSource, post } from './helpers';

/** Shared helpers of the identity and profile tests. */

let seq = 0;
/** A unique suffix, so tests sharing a file's storage never see each other's identities. */
export const uniq = (p = 'x') => `${p}-${Date.now().toString(36)}-${(seq++).toString(36)}`;

/** Sends events through the Tracking API's batch endpoint; fails the test on a non-200. */
export async function sendBatch(writeKey: string, batch: Record<string, unknown>[]): Promise<void> {
  const res = await post('/v1/batch', { batch }, { authorization: basic(writeKey) });
  if (res.status !== 200) throw new Error(`batch refused: ${res.status} ${await res.text()}`);
}

/** GETs a path with the admin token; returns status and JSON body. */
export async function getJson<T = Record<string, unknown>>(path: string, headers: Record<string, string> = ADMIN) {
  const res = await SELF.fetch(`http://tessera.test${path}`, { headers });
  return { status: res.status, body: (await res.json()) as T };
}

/** Profile API path of a user reference (`kind:value` or a profile id). */
export const userPath = (ref: string, resource: string, query = '') =>
  `/v1/spaces/default/collections/users/profiles/${encodeURIComponent(ref)}/${resource}${query}`;

/** Polls until `check` returns a value (not undefined), or fails after `timeout` ms. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeout = 20_000): Promise<T> {
  return vi.waitUntil(async () => (await check()) ?? false, { timeout, interval: 50 }) as Promise<T>;
}

/** Waits until the profile holding `ref` has `count` events, then returns its profile id. */
export async function waitForEvents(ref: string, count: number, timeout = 20_000): Promise<string> {
  return eventually(async () => {
    const r = await getJson<{ data: { related: { users: string } }[] }>(userPath(ref, 'events', `?limit=100`));
    return r.status === 200 && r.body.data.length >= count ? r.body.data[0].related.users : undefined;
  }, timeout);
}

/** Every index entry, across shards. */
export async function indexEntries(): Promise<Record<string, string>> {
  const parts = await Promise.all(Array.from({ length: INDEX_SHARDS }, (_, s) => indexShard(env, s).entries()));
  return Object.assign({}, ...parts);
}

/** The live profile an id leads to, following merges. */
export async function liveProfile(id: string): Promise<string> {
  let cur = id;
  for (;;) {
    const d = await profileStub(env, cur).describe(cur);
    if (d.status === 'live') return cur;
    if (d.status === 'moved') cur = d.to;
    else throw new Error(`profile ${cur} is ${d.status}`);
  }
}

export { ADMIN, env, makeSource, SELF };
