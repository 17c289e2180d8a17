import { chunkForQueue } from '../ingest/enqueue';
import type { IngestMessage } from '../ingest/spec';
import { errorText } from '../lib/queue-bodies';
import type { ArchivedEvent, ArchiveMessage } from './messages';

/** Packs events into messages of up to ~100 KB, so 1,000 small events cost a handful of queue operations. */
const PACK_BYTES = 100 * 1024;

function pack(events: ArchivedEvent[]): ArchivedEvent[][] {
  const packs: ArchivedEvent[][] = [];
  let current: ArchivedEvent[] = [];
  let bytes = 0;
  for (const e of events) {
    const size = JSON.stringify(e).length * 3; // UTF-8 upper bound without encoding twice
    if (current.length && bytes + size > PACK_BYTES) {
      packs.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length) packs.push(current);
  return packs;
}

/**
 * The ingest consumer's hook: hands the events of a batch that passed governance and identity to
 * the archive lane, packed into few messages (one `sendBatch`). Never throws: a failed send is
 * retried once message by message and then logged, because the ingest batch must not be held
 * back (and replayed to destinations) for the sake of the archive.
 */
export async function archiveAccepted(
  env: Cloudflare.Env,
  items: { body: IngestMessage; profileId?: string | null }[],
): Promise<void> {
  if (!items.length) return;
  try {
    const events = items.map((m) => ({
      sourceId: m.body.sourceId,
      ...(m.profileId ? { profileId: m.profileId } : {}),
      event: m.body.event,
    }));
    const messages = pack(events).map((p) => ({ kind: 'archive', events: p }) satisfies ArchiveMessage);
    for (const chunk of chunkForQueue(messages)) {
      try {
        await env.ARCHIVE_QUEUE.sendBatch(chunk.map((body) => ({ body, contentType: 'json' as const })));
      } catch (err) {
        console.error('archive enqueue failed; sending one by one', errorText(err));
        for (const body of chunk) await env.ARCHIVE_QUEUE.send(body, { contentType: 'json' });
      }
    }
  } catch (err) {
    console.error('archive enqueue failed; these events are not archived', errorText(err));
  }
}
