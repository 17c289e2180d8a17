import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Which trait keys are PII (migrations/0014). One row, id 1; absent means the defaults. */
export const privacySettings = sqliteTable('privacy_settings', {
  id: integer('id').primaryKey(),
  piiKeys: text('pii_keys', { mode: 'json' }).$type<string[]>().notNull(),
  updatedAt: text('updated_at').notNull(),
});

/** Rate-limit tier of a source's collection routes (migrations/0014); absent means `standard`. */
export const sourceRateLimits = sqliteTable('source_rate_limits', {
  sourceId: text('source_id').primaryKey(),
  tier: text('tier').$type<'strict' | 'standard' | 'high' | 'off'>().notNull(),
  updatedAt: text('updated_at').notNull(),
});
