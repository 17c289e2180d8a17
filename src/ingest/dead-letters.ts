import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import { notFound } from '../lib/errors';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import {
  errorText,
  keepDeadLetter,
  type QueueMessageLike,
  readBodies,
  type Unreadable,
  writeFailureRows,
} from '../lib/queue-bodies';
import { hasSealed, openDeep } from '../privacy/pii';
import { piiReader, protectEvent } from '../privacy/pii-access';
import { loadPii, type Pii, piiKeyring, sealEvent } from '../privacy/pii-guard';
import { enqueueIngest } from './enqueue';
import { Packs } from './packed';
import type { IngestMessage } from './spec';

/** One `ingest_failures` row, ready to write. */
export interface IngestFailure {
  messageId: string;
  sourceId: string;
  body: string;
  attempts: number;
  queue: string;
  error: string | null;
  replayable: boolean;
}

/** Null for a body shaped like an ingest message, else why it is not one. */
export function ingestMessageProblem(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return 'body is not an object';
  const b = body as { sourceId?: unknown; event?: unknown };
  if (typeof b.sourceId !== 'string') return 'body has no sourceId';
  if (typeof b.event !== 'object' || b.event === null) return 'body has no event';
  const e = b.event as { type?: unknown; messageId?: unknown };
  if (typeof e.type !== 'string') return 'event has no type';
  if (typeof e.messageId !== 'string' || !e.messageId) return 'event has no messageId';
  return null;
}

/** A readable ingest message that failed: replayable as it was. Throws only if it cannot be serialised. */
export function failureOf(msg: QueueMessageLike, body: IngestMessage, queue: string, error: string): IngestFailure {
  return {
    messageId: body.event.messageId,
    sourceId: body.sourceId,
    body: JSON.stringify(body),
    attempts: msg.attempts,
    queue,
    error,
    replayable: true,
  };
}

/** A message that is not an ingest message: kept with what could be saved of it, never replayed. */
export function unreadableFailure(u: Unreadable<QueueMessageLike>, queue: string): IngestFailure {
  return {
    messageId: `queue:${u.msg.id}`,
    sourceId: '',
    body: u.raw ?? '',
    attempts: u.msg.attempts,
    queue,
    error: u.error,
    replayable: false,
  };
}

/** Bodies beyond this are not stored whole: D1 refuses rows over 2 MB (queue messages are far smaller). */
const MAX_BODY_CHARS = 1_000_000;
/** What a last-resort row keeps of a body. */
const MINIMAL_BODY_CHARS = 100_000;

/** The row cut down to what D1 surely takes: a cut body is no longer replayable. */
function minimal(row: IngestFailure, why: string): IngestFailure {
  const cut = row.body.length > MINIMAL_BODY_CHARS;
  return {
    ...row,
    body: row.body.slice(0, MINIMAL_BODY_CHARS),
    replayable: row.replayable && !cut,
    error: `${row.error ?? ''} (kept as a minimal row: ${why}${cut ? ', body cut' : ''})`.slice(0, 2_000),
  };
}

/**
 * A replayable row as D1 keeps it: its event's PII trait values sealed, as profiles keep them (a
 * replay opens them again). A body that cannot be sealed is kept as it is rather than lost.
 */
async function sealed(pii: Pii, row: IngestFailure): Promise<IngestFailure> {
  if (!pii.ring || !row.replayable) return row;
  try {
    const body = JSON.parse(row.body) as IngestMessage;
    return { ...row, body: JSON.stringify({ ...body, event: await sealEvent(pii, body.event) }) };
  } catch (err) {
    console.warn('ingest failure kept unsealed', row.messageId, errorText(err));
    return row;
  }
}

/**
 * Writes failure rows, idempotent by messageId: one `batch()` for all, and when that fails (it is
 * one transaction, so one bad row fails it) each row alone, then, for a row that still fails, a
 * minimal one (body cut, not replayable). Returns which rows are now stored: only those may be acked.
 */
