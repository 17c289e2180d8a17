import { env, SELF } from 'cloudflare:test';

export const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };

/** Creates a source through the admin API and returns it. */
export async function makeSource(name = 'Test source'): Promise<{ id: string; name: string; writeKey: string }> {
  const res = await SELF.fetch('http://tessera.test/api/sources', {
    method: 'POST',
    headers: ADMIN,
    body: JSON.stringify({ name }),
  });
  if (res.status !== 201) throw new Error(`source creation failed: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Basic auth header for a write key, as Segment's server SDKs send it. */
export const basic = (writeKey: string) => `Basic ${btoa(`${writeKey}:`)}`;

/** POSTs JSON to the Worker. */
export function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return SELF.fetch(`http://tessera.test${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export { env, SELF };
