import type { EnrichedEvent } from '../ingest/spec';
import { isObject, type JsonObject } from '../lib/json';

/** Which collection an identifier or profile belongs to (Segment's `users` and `accounts`). */
export type Collection = 'users' | 'accounts';

/** One external id of a profile, e.g. `{ kind: 'email', value: 'jane@example.com' }`. */
export interface Identifier {
  kind: string;
  value: string;
}

/** The identifier kinds Segment promotes by default, in the order they are read from an event. */
export const DEFAULT_KINDS = [
  'user_id',
  'email',
  'phone',
  'anonymous_id',
  'android.id',
  'android.idfa',
  'android.push_token',
  'ios.id',
  'ios.idfa',
  'ios.push_token',
  'ga_client_id',
] as const;

/** A custom kind name (from `context.externalIds[].type`): short, no spaces, no colon. */
export const KIND_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

const MAX_VALUE_CHARS = 1024;

/** The index key of an identifier: `kind:value` (the kind never contains a colon). */
export const keyOf = (id: Identifier): string => `${id.kind}:${id.value}`;

/** Splits `kind:value` at the first colon; undefined when there is none. */
export function parseKey(key: string): Identifier | undefined {
  const i = key.indexOf(':');
  if (i <= 0 || i === key.length - 1) return undefined;
  return { kind: key.slice(0, i), value: key.slice(i + 1) };
}

/** Canonical form of a value of a kind: emails trimmed and lower-cased, phones without separators. */
export function normalizeValue(kind: string, raw: unknown): string | undefined {
  // Ids may be numbers (Segment accepts both); an email never is.
  if (typeof raw === 'number' && Number.isFinite(raw) && kind !== 'email') raw = String(raw);
  if (typeof raw !== 'string') return undefined;
  let v = raw.trim();
  if (kind === 'email') v = v.toLowerCase();
  if (kind === 'phone') v = v.replace(/[\s().-]/g, '');
  if (!v || v.length > MAX_VALUE_CHARS) return undefined;
  return v;
}

const obj = (v: unknown): JsonObject => (isObject(v) ? v : {});

/** `ios` or `android` from `context.device.type`, falling back to `context.os.name`. */
function platformOf(context: JsonObject): 'ios' | 'android' | undefined {
  const device = obj(context.device);
  const name = String(device.type ?? obj(context.os).name ?? '').toLowerCase();
  if (name === 'ios' || name === 'ipados' || name === 'iphone os') return 'ios';
  if (name === 'android') return 'android';
  return undefined;
}

/**
 * The identifiers an event carries, as Segment promotes them to external ids, in priority-neutral
 * reading order (the tie-breaker when two identifiers of equal priority conflict: later ones are
 * dropped first). Blocked values are not removed here; see `settings.ts`.
 */
export function extractIdentifiers(event: EnrichedEvent, collection: Collection = 'users'): Identifier[] {
  const out: Identifier[] = [];
  const seen = new Set<string>();
  const add = (kind: string, raw: unknown) => {
    const value = normalizeValue(kind, raw);
    if (value === undefined || !KIND_PATTERN.test(kind)) return;
    const id = { kind, value };
    if (seen.has(keyOf(id))) return;
    seen.add(keyOf(id));
    out.push(id);
  };
  const context = obj(event.context);
  if (collection === 'accounts') {
    if (event.type === 'group') add('group_id', event.groupId);
  } else {
    const traits = event.type === 'identify' ? obj(event.traits) : {};
    const ctxTraits = obj(context.traits);
    // Segment promotes `properties.phone` of a track call too (its custom externalIDs docs).
    const props = event.type === 'track' ? obj(event.properties) : {};
    add('user_id', event.userId);
    add('email', traits.email ?? ctxTraits.email);
    add('phone', traits.phone ?? ctxTraits.phone ?? props.phone);
    add('anonymous_id', event.anonymousId);
    const platform = platformOf(context);
    if (platform) {
      const device = obj(context.device);
      add(`${platform}.id`, device.id);
      // Segment reads android.idfa only with adTrackingEnabled; ios.idfa whenever it is sent (iOS
      // 14+ sends a zeroed IDFA without consent, which the blocked pattern ^[0-]*$ catches).
      if (platform === 'ios' || device.adTrackingEnabled === true) add(`${platform}.idfa`, device.advertisingId);
      add(`${platform}.push_token`, device.token);
    }
    const ga =
      obj(obj(event.integrations)['Google Analytics']).clientId ??
      obj(obj(context.integrations)['Google Analytics']).clientId;
    add('ga_client_id', ga);
  }
  if (Array.isArray(context.externalIds)) {
    for (const ext of context.externalIds.slice(0, 50)) {
      const e = obj(ext);
      const extCollection = e.collection === 'accounts' ? 'accounts' : 'users';
      // group_id names accounts only: as a user identifier it would collide with the account.
      const reserved = collection === 'users' && e.type === 'group_id';
      if (extCollection === collection && typeof e.type === 'string' && !reserved) add(e.type, e.id);
    }
  }
  return out;
}

/** The `previousId` of an alias call; its kind (user_id or anonymous_id) is decided by the index. */
export function previousIdOf(event: EnrichedEvent): string | undefined {
  return event.type === 'alias' ? normalizeValue('user_id', event.previousId) : undefined;
}