export async function recordIngestFailures(env: Cloudflare.Env, given: readonly IngestFailure[]): Promise<boolean[]> {
  if (!given.length) return [];
  const d1 = env.DB;
  const pii = await loadPii(env);
  const protectedRows = await Promise.all(given.map((r) => sealed(pii, r)));
  const rows = protectedRows.map((r) => (r.body.length > MAX_BODY_CHARS ? minimal(r, 'body too large') : r));
  const now = new Date().toISOString();
  const insert = d1.prepare(
    `INSERT OR IGNORE INTO ingest_failures (message_id, source_id, body, attempts, failed_at, queue, error, replayable)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const bind = (r: IngestFailure) =>
    insert.bind(r.messageId, r.sourceId, r.body, r.attempts, now, r.queue, r.error, r.replayable ? 1 : 0);
  return writeFailureRows(d1, rows, bind, minimal, 'ingest failure');
}

/**
 * The ingest dead-letter queue's consumer. An accepted event whose processing failed every retry
 * must not vanish with the queue's retention: it is recorded in D1 (one `batch()` per queue
 * batch, idempotent by messageId) and stays there until replayed. Each body is read on its own: a
 * message that cannot even be read is recorded with what is known of it, and acked; a message is
 * only acked once its row is written.
 */
export async function consumeIngestDlq(batch: MessageBatch<IngestMessage>, env: Cloudflare.Env): Promise<void> {
  // A packed dead letter is recorded event by event: one row each.
  const packs = new Packs();
  const { readable, unreadable } = readBodies<QueueMessageLike, IngestMessage>(
    packs.expand(batch.messages),
    ingestMessageProblem,
  );
  const entries: { msg: QueueMessageLike; row: IngestFailure; body?: IngestMessage }[] = [];
  for (const r of readable) {
    try {
      entries.push({ msg: r.msg, row: failureOf(r.msg, r.body, batch.queue, 'failed every retry'), body: r.body });
    } catch (err) {
      // Readable but not serialisable: keep the metadata rather than nothing.
      entries.push({ msg: r.msg, row: unreadableFailure({ msg: r.msg, error: String(err), raw: null }, batch.queue) });
    }
  }
  for (const u of unreadable) entries.push({ msg: u.msg, row: unreadableFailure(u, batch.queue) });

  const written = await recordIngestFailures(
    env,
    entries.map((e) => e.row),
  );
  await Promise.all(
    entries.map(async ({ msg, body }, i) => {
      if (written[i]) return msg.ack();
      const requeue = body ? () => env.INGEST_DLQ.send(body, { contentType: 'json' }) : undefined;
      await keepDeadLetter(msg, requeue);
    }),
  );
  await packs.finish({
    again: (body, delaySeconds) => env.INGEST_DLQ.send(body, { contentType: 'json', delaySeconds }),
  });
}

/** Puts up to `limit` recorded, replayable failures back on the ingest queue; rows go only once enqueued. */
export async function replayIngestFailures(env: Cloudflare.Env, limit: number): Promise<number> {
  const { results } = await env.DB.prepare(
    'SELECT message_id, body FROM ingest_failures WHERE replayable = 1 ORDER BY failed_at LIMIT ?',
  )
    .bind(limit)
    .all<{ message_id: string; body: string }>();
  if (!results.length) return 0;
  // Opened again: identity resolution reads the email, and the consumer seals it anew.
  const ring = await piiKeyring(env);
  const bodies = results.map((r) => JSON.parse(r.body) as IngestMessage);
  await enqueueIngest(
    env.INGEST_QUEUE,
    await Promise.all(bodies.map(async (b) => (hasSealed(b) ? ((await openDeep(ring, b)) as IngestMessage) : b))),
    { replay: true },
  );
  const del = env.DB.prepare('DELETE FROM ingest_failures WHERE message_id = ?');
  await env.DB.batch(results.map((r) => del.bind(r.message_id)));
  return results.length;
}

/** The event of a stored body; a row that does not parse (never written so) must not break the list. */
function eventOf(body: string): unknown {
  try {
    return (JSON.parse(body) as IngestMessage).event;
  } catch {
    return null;
  }
}

interface FailureRow {
  message_id: string;
  source_id: string;
  body: string;
  attempts: number;
  failed_at: string;
  queue: string;
  error: string | null;
  replayable: number;
}
const doc = apiDoc('Ingest', {
  list: {
    summary: 'List events the ingest pipeline failed to process',
    query: { limit: 'At most this many, 1–500 (default 100)' },
  },
  replay: { summary: 'Replay failed ingest events, oldest first', query: { limit: '1–1000 (default 1000)' } },
  discard: { summary: 'Discard one recorded failure (e.g. one that is not replayable)', status: 204, errors: [404] },
});

/** `/api/ingest/failures`: list and replay events the ingest pipeline could not process. */
export const ingestFailuresApi = new Hono<AdminEnv>()
  .get('/', doc.list, requireScope('sources:read'), async (c) => {
    const limit = queryInt(c.req.query('limit'), 'limit', { fallback: 100, min: 1, max: 500 });
    const { results } = await c.env.DB.prepare(
      `SELECT message_id, source_id, body, attempts, failed_at, queue, error, replayable
       FROM ingest_failures ORDER BY failed_at LIMIT ?`,
    )
      .bind(limit)
      .all<FailureRow>();
    const total = await c.env.DB.prepare('SELECT COUNT(*) AS n FROM ingest_failures').first<number>('n');
    const reader = await piiReader(c); // opened for pii:read, masked otherwise, like delivery failures
    return c.json({
      total,
      data: await Promise.all(
        results.map(async (r) => ({
          messageId: r.message_id,
          sourceId: r.source_id,
          attempts: r.attempts,
          failedAt: r.failed_at,
          queue: r.queue,
          error: r.error,
          replayable: r.replayable === 1,
          // A row that is not an ingest message shows what could be saved of it, as text.
          ...(r.replayable === 1 ? { event: await protectEvent(reader, eventOf(r.body)) } : { raw: r.body }),
        })),
      ),
    });
  })
  .post('/replay', doc.replay, requireScope('sources:write'), async (c) => {
    const limit = queryInt(c.req.query('limit'), 'limit', { fallback: 1000, min: 1, max: 1000 });
    return c.json({ replayed: await replayIngestFailures(c.env, limit) });
  })
  // Rows that cannot be replayed stay until an operator has looked at them and discards them.
  .delete('/:messageId', doc.discard, requireScope('sources:write'), async (c) => {
    const res = await c.env.DB.prepare('DELETE FROM ingest_failures WHERE message_id = ?')
      .bind(c.req.param('messageId'))
      .run();
    if (!res.meta.changes) throw notFound('Ingest failure');
    return c.body(null, 204);
  });
