import { errorText, readBodies } from '../lib/queue-bodies';
import { filesOf } from './files';
import type { ArchiveMessage } from './messages';
import { dropArchived } from './redelivered';
import { batchStates, markBatches, putObjectStatement } from './store';

const problem = (body: unknown) =>
  typeof body === 'object' &&
  body !== null &&
  (body as ArchiveMessage).kind === 'archive' &&
  Array.isArray((body as ArchiveMessage).events)
    ? null
    : 'not an archive message';

/**
 * The `tessera-archive` consumer: writes a batch's events to R2 as one Parquet file per source
 * and hour, then records them in the D1 manifest.
 *
 * Exactly once per queue message, for as long as `archive_batches` keeps its row (14 days, longer
 * than a queue keeps a message): written messages are skipped; before writing, the messages are
 * marked pending with their files' keys, so a later attempt of a message whose earlier attempt
 * crashed between R2 and D1 first deletes what that attempt may have put. The files and the
 * "written" marks land in one D1 batch. Any failure throws, and the queue redelivers the batch.
 */
export async function consumeArchive(batch: MessageBatch<ArchiveMessage>, env: Cloudflare.Env): Promise<void> {
  const { readable, unreadable } = readBodies<Message<ArchiveMessage>, ArchiveMessage>(batch.messages, problem);
  for (const u of unreadable) {
    console.error('unreadable archive message; dropping it', u.msg.id, u.error, u.raw?.slice(0, 500));
    u.msg.ack();
  }
  if (!readable.length) return;

  const states = await batchStates(
    env.DB,
    readable.map((r) => r.msg.id),
  );
  const todo = readable.filter((r) => states.get(r.msg.id)?.state !== 'written');
  for (const r of readable) if (!todo.includes(r)) r.msg.ack();
  if (!todo.length) return;

  const ids = todo.map((r) => r.msg.id);
  const files = await filesOf(
    await dropArchived(
      env,
      todo.flatMap((r) => r.body.events),
    ),
    ids,
  );
  const keys = files.map((f) => f.entry.key);
  const now = new Date().toISOString();
  const stale = new Set(todo.flatMap((r) => states.get(r.msg.id)?.keys ?? []).filter((k) => !keys.includes(k)));

  await markBatches(env.DB, ids, 'pending', keys, now).run();
  if (stale.size) await env.ARCHIVE.delete([...stale]);
  await Promise.all(
    files.map((f) =>
      env.ARCHIVE.put(f.entry.key, f.body, {
        httpMetadata: { contentType: 'application/vnd.apache.parquet' },
        customMetadata: { rows: String(f.entry.rows) },
      }),
    ),
  );
  try {
    await env.DB.batch([
      ...files.map((f) => putObjectStatement(env.DB, f.entry, now)),
      markBatches(env.DB, ids, 'written', keys, now),
    ]);
  } catch (err) {
    console.error('archive manifest write failed; the batch will be redelivered', errorText(err));
    throw err;
  }
  for (const r of todo) r.msg.ack();
}
