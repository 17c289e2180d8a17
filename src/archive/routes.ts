import { Hono } from 'hono';
import { z } from 'zod';
import { type AdminEnv, requireScope } from '../admin/auth';
import { badRequest, notFound } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { isObjectKey } from './keys';
import { getObject, getRetention, listObjects, setRetention } from './store';

export const ArchiveSettings = z.strictObject({
  archiveRetentionDays: z
    .number()
    .int()
    .min(1)
    .max(36_500)
    .nullable()
    .describe('Days the archive keeps this source’s events (by received time); null keeps them forever'),
});
export type ArchiveSettings = z.infer<typeof ArchiveSettings>;

const MAX_LIST = 1000;

/** An ISO-8601 time from the query, normalised; absent stays absent. */
export function isoParam(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || value.length > 40) throw badRequest(`${name} must be an ISO-8601 time`);
  return new Date(ms).toISOString();
}

const doc = apiDoc('Archive', {
  list: {
    summary: 'List archive objects (Parquet in R2) of a source overlapping a time range',
    query: {
      sourceId: 'Source id (all sources when absent)',
      from: 'Received at or after (ISO-8601)',
      to: 'Received at or before (ISO-8601)',
      after: 'Key to continue after (the previous answer’s `next`)',
      limit: `Objects per page, 1–${MAX_LIST} (default 100)`,
    },
    returns: '`data`: key, sourceId, rows, bytes, from, to; `next` when more follow',
  },
  download: { summary: 'Download one archive object (application/vnd.apache.parquet)', errors: [404] },
  getSettings: { summary: 'A source’s archive settings (retention)' },
  putSettings: { summary: 'Set a source’s archive retention', body: ArchiveSettings },
});

/** `/api/archive`: the Parquet archive of accepted events (README, Archive). */
export const archiveApi = new Hono<AdminEnv>()
  .get('/', doc.list, requireScope('archive:read'), async (c) => {
    const limitRaw = c.req.query('limit') ?? '100';
    const limit = Number(limitRaw);
    if (!/^\d+$/.test(limitRaw) || limit < 1 || limit > MAX_LIST) throw badRequest(`limit must be 1–${MAX_LIST}`);
    const sourceId = c.req.query('sourceId') || undefined;
    if (sourceId && sourceId.length > 200) throw badRequest('sourceId is too long');
    const after = c.req.query('after') || undefined;
    if (after && after.length > 1000) throw badRequest('after is too long');
    const from = isoParam(c.req.query('from'), 'from');
    const to = isoParam(c.req.query('to'), 'to');
    const list = await listObjects(c.env.DB, { sourceId, from, to, after, limit: limit + 1 });
    const page = list.slice(0, limit);
    return c.json({
      data: page.map((o) => ({
        key: o.key,
        sourceId: o.sourceId,
        rows: o.rows,
        bytes: o.bytes,
        from: o.minReceivedAt,
        to: o.maxReceivedAt,
      })),
      next: list.length > limit ? page[page.length - 1].key : null,
    });
  })
  .get('/objects/:key{.+}', doc.download, requireScope('archive:read'), async (c) => {
    let key = '';
    try {
      key = decodeURIComponent(c.req.path.slice('/api/archive/objects/'.length));
    } catch {} // a malformed escape is not a key: 400 below
    if (!isObjectKey(key)) throw badRequest('Not an archive object key (events/source_id=…/….parquet)');
    const entry = await getObject(c.env.DB, key);
    const object = entry && (await c.env.ARCHIVE.get(key));
    if (!object) throw notFound(`Archive object ${key}`);
    return new Response(object.body, {
      headers: {
        'content-type': 'application/vnd.apache.parquet',
        'content-length': String(object.size),
        'content-disposition': `attachment; filename="${key.slice(key.lastIndexOf('/') + 1)}"`,
        etag: object.httpEtag,
      },
    });
  })
  .get('/settings/:sourceId', doc.getSettings, requireScope('archive:read'), async (c) =>
    c.json({
      sourceId: c.req.param('sourceId'),
      archiveRetentionDays: await getRetention(c.env.DB, c.req.param('sourceId')),
    }),
  )
  .put('/settings/:sourceId', doc.putSettings, requireScope('archive:write'), async (c) => {
    const input = await parseJson(c.req.raw, ArchiveSettings);
    const sourceId = c.req.param('sourceId');
    const source = await c.env.DB.prepare('SELECT id FROM sources WHERE id = ?').bind(sourceId).first();
    if (!source) throw notFound(`Source ${sourceId}`);
    await setRetention(c.env.DB, sourceId, input.archiveRetentionDays, new Date().toISOString());
    return c.json({ sourceId, ...input });
  });
