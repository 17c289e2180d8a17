import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import type { AuditRow } from '../db/schema';
import { badRequest } from '../lib/errors';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import { listAudit, verifyAudit } from './audit-store';

function view(r: AuditRow) {
  return {
    seq: r.seq,
    id: r.id,
    at: r.at,
    actor: { id: r.actorId, name: r.actorName },
    action: r.action,
    target: r.target,
    ip: r.ip,
    userAgent: r.userAgent,
    changes: r.changes ? JSON.parse(r.changes) : null,
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

const isoOrUndefined = (name: string, v: string | undefined) => {
  if (v === undefined || v === '') return undefined;
  if (Number.isNaN(Date.parse(v))) throw badRequest(`\`${name}\` must be an ISO-8601 date`);
  return new Date(v).toISOString();
};

const doc = apiDoc('Audit', {
  list: {
    summary: 'The audit log, oldest first',
    query: {
      from: 'ISO-8601',
      to: 'ISO-8601',
      actor: 'Token id',
      action: 'e.g. PATCH /api/sources/:id',
      target: 'Path',
      cursor: '`cursor.next`',
      limit: '1–1000 (default 100)',
    },
  },
  verify: { summary: 'Recompute the hash chain; names the first altered or missing entry' },
});

/** `/api/audit`: the hash-chained audit log, paged oldest first, and its verification. */
export const auditApi = new Hono<AdminEnv>()
  .get('/', doc.list, requireScope('audit:read'), async (c) => {
    const q = c.req.query();
    const limit = queryInt(q.limit, 'limit', { fallback: 100, min: 1, max: 1000 });
    const after = q.cursor === undefined || q.cursor === '' ? undefined : Number(q.cursor);
    if (after !== undefined && !Number.isInteger(after)) throw badRequest('`cursor` is not one this API returned');
    const rows = await listAudit(c.env.DB, {
      from: isoOrUndefined('from', q.from),
      to: isoOrUndefined('to', q.to),
      actor: q.actor || undefined,
      action: q.action || undefined,
      target: q.target || undefined,
      after,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return c.json({
      data: page.map(view),
      cursor: { hasMore: rows.length > limit, next: rows.length > limit ? String(page.at(-1)?.seq) : null },
    });
  })
  .get('/verify', doc.verify, requireScope('audit:read'), async (c) => c.json(await verifyAudit(c.env.DB)));
