import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Functions (migrations/0012): customers' code, run in sandboxed isolates (src/functions/). */
export const functions = sqliteTable('functions', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  kind: text('kind').$type<'source' | 'insert' | 'destination'>().notNull(),
  latestVersion: integer('latest_version').notNull(),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});
export type FunctionRow = typeof functions.$inferSelect;

export interface DeclaredSetting {
  name: string;
  type: 'string' | 'text' | 'number' | 'boolean' | 'array' | 'map';
  required: boolean;
  secret: boolean;
  description?: string;
}

export const functionVersions = sqliteTable(
  'function_versions',
  {
    functionId: text('function_id').notNull(),
    version: integer('version').notNull(),
    code: text('code').notNull(),
    settings: text('settings', { mode: 'json' }).$type<DeclaredSetting[]>().notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.functionId, t.version] })],
);
export type FunctionVersionRow = typeof functionVersions.$inferSelect;

export const functionInstances = sqliteTable('function_instances', {
  id: text('id').primaryKey(),
  functionId: text('function_id').notNull(),
  version: integer('version'),
  sourceId: text('source_id'),
  destinationId: text('destination_id'),
  settings: text('settings', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  secretSettings: text('secret_settings', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});
export type FunctionInstanceRow = typeof functionInstances.$inferSelect;

export const functionInvocations = sqliteTable('function_invocations', {
  id: text('id').primaryKey(),
  instanceId: text('instance_id').notNull(),
  functionId: text('function_id').notNull(),
  version: integer('version').notNull(),
  at: text('at').notNull(),
  status: text('status').$type<'ok' | 'dropped' | 'error'>().notNull(),
  durationMs: integer('duration_ms').notNull(),
  error: text('error'),
  logs: text('logs', { mode: 'json' }).$type<{ level: string; message: string }[]>().notNull(),
});

export const functionInstanceStats = sqliteTable('function_instance_stats', {
  instanceId: text('instance_id').primaryKey(),
  invocations: integer('invocations').notNull(),
  errors: integer('errors').notNull(),
  lastError: text('last_error'),
  lastErrorAt: text('last_error_at'),
});

export const functionsMeta = sqliteTable('functions_meta', {
  id: integer('id').primaryKey(),
  revision: integer('revision').notNull(),
});
