import { Hono } from 'hono';
import { type AdminEnv, principalOf, requireScope } from '../admin/auth';
import { badRequest, notFound } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { createRegulation, findRegulation, listRegulations, type Regulation } from './regulation-store';
import { CreateRegulation } from './regulations';
import { enqueueRegulation } from './runner';

/** A regulation as Segment's Public API shows it (`overallStatus`), with Tessera's stage progress. */
function view(r: Regulation) {
  return {
    id: r.id,
    regulationType: r.regulationType,
    subjectType: r.subjectType,
    subjectIds: r.subjectIds,
    overallStatus: r.status,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    stages: r.stages,
  };
}

function pageQuery(q: Record<string, string>) {
  const count = q['pagination.count'] ?? q.count;
  const limit = count === undefined ? 50 : Number(count);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    throw badRequest('`count` must be an integer from 1 to 200');
  const cursor = q['pagination.cursor'] ?? q.cursor;
  if (cursor !== undefined && !/^[0-9A-HJKMNP-TV-Z]{26}$/.test(cursor))
    throw badRequest('`cursor` is not one this API returned');
  return { limit, cursor };
}

const doc = apiDoc('Regulations', {
  create: {
    summary: 'Create a regulation: suppress, unsuppress or delete people (Segment Public API)',
    body: CreateRegulation,
    status: 201,
  },
  list: {
    summary: 'List regulations, newest first',
    query: { count: '1–200 (default 50)', cursor: '`pagination.next`' },
  },
  get: { summary: 'A regulation with its overall status and per-stage progress', errors: [404] },
  suppressions: {
    summary: 'Suppressed people and how many of their events were dropped at ingest',
    query: { count: '1–200 (default 50)', cursor: '`pagination.next`' },
  },
});

/** `/api/regulations`: Segment's regulations; every route needs `privacy:write` (reads name people). */
export const regulationsApi = new Hono<AdminEnv>()
  .post('/', doc.create, requireScope('privacy:write'), async (c) => {
    const input = await parseJson(c.req.raw, CreateRegulation);
    const principal = await principalOf(c);
    const reg = await createRegulation(c.env.DB, input, principal.id);
    await enqueueRegulation(c.env, reg.id);
    return c.json({ data: { regulateId: reg.id } }, 201);
  })
  .get('/', doc.list, requireScope('privacy:write'), async (c) => {
    const { limit, cursor } = pageQuery(c.req.query());
    const rows = await listRegulations(c.env.DB, limit + 1, cursor);
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? page.at(-1)?.id : undefined;
    return c.json({
      data: { regulations: page.map(view), pagination: { current: cursor ?? null, next: next ?? null } },
    });
  })
  .get('/:id', doc.get, requireScope('privacy:write'), async (c) => {
    const reg = await findRegulation(c.env.DB, c.req.param('id'));
    if (!reg) throw notFound('Regulation');
    return c.json({ data: { regulation: view(reg) } });
  });

/** `/api/suppressions`: the suppressing regulations that are in force, and the dropped-event counts. */
export const suppressionsApi = new Hono<AdminEnv>().get(
  '/',
  doc.suppressions,
  requireScope('privacy:write'),
  async (c) => {
    const { limit, cursor } = pageQuery(c.req.query());
    const [regs, dropped] = await c.env.DB.batch<Record<string, unknown>>([
      c.env.DB.prepare(
        `SELECT r.id, r.regulation_type, r.subject_type, r.subject_ids, r.created_at, count(s.key) AS identifiers
       FROM regulations r JOIN suppressions s ON s.regulation_id = r.id
       WHERE (?1 IS NULL OR r.id < ?1) GROUP BY r.id ORDER BY r.id DESC LIMIT ?2`,
      ).bind(cursor ?? null, limit + 1),
      c.env.DB.prepare('SELECT source_id, day, events FROM suppressed_events ORDER BY day DESC LIMIT 90'),
    ]);
    const rows = regs.results.slice(0, limit);
    const suppressions = rows.map((r) => ({
      regulateId: r.id,
      regulationType: r.regulation_type,
      subjectType: r.subject_type,
      subjectIds: JSON.parse(String(r.subject_ids)),
      identifiers: r.identifiers,
      createdAt: r.created_at,
    }));
    const droppedEvents = dropped.results.map((d) => ({ sourceId: d.source_id, day: d.day, events: d.events }));
    const next = regs.results.length > limit ? rows.at(-1)?.id : undefined;
    return c.json({
      data: { suppressions, droppedEvents, pagination: { current: cursor ?? null, next: next ?? null } },
    });
  },
);
