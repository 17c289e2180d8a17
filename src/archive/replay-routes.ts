import { Hono } from 'hono';
import { z } from 'zod';
import { type AdminEnv, requireScope } from '../admin/auth';
import { loadLiveDestinations } from '../delivery/store';
import { ApiError, badRequest, notFound } from '../lib/errors';
import { compileFql } from '../lib/fql';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import { ulid } from '../lib/ids';
import type { ReplayStep } from './messages';
import { countRows } from './store';

const iso = z.iso.datetime({ offset: true });

export const CreateReplay = z.strictObject({
  sourceId: z.string().min(1).max(200).describe('Source whose archived events are replayed'),
  from: iso.describe('Events received at or after this time (ISO-8601)'),
  to: iso.describe('Events received at or before this time (ISO-8601)'),
  destinationIds: z.array(z.string().min(1).max(200)).min(1).max(50).describe('Destinations to send them to'),
  eventNames: z
    .array(z.string().min(1).max(1024))
    .min(1)
    .max(500)
    .optional()
    .describe('Only these events (track `event`, page/screen `name`, else the type)'),
  filter: z.string().min(1).max(4000).optional().describe('Only events matching this FQL expression'),
});
export type CreateReplay = z.infer<typeof CreateReplay>;

interface ReplayView {
  id: string;
  status: string;
  sent: number;
  skipped: number;
  scanned: number;
  total: number;
  percent: number;
}

const COLUMNS = `id, source_id AS sourceId, from_at AS "from", to_at AS "to", destination_ids AS destinationIds,
  event_names AS eventNames, filter, status, candidates, scanned, sent, skipped, error, created_at AS createdAt,
  updated_at AS updatedAt`;

/** A replay row as the API shows it, with `total` and `percent` scanned. */
function shape(r: Record<string, string | number | null>) {
  const { candidates, ...rest } = r;
  const total = Number(candidates);
  const scanned = Number(r.scanned);
  const done = r.status === 'done';
  return {
    ...rest,
    destinationIds: JSON.parse(String(r.destinationIds)),
    eventNames: r.eventNames ? JSON.parse(String(r.eventNames)) : null,
    total,
    percent: done ? 100 : total ? Math.min(100, Math.floor((scanned / total) * 100)) : 0,
  } as unknown as ReplayView & Record<string, unknown>;
}

async function view(d1: D1Database, id: string) {
  const r = await d1
    .prepare(`SELECT ${COLUMNS} FROM archive_replays WHERE id = ?`)
    .bind(id)
    .first<Record<string, string | number | null>>();
  if (!r) throw notFound(`Replay ${id}`);
  return shape(r);
}

const doc = apiDoc('Archive', {
  create: {
    summary: 'Replay archived events of a source and time range to destinations (retry lane, paced)',
    body: CreateReplay,
    status: 202,
    errors: [404],
  },
  list: {
    summary: 'Replays, newest first, with their progress',
    query: { sourceId: 'Only this source’s replays', limit: '1–200 (default 50)' },
  },
  get: {
    summary: 'A replay’s progress',
    returns:
      '`status` running|done|cancelled|failed, `sent` events handed to delivery, `total` archived rows in range, `percent`',
    errors: [404],
  },
  cancel: { summary: 'Stop a replay after its current step', errors: [404, 409] },
});

/** `/api/replays`: re-sends archived events through delivery (README, Archive). */
export const replaysApi = new Hono<AdminEnv>()
  .post('/', doc.create, requireScope('archive:write'), async (c) => {
    const input = await parseJson(c.req.raw, CreateReplay);
    if (Date.parse(input.from) > Date.parse(input.to)) throw badRequest('from must not be after to');
    if (input.filter) {
      try {
        compileFql(input.filter);
      } catch (err) {
        throw badRequest(`filter: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const source = await c.env.DB.prepare('SELECT id FROM sources WHERE id = ?').bind(input.sourceId).first();
    if (!source) throw notFound(`Source ${input.sourceId}`);
    const live = new Set((await loadLiveDestinations(c.env)).map((d) => d.id));
    const missing = input.destinationIds.filter((d) => !live.has(d));
    if (missing.length) throw notFound(`Enabled destination(s) ${missing.join(', ')}`);
    const from = new Date(input.from).toISOString();
    const to = new Date(input.to).toISOString();
    const id = `rpl_${ulid()}`;
    const now = new Date().toISOString();
    await c.env.DB.prepare(
      `INSERT INTO archive_replays (id, source_id, from_at, to_at, destination_ids, event_names, filter, status, candidates, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)`,
    )
      .bind(
        id,
        input.sourceId,
        from,
        to,
        JSON.stringify([...new Set(input.destinationIds)]),
        input.eventNames ? JSON.stringify(input.eventNames) : null,
        input.filter ?? null,
        await countRows(c.env.DB, input.sourceId, from, to),
        now,
        now,
      )
      .run();
    await c.env.REPLAY_QUEUE.send({ kind: 'replay', replayId: id } satisfies ReplayStep, { contentType: 'json' });
    return c.json(await view(c.env.DB, id), 202);
  })
  .get('/', doc.list, requireScope('archive:read'), async (c) => {
    const limit = queryInt(c.req.query('limit'), 'limit', { fallback: 50, min: 1, max: 200 });
    const sourceId = c.req.query('sourceId') || null;
    if (sourceId && sourceId.length > 200) throw badRequest('sourceId is too long');
    const { results } = await c.env.DB.prepare(
      `SELECT ${COLUMNS} FROM archive_replays WHERE (?1 IS NULL OR source_id = ?1) ORDER BY id DESC LIMIT ?2`,
    )
      .bind(sourceId, limit)
      .all<Record<string, string | number | null>>();
    return c.json({ data: results.map(shape) });
  })
  .get('/:id', doc.get, requireScope('archive:read'), async (c) => c.json(await view(c.env.DB, c.req.param('id'))))
  .post('/:id/cancel', doc.cancel, requireScope('archive:write'), async (c) => {
    const id = c.req.param('id');
    const current = await view(c.env.DB, id);
    if (current.status !== 'running') throw new ApiError(409, 'conflict', `Replay ${id} is already ${current.status}`);
    await c.env.DB.prepare(
      "UPDATE archive_replays SET status = 'cancelled', updated_at = ? WHERE id = ? AND status = 'running'",
    )
      .bind(new Date().toISOString(), id)
      .run();
    return c.json(await view(c.env.DB, id));
  });
