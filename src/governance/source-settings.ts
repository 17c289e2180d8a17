import { eq } from 'drizzle-orm';
import { db } from '../db/client';
import { sources } from '../db/schema';
import { notFound } from '../lib/errors';
import { clearGovernanceCache } from './cache';
import type { SchemaSettings } from './rules';
import { saveSchemaSettings } from './store';

/** Throws 404 unless the source exists. */
export async function requireSource(d1: D1Database, id: string): Promise<void> {
  const row = await db(d1).select({ id: sources.id }).from(sources).where(eq(sources.id, id)).get();
  if (!row) throw notFound(`Source ${id}`);
}

/** Saves a source's schema controls; the sources they forward to must exist. Applies at once here. */
export async function saveSourceSchemaSettings(d1: D1Database, sourceId: string, settings: SchemaSettings) {
  await requireSource(d1, sourceId);
  for (const target of [settings.forwardingBlockedEventsTo, settings.forwardingViolationsTo]) {
    if (target) await requireSource(d1, target);
  }
  await saveSchemaSettings(d1, sourceId, settings);
  clearGovernanceCache();
}
