import { vi } from 'vitest';
import { ADMIN, post, SELF } from './helpers';

/** Shared helpers of the audience runtime tests. */

/** Creates a computed trait or an audience through the admin API; returns the stored definition. */
export async function define<T = { id: string; key: string; version: number }>(
  kind: 'audiences' | 'computed-traits',
  body: Record<string, unknown>,
): Promise<T> {
  const res = await post(`/api/${kind}`, { name: String(body.key), ...body }, ADMIN);
  if (res.status !== 201) throw new Error(`${kind}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** GET with the admin token (or other headers); returns status and JSON body. */
export async function getJson<T = Record<string, unknown>>(path: string, headers: Record<string, string> = ADMIN) {
  const res = await SELF.fetch(`http://tessera.test${path}`, { headers });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

/** A request a stand-in vendor received, when, and its JSON body. */
export interface Received {
  at: number;
  url: string;
  body: Record<string, unknown>;
}

/**
 * Stands in for a webhook vendor at `https://<host>/…`: the Worker's outbound `fetch` to that host
 * is answered 200 and recorded (the test and the Worker share one isolate); other hosts pass through.
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

/** Polls until `check` returns a value (not undefined), or fails after `timeout` ms. */
export function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeout = 15_000): Promise<T> {
  return vi.waitUntil(async () => (await check()) ?? false, { timeout, interval: 25 }) as Promise<T>;
}

/** Profile API path of a users/accounts profile reference. */
export const profilePath = (ref: string, resource: string, collection = 'users') =>
  `/v1/spaces/default/collections/${collection}/profiles/${encodeURIComponent(ref)}/${resource}`;
