import { eq } from 'drizzle-orm';
import { db } from '../db/client';
import { identitySettings } from '../db/profiles-schema';
import { compileRules, defaultSettings, IdentitySettings, type Rules } from './settings';

const ROW_ID = 'default';
/** How long an isolate trusts its copy of the settings; a PUT in the same isolate clears it. */
const CACHE_MS = 5_000;

let cached: { rules: Rules; at: number } | undefined;

/** The workspace's identity settings (Segment's defaults until someone saves their own). */
export async function loadSettings(d1: D1Database): Promise<IdentitySettings> {
  const row = await db(d1).select().from(identitySettings).where(eq(identitySettings.id, ROW_ID)).get();
  if (!row) return defaultSettings();
  const parsed = IdentitySettings.safeParse(JSON.parse(row.settings));
  if (!parsed.success) {
    console.error('stored identity settings are invalid; using defaults', parsed.error.message);
    return defaultSettings();
  }
  return parsed.data;
}

/** Saves the settings; they apply to events resolved from now on (existing profiles are kept). */
export async function saveSettings(d1: D1Database, settings: IdentitySettings): Promise<void> {
  const row = { id: ROW_ID, settings: JSON.stringify(settings), updatedAt: new Date().toISOString() };
  await db(d1)
    .insert(identitySettings)
    .values(row)
    .onConflictDoUpdate({ target: identitySettings.id, set: { settings: row.settings, updatedAt: row.updatedAt } });
  cached = undefined;
}

/** Compiled rules for the hot path, cached per isolate for a few seconds. */
export async function loadRules(d1: D1Database, now = Date.now()): Promise<Rules> {
  if (cached && now - cached.at < CACHE_MS) return cached.rules;
  const rules = compileRules(await loadSettings(d1));
  cached = { rules, at: now };
  return rules;
}
