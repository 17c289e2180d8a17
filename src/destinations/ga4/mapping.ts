import type { EnrichedEvent } from '../../ingest/spec';
import { isObject, type JsonObject } from '../../lib/json';
import { compact, contextString, contextTraits, epochMs, jsonRequest, propertiesOf } from '../common';
import type { RequestDescription } from '../types';
import { GA4_HOSTS, type Ga4Settings } from './settings';

/** Segment e-commerce spec events → GA4 recommended events. */
const RECOMMENDED: Record<string, string> = {
  'Products Searched': 'search',
  'Product List Viewed': 'view_item_list',
  'Product Clicked': 'select_item',
  'Product Viewed': 'view_item',
  'Product Added': 'add_to_cart',
  'Product Removed': 'remove_from_cart',
  'Product Added to Wishlist': 'add_to_wishlist',
  'Cart Viewed': 'view_cart',
  'Checkout Started': 'begin_checkout',
  'Payment Info Entered': 'add_payment_info',
  'Order Completed': 'purchase',
  'Order Refunded': 'refund',
  'Promotion Viewed': 'view_promotion',
  'Promotion Clicked': 'select_promotion',
  'Signed Up': 'sign_up',
  'Signed In': 'login',
};

/** GA4 names: letters, digits, underscores, starting with a letter, at most 40 characters. */
export function ga4Name(name: string): string {
  const snake = name
    .trim()
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
  const named = /^[a-z]/.test(snake) ? snake : `event_${snake}`;
  return named.slice(0, 40);
}

/** GA4 takes at most 25 scalar params per event, values up to 100 characters. */
function scalarParams(props: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(props)) {
    if (Object.keys(out).length >= 25) break;
    if (typeof v === 'number' || typeof v === 'boolean') out[ga4Name(k)] = v;
    else if (typeof v === 'string') out[ga4Name(k)] = v.slice(0, 100);
  }
  return out;
}

/** Segment `products` → GA4 `items`. */
function items(props: JsonObject): JsonObject[] | undefined {
  const source = Array.isArray(props.products) ? props.products : props.product_id !== undefined ? [props] : undefined;
  return source?.filter(isObject).map((p) =>
    compact({
      item_id: p.product_id ?? p.sku,
      item_name: p.name,
      item_brand: p.brand,
      item_category: p.category,
      item_variant: p.variant,
      price: p.price,
      quantity: p.quantity,
      coupon: p.coupon,
    }),
  );
}

/** One track/page/screen event → a GA4 event `{ name, params }`. */
export function ga4Event(e: EnrichedEvent): JsonObject {
  const props = propertiesOf(e);
  if (e.type === 'page') {
    return {
      name: 'page_view',
      params: compact({
        page_location: (props.url as string | undefined) ?? contextString(e, 'page.url'),
        page_title: (props.title as string | undefined) ?? contextString(e, 'page.title'),
        page_referrer: (props.referrer as string | undefined) ?? contextString(e, 'page.referrer'),
        engagement_time_msec: 1,
      }),
    };
  }
  if (e.type === 'screen') {
    return { name: 'screen_view', params: { screen_name: e.name ?? 'screen', engagement_time_msec: 1 } };
  }
  const name = e.type === 'track' ? (RECOMMENDED[e.event] ?? ga4Name(e.event)) : ga4Name(e.type);
  const params = compact({
    ...scalarParams(props),
    currency: props.currency,
    value: props.value ?? props.revenue ?? props.total,
    transaction_id: props.order_id,
    items: items(props),
    engagement_time_msec: 1,
  });
  return { name, params };
}

/** Google forbids sending personally identifiable information to Analytics. */
const PII_TRAITS = /^(email|phone|name|first_?name|last_?name|username|address|birthday|ip)$/i;

/** GA4's client_id: the device id Segment knows, else the user id. */
export function ga4ClientId(e: EnrichedEvent): string {
  return String(e.anonymousId ?? e.userId);
}

/**
 * Events of one client → one Measurement Protocol request (`/mp/collect`, up to 25 events). The
 * user's `context.traits` ride along as `user_properties`; GA4 has no identify/group/alias calls.
 */
export function mapGa4(events: EnrichedEvent[], s: Ga4Settings): RequestDescription {
  const first = events[0];
  const traits = contextTraits(first);
  const userProperties: JsonObject = {};
  for (const [k, v] of Object.entries(scalarParams(traits))) {
    if (!PII_TRAITS.test(k)) userProperties[k] = { value: v };
  }
  const url = `${GA4_HOSTS[s.region]}/mp/collect?measurement_id=${encodeURIComponent(s.measurementId)}&api_secret=${encodeURIComponent(s.apiSecret)}`;
  const body = compact({
    client_id: ga4ClientId(first),
    user_id: first.userId === undefined ? undefined : String(first.userId),
    timestamp_micros: epochMs(first) * 1000,
    user_properties: Object.keys(userProperties).length ? userProperties : undefined,
    events: events.map((e) => ({ ...ga4Event(e), timestamp_micros: epochMs(e) * 1000 })),
  });
  return jsonRequest('POST', url, body);
}
