// The workers side of the kit (workerd, `cloudflare:test`): the Worker under test through `SELF`,
// its bindings, and a vendor stand-in for outbound fetches. Re-exports the shared pieces, so a
// workers test imports its helpers from this one module.
import { env, SELF } from 'cloudflare:test';
import { vi } from 'vitest';
import { INDEX_SHARDS, indexShard } from '../../src/identity/index-do';
import { profileStub } from '../../src/profiles/protocol';
import { basic, userPath } from './fixtures';
import { jsonApi } from './http';
import { eventually } from './wait';

export * from './fixtures';
export { AdminError, type JsonAnswer } from './http';
export { eventually, type WaitOptions } from './wait';
export { env, SELF };

export const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };

/** JSON calls to the Worker under test (`getJson`, `postJson`, `admin`, `request`; see kit/http.ts). */
export const api = jsonApi('http://tessera.test', (req) => SELF.fetch(req), 'test-admin-token');
export const { getJson, postJson, admin } = api;

/** POSTs JSON (or a string as it is) to the Worker; the raw `Response`. */
export function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return SELF.fetch(`http://tessera.test${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A POST that must answer 201: the created resource. */
async function create<T>(path: string, body: unknown): Promise<T> {
  const res = await post(path, body, ADMIN);
  if (res.status !== 201) throw new Error(`POST ${path} failed: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Creates a source through the admin API and returns it. */
export const makeSource = (name = 'Test source') =>
  create<{ id: string; name: string; writeKey: string }>('/api/sources', { name });

/** Creates an enabled destination through the admin API. */
export const makeDestination = (body: Record<string, unknown>) =>
  create<{ id: string }>('/api/destinations', { enabled: true, ...body });

/** Creates a computed trait or an audience through the admin API; returns the stored definition. */
export const define = <T = { id: string; key: string; version: number }>(
  kind: 'audiences' | 'computed-traits',
  body: Record<string, unknown>,
) => create<T>(`/api/${kind}`, { name: String(body.key), ...body });

/** Sends events through the Tracking API's batch endpoint; fails the test on a non-200. */
export async function sendBatch(writeKey: string, batch: Record<string, unknown>[]): Promise<void> {
  const res = await post('/v1/batch', { batch }, { authorization: basic(writeKey) });
  if (res.status !== 200) throw new Error(`batch refused: ${res.status} ${await res.text()}`);
}

/** Waits until the profile holding `ref` has `count` events, then returns its profile id. */
export function waitForEvents(ref: string, count: number, timeout = 20_000): Promise<string> {
  return eventually(async () => {
    const r = await getJson<{ data: { related: { users: string } }[] }>(userPath(ref, 'events', `?limit=100`));
    return r.status === 200 && r.body.data.length >= count ? r.body.data[0].related.users : undefined;
  }, timeout);
}

/** The raw stub of a Profile object, for `runInDurableObject`. */
export const profileObject = (profileId: string) => env.PROFILE.get(env.PROFILE.idFromName(profileId));

/** The live profile a (possibly merged) profile id ends in, following merge pointers. */
export async function liveProfile(id: string): Promise<string> {
  let cur = id;
  for (;;) {
    const d = await profileStub(env, cur).describe(cur);
    if (d.status === 'live') return cur;
    if (d.status === 'moved') cur = d.to;
    else throw new Error(`profile ${cur} is ${d.status}`);
  }
}

/** Every identity index entry, across shards. */
export async function indexEntries(): Promise<Record<string, string>> {
  const parts = await Promise.all(Array.from({ length: INDEX_SHARDS }, (_, s) => indexShard(env, s).entries()));
  return Object.assign({}, ...parts);
}

/** One source-debugger entry as the admin API lists it. */
export interface Entry {
  status: string;
  error?: { code: string; message: string };
  event: Record<string, unknown> & { context: Record<string, unknown> };
}

/** Polls a source's debugger until `pred` holds (the tap is written after the answer). */
export async function debuggerUntil(sourceId: string, pred: (entries: Entry[]) => boolean): Promise<Entry[]> {
  let entries: Entry[] = [];
  return eventually(
    async () => {
      entries = (await admin<{ data: Entry[] }>(`/api/sources/${sourceId}/events`)).data;
      return pred(entries) ? entries : undefined;
    },
    { timeout: 5_000, interval: 20, message: () => `debugger match; last: ${JSON.stringify(entries.slice(0, 3))}` },
  );
}

/** The debugger entry of the event with this messageId. */
export const find = (entries: Entry[], messageId: string) => entries.find((e) => e.event.messageId === messageId);

/** A request the vendor stand-in received, when, and its JSON body. */
export interface Received {
  at: number;
  url: string;
  body: Record<string, unknown>;
}

/**
 * The workers tests' vendor stand-in at `https://<host>/…` (the e2e one is a real HTTP server,
 * kit/receiver.ts): the Worker's outbound `fetch` to that host is answered 200 and recorded (the
 * test and the Worker share one isolate); other hosts pass through.
 */
export function vendor(host: string) {
  const received: Received[] = [];
  const real = globalThis.fetch;
  const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    if (new URL(req.url).host !== host) return real(input, init);
    received.push({ at: Date.now(), url: req.url, body: await req.json() });
    return new Response('ok');
  });
  return { received, restore: () => spy.mockRestore() };
}

/** A Profile object's own tables (not the runtime's or the emulator's), sorted. */
export const tablesOf = (sql: SqlStorage) =>
  sql
    .exec<{ name: string }>(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
    )
    .toArray()
    .map((r) => r.name)
    .filter((n) => n !== 'sqlite_sequence' && n !== '__miniflare_do_name')
    .sort();
