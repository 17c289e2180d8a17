import type { EnrichedEvent } from '../../ingest/spec';
import { isObject, type JsonObject } from '../../lib/json';
import { compact, eventName, joinUrl, jsonRequest, propertiesOf, traitsOf } from '../common';
import { PermanentError } from '../errors';
import type { RequestDescription } from '../types';
import type { BrazeSettings } from './settings';

/** Label under which anonymous Segment users live in Braze until `alias` identifies them. */
export const ANONYMOUS_LABEL = 'anonymous_id';

/** The Braze user of an event: external_id when known, else an alias on the anonymousId. */
function who(e: EnrichedEvent): JsonObject {
  if (e.userId !== undefined) return { external_id: String(e.userId) };
  return {
    user_alias: { alias_name: String(e.anonymousId), alias_label: ANONYMOUS_LABEL },
    _update_existing_only: false,
  };
}

const STANDARD: Record<string, string> = {
  email: 'email',
  firstName: 'first_name',
  lastName: 'last_name',
  phone: 'phone',
  gender: 'gender',
  birthday: 'dob',
  avatar: 'image_url',
};

/** identify traits → Braze standard attributes (others stay custom attributes). */
function attributes(traits: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(traits)) {
    if (k === 'address' && isObject(v)) {
      if (v.city !== undefined) out.home_city = v.city;
      if (v.country !== undefined) out.country = v.country;
    } else out[STANDARD[k] ?? k] = v;
  }
  return out;
}

/** `Order Completed` with products → Braze purchases, one per product. */
function purchases(e: EnrichedEvent, s: BrazeSettings, props: JsonObject): JsonObject[] {
  const products = Array.isArray(props.products) ? props.products.filter(isObject) : [];
  return products.map((p) => {
    const { product_id, sku, price, quantity, ...rest } = p;
    return compact({
      ...who(e),
      app_id: s.appId,
      product_id: String(product_id ?? sku ?? 'unknown'),
      currency: typeof props.currency === 'string' ? props.currency.toUpperCase() : 'USD',
      price: Number(price ?? 0),
      quantity: typeof quantity === 'number' ? quantity : 1,
      time: e.timestamp,
      properties: rest,
    });
  });
}

/** Which Braze endpoint an event goes to. */
export function brazeEndpoint(e: EnrichedEvent): 'track' | 'identify' {
  return e.type === 'alias' ? 'identify' : 'track';
}

/**
 * Events → one `/users/track` request (attributes, events, purchases; 75 of each at most), or
 * alias calls → one `/users/identify` request that gives anonymous aliases their external_id.
 */
export function mapBraze(events: EnrichedEvent[], s: BrazeSettings): RequestDescription {
  const auth = { authorization: `Bearer ${s.apiKey}` };
  if (brazeEndpoint(events[0]) === 'identify') {
    const aliases = events.map((e) => {
      if (e.userId === undefined) throw new PermanentError("Braze needs the alias call's userId");
      const previousId = String((e as { previousId?: string }).previousId);
      return { external_id: String(e.userId), user_alias: { alias_name: previousId, alias_label: ANONYMOUS_LABEL } };
    });
    return jsonRequest('POST', joinUrl(s.restEndpoint, '/users/identify'), { aliases_to_identify: aliases }, auth);
  }
  const body: { attributes: JsonObject[]; events: JsonObject[]; purchases: JsonObject[] } = {
    attributes: [],
    events: [],
    purchases: [],
  };
  for (const e of events) {
    if (e.type === 'identify') body.attributes.push({ ...who(e), ...attributes(traitsOf(e)) });
    else if (e.type === 'group') body.attributes.push({ ...who(e), [`ab_segment_group_${e.groupId}`]: true });
    else {
      const props = propertiesOf(e);
      const bought = e.type === 'track' && e.event === 'Order Completed' ? purchases(e, s, props) : [];
      if (bought.length) body.purchases.push(...bought);
      else
        body.events.push(
          compact({ ...who(e), app_id: s.appId, name: eventName(e), time: e.timestamp, properties: props }),
        );
    }
  }
  const trimmed = Object.fromEntries(Object.entries(body).filter(([, list]) => list.length));
  return jsonRequest('POST', joinUrl(s.restEndpoint, '/users/track'), trimmed, auth);
}
