import { blob, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Regulations: suppression and deletion requests with per-stage progress (migrations/0013). */
export const regulations = sqliteTable('regulations', {
  id: text('id').primaryKey(),
  regulationType: text('regulation_type').notNull(),
  subjectType: text('subject_type').notNull(),
  subjectIds: text('subject_ids', { mode: 'json' }).$type<string[]>().notNull(),
  status: text('status').notNull(),
  stages: text('stages', { mode: 'json' }).$type<unknown[]>().notNull(),
  createdBy: text('created_by'),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
  finishedAt: text('finished_at'),
});
export type RegulationRow = typeof regulations.$inferSelect;

/** Identifier keys dropped at ingest, under the regulation that suppressed them. */
export const suppressions = sqliteTable('suppressions', {
  key: text('key').primaryKey(),
  regulationId: text('regulation_id').notNull(),
  createdAt: text('created_at').notNull(),
});

/** The suppression list's revision (one row). */
export const privacyMeta = sqliteTable('privacy_meta', {
  id: integer('id').primaryKey(),
  revision: integer('revision').notNull(),
});

/** Events dropped because their person is suppressed, per source and day. */
export const suppressedEvents = sqliteTable(
  'suppressed_events',
  {
    sourceId: text('source_id').notNull(),
    day: text('day').notNull(),
    events: integer('events').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sourceId, t.day] })],
);

/** The resolved subject of a running regulation; scrubbed when the run ends. */
export const regulationSubjects = sqliteTable('regulation_subjects', {
  regulationId: text('regulation_id').primaryKey(),
  subjects: text('subjects', { mode: 'json' }).$type<unknown>().notNull(),
});

/** Filler rows written and deleted again to scrub what deleted rows leave in the database file. */
export const privacyScrub = sqliteTable('privacy_scrub', {
  n: integer('n').primaryKey(),
  fill: blob('fill').notNull(),
});
