// Shared by both sides of the kit (no `cloudflare:*`, no `node:*`): ids, credentials, paths and
// events as tests build them.
import type { EnrichedEvent, IngestMessage } from '../../src/ingest/spec';

let seq = 0;
/** A unique suffix, so tests sharing a file's storage never see each other's identities. */
export const uniq = (p = 'x') => `${p}-${Date.now().toString(36)}-${(seq++).toString(36)}`;

/** Basic auth header for a write key, as Segment's server SDKs send it. */
export const basic = (writeKey: string) => `Basic ${btoa(`${writeKey}:`)}`;

/** Profile API path of a profile reference (`kind:value` or a profile id). */
export const profilePath = (ref: string, resource: string, collection = 'users') =>
  `/v1/spaces/default/collections/${collection}/profiles/${encodeURIComponent(ref)}/${resource}`;

/** Profile API path of a user reference, with an optional query (`?limit=…`). */
export const userPath = (ref: string, resource: string, query = '') => `${profilePath(ref, resource)}${query}`;

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

/** An enriched track event with a unique messageId. */
export function trackEvent(over: Partial<EnrichedEvent> = {}): EnrichedEvent {
  const now = new Date().toISOString();
  return {
    type: 'track',
    event: 'Signed Up',
    userId: 'u1',
    messageId: `m-${crypto.randomUUID()}`,
    receivedAt: now,
    timestamp: now,
    originalTimestamp: now,
    context: {},
    properties: { plan: 'pro' },
    ...over,
  } as EnrichedEvent;
}
