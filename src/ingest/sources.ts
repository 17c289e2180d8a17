import { eq } from 'drizzle-orm';
import { db } from '../db/client';
import { type SourceRow, sources } from '../db/schema';

/**
 * Write key → source, cached per isolate for a few seconds: the Tracking API must not pay a D1
 * read per request, and a rotated or disabled key stops working within `TTL_MS` everywhere
 * (at once in the isolate that made the change).
 */
const TTL_MS = 5_000;
const cache = new Map<string, { source: SourceRow | null; expires: number }>();

/** Finds the enabled source that owns a write key, or null. */
export async function sourceForWriteKey(d1: D1Database, writeKey: string): Promise<SourceRow | null> {
  const hit = cache.get(writeKey);
  const now = Date.now();
  if (hit && hit.expires > now) return hit.source;
  const row = (await db(d1).select().from(sources).where(eq(sources.writeKey, writeKey)).get()) ?? null;
  const source = row?.enabled ? row : null;
  if (cache.size > 10_000) cache.clear();
  cache.set(writeKey, { source, expires: now + TTL_MS });
  return source;
}

/** Drops a write key from this isolate's cache (after rotation or disabling). */
export function forgetWriteKey(writeKey: string): void {
  cache.delete(writeKey);
}
