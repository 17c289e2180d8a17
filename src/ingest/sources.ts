import { eq, or } from 'drizzle-orm';
import { db } from '../db/client';
import { type SourceRow, sources } from '../db/schema';

/**
 * Write key → source, cached per isolate for a few seconds: the Tracking API must not pay a D1
 * read per request, and a rotated or disabled key stops working within `TTL_MS` everywhere
 * (at once in the isolate that made the change). The row is cached, not the verdict, so a
 * previous key's grace period ends on time even while its row sits in the cache.
 */
const TTL_MS = 5_000;
const cache = new Map<string, { row: SourceRow | null; expires: number }>();

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

/** Looks a write key up: the source it writes to, or why it writes nothing. */
export async function lookupWriteKey(d1: D1Database, writeKey: string): Promise<KeyLookup> {
  const now = Date.now();
  const hit = cache.get(writeKey);
  if (hit && hit.expires > now) return judgeWriteKey(hit.row, writeKey, now);
  const row =
    (await db(d1)
      .select()
      .from(sources)
      .where(or(eq(sources.writeKey, writeKey), eq(sources.previousWriteKey, writeKey)))
      .get()) ?? null;
  if (cache.size > 10_000) cache.clear();
  cache.set(writeKey, { row, expires: now + TTL_MS });
  return judgeWriteKey(row, writeKey, now);
}

/** Finds the enabled source a write key (current, or previous within its grace) writes to, or null. */
export async function sourceForWriteKey(d1: D1Database, writeKey: string): Promise<SourceRow | null> {
  return (await lookupWriteKey(d1, writeKey)).source;
}

/** Drops write keys from this isolate's cache (after rotation or disabling). */
export function forgetWriteKey(...writeKeys: (string | null | undefined)[]): void {
  for (const k of writeKeys) if (k) cache.delete(k);
}
