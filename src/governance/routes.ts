import { Hono } from 'hono';
import { z } from 'zod';
import { type AdminEnv, requireScope } from '../admin/auth';
import { db } from '../db/client';
import { badRequest, notFound } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { clearGovernanceCache } from './cache';
import { draftRules } from './draft';
import { flushObserved, observedSchema, observer } from './observed';
import { CreateTrackingPlan, Rules, SchemaSettings, UpdateTrackingPlan } from './rules';
import { requireSource, saveSourceSchemaSettings } from './source-settings';
import {
  connectSource,
  createPlan,
  deletePlan,
  disconnectSource,
  findPlan,
  loadSchemaSettings,
  planView,
  sourcesOfPlan,
  updatePlan,
} from './store';
import { listPlanViolations, listViolations } from './violations';

const read = requireScope('governance:read');
const write = requireScope('governance:write');

const ConnectSource = z.strictObject({ sourceId: z.string().min(1).max(100) });

const doc = apiDoc('Tracking plans', {
  list: { summary: 'List tracking plans with their connected sources' },
  create: {
    summary: 'Create a tracking plan (rules are checked as draft-07 JSON Schema)',
    body: CreateTrackingPlan,
    status: 201,
  },
  draft: { summary: 'Draft a plan from the observed schema of a source', status: 201, errors: [404] },
  get: { summary: 'Get a tracking plan', errors: [404] },
  update: { summary: 'Rename or describe a tracking plan', body: UpdateTrackingPlan, errors: [404] },
  rules: { summary: 'Replace the rules of a tracking plan', body: z.strictObject({ rules: Rules }), errors: [404] },
  remove: { summary: 'Delete a tracking plan', errors: [404] },
  connect: { summary: 'Connect a source (a source has at most one plan)', body: ConnectSource, errors: [404] },
  disconnect: { summary: 'Disconnect a source', errors: [404] },
  violations: {
    summary: "A plan's violations on every source, by event, field and type, with a sample",
    errors: [404],
  },
});
const sdoc = apiDoc('Tracking plans', {
  settings: { summary: "A source's schema controls (Segment's schemaSettings)", errors: [404] },
  saveSettings: { summary: "Set a source's schema controls", body: SchemaSettings, errors: [404] },
  schema: { summary: 'Event names, properties and traits seen on a source, with their types', errors: [404] },
  violations: {
    summary: 'Violations by event, field and type, with counts and a sample',
    query: { from: 'ISO-8601', to: 'ISO-8601', eventName: 'One event name' },
    errors: [404],
  },
});

