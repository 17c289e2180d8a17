import type { IngestMessage } from '../ingest/spec';
import { jsonBytes } from '../lib/json';
import { asJsonMessages, chunkForQueue } from '../lib/queue';
import { errorText } from '../lib/queue-bodies';
import type { ArchivedEvent, ArchiveMessage } from './messages';

/** A message packs events up to ~100 KB (queue messages take 128 KB), so 1,000 events cost a few operations. */
const PACK_BYTES = 100 * 1024;
/** `sendBatch` takes 256 KB: two full packs and their framing. */
const PACKS_PER_SEND = 2;

/** Packs events by their UTF-8 size (measured once, the only serialisation the hook adds). */
export function pack(events: ArchivedEvent[]): ArchivedEvent[][] {
  const packs: ArchivedEvent[][] = [];
  let current: ArchivedEvent[] = [];
  let bytes = 0;
  for (const e of events) {
    const size = jsonBytes(e) + 16;
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
 * the archive lane, packed into few messages. Never throws: a failed send is retried message by
 * message and then logged, because the ingest batch must not be held back (and its events sent to
 * destinations again) for the sake of the archive. `ARCHIVE_ENABLED = "false"` turns it off.
 */
export async function archiveAccepted(
  env: Cloudflare.Env,
  items: { body: IngestMessage; profileId?: string | null; attempts: number }[],
): Promise<void> {
  if (!items.length || String(env.ARCHIVE_ENABLED) === 'false') return;
  try {
    const events = items.map((m) => ({
      sourceId: m.body.sourceId,
      ...(m.profileId ? { profileId: m.profileId } : {}),
      event: m.body.event,
      ...(m.attempts > 1 ? { redelivered: true as const } : {}),
    }));
    const messages = pack(events).map((p) => ({ kind: 'archive', events: p }) satisfies ArchiveMessage);
    // Packs are sized already: chunk by count only, without serialising them again.
    for (const chunk of chunkForQueue(messages, { maxMessages: PACKS_PER_SEND, maxBytes: Number.POSITIVE_INFINITY })) {
      try {
        await env.ARCHIVE_QUEUE.sendBatch(asJsonMessages(chunk));
      } catch (err) {
        console.error('archive enqueue failed; sending one by one', errorText(err));
        for (const body of chunk) await env.ARCHIVE_QUEUE.send(body, { contentType: 'json' });
      }
    }
  } catch (err) {
    console.error('archive enqueue failed; these events are not archived', errorText(err));
  }
}
