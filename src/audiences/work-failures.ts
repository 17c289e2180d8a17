import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import { notFound } from '../lib/errors';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import { sendJson } from '../lib/queue';
import {
  errorText,
  keepDeadLetter,
  type QueueMessageLike,
  readBodies,
  safeStringify,
  type Unreadable,
  writeFailureRows,
} from '../lib/queue-bodies';
import type { EngageWorkMessage } from './work-messages';

/** One `work_failures` row, ready to write. */
export interface WorkFailure {
  messageId: string;
  queue: string;
  type: string | null;
  body: string | null;
  replayable: boolean;
  attempts: number;
  error: string | null;
}

const isText = (v: unknown) => typeof v === 'string' && v.length > 0;

/** Null for a body shaped like a `work` queue message this area handles, else why it is not one. */
export function workMessageProblem(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return 'body is not an object';
  const b = body as Record<string, unknown>;
  if (b.type === 'engage.membership') {
    if (!Array.isArray(b.changes)) return 'membership message has no changes';
    for (const c of b.changes as Record<string, unknown>[]) {
      if (typeof c !== 'object' || c === null) return 'membership change is not an object';
      if (!isText(c.audienceId) || !isText(c.profileId)) return 'membership change has no audienceId or profileId';
      if (typeof c.member !== 'boolean') return 'membership change has no member flag';
      // `at` becomes an ISO date: a value Date cannot represent would throw mid-write.
      if (typeof c.at !== 'number' || !Number.isFinite(new Date(c.at).getTime()))
        return 'membership change has no valid at';
    }
    return null;
  }
  if (b.type === 'engage.backfill') {
    if (!isText(b.definitionId)) return 'back-fill message has no definitionId';
    if (!Number.isInteger(b.version) || !Number.isInteger(b.revision))
      return 'back-fill message has no version or revision';
    if (b.cursor !== undefined && typeof b.cursor !== 'string') return 'back-fill cursor is not a string';
    return null;
  }
  return `unknown work message type ${JSON.stringify(b.type ?? null)}`;
}

/** A readable work message that failed: replayable as it was. */
export function workFailureOf(msg: QueueMessageLike, body: EngageWorkMessage, queue: string, error: string) {
  const json = safeStringify(body);
  return {
    messageId: msg.id,
    queue,
    type: body.type,
    body: json,
    replayable: json !== null,
    attempts: msg.attempts,
    error,
  } satisfies WorkFailure;
}

/** A message that is not a work message (or cannot be read): kept with what is known, never replayed. */
export function unreadableWorkFailure(u: Unreadable<QueueMessageLike>, queue: string): WorkFailure {
  let type: string | null = null;
  try {
    const t = (JSON.parse(u.raw ?? 'null') as { type?: unknown } | null)?.type;
    type = typeof t === 'string' ? t.slice(0, 100) : null;
  } catch {
    // raw is JSON or null: nothing to read the type from
  }
  return { messageId: u.msg.id, queue, type, body: u.raw, replayable: false, attempts: u.msg.attempts, error: u.error };
}

/** Bodies beyond this are not stored whole: D1 refuses rows over 2 MB (queue messages are far smaller). */
const MAX_BODY_CHARS = 1_000_000;
/** What a last-resort row keeps of a body. */
const MINIMAL_BODY_CHARS = 100_000;

/** The row cut down to what D1 surely takes: a cut body is no longer replayable. */
function minimal(row: WorkFailure, why: string): WorkFailure {
  const cut = (row.body?.length ?? 0) > MINIMAL_BODY_CHARS;
  return {
    ...row,
    body: row.body?.slice(0, MINIMAL_BODY_CHARS) ?? null,
    replayable: row.replayable && !cut,
    error: `${row.error ?? ''} (kept as a minimal row: ${why}${cut ? ', body cut' : ''})`.slice(0, 2_000),
  };
}

/**
 * Writes failure rows, idempotent by message id: one `batch()`, else each row alone, else a
 * minimal row (body cut, not replayable). Returns which rows are stored: only those may be acked.
 */
