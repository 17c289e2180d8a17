/** The suppression list in D1 (migrations/0013) and its revision. */

const bump = (d1: D1Database) => d1.prepare('UPDATE privacy_meta SET revision = revision + 1 WHERE id = 1');

/** Suppresses keys under a regulation (a key already suppressed keeps its first regulation). */
export async function suppressKeys(d1: D1Database, regulationId: string, keys: string[]): Promise<void> {
  const now = new Date().toISOString();
  await d1.batch([
    d1
      .prepare(
        `INSERT INTO suppressions (key, regulation_id, created_at) SELECT value, ?, ? FROM json_each(?) WHERE true
         ON CONFLICT (key) DO NOTHING`,
      )
      .bind(regulationId, now, JSON.stringify(keys)),
    bump(d1),
  ]);
}

/**
 * Lifts the suppressions the keys fall under: every key suppressed by the same regulations, so
 * unsuppressing the named id also lifts the profile's other identifiers. Returns how many.
 */
export async function unsuppressKeys(d1: D1Database, keys: string[]): Promise<number> {
  const [res] = await d1.batch([
    d1
      .prepare(
        `DELETE FROM suppressions WHERE regulation_id IN
           (SELECT regulation_id FROM suppressions WHERE key IN (SELECT value FROM json_each(?)))`,
      )
      .bind(JSON.stringify(keys)),
    bump(d1),
  ]);
  return res.meta.changes ?? 0;
}

export async function suppressionRevision(d1: D1Database): Promise<number> {
  return (await d1.prepare('SELECT revision FROM privacy_meta WHERE id = 1').first<number>('revision')) ?? 0;
}

export async function loadSuppressedKeys(d1: D1Database): Promise<{ revision: number; keys: string[] }> {
  const [rev, rows] = await d1.batch<{ revision?: number; key?: string }>([
    d1.prepare('SELECT revision FROM privacy_meta WHERE id = 1'),
    d1.prepare('SELECT key FROM suppressions'),
  ]);
  return {
    revision: rev.results[0]?.revision ?? 0,
    keys: rows.results.map((r) => r.key as string),
  };
}

/** Counts events dropped for suppression, per source and day. */
export async function countSuppressed(d1: D1Database, sourceId: string, events: number, at: Date): Promise<void> {
  await d1
    .prepare(
      `INSERT INTO suppressed_events (source_id, day, events) VALUES (?, ?, ?)
       ON CONFLICT (source_id, day) DO UPDATE SET events = events + excluded.events`,
    )
    .bind(sourceId, at.toISOString().slice(0, 10), events)
    .run();
}
