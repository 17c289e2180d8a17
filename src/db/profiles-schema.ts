import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Identity resolution settings; one row, id `default` (migrations/0002). */
export const identitySettings = sqliteTable('identity_settings', {
  id: text('id').primaryKey(),
  settings: text('settings').notNull(),
  updatedAt: text('updated_at').notNull(),
});

/** Latest snapshot of each profile, version-guarded, written in batches by the ingest consumer. */
export const profileDirectory = sqliteTable(
  'profile_directory',
  {
    id: text('id').primaryKey(),
    collection: text('collection').notNull(),
    version: integer('version').notNull(),
    mergedInto: text('merged_into'),
    /** JSON array of `kind:value` keys. */
    identifiers: text('identifiers').notNull(),
    /** JSON object of trait values. */
    traits: text('traits').notNull(),
    /** Lower-cased identifiers and trait values, for `?q=` search. */
    search: text('search').notNull(),
    eventCount: integer('event_count').notNull().default(0),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    lastSeenAt: text('last_seen_at'),
  },
  (t) => [index('profile_directory_recent').on(t.collection, t.updatedAt, t.id)],
);
export type DirectoryRow = typeof profileDirectory.$inferSelect;

/**
 * Which profile was merged into which, when and why: written until migration 0021, kept for
 * regulations to erase; merge pointers are `profileDirectory.mergedInto` since.
 */
export const profileMerges = sqliteTable('profile_merges', {
  loser: text('loser').primaryKey(),
  survivor: text('survivor').notNull(),
  reason: text('reason').notNull(),
  mergedAt: text('merged_at').notNull(),
});
