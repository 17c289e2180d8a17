import { integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** The usage meter's counters per hour, stage, source, unit and detail (migrations/0015). */
export const usageCounters = sqliteTable(
  'usage_counters',
  {
    hour: integer('hour').notNull(),
    stage: text('stage').notNull(),
    source: text('source').notNull(),
    unit: text('unit').notNull(),
    detail: text('detail').notNull(),
    n: real('n').notNull(),
  },
  (t) => [primaryKey({ columns: [t.hour, t.stage, t.source, t.unit, t.detail] })],
);
export type UsageCounterRow = typeof usageCounters.$inferSelect;

/** Delivery receipts, one row per destination, received minute and consumer batch (migrations/0015). */
export const deliveryReceiptSets = sqliteTable(
  'delivery_receipt_sets',
  {
    destinationId: text('destination_id').notNull(),
    minute: integer('minute').notNull(),
    batch: text('batch').notNull(),
    messageIds: text('message_ids').notNull(),
    deliveredAt: integer('delivered_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.destinationId, t.minute, t.batch] })],
);
