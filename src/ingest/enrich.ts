import type { EnrichedEvent, SegmentEvent } from './spec';

/** What the edge knows about the request that carried an event. */
export interface RequestFacts {
  receivedAt: Date;
  ip?: string;
  /** `request.cf`: Cloudflare's geo facts about the client, absent locally. */
  cf?: Record<string, unknown>;
}

const GEO_FIELDS: Record<string, string> = {
  city: 'city',
  country: 'country',
  region: 'region',
  postalCode: 'postalCode',
  latitude: 'latitude',
  longitude: 'longitude',
  timezone: 'timezone',
};

/**
 * Adds what Segment adds at the edge. `timestamp` is corrected for the client's clock skew:
 * `receivedAt − (sentAt − originalTimestamp)`, so a device whose clock is wrong by an hour still
 * lands its events at the right instant.
 */
export function enrich(event: SegmentEvent, facts: RequestFacts): EnrichedEvent {
  const receivedAt = facts.receivedAt.toISOString();
  const original = event.originalTimestamp ?? event.timestamp ?? event.sentAt ?? receivedAt;
  let timestamp = original;
  if (event.sentAt) {
    const skew = Date.parse(event.sentAt) - Date.parse(original);
    timestamp = new Date(facts.receivedAt.getTime() - skew).toISOString();
  }
  const context: Record<string, unknown> = { ...(event.context ?? {}) };
  if (context.ip === undefined && facts.ip) context.ip = facts.ip;
  if (context.location === undefined && facts.cf) {
    const location: Record<string, unknown> = {};
    for (const [from, to] of Object.entries(GEO_FIELDS)) {
      if (facts.cf[from] !== undefined) location[to] = facts.cf[from];
    }
    if (Object.keys(location).length) context.location = location;
  }
  return {
    ...event,
    messageId: event.messageId ?? crypto.randomUUID(),
    receivedAt,
    originalTimestamp: original,
    timestamp,
    context,
  } as EnrichedEvent;
}
