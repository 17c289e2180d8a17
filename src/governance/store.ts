import { eq, sql } from 'drizzle-orm';
import { db } from '../db/client';
import {
  governanceMeta,
  sourceSchemaSettings,
  type TrackingPlanRow,
  trackingPlanSources,
  trackingPlans,
  transformations,
} from '../db/schema';
import { notFound } from '../lib/errors';
import { ulid } from '../lib/ids';
import { type Rule, SchemaSettings } from './rules';

/** Marks the governance configuration changed, so isolates reload it. */
export const bump = (d1: D1Database) =>
  db(d1).update(governanceMeta).set({ revision: sql`revision + 1` }).where(eq(governanceMeta.id, 1));

/** A plan as the API shows it, with its connected sources. */
export function planView(row: TrackingPlanRow, sourceIds: string[]) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    rules: row.rules,
    sourceIds,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export async function findPlan(d1: D1Database, id: string): Promise<TrackingPlanRow> {
  const row = await db(d1).select().from(trackingPlans).where(eq(trackingPlans.id, id)).get();
  if (!row) throw notFound(`Tracking plan ${id}`);
  return row;
}

export async function sourcesOfPlan(d1: D1Database, id: string): Promise<string[]> {
  const rows = await db(d1).select().from(trackingPlanSources).where(eq(trackingPlanSources.planId, id)).all();
  return rows.map((r) => r.sourceId);
}

export async function createPlan(d1: D1Database, input: { name: string; description?: string; rules: Rule[] }) {
  const now = new Date().toISOString();
  const row: TrackingPlanRow = {
    id: `tp_${ulid()}`,
    name: input.name,
    description: input.description ?? null,
    rules: input.rules,
    createdAt: now,
    updatedAt: now,
  };
  await db(d1).batch([db(d1).insert(trackingPlans).values(row), bump(d1)]);
  return row;
}

export async function updatePlan(
  d1: D1Database,
  row: TrackingPlanRow,
  patch: Partial<Pick<TrackingPlanRow, 'name' | 'description' | 'rules'>>,
) {
  const next = { ...row, ...patch, updatedAt: new Date().toISOString() };
  await db(d1).batch([db(d1).update(trackingPlans).set(next).where(eq(trackingPlans.id, row.id)), bump(d1)]);
  return next;
}

export async function deletePlan(d1: D1Database, id: string) {
  await db(d1).batch([
    db(d1).delete(trackingPlanSources).where(eq(trackingPlanSources.planId, id)),
    db(d1).delete(trackingPlans).where(eq(trackingPlans.id, id)),
    bump(d1),
  ]);
}

/** Connects a source to a plan, replacing any plan it had (a source has at most one). */
export async function connectSource(d1: D1Database, planId: string, sourceId: string) {
  await db(d1).batch([
    db(d1)
      .insert(trackingPlanSources)
      .values({ sourceId, planId })
      .onConflictDoUpdate({ target: trackingPlanSources.sourceId, set: { planId } }),
    bump(d1),
  ]);
}

export async function disconnectSource(d1: D1Database, planId: string, sourceId: string): Promise<boolean> {
  const rows = await db(d1)
    .delete(trackingPlanSources)
    .where(sql`${trackingPlanSources.sourceId} = ${sourceId} AND ${trackingPlanSources.planId} = ${planId}`)
    .returning();
  if (rows.length) await bump(d1);
  return rows.length > 0;
}

export async function loadSchemaSettings(d1: D1Database, sourceId: string): Promise<SchemaSettings> {
  const row = await db(d1).select().from(sourceSchemaSettings).where(eq(sourceSchemaSettings.sourceId, sourceId)).get();
  return SchemaSettings.parse(row?.settings ?? {});
}

export async function saveSchemaSettings(d1: D1Database, sourceId: string, settings: SchemaSettings) {
  const updatedAt = new Date().toISOString();
  await db(d1).batch([
    db(d1)
      .insert(sourceSchemaSettings)
      .values({ sourceId, settings, updatedAt })
      .onConflictDoUpdate({ target: sourceSchemaSettings.sourceId, set: { settings, updatedAt } }),
    bump(d1),
  ]);
}

/** Everything governance needs at ingest, in one read. */
export async function loadGovernance(d1: D1Database) {
  const d = db(d1);
  const [meta, plans, links, settings, transforms] = await d.batch([
    d.select().from(governanceMeta).where(eq(governanceMeta.id, 1)),
    d.select().from(trackingPlans),
    d.select().from(trackingPlanSources),
    d.select().from(sourceSchemaSettings),
    d.select().from(transformations).orderBy(transformations.createdAt, transformations.id),
  ]);
  return { revision: meta[0]?.revision ?? 0, plans, links, settings, transforms };
}

export async function currentGovernanceRevision(d1: D1Database): Promise<number> {
  const row = await db(d1).select().from(governanceMeta).where(eq(governanceMeta.id, 1)).get();
  return row?.revision ?? 0;
}
