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

/** Occurrences per event, hour, profile and source, by distinct dimensions (migrations/0018). */
export const insightsRollup = sqliteTable(
  'insights_rollup',
  {
    event: text('event').notNull(),
    hour: integer('hour').notNull(),
    profileId: text('profile_id').notNull(),
    sourceId: text('source_id').notNull(),
    /** Sum of the variants' counts. */
    count: integer('count').notNull(),
    /**
     * JSON array of `[dims, count, times]`: canonical JSON `{ properties, context }` of the
     * occurrences, how many, their first `MAX_TIMES` timestamps (ms); past `MAX_ROW_BYTES` the
     * rest are one overflow variant (`OVERFLOW_DIMS`), last (src/insights/rollup.ts).
     */
    variants: text('variants').notNull(),
  },
  (t) => [primaryKey({ columns: [t.event, t.hour, t.profileId, t.sourceId] })],
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

/** Which events of each ingest queue message the rollups counted, by queue day and message id (migrations/0017). */
export const insightsSeen = sqliteTable(
  'insights_seen',
  {
    day: integer('day').notNull(),
    messageId: text('message_id').notNull(),
    counted: text('counted').notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.messageId] })],
);
