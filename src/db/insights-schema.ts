import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Events per minute, source, type and event name (migrations/0016). */
export const insightsVolume = sqliteTable(
  'insights_volume',
  {
    minute: integer('minute').notNull(),
    sourceId: text('source_id').notNull(),
    type: text('type').notNull(),
    event: text('event').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.minute, t.sourceId, t.type, t.event] })],
);

/** Occurrences per event, hour, profile, source and dimensions, with their timestamps. */
export const insightsRollup = sqliteTable(
  'insights_rollup',
  {
    event: text('event').notNull(),
    hour: integer('hour').notNull(),
    profileId: text('profile_id').notNull(),
    sourceId: text('source_id').notNull(),
    dimsHash: text('dims_hash').notNull(),
    /** Canonical JSON `{ properties, context }` of the occurrences. */
    dims: text('dims').notNull(),
    count: integer('count').notNull(),
    /** JSON array of timestamps (ms), at most `MAX_TIMES`. */
    times: text('times').notNull(),
  },
  (t) => [primaryKey({ columns: [t.event, t.hour, t.profileId, t.sourceId, t.dimsHash] })],
);

/** Saved insights reports. */
export const insightsReports = sqliteTable('insights_reports', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  kind: text('kind').notNull(),
  /** JSON of the report's query. */
  query: text('query').notNull(),
  dashboard: integer('dashboard', { mode: 'boolean' }).notNull().default(false),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});
export type InsightsReportRow = typeof insightsReports.$inferSelect;

/** Events already counted by the rollups, by received day and hash of source and messageId (migrations/0017). */
export const insightsSeen = sqliteTable(
  'insights_seen',
  {
    day: integer('day').notNull(),
    key: text('key').notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.key] })],
);
