import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Audiences and computed traits, current version of each (migrations/0004). */
export const engageDefinitions = sqliteTable(
  'engage_definitions',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: ['audience', 'computed_trait'] }).notNull(),
    key: text('key').notNull().unique(),
    name: text('name').notNull(),
    version: integer('version').notNull(),
    revision: integer('revision').notNull(),
    /** JSON of the validated definition. */
    body: text('body').notNull(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('engage_definitions_kind').on(t.kind, t.createdAt)],
);
export type EngageDefinitionRow = typeof engageDefinitions.$inferSelect;

/** Every saved version of every definition. */
export const engageDefinitionVersions = sqliteTable(
  'engage_definition_versions',
  {
    id: text('id').notNull(),
    version: integer('version').notNull(),
    body: text('body').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.id, t.version] })],
);

/** One row (id 1): the revision of the whole definition set, bumped by every write. */
export const engageMeta = sqliteTable('engage_meta', {
  id: integer('id').primaryKey(),
  revision: integer('revision').notNull(),
});

/** Current members of each audience. */
export const audienceMembers = sqliteTable(
  'audience_members',
  {
    audienceId: text('audience_id').notNull(),
    profileId: text('profile_id').notNull(),
    enteredAt: text('entered_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.audienceId, t.profileId] })],
);

/** Latest exit per audience and profile, so a stale entry arriving late is ignored (0006). */
export const audienceExits = sqliteTable(
  'audience_exits',
  {
    audienceId: text('audience_id').notNull(),
    profileId: text('profile_id').notNull(),
    exitedAt: text('exited_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.audienceId, t.profileId] })],
);

/** Audience size per UTC day. */
export const audienceSizeHistory = sqliteTable(
  'audience_size_history',
  {
    audienceId: text('audience_id').notNull(),
    day: text('day').notNull(),
    size: integer('size').notNull(),
    entered: integer('entered').notNull().default(0),
    exited: integer('exited').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.audienceId, t.day] })],
);

/** Progress of back-filling one definition version over all profiles. */
export const engageBackfills = sqliteTable(
  'engage_backfills',
  {
    definitionId: text('definition_id').notNull(),
    version: integer('version').notNull(),
    status: text('status', { enum: ['computing', 'ready', 'failed'] }).notNull(),
    total: integer('total'),
    processed: integer('processed').notNull().default(0),
    cursor: text('cursor'),
    error: text('error'),
    startedAt: text('started_at').notNull(),
    finishedAt: text('finished_at'),
  },
  (t) => [primaryKey({ columns: [t.definitionId, t.version] })],
);
export type BackfillRow = typeof engageBackfills.$inferSelect;