/** `/api/tracking-plans`: Segment Protocols' tracking plans, their rules and connected sources. */
export const trackingPlansApi = new Hono<AdminEnv>()
  .get('/', doc.list, read, async (c) => {
    const rows = await db(c.env.DB).query.trackingPlans.findMany();
    const links = await db(c.env.DB).query.trackingPlanSources.findMany();
    return c.json({
      data: rows.map((r) =>
        planView(
          r,
          links.filter((l) => l.planId === r.id).map((l) => l.sourceId),
        ),
      ),
    });
  })
  .post('/', doc.create, write, async (c) => {
    const input = await parseJson(c.req.raw, CreateTrackingPlan);
    const row = await createPlan(c.env.DB, input);
    clearGovernanceCache();
    return c.json(planView(row, []), 201);
  })
  .post('/from-source/:sourceId', doc.draft, write, async (c) => {
    const sourceId = c.req.param('sourceId');
    await requireSource(c.env.DB, sourceId);
    await flushObserved(c.env.DB, observer.take(true));
    const rules = draftRules(await observedSchema(c.env.DB, sourceId));
    if (!rules.length) throw badRequest(`Source ${sourceId} has no observed events to draft a plan from`);
    const row = await createPlan(c.env.DB, {
      name: `Draft from ${sourceId}`,
      description: 'Drafted from observed traffic',
      rules,
    });
    clearGovernanceCache();
    return c.json(planView(row, []), 201);
  })
  .get('/:id', doc.get, read, async (c) => {
    const row = await findPlan(c.env.DB, c.req.param('id'));
    return c.json(planView(row, await sourcesOfPlan(c.env.DB, row.id)));
  })
  .patch('/:id', doc.update, write, async (c) => {
    const input = await parseJson(c.req.raw, UpdateTrackingPlan);
    const row = await updatePlan(c.env.DB, await findPlan(c.env.DB, c.req.param('id')), input);
    clearGovernanceCache();
    return c.json(planView(row, await sourcesOfPlan(c.env.DB, row.id)));
  })
  .get('/:id/violations', doc.violations, read, async (c) => {
    const row = await findPlan(c.env.DB, c.req.param('id'));
    return c.json({ data: await listPlanViolations(c.env.DB, row.id) });
  })
  .put('/:id/rules', doc.rules, write, async (c) => {
    const rules = await parseJson(c.req.raw, z.strictObject({ rules: Rules }));
    const row = await updatePlan(c.env.DB, await findPlan(c.env.DB, c.req.param('id')), { rules: rules.rules });
    clearGovernanceCache();
    return c.json(planView(row, await sourcesOfPlan(c.env.DB, row.id)));
  })
  .delete('/:id', doc.remove, write, async (c) => {
    const row = await findPlan(c.env.DB, c.req.param('id'));
    await deletePlan(c.env.DB, row.id);
    clearGovernanceCache();
    return c.json({ deleted: row.id });
  })
  .post('/:id/sources', doc.connect, write, async (c) => {
    const { sourceId } = await parseJson(c.req.raw, ConnectSource);
    const row = await findPlan(c.env.DB, c.req.param('id'));
    await requireSource(c.env.DB, sourceId);
    await connectSource(c.env.DB, row.id, sourceId);
    clearGovernanceCache();
    return c.json(planView(row, await sourcesOfPlan(c.env.DB, row.id)));
  })
  .delete('/:id/sources/:sourceId', doc.disconnect, write, async (c) => {
    const row = await findPlan(c.env.DB, c.req.param('id'));
    if (!(await disconnectSource(c.env.DB, row.id, c.req.param('sourceId')))) {
      throw notFound(`Source ${c.req.param('sourceId')} on plan ${row.id}`);
    }
    clearGovernanceCache();
    return c.json(planView(row, await sourcesOfPlan(c.env.DB, row.id)));
  });

const isoParam = (name: string, v: string | undefined) => {
  if (!v) return undefined;
  if (Number.isNaN(Date.parse(v))) throw badRequest(`\`${name}\` must be an ISO-8601 date`);
  return new Date(v).toISOString();
};

/** `/api/sources/:id/{schema-settings,violations}`: a source's schema controls and violations. */
export const sourceGovernanceApi = new Hono<AdminEnv>()
  .get('/:id/schema-settings', sdoc.settings, read, async (c) => {
    await requireSource(c.env.DB, c.req.param('id'));
    return c.json(await loadSchemaSettings(c.env.DB, c.req.param('id')));
  })
  .put('/:id/schema-settings', sdoc.saveSettings, write, async (c) => {
    const settings = await parseJson(c.req.raw, SchemaSettings);
    await saveSourceSchemaSettings(c.env.DB, c.req.param('id'), settings);
    return c.json(settings);
  })
  .get('/:id/schema', sdoc.schema, read, async (c) => {
    await requireSource(c.env.DB, c.req.param('id'));
    await flushObserved(c.env.DB, observer.take(true)); // this isolate's latest, at once
    return c.json({ data: await observedSchema(c.env.DB, c.req.param('id')) });
  })
  .get('/:id/violations', sdoc.violations, read, async (c) => {
    await requireSource(c.env.DB, c.req.param('id'));
    const q = c.req.query();
    const data = await listViolations(c.env.DB, c.req.param('id'), {
      from: isoParam('from', q.from),
      to: isoParam('to', q.to),
      eventName: q.eventName || undefined,
    });
    return c.json({ data });
  });
