import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Tracking plans (migrations/0010); `rules` is the validated rule list. */
export const trackingPlans = sqliteTable('tracking_plans', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  description: text('description'),
  rules: text('rules', { mode: 'json' }).$type<unknown[]>().notNull(),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});
export type TrackingPlanRow = typeof trackingPlans.$inferSelect;

export const trackingPlanSources = sqliteTable('tracking_plan_sources', {
  sourceId: text('source_id').primaryKey(),
  planId: text('plan_id').notNull(),
});

export const sourceSchemaSettings = sqliteTable('source_schema_settings', {
  sourceId: text('source_id').primaryKey(),
  settings: text('settings', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  updatedAt: text('updated_at').notNull(),
});

export const governanceMeta = sqliteTable('governance_meta', {
  id: integer('id').primaryKey(),
  revision: integer('revision').notNull(),
});

export const violations = sqliteTable(
  'violations',
  {
    sourceId: text('source_id').notNull(),
    eventType: text('event_type').notNull(),
    eventName: text('event_name').notNull(),
    field: text('field').notNull(),
    violationType: text('violation_type').notNull(),
    planId: text('plan_id').notNull(),
    count: integer('count').notNull(),
    firstSeen: text('first_seen').notNull(),
    lastSeen: text('last_seen').notNull(),
    sample: text('sample').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sourceId, t.eventName, t.eventType, t.field, t.violationType] })],
);

/** Transformations (migrations/0010); `body` is the validated Segment-shaped document. */
export const transformations = sqliteTable('transformations', {
  id: text('id').primaryKey(),
  sourceId: text('source_id').notNull(),
  destinationId: text('destination_id'),
  body: text('body', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});
export type TransformationRow = typeof transformations.$inferSelect;

/**
 * The observed schema (migrations/0010): every event name, property and trait key seen on a source.
 * `field` is '' for the event itself; `types` is the JSON array of the JSON types seen.
 */
export const observedSchemaTable = sqliteTable(
  'observed_schema',
  {
    sourceId: text('source_id').notNull(),
    eventType: text('event_type').notNull(),
    eventName: text('event_name').notNull(),
    field: text('field').notNull(),
    types: text('types', { mode: 'json' }).$type<string[]>().notNull(),
    count: integer('count').notNull(),
    lastSeen: text('last_seen').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sourceId, t.eventType, t.eventName, t.field] })],
);
