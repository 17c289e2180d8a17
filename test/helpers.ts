import { env, SELF } from 'cloudflare:test';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';

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

/** An ingest queue message as the Tracking API would enqueue it (timestamps from `at`, else the event's, else now). */
export function ingestMessage(
  event: Record<string, unknown>,
  opts: { messageId: string; sourceId: string; at?: string },
): IngestMessage {
  const ts = opts.at ?? (event.timestamp as string | undefined) ?? new Date().toISOString();
  return {
    sourceId: opts.sourceId,
    event: {
      messageId: opts.messageId,
      receivedAt: ts,
      originalTimestamp: ts,
      timestamp: ts,
      context: {},
      ...event,
    } as EnrichedEvent,
  };
}

/** The raw stub of a Profile object, for `runInDurableObject`. */
export const profileObject = (profileId: string) => env.PROFILE.get(env.PROFILE.idFromName(profileId));

export { env, SELF };
