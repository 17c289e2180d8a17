import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { type AdminEnv, requireScope } from '../admin/auth';
import { db } from '../db/client';
import { privacySettings } from '../db/schema';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';

/** Trait keys that are PII unless the workspace says otherwise (Segment's common PII traits). */
export const DEFAULT_PII_KEYS = ['email', 'phone', 'name', 'first_name', 'last_name', 'address', 'birthday'];

export const PrivacySettings = z.object({
  piiKeys: z
    .array(
      z
        .string()
        .min(1)
        .max(64)
        .regex(/^[A-Za-z0-9_.-]+$/, 'a trait key: letters, digits, _ . -'),
    )
    .max(100)
    .describe(
      'Trait keys whose values are encrypted at rest and masked for tokens without pii:read. An identifier kind with the same name (email, phone) is looked up through a blind index.',
    ),
});
export type PrivacySettings = z.infer<typeof PrivacySettings>;

/** Cached per isolate for a few seconds (the ingest consumer reads it per batch). */
const TTL_MS = 5_000;
let cached: { keys: ReadonlySet<string>; expires: number } | undefined;

/** The PII trait keys in force. */
export async function loadPiiKeys(d1: D1Database): Promise<ReadonlySet<string>> {
  const now = Date.now();
  if (cached && cached.expires > now) return cached.keys;
  const row = await db(d1).select().from(privacySettings).where(eq(privacySettings.id, 1)).get();
  const keys = new Set(row?.piiKeys ?? DEFAULT_PII_KEYS);
  cached = { keys, expires: now + TTL_MS };
  return keys;
}

const doc = apiDoc('Privacy', {
  get: { summary: 'Which trait keys are PII (encrypted at rest, masked without pii:read)' },
  put: {
    summary: 'Set the PII trait keys',
    description:
      'Applies to values written from now on; values sealed before stay sealed and readable. Changing the list of identifier kinds (email, phone) changes how they are indexed: do it before data arrives.',
    body: PrivacySettings,
  },
});

/** `GET/PUT /api/privacy/settings`. */
export const privacySettingsApi = new Hono<AdminEnv>()
  .get('/', doc.get, requireScope('profiles:read'), async (c) => {
    return c.json({ piiKeys: [...(await loadPiiKeys(c.env.DB))] });
  })
  .put('/', doc.put, requireScope('privacy:write'), async (c) => {
    const input = await parseJson(c.req.raw, PrivacySettings);
    const piiKeys = [...new Set(input.piiKeys)];
    const updatedAt = new Date().toISOString();
    await db(c.env.DB)
      .insert(privacySettings)
      .values({ id: 1, piiKeys, updatedAt })
      .onConflictDoUpdate({ target: privacySettings.id, set: { piiKeys, updatedAt } });
    cached = undefined;
    return c.json({ piiKeys });
  });
