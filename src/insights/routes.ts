import { desc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { type AdminEnv, requireScope } from '../admin/auth';
import { ComputedTrait } from '../audiences/definitions';
import { parseWindow } from '../audiences/window';
import { db } from '../db/client';
import { type InsightsReportRow, insightsReports } from '../db/insights-schema';
import { badRequest, notFound } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import { ulid } from '../lib/ids';
import { funnel, retention, trends, unifier } from './compute';
import { loadMerges, loadRows } from './load';
import { overview } from './overview';
import { FunnelQuery, RetentionQuery, TrendsQuery } from './queries';
import type { RollupRow } from './rollup';
import { previewTrait } from './trait-preview';

export const Report = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('trends'), query: TrendsQuery }),
  z.strictObject({ kind: z.literal('funnel'), query: FunnelQuery }),
  z.strictObject({ kind: z.literal('retention'), query: RetentionQuery }),
]);
export const SaveReport = z.strictObject({
  name: z.string().trim().min(1).max(200).describe('Shown on the dashboard'),
  kind: z.enum(['trends', 'funnel', 'retention']),
  query: z.unknown().describe('The body of the matching POST /api/insights/<kind>'),
  dashboard: z.boolean().default(true).describe('Show it on the dashboard'),
});

const doc = apiDoc('Insights', {
  trends: { summary: 'Events or unified users over time, with an optional breakdown and FQL where', body: TrendsQuery },
  funnel: {
    summary: 'Users who did each step in order within the window; conversion and median time',
    body: FunnelQuery,
  },
  retention: {
    summary: 'Cohorts by first start event, with the share returning in each later interval',
    body: RetentionQuery,
  },
  overview: {
    summary: 'Volume by source and type, top events, delivery success rate, errors needing attention',
    query: { hours: '1–168 (default 24)' },
  },
  traitPreview: {
    summary: 'A computed trait’s value for a sample of profiles, from the rollups (the builder’s live preview)',
    body: ComputedTrait,
  },
  reports: { summary: 'Saved reports' },
  save: { summary: 'Save a report', body: SaveReport, status: 201 },
  report: { summary: 'A saved report', errors: [404] },
  update: { summary: 'Replace a saved report', body: SaveReport, errors: [404] },
  remove: { summary: 'Delete a saved report', errors: [404] },
});

/** Rows of the given events with every profile id unified through the merge history. */
async function prepared(env: Cloudflare.Env, q: { events: string[]; from: string; to: string; sourceId?: string }) {
  const rows: RollupRow[] = await loadRows(env.DB, q);
  const merges = await loadMerges(env.DB, new Set(rows.map((r) => r.profileId)));
  return { rows, unify: unifier(merges) };
}

function checkReport(body: z.infer<typeof SaveReport>) {
  const parsed = Report.safeParse({ kind: body.kind, query: body.query });
  if (!parsed.success) throw badRequest(`query: ${parsed.error.issues[0]?.message ?? 'invalid'}`, parsed.error.issues);
  return parsed.data.query;
}

const PREVIEW_SPAN = 90 * 86_400_000;

const view = (r: InsightsReportRow) => ({ ...r, query: JSON.parse(r.query) as unknown });

/** `/api/insights`: trends, funnels, retention, the overview and saved reports. */
export const insightsApi = new Hono<AdminEnv>()
  .post('/trends', doc.trends, requireScope('insights:read'), async (c) => {
    const q = await parseJson(c.req.raw, TrendsQuery);
    const { rows, unify } = await prepared(c.env, { ...q, events: [q.event] });
    return c.json(trends(rows, q, unify));
  })
  .post('/funnel', doc.funnel, requireScope('insights:read'), async (c) => {
    const q = await parseJson(c.req.raw, FunnelQuery);
    const { rows, unify } = await prepared(c.env, { ...q, events: [...new Set(q.steps.map((s) => s.event))] });
    return c.json(funnel(rows, q, unify));
  })
  .post('/retention', doc.retention, requireScope('insights:read'), async (c) => {
    const q = await parseJson(c.req.raw, RetentionQuery);
    const { rows, unify } = await prepared(c.env, { ...q, events: [...new Set([q.startEvent, q.returnEvent])] });
    return c.json(retention(rows, q, unify));
  })
  .post('/computed-trait-preview', doc.traitPreview, requireScope('insights:read'), async (c) => {
    const trait = await parseJson(c.req.raw, ComputedTrait);
    if (trait.event === '*')
      return c.json({ profiles: [], matchingProfiles: 0, caveats: ['The preview needs an event name, not "*".'] });
    const now = Date.now();
    // Its window, or the last 90 days (the rollups of a wider range are a heavy read for a preview).
    const span = Math.min(trait.within ? (parseWindow(trait.within) ?? PREVIEW_SPAN) : PREVIEW_SPAN, PREVIEW_SPAN);
    const { rows, unify } = await prepared(c.env, {
      events: [trait.event],
      from: new Date(now - span).toISOString(),
      to: new Date(now + 3_600_000).toISOString(),
    });
    return c.json(previewTrait(trait, rows, unify, now));
  })
  .get('/overview', doc.overview, requireScope('insights:read'), async (c) => {
    const hours = queryInt(c.req.query('hours'), 'hours', { fallback: 24, min: 1, max: 168 });
    return c.json(await overview(c.env.DB, hours));
  })
  .get('/reports', doc.reports, requireScope('insights:read'), async (c) => {
    const rows = await db(c.env.DB).select().from(insightsReports).orderBy(desc(insightsReports.updatedAt)).limit(500);
    return c.json({ data: rows.map(view) });
  })
  .post('/reports', doc.save, requireScope('insights:write'), async (c) => {
    const body = await parseJson(c.req.raw, SaveReport);
    const query = checkReport(body);
    const now = new Date().toISOString();
    const row = {
      id: ulid(),
      name: body.name,
      kind: body.kind,
      query: JSON.stringify(query),
      dashboard: body.dashboard,
      createdAt: now,
      updatedAt: now,
    };
    await db(c.env.DB).insert(insightsReports).values(row);
    return c.json(view(row), 201);
  })
  .get('/reports/:id', doc.report, requireScope('insights:read'), async (c) => {
    const row = await db(c.env.DB)
      .select()
      .from(insightsReports)
      .where(eq(insightsReports.id, c.req.param('id')))
      .get();
    if (!row) throw notFound('Report');
    return c.json(view(row));
  })
  .put('/reports/:id', doc.update, requireScope('insights:write'), async (c) => {
    const body = await parseJson(c.req.raw, SaveReport);
    const query = checkReport(body);
    const t = insightsReports;
    const row = await db(c.env.DB)
      .update(t)
      .set({
        name: body.name,
        kind: body.kind,
        query: JSON.stringify(query),
        dashboard: body.dashboard,
        updatedAt: new Date().toISOString(),
      })
      .where(eq(t.id, c.req.param('id')))
      .returning()
      .get();
    if (!row) throw notFound('Report');
    return c.json(view(row));
  })
  .delete('/reports/:id', doc.remove, requireScope('insights:write'), async (c) => {
    const row = await db(c.env.DB)
      .delete(insightsReports)
      .where(eq(insightsReports.id, c.req.param('id')))
      .returning()
      .get();
    if (!row) throw notFound('Report');
    return c.body(null, 204);
  });
