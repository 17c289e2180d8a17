import { expect, it } from 'vitest';
import type { EnrichedEvent } from '../ingest/spec';
import type { AnyDestination, MapContext, RequestDescription } from './types';

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

/** Every Segment call type, in the order the snapshots of each destination list them. */
export const CALL_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type CallType = (typeof CALL_TYPES)[number];

export const EVENTS: Record<CallType, EnrichedEvent> = {
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
  // A mobile screen view: Segment's `screen` call has `name` and `properties` like `page`.
  screen: {
    ...base,
    type: 'screen',
    messageId: 'msg-screen-1',
    name: 'Checkout',
    properties: { step: 2, cart_items: 3 },
  },
  group: {
    ...base,
    type: 'group',
    messageId: 'msg-group-1',
    groupId: 'acme',
    traits: { name: 'Acme Inc', employees: 120 },
  },
  alias: { ...base, type: 'alias', messageId: 'msg-alias-1', previousId: 'anon-7f3c' },
} as Record<CallType, EnrichedEvent>;

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

export interface EachCallTypeOptions {
  /** The test's title for a call type (default `maps <type>`; it keys the snapshot). */
  title?: (type: CallType) => string;
  /** Further assertions on the request mapped from `event`. */
  check?: (req: RequestDescription | null, event: EnrichedEvent, type: CallType) => void | Promise<void>;
}

/**
 * One test per Segment call type: the request mapped from its fixture event is snapshotted, and
 * checked against the definition, so a snapshot of `null` cannot hide a dropped call type: a type
 * the destination declares gives a request to an absolute https URL, any other type gives none.
 */
export function snapshotEachCallType(def: AnyDestination, settings: unknown, options: EachCallTypeOptions = {}) {
  for (const type of CALL_TYPES) {
    it(options.title?.(type) ?? `maps ${type}`, async () => {
      const req = await mapWith(def, settings, [EVENTS[type]]);
      expect(readable(req)).toMatchSnapshot();
      if (def.supportedTypes.includes(type)) {
        expect(req, `${def.id} declares ${type} but maps it to no request`).not.toBeNull();
        expect(new URL(req?.url ?? '').protocol).toBe('https:');
      } else {
        expect(req).toBeNull();
      }
      await options.check?.(req, EVENTS[type], type);
    });
  }
}
