import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Destinations: where events go (migrations/0003). JSON columns hold validated documents. */
export const destinations = sqliteTable('destinations', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  name: text('name').notNull(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  sourceIds: text('source_ids', { mode: 'json' }).$type<string[]>().notNull(),
  settings: text('settings', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  filters: text('filters', { mode: 'json' }).$type<unknown[]>().notNull(),
  consentCategories: text('consent_categories', { mode: 'json' }).$type<string[] | null>(),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});
export type DestinationRow = typeof destinations.$inferSelect;

/** The dead-letter record: events a destination did not take, with the vendor's answer. */
export const deliveryFailures = sqliteTable(
  'delivery_failures',
  {
    destinationId: text('destination_id').notNull(),
    messageId: text('message_id').notNull(),
    sourceId: text('source_id'),
    eventType: text('event_type').notNull(),
    eventName: text('event_name'),
    event: text('event').notNull(),
    status: integer('status'),
    error: text('error').notNull(),
    response: text('response'),
    attempts: integer('attempts').notNull(),
    firstAttemptAt: text('first_attempt_at').notNull(),
    failedAt: text('failed_at').notNull(),
    replayedAt: text('replayed_at'),
    replayCount: integer('replay_count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.destinationId, t.messageId] })],
);
export type DeliveryFailureRow = typeof deliveryFailures.$inferSelect;

/** Per destination and minute: delivered / retried / failed / filtered counters. */
export const deliveryStats = sqliteTable(
  'delivery_stats',
  {
    destinationId: text('destination_id').notNull(),
    minute: integer('minute').notNull(),
    delivered: integer('delivered').notNull(),
    retried: integer('retried').notNull(),
    failed: integer('failed').notNull(),
    filtered: integer('filtered').notNull(),
    retryStarted: integer('retry_started').notNull(),
    retryResolved: integer('retry_resolved').notNull(),
  },
  (t) => [primaryKey({ columns: [t.destinationId, t.minute] })],
);

/** Latency histogram bins per destination and minute. */
export const deliveryLatency = sqliteTable(
  'delivery_latency',
  {
    destinationId: text('destination_id').notNull(),
    minute: integer('minute').notNull(),
    bin: integer('bin').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.destinationId, t.minute, t.bin] })],
);

/**
 * One row per delivered (destination, messageId) pair, keyed `destination messageId`
 * (`receiptKey` in src/delivery/store.ts): a redelivery is never sent twice. Pruned after 3 days.
 */
export const deliveryReceipts = sqliteTable(
  'delivery_receipts',
  {
    key: text('key').primaryKey(),
    deliveredAt: integer('delivered_at').notNull(),
  },
  (t) => [index('delivery_receipts_at').on(t.deliveredAt)],
);
