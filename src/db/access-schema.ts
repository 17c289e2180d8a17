import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Scoped API tokens (migrations/0009): the secret's SHA-256 only, never the secret. */
export const apiTokens = sqliteTable('api_tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  prefix: text('prefix').notNull(),
  hash: text('hash').notNull().unique(),
  scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
  createdBy: text('created_by'),
  createdAt: text('created_at').notNull(),
  lastUsedAt: text('last_used_at'),
  expiresAt: text('expires_at'),
  revokedAt: text('revoked_at'),
});
export type ApiTokenRow = typeof apiTokens.$inferSelect;

/** The hash-chained audit log (migrations/0009). Rows are only ever inserted. */
export const auditLog = sqliteTable('audit_log', {
  seq: integer('seq').primaryKey(),
  id: text('id').notNull().unique(),
  at: text('at').notNull(),
  actorId: text('actor_id'),
  actorName: text('actor_name'),
  action: text('action').notNull(),
  target: text('target'),
  ip: text('ip'),
  userAgent: text('user_agent'),
  changes: text('changes'),
  prevHash: text('prev_hash').notNull(),
  hash: text('hash').notNull(),
});
export type AuditRow = typeof auditLog.$inferSelect;
