import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { type AdminEnv, requireScope } from '../admin/auth';
import { db } from '../db/client';
import { destinations } from '../db/destinations-schema';
import { sources, type TransformationRow, transformations } from '../db/schema';
import { badRequest, notFound } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { ulid } from '../lib/ids';
import { isObject } from '../lib/json';
import { clearGovernanceCache } from './cache';
import { bump } from './store';
import { applyTransformation, TransformationBody } from './transformations';

const read = requireScope('governance:read');
const write = requireScope('governance:write');

const view = (r: TransformationRow) => ({ id: r.id, ...r.body, createdAt: r.createdAt, updatedAt: r.updatedAt });

async function load(d1: D1Database, id: string): Promise<TransformationRow> {
  const row = await db(d1).select().from(transformations).where(eq(transformations.id, id)).get();
  if (!row) throw notFound(`Transformation ${id}`);
  return row;
}

async function checkTargets(d1: D1Database, t: TransformationBody) {
  if (!(await db(d1).select({ id: sources.id }).from(sources).where(eq(sources.id, t.sourceId)).get())) {
    throw notFound(`Source ${t.sourceId}`);
  }
  if (
    t.destinationId &&
    !(await db(d1).select({ id: destinations.id }).from(destinations).where(eq(destinations.id, t.destinationId)).get())
  ) {
    throw notFound(`Destination ${t.destinationId}`);
  }
}

async function save(d1: D1Database, row: TransformationRow) {
  await db(d1).batch([
    db(d1)
      .insert(transformations)
      .values(row)
      .onConflictDoUpdate({
        target: transformations.id,
        set: { body: row.body, sourceId: row.sourceId, destinationId: row.destinationId, updatedAt: row.updatedAt },
      }),
    bump(d1),
  ]);
  clearGovernanceCache();
}

const Preview = z.strictObject({ transformation: TransformationBody, event: z.record(z.string(), z.unknown()) });

const doc = apiDoc('Transformations', {
  list: { summary: 'List transformations', query: { sourceId: 'Only those of this source' } },
  create: { summary: 'Create a transformation', body: TransformationBody, status: 201, errors: [404] },
  preview: { summary: 'Apply a transformation to a sample event', body: Preview },
  get: { summary: 'Get a transformation', errors: [404] },
  update: {
    summary: 'Change a transformation (fields merged, then checked whole)',
    body: z.record(z.string(), z.unknown()),
    errors: [404],
  },
  remove: { summary: 'Delete a transformation', errors: [404] },
});

/** `/api/transformations`: Segment's transformations, and a preview of one on a sample event. */
export const transformationsApi = new Hono<AdminEnv>()
  .get('/', doc.list, read, async (c) => {
    const sourceId = c.req.query('sourceId');
    const q = db(c.env.DB).select().from(transformations);
    const rows = await (sourceId ? q.where(eq(transformations.sourceId, sourceId)) : q)
      .orderBy(transformations.createdAt)
      .all();
    return c.json({ data: rows.map(view) });
  })
  .post('/', doc.create, write, async (c) => {
    const body = await parseJson(c.req.raw, TransformationBody);
    await checkTargets(c.env.DB, body);
    const now = new Date().toISOString();
    const row: TransformationRow = {
      id: `tf_${ulid()}`,
      sourceId: body.sourceId,
      destinationId: body.destinationId ?? null,
      body,
      createdAt: now,
      updatedAt: now,
    };
    await save(c.env.DB, row);
    return c.json(view(row), 201);
  })
  .post('/preview', doc.preview, read, async (c) => {
    const { transformation, event } = await parseJson(c.req.raw, Preview);
    if (!isObject(event)) throw badRequest('`event` must be an object');
    const after = applyTransformation(transformation, event);
    return c.json({ dropped: after === null, event: after });
  })
  .get('/:id', doc.get, read, async (c) => c.json(view(await load(c.env.DB, c.req.param('id')))))
  .patch('/:id', doc.update, write, async (c) => {
    const row = await load(c.env.DB, c.req.param('id'));
    const patch = await parseJson(c.req.raw, z.record(z.string(), z.unknown()));
    const parsed = TransformationBody.safeParse({ ...row.body, ...patch });
    if (!parsed.success)
      throw badRequest(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    await checkTargets(c.env.DB, parsed.data);
    const next: TransformationRow = {
      ...row,
      sourceId: parsed.data.sourceId,
      destinationId: parsed.data.destinationId ?? null,
      body: parsed.data,
      updatedAt: new Date().toISOString(),
    };
    await save(c.env.DB, next);
    return c.json(view(next));
  })
  .delete('/:id', doc.remove, write, async (c) => {
    const row = await load(c.env.DB, c.req.param('id'));
    await db(c.env.DB).batch([
      db(c.env.DB).delete(transformations).where(eq(transformations.id, row.id)),
      bump(c.env.DB),
    ]);
    clearGovernanceCache();
    return c.json({ deleted: row.id });
  });
