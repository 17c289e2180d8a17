import { desc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { db } from '../db/client';
import { type SourceRow, sources } from '../db/schema';
import { SchemaSettings } from '../governance/rules';
import { saveSourceSchemaSettings } from '../governance/source-settings';
import { liveTap } from '../ingest/live-tap';
import { forgetWriteKey } from '../ingest/sources';
import { forbidden, notFound } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import { randomToken, ulid } from '../lib/ids';
import { protectEntries } from '../privacy/pii-access';
import { type AdminEnv, requireScope } from './auth';
import { grants } from './scopes';

/** A body that may be empty (`POST` without one means all defaults). */
async function parseOptionalJson<T extends z.ZodType>(req: Request, schema: T): Promise<z.infer<T>> {
  if (!req.body || req.headers.get('content-length') === '0') return schema.parse({});
  const text = await req.clone().text();
  return text.trim() ? parseJson(req, schema) : schema.parse({});
}

export const CreateSource = z.object({
  name: z.string().trim().min(1).max(200).describe('A name people recognise, e.g. "Website"'),
});
export const UpdateSource = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  schemaSettings: SchemaSettings.optional().describe(
    "Segment's schema controls (also at /api/sources/:id/schema-settings)",
  ),
  enabled: z
    .boolean()
    .optional()
    .describe(
      'A disabled source answers 200 to its write key and drops the events (counted in /api/ingest/rejected-keys)',
    ),
});
/** The longest grace a rotated key may get: 30 days. */
export const MAX_GRACE_SECONDS = 30 * 86_400;
export const RotateKey = z.object({
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(MAX_GRACE_SECONDS)
    .default(86_400)
    .describe('How long the replaced key keeps working, in seconds (default 24 h; 0 retires it at once)'),
});

