import { eq } from 'drizzle-orm';
import { db } from '../db/client';
import { type DestinationRow, destinations } from '../db/destinations-schema';
import { destinationType } from '../destinations/registry';
import { destinationTransformations } from '../governance/cache';
import { openDestinationRow } from '../privacy/secrets';
import { DestinationFilter } from './filters';
import type { LiveDestination } from './routing';

const parsedCache = new Map<string, { stamp: string; live: LiveDestination | null }>();

/** Turns a row into a live destination; null when its type is gone or its stored config no longer parses. */
export function liveDestination(row: DestinationRow): LiveDestination | null {
  const stamp = `${row.updatedAt}|${row.type}`;
  const hit = parsedCache.get(row.id);
  if (hit && hit.stamp === stamp) return hit.live;
  let live: LiveDestination | null = null;
  const def = destinationType(row.type);
  const settings = def?.settings.safeParse(row.settings);
  const filters = DestinationFilter.array().safeParse(row.filters);
  if (def && settings?.success && filters.success) {
    live = {
      id: row.id,
      name: row.name,
      def,
      settings: settings.data,
      sourceIds: row.sourceIds,
      consentCategories: row.consentCategories ?? def.consentCategories,
      filters: filters.data,
    };
  } else {
    console.error(`destination ${row.id} (${row.type}) has an unusable stored configuration; skipping it`);
  }
  if (parsedCache.size > 5000) parsedCache.clear();
  parsedCache.set(row.id, { stamp, live });
  return live;
}

/** The enabled destinations, parsed (one D1 read per consumer batch). */
export async function loadLiveDestinations(env: Env): Promise<LiveDestination[]> {
  const [stored, transforms] = await Promise.all([
    db(env.DB).select().from(destinations).where(eq(destinations.enabled, true)).all(),
    destinationTransformations(env.DB),
  ]);
  // Secrets are sealed at rest (src/privacy/secrets.ts).
  const rows = await Promise.all(stored.map((r) => openDestinationRow(env, r)));
  return rows
    .map(liveDestination)
    .filter((d): d is LiveDestination => d !== null)
    .map((d) => (transforms.has(d.id) ? { ...d, transformations: transforms.get(d.id) } : d));
}

/** Key of a (destination, message) pair in `delivery_receipts`. */
export const receiptKey = (destinationId: string, messageId: string) => `${destinationId} ${messageId}`;

/** D1 binds at most 100 parameters per statement. */
export function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** A (destination, event) pair to look up: receipts are filed by the minute the event was received. */
export interface ReceiptQuery {
  destinationId: string;
  messageId: string;
  receivedAt: string;
}

/** The minute receipts of an event are filed under (0 for an unreadable time: still found, in one bucket). */
export function receiptMinute(receivedAt: string): number {
  const t = Date.parse(receivedAt);
  return Number.isFinite(t) ? Math.floor(t / 60_000) : 0;
}

/**
 * Which of these (destination, event) pairs were already delivered, as `receiptKey`s. Receipts are
 * rows per destination, received minute and consumer batch; rows of `delivery_receipts` (one per
 * event, the former layout) are still read until they age out.
 */
export async function deliveredKeys(d1: D1Database, queries: ReceiptQuery[]): Promise<Set<string>> {
  const found = new Set<string>();
  if (!queries.length) return found;
  const wanted = new Set(queries.map((q) => receiptKey(q.destinationId, q.messageId)));
  const buckets = [...new Set(queries.map((q) => JSON.stringify([q.destinationId, receiptMinute(q.receivedAt)])))];
  const { results: sets } = await d1
    .prepare(
      `SELECT destination_id, message_ids FROM delivery_receipt_sets
       WHERE (destination_id, minute) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))`,
    )
    .bind(`[${buckets.join(',')}]`)
    .all<{ destination_id: string; message_ids: string }>();
  for (const row of sets) {
    for (const id of JSON.parse(row.message_ids) as string[]) {
      const key = receiptKey(row.destination_id, id);
      if (wanted.has(key)) found.add(key);
    }
  }
  const rest = [...wanted].filter((k) => !found.has(k));
  for (const part of chunk(rest, 100)) {
    const { results } = await d1
      .prepare('SELECT key FROM delivery_receipts WHERE key IN (SELECT value FROM json_each(?))')
      .bind(JSON.stringify(part))
      .all<{ key: string }>();
    for (const r of results) found.add(r.key);
  }
  return found;
}
