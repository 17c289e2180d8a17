import { parquetReadObjects } from 'hyparquet';
import { partitionOf, partitionPath } from './keys';
import type { ArchivedEvent } from './messages';

/**
 * Drops events of a retried ingest message that an earlier attempt already archived. Only events
 * marked `redelivered` are checked (the rare path): the files of their partition hour are listed in
 * the manifest and only their `message_id` column is read. An event is never in another partition,
 * since the partition follows `received_at`, which a redelivery keeps.
 */
export async function dropArchived(env: Cloudflare.Env, events: ArchivedEvent[]): Promise<ArchivedEvent[]> {
  const suspects = events.filter((e) => e.redelivered);
  if (!suspects.length) return events;
  const seen = new Map<string, Set<string>>(); // partition path → message ids archived there
  for (const e of suspects) {
    const path = partitionPath(partitionOf(e.sourceId, new Date(e.event.receivedAt)));
    if (seen.has(path)) continue;
    const ids = new Set<string>();
    const { results } = await env.DB.prepare('SELECT key FROM archive_objects WHERE key >= ? AND key < ?')
      .bind(path, `${path}\uffff`)
      .all<{ key: string }>();
    for (const { key } of results) {
      const file = await env.ARCHIVE.get(key);
      if (!file) continue;
      const rows = await parquetReadObjects({ file: await file.arrayBuffer(), columns: ['message_id'] });
      for (const r of rows) ids.add(String(r.message_id));
    }
    seen.set(path, ids);
  }
  return events.filter(
    (e) =>
      !e.redelivered ||
      !seen.get(partitionPath(partitionOf(e.sourceId, new Date(e.event.receivedAt))))?.has(e.event.messageId),
  );
}
