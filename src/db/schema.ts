import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Sources: one per website, app or server that sends events (migrations/0001). */
export const sources = sqliteTable('sources', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  writeKey: text('write_key').notNull().unique(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});
export type SourceRow = typeof sources.$inferSelect;
export * from './access-schema';
export * from './governance-schema';
export * from './profiles-schema';
export * from './queues-schema';
