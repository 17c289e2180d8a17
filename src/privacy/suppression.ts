import { extractIdentifiers, keyOf, normalizeValue, parseKey } from '../identity/identifiers';
import type { Collected } from '../ingest/collect';
import type { EnrichedEvent } from '../ingest/spec';
import { isObject } from '../lib/json';
import { RefreshAheadCache } from '../lib/refresh-ahead';
import { indexKey, loadPii } from './pii-guard';
import { countSuppressed, loadSuppressedKeys, suppressionRevision } from './suppression-store';

/**
 * How long an isolate trusts its cached suppression list before asking D1 for the revision: a
 * suppression applies everywhere within it. Past half of it a request checks again in the
 * background and keeps the cached list (src/lib/refresh-ahead.ts).
 */
export const REVALIDATE_MS = 5_000;

interface Entry {
  revision: number;
  keys: Set<string>;
}
const cache = new RefreshAheadCache<'', Entry>({ ttlMs: REVALIDATE_MS });

/** The revision unchanged keeps the list; else the list is read again. */
async function revalidate(d1: D1Database, previous: Entry | undefined): Promise<Entry> {
  if (previous && (await suppressionRevision(d1)) === previous.revision) return previous;
  const { revision, keys } = await loadSuppressedKeys(d1);
  return { revision, keys: new Set(keys) };
}

/**
 * The suppressed identifier keys, cached per isolate by revision (as governance caches plans).
 * `keepAlive` (a request's `waitUntil`) lets a check past half the interval run in the background.
 */
export async function suppressedKeys(
  d1: D1Database,
  now = Date.now(),
  keepAlive?: (p: Promise<unknown>) => void,
): Promise<ReadonlySet<string>> {
  return (await cache.get('', { load: (previous) => revalidate(d1, previous), now, keepAlive })).keys;
}

/** Forgets the cache (after a change in this isolate, so it applies at once). */
export function clearSuppressionCache(): void {
  cache.clear();
}

/** Every identifier key an event names: its identifiers, traits of any call type, alias's previousId. */
function keysOf(event: unknown): string[] {
  if (!isObject(event)) return [];
  const e = event as unknown as EnrichedEvent;
  const out = extractIdentifiers(e).map(keyOf);
  const traits = isObject(e.traits) ? e.traits : {};
  const more = [
    ['email', traits.email],
    ['phone', traits.phone],
    ['user_id', e.type === 'alias' ? e.previousId : undefined],
    ['anonymous_id', e.type === 'alias' ? e.previousId : undefined],
  ] as const;
  for (const [kind, v] of more) {
    const value = normalizeValue(kind, v);
    if (value !== undefined) out.push(`${kind}:${value}`);
  }
  return out;
}

/**
 * True when any identifier of the (possibly partial, e.g. rejected) event is suppressed. With PII
 * sealing on, a profile's emails and phones are known by their blind index only (`email:bi1.…`):
 * `blind` maps the event's clear keys to those (see `blindKeysFor`).
 */
export function isSuppressed(
  event: unknown,
  keys: ReadonlySet<string>,
  blind: ReadonlyMap<string, string> = new Map(),
): boolean {
  return keysOf(event).some((k) => keys.has(k) || keys.has(blind.get(k) ?? ''));
}

/** The blind-index keys of the events' emails and phones, when PII sealing is on (one HMAC a value). */
export async function blindKeysFor(env: Env, events: readonly unknown[]): Promise<ReadonlyMap<string, string>> {
  const pii = await loadPii(env);
  const out = new Map<string, string>();
  if (!pii.ring) return out;
  for (const k of new Set(events.flatMap(keysOf))) {
    const id = parseKey(k);
    if (id && pii.keys.has(id.kind)) out.set(k, await indexKey(pii, id.kind, id.value));
  }
  return out;
}

/**
 * Drops the events (and their debugger entries, rejected ones included) of suppressed people from
 * what the edge collected, before anything is stored; the client's answer does not change, as with
 * Segment. Counted per source and day after the response. Returns how many events were dropped.
 */
export async function dropSuppressed(
  env: Env,
  sourceId: string,
  result: Collected,
  ctx: Pick<ExecutionContext, 'waitUntil'>,
): Promise<number> {
  const d1 = env.DB;
  const keys = await suppressedKeys(d1, Date.now(), (p) => ctx.waitUntil(p));
  if (!keys.size) return 0;
  const before = result.debug.length;
  const blind = await blindKeysFor(
    env,
    result.debug.map((d) => d.event),
  );
  result.accepted = result.accepted.filter((e) => !isSuppressed(e, keys, blind));
  result.debug = result.debug.filter((d) => !isSuppressed(d.event, keys, blind));
  const dropped = before - result.debug.length;
  if (dropped) ctx.waitUntil(countSuppressed(d1, sourceId, dropped, new Date()).catch((err) => console.warn(err)));
  return dropped;
}

/**
 * The ingest consumer's second check: events queued before a suppression landed are acked and
 * dropped here, so a run that deleted the person is not undone by what was already in the queue.
 */
export async function ackSuppressed<T extends { msg: { ack(): void }; body: { event: unknown } }>(
  env: Env,
  items: T[],
): Promise<T[]> {
  const keys = await suppressedKeys(env.DB);
  if (!keys.size) return items;
  const blind = await blindKeysFor(
    env,
    items.map((i) => i.body.event),
  );
  return items.filter((item) => {
    if (!isSuppressed(item.body.event, keys, blind)) return true;
    item.msg.ack();
    return false;
  });
}
