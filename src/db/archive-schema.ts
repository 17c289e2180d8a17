import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Parquet objects of the event archive in R2 (migrations/0011, src/archive). */
export const archiveObjects = sqliteTable(
  'archive_objects',
  {
    key: text('key').primaryKey(),
    sourceId: text('source_id').notNull(),
    rows: integer('rows').notNull(),
    bytes: integer('bytes').notNull(),
    minReceivedAt: text('min_received_at').notNull(),
    maxReceivedAt: text('max_received_at').notNull(),
    /** Bloom filter of the subjects in the file (src/archive/bloom.ts). */
    subjects: text('subjects').notNull(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('archive_objects_source_time').on(t.sourceId, t.minReceivedAt)],
);
export type ArchiveObjectRow = typeof archiveObjects.$inferSelect;

/** Archive queue messages written (or being written): the redelivery dedupe. */
export const archiveBatches = sqliteTable('archive_batches', {
  messageId: text('message_id').primaryKey(),
  state: text('state', { enum: ['pending', 'written'] }).notNull(),
  keys: text('keys', { mode: 'json' }).$type<string[]>().notNull(),
  createdAt: text('created_at').notNull(),
});

/** Per-source archive retention in days; absent or null keeps everything. */
export const archiveSettings = sqliteTable('archive_settings', {
  sourceId: text('source_id').primaryKey(),
  retentionDays: integer('retention_days'),
  updatedAt: text('updated_at').notNull(),
});

/** Replays of archived events (POST /api/replays). */
export const archiveReplays = sqliteTable('archive_replays', {
  id: text('id').primaryKey(),
  sourceId: text('source_id').notNull(),
  fromAt: text('from_at').notNull(),
  toAt: text('to_at').notNull(),
  destinationIds: text('destination_ids', { mode: 'json' }).$type<string[]>().notNull(),
  eventNames: text('event_names', { mode: 'json' }).$type<string[] | null>(),
  filter: text('filter'),
  status: text('status', { enum: ['running', 'done', 'cancelled', 'failed'] }).notNull(),
  candidates: integer('candidates').notNull(),
  scanned: integer('scanned').notNull().default(0),
  sent: integer('sent').notNull().default(0),
  skipped: integer('skipped').notNull().default(0),
  cursor: text('cursor'),
  error: text('error'),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});
export type ArchiveReplayRow = typeof archiveReplays.$inferSelect;
