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

/** Which of these (destination, message) keys were already delivered. */
export async function deliveredKeys(d1: D1Database, keys: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const unique = [...new Set(keys)];
  for (const part of chunk(unique, 100)) {
    const sql = `SELECT key FROM delivery_receipts WHERE key IN (${part.map(() => '?').join(',')})`;
    const { results } = await d1
      .prepare(sql)
      .bind(...part)
      .all<{ key: string }>();
    for (const r of results) found.add(r.key);
  }
  return found;
}
