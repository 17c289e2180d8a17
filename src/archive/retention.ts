import { errorText } from '../lib/queue-bodies';

/** Keys deleted per round (R2 deletes up to 1,000 keys per call). */
const ROUND = 1000;
/** Dedupe rows outlive any redelivery: a queue keeps a message at most 14 days. */
const BATCH_ROWS_DAYS = 14;
/** A pending attempt this old will not be retried; what it may have left in R2 is removed. */
const PENDING_HOURS = 24;

async function deleteObjects(env: Cloudflare.Env, keys: string[]): Promise<void> {
  if (!keys.length) return;
  await env.ARCHIVE.delete(keys);
  await env.DB.prepare('DELETE FROM archive_objects WHERE key IN (SELECT value FROM json_each(?))')
    .bind(JSON.stringify(keys))
    .run();
}

/** Deletes the objects of sources with `archiveRetentionDays` whose newest row is older than it. */
export async function applyRetention(env: Cloudflare.Env, now = Date.now()): Promise<number> {
  const { results: settings } = await env.DB.prepare(
    'SELECT source_id AS sourceId, retention_days AS days FROM archive_settings WHERE retention_days IS NOT NULL',
  ).all<{ sourceId: string; days: number }>();
  let deleted = 0;
  for (const s of settings) {
    const cutoff = new Date(now - s.days * 86_400_000).toISOString();
    for (let round = 0; round < 50; round++) {
      const { results } = await env.DB.prepare(
        'SELECT key FROM archive_objects WHERE source_id = ? AND max_received_at < ? LIMIT ?',
      )
        .bind(s.sourceId, cutoff, ROUND)
        .all<{ key: string }>();
      await deleteObjects(
        env,
        results.map((r) => r.key),
      );
      deleted += results.length;
      if (results.length < ROUND) break;
    }
  }
  return deleted;
}

/** Prunes old dedupe rows, and removes objects of attempts that never finished (not in the manifest). */
export async function pruneBatches(env: Cloudflare.Env, now = Date.now()): Promise<void> {
  const { results } = await env.DB.prepare(
    `SELECT message_id AS id, keys FROM archive_batches WHERE state = 'pending' AND created_at < ? LIMIT 500`,
  )
    .bind(new Date(now - PENDING_HOURS * 3_600_000).toISOString())
    .all<{ id: string; keys: string }>();
  const keys = [...new Set(results.flatMap((r) => JSON.parse(r.keys) as string[]))];
  const { results: listed } = await env.DB.prepare(
    'SELECT key FROM archive_objects WHERE key IN (SELECT value FROM json_each(?))',
  )
    .bind(JSON.stringify(keys))
    .all<{ key: string }>();
  const orphans = keys.filter((k) => !listed.some((l) => l.key === k));
  if (orphans.length) await env.ARCHIVE.delete(orphans);
  await env.DB.batch([
    env.DB.prepare('DELETE FROM archive_batches WHERE message_id IN (SELECT value FROM json_each(?))').bind(
      JSON.stringify(results.map((r) => r.id)),
    ),
    env.DB.prepare("DELETE FROM archive_batches WHERE state = 'written' AND created_at < ?").bind(
      new Date(now - BATCH_ROWS_DAYS * 86_400_000).toISOString(),
    ),
  ]);
}

/** The cron's archive work: retention, then housekeeping. Each part fails alone. */
export async function archiveCron(env: Cloudflare.Env): Promise<void> {
  await applyRetention(env).catch((err) => console.error('archive retention failed', errorText(err)));
  await pruneBatches(env).catch((err) => console.error('archive housekeeping failed', errorText(err)));
}
