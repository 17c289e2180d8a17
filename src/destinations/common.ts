import type { EnrichedEvent } from '../ingest/spec';
import { isObject, type JsonObject, valueAtPath } from '../lib/json';
import type { RequestDescription } from './types';

/** Helpers shared by mappings: reading Segment fields the way Segment's destinations do. */

export const USER_AGENT = 'Tessera/0.1 (+https://github.com/tessera-cdp)';

/** `properties` of track/page/screen events, `{}` otherwise. */
export function propertiesOf(e: EnrichedEvent): JsonObject {
  const p = (e as { properties?: unknown }).properties;
  return isObject(p) ? p : {};
}

/** `traits` of identify/group events, or `context.traits` for the rest. */
export function traitsOf(e: EnrichedEvent): JsonObject {
  const t = (e as { traits?: unknown }).traits;
  if (isObject(t)) return t;
  return contextTraits(e);
}

/** `context.traits`: what the client knows about the user when it sends any event. */
export function contextTraits(e: EnrichedEvent): JsonObject {
  const t = e.context.traits;
  return isObject(t) ? t : {};
}

/** A string-valued field at a dot path in the context (e.g. `page.url`). */
export function contextString(e: EnrichedEvent, path: string): string | undefined {
  const v = valueAtPath(e.context, path);
  return typeof v === 'string' ? v : undefined;
}

/** Event name for a page/screen call, as Segment's classic destinations name it. */
export function pageEventName(e: EnrichedEvent): string {
  const name = (e as { name?: string }).name;
  if (e.type === 'screen') return name ? `Viewed ${name} Screen` : 'Loaded a Screen';
  return name ? `Viewed ${name} Page` : 'Loaded a Page';
}

/** The name of a track event, or the page/screen name for those. */
export function eventName(e: EnrichedEvent): string {
  if (e.type === 'track') return e.event;
  if (e.type === 'page' || e.type === 'screen') return pageEventName(e);
  return e.type;
}

/** The event's (skew-corrected) time in epoch milliseconds. */
export function epochMs(e: EnrichedEvent): number {
  return Date.parse(e.timestamp);
}

/** The user's best id: userId, else anonymousId. */
export function distinctId(e: EnrichedEvent): string {
  return String(e.userId ?? e.anonymousId ?? '');
}

/** `Authorization: Basic` value for a user and password. */
export function basicAuth(user: string, password = ''): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

/** A JSON request description. */
export function jsonRequest(
  method: RequestDescription['method'],
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): RequestDescription {
  return {
    method,
    url,
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
    body: JSON.stringify(body),
  };
}

/** Drops keys whose value is undefined (vendors reject explicit nulls in some fields). */
export function compact<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** Joins a base URL and a path without doubling slashes. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
