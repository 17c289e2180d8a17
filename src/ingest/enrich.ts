import type { EnrichedEvent, SegmentEvent } from './spec';

/** What the edge knows about the request that carried an event. */
export interface RequestFacts {
  receivedAt: Date;
  ip?: string;
  /** `request.cf`: Cloudflare's geo facts about the client, absent locally. */
  cf?: Record<string, unknown>;
  /**
   * The request came from the user's device whatever its library says (the pixel: an image that
   * a browser or an email client loads), so its address is the user's.
   */
  fromDevice?: boolean;
}

/**
 * Segment's client-side libraries: their requests come from the user's device, so the connecting
 * address and its geo describe the user. Names as the libraries send them in `context.library.name`,
 * compared without a `@segment/` prefix, case and `_`/`-` differences.
 */
const CLIENT_LIBRARIES = new Set([
  'analytics.js',
  'analytics-next',
  'analytics-ios',
  'analytics-android',
  'analytics-react-native',
  'analytics-swift',
  'analytics-kotlin',
  'analytics-kotlin-android',
  'analytics-flutter',
  'analytics-xamarin',
  'analytics-unity',
  'analytics-csharp',
]);

/** Mail services that fetch images for their users (Gmail, Yahoo): the address is theirs, not the reader's. */
const MAIL_IMAGE_PROXY = /GoogleImageProxy|YahooMailProxy/i;

/**
 * Whether a pixel request comes from the reader's own device. A pixel is loaded by a browser or a
 * mail client, so its address is normally the user's; Gmail and Yahoo fetch images through their
 * proxies, which would place every opened email in their data centres.
 */
export function pixelFromDevice(userAgent: string | null | undefined): boolean {
  return !MAIL_IMAGE_PROXY.test(userAgent ?? '');
}

/**
 * Whether the edge may stamp the connecting address on an event. As Segment: only for client
 * libraries or when the sender says `context.direct: true`; a server SDK or curl would otherwise
 * place every backend event in the data centre it runs in.
 */
export function fromClient(context: Record<string, unknown>, facts: RequestFacts): boolean {
  if (facts.fromDevice || context.direct === true) return true;
  const library = context.library;
  const name = typeof library === 'object' && library !== null ? (library as { name?: unknown }).name : undefined;
  if (typeof name !== 'string') return false;
  return CLIENT_LIBRARIES.has(
    name
      .toLowerCase()
      .replace(/^@segment\//, '')
      .replace(/_/g, '-'),
  );
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
  const client = fromClient(context, facts);
  if (client && context.ip === undefined && facts.ip) context.ip = facts.ip;
  if (client && context.location === undefined && facts.cf) {
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
