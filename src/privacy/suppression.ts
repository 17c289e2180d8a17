import { extractIdentifiers, keyOf, normalizeValue } from '../identity/identifiers';
import type { Collected } from '../ingest/collect';
import type { EnrichedEvent } from '../ingest/spec';
import { isObject } from '../lib/json';
import { countSuppressed, loadSuppressedKeys, suppressionRevision } from './suppression-store';

/** How long an isolate trusts its cached suppression list before asking D1 for the revision. */
export const REVALIDATE_MS = 5_000;

interface Entry {
  revision: number;
  checkedAt: number;
  keys: Set<string>;
}
let entry: Entry | undefined;
let loading: Promise<Entry> | undefined;

/** The suppressed identifier keys, cached per isolate by revision (as governance caches plans). */
export async function suppressedKeys(d1: D1Database, now = Date.now()): Promise<ReadonlySet<string>> {
  if (!entry || now - entry.checkedAt >= REVALIDATE_MS) {
    if (entry && (await suppressionRevision(d1)) === entry.revision) entry.checkedAt = now;
    else {
      loading ??= loadSuppressedKeys(d1)
        .then(({ revision, keys }) => ({ revision, checkedAt: now, keys: new Set(keys) }))
        .finally(() => {
          loading = undefined;
        });
      entry = await loading;
    }
  }
  return entry.keys;
}

/** Forgets the cache (after a change in this isolate, so it applies at once). */
export function clearSuppressionCache(): void {
  entry = undefined;
}

/** True when any identifier of the (possibly partial, e.g. rejected) event is suppressed. */
export function isSuppressed(event: unknown, keys: ReadonlySet<string>): boolean {
  if (!isObject(event)) return false;
  const e = event as unknown as EnrichedEvent;
  if (extractIdentifiers(e).some((id) => keys.has(keyOf(id)))) return true;
  // Traits of any call type and alias's previousId name the person too.
  const traits = isObject(e.traits) ? e.traits : {};
  const more = [
    ['email', traits.email],
    ['phone', traits.phone],
    ['user_id', e.type === 'alias' ? e.previousId : undefined],
    ['anonymous_id', e.type === 'alias' ? e.previousId : undefined],
  ] as const;
  for (const [kind, v] of more) {
    const value = normalizeValue(kind, v);
    if (value !== undefined && keys.has(`${kind}:${value}`)) return true;
  }
  return false;
}

/**
 * Drops the events (and their debugger entries, rejected ones included) of suppressed people from
 * what the edge collected, before anything is stored; the client's answer does not change, as with
 * Segment. Counted per source and day after the response. Returns how many events were dropped.
 */
export async function dropSuppressed(
  d1: D1Database,
  sourceId: string,
  result: Collected,
  ctx: Pick<ExecutionContext, 'waitUntil'>,
): Promise<number> {
  const keys = await suppressedKeys(d1);
  if (!keys.size) return 0;
  const before = result.debug.length;
  result.accepted = result.accepted.filter((e) => !isSuppressed(e, keys));
  result.debug = result.debug.filter((d) => !isSuppressed(d.event, keys));
  const dropped = before - result.debug.length;
  if (dropped) ctx.waitUntil(countSuppressed(d1, sourceId, dropped, new Date()).catch((err) => console.warn(err)));
  return dropped;
}

/**
 * The ingest consumer's second check: events queued before a suppression landed are acked and
 * dropped here, so a run that deleted the person is not undone by what was already in the queue.
 */
export async function ackSuppressed<T extends { msg: { ack(): void }; body: { event: unknown } }>(
  d1: D1Database,
  items: T[],
): Promise<T[]> {
  const keys = await suppressedKeys(d1);
  if (!keys.size) return items;
  return items.filter((item) => {
    if (!isSuppressed(item.body.event, keys)) return true;
    item.msg.ack();
    return false;
  });
}
