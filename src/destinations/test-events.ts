import type { EnrichedEvent } from '../ingest/spec';
import type { AnyDestination, MapContext } from './types';

/**
 * Fixed Segment events for the mapping tests of every destination: one per call type, with the
 * context fields vendors read (ip, page, device, campaign, traits). Test-only.
 */
const base = {
  anonymousId: 'anon-7f3c',
  userId: 'user-42',
  receivedAt: '2026-03-01T12:00:01.000Z',
  timestamp: '2026-03-01T12:00:00.000Z',
  originalTimestamp: '2026-03-01T12:00:00.000Z',
  context: {
    ip: '203.0.113.7',
    library: { name: 'analytics.js', version: '5.2.0' },
    locale: 'fr-FR',
    page: {
      url: 'https://shop.example/pricing?utm_source=news',
      path: '/pricing',
      title: 'Pricing',
      referrer: 'https://news.example/',
    },
    os: { name: 'Mac OS', version: '14.4' },
    campaign: { name: 'spring', source: 'news', medium: 'email' },
    traits: { email: 'ada@example.com', plan: 'pro' },
  },
};

export const EVENTS: Record<'track' | 'identify' | 'page' | 'group' | 'alias', EnrichedEvent> = {
  track: {
    ...base,
    type: 'track',
    messageId: 'msg-track-1',
    event: 'Order Completed',
    properties: {
      order_id: 'o-1001',
      revenue: 42.5,
      currency: 'EUR',
      products: [{ product_id: 'sku-1', name: 'Mug', price: 21.25, quantity: 2 }],
    },
  },
  identify: {
    ...base,
    type: 'identify',
    messageId: 'msg-identify-1',
    traits: {
      email: 'ada@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      plan: 'pro',
      createdAt: '2025-12-24T10:00:00.000Z',
    },
  },
  page: {
    ...base,
    type: 'page',
    messageId: 'msg-page-1',
    name: 'Pricing',
    properties: { url: 'https://shop.example/pricing', title: 'Pricing' },
  },
  group: {
    ...base,
    type: 'group',
    messageId: 'msg-group-1',
    groupId: 'acme',
    traits: { name: 'Acme Inc', employees: 120 },
  },
  alias: { ...base, type: 'alias', messageId: 'msg-alias-1', previousId: 'anon-7f3c' },
} as Record<'track' | 'identify' | 'page' | 'group' | 'alias', EnrichedEvent>;

export const CALL_TYPES = ['track', 'identify', 'page', 'group', 'alias'] as const;

export const CTX: MapContext = {
  now: new Date('2026-03-01T12:00:02.000Z'),
  destinationId: 'dst_test',
  destinationName: 'Test destination',
};

/** A request with its JSON body parsed, for readable snapshots. */
export function readable(req: { body?: string } | null) {
  if (!req) return req;
  let body: unknown = req.body;
  try {
    body = req.body === undefined ? undefined : JSON.parse(req.body);
  } catch {}
  return { ...req, body };
}

/** Maps events as the delivery layer would: settings parsed, unsupported types give no request. */
export async function mapWith(def: AnyDestination, settings: unknown, events: EnrichedEvent[]) {
  const parsed = def.settings.parse(settings);
  if (!events.every((e) => def.supportedTypes.includes(e.type))) return null;
  return def.map(events, parsed, CTX);
}

/** The parsed JSON body of a request. */
export function bodyOf<T = Record<string, unknown>>(req: { body?: string } | null): T {
  if (!req?.body) throw new Error('request has no body');
  return JSON.parse(req.body) as T;
}