/** How a source is shown by the API: the previous key only while it still works; never the personalize secret. */
export function sourceView(s: SourceRow, now = Date.now()) {
  const inGrace = !!s.previousWriteKey && !!s.previousKeyExpiresAt && Date.parse(s.previousKeyExpiresAt) > now;
  return {
    id: s.id,
    name: s.name,
    writeKey: s.writeKey,
    previousWriteKey: inGrace ? { key: s.previousWriteKey, expiresAt: s.previousKeyExpiresAt } : null,
    personalizeSecret: s.personalizeSecretCreatedAt ? { createdAt: s.personalizeSecretCreatedAt } : null,
    enabled: s.enabled,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

/** Creates a source; used by the API and by `npm start` to make the default one. */
export async function createSource(d1: D1Database, name: string): Promise<SourceRow> {
  const now = new Date().toISOString();
  const row: SourceRow = {
    id: ulid(),
    name,
    writeKey: randomToken('wk', 16),
    enabled: true,
    createdAt: now,
    updatedAt: now,
    previousWriteKey: null,
    previousKeyExpiresAt: null,
    personalizeSecret: null,
    personalizeSecretCreatedAt: null,
  };
  await db(d1).insert(sources).values(row);
  return row;
}

async function load(d1: D1Database, id: string): Promise<SourceRow> {
  const row = await db(d1).select().from(sources).where(eq(sources.id, id)).get();
  if (!row) throw notFound(`Source ${id}`);
  return row;
}

async function update(d1: D1Database, row: SourceRow, patch: Partial<SourceRow>): Promise<SourceRow> {
  const next = { ...row, ...patch, updatedAt: new Date().toISOString() };
  await db(d1).update(sources).set(next).where(eq(sources.id, row.id));
  forgetWriteKey(row.writeKey, row.previousWriteKey, next.writeKey, next.previousWriteKey);
  return next;
}

const doc = apiDoc('Sources', {
  list: { summary: 'List sources', returns: '`{ data: Source[] }`, newest first' },
  create: { summary: 'Create a source', body: CreateSource, status: 201, returns: 'The source with its write key' },
  get: { summary: 'Get a source', errors: [404] },
  update: { summary: 'Rename, enable or disable a source', body: UpdateSource, errors: [404] },
  rotateKey: {
    summary: 'Give a source a new write key; the old one works for a grace period',
    body: RotateKey,
    bodyOptional: true,
    errors: [404],
  },
  createPersonalizeSecret: {
    summary: 'Create or rotate the secret that signs /v1/personalize tokens (shown once)',
    status: 201,
    errors: [404],
  },
  deletePersonalizeSecret: { summary: 'Remove the personalize secret', errors: [404] },
  disable: { summary: 'Disable a source (its write key stops working)', errors: [404] },
  enable: { summary: 'Enable a source', errors: [404] },
  events: {
    summary: 'The source debugger: its latest events, accepted or rejected',
    query: { limit: 'At most this many, 1–100 (default 100)' },
    errors: [404],
  },
});

/** `/api/sources`: sources, their write keys and their debugger. */
export const sourcesApi = new Hono<AdminEnv>()
  .get('/', doc.list, requireScope('sources:read'), async (c) => {
    const rows = await db(c.env.DB).select().from(sources).orderBy(desc(sources.createdAt)).all();
    return c.json({ data: rows.map(sourceView) });
  })
  .post('/', doc.create, requireScope('sources:write'), async (c) => {
    const input = await parseJson(c.req.raw, CreateSource);
    return c.json(sourceView(await createSource(c.env.DB, input.name)), 201);
  })
  .get('/:id', doc.get, requireScope('sources:read'), async (c) =>
    c.json(sourceView(await load(c.env.DB, c.req.param('id')))),
  )
  .patch('/:id', doc.update, requireScope('sources:write'), async (c) => {
    const { schemaSettings, ...input } = await parseJson(c.req.raw, UpdateSource);
    const row = await load(c.env.DB, c.req.param('id'));
    if (schemaSettings) {
      // Segment's schemaSettings on the source; they are governance, so they need its scope too.
      if (!grants(c.get('principal').scopes, 'governance:write'))
        throw forbidden('This token lacks the governance:write scope');
      await saveSourceSchemaSettings(c.env.DB, row.id, schemaSettings);
    }
    return c.json(sourceView(Object.keys(input).length ? await update(c.env.DB, row, input) : row));
  })
  .post('/:id/rotate-key', doc.rotateKey, requireScope('sources:write'), async (c) => {
    const input = await parseOptionalJson(c.req.raw, RotateKey);
    const row = await load(c.env.DB, c.req.param('id'));
    // One previous key at a time: a second rotation retires the first previous key at once.
    const patch = {
      writeKey: randomToken('wk', 16),
      previousWriteKey: row.writeKey,
      previousKeyExpiresAt: new Date(Date.now() + input.graceSeconds * 1000).toISOString(),
    };
    return c.json(sourceView(await update(c.env.DB, row, patch)));
  })
  .post('/:id/personalize-secret', doc.createPersonalizeSecret, requireScope('sources:write'), async (c) => {
    const row = await load(c.env.DB, c.req.param('id'));
    const secret = randomToken('ps', 32);
    const next = await update(c.env.DB, row, {
      personalizeSecret: secret,
      personalizeSecretCreatedAt: new Date().toISOString(),
    });
    // The only time the secret is shown: the customer's backend keeps it to sign tokens.
    return c.json(
      { ...sourceView(next), personalizeSecret: { secret, createdAt: next.personalizeSecretCreatedAt } },
      201,
    );
  })
  .delete('/:id/personalize-secret', doc.deletePersonalizeSecret, requireScope('sources:write'), async (c) => {
    const row = await load(c.env.DB, c.req.param('id'));
    return c.json(
      sourceView(await update(c.env.DB, row, { personalizeSecret: null, personalizeSecretCreatedAt: null })),
    );
  })
  .post('/:id/disable', doc.disable, requireScope('sources:write'), async (c) => {
    return c.json(sourceView(await update(c.env.DB, await load(c.env.DB, c.req.param('id')), { enabled: false })));
  })
  .post('/:id/enable', doc.enable, requireScope('sources:write'), async (c) => {
    return c.json(sourceView(await update(c.env.DB, await load(c.env.DB, c.req.param('id')), { enabled: true })));
  })
  .get('/:id/events', doc.events, requireScope('sources:read'), async (c) => {
    const row = await load(c.env.DB, c.req.param('id'));
    const limit = queryInt(c.req.query('limit'), 'limit', { fallback: 100, min: 1, max: 100 });
    return c.json({ data: await protectEntries(c, row.id, await liveTap(c.env, row.id).list(limit)) });
  });