export async function recordWorkFailures(d1: D1Database, given: readonly WorkFailure[]): Promise<boolean[]> {
  if (!given.length) return [];
  const rows = given.map((r) => ((r.body?.length ?? 0) > MAX_BODY_CHARS ? minimal(r, 'body too large') : r));
  const now = new Date().toISOString();
  const insert = d1.prepare(
    `INSERT OR IGNORE INTO work_failures (message_id, queue, type, body, replayable, attempts, error, failed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const bind = (r: WorkFailure) =>
    insert.bind(r.messageId, r.queue, r.type, r.body, r.replayable ? 1 : 0, r.attempts, r.error, now);
  return writeFailureRows(d1, rows, bind, minimal, 'work failure');
}

/**
 * The `work` dead-letter queue's consumer: a membership change or back-fill page that failed
 * every retry is recorded in `work_failures` (the profile deleted it from its outbox once queued,
 * so this row is the only copy) and acked only once written.
 */
export async function consumeWorkDlq(batch: MessageBatch<EngageWorkMessage>, env: Cloudflare.Env): Promise<void> {
  const { readable, unreadable } = readBodies<Message<EngageWorkMessage>, EngageWorkMessage>(
    batch.messages,
    workMessageProblem,
  );
  const entries = [
    ...readable.map((r) => ({
      msg: r.msg,
      body: r.body,
      row: workFailureOf(r.msg, r.body, batch.queue, 'failed every retry'),
    })),
    ...unreadable.map((u) => ({ msg: u.msg, body: undefined, row: unreadableWorkFailure(u, batch.queue) })),
  ];
  const written = await recordWorkFailures(
    env.DB,
    entries.map((e) => e.row),
  );
  await Promise.all(
    entries.map(async ({ msg, body }, i) => {
      if (written[i]) return msg.ack();
      await keepDeadLetter(msg, body ? () => env.WORK_DLQ.send(body, { contentType: 'json' }) : undefined);
    }),
  );
}

/** Puts up to `limit` recorded, replayable work messages back on the `work` queue; rows go only once enqueued. */
export async function replayWorkFailures(env: Cloudflare.Env, limit: number): Promise<number> {
  const { results } = await env.DB.prepare(
    'SELECT message_id, body FROM work_failures WHERE replayable = 1 ORDER BY failed_at LIMIT ?',
  )
    .bind(limit)
    .all<{ message_id: string; body: string }>();
  if (!results.length) return 0;
  // Membership writes are idempotent and order-guarded, and a back-fill message is only a nudge: replays are safe.
  const bodies = results.map((r) => JSON.parse(r.body) as EngageWorkMessage);
  await sendJson(env.WORK_QUEUE, bodies);
  const del = env.DB.prepare('DELETE FROM work_failures WHERE message_id = ?');
  await env.DB.batch(results.map((r) => del.bind(r.message_id)));
  return results.length;
}

function parsed(body: string | null): unknown {
  try {
    return body === null ? null : JSON.parse(body);
  } catch {
    return body;
  }
}

const doc = apiDoc('Audiences', {
  list: {
    summary: 'List audience work that failed every retry or could not be read',
    query: { limit: '1–500 (default 100)' },
  },
  replay: { summary: 'Replay the replayable work failures, oldest first', query: { limit: '1–1000 (default 1000)' } },
  discard: { summary: 'Discard one recorded work failure', status: 204, errors: [404] },
});

/** `/api/work/failures`: list and replay audience work (membership changes, back-fill pages) that failed. */
export const workFailuresApi = new Hono<AdminEnv>()
  .get('/', doc.list, requireScope('engage:read'), async (c) => {
    const limit = queryInt(c.req.query('limit'), 'limit', { fallback: 100, min: 1, max: 500 });
    const { results } = await c.env.DB.prepare(
      `SELECT message_id, queue, type, body, replayable, attempts, error, failed_at
       FROM work_failures ORDER BY failed_at LIMIT ?`,
    )
      .bind(limit)
      .all<{
        message_id: string;
        queue: string;
        type: string | null;
        body: string | null;
        replayable: number;
        attempts: number;
        error: string | null;
        failed_at: string;
      }>();
    const total = await c.env.DB.prepare('SELECT COUNT(*) AS n FROM work_failures').first<number>('n');
    return c.json({
      total,
      data: results.map((r) => ({
        messageId: r.message_id,
        queue: r.queue,
        type: r.type,
        attempts: r.attempts,
        failedAt: r.failed_at,
        error: r.error,
        replayable: r.replayable === 1,
        body: parsed(r.body),
      })),
    });
  })
  .post('/replay', doc.replay, requireScope('engage:write'), async (c) => {
    const limit = queryInt(c.req.query('limit'), 'limit', { fallback: 1000, min: 1, max: 1000 });
    return c.json({ replayed: await replayWorkFailures(c.env, limit) });
  })
  // Rows that cannot be replayed stay until an operator has looked at them and discards them.
  .delete('/:messageId', doc.discard, requireScope('engage:write'), async (c) => {
    const res = await c.env.DB.prepare('DELETE FROM work_failures WHERE message_id = ?')
      .bind(c.req.param('messageId'))
      .run();
    if (!res.meta.changes) throw notFound('Work failure');
    return c.body(null, 204);
  });
