import { integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * The usage meter's counters, one row per hour (migrations/0019, which moved in the per-counter
 * rows of 0015's usage_counters): `counts` is a JSON object of counter key → n (src/usage/hours.ts).
 */
export const usageHours = sqliteTable('usage_hours', {
  hour: integer('hour').primaryKey(),
  counts: text('counts').notNull(),
});
export type UsageHourRow = typeof usageHours.$inferSelect;

/**
 * The usage meter's counters per hour, stage, source, unit and detail (migrations/0015), emptied by
 * 0019 but kept: only an isolate still running the version before 0019 writes here (during a
 * deploy), and GET /api/usage adds those rows to usage_hours. Nothing of this version writes it.
 */
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
