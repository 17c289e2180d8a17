/** D1 side of the archive: the object manifest, the written-batch dedupe, per-source retention. */

/** One archive object as the manifest holds it. */
export interface ObjectEntry {
  key: string;
  sourceId: string;
  rows: number;
  bytes: number;
  minReceivedAt: string;
  maxReceivedAt: string;
  subjects: string;
}

const SELECT_OBJECT = `SELECT key, source_id AS sourceId, rows, bytes, min_received_at AS minReceivedAt,
  max_received_at AS maxReceivedAt, subjects FROM archive_objects`;

/** The statement that records (or, after a rewrite, replaces) one object. */
export function putObjectStatement(d1: D1Database, o: ObjectEntry, now: string): D1PreparedStatement {
  return d1
    .prepare(
      `INSERT INTO archive_objects (key, source_id, rows, bytes, min_received_at, max_received_at, subjects, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
       ON CONFLICT (key) DO UPDATE SET rows = ?3, bytes = ?4, min_received_at = ?5, max_received_at = ?6,
         subjects = ?7, updated_at = ?8`,
    )
    .bind(o.key, o.sourceId, o.rows, o.bytes, o.minReceivedAt, o.maxReceivedAt, o.subjects, now);
}

export const deleteObjectStatement = (d1: D1Database, key: string) =>
  d1.prepare('DELETE FROM archive_objects WHERE key = ?').bind(key);

/** Objects of a source whose rows overlap [from, to], in key (partition, then time) order. */
export async function listObjects(
  d1: D1Database,
  q: { sourceId?: string; from?: string; to?: string; after?: string; limit: number },
): Promise<ObjectEntry[]> {
  const { results } = await d1
    .prepare(
      `${SELECT_OBJECT} WHERE (?1 IS NULL OR source_id = ?1) AND (?2 IS NULL OR max_received_at >= ?2)
         AND (?3 IS NULL OR min_received_at <= ?3) AND (?4 IS NULL OR key > ?4)
       ORDER BY key LIMIT ?5`,
    )
    .bind(q.sourceId ?? null, q.from ?? null, q.to ?? null, q.after ?? null, q.limit)
    .all<ObjectEntry>();
  return results;
}

export async function getObject(d1: D1Database, key: string): Promise<ObjectEntry | null> {
  return d1.prepare(`${SELECT_OBJECT} WHERE key = ?`).bind(key).first<ObjectEntry>();
}

/** Sum of rows of the objects overlapping a range (a replay's upper bound before it reads them). */
export async function countRows(d1: D1Database, sourceId: string, from: string, to: string): Promise<number> {
  const row = await d1
    .prepare(
      'SELECT COALESCE(SUM(rows), 0) AS n FROM archive_objects WHERE source_id = ? AND max_received_at >= ? AND min_received_at <= ?',
    )
    .bind(sourceId, from, to)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Dedupe state of the given archive queue messages. */
export async function batchStates(d1: D1Database, ids: string[]) {
  const { results } = await d1
    .prepare(
      'SELECT message_id AS id, state, keys FROM archive_batches WHERE message_id IN (SELECT value FROM json_each(?))',
    )
    .bind(JSON.stringify(ids))
    .all<{ id: string; state: 'pending' | 'written'; keys: string }>();
  return new Map(results.map((r) => [r.id, { state: r.state, keys: JSON.parse(r.keys) as string[] }]));
}

/** Marks messages as being written into `keys` (or as written). One statement for any number of ids. */
export function markBatches(d1: D1Database, ids: string[], state: 'pending' | 'written', keys: string[], now: string) {
  return d1
    .prepare(
      `INSERT INTO archive_batches (message_id, state, keys, created_at)
       SELECT value, ?2, ?3, ?4 FROM json_each(?1) WHERE true
       ON CONFLICT (message_id) DO UPDATE SET state = ?2, keys = ?3`,
    )
    .bind(JSON.stringify(ids), state, JSON.stringify(keys), now);
}

/** Per-source retention in days; null keeps everything. */
export async function getRetention(d1: D1Database, sourceId: string): Promise<number | null> {
  const row = await d1
    .prepare('SELECT retention_days AS days FROM archive_settings WHERE source_id = ?')
    .bind(sourceId)
    .first<{ days: number | null }>();
  return row?.days ?? null;
}

export async function setRetention(d1: D1Database, sourceId: string, days: number | null, now: string) {
  await d1
    .prepare(
      `INSERT INTO archive_settings (source_id, retention_days, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (source_id) DO UPDATE SET retention_days = excluded.retention_days, updated_at = excluded.updated_at`,
    )
    .bind(sourceId, days, now)
    .run();
}
