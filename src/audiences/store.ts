import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import {
  audienceMembers,
  audienceSizeHistory,
  type EngageDefinitionRow,
  engageBackfills,
  engageDefinitions,
  engageMeta,
} from '../db/audiences-schema';
import { ApiError } from '../lib/errors';
import { ulid } from '../lib/ids';
import type { BackfillMessage } from './backfill';

export type Kind = EngageDefinitionRow['kind'];
const PREFIX: Record<Kind, string> = { audience: 'aud_', computed_trait: 'tra_' };

const orm = (d1: D1Database) => drizzle(d1);

/** The revision of the definition set; every write bumps it. */
export async function currentRevision(d1: D1Database): Promise<number> {
  const row = await orm(d1).select({ revision: engageMeta.revision }).from(engageMeta).get();
  return row?.revision ?? 0;
}

/** Every stored definition (both kinds) and the revision they belong to, read together. */
export async function loadDefinitionRows(d1: D1Database): Promise<{ revision: number; rows: EngageDefinitionRow[] }> {
  const db = orm(d1);
  const [meta, rows] = await db.batch([
    db.select({ revision: engageMeta.revision }).from(engageMeta),
    db.select().from(engageDefinitions).orderBy(asc(engageDefinitions.createdAt)),
  ]);
  return { revision: meta[0]?.revision ?? 0, rows };
}

/** One definition by key and kind, or null. */
export async function findDefinition(d1: D1Database, kind: Kind, key: string): Promise<EngageDefinitionRow | null> {
  const row = await orm(d1)
    .select()
    .from(engageDefinitions)
    .where(and(eq(engageDefinitions.kind, kind), eq(engageDefinitions.key, key)))
    .get();
  return row ?? null;
}

/**
 * Creates a definition, or a new version of `previous`, in one D1 transaction: bumps the revision,
 * writes the row and its version history, and opens a back-fill. Returns the row and the work message.
 */
export async function saveDefinition(
  d1: D1Database,
  input: { kind: Kind; key: string; name: string; body: unknown },
  previous?: EngageDefinitionRow,
): Promise<{ row: EngageDefinitionRow; backfill: BackfillMessage }> {
  const now = new Date().toISOString();
  const id = previous?.id ?? `${PREFIX[input.kind]}${ulid()}`;
  const version = (previous?.version ?? 0) + 1;
  const body = JSON.stringify(input.body);
  const bump = d1.prepare('UPDATE engage_meta SET revision = revision + 1 WHERE id = 1');
  const write = previous
    ? d1
        .prepare(
          `UPDATE engage_definitions SET name = ?, version = ?, revision = (SELECT revision FROM engage_meta WHERE id = 1),
             body = ?, updated_at = ? WHERE id = ? AND version = ?`,
        )
        .bind(input.name, version, body, now, id, previous.version)
    : d1
        .prepare(
          `INSERT INTO engage_definitions (id, kind, key, name, version, revision, body, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, (SELECT revision FROM engage_meta WHERE id = 1), ?, ?, ?)`,
        )
        .bind(id, input.kind, input.key, input.name, version, body, now, now);
  try {
    const results = await d1.batch([
      bump,
      write,
      d1
        .prepare('INSERT INTO engage_definition_versions (id, version, body, created_at) VALUES (?, ?, ?, ?)')
        .bind(id, version, body, now),
      d1
        .prepare(
          "INSERT INTO engage_backfills (definition_id, version, status, started_at) VALUES (?, ?, 'computing', ?)",
        )
        .bind(id, version, now),
    ]);
    if (previous && results[1].meta.changes === 0) throw conflict(`${input.key} was changed concurrently; retry`);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (/UNIQUE|PRIMARY KEY/i.test(String(err))) {
      throw conflict(
        previous ? `${input.key} was changed concurrently; retry` : `The key "${input.key}" is already in use`,
      );
    }
    throw err;
  }
  const row = await orm(d1).select().from(engageDefinitions).where(eq(engageDefinitions.id, id)).get();
  if (!row) throw new Error(`definition ${id} vanished after writing`);
  return { row, backfill: { type: 'engage.backfill', definitionId: id, version, revision: row.revision } };
}

/**
 * Deletes a definition in one D1 transaction: bumps the revision (profiles drop its stored result
 * at their next evaluation), and removes its back-fills and, for an audience, its members, exits
 * and size history. Version history is kept. False when it changed or vanished meanwhile.
 */
export async function deleteDefinition(d1: D1Database, row: EngageDefinitionRow): Promise<boolean> {
  // Everything after the first statement applies only once the row is gone, so a concurrent edit
  // (another version) deletes nothing.
  const gone = 'NOT EXISTS (SELECT 1 FROM engage_definitions WHERE id = ?1)';
  const dependents = [
    ['engage_backfills', 'definition_id'],
    ['audience_members', 'audience_id'],
    ['audience_exits', 'audience_id'],
    ['audience_size_history', 'audience_id'],
  ].map(([table, column]) => d1.prepare(`DELETE FROM ${table} WHERE ${column} = ?1 AND ${gone}`).bind(row.id));
  const results = await d1.batch([
    d1.prepare('DELETE FROM engage_definitions WHERE id = ? AND version = ?').bind(row.id, row.version),
    d1.prepare(`UPDATE engage_meta SET revision = revision + 1 WHERE id = 1 AND ${gone}`).bind(row.id),
    ...dependents,
  ]);
  return results[0].meta.changes > 0;
}

const conflict = (message: string) => new ApiError(409, 'conflict', message);

/** The back-fill of one definition version, or null. */
export async function findBackfill(d1: D1Database, definitionId: string, version: number) {
  const row = await orm(d1)
    .select()
    .from(engageBackfills)
    .where(and(eq(engageBackfills.definitionId, definitionId), eq(engageBackfills.version, version)))
    .get();
  return row ?? null;
}

/** A page of current members, ordered by profile id; `after` is the last id of the previous page. */
export async function listMembers(d1: D1Database, audienceId: string, limit: number, after?: string) {
  const where = after
    ? and(eq(audienceMembers.audienceId, audienceId), gt(audienceMembers.profileId, after))
    : eq(audienceMembers.audienceId, audienceId);
  return orm(d1)
    .select({ profileId: audienceMembers.profileId, enteredAt: audienceMembers.enteredAt })
    .from(audienceMembers)
    .where(where)
    .orderBy(asc(audienceMembers.profileId))
    .limit(limit)
    .all();
}

/** Current size and the last `days` days of size history of an audience. */
export async function sizeOf(d1: D1Database, audienceId: string, days = 30) {
  const db = orm(d1);
  const [count, history] = await db.batch([
    db.select({ n: sql<number>`count(*)` }).from(audienceMembers).where(eq(audienceMembers.audienceId, audienceId)),
    db
      .select({
        day: audienceSizeHistory.day,
        size: audienceSizeHistory.size,
        entered: audienceSizeHistory.entered,
        exited: audienceSizeHistory.exited,
      })
      .from(audienceSizeHistory)
      .where(eq(audienceSizeHistory.audienceId, audienceId))
      .orderBy(desc(audienceSizeHistory.day))
      .limit(days),
  ]);
  return { size: count[0]?.n ?? 0, history };
}
