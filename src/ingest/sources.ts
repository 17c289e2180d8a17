import { eq, or } from 'drizzle-orm';
import { db } from '../db/client';
import { type SourceRow, sources } from '../db/schema';
import { RefreshAheadCache } from '../lib/refresh-ahead';

/**
 * Write key → source, cached per isolate for a few seconds: the Tracking API must not pay a D1
 * read per request, and a rotated or disabled key stops working within `TTL_MS` everywhere
 * (at once in the isolate that made the change). The row is cached, not the verdict, so a
 * previous key's grace period ends on time even while its row sits in the cache. Past half the
 * TTL a request reloads the row in the background (`keepAlive`) and keeps the cached one, so only
 * a key unseen or idle for the whole TTL waits on D1.
 */
const TTL_MS = 5_000;
const cache = new RefreshAheadCache<string, SourceRow | null>({ ttlMs: TTL_MS });

/** Why a write key writes nothing: never issued, its source is disabled, or rotated out and past its grace. */
export type KeyRefusal = 'unknown' | 'disabled' | 'retired';

/** What a write key names: its source (by the current key, or the previous one within its grace period), or why not. */
export type KeyLookup =
  | { source: SourceRow; key: 'current' | 'previous' }
  | { source: null; reason: KeyRefusal; sourceId?: string };

/** The verdict for a key against the row that holds it (pure: `now` decides the grace period). */
export function judgeWriteKey(row: SourceRow | null, writeKey: string, now: number): KeyLookup {
  if (!row) return { source: null, reason: 'unknown' };
  const key = row.writeKey === writeKey ? 'current' : 'previous';
  if (key === 'previous' && !(row.previousKeyExpiresAt && Date.parse(row.previousKeyExpiresAt) > now)) {
    return { source: null, reason: 'retired', sourceId: row.id };
  }
  if (!row.enabled) return { source: null, reason: 'disabled', sourceId: row.id };
  return { source: row, key };
}

/**
 * Looks a write key up: the source it writes to, or why it writes nothing. `keepAlive` (the
 * request's `waitUntil`) carries a background reload past the answer.
 */
export async function lookupWriteKey(
  d1: D1Database,
  writeKey: string,
  keepAlive?: (p: Promise<unknown>) => void,
): Promise<KeyLookup> {
  const now = Date.now();
  const load = async () =>
    (await db(d1)
      .select()
      .from(sources)
      .where(or(eq(sources.writeKey, writeKey), eq(sources.previousWriteKey, writeKey)))
      .get()) ?? null;
  const row = await cache.get(writeKey, { load, now, keepAlive });
  return judgeWriteKey(row, writeKey, now);
}

/** Finds the enabled source a write key (current, or previous within its grace) writes to, or null. */
export async function sourceForWriteKey(
  d1: D1Database,
  writeKey: string,
  keepAlive?: (p: Promise<unknown>) => void,
): Promise<SourceRow | null> {
  return (await lookupWriteKey(d1, writeKey, keepAlive)).source;
}

/** Drops write keys from this isolate's cache (after rotation or disabling). */
export function forgetWriteKey(...writeKeys: (string | null | undefined)[]): void {
  cache.forget(...writeKeys.filter((k): k is string => !!k));
}
