import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Sources: one per website, app or server that sends events (migrations/0001, 0008). */
export const sources = sqliteTable('sources', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  writeKey: text('write_key').notNull().unique(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
  /** The key a rotation replaced; accepted until `previousKeyExpiresAt`. */
  previousWriteKey: text('previous_write_key').unique(),
  previousKeyExpiresAt: text('previous_key_expires_at'),
  /** HMAC key for `/v1/personalize` tokens; shown once by the API. */
  personalizeSecret: text('personalize_secret'),
  personalizeSecretCreatedAt: text('personalize_secret_created_at'),
});
export type SourceRow = typeof sources.$inferSelect;
export * from './access-schema';
export * from './audiences-schema';
export * from './destinations-schema';
export * from './functions-schema';
export * from './governance-schema';
export * from './pii-schema';
export * from './privacy-schema';

/** Requests dropped for an unknown, disabled or retired write key, per key and UTC day (migrations/0008). */
export const rejectedWriteKeys = sqliteTable(
  'rejected_write_keys',
  {
    keyHash: text('key_hash').notNull(),
    day: text('day').notNull(),
    keyPrefix: text('key_prefix').notNull(),
    reason: text('reason').notNull(),
    sourceId: text('source_id'),
    requests: integer('requests').notNull(),
    events: integer('events').notNull(),
    firstSeen: text('first_seen').notNull(),
    lastSeen: text('last_seen').notNull(),
    lastUserAgent: text('last_user_agent'),
  },
  (t) => [primaryKey({ columns: [t.keyHash, t.day] }), index('rejected_write_keys_day').on(t.day)],
);
export type RejectedWriteKeyRow = typeof rejectedWriteKeys.$inferSelect;
export * from './archive-schema';
export * from './insights-schema';
export * from './profiles-schema';
export * from './queues-schema';
export * from './usage-schema';
