import { loadLiveDestinations } from '../delivery/store';
import { sendJson } from '../lib/queue';
import { errorText } from '../lib/queue-bodies';
import type { ReplayStep } from './messages';
import { isReplayAllowed } from './replay-gate';
import { attemptsFor, type ReplaySelection, selectEvents } from './replay-plan';
import { decodeParquet } from './schema';
import { openRows, sealAttempts } from './sealed';
import { listObjects } from './store';

/**
 * Pacing: one step reads one archive object and hands at most its events to the retry lane
 * (`tessera-delivery-retry`, never the fresh lane), then schedules the next step a second later,
 * so a replay adds a bounded, steady load behind live traffic.
 */
export const STEP_DELAY_SECONDS = 1;

/** A replay's row (archive_replays), as the step reads it. */
interface ReplayRow extends ReplaySelection {
  id: string;
  status: string;
  destinationIds: string[];
  cursor: string | null;
}

async function loadReplay(d1: D1Database, id: string): Promise<ReplayRow | null> {
  const row = await d1
    .prepare(
      `SELECT id, source_id AS sourceId, from_at AS "from", to_at AS "to", destination_ids AS destinationIds,
         event_names AS eventNames, filter, status, cursor FROM archive_replays WHERE id = ?`,
    )
    .bind(id)
    .first<Record<string, string | null>>();
  if (!row) return null;
  return {
    ...(row as unknown as ReplayRow),
    destinationIds: JSON.parse(row.destinationIds ?? '[]'),
    eventNames: row.eventNames ? JSON.parse(row.eventNames) : null,
  };
}

const finish = (d1: D1Database, id: string, status: 'done' | 'failed', error: string | null = null) =>
  d1
    .prepare("UPDATE archive_replays SET status = ?, error = ?, updated_at = ? WHERE id = ? AND status = 'running'")
    .bind(status, error, new Date().toISOString(), id)
    .run();

/** Does the next step of one replay. Returns whether another step follows. */
export async function replayStep(env: Cloudflare.Env, id: string): Promise<boolean> {
  const r = await loadReplay(env.DB, id);
  if (!r || r.status !== 'running') return false;
  const [object] = await listObjects(env.DB, { ...r, after: r.cursor ?? undefined, limit: 1 });
  if (!object) {
    await finish(env.DB, id, 'done');
    return false;
  }
  const file = await env.ARCHIVE.get(object.key);
  // Opened: the filter, the privacy gate and destination filters see what was sent.
  const rows = await openRows(env, file ? await decodeParquet(await file.arrayBuffer()) : []);
  const selected = selectEvents(rows, r);
  const allowed = await isReplayAllowed(env, r.sourceId, selected);
  const events = selected.filter((_, i) => allowed[i]);
  const now = new Date().toISOString();
  const attempts = await sealAttempts(
    env,
    attemptsFor(events, r.sourceId, r.destinationIds, await loadLiveDestinations(env), now),
  );
  await sendJson(env.DELIVERY_RETRY_QUEUE, attempts);
  // Advances only from the cursor it read: a step redelivered after a crash sends its file again
  // (at least once, like every queue), but two copies of one step never both advance.
  const res = await env.DB.prepare(
    `UPDATE archive_replays SET cursor = ?1, scanned = scanned + ?2, sent = sent + ?3, skipped = skipped + ?4, updated_at = ?5
     WHERE id = ?6 AND status = 'running' AND cursor IS ?7`,
  )
    .bind(object.key, object.rows, events.length, rows.length - events.length, now, id, r.cursor)
    .run();
  return res.meta.changes > 0;
}

/** The `tessera-replay` consumer: one step per message, then the next step after a pause. */
export async function runReplayStep(batch: MessageBatch<ReplayStep>, env: Cloudflare.Env): Promise<void> {
  for (const msg of batch.messages) {
    const id = (msg.body as Partial<ReplayStep> | null)?.replayId;
    if (typeof id !== 'string') {
      console.error('unreadable replay step; dropping it', msg.id);
      msg.ack();
      continue;
    }
    try {
      if (await replayStep(env, id)) {
        await env.REPLAY_QUEUE.send({ kind: 'replay', replayId: id } satisfies ReplayStep, {
          contentType: 'json',
          delaySeconds: STEP_DELAY_SECONDS,
        });
      }
      msg.ack();
    } catch (err) {
      console.error('replay step failed', id, errorText(err));
      if (msg.attempts >= 20) {
        await finish(env.DB, id, 'failed', errorText(err)).catch(() => undefined);
        msg.ack();
      } else msg.retry({ delaySeconds: Math.min(300, 2 ** msg.attempts) });
    }
  }
}
