import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * The usage meter's counters, one row per hour (migrations/0019, which folded in the per-counter
 * rows of 0015's usage_counters): `counts` is a JSON object of counter key → n (src/usage/hours.ts).
 */
export const usageHours = sqliteTable('usage_hours', {
  hour: integer('hour').primaryKey(),
  counts: text('counts').notNull(),
});
export type UsageHourRow = typeof usageHours.$inferSelect;

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
