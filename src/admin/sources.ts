import { desc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { db } from '../db/client';
import { type SourceRow, sources } from '../db/schema';
import { liveTap } from '../ingest/live-tap';
import { forgetWriteKey } from '../ingest/sources';
import { notFound } from '../lib/errors';
import { apiDoc } from '../lib/http/openapi';
import { randomToken, ulid } from '../lib/ids';
import { type AdminEnv, requireScope } from './auth';
import { parseJson } from './validate';

export const CreateSource = z.object({
  name: z.string().trim().min(1).max(200).describe('A name people recognise, e.g. "Website"'),
});
export const UpdateSource = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  enabled: z.boolean().optional().describe('A disabled source answers 401 to its write key'),
});

/** How a source is shown by the API. */
export function sourceView(s: SourceRow) {
  return {
    id: s.id,
    name: s.name,
    writeKey: s.writeKey,
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
  forgetWriteKey(row.writeKey);
  return next;
}

const doc = apiDoc('Sources', {
  list: { summary: 'List sources', returns: '`{ data: Source[] }`, newest first' },
  create: { summary: 'Create a source', body: CreateSource, status: 201, returns: 'The source with its write key' },
  get: { summary: 'Get a source', errors: [404] },
  update: { summary: 'Rename, enable or disable a source', body: UpdateSource, errors: [404] },
  rotateKey: { summary: 'Give a source a new write key', errors: [404] },
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
    const input = await parseJson(c.req.raw, UpdateSource);
    return c.json(sourceView(await update(c.env.DB, await load(c.env.DB, c.req.param('id')), input)));
  })
  .post('/:id/rotate-key', doc.rotateKey, requireScope('sources:write'), async (c) => {
    const row = await load(c.env.DB, c.req.param('id'));
    return c.json(sourceView(await update(c.env.DB, row, { writeKey: randomToken('wk', 16) })));
  })
  .post('/:id/disable', doc.disable, requireScope('sources:write'), async (c) => {
    return c.json(sourceView(await update(c.env.DB, await load(c.env.DB, c.req.param('id')), { enabled: false })));
  })
  .post('/:id/enable', doc.enable, requireScope('sources:write'), async (c) => {
    return c.json(sourceView(await update(c.env.DB, await load(c.env.DB, c.req.param('id')), { enabled: true })));
  })
  .get('/:id/events', doc.events, requireScope('sources:read'), async (c) => {
    const row = await load(c.env.DB, c.req.param('id'));
    const limit = Math.max(1, Math.min(100, Number(c.req.query('limit') ?? 100) || 100));
    return c.json({ data: await liveTap(c.env, row.id).list(limit) });
  });
