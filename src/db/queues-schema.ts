import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Ingest messages that could not be processed (migrations/0005, 0007), kept until replayed. */
export const ingestFailures = sqliteTable(
  'ingest_failures',
  {
    /** The event's messageId, or `queue:<queue message id>` when the body has none. */
    messageId: text('message_id').primaryKey(),
    /** Empty when the body could not be read. */
    sourceId: text('source_id').notNull(),
    /** JSON of the ingest message; when not replayable, whatever could be saved of it (or ''). */
    body: text('body').notNull(),
    attempts: integer('attempts').notNull(),
    failedAt: text('failed_at').notNull(),
    /** Where it was recorded: the ingest consumer itself (poison) or the dead-letter queue. */
    queue: text('queue').notNull(),
    error: text('error'),
    replayable: integer('replayable', { mode: 'boolean' }).notNull(),
  },
  (t) => [index('ingest_failures_failed_at').on(t.failedAt)],
);

/** Dead letters of the `work` queue (migrations/0007), kept until replayed. */
export const workFailures = sqliteTable(
  'work_failures',
  {
    /** The queue message id. */
    messageId: text('message_id').primaryKey(),
    queue: text('queue').notNull(),
    /** The message's `type`, when it could be read. */
    type: text('type'),
    /** JSON of the message body; null when it could not be read or serialised. */
    body: text('body'),
    replayable: integer('replayable', { mode: 'boolean' }).notNull(),
    attempts: integer('attempts').notNull(),
    error: text('error'),
    failedAt: text('failed_at').notNull(),
  },
  (t) => [index('work_failures_failed_at').on(t.failedAt)],
);
export type WorkFailureRow = typeof workFailures.$inferSelect;
