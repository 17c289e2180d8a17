import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import { apiDoc } from '../lib/http/openapi';
import { enqueueIngest } from './enqueue';
import type { IngestMessage } from './spec';

/**
 * The ingest dead-letter queue's consumer. An accepted event whose processing failed every retry
 * must not vanish with the queue's retention: it is recorded in D1 (one `batch()` per queue
 * batch, idempotent by messageId) and stays there until replayed.
 */
export async function consumeIngestDlq(batch: MessageBatch<IngestMessage>, env: Cloudflare.Env): Promise<void> {
  const now = new Date().toISOString();
  const insert = env.DB.prepare(
    'INSERT OR IGNORE INTO ingest_failures (message_id, source_id, body, attempts, failed_at) VALUES (?, ?, ?, ?, ?)',
  );
  const statements = batch.messages.map((m) =>
    insert.bind(m.body.event.messageId, m.body.sourceId, JSON.stringify(m.body), m.attempts, now),
  );
  try {
    if (statements.length) await env.DB.batch(statements);
    for (const m of batch.messages) m.ack();
  } catch (err) {
    console.error('recording ingest dead letters failed; retrying', err);
    for (const m of batch.messages) m.retry({ delaySeconds: 30 });
  }
}

/** Puts up to `limit` recorded failures back on the ingest queue; rows go only once enqueued. */
export async function replayIngestFailures(env: Cloudflare.Env, limit: number): Promise<number> {
  const { results } = await env.DB.prepare('SELECT message_id, body FROM ingest_failures ORDER BY failed_at LIMIT ?')
    .bind(limit)
    .all<{ message_id: string; body: string }>();
  if (!results.length) return 0;
  await enqueueIngest(
    env.INGEST_QUEUE,
    results.map((r) => JSON.parse(r.body) as IngestMessage),
  );
  const del = env.DB.prepare('DELETE FROM ingest_failures WHERE message_id = ?');
  await env.DB.batch(results.map((r) => del.bind(r.message_id)));
  return results.length;
}

const doc = apiDoc('Ingest', {
  list: {
    summary: 'List events the ingest pipeline failed to process',
    query: { limit: 'At most this many, 1–500 (default 100)' },
  },
  replay: { summary: 'Replay failed ingest events, oldest first', query: { limit: '1–1000 (default 1000)' } },
});

/** `/api/ingest/failures`: list and replay events the ingest pipeline could not process. */
export const ingestFailuresApi = new Hono<AdminEnv>()
  .get('/', doc.list, requireScope('sources:read'), async (c) => {
    const limit = Math.max(1, Math.min(500, Number(c.req.query('limit') ?? 100) || 100));
    const { results } = await c.env.DB.prepare(
      'SELECT message_id, source_id, body, attempts, failed_at FROM ingest_failures ORDER BY failed_at LIMIT ?',
    )
      .bind(limit)
      .all<{ message_id: string; source_id: string; body: string; attempts: number; failed_at: string }>();
    const total = await c.env.DB.prepare('SELECT COUNT(*) AS n FROM ingest_failures').first<number>('n');
    return c.json({
      total,
      data: results.map((r) => ({
        messageId: r.message_id,
        sourceId: r.source_id,
        attempts: r.attempts,
        failedAt: r.failed_at,
        event: (JSON.parse(r.body) as IngestMessage).event,
      })),
    });
  })
  .post('/replay', doc.replay, requireScope('sources:write'), async (c) => {
    const limit = Math.max(1, Math.min(1000, Number(c.req.query('limit') ?? 1000) || 1000));
    return c.json({ replayed: await replayIngestFailures(c.env, limit) });
  });
